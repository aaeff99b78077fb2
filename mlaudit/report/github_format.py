"""GitHub Actions workflow commands: `::error file=...,line=...,col=...,title=CODE::message`.

Escaping follows actions/toolkit: `%`, CR and LF in messages; also `:` and `,` in properties.
Columns are only given for single-line findings (workflow commands reject them otherwise).
"""

from __future__ import annotations

from mlaudit.findings import Finding, Level
from mlaudit.report import RunResult

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
