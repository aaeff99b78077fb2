"""The repo's module graph: which file an import names, and which definition a dotted name means.

Resolution follows how Python would find the repo's own modules without running anything:
- absolute names against the repo root, a `src/` layout, and package folders declared in
  pyproject (`[tool.setuptools.packages.find] where`, `package-dir`, poetry `packages from`),
  setup.py (`package_dir={"": "src"}`, `find_packages("src")`) and setup.cfg (`[options]
  package_dir`, `[options.packages.find] where`), in any folder of a monorepo;
- the folder of the importing file and its parent folders, because `python examples/mnist/main.py`
  puts `examples/mnist` on sys.path and `import utils` there means `examples/mnist/utils.py`;
- relative imports (already made absolute by the walk);
- re-exports: `from .utils import seed_all` in a package `__init__` makes `pkg.seed_all` resolve.
Imports that stay unresolved are third-party or computed (`sys.path` edits); they are recorded as
unresolved, never guessed.

Build it once per run with `model.analysis(build_module_graph)`.
"""

from __future__ import annotations

import ast
import functools
import operator
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any, NamedTuple

from mlaudit.facts.python import DefFact, ImportFact, ModuleFacts
from mlaudit.files.modules import module_parts
from mlaudit.files.sources import SourceError, SourceFile, read_bytes
from mlaudit.project.model import ProjectModel

MAX_REEXPORT_DEPTH = 8
_NAME = operator.attrgetter("name")
_UNSEEN = "\0unseen"  # marks a look-up not made yet (None is a valid answer: not in the repo)


class Symbol(NamedTuple):  # a tuple: built tens of thousands of times per run, and fast to build
    """A definition in the repo: `name` is dotted within the module ("train", "Net.__init__");
    "" means the module itself."""

    path: str
    name: str
    kind: str  # "function", "class" or "module"


