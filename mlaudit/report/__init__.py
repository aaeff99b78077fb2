"""Reporters turn a finished run into text. They format; they never decide.

Every reporter is a function `render(run: RunResult) -> str` in a module named after its format.
"""

from __future__ import annotations

import importlib

from mlaudit.engine.result import RunResult

FORMATS = ("full", "concise", "json", "sarif", "github")


def render(fmt: str, run: RunResult, color: bool = False) -> str:
    """Format `run` in `fmt` (one of FORMATS)."""
    if fmt not in FORMATS:
        raise ValueError(f"unknown output format {fmt!r}; choose one of {', '.join(FORMATS)}")
    module = importlib.import_module(f"mlaudit.report.{fmt}_format")
    text: str = module.render(run, color=color) if fmt == "full" else module.render(run)
    return text
