"""`check --add-noqa`: write `# noqa: CODE` where each reported finding is, as ruff's --add-noqa does.

Where the comment goes: Python files and notebook cells are tokenized, and the comment goes at the
end of the finding's line when a comment can stand there, else at the end of the first line below
where one can (the last line of a multi-line string, the line a backslash continuation ends on);
`mlaudit.engine.suppress` applies a directive to exactly those lines. Codes merge into a directive that
is already there (`# noqa: E501` becomes `# noqa: E501, ML601`). Requirements, YAML and TOML files
get the comment at the end of the line. Every edited file is parsed again and must mean exactly
what it meant before (same Python syntax tree, same YAML/TOML data, same notebook JSON apart from
the comment), or it is left as it was and named in a message.
"""

from __future__ import annotations

import ast
import io
import json
import re
import tokenize
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlaudit.engine.suppress import DIRECTIVE, covered_lines
from mlaudit.files import kinds
from mlaudit.files.boundary import read_regular, replace_file, writable_file
from mlaudit.findings import Finding

_REQUIREMENTS_SUFFIXES = (".txt", ".in")
_MAX_BYTES = 64 * 2**20
_LINE_END = re.compile(r"(\r\n|\r|\n)?$")


@dataclass
class AddNoqaResult:
    added: int = 0  # findings given a directive
    files: int = 0  # files written
    refused: list[str] = field(default_factory=list)  # files left alone because an edit would change them
    no_comments: int = 0  # findings in files that cannot hold a comment (data artifacts, JSON)
    unplaced: int = 0  # findings on a line no comment can cover (a notebook line outside code)

    def messages(self) -> list[str]:
        lines = []
        if self.added:
            lines.append(f"added noqa directives for {self.added} finding{'s' if self.added != 1 else ''} in {self.files} file{'s' if self.files != 1 else ''}")
        for path in self.refused:
            lines.append(f"{path}: left unchanged: a noqa comment could not be added without changing what the file means")
        if self.no_comments:
            lines.append(
                f"{self.no_comments} finding{'s are' if self.no_comments != 1 else ' is'} in files that cannot hold a comment; "
                "list them in `per-file-ignores` or a baseline (`mlaudit baseline`)"
            )
        if self.unplaced:
            lines.append(
                f"{self.unplaced} finding{'s are' if self.unplaced != 1 else ' is'} on lines no comment can cover "
                "(outside a notebook's code, a continued requirement line); use `per-file-ignores` or a baseline"
            )
        return lines


def add_noqa(root: Path, findings: Sequence[Finding], reason: str | None = None) -> AddNoqaResult:
    result = AddNoqaResult()
    by_path: dict[str, list[Finding]] = {}
    for finding in findings:
        by_path.setdefault(finding.path, []).append(finding)
    for path, group in sorted(by_path.items()):
        editor = _editor(path)
        if editor is None:
            result.no_comments += len(group)
            continue
        target = root / path
        data = read_regular_inside(root, target)
        if data is None:
            result.refused.append(path)
            continue
        skipped: list[Finding] = []
        new = editor(data, group, reason, skipped)
        if new is None:
            result.refused.append(path)
            continue
        if new != data:
            if not replace_file(root, target, new):  # not a plain file inside the repository
                result.refused.append(path)
                continue
            result.files += 1
        result.added += len(group) - len(skipped)  # unchanged: every code was already there
        result.unplaced += len(skipped)
    return result


# (file bytes, its findings, reason, findings it could not place) -> new bytes, or None to refuse the file
def read_regular_inside(root: Path, path: Path) -> bytes | None:
    """The file's bytes when `--add-noqa` may rewrite it: a regular file (no symlink) inside `root`."""
    if not writable_file(root, path):
        return None
    try:
        data = read_regular(path, _MAX_BYTES + 1)
    except OSError:
        return None
    return data if len(data) <= _MAX_BYTES else None  # never write back a truncated file


Editor = Callable[[bytes, list[Finding], str | None, list[Finding]], bytes | None]


def _editor(path: str) -> Editor | None:
    fmt = kinds.classify(path).format
    if fmt == kinds.PYTHON:
        return _edit_python
    if fmt == kinds.NOTEBOOK:
        return _edit_notebook
    if fmt in (kinds.YAML, kinds.TOML) or (fmt == kinds.TEXT and path.endswith(_REQUIREMENTS_SUFFIXES)):
        return _edit_hash_comment_file(fmt)
    return None


