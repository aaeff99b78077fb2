from __future__ import annotations

import io
from collections import deque
from pathlib import Path

import pytest

from mlaudit.probe import runner
from mlaudit.probe.runner import RunSpec, keep_tail, worker_env
from mlaudit.probe.session import ProbeOptions, run_probe


def make_repo(root: Path, body: str) -> Path:
    (root / "pkg").mkdir()
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


def test_worker_env_adds_a_source_checkout_only(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    spec = RunSpec(root=tmp_path, target="pkg.train:step", seed=0)
    checkout = str(Path(runner.mlaudit.__file__).resolve().parent.parent)
    monkeypatch.setattr(runner, "site_dirs", lambda: set())
    assert worker_env(spec)["PYTHONPATH"] == f"{checkout}:/elsewhere"
    monkeypatch.setattr(runner, "site_dirs", lambda: {checkout})  # an installed mlaudit
    assert worker_env(spec)["PYTHONPATH"] == "/elsewhere"
