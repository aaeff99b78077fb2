"""The project's config index: every config key with where it is defined, and every read of one.

Built once per run (`config_index(model)`) from the YAML files and the per-file `config` facts:

- *Namespaces* are config trees code can read: a Hydra config directory (found from
  `@hydra.main(config_path=...)` / `initialize(config_path=...)`, every group file placed under
  its package: `configs/model/mnist.yaml` defines `model.*`, `# @package _global_` the root), a
  YAML file loaded by literal path (`OmegaConf.load("c.yaml")`, `yaml.safe_load(open(...))`), and
  DVC's `params.yaml` (read by `dvc.api.params_show()` or named in `dvc.yaml` `params:`).
- *Reads* come from code: on a known root (the `cfg` of a `@hydra.main` function, a `compose()` or
  a loaded file) they are exact; on a config-like name whose root is unknown (`cfg` parameter of a
  helper, `self.hparams`, `args`) they are *ambiguous* and match any key whose path contains them.
  Interpolations `${a.b}` and `dvc.yaml` params are reads too.

Rules only ever become quieter through ambiguity: an ambiguous read can mark keys used, never
make one undeclared.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import PurePosixPath
from typing import Any

from mlaudit.facts.config.options import OptionDef, OptionFacts
from mlaudit.facts.config.reads import SPLAT, ConfigRead, ConfigReadFacts
from mlaudit.files import kinds
from mlaudit.files.modules import module_parts
from mlaudit.files.structured import YamlFacts
from mlaudit.project.dvc import DvcStage, dvc_state
from mlaudit.project.model import ProjectModel

Chain = tuple[str, ...]

PACKAGE_HEADER = re.compile(r"#\s*@package\s+(\S+)")
INTERPOLATION = re.compile(r"\$\{([^${}]+)\}")
# Hydra's own config group and keys no user code reads.
HYDRA_OWN_GROUP = "hydra"
NEVER_UNUSED = frozenset({"defaults", "hydra"})
# A whole read of an ambiguous name consumes every namespace only when the name looks like a
# whole config; `callbacks_cfg`, `self.hparams` or `args` hold a subtree or something else.
ROOT_LIKE_NAMES = frozenset({"cfg", "config", "conf", "configuration"})
# Calls that take a config without reading its values.
NON_READING_CALLS = frozenset(
    {"builtins.isinstance", "builtins.len", "builtins.type", "builtins.id", "builtins.bool",
     "omegaconf.open_dict", "omegaconf.read_write", "omegaconf.flag_override",
     "omegaconf.OmegaConf.set_struct", "omegaconf.OmegaConf.set_readonly", "omegaconf.OmegaConf.is_missing",
     "omegaconf.OmegaConf.is_config", "omegaconf.OmegaConf.is_dict", "omegaconf.OmegaConf.is_list"}
)


@dataclass(frozen=True)
class KeyDef:
    chain: Chain
    file: str
    line: int
    value: Any
    comment: str = ""  # the full-line comments right above the key


@dataclass
class Namespace:
    """One config tree: a Hydra config dir, a loaded YAML file, or a DVC params file."""

    name: str  # "hydra:configs", "file:conf/c.yaml"
    kind: str  # "hydra", "yaml", "params"
    files: list[str] = field(default_factory=list)
    keys: dict[Chain, list[KeyDef]] = field(default_factory=dict)
    groups: set[Chain] = field(default_factory=set)  # Hydra group paths (`model`, `logger`)
    reads: list[tuple[str, ConfigRead]] = field(default_factory=list)  # exact reads (path, read)
    references: set[Chain] = field(default_factory=set)  # interpolations, dvc.yaml params
    consumed_whole: bool = False

    def defined(self, chain: Chain) -> list[KeyDef]:
        return self.keys.get(chain, [])


@dataclass
class ConfigIndex:
    namespaces: dict[str, Namespace] = field(default_factory=dict)
    ambiguous: list[tuple[str, ConfigRead]] = field(default_factory=list)
    writes: list[tuple[str, ConfigRead]] = field(default_factory=list)
    # Keys defined in code: argparse/click/typer options and dataclass fields, with their defaults.
    options: list[tuple[str, OptionDef]] = field(default_factory=list)
    # Whole reads of an ambiguous config name outside the repo's own functions (print, to_container,
    # wandb.config.update): any namespace may be read whole.
    ambiguous_whole: list[tuple[str, ConfigRead]] = field(default_factory=list)
    # Whole reads of config-like names that are not config roots (`params`, `d_cfg`), with whether
    # they go somewhere we cannot follow; used to follow a root handed to a repo function.
    handoff_reads: list[tuple[str, ConfigRead, bool]] = field(default_factory=list)
    uses_config_store: bool = False
    _cache: dict[Any, Any] = field(default_factory=dict, repr=False)

    # --- questions rules ask ----------------------------------------------------------------

    def consumed(self, ns: Namespace, chain: Chain, *, for_flag: bool = False) -> bool:
        """Is the node at `chain` (or an ancestor) read as a whole somewhere?

        With `for_flag`, reads inside conditions do not count (testing a flag is not using its
        value elsewhere) and neither do whole-config reads (printing or logging the config)."""
        if not for_flag and (ns.consumed_whole or self.ambiguous_whole):
            return True
        exact = self._exact(ns, for_flag)
        if any(chain[:i] in exact for i in range(1, len(chain) + 1)):
            return True
        runs = self._ambiguous_by_first(for_flag)
        return any(_contains_run(chain, run) for seg in set(chain) for run in runs.get(seg, ()))

    def touched_below(self, ns: Namespace, chain: Chain) -> bool:
        """Is something strictly below `chain` read (so the node is at least partly used)?"""
        if any(len(c) > len(chain) and c[: len(chain)] == chain for c in self._exact_all(ns)):
            return True
        runs = self._ambiguous_by_first(False, include_conditions=True)
        return any(_overlaps_below(chain, run) for seg in set(chain) for run in runs.get(seg, ()))

    def reads_of(self, ns: Namespace, chain: Chain) -> list[tuple[str, ConfigRead]]:
        """Reads that may be of exactly this key (exact on the namespace, or an ambiguous suffix)."""
        found = [(p, r) for p, r in ns.reads if r.chain == chain and not r.alias]
        found += [(p, r) for p, r in self.ambiguous if r.chain and not r.alias and chain[-len(r.chain):] == r.chain]
        return found

    def written(self, chain: Chain) -> bool:
        """Does any code assign this key (one of the two paths is a suffix of the other)?"""
        if "written" not in self._cache:
            writes = {w.chain for _, w in self.writes if w.chain}
            self._cache["written"] = (writes, {w[i:] for w in writes for i in range(len(w))})
        writes, suffixes = self._cache["written"]
        return chain in suffixes or any(chain[i:] in writes for i in range(len(chain)))

    # --- lookup tables, built on first use ----------------------------------------------------

    def _exact(self, ns: Namespace, for_flag: bool) -> set[Chain]:
        key = ("exact", ns.name, for_flag)
        if key not in self._cache:
            refs = set(ns.references)
            reads = {r.chain for _, r in ns.reads if r.chain and not r.alias and not (for_flag and r.condition)}
            self._cache[key] = refs | reads
        chains: set[Chain] = self._cache[key]
        return chains

    def _exact_all(self, ns: Namespace) -> set[Chain]:
        key = ("all", ns.name)
        if key not in self._cache:
            self._cache[key] = set(ns.references) | {r.chain for _, r in ns.reads if r.chain}
        chains: set[Chain] = self._cache[key]
        return chains

    def _ambiguous_by_first(self, for_flag: bool, include_conditions: bool = False) -> dict[str, set[Chain]]:
        """Ambiguous read chains by first segment: a run can only match where that segment occurs."""
        key = ("ambiguous", for_flag, include_conditions)
        if key not in self._cache:
            table: dict[str, set[Chain]] = {}
            for _, read in self.ambiguous:
                if not read.chain or (read.alias and not include_conditions):
                    continue
                if for_flag and read.condition and not include_conditions:
                    continue
                table.setdefault(read.chain[0], set()).add(read.chain)
            self._cache[key] = table
        by_first: dict[str, set[Chain]] = self._cache[key]
        return by_first


def _contains_run(chain: Chain, run: Chain) -> bool:
    """`run` appears as consecutive segments of `chain` (an ambiguous read at or above the node)."""
    n = len(run)
    return any(chain[i : i + n] == run for i in range(len(chain) - n + 1))


def _overlaps_below(chain: Chain, run: Chain) -> bool:
    """Some suffix of `chain` is a proper prefix of `run`: the read continues below the node."""
    for start in range(len(chain)):
        tail = chain[start:]
        if len(run) > len(tail) and run[: len(tail)] == tail:
            return True
    return False


# --- building ---------------------------------------------------------------------------------


def config_index(model: ProjectModel) -> ConfigIndex:
    return model.analysis(build)


def build(model: ProjectModel) -> ConfigIndex:
    index = ConfigIndex()
    repo_modules = _repo_modules(model)
    root_to_ns: dict[str, list[str]] = {}
    configs: dict[str, ConfigReadFacts] = {}
    for file, facts in model.python_modules():
        config = facts.family(ConfigReadFacts)
        if config is None:
            continue
        configs[file.path] = config
        index.uses_config_store |= config.uses_config_store
        for app in config.hydra_apps:
            directory = _hydra_dir(file.path, app.config_path, app.module_dir)
            if directory is not None and _has_yaml_under(model, directory):
                ns = _hydra_namespace(model, index, directory)
                root = f"hydra:{file.path}:{app.function}" if app.decorator else f"hydra:{file.path}"
                _link(root_to_ns, root, ns.name)
        for literal, _ in config.loaded_files:
            resolved = _resolve_yaml(model, file.path, literal)
            if resolved is not None:
                ns = _file_namespace(model, index, resolved)
                _link(root_to_ns, f"file:{literal}@{file.path}", ns.name)
    _params_namespaces(model, index)
    for file, facts in model.python_modules():
        config = configs.get(file.path)
        if config is None:
            continue
        if config.reads:  # the qualified names of its defs, only for a module that reads config
            local_defs = {f"{facts.module}.{d.name}" if facts.module else d.name for d in facts.defs}
        for read in config.reads:
            _place_read(index, model, file.path, read, root_to_ns, repo_modules, local_defs)
        index.writes.extend((file.path, w) for w in config.writes)
        options = facts.family(OptionFacts)
        if options is not None:
            index.options.extend((file.path, o) for o in options.options)
    for ns in index.namespaces.values():
        _collect_interpolations(model, ns)
    _follow_handoffs(index, repo_modules)
    return index


def _follow_handoffs(index: ConfigIndex, repo_modules: set[str]) -> None:
    """A config root handed whole to one of the repo's functions (`build(cfg)`) is consumed when that
    function hands it on to something we cannot follow (`Model(**params)`, `print(params)`), or when
    we see no config reads in it at all (its parameter has a name we do not recognise)."""
    handed: dict[str, set[str]] = {}
    for ns in index.namespaces.values():
        for _, read in ns.reads:
            if not read.chain and not read.alias and read.passed_to and not ns.consumed_whole:
                handed.setdefault(_last(read.passed_to), set()).add(ns.name)
    if not handed:
        return  # nothing handed whole to a function: no reads to gather
    reads_by_function: dict[str, list[tuple[ConfigRead, bool]]] = {}
    for _, read in index.ambiguous:
        reads_by_function.setdefault(_last(read.scope), []).append((read, False))
    for _, read, consumes in index.handoff_reads:
        reads_by_function.setdefault(_last(read.scope), []).append((read, consumes))
    queue = list(handed)
    for _ in range(10_000):  # a fixpoint over a small graph; the bound only guards against cycles
        if not queue:
            break
        function = queue.pop()
        names = handed.get(function, set())
        reads = reads_by_function.get(function, [])
        whole = [(r, c) for r, c in reads if not r.chain]
        if not reads or any(c for _, c in whole):
            for name in names:
                index.namespaces[name].consumed_whole = True
            continue
        for read, _ in whole:
            if read.passed_to and read.passed_to != SPLAT:
                target = _last(read.passed_to)
                if not names <= handed.get(target, set()):
                    handed.setdefault(target, set()).update(names)
                    queue.append(target)


def _last(dotted: str) -> str:
    return dotted.rsplit(".", 1)[-1]


def _link(root_to_ns: dict[str, list[str]], root: str, name: str) -> None:
    names = root_to_ns.setdefault(root, [])
    if name not in names:
        names.append(name)


def _place_read(
    index: ConfigIndex,
    model: ProjectModel,
    path: str,
    read: ConfigRead,
    root_to_ns: dict[str, list[str]],
    repo_modules: set[str],
    local_defs: set[str],
) -> None:
    names = _namespaces_of_root(read.root, path, root_to_ns, index)
    whole = not read.chain and not read.alias and _consumes(path, read, repo_modules, local_defs)
    if not names:
        if whole and read.text in ROOT_LIKE_NAMES:
            index.ambiguous_whole.append((path, read))
        elif read.chain:
            index.ambiguous.append((path, read))
        elif not read.alias:
            index.handoff_reads.append((path, read, whole))
        return
    for name in names:
        ns = index.namespaces[name]
        ns.consumed_whole |= whole
        ns.reads.append((path, read))


def _consumes(path: str, read: ConfigRead, repo_modules: set[str], local_defs: set[str]) -> bool:
    """Does a whole read hand the config to something we cannot follow?

    Tests hand their composed config to the same functions the entry point does, so their whole
    reads add nothing; calls into the repo's own functions are followed through their reads."""
    if read.passed_to == SPLAT:
        return True  # `Model(**cfg.model)`: every key becomes a keyword argument
    if not is_training_path(path) or read.passed_to in NON_READING_CALLS:
        return False
    return not _in_repo(read.passed_to, repo_modules, local_defs)


