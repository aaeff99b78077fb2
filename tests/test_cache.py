"""The cache: hits, invalidation, corruption, tampering, concurrency, size bound; and identical
findings with or without it, serial or parallel."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from mlaudit.engine import analyse
from mlaudit.engine.cache import PRUNE_EVERY_SECONDS, Cache
from mlaudit.engine.check import CheckOptions, check_paths
from mlaudit.engine.result import RunResult
from tests.fixture_repos import copy_fixture, fixture_id, fixture_repos
from tests.helpers import make_repo

BENCH = "import torch\ntorch.backends.cudnn.benchmark = True\n"
YAML_LOAD = "import yaml\nyaml.load(open('c.yaml'))\n"


@pytest.fixture(autouse=True)
def _private_key_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))


def run(root: Path, **options: object) -> RunResult:
    return check_paths([root], CheckOptions(**options))  # type: ignore[arg-type]


def summary(result: RunResult) -> list[tuple[str, int, int, str, str]]:
    return [(f.path, f.line, f.col, f.code, f.message) for f in result.findings]


def test_second_run_hits_the_cache_with_the_same_findings(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "b.py": YAML_LOAD})
    cold = run(repo)
    warm = run(repo)
    assert cold.cache_hits == 0 and warm.cache_hits == 2
    assert summary(cold) == summary(warm) != []
    assert (repo / ".mlaudit_cache" / ".gitignore").read_text().splitlines()[-1] == "*"


def test_an_edited_file_is_analysed_again(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "b.py": YAML_LOAD})
    run(repo)
    (repo / "a.py").write_text("import torch\n\ntorch.backends.cudnn.benchmark = True\n")
    result = run(repo)
    assert result.cache_hits == 1
    assert ("a.py", 3, "ML103") in {(f.path, f.line, f.code) for f in result.findings}


def _count_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Paths that the cache-key step reads (it hashes a file only when its stat cannot vouch)."""
    read: list[str] = []
    real = analyse.read_bytes

    def counting(path: Path, max_bytes: int) -> bytes:
        read.append(Path(path).name)
        return real(path, max_bytes)

    monkeypatch.setattr(analyse, "read_bytes", counting)
    return read


def test_files_unchanged_by_stat_are_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analyse, "RACY_NS", 0)  # files written by the test count as settled at once
    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "b.py": YAML_LOAD})
    first = run(repo)
    read = _count_reads(monkeypatch)
    second = run(repo)
    assert read == [] and summary(second) == summary(first) != []


def test_recently_changed_files_are_hashed_even_when_the_stat_matches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    run(repo)
    read = _count_reads(monkeypatch)
    run(repo)
    assert read == ["a.py"]  # written a moment ago: within RACY_NS of the last hashing


