"""`check --add-noqa`: a directive at each reported line, merged, never breaking code."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from mlaudit.findings import Finding
from mlaudit.fix.noqa import add_noqa
from tests.adopt.conftest import OPT_IN_ML502, reported, run_cli
from tests.helpers import make_repo

TRICKY = '''\
import torch
import yaml

a = torch.load("a.pt")  # noqa: E501
b = torch.load(  # a comment
    "b.pt",
)
c = """text
""" + str(torch.load("c.pt"))
d = 1 + \\
    len(torch.load("d.pt"))
e = torch.load("e.pt")  # type: ignore
f = yaml.load(open("f.yaml")); g = torch.load("g.pt")
h = torch.load("h.pt")  # noqa
'''


def test_add_noqa_silences_every_finding_and_keeps_the_code(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"train.py": TRICKY, "requirements.txt": "torch==2.1.0\nnumpy\n", **OPT_IN_ML502})
    before = ast.dump(ast.parse(TRICKY))
    first = run_cli(repo, "check", ".", "--add-noqa")
    assert first.returncode == 0, first.stdout + first.stderr
    assert "added noqa directives" in first.stderr
    text = (repo / "train.py").read_text()
    assert ast.dump(ast.parse(text)) == before
    lines = text.splitlines()
    assert lines[3] == 'a = torch.load("a.pt")  # noqa: E501, ML601'
    assert lines[4] == "b = torch.load(  # a comment  # noqa: ML601"
    assert lines[8] == '""" + str(torch.load("c.pt"))  # noqa: ML601'
    assert lines[9] == "d = 1 + \\"  # a backslash line cannot hold a comment
    assert lines[10] == '    len(torch.load("d.pt"))  # noqa: ML601'
    assert lines[11] == 'e = torch.load("e.pt")  # type: ignore  # noqa: ML601'
    assert lines[12] == 'f = yaml.load(open("f.yaml")); g = torch.load("g.pt")  # noqa: ML601, ML602'
    assert lines[13] == 'h = torch.load("h.pt")  # noqa  # noqa: ML601'
    assert (repo / "requirements.txt").read_text() == "torch==2.1.0\nnumpy  # noqa: ML502\n"
    assert reported(run_cli(repo, "check", ".")) == []
    again = run_cli(repo, "check", ".", "--add-noqa")  # nothing left to add
    assert again.returncode == 0 and (repo / "train.py").read_text() == text


def test_reason_follows_the_directive(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"train.py": "import torch\nm = torch.load('m.pt')\n"})
    result = run_cli(repo, "check", ".", "--add-noqa", "--reason", "our own checkpoints")
    assert result.returncode == 0
    assert (repo / "train.py").read_text().splitlines()[1] == "m = torch.load('m.pt')  # noqa: ML601  # our own checkpoints"
    assert run_cli(repo, "check", ".", "--reason", "x").returncode == 2  # --reason needs --add-noqa


def test_notebook_cells_get_the_directive_inside_their_source(tmp_path: Path) -> None:
    notebook = {
        "cells": [
            {"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
             "source": ["import torch\n", "m = torch.load('m.pt')\n", "print(m)"]},
        ],
        "metadata": {}, "nbformat": 4, "nbformat_minor": 5,
    }  # fmt: skip
    repo = make_repo(tmp_path / "repo", {"nb.ipynb": json.dumps(notebook, indent=1) + "\n"})
    assert reported(run_cli(repo, "check", ".", "--select", "ML601")) == ["nb.ipynb:10 ML601"]
    assert run_cli(repo, "check", ".", "--select", "ML601", "--add-noqa").returncode == 0
    source = json.loads((repo / "nb.ipynb").read_text())["cells"][0]["source"]
    assert source == ["import torch\n", "m = torch.load('m.pt')  # noqa: ML601\n", "print(m)"]


def test_a_file_that_does_not_parse_is_left_alone(tmp_path: Path) -> None:
    (tmp_path / "bad.py").write_text("x = (\n")
    result = add_noqa(tmp_path, [Finding("ML601", "m", "bad.py", 1)])
    assert result.refused == ["bad.py"] and (tmp_path / "bad.py").read_text() == "x = (\n"
    (tmp_path / "data.bin").write_bytes(b"\0\1")
    assert add_noqa(tmp_path, [Finding("ML402", "m", "data.bin", 1)]).no_comments == 1


def test_yaml_comment_inside_a_block_scalar_is_refused(tmp_path: Path) -> None:
    (tmp_path / "c.yaml").write_text("script: |\n  run\n  more\n")
    result = add_noqa(tmp_path, [Finding("ML201", "m", "c.yaml", 2)])
    assert result.refused == ["c.yaml"] and (tmp_path / "c.yaml").read_text() == "script: |\n  run\n  more\n"


def test_findings_no_comment_can_cover_are_counted_and_the_rest_written(tmp_path: Path) -> None:
    (tmp_path / "requirements.txt").write_text("torch \\\n    ==2.1.0\nnumpy\n")
    result = add_noqa(tmp_path, [Finding("ML502", "m", "requirements.txt", 1), Finding("ML502", "m", "requirements.txt", 3)])
    assert (result.added, result.unplaced) == (1, 1)
    assert (tmp_path / "requirements.txt").read_text() == "torch \\\n    ==2.1.0\nnumpy  # noqa: ML502\n"
    assert any("no comment can cover" in m for m in result.messages())
    notebook = {"cells": [{"cell_type": "markdown", "metadata": {}, "source": ["# Title\n"]}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(notebook, indent=1) + "\n"
    (tmp_path / "nb.ipynb").write_text(text)
    result = add_noqa(tmp_path, [Finding("ML701", "m", "nb.ipynb", 5)])
    assert (result.added, result.unplaced, result.refused) == (0, 1, []) and (tmp_path / "nb.ipynb").read_text() == text
