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
import builtins
import json
import re
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


# --- what a cell reads and changes (ML702) -------------------------------------------------------

# A pseudo-name for the files shell commands share (`!accelerate config` before `!accelerate launch`).
SHELL_FILES = "<files>"
# A pseudo-name for "any name": `%run script.py`, `from m import *` and `exec` may bind anything.
ANY_NAME = "*"
# Shell lines that install packages: re-running one changes no result the notebook shows.
INSTALL_COMMAND = re.compile(
    r"^\s*(sudo\s+)?(pip3?|python3?\s+-m\s+pip|conda|mamba|micromamba|uv\s+pip|apt(-get)?)\s+(install|uninstall)\b")
# `$name`, `${name}` and `{name}` in a shell line are Python values IPython substitutes.
SHELL_VALUE = re.compile(r"\$\{?([A-Za-z_]\w*)|\{([A-Za-z_]\w*)")
# Line magics that run code or restore names into the namespace (`%run`, `%store -r`), and those
# that run shell commands or change the working folder.
NAMESPACE_MAGICS = frozenset({"run", "store"})
SHELL_MAGICS = frozenset({"cd", "bash", "sh", "system", "sx", "script", "writefile", "pushd", "popd"})
_BUILTIN_NAMES = frozenset(dir(builtins)) | {"display", "get_ipython"}
# Methods that only look at an object (pandas, NumPy, torch): calling one changes nothing another
# cell reads, so a display cell such as `df.head()` holds no state.
READ_ONLY_METHODS = frozenset({
    "head", "tail", "describe", "info", "sample", "summary", "count", "value_counts", "nunique", "unique",
    "isna", "isnull", "notna", "corr", "mean", "median", "std", "var", "sum", "min", "max", "size", "dim",
    "to_string", "to_markdown", "keys", "values", "items", "get", "numpy", "tolist", "item", "show",
})


@dataclass(frozen=True)
class CellState:
    """The module-level names a code cell reads before binding them, binds, and may change in place
    (the receiver of a method call, a name passed to a function, an attribute or item assigned).
    Imports are kept apart: importing a module twice gives the same module."""

    reads: frozenset[str]
    binds: frozenset[str]
    changes: frozenset[str]
    imports: frozenset[str]
    # (function, name) for each name handed to a function called by its plain name: a function the
    # notebook defines may change what it is given (`train(model, loader)`).
    handed: frozenset[tuple[str, str]] = frozenset()


def cell_state(source: str) -> CellState | None:
    """What the cell reads and writes, read as IPython reads it; None when it does not parse."""
    try:
        tree = _parse("\n".join(transform_cell(source)) + "\n")
    except SyntaxError:
        return None
    names = _CellNames()
    for statement in tree.body:
        names.statement(statement)
    builtin = _BUILTIN_NAMES - names.binds  # a notebook may shadow a builtin name
    return CellState(frozenset(names.reads - builtin), frozenset(names.binds), frozenset(names.changes - builtin),
                     frozenset(names.imports), frozenset(names.handed))


