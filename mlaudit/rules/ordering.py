"""ML110, ML111: data order that no seed fixes.

A directory listing comes back in the file system's order (ext4 hashes names, APFS sorts them,
a copied or re-extracted folder can differ), and iterating a `set` of strings follows string
hashes, which Python randomises per process. Either order is harmless for per-file work, and
becomes a reproducibility bug once it decides *which* item lands where: a split by position, a
seeded shuffle, a label index, a Dataset indexed by position.

Both rules follow variables through one scope at a time (`mlaudit.facts.flow`); what counts as a
listing, a set, or a position-sensitive use is data in the tables below.
"""

from __future__ import annotations

import ast
from collections.abc import Iterable
from dataclasses import dataclass

from mlaudit.facts import flow
from mlaudit.facts.walk import PyContext
from mlaudit.rules.base import PythonRule

# --- knowledge ---------------------------------------------------------------------------------

# Functions that list a directory in the file system's order.
LISTING_FUNCTIONS = frozenset({"os.listdir", "os.scandir", "glob.glob", "glob.iglob"})
# pathlib.Path methods that do the same; matched on the method name (`root.glob("*.png")`).
LISTING_METHODS = frozenset({"glob", "rglob", "iterdir"})
# Wrappers that keep their argument's order.
ORDER_KEEPING = frozenset({"builtins.list", "builtins.tuple", "builtins.filter", "builtins.map", "builtins.reversed"})
# Calls whose result depends on the order of their argument (a split, a seeded shuffle or draw).
ORDER_SENSITIVE_CALLS = frozenset(
    {
        "sklearn.model_selection.train_test_split",
        "sklearn.utils.shuffle",
        "random.shuffle",
        "random.sample",
        "random.choice",
        "random.choices",
        "numpy.random.shuffle",
        "numpy.random.permutation",
        "numpy.random.choice",
        "torch.utils.data.random_split",
    }
)
# Methods of RNG objects with the same property (`rng.shuffle(files)`).
ORDER_SENSITIVE_METHODS = frozenset({"shuffle", "permutation", "choice", "sample"})
# Set operators and methods whose result is again a set.
SET_BUILDERS = frozenset({"builtins.set", "builtins.frozenset"})
_SET_BUILDER_NAMES = frozenset(name.rsplit(".", 1)[-1] for name in SET_BUILDERS)
_INDEX_CALL_NAMES = frozenset({"enumerate", "zip"})
SET_METHODS = frozenset({"union", "intersection", "difference", "symmetric_difference", "copy"})
# Calls that show a set holds strings (its hash order is randomised; small ints are not).
STRING_METHODS = frozenset({"split", "lower", "upper", "strip", "read", "readlines", "splitlines", "replace", "encode"})
# Names that say a mapping is a vocabulary or a label index (only as supporting evidence).
INDEX_NAME_PARTS = ("vocab", "stoi", "itos", "word", "char", "token", "2idx", "2id", "_to_idx", "to_ix", "2ix")


@dataclass
class _Origin:
    node: ast.AST  # where the order came from (the listing call or the set)
    what: str  # as written, for messages


def _call_name(call: ast.Call, ctx: PyContext) -> str:
    return ctx.qualname(call.func) or ""


# --- ML110 -------------------------------------------------------------------------------------


