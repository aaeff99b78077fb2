"""Fixes are built with libcst on the offending call and keep everything else byte for byte."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaudit.findings import Finding
from tests.helpers import check, make_repo


def apply(text: str, finding: Finding) -> str:
    assert finding.fix is not None
    lines = text.splitlines(keepends=True)
    for edit in sorted(finding.fix.edits, key=lambda e: (e.line, e.col), reverse=True):
        start = sum(len(line) for line in lines[: edit.line - 1]) + edit.col - 1
        end = sum(len(line) for line in lines[: edit.end_line - 1]) + edit.end_col - 1
        text = text[:start] + edit.content + text[end:]
        lines = text.splitlines(keepends=True)
    return text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("cfg = yaml.load(f)\n", "cfg = yaml.safe_load(f)\n"),
        ("cfg = yaml.load(f, Loader=yaml.FullLoader)\n", "cfg = yaml.safe_load(f)\n"),
        ("cfg = yaml.load(f, yaml.Loader)\n", "cfg = yaml.safe_load(f)\n"),
        ("cfg = yaml.load(  # the config\n    f,\n    Loader=yaml.Loader,\n)\n", "cfg = yaml.safe_load(  # the config\n    f)\n"),
        ("x = 'é'; cfg = yaml.unsafe_load(f)\n", "x = 'é'; cfg = yaml.safe_load(f)\n"),
    ],
)
def test_yaml_fix(tmp_path: Path, before: str, after: str) -> None:
    source = "import yaml\nf = open('c.yaml')\n" + before
    repo = make_repo(tmp_path / "r", {"a.py": source})
    finding = next(f for f in check(repo).findings if f.code == "ML602")
    assert apply(source, finding) == "import yaml\nf = open('c.yaml')\n" + after


def test_no_fix_for_a_bare_imported_name(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": "from yaml import load\ncfg = load(open('c'))\n"})
    assert next(f for f in check(repo).findings if f.code == "ML602").fix is None


def test_check_fix_rewrites_the_file_and_reports_the_rest(tmp_path: Path) -> None:
    import subprocess
    import sys

    source = "import torch, yaml\r\ntorch.backends.cudnn.benchmark = True\r\ncfg = yaml.load(open('c'), Loader=yaml.Loader)\r\n"
    repo = make_repo(tmp_path / "r", {"a.py": ""})
    (repo / "a.py").write_bytes(source.encode())
    result = subprocess.run([sys.executable, "-m", "mlaudit", "check", ".", "--fix", "--output-format", "concise"],
                            cwd=repo, capture_output=True, text=True, timeout=120)
    assert "applied 1 fix" in result.stderr
    assert (repo / "a.py").read_bytes() == source.replace("yaml.load(open('c'), Loader=yaml.Loader)", "yaml.safe_load(open('c'))").encode()
    assert result.returncode == 1 and "ML103" in result.stdout and "ML602" not in result.stdout
