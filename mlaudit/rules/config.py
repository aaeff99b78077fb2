"""ML2xx: configuration and hyperparameters.

ML201 runs during the walk of each file (so its sink table can be extended through options);
ML202-ML204 are project rules over the config index (`mlaudit.analysis.config_index`).
"""

from __future__ import annotations

import ast
import operator
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from mlaudit.analysis.config_index import Chain, ConfigIndex, Namespace, config_index, is_training_path
from mlaudit.facts.config.reads import ConfigRead
from mlaudit.facts.config.trackers import TrackerFacts
from mlaudit.facts.python import CallFact, ModuleFacts
from mlaudit.facts.walk import PyContext
from mlaudit.findings import Finding, Level
from mlaudit.knowledge.config import (
    EVALUATION_NAME,
    EVALUATION_ONLY_PARAMS,
    EXEC_CALLS,
    HYPERPARAMETER_SINKS,
    LOOP_VARIABLE,
    NOT_SINKS,
    RUN_CONFIG_LOGGERS,
    RUN_CONFIG_OBJECTS,
    RUN_CONFIG_PREFIX_SUFFIX,
    TRAINING_CALL,
    is_config_name,
)
from mlaudit.project.model import ProjectModel
from mlaudit.rules.base import ProjectRule, PythonRule

SinkTable = dict[str, tuple[tuple[str, ...], dict[int, str]]]


def _extend_sinks(table: SinkTable, extra: Any) -> SinkTable:
    """`extend-sinks = {"mylib.Opt" = ["lr", "eps"]}` or `{"mylib.Opt" = {keywords=[...], positional={"1"="lr"}}}`."""
    merged = dict(table)
    if not isinstance(extra, Mapping):
        return merged
    for callee, spec in extra.items():
        if isinstance(spec, Mapping):
            keywords = tuple(str(k) for k in spec.get("keywords", ()))
            positional = {int(i): str(n) for i, n in dict(spec.get("positional", {})).items()}
        else:
            keywords, positional = tuple(str(k) for k in spec or ()), {}
        merged[str(callee)] = (keywords, positional)
    return merged


