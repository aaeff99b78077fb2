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
import configparser
import dataclasses
import posixpath
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import yaml

from mlaudit.files.formats import compose_yaml, load_toml
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
        tool=_pyproject_tool(data),
        anchor_line=_pyproject_anchor(lines, anchor),
        name=_pyproject_name(data),
    )


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
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    try:
        parser.read_string(text)
    except configparser.Error as error:
        raise ManifestError(f"invalid setup.cfg: {error.message}", _config_error_line(error)) from None
    lines = _Lines(text)
    requirements: list[Requirement] = []
    if parser.has_option("options", "install_requires"):
        requirements += _cfg_requirements(parser["options"]["install_requires"], lines, "options", "install_requires", "", path)
    if parser.has_section("options.extras_require"):
        for extra, value in parser["options.extras_require"].items():
            group = "extra:" + normalize_name(extra)
            requirements += _cfg_requirements(value, lines, "options.extras_require", extra, group, path)
    anchor = min((r.line for r in requirements), default=1)
    return Manifest(path, "setup-cfg", tuple(requirements), tool="setuptools", anchor_line=anchor)


def _config_error_line(error: configparser.Error) -> int:
    line = getattr(error, "lineno", None)
    if line is None and isinstance(error, configparser.ParsingError) and error.errors:
        line = error.errors[0][0]
    return int(line or 1)


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
    module-level names bound to literals (`REQUIRED = [...]`, `base + ["x"]`). `tree` is the file as
    the per-file stage already parsed it (setup.py is parsed once); without it the text is parsed."""
    if tree is None:
        try:
            tree = ast.parse(text)
        except SyntaxError as error:
            raise ManifestError(f"invalid Python: {error.msg}", error.lineno or 1) from None
    names = _module_bindings(tree)
    requirements: list[Requirement] = []
    anchor = 0
    for call in _setup_calls(tree):
        anchor = anchor or call.lineno
        for keyword in call.keywords:
            if keyword.arg == "install_requires":
                requirements += _requirements_of(keyword.value, names, "", path)
            elif keyword.arg == "extras_require":
                requirements += _extras_of(keyword.value, names, path)
    return Manifest(path, "setup-py", tuple(requirements), tool="setuptools", anchor_line=anchor or 1)


def _module_bindings(tree: ast.Module) -> dict[str, ast.expr]:
    names: dict[str, ast.expr] = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            names[node.targets[0].id] = node.value
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and node.value is not None:
            names[node.target.id] = node.value
    return names


def _setup_calls(tree: ast.Module) -> Iterator[ast.Call]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            name = func.id if isinstance(func, ast.Name) else func.attr if isinstance(func, ast.Attribute) else ""
            if name == "setup":
                yield node


def _requirements_of(node: ast.expr, names: dict[str, ast.expr], group: str, path: str) -> list[Requirement]:
    return [parse_requirement(s, line=line, source=path, group=group) for s, line in _strings(node, names, 0)]


def _strings(node: ast.expr, names: dict[str, ast.expr], depth: int) -> list[tuple[str, int]]:
    """String literals of a list/tuple literal, a name bound to one, or a `+` of those."""
    if depth > 10:
        return []  # `a = b; b = a` cannot loop forever
    if isinstance(node, (ast.List, ast.Tuple)):
        return [(e.value, e.lineno) for e in node.elts if isinstance(e, ast.Constant) and isinstance(e.value, str)]
    if isinstance(node, ast.Name) and node.id in names:
        return _strings(names[node.id], names, depth + 1)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
        return _strings(node.left, names, depth + 1) + _strings(node.right, names, depth + 1)
    return []  # built at run time (read from a file, a comprehension): unknown statically


def _extras_of(node: ast.expr, names: dict[str, ast.expr], path: str) -> list[Requirement]:
    if isinstance(node, ast.Name) and node.id in names:
        node = names[node.id]
    if not isinstance(node, ast.Dict):
        return []
    out: list[Requirement] = []
    for key, value in zip(node.keys, node.values, strict=True):
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            out += _requirements_of(value, names, "extra:" + normalize_name(key.value), path)
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

# Exact file name -> parser; one line per manifest format.
MANIFEST_PARSERS: dict[str, ManifestParser] = {
    "pyproject.toml": parse_pyproject,
    "setup.cfg": parse_setup_cfg,
    "setup.py": parse_setup_py,
    "Pipfile": parse_pipfile,
    "environment.yml": parse_conda_env,
    "environment.yaml": parse_conda_env,
}

_REQUIREMENTS_NAME = re.compile(r"^(requirements[\w.\-]*\.(txt|in|lock)|constraints[\w.\-]*\.txt)$")
_ENVIRONMENT_NAME = re.compile(r"^environment[\w.\-]*\.ya?ml$")


def manifest_parser(path: str) -> ManifestParser | None:
    name = posixpath.basename(path)
    if name in MANIFEST_PARSERS:
        return MANIFEST_PARSERS[name]
    if _REQUIREMENTS_NAME.match(name) or _in_requirements_dir(path):
        return parse_requirements_file
    if _ENVIRONMENT_NAME.match(name):
        return parse_conda_env
    return None


def _in_requirements_dir(path: str) -> bool:
    # requirements/base.txt, requirements/dev.in: a folder of requirements files.
    folder = posixpath.basename(posixpath.dirname(path)).lower()
    return folder == "requirements" and path.endswith((".txt", ".in"))


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
