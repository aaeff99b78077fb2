"""Process hygiene: nothing a step starts outlives the probe, whatever ends it; each failure says what it was."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from mlaudit.probe import reaper
from mlaudit.probe.session import ProbeOptions, run_probe
from tests.probe.conftest import REPO
from tests.probe.test_probe_fixtures import stray_processes

# A child that calls setsid() and leaves a grandchild (with a marker argument) before it exits:
# the grandchild is in no process group of the worker's and, without a subreaper, belongs to init.
ESCAPE = (
    "import subprocess, sys\n"
    "CODE = 'import subprocess, sys, time; "
    'subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)", sys.argv[1]], start_new_session=True)\'\n'
    "def escape(marker):\n"
    "    subprocess.run([sys.executable, '-c', CODE, marker], start_new_session=True, check=True)\n"
)


def make_repo(root: Path, body: str) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pkg" / "__init__.py").write_text("")
    (root / "pkg" / "train.py").write_text(body)
    (root / "pyproject.toml").write_text('[tool.mlaudit.probe]\ntarget = "pkg.train:step"\n')
    return root


def wait_for(predicate: object, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():  # type: ignore[operator]
            return True
        time.sleep(0.1)
    return False


def test_setsid_grandchildren_of_a_step_that_returned_are_killed(tmp_path: Path) -> None:
    marker = f"mlaudit-escapee-{os.getpid()}-returned"
    repo = make_repo(
        tmp_path,
        ESCAPE + f"import torch\ndef step(seed):\n    escape({marker!r})\n    torch.manual_seed(seed)\n"
        "    return torch.randn(3)\n",
    )
    report = run_probe(repo, ProbeOptions(runs=1, device="cpu", timeout=60))
    assert report.verdict == "pass", report.message
    assert stray_processes(marker) == []


def test_a_stray_non_daemon_thread_is_not_a_timeout(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path,
        "import threading, time, torch\n"
        "def step(seed):\n"
        "    threading.Thread(target=time.sleep, args=(600,)).start()  # not a daemon: blocks interpreter exit\n"
        "    torch.manual_seed(seed)\n"
        "    return torch.randn(3)\n",
    )
    started = time.monotonic()
    report = run_probe(repo, ProbeOptions(runs=1, device="cpu", timeout=40))
    assert report.verdict == "pass", report.message
    assert time.monotonic() - started < 40


PROBE_CLI = [sys.executable, "-m", "mlaudit.probe.command"]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP, signal.SIGINT])
def test_a_signal_to_mlaudit_stops_every_worker_and_removes_the_temp_folder(tmp_path: Path, signum: int) -> None:
    marker = f"mlaudit-escapee-{os.getpid()}-{signum}"
    repo = make_repo(
        tmp_path / "repo",
        ESCAPE + f"import time\ndef step(seed):\n    escape({marker!r})\n    time.sleep(600)\n",
    )
    temp = tmp_path / "tmp"
    temp.mkdir()
    env = {**os.environ, "PYTHONPATH": str(REPO), "TMPDIR": str(temp)}
    # As from a terminal, Ctrl-C must be live in mlaudit. A test run started in the background
    # (`make test &`, `nohup`) ignores SIGINT, and a child inherits "ignore" (Python then never
    # raises KeyboardInterrupt); a handler here is reset to the default in the child instead.
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        proc = subprocess.Popen(
            [*PROBE_CLI, str(repo), "--runs", "1", "--device", "cpu", "--timeout", "300"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            text=True,
        )
    finally:
        signal.signal(signal.SIGINT, previous)
    try:
        # Both runs (seed 0 and seed 1) have their escapee in place before the signal.
        assert wait_for(lambda: len(stray_processes(marker)) == 2, 60)
        proc.send_signal(signum)
        _, err = proc.communicate(timeout=20)  # promptly, not at the 300 s timeout
    finally:
        proc.kill()
    assert proc.returncode == 2
    name = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
    assert err == f"mlaudit probe: interrupted by {name}; every run was stopped and its files removed\n"
    assert wait_for(lambda: stray_processes(marker) == [], 5), stray_processes(marker)
    assert list(temp.iterdir()) == []


FAILURES = {
    "target_raised": (
        "def step(seed):\n    raise KeyError('no column named label')\n",
        "exception",
        "`pkg.train:step` raised KeyError: 'no column named label'",
    ),
    "import_error": (
        "import torch\nraise RuntimeError('config.yaml missing')\ndef step(seed):\n    pass\n",
        "import",
        "cannot import `pkg.train:step`: RuntimeError: config.yaml missing",
    ),
    "missing_function": (
        "def train(seed):\n    pass\n",
        "import",
        "cannot import `pkg.train:step`: module `pkg.train` (",
    ),
    "bad_return": (
        "def step(seed):\n    return {'model': object()}\n",
        "bad_return",
        "`pkg.train:step` returned something the probe cannot compare: `model` is a builtins.object",
    ),
    "no_tensors": (
        "def step(seed):\n    return 'done'\n",
        "bad_return",
        "no tensors in it (got builtins.str)",
    ),
    "exit_status": (
        "import os\ndef step(seed):\n    os._exit(3)\n",
        "exit",
        "the step ended its process with exit status 3 before it reported a result",
    ),
    "killed_by_signal": (
        "import os, signal\ndef step(seed):\n    os.kill(os.getpid(), signal.SIGSEGV)\n",
        "crash",
        "the step's process was killed by SIGSEGV before it reported a result",
    ),
}


@pytest.mark.parametrize("case", sorted(FAILURES))
def test_each_failure_class_has_its_own_message(tmp_path: Path, case: str) -> None:
    body, kind, message = FAILURES[case]
    report = run_probe(make_repo(tmp_path, body), ProbeOptions(runs=1, device="cpu", timeout=60))
    assert report.exit_code == 2
    assert report.error["kind"] == kind
    assert message in report.message
    # The probe's own frames are not the user's business.
    assert "mlaudit/probe/worker.py" not in report.error.get("traceback", "")


def test_kill_tree_finds_a_token_holder_outside_the_tree() -> None:
    token = "t" + str(os.getpid())
    env = {**os.environ, reaper.TOKEN_VARIABLE: token}
    # start_new_session and no parent link to the "worker" pid given below: only the token finds it.
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"], env=env, start_new_session=True)
    try:
        assert wait_for(lambda: proc.pid in reaper.token_holders(token), 10)
        reaper.kill_tree(proc.pid + 10**7, token)
        proc.wait(timeout=10)  # kill_tree already reaped it, as it does with the orphans it adopts
        assert not Path(f"/proc/{proc.pid}").exists()
    finally:
        proc.kill()
