"""ML301 dead feature flags, ML302 constant conditions, ML303 commented-out code (via ruff)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from mlaudit.rules import deadcode
from tests.helpers import assert_markers, check, make_repo
from tests.helpers import run_rule as run

HYDRA_MAIN = "import hydra\n@hydra.main(config_path='conf', config_name='config', version_base='1.3')\ndef main(cfg):\n"


# --- ML301 -----------------------------------------------------------------------------------


def test_module_constant_flag_across_modules(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/flags.py": "USE_FUSED = False\n",
        "pkg/model.py": "from pkg.flags import USE_FUSED\ndef f(x):\n    if not USE_FUSED:  # expect: ML301\n"
                        "        return x\n    return x * 2\n",
    }
    assert_markers(tmp_path, files, "ML301")


def test_one_finding_per_flag_with_the_other_tests_related(tmp_path: Path) -> None:
    files = {
        "train.py": "USE_EMA = False\ndef step(m):\n    if USE_EMA:\n        m.ema()\n"
                    "def save(m):\n    if USE_EMA:\n        m.save_ema()\n    if not USE_EMA:\n        m.save()\n",
        "conf/config.yaml": "defaults:\n  - _self_\nuse_amp: false\n",
        "main.py": HYDRA_MAIN + "    if cfg.use_amp:\n        print(1)\n    if cfg.use_amp:\n        print(2)\n",
    }
    found = [f for f in check(make_repo(tmp_path / "r", files), select=["ML301"]).findings]
    assert [(f.path, f.line, [(r.path, r.line) for r in f.related]) for f in found] == [
        ("main.py", 4, [("main.py", 6)]),
        ("train.py", 3, [("train.py", 6), ("train.py", 8)]),
    ]
    assert "this test and the 2 other(s) listed" in found[1].message


@pytest.mark.parametrize("comment", ['#@param {type:"boolean"}', '# @param {type:"boolean"}', "#@param"])
def test_notebook_form_field_is_a_user_input(tmp_path: Path, comment: str) -> None:
    # wandb-examples colabs: `use_wandb = True  #@param {type:"boolean"}` is a checkbox in Colab.
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": [f"USE_WANDB = True  {comment}\n", "if USE_WANDB:\n", "    import wandb\n"]}
    notebook = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})
    assert run(tmp_path, {"train.ipynb": notebook, "t.py": "X = True\nif X:\n    print(1)\n"}, "ML301") == {
        ("t.py", 2, "ML301")}


def test_hydra_flag_same_in_every_file(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "defaults:\n  - model: a\nmodel_flag_note: 1\n",
        "conf/model/a.yaml": "fused: false\n",
        "conf/model/b.yaml": "fused: false\n",
        "train.py": HYDRA_MAIN + "    print(cfg.model_flag_note)\n    if cfg.model.fused:  # expect: ML301\n"
                    "        print('fused')\n",
    }
    assert_markers(tmp_path, files, "ML301")


@pytest.mark.parametrize(
    "files",
    [
        # Another group option sets it the other way.
        {"conf/config.yaml": "defaults:\n  - model: a\n", "conf/model/a.yaml": "fused: false\n",
         "conf/model/b.yaml": "fused: true\n", "train.py": HYDRA_MAIN + "    if cfg.model.fused:\n        pass\n"},
        # Code writes the key (tests flipping it count).
        {"conf/config.yaml": "fast: false\n", "train.py": HYDRA_MAIN + "    if cfg.fast:\n        pass\n",
         "tests/test_x.py": "def test(cfg_train):\n    cfg_train.fast = True\n"},
        # The value flows into a call, not only a condition.
        {"conf/config.yaml": "fast: false\n", "train.py": HYDRA_MAIN + "    if cfg.fast:\n        pass\n    run(cfg.fast)\n"},
        # A documented command-line switch.
        {"conf/config.yaml": "# set False to skip training\ntrain: true\n",
         "train.py": HYDRA_MAIN + "    if cfg.get('train'):\n        pass\n"},
        # nanoGPT: globals overridden through an exec'd configurator.
        {"train.py": "compile = True\nexec(open('configurator.py').read())\nif compile:\n    pass\n"},
        # A test module's constant.
        {"tests/test_a.py": "SLOW = False\ndef test():\n    if SLOW:\n        pass\n"},
        # A dataclass default and an argparse flag are overridable from the command line.
        {"train.py": "import argparse\np = argparse.ArgumentParser()\np.add_argument('--amp', action='store_true')\n"
                     "args = p.parse_args()\nif args.amp:\n    pass\n"},
    ],
)
def test_live_flags_are_silent(tmp_path: Path, files: Mapping[str, str]) -> None:
    assert run(tmp_path, files, "ML301") == set()


# --- ML302 -----------------------------------------------------------------------------------


def test_constant_conditions(tmp_path: Path) -> None:
    files = {
        "a.py": "import sys\nif None:  # expect: ML302\n    pass\nif not False:  # expect: ML302\n    pass\n"
                "x = 1 if 0 else 2  # expect: ML302\nif sys.argv or True:  # expect: ML302\n    pass\n"
                "while 1:\n    break\nif TYPE_CHECKING := False:\n    pass\n",
    }
    assert_markers(tmp_path, files, "ML302")


# --- ML303 -----------------------------------------------------------------------------------


def test_commented_out_code_is_grouped_into_blocks(tmp_path: Path) -> None:
    files = {
        "a.py": "x = 1\n# y = x + 1\n# print(y)\n\n# The next line sets up logging.\n"
                "z = 2\n# z = z * 3  # expect: ML303\n",
        "b.py": "# A plain comment about the model.\nw = 0\n",
    }
    found = run(tmp_path, files, "ML303")
    assert found == {("a.py", 2, "ML303"), ("a.py", 7, "ML303")}


def test_ruff_missing_is_a_clear_notification(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def missing() -> str:
        raise FileNotFoundError("no ruff here")

    import ruff.__main__

    monkeypatch.setattr(ruff.__main__, "find_ruff_bin", missing)
    result = check(make_repo(tmp_path / "repo", {"a.py": "# x = 1\n"}), select=["ML303"])
    assert result.findings == [] and result.exit_code == 0
    assert any("ML303 needs the ruff binary" in n for n in result.warnings)


def test_blocks() -> None:
    assert deadcode._blocks([1, 2, 3, 7, 9, 10]) == [(1, 3), (7, 7), (9, 10)]


DATACLASS = (
    "from dataclasses import dataclass\n@dataclass\nclass TrainConfig:\n    lr: float = 0.1\n"
    "    use_old_attention: bool = False\n"
)


def test_dataclass_flag_never_set(tmp_path: Path) -> None:
    files = {
        "config.py": DATACLASS,
        "train.py": "from config import TrainConfig\ndef main(cfg: TrainConfig) -> None:\n"
                    "    if cfg.use_old_attention:  # expect: ML301\n        print('old')\n"
                    "main(TrainConfig())\n",
    }
    assert_markers(tmp_path, files, "ML301")


@pytest.mark.parametrize(
    "extra",
    [
        "cfg = TrainConfig(use_old_attention=True)\n",  # set by a caller
        "from transformers import HfArgumentParser\np = HfArgumentParser(TrainConfig)\n",  # a CLI parser
        "import tyro\ncfg = tyro.cli(TrainConfig)\n",
        "cfg = TrainConfig(**{'lr': 0.2})\n",  # built from a mapping we cannot see
        "def f(cfg):\n    cfg.use_old_attention = True\n",  # assigned
        "def g(cfg):\n    return cfg.use_old_attention\n",  # the value flows out
    ],
)
def test_dataclass_flag_settable_is_silent(tmp_path: Path, extra: str) -> None:
    files = {
        "config.py": DATACLASS,
        "train.py": "from config import TrainConfig\ndef main(cfg: TrainConfig) -> None:\n"
                    "    if cfg.use_old_attention:\n        print('old')\n" + extra,
    }
    assert run(tmp_path, files, "ML301") == set()


def test_unrelated_attribute_with_the_field_name_is_silent(tmp_path: Path) -> None:
    files = {
        "config.py": DATACLASS,
        "model.py": "class Net:\n    def __init__(self, use_old_attention):\n"
                    "        self.use_old_attention = use_old_attention\n"
                    "    def forward(self, x):\n        if self.use_old_attention:\n            return x\n        return x\n",
    }
    assert run(tmp_path, files, "ML301") == set()


def test_ruff_walks_the_root_when_the_file_list_is_too_long(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlaudit.facts import external

    monkeypatch.setattr(external, "MAX_ARGUMENT_CHARS", 1)
    files = {"a.py": "x = 1\n# y = x + 1\n", "build/gen.py": "# z = 2\n", ".gitignore": "build/\n"}
    assert run(tmp_path, files, "ML303") == {("a.py", 2, "ML303")}


def test_constant_set_from_a_script_sibling_is_silent(tmp_path: Path) -> None:
    files = {
        "examples/flags.py": "DEBUG = False\ndef run():\n    if DEBUG:\n        print('debug')\n",
        "examples/main.py": "import flags\nflags.DEBUG = True\nflags.run()\n",
    }
    assert run(tmp_path, files, "ML301") == set()


def test_commented_code_rows_are_cached_and_ruff_is_not_run_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlaudit.engine import CheckOptions, check_paths
    from mlaudit.facts import external

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n# y = x + 1\n# print(y)\n"})
    first = check_paths([repo], CheckOptions(select=["ML303"]))
    calls: list[object] = []
    monkeypatch.setattr(external, "_start_ruff", lambda *args: calls.append(args))
    second = check_paths([repo], CheckOptions(select=["ML303"]))
    assert [(f.path, f.line, f.end_line) for f in second.findings] == [(f.path, f.line, f.end_line) for f in first.findings] == [("a.py", 2, 3)]
    assert calls == []


def test_without_ruff_the_run_warns_and_goes_on(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlaudit.engine import CheckOptions, check_paths
    from mlaudit.facts import external

    def unavailable(*args: object) -> list[dict[str, object]]:
        raise external.RuffUnavailable("ML303 needs the ruff binary")

    monkeypatch.setattr(external, "_start_ruff", unavailable)
    repo = make_repo(tmp_path / "r", {"a.py": "import torch\ntorch.backends.cudnn.benchmark = True\n# y = 1\n"})
    run = check_paths([repo], CheckOptions(use_cache=False))
    assert run.exit_code == 1 and run.execution_successful
    assert [f.code for f in run.findings] == ["ML103"]
    assert any("ML303" in w for w in run.warnings)
