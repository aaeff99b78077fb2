"""ML1xx: randomness and determinism."""

from __future__ import annotations

import ast
from typing import Any

from mlaudit.facts.walk import PyContext
from mlaudit.rules.base import PythonRule

CUDNN_BENCHMARK = "torch.backends.cudnn.benchmark"
LIGHTNING_TRAINERS = frozenset(
    {"lightning.Trainer", "lightning.pytorch.Trainer", "pytorch_lightning.Trainer", "lightning.fabric.Fabric"}
)


def _truthy_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and bool(node.value) and node.value is not Ellipsis


class CudnnBenchmark(PythonRule):
    code = "ML103"
    name = "cudnn-benchmark"
    summary = "cudnn.benchmark = True makes convolution algorithm choice nondeterministic"
    tags = ("reproducibility", "determinism")
    valid = (
        "import torch\ntorch.backends.cudnn.benchmark = False\n",
        "from torch.backends import cudnn\ncudnn.benchmark = False\n",
        # A flag defaulting to off: only an explicit --benchmark turns it on.
        "import argparse, torch\np = argparse.ArgumentParser()\np.add_argument('--benchmark', action='store_true')\n"
        "args = p.parse_args()\ntorch.backends.cudnn.benchmark = args.benchmark\n",
        # Not torch's cudnn.
        "class Cfg: pass\ncudnn = Cfg()\ncudnn.benchmark = True\n",
        "import lightning as L\ntrainer = L.Trainer(benchmark=False)\n",
    )
    invalid = (
        "import torch\ntorch.backends.cudnn.benchmark = True  # expect: ML103\n",
        "from torch.backends import cudnn as c\nc.benchmark = True  # expect: ML103\n",
        "import torch.backends.cudnn as cudnn\ncudnn.benchmark = 1  # expect: ML103\n",
        "import argparse, torch\np = argparse.ArgumentParser()\np.add_argument('--benchmark', type=int, default=1)\n"
        "args = p.parse_args()\ntorch.backends.cudnn.benchmark = args.benchmark  # expect: ML103\n",
        "from lightning.pytorch import Trainer\ntrainer = Trainer(benchmark=True)  # expect: ML103\n",
    )

    def begin(self, ctx: PyContext) -> None:
        self.pending: list[tuple[ast.AST, str]] = []  # assignments from a variable: args.benchmark
        self.arg_defaults: dict[str, Any] = {}  # argparse dest -> default

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        if not any(ctx.qualname(t) == CUDNN_BENCHMARK for t in node.targets):
            return
        if _truthy_constant(node.value):
            ctx.report(self, node, "cudnn.benchmark = True picks convolution algorithms by timing, so runs with "
                       "the same seed can differ; set it to False (and cudnn.deterministic = True).")
        elif isinstance(node.value, ast.Attribute):
            self.pending.append((node, node.value.attr))

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        if isinstance(node.func, ast.Attribute) and node.func.attr == "add_argument":
            dest, default = _argparse_default(node)
            if dest:
                self.arg_defaults[dest] = default
            return
        if ctx.qualname(node.func) in LIGHTNING_TRAINERS:
            for keyword in node.keywords:
                if keyword.arg == "benchmark" and _truthy_constant(keyword.value):
                    ctx.report(self, keyword, "Trainer(benchmark=True) turns on cudnn.benchmark, which picks "
                               "convolution algorithms by timing; use benchmark=False for reproducible runs.")

    def end(self, ctx: PyContext) -> None:
        for node, dest in self.pending:
            if self.arg_defaults.get(dest):
                ctx.report(self, node, f"cudnn.benchmark is turned on by default here (option '{dest}' defaults to "
                           f"{self.arg_defaults[dest]!r}); default it to off so runs are reproducible.")


def _argparse_default(node: ast.Call) -> tuple[str | None, Any]:
    """(dest, default) of an `add_argument` call, when both are literal."""
    names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    long_names = [n for n in names if n.startswith("--")] or names
    dest = long_names[0].lstrip("-").replace("-", "_") if long_names else None
    default: Any = None
    for keyword in node.keywords:
        if keyword.arg == "dest" and isinstance(keyword.value, ast.Constant):
            dest = str(keyword.value.value)
        elif keyword.arg == "default" and isinstance(keyword.value, ast.Constant):
            default = keyword.value.value
        elif keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
            default = {"store_true": False, "store_false": True}.get(str(keyword.value.value), default)
    return dest, default
