"""The closing lines every text format shares: counts, suppressions, internal errors."""

from __future__ import annotations

from collections import Counter

from mlaudit.engine.result import RunResult


def summary_lines(run: RunResult) -> list[str]:
    lines = [f"error: {note}" for note in run.notifications]
    count = len(run.findings)
    if not run.execution_successful and not count:
        lines.append("The run did not complete; see the errors above.")
    elif not run.files_checked and not count:
        lines.append("No files to check.")
    elif count:
        noun = "finding" if count == 1 else "findings"
        lines.append(f"Found {count} {noun} in {_files(run.files_checked)}{_suppressed(run)}.")
    else:
        lines.append(f"All checks passed ({_files(run.files_checked)}{_suppressed(run, prefix=', ')}).")
    lines.extend(run.adoption_notes)
    return lines


def _suppressed(run: RunResult, prefix: str = " (") -> str:
    if not run.suppressed:
        return ""
    text = f"{run.suppressed} suppressed"
    return f"{prefix}{text})" if prefix == " (" else f"{prefix}{text}"


def statistics_lines(run: RunResult) -> list[str]:
    """`--statistics`: one line per code, most frequent first, as ruff prints them."""
    names = {r.code: r.name for r in run.rules}
    counts = Counter(f.code for f in run.findings)
    return [f"{n:>5}  {code}  {names.get(code, '')}" for code, n in sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))]


def _files(count: int) -> str:
    return f"{count} file" if count == 1 else f"{count} files"
