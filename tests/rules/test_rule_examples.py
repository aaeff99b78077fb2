"""Every rule's own valid/invalid examples (fixit's VALID/INVALID idea), run through the real engine.

An invalid example must produce the rule's code; if it marks lines with `# expect: CODE`, exactly
those lines. A valid example must not produce the rule's code at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from mlaudit.rules import all_rules
from mlaudit.rules.base import Example
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


def test_every_static_rule_has_examples() -> None:
    missing = [r.code for r in STATIC_RULES if not r.valid or not r.invalid]
    assert missing == []
