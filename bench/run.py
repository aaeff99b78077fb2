"""Benchmark `mlaudit check` against ruff and pylint+dslinter on real repositories.

Usage: python bench/run.py --repos DIR [--runs 5] [--pylint PATH] [--out docs/benchmarks.md]

DIR holds clones of the repositories below (not part of this repository; clone them yourself).
Each case runs as a fresh process under /usr/bin/time for wall time and peak memory; the table
reports the median of --runs runs. mlaudit's per-stage seconds come from its `-v` output.
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import mlaudit

REPOS = ("nanoGPT", "examples", "pytorch-image-models", "pytorch-lightning")
BIN = Path(sys.executable).parent
STAGES = re.compile(r"\(discover ([\d.]+) s, analyse ([\d.]+) s, project ([\d.]+) s, suppress ([\d.]+) s")


@dataclass
class Sample:
    seconds: float
    peak_mib: float
    stderr: str = ""
    timed_out: bool = False


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
            cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=ENV, start_new_session=True,
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


def median(samples: list[Sample]) -> Sample:
    seconds = statistics.median(s.seconds for s in samples)
    peak = max(s.peak_mib for s in samples)
    return Sample(seconds, peak, samples[-1].stderr, any(s.timed_out for s in samples))


def python_files(repo: Path) -> list[Path]:
    listed = subprocess.run(["git", "ls-files", "*.py"], cwd=repo, capture_output=True, text=True).stdout.split()
    return [repo / p for p in listed]


def line_count(files: list[Path]) -> int:
    return sum(len(f.read_bytes().splitlines()) for f in files if f.is_file())


def bench_repo(repo: Path, runs: int, pylint: Path | None, pylint_timeout: float) -> dict[str, Sample]:
    mlaudit = [str(BIN / "mlaudit"), "check", ".", "--output-format", "concise", "-v"]
    results: dict[str, Sample] = {}
    results["mlaudit cold"] = median([measure([*mlaudit, "--no-cache"], repo, 600) for _ in range(runs)])
    measure(mlaudit, repo, 600)  # prime the cache
    results["mlaudit warm"] = median([measure(mlaudit, repo, 600) for _ in range(runs)])
    files = python_files(repo)
    results["mlaudit one file touched"] = median([_touched(repo, files[len(files) // 2], mlaudit) for _ in range(runs)])
    five = [str(f.relative_to(repo)) for f in files[:5]]
    results["mlaudit 5 files (pre-commit)"] = median([measure([*mlaudit[:2], *five, "-v"], repo, 600) for _ in range(runs)])
    ruff = [str(BIN / "ruff"), "check", "--select", "ALL", "--no-cache", "--exit-zero", "-q", "."]
    results["ruff --select ALL --no-cache"] = median([measure(ruff, repo, 600) for _ in range(runs)])
    if pylint is not None:
        command = [str(pylint), "--load-plugins=dslinter", "--exit-zero", *[str(f.relative_to(repo)) for f in files]]
        results["pylint + dslinter"] = measure(command, repo, pylint_timeout)
        for junk in repo.glob("_tmp_dslinter*.py"):  # dslinter's scratch file, left behind when killed
            junk.unlink()
    return results


def _touched(repo: Path, file: Path, command: list[str]) -> Sample:
    original = file.read_bytes()
    try:
        # New content every time: content seen before would be served by the cache.
        file.write_bytes(original + f"\n# touched by the benchmark at {time.time_ns()}\n".encode())
        return measure(command, repo, 600)
    finally:
        file.write_bytes(original)
        measure(command, repo, 600)  # back to a warm cache for the next sample


def stages(sample: Sample) -> tuple[float, ...] | None:
    match = STAGES.search(sample.stderr)
    return tuple(float(x) for x in match.groups()) if match else None


def _output(command: Sequence[str], cwd: Path | None = None) -> str:
    try:
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=60, env=ENV)
    except (OSError, subprocess.TimeoutExpired):
        return "?"
    return (done.stdout.strip().splitlines() or ["?"])[0]


def provenance(repos: dict[str, Path], pylint: Path | None) -> list[str]:
    """What was measured, so a reader can rerun it: tool versions and each clone's commit."""
    here = Path(__file__).resolve().parents[1]
    tools = [
        f"mlaudit {mlaudit.__version__} ({_output(['git', 'rev-parse', '--short', 'HEAD'], here)})",
        _output([str(BIN / "ruff"), "--version"]),
    ]
    if pylint is not None:
        tools.append(_output([str(pylint), "--version"]).replace("\n", " ") + " with dslinter")
    clones = [f"{name} {_output(['git', 'rev-parse', '--short', 'HEAD'], path)}" for name, path in repos.items()]
    return [
        f"Produced by `python bench/run.py` on {time.strftime('%Y-%m-%d')}, {os.cpu_count()} cores ({sys.platform}), "
        f"Python {sys.version.split()[0]}; {'; '.join(tools)}. Clones: {', '.join(clones)}.",
    ]


def render(table: dict[str, dict[str, Sample]], sizes: dict[str, tuple[int, int]], runs: int, about: list[str]) -> str:
    lines = [
        *about,
        "",
        f"Median of {runs} runs per mlaudit/ruff case, one pylint run; peak memory of the largest process; "
        "ratios against the ruff run of the same repository.",
        "",
        "| repo | .py files | lines | case | seconds | peak MiB | vs ruff |",
        "|---|---:|---:|---|---:|---:|---:|",
    ]
    for repo, results in table.items():
        files, lines_ = sizes[repo]
        ruff = results["ruff --select ALL --no-cache"].seconds
        for case, sample in results.items():
            seconds = f"over {sample.seconds:.0f}" if sample.timed_out else f"{sample.seconds:.2f}"
            ratio = f"{sample.seconds / ruff:.1f}x"
            lines.append(f"| {repo} | {files} | {lines_:,} | {case} | {seconds} | {sample.peak_mib:.0f} | {ratio} |")
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
    table: dict[str, dict[str, Sample]] = {}
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
