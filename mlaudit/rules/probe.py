"""Runtime rules: reported by `mlaudit probe`, never by `mlaudit check`.

They carry metadata only (code, name, level, docs); `mlaudit.probe.session` decides when they fire.
"""

from __future__ import annotations

from mlaudit.findings import Level
from mlaudit.rules.base import Rule


class NonreproducibleStep(Rule):
    code = "ML901"
    name = "nonreproducible-step"
    summary = "Two runs of the training step with the same seed give bitwise different tensors"
    level = Level.ERROR
    tags = ("reproducibility", "runtime")
    runtime = True


class SeedInsensitive(Rule):
    code = "ML902"
    name = "seed-insensitive"
    summary = "Runs of the training step with different seeds give identical tensors: the seed is not wired in"
    level = Level.WARNING
    tags = ("reproducibility", "runtime")
    runtime = True


PROBE_RULES: list[type[Rule]] = [NonreproducibleStep, SeedInsensitive]