class FilesystemOrder(PythonRule):
    code = "ML110"
    name = "filesystem-order-as-data-order"
    summary = "A directory listing's order (different on every machine) decides a split, a shuffle or a label index"
    valid = (
        "import os, random\nfiles = sorted(os.listdir('data'))\nrandom.seed(0)\nrandom.shuffle(files)\n",
        "import glob\nfrom sklearn.model_selection import train_test_split\n"
        "paths = sorted(glob.glob('data/*.png'))\ntrain, test = train_test_split(paths, random_state=0)\n",
        "import os\nfor name in os.listdir('out'):\n    os.remove(os.path.join('out', name))\n",
        "import os\nn_images = len(os.listdir('data'))\nprint('cache' in os.listdir('.'))\n",
        "import glob\nfiles = glob.glob('data/*.csv')\nfiles.sort()\ntrain = files[:100]\n",
        "from pathlib import Path\nfor p in Path('data').glob('*.txt'):\n    print(p.read_text()[:10])\n",
        "import os, random\nfiles = os.listdir('data')\nrandom.shuffle(files)  # unseeded: random anyway\n",
        "from pathlib import Path\npreview = list(Path('data').rglob('*.jpg'))[:5]\n",
    )
    invalid = (
        "import os, random\nfiles = os.listdir('data')  # expect: ML110\nrandom.seed(0)\nrandom.shuffle(files)\n",
        "import glob\nfiles = glob.glob('data/*.png')  # expect: ML110\nsplit = int(0.8 * len(files))\n"
        "train, val = files[:split], files[split:]\n",
        "import os\nclasses = os.listdir('data/train')  # expect: ML110\n"
        "class_to_idx = {c: i for i, c in enumerate(classes)}\n",
        "from pathlib import Path\nfrom sklearn.model_selection import train_test_split\n"
        "paths = [p for p in Path('data').rglob('*.jpg')]  # expect: ML110\n"
        "train, test = train_test_split(paths, test_size=0.2, random_state=0)\n",
        "from os import listdir as ls\nimport random\nfiles = ls('data')  # expect: ML110\nrandom.seed(0)\n"
        "random.shuffle(files)\n",
        "import glob\nfrom torch.utils.data import Dataset\n\nclass Images(Dataset):\n"
        "    def __init__(self, root):\n        self.files = glob.glob(root + '/*.png')  # expect: ML110\n\n"
        "    def __len__(self):\n        return len(self.files)\n\n"
        "    def __getitem__(self, i):\n        return self.files[i]\n",
    )

    # A listing (LISTING_FUNCTIONS, LISTING_METHODS) is spelt by its last name, as a word of its own,
    # in the call or in its import. Plain `requires_text` would let "glob" pass in every module that
    # says "global" (136 of pytorch-lightning's 184 candidates).
    @classmethod
    def may_report(cls, text: str) -> bool:
        return _names_a_listing(text)

    def begin(self, ctx: PyContext) -> None:
        # Lines of the calls that may be listings: methods named like one (`root.glob`) and bare
        # names (`listdir(d)` after `from os import listdir`), judged with the module's final
        # imports at the end. Only the scopes around them need the statement pass: an order
        # problem starts at a listing call in the scope where its order is used.
        self.method_lines: list[int] = []
        self.name_lines: dict[str, list[int]] = {}
        self.seeded = False  # some call is named like seeding: see _draw_is_seeded
        self.classes: list[ast.ClassDef] = []

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        func = node.func
        if type(func) is ast.Attribute:
            name = func.attr
            if name in _LISTING_LAST_NAMES:
                self.method_lines.append(node.lineno)
        elif type(func) is ast.Name:
            name = func.id
            self.name_lines.setdefault(name, []).append(node.lineno)
        else:
            return
        if not self.seeded and "seed" in name.lower():
            self.seeded = True

    def visit_ClassDef(self, node: ast.ClassDef, ctx: PyContext) -> None:
        self.classes.append(node)

    def _listing_lines(self, ctx: PyContext) -> set[int]:
        lines = set(self.method_lines)
        for name, at in self.name_lines.items():
            if ctx.resolve_name(name) in LISTING_FUNCTIONS:
                lines.update(at)
        return lines

    def leave_Module(self, node: ast.Module, ctx: PyContext) -> None:
        # Most files list no folder: the calls seen on the walk spare them the statement-by-statement pass.
        lines = self._listing_lines(ctx)
        if not lines:
            return
        reported: set[int] = set()
        for scope, body in flow.scopes(node):
            if scope is not node and not _within(scope, lines):
                continue
            for origin, use in _listing_uses(body, ctx, self.seeded):
                self._report(origin, use, ctx, reported)
        classes = self.classes
        for cls in classes:  # each origin lies in one class's methods, so their order does not matter
            for origin in _dataset_attributes(cls, ctx):
                self._report(origin, "a Dataset indexes it by position in __getitem__", ctx, reported)

    def _report(self, origin: _Origin, use: str, ctx: PyContext, reported: set[int]) -> None:
        if id(origin.node) in reported:
            return
        reported.add(id(origin.node))
        ctx.report(
            self,
            origin.node,
            f"{origin.what} lists files in the file system's order, which differs between machines and "
            f"copies of the data, and {use}, so the same seed gives different data on another machine; "
            f"wrap it in sorted(...).",
        )


