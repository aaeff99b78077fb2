"""Every fixture repo under fixtures/ gives exactly the findings its expected.txt lists.

Each `fixtures/<family>/<repo>/expected.txt` (and `fixtures/demo/expected.txt`) holds the full lines
`mlaudit check <repo> --output-format concise` prints for a committed copy of the repo, minus the
summary line: `path:line:col: CODE message`. A fixture that exercises only some rules selects them in
its own `mlaudit.toml`. To see a fixture's output by hand:

    cp -R fixtures/config/hydra_app /tmp/f && mlaudit check /tmp/f --output-format concise

After a change that is meant to alter findings or messages, regenerate the files and review the diff
before committing it (the test never rewrites them unless asked):

    .venv/bin/python -m pytest tests/test_fixture_repos.py --update-fixtures
    git diff fixtures/
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.fixture_repos import (
    EXPECTED,
    FIXTURES,
    concise_lines,
    copy_fixture,
    expected_lines,
    fixture_id,
    fixture_repos,
    write_expected,
)


@pytest.mark.parametrize("fixture", fixture_repos(), ids=fixture_id)
def test_fixture_repo_prints_exactly_its_expected_lines(
    tmp_path: Path, fixture: Path, request: pytest.FixtureRequest
) -> None:
    found, stderr = concise_lines(copy_fixture(fixture, tmp_path / fixture.name))
    assert stderr == ""  # no warning, unchecked target or internal error
    if request.config.getoption("update_fixtures"):
        write_expected(fixture, found)
    assert found == expected_lines(fixture)


def test_no_fixture_repo_is_left_without_expected_lines() -> None:
    """A repo folder under fixtures/<family>/ without expected.txt would be skipped silently."""
    families = [p for p in FIXTURES.iterdir() if p.is_dir() and p.name != "probe"]
    repos = [p for family in families for p in ([family] if (family / EXPECTED).is_file() else family.iterdir()) if p.is_dir()]
    assert [fixture_id(p) for p in repos if not (p / EXPECTED).is_file()] == []
    assert sorted(repos) == fixture_repos()
