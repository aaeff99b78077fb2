"""Get every process a probe run started back, whatever the step does with them.

A worker runs in its own session, so `os.killpg` ends it and the children that stayed in its
process group. A child that called `setsid()` (a DataLoader helper, a launcher, a daemon) leaves
that group, and when its parent dies it would be re-parented to init and live on. Two things
catch those:
- on Linux mlaudit makes itself a *child subreaper* (`prctl(PR_SET_CHILD_SUBREAPER)`), so orphans
  below it are re-parented to mlaudit instead of init and stay its descendants;
- every worker's environment carries a token (`MLAUDIT_PROBE_RUN`), inherited by whatever it
  starts, so a process that escaped the tree is still recognised as this run's.
`kill_tree` kills the group, every descendant and every holder of the token, then reaps the ones
that became mlaudit's own children, so they do not stay behind as zombies.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import signal
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from types import FrameType

TOKEN_VARIABLE = "MLAUDIT_PROBE_RUN"
PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")


class ProbeInterrupted(KeyboardInterrupt):
    """mlaudit got SIGTERM or SIGHUP while probing; raised in the main thread like Ctrl-C."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum

    @property
    def name(self) -> str:
        return signal.Signals(self.signum).name


def become_subreaper() -> bool:
    """Make orphaned descendants re-parent to this process (Linux); False where unsupported."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def parents() -> dict[int, int]:
    """pid -> parent pid of every process visible in /proc (empty where there is no /proc)."""
    table: dict[int, int] = {}
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return table
    for entry in entries:
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text(encoding="ascii", errors="replace")
        except OSError:
            continue
        # The command name (field 2) is in parentheses and may contain spaces or parentheses.
        fields = stat[stat.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1].isdigit():
            table[int(entry.name)] = int(fields[1])
    return table


def descendants(pid: int, table: dict[int, int] | None = None) -> set[int]:
    table = parents() if table is None else table
    children: dict[int, list[int]] = {}
    for child, parent in table.items():
        children.setdefault(parent, []).append(child)
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def token_holders(token: str) -> set[int]:
    """Processes of this user whose environment carries `token` (others' environ is unreadable)."""
    needle = f"{TOKEN_VARIABLE}={token}".encode()
    found: set[int] = set()
    try:
        entries = list(_PROC.iterdir())
    except OSError:
        return found
    for entry in entries:
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                environ = (entry / "environ").read_bytes()
            except OSError:
                continue
            if needle in environ.split(b"\0"):
                found.add(int(entry.name))
    return found


def kill_tree(pid: int, token: str) -> None:
    """SIGKILL the worker `pid`, its process group, its descendants and every holder of `token`.

    Repeated a few times: a process may fork while the first sweep runs.
    """
    for _ in range(3):
        victims = descendants(pid) | token_holders(token)
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pid, signal.SIGKILL)
        for victim in victims:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(victim, signal.SIGKILL)
        reap(victims - {pid})
        if not victims:
            break


def reap(pids: set[int]) -> None:
    """Collect the exit status of those of `pids` that are (now) our children; skip the others."""
    for pid in pids:
        with contextlib.suppress(ChildProcessError, OSError):
            for _ in range(50):
                done, _status = os.waitpid(pid, os.WNOHANG)
                if done:
                    break
                threading.Event().wait(0.01)


@contextlib.contextmanager
def signals_interrupt() -> Iterator[None]:
    """While probing, SIGTERM and SIGHUP raise ProbeInterrupted in the main thread (as SIGINT raises
    KeyboardInterrupt), so the `finally` blocks kill the workers and remove the temp folder."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(signum: int, _frame: FrameType | None) -> None:
        raise ProbeInterrupted(signum)

    wanted = [getattr(signal, name) for name in ("SIGTERM", "SIGHUP") if hasattr(signal, name)]
    previous = {}
    for signum in wanted:
        try:
            previous[signum] = signal.signal(signum, interrupt)
        except (OSError, ValueError):
            continue
    try:
        yield
    finally:
        for signum, handler in previous.items():
            with contextlib.suppress(OSError, ValueError):
                signal.signal(signum, handler)