def _within(scope: ast.AST, lines: Iterable[int]) -> bool:
    """Whether one of `lines` falls inside the function `scope`."""
    first, last = scope.lineno, scope.end_lineno or scope.lineno  # type: ignore[attr-defined]
    return any(first <= line <= last for line in lines)


def _listing(expr: ast.AST, ctx: PyContext, tainted: dict[str, _Origin]) -> _Origin | None:
    """Where the order of `expr` comes from, when it is an unsorted directory listing."""
    if isinstance(expr, ast.Name):
        return tainted.get(expr.id)
    if isinstance(expr, ast.Call):
        name = _call_name(expr, ctx)
        if name in LISTING_FUNCTIONS:
            return _Origin(expr, f"{name}()")
        func = expr.func
        if isinstance(func, ast.Attribute) and func.attr in LISTING_METHODS and not name.startswith("glob."):
            if func.attr != "iterdir" and not (expr.args and isinstance(expr.args[0], (ast.Constant, ast.JoinedStr, ast.Name, ast.BinOp))):
                return None
            return _Origin(expr, f".{func.attr}()")
        if name in ORDER_KEEPING:
            return next((o for a in expr.args if (o := _listing(a, ctx, tainted))), None)
        return None
    if isinstance(expr, (ast.ListComp, ast.GeneratorExp)) and expr.generators:
        return _listing(expr.generators[0].iter, ctx, tainted)
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Add):
        return _listing(expr.left, ctx, tainted) or _listing(expr.right, ctx, tainted)
    return None


# Last names of LISTING_FUNCTIONS and LISTING_METHODS.
_LISTING_LAST_NAMES = frozenset({name.rsplit(".", 1)[-1] for name in LISTING_FUNCTIONS} | LISTING_METHODS)
# Each name that holds no other one ("glob" for "iglob"), with the names that hold it and where:
# every listing name holds one of these, and a text without any of them has no listing.
_LISTING_CORES = {
    core: tuple((name, name.index(core)) for name in sorted(_LISTING_LAST_NAMES) if core in name)
    for core in sorted(_LISTING_LAST_NAMES)
    if not any(other != core and other in core for other in _LISTING_LAST_NAMES)
}


def _names_a_listing(text: str) -> bool:
    """Whether `text` has one of _LISTING_LAST_NAMES as a word of its own. `str.find` for the
    cores, then the names around each find, in Python: a regular expression that looks for the
    names is tried at every position of every module (0.02 s of CPU over pytorch-lightning,
    where "glob" is mostly "global")."""
    for core, names in _LISTING_CORES.items():
        found = text.find(core)
        while found >= 0:
            for name, offset in names:
                start = found - offset
                end = start + len(name)
                if start >= 0 and text.startswith(name, start) and _ends_word(text, start - 1) and _ends_word(text, end):
                    return True
            found = text.find(core, found + 1)
    return False


def _ends_word(text: str, index: int) -> bool:
    """Whether a word may end (or start) next to `index`: it is outside the text, or no word
    character (as `\\w` defines one) is there."""
    if index < 0 or index >= len(text):
        return True
    char = text[index]
    return not (char.isalnum() or char == "_")


