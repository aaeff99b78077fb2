"""gitignore-style patterns from files of the audited repository (.gitignore, .dvcignore).

pathspec raises on a few lines git itself accepts and ignores (a lone backslash, `a\\`, a range
`[z-a]`): such a line matches nothing in git, so it is dropped here too instead of ending the run.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any

import pathspec

# GitIgnorePatternError (a ValueError) for a trailing backslash; re.error for a range like `[z-a]`.
_BAD_PATTERN = (ValueError, re.error)


def gitignore_spec(lines: Iterable[str]) -> pathspec.PathSpec[Any]:
    """The patterns of `lines`, without the ones that cannot be compiled (git ignores those)."""
    lines = list(lines)
    try:
        return pathspec.PathSpec.from_lines("gitignore", lines)
    except _BAD_PATTERN:
        return pathspec.PathSpec.from_lines("gitignore", [line for line in lines if valid_pattern(line)])


def valid_pattern(line: str) -> bool:
    try:
        pathspec.PathSpec.from_lines("gitignore", [line])
    except _BAD_PATTERN:
        return False
    return True
