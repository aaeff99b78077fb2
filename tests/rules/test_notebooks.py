"""ML701/ML702, and the Python rules of every family running on notebook code cells."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from tests.helpers import check, located, make_repo, write_tree


def notebook(cells: list[tuple[str, int | None, list[str]]], nbformat: int = 4) -> str:
    if nbformat == 3:
        raw = [{"cell_type": t, "prompt_number": n, "input": s, "outputs": []} for t, n, s in cells]
        document: dict[str, Any] = {"nbformat": 3, "nbformat_minor": 0, "worksheets": [{"cells": raw}]}
    else:
        raw = [
            {"cell_type": t, "execution_count": n, "metadata": {}, "outputs": [], "source": s}
            if t == "code"
            else {"cell_type": t, "metadata": {}, "source": s}
            for t, n, s in cells
        ]
        document = {"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": raw}
    return json.dumps(document, indent=1) + "\n"


def json_line(text: str, needle: str) -> int:
    return next(i for i, line in enumerate(text.splitlines(), 1) if needle in line)


def test_python_rules_run_on_cells_and_point_at_the_json_line(tmp_path: Path) -> None:
    text = notebook(
        [
            ("markdown", None, ["# Explore\n", "yaml.load is bad\n"]),
            ("code", 1, ["%matplotlib inline\n", "!pip install pyyaml\n", "import yaml\n"]),
            ("code", 2, ["%%time\n", "cfg = yaml.load(open('c.yaml'))\n"]),
        ]
    )
    repo = make_repo(tmp_path / "r", {"notebooks/explore.ipynb": text})
    run = check(repo, select=["ML602", "ML001"])
    assert located(run) == {("notebooks/explore.ipynb", json_line(text, "cfg = yaml.load"), "ML602")}
    finding = run.findings[0]
    assert finding.message.startswith("cell 3: ")
    assert finding.fix is None  # edits would be positioned in the joined cells, not in the JSON


def test_data_rules_run_on_cells(tmp_path: Path) -> None:
    text = notebook([("code", 1, ["import pandas as pd\n", "df = pd.read_csv('/home/alice/x.csv')\n"])])
    repo = make_repo(tmp_path / "r", {"nb.ipynb": text})
    assert located(check(repo, select=["ML403"])) == {("nb.ipynb", json_line(text, "read_csv"), "ML403")}


def test_notebook_in_src_and_package(tmp_path: Path) -> None:
    cell = [("code", 1, ["x = 1\n"])]
    repo = make_repo(
        tmp_path / "r",
        {
            "src/proj/__init__.py": "",
            "src/proj/eda.ipynb": notebook(cell),
            "mypkg/__init__.py": "",
            "mypkg/sub/demo.ipynb": notebook(cell),
            "notebooks/ok.ipynb": notebook(cell),
            "tests/__init__.py": "",
            "tests/nb.ipynb": notebook(cell),
            "top.ipynb": notebook(cell),
        },
    )
    assert located(check(repo, select=["ML701"])) == {
        ("src/proj/eda.ipynb", 1, "ML701"),
        ("mypkg/sub/demo.ipynb", 1, "ML701"),
    }


def test_out_of_order_v4_and_v3(tmp_path: Path) -> None:
    v4 = notebook([("code", 2, ["a = 1\n"]), ("markdown", None, ["text\n"]), ("code", 1, ["b = 2\n"])])
    v3 = notebook([("code", 5, ["a = 1\n"]), ("code", 3, ["b = 2\n"])], nbformat=3)
    ordered = notebook([("code", 1, ["a = 1\n"]), ("code", None, ["b = 2\n"]), ("code", 7, ["c = 3\n"])])
    empty_cell = notebook([("code", 1, ["a = 1\n"]), ("code", 9, []), ("code", 2, ["c = 3\n"])])
    repo = make_repo(tmp_path / "r", {"a.ipynb": v4, "b.ipynb": v3, "c.ipynb": ordered, "d.ipynb": empty_cell})
    run = check(repo, select=["ML702"])
    assert located(run) == {("a.ipynb", json_line(v4, '"b = 2'), "ML702"), ("b.ipynb", json_line(v3, '"b = 2'), "ML702")}
    assert "cell 3 ran as [1] after cell 1 ran as [2]" in next(f.message for f in run.findings if f.path == "a.ipynb")


def test_uncommitted_notebook_is_not_judged(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": "print(1)\n"})
    write_tree(repo, {"wip.ipynb": notebook([("code", 3, ["a = 1\n"]), ("code", 1, ["b = 2\n"])])})
    assert located(check(repo, select=["ML702"])) == set()


def test_broken_notebook_is_ml001_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"bad.ipynb": '{"cells": [', "odd.ipynb": '{"nbformat": 4}'})
    run = check(repo, select=["ML001", "ML7"])
    assert {f.code for f in run.findings} == {"ML001"}
    assert {f.path for f in run.findings} == {"bad.ipynb", "odd.ipynb"}
