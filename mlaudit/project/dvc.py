"""DVC state: what `.dvc` files, `dvc.yaml` and `dvc.lock` track, and which references must resolve.

Built once per run with `dvc_state(model)` from the YAML the engine already parsed
(`model.data(path)` gives `YamlFacts`). Paths are made repo-relative: a `.dvc` file's paths are
relative to its folder, a stage's to its `wdir` below the `dvc.yaml` folder. Paths with `${...}`
(foreach/matrix/vars templating) are kept as glob patterns: they can cover files, but are never
reported as missing, since their values are not known statically.
"""

from __future__ import annotations

import fnmatch
import functools
import os
import posixpath
import re
from dataclasses import dataclass
from typing import Any

import pathspec

from mlaudit.files.patterns import gitignore_spec
from mlaudit.files.sources import SourceError, SourceFile, read_bytes
from mlaudit.files.structured import YamlFacts
from mlaudit.project.lfs import file_text
from mlaudit.project.model import ProjectModel

# Keys an out of a `.dvc` file uses to record its content; without one, `dvc pull` has nothing to fetch.
HASH_KEYS = frozenset({"md5", "etag", "checksum", "files", "version_id"})
# Sections of a stage and what they declare.
STAGE_OUT_KEYS = ("outs", "metrics", "plots")
DEFAULT_PARAMS_FILE = "params.yaml"
_TEMPLATE = re.compile(r"\$\{[^}]*\}")


@dataclass(frozen=True)
class DvcPath:
    path: str  # repo-relative POSIX; a glob (`*`) where the declared path was templated
    source: str  # the DVC file that declares it
    line: int
    role: str  # "out", "dep", "params", "metric", "plot", "artifact"
    stage: str = ""  # stage name, "" for .dvc files and top-level entries
    templated: bool = False
    declared: str = ""  # the path as written

    def covers(self, rel_path: str) -> bool:
        if self.templated:
            return fnmatch.fnmatchcase(rel_path, self.path) or fnmatch.fnmatchcase(rel_path, self.path + "/*")
        return rel_path == self.path or rel_path.startswith(self.path + "/")


@dataclass(frozen=True)
class DvcProblem:
    source: str
    line: int
    message: str


@dataclass(frozen=True)
class DvcStage:
    """A stage of a dvc.yaml (the `do` body of a `foreach` stage) as DVC reads it: the one place
    stages are read; entry points (`cmd`), the config index (`params`) and the data rules use it."""

    source: str  # the dvc.yaml
    name: str
    wdir: str  # the folder the stage runs in, repo-relative and normalised ("" at the root)
    cmds: tuple[str, ...]
    # (params file, key chain) per `params` entry, relative to `wdir` as DVC reads them (the
    # default file is `wdir`/params.yaml); an empty chain names a whole file.
    params: tuple[tuple[str, tuple[str, ...]], ...] = ()


@dataclass(frozen=True)
class DvcState:
    outs: tuple[DvcPath, ...]  # everything DVC tracks: .dvc outs, stage outs/metrics/plots, dvc.lock outs
    references: tuple[DvcPath, ...]  # deps, params files and top-level metrics/plots/artifacts
    problems: tuple[DvcProblem, ...]  # malformed DVC files
    ignore: tuple[tuple[str, tuple[str, ...]], ...] = ()  # (folder, lines of its .dvcignore)
    stages: tuple[DvcStage, ...] = ()  # every dvc.yaml's stages, in file order

    def tracking(self, rel_path: str) -> DvcPath | None:
        """The out that makes DVC track `rel_path` (the path itself or a folder above it), if any."""
        for out in self.outs:
            if out.covers(rel_path):
                if rel_path != out.path and self.ignored(rel_path):
                    continue  # .dvcignore keeps it out of a tracked folder
                return out
        return None

    def produces_inside(self, rel_path: str) -> bool:
        """Whether some out lies inside the folder `rel_path`."""
        return any(not out.templated and out.path.startswith(rel_path + "/") for out in self.outs)

    def ignored(self, rel_path: str) -> bool:
        for folder, lines in self.ignore:
            prefix = folder + "/" if folder else ""
            if rel_path.startswith(prefix) and _ignore_spec(lines).match_file(rel_path[len(prefix) :]):
                return True
        return False


@functools.lru_cache(maxsize=64)
def _ignore_spec(lines: tuple[str, ...]) -> pathspec.PathSpec[Any]:
    return gitignore_spec(lines)


