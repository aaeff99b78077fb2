"""Facts about a Python module that every family needs: imports, definitions, calls.

Extracted during the single walk by `CoreFacts`. Everything here is plain data (frozen
dataclasses of tuples, strings and numbers), so it can be cached and built in parallel.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NamedTuple, TypeVar

from mlaudit.facts.records import reduce_records
from mlaudit.facts.walk import PyContext, is_main_guard, resolve_relative


class ImportFact(NamedTuple):  # a tuple, as CallFact: built, pickled and unpickled by the thousand
    local: str  # name bound in this module ("" for star imports)
    target: str  # absolute qualified name it refers to
    line: int
    star: bool = False


class DefFact(NamedTuple):  # a tuple, as CallFact
    name: str  # dotted within the module: "train", "Trainer.fit"
    kind: str  # "function" or "class"
    line: int
    end_line: int
    decorators: tuple[str, ...] = ()  # qualified names where resolvable, else as written
    params: tuple[str, ...] = ()
    bases: tuple[str, ...] = ()


class CallFact(NamedTuple):  # a tuple: tens of thousands per repo, built and unpickled fast
    callee: str | None  # qualified name, None when unresolvable
    text: str | None  # dotted name as written (`self.model.to`), None for computed callees
    line: int
    col: int
    scope: str  # enclosing function, "" at module level
    in_main_guard: bool
    # Keyword names passed, "**" for a `**kwargs` splat. Argument values are not kept: rules that
    # need them read the tree during the walk, and project rules only ask which keywords a call has.
    keywords: tuple[str, ...] = ()


F = TypeVar("F")


@dataclass(frozen=True)
class ModuleFacts:
    module: str
    is_package: bool
    imports: tuple[ImportFact, ...] = ()
    defs: tuple[DefFact, ...] = ()
    calls: tuple[CallFact, ...] = ()
    main_guard_line: int | None = None
    # Facts contributed by family extractors (mlaudit.engine.per_file.EXTRACTOR_MODULES), keyed by
    # their type; plain data only. Read them with `family(RandomnessFacts)`.
    families: dict[type[Any], Any] = field(default_factory=dict)

    def family(self, kind: type[F]) -> F | None:
        """The facts of type `kind` a family extractor gathered for this module, or None."""
        found = self.families.get(kind)
        return found if isinstance(found, kind) else None

    @property
    def has_main_guard(self) -> bool:
        return self.main_guard_line is not None

    def __reduce__(self) -> tuple[Any, ...]:
        return reduce_records(self, _RECORDS)  # a Python call per record otherwise (facts.records)


_RECORDS = {"imports": ImportFact, "defs": DefFact, "calls": CallFact}


def argparse_dest(node: ast.Call) -> str | None:
    """The attribute an `add_argument(...)` call stores into: `dest=`, else its first long option
    name (`--batch-size` -> `batch_size`), else its first name; None when none is literal."""
    for keyword in node.keywords:
        if keyword.arg == "dest" and isinstance(keyword.value, ast.Constant) and isinstance(keyword.value.value, str):
            return keyword.value.value
    names = [a.value for a in node.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
    long_names = [n for n in names if n.startswith("--")] or names
    return long_names[0].lstrip("-").replace("-", "_") if long_names else None


# The default an `add_argument(action=...)` implies when the call gives none.
STORE_ACTION_DEFAULTS = {"store_true": False, "store_false": True}


def argparse_default(node: ast.Call, literal: Callable[[ast.expr], Any]) -> Any:
    """The default of an `add_argument(...)` option: its `default=` read with `literal` (callers
    differ on which expressions count: a constant, or anything `ast.literal_eval` takes), else
    what a store_true/store_false action implies; None when neither says. Keywords apply in order."""
    default: Any = None
    for keyword in node.keywords:
        if keyword.arg == "default":
            default = literal(keyword.value)
        elif keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
            default = STORE_ACTION_DEFAULTS.get(str(keyword.value.value), default)
    return default


class CoreFacts:
    """Listener that records imports, definitions and calls for `ModuleFacts`."""

    def __init__(self) -> None:
        self.imports: list[ImportFact] = []
        self.defs: list[DefFact] = []
        self.calls: list[CallFact] = []
        self.main_guard_line: int | None = None

    def visit_Import(self, node: ast.Import, ctx: PyContext) -> None:
        for alias in node.names:
            local = alias.asname or alias.name.split(".")[0]
            target = alias.name if alias.asname else local
            self.imports.append(ImportFact(local, target, node.lineno))
            if not alias.asname and "." in alias.name:  # `import a.b` also loads a.b
                self.imports.append(ImportFact("", alias.name, node.lineno))

    def visit_ImportFrom(self, node: ast.ImportFrom, ctx: PyContext) -> None:
        for alias in node.names:
            if alias.name == "*":
                base = ctx.imports.get("*") or _from_base(node, ctx)
                self.imports.append(ImportFact("", base, node.lineno, star=True))
            else:
                local = alias.asname or alias.name
                self.imports.append(ImportFact(local, ctx.imports.get(local, alias.name), node.lineno))

    def visit_If(self, node: ast.If, ctx: PyContext) -> None:
        if self.main_guard_line is None and not ctx.scope and is_main_guard(node):
            self.main_guard_line = node.lineno

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> None:
        args = node.args
        params = tuple([a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)])
        self.defs.append(self._def(node, "function", ctx, params, ()))

    visit_AsyncFunctionDef = visit_FunctionDef

    def visit_ClassDef(self, node: ast.ClassDef, ctx: PyContext) -> None:
        bases = tuple(ctx.qualname(b) or ctx.dotted(b) or "" for b in node.bases)
        self.defs.append(self._def(node, "class", ctx, (), bases))

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        # Runs for every call: `ctx.start`, `ctx.qualname` and `ctx.dotted` written out for the
        # common cases (an ASCII file, a bare-name callee), and the record built as in `_def`.
        if ctx.ascii and not ctx.line_map.file_lines:
            line, col = node.lineno, node.col_offset + 1
        else:
            line, col = ctx.start(node)
        func = node.func
        if type(func) is ast.Name:
            text: str | None = func.id
            callee = ctx.resolve_name(func.id)
        else:
            callee, text = ctx.qualname(func), ctx.dotted(func)
        keywords = tuple([k.arg or "**" for k in node.keywords]) if node.keywords else ()
        self.calls.append(_new_record(CallFact, (callee, text, line, col, ctx.function, ctx.in_main_guard, keywords)))

    def _def(
        self, node: Any, kind: str, ctx: PyContext, params: tuple[str, ...], bases: tuple[str, ...]
    ) -> DefFact:
        name = f"{ctx.function}.{node.name}" if ctx.function else node.name
        decorators = tuple(
            ctx.qualname(_callee(d)) or ctx.dotted(_callee(d)) or "" for d in node.decorator_list
        ) if node.decorator_list else ()
        line, end = node.lineno, node.end_lineno or node.lineno
        if ctx.line_map.file_lines:
            line, end = ctx.line_map.file_line(line), ctx.line_map.file_line(end)
        # Every field given, straight to tuple.__new__: the generated DefFact.__new__ is a Python
        # call that fills in the defaults, for each of a repo's functions.
        return _new_record(DefFact, (name, kind, line, end, decorators, params, bases))

    def facts(self, ctx: PyContext) -> ModuleFacts:
        return ModuleFacts(
            module=ctx.module,
            is_package=ctx.is_package,
            imports=tuple(self.imports),
            defs=tuple(self.defs),
            calls=tuple(self.calls),
            main_guard_line=self.main_guard_line,
        )


_new_record = tuple.__new__


def _callee(decorator: ast.expr) -> ast.expr:
    return decorator.func if isinstance(decorator, ast.Call) else decorator


def _from_base(node: ast.ImportFrom, ctx: PyContext) -> str:
    if node.level:
        return resolve_relative(ctx.module, ctx.is_package, node.level, node.module)
    return node.module or ""
