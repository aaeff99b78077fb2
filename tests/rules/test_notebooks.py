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
    v4 = notebook([("code", 2, ["a = 1\n"]), ("markdown", None, ["text\n"]), ("code", 1, ["b = a\n"])])
    v3 = notebook([("code", 5, ["a = 1\n"]), ("code", 3, ["b = a + 1\n"])], nbformat=3)
    # Counts restart at [1] and [2] is taken in the new session: cell 2 ran in an earlier one.
    restart = notebook([("code", 1, ["import os\n"]), ("code", 2, ["a = 1\n"]), ("code", 1, ["b = a\n"]),
                        ("code", 2, ["c = b\n"])])
    ordered = notebook([("code", 1, ["a = 1\n"]), ("code", None, ["b = 2\n"]), ("code", 7, ["c = a\n"])])
    empty_cell = notebook([("code", 1, ["a = 1\n"]), ("code", 9, []), ("code", 2, ["c = a\n"])])
    repo = make_repo(tmp_path / "r", {"a.ipynb": v4, "b.ipynb": v3, "c.ipynb": ordered, "d.ipynb": empty_cell,
                                          "e.ipynb": restart})
    run = check(repo, select=["ML702"])
    assert located(run) == {("a.ipynb", json_line(v4, '"b = a'), "ML702"), ("b.ipynb", json_line(v3, '"b = a'), "ML702"),
                            ("e.ipynb", json_line(restart, '"b = a'), "ML702")}
    messages = {f.path: f.message for f in run.findings}
    assert messages["a.ipynb"].startswith("cell 3 ran as [1] before cell 1 above it ran as [2], which defines `a`")
    assert messages["e.ipynb"].startswith(
        "cell 3 ran as [1] in a new kernel session, but reads `a`, which only cell 2 (run as [2] in an earlier "
        "session) defines")
    assert messages["b.ipynb"].startswith("cell 2 ran as [3] before cell 1 above it ran as [5], which defines `a`")


