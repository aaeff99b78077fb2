"""Shared, session-scoped probe results: each fixture repo is probed once for the whole suite."""

from __future__ import annotations

import importlib.util
import json
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mlaudit.probe.session import ProbeOptions, ProbeReport, run_probe

REPO = Path(__file__).resolve().parents[2]
FIXTURES = REPO / "fixtures" / "probe"


def expected(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((FIXTURES / name / "expected.json").read_text(encoding="utf-8"))
    return data


def fixture_names(cuda: bool = False) -> list[str]:
    """The fixtures this machine can probe: CUDA ones only with `cuda`; those that train through NumPy,
    Lightning or transformers where that is installed (test-only dependencies in the dev lock, no
    dependency of mlaudit: a plain `pip install mlaudit[probe]` still runs the rest)."""
    names = sorted(p.parent.name for p in FIXTURES.glob("*/expected.json"))
    names = [n for n in names if expected(n).get("requires") in (None, "cuda") or installed(expected(n)["requires"])]
    return [n for n in names if (expected(n).get("requires") == "cuda") == cuda]


def installed(module: str) -> bool:
    return importlib.util.find_spec(module) is not None


def timeout_of(spec: dict[str, Any]) -> float:
    args = spec.get("args", [])
    return float(args[args.index("--timeout") + 1]) if "--timeout" in args else 60.0


@dataclass
class Probed:
    report: ProbeReport
    seconds: float


class ProbeCache:
    def __init__(self) -> None:
        self.done: dict[tuple[str, str, bool], Probed] = {}

    def warm(self, names: list[str]) -> None:
        """Probe several repos at once: most of a probe is waiting on its subprocesses."""
        # Longest first: the hang fixture mostly waits for its timeout, the explain ones run 9 workers.
        slow = sorted(
            names,
            key=lambda n: (
                expected(n)["verdict"] != "error" or "args" not in expected(n),
                "explain" not in expected(n),
            ),
        )
        with ThreadPoolExecutor(max_workers=3) as pool:
            list(pool.map(self.get, slow))

    def get(self, name: str, device: str = "cpu", deterministic: bool = False) -> Probed:
        key = (name, device, deterministic)
        if key not in self.done:
            spec = expected(name)
            options = ProbeOptions(
                device=device,
                timeout=timeout_of(spec),
                deterministic=deterministic,
                explain="explain" in spec and not deterministic,
            )
            started = time.perf_counter()
            report = run_probe(FIXTURES / name, options)
            self.done[key] = Probed(report, time.perf_counter() - started)
        return self.done[key]


@pytest.fixture(scope="session")
def probes() -> ProbeCache:
    cache = ProbeCache()
    cache.warm(fixture_names())
    return cache