# File roles (files/kinds.classify) that are not training code: a literal there is a test value,
# an example in prose, or packaging. (Switch to "reachable from an entry point" once the module
# graph and call graph are in.)
NON_TRAINING_ROLES = frozenset({kinds.TEST, kinds.DOCS, kinds.BUILD_SCRIPT})


@functools.lru_cache(maxsize=8192)
def is_training_path(path: str) -> bool:
    """Tests, docs, setup scripts and conftest files are not training code."""
    return not kinds.classify(path).roles & NON_TRAINING_ROLES


def _namespaces_of_root(root: str, path: str, root_to_ns: dict[str, list[str]], index: ConfigIndex) -> list[str]:
    if root.startswith("hydra:"):
        return root_to_ns.get(root, [])
    if root.startswith("file:"):
        return root_to_ns.get(f"{root}@{path}", [])
    if root == "dvc":
        return [n for n, ns in index.namespaces.items() if ns.kind == "params"]
    return []


def _repo_modules(model: ProjectModel) -> set[str]:
    """Dotted names the repo's modules can be imported by: `src/pkg/a.py` is `pkg.a` and, in repos
    that import through the folder itself (`from src.utils import x`), `src.pkg.a` too."""
    names: set[str] = set()
    for file, facts in model.python_modules():
        if facts.module:
            names.add(facts.module)
        parts, _ = module_parts(file.path)
        if parts and all(p.isidentifier() for p in parts):
            names.add(".".join(parts))
    return names