def test_out_of_order_reports_only_what_changes_a_result(tmp_path: Path) -> None:
    """Real notebooks (machine-learning-book, Hugging Face notebooks, flax docs): equal counts, a
    restart after installs, a stateless cell re-run, and a header from an earlier session are not
    reported; a re-run that feeds a cell below, a shell step run after the command that needs it,
    and a cell that used a value of a cell that shows no run are."""
    silent = {
        # flax nnx_basics: equal counts from a cell split after a top-to-bottom run.
        "split.ipynb": [("code", 1, ["import jax\n"]), ("code", 1, ["x = jax.numpy.ones(2)\n"]),
                        ("code", 3, ["y = x * 2\n"]), ("code", 3, ["print(y)\n"])],
        # latent_diffusion_upscaler: pip install, restart, then the code from [1] in order.
        "restart.ipynb": [("code", 1, ["!pip install diffusers==0.11.1\n"]),
                          ("code", 1, ["from diffusers import Pipeline\n", "pipe = Pipeline()\n"]),
                          ("code", 2, ["image = pipe('a cat')\n"])],
        # machine-learning-book ch13: an Image(...) display re-run at the end; insta_flow: a pip cell.
        "display.ipynb": [("code", 1, ["from IPython.display import Image\n"]),
                          ("code", 24, ["Image(filename='figures/13_07.png')\n"]),
                          ("code", 2, ["!pip install torch\n"]), ("code", 5, ["import torch\n"]),
                          ("code", 4, ["x = torch.ones(1)\n"])],
        # machine-learning-book ch14: the sys.path / check_packages header ran in an earlier session.
        "header.ipynb": [("code", 1, ["import sys\n", "sys.path.insert(0, '..')\n"]),
                         ("code", 2, ["from python_environment_check import check_packages\n",
                                      "d = {'torch': '1.8.0'}\n", "check_packages(d)\n"]),
                         ("code", 1, ["import torch\n"]), ("code", 4, ["t = torch.ones(2)\n"]),
                         ("code", 2, ["%watermark -p torch\n"])],
        # flax pytree guide: self-contained cells (each defines and uses its own classes) run in any order;
        # a loop that binds its name before using it reads nothing from the cell that also binds it.
        "selfcontained.ipynb": [("code", 19, ["class A:\n", "    def __init__(self):\n", "        self.k = 1\n", "a = A()\n"]),
                                ("code", 2, ["class B:\n", "    def __init__(self):\n", "        pass\n", "b = B()\n"]),
                                ("code", 9, ["for batch in loader:\n", "    pixel_values = batch['x']\n",
                                             "    out = f(pixel_values)\n"]),
                                ("code", 5, ["pixel_values = 1\n"])],
        # Display cells swapped: `df.describe()` and `df.head()` change nothing another cell reads.
        "frames.ipynb": [("code", 1, ["import pandas as pd\n", "df = pd.read_csv('train.tsv')\n"]),
                         ("code", 4, ["df.describe()\n"]), ("code", 2, ["df.head()\n"])],
        # machine-learning-book ch03: a self-contained plot cell re-run as [57].
        "plot.ipynb": [("code", 1, ["import numpy as np\n", "def sigmoid(z):\n", "    return 1 / (1 + np.exp(-z))\n"]),
                       ("code", 57, ["z = np.arange(-10, 10, 0.1)\n", "plt.plot(z, sigmoid(z))\n"]),
                       ("code", 22, ["class LogisticRegressionGD:\n", "    def predict(self, X):\n",
                                     "        z = X.sum()\n", "        return sigmoid(z)\n"])],
    }
    reported = {
        # stable_conceptualizer_inference: the pipeline ran as [9] before the cell above it reloaded `pipe`.
        "rerun.ipynb": ([("code", 1, ["pipe = load('a')\n"]), ("code", 12, ["pipe = load('b')\n"]),
                         ("code", 9, ["images = pipe('prompt')\n"])], '"images = pipe'),
        # SDXL_Dreambooth_LoRA_advanced_example: `accelerate config` ran after `accelerate launch`.
        "shell.ipynb": ([("code", 14, ["!accelerate config default\n"]), ("code", 3, ["name = 'x'\n"]),
                         ("code", 6, ["!accelerate launch train.py --output_dir=$name\n"])], '"!accelerate config'),
        # sagemaker 06: the clean-up cell ran as [12], before [14] above it, and uses `predictor`,
        # whose only definition shows no run.
        "unrun.ipynb": ([("code", 1, ["df = analytics()\n"]), ("code", 14, ["plot(df)\n"]),
                         ("code", None, ["predictor = estimator.deploy()\n"]),
                         ("code", 12, ["predictor.delete_endpoint()\n"])], '"predictor.delete_endpoint'),
    }
    files = {name: notebook(cells) for name, cells in silent.items()}
    files.update({name: notebook(cells) for name, (cells, _) in reported.items()})
    repo = make_repo(tmp_path / "r", files)
    run = check(repo, select=["ML702"])
    assert located(run) == {(name, json_line(files[name], needle), "ML702") for name, (_, needle) in reported.items()}
    messages = {f.path: f.message for f in run.findings}
    assert "which defines `pipe` that this cell reads" in messages["rerun.ipynb"]
    assert messages["shell.ipynb"].startswith("cell 1 ran as [14] and cell 3 ran as [6]: both run shell commands")
    assert "reads `predictor`, which only cell 3 above it defines, a cell with no saved run" in messages["unrun.ipynb"]


def test_uncommitted_notebook_is_not_judged(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": "print(1)\n"})
    write_tree(repo, {"wip.ipynb": notebook([("code", 3, ["a = 1\n"]), ("code", 1, ["b = 2\n"])])})
    assert located(check(repo, select=["ML702"])) == set()


def test_broken_notebook_is_ml001_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"bad.ipynb": '{"cells": [', "odd.ipynb": '{"nbformat": 4}'})
    run = check(repo, select=["ML001", "ML7"])
    assert {f.code for f in run.findings} == {"ML001"}
    assert {f.path for f in run.findings} == {"bad.ipynb", "odd.ipynb"}
