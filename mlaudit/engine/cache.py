"""Content-addressed cache of per-file results, and a memo of whole runs.

Layout under `<root>/.mlaudit_cache/` (it carries its own `.gitignore` of `*`, as ruff's does):
  v1/files/<2 hex>/<key>   one `FileResult` per key = hash(version, options, path, kind, content digest)
  v1/runs/run-<key>        a whole run's findings, keyed by every file's key and the settings
                           (the newest MAX_RUNS are kept)
  v1/digests               the last run's content digests with each file's stat, so that files
                           unchanged since then are not read again (analyse.file_keys)

Entries are pickled, because facts are nested dataclasses and must load fast, but a pickle from
an untrusted folder could run code. So every entry is signed with HMAC-SHA256 under a per-user
key kept outside the repository (`~/.cache/mlaudit/key`); an entry whose signature does not
verify (tampered, corrupt, truncated, or written by another user) is ignored and rewritten.
Writes go to a temporary file and are renamed into place, so concurrent runs never see half an
entry. The cache is bounded: the oldest entries are removed beyond `MAX_ENTRIES`, checked at most
every `PRUNE_EVERY_SECONDS` (`v1/pruned` records when).

The folder lies in a repository that may be hostile, so it is used only when it is safe
(`Cache.refusal`): a `cache-dir` setting names a folder inside the project (`--cache-dir` on the
command line may name any folder); no part of the path from the project to any folder or marker
of the cache is a symlink; and the folder is new, empty, or already signed by mlaudit's
`CACHEDIR.TAG`. Otherwise the run goes on uncached, with a warning. Every file of the cache is
written to a new temporary file and renamed over its name (so never through a symlink planted
there) and read only when it is a regular file of bounded size (never `/dev/zero` or a FIFO).
`mlaudit clean` removes only a folder that carries the signature (`removable`).
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import pickle
import stat
import time
from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from typing import Any

from mlaudit import __version__

FORMAT = "v1"
DEFAULT_DIR = ".mlaudit_cache"
MAX_ENTRIES = 50_000
MAX_ENTRY_BYTES = 1024 * 2**20  # an entry larger than this was not written by mlaudit
TAG = "CACHEDIR.TAG"
TAG_TEXT = "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by mlaudit.\n"
# The folders and files of a cache, and whether each is a folder (no entry may be a symlink).
LAYOUT = {TAG: False, ".gitignore": False, FORMAT: True, f"{FORMAT}/files": True, f"{FORMAT}/runs": True,
          f"{FORMAT}/digests": False, f"{FORMAT}/pruned": False}
MAX_RUNS = 16
PRUNE_EVERY_SECONDS = 600
_SIGNATURE_BYTES = 32


def user_key() -> bytes:
    """The per-user signing key, created on first use with owner-only permissions."""
    base = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "mlaudit"
    key_file = base / "key"
    try:
        return key_file.read_bytes()[:64] or _new_key(base, key_file)
    except OSError:
        return _new_key(base, key_file)


def _new_key(base: Path, key_file: Path) -> bytes:
    import secrets  # imported where a cache is written, as tempfile: a --no-cache run needs neither
    import tempfile

    key = secrets.token_bytes(32)
    try:
        base.mkdir(parents=True, exist_ok=True)
        descriptor, temp = tempfile.mkstemp(dir=base)
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(key)
        os.chmod(temp, 0o600)
        os.replace(temp, key_file)
        return key_file.read_bytes()[:64]  # another process may have won the race: use theirs
    except OSError:
        return key  # read-only home: the cache still works for this run, then misses


class CacheSettingError(ValueError):
    """A `cache-dir` setting that names no folder inside the project."""


def cache_location(root: Path, setting: str, explicit: Path | None = None) -> Path:
    """Where the cache of the project at `root` lives: `explicit` (from `--cache-dir`, any folder),
    else the `cache-dir` setting, which the repository controls and so must name a folder inside
    the project: relative, not the project itself, with no `..` and no `.git`."""
    if explicit is not None:
        return Path(os.path.abspath(explicit))
    parts = PurePosixPath(setting.replace("\\", "/")).parts if setting else ()
    problem = (
        "is empty" if not setting.strip()
        else "contains a NUL byte" if "\0" in setting
        else "is an absolute path" if os.path.isabs(setting) or PurePosixPath(setting.replace("\\", "/")).is_absolute()
        else "names the project folder itself" if all(p == "." for p in parts)
        else "leaves the project (`..`)" if ".." in parts
        else "lies inside .git" if any(p.lower() == ".git" for p in parts)
        else None
    )
    if problem is not None:
        raise CacheSettingError(
            f"cache-dir = {setting!r} {problem}; it must name a folder inside the project, such as "
            f"{DEFAULT_DIR!r} (to keep the cache elsewhere, pass --cache-dir PATH on the command line)"
        )
    return Path(os.path.abspath(root / setting))


class Cache:
    def __init__(self, root: Path, cache_dir: str | Path, key: bytes | None = None) -> None:
        self.root = Path(os.path.abspath(root))
        self.dir = Path(os.path.abspath(self.root / cache_dir))  # not resolved: a symlink there is refused
        self.files_dir = self.dir / FORMAT / "files"
        self.key = key if key is not None else user_key()
        self.written = 0
        self.refused: str | None = None

    # --- safety --------------------------------------------------------------------------------

    def refusal(self) -> str | None:
        """Why this folder must not be used as the cache (a symlink on the way, a folder that is
        not mlaudit's, a marker that is a symlink or a device...), or None when it may. Once
        refused, the cache neither reads nor writes."""
        if self.refused is None:
            self.refused = _refusal(self.root, self.dir)
        return self.refused or None

    def usable(self) -> bool:
        return self.refusal() is None

    # --- keys ----------------------------------------------------------------------------------

    @staticmethod
    def file_key(path: str, kind: str, digest: str, options: str) -> str:
        text = "\0".join((__version__, FORMAT, options, path, kind, digest))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    # --- entries -------------------------------------------------------------------------------

    def load(self, name: str) -> Any | None:
        """The object stored under `name`, or None when absent, corrupt or not ours."""
        if not self.usable():
            return None
        data = _read_entry(self._path(name))
        if data is None:
            return None
        signature, payload = data[:_SIGNATURE_BYTES], data[_SIGNATURE_BYTES:]
        if not hmac.compare_digest(signature, self._sign(payload)):
            return None
        try:
            return pickle.loads(payload)  # verified above: only this user's own writes get here
        except Exception:  # noqa: BLE001 - a stale class layout or truncated entry is a miss
            return None

    def has(self, name: str) -> bool:
        """Whether an entry exists (it may still fail to load: `load` decides)."""
        return self.usable() and self._path(name).is_file()

    def store(self, name: str, value: Any) -> None:
        if not self.usable():
            return
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            target = self._path(name)
            self._ensure_marker_files()
            _make_folders(self.dir, target.parent)
            _write_new(target, self._sign(payload) + payload)
            self.written += 1
        except (OSError, pickle.PicklingError, TypeError, AttributeError):
            return  # a read-only checkout still gets a correct (uncached) run

    def _path(self, name: str) -> Path:
        if name.startswith("run-"):
            return self.dir / FORMAT / "runs" / name
        if name == "digests":
            return self.dir / FORMAT / name
        return self.files_dir / name[:2] / name

    def _sign(self, payload: bytes) -> bytes:
        return hmac.new(self.key, payload, hashlib.sha256).digest()

    def _ensure_marker_files(self) -> None:
        """Sign the folder (CACHEDIR.TAG first: `clean` removes only a signed folder) and keep it
        out of git. Both are written as new files renamed into place, never through a symlink."""
        if os.path.lexists(self.dir / ".gitignore"):
            return
        if self.dir.is_relative_to(self.root):
            _make_folders(self.root, self.dir)
        else:
            self.dir.mkdir(parents=True, exist_ok=True)  # named with --cache-dir: the user's own path
        _write_new(self.dir / TAG, TAG_TEXT.encode())
        _write_new(self.dir / ".gitignore", b"# Created by mlaudit automatically.\n*\n")

    # --- size bound ----------------------------------------------------------------------------

    def prune_if_due(self, max_entries: int = MAX_ENTRIES) -> int:
        """`prune`, at most once per PRUNE_EVERY_SECONDS: listing every entry after every run that
        wrote would cost a run more than the bound is worth (it may overshoot by a few minutes of
        entries)."""
        marker = self.dir / FORMAT / "pruned"
        try:
            if time.time() - marker.stat().st_mtime < PRUNE_EVERY_SECONDS:
                return 0
        except OSError:
            pass  # never pruned yet
        removed = self.prune(max_entries)
        with contextlib.suppress(OSError):
            _write_new(marker, b"")
        return removed

    def prune(self, max_entries: int = MAX_ENTRIES) -> int:
        """Remove the least recently written entries beyond `max_entries` (and run memos beyond
        MAX_RUNS); return how many."""
        if not self.usable():
            return 0
        removed = _remove_oldest(list((self.dir / FORMAT / "runs").glob("run-*")), MAX_RUNS)
        return removed + _remove_oldest(_entries(self.files_dir), max_entries)


def _entries(files_dir: Path) -> list[str]:
    """Every file entry. Runs after every run that wrote, so it lists with scandir, which knows
    a file from a folder without a stat call per entry."""
    found: list[str] = []
    try:
        with os.scandir(files_dir) as shards:
            folders = [shard.path for shard in shards if shard.is_dir(follow_symlinks=False)]
    except OSError:
        return found
    for folder in folders:
        try:
            with os.scandir(folder) as entries:
                found += [e.path for e in entries if e.is_file(follow_symlinks=False)]
        except OSError:
            continue
    return found


def _remove_oldest(entries: Sequence[str | Path], keep: int) -> int:
    if len(entries) <= keep:
        return 0
    ordered = sorted(entries, key=_mtime)
    removed = 0
    for path in ordered[: len(ordered) - keep]:
        try:
            os.unlink(path)
            removed += 1
        except OSError:
            continue
    return removed


def _mtime(path: str | Path) -> float:
    try:
        return os.stat(path).st_mtime
    except OSError:
        return 0.0


# --- the folder's safety -------------------------------------------------------------------------


def _refusal(root: Path, folder: Path) -> str:
    """"" when `folder` may be the cache, else why not (see the module docstring)."""
    name = _shown(root, folder)
    if folder == root or root.is_relative_to(folder):
        return f"the cache folder {name} is the project folder or above it"
    if folder.is_relative_to(root):
        # The project's own path may hold symlinks (a checkout under a linked folder); below it,
        # the repository decides, so nothing there may be one.
        step = root
        for part in folder.relative_to(root).parts:
            step = step / part
            problem = _not_a_real(step, folder=True)
            if problem == "missing":
                return ""  # created on the first write, as real folders
            if problem:
                return f"{_shown(root, step)} is {problem}"
    elif not folder.exists():
        return ""
    try:
        is_empty = not any(os.scandir(folder))
    except OSError as exc:
        return f"the cache folder {name} cannot be listed ({exc.strerror or exc})"
    if not is_empty and not is_signed(folder):
        return f"{name} exists and is not an mlaudit cache (it has no CACHEDIR.TAG written by mlaudit)"
    for relative, is_folder in LAYOUT.items():
        problem = _not_a_real(folder / relative, folder=is_folder)
        if problem and problem != "missing":
            return f"{_shown(root, folder / relative)} is {problem}"
    return _symlinked_shard(root, folder / FORMAT / "files")


def _symlinked_shard(root: Path, files_dir: Path) -> str:
    try:
        with os.scandir(files_dir) as shards:
            for shard in shards:
                if shard.is_symlink() or not shard.is_dir(follow_symlinks=False):
                    return f"{_shown(root, Path(shard.path))} is not a plain folder"
    except OSError:
        pass  # no entries yet
    return ""


def _not_a_real(path: Path, folder: bool) -> str:
    """"" when `path` is a real folder (or regular file), "missing", or what it is instead."""
    try:
        mode = os.lstat(path).st_mode
    except FileNotFoundError:
        return "missing"
    except OSError as exc:
        return f"unreadable ({exc.strerror or exc})"
    if stat.S_ISLNK(mode):
        return "a symlink"
    if folder and not stat.S_ISDIR(mode):
        return "not a folder"
    if not folder and not stat.S_ISREG(mode):
        return "not a regular file"
    return ""


def _shown(root: Path, path: Path) -> str:
    return path.relative_to(root).as_posix() if path.is_relative_to(root) else str(path)


def is_signed(folder: Path) -> bool:
    """Whether `folder` carries mlaudit's own CACHEDIR.TAG (a regular file, not a symlink)."""
    data = _read_entry(folder / TAG, limit=4096)
    return data is not None and data.decode("utf-8", "replace") == TAG_TEXT


def removable(root: Path, folder: Path, explicit: bool) -> str | None:
    """Why `mlaudit clean` must not remove `folder`, or None when it may: only a real folder (not
    a symlink) signed by mlaudit, inside the project unless the user named it on the command line,
    and never the project, a folder above it, or anything of git's."""
    root = Path(os.path.abspath(root))
    if folder == root or root.is_relative_to(folder) or Path(os.path.realpath(root)).is_relative_to(os.path.realpath(folder)):
        return "it is the project folder or above it"
    if ".git" in (part.lower() for part in folder.parts):
        return "it lies inside a .git folder"
    problem = _not_a_real(folder, folder=True)
    if problem:
        return "it does not exist" if problem == "missing" else f"it is {problem}"
    if not explicit and not Path(os.path.realpath(folder)).is_relative_to(os.path.realpath(root)):
        return "it lies outside the project (pass it with --cache-dir to remove it)"
    if not is_signed(folder):
        return "it carries no CACHEDIR.TAG written by mlaudit, so it is not mlaudit's cache"
    return None


def _read_entry(path: Path, limit: int = MAX_ENTRY_BYTES) -> bytes | None:
    """The bytes of a regular file (not a symlink, FIFO or device) of at most `limit` bytes."""
    try:
        descriptor = os.open(path, _READ_FLAGS)
    except OSError:
        return None
    with os.fdopen(descriptor, "rb") as handle:
        info = os.fstat(descriptor)
        if not stat.S_ISREG(info.st_mode) or info.st_size > limit:
            return None
        try:
            return handle.read(limit + 1)
        except OSError:
            return None


_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def _make_folders(base: Path, folder: Path) -> None:
    """Create `folder` below `base` one level at a time; OSError when a level exists as anything
    but a real folder (a symlink planted there after the cache was checked)."""
    step = base
    for part in folder.relative_to(base).parts:
        step = step / part
        with contextlib.suppress(FileExistsError):
            os.mkdir(step)
        if _not_a_real(step, folder=True):
            raise OSError(0, f"{step} is not a plain folder")


def _write_new(target: Path, data: bytes) -> None:
    """Write `data` to a new temporary file beside `target` and rename it over `target`: a symlink
    or anything else at `target` is replaced, never written through."""
    import tempfile  # see _new_key

    descriptor, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.replace(temp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
