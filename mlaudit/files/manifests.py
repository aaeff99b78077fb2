"""One reader for dependency manifests and lockfiles.

Manifests (what a project asks for): pyproject.toml (PEP 621 `[project]` and optional
dependencies, PEP 735 `[dependency-groups]`, Poetry dependencies and groups, PDM and uv dev
dependencies), setup.cfg, setup.py (read with `ast`, never executed), Pipfile, environment.yml
(with its `pip:` list), requirements*.txt / *.in (with `-r` / `-c` includes).
Lockfiles (what it resolved to) live in `mlaudit.files.lockfiles`; a requirements file whose
every entry is pinned with `==` also serves as one (`lock_from_requirements`).

Every parser is a pure function of `(path, text)` returning plain frozen data, so results can be
cached by content hash; malformed input raises `ManifestError(message, line)`.
"""

from __future__ import annotations

import ast
import dataclasses
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from mlaudit.files.formats import compose_yaml, load_toml
from mlaudit.files.kinds import dependency_reader
from mlaudit.files.lockfiles import Lockfile, lockfile_parser
from mlaudit.files.requirements import (
    Include,
    ManifestError,
    Requirement,
    conda_name,
    normalize_name,
    normalize_specifier,
    parse_requirement,
    parse_requirements_text,
    read_requirement_line,
)

__all__ = [
    "Include",
    "Lockfile",
    "Manifest",
    "ManifestError",
    "Requirement",
    "dependency_file_kind",
    "expand_includes",
    "lock_from_requirements",
    "parse_manifest",
    "read_dependency_file",
]


@dataclass(frozen=True)
class Manifest:
    path: str
    kind: str  # "pyproject", "setup-cfg", "setup-py", "pipfile", "conda-env", "requirements-txt", "requirements-in"
    requirements: tuple[Requirement, ...] = ()
    includes: tuple[Include, ...] = ()  # -r / -c lines of requirements files and of a conda pip list
    tool: str = ""  # the tool the file says manages it: "poetry", "uv", "pdm", "pipenv", "conda", ...
    anchor_line: int = 1  # where the dependencies are declared; repo-level findings point here
    name: str = ""  # the project's own normalized name (pyproject), so a self-reference is not a dependency


# -- locating lines in TOML -----------------------------------------------------------------------
# tomllib forgets positions, so lines are found again in the text: the table header, then the
# key, then each string after it in order (two equal strings get successive lines).


class _Lines:
    def __init__(self, text: str) -> None:
        self.lines = text.splitlines()

    def find(self, pattern: re.Pattern[str], start: int) -> int:
        """First line at or after `start` (1-based) that matches, or 0."""
        for number in range(max(start, 1), len(self.lines) + 1):
            if pattern.search(self.lines[number - 1]):
                return number
        return 0


class _TomlLines(_Lines):

    def header(self, table: Sequence[str]) -> int:
        """Line of `[a.b.c]` (quoted parts and spaces allowed), or 0 when absent."""
        parts = r"\s*\.\s*".join(r"""["']?""" + re.escape(p) + r"""["']?""" for p in table)
        return self.find(re.compile(r"^\s*\[\s*" + parts + r"\s*\]\s*(#.*)?$"), 1)

    def key(self, table: Sequence[str], key: str) -> int:
        """Line of `key = ...` inside `[table]`, else of `[table.key]`, else of `[table]`, else 0."""
        start = self.header(table)
        if start:
            found = self.find(re.compile(r"""^\s*["']?""" + re.escape(key) + r"""["']?\s*="""), start + 1)
            if found:
                return found
        return self.header([*table, key]) or start or self._dotted_key([*table, key])

    def _dotted_key(self, parts: Sequence[str]) -> int:
        # Dotted keys at the top of the file: `project.dependencies = [...]`.
        return self.find(re.compile(r"^\s*" + r"\s*\.\s*".join(map(re.escape, parts)) + r"\s*="), 1)

    def string(self, value: str, start: int) -> int:
        """Line of the quoted string `value` at or after line `start`, or 0."""
        escaped = re.escape(value)
        return self.find(re.compile("\"" + escaped + "\"|'" + escaped + "'"), max(start, 1))


# -- pyproject.toml -------------------------------------------------------------------------------

