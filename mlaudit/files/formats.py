"""TOML, JSON and YAML loading for the dependency reader, failing with `ManifestError`.

TOML and JSON go through the engine's parsers (`mlaudit.files.structured`). YAML does not: lockfiles
need the fast C loader and no per-key line table, and environment.yml needs the node tree,
because the lines of sequence items (`- pytorch=2.1`) are what findings point at.
"""

from __future__ import annotations

from typing import Any

import yaml

from mlaudit.files.requirements import ManifestError
from mlaudit.files.sources import SourceError
from mlaudit.files.structured import parse_json, parse_toml

# Lockfiles: the C loader is several times faster on multi-megabyte pixi.lock files, and the base
# loader keeps every scalar a string, so an unquoted version `1.10` is not read as the float 1.1.
_YAML_LOADER: Any = getattr(yaml, "CBaseLoader", yaml.BaseLoader)


def load_toml(text: str) -> dict[str, Any]:
    try:
        data: dict[str, Any] = parse_toml(text)
    except SourceError as error:
        # tomllib names no line for "at end of document": point at the last line there is.
        raise ManifestError(error.message, error.line or max(len(text.splitlines()), 1)) from None
    return data


def load_json(text: str) -> Any:
    try:
        return parse_json(text)
    except SourceError as error:
        raise ManifestError(error.message, max(error.line, 1)) from None


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    except (RecursionError, MemoryError, ValueError, TypeError) as error:
        raise ManifestError(f"invalid YAML: {_reason(error)}", 1) from None


def compose_yaml(text: str) -> yaml.Node | None:
    """The YAML node tree, which keeps the line of every value (safe_load forgets them)."""
    try:
        node: yaml.Node | None = yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None
    except (RecursionError, MemoryError, ValueError, TypeError) as error:  # the pure-Python composer recurses
        raise ManifestError(f"invalid YAML: {_reason(error)}", 1) from None
    return node


def _reason(error: Exception) -> str:
    if isinstance(error, RecursionError):
        return "nesting too deep"
    if isinstance(error, MemoryError):
        return "out of memory"
    return str(error).splitlines()[0][:200] if str(error).strip() else type(error).__name__


def _yaml_error(error: yaml.YAMLError) -> ManifestError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return ManifestError(f"invalid YAML: {problem}", mark.line + 1 if mark is not None else 1)


def expect_mapping(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ManifestError(f"{what}: expected a mapping at the top level", 1)
    return data
