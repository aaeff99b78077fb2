"""`torch.load` calls and what they say about `weights_only` (for ML601).

ML601 depends on which torch the project allows, which only the project model knows, so the walk
records the calls (with the edit that would make them safe) and the project rule decides.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from mlaudit.facts.walk import PyContext
from mlaudit.findings import Edit

TORCH_LOADS = frozenset({"torch.load", "torch.serialization.load"})
MISSING, TRUE, FALSE, OTHER = "missing", "true", "false", "other"


@dataclass(frozen=True)
class TorchLoadCall:
    callee: str
    line: int
    col: int
    end_line: int
    end_col: int
    weights_only: str  # MISSING, TRUE, FALSE or OTHER (a variable, an expression, **kwargs)
    edits: tuple[Edit, ...] = ()  # the change to weights_only=True; empty when none is safe to offer


class TorchLoads:
    """Listener: every call that resolves to torch.load."""

    family = "loading"

    def __init__(self) -> None:
        self.found: list[TorchLoadCall] = []

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        callee = ctx.qualname(node.func)
        if callee not in TORCH_LOADS:
            return
        state, edits = _weights_only(node, ctx)
        line, col, end_line, end_col = ctx.span(node)
        self.found.append(TorchLoadCall(callee, line, col, end_line, end_col, state, edits))

    def facts(self, ctx: PyContext) -> tuple[TorchLoadCall, ...]:
        return tuple(self.found)


def _weights_only(node: ast.Call, ctx: PyContext) -> tuple[str, tuple[Edit, ...]]:
    for keyword in node.keywords:
        if keyword.arg == "weights_only":
            value = keyword.value
            if isinstance(value, ast.Constant) and value.value is False:
                line, col, end_line, end_col = ctx.span(value)
                return FALSE, (Edit(line, col, end_line, end_col, "True"),)
            if isinstance(value, ast.Constant) and value.value is True:
                return TRUE, ()
            return OTHER, ()
    if any(keyword.arg is None for keyword in node.keywords):
        return OTHER, ()  # **kwargs may carry weights_only
    return MISSING, _insert_keyword(node, ctx)


def _insert_keyword(node: ast.Call, ctx: PyContext) -> tuple[Edit, ...]:
    """Insert `, weights_only=True` right after the last argument (works across lines and before a
    trailing comma: `torch.load(f,)` becomes `torch.load(f, weights_only=True,)`)."""
    arguments: list[ast.expr] = [*node.args, *(k.value for k in node.keywords)]
    if not arguments:
        return ()
    last = max(arguments, key=lambda a: (a.end_lineno or 0, a.end_col_offset or 0))
    _, _, end_line, end_col = ctx.span(last)
    return (Edit(end_line, end_col, end_line, end_col, ", weights_only=True"),)


EXTRACTORS = [TorchLoads]
