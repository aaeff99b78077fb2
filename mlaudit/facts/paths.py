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
from dataclasses import dataclass

from mlaudit.facts.walk import PyContext
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
    """Listener: absolute machine paths in string literals."""


    def __init__(self) -> None:
        self.found: list[PathLiteral] = []
        self.skip: set[int] = set()

    def visit_Expr(self, node: ast.Expr, ctx: PyContext) -> None:
        if isinstance(node.value, ast.Constant):  # docstrings and bare strings
            self.skip.add(id(node.value))

    def visit_Tuple(self, node: ast.Tuple | ast.List | ast.Set, ctx: PyContext) -> None:
        # A table of roots (`("/checkpoint", "/scratch")`) names places to recognise, not a location.
        for element in node.elts:
            if isinstance(element, ast.Constant) and isinstance(element.value, str) and element.value in CLUSTER_ROOTS:
                self.skip.add(id(element))

    visit_List = visit_Set = visit_Tuple

    def visit_If(self, node: ast.If, ctx: PyContext) -> None:
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
                self._skip_tree(statement.value)

    def visit_Compare(self, node: ast.Compare, ctx: PyContext) -> None:
        for operand in (node.left, *node.comparators):
            self._skip_tree(operand)

    def visit_BinOp(self, node: ast.BinOp, ctx: PyContext) -> None:
        # `base_url + "/data/x.csv"`: a suffix appended to something else is not an absolute location.
        if isinstance(node.op, ast.Add) and not _starts_with_literal(node.left):
            self._skip_tree(node.right)

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        func = node.func
        method = func.attr if isinstance(func, ast.Attribute) else ""
        if method in STR_METHODS or ctx.qualname(func) in SKIP_CALLEES:
            for arg in (*node.args, *(k.value for k in node.keywords)):
                self._skip_tree(arg)

    def visit_JoinedStr(self, node: ast.JoinedStr, ctx: PyContext) -> None:
        first = node.values[0] if node.values else None
        literal = first.value if isinstance(first, ast.Constant) and isinstance(first.value, str) else ""
        if id(node) not in self.skip and machine_path(literal):
            self._record(node, literal, ctx)
        self._skip_tree(node)

    def visit_Constant(self, node: ast.Constant, ctx: PyContext) -> None:
        if id(node) in self.skip or not isinstance(node.value, str):
            return
        if machine_path(node.value):
            self._record(node, node.value, ctx)

    def _record(self, node: ast.AST, value: str, ctx: PyContext) -> None:
        line, col, end_line, end_col = ctx.span(node)
        self.found.append(PathLiteral(value, line, col, end_line, end_col))

    def _skip_tree(self, node: ast.AST) -> None:
        base = node
        while isinstance(base, ast.Attribute):
            base = base.value
        if isinstance(base, ast.Name):
            return  # the common operand, a dotted name, holds no literal
        for child in ast.walk(node):
            if isinstance(child, (ast.Constant, ast.JoinedStr)):
                self.skip.add(id(child))

    def facts(self, ctx: PyContext) -> PathFacts:
        return PathFacts(tuple(self.found))


def _starts_with_literal(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) or (
        isinstance(node, ast.JoinedStr) and bool(node.values) and isinstance(node.values[0], ast.Constant)
    )


EXTRACTORS = [PathLiterals]