def dvc_state(model: ProjectModel) -> DvcState:
    return model.analysis(build_dvc_state)


_CONFLICT_MARKERS = ("<<<<<<< ", ">>>>>>> ")


_MAX_DVC_FILE = 1 << 20


def _conflict_line(file: SourceFile) -> int:
    """The first line of a git merge-conflict block (`<<<<<<< HEAD`) in a DVC file that did not
    parse, or 0 when there is none (or it cannot be read)."""
    if file.outside:
        return 0  # a symlink out of the repository is never opened
    try:
        text = read_bytes(file.abs_path, _MAX_DVC_FILE).decode("utf-8", "replace")
    except SourceError:
        return 0
    if "<<<<<<<" not in text:
        return 0
    for number, line in enumerate(text.splitlines(), 1):
        if line.startswith(_CONFLICT_MARKERS) or line.rstrip() in ("<<<<<<<", ">>>>>>>"):
            return number
    return 0


def build_dvc_state(model: ProjectModel) -> DvcState:
    builder = _Builder()
    stage_wdirs: dict[tuple[str, str], str] = {}
    files = sorted(model.files.values(), key=lambda f: f.path)
    for file in files:
        facts = model.data(file.path)
        if file.name == ".dvcignore":
            lines = tuple(file_text(model, file).splitlines())
            builder.ignore.append((posixpath.dirname(file.path), lines))
        is_dvc_file = file.name.endswith(".dvc") and file.has_role("dvc")
        if not isinstance(facts, YamlFacts):
            conflict = _conflict_line(file) if is_dvc_file or file.name in ("dvc.yaml", "dvc.lock") else 0
            if conflict:  # a merge left both sides in: say so, beside ML001's parse error
                builder.problem(file.path, conflict, "has unresolved git merge-conflict markers")
            continue  # not parsed: ML001 reports it
        if is_dvc_file:
            builder.dvc_file(file.path, facts)
        elif file.name == "dvc.yaml":
            stage_wdirs.update(builder.dvc_yaml(file.path, facts))
    for file in files:
        facts = model.data(file.path)
        if file.name == "dvc.lock" and isinstance(facts, YamlFacts):
            builder.dvc_lock(file.path, facts, stage_wdirs)
    return DvcState(
        tuple(builder.outs), tuple(builder.references), tuple(builder.problems), tuple(builder.ignore), tuple(builder.stages)
    )


