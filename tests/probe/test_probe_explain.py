"""Each branch of --explain's reasoning, on made-up run outcomes (no subprocesses)."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from typing import Any

from mlaudit.probe import explain
from mlaudit.probe.runner import RunOutcome, RunSpec

SPEC = RunSpec(root=Path("/repo"), target="pkg.train:step", seed=0)


def outcome(
    tensors: str = "a",
    hooks: list[dict[str, Any]] | None = None,
    ops: list[dict[str, Any]] | None = None,
    error: str = "",
) -> RunOutcome:
    if error:
        return RunOutcome(SPEC, {"status": "error", "error": {"kind": "exception", "message": error}}, 0, 1.0)
    result = {
        "status": "ok",
        "tensors": [{"path": "w", "dtype": "float32", "shape": [1], "device": "cpu", "sha256": tensors, "nbytes": 4}],
        "hooks": hooks or [],
        "nondeterministic_ops": ops or [],
    }
    return RunOutcome(SPEC, result, 0, 1.0)


def call(
    index: int, module: str, inp: str = "i", params: str = "p", out: str = "o", kind: str = "Linear"
) -> dict[str, Any]:
    return {
        "index": index,
        "module": module,
        "type": kind,
        "in": inp,
        "params": params,
        "out": out,
        "file": "",
        "line": 0,
    }


def test_hooks_blame_a_kernel_when_input_and_weights_match() -> None:
    a = outcome("a", [call(0, "model.enc"), call(1, "model.pool", out="x", kind="BucketPool")])
    b = outcome("b", [call(0, "model.enc"), call(1, "model.pool", out="y", kind="BucketPool")])
    text = explain.explain_hooks(a, b)
    assert "`model.pool` (BucketPool, forward call 2)" in text and "an op inside it is nondeterministic" in text


def test_hooks_blame_inputs_weights_or_later_steps() -> None:
    assert "its input already differs" in explain.explain_hooks(
        outcome("a", [call(0, "m", inp="1", out="1")]), outcome("b", [call(0, "m", inp="2", out="2")])
    )
    assert "its weights already differ" in explain.explain_hooks(
        outcome("a", [call(0, "m", params="1", out="1")]), outcome("b", [call(0, "m", params="2", out="2")])
    )
    assert "comes later: in the backward pass" in explain.explain_hooks(
        outcome("a", [call(0, "m")]), outcome("b", [call(0, "m")])
    )
    assert "control flow depends" in explain.explain_hooks(outcome("a", [call(0, "m")]), outcome("b", [call(0, "n")]))
    assert "happened to agree" in explain.explain_hooks(outcome("a", [call(0, "m")]), outcome("a", [call(0, "m")]))
    assert "an unnamed Dropout (not among the returned modules" in explain.explain_hooks(
        outcome("a", [call(0, "", out="1", kind="Dropout")]), outcome("b", [call(0, "", out="2", kind="Dropout")])
    )


DIFFERED = [(outcome("a"), outcome("b"))]  # the verdict's pair: plain runs differed


def test_deterministic_mode_lists_ops_and_says_whether_it_helps() -> None:
    op = {
        "message": "scatter_add_cuda_kernel does not have a deterministic implementation, but ...\nmore",
        "file": "pkg/train.py",
        "line": 12,
    }
    agreeing = [(outcome("a", ops=[op]), outcome("a", ops=[op])), (outcome("a"), outcome("a"))]
    lines = explain.explain_deterministic(agreeing, DIFFERED)
    assert lines[0] == (
        "Nondeterministic op at pkg/train.py:12: scatter_add_cuda_kernel does not have a "
        "deterministic implementation, but ..."
    )
    assert "the runs are identical (identical in 2 of 2 pairs; plain same-seed runs differed in 1 of 1)" in lines[1]
    assert "still differ" in explain.explain_deterministic([(outcome("a"), outcome("b"))], DIFFERED)[0]
    failed = explain.explain_deterministic(
        [(outcome(error="RuntimeError: histc_cuda does not have a deterministic"), outcome("a"))], DIFFERED
    )
    assert "fails under torch.use_deterministic_algorithms(True): RuntimeError: histc_cuda" in failed[0]


def test_hash_seed_verdicts() -> None:
    same = [(outcome("a"), outcome("a"))] * 2
    assert "hash randomization is the cause" in explain.explain_hash_seed(same, DIFFERED)
    assert "is not the cause" in explain.explain_hash_seed([(outcome("a"), outcome("b"))], DIFFERED)


def test_one_agreeing_pair_proves_nothing() -> None:
    """The coin-flip case: one pair that agreed under a fixed hash seed is not a cause."""
    assert "no conclusion (identical in 1 of 1 pair;" in explain.explain_hash_seed(
        [(outcome("a"), outcome("a"))], DIFFERED
    )


def test_intermittent_sources_need_more_pairs_and_are_reported_with_their_rate() -> None:
    sometimes = [*DIFFERED, (outcome("a"), outcome("a")), (outcome("a"), outcome("a"))]  # differed in 1 of 3
    assert [explain.pairs_needed(DIFFERED), explain.pairs_needed(DIFFERED * 2 + sometimes[1:3])] == [2, 5]
    assert explain.pairs_needed(sometimes) == 8  # (2/3)^8 < 0.05: more than MAX_PAIRS, so never claimed
    three_agreeing = [(outcome("a"), outcome("a"))] * 3
    assert not explain.needs_more([(outcome("a"), outcome("b"))], sometimes)
    assert explain.needs_more(three_agreeing, sometimes)
    line = explain.explain_deterministic(three_agreeing, sometimes)[-1]
    assert line.startswith(
        "Deterministic mode: no conclusion (identical in 3 of 3 pairs; plain same-seed runs differed in 1 of 3)"
    )
    [rate] = explain.explain_intermittent(sometimes)
    assert rate.startswith("Intermittent: plain same-seed runs differed in 1 of 3 pairs (33%)")
    assert explain.explain_intermittent(DIFFERED) == []


def test_static_findings_fall_back_when_the_engine_is_missing() -> None:
    related, note = explain.static_findings(SPEC, ["pkg/train.py"])
    if importlib.util.find_spec("mlaudit.engine.check") is None:
        assert related == [] and "mlaudit check` is not available" in note and "pkg/train.py" in note
    else:
        assert note.startswith("Static")


def test_static_findings_link_randomness_findings(monkeypatch: Any) -> None:
    import types

    from mlaudit.findings import Finding

    findings = [
        Finding("ML103", "cudnn.benchmark = True", "pkg/train.py", 4),
        Finding("ML101", "no seed", "other/script.py", 3),  # in a file the step did not import
        Finding("ML601", "torch.load without weights_only", "pkg/train.py", 9),  # not about randomness
    ]
    calls: list[tuple[Any, ...]] = []

    def check_root_and_paths(root: Path, paths: list[Path]) -> list[Finding]:
        calls.append((root, paths))
        return findings

    def check_paths(paths: list[Path], options: object = None) -> types.SimpleNamespace:
        calls.append((paths,))
        return types.SimpleNamespace(findings=findings)  # a RunResult

    for engine in (check_root_and_paths, check_paths):
        monkeypatch.setitem(sys.modules, "mlaudit.engine.check", types.SimpleNamespace(check_paths=engine))
        related, note = explain.static_findings(SPEC, ["pkg/train.py"])
        assert [f.code for f in related] == ["ML103"]
        assert note == "Static findings that likely explain it: ML103 at pkg/train.py:4: cudnn.benchmark = True"
    # The probe's root comes first, so the engine reports paths relative to it.
    assert calls == [(Path("/repo"), [Path("/repo/pkg/train.py")]), ([Path("/repo"), Path("/repo/pkg/train.py")],)]


def test_settings_name_cudnn_benchmark_on_cuda_only() -> None:
    on_cuda = outcome("a")
    on_cuda.result.update(
        device="cuda",
        settings={"cudnn_benchmark": True, "cudnn_deterministic": False, "deterministic_algorithms": False},
    )
    lines = explain.explain_settings(on_cuda)
    assert "cudnn.benchmark was True" in lines[0] and "use_deterministic_algorithms(True)" in lines[1]
    on_cuda.result["device"] = "cpu"
    assert explain.explain_settings(on_cuda) == []
