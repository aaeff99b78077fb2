"""Parsers for YAML, TOML and JSON that keep line numbers and return plain data.

YAML keys keep the line they are written on (`key_lines`), so rules can point at a config key.
Values are converted to JSON-compatible Python (dates become strings) so facts stay cacheable.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

from mlaudit.facts.sources import SourceError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# libyaml's composer is several times faster than the pure-Python one; same nodes and marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Aliases can make a small YAML file expand into billions of nodes; stop long before that.
MAX_YAML_NODES = 200_000


@dataclass(frozen=True)
class YamlFacts:
    documents: tuple[Any, ...]
    key_lines: dict[str, int] = field(default_factory=dict)  # "a.b.0.c" -> 1-based line
    comments: tuple[tuple[int, str], ...] = ()  # (line, text) of lines that start with '#'

    @property
    def data(self) -> Any:
        """The first document, or None for an empty file."""
        return self.documents[0] if self.documents else None


def parse_yaml(text: str) -> YamlFacts:
    try:
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else 0
        problem = getattr(exc, "problem", None) or str(exc)
        raise SourceError(f"invalid YAML: {problem}", line=line) from None
    except RecursionError:
        raise SourceError("invalid YAML: nesting too deep") from None
    converter = _YamlConverter()
    documents = tuple(converter.convert(node, "") for node in nodes if node is not None)
    comments = tuple(
        (i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith("#")
    )
    return YamlFacts(documents, converter.key_lines, comments)


class _YamlConverter:
    def __init__(self) -> None:
        self.key_lines: dict[str, int] = {}
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, prefix: str, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES or depth > 200:
            raise SourceError("YAML too large or too deeply nested (alias expansion?); not analysed")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, prefix, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, f"{prefix}{i}.", depth + 1) for i, item in enumerate(node.value)]
        try:
            return plain(self.constructor.construct_object(node, deep=True))
        except yaml.YAMLError as exc:
            raise SourceError(f"invalid YAML value: {exc}", line=node.start_mark.line + 1) from None

    def _mapping(self, node: yaml.MappingNode, prefix: str, depth: int) -> dict[str, Any]:
        result: dict[str, Any] = {}
        for key_node, value_node in node.value:
            if isinstance(key_node, yaml.ScalarNode) and key_node.tag == "tag:yaml.org,2002:merge":
                merged = self.convert(value_node, prefix, depth + 1)
                for item in merged if isinstance(merged, list) else [merged]:
                    if isinstance(item, dict):
                        result.update({k: v for k, v in item.items() if k not in result})
                continue
            key = self.convert(key_node, prefix, depth + 1)
            key = key if isinstance(key, str) else json.dumps(key)
            self.key_lines.setdefault(prefix + key, key_node.start_mark.line + 1)
            result[key] = self.convert(value_node, f"{prefix}{key}.", depth + 1)
        return result


_TOML_LINE = re.compile(r"at line (\d+)")


def parse_toml(text: str) -> dict[str, Any]:
    try:
        return plain(tomllib.loads(text))
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        raise SourceError(f"invalid TOML: {exc}", line=int(match.group(1)) if match else 0) from None


def parse_json(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"invalid JSON: {exc.msg}", line=exc.lineno, col=exc.colno) from None
    except RecursionError:
        raise SourceError("invalid JSON: nesting too deep") from None


def plain(value: Any) -> Any:
    """Make parsed data JSON-compatible: dates become ISO strings, other scalars stay."""
    if isinstance(value, dict):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, (datetime.date, datetime.time)):
        return value.isoformat()
    if isinstance(value, (bytes, bytearray)):
        return value.decode("latin-1")
    if isinstance(value, set):
        return sorted(str(v) for v in value)
    return value
