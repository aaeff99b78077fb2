"""Jupyter notebooks: cells, execution counts, and their code joined into one module.

nbformat v4 (`cells`, `source`, `execution_count`) and v3 (`worksheets[0].cells`, `input`,
`prompt_number`) are read as plain JSON. Magics and shell escapes are blanked, not removed, so
line numbers stay put; each joined line remembers the JSON line of the notebook that holds it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlaudit.facts.sources import SourceError
from mlaudit.facts.structured import parse_json
from mlaudit.facts.walk import LineMap

# Cell magics whose body is still Python.
PYTHON_CELL_MAGICS = ("%%time", "%%timeit", "%%capture", "%%prun")
# How far ahead to look for a source line in the JSON; bounds the cost on odd layouts.
SEARCH_WINDOW = 500


@dataclass(frozen=True)
class CellFact:
    index: int  # 1-based position among all cells
    cell_type: str
    source: str
    execution_count: int | None
    json_line: int  # line of the notebook file where the cell's source starts (1 if unknown)


@dataclass(frozen=True)
class NotebookFacts:
    nbformat: int
    cells: tuple[CellFact, ...]

    @property
    def code_cells(self) -> tuple[CellFact, ...]:
        return tuple(c for c in self.cells if c.cell_type == "code")


def parse_notebook(text: str) -> tuple[NotebookFacts, str, LineMap]:
    """Return the notebook's facts, its code cells joined as Python, and the line map."""
    document = parse_json(text)
    if not isinstance(document, dict):
        raise SourceError("invalid notebook: the top level is not a JSON object")
    raw_cells, nbformat = _raw_cells(document)
    finder = _LineFinder(text.splitlines())
    cells, code_lines, file_lines, cell_numbers = [], [], [], []
    for index, raw in enumerate(raw_cells, 1):
        cell_type, lines, count = _cell_parts(raw, nbformat)
        json_lines = [finder.find(line) for line in lines]
        start = json_lines[0] if json_lines else finder.last
        source = "".join(lines)
        cells.append(CellFact(index, cell_type, source, count, start))
        if cell_type != "code":
            continue
        for text_line, json_line in zip(_python_lines(source), json_lines or [start], strict=False):
            code_lines.append(text_line)
            file_lines.append(json_line)
            cell_numbers.append(index)
    facts = NotebookFacts(nbformat, tuple(cells))
    return facts, "\n".join(code_lines) + "\n", LineMap(tuple(file_lines), tuple(cell_numbers))


def _raw_cells(document: dict[str, Any]) -> tuple[list[Any], int]:
    nbformat = document.get("nbformat", 4)
    if not isinstance(nbformat, int):
        raise SourceError("invalid notebook: 'nbformat' is not a number")
    if nbformat >= 4:
        cells = document.get("cells")
    else:
        # nbformat 3 keeps cells in worksheets; a hostile file may put anything there.
        worksheets = document.get("worksheets") or [{}]
        first = worksheets[0] if isinstance(worksheets, list) else None
        cells = first.get("cells") if isinstance(first, dict) else None
    if not isinstance(cells, list):
        raise SourceError(f"invalid notebook: no cell list for nbformat {nbformat}")
    return cells, nbformat


def _cell_parts(raw: Any, nbformat: int) -> tuple[str, list[str], int | None]:
    if not isinstance(raw, dict):
        return "unknown", [], None
    cell_type = str(raw.get("cell_type", "unknown"))
    source = raw.get("source" if nbformat >= 4 else "input", "")
    if isinstance(source, list):
        text = "".join(s for s in source if isinstance(s, str))
    else:
        text = source if isinstance(source, str) else ""
    count = raw.get("execution_count" if nbformat >= 4 else "prompt_number")
    return cell_type, text.splitlines(keepends=True), count if isinstance(count, int) else None


def _python_lines(source: str) -> list[str]:
    """The cell's lines with IPython magics and shell escapes blanked."""
    lines = source.splitlines() or [""]
    first = lines[0].strip()
    if first.startswith("%%"):
        if not first.startswith(PYTHON_CELL_MAGICS):
            return ["" for _ in lines]
        lines = ["", *lines[1:]]
    return ["" if line.lstrip().startswith(("%", "!", "?")) else line for line in lines]


class _LineFinder:
    """Finds, in order, the JSON line that holds each source line of the notebook."""

    def __init__(self, raw_lines: list[str]) -> None:
        self.raw = raw_lines
        self.last = 1

    def find(self, source_line: str) -> int:
        stop = min(len(self.raw), self.last + SEARCH_WINDOW) + 1
        for encoded in _encodings(source_line):
            for number in range(self.last, stop):
                if self.raw[number - 1].lstrip().startswith(encoded):
                    self.last = number
                    return number
        return self.last


def _encodings(line: str) -> list[str]:
    plain = json.dumps(line, ensure_ascii=False)
    ascii_only = json.dumps(line)
    return [plain] if plain == ascii_only else [plain, ascii_only]
