"""What an edit costs: `mlaudit check` after small changes to a repository, for one or more builds
of mlaudit side by side (this checkout and, say, main's), interleaved run by run.

Usage: python bench/edits.py REPO [--mlaudit NAME=PATH ...] [--runs 7] [--out FILE]

REPO is a scratch copy of a git repository (files in it are edited and restored; each build keeps
its cache in its own folder outside REPO, so the copy gets no .mlaudit_cache). Cases, each a fresh
process under /usr/bin/time, with new content every sample so that no cache has seen it:
- warm: nothing changed since the last run;
- comment appended: a new comment line at the end of the middle file of `git ls-files '*.py'`
  (bench/run.py's "one file touched"); the file's facts do not change;
- line inserted: a new comment line at the middle of that file, which moves every line below it,
  so its facts change (a real edit);
- 5 files, comment appended: that edit in the first five files, passed on the command line as
  pre-commit passes changed files;
- 5 files, line inserted: the real edit in those five files, passed the same way.
After each sample the files are restored and each build runs once more, untimed, so every sample
starts from a warm cache.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import Sample, Summary, measure, python_files, summarise, table_head  # the sibling script


def _cpu_of_children() -> float:
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def timed(command: list[str], repo: Path) -> tuple[Sample, float]:
    """The run's wall time and peak memory, and its CPU time (user + sys): on a shared machine
    the CPU time is the fairer comparison (every sample waits on the others' load alike)."""
    before = _cpu_of_children()
    sample = measure(command, repo, 600)
    return sample, _cpu_of_children() - before


def _append(path: Path, original: bytes) -> None:
    path.write_bytes(original + f"\n# edited by the benchmark at {time.time_ns()}\n".encode())


def _insert(path: Path, original: bytes) -> None:
    lines = original.splitlines(keepends=True)
    middle = len(lines) // 2
    line = f"# edited by the benchmark at {time.time_ns()}\n".encode()
    path.write_bytes(b"".join([*lines[:middle], line, *lines[middle:]]))


def cases(repo: Path) -> dict[str, tuple[list[Path], Callable[[Path, bytes], None] | None, bool]]:
    """name -> (files to edit, the edit, whether the edited files are passed as arguments)."""
    files = python_files(repo)
    middle = files[len(files) // 2]
    return {
        "warm": ([], None, False),
        "comment appended (1 file)": ([middle], _append, False),
        "line inserted (1 file)": ([middle], _insert, False),
        "5 files, comment appended, passed as pre-commit does": (files[:5], _append, True),
        "5 files, line inserted, passed as pre-commit does": (files[:5], _insert, True),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path, help="a scratch copy of a git repository (its files are edited)")
    parser.add_argument("--mlaudit", action="append", default=[], metavar="NAME=PATH",
                        help="a build to time (repeatable); default: this checkout's")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--out", type=Path, help="append the Markdown table to this file (default: print it)")
    args = parser.parse_args()
    builds = dict(b.split("=", 1) for b in args.mlaudit) or {"this checkout": str(Path(sys.executable).parent / "mlaudit")}
    repo = args.repo.resolve()
    table = cases(repo)
    samples: dict[tuple[str, str], list[Sample]] = {(c, b): [] for c in table for b in builds}
    cpu: dict[tuple[str, str], list[float]] = {(c, b): [] for c in table for b in builds}
    with tempfile.TemporaryDirectory(prefix="mlaudit-edits-") as scratch:
        commands = {
            name: [path, "check", "--output-format", "json", "-o", f"{scratch}/out.json", "--exit-zero", "-v",
                   "--cache-dir", f"{scratch}/cache-{index}"]
            for index, (name, path) in enumerate(builds.items())
        }
        for command in commands.values():  # cold, to fill each build's cache
            measure([*command, "."], repo, 900)
        pairs = [(c, b) for c in table for b in builds]
        for run in range(args.runs):
            shift = run % len(pairs)
            for case, build in pairs[shift:] + pairs[:shift]:
                edited, change, as_arguments = table[case]
                originals = {path: path.read_bytes() for path in edited}
                for path in edited:
                    if change is not None:
                        change(path, originals[path])
                targets = [str(p.relative_to(repo)) for p in edited] if as_arguments else ["."]
                try:
                    sample, seconds = timed([*commands[build], *targets], repo)
                    samples[(case, build)].append(sample)
                    cpu[(case, build)].append(seconds)
                finally:
                    for path, data in originals.items():
                        path.write_bytes(data)
                    for command in commands.values():
                        measure([*command, "."], repo, 600)
    text = render(repo, {key: summarise(found) for key, found in samples.items()},
                  {key: statistics.median(found) for key, found in cpu.items()}, list(table), list(builds), args.runs)
    if args.out:
        with args.out.open("a") as handle:
            handle.write(text)
    else:
        print(text)
    return 0


def render(
    repo: Path, results: dict[tuple[str, str], Summary], cpu: dict[tuple[str, str], float], names: list[str], builds: list[str], runs: int
) -> str:
    about = f"median (min-max) seconds of {runs} interleaved runs, median CPU seconds (user + sys), peak MiB."
    lines = table_head("edits.py", repo, about, ["case", *builds])
    for case in names:
        cells = [(results[(case, b)], cpu[(case, b)]) for b in builds]
        shown = [f"{c.seconds:.2f} ({c.low:.2f}-{c.high:.2f}), CPU {used:.2f}, {c.peak_mib:.0f} MiB" for c, used in cells]
        lines.append(f"| {case} | " + " | ".join(shown) + " |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
