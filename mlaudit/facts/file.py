"""What the per-file stage hands on: a file's facts (plain data, cached by content) and its findings."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from mlaudit.facts.notebook import NotebookFacts
from mlaudit.facts.python import ModuleFacts
from mlaudit.files.manifests import DependencyFile
from mlaudit.findings import Finding


@dataclass(frozen=True)
class FileFacts:
    path: str
    format: str
    error: str | None = None  # why the file could not be parsed (reported as ML001)
    python: ModuleFacts | None = None
    notebook: NotebookFacts | None = None
    data: Any = None  # YamlFacts, TOML dict, JSON value, or text, depending on the format
    dependencies: DependencyFile | None = None  # a manifest's or lockfile's parsed content


@dataclass
class FileResult:
    facts: FileFacts
    findings: list[Finding] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)  # internal errors (exit code 2)