class _CellNames:
    def __init__(self) -> None:
        self.reads: set[str] = set()
        self.binds: set[str] = set()
        self.changes: set[str] = set()
        self.imports: set[str] = set()
        self.handed: set[tuple[str, str]] = set()

    def statement(self, node: ast.stmt) -> None:
        reads: dict[str, int] = {}  # name -> first line it is read on, within this statement
        binds: dict[str, int] = {}
        self._visit(node, frozenset(), reads, binds, top=True)
        # Read before this cell bound it: `x = x + 1` reads x; a loop that binds `batch` before using
        # it does not.
        free = {name for name, line in reads.items() if name not in binds or line <= binds[name]}
        self.reads |= free - self.binds - self.imports
        self.binds |= binds.keys()

    def _visit(self, node: ast.AST, local: frozenset[str], reads: dict[str, int], binds: dict[str, int],
               top: bool) -> None:
        """Collect names: `local` holds the names of the enclosing functions and comprehensions;
        `top` is False inside a function body, whose bindings stay local."""
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
            self._function(node, local, reads, binds, top)
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.DictComp, ast.GeneratorExp)):
            inner = local | {n.id for g in node.generators for n in ast.walk(g.target) if isinstance(n, ast.Name)}
            for child in ast.iter_child_nodes(node):
                self._visit(child, inner, reads, binds, top)
            return
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            for alias in node.names:
                if alias.name == "*":
                    binds.setdefault(ANY_NAME, node.lineno)
                elif top:
                    self.imports.add(alias.asname or alias.name.split(".")[0])
            return
        if isinstance(node, ast.ClassDef):
            if top:
                binds.setdefault(node.name, node.lineno)
            for child in (*node.bases, *node.keywords, *node.decorator_list):
                self._visit(child, local, reads, binds, top)
            for statement in node.body:  # the class body binds class attributes, not globals
                self._visit(statement, local, reads, binds, False)
            return
        if isinstance(node, ast.ExceptHandler) and node.name and top:
            binds.setdefault(node.name, node.lineno)
        elif isinstance(node, ast.Global):
            for name in node.names:
                binds.setdefault(name, node.lineno)
        elif isinstance(node, ast.AugAssign) and isinstance(node.target, ast.Name) and node.target.id not in local:
            reads.setdefault(node.target.id, node.lineno)  # `total += loss` reads total first
        elif isinstance(node, ast.Name):
            if node.id not in local:
                if isinstance(node.ctx, ast.Load):
                    reads.setdefault(node.id, node.lineno)
                elif top:
                    binds.setdefault(node.id, node.lineno)
            return
        elif isinstance(node, (ast.Attribute, ast.Subscript)) and not isinstance(node.ctx, ast.Load):
            self._changes(node, local)
        elif isinstance(node, ast.Call):
            self._call(node, local, reads, binds)
        for child in ast.iter_child_nodes(node):
            self._visit(child, local, reads, binds, top)

    def _function(self, node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda, local: frozenset[str],
                  reads: dict[str, int], binds: dict[str, int], top: bool) -> None:
        if not isinstance(node, ast.Lambda):
            if top:
                binds.setdefault(node.name, node.lineno)
            for decorator in node.decorator_list:
                self._visit(decorator, local, reads, binds, top)
        for default in (*node.args.defaults, *(d for d in node.args.kw_defaults if d is not None)):
            self._visit(default, local, reads, binds, top)
        inner = local | _function_locals(node)
        for child in node.body if isinstance(node.body, list) else [node.body]:
            self._visit(child, inner, reads, binds, False)

    def _changes(self, node: ast.expr, local: frozenset[str]) -> None:
        base = _base_name(node)
        if base is not None and base not in local:
            self.changes.add(base)

    def _call(self, node: ast.Call, local: frozenset[str], reads: dict[str, int], binds: dict[str, int]) -> None:
        func = node.func
        if isinstance(func, ast.Attribute):
            if _base_name(func) == "get_ipython":
                self._magic(func.attr, node, reads, binds)
                return
            base = _base_name(func.value)
            if base is not None and base not in local and func.attr not in READ_ONLY_METHODS:
                self.changes.add(base)  # `model.fit(x)`, `df.drop(..., inplace=True)`
        elif isinstance(func, ast.Name):
            if func.id == "exec":
                binds.setdefault(ANY_NAME, node.lineno)
            elif func.id not in _BUILTIN_NAMES:
                # `train(model, loader)` may change what it is given.
                self.handed.update((func.id, a.id) for a in (*node.args, *(k.value for k in node.keywords))
                                   if isinstance(a, ast.Name) and a.id not in local)

    def _magic(self, kind: str, node: ast.Call, reads: dict[str, int], binds: dict[str, int]) -> None:
        """`get_ipython().system(cmd)` and `.run_line_magic(name, line)` calls from `transform_cell`."""
        args = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        if kind in {"system", "getoutput"}:
            command = args[0] if args else ""
        elif kind in {"run_line_magic", "run_cell_magic"} and args:
            if args[0] in NAMESPACE_MAGICS:
                binds.setdefault(ANY_NAME, node.lineno)
                return
            if args[0] not in SHELL_MAGICS:
                return  # %matplotlib, %tensorboard, %watermark, %pip: no state other cells read
            command = " ".join(args[1:])
        else:
            return
        for match in SHELL_VALUE.finditer(command):
            reads.setdefault(match.group(1) or match.group(2), node.lineno)
        if not INSTALL_COMMAND.match(command):
            reads.setdefault(SHELL_FILES, node.lineno)
            binds.setdefault(SHELL_FILES, node.lineno)


def _base_name(node: ast.expr) -> str | None:
    while isinstance(node, (ast.Attribute, ast.Subscript, ast.Call)):
        node = node.func if isinstance(node, ast.Call) else node.value
    return node.id if isinstance(node, ast.Name) else None


def _function_locals(node: ast.FunctionDef | ast.AsyncFunctionDef | ast.Lambda) -> frozenset[str]:
    """Parameters and names bound in the body (not declared global): local to the function."""
    arguments = node.args
    names = {a.arg for a in (*arguments.posonlyargs, *arguments.args, *arguments.kwonlyargs)}
    names.update(a.arg for a in (arguments.vararg, arguments.kwarg) if a is not None)
    declared: set[str] = set()
    for statement in node.body if isinstance(node.body, list) else [node.body]:
        for child in ast.walk(statement):
            if isinstance(child, (ast.Global, ast.Nonlocal)):
                declared.update(child.names)
            elif isinstance(child, ast.Name) and not isinstance(child.ctx, ast.Load):
                names.add(child.id)
            elif isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
                names.add(child.name)
            elif isinstance(child, (ast.Import, ast.ImportFrom)):
                names.update(a.asname or a.name.split(".")[0] for a in child.names)
    return frozenset(names - declared)