def with_codes(line: str, codes: Sequence[str], reason: str | None, comment_col: int | None) -> str:
    """`line` (without its line break) with `codes` in a noqa directive: merged into one that is
    already in its comment (which starts at `comment_col`, 0-based), else appended."""
    if comment_col is not None:
        comment = line[comment_col:]
        for match in DIRECTIVE.finditer(comment):
            if match.group("file"):
                continue
            present = re.findall(r"[A-Z]+[0-9]+", (match.group("codes") or "").upper())
            if not present:
                continue  # a bare directive is another linter's; ours goes after it
            missing = [c for c in codes if c not in present]
            if not missing:
                return line
            end = comment_col + match.end("codes")
            return f"{line[:end]}, {', '.join(missing)}{line[end:]}"
    suffix = f"  # {reason}" if reason else ""
    return f"{line.rstrip()}  # noqa: {', '.join(codes)}{suffix}"


# --- Python ---------------------------------------------------------------------------------


@dataclass
class _Layout:
    capable: set[int]  # lines that can end with a comment
    comments: dict[int, int]  # line -> 0-based column of its comment


def _layout(source: str) -> _Layout | None:
    capable: set[int] = set()
    comments: dict[int, int] = {}
    try:
        for token in tokenize.generate_tokens(io.StringIO(source).readline):
            if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                capable.add(token.start[0])
            if token.type == tokenize.COMMENT:
                comments[token.start[0]] = token.start[1]
    except (tokenize.TokenError, SyntaxError):
        return None
    return _Layout(capable, comments)


def comment_line(line: int, layout: _Layout, last: int) -> int | None:
    """The line where a directive for `line` goes: it or the first line below that can hold a comment."""
    for candidate in range(max(line, 1), last + 1):
        if candidate in layout.capable:
            return candidate if line in covered_lines(candidate, layout.capable) else None
    return None


def _edit_python(data: bytes, findings: list[Finding], reason: str | None, skipped: list[Finding]) -> bytes | None:
    try:
        encoding = tokenize.detect_encoding(io.BytesIO(data).readline)[0]
        source = data.decode(encoding)
        before = ast.dump(ast.parse(data))
    except (SyntaxError, UnicodeDecodeError, ValueError, LookupError):
        return None
    new_source = _with_directives(source, findings, reason, skipped)
    if new_source is None:
        return None
    try:
        new = new_source.encode(encoding)
        if ast.dump(ast.parse(new)) != before:
            return None
    except (SyntaxError, UnicodeEncodeError, ValueError):
        return None
    return new


def _with_directives(source: str, findings: list[Finding], reason: str | None, skipped: list[Finding]) -> str | None:
    layout = _layout(source)
    if layout is None:
        return None
    lines = source.splitlines(keepends=True)
    wanted: dict[int, list[str]] = {}
    for finding in findings:
        target = comment_line(finding.line, layout, len(lines))
        if target is None:
            skipped.append(finding)
            continue
        codes = wanted.setdefault(target, [])
        if finding.code not in codes:
            codes.append(finding.code)
    for number, codes in wanted.items():
        body, ending = _split_ending(lines[number - 1])
        lines[number - 1] = with_codes(body, sorted(codes), reason, layout.comments.get(number)) + ending
    return "".join(lines)


def _split_ending(line: str) -> tuple[str, str]:
    match = _LINE_END.search(line)
    ending = match.group(1) or "" if match else ""
    return line[: len(line) - len(ending)], ending


# --- notebooks ------------------------------------------------------------------------------


