"""`mlaudit check` from paths to a `RunResult`: discover, analyse each file, run project rules,
apply suppressions. No printing here; the CLI hands the result to a reporter."""

from __future__ import annotations

import contextlib
import dataclasses
import gc
import os
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISLNK

from mlaudit.engine.adopt import Narrowed, baseline_path, narrow
from mlaudit.engine.analyse import (
    AnalysisStats,
    RunState,
    analyse_all,
    changed_files,
    file_keys,
    project_shape,
    run_key,
    same_facts,
    state_key,
)
from mlaudit.engine.cache import Cache, CacheSettingError, cache_location
from mlaudit.engine.discover import exclude_spec, find_root, list_files
from mlaudit.engine.per_file import needs_reading
from mlaudit.engine.result import RunResult
from mlaudit.engine.settings import ConfigError, Settings, enabled_rules, load_settings
from mlaudit.engine.shift import LineMap, line_map, shift
from mlaudit.engine.suppress import UNUSED_NOQA, suppress
from mlaudit.facts.file import FileResult
from mlaudit.files import kinds
from mlaudit.files.boundary import OUTSIDE, read_inside, screen
from mlaudit.files.git import find_git_root
from mlaudit.files.sources import SourceFile
from mlaudit.findings import Finding
from mlaudit.project.git import GitState, read_git_state
from mlaudit.project.model import ProjectModel
from mlaudit.rules import ProjectRule

# copier.yml is read for its `_subdirectory:` line only; a settings file is small.
COPIER_SETTINGS_MAX_BYTES = 64 * 1024


@dataclass
class CheckOptions:
    config_file: Path | None = None
    select: list[str] | None = None  # replaces the configured select
    extend_select: Sequence[str] = ()
    ignore: Sequence[str] = ()
    use_cache: bool = True
    cache_dir: Path | None = None  # from --cache-dir: any folder; the setting must lie inside the project
    jobs: int | None = None  # worker processes; None chooses from the machine and the work
    # Adoption (mlaudit.engine.adopt): hide findings a baseline lists / on lines unchanged since a ref.
    baseline: Path | None = None  # None: the configured one, if any
    use_baseline: bool = True  # False for `mlaudit baseline`, which must see every finding
    diff_base: str | None = None


def build_settings(root: Path, options: CheckOptions) -> Settings:
    settings = load_settings(root, options.config_file)
    if options.select is not None:
        settings.select = list(options.select)
    settings.extend_select += list(options.extend_select)
    settings.ignore += list(options.ignore)
    return settings


def discover(root: Path, settings: Settings) -> tuple[dict[str, SourceFile], GitState | None]:
    files, git, _ = discover_files(root, settings)
    return files, git


def discover_files(root: Path, settings: Settings) -> tuple[dict[str, SourceFile], GitState | None, list[str]]:
    """The files to audit, the git state, and a warning for each file that must not be opened."""
    git = read_git_state(root)
    spec = exclude_spec([*settings.exclude, *settings.extend_exclude])
    top = os.path.realpath(git.top if git is not None else (find_git_root(root) or root))
    paths = list_files(root, git, spec)
    templates = kinds.find_templates(paths, _copier_subdirectory(root, paths))
    files = {}
    warnings = []
    for rel in paths:
        file, skipped = _source_file(root, rel, git, top, templates)
        if skipped is not None:
            warnings.append(f"skipped {rel}: {skipped}; it was not read")
        if file is not None:
            files[rel] = file
    if len(warnings) > MAX_SKIP_WARNINGS:
        more = len(warnings) - MAX_SKIP_WARNINGS + 1
        warnings[MAX_SKIP_WARNINGS - 1 :] = [f"skipped {more} more files (symlinks out of the repository, FIFOs, devices)"]
    return files, git, warnings


MAX_SKIP_WARNINGS = 10  # then one line for the rest


def _copier_subdirectory(root: Path, paths: list[str]) -> str | None:
    """The template folder that a root copier.yml names (read only inside the repository)."""
    for name in sorted(kinds.COPIER_MARKERS & set(paths)):
        data = read_inside(root, root / name, COPIER_SETTINGS_MAX_BYTES)
        if data is not None:
            return kinds.copier_subdirectory(data.decode("utf-8", errors="replace"))
    return None


