"""Which findings the user silenced: `# noqa: CODE` on the reported line, a file-level
`# mlaudit: noqa` (all codes) or `# mlaudit: noqa: CODE`, and `per-file-ignores` in the configuration.

Directives are read as ruff reads them: `noqa` in any case, codes separated by commas or spaces,
anything after them (a reason) ignored. In Python files and notebooks only real comments count
(found with `tokenize`), never text inside a string or docstring. A `# noqa` at the end of a
statement also covers the lines above it that cannot hold a comment: lines inside a multi-line
string and lines continued with a backslash (this is where `--add-noqa` writes it).

A bare `# noqa` (no codes) does NOT silence mlaudit: it is usually written for another linter,
and a reproducibility bug should not hide behind it. Codes that are not mlaudit's (`E501`,
`BLE001`) belong to other linters and are left alone; an `ML` code that no rule has is warned
about. ML002 (off by default) reports directive codes that silenced nothing.
"""

from __future__ import annotations

import io
import re
import tokenize
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from mlaudit.engine.settings import Settings
from mlaudit.files import kinds
from mlaudit.files.boundary import read_inside
from mlaudit.findings import Finding, Level
from mlaudit.rules import known_code_or_prefix

_CODES = r"[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*"
# One directive inside a comment. `file` is set for `# mlaudit: noqa`, `codes` when codes follow.
DIRECTIVE = re.compile(rf"#\s*(?P<file>mlaudit\s*:\s*)?noqa(?:\s*:\s*(?P<codes>{_CODES}))?", re.I)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.I)
_NOQA_WORD = re.compile(r"noqa", re.I)
ALL_CODES = "ML"  # what a bare `# mlaudit: noqa` silences: every mlaudit code is a prefix match
UNUSED_NOQA = "ML002"
COMMENTED_OUT_CODE = "ML303"
_NO_COMMENTS = (kinds.BINARY, kinds.OTHER, kinds.JSON)


@dataclass
class Directive:
    """One `noqa` comment: where it is, what it silences, and which of its codes were used."""

    line: int  # line of the file holding the comment
    col: int  # 1-based column of its `#`
    codes: tuple[str, ...]  # upper-case mlaudit codes or prefixes; (ALL_CODES,) for a bare file-level one
    whole_file: bool
    covers: tuple[int, ...]  # lines it applies to (its own and the comment-less lines above it)
    used: set[str] = field(default_factory=set)


@dataclass
class FileNoqa:
    directives: list[Directive]
    unknown: list[tuple[int, str]]  # (line, code) of ML codes no rule has
    # Lines holding nothing but a directive: `# mlaudit: noqa` reads like an annotated name to
    # ruff's commented-out-code check, but it is not commented-out code (ML303).
    directive_only: set[int] = field(default_factory=set)

    def is_directive_block(self, finding: Finding) -> bool:
        last = max(finding.end_line or finding.line, finding.line)
        return all(n in self.directive_only for n in range(finding.line, last + 1))

    def silencer(self, finding: Finding) -> tuple[Directive, str] | None:
        """The directive and code that silence `finding`, if any; file-level ones first."""
        for directive in sorted(self.directives, key=lambda d: not d.whole_file):
            if not directive.whole_file and finding.line not in directive.covers:
                continue
            for code in directive.codes:
                if finding.code.startswith(code):
                    return directive, code
        return None

    def silences(self, finding: Finding) -> bool:
        return self.silencer(finding) is not None


def parse_noqa(text: str, fmt: str = kinds.PYTHON, directive_lines: bool = True) -> FileNoqa:
    """The directives of a file's text; `fmt` is its kinds format (Python and notebooks are tokenized).
    Without `directive_lines` (only ML303 reads them), a file whose directives are all other
    linters' is not tokenized: its FileNoqa is empty."""
    if not _NOQA_WORD.search(text):
        return FileNoqa([], [])
    if not directive_lines and fmt != kinds.NOTEBOOK and not _may_name_mlaudit(text):
        return FileNoqa([], [])
    if fmt == kinds.PYTHON:
        comments = python_comments(text)
    elif fmt == kinds.NOTEBOOK:
        comments = _notebook_comments(text)
    else:
        comments = None
    if comments is None:  # not Python, or Python that does not tokenize: every `#` counts
        comments = _hash_comments(text)
    return _directives(comments)