def _in_repo(callee: str | None, repo_modules: set[str], local_defs: set[str]) -> bool:
    """Is the callee one of the repo's own functions (whose reads we see)?"""
    if not callee:
        return False
    if callee in local_defs:
        return True
    parts = callee.split(".")
    return any(".".join(parts[:i]) in repo_modules for i in range(len(parts) - 1, 0, -1))


def _hydra_dir(py_path: str, config_path: str | None, module_dir: bool) -> str | None:
    if config_path is None:
        return None
    if module_dir:
        return config_path.replace(".", "/")
    base = PurePosixPath(py_path).parent
    parts: list[str] = []
    for part in (*base.parts, *PurePosixPath(config_path).parts):
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part not in (".", ""):
            parts.append(part)
    return "/".join(parts)


def _yaml_files(model: ProjectModel) -> list[str]:
    return sorted(p for p, f in model.files.items() if f.format == "yaml")


def _has_yaml_under(model: ProjectModel, directory: str) -> bool:
    prefix = f"{directory}/" if directory else ""
    return any(p.startswith(prefix) for p in _yaml_files(model))


def _yaml_facts(model: ProjectModel, path: str) -> YamlFacts | None:
    data = model.data(path)
    return data if isinstance(data, YamlFacts) else None


def _hydra_namespace(model: ProjectModel, index: ConfigIndex, directory: str) -> Namespace:
    name = f"hydra:{directory}"
    if name in index.namespaces:
        return index.namespaces[name]
    ns = Namespace(name, "hydra")
    index.namespaces[name] = ns
    prefix = f"{directory}/" if directory else ""
    files: list[tuple[str, Chain, YamlFacts]] = []
    for path in _yaml_files(model):
        if not path.startswith(prefix):
            continue
        group = PurePosixPath(path[len(prefix):]).parent.parts
        facts = _yaml_facts(model, path)
        if facts is None or (group and group[0] == HYDRA_OWN_GROUP):
            continue
        files.append((path, tuple(group), facts))
        for depth in range(1, len(group) + 1):
            ns.groups.add(tuple(group[:depth]))
    moved = _defaults_packages(files)
    for path, group, facts in files:
        header = _package_header(facts, group)
        packages = [header] if header is not None else sorted(moved.get(group, {group}))
        for package in packages:
            if package:
                ns.groups.add(package)
            _add_keys(ns, path, facts, package)
    return ns


