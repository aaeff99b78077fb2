"""Per-file analysis for a whole run: cache look-ups first, then the misses, in parallel when that pays.

- Keys: `file_keys` gives each file a key from its content digest (reusing the last run's digest
  when the file's stat is unchanged) and `run_key` one for the whole run.
- Analysis: `analyse_all` loads what the cache has and analyses the rest, in this process and
  forked helpers.

Results are identical whichever path a file takes (cache hit, serial, or a helper process): a
test runs the fixtures every way and compares.
"""

from __future__ import annotations

import functools
import hashlib
import io
import json
import os
import pickle
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlaudit.engine.cache import Cache
from mlaudit.engine.per_file import RuleFactory, analyse_file, extractor_classes, needs_reading
from mlaudit.engine.pool import run_shared
from mlaudit.engine.settings import Settings
from mlaudit.facts.file import FileFacts, FileResult
from mlaudit.files.sources import SourceError, SourceFile, read_bytes
from mlaudit.findings import Finding
from mlaudit.rules import FileRule, PythonRule, Rule, all_rules

# Below this many files to analyse, starting worker processes costs more than it saves.
PARALLEL_MIN_FILES = 48


@dataclass
class AnalysisStats:
    hits: int = 0
    misses: int = 0
    workers: int = 1
    warnings: list[str] = field(default_factory=list)  # degraded but correct: reported, exit code unchanged


def options_fingerprint(settings: Settings) -> str:
    """What, besides a file's own bytes and path, can change its per-file result: the options, the
    per-file rules that run (only the selected ones do), and mlaudit's own code (a development
    checkout changes without a new version number)."""
    data = {
        "options": settings.options,
        "max_bytes": settings.max_bytes,
        "rules": [r.code for r in _per_file_rules(settings)],
        "extractors": [f"{e.__module__}.{e.__name__}" for e in fact_extractors(settings)],
        "code": _code_fingerprint(),
    }
    return hashlib.sha256(json.dumps(data, sort_keys=True, default=str).encode()).hexdigest()[:16]


@functools.cache
def _code_fingerprint() -> str:
    """A digest of mlaudit's own source, by content: a development checkout changes without a new
    version number, and a CI job that installs mlaudit afresh (new mtimes) and restores the cache
    of an earlier job must still hit it (about 1 MB, hashed in a few milliseconds)."""
    package = Path(__file__).resolve().parent.parent  # the whole mlaudit package
    digest = hashlib.sha256()
    for path in sorted(package.rglob("*.py")):
        try:
            content = path.read_bytes()
        except OSError:
            continue
        digest.update(f"{path.relative_to(package).as_posix()}\0{len(content)}\0".encode())
        digest.update(content)
    return digest.hexdigest()


def _per_file_rules(settings: Settings) -> list[type[Rule]]:
    """The per-file rules a run needs: the selected ones. A rule left out would only produce
    findings the report drops (the opt-in ML201, ML303, ML802 and ML803 cost 15 % of lightning's
    per-file walk); the cache key names the rules, so a run with another selection does not reuse
    these results."""
    return [r for r in all_rules() if issubclass(r, (PythonRule, FileRule)) and settings.is_enabled(r.code)]


def fact_extractors(settings: Settings) -> tuple[type, ...]:
    """The family extractors the selected rules need (see `extractor_classes`)."""
    needed = {kind for rule in all_rules() if settings.is_enabled(rule.code) for kind in rule.needs_facts}
    return extractor_classes(needed)


def rule_factories(settings: Settings) -> tuple[list[RuleFactory], list[FileRule]]:
    rules = _per_file_rules(settings)
    python_rules: list[RuleFactory] = [
        functools.partial(rule, settings.rule_options(rule.code)) for rule in rules if issubclass(rule, PythonRule)
    ]
    file_rules = [rule(settings.rule_options(rule.code)) for rule in rules if issubclass(rule, FileRule)]
    return python_rules, file_rules


# The content digests of the last run, by path, with the stat they were taken under. As in git's
# index, a file whose size and times are unchanged is not read again. One exception, git's "racy"
# case: a file changed within a moment of its hashing can keep its size and times, so a stat match
# counts only for files last changed at least this long before the digests were taken.
RACY_NS = 2_000_000_000


@dataclass
class Digests:
    taken_ns: int  # wall-clock time when hashing began
    by_path: dict[str, tuple[int, int, int, str]] = field(default_factory=dict)  # size, mtime, ctime, sha256


def file_keys(files: Sequence[SourceFile], settings: Settings, cache: Cache | None = None) -> dict[str, str | None]:
    """Cache key of every file that is parsed (None when it cannot be read). With a cache, files
    unchanged since the last run (by stat) reuse its digests instead of being read and hashed."""
    options = options_fingerprint(settings)
    known = _load_digests(cache)
    now = Digests(time.time_ns())
    keys: dict[str, str | None] = {}
    for file in files:
        if not needs_reading(file):
            continue
        digest = _trusted_digest(file, known) or _content_digest(file, settings.max_bytes)
        keys[file.path] = _key(file, digest, options) if digest else None
        if digest:
            now.by_path[file.path] = (file.size, file.mtime_ns, file.ctime_ns, digest)
    if cache is not None and (known is None or now.by_path != known.by_path):
        cache.store(DIGESTS, now)
    return keys