class HardcodedHyperparameter(PythonRule):
    code = "ML201"
    # Measured at 0.38 on the round-3 validation corpus: opt-in until it reaches 0.95 (rules/ML201.md).
    opt_in = True
    name = "hardcoded-hyperparameter"
    summary = "A hyperparameter is a literal in training code instead of coming from the config"
    tags = ("reproducibility", "configuration")
    precision = "medium"
    defaults = {"extend-sinks": {}}
    valid = (
        # From argparse.
        "import argparse, torch\np = argparse.ArgumentParser()\np.add_argument('--lr', type=float, default=0.01)\n"
        "args = p.parse_args()\nopt = torch.optim.SGD([], lr=args.lr)\n",
        # From a Hydra config.
        "import hydra, torch\n@hydra.main(config_path='conf', config_name='c')\ndef main(cfg):\n"
        "    opt = torch.optim.Adam([], lr=cfg.optim.lr, weight_decay=cfg.optim.wd)\n",
        # A function parameter default is a config default.
        "import torch\ndef make(params, lr=1e-3):\n    return torch.optim.Adam(params, lr=lr)\n",
        # A dataclass config field default.
        "import torch\nfrom dataclasses import dataclass\n@dataclass\nclass Cfg:\n    lr: float = 3e-4\n"
        "def make(params, cfg: Cfg):\n    return torch.optim.AdamW(params, lr=cfg.lr)\n",
        # Structural 0/1 values, and loops that are not epoch/step loops.
        "import torch\nopt = torch.optim.SGD([], lr=0.1 * 0 + 0, momentum=0)\nfor i in range(10):\n    pass\n",
        # Tests may hardcode anything.
        {"tests/test_train.py": "import torch\nopt = torch.optim.SGD([], lr=0.1)\n"},
        # nanoGPT style: module globals overridden by an exec'd configurator are config.
        "import torch\nlearning_rate = 6e-4\nexec(open('configurator.py').read())\n"
        "opt = torch.optim.AdamW([], lr=learning_rate)\n",
        # Literals given to a run-config object are the run's config: it logs them.
        "from transformers import TrainingArguments\nargs = TrainingArguments('out', learning_rate=2e-5, "
        "num_train_epochs=3, per_device_train_batch_size=16)\n",
        "from trl import SFTConfig\nconfig = SFTConfig(output_dir='out', learning_rate=1e-5, max_steps=500)\n",
        "import lightning as L\ntrainer = L.Trainer(max_epochs=20, gradient_clip_val=0.5)\n",
        # A constant logged in the tracker's config dict is logged wherever it is used.
        "import torch, wandb\nlr = 1e-3\nwandb.init(project='p', config={'lr': lr})\n"
        "opt = torch.optim.Adam([], lr=lr)\n",
        "import torch, wandb\nbatch_size = 64\nhparams = dict(batch_size=batch_size)\nwandb.init(config=hparams)\n"
        "loader = torch.utils.data.DataLoader([], batch_size=batch_size)\n",
        # The batch size of an evaluation loader sets its speed, not the result.
        "import torch\nEVAL_BATCH_SIZE = 32\ntest_loader = torch.utils.data.DataLoader([], batch_size=1000)\n"
        "eval_dataloader = torch.utils.data.DataLoader([], batch_size=EVAL_BATCH_SIZE)\n"
        "def eval_split(ds):\n    loader = torch.utils.data.DataLoader(ds, batch_size=100)\n",
        # A benchmark harness fixes its values on purpose.
        {"benchmarks/fp8/utils.py": "import torch\nopt = torch.optim.AdamW([], lr=1e-4)\n"},
        # A notebook's constants cell is its parameters cell.
        {"train.ipynb": '{"cells": [{"cell_type": "code", "metadata": {}, "source": ["batch_size = 32\\n"], '
         '"outputs": [], "execution_count": null}, {"cell_type": "code", "metadata": {}, "source": '
         '["import torch\\n", "loader = torch.utils.data.DataLoader([], batch_size=batch_size)\\n"], '
         '"outputs": [], "execution_count": null}], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}'},
        # A loop that only simulates metrics for a logging demo is not a training loop.
        "import random, wandb\nfor epoch in range(1000):\n    wandb.log({'acc': 1 - 2 ** -epoch - random.random() / 10})\n",
    )
    invalid = (
        "import torch\nopt = torch.optim.Adam([], lr=1e-3)  # expect: ML201\n",
        "from torch import optim\nopt = optim.SGD([], 0.1, momentum=0.9)  # expect: ML201\n",
        "import torch\nLR = 3e-4\nopt = torch.optim.AdamW([], lr=LR)  # expect: ML201\n",
        "from torch.utils.data import DataLoader\nloader = DataLoader([], batch_size=64)  # expect: ML201\n",
        "for epoch in range(100):  # expect: ML201\n    train_one_epoch(model)\n",
        # beta2 is a literal even though beta1 comes from a variable.
        "import torch\ndef make(params, momentum):\n"
        "    return torch.optim.Adam(params, lr=momentum, betas=(momentum, 0.999))  # expect: ML201\n",
        "import torch.nn as nn\ndrop = nn.Dropout(0.5)  # expect: ML201\n",
        "import torch\ndef train(model):\n    clip = 1.0\n"
        "    torch.nn.utils.clip_grad_norm_(model.parameters(), clip)  # expect: ML201\n",
    )

    def begin(self, ctx: PyContext) -> None:
        # A benchmark or profiling harness fixes its values on purpose, to compare like with like.
        self.active = is_training_path(ctx.path) and not _benchmark_path(ctx.path)
        self.tracker = SinkTracker(_extend_sinks(HYPERPARAMETER_SINKS, self.options.get("extend-sinks")))

    def visit_FunctionDef(self, node: ast.FunctionDef, ctx: PyContext) -> None:
        self.tracker.visit_FunctionDef(node, ctx)

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_Global(self, node: ast.Global, ctx: PyContext) -> None:
        self.tracker.visit_Global(node, ctx)

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        self.tracker.visit_Assign(node, ctx)

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: PyContext) -> None:
        self.tracker.visit_AnnAssign(node, ctx)

    def visit_AugAssign(self, node: ast.AugAssign, ctx: PyContext) -> None:
        self.tracker.visit_AugAssign(node, ctx)

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        self.tracker.visit_Call(node, ctx)

    def visit_For(self, node: ast.For, ctx: PyContext) -> None:
        self.tracker.visit_For(node, ctx)

    def end(self, ctx: PyContext) -> None:
        if not self.active or self.tracker.execs_config:
            return
        notebook = ctx.path.endswith(".ipynb")
        for sink, node in self.tracker.findings():
            if notebook and sink.via is not None:
                continue  # a notebook's constants cell is its parameters cell: the config
            target = "range()" if sink.sink == "range" else f"{sink.sink.rsplit('.', 1)[-1]}({sink.param}=...)"
            what = f"the {sink.param}" if sink.sink == "range" else target
            source = f"`{sink.value}`"
            if sink.via is not None:
                source = f"constant `{sink.via}` (line {sink.via_line})"
            ctx.report(self, node, f"Hyperparameter {source} is hardcoded in {what}; move it into the run's config "
                       "(YAML, argparse option or dataclass field) and read it from there.")


# --- ML202 / ML203 -----------------------------------------------------------------------------


BENCHMARK_PARTS = ("bench", "profil")


