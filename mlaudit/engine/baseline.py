"""The baseline file: findings a repository already had when it adopted mlaudit, so that
`check --baseline FILE` reports only new ones.

An entry is keyed by rule code, repository-relative path and two fingerprints of the line the
finding points at, and carries a count:

- `line-hash`: GitHub code scanning's `primaryLocationLineHash` value (without its `:k` suffix),
  a hash of the 100 non-blank characters starting at the line; it survives moved lines and
  whitespace changes, and tells apart identical lines with different code after them;
- `text-hash`: a hash of the line's own text without whitespace and comments; it survives edits of the
  lines around it, which change the line-hash.

A finding matches an entry with the same code, path and line-hash, else one with the same code,
path and text-hash; each entry matches at most `count` findings, so a new copy of a known finding
is still reported. A file renamed since the baseline was written (as git reports it) keeps its
entries. Findings in files without lines (data artifacts) match by code and path alone.
"""

from __future__ import annotations

import hashlib
import io
import json
import re
import tokenize
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from mlaudit import __version__
from mlaudit.engine.fingerprint import BLOCK_SIZE, _Hasher, decode_like_node, utf16_units
from mlaudit.files import kinds
from mlaudit.files.boundary import read_inside
from mlaudit.findings import Finding

FORMAT = 1
FORMAT_KEY = "mlaudit-baseline"
DEFAULT_NAME = "mlaudit-baseline.json"
_NO_LINES = (kinds.BINARY, kinds.OTHER)
_MAX_READ = 64 * 2**20
_LINE_BREAK = re.compile(r"\r\n?|\n")  # as Python and the line hash count lines


class BaselineError(Exception):
    """The baseline file is missing, unreadable or not a baseline; the CLI exits 2 with it."""


@dataclass(frozen=True)
class Key:
    code: str
    path: str  # relative to the repository root, POSIX
    line_hash: str
    text_hash: str


@dataclass(frozen=True)
class Baseline:
    counts: dict[Key, int]
    commit: str | None  # HEAD when it was written, for rename detection
    source: Path


def line_hash_at(text: str, offset: int) -> str:
    """GitHub's line hash (hex, without `:k`) of the line that starts at `offset` in `text`.

    Equal to `fingerprint.line_hashes(text)[n]` before the colon, but reads only the ~100 code
    units the hash covers instead of the whole file: the rolling hash of a full window is the
    polynomial of the window's own content, whatever came before it."""
    hasher = _Hasher()
    step = 4 * BLOCK_SIZE
    position = offset
    while position < len(text):
        for unit in utf16_units(text[position : position + step]):
            hasher.process(unit)
            if 1 in hasher.hashes:
                return hasher.hashes[1].split(":")[0]
        position += step
    hasher.flush()
    return hasher.hashes.get(1, ":").split(":")[0]