def _defaults_packages(files: list[tuple[str, Chain, YamlFacts]]) -> dict[Chain, set[Chain]]:
    """Groups that a defaults list places elsewhere: `- model@net: small` puts model/*.yaml under
    `net`. A group also listed without `@` keeps its own package too."""
    moved: dict[Chain, set[Chain]] = {}
    plain: set[Chain] = set()
    for _, group, facts in files:
        own = _package_header(facts, group)
        own = group if own is None else own
        defaults = facts.data.get("defaults") if isinstance(facts.data, dict) else None
        for entry in defaults if isinstance(defaults, list) else []:
            for key in entry if isinstance(entry, dict) else []:
                words = str(key).split()
                target = words[-1] if words else ""
                name, _, package = target.partition("@")
                where = tuple(p for p in name.split("/") if p)
                where = where if name.startswith("/") else group + where
                if not package:
                    plain.add(where)
                    continue
                moved.setdefault(where, set()).add(_placed(package, own))
    for group in plain & set(moved):
        moved[group].add(group)
    return moved


def _placed(package: str, own: Chain) -> Chain:
    if package == "_global_":
        return ()
    if package.startswith("_global_."):
        return tuple(p for p in package[len("_global_."):].split(".") if p)
    if package == "_here_":
        return own
    return own + tuple(p for p in package.split(".") if p)