def _edit_notebook(data: bytes, findings: list[Finding], reason: str | None, skipped: list[Finding]) -> bytes | None:
    """Findings point at lines of the notebook's JSON; each source line of a cell is one JSON
    string on its own line there (nbformat's layout), which is edited as a string and re-encoded."""
    from mlaudit.facts.notebook import parse_notebook
    from mlaudit.files.sources import SourceError

    try:
        text = data.decode("utf-8")
        document = json.loads(text)
        _, code, line_map, _ = parse_notebook(text)
    except (UnicodeDecodeError, ValueError, SourceError, RecursionError):
        return None
    layout = _layout(code)
    if layout is None:
        return None
    code_line_of: dict[int, int] = {}
    for index, json_line in enumerate(line_map.file_lines, 1):
        code_line_of.setdefault(json_line, index)
    raw = text.splitlines(keepends=True)
    wanted: dict[int, list[str]] = {}
    for finding in findings:
        code_line = code_line_of.get(finding.line)
        target = comment_line(code_line, layout, len(line_map.file_lines)) if code_line else None
        if target is None:
            skipped.append(finding)
            continue
        wanted.setdefault(line_map.file_lines[target - 1], []).append(finding.code)
    for json_line, codes in wanted.items():
        edited = _edit_json_string_line(raw[json_line - 1], sorted(set(codes)), reason)
        if edited is None:
            return None
        raw[json_line - 1] = edited
    new_text = "".join(raw)
    try:
        if _without_noqa(json.loads(new_text)) != _without_noqa(document):
            return None
    except ValueError:
        return None
    return new_text.encode("utf-8")


def _edit_json_string_line(line: str, codes: Sequence[str], reason: str | None) -> str | None:
    body, ending = _split_ending(line)
    stripped = body.strip()
    comma = "," if stripped.endswith(",") else ""
    literal = stripped[: len(stripped) - len(comma)]
    try:
        value = json.loads(literal)
    except ValueError:
        return None
    if not isinstance(value, str) or "\n" in value.rstrip("\n"):
        return None  # not one source line per JSON string
    ascii_only = json.dumps(value) == literal
    if not ascii_only and json.dumps(value, ensure_ascii=False) != literal:
        return None  # escaped in a way json.dumps would not reproduce
    text, newline = (value[:-1], "\n") if value.endswith("\n") else (value, "")
    layout = _layout(text + "\n")
    comment_col = layout.comments.get(1) if layout else None
    new_value = with_codes(text, codes, reason, comment_col) + newline
    indent = body[: len(body) - len(body.lstrip())]
    return f"{indent}{json.dumps(new_value, ensure_ascii=ascii_only)}{comma}{body[len(body.rstrip()):]}{ending}"


def _without_noqa(value: Any) -> Any:
    """The notebook with every noqa comment removed, to compare a document before and after."""
    if isinstance(value, dict):
        return {k: _without_noqa(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_without_noqa(v) for v in value]
    if isinstance(value, str):
        return re.sub(r"\s*#\s*noqa\b.*", "", value)
    return value


# --- requirements, YAML, TOML ---------------------------------------------------------------


def _edit_hash_comment_file(fmt: str) -> Editor:
    def edit(data: bytes, findings: list[Finding], reason: str | None, skipped: list[Finding]) -> bytes | None:
        try:
            text = data.decode("utf-8")
            before = _meaning(fmt, text)
        except (UnicodeDecodeError, ValueError):
            return None
        lines = text.splitlines(keepends=True)
        wanted: dict[int, list[Finding]] = {}
        for finding in findings:
            wanted.setdefault(finding.line, []).append(finding)
        for number, group in wanted.items():
            body, ending = _split_ending(lines[number - 1]) if 0 < number <= len(lines) else ("\\", "")
            if body.rstrip().endswith("\\"):
                skipped.extend(group)  # a continued line (or none at all): a comment would end it
                continue
            codes = sorted({f.code for f in group})
            lines[number - 1] = with_codes(body, codes, reason, _comment_start(body)) + ending
        new_text = "".join(lines)
        try:
            if _meaning(fmt, new_text) != before:
                return None
        except ValueError:
            return None
        return new_text.encode("utf-8")

    return edit


def _comment_start(line: str) -> int | None:
    """Where a `#` comment starts: at the line start or after whitespace (pip's and YAML's rule)."""
    match = re.search(r"(^|\s)#", line)
    return match.end() - 1 if match else None


def _meaning(fmt: str, text: str) -> object:
    """What a file says, comments aside; raises ValueError when it does not parse."""
    if fmt == kinds.YAML:
        import yaml

        try:
            return list(yaml.safe_load_all(text))
        except yaml.YAMLError as exc:
            raise ValueError(str(exc)) from None
    if fmt == kinds.TOML:
        import tomllib

        try:
            return tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            raise ValueError(str(exc)) from None
    return [re.split(r"(^|\s)#", line, maxsplit=1)[0].rstrip() for line in text.splitlines()]
