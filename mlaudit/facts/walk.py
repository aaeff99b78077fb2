"""The single walk over a Python module.

Every per-file Python rule and every fact extractor is a *listener*: it defines
`visit_<NodeType>(node, ctx)` / `leave_<NodeType>(node, ctx)` methods. `walk` traverses the tree
once, iteratively (deep expression chains cannot overflow the stack), and calls the handlers of
all listeners for each node. The context tracks what every listener needs to know about where it
is: qualified names of imports, the enclosing function and class, and whether the code sits under
`if __name__ == "__main__":`.
"""

from __future__ import annotations

import ast
import builtins
import functools
import re
import weakref
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

from mlaudit.findings import Finding, Fix, Level

BUILTIN_NAMES = frozenset(dir(builtins))

Handler = Callable[[Any, "PyContext"], None]
H = TypeVar("H")


@dataclass(frozen=True)
class LineMap:
    """Maps lines of the code that was parsed to lines of the file on disk.

    Plain modules map 1:1. A notebook's code cells are joined into one module; each joined line
    maps to the line of the notebook's JSON that holds it, and to its cell number for messages.
    """

    file_lines: tuple[int, ...] = ()
    cells: tuple[int, ...] = ()

    def file_line(self, line: int) -> int:
        if not self.file_lines:
            return line
        return self.file_lines[line - 1] if 0 < line <= len(self.file_lines) else 1

    def cell(self, line: int) -> int | None:
        if not self.cells or not 0 < line <= len(self.cells):
            return None
        return self.cells[line - 1]


@dataclass(frozen=True)
class Callees:
    """Which calls something is about: callees by qualified name, exact (`"torch.load"`) or by
    prefix (`"torch.cuda."`), and calls of a method by its name whatever the receiver (`x.step()`:
    "step"; for `ser.load()` the qualified name, when there is one, also ends in "load")."""

    names: frozenset[str] = frozenset()
    prefixes: tuple[str, ...] = ()
    methods: frozenset[str] = frozenset()


class CallRouter(Generic[H]):
    """Routes a call to the handlers whose rows name it (see `Callees`). Built once from
    (handler, callees) rows; a call that no row names costs two dict reads and one `startswith`,
    so a listener runs its checks only for the calls they can be about."""

    def __init__(self, rows: Sequence[tuple[H, Callees]]) -> None:
        self.handlers = tuple(row[0] for row in rows)
        self._names: dict[str, set[int]] = {}
        self._prefixes: dict[str, set[int]] = {}
        self._methods: dict[str, set[int]] = {}
        for index, (_, callees) in enumerate(rows):
            for name in callees.names:
                self._names.setdefault(name, set()).add(index)
            for prefix in callees.prefixes:
                self._prefixes.setdefault(prefix, set()).add(index)
            for method in callees.methods:
                self._methods.setdefault(method, set()).add(index)
        self._all_prefixes = tuple(self._prefixes)
        # The qualified name of `a.b.attr` ends with ".attr": unless some prefix could match, a
        # method call names a row only when its attribute ends one of the names.
        self._last_parts = frozenset(name.rsplit(".", 1)[-1] for name in self._names)
        self._memo: dict[tuple[str | None, str], tuple[H, ...]] = {}

    def route_call(self, func: ast.expr, ctx: PyContext) -> tuple[H, ...]:
        """`route` for a call's `func`, resolving its qualified name only when a row may name it."""
        if type(func) is ast.Attribute:
            method = func.attr
            if self._all_prefixes or method in self._last_parts:
                return self.route(ctx.qualname(func), method)
            return self.route(None, method) if method in self._methods else ()
        if type(func) is ast.Name:
            return self.route(ctx.resolve_name(func.id), "")
        return ()  # a computed callee (`fs[i]()`, `f()()`) has no name and no method

    def route(self, callee: str | None, method: str) -> tuple[H, ...]:
        """The handlers for a call, in the order of their rows; () when no row names it."""
        if method not in self._methods and (
            callee is None or (callee not in self._names and not callee.startswith(self._all_prefixes))
        ):
            return ()
        key = (callee, method)
        found = self._memo.get(key)
        if found is None:
            if len(self._memo) > 10_000:  # a bound for hostile input; real repos name a few hundred
                self._memo.clear()
            found = self._memo[key] = self._lookup(callee, method)
        return found

    def _lookup(self, callee: str | None, method: str) -> tuple[H, ...]:
        indices = set(self._methods.get(method, ()))
        if callee is not None:
            indices |= self._names.get(callee, set())
            for prefix in self._all_prefixes:
                if callee.startswith(prefix):
                    indices |= self._prefixes[prefix]
        return tuple(self.handlers[i] for i in sorted(indices))


