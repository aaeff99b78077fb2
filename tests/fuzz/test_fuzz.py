"""Fuzzing the whole engine with mutated files of every kind it reads (issue #12).

CI runs a short, deterministic pass (derandomized hypothesis, no example database): a few runs
per kind, FILES_PER_RUN files each, so a few hundred files per kind. For a long local run:

    MLAUDIT_FUZZ_EXAMPLES=20000 MLAUDIT_FUZZ_REPORT=fuzz.json .venv/bin/python -m pytest tests/fuzz

MLAUDIT_FUZZ_EXAMPLES is the total number of files over all kinds; MLAUDIT_FUZZ_SEED picks another
deterministic sequence; MLAUDIT_FUZZ_REPORT writes the figures (files, tracebacks, internal
errors, hangs, misses, wall time per kind) as JSON. The long mode records every failure and
reports them all at the end instead of stopping at the first.
"""

from __future__ import annotations

import json
import os
import random
from pathlib import Path

import pytest
from hypothesis import HealthCheck, Phase, given, seed, settings
from hypothesis import strategies as st

from tests.fuzz.harness import FILES_PER_RUN, Outcome, mutated, run_engine
from tests.fuzz.seeds import KINDS, FileKind

TOTAL_FILES = int(os.environ.get("MLAUDIT_FUZZ_EXAMPLES", "0"))
LONG = TOTAL_FILES > 0
# CI: 13 runs of 8 files per kind: 104 files a kind, 1,560 in all.
RUNS_PER_KIND = max(1, -(-TOTAL_FILES // (len(KINDS) * FILES_PER_RUN))) if LONG else 13
SEED = int(os.environ.get("MLAUDIT_FUZZ_SEED", "12"))
TIME_LIMIT = 60.0 if LONG else 30.0  # seconds for one engine run of FILES_PER_RUN files

OUTCOMES: dict[str, Outcome] = {}


def _fuzz_settings() -> settings:
    return settings(
        max_examples=RUNS_PER_KIND,
        deadline=None,
        database=None,
        derandomize=not os.environ.get("MLAUDIT_FUZZ_SEED"),
        phases=[Phase.generate],  # no shrinking: a failure prints the files it wrote
        suppress_health_check=list(HealthCheck),
    )


@pytest.mark.parametrize("kind", KINDS, ids=[k.name for k in KINDS])
def test_mutated_files_never_crash_the_engine(kind: FileKind) -> None:
    outcome = OUTCOMES.setdefault(kind.name, Outcome())

    @seed(SEED)
    @_fuzz_settings()
    @given(st.lists(mutated(kind), min_size=FILES_PER_RUN, max_size=FILES_PER_RUN))
    def one_run(contents: list[bytes]) -> None:
        before = len(outcome.failures)
        run_engine(kind, contents, outcome, TIME_LIMIT)
        if not LONG:
            assert len(outcome.failures) == before, outcome.failures[-1]

    random.seed(SEED)
    one_run()


def test_fuzz_figures() -> None:
    """Every kind ran; in the long mode, writes the figures and fails on any failure recorded."""
    assert set(OUTCOMES) == {k.name for k in KINDS}
    report = {
        name: {"runs": o.runs, "files": o.files, "ml001_files": o.ml001, "config_errors": o.config_errors,
               "tracebacks": len(o.tracebacks), "internal_errors": len(o.internal_errors), "hangs": len(o.hangs),
               "misses": len(o.misses), "seconds": round(o.seconds, 1)}
        for name, o in OUTCOMES.items()
    }
    total = {key: sum(r[key] for r in report.values()) for key in next(iter(report.values()))}
    report["total"] = {**total, "seconds": round(total["seconds"], 1)}
    target = os.environ.get("MLAUDIT_FUZZ_REPORT")
    if target:
        Path(target).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        failures = [f for o in OUTCOMES.values() for f in o.failures]
        Path(target).with_suffix(".failures.txt").write_text("\n\n".join(failures), encoding="utf-8")
    assert all(o.files >= FILES_PER_RUN for o in OUTCOMES.values())
    problems = [f for o in OUTCOMES.values() for f in o.failures]
    assert not problems, f"{len(problems)} failures; first:\n{problems[0]}"
