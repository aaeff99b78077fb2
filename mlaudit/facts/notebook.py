"""Jupyter notebooks: cells, execution counts, and their code joined into one module.

nbformat v4 (`cells`, `source`, `execution_count`) and v3 (`worksheets[0].cells`, `input`,
`prompt_number`) are read as plain JSON. Each code cell is read as IPython reads it
(`mlaudit.files.ipython`: magics, shell escapes and help lines become the calls IPython makes, line
for line), so line numbers stay put; each joined line remembers the JSON line that holds it. A cell
that is not valid IPython (markdown pasted into a code cell) is left out and reported on its own:
the other cells are still analysed.
"""

from __future__ import annotations

import ast
import json
import warnings
from dataclasses import dataclass
from typing import Any

from mlaudit.facts.walk import LineMap
from mlaudit.files.ipython import transform_cell
from mlaudit.files.sources import SourceError
from mlaudit.files.structured import parse_json

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
class CellError:
    """A code cell that is not valid IPython; its lines were left out of the joined module."""

    cell: int  # 1-based position among all cells
    line: int  # line of the notebook file
    col: int
    message: str


@dataclass(frozen=True)
class NotebookFacts:
    nbformat: int
    cells: tuple[CellFact, ...]
    bad_cells: tuple[CellError, ...] = ()

    @property
    def code_cells(self) -> tuple[CellFact, ...]:
        return tuple(c for c in self.cells if c.cell_type == "code")


def parse_notebook(text: str) -> tuple[NotebookFacts, str, LineMap, ast.Module]:
    """Return the notebook's facts, its code cells joined as Python, the line map and the tree of
    the joined code (cells that do not parse are left out and listed in `bad_cells`)."""
    document = parse_json(text)
    if not isinstance(document, dict):
        raise SourceError("invalid notebook: the top level is not a JSON object")
    raw_cells, nbformat = _raw_cells(document)
    finder = _LineFinder(text.splitlines())
    cells: list[CellFact] = []
    code: list[_CodeCell] = []
    for index, raw in enumerate(raw_cells, 1):
        cell_type, lines, count = _cell_parts(raw, nbformat)
        json_lines = [finder.find(line) for line in lines]
        start = json_lines[0] if json_lines else finder.last
        source = "".join(lines)
        cells.append(CellFact(index, cell_type, source, count, start))
        if cell_type == "code":
            python = transform_cell(source)
            code.append(_CodeCell(index, python, (json_lines or [start]) + [start] * (len(python) - len(json_lines))))
    tree, bad = _parse_cells(code)
    code_lines = [line for cell in code for line in cell.python]
    file_lines = tuple(n for cell in code for n in cell.json_lines[: len(cell.python)])
    cell_numbers = tuple(cell.index for cell in code for _ in cell.python)
    facts = NotebookFacts(nbformat, tuple(cells), bad)
    return facts, "\n".join(code_lines) + "\n", LineMap(file_lines, cell_numbers), tree


@dataclass
class _CodeCell:
    index: int
    python: list[str]  # the cell as Python, one line per source line
    json_lines: list[int]


def _parse_cells(cells: list[_CodeCell]) -> tuple[ast.Module, tuple[CellError, ...]]:
    """Parse the joined cells; when that fails, find the cells that do not parse on their own
    (IPython runs each cell alone), blank them, and parse the rest."""
    try:
        return _parse("\n".join(line for cell in cells for line in cell.python) + "\n"), ()
    except SyntaxError:
        pass
    bad = []
    for cell in cells:
        try:
            _parse("\n".join(cell.python) + "\n")
        except SyntaxError as exc:
            line = min(max(exc.lineno or 1, 1), len(cell.json_lines))
            bad.append(CellError(cell.index, cell.json_lines[line - 1], exc.offset or 0, exc.msg))
            cell.python = [""] * len(cell.python)
    # Every remaining cell parses alone, so their concatenation parses.
    return _parse("\n".join(line for cell in cells for line in cell.python) + "\n"), tuple(bad)


def _parse(text: str) -> ast.Module:
    """`ast.parse`, with any failure to parse (null bytes, nesting too deep) as a SyntaxError."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our findings
            return ast.parse(text)
    except SyntaxError:
        raise
    except (ValueError, MemoryError, RecursionError) as exc:
        raise SyntaxError(str(exc) or type(exc).__name__) from None


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