DIGESTS = "digests"


def _load_digests(cache: Cache | None) -> Digests | None:
    found = cache.load(DIGESTS) if cache is not None else None
    return found if isinstance(found, Digests) else None


def _trusted_digest(file: SourceFile, known: Digests | None) -> str | None:
    entry = known.by_path.get(file.path) if known is not None else None
    if known is None or entry is None or file.is_symlink:  # a link's own stat says nothing of its target
        return None
    size, mtime, ctime, digest = entry
    settled = max(mtime, ctime) < known.taken_ns - RACY_NS
    return digest if settled and (size, mtime, ctime) == (file.size, file.mtime_ns, file.ctime_ns) else None


def _content_digest(file: SourceFile, max_bytes: int) -> str | None:
    try:
        return hashlib.sha256(read_bytes(file.abs_path, max_bytes)).hexdigest()
    except SourceError:
        return None


def _key(file: SourceFile, digest: str, options: str) -> str:
    kind = f"{file.kind.format}:{','.join(sorted(file.kind.roles))}"
    return Cache.file_key(file.path, kind, digest, options)


def run_key(files: Sequence[SourceFile], keys: dict[str, str | None], settings: Settings) -> str | None:
    """Key of a whole run: every file's content key (or size and mtime for files only stat'ed),
    its git state, and the settings that choose the rules. None when a run cannot be memoised:
    a file could not be read, or DVC files name paths outside the listing, whose existence the
    rules check on disk."""
    digest = hashlib.sha256(options_fingerprint(settings).encode())
    digest.update(json.dumps([settings.select, settings.extend_select, settings.ignore]).encode())
    for file in sorted(files, key=lambda f: f.path):
        if file.has_role("dvc") or (file.path in keys and keys[file.path] is None):
            return None
        stamp = keys.get(file.path) or f"{file.size}:{file.mtime_ns}"
        digest.update(f"{file.path}\0{stamp}\0{file.tracked}\n".encode("utf-8", "surrogateescape"))
    return "run-" + digest.hexdigest()


def analyse_all(
    files: Sequence[SourceFile],
    settings: Settings,
    cache: Cache | None,
    jobs: int | None = None,
    keys: dict[str, str | None] | None = None,
) -> tuple[list[FileResult], AnalysisStats]:
    stats = AnalysisStats()
    options = options_fingerprint(settings) if cache is not None else ""  # it hashes mlaudit's source
    results: dict[str, FileResult] = {}
    keyed: list[tuple[SourceFile, str | None]] = []
    for file in files:
        if not needs_reading(file):  # data files and the like: stat only, nothing to parse
            results[file.path] = FileResult(FileFacts(file.path, file.format))
        elif cache is None:
            keyed.append((file, None))
        else:
            keyed.append((file, keys[file.path] if keys is not None and file.path in keys else _cache_key(file, settings, options)))
    todo, miss_keys = _load_cached(keyed, cache, results, stats)
    stats.misses = len(todo)
    fresh, stats.workers = _analyse(todo, settings, jobs)
    for result in fresh:
        results[result.facts.path] = result
        key = miss_keys.get(result.facts.path)
        if cache is not None and key is not None and not result.errors:
            cache.store(key, result)
    return [results[f.path] for f in files], stats


def _load_cached(
    keyed: list[tuple[SourceFile, str | None]], cache: Cache | None, results: dict[str, FileResult], stats: AnalysisStats
) -> tuple[list[SourceFile], dict[str, str]]:
    """Fill `results` from the cache; return the files left to analyse and where to store each."""
    todo: list[SourceFile] = []
    miss_keys: dict[str, str] = {}
    for file, key in keyed:
        cached = cache.load(key) if cache is not None and key is not None else None
        if isinstance(cached, FileResult) and cached.facts.path == file.path:
            results[file.path] = cached
            stats.hits += 1
            continue
        if key is not None:
            miss_keys[file.path] = key
        todo.append(file)
    return todo, miss_keys


def _cache_key(file: SourceFile, settings: Settings, options: str) -> str | None:
    """Key from the file's content hash; None when it cannot be read (analysis reports why)."""
    digest = _content_digest(file, settings.max_bytes)
    return _key(file, digest, options) if digest else None


def _analyse(files: list[SourceFile], settings: Settings, jobs: int | None) -> tuple[list[FileResult], int]:
    python_rules, file_rules = rule_factories(settings)
    extractors = fact_extractors(settings)

    def work(index: int) -> FileResult:
        return analyse_file(files[index], python_rules, file_rules, settings.max_bytes, extractors)

    workers = _worker_count(len(files), jobs) if can_fork() else 1
    if workers <= 1:
        return [work(i) for i in range(len(files))], 1
    # This process and `workers - 1` forked helpers take files biggest first from one queue
    # (mlaudit.engine.pool), so the last ones taken are the smallest and all finish together.
    results = run_shared(sorted(range(len(files)), key=lambda i: -files[i].size), work, workers - 1)
    return [results[i] for i in range(len(files))], workers