def _may_name_mlaudit(text: str) -> bool:
    """Whether a line holds "ml" next to a "noqa" (in any case): every directive that names mlaudit
    or one of its codes does (`# noqa: ML101`, `# mlaudit: noqa`), so a file without one has only
    other linters' (`# noqa: S310`). Lines as `tokenize` reads them, split at "\\n" only. Not for
    notebooks, whose cells are JSON strings that may spell a letter as an escape."""
    for match in _NOQA_WORD.finditer(text):
        end = text.find("\n", match.end())
        if "ml" in text[text.rfind("\n", 0, match.start()) + 1 : end if end >= 0 else len(text)].lower():
            return True
    return False


@dataclass(frozen=True)
class Comment:
    line: int
    col: int  # 1-based column of the `#`
    text: str  # from the `#` to the end of the line
    own_line: bool  # nothing but whitespace before it
    covers: tuple[int, ...]


def python_comments(text: str) -> list[Comment] | None:
    """The real comments of Python source, or None when it does not tokenize."""
    comments: list[tuple[int, int, str, bool]] = []
    capable: set[int] = set()  # lines that can end with a comment
    try:
        for token in tokenize.generate_tokens(io.StringIO(text).readline):
            if token.type in (tokenize.NL, tokenize.NEWLINE, tokenize.COMMENT):
                capable.add(token.start[0])
            if token.type == tokenize.COMMENT:
                own = not token.line[: token.start[1]].strip()
                comments.append((token.start[0], token.start[1] + 1, token.string, own))
    except (tokenize.TokenError, SyntaxError):
        return None
    return [Comment(line, col, body, own, covered_lines(line, capable)) for line, col, body, own in comments]


def covered_lines(line: int, capable: set[int]) -> tuple[int, ...]:
    """`line` and the lines right above it that cannot hold a comment of their own."""
    first = line
    while first > 1 and first - 1 not in capable:
        first -= 1
    return tuple(range(first, line + 1))


def _notebook_comments(text: str) -> list[Comment] | None:
    """Comments of a notebook's code cells, placed on the notebook file's own lines."""
    from mlaudit.facts.notebook import parse_notebook
    from mlaudit.files.sources import SourceError

    try:
        _, code, line_map, _ = parse_notebook(text)
    except (SourceError, ValueError, RecursionError):
        return None
    comments = python_comments(code)
    if comments is None:
        return None
    file_lines = line_map.file_lines

    def to_file(line: int) -> int:
        return file_lines[line - 1] if 0 < line <= len(file_lines) else line

    return [
        Comment(to_file(c.line), c.col, c.text, c.own_line, tuple(sorted({to_file(n) for n in c.covers})))
        for c in comments
    ]


def _hash_comments(text: str) -> list[Comment]:
    """For files without a tokenizer here (YAML, TOML, requirements): from each `#` that starts a directive."""
    comments = []
    for number, line in enumerate(text.splitlines(), 1):
        if _NOQA_WORD.search(line):
            start = line.find("#")
            while start != -1 and not DIRECTIVE.match(line, start):
                start = line.find("#", start + 1)
            if start != -1:
                comments.append(Comment(number, start + 1, line[start:], not line[:start].strip(), (number,)))
    return comments


def _directives(comments: Iterable[Comment]) -> FileNoqa:
    directives: list[Directive] = []
    unknown: list[tuple[int, str]] = []
    directive_only: set[int] = set()
    for comment in comments:
        if comment.own_line and DIRECTIVE.fullmatch(comment.text.rstrip()):
            directive_only.add(comment.line)
        for match in DIRECTIVE.finditer(comment.text):
            raw = _CODE.findall(match.group("codes") or "")
            mine = [c.upper() for c in raw if c.upper().startswith("ML")]
            unknown += [(comment.line, c) for c in mine if not known_code_or_prefix(c)]
            mine = [c for c in mine if known_code_or_prefix(c)]
            whole = bool(match.group("file")) and comment.own_line
            if match.group("file") and not raw:
                mine = [ALL_CODES]  # `# mlaudit: noqa` alone: every mlaudit code
            if mine:
                col = comment.col + match.start()
                directives.append(Directive(comment.line, col, tuple(mine), whole, comment.covers))
    return FileNoqa(directives, unknown, directive_only)


