"""The command line as a user meets it: help, version, rule docs, exit codes, statistics."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from mlaudit import __version__
from mlaudit.rules import all_rules
from tests.helpers import make_repo

BENCH = "import torch\ntorch.backends.cudnn.benchmark = True\n"


def run(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlaudit", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_help_teaches(tmp_path: Path) -> None:
    result = run(tmp_path, "--help")
    assert result.returncode == 0
    for words in ("mlaudit check .", "exit codes", "mlaudit rule ML101", "sarif"):
        assert words in result.stdout
    check_help = run(tmp_path, "check", "--help").stdout
    for words in ("--output-format", "per-file-ignores", "# noqa: ML103", "--exit-zero", "--statistics"):
        assert words in check_help


def test_no_command_prints_help_and_exits_2(tmp_path: Path) -> None:
    result = run(tmp_path)
    assert result.returncode == 2 and "usage: mlaudit" in result.stdout


def test_version(tmp_path: Path) -> None:
    assert run(tmp_path, "--version").stdout.strip() == f"mlaudit {__version__}"


def test_rule_doc_and_listing(tmp_path: Path) -> None:
    doc = run(tmp_path, "rule", "ml103")
    assert doc.returncode == 0 and "## Why it matters" in doc.stdout and "cudnn" in doc.stdout
    listing = run(tmp_path, "rule", "--all").stdout.splitlines()
    assert [line.split()[0] for line in listing] == [r.code for r in all_rules()]
    unknown = run(tmp_path, "rule", "ML999")
    assert unknown.returncode == 2 and "unknown rule" in unknown.stderr


def test_missing_path_is_a_usage_error(tmp_path: Path) -> None:
    result = run(tmp_path, "check", "no/such/file.py")
    assert result.returncode == 2 and "no such file" in result.stderr


def test_statistics(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "b.py": BENCH})
    result = run(repo, "check", ".", "--statistics")
    assert result.returncode == 1
    assert result.stdout.split() == ["2", "ML103", "cudnn-benchmark"]


def test_quiet_prints_only_findings(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    result = run(repo, "check", ".", "-q", "--output-format", "concise")
    assert result.stdout.splitlines() == [line for line in result.stdout.splitlines() if line.startswith("a.py:2:1: ML103")]
    assert len(result.stdout.splitlines()) == 1


def test_fast_exit_loses_no_output(tmp_path: Path) -> None:
    """The command exits with os._exit after flushing: output larger than a pipe's buffer, on
    stdout and in an --output-file, must still arrive whole."""
    repo = make_repo(tmp_path / "r", {f"m{i}.py": BENCH for i in range(300)})
    piped = run(repo, "check", ".", "--output-format", "json")
    written = run(repo, "check", ".", "--output-format", "json", "-o", "out.json")
    assert piped.returncode == written.returncode == 1
    assert len(piped.stdout) > 65536
    assert len(json.loads(piped.stdout)["findings"]) == 300
    assert len(json.loads((repo / "out.json").read_text())["findings"]) == 300


def test_pre_commit_environment_defaults_to_concise(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    env_run = subprocess.run(
        [sys.executable, "-m", "mlaudit", "check", "a.py"],
        cwd=repo, capture_output=True, text=True, timeout=120, env={**__import__("os").environ, "PRE_COMMIT": "1"},
    )
    assert env_run.stdout.startswith("a.py:2:1: ML103 ")


def test_readme_rule_table_matches_the_registry() -> None:
    from mlaudit.cli import rule_table

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    table = readme.split("<!-- rules:start -->")[1].split("<!-- rules:end -->")[0].strip()
    assert table == rule_table(markdown=True), "README rule table is stale: paste `mlaudit rule --all --markdown`"