class _Builder:
    def __init__(self) -> None:
        self.outs: list[DvcPath] = []
        self.references: list[DvcPath] = []
        self.problems: list[DvcProblem] = []
        self.ignore: list[tuple[str, tuple[str, ...]]] = []
        self.stages: list[DvcStage] = []

    # --- .dvc files ----------------------------------------------------------------------------

    def dvc_file(self, source: str, facts: YamlFacts) -> None:
        data = facts.data
        if not isinstance(data, dict):
            self.problem(source, 1, "is not a YAML mapping with an `outs` list")
            return
        base = _join(posixpath.dirname(source), data.get("wdir"))
        outs = data.get("outs")
        if outs is None and "cmd" in data:
            return  # a pre-1.0 stage file without outputs
        if not isinstance(outs, list) or not outs:
            self.problem(source, facts.key_lines.get("outs", 1), "has no `outs` list naming what it tracks")
            return
        for index, out in enumerate(outs):
            line = facts.key_lines.get(f"outs.{index}.path") or yaml_item_line(facts, "outs", index)
            if not isinstance(out, dict) or not isinstance(out.get("path"), str) or not out["path"].strip():
                self.problem(source, line, f"has an out (item {index + 1} of `outs`) without a `path`")
                continue
            if not HASH_KEYS & set(out):
                self.problem(source, line, f"records no hash (md5) for `{out['path']}`, so `dvc pull` cannot fetch it")
            self.add(self.outs, source, line, "out", "", base, out["path"])

    # --- dvc.yaml ------------------------------------------------------------------------------

    def dvc_yaml(self, source: str, facts: YamlFacts) -> dict[tuple[str, str], str]:
        """Record the stages of a dvc.yaml; return each stage's folder for dvc.lock."""
        data = facts.data
        folder = posixpath.dirname(source)
        wdirs: dict[tuple[str, str], str] = {}
        if data is None:
            return wdirs
        if not isinstance(data, dict):
            self.problem(source, 1, "is not a YAML mapping of `stages`")
            return wdirs
        stages = data.get("stages", {})
        if not isinstance(stages, dict):
            self.problem(source, facts.key_lines.get("stages", 1), "has `stages` that is not a mapping of stage names")
            stages = {}
        for name, stage in stages.items():
            prefix = f"stages.{name}"
            if isinstance(stage, dict) and "do" in stage and ("foreach" in stage):
                stage, prefix = stage["do"], f"{prefix}.do"
            if not isinstance(stage, dict):
                self.problem(source, facts.key_lines.get(f"stages.{name}", 1), f"has stage `{name}` that is not a mapping")
                continue
            if "cmd" not in stage:
                self.problem(source, facts.key_lines.get(f"stages.{name}", 1), f"has stage `{name}` without a `cmd`")
            wdir = _join(folder, stage.get("wdir"))
            wdirs[(source, name)] = wdir
            self.stage(source, facts, prefix, name, wdir, stage)
            self.stages.append(DvcStage(source, str(name), wdir, _commands(stage.get("cmd")), _stage_params(wdir, stage.get("params"))))
        self.top_level(source, facts, folder, data)
        return wdirs

    def stage(self, source: str, facts: YamlFacts, prefix: str, name: str, wdir: str, stage: dict[str, Any]) -> None:
        for key in STAGE_OUT_KEYS:
            for path, line in _path_entries(facts, f"{prefix}.{key}", stage.get(key)):
                self.add(self.outs, source, line, "out", name, wdir, path)
        for path, line in _path_entries(facts, f"{prefix}.deps", stage.get("deps")):
            self.add(self.references, source, line, "dep", name, wdir, path)
        for path, line in _params_files(facts, f"{prefix}.params", stage.get("params")):
            self.add(self.references, source, line, "params", name, wdir, path)

    def top_level(self, source: str, facts: YamlFacts, folder: str, data: dict[str, Any]) -> None:
        for path, line in _path_entries(facts, "metrics", data.get("metrics")):
            self.add(self.references, source, line, "metric", "", folder, path)
        for path, line in _plot_files(facts, data.get("plots")):
            self.add(self.references, source, line, "plot", "", folder, path)
        artifacts = data.get("artifacts")
        if isinstance(artifacts, dict):
            for name, spec in artifacts.items():
                if isinstance(spec, dict) and isinstance(spec.get("path"), str):
                    line = facts.key_lines.get(f"artifacts.{name}.path", 1)
                    self.add(self.references, source, line, "artifact", "", folder, spec["path"])

    # --- dvc.lock ------------------------------------------------------------------------------

    def dvc_lock(self, source: str, facts: YamlFacts, wdirs: dict[tuple[str, str], str]) -> None:
        data = facts.data
        stages = data.get("stages") if isinstance(data, dict) else None
        if not isinstance(stages, dict):
            return
        yaml_source = posixpath.join(posixpath.dirname(source), "dvc.yaml")
        for name, stage in stages.items():
            if not isinstance(stage, dict):
                continue
            wdir = wdirs.get((yaml_source, name.split("@", 1)[0]), posixpath.dirname(source))
            outs = stage.get("outs") or []
            if not isinstance(outs, list):
                line = facts.key_lines.get(f"stages.{name}.outs", 1)
                self.problem(source, line, f"has stage `{name}` whose `outs` is not a list")
                continue
            for index, out in enumerate(outs):
                if isinstance(out, dict) and isinstance(out.get("path"), str):
                    line = facts.key_lines.get(f"stages.{name}.outs.{index}.path", 1)
                    self.add(self.outs, source, line, "out", name, wdir, out["path"])

    # --- helpers -------------------------------------------------------------------------------

    def add(self, into: list[DvcPath], source: str, line: int, role: str, stage: str, base: str, path: str) -> None:
        declared = path.strip()
        if not declared or "://" in declared or posixpath.isabs(declared) or re.match(r"^[A-Za-z]:[\\/]", declared):
            return  # remote or external paths are outside the repository
        templated = bool(_TEMPLATE.search(declared)) or "${" in base
        joined = posixpath.normpath(posixpath.join(base, declared.replace("\\", "/")))
        if joined == ".." or joined.startswith("../"):
            return
        if templated:
            joined = _TEMPLATE.sub("*", joined)
        into.append(DvcPath(joined, source, line, role, stage, templated, declared))

    def problem(self, source: str, line: int, message: str) -> None:
        self.problems.append(DvcProblem(source, line, message))


