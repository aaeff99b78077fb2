"""GitHub Actions workflow commands: `::error file=...,line=...,col=...,title=CODE::message`.

Escaping follows actions/toolkit: `%`, CR and LF in messages; also `:` and `,` in properties.
Columns are only given for single-line findings (workflow commands reject them otherwise).
"""

from __future__ import annotations

from collections import Counter

from mlaudit.engine.result import RunResult
from mlaudit.findings import Finding, Level
from mlaudit.report.summary import summary_lines
from mlaudit.rules.docs import DOCS_URL

COMMAND = {Level.ERROR: "error", Level.WARNING: "warning", Level.NOTE: "notice"}


def render(run: RunResult) -> str:
    lines = [_command(f) for f in run.findings]
    lines += [f"::error title=mlaudit::{_escape_data(note)}" for note in run.notifications]
    return "\n".join(lines) + ("\n" if lines else "")


def _command(finding: Finding) -> str:
    props = [f"file={_escape_property(finding.path)}", f"line={finding.line}"]
    end_line = finding.end_line or finding.line
    if end_line == finding.line:
        props.append(f"col={finding.col}")
        if finding.end_col is not None:
            props.append(f"endColumn={finding.end_col}")
    else:
        props.append(f"endLine={end_line}")
    props.append(f"title={_escape_property(f'mlaudit {finding.code}')}")
    message = f"{finding.code} {finding.message}"
    return f"::{COMMAND[finding.level]} {','.join(props)}::{_escape_data(message)}"


def _escape_data(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def _escape_property(text: str) -> str:
    return _escape_data(text).replace(":", "%3A").replace(",", "%2C")


SUMMARY_ROWS = 50  # findings listed in the job summary; the annotations carry them all


def step_summary(run: RunResult) -> str:
    """Markdown for $GITHUB_STEP_SUMMARY: the verdict, a count per rule, the first findings."""
    lines = ["## mlaudit", "", *(f"{line}  " for line in summary_lines(run)), ""]
    counts = Counter(f.code for f in run.findings)
    if counts:
        names = {r.code: r.name for r in run.rules}
        lines += ["| rule | findings |", "|---|---:|"]
        lines += [f"| [{code}]({DOCS_URL.format(code=code)}) {names.get(code, '')} | {n} |" for code, n in sorted(counts.items())]
        lines += ["", "| location | finding |", "|---|---|"]
        for f in run.findings[:SUMMARY_ROWS]:
            lines.append(f"| `{_cell(f.path)}:{f.line}` | {f.code} {_cell(f.message)} |")
        if len(run.findings) > SUMMARY_ROWS:
            lines.append(f"| … | {len(run.findings) - SUMMARY_ROWS} more in the annotations |")
        lines.append("")
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    """Text that stays inside one Markdown table cell."""
    return text.replace("\\", "\\\\").replace("|", "\\|").replace("\r", " ").replace("\n", " ").replace("`", "'")
