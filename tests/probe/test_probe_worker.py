"""The worker's fingerprinting and flattening, in process, plus one deterministic-mode worker run."""

from __future__ import annotations

import json
import subprocess
import sys
import warnings
from pathlib import Path

import pytest

from mlaudit.probe import worker
from tests.probe.conftest import REPO

warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
torch = pytest.importorskip("torch")


def test_hash_sees_bits_not_values() -> None:
    h = worker.tensor_bytes_hash
    assert h(torch.tensor([0.0])) != h(torch.tensor([-0.0]))  # equal values, different bits
    assert h(torch.tensor([float("nan")])) == h(torch.tensor([float("nan")]))
    assert h(torch.tensor([1.0, 2.0])) != h(torch.tensor([1.0, 2.0], dtype=torch.float64))


def test_hash_ignores_memory_layout() -> None:
    t = torch.arange(12, dtype=torch.float32).reshape(3, 4)
    assert worker.tensor_bytes_hash(t.t()) == worker.tensor_bytes_hash(t.t().contiguous())
    assert worker.tensor_bytes_hash(t[1:, 1:]) == worker.tensor_bytes_hash(t[1:, 1:].clone())


def test_hash_handles_odd_dtypes() -> None:
    for t in (
        torch.ones(3, dtype=torch.bfloat16),
        torch.tensor(True),
        torch.empty(0),
        torch.ones(2, dtype=torch.complex64),
    ):
        assert len(worker.tensor_bytes_hash(t)) == 64


def paths_of(value: object) -> list[str]:
    return [path for path, _ in worker.flatten(value, "", worker.param_names(value))]


def test_flatten_names_module_optimizer_and_grads() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2))
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(4, 2)).sum().backward()
    optimizer.step()
    paths = paths_of({"model": model, "opt": optimizer, "extras": [1.5, None, "text"]})
    assert paths[:2] == ["model.0.weight", "model.0.bias"]
    assert "model.1.running_mean" in paths
    assert "model.0.weight.grad" in paths
    assert "opt.state[model.0.weight].momentum_buffer" in paths
    assert "opt.param_groups.0.lr" in paths
    assert "extras.0" in paths and not any(p.startswith("extras.1") for p in paths)


def test_flatten_rejects_unknown_types_by_path() -> None:
    with pytest.raises(worker.BadReturn, match=r"`outputs\.1` is a builtins\.object"):
        paths_of({"outputs": [torch.ones(1), object()]})


def test_hook_trace_names_modules_in_completion_order() -> None:
    model = torch.nn.Sequential(torch.nn.Linear(2, 3), torch.nn.ReLU(inplace=True))
    x = torch.randn(1, 2)
    before_relu = model[0](x).detach().clone()
    trace = worker.HookTrace()
    trace.install()
    try:
        model(x)
    finally:
        trace.remove()
    calls = trace.named({"net": model}, REPO)
    assert [(c["module"], c["type"]) for c in calls] == [("net.0", "Linear"), ("net.1", "ReLU"), ("net", "Sequential")]
    # The in-place ReLU overwrote its input; the pre-hook hashed it before that happened.
    assert calls[1]["in"] == worker.value_hash((before_relu,))


def test_deterministic_mode_names_ops_at_the_users_line(tmp_path: Path) -> None:
    package = tmp_path / "detop"
    package.mkdir()
    (package / "__init__.py").write_text("")
    (package / "train.py").write_text(
        "import torch\n\n"
        "def step(seed):\n"
        "    torch.manual_seed(seed)\n"
        "    out = torch.zeros(4)\n"
        "    out.put_(torch.tensor([0, 0]), torch.randn(2))\n"
        "    return out\n"
    )
    result_file = tmp_path / "result.json"
    subprocess.run(
        [
            sys.executable,
            "-m",
            "mlaudit.probe.worker",
            "--root",
            str(tmp_path),
            "--target",
            "detop.train:step",
            "--seed",
            "0",
            "--device",
            "cpu",
            "--result",
            str(result_file),
            "--deterministic-warn",
        ],
        cwd=tmp_path,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
        check=True,
        timeout=60,
    )
    result = json.loads(result_file.read_text())
    assert result["status"] == "ok"
    [op] = result["nondeterministic_ops"]
    assert (op["file"], op["line"]) == ("detop/train.py", 6)
    assert op["message"].startswith("put_ does not have a deterministic implementation")
    assert result["repo_files"] == ["detop/__init__.py", "detop/train.py"]
    assert result["settings"] == {
        "cudnn_benchmark": False,
        "cudnn_deterministic": False,
        "deterministic_algorithms": True,
    }


def test_default_device_hint_only_for_steps_without_a_device_parameter() -> None:
    def plain(seed: int) -> None: ...

    def placed(seed: int, device: str = "cpu") -> None: ...

    assert worker.default_device_hint(plain, "cpu") == ""
    assert worker.default_device_hint(placed, "cuda") == ""
    assert "has no `device` parameter, so the probe made cuda the default" in worker.default_device_hint(plain, "cuda")


def test_diff_saved_counts_bits_and_largest_gap(tmp_path: Path) -> None:
    torch.save({"c": torch.tensor([1 + 1j, 2 + 2j]), "b": torch.tensor([True, False])}, tmp_path / "a.pt")
    torch.save({"c": torch.tensor([1 + 1j, 2 + 3j]), "b": torch.tensor([True, True])}, tmp_path / "b.pt")
    assert worker.diff_saved(tmp_path / "a.pt", tmp_path / "b.pt", "c") == {
        "status": "ok",
        "count": 1,
        "numel": 2,
        "max_abs_diff": 1.0,
    }
    assert worker.diff_saved(tmp_path / "a.pt", tmp_path / "b.pt", "b")["max_abs_diff"] is None