def test_an_edit_that_keeps_size_and_mtime_is_still_seen(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(analyse, "RACY_NS", 0)
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    assert [f.code for f in run(repo).findings] == ["ML103"]
    path = repo / "a.py"
    before = path.stat()
    path.write_text(BENCH.replace("True", "None"))  # same length, benchmark no longer on
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # the change time still moves
    assert path.stat().st_size == before.st_size and path.stat().st_mtime_ns == before.st_mtime_ns
    assert [f.code for f in run(repo).findings] != ["ML103"]


def test_changing_rule_options_invalidates(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    run(repo)
    (repo / "pyproject.toml").write_text("[tool.mlaudit]\nmax-file-mib = 5\n")
    assert run(repo).cache_hits == 0


def test_no_cache_neither_reads_nor_writes(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    result = run(repo, use_cache=False)
    assert result.cache_hits == 0 and not (repo / ".mlaudit_cache").exists()


def _entries(repo: Path) -> list[Path]:
    return [p for p in (repo / ".mlaudit_cache").rglob("*") if p.is_file() and p.parent.parent.name == "files"]


@pytest.mark.parametrize("damage", ["truncate", "garbage", "flip"])
def test_corrupt_or_tampered_entries_are_ignored_and_rewritten(tmp_path: Path, damage: str) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    expected = summary(run(repo))
    runs = [p for p in (repo / ".mlaudit_cache").rglob("run-*") if p.is_file()]
    assert runs
    for entry in [*_entries(repo), *runs]:
        data = entry.read_bytes()
        entry.write_bytes({"truncate": data[:10], "garbage": b"\x80\x04junk", "flip": data[:-1] + bytes([data[-1] ^ 1])}[damage])
    again = run(repo)
    assert again.cache_hits == 0 and summary(again) == expected
    assert run(repo).cache_hits == 1  # rewritten


def test_a_file_whose_entry_fails_to_load_is_analysed_again(tmp_path: Path) -> None:
    files = {"a.py": BENCH + "# x = torch.zeros(3)\n# print(x)\n", "mlaudit.toml": 'extend-select = ["ML303"]\n'}
    repo = make_repo(tmp_path / "r", files)
    expected = summary(run(repo))
    assert "ML303" in {code for _, _, _, code, _ in expected}
    for entry in [*_entries(repo), *(p for p in (repo / ".mlaudit_cache").rglob("run-*") if p.is_file())]:
        entry.write_bytes(b"\x80\x04junk")
    again = run(repo)
    assert again.cache_hits == 0 and not again.warnings and summary(again) == expected


def test_an_entry_signed_with_another_key_is_never_unpickled(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    run(repo)
    entry = _entries(repo)[0]
    evil = Cache(repo, ".mlaudit_cache", key=b"attacker key")
    evil.store(entry.name, {"payload": "would run on load"})
    assert Cache(repo, ".mlaudit_cache").load(entry.name) is None
    assert summary(run(repo)) != []


def test_concurrent_runs_agree(tmp_path: Path) -> None:
    files = {f"m{i}.py": BENCH for i in range(30)}
    repo = make_repo(tmp_path / "r", files)
    script = "import sys, json; from pathlib import Path; from mlaudit.engine.check import check_paths; " \
             "print(len(check_paths([Path(sys.argv[1])]).findings))"
    def one(_: int) -> str:
        return subprocess.run([sys.executable, "-c", script, str(repo)], capture_output=True, text=True, timeout=120,
                              cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    with ThreadPoolExecutor(4) as pool:
        outputs = list(pool.map(one, range(4)))
    assert outputs == ["30"] * 4
    assert run(repo).cache_hits == 30


def test_pruning_runs_at_most_once_per_interval(tmp_path: Path) -> None:
    cache = Cache(tmp_path, ".mlaudit_cache", key=b"k" * 32)
    for i in range(7):
        cache.store(f"{i:02x}" * 32, i)
    assert cache.prune_if_due(max_entries=5) == 2
    for i in range(7, 10):
        cache.store(f"{i:02x}" * 32, i)
    assert cache.prune_if_due(max_entries=5) == 0  # pruned a moment ago
    marker = tmp_path / ".mlaudit_cache" / "v1" / "pruned"
    past = time.time() - 2 * PRUNE_EVERY_SECONDS
    os.utime(marker, (past, past))
    assert cache.prune_if_due(max_entries=5) == 3


def test_prune_keeps_the_cache_bounded(tmp_path: Path) -> None:
    cache = Cache(tmp_path, ".c", key=b"k")
    for i in range(12):
        cache.store(f"{i:02x}" + "0" * 62, i)
    assert cache.prune(max_entries=5) == 7
    assert len([p for p in (tmp_path / ".c").rglob("*") if p.is_file() and p.parent.parent.name == "files"]) == 5


@pytest.mark.parametrize("fixture", fixture_repos(), ids=fixture_id)
def test_same_findings_cached_or_not_serial_or_parallel(tmp_path: Path, fixture: Path) -> None:
    repo = copy_fixture(fixture, tmp_path / "copy")
    baseline = summary(run(repo, use_cache=False, jobs=1))
    # Worker processes are forked only from a clean process (see analyse.can_fork), which this test
    # process may not be once other tests imported torch: run the parallel cases in a fresh one.
    assert _parallel_summary(repo, use_cache=False) == baseline
    assert _parallel_summary(repo, use_cache=True) == baseline  # cold, writes the cache
    warm = run(repo, jobs=1)
    assert warm.cache_hits > 0
    assert summary(warm) == baseline


PARALLEL = """
import json, sys
from pathlib import Path
from mlaudit.engine.check import CheckOptions, check_paths
result = check_paths([Path(sys.argv[1])], CheckOptions(use_cache=sys.argv[2] == "1", jobs=2))
assert result.workers == 2, result.workers
print(json.dumps([[f.path, f.line, f.col, f.code, f.message] for f in result.findings]))
"""


def _parallel_summary(repo: Path, use_cache: bool) -> list[tuple[str, int, int, str, str]]:
    done = subprocess.run(
        [sys.executable, "-c", PARALLEL, str(repo), "1" if use_cache else "0"],
        capture_output=True, text=True, timeout=300, cwd=Path(__file__).resolve().parents[1],
    )
    assert done.returncode == 0, done.stderr
    return [tuple(item) for item in json.loads(done.stdout)]  # type: ignore[misc]


def test_an_unchanged_repo_reuses_the_whole_run(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlaudit.engine.check as engine

    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "pkg/b.py": YAML_LOAD, "data/x.csv": "a,b\n"})
    first = run(repo)
    calls: list[object] = []
    monkeypatch.setattr(engine, "run_project_rules", lambda model: calls.append(model) or ([], []))
    again = run(repo)
    assert summary(again) == summary(first) and calls == []
    scoped = check_paths([repo / "pkg" / "b.py"], CheckOptions())
    assert [f.path for f in scoped.findings] == ["pkg/b.py"] and calls == []


@pytest.mark.parametrize(
    "change",
    ["edit", "new-untracked", "stage", "select", "data-size"],
)
def test_any_change_invalidates_the_run_memo(tmp_path: Path, change: str) -> None:
    from tests.helpers import git

    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "data/x.csv": "a,b\n"})
    run(repo)
    options: dict[str, object] = {}
    if change == "edit":
        (repo / "a.py").write_text(BENCH + YAML_LOAD)
    elif change == "new-untracked":
        (repo / "b.py").write_text(YAML_LOAD)
    elif change == "stage":
        (repo / "b.py").write_text(YAML_LOAD)
        run(repo)
        git(repo, "add", "b.py")
    elif change == "select":
        options = {"select": ["ML6"]}
    elif change == "data-size":
        (repo / "data" / "x.csv").write_text("a,b\n" * 10)
    expected = summary(run(repo, use_cache=False, **options))
    assert summary(run(repo, **options)) == expected


def test_dvc_projects_are_not_memoised(tmp_path: Path) -> None:
    from mlaudit.engine.analyse import file_keys, run_key
    from mlaudit.engine.check import discover
    from mlaudit.engine.settings import Settings

    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "data.dvc": "outs:\n- path: data\n"})
    files, _ = discover(repo, Settings())
    assert run_key(list(files.values()), file_keys(list(files.values()), Settings()), Settings()) is None