def _listing_uses(body: list[ast.stmt], ctx: PyContext, seeded: bool) -> list[tuple[_Origin, str]]:
    """(origin, how its order is used) for each listing whose order matters in this scope: a
    seeded draw from it, ids from its positions, or two slices of it (a split by position)."""
    tainted: dict[str, _Origin] = {}
    found: list[tuple[_Origin, str]] = []
    slices: dict[int, list[_Origin]] = {}
    for stmt in flow.statements(body):
        _track_listing(stmt, ctx, tainted)
        for sub in flow.own_nodes(stmt):
            use = _order_use(sub, ctx, tainted, seeded)
            if use is None:
                continue
            if use[1] == SPLIT_BY_POSITION:
                slices.setdefault(id(use[0].node), []).append(use[0])
                if len(slices[id(use[0].node)]) == 2:  # `files[:n]` and `files[n:]`
                    found.append(use)
                continue
            found.append(use)
    return found


def _track_listing(stmt: ast.stmt, ctx: PyContext, tainted: dict[str, _Origin]) -> None:
    if isinstance(stmt, (ast.Assign, ast.AnnAssign)) and stmt.value is not None:
        targets = stmt.targets if isinstance(stmt, ast.Assign) else [stmt.target]
        origin = _listing(stmt.value, ctx, tainted)
        for target in targets:
            if isinstance(target, ast.Name):
                if origin is not None:
                    tainted[target.id] = origin
                else:
                    tainted.pop(target.id, None)
    elif isinstance(stmt, ast.AugAssign) and isinstance(stmt.target, ast.Name):
        origin = _listing(stmt.value, ctx, tainted)
        if origin is not None:
            tainted[stmt.target.id] = origin
    elif isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Call):
        func = stmt.value.func
        if isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name) and func.attr == "sort":
            tainted.pop(func.value.id, None)
    elif isinstance(stmt, ast.For):
        origin = _listing(stmt.iter, ctx, tainted)
        if origin is None:
            return
        # `for f in os.listdir(d): paths.append(...)` builds `paths` in the listing's order.
        for inner in flow.statements(stmt.body):
            call = inner.value if isinstance(inner, ast.Expr) else None
            if (
                isinstance(call, ast.Call)
                and isinstance(call.func, ast.Attribute)
                and call.func.attr in ("append", "extend")
                and isinstance(call.func.value, ast.Name)
            ):
                tainted[call.func.value.id] = origin


SPLIT_BY_POSITION = "it is split by position"


def _order_use(node: ast.AST, ctx: PyContext, tainted: dict[str, _Origin], seeded: bool) -> tuple[_Origin, str] | None:
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Slice) and isinstance(node.ctx, ast.Load):
        piece = node.slice
        if piece.lower is None and piece.upper is None and piece.step is None:
            return None  # a copy
        origin = _listing(node.value, ctx, tainted)
        return (origin, SPLIT_BY_POSITION) if origin else None
    if not isinstance(node, (ast.Call, ast.DictComp)):
        return None
    if isinstance(node, ast.DictComp):
        return _enumerated(node.generators[0].iter, ctx, tainted)
    name = _call_name(node, ctx)
    func = node.func
    sensitive = name in ORDER_SENSITIVE_CALLS or (
        not name and isinstance(func, ast.Attribute) and func.attr in ORDER_SENSITIVE_METHODS
    )
    if sensitive and node.args and _draw_is_seeded(node, name, seeded):
        origin = _listing(node.args[0], ctx, tainted)
        if origin is not None:
            return origin, f"{ctx.segment(func) or 'a shuffle'}() draws from it by position"
    if name == "builtins.dict" and node.args and isinstance(node.args[0], ast.Call):
        inner = node.args[0]
        if _call_name(inner, ctx) in ("builtins.zip", "builtins.enumerate") and inner.args:
            origin = _listing(inner.args[0], ctx, tainted)
            return (origin, "its positions become label ids") if origin else None
    if isinstance(func, ast.Attribute) and func.attr == "index" and node.args:
        origin = _listing(func.value, ctx, tainted)
        return (origin, "its positions become label ids (.index())") if origin else None
    return None


def _draw_is_seeded(node: ast.Call, name: str, seeded: bool) -> bool:
    """A split or shuffle that repeats from run to run (so the listing's order is what varies)."""
    for keyword in ("random_state", "generator", "seed"):
        value = flow.kwarg(node, keyword)
        if value is not None:
            return flow.const(value) is not None or not isinstance(value, ast.Constant)
    if name.startswith("sklearn."):
        return False  # no random_state: random anyway (ML101's business)
    return seeded or not name  # `rng.shuffle(files)`: the generator carries its own seed


