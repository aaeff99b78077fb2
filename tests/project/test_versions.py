"""PEP 440 ordering, specifier bounds and the "which torch is allowed here?" query."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.files.lockfiles import Lockfile
from mlaudit.files.manifests import Manifest, parse_manifest
from mlaudit.files.requirements import parse_requirement
from mlaudit.project.versions import (
    VersionInfo,
    all_at_least,
    all_older_than,
    allowed_versions,
    is_older,
    lower_bound,
    may_be_older_than,
    upper_bound,
    version_key,
)

ORDERED = ["1.0.dev0", "1.0a1", "1.0b2", "1.0rc1", "1.0", "1.0.post1", "1.0.1", "1.1.dev1", "2.5.1", "2.6", "2.10", "1!0.1"]


def test_pep440_order() -> None:
    keys = [version_key(v) for v in ORDERED]
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert version_key("2.6") == version_key("2.6.0") == version_key("2.6.0+cpu") == version_key("v2.6.0")
    assert version_key("not a version") is None
    assert is_older("2.5.1+cu121", "2.6")
    assert not is_older("2.10.0", "2.6")
    assert is_older("garbage", "2.6")  # unknown counts as older: the riskier assumption


_SEGMENT = st.integers(min_value=0, max_value=12)
_VERSION = st.builds(
    lambda release, pre, post, dev: ".".join(map(str, release)) + pre + post + dev,
    st.lists(_SEGMENT, min_size=1, max_size=4),
    st.sampled_from(["", "a1", "b2", "rc1", "rc0", ".pre3"]),
    st.sampled_from(["", ".post1", ".post0", "-2"]),
    st.sampled_from(["", ".dev0", ".dev3"]),
)


@settings(max_examples=300, deadline=None)
@given(_VERSION, _VERSION)
def test_order_agrees_with_packaging(a: str, b: str) -> None:
    packaging_version = pytest.importorskip("packaging.version")  # a test-only cross-check
    ka, kb = version_key(a), version_key(b)
    assert ka is not None and kb is not None
    va, vb = packaging_version.Version(a), packaging_version.Version(b)
    assert (ka < kb) == (va < vb)
    assert (ka == kb) == (va == vb)


@pytest.mark.parametrize(
    ("specifier", "bound"),
    [
        (">=2.1,<3", "2.1"),
        ("~=2.6", "2.6"),
        ("==2.*", "2"),
        ("==2.6.0", "2.6.0"),
        (">2.5", "2.5"),
        (">=1.0,>=2.0", "2.0"),
        ("<3", None),
        ("", None),
        ("!=2.0", None),
        ("1.0 || 2.0", None),
    ],
)
def test_lower_bound(specifier: str, bound: str | None) -> None:
    assert lower_bound(specifier) == bound


def test_predicates() -> None:
    unknown = VersionInfo("torch")
    assert may_be_older_than(unknown, "2.6") and not all_at_least(unknown, "2.6")
    assert all_at_least(VersionInfo("torch", exact=("2.6.0+cpu",)), "2.6")
    assert may_be_older_than(VersionInfo("torch", exact=("2.5.1", "2.7.0")), "2.6")
    assert all_at_least(VersionInfo("torch", lower="2.6"), "2.6")
    assert may_be_older_than(VersionInfo("torch", lower="2.6.0rc1"), "2.6")


def _req(path: str, text: str) -> Manifest:
    return parse_manifest(path, text)


def test_nearest_folder_answers() -> None:
    manifests = [
        _req("requirements.txt", "torch>=2.6\n"),
        _req("examples/old/requirements.txt", "torch==1.13.1\n"),
        _req("examples/new/requirements.txt", "numpy\n"),
    ]
    old = allowed_versions("torch", manifests, [], "examples/old/train.py")
    assert old.exact == ("1.13.1",) and old.source == "examples/old/requirements.txt" and old.line == 1
    # examples/new says nothing about torch, so the root answers.
    new = allowed_versions("torch", manifests, [], "examples/new/deep/train.py")
    assert new.lower == "2.6" and all_at_least(new, "2.6")
    assert allowed_versions("jax", manifests, [], "train.py") == VersionInfo("jax")


def test_lock_beats_pin_beats_range_in_one_folder() -> None:
    manifests = [_req("pyproject.toml", '[project]\nname = "p"\ndependencies = ["torch>=2.0"]\n')]
    lock = Lockfile("uv.lock", "uv-lock", (("torch", "2.7.1"),))
    info = allowed_versions("Torch", manifests, [lock], "src/pkg/model.py")
    assert info.exact == ("2.7.1",) and info.source == "uv.lock"
    assert allowed_versions("torch", manifests, [], "x.py").lower == "2.0"


def test_a_range_without_lower_bound_in_the_folder_is_unknown() -> None:
    manifests = [_req("requirements.in", "torch>=2.6\n"), _req("requirements-dev.txt", "torch\n")]
    info = allowed_versions("torch", manifests, [], "train.py")
    assert not info.known and info.unbounded and info.source == "requirements-dev.txt"
    assert not all_at_least(info, "2.6")


def test_lowest_bound_of_a_folder_wins() -> None:
    manifests = [_req("requirements.in", "torch>=2.6\n"), _req("requirements-gpu.txt", "torch>=2.1,<3\n")]
    assert allowed_versions("torch", manifests, [], "train.py").lower == "2.1"


def test_conda_pytorch_answers_for_torch() -> None:
    env = parse_manifest("environment.yml", "dependencies:\n  - pytorch=2.6\n")
    info = allowed_versions("torch", [env], [], "train.py")
    assert info.lower == "2.6" and all_at_least(info, "2.6")


def test_requirement_in_manifest_near_a_deeper_file() -> None:
    requirement = parse_requirement("torch>=2.6", source="a/requirements.txt")
    manifest = Manifest("a/requirements.txt", "requirements-txt", (requirement,))
    assert allowed_versions("torch", [manifest], [], "a/b/c/d.py").lower == "2.6"
    assert not allowed_versions("torch", [manifest], [], "b/d.py").known


@pytest.mark.parametrize(
    ("specifier", "bound"),
    [
        ("<2.6", ("2.6", False)),
        ("<=2.5.1", ("2.5.1", True)),
        ("==2.5.*", ("2.6", False)),
        ("~=2.5.0", ("2.6", False)),
        ("~=2.4", ("3", False)),
        ("==2.4.1", ("2.4.1", True)),
        (">=2.1.0,<2.10.0", ("2.10.0", False)),
        ("<3,<2.6", ("2.6", False)),
        (">=2.1", None),
        ("", None),
        ("1.0 || 2.0", None),
    ],
)
def test_upper_bound(specifier: str, bound: tuple[str, bool] | None) -> None:
    assert upper_bound(specifier) == bound


def test_an_upper_bound_below_a_release_makes_every_allowed_version_older() -> None:
    old = allowed_versions("torch", [_req("requirements.txt", "torch<2.6\n")], [], "train.py")
    assert old.unbounded and old.upper == ("2.6", False) and all_older_than(old, "2.6")
    assert not all_older_than(allowed_versions("torch", [_req("requirements.txt", "torch<=2.6.0\n")], [], "t.py"), "2.6")
    # One uncapped declaration in the folder leaves newer versions in.
    both = [_req("requirements.txt", "torch<2.6\n"), _req("requirements-gpu.txt", "torch>=2.1\n")]
    assert not all_older_than(allowed_versions("torch", both, [], "train.py"), "2.6")
    assert all_older_than(VersionInfo("torch", exact=("2.4.1", "2.5.0")), "2.6")
    assert not all_older_than(VersionInfo("torch"), "2.6")


def test_a_requirements_file_answers_with_what_it_includes() -> None:
    # Lightning: the root requirements.txt only `-r`-includes requirements/<package>/base.txt.
    manifests = [
        _req("requirements.txt", "-r ./requirements/pytorch/base.txt\n"),
        _req("requirements/pytorch/base.txt", "torch >=2.1.0, <2.10.0\n"),
        _req("requirements/typing.txt", "torch==2.9.1\n"),  # a type-checking pin, not what runs
    ]
    info = allowed_versions("torch", manifests, [], "src/lightning/pytorch/core/module.py")
    assert (info.lower, info.specifier, info.source) == ("2.1.0", ">=2.1.0,<2.10.0", "requirements/pytorch/base.txt")


@pytest.mark.parametrize(
    ("path", "text"),
    [
        ("pyproject.toml", '[project]\nname = "p"\ndynamic = ["dependencies"]\n\n[tool.setuptools.dynamic]\n'
         'dependencies = {file = ["requirements/base.txt"]}\n'),
        ("setup.cfg", "[options]\ninstall_requires = file: requirements/base.txt\n"),
    ],
)
def test_dynamic_dependencies_read_from_a_file_answer(path: str, text: str) -> None:
    manifests = [_req(path, text), _req("requirements/base.txt", "torch>=2.1\n")]
    info = allowed_versions("torch", manifests, [], "src/p/model.py")
    assert (info.lower, info.source) == ("2.1", "requirements/base.txt")
