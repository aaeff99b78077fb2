"""ML301 dead feature flags, ML302 constant conditions, ML303 commented-out code."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

import pytest

from mlaudit.facts.comments import CodeBlock, commented_code
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


@pytest.mark.parametrize("comment", ['#@param {type:"boolean"}', '# @param {type:"boolean"}', "#@param", ""])
def test_notebook_form_field_is_a_user_input(tmp_path: Path, comment: str) -> None:
    # wandb-examples colabs: `use_wandb = True  #@param {type:"boolean"}` is a checkbox in Colab.
    cell = {"cell_type": "code", "metadata": {}, "execution_count": None, "outputs": [],
            "source": [f"USE_WANDB = True  {comment}\n", "if USE_WANDB:\n", "    import wandb\n"]}
    notebook = json.dumps({"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [cell]})
    assert run(tmp_path, {"train.ipynb": notebook, "t.py": "X = True\nif X:\n    print(1)\n"}, "ML301") == {
        ("t.py", 2, "ML301")}


def test_dataclass_of_a_package_is_public_api(tmp_path: Path) -> None:
    # accelerate's TorchTensorParallelConfig, litgpt's EvalArgs: users and CLIs set the fields.
    files = {
        "pkg/__init__.py": "",
        "pkg/config.py": DATACLASS,
        "pkg/train.py": "from pkg.config import TrainConfig\ndef main(cfg: TrainConfig) -> None:\n"
                        "    if cfg.use_old_attention:\n        print('old')\n",
    }
    assert run(tmp_path, files, "ML301") == set()


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


def test_one_finding_spans_a_long_block(tmp_path: Path) -> None:
    # One 27-line commented block used to give 9 findings.
    body = "".join(f"#     x{i} = layer{i}(x{i - 1})\n" for i in range(1, 26))
    text = "import torch\n# def forward(self, x0):\n" + body + "#     return x25\ny = 1\n"
    (finding,) = check(make_repo(tmp_path / "r", {"model.py": text}), select=["ML303"]).findings
    assert (finding.line, finding.end_line, finding.end_col) == (2, 28, len("#     return x25") + 1)
    assert "lines 2-28" in finding.message


@pytest.mark.parametrize("comment", [
    "# equation (88)",
    "# Eq. (3) of the paper",
    "# import packages",
    "# torch.nn.functional.gelu(x)",
    "# Training",
    "# Then we compute the loss.",
    "# https://github.com/pytorch/pytorch/issues/1",
    "# type: ignore[attr-defined]",
    "# noqa: E501",
    "# pragma: no cover",
    "# mlaudit: ignore[ML101]",
    "# fmt: off",
    "# if needed:",
    "# else:",
    "# see model.py:42",
    "# 0.5 * (x - mu) ** 2 / sigma",
    "# pytype: disable=wrong-keyword-args",
    "# pyformat: disable",
    "# locations: [R*K, 2]",
    "# x.shape = [batch_size, n_ctx, transformer.width]",
    "# assert speeds",
    "# logger=False",
    "# n=batch, h=grid_height, w=grid_width",
    "# pad_token_id = 151643; eos_token_id = 151645",
])
def test_prose_that_parses_is_not_code(comment: str) -> None:
    assert commented_code(["x = 1", comment, "y = 2"]) == []


@pytest.mark.parametrize(("lines", "span"), [
    (["# model = Net()"], (1, 1)),
    (["# import wandb"], (1, 1)),
    (["# model.eval()", "# print(evaluate(model))"], (1, 2)),
    (["# Uncomment to use EMA:", "# ema = EMA(model, decay=0.999)"], (2, 2)),
    (["# trainer = Trainer(", "#     max_epochs=10,", "#     devices=2,", "# )"], (1, 4)),
    (["# for batch in loader:", "#     loss = model(batch)"], (1, 2)),
    (["# if args.amp:", "#     scaler = GradScaler()", "# else:", "#     scaler = None"], (1, 4)),
])
def test_code_blocks(lines: list[str], span: tuple[int, int]) -> None:
    (block,) = commented_code(lines)
    assert (block.start, block.end) == span


@pytest.mark.parametrize("lines", [
    # timm: a formula explained by the line above it.
    ["# The hidden_features of SwiGLU is calculated by:", "# hidden_features = (int(h * 2 / 3) + 7) // 8 * 8"],
    # sphinx-quickstart's conf.py.
    ["# You can specify multiple suffix as a list of string:", "#", "# source_suffix = ['.rst', '.md']"],
    # trl tests/conftest.py: an example of the setting.
    ["# Pin model revisions here.", "# Example:", "#   MODEL_REVISIONS = {", '#       "tiny-Qwen2": "refs/pr/3",', "#   }"],
    # PEP 723 inline script metadata (trl examples/scripts).
    ["# /// script", "# dependencies = [", '#     "trl[peft]",', '#     "trackio",', "# ]", "# ///"],
])
def test_documentation_blocks_are_not_code(lines: list[str]) -> None:
    assert commented_code(lines) == []


def test_name_value_inside_brackets_is_a_commented_out_argument(tmp_path: Path) -> None:
    text = "import torch\nx = dict(\n    a=1,\n    # log_with='wandb',\n)\n\n# logger=False\ny = 1\n"
    found = check(make_repo(tmp_path / "r", {"a.py": text}), select=["ML303"]).findings
    assert [(f.line, f.end_line) for f in found] == [(4, 4)]


def test_commented_argument_with_a_url() -> None:
    # timm's default configs: `# url='https://...'` inside `_cfg(...)`.
    lines = ["# url='https://github.com/x/y/releases/download/v1/w.pth',"]
    assert commented_code(lines, bracketed=[1]) == [CodeBlock(1, 1)]


def test_explained_by_a_where_line_is_documentation() -> None:
    lines = ["# at index `i` contains [row, col], where", "# row = i // grid_size", "# col = i % grid_size"]
    assert commented_code(lines) == []


def test_reference_formula_above_the_line_that_computes_it() -> None:
    # litgpt's unsloth swiglu kernel.
    lines = ["    # h = f * g", "    h_row = f_row * g_row", "    # y = x + 1", "    z = x + 1",
             "    # e = e.float()", "    # se = 1.0 / (1.0 + torch.exp(-e))", "    se_row = tl.sigmoid(e_row)"]
    assert commented_code(lines) == [CodeBlock(3, 3)]


def test_license_header_shebang_and_strings_are_not_code() -> None:
    lines = ["#!/usr/bin/env python", "# -*- coding: utf-8 -*-", "# Copyright (c) Meta, Inc.",
             "# Licensed under the MIT license: x = 1", "", 's = """', "# y = 2", '"""']
    assert commented_code(lines, skip=[7]) == []
    assert commented_code(lines) == [CodeBlock(7, 7)]


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
        # Built with keyword arguments (pytorch-examples tensor_parallelism: ModelArgs(dim=256, ...)):
        # the flag is one keyword away, as the spec's "never built with arguments" says.
        "cfg = TrainConfig(lr=0.2)\n",
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


def test_documented_switches_are_silent(tmp_path: Path) -> None:
    """A comment at the definition that documents the other value (litgpt's
    extensions/xla/finetune/adapter.py, pytorch-examples' llama2_model.py ModelArgs.depth_init)."""
    files = {
        "config.py": "from dataclasses import dataclass\n@dataclass\nclass TrainConfig:\n"
                     "    # If `True`, then each block init uses its layer ID, and if\n"
                     "    # `False`, each uses the total number of blocks\n    depth_init: bool = True\n",
        "train.py": "from config import TrainConfig\n"
                    "# the state of very large models will not fit on the system RAM, this flag can alleviate it\n"
                    "# by loading it on each rank sequentially\nreduce_cpu_memory_usage_during_load = False\n"
                    "def main(cfg: TrainConfig) -> None:\n    if cfg.depth_init:\n        print('layer id')\n"
                    "    if reduce_cpu_memory_usage_during_load:\n        print('sequential')\n"
                    "main(TrainConfig())\n",
    }
    assert run(tmp_path, files, "ML301") == set()


def test_comments_that_do_not_document_a_switch_keep_the_finding(tmp_path: Path) -> None:
    files = {
        "train.py": "# old attention path\nUSE_OLD = False\n\ndo_only_config = False  # see README\n"
                    "def main() -> None:\n    if USE_OLD:  # expect: ML301\n        print('old')\n"
                    "    if do_only_config:  # expect: ML301\n        print('config')\n",
    }
    assert_markers(tmp_path, files, "ML301")


def test_unrelated_attribute_with_the_field_name_is_silent(tmp_path: Path) -> None:
    files = {
        "config.py": DATACLASS,
        "model.py": "class Net:\n    def __init__(self, use_old_attention):\n"
                    "        self.use_old_attention = use_old_attention\n"
                    "    def forward(self, x):\n        if self.use_old_attention:\n            return x\n        return x\n",
    }
    assert run(tmp_path, files, "ML301") == set()


def test_constant_set_from_a_script_sibling_is_silent(tmp_path: Path) -> None:
    files = {
        "examples/flags.py": "DEBUG = False\ndef run():\n    if DEBUG:\n        print('debug')\n",
        "examples/main.py": "import flags\nflags.DEBUG = True\nflags.run()\n",
    }
    assert run(tmp_path, files, "ML301") == set()