# Where PEP 508 string lists live: (table, key or None for "every key of the table", group).
# With key None the table maps names to lists: extras or groups, and the group is prefix + name.
_PEP508_LISTS: tuple[tuple[tuple[str, ...], str | None, str], ...] = (
    (("project",), "dependencies", ""),
    (("project", "optional-dependencies"), None, "extra:"),
    (("dependency-groups",), None, "group:"),
    (("tool", "pdm", "dev-dependencies"), None, "group:"),
    (("tool", "uv"), "dev-dependencies", "group:dev"),
)

# Poetry dependency tables: (table, group); `tool.poetry.group.NAME.dependencies` come on top.
_POETRY_TABLES: tuple[tuple[tuple[str, ...], str], ...] = (
    (("tool", "poetry", "dependencies"), ""),
    (("tool", "poetry", "dev-dependencies"), "group:dev"),
)

# [tool.X] table present -> the tool that manages the project (first match wins).
_PYPROJECT_TOOLS = ("poetry", "uv", "pdm", "pixi", "hatch")


def parse_pyproject(path: str, text: str, data: dict[str, Any] | None = None) -> Manifest:
    """`data` is the TOML already parsed by the per-file stage, when it has it."""
    data = data if data is not None else load_toml(text)
    lines = _TomlLines(text)
    requirements = [*_pep508_requirements(data, lines, path), *_poetry_requirements(data, lines, path)]
    anchor = min((r.line for r in requirements), default=0)
    return Manifest(
        path=path,
        kind="pyproject",
        requirements=tuple(requirements),
        includes=_dynamic_files(data, lines, path),
        tool=_pyproject_tool(data),
        anchor_line=_pyproject_anchor(lines, anchor),
        name=_pyproject_name(data),
    )


def _dynamic_files(data: dict[str, Any], lines: _TomlLines, path: str) -> tuple[Include, ...]:
    """`[tool.setuptools.dynamic] dependencies = {file = ["requirements/base.txt"]}` (and the same
    per extra under `optional-dependencies`): the requirements live in those files."""
    dynamic = _get(data, ("tool", "setuptools", "dynamic"))
    if not isinstance(dynamic, dict):
        return ()
    tables = [dynamic.get("dependencies")]
    extras = dynamic.get("optional-dependencies")
    if isinstance(extras, dict):
        tables += list(extras.values())
    line = lines.header(("tool", "setuptools", "dynamic")) or 1
    out = []
    for table in tables:
        files = table.get("file") if isinstance(table, dict) else None
        for name in [files] if isinstance(files, str) else files if isinstance(files, list) else []:
            if isinstance(name, str) and name.strip():
                out.append(Include(posixpath.normpath(posixpath.join(posixpath.dirname(path), name.strip())), line))
    return tuple(out)


def _pyproject_name(data: dict[str, Any]) -> str:
    for table in (("project",), ("tool", "poetry")):
        name = _get(data, (*table, "name"))
        if isinstance(name, str):
            return normalize_name(name)
    return ""


def _pyproject_tool(data: dict[str, Any]) -> str:
    tools = data.get("tool", {})
    for tool in _PYPROJECT_TOOLS:
        if isinstance(tools, dict) and tool in tools:
            return tool
    backend = _get(data, ("build-system", "build-backend"))
    # "poetry.core.masonry.api" -> poetry, "flit_core.buildapi" -> flit, "hatchling.build" -> hatchling
    return backend.split(".", 1)[0].replace("_", "-").split("-", 1)[0] if isinstance(backend, str) else ""


def _pyproject_anchor(lines: _TomlLines, first_requirement: int) -> int:
    # The `dependencies = [` key line of [project], else the first dependency table, else line 1.
    found = lines.key(("project",), "dependencies") if lines.header(("project",)) else 0
    found = found or lines.header(("tool", "poetry", "dependencies"))
    return found or first_requirement or 1


def _get(data: Any, table: Sequence[str]) -> Any:
    for part in table:
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    return data


def _pep508_requirements(data: dict[str, Any], lines: _TomlLines, path: str) -> Iterator[Requirement]:
    for table, key, group in _PEP508_LISTS:
        value = _get(data, table)
        if not isinstance(value, dict):
            continue
        if key is not None:
            yield from _string_list(value.get(key), lines, table, key, group, path)
            continue
        for name, items in value.items():
            yield from _string_list(items, lines, table, name, group + normalize_name(name), path)


