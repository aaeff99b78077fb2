"""Naming the random stream and telling data from math, on made-up worker results (no subprocesses)."""

from __future__ import annotations

from typing import Any

import pytest

from mlaudit.probe.session import data_cause, stream_causes


def rng(before: str, after: str, seeds: list[str] | None = None) -> dict[str, Any]:
    return {"before": before, "after": after, "seeds": seeds or []}


def test_an_unseeded_stream_that_was_drawn_is_named() -> None:
    a = {"rng": {"python": rng("p1", "p2"), "numpy": rng("n1", "n1"), "torch": rng("t", "t2", ["0"])}}
    b = {"rng": {"python": rng("q1", "q2"), "numpy": rng("m1", "m1"), "torch": rng("t", "t2", ["0"])}}
    [cause] = stream_causes(a, b)
    assert cause.startswith("Stream: Python's global `random` was drawn during the step and never seeded")


def test_an_unseeded_stream_that_nothing_drew_is_not_blamed() -> None:
    # NumPy's global state comes from OS entropy at import: it differs even when the step never uses it.
    a = {"rng": {"numpy": rng("n1", "n1")}}
    b = {"rng": {"numpy": rng("m1", "m1")}}
    assert stream_causes(a, b) == []


def test_a_stream_seeded_from_an_unseeded_source_shows_both_seeds() -> None:
    a = {"rng": {"torch": rng("t", "x", ["417"])}}
    b = {"rng": {"torch": rng("t", "y", ["93"])}}
    [cause] = stream_causes(a, b)
    assert "torch's CPU generator was seeded with different values in the two runs (417 vs 93)" in cause


def test_a_seeded_stream_drawn_a_different_number_of_times() -> None:
    a = {"rng": {"cuda": rng("c", "x", ["0"])}}
    b = {"rng": {"cuda": rng("c", "y", ["0"])}}
    [cause] = stream_causes(a, b)
    assert "torch's CUDA generators was seeded (0) but its state after the step still differs" in cause


def call(inputs: str, params: str) -> dict[str, str]:
    return {"type": "Net", "in": inputs, "params": params}


@pytest.mark.parametrize(
    ("a", "b", "says"),
    [
        ([call("x", "w")], [call("y", "w")], "the data differed: the input of outermost forward call 1 (Net)"),
        (
            [call("x", "w"), call("x2", "v")],
            [call("x", "w"), call("x2", "u")],
            "weights of the Net already differ at outermost forward call 2",
        ),
        ([call("x", "w")], [call("x", "w")], "the math differed: every forward call saw identical inputs and weights"),
        ([call("x", "w")], [call("x", "w"), call("x", "w")], "the runs made 1 and 2 forward calls"),
        ([], [], ""),
    ],
)
def test_data_or_math(a: list[dict[str, str]], b: list[dict[str, str]], says: str) -> None:
    text = data_cause({"data": a}, {"data": b})
    assert (says in text) if says else text == ""