@dataclass
class PyContext:
    """What listeners know about the module being walked, and where the walk is."""

    path: str  # repo-relative POSIX path of the file on disk
    module: str  # dotted module name, "" when the file is not importable
    is_package: bool  # True for __init__.py: relative imports resolve against the module itself
    source: str
    line_map: LineMap = field(default_factory=LineMap)
    imports: dict[str, str] = field(default_factory=dict)  # local name -> qualified name
    module_defs: frozenset[str] = frozenset()  # names bound at module level
    scope: list[str] = field(default_factory=list)  # enclosing classes/functions, outermost first
    in_main_guard: bool = False
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # internal errors of listeners
    function: str = ""  # dotted name of the enclosing function or class, "" at module level
    # id(node) -> its qualified name / dotted text. Several listeners ask about the same node (every
    # listener resolves a call's callee), so each is worked out once per walk. Ids stay unique
    # because the tree outlives the walk.
    _qualnames: dict[int, str | None] = field(default_factory=dict)
    _dotted: dict[int, str | None] = field(default_factory=dict)

    # --- names -------------------------------------------------------------------------------

    def qualname(self, node: ast.AST) -> str | None:
        """The fully qualified name an expression refers to, resolving imports and aliases.

        `c.benchmark` after `from torch.backends import cudnn as c` gives
        "torch.backends.cudnn.benchmark"; a name defined at module level gives
        "<module>.<name>"; builtins give "builtins.<name>"; anything else gives None.
        Only for nodes of the tree being walked (answers are remembered by node id); for a bare
        name use `resolve_name`.
        """
        if type(node) is ast.Name:  # cheaper to resolve than to remember
            return self.resolve_name(node.id)
        key = id(node)
        if key in self._qualnames:
            return self._qualnames[key]
        dotted = self.dotted(node)
        qualname = None
        if dotted is not None:
            head, _, rest = dotted.partition(".")
            base = self.resolve_name(head)
            if base is not None:
                qualname = f"{base}.{rest}" if rest else base
        self._qualnames[key] = qualname
        return qualname

    def resolve_name(self, name: str) -> str | None:
        if name in self.imports:
            return self.imports[name]
        if name in self.module_defs:
            return f"{self.module}.{name}" if self.module else name
        if name in BUILTIN_NAMES:
            return f"builtins.{name}"
        return None

    def dotted(self, node: ast.AST) -> str | None:
        """The expression as written when it is a plain dotted name (`cfg.optim.lr`), else None."""
        if type(node) is ast.Name:
            return node.id
        key = id(node)
        if key in self._dotted:
            return self._dotted[key]
        chain = _name_chain(node)
        dotted = self._dotted[key] = ".".join(chain) if chain is not None else None
        return dotted

    def enter_scope(self, name: str) -> None:
        self.scope.append(name)
        self.function = ".".join(self.scope)

    def leave_scope(self) -> None:
        self.scope.pop()
        self.function = ".".join(self.scope)

    # --- positions and reports ---------------------------------------------------------------

    @functools.cached_property
    def lines(self) -> list[str]:
        """Source lines split as the parser splits them (see `source_lines`)."""
        return source_lines(self.source)

    def line(self, node: ast.AST) -> int:
        """The line of the file on disk where `node` starts (cheaper than `span` when that is all)."""
        line: int = getattr(node, "lineno", 1)
        return self.line_map.file_line(line) if self.line_map.file_lines else line

    def segment(self, node: ast.AST) -> str | None:
        """The source text of `node`, like `ast.get_source_segment` but without re-splitting the
        whole file on every call (that made it the hottest function of a run)."""
        start, end = getattr(node, "lineno", None), getattr(node, "end_lineno", None)
        col, end_col = getattr(node, "col_offset", None), getattr(node, "end_col_offset", None)
        if start is None or end is None or col is None or end_col is None or end > len(self.lines):
            return None
        first = self.lines[start - 1].encode("utf-8")
        if start == end:
            text: str = first[col:end_col].decode("utf-8", errors="replace")
            return text
        last = self.lines[end - 1].encode("utf-8")[:end_col].decode("utf-8", errors="replace")
        return "\n".join([first[col:].decode("utf-8", errors="replace"), *self.lines[start : end - 1], last])

    def char_col(self, line: int, byte_col: int) -> int:
        """Convert ast's 0-based UTF-8 byte offset to a 1-based code-point column."""
        if self.ascii:
            return byte_col + 1  # every line is ASCII: no need to split the source into lines
        text = self.lines[line - 1] if 0 < line <= len(self.lines) else ""
        if text.isascii():
            return byte_col + 1
        return len(text.encode("utf-8")[:byte_col].decode("utf-8", errors="replace")) + 1

    @functools.cached_property
    def ascii(self) -> bool:
        """Whether the source is ASCII: then a byte column is a character column."""
        return self.source.isascii()

    def start(self, node: ast.expr | ast.stmt) -> tuple[int, int]:
        """Line and column where `node` starts, as `span` gives them (cheaper when that is all)."""
        line = node.lineno
        if self.line_map.file_lines:
            return self.line_map.file_line(line), 1
        return line, node.col_offset + 1 if self.ascii else self.char_col(line, node.col_offset)

    def span(self, node: ast.AST) -> tuple[int, int, int, int]:
        line = getattr(node, "lineno", 1)
        end_line = getattr(node, "end_lineno", None) or line
        col = self.char_col(line, getattr(node, "col_offset", 0))
        end_col = self.char_col(end_line, getattr(node, "end_col_offset", None) or 0)
        if self.line_map.file_lines:  # notebook: point at the JSON line, no fabricated columns
            return self.line_map.file_line(line), 1, self.line_map.file_line(end_line), 1
        if end_line == line and end_col <= col:
            end_col = col + 1
        return line, col, end_line, end_col

    def report(
        self,
        rule: Any,
        node: ast.AST,
        message: str,
        *,
        level: Level | None = None,
        fix: Fix | None = None,
    ) -> None:
        line, col, end_line, end_col = self.span(node)
        cell = self.line_map.cell(getattr(node, "lineno", 1))
        if cell is not None:
            message = f"cell {cell}: {message}"
        if self.line_map.file_lines:
            fix = None  # edits are positioned in the joined cells, not in the notebook JSON
        self.findings.append(
            Finding(
                code=rule.code,
                message=message,
                path=self.path,
                line=line,
                col=col,
                end_line=end_line,
                end_col=end_col,
                level=level or rule.level,
                fix=fix,
            )
        )


