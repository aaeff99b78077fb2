from __future__ import annotations

import warnings
from pathlib import Path

import pytest

from mlaudit.probe.compare import TensorDiff, count_differing, first_difference, measure
from mlaudit.probe.runner import Runner


def fp(path: str, sha: str = "a", dtype: str = "float32", shape: tuple[int, ...] = (2,)) -> dict[str, object]:
    return {"path": path, "dtype": dtype, "shape": list(shape), "device": "cpu", "sha256": sha, "nbytes": 8}


def test_identical_runs_have_no_difference() -> None:
    assert first_difference([fp("a"), fp("b")], [fp("a"), fp("b")]) is None


def test_first_difference_follows_return_order() -> None:
    diff = first_difference([fp("z", "1"), fp("a", "2")], [fp("z", "x"), fp("a", "y")])
    assert diff == TensorDiff("z", "bytes", "")


def test_metadata_and_presence_differences() -> None:
    assert first_difference([fp("a", shape=(2,))], [fp("a", shape=(3,))]) == TensorDiff(
        "a", "shape", "shape [2] vs [3]"
    )
    assert first_difference([fp("a"), fp("b")], [fp("a")]).reason == "missing"  # type: ignore[union-attr]
    assert first_difference([fp("a")], [fp("a"), fp("c")]).reason == "extra"  # type: ignore[union-attr]
    assert count_differing([fp("a"), fp("b", "1")], [fp("a"), fp("b", "2"), fp("c")]) == 2


def test_measure_counts_bitwise_differences_in_a_worker(tmp_path: Path) -> None:
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    torch = pytest.importorskip("torch")
    nan = float("nan")
    torch.save({"w": torch.tensor([1.0, nan, 0.0, 2.0])}, tmp_path / "a.pt")
    torch.save({"w": torch.tensor([1.0, nan, -0.0, 2.5])}, tmp_path / "b.pt")
    runner = Runner()
    try:
        diff = measure(TensorDiff("w", "bytes", ""), tmp_path / "a.pt", tmp_path / "b.pt", runner)
    finally:
        runner.close()
    assert diff.detail == "2 of 4 elements differ, max abs diff 0.5"  # NaN == NaN bitwise; 0.0 != -0.0


def test_measure_without_saved_tensors_says_so() -> None:
    runner = Runner()
    try:
        diff = measure(TensorDiff("w", "bytes", ""), None, None, runner)
    finally:
        runner.close()
    assert diff.detail == "tensors too large to keep for diffing"
