"""The bundled demo repository (`make demo`) shows exactly the findings written beside it."""

from __future__ import annotations

import shutil
from pathlib import Path

from tests.helpers import check, git

DEMO = Path(__file__).resolve().parents[1] / "fixtures" / "demo"


def test_demo_reports_exactly_its_expected_findings(tmp_path: Path) -> None:
    repo = tmp_path / "demo"
    shutil.copytree(DEMO, repo, ignore=shutil.ignore_patterns("expected.txt"))
    git(repo, "init", "-q")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "demo")
    found = sorted(f"{f.path}:{f.line}: {f.code}" for f in check(repo).findings)
    expected = sorted((DEMO / "expected.txt").read_text().split("\n")[:-1])
    assert found == expected
