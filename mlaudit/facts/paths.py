"""Absolute filesystem paths written as string literals in Python code (for ML403).

Recorded during the single walk: each literal (or f-string whose first piece is a literal) that
starts like a machine-specific location (`/home/…`, `/mnt/…`, `C:\\…`, `~/…`). Literals whose
place says they are not a location are skipped: docstrings, comparisons and string-method
arguments (`p.startswith("/home/")`), `sys.path` edits (code, not data), the fallback of
`os.environ.get`/`os.getenv` (the path already comes from the environment), and suffixes added
to something else (`base_url + "/data/x.csv"`).
"""

from __future__ import annotations

import ast
import re
import string
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlaudit.facts.walk import Callees, PyContext, iter_nodes
from mlaudit.knowledge.paths import CLUSTER_ROOTS

# Folders that only exist on someone's machine or cluster. `/tmp/` is not one: every POSIX machine
# has it, so a scratch path there (a tutorial's `/tmp/flax_ckpt`) runs anywhere.
MACHINE_ROOTS = (
    "/home/", "/Users/", "/mnt/", "/media/", "/data/", "/datasets/", "/scratch/", "/storage/", "/nfs/",
    "/gpfs/", "/lustre/", "/raid/", "/root/", "/Volumes/", "/checkpoint/",
)
# Home folders of container images, not of a person (`/home/user` in a sandbox, Jupyter's
# `/home/jovyan`, the CI runner's `/home/runner`): the same on every run of that image.
CONTAINER_HOMES = ("/home/user", "/home/jovyan", "/home/runner")
_WINDOWS = re.compile(r"^[A-Za-z]:[\\/]+[^\\/\s]")
# Calls whose string arguments are code locations or text, not data locations.
SKIP_CALLEES = frozenset({
    "sys.path.append", "sys.path.insert", "sys.path.extend", "site.addsitedir", "os.environ.get", "os.getenv",
    "os.environ.setdefault", "urllib.parse.urljoin",
})
# str methods: their arguments are patterns to look for, not places to read or write.
STR_METHODS = frozenset({
    "startswith", "endswith", "replace", "split", "rsplit", "strip", "lstrip", "rstrip", "removeprefix",
    "removesuffix", "find", "rfind", "index", "rindex", "count", "partition", "rpartition",
})
MAX_PATH_LENGTH = 400


@dataclass(frozen=True)
class PathLiteral:
    value: str
    line: int
    col: int
    end_line: int
    end_col: int


def machine_path(value: str) -> bool:
    """Whether `value` is an absolute path to a machine-specific location (not a URL, not /dev/null)."""
    if not value or len(value) > MAX_PATH_LENGTH or "\n" in value or "://" in value:
        return False
    first = value[0]
    if first == "~":
        return value.startswith("~/") and len(value) > 2 and not value.startswith("~/.")  # ~/.cache: settings
    if first != "/":
        return bool(_WINDOWS.match(value))
    if value in CLUSTER_ROOTS:
        return True
    if any(value == home or value.startswith(home + "/") for home in CONTAINER_HOMES):
        return False
    return any(value.startswith(root) and len(value) > len(root) for root in MACHINE_ROOTS)


@dataclass(frozen=True)
class PathFacts:
    literals: tuple[PathLiteral, ...] = ()


