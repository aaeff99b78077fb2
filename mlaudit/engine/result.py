"""The outcome of one run of `mlaudit check` or `mlaudit probe`, handed to the reporters."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlaudit.findings import Finding
from mlaudit.rules.base import Rule


@dataclass
class RunResult:
    """Everything a reporter may show about one run of `mlaudit check` or `mlaudit probe`."""

    root: Path  # absolute project root; finding paths are relative to it
    findings: list[Finding]  # after suppression, sorted
    rules: list[type[Rule]]  # the enabled rules, sorted by code (SARIF tool.driver.rules)
    exit_code: int = 0
    execution_successful: bool = True  # False only when mlaudit itself failed
    notifications: list[str] = field(default_factory=list)  # messages about the run (skipped files, rule crashes)
    warnings: list[str] = field(default_factory=list)  # degraded parts of the run; do not change the exit code
    suppressed: int = 0  # findings silenced by noqa / per-file-ignores
    files_checked: int = 0  # files the report covers (those under the paths named)
    unchecked_targets: list[str] = field(default_factory=list)  # a line per path named that held nothing to check
    tool_name: str = "mlaudit"
    sarif_category: str | None = None  # SARIF automationDetails.id; None: mlaudit/check/ or mlaudit/probe/
    # The git work tree's top when the project is a folder inside it: SARIF locations are
    # relative to the checkout, which is what GitHub resolves them against.
    source_root: Path | None = None
    # Seconds per stage (discover, analyse, project, ...) and cache use, for -v and the benchmark.
    timings: dict[str, float] = field(default_factory=dict)
    cache_hits: int = 0
    workers: int = 1
    # Summary lines from --baseline / --diff-base: findings not shown, baseline entries fixed.
    adoption_notes: list[str] = field(default_factory=list)
    # Structured facts about the run for machine readers (the probe: verdict, target, seeds,
    # device...): JSON's "properties", SARIF's run property bag. "finding" also goes on each result.
    properties: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # note-level messages (a probe's pass)