def _string_list(
    items: Any, lines: _TomlLines, table: Sequence[str], key: str, group: str, path: str
) -> Iterator[Requirement]:
    if not isinstance(items, list):
        return
    cursor = key_line = lines.key(table, key)
    where = ".".join(table if table[0] != "project" or len(table) > 1 else (*table, key))
    for item in items:
        if not isinstance(item, str):
            continue  # e.g. PEP 735 {include-group = "test"}
        line = lines.string(item, cursor) or key_line or 1
        cursor = line
        yield dataclasses.replace(parse_requirement(item, line=line, source=path, group=group), table=where)


def _poetry_requirements(data: dict[str, Any], lines: _TomlLines, path: str) -> Iterator[Requirement]:
    tables = list(_POETRY_TABLES)
    groups = _get(data, ("tool", "poetry", "group"))
    if isinstance(groups, dict):
        tables += [(("tool", "poetry", "group", name, "dependencies"), "group:" + name) for name in groups]
    for table, group in tables:
        deps = _get(data, table)
        if not isinstance(deps, dict):
            continue
        for name, value in deps.items():
            if normalize_name(name) == "python":
                continue  # the interpreter constraint, not a package
            line = lines.key(table, name) or 1
            where = ".".join(table[:3])  # tool.poetry.dependencies, tool.poetry.group
            for constraint in value if isinstance(value, list) else [value]:
                yield dataclasses.replace(_poetry_requirement(name, constraint, line, path, group), table=where)


def _poetry_requirement(name: str, value: Any, line: int, path: str, group: str) -> Requirement:
    """One Poetry dependency: `"^2.0"` or `{version = "^2.0", extras = [...], markers = ...}`."""
    table = value if isinstance(value, dict) else {"version": value}
    version = str(table.get("version", "") or "")
    url = _direct_reference(table)
    if table.get("optional") is True and not group:
        group = "extra:"
    return Requirement(
        name=normalize_name(name),
        raw=f"{name} = {value!r}",
        specifier=poetry_specifier(version) if not url else "",
        line=line,
        source=path,
        extras=_extras(table.get("extras")),
        marker=_poetry_marker(table),
        group=group,
        url=url,
    )


def _poetry_marker(table: Mapping[str, Any]) -> str:
    # Poetry limits a dependency with `markers` and with its own `python` and `platform` keys.
    parts = [str(table.get("markers") or "")]
    parts += [f"{key} {table[key]}" for key in ("python", "platform") if table.get(key)]
    return " and ".join(p for p in parts if p)


def _extras(value: Any) -> tuple[str, ...]:
    return tuple(sorted({normalize_name(str(e)) for e in value})) if isinstance(value, list) else ()


def _direct_reference(table: Mapping[str, Any]) -> str:
    """Poetry and Pipfile write VCS, URL and path dependencies as keys of a table."""
    for key in ("git", "url", "path", "file"):
        if isinstance(table.get(key), str):
            revision = next((table[r] for r in ("rev", "tag", "ref", "branch") if isinstance(table.get(r), str)), "")
            prefix = "git+" if key == "git" and not str(table[key]).startswith("git+") else ""
            return f"{prefix}{table[key]}" + (f"@{revision}" if revision else "")
    return ""


_POETRY_SPLIT = re.compile(r"\s*,\s*|\s+(?=[<>=!~^])")


def poetry_specifier(constraint: str) -> str:
    """Poetry constraint -> PEP 440 specifier: `^1.2` -> `>=1.2,<2.0`, `~1.2` -> `>=1.2,<1.3`,
    `1.2` -> `==1.2`, `*` -> "". An `||` alternative is kept as written (its bounds are unknown)."""
    text = constraint.strip()
    if text in ("", "*"):
        return ""
    if "|" in text:
        return text
    return ",".join(_poetry_clause(part) for part in _POETRY_SPLIT.split(text) if part)


def _poetry_clause(part: str) -> str:
    if part.startswith("^"):
        return _bounded(part[1:], _caret_upper)
    if part.startswith("~") and not part.startswith("~="):
        return _bounded(part[1:], _tilde_upper)
    if part[0] in "<>!~":
        return part.replace(" ", "")
    if part.startswith("="):
        return "==" + part.lstrip("= ")
    return "==" + part


def _bounded(version: str, upper: Callable[[list[int]], list[int]]) -> str:
    version = version.strip()
    match = re.match(r"\d+(?:\.\d+)*", version)
    if match is None:
        return ">=" + version
    release = [int(p) for p in match.group(0).split(".")]
    return f">={version},<{'.'.join(map(str, upper(release)))}"


