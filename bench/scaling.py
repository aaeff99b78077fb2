"""Does a cold `mlaudit check` grow linearly with the size of a repository? Subsets of one large
repository (diffusers: 1 M lines) are copied out and timed, and a line is fitted through them.

Usage: python bench/scaling.py REPO [--fractions 0.1 0.25 0.5 1] [--runs 3] [--scratch DIR]

How the subsets are made (whole folders, so each is a project with its packages partly there, not
a random scatter of files): the tracked files under src/, examples/, tests/, scripts/, utils/ and
benchmarks/ are grouped into units, one per folder (each pipeline of src/diffusers/pipelines, each
example, each test folder); a subset keeps every k-th unit in path order (for a fraction f, unit
i is kept when floor((i+1)f) > floor(if)), plus every file outside those folders (the root's
setup.py, pyproject.toml, docs/, .github/). Each subset is a fresh git repository under --scratch with one commit. Each cold run
(`--no-cache`, JSON to a file) is a fresh process under /usr/bin/time: wall and CPU (user+sys)
seconds, peak RSS, and the stages that `-v` reports; the subsets are interleaved run by run and the
table gives medians. The fit is least squares of seconds against lines, with R², and the local
exponent between consecutive subsets (log ratio of seconds over log ratio of lines; 1 is linear).
"""

from __future__ import annotations

import argparse
import math
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

MLAUDIT = str(Path(sys.executable).parent / "mlaudit")
# Top folders whose files are grouped into units by the folder each file is in; any other tracked
# file is kept in every subset.
SPLIT = ("src", "examples", "tests", "scripts", "utils", "benchmarks")
STAGES = re.compile(r"project ([\d.]+) s")


@dataclass
class Run:
    wall: float
    cpu: float
    peak_mib: float
    project: float


def units(files: list[str]) -> tuple[list[list[str]], list[str]]:
    """The units (the files of one folder under a SPLIT folder) in path order, and the files
    outside every SPLIT folder."""
    grouped: dict[str, list[str]] = {}
    always = []
    for path in files:
        if path.split("/", 1)[0] not in SPLIT or "/" not in path:
            always.append(path)
            continue
        grouped.setdefault(path.rpartition("/")[0], []).append(path)
    return [grouped[name] for name in sorted(grouped)], always


def subset(repo: Path, files: list[str], fraction: float, target: Path) -> tuple[int, int]:
    """Copy the subset into `target` as a fresh git repository; return its .py files and lines."""
    groups, always = units(files)
    kept = list(always)
    for index, group in enumerate(groups):
        if math.floor((index + 1) * fraction) > math.floor(index * fraction):
            kept += group
    for path in kept:
        source = repo / path
        if source.is_file() and not source.is_symlink():
            (target / path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, target / path)
    subprocess.run(["git", "init", "-q"], cwd=target, check=True)
    subprocess.run(["git", "add", "-A"], cwd=target, check=True)
    subprocess.run(["git", "-c", "user.name=bench", "-c", "user.email=bench@localhost", "commit", "-q", "-m", "subset"],
                   cwd=target, check=True)
    python = [target / p for p in kept if p.endswith(".py") and (target / p).is_file()]
    return len(python), sum(len(p.read_bytes().splitlines()) for p in python)


def cold(target: Path, scratch: Path) -> Run:
    report = scratch / "time.txt"
    command = ["/usr/bin/time", "-o", str(report), "-f", "%e %U %S %M", MLAUDIT, "check", ".", "--no-cache",
               "--output-format", "json", "-o", str(scratch / "out.json"), "--exit-zero", "-v"]
    done = subprocess.run(command, cwd=target, capture_output=True, text=True)
    wall, user, system, peak = report.read_text().split()[-4:]
    stage = STAGES.search(done.stderr)
    return Run(float(wall), float(user) + float(system), int(peak) / 1024, float(stage.group(1)) if stage else math.nan)


def fit(xs: list[float], ys: list[float]) -> tuple[float, float, float]:
    """Slope, intercept and R² of the least-squares line."""
    mx, my = statistics.fmean(xs), statistics.fmean(ys)
    sxx = sum((x - mx) ** 2 for x in xs)
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sxx
    intercept = my - slope * mx
    total = sum((y - my) ** 2 for y in ys)
    residual = sum((y - intercept - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    return slope, intercept, 1 - residual / total if total else 1.0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--fractions", type=float, nargs="+", default=[0.1, 0.25, 0.5, 1.0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--scratch", type=Path, help="where the subsets are copied (default: a temporary folder)")
    args = parser.parse_args()
    repo = args.repo.resolve()
    files = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True, text=True, check=True).stdout.splitlines()
    scratch = Path(tempfile.mkdtemp(prefix="mlaudit-scaling-", dir=args.scratch))
    try:
        sizes = {}
        for fraction in args.fractions:
            target = scratch / f"subset-{fraction:g}"
            target.mkdir()
            sizes[fraction] = subset(repo, files, fraction, target)
        runs: dict[float, list[Run]] = {f: [] for f in args.fractions}
        for number in range(args.runs):
            order = args.fractions[number % len(args.fractions):] + args.fractions[: number % len(args.fractions)]
            for fraction in order:
                runs[fraction].append(cold(scratch / f"subset-{fraction:g}", scratch))
        print(render(repo, sizes, runs, args.runs))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
    return 0


def render(repo: Path, sizes: dict[float, tuple[int, int]], runs: dict[float, list[Run]], count: int) -> str:
    commit = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=repo, capture_output=True, text=True).stdout.strip()
    medians = {f: Run(*(statistics.median(getattr(r, name) for r in found) for name in ("wall", "cpu", "peak_mib", "project")))
               for f, found in runs.items()}
    lines = [
        f"`python bench/scaling.py` on {repo.name} {commit}, {time.strftime('%Y-%m-%d %H:%M')}: cold runs, median of "
        f"{count} interleaved runs per subset.",
        "",
        "| subset | .py files | lines | wall s | CPU s (user+sys) | project stage s | peak MiB | local exponent (CPU) |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    previous: tuple[int, float] | None = None
    for fraction, (files, lines_) in sizes.items():
        m = medians[fraction]
        exponent = ""
        if previous is not None and lines_ != previous[0] and previous[1] > 0:
            exponent = f"{math.log(m.cpu / previous[1]) / math.log(lines_ / previous[0]):.2f}"
        previous = (lines_, m.cpu)
        lines.append(f"| {fraction:.0%} | {files:,} | {lines_:,} | {m.wall:.2f} | {m.cpu:.2f} | {m.project:.2f} | "
                     f"{m.peak_mib:.0f} | {exponent} |")
    xs = [float(sizes[f][1]) for f in sizes]
    lines.append("")
    for label, name in (("CPU", "cpu"), ("wall", "wall"), ("project stage", "project"), ("peak MiB", "peak_mib")):
        slope, intercept, r2 = fit(xs, [getattr(medians[f], name) for f in sizes])
        lines.append(f"- {label}: {slope * 1e5:.3f} per 100k lines + {intercept:.2f}, R² = {r2:.4f}")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    sys.exit(main())
