"""mlaudit.engine.pool: work shared with forked helpers gives every result once, whatever happens
to a helper."""

from __future__ import annotations

import os
import threading
import time

import pytest

from mlaudit.engine import pool


@pytest.fixture(autouse=True)
def _forkable() -> None:
    # Not analyse.can_fork, which also refuses once torch is imported (as an earlier test may have
    # done): these helpers run plain Python and never touch torch's threads.
    if not hasattr(os, "fork") or threading.active_count() > 1:
        pytest.skip("forks only from a single-threaded process")


def _slow_pid(index: int) -> tuple[int, int]:
    time.sleep(0.002)  # long enough that a helper gets some of the tasks
    return index * index, os.getpid()


def test_every_task_is_done_once_and_the_helpers_share_them() -> None:
    order = list(range(200))
    results = pool.run_shared(order, _slow_pid, helpers=2)
    assert sorted(results) == order
    assert all(value == i * i for i, (value, _) in results.items())
    assert len({pid for _, pid in results.values()}) == 3  # this process and both helpers worked


def test_more_tasks_than_tokens_are_handed_out_in_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(pool, "MAX_TOKENS", 16)
    order = list(range(100, 0, -1))
    assert pool.run_shared(order, lambda i: -i, helpers=1) == {i: -i for i in order}


def test_what_a_dying_helper_took_is_done_here() -> None:
    parent = os.getpid()

    def work(index: int) -> int:
        if os.getpid() != parent and index % 7 == 0:
            os._exit(3)  # a helper killed in the middle of its batch
        time.sleep(0.001)
        return index + 1

    order = list(range(120))
    assert pool.run_shared(order, work, helpers=1) == {i: i + 1 for i in order}


def test_an_error_here_stops_the_helpers_and_is_raised() -> None:
    parent = os.getpid()
    pids: list[int] = []

    def work(index: int) -> int:
        if os.getpid() == parent:
            raise ValueError("a bug in a rule")
        time.sleep(0.01)
        return index

    original = pool._fork

    def remember(*args: object) -> pool._Outbox[int]:
        outbox = original(*args)  # type: ignore[arg-type]
        pids.append(outbox.pid)
        return outbox

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(pool, "_fork", remember)
        with pytest.raises(ValueError, match="a bug in a rule"):
            pool.run_shared(list(range(50)), work, helpers=2)
    assert len(pids) == 2
    for pid in pids:  # killed and reaped: no process left, not even a zombie
        with pytest.raises(ChildProcessError):
            os.waitpid(pid, os.WNOHANG)


def test_without_memory_files_results_go_through_a_temporary_file(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: object) -> int:
        raise OSError(38, "Function not implemented")

    monkeypatch.setattr(os, "memfd_create", refuse, raising=False)
    order = list(range(60))
    results = pool.run_shared(order, _slow_pid, helpers=1)
    assert {i: value for i, (value, _) in results.items()} == {i: i * i for i in order}
    assert len({pid for _, pid in results.values()}) == 2


def test_when_no_helper_can_be_forked_this_process_does_all_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse() -> int:
        raise BlockingIOError(11, "Resource temporarily unavailable")  # fork's EAGAIN at a process limit

    monkeypatch.setattr(os, "fork", refuse)
    order = list(range(30))
    results = pool.run_shared(order, _slow_pid, helpers=2)
    assert {i: value for i, (value, _) in results.items()} == {i: i * i for i in order}
    assert {pid for _, pid in results.values()} == {os.getpid()}
