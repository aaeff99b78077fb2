"""Lockfiles: which exact versions a project resolved to.

Every parser takes `(path, text)` and returns a `Lockfile` of plain data, or raises
`ManifestError`. Only names and versions are kept: that answers "is this dependency locked?"
(ML501, ML503) and "which torch is locked?" (the version-aware rules).
"""

from __future__ import annotations

import posixpath
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from mlaudit.files.formats import expect_mapping, load_json, load_toml, load_yaml
from mlaudit.files.kinds import dependency_reader
from mlaudit.files.requirements import conda_name, normalize_name

Package = tuple[str, str]  # (PEP 503 name, version); version "" when the lock has none


@dataclass(frozen=True)
class Lockfile:
    path: str
    # "uv-lock", "poetry-lock", "pdm-lock", "pipfile-lock", "pixi-lock", "conda-lock", "pylock", and for
    # manifests pinned so fully they lock: "requirements-lock", "conda-env-lock".
    kind: str
    packages: tuple[Package, ...]
    # pdm.lock records which dependency groups it resolved; empty when the lock covers all of them.
    groups: tuple[str, ...] = ()

    def versions(self, name: str) -> tuple[str, ...]:
        """The locked versions of a package (several when a lock forks by platform or Python)."""
        wanted = normalize_name(name)
        return tuple(sorted({v for n, v in self.packages if n == wanted and v}))

    def names(self) -> frozenset[str]:
        return frozenset(n for n, _ in self.packages)


def _packages(entries: Iterable[Package]) -> tuple[Package, ...]:
    return tuple(sorted(set(entries)))


def _entries(data: dict[str, Any], key: str) -> list[dict[str, Any]]:
    value = data.get(key, [])
    return [entry for entry in value if isinstance(entry, dict)] if isinstance(value, list) else []


def _name_version(entry: dict[str, Any], rename: Callable[[str], str] = normalize_name) -> Package | None:
    name = entry.get("name")
    if not isinstance(name, str) or not name:
        return None
    version = entry.get("version")
    return rename(name), str(version) if version is not None else ""


def _toml_packages(data: dict[str, Any]) -> tuple[Package, ...]:
    """uv.lock, poetry.lock and pdm.lock all list `[[package]]` tables with `name` and `version`."""
    found = (_name_version(entry) for entry in _entries(data, "package"))
    return _packages(p for p in found if p)


def parse_uv_lock(path: str, text: str) -> Lockfile:
    return Lockfile(path, "uv-lock", _toml_packages(load_toml(text)))


def parse_poetry_lock(path: str, text: str) -> Lockfile:
    return Lockfile(path, "poetry-lock", _toml_packages(load_toml(text)))


def parse_pdm_lock(path: str, text: str) -> Lockfile:
    data = load_toml(text)
    metadata = data.get("metadata", {})
    groups = metadata.get("groups", []) if isinstance(metadata, dict) else []
    return Lockfile(path, "pdm-lock", _toml_packages(data), tuple(str(g) for g in groups))


def parse_pylock(path: str, text: str) -> Lockfile:
    """PEP 751 pylock.toml: `[[packages]]` tables with `name` and `version`."""
    return Lockfile(path, "pylock", _packages(p for p in map(_name_version, _entries(load_toml(text), "packages")) if p))


def parse_pipfile_lock(path: str, text: str) -> Lockfile:
    """Pipfile.lock is JSON: `default`, `develop` and custom categories map names to `==X`."""
    data = expect_mapping(load_json(text), "Pipfile.lock")
    found = []
    for category, entries in data.items():
        if category == "_meta" or not isinstance(entries, dict):
            continue
        for name, entry in entries.items():
            version = entry.get("version", "") if isinstance(entry, dict) else ""
            found.append((normalize_name(name), str(version).lstrip("=")))
    return Lockfile(path, "pipfile-lock", _packages(found))


def parse_pixi_lock(path: str, text: str) -> Lockfile:
    """pixi.lock: v6 `packages:` entries keyed `conda: URL` / `pypi: URL`; v4-v5 with `kind:`."""
    data = expect_mapping(load_yaml(text), "pixi.lock")
    entries = _entries(data, "packages") or _entries(data, "package")
    return Lockfile(path, "pixi-lock", _packages(p for p in map(_pixi_package, entries) if p))


def _pixi_package(entry: dict[str, Any]) -> Package | None:
    manager = entry.get("kind") or entry.get("manager") or ("conda" if "conda" in entry else "pypi")
    rename = conda_name if manager == "conda" else normalize_name
    found = _name_version(entry, rename)
    if found is None and isinstance(entry.get("conda"), str):
        # v6 conda entries carry no name: it is in the file name, `name-version-build.conda`.
        found = _conda_file_package(entry["conda"])
    return found


def _conda_file_package(url: str) -> Package | None:
    filename = posixpath.basename(url.split("#", 1)[0])
    for suffix in (".conda", ".tar.bz2"):
        if filename.endswith(suffix):
            parts = filename[: -len(suffix)].rsplit("-", 2)
            if len(parts) == 3:
                return conda_name(parts[0]), parts[1]
    return None


def parse_conda_lock(path: str, text: str) -> Lockfile:
    """conda-lock.yml: a `package:` list of entries with `name`, `version` and `manager`."""
    data = expect_mapping(load_yaml(text), "conda-lock.yml")
    found = []
    for entry in _entries(data, "package"):
        rename = conda_name if entry.get("manager", "conda") == "conda" else normalize_name
        package = _name_version(entry, rename)
        if package:
            found.append(package)
    return Lockfile(path, "conda-lock", _packages(found))


LockParser = Callable[[str, str], Lockfile]

# Reader (named by files/kinds.DEPENDENCY_FILES, which lists the file names) -> parser.
LOCKFILE_PARSERS: dict[str, LockParser] = {
    "uv-lock": parse_uv_lock,
    "poetry-lock": parse_poetry_lock,
    "pdm-lock": parse_pdm_lock,
    "pipfile-lock": parse_pipfile_lock,
    "pixi-lock": parse_pixi_lock,
    "conda-lock": parse_conda_lock,
    "pylock": parse_pylock,
}


def lockfile_parser(path: str) -> LockParser | None:
    reader = dependency_reader(path)
    return LOCKFILE_PARSERS.get(reader) if reader is not None else None
