"""Every fixture repo in fixtures/probe gets the verdict its expected.json states."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlaudit.probe import reaper
from tests.probe.conftest import FIXTURES, REPO, ProbeCache, expected, fixture_names, timeout_of

CPU = fixture_names()
CUDA = fixture_names(cuda=True)


@pytest.mark.parametrize("name", CPU)
def test_verdict_and_exit_code(probes: ProbeCache, name: str) -> None:
    spec = expected(name)
    report = probes.get(name).report
    assert report.verdict == spec["verdict"], report.message
    assert report.exit_code == spec["exit_code"]


@pytest.mark.parametrize("name", [n for n in CPU if expected(n).get("first_differing")])
def test_ml901_names_first_differing_tensor(probes: ProbeCache, name: str) -> None:
    report = probes.get(name).report
    assert report.diff is not None
    assert report.diff.path == expected(name)["first_differing"]
    assert "elements differ, max abs diff" in report.diff.detail
    assert f"`{report.diff.path}`" in report.message


@pytest.mark.parametrize("name", [n for n in CPU if expected(n).get("message_contains")])
def test_ml901_names_the_stream_and_tells_data_from_math(probes: ProbeCache, name: str) -> None:
    message = probes.get(name).report.message
    for part in expected(name)["message_contains"]:
        assert part in message
    for part in expected(name).get("message_lacks", []):
        assert part not in message


@pytest.mark.parametrize("name", [n for n in CPU if expected(n).get("explain")])
def test_explain_names_the_cause(probes: ProbeCache, name: str) -> None:
    text = "\n".join(probes.get(name).report.explanation)
    for part in expected(name)["explain"]:
        assert part in text


@pytest.mark.parametrize("name", [n for n in CPU if expected(n)["verdict"] == "error"])
def test_error_kind(probes: ProbeCache, name: str) -> None:
    report = probes.get(name).report
    assert report.error["kind"] == expected(name)["error_kind"]
    for part in expected(name).get("traceback_contains", []):
        assert part in report.error["traceback"]


def test_nested_return_paths(probes: ProbeCache) -> None:
    report = probes.get("nested_optimizer").report
    paths = [t["path"] for t in report.outcomes[0].result["tensors"]]
    for path in expected("nested_optimizer")["tensor_paths"]:
        assert path in paths


def test_findings_point_at_the_def_line(probes: ProbeCache) -> None:
    report = probes.get("unseeded_random").report
    lines = (FIXTURES / "unseeded_random" / report.location.path).read_text().splitlines()
    assert report.location.path == "sampler/train.py"
    assert lines[report.location.line - 1].startswith("def step(")


def stray_processes(marker: str) -> list[str]:
    """Processes of this test session (below it: the probe's runner made it a child subreaper, so
    even a `setsid()` orphan of a killed run lands here) whose command line has `marker`. Probes
    that other test sessions on the machine run at the same time are not ours to count."""
    ours = reaper.descendants(os.getpid())
    found = []
    for proc in Path("/proc").iterdir():
        if proc.name.isdigit() and int(proc.name) in ours:
            try:
                cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if marker in cmdline:
                found.append(f"{proc.name}: {cmdline}")
    return found


def test_hang_is_killed_at_timeout_with_its_children(probes: ProbeCache) -> None:
    probed = probes.get("hang")
    # Behaviour, not speed: a hang that was not killed would run on far past its timeout.
    assert probed.seconds < 3 * timeout_of(expected("hang"))
    assert "hang/train.py" in probed.report.error["output"]  # the stack dump shows where it hung
    assert stray_processes("mlaudit-probe-hang-child") == []
    assert stray_processes(str(FIXTURES / "hang")) == []


def test_crash_leaves_no_processes(probes: ProbeCache) -> None:
    probes.get("crash")
    assert stray_processes(str(FIXTURES / "crash")) == []


def test_set_vocab_is_stable_within_one_process() -> None:
    """The set-order bug only shows across processes: two calls in one process agree."""
    code = (
        "import torch; from vocab.train import step\n"
        "a, b = step(0)['model'].state_dict(), step(0)['model'].state_dict()\n"
        "print(all(torch.equal(a[k], b[k]) for k in a))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(FIXTURES / "set_vocab")}
    env.pop("PYTHONHASHSEED", None)
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code], env=env, capture_output=True, text=True, cwd=REPO, timeout=60
    )
    assert done.stdout.strip() == "True", done.stderr


def cuda_available() -> bool:
    try:
        import torch
    except ImportError:
        return False
    return bool(torch.cuda.is_available())


@pytest.mark.skipif(not cuda_available(), reason="needs a CUDA GPU")
@pytest.mark.parametrize("name", CUDA)
def test_cuda_fixture(probes: ProbeCache, name: str) -> None:
    spec = expected(name)
    accepted = {spec["verdict"], *spec.get("also_accepted", [])}
    assert probes.get(name, device="cuda").report.verdict in accepted
    deterministic = {spec["deterministic_verdict"], *spec.get("also_accepted", [])}
    assert probes.get(name, device="cuda", deterministic=True).report.verdict in deterministic