def _caret_upper(release: list[int]) -> list[int]:
    # ^1.2.3 -> 2.0.0, ^0.2.3 -> 0.3.0, ^0.0.3 -> 0.0.4: bump the leftmost non-zero part.
    index = next((i for i, p in enumerate(release) if p != 0), len(release) - 1)
    return _bump(release, index)


def _tilde_upper(release: list[int]) -> list[int]:
    # ~1.2.3 -> 1.3.0, ~1.2 -> 1.3, ~1 -> 2.
    return _bump(release, 1 if len(release) > 1 else 0)


def _bump(release: list[int], index: int) -> list[int]:
    return [*release[:index], release[index] + 1] + [0] * (len(release) - index - 1)


# -- Pipfile --------------------------------------------------------------------------------------

_PIPFILE_NOT_PACKAGES = frozenset({"source", "requires", "scripts", "pipenv", "pipfile"})


def parse_pipfile(path: str, text: str, data: dict[str, Any] | None = None) -> Manifest:
    """Pipfile: `[packages]`, `[dev-packages]` and custom categories map names to specs."""
    data = data if data is not None else load_toml(text)
    lines = _TomlLines(text)
    requirements = []
    for category, deps in data.items():
        if category in _PIPFILE_NOT_PACKAGES or not isinstance(deps, dict):
            continue
        group = "" if category == "packages" else "group:" + ("dev" if category == "dev-packages" else category)
        for name, value in deps.items():
            line = lines.key((category,), name) or 1
            requirements.append(_pipfile_requirement(name, value, line, path, group))
    anchor = lines.header(("packages",)) or min((r.line for r in requirements), default=1)
    return Manifest(path, "pipfile", tuple(requirements), tool="pipenv", anchor_line=anchor)


def _pipfile_requirement(name: str, value: Any, line: int, path: str, group: str) -> Requirement:
    table = value if isinstance(value, dict) else {"version": value}
    version = str(table.get("version", "") or "").strip()
    if version == "*":
        version = ""
    elif version and version[0].isdigit():
        version = "==" + version
    return Requirement(
        name=normalize_name(name),
        raw=f"{name} = {value!r}",
        specifier=_lenient_specifier(version),
        line=line,
        source=path,
        extras=_extras(table.get("extras")),
        marker=str(table.get("markers", "") or ""),
        group=group,
        url=_direct_reference(table),
    )


def _lenient_specifier(text: str) -> str:
    # Pipfile and conda specs reach here already split from the name; keep odd ones as written
    # (their bounds then read as unknown, the cautious answer).
    try:
        return normalize_specifier(text)
    except ManifestError:
        return text.replace(" ", "")


# -- setup.cfg ------------------------------------------------------------------------------------


def parse_setup_cfg(path: str, text: str) -> Manifest:
    """`[options] install_requires` and `[options.extras_require]`, as setuptools reads them."""
    import configparser  # setup.cfg is rare: imported for it only (1 ms of every run's start otherwise)

    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as error:
        line = getattr(error, "lineno", None)
        if line is None and isinstance(error, configparser.ParsingError) and error.errors:
            line = error.errors[0][0]
        raise ManifestError(f"invalid setup.cfg: {error.message}", int(line or 1)) from None
    lines = _Lines(text)
    requirements: list[Requirement] = []
    includes: list[Include] = []
    if parser.has_option("options", "install_requires"):
        value = parser["options"]["install_requires"]
        requirements += _cfg_requirements(value, lines, "options", "install_requires", "", path)
        includes += _cfg_files(value, _cfg_key_line(lines, "options", "install_requires"), path)
    if parser.has_section("options.extras_require"):
        for extra, value in parser["options.extras_require"].items():
            group = "extra:" + normalize_name(extra)
            requirements += _cfg_requirements(value, lines, "options.extras_require", extra, group, path)
            includes += _cfg_files(value, _cfg_key_line(lines, "options.extras_require", extra), path)
    anchor = min((r.line for r in requirements), default=1)
    name = normalize_name(parser["metadata"].get("name", "")) if parser.has_section("metadata") else ""
    return Manifest(
        path, "setup-cfg", tuple(requirements), tuple(includes), tool="setuptools", anchor_line=anchor, name=name
    )


def _cfg_files(value: str, line: int, path: str) -> list[Include]:
    """`install_requires = file: requirements/base.txt` (setuptools >= 62.6; several files split by ",")."""
    text = value.strip()
    if not text.startswith("file:"):
        return []
    names = [n.strip() for n in text[len("file:"):].split(",") if n.strip()]
    return [Include(posixpath.normpath(posixpath.join(posixpath.dirname(path), n)), line or 1) for n in names]


