"""The port of GitHub's primaryLocationLineHash against GitHub's own expectations."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from mlaudit.engine.fingerprint import decode_like_node, line_hashes, utf16_units
from tests.helpers import TEST_DATA

VECTORS_FILE = TEST_DATA / "sarif" / "github-fingerprint-test-vectors.json"


def load_vectors() -> list[dict[str, Any]]:
    data = json.loads(VECTORS_FILE.read_text(encoding="utf-8"))
    vectors: list[dict[str, Any]] = data["vectors"]
    return vectors


VECTORS = load_vectors()


def test_all_vectors_are_loaded() -> None:
    # The parametrized test below must not shrink unnoticed.
    assert len(VECTORS) == 9


@pytest.mark.parametrize(
    "vector", VECTORS, ids=[repr(v["input"][:24]) for v in VECTORS]
)
def test_github_vectors(vector: dict[str, Any]) -> None:
    assert line_hashes(vector["input"]) == vector["expected_line_hashes"]


def polynomial_line1(text: str) -> str:
    """Line 1's hash for a one-line text of under 99 kept code units, in closed form.

    Then no code unit ever leaves the window: the emitted value is the window read as base-37
    digits, i.e. the text's UTF-16 units, the EOF marker 65535, then zeros up to 100 slots.
    """
    raw = text.encode("utf-16-be")  # independent of the module's own utf16_units
    units = [int.from_bytes(raw[i : i + 2], "big") for i in range(0, len(raw), 2)]
    units = [u for u in units if u not in (0x20, 0x09)] + [65535]
    units += [0] * (100 - len(units))
    value = sum(u * 37 ** (99 - i) for i, u in enumerate(units)) % 2**64
    return f"{value:x}:1"


@pytest.mark.parametrize(
    "text",
    [
        "x = torch.load(path)",
        "modèle = 'pré'",
        "emoji = '😀'",
        "\U0001f600\U0001f9e0",
        "中文",
    ],
)
def test_hash_counts_utf16_code_units(text: str) -> None:
    assert line_hashes(text) == [polynomial_line1(text)]


def test_astral_character_is_two_code_units() -> None:
    assert utf16_units("\U0001f600") == [0xD83D, 0xDE00]
    assert line_hashes("\U0001f600") != line_hashes("\U0001f601")


def test_trailing_newline_adds_an_empty_line() -> None:
    assert len(line_hashes("a\nb")) == 2
    assert len(line_hashes("a\nb\n")) == 3
    assert line_hashes("a\nb\n")[-1] == line_hashes("")[0]


def test_node_decoding_keeps_bom_and_replaces_bad_bytes() -> None:
    assert decode_like_node(b"\xef\xbb\xbfx") == "\ufeffx"
    assert decode_like_node(b"a\xffb") == "a\ufffdb"


# Line contents without line breaks; astral characters exercise the surrogate pairs.
line_text = st.text(
    alphabet=st.characters(exclude_characters="\r\n", exclude_categories=["Cs"]),
    max_size=60,
)
lines = st.lists(line_text, min_size=1, max_size=12)


@given(lines)
def test_line_endings_are_equivalent(parts: list[str]) -> None:
    lf = line_hashes("\n".join(parts))
    assert line_hashes("\r".join(parts)) == lf
    assert line_hashes("\r\n".join(parts)) == lf
    assert len(lf) == len(parts)


@given(lines, st.data())
def test_spaces_and_tabs_do_not_change_hashes(
    parts: list[str], data: st.DataObject
) -> None:
    padded = []
    for part in parts:
        cut = data.draw(st.integers(0, len(part)))
        blank = data.draw(st.text(alphabet=" \t", max_size=5))
        padded.append(part[:cut] + blank + part[cut:] + blank)
    assert line_hashes("\n".join(padded)) == line_hashes("\n".join(parts))


@given(st.text(max_size=300))
def test_one_hash_per_line(text: str) -> None:
    hashes = line_hashes(text)
    assert len(hashes) == len(re.split(r"\r\n|\r|\n", text))
    assert all(re.fullmatch(r"[0-9a-f]{1,16}:[1-9][0-9]*", h) for h in hashes)
