"""Git LFS state: which paths `.gitattributes` sends through the LFS filter, and pointer files.

Built once per run with `lfs_state(model)`. A `.gitattributes` line such as
`*.pt filter=lfs diff=lfs merge=lfs -text` says that `git add` stores matching files in LFS and
commits a small pointer file instead. Patterns follow gitattributes rules: a pattern without a
slash matches the file name at any depth below the attributes file's folder, one with a slash is
anchored to that folder; later lines and deeper files win; `-filter` or `!filter` unsets.
"""

from __future__ import annotations

import functools
import posixpath
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pathspec

from mlaudit.files.boundary import read_regular
from mlaudit.files.sources import SourceFile
from mlaudit.project.model import ProjectModel

# The first line of every LFS pointer file (https://github.com/git-lfs/git-lfs/blob/main/docs/spec.md).
POINTER_PREFIX = b"version https://git-lfs.github.com/spec/v1"
# The spec caps pointer files at 1024 bytes; anything larger is real content.
MAX_POINTER_BYTES = 1024
# .gitattributes and .dvcignore files are small; a huge one is not worth reading.


@dataclass(frozen=True)
class LfsPattern:
    folder: str  # folder of the .gitattributes file, "" at the root
    pattern: str
    lfs: bool  # True: filter=lfs; False: the filter is unset or set to something else
    source: str  # the .gitattributes file
    line: int


@dataclass(frozen=True)
class LfsState:
    patterns: tuple[LfsPattern, ...]

    def tracks(self, rel_path: str) -> bool:
        """Whether `git add` sends this path through the LFS filter."""
        decision = False
        for rule in self.patterns:  # sorted by build_lfs_state: the last match wins
            if _matches(rule, rel_path):
                decision = rule.lfs
        return decision

    @property
    def used(self) -> bool:
        return any(p.lfs for p in self.patterns)


def lfs_state(model: ProjectModel) -> LfsState:
    return model.analysis(build_lfs_state)


def build_lfs_state(model: ProjectModel) -> LfsState:
    patterns: list[LfsPattern] = []
    for file in sorted(model.files.values(), key=lambda f: f.path):
        if file.name == ".gitattributes":
            patterns.extend(parse_gitattributes(file.path, file_text(model, file)))
    # Shallower attribute files first, then line order, so that deeper files and later lines win.
    patterns.sort(key=lambda p: (p.folder.count("/") + bool(p.folder), p.source, p.line))
    return LfsState(tuple(patterns))


def parse_gitattributes(path: str, text: str) -> list[LfsPattern]:
    folder = posixpath.dirname(path)
    found = []
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.strip()
        if not line or line.startswith("#") or line.startswith("[attr]"):
            continue
        pattern, *attributes = line.split()
        for attribute in attributes:
            if attribute.startswith("filter="):
                found.append(LfsPattern(folder, pattern, attribute == "filter=lfs", path, number))
            elif attribute in ("-filter", "!filter"):
                found.append(LfsPattern(folder, pattern, False, path, number))
    return found


def is_lfs_pointer(file: SourceFile) -> bool:
    """Whether the file on disk is an LFS pointer (read only when it is small enough to be one)."""
    if file.outside or not 0 < file.size <= MAX_POINTER_BYTES:
        return False
    return read_head(file.abs_path, len(POINTER_PREFIX)) == POINTER_PREFIX


def read_head(path: Path, count: int) -> bytes:
    """The first `count` bytes of a file, b"" when it cannot be read."""
    try:
        return read_regular(path, count)
    except OSError:
        return b""


def file_text(model: ProjectModel, file: SourceFile) -> str:
    """The text of a small VCS file (.gitattributes, .dvcignore) as the engine read it; "" when it
    could not be read (the engine reported that as ML001)."""
    data = model.data(file.path)
    return data if isinstance(data, str) else ""


def _matches(rule: LfsPattern, rel_path: str) -> bool:
    prefix = rule.folder + "/" if rule.folder else ""
    if not rel_path.startswith(prefix):
        return False
    return _pattern_matches(rule.pattern, rel_path[len(prefix) :])


def _pattern_matches(pattern: str, rel_path: str) -> bool:
    # gitattributes patterns are gitignore patterns without negation; a folder pattern ("data/")
    # does not match the files below it.
    if pattern.endswith("/"):
        return False
    compiled = _compile(pattern)
    return compiled is not None and compiled.match_file(rel_path)


@functools.lru_cache(maxsize=1024)
def _compile(pattern: str) -> pathspec.PathSpec[Any] | None:
    if pattern.startswith("!"):
        return None  # negative patterns are not allowed in .gitattributes
    try:
        return pathspec.PathSpec.from_lines("gitignore", [pattern])
    except ValueError:
        return None