@dataclass
class ModuleGraph:
    facts: dict[str, ModuleFacts]  # path -> facts
    by_name: dict[str, str]  # dotted module name (every known spelling) -> path
    defs: dict[str, dict[str, DefFact]] = field(default_factory=dict)  # path -> def name -> fact
    imports: dict[str, tuple[str, ...]] = field(default_factory=dict)  # path -> resolved module paths
    unresolved: dict[str, tuple[str, ...]] = field(default_factory=dict)  # path -> import targets not in the repo
    # (importer's folder, dotted name) -> path: the same look-ups recur thousands of times per run.
    _found: dict[tuple[str, str], str | None] = field(default_factory=dict, repr=False)
    _importers: dict[str, list[str]] | None = field(default=None, repr=False)  # path -> importers
    # Every part of every spelling of a repo module: a name with another part is no repo module.
    segments: frozenset[str] = field(init=False, repr=False)
    _symbols: dict[tuple[str, str, int], Symbol | None] = field(default_factory=dict, repr=False)  # (folder, name, depth) -> symbol
    _imports_by_name: dict[str, tuple[dict[str, ImportFact], tuple[ImportFact, ...]]] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        self.segments = frozenset(part for name in self.by_name for part in name.split("."))

    # --- modules -----------------------------------------------------------------------------

    def module_path(self, importer: str, dotted: str) -> str | None:
        """The repo file that `import <dotted>` written in `importer` loads, or None."""
        head, slash, _ = importer.rpartition("/")
        return self.module_in(head if slash else ".", dotted)  # PurePosixPath(importer).parent, without its cost

    def module_in(self, folder: str, dotted: str) -> str | None:
        """`module_path` for an importer in `folder` ("." for the root)."""
        if not dotted:
            return None
        segments = self.segments
        if dotted.partition(".")[0] not in segments or dotted.rpartition(".")[2] not in segments:
            # `torch`, `numpy`, `pkg.utils.seed_all`: a module spelt so would have those parts.
            return None
        key = (folder, dotted)
        found = self._found.get(key, _UNSEEN)
        if found is _UNSEEN:
            by_name = self.by_name
            found = self._found[key] = next(
                (by_name[f"{p}{dotted}"] for p in _search_prefixes(folder) if f"{p}{dotted}" in by_name), None
            )
        return found

    def _foreign(self, qualname: str) -> bool:
        """Whether no spelling of a repo module starts like `qualname` (`torch...`, `np...`)."""
        return qualname.partition(".")[0] not in self.segments

    def importers_of(self, path: str) -> list[str]:
        if self._importers is None:  # built on first use: the graph is complete by then
            self._importers = {}
            for importer, targets in self.imports.items():
                for target in targets:
                    self._importers.setdefault(target, []).append(importer)
        return self._importers.get(path, [])

    # --- symbols -----------------------------------------------------------------------------

    def resolve(self, importer: str, qualname: str, depth: int = 0) -> Symbol | None:
        """The repo definition a qualified name refers to from `importer`, or None when it is
        not the repo's own (a library) or cannot be followed."""
        if depth > MAX_REEXPORT_DEPTH or not qualname:
            return None
        # The answer depends only on the importer's folder, the name and the depth left, so it is
        # worked out once: the tracer asks about `torch.nn.functional.relu` and the repo's own
        # helpers thousands of times, and packages whose `__init__`s star-import each other
        # (with modules missing) made every failed look-up retry every star import at every depth
        # (hours on a quarter of diffusers).
        head, slash, _ = importer.rpartition("/")
        key = (head if slash else ".", qualname, depth)
        if key not in self._symbols:
            self._symbols[key] = self._resolve(importer, qualname, depth)
        return self._symbols[key]

    def _resolve(self, importer: str, qualname: str, depth: int) -> Symbol | None:
        if self._foreign(qualname):
            return None  # every cut would start with the same foreign part
        parts = qualname.split(".")
        for cut in range(len(parts), 0, -1):
            path = self.module_path(importer, ".".join(parts[:cut]))
            if path is not None:
                return self._inside(path, parts[cut:], depth)
        return None

    def _inside(self, path: str, rest: list[str], depth: int) -> Symbol | None:
        if not rest:
            return Symbol(path, "", "module")
        defs = self.defs.get(path, {})
        # The longest dotted prefix that is a definition: `Net.__init__`, else `Net`.
        for cut in range(len(rest), 0, -1):
            name = ".".join(rest[:cut])
            if name in defs:
                return Symbol(path, name, defs[name].kind) if cut == len(rest) else self._member(path, name, rest[cut:])
        bound, stars = self._bindings(path)
        fact = bound.get(rest[0])  # re-export: `from .utils import seed_all` in the package
        if fact is not None:
            return self.resolve(path, ".".join([fact.target, *rest[1:]]), depth + 1)
        for fact in stars:
            found = self.resolve(path, ".".join([fact.target, *rest]), depth + 1)
            if found is not None:
                return found
        return None

    def _bindings(self, path: str) -> tuple[dict[str, ImportFact], tuple[ImportFact, ...]]:
        """A module's imports by the name each binds (the first import of a name wins, as the scan
        this replaces found it) and its star imports of repo modules: a package `__init__` that
        re-exports its whole API (diffusers: thousands of names) is looked up by name, not scanned
        per look-up. A star import of a module that is not in the repo binds nothing we can see;
        following it as a dotted name instead (`pkg.missing.name` through `pkg`'s own stars)
        made every failed look-up branch over every star import at every depth."""
        found = self._imports_by_name.get(path)
        if found is None:
            bound: dict[str, ImportFact] = {}
            for fact in self.facts[path].imports:
                if not fact.star:
                    bound.setdefault(fact.local, fact)
            stars = tuple(f for f in self.facts[path].imports if f.star and self.module_path(path, f.target) is not None)
            found = self._imports_by_name[path] = (bound, stars)
        return found

    def _member(self, path: str, cls: str, rest: list[str]) -> Symbol | None:
        """`Class.method` inherited from a base class defined in the repo."""
        if len(rest) != 1:
            return None
        return self.method(path, cls, rest[0])

    def method(self, path: str, cls: str, name: str, depth: int = 0) -> Symbol | None:
        """`cls.name` in `path`, looking through base classes that live in the repo."""
        defs = self.defs.get(path, {})
        if f"{cls}.{name}" in defs:
            return Symbol(path, f"{cls}.{name}", "function")
        if depth > MAX_REEXPORT_DEPTH or cls not in defs:
            return None
        for base in defs[cls].bases:
            found = self.resolve(path, base, depth + 1)
            if found is not None and found.kind == "class":
                member = self.method(found.path, found.name, name, depth + 1)
                if member is not None:
                    return member
        return None

    def star_lookup(self, path: str, name: str) -> Symbol | None:
        """A bare name that only a `from m import *` can have bound."""
        for fact in self._bindings(path)[1]:
            found = self.resolve(path, f"{fact.target}.{name}")
            if found is not None:
                return found
        return None

    def class_of(self, path: str, scope: str) -> str | None:
        """The innermost class enclosing `scope` ("Net.forward" -> "Net")."""
        defs = self.defs.get(path, {})
        parts = scope.split(".")
        for cut in range(len(parts), 0, -1):
            name = ".".join(parts[:cut])
            if defs.get(name) is not None and defs[name].kind == "class":
                return name
        return None


