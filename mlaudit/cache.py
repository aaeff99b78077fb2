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
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import os
import pickle
import secrets
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlaudit import __version__

FORMAT = "v1"
MAX_ENTRIES = 50_000
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


class Cache:
    def __init__(self, root: Path, cache_dir: str, key: bytes | None = None) -> None:
        self.dir = (root / cache_dir).resolve()
        self.files_dir = self.dir / FORMAT / "files"
        self.key = key if key is not None else user_key()
        self.written = 0

    # --- keys ----------------------------------------------------------------------------------

    @staticmethod
    def file_key(path: str, kind: str, digest: str, options: str) -> str:
        text = "\0".join((__version__, FORMAT, options, path, kind, digest))
        return hashlib.sha256(text.encode("utf-8", "surrogateescape")).hexdigest()

    # --- entries -------------------------------------------------------------------------------

    def load(self, name: str) -> Any | None:
        """The object stored under `name`, or None when absent, corrupt or not ours."""
        try:
            data = self._path(name).read_bytes()
        except OSError:
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
        return self._path(name).is_file()

    def store(self, name: str, value: Any) -> None:
        try:
            payload = pickle.dumps(value, protocol=pickle.HIGHEST_PROTOCOL)
            target = self._path(name)
            target.parent.mkdir(parents=True, exist_ok=True)
            self._ensure_marker_files()
            descriptor, temp = tempfile.mkstemp(dir=target.parent, prefix=".tmp-")
            with os.fdopen(descriptor, "wb") as handle:
                handle.write(self._sign(payload) + payload)
            os.replace(temp, target)
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
        ignore = self.dir / ".gitignore"
        if ignore.exists():
            return
        self.dir.mkdir(parents=True, exist_ok=True)
        ignore.write_text("# Created by mlaudit automatically.\n*\n")
        (self.dir / "CACHEDIR.TAG").write_text(
            "Signature: 8a477f597d28d172789f06886806bc55\n# This file is a cache directory tag created by mlaudit.\n"
        )

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
            marker.touch()
        return removed

    def prune(self, max_entries: int = MAX_ENTRIES) -> int:
        """Remove the least recently written entries beyond `max_entries` (and run memos beyond
        MAX_RUNS); return how many."""
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
