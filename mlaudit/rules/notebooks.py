"""ML7xx: Jupyter notebooks.

Notebooks are read by mlaudit.facts.notebook (nbformat v4 and v3 as plain JSON; a broken file is
ML001). Their code cells also go through every Python rule, with findings placed on the
notebook's JSON lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from mlaudit.facts.notebook import ANY_NAME, SHELL_FILES, CellFact, NotebookFacts, cell_state
from mlaudit.findings import Finding
from mlaudit.project import kinds
from mlaudit.project.model import ProjectModel, SourceFile
from mlaudit.rules.base import FileRule, ProjectRule

# Top-level folders that hold packages nobody imports as the project (a tests/__init__.py is common).
NOT_THE_PACKAGE = frozenset({"tests", "test", "docs", "doc", "examples", "notebooks", "scripts", "benchmarks", "tools"})


def _notebook(cells: list[tuple[int | None, str]]) -> str:
    """A small nbformat v4 notebook for the examples: (execution_count, source) per code cell."""
    return json.dumps(
        {
            "nbformat": 4,
            "nbformat_minor": 5,
            "metadata": {},
            "cells": [
                {"cell_type": "code", "execution_count": n, "metadata": {}, "outputs": [], "source": [s]}
                for n, s in cells
            ],
        },
        indent=1,
    )


class NotebookInSrc(ProjectRule):
    code = "ML701"
    name = "notebook-in-src"
    summary = "A notebook sits inside the importable package or src/ tree"
    valid = (
        {"notebooks/explore.ipynb": _notebook([(1, "x = 1")]), "src/pkg/__init__.py": ""},
        {"tests/__init__.py": "", "tests/demo.ipynb": _notebook([(1, "x = 1")])},
        {"analysis/eda.ipynb": _notebook([(1, "x = 1")])},  # a folder, not a package
    )
    invalid = (
        {"src/pkg/__init__.py": "", "src/pkg/explore.ipynb": _notebook([(1, "x = 1")])},
        {"mypkg/__init__.py": "", "mypkg/models/eda.ipynb": _notebook([(1, "x = 1")])},
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        packages = _top_packages(model.files)
        for file in sorted(model.with_format(kinds.NOTEBOOK), key=lambda f: f.path):
            parts = PurePosixPath(file.path).parts
            if len(parts) < 2:
                continue
            where = "src/" if parts[0] == "src" else f"package {parts[0]}/" if parts[0] in packages else None
            if where is None:
                continue
            yield Finding(
                self.code,
                f"{file.name} lives inside {where}, so it ships with the code, is picked up by tools that walk "
                "the package, and mixes exploration with importable modules; move it to a top-level "
                "notebooks/ folder.",
                file.path,
                level=self.level,
            )


def _top_packages(paths: Iterable[str]) -> frozenset[str]:
    """Top-level folders that are Python packages (hold an __init__.py), tests and docs aside."""
    found = set()
    for path in paths:
        parts = path.split("/")  # a normalised repo-relative POSIX path
        if len(parts) == 2 and parts[1] == "__init__.py" and parts[0] not in NOT_THE_PACKAGE:
            found.add(parts[0])
    return frozenset(found)


class NotebookOutOfOrder(FileRule):
    code = "ML702"
    name = "notebook-out-of-order"
    summary = "A committed notebook's cells ran out of order in a way that changes what they read"
    kinds = frozenset({kinds.NOTEBOOK})
    valid = (
        {"nb.ipynb": _notebook([(1, "a = 1"), (None, ""), (2, "b = a"), (5, "c = b")])},  # gaps are fine
        {"nb.ipynb": _notebook([(None, "a = 1"), (None, "b = a")])},  # cleared
        # Equal counts: a cell split after a top-to-bottom run.
        {"nb.ipynb": _notebook([(1, "a = 1"), (2, "b = a"), (2, "c = b")])},
        # An install cell before a kernel restart; the code after it runs from [1] in order.
        {"nb.ipynb": _notebook([(1, "!pip install torch"), (1, "import torch"), (2, "x = torch.ones(1)")])},
        # Only a cell that nothing else reads ran again at the end: Run All gives the same outputs.
        {"nb.ipynb": _notebook([(1, "a = 1"), (9, "Image(filename='fig.png')"), (2, "b = a")])},
    )
    invalid = (
        {"nb.ipynb": _notebook([(3, "a = 1"), (1, "b = a")])},
        {"nb.ipynb": _notebook([(1, "a = 1"), (4, "b = a * 2"), (3, "a = 5")])},
        {"nb.ipynb": _notebook([(1, "x = 1"), (3, "!accelerate config default"), (2, "!accelerate launch train.py")])},
    )

    def check_file(self, file: SourceFile, data: Any) -> Iterable[Finding]:
        if not isinstance(data, NotebookFacts) or file.tracked is False:
            return []
        cells = [c for c in data.code_cells if c.source.strip()]
        if not _count_decreases(cells):
            return []  # the common case: nothing to work out
        problem = _out_of_order(cells)
        if problem is None:
            return []
        cell, why = problem
        return [
            Finding(
                self.code,
                f"{why}, so the saved outputs come from an out-of-order session that Restart & Run All may not "
                "reproduce; restart the kernel and run all cells, or clear the outputs before committing.",
                file.path,
                cell.json_line,
                level=self.level,
            )
        ]


def _count_decreases(cells: list[CellFact]) -> bool:
    highest = 0
    for cell in cells:
        if cell.execution_count is not None:
            if cell.execution_count < highest:
                return True
            highest = cell.execution_count
    return False


# Cell pairs compared at most per notebook: bounds the cost on a huge (or hostile) notebook.
MAX_PAIRS = 1_000_000


@dataclass(frozen=True)
class _Cell:
    fact: CellFact
    count: int | None
    session: int  # the cells from one run as [1] down to the next form one session
    reads: frozenset[str]
    writes: frozenset[str]


def _cells_with_state(cells: list[CellFact]) -> list[_Cell]:
    states = {cell.index: cell_state(cell.source) for cell in cells}
    imported = {name for state in states.values() if state for name in state.imports}
    found, session = [], 0
    for cell in cells:
        state = states[cell.index]
        if cell.execution_count == 1:
            session += 1
        if state is not None:  # a cell that is not valid IPython (ML001) has nothing to compare
            found.append(_Cell(cell, cell.execution_count, session, state.reads - imported,
                               state.binds | (state.changes - imported)))
    return found


def _out_of_order(cells: list[CellFact]) -> tuple[CellFact, str] | None:
    """The first cell whose saved run saw another state than Run All would give it, and why.

    A cell X above a cell Z with a higher count ran after Z. That matters only when they share
    state: X defines a name Z reads (Z ran without it), or Z changes a name X reads (X saw Z's
    value). A count of [1] starts a kernel session; a cell above it whose count is taken in that
    session ran in an earlier one, and matters only if Z reads what only it defines. Counts that
    repeat (a cell split after a run) and cells nothing else reads (installs, displays, a plot
    re-run) are not reported."""
    ordered = _cells_with_state(cells)
    counts: dict[int, set[int]] = {}
    for cell in ordered:
        if cell.count is not None:
            counts.setdefault(cell.session, set()).add(cell.count)
    budget = MAX_PAIRS
    for position, z in enumerate(ordered):
        if z.count is None:
            continue
        above = ordered[:position]
        later = [x for x in reversed(above) if x.count is not None and x.count > z.count]
        budget -= len(later)
        if budget < 0:
            return None
        same = [x for x in later if x.session == z.session or x.count not in counts[z.session]]
        why = _shared(z, same) or _unrun_source(z, above, same) or _earlier_session(z, above, later)
        if why is not None:
            return z.fact, why
    return None


def _ran(cell: _Cell) -> str:
    return f"cell {cell.fact.index} ran as [{cell.count}]"


def _shared(z: _Cell, same: list[_Cell]) -> str | None:
    """Z and a cell above it that ran after it in the same session share a name."""
    for x in same:
        name = _first(x.writes, z.reads)
        if name is not None:
            return f"{_ran(z)} before cell {x.fact.index} above it ran as [{x.count}], which {_defines(name)}"
        name = _first(z.writes, x.reads)
        if name is not None:
            return f"{_ran(x)} after {_ran(z)} below it, which {_changes(name)} that cell {x.fact.index} reads"
    return None


def _unrun_source(z: _Cell, above: list[_Cell], same: list[_Cell]) -> str | None:
    """Z ran before a cell above it and reads a name whose only definition above shows no run."""
    if not same:
        return None
    for name in sorted(z.reads):
        writer = _last_writer(name, above)
        if writer is not None and writer.count is None:
            return (f"{_ran(z)} before cell {same[0].fact.index} above it ran as [{same[0].count}], and reads "
                    f"`{name}`, which only cell {writer.fact.index} defines, a cell with no saved run")
    return None


def _earlier_session(z: _Cell, above: list[_Cell], later: list[_Cell]) -> str | None:
    """After a restart, Z reads a name that only a cell from an earlier session defines."""
    for name in sorted(z.reads):
        writer = _last_writer(name, above)
        if writer is not None and writer in later and writer.session != z.session:
            return (f"{_ran(z)} in a new kernel session, but reads `{name}`, which only cell {writer.fact.index} "
                    f"(run as [{writer.count}] in an earlier session) {_defines(name, plain=True)}")
    return None


def _last_writer(name: str, above: list[_Cell]) -> _Cell | None:
    return next((c for c in reversed(above) if name in c.writes or ANY_NAME in c.writes), None)


def _first(writes: frozenset[str], reads: frozenset[str]) -> str | None:
    if ANY_NAME in writes and reads:
        return ANY_NAME
    shared = writes & reads
    return min(shared) if shared else None


def _defines(name: str, plain: bool = False) -> str:
    if name == SHELL_FILES:
        return "runs shell commands on the files this cell's commands use"
    if name == ANY_NAME:
        return "may define any name (`%run`, `import *` or `exec`)"
    return f"defines `{name}`" + ("" if plain else " that this cell reads")


def _changes(name: str) -> str:
    if name == SHELL_FILES:
        return "runs shell commands on files"
    if name == ANY_NAME:
        return "may define any name (`%run`, `import *` or `exec`)"
    return f"changes `{name}`"