def _enumerated(iterable: ast.AST, ctx: PyContext, tainted: dict[str, _Origin]) -> tuple[_Origin, str] | None:
    if isinstance(iterable, ast.Call) and _call_name(iterable, ctx) == "builtins.enumerate" and iterable.args:
        origin = _listing(iterable.args[0], ctx, tainted)
        return (origin, "its positions become label ids") if origin else None
    return None


def _dataset_attributes(cls: ast.ClassDef, ctx: PyContext) -> list[_Origin]:
    """Listings stored on `self` in a class whose __getitem__ indexes that attribute."""
    methods = {m.name: m for m in cls.body if isinstance(m, (ast.FunctionDef, ast.AsyncFunctionDef))}
    getitem = methods.get("__getitem__")
    if getitem is None:
        return []
    indexed = {
        n.value.attr
        for n in ast.walk(getitem)
        if isinstance(n, ast.Subscript)
        and isinstance(n.value, ast.Attribute)
        and isinstance(n.value.value, ast.Name)
        and n.value.value.id == "self"
    }
    found = []
    for method in methods.values():
        tainted: dict[str, _Origin] = {}
        for stmt in flow.statements(method.body):
            _track_listing(stmt, ctx, tainted)
            if not isinstance(stmt, ast.Assign):
                continue
            for target in stmt.targets:
                if (
                    isinstance(target, ast.Attribute)
                    and isinstance(target.value, ast.Name)
                    and target.value.id == "self"
                    and target.attr in indexed
                ):
                    origin = _listing(stmt.value, ctx, tainted)
                    if origin is not None:
                        found.append(origin)
    return found


# --- ML111 -------------------------------------------------------------------------------------


class SetOrder(PythonRule):
    code = "ML111"
    name = "set-order-as-data"
    summary = "A vocabulary or label index built by iterating a set of strings (its order changes every run)"
    valid = (
        "text = open('input.txt').read()\nchars = sorted(set(text))\nstoi = {c: i for i, c in enumerate(chars)}\n",
        "stop = set(open('stop.txt').read().split())\nwords = [w for w in open('a.txt').read().split() if w not in stop]\n",
        "labels = [0, 1, 1, 2]\nclasses = list(set(labels))\nlabel_map = {c: i for i, c in enumerate(classes)}\n",
        "words = open('a.txt').read().split()\nvocab = set(words)\nprint(len(vocab), 'the' in vocab)\n",
        "names = open('labels.txt').read().split()\nid_to_label = list(set(names))\nid_to_label.sort()\n"
        "label_to_id = {lbl: i for i, lbl in enumerate(id_to_label)}\n",
        "labels = list(set(ds['train']['labels']))\nlabel2id = {}\nfor i, label in enumerate(labels):\n"
        "    label2id[label] = i\n",
    )
    invalid = (
        "text = open('input.txt').read()\nchars = list(set(text))\n"
        "stoi = {c: i for i, c in enumerate(chars)}  # expect: ML111\n",
        "words = open('a.txt').read().split()\n"
        "word2idx = {w: i for i, w in enumerate(set(words))}  # expect: ML111\n",
        "def build(lines):\n    vocab = set()\n    for line in lines:\n        vocab.update(line.split())\n"
        "    itos = dict(enumerate(vocab))  # expect: ML111\n    return itos\n",
        "tags = {'PER', 'LOC', 'ORG'}\ntag2id = {}\nfor i, tag in enumerate(tags):  # expect: ML111\n    tag2id[tag] = i\n",
    )

    # Ids come from enumerate() or zip() by name (`_index_from_set`): a file whose text has
    # neither cannot build one.
    requires_text = ("enumerate", "zip")

    # Every set the statement pass can follow starts as a set display, a set comprehension or a
    # call of set()/frozenset() (SET_BUILDERS), and every id it reports comes from a call of
    # enumerate() or zip(). The walk notes the lines of both, so only scopes holding both get the
    # statement pass (a set is followed within its own scope). The check is by the name written,
    # which also counts a shadowed `set` (a pass for nothing, never a missed finding).
    def begin(self, ctx: PyContext) -> None:
        self.set_lines: list[int] = []
        self.index_lines: list[int] = []

    def visit_Set(self, node: ast.Set, ctx: PyContext) -> None:
        self.set_lines.append(node.lineno)

    def visit_SetComp(self, node: ast.SetComp, ctx: PyContext) -> None:
        self.set_lines.append(node.lineno)

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        func = node.func
        name = func.id if type(func) is ast.Name else func.attr if type(func) is ast.Attribute else ""
        if name in _SET_BUILDER_NAMES:
            self.set_lines.append(node.lineno)
        elif name in _INDEX_CALL_NAMES:
            self.index_lines.append(node.lineno)

    def leave_Module(self, node: ast.Module, ctx: PyContext) -> None:
        if not self.set_lines or not self.index_lines:
            return
        for scope, body in flow.scopes(node):
            if scope is not node and not (_within(scope, self.set_lines) and _within(scope, self.index_lines)):
                continue
            for sink, origin in _set_uses(body, ctx):
                ctx.report(
                    self,
                    sink,
                    f"{origin.what} is a set of strings, whose iteration order follows string hashes that "
                    "Python randomises in every process (PYTHONHASHSEED), so the ids built here change from "
                    "run to run; iterate sorted(...) of it instead.",
                )


