"""Evidence for ML301 (dead feature flags): which boolean flags code tests, and every sign that a
flag can take another value. Two kinds of flag:

- module-level constants (`USE_AMP = False ... if USE_AMP:`): a constant used as a value, rebound,
  or assigned from another module is no dead flag;
- dataclass fields tested by attribute name (`if cfg.use_amp:`): a field assigned anywhere, read
  outside a condition, or whose class is constructed with arguments can be set.

Calls to `exec` and the keywords of every call are in the core call facts (`ModuleFacts.calls`).
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from mlaudit.facts.config.syntax import (
    condition_atoms,
    documented_switch,
    is_form_field,
    mentions_config_types,
    mentions_hydra,
    params_of,
    plain_params,
)
from mlaudit.facts.walk import BUILTIN_NAMES, PyContext, iter_nodes

_NO_PARAMS: frozenset[str] = frozenset()


@dataclass(frozen=True)
class FlagTest:
    name: str  # qualified name of a module-level constant ("pkg.mod.USE_X"), or an attribute name
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class BoolConstant:
    name: str  # qualified name
    value: bool
    line: int


@dataclass(frozen=True)
class FlagFacts:
    flag_tests: tuple[FlagTest, ...] = ()  # `if USE_X:` atoms whose name resolves
    bool_constants: tuple[BoolConstant, ...] = ()  # module-level `NAME = True/False`
    # Qualified names of module-level names used anywhere other than a condition or their own
    # definition (so they are not pure flags), plus names assigned more than once.
    non_flag_uses: tuple[str, ...] = ()
    attribute_stores: tuple[str, ...] = ()  # `mod.NAME = ...` targets, qualified
    attribute_tests: tuple[FlagTest, ...] = ()  # `if x.use_amp:` atoms, by attribute name
    attribute_uses: tuple[str, ...] = ()  # attribute names assigned, or loaded anywhere but a condition
    constructed: tuple[str, ...] = ()  # last names of the callees given any argument (`Config(...)`)


class FlagUses:
    """Collects `FlagFacts`. Names resolve as `ctx.resolve_name` does at that point of the file;
    a name that is neither imported nor defined at module level (most of them) costs one lookup."""

    def __init__(self) -> None:
        self.known: set[str] = set()  # imported or module-level names: the ones that resolve
        # Per scope: the function, for its parameter names (asked only by a resolvable test).
        self.functions: dict[str, ast.FunctionDef | ast.AsyncFunctionDef] = {}
        self.params: dict[str, set[str]] = {}
        self.gates: tuple[bool, bool] | None = None  # (config annotations, hydra) in the source
        self.not_values: set[int] = set()  # ids of Names that are no value use
        self.conditions: set[int] = set()  # ids of attribute atoms of conditions
        self.flag_tests: list[FlagTest] = []
        self.attribute_tests: list[FlagTest] = []
        self.bool_constants: list[BoolConstant] = []
        self.non_flag: set[str] = set()
        self.module_uses: set[str] = set()  # used names that resolve to this module's own
        self.module_counts: dict[str, int] = {}
        self.attr_stores: set[str] = set()
        self.attribute_uses: set[str] = set()
        self.constructed: set[str] = set()

    def visit_Module(self, node: ast.Module, ctx: PyContext) -> None:
        self.known.update(ctx.module_defs)

    def visit_Import(self, node: ast.Import, ctx: PyContext) -> None:
        self.known.update(alias.asname or alias.name.partition(".")[0] for alias in node.names)

    def visit_ImportFrom(self, node: ast.ImportFrom, ctx: PyContext) -> None:
        self.known.update(alias.asname or alias.name for alias in node.names if alias.name != "*")

    # --- scopes ------------------------------------------------------------------------------

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> None:
        scope = f"{ctx.function}.{node.name}" if ctx.function else node.name
        self.functions[scope] = node
        self.params.pop(scope, None)
        for arg in params_of(node):
            if arg.annotation is not None:
                self._not_values(arg.annotation)
        if node.returns is not None:
            self._not_values(node.returns)

    visit_AsyncFunctionDef = visit_FunctionDef

    def _params(self, ctx: PyContext) -> set[str] | frozenset[str]:
        """Parameters of the enclosing function that shadow module-level names."""
        scope = ctx.function
        params = self.params.get(scope)
        if params is None:
            function = self.functions.get(scope)
            if function is None:
                return _NO_PARAMS
            if self.gates is None:
                self.gates = mentions_config_types(ctx), mentions_hydra(ctx)
            params = self.params[scope] = plain_params(function, ctx, *self.gates)
        return params

    def visit_ClassDef(self, node: ast.ClassDef, ctx: PyContext) -> None:
        for base in node.bases:
            self._not_values(base)

    def _not_values(self, annotation: ast.AST) -> None:
        """Names in an annotation or a class's bases are not uses of the value."""
        stack = [annotation]
        while stack:  # the usual shapes by hand (`int`, `torch.Tensor`, `Optional[X]`, `A | B`)
            node = stack.pop()
            kind = type(node)
            if kind is ast.Name:
                self.not_values.add(id(node))
            elif kind is ast.Attribute:
                stack.append(node.value)  # type: ignore[attr-defined]
            elif kind is ast.Subscript:
                stack += (node.value, node.slice)  # type: ignore[attr-defined]
            elif kind is ast.Tuple or kind is ast.List:
                stack += node.elts  # type: ignore[attr-defined]
            elif kind is ast.BinOp:
                stack += (node.left, node.right)  # type: ignore[attr-defined]
            elif kind is not ast.Constant:
                self.not_values.update(id(n) for n in iter_nodes(node) if type(n) is ast.Name)

    # --- conditions --------------------------------------------------------------------------

    def visit_If(self, node: ast.If | ast.While | ast.IfExp, ctx: PyContext) -> None:
        for atom in condition_atoms(node.test):
            kind = type(atom)
            if kind is ast.Name and type(atom.ctx) is ast.Load:  # type: ignore[attr-defined]
                qual = ctx.resolve_name(atom.id)  # type: ignore[attr-defined]
                if qual and atom.id not in self._params(ctx):  # type: ignore[attr-defined]
                    self.flag_tests.append(FlagTest(qual, *ctx.span(atom)))
                    self.not_values.add(id(atom))  # testing a flag is not using its value
            elif kind is ast.Attribute and type(atom.ctx) is ast.Load:  # type: ignore[attr-defined]
                self.conditions.add(id(atom))
                self.attribute_tests.append(FlagTest(atom.attr, *ctx.span(atom)))  # type: ignore[attr-defined]

    visit_While = visit_IfExp = visit_If

    # --- uses --------------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name, ctx: PyContext) -> None:
        name = node.id
        if name not in self.known or type(node.ctx) is not ast.Load or id(node) in self.not_values:
            return
        target = ctx.imports.get(name)  # imports first, as `ctx.resolve_name`
        if target is None:
            self.module_uses.add(name)  # qualified in `facts`: the module name is fixed
        elif not target.startswith("builtins."):
            self.non_flag.add(target)

    def visit_Attribute(self, node: ast.Attribute, ctx: PyContext) -> None:
        if type(node.ctx) is not ast.Load:
            self.attribute_uses.add(node.attr)  # assigned
            return
        if not self.conditions or id(node) not in self.conditions:
            self.attribute_uses.add(node.attr)
        base = node.value
        if type(base) is ast.Name and base.id not in self.known and base.id not in BUILTIN_NAMES:
            return  # `self.x`: the usual attribute, of a name that resolves to nothing
        qual = self._resolved(node, ctx)
        if qual:
            self.non_flag.add(qual)

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        func = node.func
        if type(func) is ast.Name:
            if func.id in self.known:  # the callee is visited next: only a resolving name is asked about
                self.not_values.add(id(func))  # calling a name is no use of a flag's value
            if node.args or node.keywords:
                target = ctx.imports.get(func.id)
                self.constructed.add(target.rpartition(".")[2] if target is not None else func.id)
        elif type(func) is ast.Attribute and (node.args or node.keywords):
            base = func.value
            while type(base) is ast.Attribute:
                base = base.value
            if type(base) is ast.Name:  # a dotted callee: its last name, as qualname would end
                self.constructed.add(func.attr)

    # --- definitions -------------------------------------------------------------------------

    def visit_Global(self, node: ast.Global, ctx: PyContext) -> None:
        for name in node.names:
            self.module_counts[name] = self.module_counts.get(name, 0) + 2  # rebound in a function

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        targets = node.targets
        for target in targets:
            self._store(target, ctx)
        if not ctx.scope and len(targets) == 1 and type(targets[0]) is ast.Name:
            self._bind(targets[0].id, node.value, node, ctx)

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: PyContext) -> None:
        self._not_values(node.annotation)
        if node.value is not None and type(node.target) is ast.Name:
            self._store(node.target, ctx)
            if not ctx.scope:
                self._bind(node.target.id, node.value, node, ctx)

    def visit_AugAssign(self, node: ast.AugAssign, ctx: PyContext) -> None:
        self._store(node.target, ctx)

    def _store(self, target: ast.AST, ctx: PyContext) -> None:
        kind = type(target)
        if kind is ast.Name:
            if not ctx.scope:
                name = target.id  # type: ignore[attr-defined]
                self.module_counts[name] = self.module_counts.get(name, 0) + 1
        elif kind is ast.Tuple or kind is ast.List:
            for element in target.elts:  # type: ignore[attr-defined]
                self._store(element, ctx)
        elif kind is ast.Attribute:
            qual = self._resolved(target, ctx)  # type: ignore[arg-type]
            if qual:
                self.attr_stores.add(qual)

    def _resolved(self, node: ast.Attribute, ctx: PyContext) -> str | None:
        """The qualified name of a dotted chain whose root name resolves (an import, a module
        def, a builtin); None for `self.x` and other chains `ctx.qualname` would only reject."""
        base = node.value
        while type(base) is ast.Attribute:
            base = base.value
        if type(base) is ast.Name and (base.id in self.known or base.id in BUILTIN_NAMES):
            return ctx.qualname(node)
        return None

    def _bind(self, name: str, value: ast.AST, node: ast.Assign | ast.AnnAssign, ctx: PyContext) -> None:
        """A module-level `NAME = True/False`: a constant, unless the file says it is an input."""
        if type(value) is not ast.Constant or not isinstance(value.value, bool):
            return
        qual = ctx.resolve_name(name)
        if not qual:
            return
        if ctx.line_map.file_lines or is_form_field(node, ctx) or documented_switch(node, ctx):
            # A notebook's top-level values (Colab form fields above all) are its inputs: the
            # reader edits the cell and reruns; they are no constants. Nor is a constant whose
            # comment tells the reader when to flip it.
            self.non_flag.add(qual)
        else:
            self.bool_constants.append(BoolConstant(qual, value.value, node.lineno))

    # --- result ------------------------------------------------------------------------------

    def facts(self, ctx: PyContext) -> FlagFacts:
        non_flag = set(self.non_flag)
        for name in self.module_uses:
            own = f"{ctx.module}.{name}" if ctx.module else name
            if not own.startswith("builtins."):
                non_flag.add(own)
        for name, count in self.module_counts.items():
            qual = ctx.resolve_name(name) if count > 1 else None
            if qual:
                non_flag.add(qual)
        return FlagFacts(
            flag_tests=tuple(self.flag_tests),
            bool_constants=tuple(self.bool_constants),
            non_flag_uses=tuple(sorted(non_flag)),
            attribute_stores=tuple(sorted(self.attr_stores)),
            attribute_tests=tuple(self.attribute_tests),
            attribute_uses=tuple(sorted(self.attribute_uses)),
            constructed=tuple(sorted(self.constructed)),
        )