def _package_header(facts: YamlFacts, group: Chain) -> Chain | None:
    """The package a `# @package` header gives a Hydra config file, or None without a header."""
    for _, text in facts.comments[:5]:
        match = PACKAGE_HEADER.match(text)
        if match:
            spec = match.group(1)
            if spec == "_global_":
                return ()
            spec = spec.replace("_group_", ".".join(group)).replace("_global_.", "")
            return tuple(p for p in spec.split(".") if p)
    return None


def _file_namespace(model: ProjectModel, index: ConfigIndex, path: str, kind: str = "yaml") -> Namespace:
    name = f"file:{path}"
    if name not in index.namespaces:
        ns = Namespace(name, kind)
        index.namespaces[name] = ns
        facts = _yaml_facts(model, path)
        if facts is not None:
            _add_keys(ns, path, facts, ())
    if kind == "params":
        index.namespaces[name].kind = kind
    return index.namespaces[name]


def _add_keys(ns: Namespace, path: str, facts: YamlFacts, package: Chain) -> None:
    ns.files.append(path)
    data = facts.data
    comments = dict(facts.comments)
    for dotted, line in facts.key_lines.items():
        chain = tuple(dotted.split("."))
        if any(part.isdigit() for part in chain):
            continue  # inside a list: not a key code reads by name
        full = package + chain
        above = []
        previous = line - 1
        while previous in comments:
            above.append(comments[previous])
            previous -= 1
        comment = " ".join(reversed(above))
        ns.keys.setdefault(full, []).append(KeyDef(full, path, line, _lookup(data, chain), comment))


