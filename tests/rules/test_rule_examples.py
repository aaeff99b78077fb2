"""Every rule's own valid/invalid examples (fixit's VALID/INVALID idea), run through the real engine.

An invalid example must produce the rule's code; if it marks lines with `# expect: CODE`, exactly
those lines. A valid example must not produce the rule's code at all. A fix example (before, after)
must become `after` under all the rule's fixes (unsafe ones included) and then be silent; a rule
without fix examples (not `fixable()`) must offer no fix on any of its invalid examples.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.fix.apply import plan_fixes
from mlaudit.rules import all_rules
from mlaudit.rules.base import Example, Rule
from tests.helpers import check, expected_markers, located, make_repo

STATIC_RULES = [r for r in all_rules() if not r.runtime]


def _files(example: Example) -> Mapping[str, str]:
    return {"example.py": example} if isinstance(example, str) else example


def _cases(kind: str) -> list[object]:
    cases = []
    for rule in STATIC_RULES:
        for index, example in enumerate(getattr(rule, kind)):
            cases.append(pytest.param(rule.code, _files(example), id=f"{rule.code}-{kind}-{index}"))
    return cases


@pytest.mark.parametrize(("code", "files"), _cases("invalid"))
def test_invalid_example_is_reported(tmp_path: Path, code: str, files: Mapping[str, str]) -> None:
    run = check(make_repo(tmp_path / "repo", files), select=[code])
    expected = {m for m in expected_markers(files) if m[2] == code}
    found = located(run, code)
    if expected:
        assert found == expected
    else:
        assert found, f"{code} did not fire on its invalid example"


@pytest.mark.parametrize(("code", "files"), _cases("valid"))
def test_valid_example_is_silent(tmp_path: Path, code: str, files: Mapping[str, str]) -> None:
    run = check(make_repo(tmp_path / "repo", files), select=[code])
    assert located(run, code) == set()


def _fix_cases() -> list[object]:
    return [
        pytest.param(rule.code, _files(before), _files(after), id=f"{rule.code}-fix-{index}")
        for rule in STATIC_RULES
        for index, (before, after) in enumerate(rule.fixes)
    ]


@pytest.mark.parametrize(("code", "before", "after"), _fix_cases())
def test_fix_example_becomes_its_after(
    tmp_path: Path, code: str, before: Mapping[str, str], after: Mapping[str, str]
) -> None:
    run = check(make_repo(tmp_path / "repo", before), select=[code])
    assert run.findings and all(f.fix is not None for f in run.findings)
    plan = plan_fixes(run.root, run.findings, unsafe=True)
    assert {f.path: f.after for f in plan.files} == after
    assert located(check(make_repo(tmp_path / "fixed", {**before, **after}), select=[code])) == set()


@pytest.mark.parametrize("rule", [r for r in STATIC_RULES if not r.fixable()], ids=lambda r: r.code)
def test_a_rule_without_fix_examples_offers_no_fix(tmp_path: Path, rule: type[Rule]) -> None:
    for index, example in enumerate(rule.invalid):
        run = check(make_repo(tmp_path / str(index), _files(example)), select=[rule.code])
        assert [f for f in run.findings if f.fix is not None] == []


def test_every_static_rule_has_examples() -> None:
    missing = [r.code for r in STATIC_RULES if not r.valid or not r.invalid]
    assert missing == []


def test_a_rule_is_left_out_of_files_without_its_required_words(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """`requires_text`: ML602 (PyYAML calls) is not even started on a module that never says "yaml",
    and is on one that does, under an alias."""
    from mlaudit.rules.safety import UnsafeYamlLoad

    started: list[str] = []
    monkeypatch.setattr(UnsafeYamlLoad, "end", lambda self, ctx: started.append(ctx.path))
    files = {"a.py": "import json\ndata = json.load(open('c.json'))\n",
             "b.py": "from yaml import load as read\ncfg = read(open('c.yaml'))\n"}
    check(make_repo(tmp_path / "repo", files), select=["ML602"])
    assert started == ["b.py"]
    assert UnsafeYamlLoad.may_report("from yaml import load as read") and not UnsafeYamlLoad.may_report("import json")


def test_a_listing_rule_is_left_out_of_modules_that_only_say_global() -> None:
    from mlaudit.rules.ordering import FilesystemOrder

    for text in ("import glob", "root.rglob('*.png')", "from os import listdir", "glob.iglob(p)", "p.iterdir()"):
        assert FilesystemOrder.may_report(text), text
    assert not FilesystemOrder.may_report("global counter\nx = globals()\nglobal_step = 1\n")


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from(["glob", "iglob", "rglob", "listdir", "scandir", "iterdir", "i", "r", "_", "a", "é", "1",
                                 " ", ".", "(", "\n", "global", "xglob"]), max_size=8).map("".join))
def test_the_listing_gate_finds_the_words_a_word_boundary_pattern_finds(text: str) -> None:
    """The gate checks the boundary before a name in Python (a leading `\\b` makes the regex slow);
    it must agree with the plain pattern on every text."""
    import re

    from mlaudit.rules.ordering import _LISTING_LAST_NAMES, FilesystemOrder

    pattern = re.compile(r"\b(?:" + "|".join(sorted(_LISTING_LAST_NAMES)) + r")\b")
    assert FilesystemOrder.may_report(text) == (pattern.search(text) is not None)
