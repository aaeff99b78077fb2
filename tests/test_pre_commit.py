"""The pre-commit hooks, installed the way users install them (`pre-commit try-repo`)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.helpers import git, make_repo

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


def test_hook_fails_on_a_bad_file_and_passes_once_fixed(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "project", {"train.py": "import torch\ntorch.backends.cudnn.benchmark = True\n"})
    failed = try_repo(repo, "mlaudit")
    assert failed.returncode == 1, failed.stdout + failed.stderr
    assert "train.py:2:1: ML103" in failed.stdout

    (repo / "train.py").write_text("import torch\ntorch.backends.cudnn.benchmark = False\n")
    git(repo, "add", "-A")
    passed = try_repo(repo, "mlaudit")
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "Passed" in passed.stdout


def test_manifest_is_valid() -> None:
    result = subprocess.run(
        [str(PRE_COMMIT), "validate-manifest", str(REPO_ROOT / ".pre-commit-hooks.yaml")], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
