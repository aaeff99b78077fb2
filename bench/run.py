"""Benchmark `mlaudit check` against ruff (and optionally pylint+dslinter) on real repositories, fairly.

Usage: python bench/run.py --repos DIR [--runs 5] [--pylint PATH] [--out docs/benchmarks.md]

DIR holds clones of the repositories below (not part of this repository; clone them yourself).

Fair means the tools do the same work with their output handled the same way:
- every tool writes the same format (JSON) to a file with its own `-o`; nothing is rendered to a pipe;
- the cases are interleaved: run 1 of every case, then run 2 of every case (in a rotated order), so a
  slow minute of the machine hits every tool alike;
- each case is a fresh process under /usr/bin/time (wall time, peak RSS of the largest process); the
  table gives the median and the min-max of --runs samples;
- the yardsticks are ruff without a cache, ruff with a warm cache, and the floor of any ast-based
  tool: a fresh Python process that reads and `ast.parse`s every tracked .py file, serially.
"""

from __future__ import annotations

import argparse
import os
import platform
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import mlaudit

REPOS = ("nanoGPT", "examples", "pytorch-image-models", "pytorch-lightning")
BIN = Path(sys.executable).parent
STAGES = re.compile(r"\(discover ([\d.]+) s, analyse ([\d.]+) s, project ([\d.]+) s, suppress ([\d.]+) s")
RUFF_COLD = "ruff --select ALL --no-cache"
RUFF_WARM = "ruff --select ALL, warm cache"
PARSE_FLOOR = "ast.parse floor (1 process)"
PARSE_SCRIPT = (
    "import ast, sys\n"
    "for name in open(sys.argv[1]).read().split('\\n'):\n"
    "    if name:\n"
    "        try: ast.parse(open(name, 'rb').read())\n"
    "        except (SyntaxError, ValueError, OSError): pass\n"
)


@dataclass
class Sample:
    seconds: float
    peak_mib: float
    stderr: str = ""
    timed_out: bool = False


@dataclass
class Summary:
    """The median of a case's samples, with their spread."""

    seconds: float
    low: float
    high: float
    peak_mib: float
    stderr: str = ""
    timed_out: bool = False
    runs: int = 1


@dataclass
class Case:
    """One timed command; `before`/`after` run untimed around each sample (e.g. touch a file, restore it)."""

    name: str
    command: list[str]
    before: Callable[[], None] = field(default=lambda: None)
    after: Callable[[], None] = field(default=lambda: None)
    timeout: float = 600


# As a user's installed copy runs: bytecode compiled and reused (pip compiles it at install time;
# an inherited PYTHONDONTWRITEBYTECODE would make every edited module compile on every run).
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}


def measure(command: Sequence[str], cwd: Path, timeout: float) -> Sample:
    with tempfile.NamedTemporaryFile("r", suffix=".time") as report:
        started = time.perf_counter()
        # Its own process group, so that a timeout kills the tool itself, not only /usr/bin/time:
        # an orphaned pylint would go on eating a core while the next cases are timed.
        process = subprocess.Popen(
            ["/usr/bin/time", "-o", report.name, "-f", "%M", *command],
            cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True,
        )
        try:
            _, stderr = process.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
            return Sample(timeout, 0.0, timed_out=True)
        elapsed = time.perf_counter() - started
        peak_kib = int((report.read().strip().splitlines() or ["0"])[-1] or 0)
    return Sample(elapsed, peak_kib / 1024, stderr)


def summarise(samples: list[Sample]) -> Summary:
    seconds = [s.seconds for s in samples]
    return Summary(
        statistics.median(seconds), min(seconds), max(seconds), max(s.peak_mib for s in samples),
        samples[-1].stderr, any(s.timed_out for s in samples), len(samples),
    )


def interleaved(cases: list[Case], repo: Path, runs: int) -> dict[str, Summary]:
    """Run i of every case before run i+1 of any, rotating the order so no case always goes first."""
    samples: dict[str, list[Sample]] = {case.name: [] for case in cases}
    for run in range(runs):
        shift = run % len(cases)
        for case in cases[shift:] + cases[:shift]:
            case.before()
            try:
                samples[case.name].append(measure(case.command, repo, case.timeout))
            finally:
                case.after()
    return {case.name: summarise(samples[case.name]) for case in cases}


