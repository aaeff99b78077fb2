"""The cache folder is no attack surface, and `mlaudit clean` removes only mlaudit's own cache."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlaudit.cli import main
from mlaudit.engine.cache import TAG_TEXT, Cache, removable
from tests.helpers import make_repo

FILES = {"train.py": "import torch\nx = torch.load('m.pt')\nprint(x)\n", "pyproject.toml": "[project]\nname = 'p'\n"}


def run_cli(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlaudit", *args], capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.PIPE, check=False,
    )


def snapshot(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Content and mtime of every file below `folder`, to show nothing there changed."""
    found = {}
    for path in sorted(folder.rglob("*")):
        if path.is_file() and not path.is_symlink():
            found[path.relative_to(folder).as_posix()] = (path.read_bytes(), path.stat().st_mtime_ns)
    return found


def with_settings(root: Path, cache_dir: str) -> None:
    (root / "mlaudit.toml").write_text(f"cache-dir = {cache_dir!r}\n")


@pytest.fixture
def victim(tmp_path: Path) -> Path:
    folder = tmp_path / "victim"
    folder.mkdir()
    (folder / "file").write_text("precious\n")
    (folder / "sub").mkdir()
    (folder / "sub" / "more").write_text("more\n")
    return folder


@pytest.mark.parametrize(
    "plant",
    [
        "cache-folder",  # .mlaudit_cache -> victim
        "tag",  # .mlaudit_cache/CACHEDIR.TAG -> victim/file
        "gitignore",  # .mlaudit_cache/.gitignore -> victim/file
        "version-folder",  # .mlaudit_cache/v1 -> victim
        "files-folder",  # .mlaudit_cache/v1/files -> victim
        "shard",  # .mlaudit_cache/v1/files/ab -> victim
        "digests",  # .mlaudit_cache/v1/digests -> victim/file
        "pruned",  # .mlaudit_cache/v1/pruned -> victim/new (dangling: would create it)
    ],
)
def test_a_symlink_in_the_cache_writes_nothing_outside(tmp_path: Path, victim: Path, plant: str) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    cache = root / ".mlaudit_cache"
    targets = {
        "cache-folder": (".", victim), "tag": ("CACHEDIR.TAG", victim / "file"),
        "gitignore": (".gitignore", victim / "file"), "version-folder": ("v1", victim),
        "files-folder": ("v1/files", victim), "shard": ("v1/files/ab", victim),
        "digests": ("v1/digests", victim / "file"), "pruned": ("v1/pruned", victim / "new"),
    }
    relative, target = targets[plant]
    if relative == ".":
        cache.symlink_to(target)
    else:
        (cache / relative).parent.mkdir(parents=True, exist_ok=True)
        (cache / "CACHEDIR.TAG").exists() or relative == "CACHEDIR.TAG" or (cache / "CACHEDIR.TAG").write_text(TAG_TEXT)
        (cache / relative).symlink_to(target)
    before = snapshot(victim)
    for _ in range(2):
        result = run_cli(["check", str(root), "--output-format", "concise"])
        assert result.returncode == 1, result.stderr
        assert "mlaudit: warning: not using the cache" in result.stderr
    assert snapshot(victim) == before
    assert not (victim / "new").exists()


@pytest.mark.parametrize("device", ["/dev/zero", "/dev/stdin", "/dev/urandom"])
def test_a_cache_entry_linked_to_a_device_neither_hangs_nor_fills_memory(tmp_path: Path, device: str) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    assert main(["check", str(root)]) == 1  # a real cache first
    digests = root / ".mlaudit_cache" / "v1" / "digests"
    digests.unlink()
    digests.symlink_to(device)
    result = run_cli(["check", str(root), "--output-format", "concise"], timeout=60)
    assert result.returncode == 1
    assert "v1/digests is a symlink" in result.stderr


