"""Every manifest and lockfile format, read from real-format samples in tests/data/deps."""

from __future__ import annotations

import contextlib
from pathlib import Path

import pytest

from mlaudit.files.lockfiles import Lockfile
from mlaudit.files.manifests import (
    Manifest,
    ManifestError,
    dependency_file_kind,
    expand_includes,
    lock_from_requirements,
    parse_manifest,
    poetry_specifier,
    read_dependency_file,
)
from mlaudit.files.requirements import Include

DATA = Path(__file__).resolve().parents[1] / "data" / "deps"


def read(rel: str) -> Manifest | Lockfile:
    result = read_dependency_file(rel, (DATA / rel).read_text(encoding="utf-8"))
    assert result is not None, rel
    return result


def manifest(rel: str) -> Manifest:
    result = read(rel)
    assert isinstance(result, Manifest)
    return result


def lockfile(rel: str) -> Lockfile:
    result = read(rel)
    assert isinstance(result, Lockfile)
    return result


def rows(m: Manifest) -> list[tuple[int, str, str, str]]:
    return [(r.line, r.name, r.specifier, r.group) for r in m.requirements]


# -- manifests --------------------------------------------------------------------------------------


def test_pep621_with_optional_dependencies_and_groups() -> None:
    m = manifest("uv/pyproject.toml")
    assert (m.kind, m.tool, m.anchor_line) == ("pyproject", "uv", 5)
    assert rows(m) == [
        (6, "numpy", ">=1.26", ""),
        (7, "torch", ">=2.4", ""),
        (11, "matplotlib", ">=3.8", "extra:viz"),
        (14, "pytest", ">=8", "group:dev"),
    ]


def test_poetry_dependencies_groups_and_constraint_syntax() -> None:
    m = manifest("poetry/pyproject.toml")
    assert (m.tool, m.anchor_line) == ("poetry", 7)
    assert rows(m) == [
        (9, "numpy", ">=1.26,<2.0", ""),
        (10, "torch", ">=2.2,<2.3", ""),
        (11, "pillow", ">=10,<11", "extra:"),
        (12, "mylib", "", ""),
        (13, "scipy", "==1.11.4", ""),
        (13, "scipy", ">=1.13,<2.0", ""),
        (19, "pytest", "", "group:dev"),
    ]
    torch = m.requirements[1]
    assert torch.extras == ("cuda",) and torch.marker == "sys_platform == 'linux'"
    assert m.requirements[3].url == "git+https://github.com/example/mylib.git@v1.2"
    assert "python" not in {r.name for r in m.requirements}


@pytest.mark.parametrize(
    ("constraint", "specifier"),
    [
        ("^1.2.3", ">=1.2.3,<2.0.0"),
        ("^0.2.3", ">=0.2.3,<0.3.0"),
        ("^0.0.3", ">=0.0.3,<0.0.4"),
        ("^0", ">=0,<1"),
        ("~1.2.3", ">=1.2.3,<1.3.0"),
        ("~1", ">=1,<2"),
        ("~=1.2", "~=1.2"),
        ("1.2.3", "==1.2.3"),
        ("1.2.*", "==1.2.*"),
        (">= 1.2, < 1.5", ">=1.2,<1.5"),
        (">=1.2 <1.5", ">=1.2,<1.5"),
        ("*", ""),
        ("^1.0 || ^2.0", "^1.0 || ^2.0"),
    ],
)
def test_poetry_specifier(constraint: str, specifier: str) -> None:
    assert poetry_specifier(constraint) == specifier


def test_pdm_dev_dependencies() -> None:
    m = manifest("pdm/pyproject.toml")
    assert m.tool == "pdm"
    assert rows(m) == [(4, "numpy", ">=1.26", ""), (4, "torch", ">=2.6", ""), (8, "pytest", ">=8", "group:test"), (9, "ruff", "", "group:lint")]


