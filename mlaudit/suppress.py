"""Which findings the user silenced: `# noqa: CODE` on the reported line, a file-level
`# mlaudit: noqa: CODE`, and `per-file-ignores` in the configuration.

A bare `# noqa` (no codes) does NOT silence mlaudit: it is usually written for another linter,
and a reproducibility bug should not hide behind it.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from mlaudit.config import Settings
from mlaudit.findings import Finding
from mlaudit.project import kinds
from mlaudit.project.boundary import read_inside

_NOQA = re.compile(r"#\s*noqa\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*)", re.I)
_FILE_NOQA = re.compile(r"#\s*mlaudit\s*:\s*noqa\s*:\s*(?P<codes>[A-Z]+[0-9]+(?:[\s,]+[A-Z]+[0-9]+)*)", re.I)
_CODE = re.compile(r"[A-Z]+[0-9]+", re.I)


@dataclass(frozen=True)
class FileNoqa:
    lines: dict[int, frozenset[str]]  # line -> codes silenced on it
    whole_file: frozenset[str]

    def silences(self, finding: Finding) -> bool:
        if _matches(finding.code, self.whole_file):
            return True
        return _matches(finding.code, self.lines.get(finding.line, frozenset()))


def _matches(code: str, codes: frozenset[str]) -> bool:
    return any(code.startswith(c) for c in codes)


def parse_noqa(text: str) -> FileNoqa:
    lines: dict[int, frozenset[str]] = {}
    whole: set[str] = set()
    if "noqa" not in text:
        return FileNoqa({}, frozenset())
    for number, line in enumerate(text.splitlines(), 1):
        if "noqa" not in line:
            continue
        file_match = _FILE_NOQA.search(line)
        if file_match:
            whole.update(c.upper() for c in _CODE.findall(file_match.group("codes")))
            continue
        match = _NOQA.search(line)
        if match:
            lines[number] = frozenset(c.upper() for c in _CODE.findall(match.group("codes")))
    return FileNoqa(lines, frozenset(whole))


def apply_suppressions(findings: Iterable[Finding], root: Path, settings: Settings) -> tuple[list[Finding], int]:
    """Drop silenced findings; return the rest and how many were dropped."""
    kept: list[Finding] = []
    dropped = 0
    noqa_by_path: dict[str, FileNoqa] = {}
    for finding in findings:
        if settings.ignored_in_file(finding.code, finding.path):
            dropped += 1
            continue
        if finding.path not in noqa_by_path:
            # Data artifacts cannot carry comments; never read a large binary just to look.
            is_text = kinds.classify(finding.path).format not in (kinds.BINARY, kinds.OTHER)
            noqa_by_path[finding.path] = parse_noqa(_read(root, root / finding.path) if is_text else "")
        if noqa_by_path[finding.path].silences(finding):
            dropped += 1
            continue
        kept.append(finding)
    return kept, dropped


def _read(root: Path, path: Path) -> str:
    data = read_inside(root, path, 64 * 2**20)  # never a file outside the repository, nor a FIFO
    return data.decode("utf-8", errors="replace") if data is not None else ""
