"""Stable JSON: an object with the format version, the tool, the findings and a summary.

Schema (version 1):
  {"version": 1, "tool": {"name": "mlaudit", "version": "..."}, "root": "/abs/path",
   "findings": [{"code", "name", "message", "level", "path", "url",
                 "location": {"line", "column"}, "end_location": {"line", "column"} | null,
                 "fix": {"description", "applicability": "safe" | "unsafe",
                         "edits": [{"content", "location", "end_location"}]} | null,
                 "related": [{"path", "location": {"line", "column"}, "message"}]}],
   "summary": {"findings", "suppressed", "files", "by_code": {code: n}}, "errors": [str], "warnings": [str],
   "properties": {...} (only when set: `mlaudit probe`'s verdict, target, seeds...), "notes": [str] (likewise)}
Paths are relative to "root", the repository root (the git work tree). "summary.files" counts the
files the report covers: all of them, or those under the paths named on the command line.
Lines and columns are 1-based; columns count code points; end positions are exclusive.
"""

from __future__ import annotations

import json
from collections import Counter
from typing import Any

from mlaudit import __version__
from mlaudit.engine.result import RunResult
from mlaudit.findings import Finding, Fix
from mlaudit.rules.docs import DOCS_URL

FORMAT_VERSION = 1


def render(run: RunResult) -> str:
    names = {r.code: r.name for r in run.rules}
    document = {
        "version": FORMAT_VERSION,
        "tool": {"name": run.tool_name, "version": __version__},
        "root": str(run.root),
        "findings": [_finding(f, names.get(f.code, "")) for f in run.findings],
        "summary": {
            "findings": len(run.findings),
            "suppressed": run.suppressed,
            "files": run.files_checked,
            "by_code": dict(sorted(Counter(f.code for f in run.findings).items())),
        },
        "errors": list(run.notifications),
        "warnings": list(run.warnings),
    }
    if run.properties:
        document["properties"] = run.properties
    if run.notes:
        document["notes"] = list(run.notes)
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"


def _finding(finding: Finding, name: str) -> dict[str, Any]:
    end = None
    if finding.end_line is not None and finding.end_col is not None:
        end = {"line": finding.end_line, "column": finding.end_col}
    return {
        "code": finding.code,
        "name": name,
        "message": finding.message,
        "level": finding.level.value,
        "path": finding.path,
        "url": DOCS_URL.format(code=finding.code),
        "location": {"line": finding.line, "column": finding.col},
        "end_location": end,
        "fix": _fix(finding.fix),
        "related": [{"path": r.path, "location": {"line": r.line, "column": r.col}, "message": r.message}
                    for r in finding.related],
    }


def _fix(fix: Fix | None) -> dict[str, Any] | None:
    if fix is None:
        return None
    return {
        "description": fix.description,
        "applicability": "safe" if fix.safe else "unsafe",
        "edits": [
            {
                "content": e.content,
                "location": {"line": e.line, "column": e.col},
                "end_location": {"line": e.end_line, "column": e.end_col},
            }
            for e in fix.edits
        ],
    }