def _commands(cmd: Any) -> tuple[str, ...]:
    """A stage's `cmd`: one command or a list of them."""
    return tuple(c for c in (cmd if isinstance(cmd, list) else [cmd]) if isinstance(c, str))


def _stage_params(wdir: str, params: Any) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(file, key chain) of each `params` entry: `- train.lr` reads `wdir`/params.yaml, and
    `- conf/train.yaml: [lr]` reads that file; an entry with no keys names the whole file."""
    default = posixpath.join(wdir, "params.yaml")
    found: list[tuple[str, tuple[str, ...]]] = []
    for entry in params if isinstance(params, list) else []:
        if isinstance(entry, str):
            found.append((default, tuple(entry.split("."))))
        elif isinstance(entry, dict):
            for file, keys in entry.items():
                target = posixpath.normpath(posixpath.join(wdir, str(file)))
                if not keys:
                    found.append((target, ()))
                for key in keys if isinstance(keys, list) else []:
                    found.append((target, tuple(str(key).split("."))))
    return tuple(found)


def _join(folder: str, wdir: Any) -> str:
    if not isinstance(wdir, str) or wdir in ("", "."):
        return folder
    return posixpath.normpath(posixpath.join(folder, wdir))


def _path_entries(facts: YamlFacts, key: str, entries: Any) -> list[tuple[str, int]]:
    """Paths of a deps/outs/metrics/plots list: `- path` or `- path: {options}`."""
    if not isinstance(entries, list):
        return []
    found = []
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            found.append((entry, yaml_item_line(facts, key, index)))
        elif isinstance(entry, dict):
            for path in entry:
                found.append((path, facts.key_lines.get(f"{key}.{index}.{path}", yaml_item_line(facts, key, index))))
    return found


def _params_files(facts: YamlFacts, key: str, entries: Any) -> list[tuple[str, int]]:
    """Params files a stage reads: `- key` reads params.yaml, `- file.yaml: [keys]` reads that file."""
    if not isinstance(entries, list):
        return []
    found: dict[str, int] = {}
    for index, entry in enumerate(entries):
        if isinstance(entry, str):
            found.setdefault(DEFAULT_PARAMS_FILE, yaml_item_line(facts, key, index))
        elif isinstance(entry, dict):
            for path in entry:
                found.setdefault(path, facts.key_lines.get(f"{key}.{index}.{path}", yaml_item_line(facts, key, index)))
    return list(found.items())


def _plot_files(facts: YamlFacts, plots: Any) -> list[tuple[str, int]]:
    """Files of top-level plots: a plot id is a file unless its `y` (or `x`) maps files to fields."""
    if not isinstance(plots, list):
        return []
    found = []
    for index, entry in enumerate(plots):
        if isinstance(entry, str):
            found.append((entry, yaml_item_line(facts, "plots", index)))
            continue
        if not isinstance(entry, dict):
            continue
        for plot_id, config in entry.items():
            line = facts.key_lines.get(f"plots.{index}.{plot_id}", yaml_item_line(facts, "plots", index))
            axes = [config.get(axis) for axis in ("x", "y")] if isinstance(config, dict) else []
            mapped = [axis for axis in axes if isinstance(axis, dict)]
            if not mapped:
                found.append((plot_id, line))
            for axis in mapped:
                found.extend((path, line) for path in axis)
    return found


def yaml_item_line(facts: YamlFacts, key: str, index: int) -> int:
    """Line of item `index` of the block list under `key`: the key's line plus the item's position,
    unless that would run into the next key (a flow list `[a, b]`), then the key's line."""
    own = [line for name, line in facts.key_lines.items() if name.startswith(f"{key}.{index}.")]
    if own:
        return min(own)  # a mapping item starts on its first key's line
    key_line = facts.key_lines.get(key, 1)
    candidate = key_line + index + 1
    following = [line for line in facts.key_lines.values() if line > key_line]
    if following and candidate >= min(following):
        return key_line
    return candidate


def exists_on_disk(model: ProjectModel, rel_path: str) -> bool:
    """Whether the path is a file or folder the project has (listed, or present but ignored)."""
    if rel_path in model.files or os.path.lexists(model.root / rel_path):
        return True
    prefix = rel_path + "/"
    return any(path.startswith(prefix) for path in model.files)
