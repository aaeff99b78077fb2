"""Issue #12: settings come from the audited repository, so every value is checked for its type and
range; a bad one is one clear line on stderr and exit 2, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlaudit.engine.settings import ConfigError, settings_from_table
from tests.helpers import make_repo

ROOT = Path(__file__).parents[2]


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        ("max-file-mib = inf", "'max-file-mib' in .* must be a number of MiB above 0 and at most 1024 \\(got inf\\)"),
        ("max-file-mib = nan", "'max-file-mib' .* \\(got nan\\)"),
        ("max-file-mib = 1e300", "'max-file-mib' .* at most 1024"),
        ("max-file-mib = 10000", "'max-file-mib' .* at most 1024"),
        ("max-file-mib = true", "'max-file-mib' .* \\(got True\\)"),
        ('max-file-mib = "10"', "'max-file-mib' .* \\(got '10'\\)"),
        ('cache-dir = "a\\u0000b"', "'cache-dir' .* without NUL"),
        ("cache-dir = 3", "'cache-dir' .* \\(got 3\\)"),
        ("exclude = ['\\']", "'exclude' .* is not a valid gitignore-style pattern"),
        ("extend-exclude = ['[z-a]']", "'extend-exclude' .* '\\[z-a\\]' is not a valid"),
        ('exclude = "data"', "'exclude' .* must be a list of strings \\(got str 'data'\\)"),
        ("[options.ML201]\nextend-sinks = {a = 1}", "'options.ML201.extend-sinks' .* must be a table of callee"),
        ('[options.ML201]\nextend-sinks = {a = {positional = {x = "lr"}}}', "'options.ML201.extend-sinks'"),
        ('[options.ML405]\nwords = "final"', "'options.ML405.words' .* must be a list of strings \\(got 'final'\\)"),
        ('[options.ML402]\nmax-size-mib = "big"', "'options.ML402.max-size-mib' .* must be a number"),
        ("[options.ML402]\nmax-size-mib = nan", "'options.ML402.max-size-mib' .* must be a number"),
        ("[options.ML401]\nmin-images = 2.5", "'options.ML401.min-images' .* must be a whole number"),
        ("[options.ML108]\nfixed-in = 2.1", "'options.ML108.fixed-in' .* must be a string"),
        ("probe = 3", "'probe' .* must be a table"),
    ],
)
def test_bad_values_in_mlaudit_toml_exit_2_with_one_line(tmp_path: Path, toml: str, message: str) -> None:
    repo = make_repo(tmp_path / "r", {"mlaudit.toml": toml + "\n", "a.py": "x = 1\n"})
    result = run_cli(repo)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("mlaudit: configuration error: "), lines
    assert __import__("re").search(message, lines[0]), lines[0]


@pytest.mark.parametrize(
    ("pyproject", "message"),
    [
        ("tool = 3\n# [tool.mlaudit]\n", "'tool' in .*pyproject.toml must be a table"),
        ("[tool]\nmlaudit = 3\n# [tool.mlaudit]\n", "'tool.mlaudit' in .* must be a table"),
        ('[tool.mlaudit.options.ML405]\nwords = "final"\n', "'options.ML405.words'"),
        ("[tool.mlaudit]\nmax-file-mib = nan\n", "'max-file-mib'"),
    ],
)
def test_bad_values_in_pyproject_exit_2_with_one_line(tmp_path: Path, pyproject: str, message: str) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": pyproject, "a.py": "x = 1\n"})
    result = run_cli(repo)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert __import__("re").search(message, result.stderr), result.stderr


def test_a_bad_config_file_named_on_the_command_line_exits_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n", "bad.toml": "max-file-mib = inf\n"})
    result = run_cli(repo, "--config", "bad.toml")
    assert result.returncode == 2 and "'max-file-mib'" in result.stderr and "Traceback" not in result.stderr


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_config_pointing_at_a_fifo_does_not_block(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": "x = 1\n"})
    os.mkfifo(tmp_path / "settings.toml")
    result = run_cli(repo, "--config", str(tmp_path / "settings.toml"))
    assert result.returncode == 2 and "FIFO" in result.stderr and "Traceback" not in result.stderr


def test_good_values_are_accepted() -> None:
    settings = settings_from_table({
        "max-file-mib": 0.5,
        "cache-dir": ".cache/mlaudit",
        "exclude": ["data/", "*.ipynb", "!keep.py", "\\#literal"],
        "options": {
            "ML201": {"extend-sinks": {"m.Opt": ["lr"], "n.Opt": {"keywords": ["lr"], "positional": {"1": "lr"}}}},
            "ML405": {"words": ["final"]},
            "ML402": {"max-size-mib": 2},
        },
    })
    assert settings.max_bytes == 2**19 and settings.rule_options("ML402")["max-size-mib"] == 2


def test_select_given_as_a_string_is_not_read_letter_by_letter() -> None:
    with pytest.raises(ConfigError, match="'select' must be a list of strings \\(got str 'ML1'\\)"):
        settings_from_table({"select": "ML1"})


def run_cli(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    return subprocess.run([sys.executable, "-m", "mlaudit", "check", "--no-cache", *args, "."], cwd=repo,
                          capture_output=True, text=True, timeout=60, env=env)