def _source_file(
    root: Path, rel: str, git: GitState | None, top: str, templates: kinds.Templates | None = None
) -> tuple[SourceFile | None, str | None]:
    """The file, and why it is not read when it is not. A FIFO, device or socket is no file to
    audit; a symlink out of the repository stays listed (a data folder linked in from a mount is
    common) but is never opened, and a warning says so when its content would have been read."""
    abs_path = root / rel
    try:
        status = os.lstat(abs_path)
    except OSError:
        size, is_link, mtime, ctime, reason = -1, False, 0, 0, None  # vanished: the reader reports it
    else:
        size, is_link, mtime, ctime = status.st_size, S_ISLNK(status.st_mode), status.st_mtime_ns, status.st_ctime_ns
        reason = screen(abs_path, top, status.st_mode)
    tracked = git.is_tracked(rel) if git is not None else None
    if reason is not None and reason != OUTSIDE:
        return None, reason
    kind = kinds.classify(rel, templates)
    file = SourceFile(rel, abs_path, kind, size, tracked, is_link, mtime, ctime, outside=reason == OUTSIDE)
    return file, reason if file.outside and needs_reading(dataclasses.replace(file, outside=False)) else None


def run_project_rules(model: ProjectModel) -> tuple[list[Finding], list[str]]:
    findings: list[Finding] = []
    errors: list[str] = []
    for rule_class in enabled_rules(model.settings):
        if not issubclass(rule_class, ProjectRule) or rule_class.runtime:
            continue
        rule = rule_class(model.options(rule_class.code))
        try:
            findings.extend(rule.check(model))
        except Exception as exc:  # noqa: BLE001 - one rule's bug must not lose the others' findings
            errors.append(f"internal error in {rule.code} ({rule.name}): {type(exc).__name__}: {exc}")
    return findings, errors


def check_paths(paths: Sequence[Path], options: CheckOptions | None = None) -> RunResult:
    """Audit the project containing `paths`; report only findings located in them."""
    with paused_gc():
        return _check(paths, options or CheckOptions())


@contextlib.contextmanager
def paused_gc() -> Iterator[None]:
    """Run without the cyclic garbage collector. A run allocates millions of small objects that
    form no cycles (syntax trees, facts, unpickled cache entries) and reference counting frees
    them; the collector would traverse them again and again: a third of a cold run's CPU, and
    most of the time spent unpickling cached facts. Forked workers inherit the pause. (Restarting
    it costs one pass over what the run left alive; the CLI, which exits anyway, never does.)"""
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.enable()


def _check(paths: Sequence[Path], options: CheckOptions) -> RunResult:
    clock = _Clock()
    targets = [_target(p) for p in paths] or [Path.cwd().resolve()]
    missing = [t for t in targets if not os.path.lexists(t)]
    if missing:
        # A missing path would otherwise make its parent (up to "/") the project: refuse it.
        raise FileNotFoundError(f"no such file or folder: {missing[0]}")
    root = find_root(targets[0])
    settings = build_settings(root, options)
    files, git, skipped = discover_files(root, settings)
    clock.lap("discover")
    cache, refused = open_cache(root, settings, options)
    found, stats = _all_findings(root, files, git, settings, cache, options, clock)
    findings = [f for f in found.findings if settings.is_enabled(f.code)]
    errors = found.errors
    scope = _scope(root, targets)
    findings = _in_scope(findings, scope)
    in_scope = len(files) if scope is None else sum(1 for rel in files if _inside(rel, scope))
    silenced = suppress(findings, root, settings, _noqa_scan(files, scope, settings))
    narrowed = _narrow(root, git, silenced.kept, settings, scope, options)
    kept = narrowed.findings
    kept.sort(key=Finding.sort_key)
    clock.lap("suppress")
    return RunResult(
        root=root,
        findings=kept,
        rules=[r for r in enabled_rules(settings) if not r.runtime],
        exit_code=2 if errors else (1 if kept else 0),
        execution_successful=not errors,
        notifications=errors,
        warnings=[*skipped, *refused, *stats.warnings, *silenced.warnings],
        suppressed=silenced.dropped,
        adoption_notes=narrowed.notes,
        files_checked=in_scope,
        # Only when nothing was checked, as ruff does: pre-commit passing an excluded file next
        # to others is normal and needs no message.
        unchecked_targets=_without_files(root, targets, files, settings) if not in_scope else [],
        source_root=git.top if git is not None else None,
        timings=clock.laps,
        cache_hits=stats.hits,
        workers=stats.workers,
    )


def _noqa_scan(files: dict[str, SourceFile], scope: list[str] | None, settings: Settings) -> list[str]:
    """Files whose noqa comments ML002 (off by default) must read: every text file in scope."""
    if not settings.is_enabled(UNUSED_NOQA):
        return []
    text = [rel for rel, f in files.items() if f.kind.format not in ("binary", "other", "json")]
    return [rel for rel in text if scope is None or any(rel == p or rel.startswith(p.rstrip("/") + "/") for p in scope)]


