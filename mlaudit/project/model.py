"""The project model: every file with its kind, git state, and facts. Rules read it; nothing writes it
after the run has built it, except the memoised analyses (module graph, config index, ...)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, TypeVar

from mlaudit.facts.file import FileFacts
from mlaudit.facts.python import ModuleFacts
from mlaudit.files.sources import SourceFile
from mlaudit.project.git import GitState

T = TypeVar("T")


class RunSettings(Protocol):
    """What the project layer reads of the run's settings (mlaudit.engine.settings.Settings has it)."""

    @property
    def max_bytes(self) -> int: ...

    def rule_options(self, code: str) -> dict[str, Any]: ...

    def is_enabled(self, code: str) -> bool: ...


@dataclass
class ProjectModel:
    root: Path
    files: dict[str, SourceFile]
    facts: dict[str, FileFacts]
    git: GitState | None
    settings: RunSettings
    _analyses: dict[Callable[[ProjectModel], Any], Any] = field(default_factory=dict)
    _python: list[tuple[SourceFile, ModuleFacts]] | None = field(default=None, repr=False)

    def analysis(self, build: Callable[[ProjectModel], T]) -> T:
        """Build a project-wide analysis once per run and share it between rules; the builder
        itself is the key, so two analyses cannot share a name and a reader gets the builder's type."""
        if build not in self._analyses:
            self._analyses[build] = build(self)
        result: T = self._analyses[build]
        return result

    def python_modules(self) -> Iterator[tuple[SourceFile, ModuleFacts]]:
        """Python files and notebooks that parsed, with their module facts (listed on the first
        call: a dozen analyses and rules ask)."""
        if self._python is None:
            self._python = [(self.files[path], facts.python) for path, facts in self.facts.items() if facts.python is not None]
        return iter(self._python)

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
