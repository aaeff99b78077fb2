"""Edits cost what they touch, and find what a cold run finds.

A run with a cache keeps the state of the last run (per-file findings by content key, and the
project findings); the next run analyses only the changed files and reuses the project findings
when the changed files' facts are unchanged. Each test here edits a small multi-module project
after a cached run and compares the incremental result with a cold run (`--no-cache`) of the
edited tree, including edits in one module that change findings in another (the call graph, the
entry points, the seeds, the config keys that code reads).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

import mlaudit.engine.check as engine
from mlaudit.engine.check import CheckOptions, check_paths
from mlaudit.engine.result import RunResult
from tests.helpers import make_repo

SEEDING = """import random

import numpy as np
import torch


def seed_all(seed):
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
"""
DATA = "import numpy as np\n\n\ndef noisy(x):\n    return x + np.random.rand(3)\n"
SAMPLE = "import random\n\n\ndef pick(items):\n    return random.choice(items)\n"
TRAIN = """import torch
import yaml

from demo.data import noisy
from demo.seeding import seed_all


def main():
    cfg = yaml.safe_load(open("conf/config.yaml"))
    seed_all(cfg["seed"])
    x = noisy(torch.zeros(3))
    w = torch.zeros(1, requires_grad=True)
    opt = torch.optim.SGD([w], lr=cfg["lr"])
    loss = (w * x.sum()).sum()
    loss.backward()
    opt.step()


if __name__ == "__main__":
    main()
