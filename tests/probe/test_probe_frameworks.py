"""Targets found in Lightning and Hugging Face projects (statically), driven for --steps and
--resume-at through the framework's own checkpoint, and where an unseeded stream was first drawn."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlaudit.probe.session import ProbeOptions, run_probe
from mlaudit.probe.target import FRAMEWORKS, find_framework_target, read_target
from tests.probe.conftest import FIXTURES, REPO, ProbeCache, expected, fixture_names
from tests.probe.test_probe_hygiene import make_repo

LIGHTNING, TRANSFORMERS = FRAMEWORKS


def write(root: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    return root


# lightning-hydra-template's shape: the test sets the flag on a config; the Trainer is built elsewhere.
HYDRA_STYLE_TEST = """
from src.train import train

def test_train_fast_dev_run(cfg_train):
    cfg_train.trainer.fast_dev_run = True
    train(cfg_train)
"""
LIGHTNING_SCRIPT = """
raise SystemExit("discovery must never import this")
import lightning as L

def main(config_path):  # needs an argument: not callable as is
    L.Trainer(fast_dev_run=2).fit(None)

def smoke(seed=0, batches=2):
    L.Trainer(limit_train_batches=batches, max_epochs=1).fit(None)
"""


def test_a_lightning_test_setting_fast_dev_run_is_found_before_functions(tmp_path: Path) -> None:
    write(tmp_path, {"src/train.py": LIGHTNING_SCRIPT, "tests/test_train.py": HYDRA_STYLE_TEST})
    target = find_framework_target(tmp_path, LIGHTNING)
    assert target is not None and target.spec == "tests/test_train.py::test_train_fast_dev_run" and target.pytest
    assert target.reason == "a Lightning Trainer(fast_dev_run=N) run"
    assert "src.train" not in sys.modules  # read with ast, never imported


def test_a_function_callable_as_is_is_found_with_its_seed_parameter(tmp_path: Path) -> None:
    write(tmp_path, {"src/train.py": LIGHTNING_SCRIPT})
    target = find_framework_target(tmp_path, LIGHTNING)
    # src/ is on the worker's path, so the module is `train`; `main` needs an argument and is skipped.
    assert target is not None and (target.spec, target.takes_seed) == ("train:smoke", True)
    assert find_framework_target(tmp_path, TRANSFORMERS) is None


def test_a_project_that_does_not_import_the_framework_has_no_framework_target(tmp_path: Path) -> None:
    write(tmp_path, {"pkg/run.py": "def go():\n    Trainer(fast_dev_run=1).fit(None)\n"})
    assert find_framework_target(tmp_path, LIGHTNING) is None


def test_the_order_is_pytest_smoke_test_then_lightning_then_transformers(tmp_path: Path) -> None:
    hf = "from transformers import Trainer, TrainingArguments\n\ndef quick():\n    TrainingArguments('o', max_steps=2)\n"
    write(tmp_path, {"pkg/hf.py": hf})
    assert read_target(tmp_path).spec == "pkg.hf:quick"
    assert read_target(tmp_path).reason == "a Hugging Face Trainer run with max_steps=N"
    assert not read_target(tmp_path).takes_seed  # run as is, no ML902 run
    write(tmp_path, {"pkg/lit.py": "import lightning\n\ndef smoke():\n    lightning.Trainer(fast_dev_run=1)\n"})
    assert read_target(tmp_path).spec == "pkg.lit:smoke"
    smoke_test = "import torch\n\ndef test_step():\n    torch.optim.SGD([]).step()\n"
    write(tmp_path, {"tests/test_one.py": smoke_test})
    assert read_target(tmp_path).spec == "tests/test_one.py::test_step"


@pytest.mark.parametrize("name", [n for n in fixture_names() if expected(n).get("target")])
def test_discovered_fixture_targets(probes: ProbeCache, name: str) -> None:
    report = probes.get(name).report
    assert report.target is not None and report.target.spec == expected(name)["target"]
    assert report.target.source == "discovered"


needs_lightning = pytest.mark.skipif(importlib.util.find_spec("lightning") is None, reason="needs lightning")
needs_transformers = pytest.mark.skipif(
    importlib.util.find_spec("transformers") is None, reason="needs transformers"
)


@needs_lightning
def test_lightning_checkpoint_resume_names_what_it_did_not_carry() -> None:
    options = ProbeOptions(device="cpu", timeout=120, steps=5, resume_at=2)
    report = run_probe(FIXTURES / "lightning_fast_dev_run", options)
    assert report.verdict == "ML901", report.message
    assert "Resuming `litdemo.smoke:smoke` after step 2 from Lightning's own checkpoint" in report.message
    assert "first after optimizer step 3" in report.message
    # Lightning saves weights, optimizer and scheduler, but neither the global RNG nor the sampler position.
    assert "Checkpoint: it did not carry the state of torch's CPU generator" in report.message
    assert "Checkpoint: it did not carry the data position" in report.message
    assert "optimizer state" not in report.message and "the weights" not in report.message


@needs_transformers
def test_hugging_face_checkpoint_resume_gives_the_uninterrupted_run() -> None:
    options = ProbeOptions(device="cpu", timeout=120, steps=4, resume_at=2)
    report = run_probe(FIXTURES / "hf_max_steps", options)
    assert report.verdict == "pass", report.message
    assert "resumed after step 2 from the Hugging Face Trainer's own checkpoint" in report.message
    assert "step 4 is identical" in report.message


SEEDED_TOO_LATE = """
import random

