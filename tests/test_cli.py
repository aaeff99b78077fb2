"""The command line as a user meets it: help, version, rule docs, exit codes, statistics."""

from __future__ import annotations

import json
import os
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


def test_version_names_the_rule_set(tmp_path: Path) -> None:
    from mlaudit.rules import ruleset_version

    assert run(tmp_path, "--version").stdout.strip() == f"mlaudit {__version__} (rule set: {ruleset_version()})"
    assert ruleset_version().startswith(f"{len(all_rules())} rules, ")


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


def test_a_bad_output_format_in_the_environment_is_one_line_and_exit_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    result = subprocess.run(
        [sys.executable, "-m", "mlaudit", "check", ".", "--exit-zero"],
        cwd=repo, capture_output=True, text=True, timeout=120, env={**os.environ, "MLAUDIT_OUTPUT_FORMAT": "xml"},
    )
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.count("\n") == 1 and "MLAUDIT_OUTPUT_FORMAT='xml'" in result.stderr and "sarif" in result.stderr


def test_an_output_file_in_a_missing_folder_is_one_line_and_exit_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    result = run(repo, "check", ".", "-o", "missing/out.sarif", "--output-format", "sarif", "--exit-zero")
    assert result.returncode == 2
    assert result.stderr.count("\n") == 1 and "missing" in result.stderr and "does not exist" in result.stderr
    assert not (repo / "missing").exists()


def test_a_folder_with_nothing_to_check_says_so(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {"pyproject.toml": "[tool.mlaudit]\nextend-exclude = ['vendor/']\n", "vendor/x.py": BENCH, "a.py": "x = 1\n"},
    )
    (repo / "empty").mkdir()
    empty = run(repo, "check", "empty")
    assert empty.returncode == 0 and "No files to check." in empty.stdout
    assert "no files to check in empty" in empty.stderr
    excluded = run(repo, "check", "vendor/x.py", "--output-format", "concise")
    assert excluded.returncode == 0 and "vendor/x.py is excluded" in excluded.stderr and "pyproject.toml" in excluded.stderr


def test_paths_are_relative_to_the_repository_root_in_every_format(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"examples/proj/pyproject.toml": "[project]\nname = 'p'\n", "examples/proj/a.py": BENCH})
    expected = "examples/proj/a.py"
    concise = run(repo / "examples" / "proj", "check", ".", "--output-format", "concise").stdout
    assert concise.startswith(f"{expected}:2:1: ML103")
    full = run(repo / "examples" / "proj", "check", ".", "--output-format", "full").stdout
    assert full.startswith(f"{expected}:2:1: ")
    github = run(repo, "check", "examples/proj", "--output-format", "github").stdout
    assert f"file={expected},line=2" in github
    findings = json.loads(run(repo, "check", "examples/proj", "--output-format", "json").stdout)["findings"]
    assert [f["path"] for f in findings] == [expected]
    sarif = json.loads(run(repo, "check", "examples/proj", "--output-format", "sarif").stdout)
    assert sarif["runs"][0]["results"][0]["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == expected


def test_github_format_writes_a_job_summary(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH + "x = '|'\n"})
    summary = tmp_path / "summary.md"
    summary.write_text("earlier step\n")
    result = subprocess.run(
        [sys.executable, "-m", "mlaudit", "check", ".", "--output-format", "github"],
        cwd=repo, capture_output=True, text=True, timeout=120, env={**os.environ, "GITHUB_STEP_SUMMARY": str(summary)},
    )
    assert result.returncode == 1 and "::warning file=a.py" in result.stdout
    text = summary.read_text()
    assert text.startswith("earlier step\n## mlaudit\n")  # appended, as every step's summary is
    assert "| `a.py:2` | ML103 " in text and "Found 1 finding" in text
    assert "/rules/ML103.md" in text


def test_sarif_category_option(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    default = json.loads(run(repo, "check", ".", "--output-format", "sarif").stdout)
    assert default["runs"][0]["automationDetails"]["id"] == "mlaudit/check/"
    named = json.loads(run(repo, "check", ".", "--output-format", "sarif", "--sarif-category", "ml/sub").stdout)
    assert named["runs"][0]["automationDetails"]["id"] == "ml/sub/"


def test_readme_links_are_absolute() -> None:
    # The README is the package description on PyPI, where relative links lead nowhere.
    import re

    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    relative = re.findall(r"\]\((?!https?://|#)[^)]*\)", readme)
    assert relative == []


def test_an_excluded_file_next_to_checked_ones_is_not_mentioned(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": "[tool.mlaudit]\nextend-exclude = ['vendor/']\n", "vendor/x.py": BENCH, "a.py": BENCH})
    result = run(repo, "check", "a.py", "vendor/x.py", "--output-format", "concise")
    assert result.returncode == 1 and result.stdout.startswith("a.py:2:1: ML103") and "vendor" not in result.stdout + result.stderr


def test_a_check_without_a_cache_imports_only_what_it_uses(tmp_path: Path) -> None:
    """Modules for writing files (--fix, the cache), setup.cfg and crash reports are imported
    where they are used: every run would otherwise pay for them at start (bench/ab.py)."""
    repo = make_repo(tmp_path / "r", {"train.py": BENCH, "configs/a.yaml": "lr: 0.1\n", "pyproject.toml": "[project]\nname = 'r'\n"})
    script = (
        "import sys\nfrom mlaudit.cli import main\n"
        "code = main(['check', '.', '--no-cache', '--output-format', 'json', '-o', 'out.json'])\n"
        "print(code, sorted(m for m in ('configparser', 'secrets', 'tempfile', 'traceback') if m in sys.modules))\n"
    )
    done = subprocess.run([sys.executable, "-c", script], cwd=repo, capture_output=True, text=True, timeout=120)
    assert done.stdout.split(None, 1) == ["1", "[]\n"], done.stderr
