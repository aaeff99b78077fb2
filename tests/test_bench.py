"""The benchmark script's bookkeeping (not its timings): the generated block of docs/benchmarks.md is
replaced in place and the hand-written analysis around it is kept."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "bench" / "run.py"


def _bench_module():  # type: ignore[no-untyped-def]
    spec = importlib.util.spec_from_file_location("bench_run", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def test_write_block_keeps_the_hand_written_parts(tmp_path: Path) -> None:
    bench = _bench_module()
    out = tmp_path / "benchmarks.md"
    bench.write_block(out, "table one\n")
    assert out.read_text() == f"# Benchmarks\n\n{bench.START}\ntable one\n{bench.END}\n"
    out.write_text(out.read_text().replace("# Benchmarks\n", "# Benchmarks\n\nintro\n") + "\n## Analysis\n\nkept\n")
    bench.write_block(out, "table two\n")
    text = out.read_text()
    assert "table one" not in text and "table two" in text
    assert text.startswith("# Benchmarks\n\nintro\n") and text.endswith("## Analysis\n\nkept\n")


def test_render_reports_ratios_against_ruff() -> None:
    bench = _bench_module()
    ruff, mlaudit = bench.Sample(0.5, 50.0), bench.Sample(2.0, 90.0, "(discover 0.1 s, analyse 1.5 s, project 0.2 s, suppress 0.0 s")
    table = {"repo": {"mlaudit cold": mlaudit, "ruff --select ALL --no-cache": ruff}}
    text = bench.render(table, {"repo": (10, 1000)}, 3, ["about"])
    assert "| repo | 10 | 1,000 | mlaudit cold | 2.00 | 90 | 4.0x |" in text
    assert "| repo | 0.100 | 1.500 | 0.200 | 0.000 | 667 |" in text
