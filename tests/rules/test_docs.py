"""rules/*.md: one doc per rule, in the agreed shape, and their examples really behave as documented."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaudit.rules import all_rules
from mlaudit.rules.docs import RuleDoc, all_doc_codes, load_doc
from tests.helpers import check, make_repo

REQUIRED_SECTIONS = ("What it does", "Why it matters", "Example", "Use instead", "References")
DEFAULT_NAMES = {"python": "example.py", "yaml": "config.yaml", "toml": "pyproject.toml", "text": "notes.txt", "json": "data.json"}


def test_docs_and_rules_match_one_to_one() -> None:
    assert all_doc_codes() == [r.code for r in all_rules()]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_doc_front_matter_matches_rule(rule: type) -> None:
    doc = load_doc(rule.code)
    assert doc is not None
    assert doc.front.get("code") == rule.code
    assert doc.front.get("name") == rule.name
    assert doc.front.get("level") == rule.level.value
    assert doc.front.get("family") == rule.family()
    for section in REQUIRED_SECTIONS:
        assert doc.sections.get(section, "").strip(), f"{rule.code}: empty section {section!r}"


def _files(doc: RuleDoc, section: str) -> dict[str, str]:
    files = {}
    for block in doc.blocks(section):
        name = block.filename or DEFAULT_NAMES.get(block.lang, "example.py")
        files[name] = block.text
    return files


STATIC = [r for r in all_rules() if not r.runtime]


@pytest.mark.parametrize("rule", STATIC, ids=lambda r: r.code)
def test_bad_example_raises_its_code(tmp_path: Path, rule: type) -> None:
    doc = load_doc(rule.code)
    assert doc is not None
    files = _files(doc, "Example")
    assert files, f"{rule.code}: no code block under 'Example'"
    run = check(make_repo(tmp_path / "bad", files), select=[rule.code])
    assert rule.code in [f.code for f in run.findings]


@pytest.mark.parametrize("rule", STATIC, ids=lambda r: r.code)
def test_good_example_is_silent(tmp_path: Path, rule: type) -> None:
    doc = load_doc(rule.code)
    assert doc is not None
    files = _files(doc, "Use instead")
    assert files, f"{rule.code}: no code block under 'Use instead'"
    run = check(make_repo(tmp_path / "good", files), select=[rule.code])
    assert rule.code not in [f.code for f in run.findings]
