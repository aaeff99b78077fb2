"""Grammar-aware mutation of valid samples, and one engine run over a throwaway repository.

A run writes FILES_PER_RUN mutated files of one kind into a fresh folder (not a git repository, so
mlaudit lists and filters the files itself, .gitignore included), runs the real engine in this
process under a time limit, renders the report, and returns what went wrong, if anything:
- a traceback (any exception out of `check_paths` or a reporter),
- an internal error (a notification: exit 2 where 0 or 1 was due),
- a hang (the run took longer than the limit),
- a miss: a file the reference parser rejects without an ML001 on it.
A broken `[tool.mlaudit]` table is a configuration error (exit 2 with one line) by design and is
counted apart.
"""

from __future__ import annotations

import signal
import tempfile
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from hypothesis import strategies as st

from mlaudit.engine.check import CheckOptions, check_paths
from mlaudit.engine.settings import ConfigError
from mlaudit.report import render
from tests.fuzz.seeds import FileKind

FILES_PER_RUN = 8
MAX_MUTATIONS = 6
_WEIRD = ("\x00", "\ufeff", "\r", "\u2028", "\ud800", "\udcff", "\t", "\x1b", "é", "\U0001f600")


@dataclass
class Outcome:
    files: int = 0
    runs: int = 0
    tracebacks: list[str] = field(default_factory=list)
    internal_errors: list[str] = field(default_factory=list)
    hangs: list[str] = field(default_factory=list)
    misses: list[str] = field(default_factory=list)
    config_errors: int = 0
    ml001: int = 0
    seconds: float = 0.0

    @property
    def failures(self) -> list[str]:
        return self.tracebacks + self.internal_errors + self.hangs + self.misses


@st.composite
def mutated(draw: st.DrawFn, kind: FileKind) -> bytes:
    """A sample of `kind` with a few edits: the grammar's own tokens spliced in, spans deleted,
    repeated (up to deep nesting or a long list) or swapped, odd characters, truncation; then,
    now and then, bytes that are not UTF-8."""
    text = draw(st.sampled_from(kind.samples))
    for _ in range(draw(st.sampled_from((0, 1, 1, 2, 3, MAX_MUTATIONS)))):
        text = _edit(draw, text, kind)
    data = text.encode("utf-8", "surrogatepass")
    if draw(st.integers(0, 9)) == 0:
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.sampled_from([b"\xff", b"\xc3", b"\x00", b"\xed\xa0\x80", b"\xef\xbb\xbf"])) + data[at:]
    return data


def _edit(draw: st.DrawFn, text: str, kind: FileKind) -> str:
    at = draw(st.integers(0, len(text)))
    end = draw(st.integers(at, min(len(text), at + 80)))
    op = draw(st.sampled_from(("token", "token", "token", "delete", "repeat", "swap", "char", "text", "truncate")))
    if op == "token":
        return text[:at] + draw(st.sampled_from(kind.tokens)) + text[at:]
    if op == "delete":
        return text[:at] + text[end:]
    if op == "repeat":  # long lists, deep nesting, many lines; capped so one file stays small
        times = draw(st.sampled_from((2, 10, 100, 1000)))
        return text[:at] + text[at:end] * min(times, 200_000 // max(1, end - at)) + text[end:]
    if op == "swap":
        lines = text.splitlines(keepends=True)
        if len(lines) > 1:
            i, j = draw(st.integers(0, len(lines) - 1)), draw(st.integers(0, len(lines) - 1))
            lines[i], lines[j] = lines[j], lines[i]
        return "".join(lines)
    if op == "char":
        return text[:at] + draw(st.sampled_from(_WEIRD)) + text[at + 1 :]
    if op == "text":
        return text[:at] + draw(st.text(max_size=12)) + text[at:]
    return text[:at]


def file_path(kind: FileKind, index: int) -> str:
    return kind.path.format(d=f"f{index}/" if index else "", i=index)


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: float) -> Iterator[None]:
    def expire(signum: int, frame: object) -> None:
        raise Hang(f"no result after {seconds:.0f} s")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)


def run_engine(kind: FileKind, contents: list[bytes], outcome: Outcome, limit: float) -> None:
    """Write the files, run mlaudit on them, and record in `outcome` what went wrong."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="mlaudit-fuzz-") as folder:
        root = Path(folder)
        paths = [file_path(kind, i) for i in range(len(contents))]
        for rel, data in zip(paths, contents, strict=True):
            (root / rel).parent.mkdir(parents=True, exist_ok=True)
            (root / rel).write_bytes(data)
        label = f"{kind.name}: {root.name}"
        outcome.runs += 1
        outcome.files += len(contents)
        try:
            with time_limit(limit):
                run = check_paths([root], CheckOptions(use_cache=False, jobs=1))
                for fmt in ("json", "full", "sarif", "github"):
                    render(fmt, run)
        except ConfigError:
            outcome.config_errors += 1
            return
        except Hang as exc:
            outcome.hangs.append(f"{label}: {exc}\n{_dump(paths, contents)}")
            return
        except Exception:  # noqa: BLE001 - what the fuzzer is looking for
            outcome.tracebacks.append(f"{label}:\n{traceback.format_exc()}\n{_dump(paths, contents)}")
            return
        finally:
            outcome.seconds += time.perf_counter() - started
        if run.notifications:
            outcome.internal_errors.append(f"{label}: {run.notifications}\n{_dump(paths, contents)}")
        flagged = {f.path for f in run.findings if f.code == "ML001"}
        outcome.ml001 += len(flagged)
        for rel, data in zip(paths, contents, strict=True):
            if rel not in flagged and _rejected(kind, data):
                outcome.misses.append(f"{label}: {rel} is rejected by the reference parser but has no ML001\n"
                                      f"{_dump([rel], [data])}")


def _rejected(kind: FileKind, data: bytes) -> bool:
    if kind.reference is None:
        return False
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return kind.name not in ("python", "setup-py")  # PEP 263 may declare another encoding
    if "\x00" in text:
        return True
    try:
        kind.reference(text.removeprefix("\ufeff"))
    except Exception:  # noqa: BLE001 - any failure of the reference parser
        return True
    return False


def _dump(paths: list[str], contents: list[bytes]) -> str:
    return "\n".join(f"--- {p} ({len(c)} bytes): {c[:300]!r}" for p, c in zip(paths, contents, strict=True))