def _narrow(
    root: Path, git: GitState | None, findings: list[Finding], settings: Settings, scope: list[str] | None, options: CheckOptions
) -> Narrowed:
    baseline = baseline_path(root, settings, options.baseline) if options.use_baseline else None
    diff_base = options.diff_base if options.use_baseline else None
    if baseline is None and diff_base is None:
        return Narrowed(findings)
    return narrow(root, git, findings, settings, scope, baseline, diff_base)


def open_cache(root: Path, settings: Settings, options: CheckOptions) -> tuple[Cache | None, list[str]]:
    """The run's cache, or None with a warning when its folder is unsafe (cache.Cache.refusal)."""
    if not options.use_cache:
        return None, []
    try:
        location = cache_location(root, settings.cache_dir, options.cache_dir)
    except CacheSettingError as exc:
        raise ConfigError(str(exc)) from None
    cache = Cache(root, location)
    problem = cache.refusal()
    if problem is None:
        return cache, []
    return None, [f"not using the cache: {problem}; running without it (remove that path, or pass --cache-dir)"]


class _Clock:
    def __init__(self) -> None:
        self.laps: dict[str, float] = {}
        self.last = time.perf_counter()

    def lap(self, name: str) -> None:
        now = time.perf_counter()
        self.laps[name] = now - self.last
        self.last = now


@dataclass
class RunMemo:
    """Every finding of a run before scoping and suppression: reused as is when no file changed,
    and its `state` by a later run where some did."""

    findings: list[Finding]
    errors: list[str]
    state: RunState | None = None


def _all_findings(
    root: Path,
    files: dict[str, SourceFile],
    git: GitState | None,
    settings: Settings,
    cache: Cache | None,
    options: CheckOptions,
    clock: _Clock,
) -> tuple[RunMemo, AnalysisStats]:
    """Per-file and project findings: from the run memo when nothing changed since a run with the
    same settings; else from the last run's state for every file that did not change, and its
    project findings too when the changed files' facts did not change; else analysed (per-file
    results cached) with every project rule run. Each way gives the same findings as a cold run
    (tests/test_incremental.py edits fixture projects and compares)."""
    listed = list(files.values())
    keys = file_keys(listed, settings, cache) if cache is not None else {}
    memo_key = run_key(listed, keys, settings) if cache is not None else None
    memo = cache.load(memo_key) if cache is not None and memo_key is not None else None
    # The project's latest run, by its memo key: a run that cannot be memoised (an unreadable
    # file, DVC files checked on disk) has none.
    latest = state_key(root, settings) if cache is not None and memo_key is not None else None
    if isinstance(memo, RunMemo):
        clock.lap("analyse")
        clock.lap("project")
        if cache is not None and latest is not None and cache.load(latest) != memo_key:
            cache.store(latest, memo_key)  # back to an earlier tree (an edit undone, a branch switched)
        return memo, AnalysisStats(hits=len(keys))
    shape = project_shape(listed, keys, settings) if latest is not None else ""
    last = _latest_state(cache, latest)
    reused, fresh, stats = _from_state(listed, keys, settings, cache, options, last, shape)
    if reused is not None:
        found = reused
        clock.lap("analyse")
        clock.lap("project")
    else:
        # The changed files were analysed by the attempt above: only the others are left.
        done = {r.facts.path: r for r in fresh}
        rest, more = analyse_all([f for f in listed if f.path not in done], settings, cache, options.jobs, keys)
        done.update((r.facts.path, r) for r in rest)
        every = [done[f.path] for f in listed]
        stats = AnalysisStats(stats.hits + more.hits, stats.misses + more.misses, max(stats.workers, more.workers),
                              stats.warnings + more.warnings)
        clock.lap("analyse")
        model = ProjectModel(root, files, {r.facts.path: r.facts for r in every}, git, settings)
        project_findings, project_errors = run_project_rules(model)
        clock.lap("project")
        by_path = {r.facts.path: (r.findings, r.errors) for r in every if r.facts.path in keys}
        found = RunMemo(
            [f for r in every for f in r.findings] + project_findings,
            [e for r in every for e in r.errors] + project_errors,
            RunState({p: k for p, k in keys.items() if k}, by_path, shape, (project_findings, project_errors)),
        )
    if cache is not None:
        if memo_key is not None and not found.errors and not stats.warnings:
            cache.store(memo_key, found)
            if latest is not None:
                cache.store(latest, memo_key)
        if cache.written:
            cache.prune_if_due()
    return found, stats


def _latest_state(cache: Cache | None, latest: str | None) -> RunState | None:
    pointer = cache.load(latest) if cache is not None and latest is not None else None
    memo = cache.load(pointer) if cache is not None and isinstance(pointer, str) and pointer.startswith("run-") else None
    return memo.state if isinstance(memo, RunMemo) and isinstance(memo.state, RunState) else None


