"""rules/*.md: one doc per rule, in the agreed shape, and their examples really behave as documented."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mlaudit.docs import RuleDoc, all_doc_codes, load_doc
from mlaudit.rules import all_rules
from tests.helpers import EXPECT, UNTRACKED, check, expected_markers, located, make_repo

REQUIRED_SECTIONS = ("What it does", "Why it matters", "Example", "Use instead", "References")
DEFAULT_NAMES = {"python": "example.py", "yaml": "config.yaml", "toml": "pyproject.toml", "text": "notes.txt", "json": "data.json"}


def test_docs_and_rules_match_one_to_one() -> None:
    assert all_doc_codes() == [r.code for r in all_rules()]


@pytest.mark.parametrize("rule", all_rules(), ids=lambda r: r.code)
def test_doc_front_matter_matches_rule(rule: type) -> None:
    doc = load_doc(rule.code)
    assert doc is not None
    # Nothing else: what the code knows (fixable, opt-in, tags) is read from the rule class.
    assert set(doc.front) == {"code", "name", "level", "family"}
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


def _markers(doc: RuleDoc, section: str) -> set[tuple[str, int, str]]:
    """(path, line, code) of every `# expect: CODE` in a section's examples. A file that cannot hold
    a comment (a CSV, a checkpoint, a notebook's JSON) carries its marker in the fence info string,
    ```text data/train.csv # expect: ML402, and it stands for line 1: the finding on the whole file."""
    found = expected_markers(_files(doc, section))
    for block in doc.blocks(section):
        if (match := EXPECT.search(block.info)) is not None:
            name = (block.filename or DEFAULT_NAMES.get(block.lang, "example.py")).removeprefix(UNTRACKED)
            found |= {(name, 1, code) for code in re.findall(r"ML\d+", match.group("codes"))}
    return found


@pytest.mark.parametrize("rule", STATIC, ids=lambda r: r.code)
def test_bad_example_reports_exactly_its_marked_lines(tmp_path: Path, rule: type) -> None:
    """Every `# expect:` marker in the Example section is a finding on that line, and every finding
    of the rule there has its marker."""
    doc = load_doc(rule.code)
    assert doc is not None
    files = _files(doc, "Example")
    assert files, f"{rule.code}: no code block under 'Example'"
    markers = _markers(doc, "Example")
    assert markers, f"{rule.code}: mark the reported lines of 'Example' with # expect: {rule.code}"
    run = check(make_repo(tmp_path / "bad", files), select=[rule.code])
    assert located(run) == markers


@pytest.mark.parametrize("rule", STATIC, ids=lambda r: r.code)
def test_good_example_is_silent(tmp_path: Path, rule: type) -> None:
    doc = load_doc(rule.code)
    assert doc is not None
    files = _files(doc, "Use instead")
    assert files, f"{rule.code}: no code block under 'Use instead'"
    assert _markers(doc, "Use instead") == set()
    run = check(make_repo(tmp_path / "good", files), select=[rule.code])
    assert located(run) == set()
