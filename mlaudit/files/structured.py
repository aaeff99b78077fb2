"""Parsers for YAML, TOML and JSON that keep line numbers and return plain data.

YAML keys keep the line they are written on (`key_lines`), so rules can point at a config key.
Values are converted to JSON-compatible Python (dates become strings) so facts stay cacheable.

The audited repository may be hostile, so every failure of the underlying parsers (bad values such
as `2023-02-29` or `!!int abc`, integers over Python's 4,300-digit limit, nesting that exhausts the
stack) becomes a `SourceError`, and each parse has a budget: a bounded number of YAML nodes
(counted on the event stream before anything is built), a bounded nesting depth, and a size cap
for TOML, whose pure-Python parser costs about a second per MiB.
"""

from __future__ import annotations

import datetime
import json
import re
import sys
from dataclasses import dataclass, field
from typing import Any

import yaml

from mlaudit.files.sources import SourceError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - exercised on Python 3.10 only
    import tomli as tomllib

# libyaml's composer is several times faster than the pure-Python one; same nodes and marks.
_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

# Aliases can make a small YAML file expand into billions of nodes; stop long before that.
MAX_YAML_NODES = 200_000
# Below this size a YAML file cannot hold more than MAX_YAML_NODES nodes (each takes two bytes or
# more), so only bigger ones are counted first: a 10 MiB list stops after 0.2 s instead of costing
# 10 s and 1 GiB to build.
YAML_COUNT_ABOVE = 2 * MAX_YAML_NODES
# Deeper data is not configuration; later passes over it (conversion, pickling) recurse.
MAX_DEPTH = 100
# tomllib is pure Python: about 1 s and 20 MiB per MiB of a dense list. Real TOML files are
# kilobytes (the biggest in 19 real ML repositories is under 50 KiB); a large poetry.lock is 1-2 MiB
# of long strings, with ~5 separators (',', '=', line breaks) a line, ~300,000 in all. So: a size
# cap, and a cap on separators, which bounds the number of values (a dense list stops at ~0.8 MiB).
MAX_TOML_BYTES = 4 * 2**20
MAX_TOML_SEPARATORS = 400_000
# What a malformed value can make the standard constructors or parsers raise, besides their own
# error types: ValueError (dates, ints, the int digit limit), TypeError and OverflowError (odd tags),
# RecursionError and MemoryError (nesting).
_VALUE_ERRORS = (ValueError, TypeError, OverflowError, ArithmeticError, RecursionError, MemoryError)


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
        if len(text) > YAML_COUNT_ABOVE:
            _count_yaml_nodes(text)
        nodes = list(yaml.compose_all(text, Loader=_LOADER))
        converter = _YamlConverter()
        documents = tuple(converter.convert(node, "") for node in nodes if node is not None)
    except yaml.YAMLError as exc:
        raise _yaml_error(exc) from None
    except RecursionError:
        raise SourceError("invalid YAML: nesting too deep") from None
    except _VALUE_ERRORS as exc:
        raise SourceError(f"invalid YAML: {_reason(exc)}") from None
    comments = tuple(
        (i, line.strip()) for i, line in enumerate(text.splitlines(), 1) if line.lstrip().startswith("#")
    )
    return YamlFacts(documents, converter.key_lines, comments)


def _count_yaml_nodes(text: str) -> None:
    """Walk the event stream (no nodes are built) and stop once it holds too many nodes."""
    count = 0
    for event in yaml.parse(text, Loader=_LOADER):
        if isinstance(event, (yaml.ScalarEvent, yaml.CollectionStartEvent, yaml.AliasEvent)):
            count += 1
            if count > MAX_YAML_NODES:
                raise SourceError(f"YAML holds over {MAX_YAML_NODES:,} values, over the parse budget; not analysed")


def _yaml_error(exc: yaml.YAMLError) -> SourceError:
    mark = getattr(exc, "problem_mark", None)
    line = mark.line + 1 if mark is not None else 0
    problem = getattr(exc, "problem", None) or str(exc)
    return SourceError(f"invalid YAML: {problem}", line=line)


def _reason(exc: BaseException) -> str:
    """One line naming the cause: the exception's message, else its type."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    if isinstance(exc, RecursionError):
        return "nesting too deep"
    if isinstance(exc, MemoryError):
        return "out of memory"
    if "integer string conversion" in text:
        return f"an integer with more digits than Python's limit ({sys.get_int_max_str_digits():,})"
    return text[:200] or type(exc).__name__


class _YamlConverter:
    def __init__(self) -> None:
        self.key_lines: dict[str, int] = {}
        self.count = 0
        self.constructor = yaml.SafeLoader("")

    def convert(self, node: yaml.Node, prefix: str, depth: int = 0) -> Any:
        self.count += 1
        if self.count > MAX_YAML_NODES or depth > MAX_DEPTH:
            raise SourceError("YAML too large or too deeply nested (alias expansion?); not analysed")
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, prefix, depth)
        if isinstance(node, yaml.SequenceNode):
            return [self.convert(item, f"{prefix}{i}.", depth + 1) for i, item in enumerate(node.value)]
        try:
            return plain(self.constructor.construct_object(node, deep=True))
        except (yaml.YAMLError, *_VALUE_ERRORS) as exc:
            value = str(node.value)[:40] if isinstance(node, yaml.ScalarNode) else node.tag
            reason = exc.problem if isinstance(exc, yaml.MarkedYAMLError) and exc.problem else _reason(exc)
            raise SourceError(f"invalid YAML value {value!r}: {reason}", line=node.start_mark.line + 1) from None

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
    if len(text) > MAX_TOML_BYTES:
        raise SourceError(f"TOML file over {MAX_TOML_BYTES // 2**20} MiB, over the parse budget; not analysed")
    if text.count(",") + text.count("=") + text.count("\n") > MAX_TOML_SEPARATORS:
        raise SourceError(f"TOML holds over {MAX_TOML_SEPARATORS:,} values, over the parse budget; not analysed")
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        raise SourceError(f"invalid TOML: {exc}", line=int(match.group(1)) if match else 0) from None
    except _VALUE_ERRORS as exc:
        raise SourceError(f"invalid TOML: {_reason(exc)}") from None
    _check_depth(data, "TOML")
    result: dict[str, Any] = plain(data)
    return result


def parse_json(text: str) -> Any:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise SourceError(f"invalid JSON: {exc.msg}", line=exc.lineno, col=exc.colno) from None
    except _VALUE_ERRORS as exc:
        raise SourceError(f"invalid JSON: {_reason(exc)}") from None
    _check_depth(data, "JSON")
    return data


def _check_depth(data: Any, what: str) -> None:
    """Refuse data nested deeper than MAX_DEPTH (checked without recursion)."""
    stack = [(data, 1)]
    while stack:
        value, depth = stack.pop()
        if depth > MAX_DEPTH:
            raise SourceError(f"{what} nests deeper than {MAX_DEPTH} levels; not analysed")
        if isinstance(value, dict):
            stack.extend((v, depth + 1) for v in value.values())
        elif isinstance(value, list):
            stack.extend((v, depth + 1) for v in value)


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
