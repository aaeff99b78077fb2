"""How code hands its config to an experiment tracker: assignments into a run's config
(`wandb.config.lr = ...`) and functions run by a sweep agent. ML204 reads them."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass

from mlaudit.facts.config.syntax import callee_tail, is_resolvable
from mlaudit.facts.walk import PyContext
from mlaudit.knowledge.config import SWEEP_AGENTS, TRACKER_KEYS

_RUN_CONFIG = re.compile(r"(^|\.)config$")
_SWEEP_TAILS = frozenset(name.rpartition(".")[2] for name in SWEEP_AGENTS)


@dataclass(frozen=True)
class TrackerFacts:
    config_stores: int = 0  # `wandb.config.x = ...` / `run.config[...] = ...`
    # Functions handed to a sweep agent (`wandb.agent(sweep_id, function=train)`): the sweep
    # controller fills the config of the runs they start.
    sweep_functions: tuple[str, ...] = ()


class TrackerStores:
    """Collects `TrackerFacts` in a file that never names a sweep agent: assignments only."""

    def __init__(self) -> None:
        self.stores = 0
        self.sweep_functions: set[str] = set()

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        for target in node.targets:
            if type(target) is not ast.Name:  # `x = ...`, most assignments, stores into no run
                self._store(target, ctx)

    def visit_AugAssign(self, node: ast.AugAssign, ctx: PyContext) -> None:
        self._store(node.target, ctx)

    def _store(self, target: ast.AST, ctx: PyContext) -> None:
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._store(element, ctx)
        elif isinstance(target, (ast.Attribute, ast.Subscript)) and _logs_run_config(target, ctx):
            self.stores += 1

    def facts(self, ctx: PyContext) -> TrackerFacts:
        return TrackerFacts(self.stores, tuple(sorted(self.sweep_functions)))


class TrackerConfig(TrackerStores):
    """Collects `TrackerFacts`: assignments into a run's config, and sweep agents' functions."""

    @classmethod
    def for_file(cls, ctx: PyContext) -> TrackerStores:
        """The walk shows every call to a call handler: only files that name an agent get one."""
        return cls() if any(name in ctx.source for name in _SWEEP_TAILS) else TrackerStores()

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        if callee_tail(node.func, ctx) not in _SWEEP_TAILS or ctx.qualname(node.func) not in SWEEP_AGENTS:
            return
        function = node.args[1] if len(node.args) > 1 else next(
            (k.value for k in node.keywords if k.arg == "function"), None)
        name = ctx.dotted(function) if function is not None else None
        if name:
            self.sweep_functions.add(name.rsplit(".", 1)[-1])


def _resolves(target: ast.Attribute, ctx: PyContext) -> bool:
    """Does the target have a qualified name (a dotted chain from an import or module name)?"""
    base = target.value
    while type(base) is ast.Attribute:
        base = base.value
    return type(base) is ast.Name and is_resolvable(base.id, ctx)


def _logs_run_config(target: ast.Attribute | ast.Subscript, ctx: PyContext) -> bool:
    """`wandb.config.lr = ...`, `run.config["lr"] = ...`, `run["parameters"] = ...` (neptune)."""
    if isinstance(target, ast.Attribute) and _resolves(target, ctx) and (ctx.qualname(target) or "").startswith("wandb.config"):
        return True
    receiver = target.value
    # `(^|\.)config$` on the receiver's dotted name: it ends in a name or attribute `config`.
    ends_in_config = (type(receiver) is ast.Name and receiver.id == "config") or (
        type(receiver) is ast.Attribute and receiver.attr == "config")
    if ends_in_config and _RUN_CONFIG.search(ctx.dotted(receiver) or ""):
        return True
    key = target.slice if isinstance(target, ast.Subscript) else None
    return isinstance(key, ast.Constant) and isinstance(key.value, str) and bool(TRACKER_KEYS.search(key.value))