import torch


def step(seed):
    jitter = random.random()  # drawn before the seed below: from an entropy-seeded state
    random.seed(seed)
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    model(torch.randn(8, 4) + jitter).pow(2).mean().backward()
    optimizer.step()
    return {"model": model}
"""


def test_a_stream_drawn_before_its_seed_is_named_with_the_line(tmp_path: Path) -> None:
    report = run_probe(make_repo(tmp_path, SEEDED_TOO_LATE), ProbeOptions(device="cpu", timeout=60))
    assert report.verdict == "ML901", report.message
    assert (
        "Stream: Python's global `random` was drawn before it was first seeded (0), from a state that differs "
        "between the runs; it was first drawn at `pkg/train.py:8` (`random.random`); seed it before that line"
    ) in report.message


UNSEEDED_TORCH_IN_LIBRARY = """
import torch

from pkg.lib import noisy


def step(seed):
    torch.seed()  # from entropy: as good as never seeded
    model = torch.nn.Linear(4, 1)
    x = noisy(torch.ones(8, 4))
    model(x).sum().backward()
    torch.optim.SGD(model.parameters(), lr=0.1).step()
    return {"model": model}
"""


def test_a_torch_draw_is_traced_to_the_projects_line(tmp_path: Path) -> None:
    make_repo(tmp_path, UNSEEDED_TORCH_IN_LIBRARY)
    (tmp_path / "pkg" / "lib.py").write_text("import torch\n\ndef noisy(x):\n    return x + torch.randn_like(x)\n")
    report = run_probe(tmp_path, ProbeOptions(device="cpu", timeout=60, runs=2))
    assert report.verdict == "ML901", report.message
    # nn.Linear's init is the first draw; it goes through torch/nn/init.py from the project's line 9.
    assert "it was first drawn at `pkg/train.py:9` (`Tensor.uniform_`, in `torch/nn/" in report.message


def test_the_hook_trace_of_a_pytest_target_names_the_modules_its_optimizer_stepped(tmp_path: Path) -> None:
    """--explain's module trace works for a test too: modules are named after the one the optimizer stepped."""
    result_file = tmp_path / "result.json"
    subprocess.run(
        [sys.executable, "-m", "mlaudit.probe.worker", "--root", str(FIXTURES / "pytest_smoke"), "--target",
         "tests/test_train.py::test_one_step", "--seed", "0", "--result", str(result_file), "--hooks", "--threads", "1"],
        cwd=tmp_path, env={**os.environ, "PYTHONPATH": str(REPO)}, capture_output=True, timeout=120, check=False,
    )
    result = json.loads(result_file.read_text())
    assert result["status"] == "ok", result
    modules = {call["module"] for call in result["hooks"]}
    assert "Sequential" in modules and "Sequential.0" in modules


CHECKPOINT_WITHOUT_RNG = """
import torch


def step(seed, steps=1, save_to=None, resume_from=None):
    torch.manual_seed(seed)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    start = 0
    if resume_from:
        state = torch.load(resume_from)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
    for _ in range(start, steps):
        optimizer.zero_grad()
        model(torch.randn(8, 4)).pow(2).mean().backward()  # the batch comes from torch's generator
        optimizer.step()
    if save_to:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": steps}, save_to)
    return {"model": model, "optimizer": optimizer}
"""


def test_resume_blames_only_streams_the_run_drew_from(tmp_path: Path) -> None:
    """Python's `random` and NumPy's RNG are never seeded here, so their states differ between any two
    processes; the step never draws from them, so the checkpoint is not blamed for them."""
    options = ProbeOptions(device="cpu", timeout=60, steps=3, resume_at=1)
    report = run_probe(make_repo(tmp_path, CHECKPOINT_WITHOUT_RNG), options)
    assert report.verdict == "ML901", report.message
    assert "Checkpoint: it did not carry the state of torch's CPU generator" in report.message
    assert "Python's global `random`" not in report.message
    assert "NumPy" not in report.message
