"""The default, for people: each finding with its source line and a caret under the problem,
then a count per rule. Colour (via rich) only when writing to a terminal."""

from __future__ import annotations

import io
from collections import Counter
from pathlib import Path

from mlaudit.engine.result import RunResult
from mlaudit.files.boundary import read_inside
from mlaudit.findings import Finding, Level
from mlaudit.report.summary import summary_lines

STYLE = {Level.ERROR: "bold red", Level.WARNING: "bold yellow", Level.NOTE: "bold cyan"}


def render(run: RunResult, color: bool = False) -> str:
    blocks: list[list[tuple[str, str]]] = []  # (text, rich style) pieces, one list per block
    lines_cache: dict[str, list[str]] = {}
    for finding in run.findings:
        blocks.append(_finding_block(finding, _source_lines(run.root, finding.path, lines_cache)))
    blocks.append(_per_code(run))
    blocks.append([(line + "\n", "bold" if i == 0 else "") for i, line in enumerate(summary_lines(run))])
    return _emit(blocks, color)


def _finding_block(finding: Finding, source: list[str]) -> list[tuple[str, str]]:
    pieces = [
        (f"{finding.path}:{finding.line}:{finding.col}: ", "bold"),
        (finding.code, STYLE[finding.level]),
        (f" {finding.message}\n", ""),
    ]
    if 0 < finding.line <= len(source) and not finding.path.endswith(".ipynb"):
        text = source[finding.line - 1].rstrip("\n")
        gutter = " " * len(str(finding.line))
        width = _caret_width(finding, text)
        pieces += [
            (f"{gutter} |\n{finding.line} | ", "blue"),
            (f"{text}\n", ""),
            (f"{gutter} | ", "blue"),
            (" " * (finding.col - 1) + "^" * width + "\n", STYLE[finding.level]),
        ]
    if finding.fix is not None and finding.fix.safe:
        pieces.append((f"  = fix available (--fix): {finding.fix.description}\n", "green"))
    elif finding.fix is not None:
        pieces.append((f"  = unsafe fix available (--fix --unsafe-fixes): {finding.fix.description}\n", "yellow"))
    pieces.append(("\n", ""))
    return pieces


def _caret_width(finding: Finding, text: str) -> int:
    if finding.end_line == finding.line and finding.end_col:
        return max(finding.end_col - finding.col, 1)
    return max(len(text) - finding.col + 1, 1)


def _per_code(run: RunResult) -> list[tuple[str, str]]:
    counts = Counter(f.code for f in run.findings)
    if not counts:
        return []
    names = {r.code: r.name for r in run.rules}
    pieces = []
    for code, n in sorted(counts.items()):
        pieces.append((f"{n:>5} {code} {names.get(code, '')}  (mlaudit rule {code})\n", ""))
    return pieces


def _source_lines(root: Path, path: str, cache: dict[str, list[str]]) -> list[str]:
    if path not in cache:
        data = read_inside(root, root / path, 8 * 2**20)  # never a file outside the repository
        cache[path] = data.decode("utf-8", errors="replace").splitlines() if data is not None else []
    return cache[path]


def _emit(blocks: list[list[tuple[str, str]]], color: bool) -> str:
    if not color:
        return "".join(text for block in blocks for text, _ in block)
    from rich.console import Console  # only imported when colour is wanted
    from rich.text import Text

    buffer = io.StringIO()
    console = Console(file=buffer, force_terminal=True, color_system="standard", width=10_000, soft_wrap=True)
    for block in blocks:
        text = Text()
        for piece, style in block:
            text.append(piece, style=style or None)
        console.print(text, end="")
    return buffer.getvalue()
