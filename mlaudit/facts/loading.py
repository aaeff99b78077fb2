"""`torch.load` calls and what they say about `weights_only` (for ML601).

ML601 depends on which torch the project allows, which only the project model knows, so the walk
records the calls (with the edit that would make them safe) and the project rule decides. The walk
also records where the loaded bytes come from when the enclosing function shows it, because a load
of what the same code just wrote is not a trust boundary:

- BUFFER: an `io.BytesIO` in a function that itself `torch.save`s into an `io.BytesIO`: an object
  serialized and deserialized by the same job (Lightning's XLA `broadcast` of arbitrary objects);
- FALLBACK: a bare load in `except TypeError:` under `if not flag:`, where the `try` passed
  `weights_only=flag`: the compatibility branch of a load that is already parameterized (timm);
- SAVED_HERE: the same function `torch.save`s to the same path expression first;
- DOWNLOAD: the path comes from a download (a URL, `hf_hub_download`, `urlretrieve`, ...).
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from dataclasses import dataclass, field

from mlaudit.facts.fixes import segment_fix, set_keyword
from mlaudit.facts.walk import Callees, PyContext, pusher
from mlaudit.findings import Fix

TORCH_LOADS = frozenset({"torch.load", "torch.serialization.load"})
TORCH_SAVES = frozenset({"torch.save", "torch.serialization.save"})
IN_MEMORY_FILES = frozenset({"io.BytesIO"})
MISSING, TRUE, FALSE, OTHER = "missing", "true", "false", "other"
# Where the loaded bytes come from, when the enclosing function shows it ("" otherwise).
BUFFER, FALLBACK, SAVED_HERE, DOWNLOAD = "buffer", "fallback", "saved-here", "download"

# Calls that fetch a file from outside the project (qualified names), and methods of the same
# meaning on objects whose type the walk cannot see (`artifact.download()`, `entry.download()`).
DOWNLOAD_CALLS = frozenset(
    {
        "huggingface_hub.hf_hub_download",
        "huggingface_hub.snapshot_download",
        "huggingface_hub.cached_download",
        "urllib.request.urlretrieve",
        "torch.hub.download_url_to_file",
        "torchvision.datasets.utils.download_url",
        "wget.download",
        "gdown.download",
        "requests.get",
    }
)
DOWNLOAD_METHODS = frozenset({"download", "hf_hub_download", "urlretrieve", "download_url_to_file"})
URL_PREFIXES = ("http://", "https://", "s3://", "gs://")


@dataclass(frozen=True)
class TorchLoadCall:
    callee: str
    line: int
    col: int
    end_line: int
    end_col: int
    weights_only: str  # MISSING, TRUE, FALSE or OTHER (a variable, an expression, **kwargs)
    # The call's source text, kept to build the fix from; "" where no fix applies (a notebook).
    source: str = ""
    origin: str = ""  # BUFFER, FALLBACK, SAVED_HERE, DOWNLOAD, or "" when the code does not say

    @functools.cached_property
    def fix(self) -> Fix | None:
        """The change to weights_only=True; None when none can be built safely. Built only when a
        finding asks: libcst takes about half a millisecond per call, and most loads are never
        reported (a file that pins a recent torch, a load of bytes the code itself wrote)."""
        if not self.source:
            return None
        span = (self.line, self.col, self.end_line, self.end_col)
        if self.weights_only == MISSING:
            return segment_fix(self.source, span, "Pass weights_only=True", set_keyword("weights_only", "True"))
        if self.weights_only == FALSE:
            # Unsafe: someone wrote False, perhaps for a checkpoint that holds whole objects, which
            # weights_only=True refuses to load.
            return segment_fix(self.source, span, "Change weights_only=False to True",
                               set_keyword("weights_only", "True"), safe=False)
        return None


_Scope = ast.Module | ast.FunctionDef | ast.AsyncFunctionDef


@dataclass
class _Pending:
    call: ast.Call
    scope: _Scope
    state: str
    source: str
    span: tuple[int, int, int, int]


@dataclass(frozen=True)
class LoadingFacts:
    calls: tuple[TorchLoadCall, ...] = ()


class TorchLoads:
    """Listener: every call that resolves to torch.load, with the function that holds it."""

    def __init__(self) -> None:
        self.pending: list[_Pending] = []
        self.scopes: list[_Scope] = []

    def visit_Module(self, node: ast.Module, ctx: PyContext) -> None:
        self.scopes.append(node)

    def visit_FunctionDef(self, node: ast.FunctionDef, ctx: PyContext) -> None:
        self.scopes.append(node)

    def leave_FunctionDef(self, node: ast.FunctionDef, ctx: PyContext) -> None:
        self.scopes.pop()

    visit_AsyncFunctionDef = visit_FunctionDef
    leave_AsyncFunctionDef = leave_FunctionDef

    routed_calls = Callees(TORCH_LOADS)  # the walk hands visit_routed_call only these calls

    def visit_routed_call(self, node: ast.Call, ctx: PyContext) -> None:
        if ctx.qualname(node.func) not in TORCH_LOADS or not self.scopes:
            return
        state = _weights_only(node)
        # Notebook positions are in the joined cells, not in the file: no fix there (see call_fix).
        source = "" if ctx.line_map.file_lines else ctx.segment(node) or ""
        self.pending.append(_Pending(node, self.scopes[-1], state, source, ctx.span(node)))

    def facts(self, ctx: PyContext) -> LoadingFacts:
        # Torch loads are rare, so each function that has one is read again here, once.
        scopes: dict[int, _ScopeFacts] = {}
        out = []
        for item in self.pending:
            facts = scopes.get(id(item.scope))
            if facts is None:
                facts = scopes[id(item.scope)] = _ScopeFacts(item.scope, ctx)
            callee = ctx.qualname(item.call.func) or ""
            origin = facts.origin(item.call, item.state)
            out.append(TorchLoadCall(callee, *item.span, item.state, item.source, origin))
        return LoadingFacts(tuple(out))


def _weights_only(node: ast.Call) -> str:
    state = MISSING
    for keyword in node.keywords:
        if keyword.arg == "weights_only":
            value = keyword.value.value if isinstance(keyword.value, ast.Constant) else None
            state = TRUE if value is True else FALSE if value is False else OTHER
        elif keyword.arg is None and state == MISSING:
            state = OTHER  # **kwargs may carry weights_only
    return state


def _file_argument(call: ast.Call) -> ast.expr | None:
    """The `f` argument of torch.load / the second of torch.save (`torch.save(obj, f)`)."""
    return _argument(call, 0, "f")


def _argument(call: ast.Call, position: int, name: str) -> ast.expr | None:
    for keyword in call.keywords:
        if keyword.arg == name:
            return keyword.value
    return call.args[position] if len(call.args) > position and not isinstance(call.args[position], ast.Starred) else None


@dataclass
class _ScopeFacts:
    """What one function (or the module level) does that tells where a load's bytes come from."""

    scope: _Scope
    ctx: PyContext
    assigned: dict[str, list[ast.expr]] = field(default_factory=dict)  # name -> values bound to it here
    saved_to: set[str] = field(default_factory=set)  # source text of every torch.save target here
    saves_to_buffer: bool = False
    parents: dict[int, ast.AST] = field(default_factory=dict)

    def __post_init__(self) -> None:
        save_targets: list[ast.expr] = []
        for node, parent in _own_nodes(self.scope):
            self.parents[id(node)] = parent
            if isinstance(node, ast.Assign):
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        self.assigned.setdefault(target.id, []).append(node.value)
            elif isinstance(node, (ast.AnnAssign, ast.NamedExpr)) and isinstance(node.target, ast.Name) and node.value:
                self.assigned.setdefault(node.target.id, []).append(node.value)
            elif isinstance(node, ast.withitem) and isinstance(node.optional_vars, ast.Name):
                self.assigned.setdefault(node.optional_vars.id, []).append(node.context_expr)
            elif isinstance(node, ast.Call) and self.ctx.qualname(node.func) in TORCH_SAVES:
                saved = _argument(node, 1, "f")
                if saved is not None:
                    save_targets.append(saved)
        # After the pass: whether a name is a buffer depends on every binding of it in the function.
        self.saved_to = {self._text(saved) for saved in save_targets}
        self.saves_to_buffer = any(self._is_buffer(saved) for saved in save_targets)

    def origin(self, call: ast.Call, state: str) -> str:
        path = _file_argument(call)
        if path is None:
            return ""
        if state == MISSING and self._is_fallback(call):
            return FALLBACK
        # A download wins: a buffer filled from a URL is outside content, whatever else is saved here.
        if self._downloaded(path, depth=0):
            return DOWNLOAD
        if self.saves_to_buffer and self._is_buffer(path):
            return BUFFER
        if self._text(path) in self.saved_to:
            return SAVED_HERE
        return ""

    def _text(self, node: ast.expr) -> str:
        return self.ctx.segment(node) or ast.dump(node)

    def _is_buffer(self, node: ast.expr) -> bool:
        """`io.BytesIO(...)`, or a name this function binds only to one."""
        if isinstance(node, ast.Call):
            return self.ctx.qualname(node.func) in IN_MEMORY_FILES
        if isinstance(node, ast.Name):
            values = self.assigned.get(node.id, [])
            return bool(values) and all(isinstance(v, ast.Call) and self.ctx.qualname(v.func) in IN_MEMORY_FILES for v in values)
        return False

    def _downloaded(self, node: ast.expr, depth: int) -> bool:
        """Whether the expression (or what its names are bound to here) fetches from outside."""
        if depth > 3:
            return False
        for sub in ast.walk(node):
            if isinstance(sub, ast.Constant) and isinstance(sub.value, str) and sub.value.startswith(URL_PREFIXES):
                return True
            if isinstance(sub, ast.Call) and self._is_download(sub):
                return True
            if isinstance(sub, ast.Name) and any(self._downloaded(v, depth + 1) for v in self.assigned.get(sub.id, [])):
                return True
        return False

    def _is_download(self, call: ast.Call) -> bool:
        if self.ctx.qualname(call.func) in DOWNLOAD_CALLS:
            return True
        return isinstance(call.func, ast.Attribute) and call.func.attr in DOWNLOAD_METHODS

    def _is_fallback(self, call: ast.Call) -> bool:
        """`try: torch.load(f, weights_only=flag) except TypeError: if not flag: torch.load(f)`."""
        flag = None
        node: ast.AST = call
        while id(node) in self.parents:
            parent = self.parents[id(node)]
            if isinstance(parent, ast.If) and node in parent.body:
                flag = flag or _negated_name(parent.test)
            if isinstance(parent, ast.ExceptHandler) and flag and _catches_type_error(parent):
                owner = self.parents.get(id(parent))
                return isinstance(owner, ast.Try) and self._passes_flag(owner.body, flag)
            node = parent
        return False

    def _passes_flag(self, body: list[ast.stmt], flag: str) -> bool:
        for statement in body:
            for sub in ast.walk(statement):
                if isinstance(sub, ast.Call) and self.ctx.qualname(sub.func) in TORCH_LOADS:
                    value = _argument(sub, 99, "weights_only")
                    if isinstance(value, ast.Name) and value.id == flag:
                        return True
        return False


