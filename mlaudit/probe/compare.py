"""Compare the fingerprints of two runs and, for a difference, measure it on the saved tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mlaudit.probe.runner import Runner

Fingerprints = list[dict[str, Any]]


@dataclass(frozen=True)
class TensorDiff:
    """The first tensor (in the order the target returned them) that is not bitwise equal."""

    path: str
    reason: str  # "bytes", "dtype", "shape", "device", "missing" (only in run a), "extra" (only in b)
    detail: str  # e.g. "12 of 40 elements differ, max abs diff 0.0421"
    count: int | None = None  # differing elements, when measured
    numel: int | None = None
    max_abs_diff: float | None = None

    def properties(self) -> dict[str, Any]:
        return {
            "tensor": self.path,
            "reason": self.reason,
            "differing_elements": self.count,
            "numel": self.numel,
            "max_abs_diff": self.max_abs_diff,
        }

    def describe(self) -> str:
        return f"`{self.path}` ({self.detail})" if self.detail else f"`{self.path}`"


def first_difference(a: Fingerprints, b: Fingerprints) -> TensorDiff | None:
    """The first differing tensor, walking run a's order; None when every tensor is bitwise equal."""
    by_path = {fp["path"]: fp for fp in b}
    for fp in a:
        other = by_path.pop(fp["path"], None)
        if other is None:
            return TensorDiff(fp["path"], "missing", "returned by one run only")
        for field in ("dtype", "shape", "device"):
            if fp[field] != other[field]:
                return TensorDiff(fp["path"], field, f"{field} {fp[field]} vs {other[field]}")
        if fp["sha256"] != other["sha256"]:
            return TensorDiff(fp["path"], "bytes", "")
    if by_path:
        path = next(iter(by_path))
        return TensorDiff(path, "extra", "returned by one run only")
    return None


def count_differing(a: Fingerprints, b: Fingerprints) -> int:
    """How many tensor paths differ in bytes, presence or metadata."""
    left = {fp["path"]: fp for fp in a}
    right = {fp["path"]: fp for fp in b}
    return sum(1 for path in left.keys() | right.keys() if left.get(path) != right.get(path))


def measure(diff: TensorDiff, a_file: Path | None, b_file: Path | None, runner: Runner) -> TensorDiff:
    """Fill in how many elements differ and by how much, from the tensors the workers saved.

    The counting runs in a worker subprocess: mlaudit's own process never imports torch.
    """
    if diff.reason != "bytes":
        return diff
    if a_file is None or b_file is None:
        return TensorDiff(diff.path, diff.reason, "tensors too large to keep for diffing")
    result = runner.diff_saved(a_file, b_file, diff.path)
    if result.get("status") != "ok":
        return TensorDiff(diff.path, diff.reason, "")
    detail = f"{result['count']} of {result['numel']} elements differ"
    if result.get("max_abs_diff") is not None:
        detail += f", max abs diff {result['max_abs_diff']:.3g}"
    return TensorDiff(diff.path, diff.reason, detail, result["count"], result["numel"], result.get("max_abs_diff"))