def _benchmark_path(path: str) -> bool:
    """`benchmarks/fp8/utils.py`, `bench_attention.py`, `profiler_example.py`."""
    *folders, name = path.lower().split("/")
    return any(part in name for part in BENCHMARK_PARTS) or any(
        folder.startswith(BENCHMARK_PARTS) for folder in folders)


def _finding(rule: ProjectRule, path: str, line: int, col: int, message: str, *,
             end_line: int | None = None, end_col: int | None = None, level: Level | None = None,
             related: tuple[str, ...] = ()) -> Finding:
    return Finding(
        code=rule.code, message=message, path=path, line=line, col=col,
        end_line=end_line or line, end_col=end_col or col + 1, level=level or rule.level,
        related_paths=related,
    )


def _ns_label(ns: Namespace) -> str:
    if ns.kind == "hydra":
        directory = ns.name.split(":", 1)[1]
        return f"the Hydra configs in {directory or '.'}/"
    return ns.name.split(":", 1)[1]


# --- ML201: hyperparameter sinks, tracked during the walk -------------------------------------
# The tables (sinks, trackers, evaluation-only parameters) are data in mlaudit.knowledge.config.


@dataclass(frozen=True)
class SinkLiteral:
    sink: str  # callee qualified name or "range"
    param: str
    value: str  # the literal as written
    line: int
    col: int
    end_line: int
    end_col: int
    via: str | None  # the constant's name when the literal flows through one
    via_line: int | None



