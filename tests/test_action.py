"""The GitHub Action (action.yml): its shape, and its check step run as the runner runs it."""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from tests.helpers import make_repo
from tests.sarif_helpers import assert_valid_sarif

ACTION = Path(__file__).resolve().parents[1] / "action.yml"
BENCH = "import torch\ntorch.backends.cudnn.benchmark = True\n"


def action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(ACTION.read_text(encoding="utf-8"))
    return data


def step(name: str) -> dict[str, Any]:
    found: dict[str, Any] = next(s for s in action()["runs"]["steps"] if s.get("name") == name)
    return found


def test_composite_action_sets_up_python_checks_and_uploads() -> None:
    data = action()
    assert data["runs"]["using"] == "composite"
    assert {"args", "baseline", "diff-base", "category"} <= set(data["inputs"])
    uses = [s.get("uses", "") for s in data["runs"]["steps"]]
    assert uses[0].startswith("actions/setup-python@")
    assert "github/codeql-action/upload-sarif@v4" in uses
    upload = step("Upload SARIF to code scanning")
    assert upload["with"] == {"sarif_file": "${{ inputs.sarif-file }}", "category": "${{ inputs.category }}"}
    # Inputs reach scripts through the environment only (no ${{ }} inside a script: injection).
    for s in data["runs"]["steps"]:
        assert "${{" not in s.get("run", ""), s.get("name")


def run_check_step(repo: Path, tmp_path: Path, **inputs: str) -> tuple[subprocess.CompletedProcess[str], Path, Path]:
    """The check step's script under bash, with the runner's variables and an installed mlaudit."""
    temp = tmp_path / "runner-temp"
    (temp / "mlaudit-venv" / "bin").mkdir(parents=True)
    (temp / "mlaudit-venv" / "bin" / "mlaudit").symlink_to(Path(sys.executable).with_name("mlaudit"))
    output, summary = tmp_path / "github-output", tmp_path / "step-summary.md"
    defaults = {name: str(spec.get("default", "")) for name, spec in action()["inputs"].items()}
    values = {**defaults, **inputs}
    env = {
        **os.environ,
        "RUNNER_TEMP": str(temp),
        "GITHUB_OUTPUT": str(output),
        "GITHUB_STEP_SUMMARY": str(summary),
        **{f"INPUT_{name.upper().replace('-', '_')}": value for name, value in values.items()},
    }
    script = step("mlaudit check")["run"]
    result = subprocess.run(["bash", "-e", "-c", script], cwd=repo, env=env, capture_output=True, text=True, timeout=120)
    return result, output, summary