def _cfg_requirements(
    value: str, lines: _Lines, section: str, key: str, group: str, path: str
) -> list[Requirement]:
    if value.strip().startswith("file:"):
        return []  # setuptools reads the named requirements file, which mlaudit reads itself
    # setuptools: a multi-line value is one requirement per line, a one-line value splits at ";".
    items = value.splitlines() if "\n" in value else value.split(";")
    cursor = _cfg_key_line(lines, section, key)
    out = []
    for item in (i.strip() for i in items):
        if not item or item.startswith("#"):
            continue
        cursor = lines.find(re.compile(re.escape(item)), cursor) or cursor
        out.append(parse_requirement(item, line=cursor, source=path, group=group))
    return out


def _cfg_key_line(lines: _Lines, section: str, key: str) -> int:
    header = lines.find(re.compile(r"^\s*\[" + re.escape(section) + r"\]"), 1)
    pattern = re.compile(r"^\s*" + re.escape(key) + r"\s*[=:]", re.IGNORECASE)
    return lines.find(pattern, header + 1) if header else 0


# -- setup.py (static: the file is parsed, never run) --------------------------------------------


def parse_setup_py(path: str, text: str, tree: ast.Module | None = None) -> Manifest:
    """`install_requires` and `extras_require` of a `setup(...)` call, from literals and from
    module-level names bound to literals (`REQUIRED = [...]`, `base + ["x"]`), including the
    Hugging Face pattern: a `_deps` list of requirement strings, a table `deps` built from it by a
    comprehension, `deps["torch"]` and `deps_list("torch", ...)` picking from it, and an `extras = {}`
    filled by `extras["x"] = ...` assignments. `tree` is the file as the per-file stage already
    parsed it (setup.py is parsed once); without it the text is parsed."""
    if tree is None:
        try:
            tree = ast.parse(text)
        except SyntaxError as error:
            raise ManifestError(f"invalid Python: {error.msg}", error.lineno or 1) from None
    scope = _SetupScope(tree)
    requirements: list[Requirement] = []
    anchor = 0
    project = ""
    for call in _setup_calls(tree):
        anchor = anchor or call.lineno
        for keyword in call.keywords:
            if keyword.arg == "install_requires":
                requirements += _requirements_of(keyword.value, scope, "", path)
            elif keyword.arg == "extras_require":
                requirements += _extras_of(keyword.value, scope, path)
            elif keyword.arg == "name":
                value = scope.names.get(keyword.value.id) if isinstance(keyword.value, ast.Name) else keyword.value
                if isinstance(value, ast.Constant) and isinstance(value.value, str):
                    project = normalize_name(value.value)
    return Manifest(path, "setup-py", tuple(requirements), tool="setuptools", anchor_line=anchor or 1, name=project)


class _SetupScope:
    """What the module level of a setup.py binds, read statically: names bound to expressions
    (a dict bound to `{}` and filled by `name["key"] = value` becomes one dict literal), and
    functions (for `deps_list(...)`-style pickers)."""

    # Expressions looked at per file: names can refer to each other many times over (`a = [b, b, b]`,
    # `b = [c, c, c]`, ...), so a hostile setup.py must not make the reading explode.
    BUDGET = 5_000

    def __init__(self, tree: ast.Module) -> None:
        self.budget = self.BUDGET
        self.tables: dict[int, dict[str, tuple[str, int]]] = {}  # id(dict comprehension) -> its entries
        self.names: dict[str, ast.expr] = {}
        self.functions: dict[str, ast.FunctionDef] = {}
        for node in tree.body:
            if isinstance(node, ast.Assign) and len(node.targets) == 1:
                self._assign(node.targets[0], node.value)
            elif isinstance(node, ast.AnnAssign) and node.value is not None:
                self._assign(node.target, node.value)
            elif isinstance(node, ast.FunctionDef):
                self.functions[node.name] = node

    def _assign(self, target: ast.expr, value: ast.expr) -> None:
        if isinstance(target, ast.Name):
            self.names[target.id] = value
            return
        # `extras["torch"] = deps_list("torch")` on a name bound to a dict literal.
        if not (isinstance(target, ast.Subscript) and isinstance(target.value, ast.Name)):
            return
        table = self.names.get(target.value.id)
        key = target.slice
        if isinstance(table, ast.Dict) and isinstance(key, ast.Constant) and isinstance(key.value, str):
            pairs = [(k, v) for k, v in zip(table.keys, table.values, strict=True) if not _is_key(k, key.value)]
            self.names[target.value.id] = ast.Dict(keys=[k for k, _ in pairs] + [key], values=[v for _, v in pairs] + [value])


