"""The config listeners: each collects its own kind of fact, and a listener that leaves handlers
out of a file by its text (`for_file`) loses nothing the full listener would have found."""

from __future__ import annotations

import ast
from typing import Any

from mlaudit.engine.per_file import _extractor
from mlaudit.facts.config import EXTRACTORS
from mlaudit.facts.config.flags import FlagFacts
from mlaudit.facts.config.options import ConfigOptions, DataclassFields, OptionFacts
from mlaudit.facts.config.reads import ConfigReadFacts
from mlaudit.facts.config.trackers import TrackerConfig, TrackerFacts, TrackerStores
from mlaudit.facts.walk import PyContext, module_level_names, walk


def _facts(source: str, module: str = "train") -> dict[type, Any]:
    tree = ast.parse(source)
    ctx = PyContext(f"{module}.py", module, False, source, module_defs=module_level_names(tree))
    listeners = [_extractor(cls, ctx) for cls in EXTRACTORS]
    walk(tree, ctx, listeners)
    assert not ctx.errors
    return {type(found): found for found in (listener.facts(ctx) for listener in listeners)}


def _reads(source: str) -> list[tuple[str, tuple[str, ...], str | None]]:
    facts = _facts(source)[ConfigReadFacts]
    return [(r.root, r.chain, r.passed_to) for r in facts.reads]


def test_reads_from_a_hydra_root_an_alias_and_a_config_like_name() -> None:
    source = (
        "import hydra\nfrom hydra.utils import instantiate\n"
        "@hydra.main(config_path='conf', config_name='c')\n"
        "def main(trainer_spec):\n"
        "    model = trainer_spec.model\n"
        "    net = instantiate(model.net)\n"
        "    lr = getattr(args, 'lr', 0.1)\n"
        "    return self.hparams.batch_size\n"
    )
    # `model = trainer_spec.model` binds an alias: its own read is the one through `model`.
    root = "hydra:train.py:main"
    assert _reads(source) == [
        (root, ("model", "net"), "hydra.utils.instantiate"),
        ("", ("lr",), "builtins.getattr"),
        ("", ("batch_size",), None),
    ]
    apps = _facts(source)[ConfigReadFacts].hydra_apps
    assert [(a.config_path, a.config_name, a.function, a.decorator) for a in apps] == [("conf", "c", "main", True)]


def test_most_names_are_no_root() -> None:
    source = "import torch\ndef f(x, model):\n    y = model.layer(x).weight\n    return torch.nn.functional.relu(y)\n"
    assert _reads(source) == []


def test_a_splatted_config_and_a_loaded_file() -> None:
    source = "import yaml\ncfg = yaml.safe_load(open('conf/c.yaml'))\nModel(**cfg['model'])\n"
    facts = _facts(source)[ConfigReadFacts]
    assert facts.loaded_files == (("conf/c.yaml", 2),)
    assert [(r.root, r.chain, r.passed_to) for r in facts.reads] == [("file:conf/c.yaml", ("model",), "**")]


def test_flags_constants_and_their_uses() -> None:
    source = (
        "USE_OLD = False\nDEBUG = True\n"
        "def f(x: 'Cfg'):\n    if USE_OLD:\n        return 1\n    if DEBUG:\n        print(DEBUG)\n"
        "    if x.use_amp:\n        return Cfg(lr=1)\n"
    )
    flags: FlagFacts = _facts(source)[FlagFacts]
    assert [(c.name, c.value) for c in flags.bool_constants] == [("train.USE_OLD", False), ("train.DEBUG", True)]
    assert [t.name for t in flags.flag_tests] == ["train.USE_OLD", "train.DEBUG"]
    assert "train.DEBUG" in flags.non_flag_uses and "train.USE_OLD" not in flags.non_flag_uses
    assert [t.name for t in flags.attribute_tests] == ["use_amp"]
    assert "use_amp" not in flags.attribute_uses
    assert "Cfg" in flags.constructed and "print" in flags.constructed


def test_a_file_without_command_line_options_still_lists_its_dataclass_fields() -> None:
    source = "from dataclasses import dataclass\n@dataclass\nclass Cfg:\n    use_amp: bool = False\n"
    tree = ast.parse(source)
    ctx = PyContext("c.py", "c", False, source, module_defs=module_level_names(tree))
    assert type(ConfigOptions.for_file(ctx)) is DataclassFields
    options = _facts(source, "c")[OptionFacts].options
    assert [(o.kind, o.name, o.default, o.owner) for o in options] == [("dataclass", "use_amp", False, "c.Cfg")]


def test_command_line_options_however_click_is_imported() -> None:
    source = (
        "import os, click\nimport argparse\n"
        "@click.option('--lr', default=0.1)\ndef main(lr):\n    pass\n"
        "p = argparse.ArgumentParser()\np.add_argument('--amp', action='store_true')\n"
    )
    options = _facts(source)[OptionFacts].options
    assert [(o.kind, o.name, o.default) for o in options] == [("click", "lr", 0.1), ("argparse", "amp", False)]


def test_a_sweep_agent_is_seen_only_where_the_file_names_one() -> None:
    source = "import wandb\ndef train():\n    wandb.config.lr = 0.1\nwandb.agent('id', function=train)\n"
    facts = _facts(source)[TrackerFacts]
    assert facts.sweep_functions == ("train",) and facts.config_stores == 1
    tree = ast.parse("import wandb\nwandb.config.lr = 0.1\n")
    ctx = PyContext("t.py", "t", False, "import wandb\nwandb.config.lr = 0.1\n", module_defs=module_level_names(tree))
    assert type(TrackerConfig.for_file(ctx)) is TrackerStores
