"""Start probe workers as fresh subprocesses and always get them back, whatever the target does.

Each worker is `worker.py` run as a plain script (copied into the run's temporary folder: it
imports nothing from mlaudit, so `--python` can name an interpreter where mlaudit is not
installed), with a temporary working directory of its own that links to the repo's top-level
entries, its own free `MASTER_PORT`, and a pinned thread count, in its own session
(`start_new_session=True`). At its timeout, when it exits, on Ctrl-C, SIGTERM or
SIGHUP, and at interpreter exit, `reaper.kill_tree` ends its process group, its descendants and
every process carrying its token, `setsid()` escapees included. Output goes through a pipe of
which only the tail is kept, so a target that prints megabytes costs neither memory nor disk.
"""

from __future__ import annotations

import atexit
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlaudit.probe import reaper

WORKER_SCRIPT = Path(__file__).with_name("worker.py")
WORKER_COPY = "mlaudit_probe_worker.py"  # a name no project module shadows or is shadowed by
OUTPUT_TAIL_BYTES = 16 * 1024
_READ_CHUNK = 64 * 1024
STACK_DUMP_WAIT = 0.5  # seconds a hung worker gets to print its stack

THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")

# Every live worker of every Runner in this process (pid -> token), for the exit handler.
_LIVE: dict[int, str] = {}
_LIVE_LOCK = threading.Lock()


def _kill_live_at_exit() -> None:
    with _LIVE_LOCK:
        live = list(_LIVE.items())
    for pid, token in live:
        reaper.kill_tree(pid, token)


atexit.register(_kill_live_at_exit)


@dataclass(frozen=True)
class RunSpec:
    """One worker run. `hash_seed` None leaves PYTHONHASHSEED unset (random per process)."""

    root: Path
    target: str
    seed: int
    device: str = "auto"
    timeout: float = 300.0
    save: bool = False
    deterministic: bool = False
    deterministic_warn: bool = False
    hooks: bool = False
    hash_seed: int | None = None
    label: str = ""
    steps: int = 0  # passed as steps=N to the target when set
    save_to: str = ""  # --resume-at: the target saves its checkpoint here after its steps
    resume_from: str = ""  # --resume-at: the target loads this checkpoint first
    total_steps: int = 0  # --resume-at through a framework: the Trainer is set up for this many, stopped at `steps`
    threads: int = 1  # torch intra-op threads (and OMP/MKL); 0 leaves torch's default


@dataclass
class RunOutcome:
    spec: RunSpec
    result: dict[str, Any]  # the worker's JSON, or an error dict made here
    returncode: int | None
    seconds: float
    output_tail: str = ""
    saved_path: Path | None = None  # tensors for diffing, when the worker saved them
    timed_out: bool = False

    @property
    def ok(self) -> bool:
        return self.result.get("status") == "ok"

    @property
    def error(self) -> dict[str, str]:
        return self.result.get("error", {})


