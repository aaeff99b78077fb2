"""Where a cold `check` spends its time: before the helpers are forked, while this process and its
helpers analyse files, and after (project rules and the report); how busy each process is while
they analyse; and how much the helpers hand back.

Usage: python bench/cold_parts.py REPO [--runs 5]

Each run is a fresh process running `mlaudit check REPO --no-cache` as the CLI does (JSON to a
file), with `mlaudit.engine.pool` watched: wall time from the start of the run to the fork, of the
shared analysis and after it; CPU seconds of this process during the analysis
(`time.process_time`) and of its helpers (`RUSAGE_CHILDREN`), so `idle` is the analysis's wall
time minus a process's CPU; and the bytes of pickled results the helpers left in their files.
The interpreter's own start (about 0.015 s) comes before the first clock and is not in `total`.
The table gives the median with min-max over the runs.

    python bench/cold_parts.py /work/corpus/pytorch-lightning --runs 5
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve()
PARTS = ("total", "before fork", "analysis", "after", "this process idle", "helpers idle", "helper result bytes")


def child(repo: str, out: str) -> dict[str, float]:
    """One cold run, watched; returns the parts (seconds, or bytes for the results)."""
    import gc
    import os
    import resource
    import time

    started = time.perf_counter()
    gc.disable()  # as the CLI's entry point does
    from mlaudit.engine import analyse, pool

    marks: dict[str, float] = {}
    original_run, original_close = pool.run_shared, pool._Outbox.close

    def run_shared(*args: Any, **kwargs: Any) -> Any:
        marks["fork"], cpu = time.perf_counter(), time.process_time()
        try:
            return original_run(*args, **kwargs)
        finally:
            marks["joined"] = time.perf_counter()
            marks["cpu"] = time.process_time() - cpu
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            marks["helpers cpu"] = usage.ru_utime + usage.ru_stime

    def close(outbox: Any) -> None:
        marks["bytes"] = marks.get("bytes", 0) + os.fstat(outbox.file).st_size
        original_close(outbox)

    setattr(analyse, "run_shared", run_shared)  # noqa: B010 - patched to watch it (mypy sees no export)
    setattr(pool._Outbox, "close", close)  # noqa: B010 - likewise
    from mlaudit.cli import main

    main(["check", repo, "--no-cache", "--output-format", "json", "-o", out, "--exit-zero"])
    end = time.perf_counter()
    if "fork" not in marks:
        raise SystemExit("the run did not fork helpers (too few files, or a process that cannot fork)")
    analysis = marks["joined"] - marks["fork"]
    return {
        "total": end - started,
        "before fork": marks["fork"] - started,
        "analysis": analysis,
        "after": end - marks["joined"],
        "this process idle": analysis - marks["cpu"],
        "helpers idle": analysis - marks["helpers cpu"],  # one helper on two cores
        "helper result bytes": marks.get("bytes", 0),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    samples: list[dict[str, float]] = []
    for _ in range(args.runs):
        command = [sys.executable, str(HERE), "--child", str(args.repo.resolve())]
        done = subprocess.run(command, check=True, capture_output=True, text=True)
        samples.append(json.loads(done.stdout.strip().splitlines()[-1]))
    print(f"`python bench/cold_parts.py` on {args.repo.name}: median (min-max) of {args.runs} fresh processes.\n")
    print("| part | value |\n|---|---:|")
    for part in PARTS:
        values = [s[part] for s in samples]
        if part.endswith("bytes"):
            print(f"| {part} | {statistics.median(values) / 2**20:.1f} MiB |")
        else:
            print(f"| {part} | {statistics.median(values):.3f} s ({min(values):.3f}-{max(values):.3f}) |")


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--child":
        import tempfile

        with tempfile.TemporaryDirectory() as scratch:
            print(json.dumps(child(sys.argv[2], str(Path(scratch) / "out.json"))))
    else:
        main()