def _own_nodes(scope: _Scope) -> Iterator[tuple[ast.AST, ast.AST]]:
    """The nodes of a function body (or module), each with its parent, without descending into
    nested functions, classes and lambdas: those are scopes of their own."""
    stack: list[tuple[ast.AST, ast.AST]] = [(statement, scope) for statement in scope.body]
    children: list[ast.AST] = []
    while stack:
        node, parent = stack.pop()
        yield node, parent
        push = pusher(type(node))  # the walk's child lists, without Load/Store markers
        if push is None:
            continue
        push(node, children)
        stack.extend((child, node) for child in children if type(child) not in _NESTED_SCOPES)
        children.clear()


_NESTED_SCOPES = frozenset({ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda})


def _negated_name(test: ast.expr) -> str | None:
    """`not flag`, `flag is False`, `flag == False` -> "flag"."""
    if isinstance(test, ast.UnaryOp) and isinstance(test.op, ast.Not) and isinstance(test.operand, ast.Name):
        return test.operand.id
    if (
        isinstance(test, ast.Compare)
        and isinstance(test.left, ast.Name)
        and len(test.ops) == 1
        and isinstance(test.ops[0], (ast.Is, ast.Eq))
        and isinstance(test.comparators[0], ast.Constant)
        and test.comparators[0].value is False
    ):
        return test.left.id
    return None


def _catches_type_error(handler: ast.ExceptHandler) -> bool:
    names = handler.type.elts if isinstance(handler.type, ast.Tuple) else [handler.type]
    return any(isinstance(n, ast.Name) and n.id == "TypeError" for n in names)


EXTRACTORS = [TorchLoads]
