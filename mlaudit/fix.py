"""Source-preserving fixes, built with libcst on the one expression that changes.

Analysis never touches libcst (it is 10-100x slower than `ast`, see the performance notes); a
fixable rule hands the offending call's exact source span to `call_fix`, which parses only that
expression with libcst, transforms it, and returns one `Edit` replacing the span. Comments,
spacing and line breaks inside the call survive, as libcst guarantees.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from pathlib import Path

from mlaudit.facts.walk import PyContext
from mlaudit.findings import Edit, Finding, Fix
from mlaudit.project.boundary import read_regular, replace_file, writable_file

MAX_FIX_BYTES = 64 * 2**20


def call_fix(ctx: PyContext, node: ast.Call, description: str, transform: Callable[[object], object]) -> Fix | None:
    """A fix replacing the call `node` by `transform(libcst Call)`; None when it cannot be built safely."""
    if ctx.line_map.file_lines:
        return None  # notebook cells: positions are in the joined cells, not in the file
    segment = ctx.segment(node)
    if segment is None:
        return None
    import libcst as cst  # only when a fix is actually built

    try:
        expression = cst.parse_expression(segment)
    except cst.ParserSyntaxError:
        return None
    if not isinstance(expression, cst.Call):
        return None
    new = transform(expression)
    if not isinstance(new, cst.Call) or new.deep_equals(expression):
        return None
    code = cst.Module(body=[]).code_for_node(new)
    line, col, end_line, end_col = ctx.span(node)
    return Fix(description, (Edit(line, col, end_line, end_col, code),))


def rename_callee(attr: str) -> Callable[[object], object]:
    """`yaml.load(...)` -> `yaml.<attr>(...)`; leaves a bare-name callee alone."""
    import libcst as cst

    def transform(call: object) -> object:
        assert isinstance(call, cst.Call)
        if not isinstance(call.func, cst.Attribute):
            return call
        return call.with_changes(func=call.func.with_changes(attr=cst.Name(attr)))

    return transform


def drop_argument(keyword: str, position: int | None = None) -> Callable[[object], object]:
    """Remove the argument passed as `keyword=` (or positionally at `position`)."""
    import libcst as cst

    def transform(call: object) -> object:
        assert isinstance(call, cst.Call)
        positional = [i for i, a in enumerate(call.args) if a.keyword is None and not a.star]
        kept = []
        for index, arg in enumerate(call.args):
            by_keyword = arg.keyword is not None and arg.keyword.value == keyword
            by_position = position is not None and position < len(positional) and index == positional[position]
            if not (by_keyword or by_position):
                kept.append(arg)
        if kept:
            kept[-1] = kept[-1].with_changes(comma=cst.MaybeSentinel.DEFAULT)
        return call.with_changes(args=kept)

    return transform


def set_keyword(keyword: str, value: str) -> Callable[[object], object]:
    """Set `keyword=value`, replacing an existing value or appending the argument."""
    import libcst as cst

    def transform(call: object) -> object:
        assert isinstance(call, cst.Call)
        new_value = cst.parse_expression(value)
        args = list(call.args)
        for index, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == keyword:
                args[index] = arg.with_changes(value=new_value)
                return call.with_changes(args=args)
        if args:
            args[-1] = args[-1].with_changes(comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" ")))
        args.append(cst.Arg(value=new_value, keyword=cst.Name(keyword), equal=cst.AssignEqual(
            whitespace_before=cst.SimpleWhitespace(""), whitespace_after=cst.SimpleWhitespace(""))))
        return call.with_changes(args=args)

    return transform


def chain(*transforms: Callable[[object], object]) -> Callable[[object], object]:
    def transform(call: object) -> object:
        for step in transforms:
            call = step(call)
        return call

    return transform


def apply_edits(text: str, edits: list[Edit]) -> tuple[str, int]:
    """Apply non-overlapping edits (1-based lines, code-point columns); return the text and how many
    were applied. An edit overlapping one already applied is skipped (the next run picks it up)."""
    starts = _line_starts(text)
    spans = []
    for edit in edits:
        try:
            spans.append((starts[edit.line - 1] + edit.col - 1, starts[edit.end_line - 1] + edit.end_col - 1, edit.content))
        except IndexError:
            continue
    applied, limit = 0, len(text) + 1
    for start, end, content in sorted(spans, reverse=True):
        if end > limit or start > end:
            continue
        text = text[:start] + content + text[end:]
        limit = start
        applied += 1
    return text, applied


def _line_starts(text: str) -> list[int]:
    starts = [0]
    for line in text.splitlines(keepends=True):
        starts.append(starts[-1] + len(line))
    return starts


def apply_fixes(root: Path, findings: list[Finding]) -> int:
    """Write every available fix into its file; return the number of edits applied."""
    by_path: dict[str, list[Edit]] = {}
    for finding in findings:
        if finding.fix is not None and not finding.path.endswith(".ipynb"):
            by_path.setdefault(finding.path, []).extend(finding.fix.edits)
    total = 0
    for path, edits in by_path.items():
        file = root / path
        if not writable_file(root, file):
            continue  # only a regular file inside the project, never one reached through a symlink
        try:
            raw = read_regular(file, MAX_FIX_BYTES + 1)
            if len(raw) > MAX_FIX_BYTES:
                continue  # never rewrite a file from a truncated read
            text = raw.decode("utf-8")
        except (OSError, UnicodeDecodeError):
            continue
        newline = "\r\n" if b"\r\n" in raw else "\n"
        fixed, applied = apply_edits(text.replace("\r\n", "\n"), edits)
        try:
            if applied and replace_file(root, file, fixed.replace("\n", newline).encode("utf-8")):
                total += applied
        except OSError:
            continue
    return total
