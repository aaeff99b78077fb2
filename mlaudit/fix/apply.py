"""Source-preserving fixes, built with libcst on the one expression that changes.

Analysis never touches libcst (it is 10-100x slower than `ast`, see the performance notes); a
fixable rule hands the offending call's exact source span to `call_fix`, which parses only that
expression with libcst, transforms it, and returns one `Edit` replacing the span. Comments,
spacing and line breaks inside the call survive, as libcst guarantees.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mlaudit.files.boundary import read_regular, replace_file, writable_file
from mlaudit.findings import Edit, Finding

MAX_FIX_BYTES = 64 * 2**20


def apply_edits(text: str, edits: list[Edit]) -> tuple[str, int]:
    """Apply non-overlapping edits (1-based lines, code-point columns); return the text and how many
    were applied. An edit overlapping one already applied is skipped (the next run picks it up)."""
    starts = _line_starts(text)
    spans = []
    for edit in edits:
        try:
            spans.append((starts[edit.line - 1] + edit.col - 1, starts[edit.end_line - 1] + edit.end_col - 1, edit.content))
        except IndexError:
            continue
    applied, limit = 0, len(text) + 1
    for start, end, content in sorted(spans, reverse=True):
        if end > limit or start > end:
            continue
        text = text[:start] + content + text[end:]
        limit = start
        applied += 1
    return text, applied


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


@dataclass(frozen=True)
class FileFix:
    """One file's text before and after its fixes (LF line ends), and how it is stored."""

    path: str  # relative to the project root, POSIX style
    before: str
    after: str
    applied: int
    newline: str  # "\r\n" when the file uses CRLF line ends, else "\n"

    def data(self) -> bytes:
        return self.after.replace("\n", self.newline).encode("utf-8")


@dataclass(frozen=True)
class FixPlan:
    files: list[FileFix]
    unsafe_skipped: int  # unsafe fixes left out (no --unsafe-fixes)

    @property
    def applied(self) -> int:
        return sum(f.applied for f in self.files)


def plan_fixes(root: Path, findings: list[Finding], unsafe: bool = False) -> FixPlan:
    """Every available fix applied to the text of its file, in memory; unsafe fixes only when
    `unsafe`. Nothing is written."""
    by_path: dict[str, list[Edit]] = {}
    skipped = 0
    for finding in findings:
        if finding.fix is None or finding.path.endswith(".ipynb"):
            continue
        if not finding.fix.safe and not unsafe:
            skipped += 1
            continue
        by_path.setdefault(finding.path, []).extend(finding.fix.edits)
    files = []
    for path, edits in sorted(by_path.items()):
        file = root / path
        if not writable_file(root, file):
            continue  # only a regular file inside the project, never one reached through a symlink
        try:
            raw = read_regular(file, MAX_FIX_BYTES + 1)
            if len(raw) > MAX_FIX_BYTES:
                continue  # never rewrite a file from a truncated read
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        newline = "\r\n" if b"\r\n" in raw else "\n"
        before = text.replace("\r\n", "\n")
        after, applied = apply_edits(before, edits)
        if applied and after != before:
            files.append(FileFix(path, before, after, applied, newline))
    return FixPlan(files, skipped)


def unified_diff(plan: FixPlan) -> str:
    """The planned fixes as one unified diff (`a/` and `b/` paths relative to the project root)."""
    import difflib

    chunks: list[str] = []
    for file in plan.files:
        chunks.extend(
            difflib.unified_diff(
                file.before.splitlines(keepends=True),
                file.after.splitlines(keepends=True),
                fromfile=f"a/{file.path}",
                tofile=f"b/{file.path}",
            )
        )
    return "".join(line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in chunks)


def apply_fixes(root: Path, findings: list[Finding], unsafe: bool = False) -> FixPlan:
    """Write every available fix (unsafe ones only when `unsafe`) into its file; return the plan
    of the files actually written."""
    plan = plan_fixes(root, findings, unsafe)
    written = [file for file in plan.files if write_fixed(root, file.path, file.data())]
    return FixPlan(written, plan.unsafe_skipped)


def write_fixed(root: Path, path: str, data: bytes) -> bool:
    """The one place `--fix` writes a file: only a regular file inside the project, replaced
    atomically (project.boundary); False when it could not."""
    try:
        return replace_file(root, root / path, data)
    except OSError:
        return False