def source_lines(text: str) -> list[str]:
    """`text` split into lines where the parser ends them: at "\\r\\n", "\\r" or "\\n", and nowhere
    else (`str.splitlines` also breaks at form feeds and "\\x1c"-"\\x1e", which would shift every
    line after one). `str.split` in C: splitting with a regular expression cost lightning's run
    0.02 s of CPU."""
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    return text.split("\n")


def _name_chain(node: ast.AST) -> list[str] | None:
    """["cfg", "optim", "lr"] for `cfg.optim.lr`; None unless the expression is a dotted name."""
    parts: list[str] = []
    while type(node) is ast.Attribute:
        parts.append(node.attr)
        node = node.value
    if type(node) is not ast.Name:
        return None
    parts.append(node.id)
    parts.reverse()
    return parts


def resolve_relative(module: str, is_package: bool, level: int, target: str | None) -> str:
    """Absolute name of `from <.*level><target> import ...` written in `module`."""
    parts = module.split(".") if module else []
    if not is_package:
        parts = parts[:-1]
    if level > 1:
        parts = parts[: len(parts) - (level - 1)] if level - 1 <= len(parts) else []
    if target:
        parts.append(target)
    return ".".join(parts)


def module_level_names(tree: ast.Module) -> frozenset[str]:
    """Names bound by top-level statements (defs, classes, assignments); no full walk needed."""
    names: set[str] = set()
    for stmt in tree.body:
        if isinstance(stmt, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.add(stmt.name)
        elif isinstance(stmt, ast.Assign):
            names.update(t.id for t in stmt.targets if isinstance(t, ast.Name))
        elif isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
            names.add(stmt.target.id)
    return frozenset(names)


def is_main_guard(node: ast.AST) -> bool:
    """`if __name__ == "__main__":` (either operand order)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = [test.left, test.comparators[0]]
    has_name = any(isinstance(s, ast.Name) and s.id == "__name__" for s in sides)
    has_main = any(isinstance(s, ast.Constant) and s.value == "__main__" for s in sides)
    return has_name and has_main


class _RoutedCalls:
    """The one `visit_Call` handler of the listeners that declare `routed_calls` (a `Callees`):
    the callee is resolved once, and each such listener's `visit_routed_call(node, ctx)` runs only
    for the calls its `routed_calls` names, instead of every listener resolving and rejecting
    every call."""

    def __init__(self, listeners: Sequence[Any], table: _Dispatch) -> None:
        self.listeners = tuple(listeners)
        self.router = _router(tuple(type(listener) for listener in listeners))
        # The table holds this handler: a strong reference back would make a cycle, which keeps
        # every listener (and the syntax tree they hold) alive while a run pauses the collector.
        self.table = weakref.ref(table)
        self.dropped: set[int] = set()

    def __call__(self, node: ast.Call, ctx: PyContext) -> None:
        for index in self.router.route_call(node.func, ctx):
            if index in self.dropped:
                continue
            listener = self.listeners[index]
            try:
                listener.visit_routed_call(node, ctx)
            except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
                table = self.table()
                if table is not None:
                    _failed(listener, node, exc, ctx, table)

    def drop(self, listener: Any) -> None:
        self.dropped.update(i for i, known in enumerate(self.listeners) if known is listener)


@functools.cache
def _router(listener_classes: tuple[Any, ...]) -> CallRouter[int]:
    return CallRouter([(index, cls.routed_calls) for index, cls in enumerate(listener_classes)])


class _Dispatch:
    """Handler tables for a set of listeners, keyed by node class, built once per walk."""

    def __init__(self, listeners: Sequence[Any]) -> None:
        visit: dict[type, list[tuple[Any, Handler]]] = {}
        leave: dict[type, list[tuple[Any, Handler]]] = {}
        routed = [listener for listener in listeners if isinstance(getattr(listener, "routed_calls", None), Callees)]
        self.calls = _RoutedCalls(routed, self) if routed else None
        for listener in listeners:
            if self.calls is not None and listener is routed[0]:  # the router takes the first one's turn
                visit.setdefault(ast.Call, []).append((self.calls, self.calls))
            for prefix, node_class, attr in _handler_names(listener.__class__):
                table = visit if prefix == "visit_" else leave
                table.setdefault(node_class, []).append((listener, getattr(listener, attr)))
        self.visit = {k: tuple(v) for k, v in visit.items()}
        self.leave = {k: tuple(v) for k, v in leave.items()}

    def drop(self, listener: Any) -> None:
        """Stop calling a listener that raised. The tables get new tuples, so a loop over the old
        one goes on undisturbed."""
        for table in (self.visit, self.leave):
            for node_class, handlers in list(table.items()):
                table[node_class] = tuple(h for h in handlers if h[0] is not listener)
        if self.calls is not None:
            self.calls.drop(listener)


@functools.cache
def _handler_names(listener_class: type) -> tuple[tuple[str, type, str], ...]:
    """(prefix, node class, method name) of every handler a listener class defines; `dir` is
    too slow to call for every listener of every file."""
    found = []
    for attr in dir(listener_class):
        for prefix in ("visit_", "leave_"):
            node_class = getattr(ast, attr[len(prefix) :], None) if attr.startswith(prefix) else None
            if isinstance(node_class, type):
                found.append((prefix, node_class, attr))
    return tuple(found)


class _Leave:
    """Stack marker: run leave handlers (and pop the scope) once a node's children are done."""

    __slots__ = ("node",)

    def __init__(self, node: ast.AST) -> None:
        self.node = node


class _ExitGuard:
    """Stack marker: the body of `if __name__ == "__main__":` ends here."""


_EXIT_GUARD = _ExitGuard()
_SCOPES = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)

