"""What a rule reports. Plain data: rules build these, reporters format them."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import Enum


class Level(str, Enum):
    """Severity of a finding, named as SARIF names them."""

    ERROR = "error"
    WARNING = "warning"
    NOTE = "note"


@dataclass(frozen=True)
class Edit:
    """Replace the text between two positions (1-based lines, 1-based code-point columns, end exclusive)."""

    line: int
    col: int
    end_line: int
    end_col: int
    content: str


@dataclass(frozen=True)
class Fix:
    """A mechanical change that resolves a finding; shown in JSON and SARIF output.

    A safe fix keeps what the code means in every case the rule can see (`yaml.load` with a
    full loader -> `yaml.safe_load`). An unsafe one may change what a working program does
    (flipping an explicit `weights_only=False`, which someone may have written on purpose);
    `check --fix` applies those only with `--unsafe-fixes`.
    """

    description: str
    edits: tuple[Edit, ...]
    safe: bool = True


@dataclass(frozen=True)
class RelatedLocation:
    """Another place that belongs to the same finding (the other tests of one dead flag)."""

    path: str
    line: int
    col: int = 1
    message: str = ""


@dataclass(frozen=True)
class Finding:
    """One problem at one place.

    `path` is relative to the project root, POSIX style. Positions are 1-based; columns count
    Unicode code points and the end column is exclusive. A repo-level finding points at the file
    that should change, on line 1 when there is no better line.
    """

    code: str
    message: str
    path: str
    line: int = 1
    col: int = 1
    end_line: int | None = None
    end_col: int | None = None
    level: Level = Level.WARNING
    fix: Fix | None = None
    # Extra paths whose presence in a pre-commit batch makes this finding relevant
    # (e.g. the lockfile for a stale-lockfile finding anchored at pyproject.toml).
    related_paths: tuple[str, ...] = field(default=())
    # Other places of the same problem, shown as SARIF relatedLocations and JSON `related`.
    related: tuple[RelatedLocation, ...] = field(default=())

    def sort_key(self) -> tuple[str, int, int, str]:
        return (self.path, self.line, self.col, self.code)
