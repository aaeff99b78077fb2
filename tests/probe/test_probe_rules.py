"""ML901/ML902 carry the metadata and docs that `mlaudit rule` and SARIF show."""

from __future__ import annotations

import ast

import pytest

from mlaudit.docs import load_doc
from mlaudit.findings import Level
from mlaudit.rules.base import Rule
from mlaudit.rules.probe import PROBE_RULES, NonreproducibleStep, SeedInsensitive


def test_rule_metadata() -> None:
    assert [(r.code, r.name, r.level) for r in PROBE_RULES] == [
        ("ML901", "nonreproducible-step", Level.ERROR),
        ("ML902", "seed-insensitive", Level.WARNING),
    ]
    for rule in (NonreproducibleStep, SeedInsensitive):
        assert rule.runtime and rule.family() == "probe"


@pytest.mark.parametrize("rule", PROBE_RULES)
def test_rule_doc_matches_and_its_examples_parse(rule: type[Rule]) -> None:
    doc = load_doc(rule.code)
    assert doc is not None
    assert (doc.front["code"], doc.front["name"], doc.front["level"]) == (rule.code, rule.name, rule.level.value)
    for section in ("What it does", "Why it matters", "Example", "Use instead", "References"):
        assert doc.sections.get(section, "").strip(), section
    for section in ("Example", "Use instead"):
        for block in doc.blocks(section):
            if block.lang == "python":
                ast.parse(block.text)


def test_ml901_doc_has_the_15_line_target_example() -> None:
    doc = load_doc("ML901")
    assert doc is not None
    [example] = [b for b in doc.blocks("Use instead") if b.lang == "python"]
    assert len(example.text.splitlines()) == 15
    assert "def step(seed: int)" in example.text
    assert 'target = "mypkg.train:step"' in doc.what