def python_files(repo: Path) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=repo, capture_output=True, text=True).stdout.split()
    return [repo / p for p in listed if (repo / p).is_file()]


def line_count(files: list[Path]) -> int:
    return sum(len(f.read_bytes().splitlines()) for f in files)


def repo_cases(repo: Path, scratch: Path, files: list[Path]) -> list[Case]:
    out = str(scratch / "report.json")
    mlaudit = [str(BIN / "mlaudit"), "check", "--output-format", "json", "-o", out, "--exit-zero", "-v"]
    ruff = [str(BIN / "ruff"), "check", "--select", "ALL", "--exit-zero", "--output-format", "json", "-o", out]
    ruff_cache = str(scratch / "ruff-cache")
    listing = scratch / "files.txt"
    listing.write_text("\n".join(str(f) for f in files))
    middle = files[len(files) // 2]
    original = middle.read_bytes()
    warm = [*mlaudit, "."]

    def touch() -> None:
        # New content every time: content seen before would be served by the cache.
        middle.write_bytes(original + f"\n# touched by the benchmark at {time.time_ns()}\n".encode())

    def restore() -> None:
        middle.write_bytes(original)
        measure(warm, repo, 600)  # back to a warm cache for the next case

    five = [str(f.relative_to(repo)) for f in files[:5]]
    return [
        Case(RUFF_COLD, [*ruff, "--no-cache", "."]),
        Case(RUFF_WARM, [*ruff, "--cache-dir", ruff_cache, "."]),
        Case(PARSE_FLOOR, [sys.executable, "-c", PARSE_SCRIPT, str(listing)]),
        Case("mlaudit cold", [*mlaudit, "--no-cache", "."]),
        Case("mlaudit warm", warm),
        Case("mlaudit one file touched", warm, before=touch, after=restore),
        Case("mlaudit 5 files (pre-commit)", [*mlaudit, *five]),
    ]


def bench_repo(repo: Path, runs: int, pylint: Path | None, pylint_timeout: float) -> dict[str, Summary]:
    files = python_files(repo)
    with tempfile.TemporaryDirectory(prefix="mlaudit-bench-") as tmp:
        cases = repo_cases(repo, Path(tmp), files)
        for case in cases:  # prime both caches (and the OS page cache) before any sample is taken
            measure(case.command, repo, case.timeout)
        results = interleaved(cases, repo, runs)
        if pylint is not None:
            command = [str(pylint), "--load-plugins=dslinter", "--exit-zero", "--output-format=json",
                       f"--output={tmp}/pylint.json", *[str(f.relative_to(repo)) for f in files]]
            results["pylint + dslinter"] = summarise([measure(command, repo, pylint_timeout)])
            for junk in repo.glob("_tmp_dslinter*.py"):  # dslinter's scratch file, left behind when killed
                junk.unlink()
    return results


def stages(summary: Summary) -> tuple[float, ...] | None:
    match = STAGES.search(summary.stderr)
    return tuple(float(x) for x in match.groups()) if match else None


def _output(command: Sequence[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, env=ENV)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (done.stdout.strip().splitlines() or ["?"])[0]


def table_head(script: str, repo: Path, about: str, columns: list[str]) -> list[str]:
    """The first lines of a table that `script` prints: the clone and its commit, when, what the
    cells hold, and the header row (the first column left-aligned, the others right)."""
    commit = _output(["git", "rev-parse", "--short", "HEAD"], repo)
    return [
        f"`python bench/{script}` on {repo.name} {commit}, {time.strftime('%Y-%m-%d %H:%M')}: {about}",
        "",
        "| " + " | ".join(columns) + " |",
        "|---|" + "---:|" * (len(columns) - 1),
    ]


def provenance(repos: dict[str, Path], pylint: Path | None) -> list[str]:
    """What was measured, so a reader can rerun it: machine, tool versions and each clone's commit."""
    here = Path(__file__).resolve().parents[1]
    tools = [
        f"mlaudit {mlaudit.__version__} ({_output(['git', 'rev-parse', '--short', 'HEAD'], here)})",
        _output([str(BIN / "ruff"), "--version"]),
    ]
    if pylint is not None:
        tools.append(_output([str(pylint), "--version"]).replace("\n", " ") + " with dslinter")
    clones = [f"{name} {_output(['git', 'rev-parse', '--short', 'HEAD'], path)}" for name, path in repos.items()]
    machine = f"{os.cpu_count()} cores, {platform.machine()} {platform.processor() or ''}".strip()
    return [
        f"Produced by `python bench/run.py` on {time.strftime('%Y-%m-%d')}: {machine} ({sys.platform}), "
        f"Python {sys.version.split()[0]}; {'; '.join(tools)}. Clones: {', '.join(clones)}.",
    ]


def _seconds(summary: Summary) -> str:
    if summary.timed_out:
        return f"over {summary.seconds:.0f}"
    if summary.runs == 1:
        return f"{summary.seconds:.2f}"
    return f"{summary.seconds:.2f} ({summary.low:.2f}-{summary.high:.2f})"


def render(table: dict[str, dict[str, Summary]], sizes: dict[str, tuple[int, int]], runs: int, about: list[str]) -> str:
    lines = [
        *about,
        "",
        f"Median (min-max) of {runs} interleaved runs per case"
        f"{', one pylint run' if any('pylint' in case for cases in table.values() for case in cases) else ''}; "
        "every tool writes JSON to a file; "
        "peak memory of the largest process; ratios against ruff without a cache on the same repository.",
        "",
        "| repo | .py files | lines | case | seconds | peak MiB | vs ruff |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for repo, results in table.items():
        files, lines_ = sizes[repo]
        ruff = results[RUFF_COLD].seconds
        for case, summary in results.items():
            ratio = f"{summary.seconds / ruff:.1f}x"
            lines.append(f"| {repo} | {files} | {lines_:,} | {case} | {_seconds(summary)} | {summary.peak_mib:.0f} | {ratio} |")
    lines += ["", "### mlaudit stages, cold run (seconds; lines/s of the analyse stage)", "",
              "| repo | discover | analyse (read, parse, facts, per-file rules) | project rules | suppress | analyse lines/s |",
              "|---|---:|---:|---:|---:|---:|"]
    for repo, results in table.items():
        parts = stages(results["mlaudit cold"])
        if parts:
            rate = sizes[repo][1] / parts[1] if parts[1] else 0
            lines.append(f"| {repo} | {parts[0]:.3f} | {parts[1]:.3f} | {parts[2]:.3f} | {parts[3]:.3f} | {rate:,.0f} |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repos", type=Path, required=True, help="folder with clones of " + ", ".join(REPOS))
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--pylint", type=Path, help="pylint executable of an environment with dslinter installed")
    parser.add_argument("--pylint-timeout", type=float, default=300)
    parser.add_argument("--only", nargs="*", default=list(REPOS))
    parser.add_argument("--out", type=Path, help="write the Markdown table here (default: print it)")
    args = parser.parse_args()
    if not shutil.which("/usr/bin/time"):
        print("bench: /usr/bin/time is needed for peak memory", file=sys.stderr)
        return 2
    subprocess.run([sys.executable, "-m", "compileall", "-q", str(Path(mlaudit.__file__).parent)], check=True, env=ENV)
    table: dict[str, dict[str, Summary]] = {}
    sizes: dict[str, tuple[int, int]] = {}
    for name in args.only:
        repo = args.repos / name
        if not (repo / ".git").exists():
            print(f"bench: skipping {name}: no clone at {repo}", file=sys.stderr)
            continue
        files = python_files(repo)
        sizes[name] = (len(files), line_count(files))
        print(f"bench: {name} ({len(files)} files)", file=sys.stderr)
        table[name] = bench_repo(repo, args.runs, args.pylint, args.pylint_timeout)
    text = render(table, sizes, args.runs, provenance({n: args.repos / n for n in table}, args.pylint))
    if args.out:
        write_block(args.out, text)
    else:
        print(text)
    return 0


START, END = "<!-- bench/run.py: start -->", "<!-- bench/run.py: end -->"


def write_block(out: Path, text: str) -> None:
    """Replace the generated block of `out`, keeping the hand-written analysis around it."""
    block = f"{START}\n{text}{END}\n"
    current = out.read_text() if out.exists() else ""
    if START in current and END in current:
        before, rest = current.split(START, 1)
        after = rest.split(END, 1)[1].lstrip("\n")
        out.write_text(before + block + ("\n" + after if after else ""))
    else:
        out.write_text("# Benchmarks\n\n" + block)


if __name__ == "__main__":
    sys.exit(main())
