"""Targets found, not written: a project's pytest smoke test, found or named, run in fresh processes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlaudit.probe.command import main
from tests.probe.conftest import ProbeCache, expected


def test_the_smoke_test_is_found_and_what_it_stepped_is_fingerprinted(probes: ProbeCache) -> None:
    report = probes.get("pytest_smoke").report
    assert report.verdict == "pass", report.message
    assert report.target is not None and report.target.spec == expected("pytest_smoke")["target"]
    assert report.target.source == "discovered"
    paths = [t["path"] for t in report.outcomes[0].result["tensors"]]
    for path in expected("pytest_smoke")["tensor_paths"]:
        assert path in paths
    assert len(report.outcomes) == 2  # no seed + 1 run: the test seeds itself
    assert "seed sensitivity (ML902) was not checked" in report.message


UNSEEDED_TEST = """
import random

import torch


def test_one_step():
    torch.manual_seed(0)
    model = torch.nn.Linear(4, 1)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    x = torch.randn(8, 4) + random.random()  # the global `random` is never seeded
    model(x).pow(2).mean().backward()
    optimizer.step()
"""


def test_a_test_named_directly_reports_ml901_with_stream_and_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "tests").mkdir()
    (tmp_path / "tests" / "test_train.py").write_text(UNSEEDED_TEST)
    (tmp_path / "pyproject.toml").write_text("[tool.pytest.ini_options]\n")
    code = main(
        [str(tmp_path), "--target", "tests/test_train.py::test_one_step", "--device", "cpu", "--output-format", "json"]
    )
    captured = capsys.readouterr()
    assert code == 1, captured.err
    document = json.loads(captured.out)
    [finding] = document["findings"]
    assert (finding["path"], finding["location"]["line"]) == ("tests/test_train.py", 7)
    assert "(a pytest test that seeds itself)" in finding["message"]
    assert "Stream: Python's global `random` was drawn during the step and never seeded" in finding["message"]
    assert "first differ after optimizer step 1 of 1, at `stepped.Linear.weight`" in finding["message"]
    assert document["properties"]["target_source"] == "option"
    assert "no target was set" not in captured.err
