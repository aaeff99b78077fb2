"""Compare the fingerprints of two runs and, for a difference, measure it on the saved tensors."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

Fingerprints = list[dict[str, Any]]


@dataclass(frozen=True)
class TensorDiff:
    """The first tensor (in the order the target returned them) that is not bitwise equal."""

    path: str
    reason: str  # "bytes", "dtype", "shape", "device", "missing" (only in run a), "extra" (only in b)
    detail: str  # e.g. "12 of 40 elements differ, max abs diff 0.0421"

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


def measure(diff: TensorDiff, a_file: Path | None, b_file: Path | None) -> TensorDiff:
    """Fill in how many elements differ and by how much, from the tensors the workers saved."""
    if diff.reason != "bytes":
        return diff
    if a_file is None or b_file is None:
        return TensorDiff(diff.path, diff.reason, "tensors too large to keep for diffing")
    import warnings

    # Only the parent's diffing needs torch, and only after a difference was found.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    import torch

    a = torch.load(a_file, map_location="cpu", weights_only=True)[diff.path]
    b = torch.load(b_file, map_location="cpu", weights_only=True)[diff.path]
    differing = bitwise_ne(a, b)
    count = int(differing.sum())
    detail = f"{count} of {a.numel()} elements differ"
    if count and a.dtype != torch.bool:
        gap = (
            (
                a.to(torch.complex128 if a.is_complex() else torch.float64)
                - b.to(torch.complex128 if b.is_complex() else torch.float64)
            )
            .abs()[differing]
            .max()
        )
        detail += f", max abs diff {float(gap):.3g}"
    return TensorDiff(diff.path, diff.reason, detail)


def bitwise_ne(a: Any, b: Any) -> Any:
    """Elementwise "not the same bits" (so NaN == NaN and 0.0 != -0.0, as the hashes see them)."""
    import torch

    if not (a.is_floating_point() or a.is_complex()):
        return a != b
    complex_pair = a.is_complex()
    if complex_pair:
        a, b = torch.view_as_real(a), torch.view_as_real(b)  # (..., 2): real and imaginary parts
    as_int = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    differing = a.contiguous().view(as_int) != b.contiguous().view(as_int)
    return differing.any(-1) if complex_pair else differing