# --- traversal generated per node class ------------------------------------------------------
# Each node class gets a small function, compiled from the class's own field signature
# (`ast.Call.__doc__` is "Call(expr func, expr* args, keyword* keywords)"), that pushes its child
# nodes onto a stack, last field first, so they pop in source order. That replaces a `getattr` per
# field and an `isinstance` per child with plain attribute reads.
# Field types that never hold child nodes: names, numbers, flags, constants, and the Load/Store
# singletons no listener asks for. Operators (`ast.Add`) are children, as they are for ast.walk.
_SCALAR_TYPES = frozenset({"identifier", "int", "string", "constant", "expr_context"})
# Sequence fields that may hold None: `{**a}` has a None key, `def f(*, a)` a None kw_default.
_MAY_HOLD_NONE = frozenset({("Dict", "keys"), ("arguments", "kw_defaults")})
_SIGNATURE = re.compile(r"^(\w+)\((.*)\)$")

Pusher = Callable[[Any, list[Any]], None]


def _field_kinds(node_class: type) -> list[tuple[str, str]] | None:
    """(field, "one" | "optional" | "many") for each child-bearing field, from the class's ASDL
    signature; None when the signature cannot be read (the generic pusher serves those)."""
    doc = (node_class.__doc__ or "").split("\n", 1)[0].strip()
    match = _SIGNATURE.match(doc)
    if match is None or match.group(1) != node_class.__name__:
        return None
    kinds: list[tuple[str, str]] = []
    for part in filter(None, (p.strip() for p in match.group(2).split(","))):
        type_name, _, field_name = part.partition(" ")
        base = type_name.rstrip("*?")
        if field_name not in getattr(node_class, "_fields", ()):
            return None
        if base in _SCALAR_TYPES:
            continue
        kinds.append((field_name, "many" if type_name.endswith("*") else "optional" if type_name.endswith("?") else "one"))
    return kinds