class PathLiterals:
    """Listener: absolute machine paths in string literals.

    Machine paths are rare (6 of lightning's 646 modules have a candidate), so the walk only notes
    the literals that look like one, and the arguments of calls whose arguments are not locations
    (that needs the callee as resolved at that point of the walk). Which other literals are not
    locations (`_mark_*`: docstrings, comparisons, suffixes, fallbacks, tables of roots, an
    f-string's pieces) is read from the tree at the end, only in a module with a candidate. Each
    mark covers only nodes under the node that makes it, which the walk visits first, so a mark
    read at the end says what it would have said when the literal was visited.
    """

    # Only the opt-in ML403 reads these facts: the walk leaves this listener out unless a
    # selected rule says it needs them.
    on_demand = True
    produces = PathFacts

    def __init__(self) -> None:
        self.module: ast.Module | None = None
        self.candidates: list[tuple[ast.Constant | ast.JoinedStr, str]] = []
        self.call_arguments: list[ast.expr] = []  # arguments that are not data locations

    def visit_Module(self, node: ast.Module, ctx: PyContext) -> None:
        self.module = node

    # The walk hands visit_routed_call only these calls: their arguments are not data locations.
    routed_calls = Callees(SKIP_CALLEES, methods=STR_METHODS)

    def visit_routed_call(self, node: ast.Call, ctx: PyContext) -> None:
        func = node.func
        method = func.attr if isinstance(func, ast.Attribute) else ""
        if method in STR_METHODS or ctx.qualname(func) in SKIP_CALLEES:
            self.call_arguments.extend(node.args)
            self.call_arguments.extend(k.value for k in node.keywords)

    def visit_JoinedStr(self, node: ast.JoinedStr, ctx: PyContext) -> None:
        first = node.values[0] if node.values else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
        if machine_path(literal):
            self.candidates.append((node, literal))

    def visit_Constant(self, node: ast.Constant, ctx: PyContext) -> None:
        value = node.value
        # machine_path's own first test, written out: this runs for every constant
        if type(value) is str and value[:1] in _PATH_STARTS and machine_path(value):
            self.candidates.append((node, value))

    def facts(self, ctx: PyContext) -> PathFacts:
        if not self.candidates or self.module is None:
            return PathFacts()
        skip = self._not_locations(self.module)
        found = []
        for node, value in self.candidates:
            if id(node) not in skip:
                line, col, end_line, end_col = ctx.span(node)
                found.append(PathLiteral(value, line, col, end_line, end_col))
        return PathFacts(tuple(found))

    def _not_locations(self, module: ast.Module) -> set[int]:
        """Ids of the literals whose place says they are not a location."""
        skip: set[int] = set()
        roots: list[ast.AST] = list(self.call_arguments)  # subtrees whose literals are not locations
        for node in iter_nodes(module):
            mark = _MARKS.get(type(node))
            if mark is not None:
                mark(node, skip, roots)
        for root in roots:
            _skip_tree(root, skip)
        return skip


def _mark_expr(node: ast.Expr, skip: set[int], roots: list[ast.AST]) -> None:
    if isinstance(node.value, ast.Constant):  # docstrings and bare strings
        skip.add(id(node.value))


def _mark_elements(node: ast.Tuple | ast.List | ast.Set, skip: set[int], roots: list[ast.AST]) -> None:
    # A table of roots (`("/checkpoint", "/scratch")`) names places to recognise, not a location.
    for element in node.elts:
        if isinstance(element, ast.Constant) and isinstance(element.value, str) and element.value in CLUSTER_ROOTS:
            skip.add(id(element))


def _mark_fallback(node: ast.If, skip: set[int], roots: list[ast.AST]) -> None:
    # `if vocab_path is None: vocab_path = "~/model"`: the fallback of a configurable value, like
    # the default of `os.environ.get`.
    test = node.test
    if not (isinstance(test, ast.Compare) and isinstance(test.left, ast.Name) and len(test.ops) == 1
            and isinstance(test.ops[0], ast.Is) and isinstance(test.comparators[0], ast.Constant)
            and test.comparators[0].value is None):
        return
    for statement in node.body:
        if isinstance(statement, ast.Assign) and any(
                isinstance(t, ast.Name) and t.id == test.left.id for t in statement.targets):
            roots.append(statement.value)


def _mark_comparison(node: ast.Compare, skip: set[int], roots: list[ast.AST]) -> None:
    roots.append(node.left)
    roots.extend(node.comparators)


def _mark_suffix(node: ast.BinOp, skip: set[int], roots: list[ast.AST]) -> None:
    # `base_url + "/data/x.csv"`: a suffix appended to something else is not an absolute location.
    if isinstance(node.op, ast.Add) and not _starts_with_literal(node.left):
        roots.append(node.right)


def _mark_fstring_pieces(node: ast.JoinedStr, skip: set[int], roots: list[ast.AST]) -> None:
    # Its pieces and nested f-strings; the f-string itself is judged by its own first piece.
    roots.extend(ast.iter_child_nodes(node))


_MARKS: dict[type, Callable[[Any, set[int], list[ast.AST]], None]] = {
    ast.Expr: _mark_expr,
    ast.Tuple: _mark_elements,
    ast.List: _mark_elements,
    ast.Set: _mark_elements,
    ast.If: _mark_fallback,
    ast.Compare: _mark_comparison,
    ast.BinOp: _mark_suffix,
    ast.JoinedStr: _mark_fstring_pieces,
}


# What a machine path can start with (see machine_path): "/", "~", or a Windows drive letter.
_PATH_STARTS = frozenset("/~" + string.ascii_letters)


def _skip_tree(node: ast.AST, skip: set[int]) -> None:
    base = node
    while isinstance(base, ast.Attribute):
        base = base.value
    if isinstance(base, ast.Name):
        return  # the common operand, a dotted name, holds no literal
    for child in ast.walk(node):
        if isinstance(child, (ast.Constant, ast.JoinedStr)):
            skip.add(id(child))


def _starts_with_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.JoinedStr) and bool(node.values) and isinstance(node.values[0], ast.Constant)
    )


EXTRACTORS = [PathLiterals]
