"""Valid samples of every file kind mlaudit reads, the starting points for mutation.

Each kind names where its files go in a throwaway repository (the name decides how mlaudit
classifies a file), its samples, tokens worth splicing in (the grammar's own punctuation and
keywords, which find more than random bytes), and a reference parser: when the reference rejects a
mutated file, mlaudit must report ML001 on it.
"""

from __future__ import annotations

import ast
import json
from collections.abc import Callable
from dataclasses import dataclass

import tomllib
import yaml


@dataclass(frozen=True)
class FileKind:
    name: str
    path: str  # "{d}" becomes "" for the first file of a run and "f3/" for the fourth; "{i}" the number
    samples: tuple[str, ...]
    tokens: tuple[str, ...]
    reference: Callable[[str], object] | None = None  # raises on a broken file


def _yaml(text: str) -> object:
    # The loader mlaudit uses: libyaml and pure-Python PyYAML disagree on tabs in a few places,
    # which is not what this harness looks for.
    return list(yaml.compose_all(text, Loader=getattr(yaml, "CSafeLoader", yaml.SafeLoader)))


def _notebook(cells: list[str], nbformat: int = 4) -> str:
    if nbformat == 3:
        ws = [{"cells": [{"cell_type": "code", "input": c, "prompt_number": i} for i, c in enumerate(cells, 1)]}]
        return json.dumps({"nbformat": 3, "nbformat_minor": 0, "metadata": {}, "worksheets": ws}, indent=1)
    raw = [{"cell_type": "code", "execution_count": i, "metadata": {}, "outputs": [], "source": c.splitlines(True)}
           for i, c in enumerate(cells, 1)]
    return json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": raw}, indent=1)


TRAIN = """import argparse
import random

import numpy as np
import torch
from torch.utils.data import DataLoader


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--lr", type=float, default=3e-4)
    args = parser.parse_args()
    seed_everything(0)
    model = torch.nn.Linear(4, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=args.lr, weight_decay=0.1)
    loader = DataLoader(range(10), batch_size=2, shuffle=True, num_workers=2)
    for step, batch in enumerate(loader):
        loss = model(torch.randn(2, 4)).sum()
        loss.backward()
        opt.step()
    torch.save(model.state_dict(), "model.pt")
    # x = torch.load("model.pt")
    state = torch.load("model.pt")
    print(step, state)


if __name__ == "__main__":
    main()
"""

