"""The PEP 508 splitter and pip requirements files."""

from __future__ import annotations

import contextlib
import pickle

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.files.requirements import (
    Include,
    ManifestError,
    normalize_name,
    parse_requirement,
    parse_requirements_text,
    url_is_pinned,
)


@pytest.mark.parametrize(
    ("raw", "name"),
    [("Foo_Bar", "foo-bar"), ("foo.bar", "foo-bar"), ("FOO--_.bar", "foo-bar"), ("torch", "torch")],
)
def test_names_are_normalized_per_pep_503(raw: str, name: str) -> None:
    assert normalize_name(raw) == name
    assert parse_requirement(raw).name == name


def test_requirement_parts() -> None:
    req = parse_requirement('Torch[CUDA, extra_two] >= 2.1, <3 ; python_version >= "3.10"', line=4, source="r.txt")
    assert req.name == "torch"
    assert req.extras == ("cuda", "extra-two")
    assert req.specifier == ">=2.1,<3"
    assert req.marker == 'python_version >= "3.10"'
    assert (req.line, req.source) == (4, "r.txt")
    assert req.exact_version is None and not req.pinned


@pytest.mark.parametrize(
    ("text", "exact"),
    [
        ("torch==2.6.0", "2.6.0"),
        ("torch===2.6.0", "2.6.0"),
        ("torch == 2.6.0+cpu", "2.6.0+cpu"),
        ("torch==2.6.*", None),
        ("torch~=2.6", None),
        ("torch>=2.6", None),
        ("torch", None),
        ("torch (==1.0)", "1.0"),
    ],
)
def test_exact_pins(text: str, exact: str | None) -> None:
    assert parse_requirement(text).exact_version == exact


def test_direct_references() -> None:
    wheel = parse_requirement("torch @ https://download.pytorch.org/whl/torch-2.6.0-cp311-linux_x86_64.whl ; sys_platform == 'linux'")
    assert wheel.name == "torch" and wheel.url.endswith(".whl") and wheel.marker == "sys_platform == 'linux'"
    assert wheel.pinned
    assert url_is_pinned("git+https://github.com/org/repo.git@3f2a1b0")
    assert not url_is_pinned("git+https://github.com/org/repo.git")
    assert not url_is_pinned("")


@pytest.mark.parametrize(
    "bad",
    ["", ">=1.0", "torch 2.0", "torch=2.0", "torch[cuda", "torch ;", "torch @", "torch @ http://x y", "torch[bad!]"],
)
def test_malformed_requirements_raise_manifest_error(bad: str) -> None:
    with pytest.raises(ManifestError):
        parse_requirement(bad, line=7)


def test_manifest_error_keeps_line_and_pickles() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_requirement("torch 2.0", line=7)
    assert caught.value.line == 7
    copy = pickle.loads(pickle.dumps(caught.value))
    assert (copy.message, copy.line) == (caught.value.message, 7)


def test_requirements_file_options_comments_and_continuations() -> None:
    text = (
        "# comment\n"
        "--index-url https://pypi.org/simple\n"
        "-r base.txt\n"
        "--constraint=../constraints.txt\n"
        "-rother.txt\n"
        "-e .\n"
        "numpy==1.26.4 \\\n"
        "    --hash=sha256:aaaa \\\n"
        "    --hash=sha256:bbbb\n"
        "    # via torch\n"
        "pkg @ https://example.org/pkg-1.0.tar.gz#sha256=cc  # trailing comment\n"
        "./local/path\n"
        "https://example.org/x-1.0-py3-none-any.whl\n"
        "git+https://github.com/org/tool.git@v1#egg=Org_Tool\n"
        "scipy>=1.11 --config-settings=x=y\n"
    )
    requirements, includes = parse_requirements_text("sub/requirements.txt", text)
    assert [(r.name, r.line) for r in requirements] == [("numpy", 7), ("pkg", 11), ("org-tool", 14), ("scipy", 15)]
    assert requirements[0].specifier == "==1.26.4"
    assert requirements[1].url == "https://example.org/pkg-1.0.tar.gz#sha256=cc"
    assert requirements[3].specifier == ">=1.11"
    assert includes == (
        Include("sub/base.txt", 3, False),
        Include("constraints.txt", 4, True),
        Include("sub/other.txt", 5, False),
    )


def test_hash_in_url_fragment_is_not_a_comment() -> None:
    requirements, _ = parse_requirements_text("r.txt", "git+https://h/x.git#egg=x\n")
    assert requirements[0].name == "x"


def test_environment_variables_are_left_to_pip() -> None:
    requirements, _ = parse_requirements_text("r.txt", "torch==${TORCH_VERSION}\nnumpy\n")
    assert [r.name for r in requirements] == ["numpy"]


def test_bad_line_in_requirements_file_names_its_line() -> None:
    with pytest.raises(ManifestError) as caught:
        parse_requirements_text("r.txt", "numpy\n\ntorch 2.0\n")
    assert caught.value.line == 3


@settings(max_examples=400, deadline=None)
@given(st.text())
def test_requirement_parser_only_raises_manifest_error(text: str) -> None:
    with contextlib.suppress(ManifestError):
        parse_requirement(text)


_REQUIREMENT_ALPHABET = st.sampled_from([*"abcXY_-.[],;@=<>!~*() \t\n\\#/:'\"0123456789+", "--hash=", "-r ", "-e "])


@settings(max_examples=400, deadline=None)
@given(st.lists(_REQUIREMENT_ALPHABET, max_size=60).map("".join))
def test_requirements_file_parser_only_raises_manifest_error(text: str) -> None:
    try:
        requirements, _ = parse_requirements_text("r.txt", text)
    except ManifestError as error:
        assert error.line >= 1
        return
    for requirement in requirements:
        assert requirement.name == normalize_name(requirement.name)
