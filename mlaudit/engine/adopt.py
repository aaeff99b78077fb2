"""Narrowing a run to what is new, for repositories that adopt mlaudit with findings already in
them: `--baseline FILE` (or `baseline = "…"` in the settings) hides the findings the baseline
lists, `--diff-base REF` hides findings on lines unchanged since REF. Both may be combined.
The engine calls `narrow` after suppressions; `baseline_command` backs `mlaudit baseline`."""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from mlaudit.engine.baseline import (
    DEFAULT_NAME,
    Baseline,
    BaselineError,
    finding_keys,
    load_baseline,
    match,
    renamed,
    write_baseline,
)
from mlaudit.engine.changed import DiffBaseError, changed_lines, git_text, on_changed_lines
from mlaudit.engine.settings import Settings
from mlaudit.files.git import GitError
from mlaudit.findings import Finding
from mlaudit.project.git import GitState

AdoptError = (BaselineError, DiffBaseError)
_COMMIT = re.compile(r"[0-9a-f]{40}([0-9a-f]{24})?|HEAD")


@dataclass
class Narrowed:
    findings: list[Finding]
    notes: list[str] = field(default_factory=list)  # summary lines: known, fixed, unchanged


def repo_prefix(root: Path, git: GitState | None) -> str:
    """The project root's path inside the git work tree ("" when it is the top or there is no git)."""
    if git is None:
        return ""
    try:
        rel = root.resolve().relative_to(git.top).as_posix()
    except ValueError:
        return ""
    return "" if rel == "." else rel


def baseline_path(root: Path, settings: Settings, given: Path | None) -> Path | None:
    """`--baseline` as given (relative to the working directory), else the configured one
    (relative to the folder of the file that configures it)."""
    if given is not None:
        return given
    if settings.baseline is None:
        return None
    base = Path(settings.source).parent if settings.source else root
    path = base / settings.baseline
    # The setting comes from the audited repository: it must not make mlaudit read or write
    # (through `..` or a symlink) anything outside the project.
    try:
        path.resolve().relative_to(root.resolve())
    except (ValueError, OSError):
        raise BaselineError(f"the baseline setting {settings.baseline!r} points outside the project {root}") from None
    return path


def narrow(
    root: Path,
    git: GitState | None,
    findings: list[Finding],
    settings: Settings,
    scope: Sequence[str] | None,
    baseline_file: Path | None,
    diff_base: str | None,
) -> Narrowed:
    prefix = repo_prefix(root, git)
    result = Narrowed(findings)
    if baseline_file is not None:
        result = _against_baseline(root, git, result.findings, settings, scope, baseline_file, prefix)
    if diff_base is not None:
        if git is None:
            raise DiffBaseError(f"--diff-base needs a git repository; {root} is not inside one")
        untracked = {f"{prefix}/{p}" if prefix else p for p in git.untracked}
        changed = changed_lines(git.top, diff_base, untracked)
        kept, left_out = on_changed_lines(result.findings, changed, prefix)
        if left_out:
            result.notes.append(f"{_count(left_out, 'finding')} on lines unchanged since {diff_base} not shown.")
        result.findings = kept
    return result


def _against_baseline(
    root: Path,
    git: GitState | None,
    findings: list[Finding],
    settings: Settings,
    scope: Sequence[str] | None,
    source: Path,
    prefix: str,
) -> Narrowed:
    baseline = load_baseline(source)
    counts = renamed(baseline, _renames(root, git, baseline, prefix))
    known, left = match(counts, finding_keys(findings, root, prefix))
    kept = [f for f, is_known in zip(findings, known, strict=True) if not is_known]
    notes = []
    if len(kept) < len(findings):
        notes.append(f"{_count(len(findings) - len(kept), 'known finding')} from the baseline not shown.")
    fixed = sum(n for key, n in left.items() if settings.is_enabled(key.code) and _in_scope(key.path, prefix, scope))
    if fixed:
        notes.append(f"{_count(fixed, 'baseline finding')} fixed; run `{_rewrite_command(root, settings, source)}` to shrink it.")
    return Narrowed(kept, notes)


def _in_scope(path: str, prefix: str, scope: Sequence[str] | None) -> bool:
    if prefix:
        if not path.startswith(prefix + "/"):
            return False
        path = path[len(prefix) + 1 :]
    if scope is None:
        return True
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in scope)


def _renames(root: Path, git: GitState | None, baseline: Baseline, prefix: str) -> dict[str, str]:
    """Old path -> new path for files git reports renamed since the baseline was written; asked
    only when some baseline path is gone."""
    if git is None:
        return {}
    gone = [k.path for k in baseline.counts if not (git.top / k.path).exists()]
    if not gone:
        return {}
    for commit in (baseline.commit, "HEAD"):
        if commit is None or not _COMMIT.fullmatch(commit):
            continue  # the file is the repository's: only a plain object id goes to git
        renames: dict[str, str] = {}
        try:
            # The index first (a `git mv`, however much the file was edited after), then the work tree.
            for where in (("--cached",), ()):
                command = ("diff", *where, "-M", "--name-status", "-z", commit, "--")
                renames = {**parse_name_status(git_text(git.top, *command)), **renames}
        except GitError:
            continue
        return renames
    return {}


def parse_name_status(output: str) -> dict[str, str]:
    """Renames from `git diff --name-status -z`: `R087\\0old\\0new\\0`."""
    fields = output.split("\0")
    renames, index = {}, 0
    while index < len(fields) and fields[index]:
        status = fields[index]
        if status[:1] in ("R", "C") and index + 2 < len(fields):
            if status[0] == "R":
                renames[fields[index + 1]] = fields[index + 2]
            index += 3
        else:
            index += 2
    return renames


def _rewrite_command(root: Path, settings: Settings, source: Path) -> str:
    default = baseline_path(root, settings, None) or root / DEFAULT_NAME
    if source.resolve() == default.resolve():
        return "mlaudit baseline"
    return f"mlaudit baseline -o {source}"


def write_from_run(root: Path, git: GitState | None, findings: list[Finding], target: Path) -> int:
    """Write the baseline of a finished run; return its number of entries."""
    prefix = repo_prefix(root, git)
    keys = finding_keys(findings, root, prefix)
    commit = None
    if git is not None:
        try:
            commit = git_text(git.top, "rev-parse", "--verify", "--quiet", "HEAD^{commit}").strip() or None
        except GitError:
            commit = None
    return write_baseline(target, findings, keys, commit)


def _count(n: int, noun: str) -> str:
    return f"{n} {noun}" + ("" if n == 1 else "s")