def _is_key(node: ast.expr | None, key: str) -> bool:
    return isinstance(node, ast.Constant) and node.value == key


def _setup_calls(tree: ast.Module) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "setup":
                yield node


def _requirements_of(node: ast.expr, scope: _SetupScope, group: str, path: str) -> list[Requirement]:
    return [parse_requirement(s, line=line, source=path, group=group) for s, line in _strings(node, scope, 0)]


# Calls that hand back their argument's items: `install_requires=list(install_requires)`.
_PASS_THROUGH_CALLS = frozenset({"list", "sorted", "tuple", "set"})


def _strings(node: ast.expr, scope: _SetupScope, depth: int) -> list[tuple[str, int]]:
    """Requirement strings of an expression: a list/tuple literal, a name bound to one, a `+` of
    those, `list(...)`, an entry of a dict bound at module level (`extras["torch"]`), a lookup in a
    table built from a list of requirements (`deps["torch"]`), or a call to a module-level
    function that picks from such a table (`deps_list("torch", "accelerate")`)."""
    scope.budget -= 1
    if depth > 10 or scope.budget < 0:
        return []  # `a = b; b = a` cannot loop forever, nor `a = [b] * 1000` nest without end
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return [(node.value, node.lineno)]
    if isinstance(node, (ast.List, ast.Tuple)):
        return [s for e in node.elts for s in _strings(e, scope, depth + 1)]
    if isinstance(node, ast.Name) and node.id in scope.names:
        return _strings(scope.names[node.id], scope, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _strings(node.left, scope, depth + 1) + _strings(node.right, scope, depth + 1)
    if isinstance(node, ast.Subscript):
        key = node.slice
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            return _lookup(node.value, key.value, scope, depth + 1)
        return []
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Name):
        if node.func.id in _PASS_THROUGH_CALLS and len(node.args) == 1:
            return _strings(node.args[0], scope, depth + 1)
        return _picked(scope.functions.get(node.func.id), node, scope, depth + 1)
    return []  # built at run time (read from a file, a comprehension): unknown statically


def _lookup(table: ast.expr, key: str, scope: _SetupScope, depth: int) -> list[tuple[str, int]]:
    """`table[key]`: the entry of a dict literal, or the requirement named `key` in a table built
    by a comprehension over a list of requirement strings (`{name: req for ... in _deps}`)."""
    if depth > 10:
        return []
    if isinstance(table, ast.Name) and table.id in scope.names:
        table = scope.names[table.id]
    if isinstance(table, ast.Dict):
        for k, v in zip(table.keys, table.values, strict=True):
            if _is_key(k, key):
                return _strings(v, scope, depth + 1)
        return []
    if isinstance(table, ast.DictComp):
        found = scope.tables.get(id(table))
        if found is None:
            found = scope.tables[id(table)] = _requirement_table(table, scope, depth)
        entry = found.get(_requirement_name(key))
        return [entry] if entry else []
    return []


def _requirement_table(table: ast.DictComp, scope: _SetupScope, depth: int) -> dict[str, tuple[str, int]]:
    """Requirement name -> (requirement, line) for the lists of requirement strings a dict
    comprehension iterates over (read once per table, not once per lookup)."""
    out: dict[str, tuple[str, int]] = {}
    for generator in table.generators:
        for name in (n.id for n in ast.walk(generator.iter) if isinstance(n, ast.Name)):
            for text, line in _strings(scope.names[name], scope, depth + 1) if name in scope.names else []:
                if _parses(text):
                    out.setdefault(_requirement_name(text), (text, line))
    return out


def _picked(function: ast.FunctionDef | None, call: ast.Call, scope: _SetupScope, depth: int) -> list[tuple[str, int]]:
    """`deps_list("torch", "accelerate")` where `def deps_list(*pkgs): return [deps[p] for p in pkgs]`."""
    if function is None or not function.body or not isinstance(function.body[-1], ast.Return):
        return []
    result = function.body[-1].value
    if not (isinstance(result, ast.ListComp) and isinstance(result.elt, ast.Subscript) and len(result.generators) == 1):
        return []
    item = result.generators[0].target
    if not (isinstance(item, ast.Name) and isinstance(result.elt.slice, ast.Name) and result.elt.slice.id == item.id):
        return []
    out: list[tuple[str, int]] = []
    for argument in call.args:
        if isinstance(argument, ast.Constant) and isinstance(argument.value, str):
            out += _lookup(result.elt.value, argument.value, scope, depth + 1)
    return out