@dataclass
class _SetInfo:
    origin: _Origin
    strings: bool  # evidence that it holds strings


def _set_expr(expr: ast.AST, ctx: PyContext, sets: dict[str, _SetInfo], values: dict[str, ast.AST]) -> _SetInfo | None:
    if isinstance(expr, ast.Name):
        return sets.get(expr.id)
    if isinstance(expr, (ast.Set, ast.SetComp)):
        return _SetInfo(_Origin(expr, ctx.segment(expr) or "the set"), _has_strings(expr, ctx, values))
    if isinstance(expr, ast.BinOp) and isinstance(expr.op, (ast.BitOr, ast.BitAnd, ast.Sub, ast.BitXor)):
        left = _set_expr(expr.left, ctx, sets, values)
        right = _set_expr(expr.right, ctx, sets, values)
        if left and right:
            return _SetInfo(left.origin, left.strings or right.strings)
        return None
    if not isinstance(expr, ast.Call):
        return None
    name = _call_name(expr, ctx)
    if name in SET_BUILDERS:
        return _SetInfo(_Origin(expr, ctx.segment(expr) or "set(...)"), _has_strings(expr, ctx, values))
    if name in ("builtins.list", "builtins.tuple") and len(expr.args) == 1:
        return _set_expr(expr.args[0], ctx, sets, values)
    func = expr.func
    if isinstance(func, ast.Attribute) and func.attr in SET_METHODS:
        return _set_expr(func.value, ctx, sets, values)
    return None


def _has_strings(expr: ast.AST, ctx: PyContext, values: dict[str, ast.AST], depth: int = 0) -> bool:
    # A subscript (`ds["train"]["labels"]`) says nothing about the values: neither its keys nor
    # what the container was built from.
    keys = {id(n) for s in flow.own_nodes(expr) if isinstance(s, ast.Subscript) for n in ast.walk(s) if n is not s}
    for sub in flow.own_nodes(expr):
        if id(sub) in keys:
            continue
        if isinstance(sub, ast.Constant) and isinstance(sub.value, str):
            return True
        if isinstance(sub, ast.JoinedStr):
            return True
        if isinstance(sub, ast.Call):
            func = sub.func
            if isinstance(func, ast.Attribute) and func.attr in STRING_METHODS:
                return True
            if _call_name(sub, ctx) == "builtins.str":
                return True
        if isinstance(sub, ast.Name) and depth < 3:
            value = values.get(sub.id)
            if value is not None and value is not expr and _has_strings(value, ctx, values, depth + 1):
                return True
    return False


