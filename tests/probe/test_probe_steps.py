"""--steps: fingerprints after every optimizer step, and the first step that diverges."""

from __future__ import annotations

from pathlib import Path

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
