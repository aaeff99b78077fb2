"""The project model: every file with its kind, git state, and facts. Rules read it; nothing writes it
after the run has built it, except the memoised analyses (module graph, config index, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TYPE_CHECKING, Any, TypeVar

from mlaudit.project.git import GitState
from mlaudit.project.kinds import Kind

if TYPE_CHECKING:
    from mlaudit.config import Settings
    from mlaudit.facts import FileFacts
    from mlaudit.facts.python import ModuleFacts

T = TypeVar("T")


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the project root, POSIX
    abs_path: Path
    kind: Kind
    size: int  # bytes, -1 when the file could not be stat'ed
    tracked: bool | None  # None outside git
    is_symlink: bool = False
    mtime_ns: int = 0
    ctime_ns: int = 0  # with size and mtime, tells an unchanged file without reading it
    outside: bool = False  # a symlink whose target lies outside the repository: listed, never opened

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]  # PurePosixPath(path).name; rules ask thousands of times

    @property
    def format(self) -> str:
        return self.kind.format

    def has_role(self, role: str) -> bool:
        return role in self.kind.roles


@dataclass
class ProjectModel:
    root: Path
    files: dict[str, SourceFile]
    facts: dict[str, FileFacts]
    git: GitState | None
    settings: Settings
    _analyses: dict[str, Any] = field(default_factory=dict)

    def analysis(self, name: str, build: Callable[[ProjectModel], T]) -> T:
        """Build a project-wide analysis once per run and share it between rules."""
        if name not in self._analyses:
            self._analyses[name] = build(self)
        return self._analyses[name]

    def python_modules(self) -> Iterator[tuple[SourceFile, ModuleFacts]]:
        """Python files and notebooks that parsed, with their module facts."""
        for path, facts in self.facts.items():
            if facts.python is not None:
                yield self.files[path], facts.python

    def with_role(self, role: str) -> list[SourceFile]:
        return [f for f in self.files.values() if f.has_role(role)]

    def with_format(self, fmt: str) -> list[SourceFile]:
        return [f for f in self.files.values() if f.format == fmt]

    def data(self, path: str) -> Any:
        """Parsed content of a structured file (YAML facts, TOML/JSON data, text), or None."""
        facts = self.facts.get(path)
        return facts.data if facts is not None else None

    def options(self, code: str) -> dict[str, Any]:
        return self.settings.rule_options(code)


def module_name(rel_path: str) -> tuple[str, bool]:
    """Dotted module name for a Python file, and whether it is a package `__init__`.

    A `src/` layout is stripped (`src/pkg/a.py` is `pkg.a`). Folders need not be packages: a
    script in `examples/mnist/main.py` is named `examples.mnist.main`; the module graph also
    resolves its sibling imports the way `python main.py` would.
    """
    parts = list(PurePosixPath(rel_path).with_suffix("").parts)
    if parts and parts[0] == "src" and len(parts) > 1:
        parts = parts[1:]
    is_package = bool(parts) and parts[-1] == "__init__"
    if is_package:
        parts = parts[:-1]
    if any(not p.isidentifier() for p in parts):
        return "", is_package
    return ".".join(parts), is_package
