"""Edits that only move lines: a line inserted or removed moves every fact below it, so the
file's facts change, yet nothing that a project rule decides on does. Such an edit keeps the
last run's project findings, with their lines moved as the facts' lines moved.

`line_map(old, new)` compares two results of one file with every line number taken out (fields
named `line`, `end_line`, `read_until`, `*_line`, `*_lines`) and, when the rest is identical,
pairs the old line numbers with the new ones: a strictly increasing map, or None when the facts
differ in anything else, a line moved out of order, or line 1 moved (a finding on line 1 may mean
"no better line", which no edit moves). `shift(findings, maps)` moves the findings' positions,
related locations and the line numbers their messages cite, or returns None when a finding names
a line of a changed file that is neither in the map nor line 1 (a line the facts do not hold:
the full run decides).

This holds because project rules read lines only from facts, compare lines of one file with each
other (a strictly increasing map keeps every such comparison), and cite a line in a message as
`line N` / `lines N-M` (of the finding's own file) or `PATH:N`; quoted code (between backticks) is
left alone. tests/engine/test_incremental.py inserts and removes lines all over fixture projects
and compares every such run with a cold one.
"""

from __future__ import annotations

import dataclasses
import io
import itertools
import pickle
import re
from collections.abc import Sequence
from typing import Any

from mlaudit.facts.file import FileFacts
from mlaudit.findings import Finding, Fix, RelatedLocation

LineMap = dict[int, int]  # old line -> new line, of one file

_LINE_NAMES = frozenset({"line", "end_line", "read_until"})
_PLACEHOLDER = "\0line"  # stands for a line number in the comparison


def _is_line_field(name: str) -> bool:
    return name in _LINE_NAMES or name.endswith("_line") or name.endswith("_lines")


_FIELDS: dict[type, tuple[str, ...] | None] = {}


def _line_fields(kind: type) -> tuple[str, ...] | None:
    """The fields of a dataclass or named tuple when some of them hold lines; None for other
    types and for records without line fields (pickled as they are)."""
    if kind in _FIELDS:
        return _FIELDS[kind]
    names: tuple[str, ...] = ()
    if dataclasses.is_dataclass(kind):
        names = tuple(f.name for f in dataclasses.fields(kind))
    elif issubclass(kind, tuple) and hasattr(kind, "_fields"):
        names = tuple(kind._fields)
    found = names if any(_is_line_field(n) for n in names) else None
    _FIELDS[kind] = found
    return found


class _LinePickler(pickle.Pickler):
    """Pickles facts with each line number replaced by a placeholder and collected, in the
    order written, into `lines`; sets sorted (equal sets may iterate in different orders)."""

    def __init__(self, buffer: io.BytesIO) -> None:
        super().__init__(buffer, protocol=pickle.HIGHEST_PROTOCOL)
        self.fast = True  # no memo: facts hold no cycles, and sharing must not change the bytes
        self.lines: list[int] = []

    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (set, frozenset)):
            return type(obj), (sorted(obj, key=repr),)
        names = _line_fields(type(obj))
        if names is None:
            return NotImplemented
        if isinstance(obj, tuple):
            items: Any = zip(names, obj, strict=True)
        elif hasattr(obj, "__dict__"):
            items = vars(obj).items()  # every attribute, not only the declared fields
        else:
            items = ((n, getattr(obj, n)) for n in names)
        return type(obj), tuple((n, self._take(v) if _is_line_field(n) else v) for n, v in items)

    def _take(self, value: Any) -> Any:
        if isinstance(value, int) and not isinstance(value, bool):
            self.lines.append(value)
            return _PLACEHOLDER
        if isinstance(value, (tuple, list)) and all(isinstance(v, int) and not isinstance(v, bool) for v in value):
            self.lines.extend(value)
            return (_PLACEHOLDER, len(value))
        return value  # None, or a value of another shape: compared as it is


def _without_lines(facts: FileFacts) -> tuple[bytes, list[int]] | None:
    buffer = io.BytesIO()
    pickler = _LinePickler(buffer)
    try:
        pickler.dump(facts)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError):
        return None
    return buffer.getvalue(), pickler.lines


