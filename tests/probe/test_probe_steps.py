"""--steps: fingerprints after every optimizer step, and the first step that diverges."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaudit.probe.command import to_run_result
from mlaudit.probe.session import ProbeOptions, run_probe
from tests.probe.test_probe_hygiene import make_repo

DRIFTS_AT_STEP_3 = """
import random

import torch
from torch import nn


def step(seed, steps=1):
    torch.manual_seed(seed)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    x, y = torch.randn(8, 4), torch.randn(8, 2)
    for i in range(steps):
        noise = random.random() if i == 2 else 0.0  # unseeded, and only from the third step on
        optimizer.zero_grad()
        nn.functional.mse_loss(model(x + noise), y).backward()
        optimizer.step()
    return {"model": model, "optimizer": optimizer}
"""


def test_steps_names_the_first_step_and_tensor_that_diverge(tmp_path: Path) -> None:
    report = run_probe(make_repo(tmp_path, DRIFTS_AT_STEP_3), ProbeOptions(device="cpu", timeout=60, steps=3))
    assert report.verdict == "ML901", report.message
    assert (
        "Step: the runs agree after optimizer steps 1-2 and first differ after optimizer step 3 of 3, at `model.weight`"
        in report.message
    )
    assert "Stream: Python's global `random` was drawn during the step and never seeded" in report.message
    props = to_run_result(report).properties
    assert props["steps"] == 3
    assert (props["finding"]["step"], props["finding"]["step_tensor"]) == (3, "model.weight")


def test_steps_needs_a_steps_parameter(tmp_path: Path) -> None:
    repo = make_repo(tmp_path, "import torch\ndef step(seed):\n    return torch.zeros(1)\n")
    report = run_probe(repo, ProbeOptions(runs=1, device="cpu", timeout=60, steps=2))
    assert report.exit_code == 2 and report.error["kind"] == "usage"
    assert "--steps 2 needs a target with a `steps` parameter" in report.message


CHECKPOINTED = """
import torch
from torch import nn


def step(seed, steps=1, save_to=None, resume_from=None):
    torch.manual_seed(seed)
    model = nn.Linear(4, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    start = 0
    if resume_from:
        state = torch.load(resume_from)
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start = state["step"]
        if KEEPS_RNG:
            torch.set_rng_state(state["rng"])
    for _ in range(start, steps):
        x = torch.randn(8, 4)  # each batch draws from torch's global RNG
        optimizer.zero_grad()
        model(x).pow(2).mean().backward()
        optimizer.step()
    if save_to:
        state = {"model": model.state_dict(), "optimizer": optimizer.state_dict(), "step": steps}
        torch.save({**state, "rng": torch.get_rng_state()}, save_to)
    return {"model": model, "optimizer": optimizer}
"""


@pytest.mark.parametrize("keeps_rng", [False, True])
def test_resume_at_names_what_the_checkpoint_did_not_carry(tmp_path: Path, keeps_rng: bool) -> None:
    repo = make_repo(tmp_path, f"KEEPS_RNG = {keeps_rng}\n" + CHECKPOINTED)
    report = run_probe(repo, ProbeOptions(runs=1, device="cpu", timeout=60, steps=3, resume_at=2))
    if keeps_rng:
        assert report.verdict == "pass", report.message
        assert report.message.endswith("; resumed after step 2 from the target's own checkpoint, step 3 is identical")
        return
    assert report.verdict == "ML901", report.message
    assert report.message.startswith(
        "Resuming `pkg.train:step` after step 2 from its own checkpoint does not give the uninterrupted run: at "
        "step 3 they differ first at `model.weight`"
    )
    assert "first after optimizer step 3, at `model.weight`" in report.message
    assert "Checkpoint: it did not carry the state of torch's CPU generator" in report.message
    assert "Checkpoint: it did not carry the data position" in report.message
    assert "optimizer state" not in report.message and "the weights" not in report.message
    assert to_run_result(report).properties["finding"]["step"] == 3