def _parses(text: str) -> bool:
    try:
        parse_requirement(text)
    except ManifestError:
        return False
    return True


def _requirement_name(text: str) -> str:
    match = re.match(r"\s*([A-Za-z0-9][A-Za-z0-9._-]*)", text)
    return normalize_name(match.group(1)) if match else ""


def _extras_of(node: ast.expr, scope: _SetupScope, path: str) -> list[Requirement]:
    if isinstance(node, ast.Name) and node.id in scope.names:
        node = scope.names[node.id]
    if not isinstance(node, ast.Dict):
        return []
    out: list[Requirement] = []
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            out += _requirements_of(value, scope, "extra:" + normalize_name(key.value), path)
    return out


# -- environment.yml (conda) ----------------------------------------------------------------------


def parse_conda_env(path: str, text: str) -> Manifest:
    """`dependencies:` conda match specs (`pytorch=2.1`, `numpy >=1.26`) and the `pip:` list."""
    root = compose_yaml(text)
    if not isinstance(root, yaml.MappingNode):
        # Not a conda environment (an `environment*.yaml` can be an RL config): nothing declared.
        return Manifest(path, "conda-env", tool="conda")
    key, deps = _yaml_item(root, "dependencies")
    if key is None or not isinstance(deps, yaml.SequenceNode):
        return Manifest(path, "conda-env", tool="conda")
    requirements: list[Requirement] = []
    includes: list[Include] = []
    for item in deps.value:
        if isinstance(item, yaml.ScalarNode) and str(item.value).strip():
            requirements.append(conda_requirement(str(item.value), item.start_mark.line + 1, path))
        elif isinstance(item, yaml.MappingNode):
            _read_pip_list(_yaml_item(item, "pip")[1], path, requirements, includes)
    anchor = key.start_mark.line + 1
    return Manifest(path, "conda-env", tuple(requirements), tuple(includes), "conda", anchor)


