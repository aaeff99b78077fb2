"""How long does the project stage take (everything after the per-file analysis: module graph,
entry points, call graph, traces, config index, project rules)? CPU time, so that a machine shared
with other work still gives a usable number.

Usage: python bench/project_stage.py REPO [--runs 5] [--python PY ...] [--select CODE ...]
                                           [--cache-dir DIR] [--profile FILE]

Each run is a fresh process (module-level memos start empty, as in a real run) that loads the
per-file results from a cache outside the repository (filled by a first, untimed run per
interpreter; the cache key hashes mlaudit's source, so each build gets its own entries), builds
the project model, and times the project stage with `time.process_time()` with the garbage
collector paused, as `check` runs it. The stage is split by what ran: each analysis's build
(`modules`, `entrypoints`, `callgraph`, `traces`, `config_index`, ... timed without the analyses
it builds in turn) and each project rule's own time (without the analyses it triggered).

`--python` names interpreters whose installed mlaudit is measured (default: this one); with two,
for example main's and a branch's, their runs are interleaved run by run and the table puts them
side by side, medians with min-max. `--profile FILE` writes a cProfile of one more stage run of
the first interpreter.

    python bench/project_stage.py /work/corpus/diffusers --runs 5 \\
        --python /work/main/.venv/bin/python --python .venv/bin/python
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from run import table_head  # the sibling script

HERE = Path(__file__).resolve()


def child(repo: Path, cache_dir: Path, select: list[str] | None, profile: str | None) -> dict[str, Any]:
    """One project stage from cached per-file results: CPU seconds in all and by part."""
    import cProfile
    import gc

    from mlaudit.engine.analyse import analyse_all
    from mlaudit.engine.check import CheckOptions, build_settings, discover_files, open_cache
    from mlaudit.engine.settings import enabled_rules
    from mlaudit.project.model import ProjectModel
    from mlaudit.rules import ProjectRule

    options = CheckOptions(select=select, cache_dir=cache_dir, jobs=1)
    settings = build_settings(repo, options)
    gc.disable()
    files, git, _ = discover_files(repo, settings)
    cache, _ = open_cache(repo, settings, options)
    every, stats = analyse_all(list(files.values()), settings, cache, None)
    parts: dict[str, float] = {}
    building: list[float] = []  # CPU seconds spent in nested builds, per open frame

    class TimedModel(ProjectModel):
        def analysis(self, build: Any) -> Any:
            if build in self._analyses:
                return self._analyses[build]
            building.append(0.0)
            start = time.process_time()
            result = super().analysis(build)
            spent = time.process_time() - start
            nested = building.pop()
            name = _analysis_name(build)
            parts[name] = parts.get(name, 0.0) + spent - nested
            if building:
                building[-1] += spent
            return result

    model = TimedModel(repo, files, {r.facts.path: r.facts for r in every}, git, settings)
    rules = [r for r in enabled_rules(settings) if issubclass(r, ProjectRule) and not r.runtime]
    profiler = cProfile.Profile() if profile else None
    findings = 0
    start = time.process_time()
    if profiler is not None:
        profiler.enable()
    for rule_class in rules:
        building.append(0.0)
        rule_start = time.process_time()
        rule = rule_class(model.options(rule_class.code))
        findings += len(list(rule.check(model)))
        parts[rule_class.code] = time.process_time() - rule_start - building.pop()
    if profiler is not None:
        profiler.disable()
        profiler.dump_stats(profile)
    total = time.process_time() - start
    return {"total": total, "parts": parts, "findings": findings, "misses": stats.misses}


def _analysis_name(build: Any) -> str:
    module = build.__module__.rsplit(".", 1)[-1]
    return module if build.__name__.startswith("build") else f"{module}.{build.__name__}"


def run_child(python: str, repo: Path, cache_dir: Path, select: list[str] | None, profile: str | None = None) -> dict[str, Any]:
    command = [python, str(HERE), str(repo), "--child", "--cache-dir", str(cache_dir)]
    if select:
        command += ["--select", *select]
    if profile:
        command += ["--profile", profile]
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        sys.exit(f"{python} failed:\n{done.stderr}")
    result: dict[str, Any] = json.loads(done.stdout)
    return result


def render(repo: Path, pythons: list[str], runs: dict[str, list[dict[str, Any]]], count: int) -> str:
    about = (f"project stage CPU seconds (time.process_time), median (min-max) of {count} fresh processes, "
             "interleaved.")
    lines = table_head("project_stage.py", repo, about, ["part", *pythons])

    def cell(values: list[float]) -> str:
        return f"{statistics.median(values):.3f} ({min(values):.3f}-{max(values):.3f})" if values else "-"

    names = sorted({name for found in runs.values() for r in found for name in r["parts"]},
                   key=lambda n: -max(statistics.median(r["parts"].get(n, 0.0) for r in found) for found in runs.values()))
    lines.append("| **total** | " + " | ".join(cell([r["total"] for r in runs[p]]) for p in pythons) + " |")
    for name in names:
        lines.append(f"| {name} | " + " | ".join(cell([r["parts"].get(name, 0.0) for r in runs[p]]) for p in pythons) + " |")
    lines.append("| findings | " + " | ".join(str(runs[p][0]["findings"]) for p in pythons) + " |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--python", action="append", help="an interpreter with mlaudit installed (repeat to compare)")
    parser.add_argument("--select", nargs="+", help="rule codes to select instead of the default selection")
    parser.add_argument("--cache-dir", type=Path, help="per-file cache, outside the repository (default: a temporary folder)")
    parser.add_argument("--profile", help="write a cProfile of one more stage run (first interpreter) to this file")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    repo = args.repo.resolve()
    if args.child:
        print(json.dumps(child(repo, args.cache_dir, args.select, args.profile)))
        return 0
    pythons = args.python or [sys.executable]
    cache_dir = args.cache_dir or Path(tempfile.mkdtemp(prefix="mlaudit-stage-"))
    for python in pythons:
        run_child(python, repo, cache_dir, args.select)  # fills the per-file cache
    runs: dict[str, list[dict[str, Any]]] = {p: [] for p in pythons}
    for number in range(args.runs):
        order = pythons[number % len(pythons):] + pythons[: number % len(pythons)]
        for python in order:
            runs[python].append(run_child(python, repo, cache_dir, args.select))
    if args.profile:
        run_child(pythons[0], repo, cache_dir, args.select, args.profile)
    print(render(repo, pythons, runs, args.runs))
    return 0


if __name__ == "__main__":
    sys.exit(main())
