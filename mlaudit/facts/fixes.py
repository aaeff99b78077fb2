"""Source-preserving fixes, built with libcst on the one expression that changes.

Analysis never touches libcst (it is 10-100x slower than `ast`, see the performance notes); a
fixable rule hands the offending call's exact source span to `call_fix`, which parses only that
expression with libcst, transforms it, and returns one `Edit` replacing the span. Comments,
spacing and line breaks inside the call survive, as libcst guarantees.

Each change is a `CallEdit`: the libcst transform, and the same change made as text for the plain
one-line shapes (`yaml.load(f)`, `torch.load(path)`), where text positions from `ast` say exactly
what libcst would write. Those need no libcst at all: importing it costs 0.13 s of CPU, a tenth of
a cold run on pytorch-lightning, for its one fixable finding. A test holds the two to the same
output on every shape.
"""

from __future__ import annotations

import ast
from collections.abc import Callable
from dataclasses import dataclass

from mlaudit.facts.walk import PyContext
from mlaudit.findings import Edit, Fix

Quick = Callable[[str, ast.Call], "str | None"]


@dataclass(frozen=True)
class CallEdit:
    """A change to one call. `transform` maps the libcst Call to the new one (any layout);
    `quick` makes the same change to the call's one-line ASCII source text, given the text and
    its `ast` Call, or returns None when only libcst can (then `transform` runs)."""

    transform: Callable[[object], object]
    quick: Quick


def call_fix(ctx: PyContext, node: ast.Call, description: str, edit: CallEdit, *, safe: bool = True) -> Fix | None:
    """A fix replacing the call `node` as `edit` says; None when it cannot be built
    reliably. `safe=False` marks a fix that may change what working code does (see `Fix`)."""
    if ctx.line_map.file_lines:
        return None  # notebook cells: positions are in the joined cells, not in the file
    segment = ctx.segment(node)
    if segment is None:
        return None
    return segment_fix(segment, ctx.span(node), description, edit, safe=safe)


def segment_fix(
    segment: str,
    span: tuple[int, int, int, int],
    description: str,
    edit: CallEdit,
    *,
    safe: bool = True,
) -> Fix | None:
    """`call_fix` for a call known by its source text and span (line, col, end line, end col):
    facts can keep those and build the fix only when a finding needs it."""
    code = quick_text(segment, edit)
    if code is None:
        code = libcst_text(segment, edit)
    if code is None or code == segment:
        return None
    line, col, end_line, end_col = span
    return Fix(description, (Edit(line, col, end_line, end_col, code),), safe=safe)


def libcst_text(segment: str, edit: CallEdit) -> str | None:
    """The call's new text made by libcst; the call's own text when nothing changes, None when
    libcst cannot read it."""
    import libcst as cst  # only when a fix needs it: see the module docstring

    try:
        expression = cst.parse_expression(segment)
    except cst.ParserSyntaxError:
        return None
    if not isinstance(expression, cst.Call):
        return None
    new = edit.transform(expression)
    if not isinstance(new, cst.Call):
        return None
    if new.deep_equals(expression):
        return segment
    return cst.Module(body=[]).code_for_node(new)


def quick_text(segment: str, edit: CallEdit) -> str | None:
    """The call's new text made without libcst, for a one-line ASCII call with no comment or
    line continuation (where `ast` columns are character columns and no layout is at stake);
    None for any other call, or where `edit.quick` leaves it to libcst."""
    if not segment.isascii() or any(c in segment for c in "#\\\n\r"):
        return None
    call = _parsed_call(segment)
    return edit.quick(segment, call) if call is not None else None


def _parsed_call(segment: str) -> ast.Call | None:
    try:
        tree = ast.parse(segment, mode="eval")
    except (SyntaxError, ValueError, RecursionError, MemoryError):  # as the file's own parse
        return None
    return tree.body if isinstance(tree.body, ast.Call) else None


