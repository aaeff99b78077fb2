"""ML501 missing-lockfile, ML502 unpinned-dependency, ML503 stale-lockfile, run through the engine
on small repos written to a temporary folder (outside any git work tree)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import pytest

from mlaudit.engine.check import CheckOptions, check_paths
from mlaudit.files import kinds
from mlaudit.files.manifests import dependency_file_kind
from mlaudit.findings import Finding
from mlaudit.project.dependencies import build_index
from mlaudit.project.model import ProjectModel
from tests.helpers import write_tree

# The rules' own examples and docs run in tests/rules/test_rule_examples.py and test_docs.py, the
# fixture repos under fixtures/dependencies in tests/test_fixture_repos.py.


def check(root: Path, select: str = "ML5") -> list[Finding]:
    # The whole family, ML502 included: a prefix leaves opt-in rules out, and ML502 is opt-in.
    codes = [select, "ML502"] if select == "ML5" else [select]
    return check_paths([root], CheckOptions(select=codes, use_cache=False)).findings


def where(findings: list[Finding]) -> list[str]:
    return [f"{f.path}:{f.line}: {f.code}" for f in findings]


def repo(tmp_path: Path, files: Mapping[str, str], select: str = "ML5") -> list[str]:
    return where(check(write_tree(tmp_path / "repo", files), select))


# -- ML501 -------------------------------------------------------------------------------------------

POETRY = '[tool.poetry]\nname = "p"\n\n[tool.poetry.dependencies]\npython = "^3.11"\ntorch = "^2.4"\n'
UV_LOCK = 'version = 1\n\n[[package]]\nname = "torch"\nversion = "2.6.0"\n'


@pytest.mark.parametrize(
    "lock",
    [
        {"poetry.lock": UV_LOCK},
        {"uv.lock": UV_LOCK},
        {"pdm.lock": UV_LOCK},
        {"Pipfile.lock": '{"_meta": {}, "default": {"torch": {"version": "==2.6.0"}}}'},
        {"pixi.lock": "version: 6\npackages:\n- conda: https://conda.anaconda.org/conda-forge/noarch/x-1.0-0.conda\n"},
        {"conda-lock.yml": "version: 1\npackage:\n- name: pytorch\n  version: 2.6.0\n  manager: conda\n"},
        {"pylock.toml": 'lock-version = "1.0"\ncreated-by = "uv"\n\n[[packages]]\nname = "torch"\nversion = "2.6.0"\n'},
        {"requirements.txt": "torch==2.6.0 \\\n    --hash=sha256:aa\n"},
        {"requirements/prod.txt": "torch==2.6.0\n"},
        {"requirements.lock": "torch==2.6.0\n"},
    ],
    ids=lambda lock: next(iter(lock)),
)
def test_ml501_any_lock_kind_covers_the_project(tmp_path: Path, lock: dict[str, str]) -> None:
    assert repo(tmp_path, {"pyproject.toml": POETRY, **lock}, "ML501") == []


def test_ml501_reports_once_per_folder_at_the_most_telling_manifest(tmp_path: Path) -> None:
    files = {
        "setup.py": "from setuptools import setup\nsetup(install_requires=['torch'])\n",
        "setup.cfg": "[options]\ninstall_requires =\n    torch\n",
        "pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n\n[project]\nname = "p"\ndependencies = ["torch"]\n',
        "tools/requirements.in": "numpy\n",
    }
    findings = check(write_tree(tmp_path / "repo", files), "ML501")
    assert where(findings) == ["pyproject.toml:6: ML501", "tools/requirements.in:1: ML501"]
    assert set(findings[0].related_paths) == {"setup.cfg", "setup.py"}
    assert "setuptools" not in findings[0].message and "lock" in findings[0].message


@pytest.mark.parametrize(
    ("files", "advice"),
    [
        ({"pyproject.toml": POETRY}, "poetry lock"),
        ({"pyproject.toml": '[project]\nname = "p"\ndependencies = ["torch"]\n\n[tool.uv]\n'}, "uv lock"),
        ({"Pipfile": "[packages]\ntorch = '*'\n"}, "pipenv lock"),
        ({"environment.yml": "dependencies:\n  - pytorch\n"}, "conda-lock -f environment.yml"),
        ({"requirements.in": "torch\n"}, "pip-compile requirements.in"),
    ],
)
def test_ml501_message_names_the_tool_to_run(tmp_path: Path, files: dict[str, str], advice: str) -> None:
    (finding,) = check(write_tree(tmp_path / "repo", files), "ML501")
    assert advice in finding.message


def test_ml501_sibling_lock_does_not_cover_another_project(tmp_path: Path) -> None:
    files = {"a/pyproject.toml": POETRY, "a/poetry.lock": UV_LOCK, "b/pyproject.toml": POETRY}
    assert repo(tmp_path, files, "ML501") == ["b/pyproject.toml:4: ML501"]


def test_ml501_partly_pinned_requirements_do_not_lock(tmp_path: Path) -> None:
    files = {"pyproject.toml": POETRY, "requirements.txt": "torch==2.6.0\nnumpy\n"}
    assert repo(tmp_path, files, "ML501") == ["pyproject.toml:4: ML501"]


def test_ml501_published_library_in_a_sub_folder_is_silent_and_the_repo_app_is_not(tmp_path: Path) -> None:
    """detectron2's projects/DensePose/setup.py (distribution detectron2-densepose, package
    densepose, tested by its own tests/) is a library; a sibling application folder is not."""
    files = {
        "projects/DensePose/setup.py": "from setuptools import find_packages, setup\nNAME = 'detectron2-densepose'\n"
                                       "setup(\n    name=NAME,\n    packages=find_packages(),\n"
                                       "    install_requires=['detectron2', 'scipy'],\n)\n",
        "projects/DensePose/densepose/__init__.py": "",
        "projects/DensePose/tests/test_structures.py": "from densepose.structures import DensePoseList\n",
        "apps/trainer/setup.cfg": "[metadata]\nname = trainer\n\n[options]\ninstall_requires =\n    torch>=2\n",
        "apps/trainer/trainer/__init__.py": "",
    }
    assert repo(tmp_path, files, "ML501") == ["apps/trainer/setup.cfg:6: ML501"]


def test_ml501_conda_env_with_only_interpreter_and_pip_declares_nothing(tmp_path: Path) -> None:
    assert repo(tmp_path, {"environment.yml": "dependencies:\n  - python=3.11\n  - pip\n"}, "ML501") == []


def test_ml501_requirements_txt_alone_is_ml502s_business(tmp_path: Path) -> None:
    assert repo(tmp_path, {"requirements.txt": "torch\n"}) == ["requirements.txt:1: ML502"]


# -- ML502 -------------------------------------------------------------------------------------------


def test_ml502_one_finding_per_file_naming_every_unpinned_entry(tmp_path: Path) -> None:
    text = ("numpy==1.26.4\ntorch>=2.4\nscipy~=1.11\npandas\nrich==13.*\nx @ git+https://h/x.git\ny===1.0\n"
            "git+https://github.com/openai/CLIP.git\ngit+https://github.com/a/b.git@3f2a1b0c\n")
    (finding,) = check(write_tree(tmp_path / "repo", {"requirements.txt": text}))
    assert (finding.path, finding.line) == ("requirements.txt", 2)
    for entry in ("torch>=2.4", "scipy~=1.11", "pandas", "rich==13.*", "x @ git+https://h/x.git", "CLIP.git`"):
        assert entry in finding.message
    assert "numpy" not in finding.message and "b.git" not in finding.message
    assert "6 entries" in finding.message
    assert [(r.line, r.message) for r in finding.related][:1] == [(3, "`scipy~=1.11` is not pinned")]
    assert [r.line for r in finding.related] == [3, 4, 5, 6, 8]


def test_ml502_finding_quotes_the_requirement(tmp_path: Path) -> None:
    (finding,) = check(write_tree(tmp_path / "repo", {"requirements.txt": "torch[cuda]>=2.4 ; sys_platform == 'linux'\n"}))
    assert "`torch[cuda]>=2.4 ; sys_platform == 'linux'`" in finding.message and "==" in finding.message


def test_ml502_real_lock_in_a_folder_above_silences(tmp_path: Path) -> None:
    files = {"uv.lock": UV_LOCK, "examples/a/requirements.txt": "torch\n", "pyproject.toml": '[project]\nname = "p"\n'}
    assert repo(tmp_path, files) == []


def test_ml502_requirements_folder_and_lock_named_files(tmp_path: Path) -> None:
    files = {"requirements/base.txt": "torch\n", "requirements-gpu.lock": "torch==2.6.0\nnumpy\n", "constraints.txt": "torch<3\n"}
    assert repo(tmp_path, files) == ["requirements-gpu.lock:2: ML502", "requirements/base.txt:1: ML502"]


def test_ml502_bare_vcs_url_without_revision_is_unpinned(tmp_path: Path) -> None:
    files = {"requirements.txt": "torch==2.6.0\ngit+https://github.com/openai/CLIP.git\n"}
    assert repo(tmp_path, files) == ["requirements.txt:2: ML502"]
    files = {"requirements.txt": "torch==2.6.0\ngit+https://github.com/openai/CLIP.git@dcba3cb2e2827b402d2701e7e1c7d9fed8a20ef1\n"}
    assert repo(tmp_path, files) == []


def test_ml502_constraints_pin_through_nested_includes(tmp_path: Path) -> None:
    files = {
        "requirements.txt": "-c constraints.txt\ntorch\nnumpy\n",
        "constraints.txt": "-r constraints-torch.txt\nnumpy>=1.26\n",
        "constraints-torch.txt": "torch==2.6.0\n",
    }
    assert repo(tmp_path, files) == ["requirements.txt:3: ML502"]


# -- ML503 -------------------------------------------------------------------------------------------


def _pyproject(deps: str, extra: str = "") -> str:
    return f'[project]\nname = "proj"\nversion = "0.1"\ndependencies = [\n{deps}]\n{extra}'


def test_ml503_points_at_the_missing_dependency_with_the_lock_related(tmp_path: Path) -> None:
    files = {"pyproject.toml": _pyproject('  "torch",\n  "einops",\n'), "uv.lock": UV_LOCK}
    (finding,) = check(write_tree(tmp_path / "repo", files), "ML503")
    assert (finding.path, finding.line, finding.related_paths) == ("pyproject.toml", 6, ("uv.lock",))
    assert "`einops`" in finding.message and "uv lock" in finding.message


@pytest.mark.parametrize(
    "lock_name",
    ["uv.lock", "poetry.lock", "pdm.lock"],
)
def test_ml503_each_pyproject_lock(tmp_path: Path, lock_name: str) -> None:
    files = {"pyproject.toml": _pyproject('  "torch",\n  "scipy",\n'), lock_name: UV_LOCK}
    assert repo(tmp_path, files, "ML503") == ["pyproject.toml:6: ML503"]


def test_ml503_checks_optional_dependencies_and_groups(tmp_path: Path) -> None:
    extra = '\n[project.optional-dependencies]\nviz = ["matplotlib"]\n\n[dependency-groups]\ndev = ["pytest", {include-group = "lint"}]\nlint = ["ruff"]\n'
    files = {"pyproject.toml": _pyproject('  "torch",\n', extra), "uv.lock": UV_LOCK}
    assert repo(tmp_path, files, "ML503") == [f"pyproject.toml:{n}: ML503" for n in (9, 12, 13)]


def test_ml503_poetry_groups_and_dev_dependencies(tmp_path: Path) -> None:
    text = POETRY + '\n[tool.poetry.group.dev.dependencies]\npytest = "*"\n\n[tool.poetry.dev-dependencies]\nblack = "*"\n'
    assert repo(tmp_path, {"pyproject.toml": text, "poetry.lock": UV_LOCK}, "ML503") == [
        "pyproject.toml:9: ML503",
        "pyproject.toml:12: ML503",
    ]


def test_ml503_tables_the_tool_does_not_read_are_skipped(tmp_path: Path) -> None:
    # Poetry does not resolve PEP 735 groups nor uv's tables; uv does not read Poetry's.
    text = POETRY + '\n[dependency-groups]\ndev = ["pytest"]\n\n[tool.uv]\ndev-dependencies = ["ruff"]\n'
    assert repo(tmp_path, {"pyproject.toml": text, "poetry.lock": UV_LOCK}, "ML503") == []
    uv_text = _pyproject('  "torch",\n') + '\n[tool.poetry.dependencies]\nblack = "*"\n'
    assert repo(tmp_path / "uv", {"pyproject.toml": uv_text, "uv.lock": UV_LOCK}, "ML503") == []


def test_ml503_names_normalized_and_extras_ignored(tmp_path: Path) -> None:
    lock = UV_LOCK + '\n[[package]]\nname = "foo-bar"\nversion = "1.0"\n'
    files = {"pyproject.toml": _pyproject('  "Foo_Bar[cli]>=1",\n  "torch[cuda]",\n  "proj[all]",\n'), "uv.lock": lock}
    assert repo(tmp_path, files, "ML503") == []


def test_ml503_pdm_groups_not_locked_are_skipped(tmp_path: Path) -> None:
    extra = '\n[tool.pdm.dev-dependencies]\ntest = ["pytest"]\ndocs = ["sphinx"]\n'
    lock = '[metadata]\ngroups = ["default", "test"]\n\n[[package]]\nname = "torch"\nversion = "2.6.0"\n'
    files = {"pyproject.toml": _pyproject('  "torch",\n', extra), "pdm.lock": lock}
    assert repo(tmp_path, files, "ML503") == ["pyproject.toml:9: ML503"]


def test_ml503_two_locks_pick_the_tools_own_or_none(tmp_path: Path) -> None:
    stale = '[[package]]\nname = "numpy"\nversion = "1.0"\n'
    uv_project = _pyproject('  "torch",\n', "\n[tool.uv]\n")
    assert repo(tmp_path / "a", {"pyproject.toml": uv_project, "uv.lock": UV_LOCK, "poetry.lock": stale}, "ML503") == []
    plain = _pyproject('  "torch",\n')
    assert repo(tmp_path / "b", {"pyproject.toml": plain, "uv.lock": UV_LOCK, "poetry.lock": stale}, "ML503") == []


def test_ml503_uv_workspace_member_uses_the_root_lock(tmp_path: Path) -> None:
    lock = UV_LOCK + '\n[[package]]\nname = "member"\nversion = "0.1"\nsource = { editable = "packages/member" }\n'
    member = '[project]\nname = "member"\ndependencies = ["torch", "einops"]\n'
    unrelated = '[project]\nname = "plugin"\ndependencies = ["einops"]\n'
    files = {"pyproject.toml": _pyproject('  "torch",\n'), "uv.lock": lock, "packages/member/pyproject.toml": member, "examples/plugin/pyproject.toml": unrelated}
    assert repo(tmp_path, files, "ML503") == ["packages/member/pyproject.toml:3: ML503"]


def test_ml503_requirements_in_against_compiled_txt(tmp_path: Path) -> None:
    files = {
        "requirements.in": "-c constraints.txt\nnumpy\nTorch\nwin-only ; sys_platform == 'win32'\n",
        "requirements.txt": "numpy==1.26.4\n    # via -r requirements.in\n",
        "dev.in": "pytest\n",
        "dev.txt": "pytest==8.3.3\n",
    }
    assert repo(tmp_path, files, "ML503") == ["requirements.in:3: ML503"]


def test_ml503_unpinned_txt_is_not_a_compiled_lock(tmp_path: Path) -> None:
    files = {"requirements.in": "numpy\ntorch\n", "requirements.txt": "numpy\n"}
    assert repo(tmp_path, files, "ML503") == []


# -- wiring: parse errors, the shared index, file kinds ----------------------------------------------


def test_broken_lockfile_is_ml001_and_rules_go_on(tmp_path: Path) -> None:
    files = {"pyproject.toml": POETRY, "poetry.lock": "[[package]\nname = 'torch'\n", "requirements.txt": "torch 2.0\n"}
    found = repo(tmp_path, files, "ML")
    assert "poetry.lock:1: ML001" in found and "requirements.txt:1: ML001" in found
    assert "pyproject.toml:4: ML501" in found  # the unreadable lock does not count as a lock


def test_setup_py_with_bad_requirement_keeps_its_python_facts(tmp_path: Path) -> None:
    files = {"setup.py": "import yaml\nyaml.load(open('c'))\nfrom setuptools import setup\nsetup(install_requires=['torch 2'])\n"}
    found = repo(tmp_path, files, "ML")
    assert "setup.py:4: ML001" in found and "setup.py:2: ML602" in found


def test_index_answers_which_torch_a_file_may_run_with(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": _pyproject('  "torch>=2.1",\n'),
        "uv.lock": UV_LOCK,
        "examples/old/requirements.txt": "torch==1.13.1\n",
        "examples/new/train.py": "import torch\n",
    }
    root = write_tree(tmp_path / "repo", files)
    from mlaudit.engine.analyse import analyse_all
    from mlaudit.engine.check import build_settings, discover

    settings = build_settings(root, CheckOptions(use_cache=False))
    found, git = discover(root, settings)
    facts = {r.facts.path: r.facts for r in analyse_all(list(found.values()), settings, None)[0]}
    index = build_index(ProjectModel(root, found, facts, git, settings))
    assert index.allowed_versions("torch", "examples/old/train.py").exact == ("1.13.1",)
    assert index.allowed_versions("torch", "examples/new/train.py").exact == ("2.6.0",)
    assert facts["uv.lock"].data is None  # read by the dependency reader only


@pytest.mark.parametrize(
    "path",
    [
        "pyproject.toml", "setup.py", "setup.cfg", "Pipfile", "environment.yml", "environment-gpu.yaml",
        "requirements.txt", "requirements-dev.in", "requirements/base.txt", "requirements.lock", "constraints.txt",
        "uv.lock", "poetry.lock", "pdm.lock", "Pipfile.lock", "pixi.lock", "conda-lock.yml", "gpu.conda-lock.yml",
        "pylock.toml", "pylock.dev.toml", "train.py", "notes.txt", "dvc.lock", "conf/config.yaml",
    ],
)
def test_file_kinds_and_the_dependency_reader_agree(path: str) -> None:
    roles = kinds.classify(path).roles
    assert (dependency_file_kind(path) is not None) == bool(roles & {kinds.MANIFEST, kinds.LOCKFILE})
    if dependency_file_kind(path) == "lockfile":
        assert kinds.CONFIG not in roles
