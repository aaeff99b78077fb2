"""The pre-commit hooks, installed the way users install them (`pre-commit try-repo`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import make_repo

REPO_ROOT = Path(__file__).resolve().parents[1]
PRE_COMMIT = Path(sys.executable).with_name("pre-commit")

pytestmark = pytest.mark.skipif(
    not PRE_COMMIT.exists() or shutil.which("git") is None, reason="pre-commit (dev lock) and git are needed"
)


def try_repo(target: Path, hook: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PRE_COMMIT_HOME": str(target.parent / "pre-commit-home")}
    return subprocess.run(
        [str(PRE_COMMIT), "try-repo", str(REPO_ROOT), hook, "--all-files"],
        cwd=target, capture_output=True, text=True, timeout=600, env=env,
    )


def test_hook_installs_from_the_repository_and_reports_the_passed_files(tmp_path: Path) -> None:
    # One try-repo call: each one builds a fresh environment (about 20 s, most of it pip).
    repo = make_repo(
        tmp_path / "project",
        {"train.py": "import torch\ntorch.backends.cudnn.benchmark = True\n", "ok.py": "import torch\nx = torch.zeros(2)\n"},
    )
    result = try_repo(repo, "mlaudit")
    assert result.returncode == 1, result.stdout + result.stderr
    assert "train.py:2:1: ML103" in result.stdout  # concise format under pre-commit
    assert "ok.py" not in result.stdout and "Failed" in result.stdout


def test_manifest_is_valid() -> None:
    result = subprocess.run(
        [str(PRE_COMMIT), "validate-manifest", str(REPO_ROOT / ".pre-commit-hooks.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