def test_pipfile() -> None:
    m = manifest("pipenv/Pipfile")
    assert (m.kind, m.tool, m.anchor_line) == ("pipfile", "pipenv", 11)
    assert rows(m) == [
        (12, "numpy", "", ""),
        (13, "torch", "==2.1.2", ""),
        (14, "requests", ">=2.31", ""),
        (15, "mylib", "", ""),
        (18, "pytest", ">=7.4", "group:dev"),
    ]
    assert m.requirements[2].extras == ("socks",)


def test_setup_cfg_multiline_and_semicolon_lists() -> None:
    m = manifest("setup-cfg/setup.cfg")
    assert rows(m) == [
        (9, "numpy", ">=1.21", ""),
        (11, "torch", ">=1.13,<3", ""),
        (12, "pyyaml", "", ""),
        (16, "pytest", ">=7", "extra:dev"),
        (17, "sphinx", "", "extra:docs"),
        (17, "furo", "", "extra:docs"),
    ]
    assert m.requirements[1].marker == 'platform_system != "Darwin"'


def test_setup_py_literal() -> None:
    m = manifest("setup-py/setup.py")
    assert (m.kind, m.anchor_line) == ("setup-py", 3)
    assert rows(m) == [(8, "numpy", ">=1.21", ""), (9, "torch", "==2.0.1", ""), (10, "tqdm", "", ""), (13, "matplotlib", ">=3.5", "extra:viz")]


def test_setup_py_built_from_module_level_names_is_read_without_running_it() -> None:
    m = manifest("setup-py-var/setup.py")
    assert rows(m) == [
        (7, "numpy", ">=1.21", ""),
        (7, "pyyaml", "", ""),
        (9, "torch", ">=2.6", ""),
        (11, "pytest", "", "extra:dev"),
        (11, "onnx", ">=1.14", "extra:onnx"),
    ]


HF_SETUP = """import re
from setuptools import setup
_deps = [
    "accelerate>=0.31.0",
    "numpy",
    "nvidia_modelopt[hf]>=0.33.1",
    "torch>=2.6",
]
deps = {b: a for a, b in (re.findall(r"^(([^!=<>~]+)(?:[!=<>~].*)?$)", x)[0] for x in _deps)}
def deps_list(*pkgs):
    return [deps[pkg] for pkg in pkgs]
extras = {}
extras["torch"] = deps_list("torch", "accelerate")
extras["modelopt"] = deps_list("nvidia_modelopt[hf]")
extras["dev"] = extras["torch"] + ["pytest"]
install_requires = [deps["numpy"], deps["not-in-the-table"]]
setup(install_requires=list(install_requires), extras_require=extras)
"""


def test_setup_py_hugging_face_deps_table_is_followed_without_running_it() -> None:
    # diffusers/transformers: `_deps` lists each requirement once; `deps[...]` and `deps_list(...)`
    # pick from it; extras start empty and are filled by subscript assignments.
    m = parse_manifest("setup.py", HF_SETUP)
    assert rows(m) == [
        (5, "numpy", "", ""),
        (7, "torch", ">=2.6", "extra:torch"),
        (4, "accelerate", ">=0.31.0", "extra:torch"),
        (6, "nvidia-modelopt", ">=0.33.1", "extra:modelopt"),
        (7, "torch", ">=2.6", "extra:dev"),
        (4, "accelerate", ">=0.31.0", "extra:dev"),
        (15, "pytest", "", "extra:dev"),
    ]


def test_setup_py_names_that_multiply_are_read_within_a_budget() -> None:
    # Hostile input: each level lists the one below 300 times, so reading it all would mean 300**4
    # strings. The reading stops after a bounded number of expressions.
    lines = ["a0 = ['torch>=2.1']", *(f"a{i} = [{', '.join([f'a{i - 1}'] * 300)}]" for i in range(1, 5))]
    m = parse_manifest("setup.py", "\n".join([*lines, "setup(install_requires=a4)"]))
    assert 0 < len(m.requirements) < 5_000 and {r.name for r in m.requirements} == {"torch"}


