"""The rule registry. A rule lives in the module of its family; this file only lists the modules.

Find a rule by code: `mlaudit rule ML103` prints its doc; `grep -n 'code = "ML103"' mlaudit/rules`
shows its class; its doc is `rules/ML103.md`, its tests `tests/rules/test_<family>.py`.
"""

from __future__ import annotations

import hashlib
import importlib
import json
from functools import cache

from mlaudit.rules.base import FileRule, ProjectRule, PythonRule, Rule

FAMILY_MODULES = (
    "meta",  # ML0xx: mlaudit itself
    "randomness",  # ML1xx
    "tabular",  # ML109: gradient-boosting library settings
    "ordering",  # ML110, ML111: file-system and set order
    "config",  # ML2xx
    "deadcode",  # ML3xx
    "data",  # ML4xx
    "dependencies",  # ML5xx
    "safety",  # ML6xx
    "notebooks",  # ML7xx
    "leakage",  # ML801-ML803: data leakage
    "practices",  # ML811-ML814: environment logged, training code tested in CI
    "probe",  # ML9xx (reported by `mlaudit probe`)
)


@cache
def all_rules() -> tuple[type[Rule], ...]:
    """Every registered rule class, sorted by code."""
    found: dict[str, type[Rule]] = {}
    for family in FAMILY_MODULES:
        try:
            module = importlib.import_module(f"mlaudit.rules.{family}")
        except ModuleNotFoundError as exc:
            if exc.name != f"mlaudit.rules.{family}":
                raise
            continue
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, Rule) and value.code and value.__module__ == module.__name__:
                if value.code in found and found[value.code] is not value:
                    raise RuntimeError(f"two rules claim {value.code}: {found[value.code]} and {value}")
                found[value.code] = value
    return tuple(found[code] for code in sorted(found))


def rule_by_code(code: str) -> type[Rule] | None:
    for rule in all_rules():
        if rule.code == code:
            return rule
    return None


def known_code_or_prefix(text: str) -> bool:
    return any(rule.code.startswith(text) for rule in all_rules())


__all__ = ["FileRule", "ProjectRule", "PythonRule", "Rule", "all_rules", "known_code_or_prefix", "rule_by_code"]


def ruleset_version() -> str:
    """Which rules this installation has and how they are set up: their number and a digest of
    each rule's code, name, level and option defaults (`mlaudit --version` shows it). Two
    installations that print the same value report the same rules at the same levels."""
    rules = all_rules()
    described = [(r.code, r.name, r.level.value, sorted(r.defaults.items())) for r in rules]
    digest = hashlib.sha256(json.dumps(described, default=str).encode()).hexdigest()[:12]
    return f"{len(rules)} rules, {digest}"