@functools.lru_cache(maxsize=4096)
def _search_prefixes(folder_name: str) -> tuple[str, ...]:
    """Module-name prefixes to try for an import written in a file of `folder_name`: that folder
    and each parent (the script's folder is on sys.path when it is run), then the root."""
    folder = PurePosixPath(folder_name)
    prefixes = []
    while folder.parts and folder.as_posix() != ".":
        prefixes.append(".".join(folder.parts) + ".")
        folder = folder.parent
    prefixes.append("")
    return tuple(prefixes)


def module_spellings(path: str, roots: tuple[str, ...]) -> tuple[list[str], bool]:
    """Every dotted name a file can be imported as: from the repo root, and from each package
    root (`src/`, or a folder declared in pyproject) that contains it."""
    parts, is_package = module_parts(path)
    # The path spelling is kept even when a folder is not an identifier (`fast-style/`): it is
    # only a lookup key, used for imports of siblings by a script run from that folder.
    names = [".".join(parts)] if parts else []
    for root in roots:
        root_parts = root.split("/")
        if parts[: len(root_parts)] == root_parts and len(parts) > len(root_parts):
            rest = parts[len(root_parts):]
            if all(p.isidentifier() for p in rest):
                names.append(".".join(rest))
    return names, is_package


def package_roots(model: ProjectModel) -> tuple[str, ...]:
    """Folders that hold top-level packages: `src`, plus those declared in pyproject, setup.py and
    setup.cfg files anywhere in the repo (a monorepo's `libs/x/setup.py` with
    `package_dir={"": "src"}` makes `libs/x/src` a root)."""
    roots = {"src"}
    for file in model.files.values():
        if file.name not in _DECLARING or file.outside:
            continue
        base = PurePosixPath(file.path).parent
        declared = _declared_roots(model.data(file.path)) if file.name == "pyproject.toml" else _setup_roots(file, model)
        for folder in declared:
            joined = (base / folder).as_posix()
            if joined not in (".", ""):
                roots.add(joined)
    return tuple(sorted(roots))


_DECLARING = frozenset({"pyproject.toml", "setup.py", "setup.cfg"})


def _setup_roots(file: SourceFile, model: ProjectModel) -> list[str]:
    """Package folders a setup.py (`package_dir={"": "src"}`, `find_packages("src")`,
    `find_packages(where="src")`) or setup.cfg (`[options] package_dir = =src`,
    `[options.packages.find] where = src`) declares: literals only, the file is never run."""
    try:
        text = read_bytes(file.abs_path, model.settings.max_bytes).decode("utf-8", "replace")
    except SourceError:
        return []
    found = _setup_cfg_roots(text) if file.name == "setup.cfg" else _setup_py_roots(text)
    return [f.strip("/") for f in found if f.strip("/") not in ("", ".")]


# The names `_setup_py_roots` looks for. An ASCII text without them declares no root and is not
# parsed (lightning's two setup.py files, one of them a module of the package, cost 3 ms); a
# non-ASCII one is, as Python folds some other spellings of an identifier into these (NFKC).
_FINDERS = ("find_packages", "find_namespace_packages")
_PACKAGE_DIR = "package_dir"