def test_setup_py_dynamic_requirements_are_left_out() -> None:
    text = "from setuptools import setup\nsetup(install_requires=open('requirements.txt').read().splitlines())\n"
    m = parse_manifest("setup.py", text)
    assert m.requirements == () and m.anchor_line == 2


def test_environment_yml_conda_specs_and_pip_section() -> None:
    m = manifest("conda-env/environment.yml")
    assert (m.kind, m.tool, m.anchor_line) == ("conda-env", "conda", 6)
    assert rows(m) == [
        (7, "python", "==3.11.*", ""),
        (8, "torch", "==2.1.*", ""),  # conda's pytorch, fuzzy `=2.1`
        (9, "pytorch-cuda", "==12.1.*", ""),
        (10, "numpy", ">=1.26,<2", ""),
        (11, "scipy", "==1.11.4", ""),
        (12, "pip", "", ""),
        (16, "einops", "==0.7.0", ""),
        (17, "wandb", ">=0.16", ""),
    ]
    assert m.includes == (Include("conda-env/requirements-extra.txt", 14, False),)


def test_requirements_in_and_compiled_txt() -> None:
    source = manifest("piptools/requirements.in")
    assert (source.kind, source.tool) == ("requirements-in", "pip-tools")
    assert rows(source) == [(2, "numpy", ">=1.26", ""), (3, "torch", ">=2.3", "")]
    assert source.requirements[1].extras == ("opt-einsum",)
    assert source.includes == (Include("piptools/constraints.txt", 4, True),)
    compiled = manifest("piptools/requirements.txt")
    assert [(r.line, r.name, r.exact_version) for r in compiled.requirements] == [
        (7, "filelock", "3.16.1"),
        (11, "numpy", "1.26.4"),
        (14, "opt-einsum", "3.4.0"),
        (17, "torch", "2.3.1+cpu"),
    ]


def test_fully_pinned_requirements_serve_as_lock() -> None:
    lock = lock_from_requirements(manifest("piptools/requirements.txt"))
    assert lock is not None and lock.kind == "requirements-lock"
    assert lock.versions("torch") == ("2.3.1+cpu",)
    assert lock_from_requirements(manifest("piptools/requirements-dev.txt")) is None  # pytest>=8, ruff
    assert lock_from_requirements(manifest("piptools/requirements.in")) is None  # an input, never a lock
    assert lock_from_requirements(parse_manifest("requirements.txt", "-r base.txt\n")) is None


def test_requirements_with_includes_expand_transitively() -> None:
    dev = manifest("piptools/requirements-dev.txt")
    assert dev.includes == (Include("piptools/requirements.txt", 1, False),)
    assert [(r.name, r.extras) for r in dev.requirements][-2:] == [("example-tool", ()), ("foo-bar", ("cli", "extra-two"))]
    by_path = {m.path: m for m in (dev, manifest("piptools/requirements.txt"))}
    names = [r.name for r in expand_includes(dev, by_path)]
    assert names == ["pytest", "ruff", "example-tool", "foo-bar", "filelock", "numpy", "opt-einsum", "torch"]


def test_include_cycles_terminate() -> None:
    a = parse_manifest("a/requirements.txt", "-r requirements-b.txt\nnumpy\n")
    b = parse_manifest("a/requirements-b.txt", "-r requirements.txt\ntorch\n")
    assert [r.name for r in expand_includes(a, {a.path: a, b.path: b})] == ["numpy", "torch"]


# -- lockfiles --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("rel", "kind", "torch"),
    [
        ("uv/uv.lock", "uv-lock", ("2.5.1", "2.5.1+cpu")),
        ("poetry/poetry.lock", "poetry-lock", ("2.2.2",)),
        ("pdm/pdm.lock", "pdm-lock", ("2.6.0",)),
        ("pipenv/Pipfile.lock", "pipfile-lock", ("2.1.2+cu121",)),
        ("pixi-v6/pixi.lock", "pixi-lock", ("2.4.1",)),
        ("pixi-v5/pixi.lock", "pixi-lock", ("2.3.1",)),
        ("conda-lock/conda-lock.yml", "conda-lock", ("2.1.2",)),
    ],
)
def test_lockfiles_answer_which_torch_is_locked(rel: str, kind: str, torch: tuple[str, ...]) -> None:
    lock = lockfile(rel)
    assert lock.kind == kind and lock.path == rel
    assert lock.versions("torch") == torch


