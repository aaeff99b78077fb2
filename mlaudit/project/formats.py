"""Loading TOML, JSON and YAML for the dependency reader, with one error type that has a line."""

from __future__ import annotations

import json
import re
import sys
from typing import Any

import yaml

from mlaudit.project.requirements import ManifestError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

# The C loader is several times faster on the multi-megabyte pixi.lock files of big projects.
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_TOML_POSITION = re.compile(r"\(at line (\d+), column \d+\)")


def load_toml(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        message = str(error)
        match = _TOML_POSITION.search(message)
        line = int(match.group(1)) if match else max(1, text.count("\n") + 1)
        raise ManifestError(f"invalid TOML: {_TOML_POSITION.sub('', message).strip()}", line) from None


def load_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ManifestError(f"invalid JSON: {error.msg}", error.lineno) from None


def load_yaml(text: str) -> Any:
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None


def compose_yaml(text: str) -> yaml.Node | None:
    """The YAML node tree, which keeps the line of every value (safe_load forgets them)."""
    try:
        return yaml.compose(text, Loader=yaml.SafeLoader)
    except yaml.YAMLError as error:
        raise _yaml_error(error) from None


def _yaml_error(error: yaml.YAMLError) -> ManifestError:
    mark = getattr(error, "problem_mark", None) or getattr(error, "context_mark", None)
    problem = getattr(error, "problem", None) or str(error)
    return ManifestError(f"invalid YAML: {problem}", mark.line + 1 if mark is not None else 1)


def expect_mapping(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise ManifestError(f"{what}: expected a mapping at the top level", 1)
    return data