"""
PROJECT = {
    # The opt-in rules too: an incremental run must agree with a cold run on every rule.
    "pyproject.toml": '[project]\nname = "demo"\nversion = "0.1"\ndependencies = ["torch==2.3.0"]\n\n'
    '[tool.mlaudit]\nextend-select = ["ML101", "ML102", "ML107", "ML201", "ML303", "ML502"]\n',
    "src/demo/__init__.py": "",
    "src/demo/seeding.py": SEEDING,
    "src/demo/data.py": DATA,
    "tools/sample.py": SAMPLE,
    "train.py": TRAIN,
    "conf/config.yaml": "seed: 0\nlr: 0.1\nepochs: 3\n",
}
A_TRAINING_DEMO = '\n\nif __name__ == "__main__":\n    import torch\n    opt = torch.optim.SGD([torch.zeros(1)], lr=0.1)\n    print(pick([1, 2]))\n    opt.step()\n'


@pytest.fixture(autouse=True)
def _private_key_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def run(root: Path, *paths: str, use_cache: bool = True) -> RunResult:
    targets = [root / p for p in paths] or [root]
    return check_paths(targets, CheckOptions(use_cache=use_cache, jobs=1))


def summary(result: RunResult) -> list[tuple[str, int, int, str, str]]:
    return [(f.path, f.line, f.col, f.code, f.message) for f in result.findings]


def edit(path: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(change(target.read_text() if target.exists() else ""))

    return apply


def remove(path: str) -> Callable[[Path], None]:
    return lambda root: (root / path).unlink()


# name -> (the edit, whether it changes the findings, whether the project rules must run again)
EDITS: dict[str, tuple[Callable[[Path], None], bool, bool]] = {
    "a comment appended": (edit("src/demo/data.py", lambda s: s + "# the noise is wanted\n"), False, False),
    "a number changed": (edit("train.py", lambda s: s.replace("zeros(3)", "zeros(4)")), False, False),
    "the config file renamed": (edit("train.py", lambda s: s.replace('"conf/config.yaml"', '"conf/other.yaml"')), True, True),
    "a seed removed from the helper": (edit("src/demo/seeding.py", lambda s: s.replace("    np.random.seed(seed)\n", "")), True, True),
    "the helper renamed": (edit("src/demo/seeding.py", lambda s: s.replace("seed_all", "seed_everything")), True, True),
    "a line inserted above a draw": (edit("src/demo/data.py", lambda s: "# noise\n" + s), False, True),
    "a new entry point": (edit("tools/sample.py", lambda s: s + A_TRAINING_DEMO), True, True),
    "a config key read": (edit("train.py", lambda s: s.replace('cfg["lr"]', 'cfg["lr"] * cfg["epochs"]')), True, True),
    "a config key added": (edit("conf/config.yaml", lambda s: s + "momentum: 0.9\n"), True, True),
    "a module added": (edit("src/demo/more.py", lambda s: "import random\nrandom.seed(0)\n"), False, True),
    "the seeding module removed": (remove("src/demo/seeding.py"), True, True),
}


def _counting_project_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = engine.run_project_rules

    def counting(model: engine.ProjectModel) -> tuple[list[engine.Finding], list[str]]:
        calls.append(1)
        return original(model)

    monkeypatch.setattr(engine, "run_project_rules", counting)
    return calls


@pytest.mark.parametrize("name", list(EDITS))
def test_an_incremental_run_finds_what_a_cold_run_finds(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    change, changes_findings, reruns_project = EDITS[name]
    repo = make_repo(tmp_path / "r", PROJECT)
    before = summary(run(repo))
    assert summary(run(repo)) == before  # the run memo
    change(repo)
    project_runs = _counting_project_runs(monkeypatch)
    incremental = run(repo)
    assert len(project_runs) == int(reruns_project)
    cold = summary(run(repo, use_cache=False))
    assert summary(incremental) == cold
    assert (cold != before) == changes_findings
    assert incremental.cache_hits >= len(PROJECT) - 2  # the unchanged files were not analysed again


def test_edits_in_a_row_each_match_a_cold_run(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    run(repo)
    for name, (change, _, _) in EDITS.items():
        change(repo)
        assert summary(run(repo)) == summary(run(repo, use_cache=False)), name


def test_files_passed_as_pre_commit_does_report_what_a_cold_run_reports(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", PROJECT)
    run(repo)
    EDITS["the helper renamed"][0](repo)
    EDITS["a comment appended"][0](repo)
    paths = ("src/demo/seeding.py", "src/demo/data.py", "train.py")
    incremental = summary(run(repo, *paths))
    assert incremental == summary(run(repo, *paths, use_cache=False))
    assert any(path == "train.py" and code == "ML101" for path, _, _, code, _ in incremental)


def test_a_comment_in_setup_py_still_reruns_the_project_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """analysis.modules reads package roots from setup.py's text, not from its facts: a change
    there that keeps the facts (a string) must not reuse the project findings."""
    setup = 'from setuptools import setup\nsetup(name="demo", package_dir={"": "src"})\n'
    repo = make_repo(tmp_path / "r", {**PROJECT, "setup.py": setup})
    run(repo)
    (repo / "setup.py").write_text(setup.replace('"src"', '"lib"'))
    project_runs = _counting_project_runs(monkeypatch)
    incremental = summary(run(repo))
    assert project_runs == [1]
    assert incremental == summary(run(repo, use_cache=False))


def test_a_rule_that_reads_module_text_turns_the_reuse_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r", {**PROJECT, "pyproject.toml": PROJECT["pyproject.toml"].replace('"ML502"]', '"ML502", "ML812"]')})
    run(repo)
    EDITS["a comment appended"][0](repo)
    project_runs = _counting_project_runs(monkeypatch)
    incremental = summary(run(repo))
    assert project_runs == [1]
    assert incremental == summary(run(repo, use_cache=False))


def test_after_an_edit_is_undone_the_next_edit_starts_from_the_restored_tree(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A real edit, undone (the run memo answers), then a comment: the comment is compared with the
    restored file, not with the undone edit, so the project findings are reused."""
    repo = make_repo(tmp_path / "r", PROJECT)
    run(repo)
    EDITS["a line inserted above a draw"][0](repo)
    run(repo)
    (repo / "src/demo/data.py").write_text(DATA)
    run(repo)
    EDITS["a comment appended"][0](repo)
    project_runs = _counting_project_runs(monkeypatch)
    incremental = summary(run(repo))
    assert project_runs == []
    assert incremental == summary(run(repo, use_cache=False))