def _setup_py_roots(text: str) -> list[str]:
    if text.isascii() and not any(name in text for name in (*_FINDERS, _PACKAGE_DIR)):
        return []
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return []  # ML001 reports the file itself
    found: list[str] = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call):
            continue
        callee = node.func.attr if isinstance(node.func, ast.Attribute) else getattr(node.func, "id", "")
        if callee in _FINDERS:
            where = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "where"), None)
            if isinstance(where, ast.Constant) and isinstance(where.value, str):
                found.append(where.value)
        for keyword in node.keywords:
            if keyword.arg == _PACKAGE_DIR and isinstance(keyword.value, ast.Dict):
                for key, value in zip(keyword.value.keys, keyword.value.values, strict=True):
                    if (isinstance(key, ast.Constant) and key.value == "" and isinstance(value, ast.Constant)
                            and isinstance(value.value, str)):
                        found.append(value.value)
    return found


def _setup_cfg_roots(text: str) -> list[str]:
    import configparser  # for setup.cfg files only (see files.manifests.parse_setup_cfg)

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error:
        return []
    found: list[str] = []
    for line in parser.get("options", "package_dir", fallback="").splitlines():
        name, _, folder = line.partition("=")
        if not name.strip() and folder.strip():
            found.append(folder.strip())
    where = parser.get("options.packages.find", "where", fallback="").strip()
    if where:
        found.append(where)
    return found


def _declared_roots(pyproject: Any) -> list[str]:
    if not isinstance(pyproject, dict):
        return []
    tool = pyproject.get("tool", {}) if isinstance(pyproject.get("tool"), dict) else {}
    found: list[str] = []
    setuptools = tool.get("setuptools", {}) if isinstance(tool.get("setuptools"), dict) else {}
    packages = setuptools.get("packages")
    if isinstance(packages, dict) and isinstance(packages.get("find"), dict):
        where = packages["find"].get("where", [])
        found += [w for w in (where if isinstance(where, list) else [where]) if isinstance(w, str)]
    package_dir = setuptools.get("package-dir")
    if isinstance(package_dir, dict) and isinstance(package_dir.get(""), str):
        found.append(package_dir[""])
    poetry = tool.get("poetry", {}) if isinstance(tool.get("poetry"), dict) else {}
    for entry in poetry.get("packages", []) if isinstance(poetry.get("packages"), list) else []:
        if isinstance(entry, dict) and isinstance(entry.get("from"), str):
            found.append(entry["from"])
    return [f.strip("/") for f in found if f.strip("/") not in ("", ".")]


def build_module_graph(model: ProjectModel) -> ModuleGraph:
    roots = package_roots(model)
    facts: dict[str, ModuleFacts] = {}
    by_name: dict[str, str] = {}
    for file, module in model.python_modules():
        facts[file.path] = module
        if file.format != "python":
            continue  # notebooks are never imported
        names, _ = module_spellings(file.path, roots)
        for name in names:
            by_name.setdefault(name, file.path)
    graph = ModuleGraph(facts, by_name)
    for path, module in facts.items():
        graph.defs[path] = dict(zip(map(_NAME, module.defs), module.defs, strict=True))
    by_folder: dict[str, dict[str, str | None]] = {}
    for path, module in facts.items():
        graph.imports[path], graph.unresolved[path] = _import_edges(graph, path, module.imports, by_folder)
    return graph


def _import_edges(
    graph: ModuleGraph, path: str, imports: tuple[ImportFact, ...], by_folder: dict[str, dict[str, str | None]]
) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The repo modules a file's imports load (an import of a module's attribute loads the module),
    and the import targets that are not repo modules, each once in order. The answer depends only
    on the file's folder and the target: `by_folder` keeps it for the folder's other files."""
    head, slash, _ = path.rpartition("/")
    folder = head if slash else "."
    known = by_folder.setdefault(folder, {})
    segments = graph.segments
    resolved: dict[str, None] = {}
    missing: dict[str, None] = {}
    for fact in imports:
        target = fact.target
        if target.partition(".")[0] not in segments:
            missing[target] = None  # `torch.nn`, half of all imports: `module_in` would say so twice
            continue
        found = known.get(target, _UNSEEN)
        if found is _UNSEEN:
            found = known[target] = graph.module_in(folder, target) or graph.module_in(folder, target.rsplit(".", 1)[0])
        if found is not None:
            resolved[found] = None
        else:
            missing[target] = None
    return tuple(resolved), tuple(missing)


def module_graph(model: ProjectModel) -> ModuleGraph:
    return model.analysis(build_module_graph)
