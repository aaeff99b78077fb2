"""IPython cell input read as IPython reads it: one test per construct, in the shapes real
notebooks use (flax, wandb examples, Hugging Face notebooks, machine-learning-book)."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import pytest

from mlaudit.files.ipython import transform_cell
from tests.helpers import check, make_repo


def python_of(cell: str) -> list[str]:
    lines = transform_cell(cell)
    assert len(lines) == len(cell.splitlines() or [""]), "line numbers must not move"
    ast.parse("\n".join(lines))  # the cell is now valid Python
    return lines


def test_shell_command_continued_with_backslashes() -> None:
    # wandb-examples colabs/torchtune: one command over three lines.
    cell = ("!tune download mistralai/Mistral-7B-v0.1 \\\n    --output-dir /tmp/Mistral-7B-v0.1/ \\\n"
            "    --hf-token <HF_TOKEN>\nprint('done')\n")
    lines = python_of(cell)
    assert lines[0].startswith("get_ipython().system('tune download mistralai/Mistral-7B-v0.1")
    assert "--hf-token <HF_TOKEN>" in lines[0]
    assert lines[1:3] == ["", ""] and lines[3] == "print('done')"


def test_magic_and_shell_lines_inside_indented_blocks() -> None:
    # flax examples/*.ipynb: `!cp` inside an `if`, `%pip` inside `try`.
    cell = ("import os\nif not os.path.isdir(root):\n    os.makedirs(root)\n    !cp -r flaxrepo/$d/* \"$root\"\n"
            "try:\n    import wandb\nexcept ImportError:\n    %pip install -q wandb\n")
    lines = python_of(cell)
    assert lines[3] == "    get_ipython().system('cp -r flaxrepo/$d/* \"$root\"')"
    assert lines[7] == "    get_ipython().run_line_magic('pip', 'install -q wandb')"


@pytest.mark.parametrize("magic", ["%%writefile train.py", "%%bash", "%%html", "%%sql", "%%javascript"])
def test_cell_magic_body_is_not_python(magic: str) -> None:
    cell = f"{magic}\nset -e\nimport torch; torch.load('x.pt')  <not python>\n"
    assert python_of(cell) == ["", "", ""]


@pytest.mark.parametrize("magic", ["%%capture", "%%time", "%%timeit -n 1", "%%capture out --no-stderr"])
def test_cell_magic_body_that_is_python_is_analysed(magic: str) -> None:
    cell = f"{magic}\n!pip install -q transformers\nimport torch\nmodel = torch.load('m.pt')\n"
    assert python_of(cell) == ["", "get_ipython().system('pip install -q transformers')", "import torch",
                               "model = torch.load('m.pt')"]


@pytest.mark.parametrize("line", ["pip install diffusers torch accelerate transformers", "cd data",
                                  "conda install -y pytorch -c pytorch", "ls -la", "ls", "pwd"])
def test_automagic_line(line: str) -> None:
    # notebooks diffusers/*.ipynb: a cell holding only `pip install ...`.
    lines = python_of(line + "\n")
    assert len(lines) == 1


def test_automagic_beside_a_comment() -> None:
    lines = python_of("# Install the requirements\npip install -q datasets\n")
    assert lines[1] == "get_ipython().run_line_magic('pip', 'install -q datasets')"


def test_a_name_that_is_also_a_magic_stays_python() -> None:
    # Only the cell's single line is automagic, and valid Python is never touched.
    cell = "env = make_env()\nrun = wandb.init()\nls = sorted(files)\n"
    assert python_of(cell) == cell.splitlines()


@pytest.mark.parametrize("cell", ["model?\n", "torch.load??\n", "?torch.nn.Linear\n", "x = 1\nnp.random.seed?\n"])
def test_help_lines(cell: str) -> None:
    lines = python_of(cell)
    assert "get_ipython().run_line_magic('pinfo" in lines[-1]


def test_question_mark_inside_a_string_or_comment_is_python() -> None:
    cell = 'print("ready?")\nx = 1  # why?\n'
    assert python_of(cell) == cell.splitlines()


def test_assignment_from_shell_and_magic() -> None:
    cell = "files = !ls data/*.csv\nt = %timeit -o model(x)\n"
    assert python_of(cell) == ["files = get_ipython().getoutput('ls data/*.csv')",
                               "t = get_ipython().run_line_magic('timeit', '-o model(x)')"]


def test_timing_magic_keeps_the_statement() -> None:
    # `%time trainer.train()` trains: the statement is analysed like any other.
    assert python_of("%time trainer.train()\n") == ["trainer.train()"]


def test_escape_characters_inside_strings_are_left_alone() -> None:
    cell = 'doc = """\n!important\n%d items\n"""\nargs = dict(\n    a=1,\n)\n'
    assert python_of(cell) == cell.splitlines()


def test_leading_indent_of_the_whole_cell_is_removed() -> None:
    # machine-learning-book ch02: ` Image(filename='./figures/02_04.png', width=600) `.
    assert python_of(" Image(filename='./figures/02_04.png', width=600) \n") == [
        "Image(filename='./figures/02_04.png', width=600) "]


def test_pasted_prompts_are_stripped() -> None:
    cell = ">>> from diffusers import DiffusionPipeline\n>>> pipe = DiffusionPipeline.from_pretrained('x')\n"
    assert python_of(cell)[1] == "pipe = DiffusionPipeline.from_pretrained('x')"
    assert python_of("In [1]: import torch\n   ...: x = torch.zeros(1)\n")[1] == "x = torch.zeros(1)"


def notebook(*sources: str) -> str:
    cells = [{"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
              "source": s.splitlines(keepends=True)} for s in sources]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": cells}, indent=1) + "\n"


def test_markdown_pasted_into_a_code_cell_is_reported_alone(tmp_path: Path) -> None:
    # wandb-examples colabs/paella: the notebook's title in a code cell.
    text = notebook(
        "!pip install -q torch\n",
        "# 🔥🔥 Image Inpainting with Paella + WandB Playground 🪄🐝\n\n<!--- @wandbcode{paella} -->\n\n"
        "A demo of Image Inpainting using [Paella](https://github.com/dome272/Paella).\n",
        "import yaml\ncfg = yaml.load(open('c.yaml'))\n",
    )
    repo = make_repo(tmp_path / "r", {"demo.ipynb": text})
    found = sorted((f.code, f.line) for f in check(repo).findings)
    lines = text.splitlines()
    bad_line = next(i for i, line in enumerate(lines, 1) if "<!---" in line)
    load_line = next(i for i, line in enumerate(lines, 1) if "yaml.load" in line)
    assert found == [("ML001", bad_line), ("ML602", load_line)]


def test_valid_ipython_notebook_has_no_ml001(tmp_path: Path) -> None:
    text = notebook("%%capture\n!pip install -q wandb\n", "pip install -q datasets\n", "cd data\n",
                    "import wandb\nif IN_COLAB:\n    !nvidia-smi\n    %env WANDB_SILENT=true\n", "wandb.init?\n",
                    "%%writefile train.py\nimport torch\nif x:\n", "out = !ls\n")
    repo = make_repo(tmp_path / "r", {"demo.ipynb": text})
    assert [f for f in check(repo).findings if f.code == "ML001"] == []