def _set_uses(body: list[ast.stmt], ctx: PyContext) -> list[tuple[ast.AST, _Origin]]:
    sets: dict[str, _SetInfo] = {}
    values: dict[str, ast.AST] = {}
    found: list[tuple[ast.AST, _Origin]] = []
    for stmt in flow.statements(body):
        for sub in flow.own_nodes(stmt):
            hit = _index_from_set(sub, stmt, ctx, sets, values)
            if hit is not None:
                found.append((sub, hit))
        _track_sets(stmt, ctx, sets, values)
    return found


def _track_sets(stmt: ast.stmt, ctx: PyContext, sets: dict[str, _SetInfo], values: dict[str, ast.AST]) -> None:
    if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
        name = stmt.targets[0].id
        info = _set_expr(stmt.value, ctx, sets, values)
        values[name] = stmt.value
        if info is not None:
            sets[name] = info
        else:
            sets.pop(name, None)
        return
    # `vocab.update(line.split())` / `vocab.add(word.lower())` tell what the set holds.
    call = stmt.value if isinstance(stmt, ast.Expr) else None
    if isinstance(call, ast.Call) and isinstance(call.func, ast.Attribute) and call.func.attr == "sort":
        if isinstance(call.func.value, ast.Name):
            sets.pop(call.func.value.id, None)  # `labels = list(set(...)); labels.sort()`
        return
    if (
        isinstance(call, ast.Call)
        and isinstance(call.func, ast.Attribute)
        and call.func.attr in ("add", "update")
        and isinstance(call.func.value, ast.Name)
        and call.func.value.id in sets
        and _has_strings(call, ctx, values)
    ):
        sets[call.func.value.id].strings = True


def _index_from_set(
    node: ast.AST, stmt: ast.stmt, ctx: PyContext, sets: dict[str, _SetInfo], values: dict[str, ast.AST]
) -> _Origin | None:
    """The set whose order becomes ids at `node`: `{w: i for i, w in enumerate(S)}`,
    `dict(enumerate(S))`, `dict(zip(S, range(n)))`, `for i, w in enumerate(S)`."""
    iterable: ast.AST | None = None
    target = ""
    if isinstance(node, (ast.DictComp, ast.ListComp)) and node.generators:
        iterable = _enumerate_arg(node.generators[0].iter, ctx)
        target = _assigned_name(stmt)
    elif isinstance(node, ast.For) and node is stmt and _stores_by_key(node):
        iterable = _enumerate_arg(node.iter, ctx)
    elif isinstance(node, ast.Call) and _call_name(node, ctx) == "builtins.dict" and node.args:
        inner = node.args[0]
        if isinstance(inner, ast.Call) and _call_name(inner, ctx) in ("builtins.enumerate", "builtins.zip") and inner.args:
            iterable = inner.args[0]
            target = _assigned_name(stmt)
    if iterable is None:
        return None
    info = _set_expr(iterable, ctx, sets, values)
    if info is None:
        return None
    if info.strings or any(part in target.lower() for part in INDEX_NAME_PARTS):
        return info.origin
    return None


def _stores_by_key(loop: ast.For) -> bool:
    """The loop body fills a mapping (`index[word] = i`)."""
    return any(
        isinstance(n, ast.Subscript) and isinstance(n.ctx, ast.Store) for s in loop.body for n in ast.walk(s)
    )


def _enumerate_arg(expr: ast.AST, ctx: PyContext) -> ast.AST | None:
    if isinstance(expr, ast.Call) and _call_name(expr, ctx) == "builtins.enumerate" and expr.args:
        return expr.args[0]
    return None


def _assigned_name(stmt: ast.stmt) -> str:
    if isinstance(stmt, ast.Assign) and stmt.targets:
        return ctx_name(stmt.targets[0])
    return ""


def ctx_name(target: ast.AST) -> str:
    if isinstance(target, ast.Name):
        return target.id
    if isinstance(target, ast.Attribute):
        return target.attr
    return ""
