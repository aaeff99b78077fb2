"""ML814: tests exist but nothing automated runs them."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import check, make_repo

TEST = {"tests/test_data.py": "def test_transform():\n    assert 1 + 1 == 2\n"}
WORKFLOW = "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n    - run: {}\n"


def findings(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, str]]:
    result = check(make_repo(tmp_path / "repo", files), select=["ML814"])
    return [(f.path, f.message) for f in result.findings]


def test_no_ci_points_at_the_first_test_file(tmp_path: Path) -> None:
    files = {**TEST, "tests/test_model.py": "def test_shape():\n    pass\n"}
    [(path, message)] = findings(tmp_path, files)
    assert path == "tests/test_data.py"
    assert "2 test file(s)" in message and "python -m pytest" in message


def test_ci_without_tests_points_at_the_workflow(tmp_path: Path) -> None:
    files = {**TEST, ".github/workflows/docs.yml": WORKFLOW.format("mkdocs build")}
    [(path, _)] = findings(tmp_path, files)
    assert path == ".github/workflows/docs.yml"


def test_runners_direct_and_delegated(tmp_path: Path) -> None:
    cases = [
        {".github/workflows/ci.yml": WORKFLOW.format("tox -e py311")},
        {".gitlab-ci.yml": "test:\n  script:\n    - python -m unittest discover\n"},
        {".pre-commit-config.yaml": "repos:\n- repo: local\n  hooks:\n  - id: tests\n    entry: pytest -q\n    language: system\n"},
        {".github/workflows/ci.yml": WORKFLOW.format("make check-all"), "Makefile": "check-all:\n\tpython -m pytest\n"},
        {".github/workflows/ci.yml": WORKFLOW.format("./run_tests.sh"), "run_tests.sh": "nox -s tests\n"},
    ]
    for index, extra in enumerate(cases):
        assert findings(tmp_path / str(index), {**TEST, **extra}) == [], extra


def test_a_top_level_test_script_is_not_a_test_suite(tmp_path: Path) -> None:
    # In ML repositories `test_model.py` at the top is often an evaluation script.
    assert findings(tmp_path, {"test_model.py": "print('accuracy')\n"}) == []


def test_a_script_named_in_ci_without_tests_does_not_count(tmp_path: Path) -> None:
    files = {**TEST, ".github/workflows/ci.yml": WORKFLOW.format("bash build.sh"), "build.sh": "python -m build\n"}
    assert len(findings(tmp_path, files)) == 1