def _number(node: ast.AST) -> Any:
    """The numeric literal value of `node` (also `-x`, `1e-3`, `(0.9, 0.999)`), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        return -inner if isinstance(node.op, ast.USub) and isinstance(inner, (int, float)) else inner
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Pow, ast.Div)):
        left, right = _number(node.left), _number(node.right)
        if isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return left  # `5 * 8`, `1e-3 / 2`: still literal; the exact value does not matter
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
        values = [_number(e) for e in node.elts]
        if all(isinstance(v, (int, float)) for v in values):
            return tuple(values)
    return None



def _trivial(value: Any) -> bool:
    """0 and the integer 1 are structural (no decay, one step, batch of one), not tuned values;
    a float such as `max_norm=1.0` is a choice."""
    if isinstance(value, tuple):
        return False
    return value == 0 or (isinstance(value, int) and value == 1)



def sink_spec(
    callee: str, table: dict[str, tuple[tuple[str, ...], dict[int, str]]]
) -> tuple[tuple[str, ...], dict[int, str]] | None:
    """The sink entry for a callee: an exact entry, else the longest matching prefix entry."""
    if callee in NOT_SINKS:
        return None
    if callee in table:
        return table[callee]
    # A prefix entry ("torch.optim.") covers the callees directly inside it, so the only entry
    # that can fit is the callee's own module part.
    cut = callee.rfind(".")
    return table.get(callee[: cut + 1]) if cut >= 0 else None


class SinkTracker:
    """ML201's tracking: finds numeric literals passed to hyperparameter sinks, directly or through a name bound once
    to a literal (a module-level constant or a simple local assignment). ML201 drives it during
    the walk with its own sink table, so users can extend the table through rule options."""

    def __init__(self, table: dict[str, tuple[tuple[str, ...], dict[int, str]]]) -> None:
        self.table = table
        self.sinks: list[tuple[SinkLiteral, ast.AST]] = []  # with the node, for reporting
        self.params: dict[str, set[str]] = {}
        self.literals: dict[str, dict[str, tuple[Any, int, int]]] = {}  # scope -> name -> (value, line, count)
        self.rebound: set[str] = set()  # module names rebound through `global`
        self.execs_config = False
        self.logged: set[str] = set()  # names given to a run-config object or a logged config dict
        self.targets: dict[int, str] = {}  # id of an assigned call -> the name it is assigned to
        self.dicts: dict[str, set[str]] = {}  # dict variable -> names among its values

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> None:
        args = node.args
        scope = ".".join([*ctx.scope, node.name])
        self.params[scope] = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
        if args.vararg:
            self.params[scope].add(args.vararg.arg)
        if args.kwarg:
            self.params[scope].add(args.kwarg.arg)

    def visit_Global(self, node: ast.Global, ctx: PyContext) -> None:
        self.rebound.update(node.names)

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        single = len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        for target in node.targets:
            for name in _bound_names(target):
                self._bind(name, node.value if single else None, node.lineno, ctx)
        if single and isinstance(node.value, ast.Call):
            self.targets[id(node.value)] = node.targets[0].id  # type: ignore[attr-defined]
        values = _dict_value_names(node.value)
        if values is not None and single:
            name = node.targets[0].id  # type: ignore[attr-defined]
            self.dicts[name] = values
            if is_config_name(name) or name.lower() in ("hparams", "hyperparameters"):
                self.logged |= values  # `config = dict(lr=lr)`: the run's config, logged with it

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: PyContext) -> None:
        if isinstance(node.target, ast.Name) and node.value is not None:
            self._bind(node.target.id, node.value, node.lineno, ctx)

    def visit_AugAssign(self, node: ast.AugAssign, ctx: PyContext) -> None:
        for name in _bound_names(node.target):
            self._bind(name, None, node.lineno, ctx)

    def _bind(self, name: str, value: ast.AST | None, line: int, ctx: PyContext) -> None:
        scope = self.literals.setdefault(ctx.function, {})
        previous = scope.get(name)
        count = (previous[2] if previous else 0) + 1
        scope[name] = (_number(value) if value is not None else None, line, count)

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        callee = ctx.qualname(node.func)
        if not callee:
            return
        if callee in EXEC_CALLS:
            self.execs_config = True
            return
        self._run_config(node, callee)
        spec = sink_spec(callee, self.table)
        if spec is None:
            return
        keywords, positions = spec
        # `eval_loader = DataLoader(ds, batch_size=64)`: the batch size of an evaluation loader.
        where = (self.targets.get(id(node), ""), ctx.function.rsplit(".", 1)[-1])  # the loader, or `def eval_split`
        skip = EVALUATION_ONLY_PARAMS.get(callee) if any(EVALUATION_NAME.search(w) for w in where) else None
        for index, arg in enumerate(node.args):
            if index in positions and positions[index] != skip and not self._evaluation_constant(callee, positions[index], arg):
                self._literal_at(callee, positions[index], arg, ctx)
        for keyword in node.keywords:
            if keyword.arg in keywords and keyword.arg != skip and not self._evaluation_constant(callee, keyword.arg, keyword.value):
                self._literal_at(callee, keyword.arg, keyword.value, ctx)

    @staticmethod
    def _evaluation_constant(callee: str, param: str, arg: ast.AST) -> bool:
        """`DataLoader(ds, batch_size=EVAL_BATCH_SIZE)`: an evaluation batch size, named so."""
        return (EVALUATION_ONLY_PARAMS.get(callee) == param and isinstance(arg, ast.Name)
                and EVALUATION_NAME.search(arg.id) is not None)

    def _run_config(self, node: ast.Call, callee: str) -> None:
        """Names given to a run-config object (`TrainingArguments(learning_rate=lr)`) or in a dict
        handed to a config logger (`wandb.init(config={"lr": lr})`) are logged config."""
        if is_run_config_object(callee):
            self.logged.update(a.id for a in (*node.args, *(k.value for k in node.keywords)) if isinstance(a, ast.Name))
            return
        if callee not in RUN_CONFIG_LOGGERS:
            return
        keyword = RUN_CONFIG_LOGGERS[callee]
        arg = next((k.value for k in node.keywords if k.arg == keyword), None) if keyword else (
            node.args[0] if node.args else None)
        if isinstance(arg, ast.Name):
            self.logged |= self.dicts.get(arg.id, set())
        elif arg is not None:
            self.logged |= _dict_value_names(arg) or set()

    def visit_For(self, node: ast.For, ctx: PyContext) -> None:
        for name in _bound_names(node.target):
            self._bind(name, None, node.lineno, ctx)
        if not (isinstance(node.target, ast.Name) and LOOP_VARIABLE.match(node.target.id)):
            return
        if not _calls_training(node.body):
            return  # a loop that only simulates metrics (a logging demo) is not a training loop
        call = node.iter
        if isinstance(call, ast.Call) and ctx.qualname(call.func) == "builtins.range" and call.args:
            bound = call.args[1] if len(call.args) >= 2 else call.args[0]
            self._literal_at("range", f"bound of the '{node.target.id}' loop", bound, ctx)

    def _literal_at(self, sink: str, param: str, arg: ast.AST, ctx: PyContext) -> None:
        if isinstance(arg, (ast.Tuple, ast.List)) and _number(arg) is None:
            for element in arg.elts:  # `betas=(momentum, 0.999)`: beta2 is still a literal
                if _number(element) is not None:
                    self._literal_at(sink, param, element, ctx)
            return
        value = _number(arg)
        via: str | None = None
        via_line: int | None = None
        if value is None and isinstance(arg, ast.Name):
            value, via_line = self._literal_name(arg.id, ctx)
            via = arg.id if value is not None else None
        if value is None or _trivial(value):
            return
        line, col, end_line, end_col = ctx.span(arg)
        text = ctx.segment(arg) or repr(value)
        self.sinks.append((SinkLiteral(sink, param, text, line, col, end_line, end_col, via, via_line), arg))

    def _literal_name(self, name: str, ctx: PyContext) -> tuple[Any, int | None]:
        """A name bound exactly once to a numeric literal, in this function or at module level.
        Only assignments seen so far count; a later rebinding is caught by `valid_at_end`."""
        if name in self.params.get(ctx.function, set()):
            return None, None
        if ctx.function:
            local = self.literals.get(ctx.function, {}).get(name)
            if local is not None:
                return (local[0], local[1]) if local[2] == 1 and local[0] is not None else (None, None)
        module = self.literals.get("", {}).get(name)
        if module is not None and module[0] is not None and name not in self.rebound:
            return module[0], module[1]
        return None, None

    def findings(self) -> list[tuple[SinkLiteral, ast.AST]]:
        """Sinks whose constant was never rebound later in the file (a loop or branch may change it)."""
        kept = []
        for sink, node in self.sinks:
            if sink.via is not None:
                counts = [scope[sink.via][2] for scope in self.literals.values() if sink.via in scope]
                if any(c > 1 for c in counts) or sink.via in self.rebound or sink.via in self.logged:
                    continue
            kept.append((sink, node))
        return kept


def is_run_config_object(callee: str) -> bool:
    return callee in RUN_CONFIG_OBJECTS or any(
        callee.startswith(prefix) and callee.endswith(suffix) for prefix, suffix in RUN_CONFIG_PREFIX_SUFFIX)


def _dict_value_names(value: ast.AST) -> set[str] | None:
    """Names among the values of a dict literal or `dict(...)` call, None when it is neither."""
    if isinstance(value, ast.Dict):
        return {v.id for v in value.values if isinstance(v, ast.Name)}
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict":
        return {k.value.id for k in value.keywords if isinstance(k.value, ast.Name)}
    return None


def _calls_training(body: list[ast.stmt]) -> bool:
    """Whether a loop body calls something named like training (see TRAINING_CALL)."""
    for statement in body:
        for sub in ast.walk(statement):
            if isinstance(sub, ast.Call):
                func = sub.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if TRAINING_CALL.search(name):
                    return True
    return False


def _bound_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for element in target.elts for n in _bound_names(element)]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    return []


class UndeclaredConfigKey(ProjectRule):
    code = "ML202"
    name = "undeclared-config-key"
    summary = "Code reads a config key that no config file defines"
    tags = ("reproducibility", "configuration")
    valid = (
        {
            "conf/config.yaml": "defaults:\n  - model: small\nseed: 1\n",
            "conf/model/small.yaml": "width: 64\n",
            "train.py": "import hydra\n@hydra.main(config_path='conf', config_name='config')\n"
                        "def main(cfg):\n    print(cfg.seed, cfg.model.width, cfg.get('extra'))\n",
        },
        # A key the code sets itself, and a node that is null in the config.
        {
            "conf/config.yaml": "logger: null\n",
            "train.py": "import hydra\n@hydra.main(config_path='conf', config_name='config')\n"
                        "def main(cfg):\n    cfg.tags = []\n    print(cfg.tags, cfg.logger.name)\n",
        },
        # argparse namespaces are not YAML configs.
        "import argparse\np = argparse.ArgumentParser()\nargs = p.parse_args()\nprint(args.undeclared)\n",
    )
    invalid = (
        {
            "conf/config.yaml": "defaults:\n  - model: small\nseed: 1\n",
            "conf/model/small.yaml": "width: 64\n",
            "train.py": "import hydra\n@hydra.main(config_path='conf', config_name='config')\n"
                        "def main(cfg):\n    print(cfg.model.depth)  # expect: ML202\n",
        },
        {
            "params.yaml": "train:\n  lr: 0.1\n",
            "train.py": "import yaml\nparams = yaml.safe_load(open('params.yaml'))['train']\n"
                        "print(params['epochs'])  # expect: ML202\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        index = config_index(model)
        # A read may reach several namespaces (two Hydra apps in one file): it is undeclared only
        # when none of them defines the key.
        places: dict[tuple[str, int, int, Chain], list[tuple[Namespace, Any]]] = {}
        for ns in index.namespaces.values():
            for path, read in ns.reads:
                places.setdefault((path, read.line, read.col, read.chain), []).append((ns, read))
        for (path, _, _, _), candidates in places.items():
            found = _missing_everywhere(index, candidates)
            if found is None:
                continue
            ns, read, missing = found
            yield _finding(
                self, path, read.line, read.col,
                f"`{read.text}` reads config key `{'.'.join(read.chain)}`, but no file in {_ns_label(ns)} "
                f"defines `{'.'.join(missing)}`; add it to the config or fix the key name.",
                end_line=read.end_line, end_col=read.end_col, related=tuple(ns.files[:1]),
            )


def _missing_everywhere(
    index: ConfigIndex, candidates: list[tuple[Namespace, Any]]
) -> tuple[Namespace, Any, Chain] | None:
    """(namespace, read, missing prefix) when no namespace the read may reach defines the key."""
    first: tuple[Namespace, Any, Chain] | None = None
    for ns, read in candidates:
        if ns.kind == "hydra" and index.uses_config_store:
            return None  # structured configs in code define keys we do not index
        missing = _undeclared(index, ns, read.chain) if _checkable(read) else None
        if missing is None:
            return None
        first = first or (ns, read, missing)
    return first


def _checkable(read: ConfigRead) -> bool:
    """Optional, computed and Hydra-internal reads, and keys with a dot in them, are not checked."""
    if not read.chain or read.optional or read.dynamic or read.chain[0] == "hydra":
        return False
    return not any("." in part for part in read.chain)


def _undeclared(index: ConfigIndex, ns: Namespace, chain: Chain) -> Chain | None:
    """The shortest missing prefix of `chain`, or None when defined or undecidable."""
    if index.written(chain):
        return None
    depth = len(chain)
    while depth > 0 and chain[:depth] not in ns.keys and chain[:depth] not in ns.groups:
        depth -= 1
    if depth == len(chain):
        return None
    parent = chain[:depth]
    if depth and any(not isinstance(k.value, dict) for k in ns.keys.get(parent, [])):
        return None  # null, ???, an interpolation or a scalar: anything may be put there
    if chain[depth].isdigit():
        return None
    rest = chain[depth:]
    if any(key[-len(rest):] == rest for key in ns.keys):
        return None  # defined somewhere else in the tree: our package resolution may be off
    return chain[: depth + 1]


class UnusedConfigKey(ProjectRule):
    code = "ML203"
    name = "unused-config-key"
    summary = "A config key is never read by code, another config, or instantiation"
    tags = ("configuration",)
    valid = (
        {
            "conf/config.yaml": "defaults:\n  - model: small\n  - _self_\nseed: 1\nname: ${model.width}\n"
                                "hydra:\n  run:\n    dir: out\n",
            "conf/model/small.yaml": "_target_: pkg.Net\nwidth: 64\ndepth: 2\n",
            "train.py": "import hydra\nfrom hydra.utils import instantiate\n"
                        "@hydra.main(config_path='conf', config_name='config')\n"
                        "def main(cfg):\n    print(cfg.seed, cfg.name)\n    net = instantiate(cfg.model)\n",
        },
        {
            "params.yaml": "train:\n  lr: 0.1\n  epochs: 3\n",
            "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    params:\n      - train.epochs\n",
            "train.py": "import yaml\nparams = yaml.safe_load(open('params.yaml'))['train']\nprint(params['lr'])\n",
        },
    )
    invalid = (
        {
            "conf/config.yaml": "seed: 1\nold_lr: 0.1  # expect: ML203\n",
            "train.py": "import hydra\n@hydra.main(config_path='conf', config_name='config')\n"
                        "def main(cfg):\n    print(cfg.seed)\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        index = config_index(model)
        for ns in index.namespaces.values():
            if index.consumed(ns, ()):
                continue
            for path in ns.files:
                yield from self._unused_in_file(index, ns, path)

    def _unused_in_file(self, index: ConfigIndex, ns: Namespace, path: str) -> Iterator[Finding]:
        keys = sorted((k for k, defs in ns.keys.items() if any(d.file == path for d in defs)), key=len)
        done: list[Chain] = []
        for chain in keys:
            if any(chain[: len(d)] == d for d in done):
                continue
            defs = [d for d in ns.keys[chain] if d.file == path]
            instantiated = any(isinstance(d.value, dict) and "_target_" in d.value for d in defs)
            if _never_unused(ns, chain) or instantiated or index.consumed(ns, chain):
                done.append(chain)
            elif not index.touched_below(ns, chain):
                done.append(chain)
                key = ".".join(chain)
                yield _finding(
                    self, path, defs[0].line, 1,
                    f"Config key `{key}` is never read by code, interpolated by another config, "
                    "instantiated or named in dvc.yaml; remove it, or use it where it was meant to be used.",
                )


def _never_unused(ns: Namespace, chain: Chain) -> bool:
    last = chain[-1]
    if last.startswith("_") and last.endswith("_"):
        return True  # _target_, _partial_, _recursive_, _convert_, _args_
    if "defaults" in chain:
        return True
    return ns.kind == "hydra" and chain[0] == "hydra"


# --- ML204 -------------------------------------------------------------------------------------

# Tracker run starts: callee -> (keyword that logs the config at start, calls that log it later).
# A later call is an exact name, or a suffix that starts with ".": `.log_params` matches any
# receiver. `.config.update` is too wide as a suffix (a Hugging Face `model.config.update(...)` is
# not a run's config), so W&B's run config counts through `wandb.config.*` or a receiver named like
# a run (RUN_CONFIG_CALL).
TRACKER_STARTS: dict[str, tuple[str | None, frozenset[str]]] = {
    "wandb.init": ("config", frozenset({"wandb.config.update", "wandb.config.setdefaults",
                                        "wandb.run.config.update"})),
    # An mlflow run may log its config file as a dict, text or artifact instead of params.
    "mlflow.start_run": (None, frozenset({"mlflow.log_params", "mlflow.log_param", ".autolog", ".log_params",
                                          ".log_param", ".log_dict", ".log_text", ".log_artifact",
                                          ".log_artifacts"})),
    "comet_ml.Experiment": (None, frozenset({".log_parameters", ".log_parameter"})),
    "comet_ml.OfflineExperiment": (None, frozenset({".log_parameters", ".log_parameter"})),
    # Lightning's CometLogger logs hyperparameters through comet's internal API.
    "comet_ml.start": (None, frozenset({".log_parameters", ".log_parameter", ".__internal_api__log_parameters__"})),
    "neptune.init_run": (None, frozenset()),
    "neptune.init": (None, frozenset()),
}
# TensorBoard is not a tracker for ML204: a SummaryWriter writes metric event files into a run
# folder and has no run config; programs keep their config as a file beside it (yolov5's
# opt.yaml/hyp.yaml, Lightning's hparams.yaml). See rules/ML204.md.
RUN_CONFIG_CALL = re.compile(r"(?:^|\.)(?:\w*run|wandb)\.config\.(?:update|setdefaults)$")
# Logging a metric starts an MLflow run by itself when none is active.
IMPLICIT_RUN_STARTS = frozenset({"mlflow.log_metric", "mlflow.log_metrics"})
EXPLICIT_RUN_START = "mlflow.start_run"
RUN_ALREADY_STARTED = frozenset({EXPLICIT_RUN_START, "mlflow.active_run", "mlflow.get_run"})
_RUN_CALLS = frozenset(TRACKER_STARTS) | IMPLICIT_RUN_STARTS | RUN_ALREADY_STARTED  # what _run_starts looks for
_CALLEE = operator.attrgetter("callee")
_TEXT = operator.attrgetter("text")
# `wandb.init(sync_tensorboard=True)` mirrors a TensorBoard log, whose config lives beside it.
MIRROR_KEYWORDS = frozenset({"sync_tensorboard"})
TRACKER_NAMES = {
    "wandb.init": "wandb.init()", "mlflow.start_run": "mlflow.start_run()",
    "comet_ml.Experiment": "comet_ml.Experiment()", "comet_ml.OfflineExperiment": "comet_ml.OfflineExperiment()",
    "comet_ml.start": "comet_ml.start()", "neptune.init_run": "neptune.init_run()", "neptune.init": "neptune.init()",
    "mlflow.log_metric": "mlflow.log_metric() (with no active run it starts one)",
    "mlflow.log_metrics": "mlflow.log_metrics() (with no active run it starts one)",
}


class UntrackedRunConfig(ProjectRule):
    code = "ML204"
    name = "untracked-run-config"
    summary = "An experiment-tracker run is started but the run's config/hyperparameters are never logged"
    tags = ("reproducibility", "tracking")
    valid = (
        "import wandb\nrun = wandb.init(project='p', config={'lr': 0.1})\n",
        "import wandb\nwandb.init(project='p')\nwandb.config.update({'lr': 0.1})\n",
        "import mlflow\nwith mlflow.start_run():\n    mlflow.log_params({'lr': 0.1})\n",
        "import mlflow\nmlflow.pytorch.autolog()\nwith mlflow.start_run():\n    pass\n",
        "import neptune\nrun = neptune.init_run()\nrun['parameters'] = {'lr': 0.1}\n",
        "import wandb\nkw = {'project': 'p', 'config': {'lr': 0.1}}\nwandb.init(**kw)\n",
        "import wandb\nrun = wandb.init(project='p')\nrun.config.update({'lr': 0.1})\n",
        # A sweep: the controller fills wandb.config for every run the agent starts.
        "import wandb\n\ndef train():\n    run = wandb.init()\n    run.log({'loss': wandb.config.lr})\n\n"
        "sweep_id = wandb.sweep({'parameters': {'lr': {'values': [0.1]}}})\nwandb.agent(sweep_id, function=train)\n",
        # The W&B run mirrors a TensorBoard log; TensorBoard is not a tracker (its config is a file beside it).
        "import wandb\nfrom torch.utils.tensorboard import SummaryWriter\nwandb.init(project='p', sync_tensorboard=True)\n"
        "writer = SummaryWriter()\nwriter.add_scalar('loss', 0.1)\n",
    )
    invalid = (
        "import wandb\nrun = wandb.init(project='p')  # expect: ML204\n",
        "import mlflow\nwith mlflow.start_run():  # expect: ML204\n    mlflow.log_metric('loss', 0.1)\n",
        # An MLflow run started by its first metric, logging metrics and a model but no parameters.
        "import mlflow\nmlflow.log_metric('acc', 0.9)  # expect: ML204\nmlflow.sklearn.log_model(model, 'model')\n",
        # An evaluation script: a Hugging Face model's config.update is not the run's config.
        "import wandb\nfrom transformers import AutoModel\nmodel = AutoModel.from_pretrained('m')\n"
        "model.config.update({'use_cache': False})\nrun = wandb.init(project='eval')  # expect: ML204\n"
        "run.log({'acc': 0.9})\n",
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        modules = list(model.python_modules())
        logged_later: dict[frozenset[str], bool] = {}  # the same answer for every run of one tracker
        stores: bool | None = None
        callees: set[str] | None = None  # gathered on the first tracked run: most repos have none
        sweeps = _sweep_functions(modules)
        for file, facts in modules:
            if not is_training_path(file.path):
                continue
            for call in _run_starts(facts):
                keyword, later = TRACKER_STARTS.get(call.callee or "", TRACKER_STARTS[EXPLICIT_RUN_START])
                if "**" in call.keywords or (keyword is not None and keyword in call.keywords):
                    continue  # `wandb.init(**run_kwargs)` may well carry the config
                if call.callee == "wandb.init" and (call.scope.rsplit(".", 1)[-1] in sweeps
                                                    or MIRROR_KEYWORDS.intersection(call.keywords)):
                    continue
                if later not in logged_later:
                    callees = callees if callees is not None else _all_callees(modules)
                    logged_later[later] = _any_called(callees, later) or (
                        call.callee == "wandb.init" and any(RUN_CONFIG_CALL.search(c) for c in callees))
                if logged_later[later]:
                    continue
                if stores is None:
                    stores = _tracker_config_stored(modules)
                if stores and (call.callee or "").startswith(("neptune", "wandb")):
                    continue
                yield _finding(
                    self, file.path, call.line, call.col,
                    f"{TRACKER_NAMES[call.callee or '']} starts a tracked run but the run's hyperparameters are never "
                    "logged; pass the config (e.g. config=cfg) or log it (log_params / config.update / add_hparams).",
                )


def _run_starts(facts: ModuleFacts) -> list[CallFact]:
    """Calls that start a tracked run: explicit starts, and the first `mlflow.log_metric(s)` of a
    module that never calls `mlflow.start_run`."""
    if _RUN_CALLS.isdisjoint(map(_CALLEE, facts.calls)):
        return []  # most modules: one pass in C instead of three in Python
    starts = [c for c in facts.calls if c.callee in TRACKER_STARTS]
    if any(c.callee in RUN_ALREADY_STARTED for c in facts.calls):
        return starts  # `if mlflow.active_run(): mlflow.log_metrics(...)` logs into someone else's run
    implicit = next((c for c in facts.calls if c.callee in IMPLICIT_RUN_STARTS), None)
    if implicit is not None and (implicit.scope == "" or implicit.in_main_guard):
        starts.append(implicit)  # a script's own top level: the metric starts the run
    return starts


def _sweep_functions(modules: Iterable[tuple[Any, ModuleFacts]]) -> set[str]:
    return {
        name for _, facts in modules
        if (trackers := facts.family(TrackerFacts)) is not None
        for name in trackers.sweep_functions
    }


def _all_callees(modules: Iterable[tuple[Any, ModuleFacts]]) -> set[str]:
    """Every callee called anywhere in the repo, by qualified name and as written."""
    names: set[str] = set()
    for _, facts in modules:  # map and filter run in C: 400,000 names on diffusers
        names.update(filter(None, map(_CALLEE, facts.calls)))
        names.update(filter(None, map(_TEXT, facts.calls)))
    return names


def _any_called(callees: set[str], patterns: frozenset[str]) -> bool:
    """Whether a callee is one of `patterns`: an exact name, or a suffix that starts with "."."""
    suffixes = tuple(p for p in patterns if p.startswith("."))
    if any(p in callees for p in patterns if not p.startswith(".")):
        return True
    return bool(suffixes) and any(name.endswith(suffixes) for name in callees)


def _tracker_config_stored(modules: Iterable[tuple[Any, ModuleFacts]]) -> bool:
    """Whether tracker configs are assigned anywhere (`wandb.config.lr = ...`, neptune's
    `run["parameters"] = ...`)."""
    return any(
        (trackers := facts.family(TrackerFacts)) is not None and trackers.config_stores
        for _, facts in modules
    )


