"""Statement order inside one scope, for the rules that follow data through a function or a
notebook (ML110, ML111, ML8xx).

A *scope* is a module's top level (a notebook's cells joined in order) or one function body.
Nested functions, classes and lambdas are scopes of their own and are not entered. Statements
come in source order, compound statements (if/for/while/with/try) flattened, which is the order
they run in on the straight path; loops and branches are not modelled.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from typing import Any

from mlaudit.facts.walk import PUSHERS, pusher

_NESTED = (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef, ast.Lambda)
_BODIES = ("body", "orelse", "finalbody", "handlers")
_FUNCTIONS = (ast.FunctionDef, ast.AsyncFunctionDef)
# Fields that hold statements (directly, or through except handlers and match cases).
_STATEMENT_FIELDS = frozenset({"body", "orelse", "finalbody", "handlers", "cases"})


def _subclasses(base: type) -> set[type]:
    found: set[type] = set()
    sub: type
    for sub in base.__subclasses__():
        found |= {sub, *_subclasses(sub)}
    return found


# Node kinds that own_nodes does not enter: statements (compound bodies are statements of their
# own) and nested scopes. A set of classes: cheaper to test than isinstance against a tuple.
_NOT_OWN = frozenset({*_subclasses(ast.stmt), ast.Lambda})


class _Memo:
    """What the flow rules (five of them, each at the end of the same module) ask of one tree, worked
    out once: its scopes, each body's statements and each statement's own nodes. Held for the last
    tree only: a worker analyses one file at a time, and holding the tree keeps the ids valid."""

    tree: ast.Module | None = None
    scopes: list[tuple[ast.AST, list[ast.stmt]]] = []
    statements: dict[int, list[ast.stmt]] = {}
    nodes: dict[int, list[ast.AST]] = {}

    @classmethod
    def use(cls, tree: ast.Module) -> None:
        if cls.tree is not tree:
            cls.tree, cls.statements, cls.nodes = tree, {}, {}
            found: list[tuple[ast.AST, list[ast.stmt]]] = [(tree, tree.body)]
            found += [(n, n.body) for n in _functions(tree)]
            cls.scopes = found


def _functions(tree: ast.Module) -> list[ast.FunctionDef | ast.AsyncFunctionDef]:
    """Every function of the tree in `ast.walk`'s breadth-first order, visiting statements only
    (functions sit in statement lists): breadth-first order is depth-first order, stably sorted by
    depth."""
    found: list[tuple[int, int, Any]] = []
    stack: list[tuple[Any, int]] = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, _FUNCTIONS):
            found.append((depth, len(found), node))
        children = [(c, depth + 1) for f in node._fields if f in _STATEMENT_FIELDS for c in getattr(node, f) or ()
                    if isinstance(c, ast.AST)]
        stack.extend(reversed(children))
    found.sort(key=lambda item: (item[0], item[1]))
    return [node for _, _, node in found]


def scopes(tree: ast.Module) -> Iterator[tuple[ast.AST, list[ast.stmt]]]:
    """The module and every function in it (methods included), each with its body."""
    _Memo.use(tree)
    return iter(_Memo.scopes)


def statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    """Every statement of a scope in source order, compound ones before their bodies."""
    known = _Memo.statements.get(id(body))
    if known is None:
        known = _Memo.statements[id(body)] = list(_statements(body))
    return iter(known)


def _statements(body: list[ast.stmt]) -> Iterator[ast.stmt]:
    for stmt in body:
        if isinstance(stmt, _NESTED):
            continue
        yield stmt
        for field in _BODIES:
            inner = getattr(stmt, field, None)
            if isinstance(inner, list):
                yield from _statements([s for s in inner if isinstance(s, ast.stmt)] + _handler_bodies(inner))
        if isinstance(stmt, ast.Match):
            for case in stmt.cases:
                yield from _statements(case.body)


def _handler_bodies(items: list[object]) -> list[ast.stmt]:
    out: list[ast.stmt] = []
    for item in items:
        if isinstance(item, ast.ExceptHandler):
            out.extend(item.body)
    return out


def own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    """`node` and its descendants, without entering nested functions, classes or lambdas, and
    without the bodies of compound statements (those are statements of their own)."""
    if isinstance(node, ast.stmt) and _Memo.tree is not None:
        known = _Memo.nodes.get(id(node))
        if known is None:
            known = _Memo.nodes[id(node)] = _own_node_list(node)
        return iter(known)
    return _own_nodes(node)


def _own_nodes(node: ast.AST) -> Iterator[ast.AST]:
    return iter(_own_node_list(node))


def _own_node_list(node: ast.AST) -> list[ast.AST]:
    """Depth first in source order, with the walk's generated pushers (the Load/Store markers
    are left out: no rule asks about them)."""
    out = [node]
    stack: list[Any] = []
    push = pusher(type(node))
    if push is not None:
        push(node, stack)
    pop, keep, skip, pushers = stack.pop, out.append, _NOT_OWN, PUSHERS
    while stack:
        current = pop()
        kind = type(current)
        if kind in skip:
            continue
        keep(current)
        push = pushers[kind] if kind in pushers else pusher(kind)
        if push is not None:
            push(current, stack)
    return out


def root_name(expr: ast.AST) -> str | None:
    """The variable an expression reads its data from: `X` for `X`, `X.values`, `X[cols]`,
    `X.iloc[:, 1:]`, `X.to_numpy()`; None for anything else."""
    while True:
        if isinstance(expr, ast.Name):
            return expr.id
        if isinstance(expr, (ast.Attribute, ast.Subscript)):
            expr = expr.value
        elif isinstance(expr, ast.Call) and isinstance(expr.func, ast.Attribute):
            expr = expr.func.value
        else:
            return None


def names_read(expr: ast.AST) -> set[str]:
    """Names loaded anywhere in an expression (nested scopes aside)."""
    return {n.id for n in own_nodes(expr) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def target_names(target: ast.AST) -> list[str]:
    """Names bound by an assignment target (`a`, `a, b`, `[a, *b]`), in order."""
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, ast.Starred):
        return target_names(target.value)
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for elt in target.elts for n in target_names(elt)]
    return []


def kwarg(node: ast.Call, name: str) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def const(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None