def rename_callee(attr: str) -> CallEdit:
    """`yaml.load(...)` -> `yaml.<attr>(...)`; leaves a bare-name callee alone."""

    def transform(call: object) -> object:
        import libcst as cst

        assert isinstance(call, cst.Call)
        if not isinstance(call.func, cst.Attribute):
            return call
        return call.with_changes(func=call.func.with_changes(attr=cst.Name(attr)))

    def quick(segment: str, call: ast.Call) -> str | None:
        func = call.func
        if not isinstance(func, ast.Attribute):
            return segment
        end = func.end_col_offset or 0
        start = end - len(func.attr)
        if segment[start:end] != func.attr:
            return None
        return segment[:start] + attr + segment[end:]

    return CallEdit(transform, quick)


def drop_argument(keyword: str, position: int | None = None) -> CallEdit:
    """Remove the argument passed as `keyword=` (or positionally at `position`). When it was the
    last one, the argument before it takes over how it ended (trailing comma, the line break
    before the parenthesis), and keeps its own comment."""

    def transform(call: object) -> object:
        import libcst as cst

        assert isinstance(call, cst.Call)
        positional = [i for i, a in enumerate(call.args) if a.keyword is None and not a.star]
        kept = []
        for index, arg in enumerate(call.args):
            by_keyword = arg.keyword is not None and arg.keyword.value == keyword
            by_position = position is not None and position < len(positional) and index == positional[position]
            if not (by_keyword or by_position):
                kept.append(arg)
        if kept and len(kept) < len(call.args) and kept[-1] is not call.args[-1]:
            last = _ending_as(kept[-1], call.args[-1])
            assert isinstance(last, cst.Arg)
            kept[-1] = last
        return call.with_changes(args=kept)

    def quick(segment: str, call: ast.Call) -> str | None:
        """Nothing to drop is no change; dropping is left to libcst (the layout decides how)."""
        passed = any(k.arg == keyword for k in call.keywords)
        positional = [a for a in call.args if not isinstance(a, ast.Starred)]
        has_position = position is not None and position < len(positional)
        return None if passed or has_position or len(positional) < len(call.args) else segment

    return CallEdit(transform, quick)


def _ending_as(arg: object, dropped: object) -> object:
    """`arg`, now the last argument, ending the call as `dropped` did."""
    import libcst as cst

    assert isinstance(arg, cst.Arg) and isinstance(dropped, cst.Arg)
    tail = _tail(dropped)
    if not _has_comment(arg.comma):
        if isinstance(dropped.comma, cst.Comma):
            return arg.with_changes(comma=dropped.comma)
        return arg.with_changes(comma=cst.MaybeSentinel.DEFAULT, whitespace_after_arg=dropped.whitespace_after_arg)
    assert isinstance(arg.comma, cst.Comma)
    if isinstance(tail, cst.ParenthesizedWhitespace) and isinstance(arg.comma.whitespace_after, cst.ParenthesizedWhitespace):
        # Keep the comment on its line; the parenthesis goes back where it was.
        ending = tail.with_changes(first_line=arg.comma.whitespace_after.first_line)
        return arg.with_changes(comma=arg.comma.with_changes(whitespace_after=ending))
    return arg


def set_keyword(keyword: str, value: str) -> CallEdit:
    """Set `keyword=value`, replacing an existing value or appending the argument in the call's
    own layout: on a line of its own when the call ends on one, and ending the call as the old
    last argument did (trailing comma, line break); comments stay on their lines."""

    def transform(call: object) -> object:
        import libcst as cst

        assert isinstance(call, cst.Call)
        new_value = cst.parse_expression(value)
        args = list(call.args)
        for index, arg in enumerate(args):
            if arg.keyword is not None and arg.keyword.value == keyword:
                args[index] = arg.with_changes(value=new_value)
                return call.with_changes(args=args)
        no_space = cst.SimpleWhitespace("")
        new_arg = cst.Arg(
            value=new_value,
            keyword=cst.Name(keyword),
            equal=cst.AssignEqual(whitespace_before=no_space, whitespace_after=no_space),
        )
        if args:
            old, new = _append_after(call, args[-1], new_arg)
            assert isinstance(old, cst.Arg) and isinstance(new, cst.Arg)
            args[-1], new_arg = old, new
        args.append(new_arg)
        return call.with_changes(args=args)

    def quick(segment: str, call: ast.Call) -> str | None:
        for given in call.keywords:
            if given.arg == keyword:
                start, end = given.value.col_offset, given.value.end_col_offset or 0
                # `k=(v)`: libcst replaces the parentheses too
                return segment[:start] + value + segment[end:] if segment[start - 1] == "=" else None
        ends = [a.end_col_offset or 0 for a in call.args] + [k.end_col_offset or 0 for k in call.keywords]
        if not ends:  # `f()`; not `f( )` or `f ()`, whose spacing libcst keeps its own way
            return segment[:-1] + f"{keyword}={value})" if call.func.end_col_offset == len(segment) - 2 else None
        last = max(ends)
        # `f(a)`; not `f(a, )`, `f(a )` or a lone generator argument, which shares the parentheses
        return segment[:last] + f", {keyword}={value})" if segment[last:] == ")" else None

    return CallEdit(transform, quick)