def test_cache_entries_are_read_only_as_bounded_regular_files(tmp_path: Path) -> None:
    cache = Cache(tmp_path, ".mlaudit_cache", key=b"k" * 32)
    cache.store("ab" * 32, "value")
    assert cache.load("ab" * 32) == "value"
    entry = tmp_path / ".mlaudit_cache" / "v1" / "files" / "ab" / ("ab" * 32)
    entry.unlink()
    os.mkfifo(entry)
    assert cache.load("ab" * 32) is None  # a FIFO is not opened for reading (it would block)


@pytest.mark.parametrize("setting", ["", ".", "..", "./", "../elsewhere", "a/../../b", "/tmp/mlaudit-elsewhere", ".git", ".git/cache"])
def test_a_cache_dir_setting_outside_the_project_is_exit_2(tmp_path: Path, setting: str) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    with_settings(root, setting)
    before = snapshot(tmp_path)
    for command in (["check", str(root)], ["clean", str(root)]):
        result = run_cli(command)
        assert result.returncode == 2
        assert "cache-dir" in result.stderr and "--cache-dir" in result.stderr
        assert result.stderr.count("\n") == 1
    assert snapshot(tmp_path) == before
    assert not Path("/tmp/mlaudit-elsewhere").exists()


def test_an_existing_folder_that_is_not_a_cache_is_refused(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {**FILES, "src/model.py": "x = 1\n"})
    with_settings(root, "src")
    result = run_cli(["check", str(root)])
    assert result.returncode == 1
    assert "src exists and is not an mlaudit cache" in result.stderr
    assert sorted(p.name for p in (root / "src").iterdir()) == ["model.py"]
    clean = run_cli(["clean", str(root)])
    assert clean.returncode == 2 and "not mlaudit's cache" in clean.stderr
    assert (root / "src" / "model.py").exists()


def test_clean_removes_its_own_cache(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    assert main(["check", str(root)]) == 1
    assert (root / ".mlaudit_cache" / "CACHEDIR.TAG").read_text() == TAG_TEXT
    result = run_cli(["clean", str(root)])
    assert result.returncode == 0 and "removed" in result.stdout
    assert not (root / ".mlaudit_cache").exists()
    again = run_cli(["clean", str(root)])
    assert again.returncode == 0 and "nothing to remove" in again.stdout


def test_clean_never_follows_a_symlinked_cache(tmp_path: Path, victim: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    (victim / "CACHEDIR.TAG").write_text(TAG_TEXT)  # even a signed folder, reached through a symlink
    (root / ".mlaudit_cache").symlink_to(victim)
    before = snapshot(victim)
    result = run_cli(["clean", str(root)])
    assert result.returncode == 2 and "symlink" in result.stderr
    assert snapshot(victim) == before


def test_clean_keeps_what_symlinks_inside_the_cache_point_to(tmp_path: Path, victim: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    assert main(["check", str(root)]) == 1
    (root / ".mlaudit_cache" / "v1" / "link").symlink_to(victim)
    before = snapshot(victim)
    assert run_cli(["clean", str(root)]).returncode == 0
    assert snapshot(victim) == before


def test_clean_an_explicit_cache_dir(tmp_path: Path, victim: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    elsewhere = tmp_path / "caches" / "mine"
    assert main(["check", str(root), "--cache-dir", str(elsewhere)]) == 1
    assert not (root / ".mlaudit_cache").exists()
    assert main(["check", str(root), "--cache-dir", str(elsewhere)]) == 1  # warm
    unsigned = run_cli(["clean", str(root), "--cache-dir", str(victim)])
    assert unsigned.returncode == 2 and victim.exists()
    assert run_cli(["clean", str(root), "--cache-dir", str(elsewhere)]).returncode == 0
    assert not elsewhere.exists() and (tmp_path / "caches").exists()


@pytest.mark.parametrize("where", ["root", "parent", "git"])
def test_removable_refuses_the_project_its_parents_and_git(tmp_path: Path, where: str) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    folder = {"root": root, "parent": tmp_path, "git": root / ".git"}[where]
    (folder / "CACHEDIR.TAG").write_text(TAG_TEXT)  # signed, and still refused
    assert removable(root, folder, explicit=True) is not None
    assert removable(root, folder, explicit=False) is not None
