from __future__ import annotations

import io
import sys
from collections import deque
from pathlib import Path

import pytest

from mlaudit.probe import runner
from mlaudit.probe.command import to_run_result
from mlaudit.probe.runner import RunSpec, keep_tail, worker_env
from mlaudit.probe.session import ProbeOptions, run_probe


def make_repo(root: Path, body: str) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "train.py").write_text(body)
    (root / "pyproject.toml").write_text('[tool.mlaudit.probe]\ntarget = "pkg.train:step"\n')
    return root


def test_keep_tail_keeps_only_the_last_bytes(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(runner, "OUTPUT_TAIL_BYTES", 10)
    monkeypatch.setattr(runner, "_READ_CHUNK", 4)
    tail: deque[bytes] = deque()
    keep_tail(io.BufferedReader(io.BytesIO(b"0123456789abcdefghij-end")), tail)
    assert b"".join(tail) == b"efghij-end"


def test_worker_env_unpins_hash_seed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    monkeypatch.delenv("CUBLAS_WORKSPACE_CONFIG", raising=False)
    spec = RunSpec(root=tmp_path, target="pkg.train:step", seed=0)
    assert "PYTHONHASHSEED" not in worker_env(spec)
    fixed = worker_env(RunSpec(root=tmp_path, target="pkg.train:step", seed=0, hash_seed=7, deterministic=True))
    assert fixed["PYTHONHASHSEED"] == "7"
    assert fixed["CUBLAS_WORKSPACE_CONFIG"] == ":4096:8"


def test_killed_worker_with_megabytes_of_output_is_reported_cleanly(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        (
            "import os, signal, sys\n\n"
            "def step(seed):\n"
            "    sys.stdout.write('x' * 5_000_000 + '\\nLAST LINE BEFORE DEATH\\n')\n"
            "    sys.stdout.flush()\n"
            "    os.kill(os.getpid(), signal.SIGKILL)  # what the kernel's OOM killer does\n"
        ),
    )
    report = run_probe(repo, ProbeOptions(runs=1, device="cpu", timeout=60))
    assert report.exit_code == 2
    assert report.error["kind"] == "crash"
    assert "killed by SIGKILL (out of memory?" in report.message
    assert len(report.error["output"]) <= runner.OUTPUT_TAIL_BYTES
    assert report.error["output"].endswith("LAST LINE BEFORE DEATH\n")


def test_worker_runs_standalone_without_importing_mlaudit(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """--python names an interpreter where mlaudit may not be installed: the worker must not need it."""
    poison = tmp_path / "poison" / "mlaudit"
    poison.mkdir(parents=True)
    (poison / "__init__.py").write_text("raise ImportError('the probe worker imported mlaudit')\n")
    monkeypatch.setenv("PYTHONPATH", str(poison.parent))
    repo = make_repo(
        tmp_path / "repo",
        "import sys, torch\n"
        "def step(seed):\n"
        "    assert not any(m == 'mlaudit' or m.startswith('mlaudit.') for m in sys.modules), 'mlaudit imported'\n"
        "    torch.manual_seed(seed)\n"
        "    return torch.randn(3)\n",
    )
    report = run_probe(repo, ProbeOptions(runs=1, device="cpu", timeout=60, python=sys.executable))
    assert report.verdict == "pass", report.message
    assert to_run_result(report).properties["python"] == sys.executable


def test_each_run_has_its_own_working_directory(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        "import os, torch\n"
        "def step(seed):\n"
        "    scale = float(open('data/scale.txt').read())  # relative reads of repo files work\n"
        "    os.makedirs('out', exist_ok=False)  # would fail in a run that shares its folder\n"
        "    open('out/log.txt', 'w').write('ran')\n"
        "    torch.manual_seed(seed)\n"
        "    return torch.randn(3) * scale\n",
    )
    (repo / "data").mkdir()
    (repo / "data" / "scale.txt").write_text("2.0")
    report = run_probe(repo, ProbeOptions(runs=2, device="cpu", timeout=60))
    assert report.verdict == "pass", report.message
    assert not (repo / "out").exists()


DDP_STEP = """
import os

import torch
import torch.distributed as dist
import torch.multiprocessing as mp
from torch import nn
from torch.nn.parallel import DistributedDataParallel


def train(rank, seed):
    dist.init_process_group("gloo", rank=rank, world_size=2)
    torch.manual_seed(seed)
    model = DistributedDataParallel(nn.Linear(4, 2))
    x = torch.randn(8, 4, generator=torch.Generator().manual_seed(seed * 10 + rank))
    model(x).pow(2).sum().backward()  # gradients are all-reduced across the two ranks
    with torch.no_grad():
        for param in model.parameters():
            param -= 0.1 * param.grad
    dist.barrier()
    dist.destroy_process_group()
    return model.module


def step(seed):
    os.environ.setdefault("MASTER_ADDR", "127.0.0.1")
    os.environ.setdefault("MASTER_PORT", "29500")  # what most DDP scripts do
    other = mp.get_context("spawn").Process(target=train, args=(1, seed))
    other.start()
    model = train(0, seed)
    other.join()
    return {"model": model}
"""


def test_a_two_rank_gloo_ddp_step_passes_with_default_jobs(tmp_path: Path) -> None:
    report = run_probe(make_repo(tmp_path, DDP_STEP), ProbeOptions(device="cpu", timeout=120))
    assert report.verdict == "pass", report.message + report.error.get("output", "")
