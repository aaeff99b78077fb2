"""The `probe` subcommand: options, exit codes, what reaches stdout and stderr, report formats."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest

from mlaudit.findings import Level
from mlaudit.probe import command, session
from mlaudit.probe.command import add_parser, main, to_run_result
from tests.probe.conftest import FIXTURES, REPO, ProbeCache

CLI_WITHOUT_TORCH = """
import runpy, sys
sys.argv = ["mlaudit probe", *sys.argv[1:]]
try:
    runpy.run_module("mlaudit.probe.command", run_name="__main__")
except SystemExit as exit:
    print("torch imported here:", "torch" in sys.modules, file=sys.stderr)
    sys.exit(exit.code)
"""


def test_cli_reports_ml901_and_exits_1_without_importing_torch() -> None:
    """`python -m mlaudit.probe.command`; even the element count of a diff is done in a worker."""
    done = subprocess.run(
        [sys.executable, "-c", CLI_WITHOUT_TORCH, str(FIXTURES / "unseeded_random"), "--output-format", "concise"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
        env={"PYTHONPATH": str(REPO), "PATH": "/usr/bin:/bin"},
    )
    assert done.returncode == 1, done.stderr
    assert "sampler/train.py:13:1: ML901" in done.stdout
    assert "elements differ, max abs diff" in done.stdout
    assert "mlaudit probe: ML901 at sampler/train.py:13" in done.stderr
    assert "torch imported here: False" in done.stderr


def test_missing_target_exits_2_with_a_hint(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pyproject.toml").write_text("[project]\nname = 'x'\n")
    assert main([str(tmp_path)]) == 2
    captured = capsys.readouterr()
    assert (captured.out + captured.err).count("[tool.mlaudit.probe] target is not set") == 1


def test_import_error_shows_the_targets_traceback(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "train.py").write_text(
        "import torch\nimport not_installed_anywhere\n\ndef step(seed):\n    pass\n"
    )
    code = main(
        [str(tmp_path), "--target", "pkg.train:step", "--runs", "1", "--device", "cpu", "--output-format", "json"]
    )
    err = capsys.readouterr().err  # with json on stdout, the traceback goes to stderr
    assert code == 2
    assert "cannot import `pkg.train:step`" in err
    assert 'pkg/train.py", line 2, in <module>' in err
    assert "ModuleNotFoundError: No module named 'not_installed_anywhere'" in err


def test_torch_missing_in_the_worker_names_the_extra(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake = tmp_path / "fake"
    fake.mkdir()
    (fake / "torch.py").write_text("raise ImportError('No module named torch')\n")
    monkeypatch.setenv("PYTHONPATH", str(fake))
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "__init__.py").write_text("")
    (tmp_path / "pkg" / "train.py").write_text("def step(seed):\n    pass\n")
    report = session.run_probe(tmp_path, session.ProbeOptions(target="pkg.train:step", runs=1))
    assert report.exit_code == 2
    assert report.error["kind"] == "no_torch"
    assert "pip install 'mlaudit[probe]'" in report.message


def test_torch_missing_in_mlaudits_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    real = session.importlib.util.find_spec
    monkeypatch.setattr(session.importlib.util, "find_spec", lambda name: None if name == "torch" else real(name))
    report = session.run_probe(FIXTURES / "deterministic", session.ProbeOptions())
    assert report.exit_code == 2
    assert "torch is not installed" in report.message and "mlaudit[probe]" in report.message


def test_probe_and_its_rules_never_import_torch_in_mlaudits_process() -> None:
    code = (
        "import sys, mlaudit.probe.command, mlaudit.probe.session, mlaudit.rules.probe\nprint('torch' in sys.modules)"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=60)
    assert done.stdout.strip() == "False", done.stderr


def test_add_parser_wires_the_subcommand() -> None:
    parser = argparse.ArgumentParser(prog="mlaudit")
    probe_parser = add_parser(parser.add_subparsers(dest="command"))
    args = parser.parse_args(
        ["probe", "repo", "--runs", "3", "--explain", "--device", "cpu", "--output-format", "json"]
    )
    assert (args.path, args.runs, args.explain, args.device, args.output_format) == ("repo", 3, True, "cpu", "json")
    help_text = probe_parser.format_help()
    assert "[tool.mlaudit.probe]" in help_text and "mlaudit probe --explain" in help_text
    with pytest.raises(SystemExit):
        parser.parse_args(["probe", "--runs", "0"])


def test_findings_carry_rule_level_location_and_explanation(probes: ProbeCache) -> None:
    report = probes.get("set_vocab").report
    result = to_run_result(report)
    [finding] = result.findings
    assert (finding.code, finding.path, finding.line, finding.level) == ("ML901", "vocab/train.py", 19, Level.ERROR)
    assert "Hash seed: with PYTHONHASHSEED fixed the runs are identical" in finding.message
    assert result.exit_code == 1 and result.execution_successful
    assert [r.code for r in result.rules] == ["ML901", "ML902"]


def test_failed_target_is_an_unsuccessful_execution(probes: ProbeCache) -> None:
    result = to_run_result(probes.get("crash").report)
    assert result.findings == [] and not result.execution_successful and result.exit_code == 2
    assert any("ValueError: batch has 3 columns" in n for n in result.notifications)


def test_json_report(probes: ProbeCache) -> None:
    pytest.importorskip("mlaudit.report.json_format")
    text = command.render_report("json", to_run_result(probes.get("unseeded_random").report))
    assert "ML901" in json.dumps(json.loads(text))


def test_sarif_report_validates_against_the_official_schema(probes: ProbeCache) -> None:
    from tests.sarif_helpers import assert_valid_sarif

    for name in ("unseeded_random", "ignores_seed", "deterministic", "crash"):
        sarif = assert_valid_sarif(command.render_report("sarif", to_run_result(probes.get(name).report)))
        results = sarif["runs"][0]["results"]
        assert [r["ruleId"] for r in results] == ([probes.get(name).report.verdict] if results else [])


@pytest.mark.parametrize(
    ("argv", "line"),
    [
        (["/nonexistent/repo", "--target", "t:step"], "no such folder: /nonexistent/repo"),
        ([str(REPO / "pyproject.toml"), "--target", "t:step"], "not a folder: "),
        ([str(FIXTURES / "deterministic"), "-o", "/nonexistent/out.json"], "cannot write /nonexistent/out.json"),
        ([str(FIXTURES / "deterministic"), "--python", "/nonexistent/python"], "--python /nonexistent/python: not an"),
    ],
)
def test_bad_paths_exit_2_with_one_line(argv: list[str], line: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith("mlaudit probe: error: ") and line in captured.err
    assert captured.err.count("\n") == 1


def test_unknown_target_module_is_one_line_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main([str(tmp_path), "--target", "t:step", "--runs", "1", "--output-format", "json"]) == 2
    captured = capsys.readouterr()
    assert captured.err == (
        f"mlaudit probe: error: cannot import `t:step`: there is no module `t` in {tmp_path.resolve()}; a target "
        "is `package.module:function` as imported from the repository root (or src/)\n"
    )
    document = json.loads(captured.out)
    assert document["properties"]["verdict"] == "error"
    assert document["properties"]["error"]["kind"] == "import"


def test_json_carries_the_verdict_and_run_facts_on_a_pass(probes: ProbeCache) -> None:
    document = json.loads(command.render_report("json", to_run_result(probes.get("deterministic").report)))
    props = document["properties"]
    assert props["verdict"] == "pass" and document["findings"] == []
    assert (props["target"], props["seed"], props["other_seed"], props["runs"]) == ("detstep.train:step", 0, 1, 2)
    assert (props["device"], props["steps"], props["threads"]) == ("cpu", 1, 1)
    assert props["torch_version"].startswith("2.") and props["tensors"] > 0
    assert document["notes"][0].startswith("pass: 2 runs of `detstep.train:step` with seed 0 on cpu")


def test_ml901_carries_tensor_step_and_counts_as_properties(probes: ProbeCache) -> None:
    result = to_run_result(probes.get("unseeded_random").report)
    finding = json.loads(command.render_report("json", result))["properties"]["finding"]
    assert finding["tensor"] == "model.0.weight" and finding["reason"] == "bytes"
    assert finding["step"] == 1 and finding["runs"] == [1, 2]
    assert 0 < finding["differing_elements"] <= finding["numel"] == 64
    assert finding["max_abs_diff"] > 0
    sarif = json.loads(command.render_report("sarif", result))
    [res] = sarif["runs"][0]["results"]
    assert res["properties"] == finding
    assert sarif["runs"][0]["properties"]["verdict"] == "ML901"


def test_a_pass_is_a_note_in_sarif(probes: ProbeCache) -> None:
    from tests.sarif_helpers import assert_valid_sarif

    sarif = assert_valid_sarif(command.render_report("sarif", to_run_result(probes.get("deterministic").report)))
    run = sarif["runs"][0]
    assert run["results"] == [] and run["properties"]["verdict"] == "pass"
    [note] = run["invocations"][0]["toolExecutionNotifications"]
    assert note["level"] == "note" and note["message"]["text"].startswith("pass: 2 runs of `detstep.train:step`")
