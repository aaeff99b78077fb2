"""`torch.load` calls and what they say about `weights_only` (for ML601).

ML601 depends on which torch the project allows, which only the project model knows, so the walk
records the calls (with the edit that would make them safe) and the project rule decides.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from mlaudit.facts.fixes import call_fix, set_keyword
from mlaudit.facts.walk import PyContext
from mlaudit.findings import Fix

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
    fix: Fix | None = None  # the change to weights_only=True; None when none can be built safely


@dataclass(frozen=True)
class LoadingFacts:
    calls: tuple[TorchLoadCall, ...] = ()


class TorchLoads:
    """Listener: every call that resolves to torch.load."""

    def __init__(self) -> None:
        self.found: list[TorchLoadCall] = []

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        callee = ctx.qualname(node.func)
        if callee not in TORCH_LOADS:
            return
        state, fix = _weights_only(node, ctx)
        line, col, end_line, end_col = ctx.span(node)
        self.found.append(TorchLoadCall(callee, line, col, end_line, end_col, state, fix))

    def facts(self, ctx: PyContext) -> LoadingFacts:
        return LoadingFacts(tuple(self.found))


def _weights_only(node: ast.Call, ctx: PyContext) -> tuple[str, Fix | None]:
    state = MISSING
    for keyword in node.keywords:
        if keyword.arg == "weights_only":
            value = keyword.value.value if isinstance(keyword.value, ast.Constant) else None
            state = TRUE if value is True else FALSE if value is False else OTHER
        elif keyword.arg is None and state == MISSING:
            state = OTHER  # **kwargs may carry weights_only
    if state == MISSING:
        return state, call_fix(ctx, node, "Pass weights_only=True", set_keyword("weights_only", "True"))
    if state == FALSE:
        # Unsafe: someone wrote False, perhaps for a checkpoint that holds whole objects, which
        # weights_only=True refuses to load.
        fix = call_fix(ctx, node, "Change weights_only=False to True", set_keyword("weights_only", "True"), safe=False)
        return state, fix
    return state, None


EXTRACTORS = [TorchLoads]