def text_hash(line: str) -> str:
    """A hash of the line without whitespace and without a trailing comment, so adding a comment
    (a `# noqa` for another linter, a note) to a known finding's line keeps it known."""
    code = without_comment(line)
    return hashlib.sha256("".join(code.split()).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def without_comment(line: str) -> str:
    """`line` up to its `#` comment, as Python's tokenizer finds it (also right for YAML, TOML and
    requirements lines, whose comments start the same way); unchanged when it has none."""
    if "#" not in line:
        return line
    try:
        for token in tokenize.generate_tokens(io.StringIO(line).readline):
            if token.type == tokenize.COMMENT:
                return line[: token.start[1]]
    except (tokenize.TokenError, SyntaxError):
        pass
    return line


class LineIndex:
    """A file's text with the offset of each line start, read once and shared by its findings."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.starts = [0, *(m.end() for m in _LINE_BREAK.finditer(text))]

    def key_parts(self, line: int) -> tuple[str, str]:
        if not 0 < line <= len(self.starts) or (line == len(self.starts) and self.starts[-1] >= len(self.text)):
            return "", ""
        start = self.starts[line - 1]
        end = self.starts[line] if line < len(self.starts) else len(self.text)
        return line_hash_at(self.text, start), text_hash(self.text[start:end])


def finding_keys(findings: Sequence[Finding], root: Path, prefix: str) -> list[Key]:
    """The key of each finding, in order. `prefix` is the project root's path inside the
    repository ("" when they are the same), so keys do not depend on which folder was checked."""
    indexes: dict[str, LineIndex | None] = {}
    keys = []
    for finding in findings:
        if finding.path not in indexes:
            indexes[finding.path] = _index(root, finding.path)
        index = indexes[finding.path]
        line_hash, line_text = index.key_parts(finding.line) if index is not None else ("", "")
        keys.append(Key(finding.code, repo_path(prefix, finding.path), line_hash, line_text))
    return keys


def repo_path(prefix: str, path: str) -> str:
    return f"{prefix}/{path}" if prefix else path


def _index(root: Path, rel: str) -> LineIndex | None:
    if kinds.classify(rel).format in _NO_LINES:
        return None
    data = read_inside(root, root / rel, _MAX_READ)  # never a file outside the repository, nor a FIFO
    return LineIndex(decode_like_node(data)) if data is not None else None


def write_baseline(target: Path, findings: Sequence[Finding], keys: Sequence[Key], commit: str | None) -> int:
    """Write the baseline file; return how many entries it has."""
    counts = Counter(keys)
    first: dict[Key, Finding] = {}
    for key, finding in zip(keys, findings, strict=True):
        first.setdefault(key, finding)
    entries = [
        {
            "code": key.code,
            "path": key.path,
            "line-hash": key.line_hash,
            "text-hash": key.text_hash,
            "count": counts[key],
            # For people reading the file; matching never uses them.
            "line": first[key].line,
            "message": first[key].message,
        }
        for key in sorted(counts, key=lambda k: (k.path, first[k].line, k.code, k.line_hash))
    ]
    document = {
        FORMAT_KEY: FORMAT,
        "written-by": f"mlaudit {__version__}",
        "commit": commit,
        "findings": entries,
    }
    target.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return len(entries)


def load_baseline(source: Path) -> Baseline:
    try:
        document = json.loads(source.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise BaselineError(f"baseline file {source} does not exist; write it with `mlaudit baseline -o {source}`") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise BaselineError(f"cannot read baseline file {source}: {exc}") from None
    if not isinstance(document, dict) or document.get(FORMAT_KEY) != FORMAT or not isinstance(document.get("findings"), list):
        raise BaselineError(f"{source} is not an mlaudit baseline (version {FORMAT}); rewrite it with `mlaudit baseline -o {source}`")
    counts: Counter[Key] = Counter()
    for number, entry in enumerate(document["findings"], 1):
        counts[_entry_key(entry, number, source)] += _entry_count(entry, number, source)
    commit = document.get("commit")
    return Baseline(dict(counts), commit if isinstance(commit, str) else None, source)


def _entry_key(entry: object, number: int, source: Path) -> Key:
    fields = ("code", "path", "line-hash", "text-hash")
    if not isinstance(entry, dict) or not all(isinstance(entry.get(f), str) for f in fields):
        raise BaselineError(f"{source}: entry {number} needs string fields {', '.join(fields)}")
    return Key(entry["code"], entry["path"], entry["line-hash"], entry["text-hash"])


def _entry_count(entry: dict[str, object], number: int, source: Path) -> int:
    count = entry.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise BaselineError(f"{source}: entry {number} has an invalid count {count!r}")
    return count


def renamed(baseline: Baseline, renames: dict[str, str]) -> dict[Key, int]:
    """The baseline's counts with paths that git reports renamed moved to their new names."""
    counts: Counter[Key] = Counter()
    for key, count in baseline.counts.items():
        path = renames.get(key.path, key.path)
        counts[Key(key.code, path, key.line_hash, key.text_hash)] += count
    return dict(counts)


def match(counts: dict[Key, int], keys: Iterable[Key]) -> tuple[list[bool], dict[Key, int]]:
    """Which findings (by key, in order) are known; and the entries' counts left unmatched."""
    left = dict(counts)
    by_line: dict[tuple[str, str, str], list[Key]] = {}
    by_text: dict[tuple[str, str, str], list[Key]] = {}
    for key in counts:
        by_line.setdefault((key.code, key.path, key.line_hash), []).append(key)
        by_text.setdefault((key.code, key.path, key.text_hash), []).append(key)
    keys = list(keys)
    known = [_take(left, by_line.get((k.code, k.path, k.line_hash), ())) for k in keys]
    for index, key in enumerate(keys):
        if not known[index]:
            known[index] = _take(left, by_text.get((key.code, key.path, key.text_hash), ()))
    return known, {k: n for k, n in left.items() if n}


def _take(left: dict[Key, int], candidates: Iterable[Key]) -> bool:
    for candidate in candidates:
        if left[candidate] > 0:
            left[candidate] -= 1
            return True
    return False
