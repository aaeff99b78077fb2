"""ML201-ML204 and the config index, in each config style: Hydra (groups, experiments, packages,
interpolations, _target_), OmegaConf.load of a plain YAML, DVC params, argparse, dataclasses,
click, Lightning `self.hparams`, HF TrainingArguments."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from mlaudit.analyse import analyse_all
from mlaudit.analysis.config_index import build
from mlaudit.engine import CheckOptions, build_settings, discover
from mlaudit.project.model import ProjectModel
from tests.helpers import assert_markers, check, expected_markers, located, make_repo
from tests.helpers import run_rule as run

CODES = ["ML201", "ML202", "ML203", "ML204", "ML301", "ML302", "ML303"]

HYDRA_MAIN = "import hydra\n@hydra.main(config_path='conf', config_name='config', version_base='1.3')\ndef main(cfg):\n"


# --- the index ---------------------------------------------------------------------------------


def _index(tmp_path: Path, files: Mapping[str, str]):  # type: ignore[no-untyped-def]
    root = make_repo(tmp_path / "idx", files)
    settings = build_settings(root, CheckOptions(use_cache=False))
    found, git = discover(root, settings)
    results, _ = analyse_all(list(found.values()), settings, None, 1)
    return build(ProjectModel(root, found, {r.facts.path: r.facts for r in results}, git, settings))


def test_index_places_group_files_under_their_package(tmp_path: Path) -> None:
    index = _index(tmp_path, {
        "conf/config.yaml": "defaults:\n  - model: small\nseed: 1\n",
        "conf/model/small.yaml": "width: 64\n",
        "conf/experiment/x.yaml": "# @package _global_\nmodel:\n  width: 128\n",
        "conf/optim/custom.yaml": "# @package trainer.optim\nlr: 0.1\n",
        "train.py": HYDRA_MAIN + "    print(cfg.seed)\n",
    })
    ns = index.namespaces["hydra:conf"]
    assert [(d.file, d.line, d.value) for d in ns.keys[("model", "width")]] == [
        ("conf/experiment/x.yaml", 3, 128), ("conf/model/small.yaml", 1, 64)]
    assert ("trainer", "optim", "lr") in ns.keys
    assert ("model",) in ns.groups
    assert [r.chain for _, r in ns.reads] == [("seed",)]


def test_index_reads_dvc_params_and_loaded_yaml(tmp_path: Path) -> None:
    index = _index(tmp_path, {
        "params.yaml": "train:\n  lr: 0.1\n",
        "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    params:\n      - train.lr\n",
        "train.py": "from omegaconf import OmegaConf\nc = OmegaConf.load('conf/c.yaml')\nprint(c.a.b)\n",
        "conf/c.yaml": "a:\n  b: 1\n",
    })
    assert index.namespaces["file:params.yaml"].references == {("train", "lr")}
    assert [r.chain for _, r in index.namespaces["file:conf/c.yaml"].reads] == [("a", "b")]


# --- ML201 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "import torch\nopt = torch.optim.SGD([], lr=0.1, momentum=0.9)  # expect: ML201, ML201\n",
        "import torch\nsched = torch.optim.lr_scheduler.StepLR(None, 30, 0.1)  # expect: ML201, ML201\n",
        "import torch\nBATCH = 128\nloader = torch.utils.data.DataLoader([], BATCH)  # expect: ML201\n",
        "def train(model):\n    n_steps = 500\n    for step in range(n_steps):  # expect: ML201\n        model.train_step()\n",
        "import torch\ndef make(params, momentum):\n    return torch.optim.SGD(params, lr=momentum, betas=(momentum, 0.999))  # expect: ML201\n",
        "import torch.nn.functional as F\ndef f(x):\n    return F.dropout(x, 0.2)  # expect: ML201\n",
    ],
)
def test_hardcoded_hyperparameters(tmp_path: Path, source: str) -> None:
    files = {"train.py": source}
    found = run(tmp_path, files, "ML201")
    assert {(p, line) for p, line, _ in found} == {(p, line) for p, line, _ in expected_markers(files)}


@pytest.mark.parametrize(
    "files",
    [
        # argparse, click and HF TrainingArguments from the command line.
        {"train.py": "import argparse, torch\np = argparse.ArgumentParser()\np.add_argument('--lr', default=0.1)\n"
                     "a = p.parse_args()\nopt = torch.optim.SGD([], lr=a.lr)\n"},
        {"train.py": "import click, torch\n@click.command()\n@click.option('--lr', default=0.1)\ndef main(lr):\n"
                     "    torch.optim.SGD([], lr=lr)\n"},
        {"train.py": "from transformers import HfArgumentParser, TrainingArguments\n"
                     "(args,) = HfArgumentParser(TrainingArguments).parse_args_into_dataclasses()\n"
                     "print(args.learning_rate)\n"},
        # Lightning: hyperparameters from self.hparams.
        {"model.py": "import torch, lightning as L\nclass M(L.LightningModule):\n    def __init__(self, lr=1e-3):\n"
                     "        super().__init__()\n        self.save_hyperparameters()\n"
                     "    def configure_optimizers(self):\n        return torch.optim.Adam(self.parameters(), lr=self.hparams.lr)\n"},
        # A name rebound in a loop is not a constant.
        {"train.py": "import torch\nlr = 0.1\nfor lr in [0.1, 0.01]:\n    torch.optim.SGD([], lr=lr)\n"},
        # Not training code.
        {"setup.py": "import torch\ntorch.optim.SGD([], lr=0.1)\n"},
        {"docs/example.py": "import torch\ntorch.optim.SGD([], lr=0.1)\n"},
        {"conftest.py": "import torch\ntorch.optim.SGD([], lr=0.1)\n"},
        # A loop over something that is not an epoch/step counter.
        {"train.py": "for layer in range(12):\n    pass\n"},
        # Run-config objects: their arguments are the run's config (class 5 of issue #14).
        {"train.py": "from transformers import TrainingArguments\nargs = TrainingArguments('out', learning_rate=5e-5)\n"},
        {"train.py": "import lightning as L\ntrainer = L.Trainer(max_epochs=20)\n"},
        {"train.py": "import pytorch_lightning as pl\nEPOCHS = 5\ntrainer = pl.Trainer(max_epochs=EPOCHS)\n"
                     "for epoch in range(EPOCHS):\n    trainer.fit(model)\n"},
        {"train.py": "from trl import DPOConfig\nargs = DPOConfig(output_dir='o', beta=0.1, learning_rate=5e-7)\n"},
        # A metrics simulation for a tracker demo: no training in the loop.
        {"train.py": "import math, wandb\nwandb.init(config={'epochs': 10})\nfor epoch in range(10):\n"
                     "    wandb.log({'loss': math.exp(-epoch)})\n"},
    ],
)
def test_hyperparameters_from_config_are_silent(tmp_path: Path, files: Mapping[str, str]) -> None:
    assert run(tmp_path, files, "ML201") == set()


def test_extend_sinks_option(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": "[tool.mlaudit.options.ML201]\nextend-sinks = {'mylib.Lion' = ['lr']}\n",
        "train.py": "from mylib import Lion\nopt = Lion([], lr=1e-4)  # expect: ML201\n",
    }
    assert_markers(tmp_path, files, "ML201")


# --- ML202 -----------------------------------------------------------------------------------


def test_undeclared_key_in_hydra_group(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "defaults:\n  - model: small\n  - _self_\nseed: 1\n",
        "conf/model/small.yaml": "width: 64\n",
        "conf/model/big.yaml": "width: 256\nheads: 8\n",
        "conf/experiment/x.yaml": "# @package _global_\nextra_flag: true\n",
        "train.py": HYDRA_MAIN + "    print(cfg.model.heads, cfg.extra_flag)\n"
                    "    print(cfg.model.dropout)  # expect: ML202\n    print(cfg['sed'])  # expect: ML202\n",
    }
    assert_markers(tmp_path, files, "ML202")


def test_undeclared_key_follows_compose_and_aliases(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "data:\n  batch_size: 8\n",
        "run.py": "from hydra import compose, initialize\nwith initialize(config_path='conf', version_base=None):\n"
                  "    cfg = compose(config_name='config')\ndata = cfg.data\nprint(data.batch_size)\n"
                  "print(cfg.data.workers)  # expect: ML202\n",
    }
    assert_markers(tmp_path, files, "ML202")


@pytest.mark.parametrize(
    "files",
    [
        # Read with .get / OmegaConf.select: optional by design.
        {"conf/config.yaml": "a: 1\n", "train.py": "from omegaconf import OmegaConf\n" + HYDRA_MAIN
         + "    print(cfg.get('b'), OmegaConf.select(cfg, 'c.d'))\n"},
        # Dynamic key: quiet.
        {"conf/config.yaml": "a: 1\n", "train.py": HYDRA_MAIN + "    k = 'a'\n    print(cfg[k].x)\n"},
        # Structured configs registered in code define keys we do not see.
        {"conf/config.yaml": "a: 1\n", "train.py": "from hydra.core.config_store import ConfigStore\n"
         "cs = ConfigStore.instance()\n" + HYDRA_MAIN + "    print(cfg.schema_key)\n"},
        # A helper receiving a cfg subtree: ambiguous, never undeclared.
        {"conf/config.yaml": "a: 1\n", "util.py": "def f(cfg):\n    return cfg.whatever\n"},
        # An interpolated or missing node can hold anything.
        {"conf/config.yaml": "model: ???\nopt: ${model}\n", "train.py": HYDRA_MAIN + "    print(cfg.model.x, cfg.opt.y)\n"},
    ],
)
def test_undeclared_key_negatives(tmp_path: Path, files: Mapping[str, str]) -> None:
    assert run(tmp_path, files, "ML202") == set()


def test_undeclared_key_in_omegaconf_load(tmp_path: Path) -> None:
    files = {
        "config.yaml": "model:\n  width: 64\n",
        "train.py": "from omegaconf import OmegaConf\ncfg = OmegaConf.load('config.yaml')\nprint(cfg.model.width)\n"
                    "print(cfg.model.depth)  # expect: ML202\n",
    }
    assert_markers(tmp_path, files, "ML202")


# --- ML203 -----------------------------------------------------------------------------------


def test_unused_keys_hydra_semantics(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "defaults:\n  - model: small\n  - optim: adam\n  - _self_\nseed: 1\n"
                            "name: run-${optim.lr}\nstale: 3  # expect: ML203\nhydra:\n  job:\n    chdir: true\n",
        "conf/model/small.yaml": "_target_: pkg.Net\nwidth: 64\n",
        "conf/optim/adam.yaml": "lr: 0.1\nbetas: [0.9, 0.99]\nold_eps: 1e-8  # expect: ML203\n",
        "conf/experiment/x.yaml": "# @package _global_\noptim:\n  lr: 0.2\n",
        "conf/data/mnist.yaml": "loader:\n  batch_size: 32\n  workers: 2\n",
        "train.py": "from hydra.utils import instantiate\n" + HYDRA_MAIN
        + "    print(cfg.seed, cfg.name, cfg.optim.betas)\n    net = instantiate(cfg.model)\n"
          "    dl = dict(**cfg.data.loader)\n",
    }
    assert_markers(tmp_path, files, "ML203")


def test_unused_keys_quiet_when_config_passed_whole(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "a: 1\nb: 2\n",
        "train.py": "import wandb\nfrom omegaconf import OmegaConf\n" + HYDRA_MAIN
        + "    wandb.config.update(OmegaConf.to_container(cfg))\n",
    }
    assert run(tmp_path, files, "ML203") == set()


def test_unused_keys_ambiguous_helper_reads_count(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "trainer:\n  epochs: 3\n  clip: 1.0\n",
        "train.py": "from util import fit\n" + HYDRA_MAIN + "    fit(cfg.trainer)\n",
        "util.py": "def fit(trainer_cfg):\n    print(trainer_cfg.epochs)\n",
    }
    assert run(tmp_path, files, "ML203") == set()


def test_unused_dvc_params(tmp_path: Path) -> None:
    files = {
        "params.yaml": "prepare:\n  split: 0.2\n  seed: 1\ntrain:\n  n_est: 50\n  legacy: 3  # expect: ML203\n",
        "dvc.yaml": "stages:\n  prepare:\n    cmd: python prepare.py\n    params:\n      - prepare.seed\n",
        "prepare.py": "import yaml\nparams = yaml.safe_load(open('params.yaml'))['prepare']\nprint(params['split'])\n",
        "train.py": "import yaml\nwith open('params.yaml') as f:\n    p = yaml.safe_load(f)\nprint(p['train']['n_est'])\n",
    }
    assert_markers(tmp_path, files, "ML203")


def test_plain_yaml_not_loaded_by_code_is_not_checked(tmp_path: Path) -> None:
    files = {"settings/other.yaml": "a: 1\n", "train.py": "print(1)\n"}
    assert run(tmp_path, files, "ML203") == set()


# --- ML204 -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fires"),
    [
        ("import wandb\nwandb.init(project='p')\n", True),
        ("import wandb\nwandb.init(project='p', config=vars(args))\n", False),
        ("import wandb\nrun = wandb.init()\nrun.config.update({'lr': 1})\n", False),
        ("import wandb\nwandb.init()\nwandb.config.lr = 0.1\n", False),
        ("import comet_ml\nexp = comet_ml.Experiment()\n", True),
        ("import comet_ml\nexp = comet_ml.Experiment()\nexp.log_parameters({'lr': 1})\n", False),
        ("import neptune\nrun = neptune.init_run()\n", True),
        ("from torch.utils.tensorboard import SummaryWriter\nw = SummaryWriter()\nw.add_hparams({}, {})\n", False),
    ],
)
def test_untracked_run_config(tmp_path: Path, source: str, fires: bool) -> None:
    assert bool(run(tmp_path, {"train.py": source}, "ML204")) is fires


def test_index_lists_options_defined_in_code(tmp_path: Path) -> None:
    index = _index(tmp_path, {
        "cli.py": "import argparse, click, typer\nfrom dataclasses import dataclass\n"
                  "p = argparse.ArgumentParser()\np.add_argument('--batch-size', type=int, default=64)\n"
                  "p.add_argument('--amp', action='store_true')\n"
                  "@click.command()\n@click.option('--lr', default=0.1)\n@click.option('--fast', is_flag=True)\n"
                  "def c(lr, fast):\n    pass\n"
                  "def t(epochs: int = typer.Option(10)):\n    pass\n"
                  "@dataclass\nclass Cfg:\n    dropout: float = 0.1\n",
    })
    found = {(o.kind, o.name, o.default) for _, o in index.options}
    assert found == {("argparse", "batch_size", 64), ("argparse", "amp", False), ("click", "lr", 0.1),
                     ("click", "fast", False), ("typer", "epochs", 10), ("dataclass", "dropout", 0.1)}


def test_lightning_hparams_reads_count_for_unused_keys(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "defaults:\n  - model: net\n  - _self_\nseed: 1\n",
        "conf/model/net.yaml": "lr: 0.1\nwidth: 8\n",
        "train.py": HYDRA_MAIN + "    print(cfg.seed)\n    m = Model(**cfg.model)\n",
        "model.py": "import lightning as L\nclass Model(L.LightningModule):\n"
                    "    def __init__(self, lr, width):\n        super().__init__()\n        self.save_hyperparameters()\n"
                    "    def f(self):\n        return self.hparams.lr * self.hparams.width\n",
    }
    assert run(tmp_path, files, "ML203") == set()
    assert run(tmp_path, files, "ML202") == set()


def test_defaults_list_package_override(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "defaults:\n  - model@net: small\n  - _self_\n",
        "conf/model/small.yaml": "width: 64\nunused_depth: 2  # expect: ML203\n",
        "train.py": HYDRA_MAIN + "    print(cfg.net.width)\n    print(cfg.net.heads)  # expect: ML202\n",
    }
    assert_markers(tmp_path, files, "ML202")
    assert_markers(tmp_path, files, "ML203")


def test_undeclared_only_when_no_reachable_config_defines_it(tmp_path: Path) -> None:
    files = {
        "a/config.yaml": "only_a: 1\n",
        "b/config.yaml": "only_b: 2\n",
        "run.py": "from hydra import compose, initialize\n"
                  "with initialize(config_path='a', version_base=None):\n    pass\n"
                  "with initialize(config_path='b', version_base=None):\n    cfg = compose(config_name='config')\n"
                  "print(cfg.only_a, cfg.only_b)\nprint(cfg.neither)  # expect: ML202\n",
    }
    assert_markers(tmp_path, files, "ML202")


def test_parameter_annotated_dictconfig_reads_count(tmp_path: Path) -> None:
    files = {
        "conf/config.yaml": "trainer:\n  epochs: 3\n  clip: 1.0\n",
        "train.py": "from omegaconf import DictConfig\nfrom util import fit\n" + HYDRA_MAIN + "    fit(cfg.trainer)\n",
        "util.py": "from omegaconf import DictConfig\ndef fit(t: DictConfig):\n    print(t.epochs, t.clip)\n",
    }
    index = _index(tmp_path, files)
    assert {r.chain for _, r in index.ambiguous} == {("epochs",), ("clip",)}


def test_hardcoded_hyperparameter_in_a_notebook_points_at_its_line(tmp_path: Path) -> None:
    import json

    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [],
            "source": ["import torch\n", "opt = torch.optim.SGD([], lr=0.1)\n"]}
    notebook = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
    text = json.dumps(notebook, indent=1)
    line = next(i for i, t in enumerate(text.splitlines(), 1) if "lr=0.1" in t)
    assert run(tmp_path, {"train.ipynb": text}, "ML201") == {("train.ipynb", line, "ML201")}


def test_unused_key_in_omegaconf_loaded_yaml(tmp_path: Path) -> None:
    files = {
        "configs/exp.yaml": "model:\n  width: 64\n  dropout: 0.1  # expect: ML203\ndata:\n  path: x\n",
        "train.py": "from omegaconf import OmegaConf\ncfg = OmegaConf.load('configs/exp.yaml')\n"
                    "print(cfg.model.width)\nload(**cfg.data)\n",
    }
    assert_markers(tmp_path, files, "ML203")


@pytest.mark.parametrize(
    "helper",
    [
        "def build(params):\n    return Model(**params)\n",  # splatted in the helper
        "def build(d):\n    return Model(d)\n",  # a parameter name we do not recognise
        "def build(params):\n    return inner(params)\ndef inner(cfg_x):\n    return dict(cfg_x)\n",  # handed on
    ],
)
def test_root_handed_to_a_helper_that_consumes_it(tmp_path: Path, helper: str) -> None:
    files = {
        "params.yaml": "a: 1\nb: 2\n",
        "dvc.yaml": "stages:\n  s:\n    cmd: python train.py\n",
        "helpers.py": "from model import Model\n" + helper,
        "train.py": "import yaml\nfrom helpers import build\nbuild(yaml.safe_load(open('params.yaml')))\n",
    }
    assert run(tmp_path, files, "ML203") == set()


def test_root_handed_to_a_helper_that_reads_keys(tmp_path: Path) -> None:
    files = {
        "params.yaml": "a: 1\nb: 2  # expect: ML203\n",
        "dvc.yaml": "stages:\n  s:\n    cmd: python train.py\n",
        "helpers.py": "def build(params):\n    return params['a']\n",
        "train.py": "import yaml\nfrom helpers import build\nbuild(yaml.safe_load(open('params.yaml')))\n",
    }
    assert_markers(tmp_path, files, "ML203")


def test_odd_inputs_never_break_the_index(tmp_path: Path) -> None:
    files = {
        "conf/empty.yaml": "",
        "conf/list.yaml": "- a\n- b\n",
        "conf/g/odd.yaml": "1: x\nnull: y\n'a.b': 3\n",
        "conf/g/pk.yaml": "# @package _group_\nx: ${oc.env:HOME}\ny: ${..x}\nz: ${.x}\n",
        "conf/config.yaml": "defaults:\n  - g: odd\n  - /g@: pk\n  - optional g@a.b: pk\n  - 3\n  - {}\nkey: ${}\n",
        "dvc.yaml": "stages: [1, 2]\n",
        "t.py": "import hydra, yaml\nfrom hydra import compose, initialize\nfrom omegaconf import OmegaConf\n"
                "@hydra.main()\ndef a(cfg):\n    print(cfg.x[0].y, cfg[0], cfg[None], cfg[1:2])\n"
                "@hydra.main(config_path='/abs', config_name=None)\ndef b(cfg):\n"
                "    print(cfg.get(), getattr(cfg), OmegaConf.select(cfg))\n"
                "@hydra.main(config_path='conf')\ndef c(cfg, *args, **kw):\n    cfg.a.b = 1\n    del cfg.x\n"
                "    cfg.k += 1\n    print(cfg['a.b'])\nwith initialize():\n    d = compose()\n"
                "p = OmegaConf.load(path)\nq = yaml.safe_load()\nr = yaml.safe_load(open())\n"
                "f = lambda cfg: cfg.a\n",
    }
    result = check(make_repo(tmp_path / "repo", files), select=CODES)
    assert result.notifications == []
    assert located(result, "ML202") == set()