def line_map(old: FileFacts, new: FileFacts) -> LineMap | None:
    """How an edit moved the lines of a file whose facts are otherwise unchanged, or None."""
    before, after = _without_lines(old), _without_lines(new)
    if before is None or after is None or before[0] != after[0] or len(before[1]) != len(after[1]):
        return None
    moved: LineMap = {}
    for was, now in zip(before[1], after[1], strict=True):
        if moved.setdefault(was, now) != now:
            return None  # one old line became two different lines
    ordered = sorted(moved.items())
    if any(b[1] <= a[1] for a, b in itertools.pairwise(ordered)):
        return None  # lines swapped: an order that rules may compare changed
    if any(was != now for was, now in ordered if was <= 1 or now <= 1):
        return None  # line 1 (and the 0/-1 markers) must stay where they are
    return moved


class _Unmapped(Exception):
    """A line of a changed file that the map does not hold."""


def _move(lines: LineMap, line: int) -> int:
    if line in lines:
        return lines[line]
    if line <= 1:
        return line
    raise _Unmapped(line)


_OWN_LINE = re.compile(r"\b(lines? )(\d+)(?:-(\d+))?\b", re.IGNORECASE)


def _cite_pattern(paths: Sequence[str]) -> re.Pattern[str]:
    names = "|".join(re.escape(p) for p in sorted(paths, key=len, reverse=True))
    return re.compile(r"(?<![\w./-])(" + names + r"):(\d+)\b")


def _move_message(message: str, own: LineMap | None, maps: dict[str, LineMap], cites: re.Pattern[str]) -> str:
    """The message with the lines it cites moved: `line N` and `lines N-M` in the file of the
    finding (`own`), `PATH:N` in PATH. Text between backticks is quoted code, left as it is."""
    parts = message.split("`")
    for index in range(0, len(parts), 2):
        text = parts[index]
        if own is not None and own:
            text = _OWN_LINE.sub(lambda m: _own(m, own), text)
        text = cites.sub(lambda m: f"{m.group(1)}:{_move(maps[m.group(1)], int(m.group(2)))}", text)
        parts[index] = text
    return "`".join(parts)


def _own(match: re.Match[str], lines: LineMap) -> str:
    first = _move(lines, int(match.group(2)))
    if match.group(3) is None:
        return f"{match.group(1)}{first}"
    return f"{match.group(1)}{first}-{_move(lines, int(match.group(3)))}"


def shift(findings: Sequence[Finding], maps: dict[str, LineMap]) -> list[Finding] | None:
    """The findings with the lines of the changed files moved, or None when one cannot be."""
    moving = {path: lines for path, lines in maps.items() if any(was != now for was, now in lines.items())}
    if not moving:
        return list(findings)
    cites = _cite_pattern(list(moving))
    try:
        return [_shift_one(f, moving, cites) for f in findings]
    except _Unmapped:
        return None


def _shift_one(finding: Finding, maps: dict[str, LineMap], cites: re.Pattern[str]) -> Finding:
    own = maps.get(finding.path)
    message = _move_message(finding.message, own, maps, cites)
    related = tuple(_shift_related(r, maps, cites) for r in finding.related)
    if own is None:
        if message == finding.message and related == finding.related:
            return finding
        return dataclasses.replace(finding, message=message, related=related)
    return dataclasses.replace(
        finding,
        message=message,
        line=_move(own, finding.line),
        end_line=None if finding.end_line is None else _move(own, finding.end_line),
        fix=None if finding.fix is None else _shift_fix(finding.fix, own),
        related=related,
    )


def _shift_related(location: RelatedLocation, maps: dict[str, LineMap], cites: re.Pattern[str]) -> RelatedLocation:
    own = maps.get(location.path)
    message = _move_message(location.message, own, maps, cites)
    line = location.line if own is None else _move(own, location.line)
    if line == location.line and message == location.message:
        return location
    return dataclasses.replace(location, line=line, message=message)


def _shift_fix(fix: Fix, lines: LineMap) -> Fix:
    edits = tuple(dataclasses.replace(e, line=_move(lines, e.line), end_line=_move(lines, e.end_line)) for e in fix.edits)
    return dataclasses.replace(fix, edits=edits)

