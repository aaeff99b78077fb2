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


def summary(result: RunResult) -> list[tuple[object, ...]]:
    return [(f.path, f.line, f.col, f.code, f.message, f.end_line, f.end_col, f.related, f.fix) for f in result.findings]


def edit(path: str, change: Callable[[str], str]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(change(target.read_text() if target.exists() else ""))

    return apply


def remove(path: str) -> Callable[[Path], None]:
    return lambda root: (root / path).unlink()


def both(*edits: Callable[[Path], None]) -> Callable[[Path], None]:
    def apply(root: Path) -> None:
        for change in edits:
            change(root)

    return apply


LINE_INSERTED = edit("src/demo/data.py", lambda s: s.replace("\n\n\n", "\n\n# noise\n\n"))
SEED_REMOVED = edit("src/demo/seeding.py", lambda s: s.replace("    np.random.seed(seed)\n", ""))
MODULE_ADDED = edit("src/demo/more.py", lambda s: "import random\nrandom.seed(0)\n")
BLANK_LINE_REMOVED = edit("src/demo/seeding.py", lambda s: s.replace("\n\n\ndef", "\n\ndef"))

# name -> (the edit, whether it changes the findings, whether the project rules must run again)
EDITS: dict[str, tuple[Callable[[Path], None], bool, bool]] = {
    "a comment appended": (edit("src/demo/data.py", lambda s: s + "# the noise is wanted\n"), False, False),
    "a number changed": (edit("train.py", lambda s: s.replace("zeros(3)", "zeros(4)")), False, False),
    "the config file renamed": (edit("train.py", lambda s: s.replace('"conf/config.yaml"', '"conf/other.yaml"')), True, True),
    "a seed removed from the helper": (SEED_REMOVED, True, True),
    "the helper renamed": (edit("src/demo/seeding.py", lambda s: s.replace("seed_all", "seed_everything")), True, True),
    "a line inserted above a draw": (edit("src/demo/data.py", lambda s: "# noise\n" + s), False, True),
    # Only lines moved (line 1 stays): the project findings are the last run's, moved.
    "a line inserted below the imports": (LINE_INSERTED, False, False),
    "a blank line removed": (BLANK_LINE_REMOVED, False, False),
    "lines moved in two modules": (both(LINE_INSERTED, BLANK_LINE_REMOVED), False, False),
    "a new entry point": (edit("tools/sample.py", lambda s: s + A_TRAINING_DEMO), True, True),
    "a config key read": (edit("train.py", lambda s: s.replace('cfg["lr"]', 'cfg["lr"] * cfg["epochs"]')), True, True),
    "a config key added": (edit("conf/config.yaml", lambda s: s + "momentum: 0.9\n"), True, True),
    "a module added": (MODULE_ADDED, False, True),
    "the seeding module removed": (remove("src/demo/seeding.py"), True, True),
    # Lines moved in one module while another edit changes what the rules read: no shortcut.
    "lines moved and a seed removed": (both(LINE_INSERTED, SEED_REMOVED), True, True),
    "lines moved and a module added": (both(LINE_INSERTED, MODULE_ADDED), False, True),
    "lines moved and a module removed": (both(BLANK_LINE_REMOVED, remove("src/demo/data.py")), False, True),
}


def _counting_project_runs(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls: list[int] = []
    original = engine.run_project_rules

    def counting(model: engine.ProjectModel) -> tuple[list[engine.Finding], list[str]]:
        calls.append(1)
        return original(model)

    monkeypatch.setattr(engine, "run_project_rules", counting)
    return calls


def _rerun(repo: Path, monkeypatch: pytest.MonkeyPatch, project_runs: int) -> list[tuple[object, ...]]:
    """The findings of a run after an edit, which must be a cold run's; `project_runs`: how often
    that run ran the project rules (0: it reused the last run's project findings)."""
    calls = _counting_project_runs(monkeypatch)
    incremental = summary(run(repo))
    assert len(calls) == project_runs
    assert incremental == summary(run(repo, use_cache=False))
    return incremental


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
    assert any(path == "train.py" and code == "ML101" for path, _, _, code, *_ in incremental)


def test_a_comment_in_setup_py_still_reruns_the_project_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """analysis.modules reads package roots from setup.py's text, not from its facts: a change
    there that keeps the facts (a string) must not reuse the project findings."""
    setup = 'from setuptools import setup\nsetup(name="demo", package_dir={"": "src"})\n'
    repo = make_repo(tmp_path / "r", {**PROJECT, "setup.py": setup})
    run(repo)
    (repo / "setup.py").write_text(setup.replace('"src"', '"lib"'))
    _rerun(repo, monkeypatch, project_runs=1)


def test_a_rule_that_reads_module_text_turns_the_reuse_off(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r", {**PROJECT, "pyproject.toml": PROJECT["pyproject.toml"].replace('"ML502"]', '"ML502", "ML812"]')})
    run(repo)
    EDITS["a comment appended"][0](repo)
    _rerun(repo, monkeypatch, project_runs=1)


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
    _rerun(repo, monkeypatch, project_runs=0)


FIXTURES = Path(__file__).resolve().parents[2] / "fixtures"


def _fixture(tmp_path: Path, name: str) -> Path:
    source = FIXTURES / name
    files = {p.relative_to(source).as_posix(): p.read_bytes() for p in sorted(source.rglob("*")) if p.is_file()}
    return make_repo(tmp_path / "r", {p: c for p, c in files.items() if p != "expected.txt"})


def test_lines_moved_in_a_helper_move_the_finding_that_cites_it(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """cli.py's ML101 cites the draw in model.py by line: a comment inserted above it moves the
    citation, without the project rules running again."""
    repo = _fixture(tmp_path, "randomness/ml-project")
    before = summary(run(repo))
    assert any("src/proj/model.py:7," in message for _, _, _, _, message, *_ in before)
    model = repo / "src/proj/model.py"
    model.write_text(model.read_text().replace("class Net", "# the model\nclass Net"))
    incremental = _rerun(repo, monkeypatch, project_runs=0)
    assert any("src/proj/model.py:8," in message for _, _, _, _, message, *_ in incremental)


def test_lines_moved_in_the_entry_point_move_its_findings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = _fixture(tmp_path, "randomness/ml-project")
    run(repo)
    cli = repo / "src/proj/cli.py"
    cli.write_text(cli.read_text().replace("def main", "# the entry point\n\ndef main"))
    incremental = _rerun(repo, monkeypatch, project_runs=0)
    assert any(path == "src/proj/cli.py" and line == 13 and code == "ML101" and "reached from line 13" in message
               for path, line, _, code, message, *_ in incremental)


@pytest.mark.parametrize("name", ["randomness/ml-project", "demo", "config/hydra_app"])
def test_a_line_moved_anywhere_finds_what_a_cold_run_finds(tmp_path: Path, name: str, monkeypatch: pytest.MonkeyPatch) -> None:
    """A comment line moved through every Python file of a fixture project (at the top, in the
    middle, at the end: each run compared with the one before, so lines move both ways), and
    every incremental run compared with a cold one."""
    repo = _fixture(tmp_path, name)
    run(repo)
    project_runs = _counting_project_runs(monkeypatch)
    edits = reruns = 0
    for path in sorted(p for p in repo.rglob("*.py") if ".git" not in p.parts):
        original = path.read_text()
        lines = original.splitlines(keepends=True)
        for at in sorted({1, len(lines) // 2, len(lines)}):
            path.write_text("".join([*lines[:at], "# moved here\n", *lines[at:]]))
            runs_before = len(project_runs)
            incremental = summary(run(repo))
            reruns += len(project_runs) - runs_before
            assert incremental == summary(run(repo, use_cache=False)), (path, at)
            edits += 1
        path.write_text(original)
    assert reruns * 3 <= edits  # most edits only moved lines: no project rule ran again