def _append_after(call: object, last: object, new: object) -> tuple[object, object]:
    """(old last argument with a separating comma, new argument ending the call as the old did)."""
    import libcst as cst

    assert isinstance(last, cst.Arg) and isinstance(new, cst.Arg)
    tail, indent = _tail(last), _separator(call)
    has_comma = isinstance(last.comma, cst.Comma)
    comma = last.comma if isinstance(last.comma, cst.Comma) else cst.Comma(whitespace_before=cst.SimpleWhitespace(""))
    if isinstance(tail, cst.ParenthesizedWhitespace):
        # The parenthesis is on a line of its own: the old last argument keeps its comment on
        # its line, the new one goes on the next line, then the line break the old one had.
        last_line = indent.last_line if isinstance(indent, cst.ParenthesizedWhitespace) else tail.last_line
        between = cst.ParenthesizedWhitespace(first_line=tail.first_line, indent=True, last_line=last_line)
        ending = tail.with_changes(first_line=cst.TrailingWhitespace())
        old = last.with_changes(comma=comma.with_changes(whitespace_after=between))
        if has_comma:
            return old, new.with_changes(comma=comma.with_changes(whitespace_after=ending))
        return old.with_changes(whitespace_after_arg=cst.SimpleWhitespace("")), new.with_changes(whitespace_after_arg=ending)
    old = last.with_changes(comma=comma.with_changes(whitespace_after=indent))
    if has_comma:  # `f(a, )`: keep the trailing comma and what follows it
        return old, new.with_changes(comma=last.comma)
    return old.with_changes(whitespace_after_arg=cst.SimpleWhitespace("")), new.with_changes(whitespace_after_arg=last.whitespace_after_arg)


def _tail(arg: object) -> object:
    """The whitespace that ends an argument: after its comma, or after it when it has none."""
    import libcst as cst

    assert isinstance(arg, cst.Arg)
    return arg.comma.whitespace_after if isinstance(arg.comma, cst.Comma) else arg.whitespace_after_arg


def _separator(call: object) -> object:
    """The whitespace after a new comma between arguments: a line break and the arguments'
    indentation when the call puts them on lines of their own, else one space."""
    import libcst as cst

    assert isinstance(call, cst.Call)
    breaks = [a.comma.whitespace_after for a in call.args[:-1] if isinstance(a.comma, cst.Comma)]
    breaks.append(call.whitespace_before_args)
    for whitespace in breaks:
        if isinstance(whitespace, cst.ParenthesizedWhitespace):
            return cst.ParenthesizedWhitespace(indent=whitespace.indent, last_line=whitespace.last_line)
    return cst.SimpleWhitespace(" ")


def _has_comment(node: object) -> bool:
    import libcst as cst
    import libcst.matchers as m

    return isinstance(node, cst.CSTNode) and bool(m.findall(node, m.Comment()))


def chain(*edits: CallEdit) -> CallEdit:
    def transform(call: object) -> object:
        for step in edits:
            call = step.transform(call)
        return call

    def quick(segment: str, call: ast.Call) -> str | None:
        text: str | None = segment
        for step in edits:
            parsed = _parsed_call(text) if text is not None else None
            text = step.quick(text, parsed) if text is not None and parsed is not None else None
        return text

    return CallEdit(transform, quick)
