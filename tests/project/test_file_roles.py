"""File roles: `files/kinds.classify` alone decides what a file is to the project, and every rule asks
it (through `SourceFile.has_role` or `Rule.exempt_roles`) instead of testing path parts."""

from __future__ import annotations

import pytest

from mlaudit.analysis.config_index import is_training_path
from mlaudit.files import kinds
from mlaudit.files.lockfiles import LOCKFILE_PARSERS, lockfile_parser
from mlaudit.files.manifests import MANIFEST_PARSERS, dependency_file_kind, manifest_parser

K = kinds


@pytest.mark.parametrize(("path", "roles"), [
    # One file per role.
    ("src/pkg/model.py", {K.SOURCE}),
    ("scripts/train.py", {K.SOURCE}),
    ("tests/test_model.py", {K.TEST}),
    ("src/accelerate/test_utils/training.py", {K.TEST}),
    ("docs/source/conf.py", {K.DOCS}),
    ("examples/mnist/main.py", {K.EXAMPLE}),
    ("{{cookiecutter.slug}}/train.py", {K.TEMPLATE}),
    ("noxfile.py", {K.BUILD_SCRIPT}),
    ("notebooks/eda.ipynb", {K.NOTEBOOK}),
    ("conf/train.yaml", {K.CONFIG}),
    ("pyproject.toml", {K.MANIFEST}),
    ("uv.lock", {K.LOCKFILE}),
    ("data/train.csv", {K.DATA_ARTIFACT}),
    ("dvc.yaml", {K.DVC}),
    ("Makefile", {K.ENV_SCRIPT}),
    (".gitignore", {K.VCS}),
    # Where two apply.
    ("setup.py", {K.MANIFEST, K.BUILD_SCRIPT}),
    ("tests/setup.py", {K.TEST, K.MANIFEST, K.BUILD_SCRIPT}),
    ("docs/examples/demo.py", {K.DOCS, K.EXAMPLE}),
    ("examples/tests/test_demo.py", {K.EXAMPLE, K.TEST}),
    ("tests/demo.ipynb", {K.TEST, K.NOTEBOOK}),
    ("examples/tour.ipynb", {K.EXAMPLE, K.NOTEBOOK}),
    ("tests/data/sample.csv", {K.TEST, K.DATA_ARTIFACT}),
    ("requirements.txt", {K.MANIFEST, K.LOCKFILE}),
    ("requirements/base.txt", {K.MANIFEST, K.LOCKFILE}),
    ("requirements/pytorch/base.txt", {K.MANIFEST}),
    ("requirements/docs.txt", {K.MANIFEST, K.LOCKFILE, K.DOCS}),
    ("docs/requirements.txt", {K.MANIFEST, K.LOCKFILE, K.DOCS}),
    ("environment.yml", {K.MANIFEST}),
    ("environment_atari.yaml", {K.MANIFEST, K.CONFIG}),
])
def test_roles(path: str, roles: set[str]) -> None:
    assert kinds.classify(path).roles == frozenset(roles)


@pytest.mark.parametrize("path", ["tests/conftest.py", "src/pkg/model_test.py", "examples/conftest.py"])
def test_source_is_only_what_no_other_code_role_claims(path: str) -> None:
    roles = kinds.classify(path).roles
    assert kinds.TEST in roles
    assert kinds.SOURCE not in roles


def test_a_template_is_nothing_else() -> None:
    assert kinds.classify("{{cookiecutter.slug}}/tests/setup.py") == kinds.TEMPLATE_KIND
    hooks = kinds.find_templates(["cookiecutter.json"])
    assert kinds.classify("hooks/test_hook.py", hooks).roles == frozenset({kinds.TEMPLATE})


@pytest.mark.parametrize(("path", "training"), [
    ("train.py", True),
    ("examples/mnist/main.py", True),  # an example trains; its hyperparameters are real
    ("conf/model/resnet.yaml", True),
    ("setup.py", False),
    ("noxfile.py", False),
    ("tests/conftest.py", False),
    ("src/accelerate/test_utils/training.py", False),
    ("docs/tutorial.py", False),
])
def test_training_code_is_decided_by_roles(path: str, training: bool) -> None:
    assert is_training_path(path) is training


@pytest.mark.parametrize(("path", "reader"), [
    ("pyproject.toml", "parse_pyproject"),
    ("a/setup.py", "parse_setup_py"),
    ("requirements-dev.in", "parse_requirements_file"),
    ("requirements/pytorch/base.txt", "parse_requirements_file"),
    ("requirements.lock", "parse_requirements_file"),
    ("environment-gpu.yaml", "parse_conda_env"),
    ("gpu.conda-lock.yml", "parse_conda_lock"),
    ("pylock.dev.toml", "parse_pylock"),
    ("Pipfile.lock", "parse_pipfile_lock"),
])
def test_one_table_names_the_reader(path: str, reader: str) -> None:
    parser = manifest_parser(path) or lockfile_parser(path)
    assert parser is not None and parser.__name__ == reader


def test_every_dependency_file_name_has_a_reader_and_a_role() -> None:
    for pattern, roles, reader in kinds.DEPENDENCY_FILES:
        path = pattern.replace("*", "x")
        assert kinds.classify(path).roles >= roles, pattern
        assert kinds.dependency_reader(path) == reader, pattern
        assert dependency_file_kind(path) is not None, pattern
    readers = {reader for _, _, reader in kinds.DEPENDENCY_FILES} | {"requirements"}
    assert readers == MANIFEST_PARSERS.keys() | LOCKFILE_PARSERS.keys()
