"""The fixture repositories under `fixtures/`, and what `mlaudit check` prints for each.

A fixture repo is a folder holding an `expected.txt` (`fixtures/<family>/<repo>/`, and the demo,
`fixtures/demo/`). Its `expected.txt` holds exactly the finding lines that
`mlaudit check <copy of the repo> --output-format concise` prints, in order, without the summary
line. A fixture that exercises only some rules names them in its own `mlaudit.toml`, so the command
above, run by hand on a copy, prints the same lines. `tests/test_fixture_repos.py` compares them all.
"""

from __future__ import annotations

import shutil
from contextlib import redirect_stderr
from io import StringIO
from pathlib import Path

from mlaudit.cli import main
from tests.helpers import git

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"
EXPECTED = "expected.txt"


def fixture_repos() -> list[Path]:
    """Every fixture repo, sorted; `fixtures/probe` holds probe fixtures (expected.json), not these."""
    return sorted(p.parent for p in FIXTURES.rglob(EXPECTED))


def fixture_id(fixture: Path) -> str:
    """`dependencies/uv-stale-lock`: the repo's path under fixtures/, for test ids."""
    return fixture.relative_to(FIXTURES).as_posix()


def copy_fixture(fixture: Path, dest: Path) -> Path:
    """A committed git repository at `dest` holding the fixture's files (not its expected.txt)."""
    shutil.copytree(fixture, dest, ignore=shutil.ignore_patterns(EXPECTED))
    git(dest, "init", "-q")
    git(dest, "add", "-A")
    git(dest, "commit", "-q", "-m", "fixture")
    return dest


def concise_lines(root: Path) -> tuple[list[str], str]:
    """The finding lines `mlaudit check ROOT --output-format concise` prints (`--quiet` leaves out the
    summary), and what it wrote to stderr. Runs the real command line in this process."""
    report = root.parent / f"{root.name}.concise.txt"
    with redirect_stderr(StringIO()) as err:
        status = main(["check", str(root), "--no-cache", "--output-format", "concise", "--quiet", "--output-file", str(report)])
    assert status in (0, 1), f"exit {status}: {err.getvalue()}"
    lines = report.read_text(encoding="utf-8").splitlines()
    assert (status == 1) == bool(lines), f"exit {status} with {len(lines)} findings"
    return lines, err.getvalue()


def expected_lines(fixture: Path) -> list[str]:
    return (fixture / EXPECTED).read_text(encoding="utf-8").splitlines()


def write_expected(fixture: Path, lines: list[str]) -> None:
    (fixture / EXPECTED).write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