def _generated_pusher(node_class: type) -> Pusher | None:
    kinds = _field_kinds(node_class)
    if kinds is None:
        return _generic_pusher
    if not kinds:
        return None  # a leaf: Name, Constant, Pass, operators
    lines = ["def push(node, stack):", "    append = stack.append"]
    for field_name, kind in reversed(kinds):
        if kind == "many" and (node_class.__name__, field_name) in _MAY_HOLD_NONE:
            lines.append(f"    stack.extend([c for c in reversed(node.{field_name}) if c is not None])")
        elif kind == "many":
            lines.append(f"    stack.extend(reversed(node.{field_name}))")
        elif kind == "optional":
            lines.append(f"    value = node.{field_name}")
            lines.append("    if value is not None:")
            lines.append("        append(value)")
        else:
            lines.append(f"    append(node.{field_name})")
    namespace: dict[str, Any] = {}
    exec("\n".join(lines), namespace)  # our own code, built from ast's field signatures
    pusher: Pusher = namespace["push"]
    return pusher


def _generic_pusher(node: Any, stack: list[Any]) -> None:
    for name in reversed(node._fields):
        value = getattr(node, name, None)
        if isinstance(value, list):
            stack.extend(c for c in reversed(value) if isinstance(c, ast.AST) and not isinstance(c, ast.expr_context))
        elif isinstance(value, ast.AST) and not isinstance(value, ast.expr_context):
            stack.append(value)


# Node class -> its pusher (None for leaves); filled on first sight of a class.
PUSHERS: dict[type, Pusher | None] = {}


def pusher(node_class: type) -> Pusher | None:
    """The function that pushes a node's children onto a stack (None when it has none)."""
    try:
        return PUSHERS[node_class]
    except KeyError:
        found = PUSHERS[node_class] = _generated_pusher(node_class)
        return found


def iter_nodes(node: ast.AST) -> list[ast.AST]:
    """`node` and all its descendants in source order (depth first), like `ast.walk` without the
    Load/Store markers; a list, built in one pass."""
    out: list[ast.AST] = []
    stack: list[Any] = [node]
    pushers = PUSHERS
    while stack:
        item = stack.pop()
        out.append(item)
        kind = type(item)
        push = pushers[kind] if kind in pushers else pusher(kind)
        if push is not None:
            push(item, stack)
    return out


