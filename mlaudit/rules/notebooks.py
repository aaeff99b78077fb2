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
from mlaudit.files import kinds
from mlaudit.files.sources import SourceFile
from mlaudit.findings import Finding
from mlaudit.project.model import ProjectModel
from mlaudit.rules.base import FileRule, ProjectRule

# Top-level folders of programs run from the clone, not imported as the project: a folder notion,
# not a file role (scripts/train.py is source like any module, it is only not the package).
PROGRAM_FOLDERS = frozenset({"notebooks", "scripts", "benchmarks", "tools"})


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
        packages = _top_packages(model.files.values())
        for file in sorted(model.with_role(kinds.NOTEBOOK), key=lambda f: f.path):
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


def _top_packages(files: Iterable[SourceFile]) -> frozenset[str]:
    """Top-level folders that are Python packages: they hold an __init__.py with the source role
    (a tests/__init__.py, docs/ or examples/ one is not the project's package)."""
    found = set()
    for file in files:
        folder, _, rest = file.path.partition("/")
        if rest == "__init__.py" and file.has_role(kinds.SOURCE) and folder not in PROGRAM_FOLDERS:
            found.add(folder)
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


# Writer cells looked at, at most, per notebook: bounds the cost on a huge (or hostile) notebook.
MAX_STEPS = 2_000_000


@dataclass(frozen=True)
class _Cell:
    fact: CellFact
    position: int
    count: int | None
    session: int  # the cells from one run as [1] down to the next form one session
    reads: frozenset[str]
    writes: frozenset[str]  # names the cell binds or may change
    binds: frozenset[str]


def _cells_with_state(cells: list[CellFact]) -> list[_Cell]:
    states = {cell.index: cell_state(cell.source) for cell in cells}
    imported = {name for state in states.values() if state for name in state.imports}
    # A name no cell binds (a module from `import *`, a global of IPython) is not notebook state.
    bound = {name for state in states.values() if state for name in state.binds}
    found: list[_Cell] = []
    session = 0
    for cell in cells:
        state = states[cell.index]
        if cell.execution_count == 1:
            session += 1
        if state is not None:  # a cell that is not valid IPython (ML001) has nothing to compare
            handed = {name for function, name in state.handed if function in bound}
            changes = (state.changes | handed) & bound
            found.append(_Cell(cell, len(found), cell.execution_count, session, state.reads - imported,
                               state.binds | (changes - imported), state.binds))
    return found


def _out_of_order(cells: list[CellFact]) -> tuple[CellFact, str] | None:
    """The first cell that read a name from another cell than Restart & Run All would give it.

    For each name a cell reads, Run All gives it the value of the nearest cell above that writes the
    name; the saved session gave it the value of the writer with the highest count below its own,
    wherever that writer sits. When those differ, the saved output may not come back. A count of
    [1] starts a kernel session: a cell above it whose count is taken in that session ran in an
    earlier one and never fed it, unless nothing in the new session wrote the name. Repeated counts
    (a cell split after a run) and cells nothing else reads (installs, displays, a plot re-run)
    never make a difference, so they are not reported."""
    ordered = _cells_with_state(cells)
    counts: dict[int, set[int]] = {}
    writers: dict[str, list[_Cell]] = {}
    for cell in ordered:
        if cell.count is not None:
            counts.setdefault(cell.session, set()).add(cell.count)
        for name in cell.writes:
            writers.setdefault(name, []).append(cell)
    steps = MAX_STEPS
    for z in ordered:
        if z.count is None:
            continue
        decreased = any(x.count is not None and x.count > z.count and _same_session(x, z, counts)
                        for x in ordered[:z.position])
        reasons = []
        for name in sorted(z.reads):
            candidates = writers.get(name, []) + writers.get(ANY_NAME, [])
            steps -= len(candidates)
            if steps < 0:
                return None
            why = _different_source(z, name, candidates, counts, decreased)
            if why is not None:
                reasons.append(why)
        if reasons:
            # Prefer a name some cell binds over one a call may only have changed.
            return z.fact, next((why for why in reasons if "sets or changes" not in why), reasons[0])
    return None


def _same_session(x: _Cell, z: _Cell, counts: dict[int, set[int]]) -> bool:
    """Could x have run in z's kernel session? Yes unless a restart lies between and x's count is
    taken by another cell of z's session."""
    return x.session == z.session or x.count not in counts.get(z.session, set())


def _different_source(z: _Cell, name: str, candidates: list[_Cell], counts: dict[int, set[int]],
                      decreased: bool) -> str | None:
    above = [w for w in candidates if w.position < z.position]
    nearest = max(above, key=lambda w: w.position) if above else None
    assert z.count is not None
    ran_before = [w for w in candidates if w is not z and w.count is not None and w.count < z.count
                  and _same_session(w, z, counts)]
    source = max(ran_before, key=lambda w: w.count or 0) if ran_before else None
    if nearest is source:
        return None
    ran = f"cell {z.fact.index} ran as [{z.count}]"
    if name == SHELL_FILES:
        other = source if nearest is None or (nearest.count or 0) < z.count else nearest
        if other is None or other.count is None:
            return None
        return (f"{ran} and cell {other.fact.index} ran as [{other.count}]: both run shell commands, in the "
                "other order than a top-to-bottom run gives them")
    if nearest is None:
        assert source is not None
        return (f"{ran} after cell {source.fact.index} below it ran as [{source.count}], which {_defines(name, plain=True)}; "
                "a top-to-bottom run reaches this cell before it")
    if nearest.count is None:
        if not decreased or source is not None:
            return None  # a partly run notebook, not one run out of order
        verb = "defines" if name in nearest.binds else "sets or changes"
        return (f"{ran} out of order and reads `{name}`, which only cell {nearest.fact.index} above it {verb}, a "
                "cell with no saved run")
    if nearest.count > z.count and _same_session(nearest, z, counts):
        what = _defines(name) if name in nearest.binds else f"{_changes(name)} that this cell reads"
        return f"{ran} before cell {nearest.fact.index} above it ran as [{nearest.count}], which {what}"
    if source is None:
        if nearest.count > z.count:
            return (f"{ran} in a new kernel session, but reads `{name}`, which only cell {nearest.fact.index} "
                    f"(run as [{nearest.count}] in an earlier session) {_defines(name, plain=True)}")
        return None
    if source.position > z.position or (source.count or 0) > (nearest.count or 0):
        # Name the last cell that bound it, when that one differs too: a rebinding tells more than a call.
        binders = [w for w in ran_before if name in w.binds or ANY_NAME in w.binds]
        binder = max(binders, key=lambda w: w.count or 0) if binders else None
        if binder is not None and binder is not nearest and (binder.position > z.position
                                                             or (binder.count or 0) > (nearest.count or 0)):
            source = binder
        where = "below it" if source.position > z.position else "above it"
        return (f"{ran} after cell {source.fact.index} {where} ran as [{source.count}], which {_changes(name)}, so it "
                f"did not see `{name}` as a top-to-bottom run leaves it (there, cell {nearest.fact.index} is the last "
                "above it to set or change it)")
    return None


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
    return f"sets or changes `{name}`"