@dataclass
class Runner:
    """Runs specs, at most `jobs` at a time; files live in `workdir` until `close()`."""

    jobs: int = 4
    python: str = sys.executable  # the interpreter the workers run in (--python)
    workdir: Path = field(default_factory=lambda: Path(tempfile.mkdtemp(prefix="mlaudit-probe-")))
    _live: dict[int, str] = field(default_factory=dict)  # pid -> token
    _lock: threading.Lock = field(default_factory=threading.Lock)
    _count: int = 0
    _stop: threading.Event = field(default_factory=threading.Event)

    def __post_init__(self) -> None:
        shutil.copyfile(WORKER_SCRIPT, self.workdir / WORKER_COPY)

    @property
    def script(self) -> Path:
        return self.workdir / WORKER_COPY

    def run_all(self, specs: list[RunSpec], stop_on_failure: bool = False) -> list[RunOutcome]:
        """Run `specs`; with `stop_on_failure`, the first failure cancels the others (a hang would
        otherwise cost one timeout per run)."""
        self._stop.clear()

        def one(spec: RunSpec) -> RunOutcome:
            outcome = self.run_one(spec)
            if stop_on_failure and not outcome.ok and not self._stop.is_set():
                self._stop.set()
                self.kill_all()
            return outcome

        reaper.become_subreaper()  # setsid() grandchildren become ours when their parent dies
        with ThreadPoolExecutor(max_workers=max(1, self.jobs)) as pool:
            try:
                return list(pool.map(one, specs))
            except BaseException:
                # Ctrl-C, SIGTERM, SIGHUP or any failure: kill every worker before the pool's exit
                # waits for its threads, so they return at once instead of at the timeout.
                self._stop.set()
                self.kill_all()
                raise

    def run_one(self, spec: RunSpec) -> RunOutcome:
        if self._stop.is_set():
            return RunOutcome(spec, cancelled(), None, 0.0)
        with self._lock:
            self._count += 1
            stem = self.workdir / f"run{self._count}"
        result_path = stem.with_suffix(".json")
        save_path = stem.with_suffix(".pt")
        cwd = make_cwd(spec.root, stem.with_suffix(".cwd"))
        command = [self.python, str(self.script), *worker_args(spec, result_path, save_path)]
        token = secrets.token_hex(8)
        env = {**worker_env(spec), reaper.TOKEN_VARIABLE: token, "MASTER_PORT": str(free_port())}
        env.setdefault("MASTER_ADDR", "127.0.0.1")
        started = time.perf_counter()
        proc = subprocess.Popen(
            command,
            cwd=cwd,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        with self._lock, _LIVE_LOCK:
            self._live[proc.pid] = token
            _LIVE[proc.pid] = token
            if self._stop.is_set():  # another run failed while this one was starting
                reaper.kill_tree(proc.pid, token)
        tail: deque[bytes] = deque()
        reader = threading.Thread(target=keep_tail, args=(proc.stdout, tail), daemon=True)
        reader.start()
        timed_out = False
        try:
            proc.wait(timeout=spec.timeout)
        except subprocess.TimeoutExpired:
            timed_out = True
            dump_stack(proc)
        finally:
            # Also after a normal exit: the target may have left children behind.
            reaper.kill_tree(proc.pid, token)
            proc.wait()
            with self._lock, _LIVE_LOCK:
                self._live.pop(proc.pid, None)
                _LIVE.pop(proc.pid, None)
        reader.join(timeout=5)
        seconds = time.perf_counter() - started
        output = b"".join(tail).decode("utf-8", "replace")
        if self._stop.is_set() and not timed_out and not result_path.is_file():
            return RunOutcome(spec, cancelled(), proc.returncode, seconds)
        result = read_result(result_path, proc.returncode, timed_out, spec.timeout)
        saved = save_path if result.get("saved") and save_path.is_file() else None
        return RunOutcome(spec, result, proc.returncode, seconds, output, saved, timed_out)

    def diff_saved(self, a_file: Path, b_file: Path, path: str, timeout: float = 120.0) -> dict[str, Any]:
        """Count differing elements of one saved tensor, in a worker (torch stays out of this process)."""
        with self._lock:
            self._count += 1
            result_path = self.workdir / f"diff{self._count}.json"
        command = [
            self.python,
            str(self.script),
            "diff",
            "--a",
            str(a_file),
            "--b",
            str(b_file),
            "--path",
            path,
            "--result",
            str(result_path),
        ]
        env = worker_env(RunSpec(root=a_file.parent, target="", seed=0))
        try:
            subprocess.run(
                command, env=env, stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout, check=False
            )
            data: dict[str, Any] = json.loads(result_path.read_text(encoding="utf-8"))
        except (OSError, ValueError, subprocess.TimeoutExpired):
            return {"status": "error"}
        return data

    def kill_all(self) -> None:
        with self._lock:
            live = list(self._live.items())
        for pid, token in live:
            reaper.kill_tree(pid, token)

    def close(self) -> None:
        self.kill_all()
        shutil.rmtree(self.workdir, ignore_errors=True)


def cancelled() -> dict[str, Any]:
    return {
        "status": "error",
        "error": {"kind": "cancelled", "message": "stopped after another run failed", "traceback": ""},
    }


def make_cwd(root: Path, folder: Path) -> Path:
    """A working directory of the run's own: links to the repo's top-level entries, so relative
    reads (`data/train.txt`) work, while new files and folders it creates there (`out/`, logs,
    checkpoints) stay apart from the repo and from the other runs."""
    folder.mkdir()
    try:
        entries = list(root.iterdir())
    except OSError:
        return folder
    for entry in entries:
        try:
            (folder / entry.name).symlink_to(entry)
        except OSError:
            continue
    return folder


def free_port() -> int:
    """A TCP port nobody listens on now, for torch.distributed's MASTER_PORT: concurrent runs of a
    DDP step would otherwise all bind the default 29500 and fail with EADDRINUSE."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def worker_args(spec: RunSpec, result_path: Path, save_path: Path) -> list[str]:
    command = [
        "--root",
        str(spec.root),
        "--target",
        spec.target,
        "--seed",
        str(spec.seed),
        "--device",
        spec.device,
        "--result",
        str(result_path),
    ]
    if spec.save:
        command += ["--save", str(save_path)]
    if spec.deterministic:
        command.append("--deterministic")
    if spec.deterministic_warn:
        command.append("--deterministic-warn")
    if spec.hooks:
        command.append("--hooks")
    if spec.threads:
        command += ["--threads", str(spec.threads)]
    if spec.steps:
        command += ["--steps", str(spec.steps)]
    if spec.save_to:
        command += ["--save-to", spec.save_to]
    if spec.resume_from:
        command += ["--resume-from", spec.resume_from]
    if spec.total_steps:
        command += ["--total-steps", str(spec.total_steps)]
    return command


def worker_env(spec: RunSpec) -> dict[str, str]:
    """The user's environment, minus a pinned PYTHONHASHSEED, with the thread count pinned."""
    env = dict(os.environ)
    env.pop("PYTHONHASHSEED", None)  # a fixed hash seed would hide set/dict-order bugs
    if spec.hash_seed is not None:
        env["PYTHONHASHSEED"] = str(spec.hash_seed)
    if spec.deterministic or spec.deterministic_warn:
        # Needed by cuBLAS under deterministic mode on torch releases before 2.10; harmless after.
        env.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
    if spec.threads:
        # Reductions split across threads add in another order: bitwise results depend on the count.
        for variable in THREAD_VARIABLES:
            env[variable] = str(spec.threads)
    env["PYTHONUNBUFFERED"] = "1"  # so the output tail shows the last lines before a crash
    return env


def keep_tail(stream: Any, tail: deque[bytes]) -> None:
    """Read `stream` to its end, keeping only the last OUTPUT_TAIL_BYTES."""
    size = 0
    while chunk := stream.read1(_READ_CHUNK):
        tail.append(chunk)
        size += len(chunk)
        while size - len(tail[0]) >= OUTPUT_TAIL_BYTES:
            size -= len(tail.popleft())
    stream.close()
    if size > OUTPUT_TAIL_BYTES and tail:
        tail[0] = tail[0][size - OUTPUT_TAIL_BYTES :]


def dump_stack(proc: subprocess.Popen[bytes]) -> None:
    """Ask a hung worker for its Python stack (faulthandler on SIGUSR1) before it is killed."""
    try:
        os.kill(proc.pid, signal.SIGUSR1)
        proc.wait(timeout=STACK_DUMP_WAIT)  # it will not exit; this just gives it time to write
    except (ProcessLookupError, subprocess.TimeoutExpired):
        pass


def read_result(path: Path, returncode: int | None, timed_out: bool, timeout: float) -> dict[str, Any]:
    if timed_out:
        return {
            "status": "error",
            "error": {
                "kind": "timeout",
                "message": f"the step did not finish within {timeout:g} s and was killed",
                "traceback": "",
            },
        }
    try:
        data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
        return data
    except (OSError, ValueError):
        pass
    kind = "crash" if returncode is not None and returncode < 0 else "exit"
    return {"status": "error", "error": {"kind": kind, "message": describe_exit(returncode), "traceback": ""}}


def describe_exit(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        name = signal.Signals(-returncode).name if -returncode in signal.valid_signals() else str(-returncode)
        hint = " (out of memory? the kernel's OOM killer sends SIGKILL)" if name == "SIGKILL" else ""
        return f"the step's process was killed by {name}{hint} before it reported a result"
    return (
        f"the step ended its process with exit status {returncode} before it reported a result "
        "(os._exit(), or a native library that aborted); its last output is below"
    )