def walk(tree: ast.AST, ctx: PyContext, listeners: Sequence[Any]) -> None:
    """Visit every node once, in source order, calling each listener's handlers.

    Hot loop: this runs for every node of every file. Plain nodes take the short path (handlers,
    then the generated pusher); the few kinds that change the context (scopes, imports, the main
    guard) and nodes someone listens to on the way out take `_special`.
    """
    table = _Dispatch(listeners)
    special = _SPECIAL_KINDS | table.leave.keys()
    visit_get = table.visit.get  # the same dict for the whole walk; drop() edits it in place
    pushers = PUSHERS
    stack: list[Any] = [tree]
    pop = stack.pop
    while stack:
        item = pop()
        kind = type(item)
        if kind in special:
            _special(item, kind, ctx, table, stack)
            continue
        handlers = visit_get(kind)
        if handlers is not None:
            for listener, handler in handlers:
                try:
                    handler(item, ctx)
                except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
                    _failed(listener, item, exc, ctx, table)
        push = pushers[kind] if kind in pushers else pusher(kind)
        if push is not None:
            push(item, stack)


# Kinds the walk handles on its slow path: markers, scopes, imports, and `if` (the main guard).
_SPECIAL_KINDS = frozenset({_Leave, _ExitGuard, ast.Import, ast.ImportFrom, ast.If, *_SCOPES})


def _special(item: Any, kind: type, ctx: PyContext, table: _Dispatch, stack: list[Any]) -> None:
    if kind is _Leave:
        _on_leave(item.node, ctx, table)
        return
    if kind is _ExitGuard:
        ctx.in_main_guard = False
        return
    if kind is ast.Import or kind is ast.ImportFrom:
        _bind_imports(item, ctx)
    handlers = table.visit.get(kind)
    if handlers:
        _call(handlers, item, ctx, table)
    is_scope = kind in _SCOPES
    if is_scope or kind in table.leave:
        stack.append(_Leave(item))
    if kind is ast.If and not ctx.scope and not ctx.in_main_guard and is_main_guard(item):
        _push_guard(item, ctx, stack)
    else:
        push = pusher(kind)
        if push is not None:
            push(item, stack)
    if is_scope:
        ctx.enter_scope(item.name)


def _on_leave(node: ast.AST, ctx: PyContext, table: _Dispatch) -> None:
    handlers = table.leave.get(type(node))
    if handlers:
        _call(handlers, node, ctx, table)
    if isinstance(node, _SCOPES):
        ctx.leave_scope()


def _push_guard(node: ast.If, ctx: PyContext, stack: list[Any]) -> None:
    # Popped in reverse: the test, the body inside the guard, the marker, then the else branch.
    stack.extend(reversed(node.orelse))
    stack.append(_EXIT_GUARD)
    stack.extend(reversed(node.body))
    stack.append(node.test)
    ctx.in_main_guard = True


def _call(handlers: Sequence[tuple[Any, Handler]], node: ast.AST, ctx: PyContext, table: _Dispatch) -> None:
    for listener, handler in handlers:
        try:
            handler(node, ctx)
        except Exception as exc:  # noqa: BLE001 - one broken rule must not stop the others
            _failed(listener, node, exc, ctx, table)


def _failed(listener: Any, node: ast.AST, exc: Exception, ctx: PyContext, table: _Dispatch) -> None:
    """Stop calling a listener that raised, and record the internal error (exit code 2)."""
    table.drop(listener)
    label = getattr(listener, "code", "") or type(listener).__name__
    ctx.errors.append(
        f"internal error in {label} on {ctx.path}:{getattr(node, 'lineno', 1)}: {type(exc).__name__}: {exc}"
    )


def _bind_imports(node: ast.Import | ast.ImportFrom, ctx: PyContext) -> None:
    if isinstance(node, ast.Import):
        for alias in node.names:
            if alias.asname:
                ctx.imports[alias.asname] = alias.name
            else:
                top = alias.name.split(".")[0]
                ctx.imports[top] = top
        return
    base = node.module or ""
    if node.level:
        base = resolve_relative(ctx.module, ctx.is_package, node.level, node.module)
    for alias in node.names:
        if alias.name == "*":
            continue
        local = alias.asname or alias.name
        ctx.imports[local] = f"{base}.{alias.name}" if base else alias.name
