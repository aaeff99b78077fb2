"""A/B of cold runs: this checkout against another commit of mlaudit, on one repository.

Usage: python bench/ab.py REPO --base REF [--runs 15]

For a change worth a few hundredths of a second, two separate bench runs differ by more than the
change (the machine drifts between them). Here the two builds run in turns, the order flipped on
every round, each run a fresh process doing what the bench's "mlaudit cold" case does (JSON written
to a file, no cache). The base is a temporary git worktree of REF, put first on PYTHONPATH; both
builds are byte-compiled first and share this interpreter and its packages. The table gives
median (min-max) of each, and the median of the paired differences (this checkout minus the base,
round by round), which is what a change is judged by.

    python bench/ab.py /work/corpus/pytorch-lightning --base 6aa69b8 --runs 15
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parents[1]  # this checkout
RUN = "from mlaudit.cli import entry; entry()"


def timed(source: Path, repo: Path, out: Path) -> float:
    """Wall seconds of one cold `check` by the mlaudit in `source`."""
    env = dict(os.environ, PYTHONPATH=str(source))
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    command = [sys.executable, "-c", RUN, "check", "--no-cache", "--exit-zero", "--output-format", "json", "-o", str(out), "."]
    started = time.perf_counter()
    subprocess.run(command, cwd=repo, env=env, check=True, stdout=subprocess.DEVNULL)
    return time.perf_counter() - started


def compare(base: Path, repo: Path, runs: int, out: Path) -> tuple[list[float], list[float]]:
    """Seconds of the base and of this checkout, run in turns (the base first on even rounds)."""
    times: dict[Path, list[float]] = {base: [], HERE: []}
    for round_number in range(runs):
        order = (base, HERE) if round_number % 2 == 0 else (HERE, base)
        for source in order:
            times[source].append(timed(source, repo, out))
    return times[base], times[HERE]


def describe(name: str, seconds: list[float]) -> str:
    return f"| {name} | {statistics.median(seconds):.3f} ({min(seconds):.3f}-{max(seconds):.3f}) |"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--base", required=True, help="the commit to compare this checkout with")
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=HERE, capture_output=True, text=True).stdout.strip()
    dirty = " + uncommitted changes" if subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=HERE).returncode else ""
    with tempfile.TemporaryDirectory(prefix="mlaudit-ab-") as scratch:
        base = Path(scratch) / "base"
        subprocess.run(["git", "worktree", "add", "--quiet", "--detach", str(base), args.base], cwd=HERE, check=True)
        try:
            for source in (base, HERE):
                subprocess.run([sys.executable, "-m", "compileall", "-q", str(source / "mlaudit")], check=True,
                               stdout=subprocess.DEVNULL)
            before, after = compare(base, args.repo.resolve(), args.runs, Path(scratch) / "out.json")
        finally:
            subprocess.run(["git", "worktree", "remove", "--force", str(base)], cwd=HERE, check=True)
    paired = statistics.median(a - b for a, b in zip(after, before, strict=True))
    print(f"`python bench/ab.py` on {args.repo.name}: cold runs in turns, {args.runs} each, seconds, median (min-max).\n")
    print("| build | cold run |\n|---|---:|")
    print(describe(f"base {args.base}", before))
    print(describe(f"this checkout {head}{dirty}", after))
    print(f"\nMedian of the paired differences (this checkout - base): {paired:+.3f} s "
          f"({paired / statistics.median(before):+.1%}).")


if __name__ == "__main__":
    main()