def _lookup(data: Any, chain: Chain) -> Any:
    for part in chain:
        if not isinstance(data, dict) or part not in data:
            return None
        data = data[part]
    return data


def _resolve_yaml(model: ProjectModel, py_path: str, literal: str) -> str | None:
    if not literal.endswith((".yaml", ".yml")):
        return None
    candidates = [literal.lstrip("./"), str(PurePosixPath(py_path).parent / literal)]
    for candidate in candidates:
        normal = _normalise(candidate)
        if normal is not None and normal in model.files:
            return normal
    return None


def _normalise(path: str) -> str | None:
    parts: list[str] = []
    for part in PurePosixPath(path).parts:
        if part == "..":
            if not parts:
                return None
            parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)


def _params_namespaces(model: ProjectModel, index: ConfigIndex) -> None:
    """DVC: params.yaml beside a dvc.yaml (or read by code) is a config; stage params are reads."""
    stages: dict[str, list[DvcStage]] = {}
    for stage in dvc_state(model).stages:
        stages.setdefault(stage.source, []).append(stage)
    for dvc_path in sorted(p for p in model.files if p.rpartition("/")[2] == "dvc.yaml"):
        facts = _yaml_facts(model, dvc_path)
        base = PurePosixPath(dvc_path).parent
        default = _normalise(str(base / "params.yaml")) or "params.yaml"
        if default in model.files:
            _file_namespace(model, index, default, "params")
        data = facts.data if facts is not None else None
        for stage in stages.get(dvc_path, ()):
            for file, chain in stage.params:
                if file in model.files:
                    ns = _file_namespace(model, index, file, "params")
                    ns.references.add(chain)
        for text in _strings(data):
            for ref in INTERPOLATION.findall(text):
                chain = tuple(p for p in ref.strip().split(".") if p)
                for ns in index.namespaces.values():
                    if ns.kind == "params":
                        ns.references.add(chain)
    for path in model.files:
        if path.rpartition("/")[2] == "params.yaml" and f"file:{path}" in index.namespaces:
            index.namespaces[f"file:{path}"].kind = "params"


def _strings(data: Any) -> Iterable[str]:
    stack = [data]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            yield item
        elif isinstance(item, dict):
            stack.extend(item.values())
        elif isinstance(item, list):
            stack.extend(item)


def _collect_interpolations(model: ProjectModel, ns: Namespace) -> None:
    """`${a.b}` in any file of the namespace reads a.b; `${.x}` is relative to the key's node."""
    for path in ns.files:
        facts = _yaml_facts(model, path)
        if facts is None:
            continue
        for key_chain, value in _leaf_values(facts.data, ()):
            if not isinstance(value, str) or "${" not in value:
                continue
            for ref in INTERPOLATION.findall(value):
                ref = ref.strip()
                if ":" in ref.split(".")[0]:
                    continue  # a resolver such as ${oc.env:HOME} or ${hydra:runtime.cwd}
                ns.references.add(_absolute(ref, key_chain))


def _absolute(ref: str, key_chain: Chain) -> Chain:
    if not ref.startswith("."):
        return tuple(p for p in ref.split(".") if p)
    dots = len(ref) - len(ref.lstrip("."))
    base = key_chain[: max(len(key_chain) - dots, 0)]
    return base + tuple(p for p in ref[dots:].split(".") if p)


def _leaf_values(data: Any, prefix: Chain) -> Iterable[tuple[Chain, Any]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield from _leaf_values(value, (*prefix, str(key)))
    elif isinstance(data, list):
        for item in data:
            yield from _leaf_values(item, prefix)
    else:
        yield prefix, data