@dataclass
class Suppression:
    kept: list[Finding]
    dropped: int
    warnings: list[str]


def apply_suppressions(
    findings: Iterable[Finding], root: Path, settings: Settings, scanned: Iterable[str] = ()
) -> tuple[list[Finding], int]:
    """Drop silenced findings; return the rest and how many were dropped."""
    result = suppress(findings, root, settings, scanned)
    return result.kept, result.dropped


def suppress(findings: Iterable[Finding], root: Path, settings: Settings, scanned: Iterable[str] = ()) -> Suppression:
    """Drop silenced findings. `scanned` names more files whose directives are read (for ML002,
    which needs every file, not only those with findings). Unknown codes become warnings."""
    kept: list[Finding] = []
    dropped = 0
    by_path: dict[str, FileNoqa] = {}
    findings = list(findings)
    # Lines holding only a directive matter to ML303 findings alone (see FileNoqa.directive_only).
    commented_out = {f.path for f in findings if f.code == COMMENTED_OUT_CODE}

    def noqa_of(path: str) -> FileNoqa:
        if path not in by_path:
            by_path[path] = read_noqa(root, path, directive_lines=path in commented_out)
        return by_path[path]

    for finding in findings:
        if settings.ignored_in_file(finding.code, finding.path):
            dropped += 1
            continue
        if finding.code == COMMENTED_OUT_CODE and noqa_of(finding.path).is_directive_block(finding):
            continue  # not a finding at all, so not counted as suppressed
        hit = noqa_of(finding.path).silencer(finding)
        if hit is not None:
            hit[0].used.add(hit[1])
            dropped += 1
            continue
        kept.append(finding)
    if settings.is_enabled(UNUSED_NOQA):
        for path in scanned:
            noqa_of(path)
        for path, noqa in sorted(by_path.items()):
            for finding in unused_noqa(path, noqa, settings):
                if settings.ignored_in_file(finding.code, path) or noqa.silences(finding):
                    dropped += 1
                else:
                    kept.append(finding)
    warnings = [
        f"{path}:{line}: unknown rule code {code} in a noqa comment; `mlaudit rule --all` lists the codes"
        for path, noqa in sorted(by_path.items())
        for line, code in noqa.unknown
    ]
    return Suppression(kept, dropped, warnings)


def read_noqa(root: Path, path: str, directive_lines: bool = True) -> FileNoqa:
    fmt = kinds.classify(path).format
    # Data artifacts cannot carry comments; never read a large binary just to look.
    if fmt in _NO_COMMENTS:
        return FileNoqa([], [])
    return parse_noqa(_read(root, root / path), fmt, directive_lines)


def unused_noqa(path: str, noqa: FileNoqa, settings: Settings) -> list[Finding]:
    """ML002: directive codes that silenced nothing in this run, as ruff's RUF100 reports them."""
    found = []
    for directive in noqa.directives:
        if directive.codes == (ALL_CODES,):
            continue  # a bare `# mlaudit: noqa` names no code to be unused
        idle = [c for c in directive.codes if c not in directive.used]
        if not idle:
            continue
        off = [c for c in idle if not _any_enabled(c, settings)]
        reason = f" ({', '.join(off)} not enabled)" if off else ""
        noun = "code" if len(idle) == 1 else "codes"
        found.append(
            Finding(
                code=UNUSED_NOQA,
                message=f"Unused noqa {noun} {', '.join(idle)}{reason}: nothing here is reported by "
                f"{'it' if len(idle) == 1 else 'them'}; remove {'it' if len(idle) == 1 else 'them'} so the "
                "comment does not hide a future finding.",
                path=path,
                line=directive.line,
                col=directive.col,
                level=Level.WARNING,
            )
        )
    return found


def _any_enabled(code: str, settings: Settings) -> bool:
    from mlaudit.rules import all_rules

    return any(r.code.startswith(code) and settings.is_enabled(r.code) for r in all_rules())


def _read(root: Path, path: Path) -> str:
    data = read_inside(root, path, 64 * 2**20)  # never a file outside the repository, nor a FIFO
    return data.decode("utf-8", errors="replace") if data is not None else ""
