"""Work shared between this process and forked helpers, with no executor in between.

`run_shared` writes every task number into one pipe before forking; this process and each helper
then take numbers from it until it is empty. Reading a few bytes from a pipe that already holds
them is atomic, so each task goes to exactly one process, and whoever is free takes the next one.
Tasks come biggest first, so the last ones are the smallest and every process finishes within
about one small file of the others.

A helper appends its results, pickled a few at a time, to a file of its own (an anonymous memory
file on Linux); this process reads what has arrived after each of its own tasks. Nobody ever
waits for anybody until the end: a pipe would make a helper wait for this process to read, and
`ProcessPoolExecutor` moves results through a thread that needs the GIL this process's own
analysis holds. On pytorch-lightning that waiting, and the chunks queued ahead of the helper
when this process ran out of work, cost a cold run about 0.02 s (docs/benchmarks.md).

Whatever a helper did not deliver (it crashed, was killed, ran out of memory) is done here, so
the results are the same whatever happens to a helper.
"""

from __future__ import annotations

import contextlib
import os
import pickle
import signal
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Generic, TypeVar

T = TypeVar("T")

_TOKEN = 4  # bytes per task number
# Numbers written before anyone reads: within the smallest pipe buffer of the systems we run on
# (16 KiB on macOS), so that write never blocks. More tasks than that are handed out in runs.
MAX_TOKENS = 4096
# Results a helper pickles together: one pickle per result would write the classes' names and
# every shared string again for each (a cold run on pytorch-lightning pays 0.03 s more).
BATCH = 8
_FRAME = struct.Struct("<I")  # length of the pickle that follows


def run_shared(order: Sequence[int], work: Callable[[int], T], helpers: int) -> dict[int, T]:
    """`work(index)` for every index of `order`, taken in that order by this process and
    `helpers` forked ones. Only call it from a single-threaded process (see analyse.can_fork)."""
    runs = _runs(order)
    tokens = _token_pipe(len(runs))
    outboxes: list[_Outbox[T]] = []
    results: dict[int, T] = {}
    try:
        for _ in range(helpers):
            try:
                outboxes.append(_fork(tokens, runs, work))
            except OSError:  # no process to spare (a process limit, memory): fewer helpers, same results
                break
        for number in _taken(tokens):
            for index in runs[number]:
                results[index] = work(index)
            for outbox in outboxes:
                outbox.read_into(results)
        for outbox in outboxes:
            outbox.wait()
            outbox.read_into(results)
    finally:
        for outbox in outboxes:
            outbox.close()  # after an error or Ctrl-C here, kills a helper still at work
        os.close(tokens)
    for index in order:  # what a helper took and never delivered
        if index not in results:
            results[index] = work(index)
    return results


def _runs(order: Sequence[int]) -> list[Sequence[int]]:
    size = max(1, -(-len(order) // MAX_TOKENS))
    return [order[i : i + size] for i in range(0, len(order), size)]


def _token_pipe(count: int) -> int:
    """The read end of a pipe holding the task numbers 0..count-1, then end of file."""
    read_end, write_end = os.pipe()
    try:
        os.write(write_end, b"".join(n.to_bytes(_TOKEN, "little") for n in range(count)))
    finally:
        os.close(write_end)
    return read_end


def _taken(tokens: int) -> Iterator[int]:
    """Task numbers taken from the pipe until it is empty."""
    while token := os.read(tokens, _TOKEN):
        yield int.from_bytes(token, "little")


class _Outbox(Generic[T]):
    """A helper, and the file it appends its pickled results to."""

    def __init__(self, pid: int, file: int) -> None:
        self.pid = pid
        self.file = file
        self.offset = 0  # how far this process has read
        self.running = True

    def read_into(self, results: dict[int, T]) -> None:
        """Unpickle the whole batches written since the last read (a batch being written waits)."""
        size = os.fstat(self.file).st_size
        if size - self.offset <= _FRAME.size:
            return
        data = os.pread(self.file, size - self.offset, self.offset)
        position = 0
        while position + _FRAME.size <= len(data):
            (length,) = _FRAME.unpack_from(data, position)
            end = position + _FRAME.size + length
            if end > len(data):
                break
            results.update(pickle.loads(data[position + _FRAME.size : end]))
            position = end
        self.offset += position

    def wait(self) -> None:
        with contextlib.suppress(ChildProcessError):
            os.waitpid(self.pid, 0)
        self.running = False

    def close(self) -> None:
        if self.running:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self.pid, signal.SIGKILL)
            self.wait()
        os.close(self.file)


def _fork(tokens: int, runs: list[Sequence[int]], work: Callable[[int], T]) -> _Outbox[T]:
    file = _anonymous_file()
    try:
        pid = os.fork()
    except OSError:
        os.close(file)
        raise
    if pid == 0:  # the helper: never returns
        _serve(tokens, file, runs, work)
    return _Outbox(pid, file)


def _anonymous_file() -> int:
    """A file with no name that nobody else can open: memory on Linux, a deleted temporary file
    elsewhere."""
    if hasattr(os, "memfd_create"):
        with contextlib.suppress(OSError):  # a kernel or sandbox without it: the temporary file does
            return os.memfd_create("mlaudit-results", os.MFD_CLOEXEC)
    import tempfile  # a rare fallback: every run would pay for the import

    with tempfile.TemporaryFile() as file:
        return os.dup(file.fileno())


def _serve(tokens: int, file: int, runs: list[Sequence[int]], work: Callable[[int], object]) -> None:
    """A helper's whole life: take tasks, append their results, and exit without the interpreter's
    teardown (the parent's buffers and exit handlers are not the helper's to run). Whatever it
    could not finish, the parent does."""
    code = 0
    try:
        signal.signal(signal.SIGINT, signal.SIG_DFL)  # Ctrl-C reaches the whole group: just stop
        batch: list[tuple[int, object]] = []
        for number in _taken(tokens):
            for index in runs[number]:
                batch.append((index, work(index)))
            if len(batch) >= BATCH:
                _append(file, batch)
                batch = []
        _append(file, batch)
    except BaseException:  # noqa: BLE001 - the parent redoes whatever did not arrive
        code = 1
    finally:
        os._exit(code)


def _append(file: int, batch: list[tuple[int, object]]) -> None:
    if not batch:
        return
    data = pickle.dumps(dict(batch), protocol=pickle.HIGHEST_PROTOCOL)
    view = memoryview(_FRAME.pack(len(data)) + data)
    while view:
        view = view[os.write(file, view) :]