def can_fork() -> bool:
    """Workers are forked, which is cheap and needs no importable `__main__`. But forking a process
    whose native libraries already run threads (a notebook or a test run that imported torch:
    OpenMP pools) can leave workers spinning on locks no thread will release, and the other start
    methods re-import `__main__`, which an embedding script may not guard. So mlaudit runs in
    parallel only in a plain single-threaded process, as the CLI is, and serially elsewhere."""
    if not hasattr(os, "fork"):
        return False
    heavy = any(name in sys.modules for name in ("torch", "tensorflow", "jax", "numpy"))
    return not heavy and threading.active_count() == 1


def _worker_count(count: int, jobs: int | None) -> int:
    if jobs is not None:
        return max(1, jobs)
    if count < PARALLEL_MIN_FILES:
        return 1
    return max(1, min(os.cpu_count() or 1, count // (PARALLEL_MIN_FILES // 2)))


# --- reuse of the last run's results (edits cost what they touch) --------------------------------


@dataclass
class RunState:
    """What the last run of a project found, by file: the next run takes every file whose content
    key is unchanged from here instead of loading its cached result, and the project findings too
    when no changed file's facts changed (see `reusable_project`)."""

    keys: dict[str, str]  # path -> content key of every file that was read
    findings: dict[str, tuple[list[Finding], list[str]]]  # path -> its per-file findings and errors
    shape: str  # `project_shape` of that run
    project: tuple[list[Finding], list[str]]  # the project rules' findings and errors


def state_key(root: Path, settings: Settings) -> str:
    """Where the memo key of this project's latest run with these settings is kept (one per
    project root, so projects sharing a --cache-dir do not evict each other's)."""
    digest = hashlib.sha256(options_fingerprint(settings).encode())
    digest.update(json.dumps([str(root), settings.select, settings.extend_select, settings.ignore]).encode())
    return "run-latest-" + digest.hexdigest()


def project_shape(files: Sequence[SourceFile], keys: dict[str, str | None], settings: Settings) -> str:
    """Everything the project rules read besides the facts of Python files: the file list with
    each file's kind and git state, the content of every other file read (its key; for files only
    stat'ed, size and mtime), and of Python files their size only where ML402 would look at it.
    Two runs with the same shape and the same facts of every Python file have the same project
    findings."""
    by_content = _reads_source(settings)
    threshold = float(settings.rule_options("ML402").get("max-size-mib", 1.0)) * 2**20
    digest = hashlib.sha256()
    for file in sorted(files, key=lambda f: f.path):
        if file.path in keys and not by_content and _facts_decide(file):
            stamp = "python" if file.size <= threshold else f"python:{file.size}"
        else:
            stamp = keys.get(file.path) or f"{file.size}:{file.mtime_ns}"
        kind = f"{file.kind.format}:{','.join(sorted(file.kind.roles))}"
        line = f"{file.path}\0{kind}\0{stamp}\0{file.tracked}\0{file.is_symlink}\0{file.outside}\n"
        digest.update(line.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


# Python files the project analyses read from disk as text, not only through their facts
# (analysis.modules reads package roots from them).
_READ_AS_TEXT = frozenset({"setup.py"})


def _facts_decide(file: SourceFile) -> bool:
    """Whether the project rules see this file only through its facts."""
    return file.format in ("python", "notebook") and file.name not in _READ_AS_TEXT


def _reads_source(settings: Settings) -> bool:
    return any(getattr(rule, "reads_source", False) and settings.is_enabled(rule.code) for rule in all_rules())


def changed_files(files: Sequence[SourceFile], keys: dict[str, str | None], state: RunState) -> list[SourceFile]:
    """The files read now whose content key differs from the last run's (or that it did not read)."""
    return [f for f in files if f.path in keys and state.keys.get(f.path) != keys[f.path]]


def same_facts(old: FileFacts, new: FileFacts) -> bool:
    """Whether two results of one file carry the same facts: compared as canonical pickles, with
    sets sorted, since equal sets can iterate in different orders."""
    before, after = _canonical(old), _canonical(new)
    return before is not None and before == after


class _CanonicalPickler(pickle.Pickler):
    def reducer_override(self, obj: Any) -> Any:
        if isinstance(obj, (set, frozenset)):
            return type(obj), (sorted(obj, key=repr),)
        return NotImplemented


def _canonical(value: Any) -> bytes | None:
    """The canonical pickle, or None for facts that cannot be pickled (compared as changed).
    Without the pickler's memo (`fast`), so that an object referred to twice is written twice:
    facts just built share strings that the same facts unpickled do not."""
    buffer = io.BytesIO()
    pickler = _CanonicalPickler(buffer, protocol=pickle.HIGHEST_PROTOCOL)
    pickler.fast = True  # facts hold no cycles
    try:
        pickler.dump(value)
    except (pickle.PicklingError, TypeError, AttributeError, RecursionError, ValueError):
        return None
    return buffer.getvalue()
