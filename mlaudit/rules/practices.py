"""ML814: the practices the essay behind mlaudit asks for, checked at repository level.

Tests only protect a training pipeline when something runs them on every change. The rule
reads the repository's CI configuration (and what it calls: Makefile targets, shell scripts) as
text and looks for a test runner; which files are CI configuration and which commands run
tests is data (the tables below).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlaudit.findings import Finding
from mlaudit.project import boundary
from mlaudit.project.model import ProjectModel
from mlaudit.rules.base import ProjectRule

# CI configuration: (path prefix, suffixes) of the files automation reads.
CI_FILES = (
    (".github/workflows/", (".yml", ".yaml")),
    (".gitlab-ci", (".yml", ".yaml")),
    (".circleci/", (".yml", ".yaml")),
    ("azure-pipelines", (".yml", ".yaml")),
    (".travis", (".yml", ".yaml")),
    ("bitbucket-pipelines", (".yml", ".yaml")),
    (".buildkite/", (".yml", ".yaml")),
    (".pre-commit-config", (".yaml", ".yml")),
    (".ci/", ("",)),  # a repository's own CI entry scripts (`.ci/run`)
    ("Jenkinsfile", ("",)),
)
# CI files and delegates are read up to this size; a test command sits near the top.
MAX_READ = 256 * 1024
# Commands that run a test suite.
TEST_COMMAND = re.compile(
    r"(?<![\w-])(pytest|py\.test|python3? -m unittest|unittest discover|tox|nox|hatch (?:run )?test|"
    r"coverage run|nose2|make (?:\S+ )*test\w*)(?![\w-])"
)
# Files CI may delegate to, read when a CI file names them.
DELEGATES = ("Makefile", ".sh")
TEST_FOLDERS = frozenset({"tests", "test"})


def _is_ci(path: str) -> bool:
    return any(path.startswith(prefix) and path.endswith(suffixes) for prefix, suffixes in CI_FILES)


def _is_test(path: str) -> bool:
    """A pytest-style test module in a tests/ or test/ folder (a top-level `test_x.py` in an ML
    repository is as often an evaluation script)."""
    parts = path.split("/")
    name = parts[-1]
    named = (name.startswith("test_") and name.endswith(".py")) or name.endswith("_test.py")
    return named and bool(TEST_FOLDERS & set(parts[:-1]))


def _text(model: ProjectModel, path: str) -> str:
    data: Any = model.data(path)
    if isinstance(data, str):
        return data
    if data is not None:
        return repr(getattr(data, "documents", data))
    file = model.files.get(path)  # a file no parser reads (`.ci/run`, `Jenkinsfile`)
    raw = boundary.read_inside(model.root, file.abs_path, MAX_READ) if file is not None else None
    return raw.decode("utf-8", errors="replace") if raw else ""


class TestsNotRunInCI(ProjectRule):
    code = "ML814"
    name = "tests-not-run-in-ci"
    summary = "The repository has tests but no CI workflow, pre-commit hook or script it calls runs them"
    tags = ("practices",)
    # Opt-in: right on both real repositories where it fired, but CI that lives outside the
    # repository (a Jenkins or Buildkite pipeline set up in its UI, a separate infra repo) is
    # invisible here, and it fires on every small repository with a tests/ folder.
    opt_in = True
    valid = (
        {
            "tests/test_model.py": "def test_shape():\n    assert True\n",
            ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: python -m pytest -q\n",
        },
        {
            "tests/test_model.py": "def test_shape():\n    assert True\n",
            "Makefile": "test:\n\tpytest tests\n",
            ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: make test\n",
        },
        {
            "tests/test_model.py": "def test_shape():\n    assert True\n",
            "scripts/ci.sh": "set -e\npython -m pytest tests\n",
            ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: bash scripts/ci.sh\n",
        },
        {"train.py": "print('no tests here')\n"},
        {**{"tests/test_model.py": "def test_shape():\n    assert True\n"}, ".ci/run": "#!/bin/sh\nmake test\n",
         "Makefile": "test:\n\tpython -m pytest\n"},
    )
    invalid = (
        {"tests/test_model.py": "def test_shape():\n    assert True\n", "train.py": "print(1)\n"},
        {
            "tests/test_model.py": "def test_shape():\n    assert True\n",
            ".github/workflows/lint.yml": "on: push\njobs:\n  l:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: ruff check .\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        tests = sorted(p for p in model.files if _is_test(p))
        if not tests:
            return
        ci = sorted(p for p in model.files if _is_ci(p))
        if any(_runs_tests(model, path) for path in ci):
            return
        if ci:
            yield Finding(
                self.code,
                f"{len(tests)} test file(s) exist but no CI file runs them ({', '.join(ci[:3])}"
                f"{' ...' if len(ci) > 3 else ''} call no pytest, unittest, tox, nox or `make test`), so a change "
                "that breaks training can be merged unnoticed; add a step that runs the test suite.",
                ci[0],
                level=self.level,
            )
            return
        yield Finding(
            self.code,
            f"{len(tests)} test file(s) exist but nothing automated runs them (no CI workflow, no pre-commit "
            "hook), so a change that breaks training can be merged unnoticed; add a CI workflow that runs "
            "the test suite (for GitHub: .github/workflows/tests.yml with `python -m pytest`).",
            tests[0],
            level=self.level,
        )


def _runs_tests(model: ProjectModel, path: str) -> bool:
    text = _text(model, path)
    if TEST_COMMAND.search(text):
        return True
    # One level of delegation: a Makefile target or a script that the CI file names.
    named = [o for o in model.files if o.endswith(DELEGATES) and (o in text or (o == "Makefile" and "make " in text))]
    return any(TEST_COMMAND.search(_text(model, other)) for other in named)
