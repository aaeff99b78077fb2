"""The issue's acceptance scenario: a throwaway repo with cudnn.benchmark and yaml.load, every format."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import make_repo
from tests.sarif_helpers import assert_valid_sarif

TRAIN = """\
import torch
import yaml

torch.backends.cudnn.benchmark = True

with open("config.yaml") as f:
    cfg = yaml.load(f)
print(cfg["lr"])
"""


def mlaudit(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlaudit", *args], cwd=cwd, capture_output=True, text=True, timeout=120
    )


@pytest.fixture()
def repo(tmp_path: Path) -> Path:
    return make_repo(tmp_path / "repo", {"train.py": TRAIN, "config.yaml": "lr: 0.1\n"})


def test_full_format_shows_both_findings_with_source(repo: Path) -> None:
    result = mlaudit(repo, "check", ".")
    assert result.returncode == 1, result.stderr
    assert "train.py:4:1: ML103" in result.stdout
    assert "train.py:7:11: ML602" in result.stdout
    assert "torch.backends.cudnn.benchmark = True" in result.stdout  # the source line is shown
    assert "Found 2 findings" in result.stdout


def test_concise_format(repo: Path) -> None:
    result = mlaudit(repo, "check", ".", "--output-format", "concise")
    lines = [line for line in result.stdout.splitlines() if ": ML" in line]
    assert [line.split(" ", 2)[:2] for line in lines] == [["train.py:4:1:", "ML103"], ["train.py:7:11:", "ML602"]]


def test_json_format(repo: Path) -> None:
    result = mlaudit(repo, "check", ".", "--output-format", "json")
    document = json.loads(result.stdout)
    found = [(f["code"], f["path"], f["location"]["line"], f["location"]["column"]) for f in document["findings"]]
    assert found == [("ML103", "train.py", 4, 1), ("ML602", "train.py", 7, 11)]
    yaml_fix = document["findings"][1]["fix"]
    assert yaml_fix["edits"][0]["content"] == "yaml.safe_load(f)"


def test_github_format(repo: Path) -> None:
    result = mlaudit(repo, "check", ".", "--output-format", "github")
    assert result.stdout.splitlines() == [
        "::warning file=train.py,line=4,col=1,endColumn=38,title=mlaudit ML103::ML103 "
        + _message(repo, "ML103"),
        "::error file=train.py,line=7,col=11,endColumn=23,title=mlaudit ML602::ML602 " + _message(repo, "ML602"),
    ]


def _message(repo: Path, code: str) -> str:
    document = json.loads(mlaudit(repo, "check", ".", "--output-format", "json").stdout)
    return next(f["message"] for f in document["findings"] if f["code"] == code)


def test_sarif_format_validates_and_locates(repo: Path) -> None:
    result = mlaudit(repo, "check", ".", "--output-format", "sarif")
    log = assert_valid_sarif(result.stdout)
    results = log["runs"][0]["results"]
    regions = [(r["ruleId"], r["locations"][0]["physicalLocation"]["region"]["startLine"]) for r in results]
    assert regions == [("ML103", 4), ("ML602", 7)]
    for entry in results:
        assert entry["partialFingerprints"]["primaryLocationLineHash"]


def test_noqa_silences_the_finding(repo: Path) -> None:
    text = TRAIN.replace("benchmark = True", "benchmark = True  # noqa: ML103")
    (repo / "train.py").write_text(text)
    result = mlaudit(repo, "check", ".", "--output-format", "concise")
    assert "ML103" not in result.stdout.split("Found")[0]
    assert "ML602" in result.stdout
    assert "1 suppressed" in result.stdout


def test_output_file_and_exit_zero(repo: Path) -> None:
    result = mlaudit(repo, "check", ".", "--output-format", "sarif", "-o", "out.sarif", "--exit-zero")
    assert result.returncode == 0
    assert result.stdout == ""
    assert_valid_sarif((repo / "out.sarif").read_text())


def test_clean_repo_exits_zero(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "clean", {"train.py": "import torch\ntorch.backends.cudnn.benchmark = False\n"})
    result = mlaudit(repo, "check", ".")
    assert result.returncode == 0
    assert "All checks passed" in result.stdout