def _yaml_item(mapping: yaml.MappingNode, key: str) -> tuple[yaml.Node | None, yaml.Node | None]:
    for key_node, value_node in mapping.value:
        if isinstance(key_node, yaml.ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None, None


def _read_pip_list(node: yaml.Node | None, path: str, requirements: list[Requirement], includes: list[Include]) -> None:
    if not isinstance(node, yaml.SequenceNode):
        return
    for item in node.value:
        if isinstance(item, yaml.ScalarNode) and str(item.value).strip():
            read_requirement_line(path, item.start_mark.line + 1, str(item.value).strip(), requirements, includes)


_CONDA_SPEC = re.compile(r"^([A-Za-z0-9_][A-Za-z0-9_.\-]*)\s*(.*)$")


def conda_requirement(spec: str, line: int, path: str) -> Requirement:
    """A conda match spec: `pytorch=2.1` (2.1.*), `pytorch==2.1.0`, `numpy >=1.26,<2`,
    `pytorch 2.1.0 py3.10_cuda*`, `conda-forge::numpy`. `pytorch` answers for `torch`."""
    text = spec.strip().split("::", 1)[-1].split("[", 1)[0].strip()
    match = _CONDA_SPEC.match(text)
    if match is None:
        raise ManifestError(f"invalid conda package spec {spec!r}", line)
    return Requirement(
        name=conda_name(match.group(1)),
        raw=spec.strip(),
        specifier=_conda_specifier(match.group(2).strip()),
        line=line,
        source=path,
    )


def _conda_specifier(version: str) -> str:
    if not version:
        return ""
    if version.startswith("=="):
        return _lenient_specifier("==" + version[2:].split("=", 1)[0].strip())  # `==2.1.0=build`
    if version.startswith("="):
        number, equals, build = version[1:].partition("=")
        if equals and build and "*" not in build:
            return _lenient_specifier("==" + number)  # `=1.26.4=py311h64a7726_0`: one exact build
        return _fuzzy(number)
    if version[0] in "<>!~":
        return _lenient_specifier(re.sub(r"\s*,\s*", ",", version).split()[0])
    first = version.split()[0]  # `2.1.0 py3.10_cuda*`: version, then build
    return _fuzzy(first) if first.endswith("*") else _lenient_specifier("==" + first)


def _fuzzy(version: str) -> str:
    # conda's `=2.1` and `2.1*` match 2.1, 2.1.0, 2.1.5, ...: that is PEP 440's `==2.1.*`.
    base = version.rstrip("*").rstrip(".")
    return f"=={base}.*" if base else ""


# -- requirements files ---------------------------------------------------------------------------


def parse_requirements_file(path: str, text: str) -> Manifest:
    kind = "requirements-in" if path.endswith(".in") else "requirements-txt"
    requirements, includes = parse_requirements_text(path, text)
    anchor = min((r.line for r in requirements), default=1)
    tool = "pip-tools" if kind == "requirements-in" or "pip-compile" in text[:2000] else "pip"
    return Manifest(path, kind, requirements, includes, tool, anchor)


def expand_includes(manifest: Manifest, by_path: Mapping[str, Manifest]) -> tuple[Requirement, ...]:
    """The manifest's requirements plus those of the files it `-r`-includes, transitively.

    Constraint files (`-c`) are left out: they limit versions but add no requirement.
    """
    seen = {manifest.path}
    out = list(manifest.requirements)
    pending = [i.path for i in manifest.includes if not i.constraint]
    while pending:
        path = pending.pop(0)
        included = by_path.get(path)
        if included is None or path in seen:
            continue
        seen.add(path)
        out += included.requirements
        pending += [i.path for i in included.includes if not i.constraint]
    return tuple(out)


# Manifest kinds that serve as their own lock when every entry names one release.
_SELF_LOCKING_KINDS = {"requirements-txt": "requirements-lock", "conda-env": "conda-env-lock"}


def lock_from_requirements(manifest: Manifest) -> Lockfile | None:
    """A requirements file serves as a lock when it has entries and every one is pinned
    (`==` or a direct reference to one artifact), as pip-compile or `pip freeze` write them; so
    does an environment.yml exported with exact versions and builds (`conda env export`)."""
    kind = _SELF_LOCKING_KINDS.get(manifest.kind)
    if kind is None or not manifest.requirements:
        return None
    if not all(r.pinned for r in manifest.requirements):
        return None
    packages = sorted({(r.name, r.exact_version or "") for r in manifest.requirements})
    return Lockfile(manifest.path, kind, tuple(packages))


# -- dispatch -------------------------------------------------------------------------------------

ManifestParser = Callable[[str, str], Manifest]

# Reader (named by files/kinds.DEPENDENCY_FILES, which lists the file names) -> parser.
MANIFEST_PARSERS: dict[str, ManifestParser] = {
    "pyproject": parse_pyproject,
    "setup-cfg": parse_setup_cfg,
    "setup-py": parse_setup_py,
    "pipfile": parse_pipfile,
    "conda-env": parse_conda_env,
    "requirements": parse_requirements_file,
}


def manifest_parser(path: str) -> ManifestParser | None:
    reader = dependency_reader(path)
    return MANIFEST_PARSERS.get(reader) if reader is not None else None


def dependency_file_kind(path: str) -> str | None:
    """"manifest", "lockfile", or None when mlaudit's dependency reader does not read the file."""
    if lockfile_parser(path) is not None:
        return "lockfile"
    return "manifest" if manifest_parser(path) is not None else None


def parse_manifest(path: str, text: str) -> Manifest:
    parser = manifest_parser(path)
    if parser is None:
        raise ManifestError(f"{posixpath.basename(path)} is not a dependency manifest mlaudit reads", 1)
    return parser(path, text)


DependencyFile = Manifest | Lockfile


def read_dependency_file(path: str, text: str, parsed: Any = None) -> DependencyFile | None:
    """Parse a manifest or a lockfile by its name; None for other files. `parsed` is the file's
    TOML (or setup.py's `ast`) as the per-file stage already parsed it, so no file is parsed twice."""
    lock = lockfile_parser(path)
    if lock is not None:
        return lock(path, text)
    parser = manifest_parser(path)
    if parser is parse_setup_py and isinstance(parsed, ast.Module):
        return parse_setup_py(path, text, parsed)
    if parser in (parse_pyproject, parse_pipfile) and isinstance(parsed, dict):
        return parse_pyproject(path, text, parsed) if parser is parse_pyproject else parse_pipfile(path, text, parsed)
    return parser(path, text) if parser is not None else None
