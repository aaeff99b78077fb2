"""`path:line:col: CODE message`, one line per finding: for editors, grep and pre-commit."""

from __future__ import annotations

from mlaudit.engine.result import RunResult
from mlaudit.report.summary import summary_lines


def render(run: RunResult) -> str:
    lines = [f"{f.path}:{f.line}:{f.col}: {f.code} {f.message}" for f in run.findings]
    lines += summary_lines(run)
    return "\n".join(lines) + "\n"
