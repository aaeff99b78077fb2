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


def test_render_reports_medians_spread_and_ratios_against_ruff() -> None:
    bench = _bench_module()
    ruff = bench.Summary(0.5, 0.4, 0.7, 50.0, runs=3)
    stderr = "(discover 0.1 s, analyse 1.5 s, project 0.2 s, suppress 0.0 s"
    mlaudit = bench.Summary(2.0, 1.9, 2.4, 90.0, stderr, runs=3)
    table = {"repo": {"mlaudit cold": mlaudit, bench.RUFF_COLD: ruff}}
    text = bench.render(table, {"repo": (10, 1000)}, 3, ["about"])
    assert "| repo | 10 | 1,000 | mlaudit cold | 2.00 (1.90-2.40) | 90 | 4.0x |" in text
    assert "| repo | 0.100 | 1.500 | 0.200 | 0.000 | 667 |" in text


def test_cases_are_interleaved_and_rotated(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """Run i of every case comes before run i+1 of any, and the first case changes from run to run."""
    bench = _bench_module()
    order: list[str] = []

    def fake_measure(command, cwd, timeout):  # type: ignore[no-untyped-def]
        order.append(command[0])
        return bench.Sample(float(len(order)), 1.0)

    monkeypatch.setattr(bench, "measure", fake_measure)
    cases = [bench.Case(name, [name]) for name in ("a", "b", "c")]
    results = bench.interleaved(cases, tmp_path, 3)
    assert order == ["a", "b", "c", "b", "c", "a", "c", "a", "b"]
    assert results["a"].seconds == 6.0 and (results["a"].low, results["a"].high) == (1.0, 8.0)
    assert results["c"].runs == 3


def test_every_tool_writes_the_same_format_to_a_file(tmp_path: Path) -> None:
    bench = _bench_module()
    repo = tmp_path / "repo"
    repo.mkdir()
    files = [repo / f"m{i}.py" for i in range(6)]
    for f in files:
        f.write_text("x = 1\n")
    cases = bench.repo_cases(repo, tmp_path, files)
    tools = [c for c in cases if c.name != bench.PARSE_FLOOR]
    for case in tools:
        assert case.command[case.command.index("--output-format") + 1] == "json", case.name
        assert case.command[case.command.index("-o") + 1] == str(tmp_path / "report.json"), case.name