KINDS: tuple[FileKind, ...] = (
    FileKind("python", "{d}train.py", (
        TRAIN,
        "import yaml\nwith open('c.yaml') as f:\n    cfg = yaml.load(f)\nclass A:\n    def f(self, *a, **k):\n"
        "        return [x async for x in a] if k else {k: v for k, v in k.items()}\n",
        "import hydra\n@hydra.main(config_path='conf', config_name='config')\ndef main(cfg):\n"
        "    import torch\n    torch.backends.cudnn.benchmark = True\n    lambda x=1, *, y: (x, y)\n",
    ), ("(", ")", "[", "]", "{", "}", ":", "\n    ", "lambda ", "def f(", "import torch\n", "from . import ", "a+",
        "f'{", "'''", "\\", "@", "async ", "yield", "global x\n", " if 1 else ", "*", "**", "# noqa: ML101\n",
        "torch.manual_seed(", "random.random()", "if __name__ == '__main__':\n    ", "1" * 5000), ast.parse),
    FileKind("notebook", "{d}nb.ipynb", (
        _notebook(["import torch\ntorch.manual_seed(0)\n", "%matplotlib inline\n!pip install x\nx = torch.rand(3)\n",
                   "%%time\nfor i in range(3):\n    print(i)\n"]),
        _notebook(["import random\nprint(random.random())\n"], nbformat=3),
    ), ('"cells"', '"worksheets"', '"nbformat": 3', '"nbformat": 4', '"source"', '"input"', "[", "]", "{", "}",
        "null", "3", '"', "\\n", "\\u0000", "\\ud800", "1" * 5000, "[" * 120, "%%", "!"), json.loads),
    FileKind("yaml", "{d}conf/config.yaml", (
        "defaults:\n  - model: resnet\n  - _self_\nseed: 42\ntrainer:\n  max_epochs: 10\n  lr: 3.0e-4\n"
        "data: &d\n  path: data/train.csv\n  batch_size: 32\nval:\n  <<: *d\n  path: data/val.csv\n",
        "--- !!map\na: !!str 1\nb: [1, 2, {c: d}]\nwhen: 2023-02-28\nt: 2001-12-14t21:59:43.10-05:00\n...\n---\n- x\n",
    ), (":", "- ", "&a ", "*a", "<<: ", "!!int ", "!!float ", "!!binary ", "!!timestamp ", "!!set ", "!!omap ",
        "2023-02-29", "{", "}", "[", "]", "? ", "|\n", ">\n", "---\n", "\t", "%YAML 1.1\n", "1" * 5000, "0x", "1e400"),
     _yaml),
    FileKind("workflow", ".github/workflows/ci{i}.yml", (
        "name: ci\non: [push]\njobs:\n  test:\n    runs-on: ubuntu-latest\n    steps:\n      - uses: actions/checkout@v4\n"
        "      - run: pip install -r requirements.txt && pytest\n",
    ), ("on: ", "date: 2023-02-29\n", "!!int abc", ": ", "- ", "{", "[", "&x ", "*x"), _yaml),
    FileKind("toml", "{d}conf/settings.toml", (
        "title = 'x'\n[model]\nlr = 3e-4\nlayers = [1, 2, 3]\nwhen = 1979-05-27T07:32:00Z\n[[runs]]\nseed = 1\n"
        "[a.b.c]\nd = {e = 1, f = [true, false]}\n",
    ), ("[", "]", "[[", "]]", "=", "{", "}", ".", '"""', "'''", "1979-05-27", "inf", "nan", "0x", "1" * 5000,
        "a = " + "[" * 600, "[" + ".".join(["a"] * 300) + "]\n", "\\u"), tomllib.loads),
    FileKind("pyproject", "{d}pyproject.toml", (
        "[build-system]\nrequires = ['hatchling']\n[project]\nname = 'demo'\nversion = '0.1'\n"
        "dependencies = ['torch>=2.1', 'numpy==1.26.*', 'pyyaml; python_version >= \"3.8\"']\n"
        "[project.optional-dependencies]\ndev = ['pytest']\n[tool.poetry.dependencies]\npython = '^3.10'\n",
    ), ("[", "]", "=", "'", '"', "dependencies = ", "[tool.mlaudit]\n", "requires-python = ", ">=", ";", "@", "1" * 5000),
     tomllib.loads),
    FileKind("json", "{d}Pipfile.lock", (
        json.dumps({"_meta": {"hash": {"sha256": "ab"}, "requires": {"python_version": "3.11"}},
                    "default": {"torch": {"version": "==2.1.0", "hashes": ["sha256:00"]}}, "develop": {}}, indent=4),
    ), ("{", "}", "[", "]", '"version": ', "null", "1" * 5000, "[" * 150, '"', "\\ud800"), json.loads),
    FileKind("requirements", "{d}requirements.txt", (
        "torch==2.1.0\nnumpy>=1.24,<2\n-r base.txt\n-e git+https://github.com/x/y.git#egg=y\n--index-url https://x\n"
        "pyyaml ; python_version >= '3.8'\nscikit-learn[all]==1.3 \\\n    --hash=sha256:00\n",
    ), ("==", ">=", "~=", "[", "]", ";", "\\\n", "-r ", "-c ", "-e ", "@ ", "#", "--hash=", " ", "\t", "\r"), None),
    FileKind("dvc-yaml", "{d}dvc.yaml", (
        "stages:\n  prepare:\n    cmd: python prepare.py\n    deps:\n    - data/raw\n    params:\n    - prepare.seed\n"
        "    outs:\n    - data/prepared\n  train:\n    foreach: [a, b]\n    do:\n      cmd: python train.py ${item}\n"
        "      outs:\n      - model_${item}.pkl:\n          cache: false\nmetrics:\n- eval/metrics.json\n"
        "plots:\n- eval/plots.csv:\n    x: step\n    y: {eval/a.csv: acc}\n",
    ), ("outs: 3\n", "deps: ", "- ", ":", "stages: ", "wdir: ", "{", "[", "${", "foreach: ", "do: ", "null"), _yaml),
    FileKind("dvc-file", "{d}data.dvc", (
        "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 1\n  path: data.csv\n",
    ), ("outs: ", "- ", "path: ", "md5: ", "wdir: ", "3", "{", "[", ":"), _yaml),
    FileKind("dvc-lock", "{d}dvc.lock", (
        "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    deps:\n    - path: train.py\n      md5: ab\n"
        "    outs:\n    - path: model.pkl\n      md5: cd\n      size: 3\n",
    ), ("outs: 3\n", "outs: ", "- ", "path: ", "stages: ", "{", "[", ":", "@"), _yaml),
    FileKind("gitignore", "{d}.gitignore", (
        "*.pyc\n/data/\n!data/keep.csv\n**/checkpoints/\n\\#notacomment\n[abc].txt\n",
    ), ("\\", "!", "*", "**", "/", "[", "]", "[z-a]", "?", "#", " ", "\\ "), None),
    FileKind("setup-cfg", "{d}setup.cfg", (
        "[metadata]\nname = demo\n[options]\ninstall_requires =\n    torch>=2.1\n    numpy\npython_requires = >=3.9\n"
        "[options.extras_require]\ndev = pytest\n",
    ), ("[", "]", "=", "\n    ", "\\", "%(", ")s", "install_requires = ", ";", "#"), None),
    FileKind("environment", "{d}environment.yml", (
        "name: demo\nchannels:\n  - pytorch\ndependencies:\n  - python=3.11\n  - pytorch=2.1\n  - pip:\n    - -r requirements.txt\n"
        "    - numpy==1.26\n",
    ), ("- ", "pip:", ":", "=", "{", "[", "&a ", "*a", "!!int "), _yaml),
    FileKind("setup-py", "{d}setup.py", (
        "from setuptools import setup\nsetup(name='demo', install_requires=['torch>=2.1', 'numpy'], "
        "extras_require={'dev': ['pytest']})\n",
    ), ("(", ")", "[", "]", "'", ",", "install_requires=", "*", "**", "1" * 5000), ast.parse),
)
