"""Changed-lines mode (`check --diff-base REF`): which lines of the working tree differ from REF.

One `git diff -U0 -M REF` gives every added or modified line of every tracked file (renames
detected, so a moved file is not "all new"); files git does not track yet are new as a whole.
A finding counts as changed when a line it spans changed, or when its file (or a file it names
as related) is new or a changed binary: a newly added data file, a new requirements file.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlaudit.files.git import GitError, find_repo, run_git
from mlaudit.findings import Finding

_HUNK = re.compile(r"@@ -\d+(?:,(?P<old>\d+))? \+(?P<start>\d+)(?:,(?P<count>\d+))? @@")
_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


class DiffBaseError(Exception):
    """--diff-base cannot be honoured (not a git repository, unknown revision)."""


@dataclass
class ChangedLines:
    lines: dict[str, set[int]] = field(default_factory=dict)  # repo path -> changed line numbers (new side)
    whole: set[str] = field(default_factory=set)  # new files and changed binaries: every finding counts

    def touches(self, path: str, first: int, last: int) -> bool:
        if path in self.whole:
            return True
        changed = self.lines.get(path, set())
        return any(n in changed for n in range(first, last + 1))


def git_text(top: Path, *args: str) -> str:
    """`git ARGS` in the work tree at `top` through the project's one safe git function, decoded
    so that odd file names survive (undecodable bytes kept as surrogates)."""
    repo = find_repo(top)
    if repo is None:
        raise GitError(f"{top} is not inside a git repository")
    return run_git(repo, *args).decode("utf-8", "surrogateescape")


def resolve(top: Path, ref: str) -> str:
    """The commit `ref` names; refuses anything git would read as an option."""
    if not ref or ref.startswith("-"):
        raise DiffBaseError(f"--diff-base {ref!r} is not a revision")
    try:
        return git_text(top, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{ref}^{{commit}}").strip()
    except GitError:
        raise DiffBaseError(f"--diff-base {ref}: no such commit in {top} (fetch it first, e.g. `git fetch origin main`)") from None


def changed_lines(top: Path, ref: str, untracked: Iterable[str]) -> ChangedLines:
    """Lines of the working tree under `top` that differ from `ref`; `untracked` are repo paths."""
    commit = resolve(top, ref)
    try:
        diff = git_text(top, *_DIFF, "-M", commit, "--")
    except GitError as exc:
        diff = _diff_of_present_files(top, commit, ref, exc)
    changed = parse_diff(diff)
    changed.whole.update(untracked)
    return changed


# run_git adds --no-ext-diff and --no-textconv to every diff and empties the repository's drivers.
_DIFF = ("diff", "-U0", "--no-color", "--src-prefix=a/", "--dst-prefix=b/")


def _diff_of_present_files(top: Path, commit: str, ref: str, error: GitError) -> str:
    """The diff without the files that made it fail: in a clone whose object store lacks a blob (a
    large file left out), any diff that touches that file fails, even a deletion. Files deleted
    since `ref` have no lines to report on, so the diff of the files still present is enough."""
    try:
        listing = git_text(top, "diff", "--no-renames", "--name-only", "-z", commit, "--")
        present = [p for p in listing.split("\0") if p and (top / p).is_file()]
        if not present:
            return ""
        return git_text(top, *_DIFF, "--no-renames", commit, "--", *(f":(literal){p}" for p in present))
    except GitError:
        raise DiffBaseError(f"--diff-base {ref}: {error}") from None


def parse_diff(diff: str) -> ChangedLines:
    """Parse `git diff -U0` output. Hunk bodies are skipped by their line counts, so a changed
    line that happens to read `+++ b/x` is never taken for a header."""
    changed = ChangedLines()
    path: str | None = None
    new_file = False
    lines = diff.split("\n")
    index = 0
    while index < len(lines):
        line = lines[index]
        index += 1
        if line.startswith("diff --git "):
            path, new_file = _path_from_header(line[len("diff --git ") :]), False
        elif line.startswith(("new file mode", "copy to ")):
            new_file = True
        elif line.startswith("rename to "):
            path = _unquote(line[len("rename to ") :])
        elif line.startswith("+++ "):
            target = line[4:]
            path = None if target == "/dev/null" else _unquote(target).removeprefix("b/")
            if path is not None and new_file:
                changed.whole.add(path)
        elif line.startswith("Binary files ") and path is not None:
            changed.whole.add(path)
        elif (match := _HUNK.match(line)) and path is not None:
            start = int(match["start"])
            count = int(match["count"]) if match["count"] is not None else 1
            old = int(match["old"]) if match["old"] is not None else 1
            changed.lines.setdefault(path, set()).update(range(start, start + count))
            index = _skip_body(lines, index, old + count)
    return changed


def _skip_body(lines: list[str], index: int, body: int) -> int:
    seen = 0
    while index < len(lines) and seen < body:
        if not lines[index].startswith("\\"):  # "\ No newline at end of file" is not a body line
            seen += 1
        index += 1
    while index < len(lines) and lines[index].startswith("\\"):
        index += 1
    return index


def _path_from_header(rest: str) -> str | None:
    """The new path of `a/P b/P` (same path on both sides; renames say `rename to`)."""
    if rest.startswith('"'):
        parts = _quoted_parts(rest)
        return parts[-1].removeprefix("b/") if parts else None
    half = (len(rest) - 5) // 2
    path = rest[2 : 2 + half]
    return path if rest == f"a/{path} b/{path}" else None


def _quoted_parts(text: str) -> list[str]:
    return [_unquote(m) for m in re.findall(r'"(?:[^"\\]|\\.)*"|\S+', text)]


def _unquote(text: str) -> str:
    """Undo git's C-style quoting of a path (`"a/t\\303\\251st"`)."""
    if len(text) < 2 or not (text.startswith('"') and text.endswith('"')):
        return text
    body, out, index = text[1:-1], bytearray(), 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            nxt = body[index + 1]
            if nxt in "01234567" and index + 3 < len(body) + 1:
                out.append(int(body[index + 1 : index + 4], 8) & 0xFF)
                index += 4
                continue
            out.append(_ESCAPES.get(nxt, ord(nxt)))
            index += 2
            continue
        out += char.encode("utf-8", "surrogateescape")
        index += 1
    return out.decode("utf-8", "surrogateescape")


def on_changed_lines(findings: Iterable[Finding], changed: ChangedLines, prefix: str) -> tuple[list[Finding], int]:
    """The findings that touch a changed line or a new file, and how many were left out.
    `prefix` turns a finding's project-relative path into a repo path."""
    kept, left_out = [], 0
    for finding in findings:
        paths = [finding.path, *finding.related_paths]
        repo = [f"{prefix}/{p}" if prefix else p for p in paths]
        last = max(finding.end_line or finding.line, finding.line)
        # A finding with several places (ML502: every unpinned line of a file) counts when any changed.
        others = [(f"{prefix}/{r.path}" if prefix else r.path, r.line) for r in finding.related]
        if (changed.touches(repo[0], finding.line, last) or any(p in changed.whole for p in repo[1:])
                or any(changed.touches(path, line, line) for path, line in others)):
            kept.append(finding)
        else:
            left_out += 1
    return kept, left_out
