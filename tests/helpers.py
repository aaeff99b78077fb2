"""Build throwaway repositories and run mlaudit on them."""

from __future__ import annotations

import re
import subprocess
from collections.abc import Mapping, Sequence
from pathlib import Path

from mlaudit.engine import CheckOptions, check_paths
from mlaudit.report import RunResult

# Files tests read (vendored schemas, real-format samples); see tests/data/*/README.md.
TEST_DATA = Path(__file__).resolve().parent / "data"

EXPECT = re.compile(r"#\s*expect:\s*(?P<codes>ML\d+(?:\s*,\s*ML\d+)*)")


def write_tree(root: Path, files: Mapping[str, str | bytes]) -> Path:
    for rel, content in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return root


def git(root: Path, *args: str) -> str:
    result = subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.invalid", "-c", "commit.gpgsign=false", *args],
        cwd=root,
        check=True,
        capture_output=True,
        text=True,
    )
    return result.stdout


UNTRACKED = "untracked:"


def make_repo(root: Path, files: Mapping[str, str | bytes], *, commit: bool = True) -> Path:
    """A git repository holding `files`, committed unless `commit` is False.

    A path written `untracked:data/x.csv` is created after the commit, so it stays untracked (rule
    examples and rule docs use this to show files that exist only in the working tree).
    """
    root.mkdir(parents=True, exist_ok=True)
    git(root, "init", "-q")
    write_tree(root, {p: c for p, c in files.items() if not p.startswith(UNTRACKED)})
    if commit:
        git(root, "add", "-A")
        git(root, "commit", "-q", "-m", "init", "--allow-empty")
    write_tree(root, {p[len(UNTRACKED) :]: c for p, c in files.items() if p.startswith(UNTRACKED)})
    return root


def check(root: Path, *paths: str, select: list[str] | None = None) -> RunResult:
    targets = [root / p for p in paths] or [root]
    return check_paths(targets, CheckOptions(select=select, use_cache=False))


def codes(run: RunResult) -> list[str]:
    return [f.code for f in run.findings]


def located(run: RunResult, code: str | None = None) -> set[tuple[str, int, str]]:
    return {(f.path, f.line, f.code) for f in run.findings if code is None or f.code == code}


def expected_markers(files: Mapping[str, str]) -> set[tuple[str, int, str]]:
    """(path, line, code) for every `# expect: CODE` comment in the files."""
    found = set()
    for path, text in files.items():
        path = path.removeprefix(UNTRACKED)
        for number, line in enumerate(text.splitlines(), 1):
            match = EXPECT.search(line)
            if match:
                for code in re.findall(r"ML\d+", match.group("codes")):
                    found.add((path, number, code))
    return found


def run_rule(tmp_path: Path, files: Mapping[str, str], code: str) -> set[tuple[str, int, str]]:
    """(path, line, code) of `code`'s findings on a committed repo holding `files`."""
    return located(check(make_repo(tmp_path / "repo", files), select=[code]), code)


def assert_exact(tmp_path: Path, files: Mapping[str, str], codes: Sequence[str]) -> None:
    """With `codes` selected, findings fall exactly on the lines marked for them, and the run has no
    internal error."""
    result = check(make_repo(tmp_path / "repo", files), select=list(codes))
    assert result.notifications == []
    assert located(result) == {m for m in expected_markers(files) if m[2] in codes}


def assert_markers(tmp_path: Path, files: Mapping[str, str], code: str) -> None:
    """`code` fires exactly on the lines marked `# expect: CODE`."""
    assert run_rule(tmp_path, files, code) == {m for m in expected_markers(files) if m[2] == code}