def test_a_check_restores_the_garbage_collector(tmp_path: Path) -> None:
    """check_paths pauses the cyclic collector for speed; a program that embeds mlaudit gets it back."""
    repo = make_repo(tmp_path / "r", {"train.py": BENCH})
    assert gc.isenabled()
    run(repo)
    assert gc.isenabled()
    gc.disable()
    try:
        run(repo)
        assert not gc.isenabled()  # and one that had turned it off keeps it off
    finally:
        gc.enable()


def test_an_on_demand_extractor_runs_only_for_a_rule_that_needs_it(tmp_path: Path) -> None:
    """PathFacts feed only the opt-in ML403: the default run leaves their extractor out, a run that
    selects ML403 has it, and the two never share cached results."""
    from mlaudit.engine.settings import settings_from_table
    from mlaudit.facts.paths import PathLiterals

    default, with_ml403 = settings_from_table({}), settings_from_table({"extend-select": ["ML403"]})
    assert PathLiterals not in analyse.fact_extractors(default)
    assert PathLiterals in analyse.fact_extractors(with_ml403)
    assert analyse.options_fingerprint(default) != analyse.options_fingerprint(with_ml403)
    repo = make_repo(tmp_path / "r", {"train.py": "DATA = '/home/bob/data/train.csv'\n"})
    assert [f.code for f in check_paths([repo]).findings] == []
    assert [f.code for f in check_paths([repo], CheckOptions(extend_select=["ML403"])).findings] == ["ML403"]