def test_lockfile_contents() -> None:
    assert lockfile("uv/uv.lock").names() == {"filelock", "matplotlib", "mlproj", "numpy", "pytest", "torch"}
    assert "pillow" in lockfile("poetry/poetry.lock").names()  # `Pillow` normalized
    assert lockfile("pdm/pdm.lock").groups == ("default", "test")
    pipfile = lockfile("pipenv/Pipfile.lock")
    assert ("mylib", "") in pipfile.packages and pipfile.versions("pytest") == ("7.4.4",)
    v6 = lockfile("pixi-v6/pixi.lock")
    assert v6.versions("tzdata") == ("2024b",) and v6.versions("my_pkg") == ("0.1.0",)
    v5 = lockfile("pixi-v5/pixi.lock")
    assert v5.versions("numpy") == ("1.10",)  # unquoted-looking versions stay strings
    assert v5.versions("scikit-learn") == ("1.5.2",)
    assert lockfile("conda-lock/conda-lock.yml").versions("einops") == ("0.7.0",)


# -- dispatch and broken input ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "kind"),
    [
        ("pyproject.toml", "manifest"),
        ("sub/setup.py", "manifest"),
        ("setup.cfg", "manifest"),
        ("Pipfile", "manifest"),
        ("environment.yml", "manifest"),
        ("environment-gpu.yaml", "manifest"),
        ("requirements.txt", "manifest"),
        ("requirements-dev.in", "manifest"),
        ("requirements/base.txt", "manifest"),
        ("constraints.txt", "manifest"),
        ("uv.lock", "lockfile"),
        ("a/poetry.lock", "lockfile"),
        ("pdm.lock", "lockfile"),
        ("Pipfile.lock", "lockfile"),
        ("pixi.lock", "lockfile"),
        ("conda-lock.yml", "lockfile"),
        ("gpu.conda-lock.yml", "lockfile"),
        ("train.py", None),
        ("notes.txt", None),
        ("dvc.lock", None),
    ],
)
def test_dependency_file_kind(path: str, kind: str | None) -> None:
    assert dependency_file_kind(path) == kind


def test_other_files_are_not_read() -> None:
    assert read_dependency_file("train.py", "import torch\n") is None
    with pytest.raises(ManifestError):
        parse_manifest("train.py", "")