def test_check_step_writes_sarif_with_the_category_and_a_summary(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": BENCH})
    result, output, summary = run_check_step(repo, tmp_path, category="ml/check")
    assert result.returncode == 0, result.stderr  # findings do not fail this step
    assert output.read_text() == "exit-code=1\n"
    log = assert_valid_sarif((repo / "mlaudit.sarif").read_text())
    assert log["runs"][0]["automationDetails"]["id"] == "ml/check/"
    assert [r["ruleId"] for r in log["runs"][0]["results"]] == ["ML103"]
    assert "| `train.py:2` | ML103" in summary.read_text()
    assert "::" not in result.stdout  # no annotations repeating the alerts


def test_check_step_fails_on_an_mlaudit_error(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": BENCH, "pyproject.toml": "[tool.mlaudit]\nselect = ['NOPE']\n"})
    result, output, _ = run_check_step(repo, tmp_path, args=". --no-cache")
    assert result.returncode == 2 and output.read_text() == "exit-code=2\n"
    assert json.dumps("configuration error")[1:-1] in result.stderr


def test_every_option_the_action_passes_is_a_check_option() -> None:
    import re

    from mlaudit.cli import build_parser

    subcommands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    known = {s for action in subcommands.choices["check"]._actions for s in action.option_strings}
    used = set(re.findall(r"(?<![\w-])--[a-z][a-z-]*", step("mlaudit check")["run"]))
    assert used >= {"--baseline", "--diff-base", "--sarif-category", "--output-format"}
    assert used <= known, used - known


def test_check_step_passes_diff_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": BENCH})
    result, output, _ = run_check_step(repo, tmp_path, **{"diff-base": "HEAD"})
    assert result.returncode == 0, result.stderr
    assert output.read_text() == "exit-code=0\n"  # nothing changed since HEAD


def test_the_cache_is_restored_before_the_check_and_keyed_by_mlaudits_code() -> None:
    steps = action()["runs"]["steps"]
    names = [s.get("name") for s in steps]
    restore = step("Restore the mlaudit cache")
    assert restore["uses"].startswith("actions/cache@")
    assert names.index("Install mlaudit") < names.index("Restore the mlaudit cache") < names.index("mlaudit check")
    assert restore["if"] == "${{ inputs.cache == 'true' }}"
    assert restore["with"]["path"].splitlines() == ["${{ runner.temp }}/mlaudit-cache", "${{ runner.temp }}/mlaudit-home/mlaudit/key"]
    prefix = "mlaudit-${{ runner.os }}-${{ steps.install.outputs.code }}-"
    assert restore["with"]["key"] == prefix + "${{ github.sha }}"
    assert restore["with"]["restore-keys"].splitlines() == [prefix]
    assert "code=" in step("Install mlaudit")["run"] and step("Install mlaudit")["id"] == "install"


def test_a_later_run_with_the_restored_cache_analyses_only_what_changed(tmp_path: Path) -> None:
    """What actions/cache restores (the cache folder and the signing key under the runner's temp
    folder) is what the check step uses: a fresh clone on a branch that changed one file reuses
    the entries of every other file."""
    files = {"train.py": BENCH, "a.py": "import os\n", "b.py": "import sys\n", "c.py": "x = 1\n"}
    first = make_repo(tmp_path / "first", files)
    result, _, _ = run_check_step(first, tmp_path / "job1", args=". -v")
    assert result.returncode == 0, result.stderr
    assert "0 cached" in result.stderr
    assert not (first / ".mlaudit_cache").exists()  # kept in the runner's temp folder, out of the checkout
    saved = tmp_path / "job1" / "runner-temp"
    assert (saved / "mlaudit-cache").is_dir() and (saved / "mlaudit-home" / "mlaudit" / "key").is_file()
    second = make_repo(tmp_path / "second", {**files, "c.py": "x = 2\n"})
    restored = tmp_path / "job2" / "runner-temp"
    restored.mkdir(parents=True)
    for part in ("mlaudit-cache", "mlaudit-home"):
        shutil.copytree(saved / part, restored / part)
    result, output, _ = run_check_step(second, tmp_path / "job2", args=". -v")
    assert result.returncode == 0, result.stderr
    assert output.read_text() == "exit-code=1\n"
    assert "checked 4 files" in result.stderr and "3 cached" in result.stderr


def test_without_the_cache_input_nothing_is_kept(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": BENCH})
    result, _, _ = run_check_step(repo, tmp_path, cache="false", args=". --no-cache")
    assert result.returncode == 0, result.stderr
    assert not (tmp_path / "runner-temp" / "mlaudit-cache").exists()


def test_the_install_step_runs_nothing_from_the_checkout(tmp_path: Path) -> None:
    """Steps run in the audited checkout, and `python -m` or `-c` puts the working folder first
    on sys.path: a pull request's `venv/` or `mlaudit/` package would run. Every Python the
    action starts itself runs isolated (-I); the line that finds the installed package is run
    here in a checkout that ships its own mlaudit."""
    import re
    import shlex

    import mlaudit

    script = step("Install mlaudit")["run"]
    starts = [line for line in script.splitlines() if re.search(r'(^|[\s/])python"? ', line)]
    assert len(starts) == 2 and all(re.search(r'python"? -I ', line) for line in starts), starts
    hostile = make_repo(tmp_path / "r", {"mlaudit/__init__.py": "raise SystemExit('the checkout ran')\n"})
    line = next(line for line in starts if "package=" in line).strip()
    command = line.replace('"$RUNNER_TEMP/mlaudit-venv/bin/python"', shlex.quote(sys.executable)) + '\necho "$package"'
    done = subprocess.run(["bash", "-e", "-c", command], cwd=hostile, capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert Path(done.stdout.strip()) == Path(mlaudit.__file__).resolve().parent
