"""Small readers of Python syntax that several config listeners share."""

from __future__ import annotations

import ast
from typing import Any

from mlaudit.facts.walk import BUILTIN_NAMES, PyContext
from mlaudit.knowledge.config import CONFIG_ANNOTATIONS, DOCUMENTED_SWITCH, FORM_FIELD, HYDRA_MAIN


def literal(node: ast.AST) -> Any:
    """The value of a literal expression (numbers, strings, tuples, ...), else None."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def str_arg(call: ast.Call, index: int, keyword: str) -> str | None:
    """A string literal argument, by keyword or else by position; None when not a literal."""
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value.value if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str) else None
    if len(call.args) > index:
        arg = call.args[index]
        return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
    return None


_ATOMS = frozenset({ast.Name, ast.Attribute, ast.Call, ast.Subscript})  # tested as they are


def condition_atoms(test: ast.AST) -> list[ast.AST]:
    """The expressions a condition tests: `a and not b` -> [a, b]; `x == True` -> [x]."""
    if type(test) in _ATOMS:
        return [test]  # most conditions: `if x:`, `if self.training:`, `if f(x):`
    atoms: list[ast.AST] = []
    stack = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BoolOp):
            stack.extend(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            stack.append(node.operand)
        elif isinstance(node, ast.Compare) and all(isinstance(c, ast.Constant) for c in node.comparators):
            stack.append(node.left)
        else:
            atoms.append(node)
    return atoms


def params_of(node: ast.FunctionDef | ast.AsyncFunctionDef) -> list[ast.arg]:
    """Named parameters (positional-only, plain, keyword-only); not *args / **kwargs."""
    args = node.args
    return [*args.posonlyargs, *args.args, *args.kwonlyargs]


def annotation_name(node: ast.AST | None) -> str:
    """The class an annotation names: `DictConfig`, `Optional[DictConfig]`, `"omegaconf.DictConfig"`."""
    if node is None:
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1]
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):  # Optional[DictConfig]
        return annotation_name(node.slice)
    if isinstance(node, ast.BinOp):  # DictConfig | None
        return annotation_name(node.left) or annotation_name(node.right)
    return ""


def mentions_config_types(ctx: PyContext) -> bool:
    """Can any annotation of the file name a config type? (`is_config_annotated` needs the name
    written out.) Asked once per file, so most files skip the per-parameter check."""
    return any(name in ctx.source for name in CONFIG_ANNOTATIONS)


def mentions_hydra(ctx: PyContext) -> bool:
    """Can a decorator of the file resolve to `hydra.main`? Only through an import that names
    hydra, or in a module called hydra."""
    return "hydra" in ctx.source or "hydra" in ctx.module


def is_config_annotated(arg: ast.arg) -> bool:
    """`def fit(trainer: DictConfig)`: a config subtree whatever its name."""
    return arg.annotation is not None and annotation_name(arg.annotation) in CONFIG_ANNOTATIONS


_HYDRA_MAIN_TAIL = HYDRA_MAIN.rpartition(".")[2]


def hydra_mains(node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> list[ast.expr]:
    """The `@hydra.main(...)` decorators of a function (calls, or the bare name)."""
    found = []
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        if callee_tail(target, ctx) == _HYDRA_MAIN_TAIL and ctx.qualname(target) == HYDRA_MAIN:
            found.append(decorator)
    return found


def hydra_param(params: list[ast.arg]) -> ast.arg | None:
    """The parameter a `@hydra.main` function gets its config in: the first one, past self/cls."""
    return next((a for a in params if a.arg not in ("self", "cls")), None)


def plain_params(node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext, typed: bool, hydra: bool) -> set[str]:
    """Parameter names that shadow module-level names in the body. Config parameters (annotated as
    a config, or a `@hydra.main` function's) do not count: the config listeners take them as roots.
    `typed`/`hydra`: whether the file can name a config type / hydra at all (see `mentions_*`)."""
    params = params_of(node)
    names = {a.arg for a in params if not (typed and is_config_annotated(a))}
    if names and hydra and hydra_mains(node, ctx):
        first = hydra_param(params)
        if first is not None:
            names.discard(first.arg)
    return names


def callee_tail(func: ast.AST, ctx: PyContext) -> str | None:
    """The last part of a callee's qualified name, without building the name: `x.y.load` ->
    "load"; a plain name through its import (`from hydra import compose as c`; `c` -> "compose").
    Lets a listener skip the calls it has no row for before it resolves anything."""
    if type(func) is ast.Attribute:
        return func.attr
    if type(func) is ast.Name:
        name = func.id
        target = ctx.imports.get(name)
        if target is not None:
            return target.rpartition(".")[2]
        return name
    return None


def is_resolvable(name: str, ctx: PyContext) -> bool:
    """Does `ctx.resolve_name(name)` give a qualified name (an import, a module-level name, a builtin)?"""
    return name in ctx.imports or name in ctx.module_defs or name in BUILTIN_NAMES


def is_form_field(node: ast.stmt, ctx: PyContext) -> bool:
    line = node.end_lineno or node.lineno
    return 0 < line <= len(ctx.lines) and FORM_FIELD.search(ctx.lines[line - 1]) is not None


def documented_switch(node: ast.stmt, ctx: PyContext) -> bool:
    """Does the comment block right above the statement, or its own trailing comment, document it
    as a switch?"""
    lines = ctx.lines
    text = []
    if 0 < node.lineno <= len(lines) and "#" in lines[node.lineno - 1]:
        text.append(lines[node.lineno - 1].split("#", 1)[1])
    above = node.lineno - 1
    while 0 < above <= len(lines) and lines[above - 1].lstrip().startswith("#"):
        text.append(lines[above - 1])
        above -= 1
    return any(DOCUMENTED_SWITCH.search(t) for t in text)
