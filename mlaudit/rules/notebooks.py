"""ML7xx: Jupyter notebooks.

Notebooks are read by mlaudit.facts.notebook (nbformat v4 and v3 as plain JSON; a broken file is
ML001). Their code cells also go through every Python rule, with findings placed on the
notebook's JSON lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any

from mlaudit.facts.notebook import NotebookFacts
from mlaudit.files import kinds
from mlaudit.files.sources import SourceFile
from mlaudit.findings import Finding
from mlaudit.project.model import ProjectModel
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
    summary = "A committed notebook's cells were not run top to bottom"
    kinds = frozenset({kinds.NOTEBOOK})
    valid = (
        {"nb.ipynb": _notebook([(1, "a = 1"), (None, ""), (2, "b = 2"), (5, "c = 3")])},  # gaps are fine
        {"nb.ipynb": _notebook([(None, "a = 1"), (None, "b = 2")])},  # cleared
    )
    invalid = (
        {"nb.ipynb": _notebook([(3, "a = 1"), (1, "b = 2")])},
        {"nb.ipynb": _notebook([(1, "a = 1"), (2, "b = 2"), (2, "c = 3")])},
    )

    def check_file(self, file: SourceFile, data: Any) -> Iterable[Finding]:
        if not isinstance(data, NotebookFacts) or file.tracked is False:
            return []
        previous: tuple[int, int] | None = None  # (cell index, execution count)
        for cell in data.code_cells:
            count = cell.execution_count
            if count is None or not cell.source.strip():
                continue
            if previous is not None and count <= previous[1]:
                return [
                    Finding(
                        self.code,
                        f"cell {cell.index} ran as [{count}] after cell {previous[0]} ran as "
                        f"[{previous[1]}], so the saved outputs come from an out-of-order session "
                        "that a fresh run may not reproduce; restart the kernel and run all cells, or clear "
                        "the outputs before committing.",
                        file.path,
                        cell.json_line,
                        level=self.level,
                    )
                ]
            previous = (cell.index, count)
        return []