def _from_state(
    listed: list[SourceFile],
    keys: dict[str, str | None],
    settings: Settings,
    cache: Cache | None,
    options: CheckOptions,
    state: RunState | None,
    shape: str,
) -> tuple[RunMemo | None, list[FileResult], AnalysisStats]:
    """The findings of a run where only Python files changed and none of their facts did (a
    comment, a reworded message, a changed constant) or only their lines moved (a line inserted or
    removed: mlaudit.engine.shift): the changed files are analysed, every other file's findings and
    the project findings are the last run's (moved with the lines). No memo when the project rules
    must run again (another file changed, or a changed file's facts did); then the changed files'
    fresh results come back, so that the full run does not analyse (or count) them twice."""
    if cache is None or state is None or state.shape != shape:
        return None, [], AnalysisStats()
    changed = changed_files(listed, keys, state)
    fresh, stats = analyse_all(changed, settings, cache, options.jobs, keys)
    moved: dict[str, LineMap] = {}
    for file, result in zip(changed, fresh, strict=True):
        old = cache.load(state.keys[file.path]) if file.path in state.keys else None
        if not isinstance(old, FileResult) or result.errors:
            return None, fresh, stats
        if not same_facts(old.facts, result.facts):
            lines = line_map(old.facts, result.facts)
            if lines is None:
                return None, fresh, stats
            moved[file.path] = lines
    project_findings, project_errors = state.project
    if moved:  # only lines moved: the same findings, at the lines they moved to
        shifted = shift(project_findings, moved)
        if shifted is None or project_errors:
            return None, fresh, stats
        project_findings = shifted
    by_path = dict(state.findings)
    by_path.update((r.facts.path, (r.findings, r.errors)) for r in fresh)
    per_file = [by_path.get(f.path, ([], [])) for f in listed]
    stats.hits += len(keys) - len(changed)
    now = RunState({p: k for p, k in keys.items() if k}, by_path, shape, (project_findings, project_errors))
    found = RunMemo([f for found, _ in per_file for f in found] + project_findings,
                    [e for _, errors in per_file for e in errors] + project_errors, now)
    return found, fresh, stats


def _target(path: Path) -> Path:
    """The absolute path, with a final symlink kept as it is: `check requirements.txt`, where that
    file links to `~/.netrc`, audits the repository holding the link, never the folder its target
    lies in (a pre-commit hook passes such names unasked)."""
    if os.path.islink(path):
        absolute = Path(os.path.abspath(path))
        return absolute.parent.resolve() / absolute.name
    return path.resolve()


def _scope(root: Path, targets: Sequence[Path]) -> list[str] | None:
    """Repo-relative prefixes to report on; None means the whole project."""
    prefixes = []
    for target in targets:
        rel = _relative_to(target, root)
        if rel is None:
            continue
        if rel in ("", "."):
            return None
        prefixes.append(rel)
    return prefixes


def _relative_to(target: Path, root: Path) -> str | None:
    """`target` relative to `root`. A folder named through a link (`check ~/repos/x`, where x
    links to the clone) found its root by following the link, so its scope does too."""
    for candidate in (target, target.resolve()):
        try:
            return candidate.relative_to(root).as_posix()
        except ValueError:
            continue
    return None


def _inside(path: str, prefixes: list[str]) -> bool:
    return any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes)


def _in_scope(findings: list[Finding], prefixes: list[str] | None) -> list[Finding]:
    if prefixes is None:
        return findings
    return [f for f in findings if _inside(f.path, prefixes) or any(_inside(p, prefixes) for p in f.related_paths)]


def _relative(path: str, root: Path) -> str:
    try:
        return Path(path).relative_to(root).as_posix() if path else ""
    except ValueError:
        return path


def _without_files(root: Path, targets: Sequence[Path], files: dict[str, SourceFile], settings: Settings) -> list[str]:
    """A line for each target that holds no file to check, saying why (nothing checked there is
    not the same as nothing found there)."""
    lines = []
    for target in targets:
        rel = _relative_to(target, root)
        if rel is None:
            continue
        if rel in ("", ".") and files:
            continue
        if rel not in ("", ".") and any(_inside(path, [rel]) for path in files):
            continue
        shown = rel if rel not in ("", ".") else str(root)
        spec = exclude_spec([*settings.exclude, *settings.extend_exclude])
        if rel not in ("", ".") and (spec.match_file(rel) or spec.match_file(rel + "/")):
            config = _relative(settings.source, root)
            lines.append(f"not checked: {shown} is excluded (by a built-in exclude or exclude settings{' in ' + config if config else ''})")
        elif target.is_dir():
            lines.append(f"no files to check in {shown}: it is empty, or git ignores everything in it")
        else:
            lines.append(f"not checked: {shown} is ignored by git or is not a regular file")
    return lines