@pytest.mark.parametrize(
    ("path", "text", "line"),
    [
        ("pyproject.toml", '[project]\nname = "x"\ndependencies = [\n  "torch>=2",\n  oops\n]\n', 5),
        ("pyproject.toml", '[project]\ndependencies = ["torch 2.0"]\n', 2),
        ("uv.lock", 'version = 1\n\n[[package]]\nname = "torch"\nversion = 2.6.0\n', 5),
        ("poetry.lock", "[[package]\n", 1),
        ("pdm.lock", '[metadata]\ngroups = ["default"\n', 2),
        ("Pipfile", "[packages]\ntorch = \n", 2),
        ("Pipfile.lock", '{\n  "default": {\n    "torch": {"version": "==2.1"},\n  }\n}\n', 4),
        ("Pipfile.lock", "[1, 2]\n", 1),
        ("pixi.lock", "version: 6\npackages:\n- conda: [unclosed\n", 4),
        ("pixi.lock", "- just\n- a list\n", 1),
        ("conda-lock.yml", "package:\n  - name: x\n   version: 1\n", 3),
        ("environment.yml", "dependencies:\n  - numpy\n  - pip:\n    - torch 2.0\n", 4),
        ("environment.yml", "dependencies: [numpy\n", 2),
        ("setup.py", "from setuptools import setup\nsetup(install_requires=[\n", 2),
        ("setup.py", "setup(install_requires=['torch 2.0'])\n", 1),
        ("setup.cfg", "install_requires = numpy\n", 1),
        ("setup.cfg", "[options]\ninstall_requires =\n    torch 2.0\n", 3),
        ("requirements.txt", "numpy\ntorch[cuda\n", 2),
    ],
)
def test_malformed_files_raise_manifest_error_with_line(path: str, text: str, line: int) -> None:
    with pytest.raises(ManifestError) as caught:
        read_dependency_file(path, text)
    assert caught.value.line == line, caught.value


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("pyproject.toml", '[tool.black]\nline-length = 100\n'),
        ("environment.yml", ""),
        ("environment.yml", "name: empty\n"),
        ("environment_atari.yaml", "- a\n- b\n"),
        ("environment.yml", "dependencies: none\n"),
        ("setup.cfg", "[flake8]\nmax-line-length = 100\n"),
        ("requirements.txt", "# nothing yet\n"),
    ],
)
def test_files_without_dependencies_are_empty_manifests(path: str, text: str) -> None:
    m = read_dependency_file(path, text)
    assert isinstance(m, Manifest) and m.requirements == () and m.anchor_line == 1


def test_results_are_plain_hashable_data() -> None:
    for rel in ("uv/pyproject.toml", "uv/uv.lock", "poetry/pyproject.toml", "conda-env/environment.yml"):
        item = read(rel)
        assert hash(item) == hash(read(rel))


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("pyproject.toml", 'build-system = "x"\n\n[project]\ndependencies = "torch"\noptional-dependencies = "x"\n'),
        ("pyproject.toml", 'tool = 3\nproject = 1\n'),
        ("pyproject.toml", '[project]\nname = 3\ndependencies = [1, {a = 2}]\n\n[build-system]\nbuild-backend = 7\n'),
        ("pyproject.toml", '[tool.poetry]\ngroup = "x"\n\n[tool.poetry.dependencies]\ntorch = {extras = "cuda", version = 2}\nx = 3\ny = [1]\n'),
        ("pyproject.toml", '[tool.poetry.group.dev]\ndependencies = 3\n\n[dependency-groups]\ndev = "pytest"\n'),
        ("Pipfile", "packages = 3\n"),
        ("Pipfile", '[packages]\ntorch = {extras = "x", version = 2}\nnumpy = ["a"]\n'),
        ("uv.lock", "package = 3\n"),
        ("poetry.lock", "[[package]]\nname = 3\nversion = [1]\n"),
        ("pdm.lock", 'metadata = 3\n'),
        ("pdm.lock", '[metadata]\ngroups = "default"\n'),
        ("Pipfile.lock", '{"default": {"torch": "==1", "numpy": {"version": 1}}, "develop": [1]}'),
        ("pixi.lock", "packages: 3\n"),
        ("pixi.lock", "packages:\n- 3\n- conda: 5\n- conda: https://x/noversion.conda\n- pypi: x\n  name: [1]\n"),
        ("conda-lock.yml", "package:\n- name: [1]\n- 3\n- name: x\n  version: null\n"),
        ("environment.yml", "dependencies:\n- pip: 3\n- {a: b}\n- [1]\n- ''\n"),
        ("setup.cfg", "[options]\ninstall_requires =\n\n[options.extras_require]\n"),
        ("setup.py", "setup(install_requires=x, extras_require={1: 2, 'a': 3, **more})\n"),
        ("setup.py", "a = b\nb = a\nsetup(install_requires=a)\n"),
        ("requirements.txt", "-r\n-c\n--requirement=\n-e\n\\\n"),
    ],
)
def test_odd_but_valid_shapes_never_crash(path: str, text: str) -> None:
    with contextlib.suppress(ManifestError):
        read_dependency_file(path, text)
