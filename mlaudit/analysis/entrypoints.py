"""Entry points: where a run of the project starts, as the catalog defines them.

- a module with `if __name__ == "__main__":` (its whole top level runs, guard included);
- a function decorated with `@hydra.main`, a click command/group, or a typer command;
- a function handed to `fire.Fire(train)` or `typer.run(main)`;
- a module that builds a LightningCLI at its top level;
- a `[project.scripts]` / `[tool.poetry.scripts]` target (`pkg.cli:main`);
- a script named in a `dvc.yaml` stage `cmd` (`python src/train.py`, `python -m pkg.train`);
- beyond the catalog's list, a plain top-level script (nanoGPT's `train.py`, pytorch/examples'
  `dcgan/main.py`): no main guard, imported by no module of the repo, not a test/setup/docs file,
  with calls at its top level after its last definition. Such a file only makes sense run as
  `python file.py`.

Not an entry point: the `if __name__ == "__main__":` block of a *library module* (a module inside a
package that another non-test module of the repo imports). Such a block is a demo or a self-test
(detectron2's `data/datasets/coco.py`, yolov5's `models/yolo.py --profile`), not how the project runs.

An entry point is either a module (`function is None`: its top level is the run) or a function
(the module's top level outside the main guard runs first, then the function).
Build once per run with `model.analysis(build_entry_points)`.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

from mlaudit.analysis.modules import ModuleGraph, module_graph
from mlaudit.facts.python import CallFact, ModuleFacts
from mlaudit.facts.randomness import TRAIN, RandomnessFacts
from mlaudit.files import kinds
from mlaudit.files.sources import SourceFile
from mlaudit.knowledge import randomness as data
from mlaudit.project.dvc import dvc_state
from mlaudit.project.model import ProjectModel

_PYTHON = re.compile(r"^python(\d+(\.\d+)?)?$")


@dataclass(frozen=True)
class EntryPoint:
    path: str
    kind: str  # "main-guard", "hydra", "click", "typer", "lightning-cli", "project-script", "dvc", "script",
    # or "cli-runner", a function run by fire or typer
    function: str | None  # the function that runs, None when the module's top level is the run
    line: int  # main guard, def line, or 1

    @property
    def label(self) -> str:
        return f"{self.path}:{self.function}()" if self.function else self.path


def build_entry_points(model: ProjectModel) -> list[EntryPoint]:
    graph = module_graph(model)
    found: dict[tuple[str, str | None], EntryPoint] = {}

    def add(entry: EntryPoint) -> None:
        found.setdefault((entry.path, entry.function), entry)

    for file, facts in model.python_modules():
        if file.format != "python":
            continue
        if facts.main_guard_line is not None and not is_library_module(model, graph, file.path):
            add(EntryPoint(file.path, "main-guard", None, facts.main_guard_line))
        for entry in _cli_runs(file.path, facts):
            add(entry)
        for entry in _decorated(file.path, facts):
            if facts.main_guard_line is None or not _called_at_top_level(facts, entry.function or ""):
                add(entry)
        if facts.main_guard_line is None:
            top = [c for c in facts.calls if not c.scope]  # the top level's calls, looked at twice
            if _top_level_cli(top):
                add(EntryPoint(file.path, "lightning-cli", None, 1))
            elif _plain_script(file, facts, graph, top):
                add(EntryPoint(file.path, "script", None, 1))
    for entry in _project_scripts(model, graph):
        add(entry)
    for entry in _dvc_scripts(model, graph):
        add(entry)
    return sorted(found.values(), key=lambda e: (e.path, e.line, e.function or ""))


def entry_points(model: ProjectModel) -> list[EntryPoint]:
    return model.analysis(build_entry_points)


def is_library_module(model: ProjectModel, graph: ModuleGraph, path: str) -> bool:
    """A module that another module of the repo, not a test, imports: its code runs as part of
    other programs, and its main guard is a demo. Either a module of a package (its folder has an
    `__init__.py`), or a module a script in the same folder imports as Python resolves a script's
    imports (`from gridworld_env import GridWorldEnv` next to it) and that has no training code:
    a sibling `train.py` that another script imports is still a program."""
    folder, _, name = path.rpartition("/")
    if name == "__main__.py":
        return False
    importers = [i for i in graph.importers_of(path) if i != path and not _test_or_docs(model, i)]
    if folder and f"{folder}/__init__.py" in model.files:
        return bool(importers)
    siblings = [i for i in importers if i.rpartition("/")[0] == folder]
    return bool(siblings) and not _has_training_code(model, path)


def _has_training_code(model: ProjectModel, path: str) -> bool:
    facts = model.facts.get(path)
    module = facts.python if facts is not None else None
    randomness = module.family(RandomnessFacts) if module is not None else None
    return randomness is not None and any(e.kind == TRAIN for e in randomness.events)


def _test_or_docs(model: ProjectModel, path: str) -> bool:
    file = model.files.get(path)
    return file is not None and bool(file.kind.roles & _NOT_PROGRAMS)


def _cli_runs(path: str, facts: ModuleFacts) -> list[EntryPoint]:
    """`fire.Fire(train)` / `typer.run(main)` at the module's top level or in its main guard."""
    extra = facts.family(RandomnessFacts)
    if extra is None or not extra.cli_targets:
        return []
    defined = {d.name: d.line for d in facts.defs if d.kind == "function" and "." not in d.name}
    return [EntryPoint(path, "cli-runner", name, defined[name]) for name, _ in extra.cli_targets if name in defined]


def _decorated(path: str, facts: ModuleFacts) -> list[EntryPoint]:
    decorated = [f for f in facts.defs if f.decorators and f.kind == "function" and "." not in f.name]
    if not decorated:
        return []  # most modules: no need to look for CLI applications
    apps = _cli_apps(facts)
    entries = []
    for fact in decorated:
        kind = _decorator_kind(fact.decorators, facts.module, apps)
        if kind:
            entries.append(EntryPoint(path, kind, fact.name, fact.line))
    return entries


def _decorator_kind(decorators: tuple[str, ...], module: str, apps: dict[str, str]) -> str:
    for decorator in decorators:
        if decorator in data.HYDRA_MAINS:
            return "hydra"
        if decorator in data.CLICK_COMMANDS:
            return "click" if decorator.startswith("click") else "typer"
        owner, _, attr = decorator.rpartition(".")
        if attr in data.CLI_APP_DECORATORS:
            local = owner[len(module) + 1:] if module and owner.startswith(module + ".") else owner
            ctor = apps.get(local)
            if ctor:
                return "typer" if ctor.startswith("typer") else "click"
            if owner.startswith("click.") or local.split(".")[0] in ("cli", "app", "main", "group"):
                return "click"
    return ""


def _cli_apps(facts: ModuleFacts) -> dict[str, str]:
    """Module-level variables holding a typer/click application, and groups made by `@click.group`."""
    apps: dict[str, str] = {}
    extra = facts.family(RandomnessFacts)
    for name, ctor in extra.module_vars if extra is not None else ():
        if ctor in data.CLI_APPS:
            apps[name] = ctor
    for fact in facts.defs:
        if any(d in ("click.group", "click.command") for d in fact.decorators):
            apps[fact.name] = "click.Group"
    return apps


def _called_at_top_level(facts: ModuleFacts, function: str) -> bool:
    """Whether the module's own top level (main guard included) calls `function` by name."""
    own = f"{facts.module}.{function}" if facts.module else function
    return any(c.scope == "" and c.callee in (own, function) for c in facts.calls)


def _top_level_cli(top: list[CallFact]) -> bool:
    return any(c.callee in data.LIGHTNING_CLIS for c in top)


# Module names that are no script whatever their role (a package's __init__, Sphinx's conf.py
# outside docs/, Django's manage.py): names of modules, not file roles.
_NOT_SCRIPTS = frozenset({"__init__.py", "conf.py", "manage.py"})
# File roles (files/kinds.classify) whose Python is not a program someone runs to train.
_NOT_PROGRAMS = frozenset({kinds.TEST, kinds.DOCS, kinds.BUILD_SCRIPT})


def _plain_script(file: SourceFile, facts: ModuleFacts, graph: ModuleGraph, top: list[CallFact]) -> bool:
    if not top or file.name in _NOT_SCRIPTS or file.kind.roles & _NOT_PROGRAMS or graph.importers_of(file.path):
        return False
    top_defs = [d for d in facts.defs if "." not in d.name]
    last_def_end = max((d.end_line for d in top_defs), default=0)
    return any(c.line > last_def_end for c in top)


def _project_scripts(model: ProjectModel, graph: ModuleGraph) -> list[EntryPoint]:
    entries = []
    for file in model.files.values():
        if file.name != "pyproject.toml":
            continue
        for target in _script_targets(model.data(file.path)):
            module, _, attribute = target.partition(":")
            path = graph.by_name.get(module.strip())
            function = attribute.strip().split(".")[0] or None
            if path is not None:
                line = _def_line(graph, path, function)
                entries.append(EntryPoint(path, "project-script", function, line))
    return entries


def _script_targets(pyproject: Any) -> list[str]:
    if not isinstance(pyproject, dict):
        return []
    tables = []
    project = pyproject.get("project")
    if isinstance(project, dict):
        tables += [project.get("scripts"), project.get("gui-scripts")]
    tool = pyproject.get("tool")
    if isinstance(tool, dict) and isinstance(tool.get("poetry"), dict):
        tables.append(tool["poetry"].get("scripts"))
    targets = []
    for table in tables:
        if isinstance(table, dict):
            targets += [v for v in table.values() if isinstance(v, str)]
    return targets


def _def_line(graph: ModuleGraph, path: str, function: str | None) -> int:
    if function is None:
        return 1
    fact = graph.defs.get(path, {}).get(function)
    return fact.line if fact is not None else 1


def _dvc_scripts(model: ProjectModel, graph: ModuleGraph) -> list[EntryPoint]:
    entries = []
    for stage in dvc_state(model).stages:
        for command in stage.cmds:
            path = _script_of(command, PurePosixPath(stage.wdir), model, graph)
            if path is not None:
                entries.append(EntryPoint(path, "dvc", None, 1))
    return entries


def _script_of(command: str, wdir: PurePosixPath, model: ProjectModel, graph: ModuleGraph) -> str | None:
    """The repo script a shell command runs with python (`python src/train.py --x`, `python -m pkg.train`)."""
    try:
        words = shlex.split(command)
    except ValueError:
        return None
    for index, word in enumerate(words):
        if not _PYTHON.match(PurePosixPath(word).name):
            continue
        rest = words[index + 1:]
        if len(rest) >= 2 and rest[0] == "-m":
            return graph.by_name.get(rest[1])
        if rest and rest[0].endswith(".py"):
            path = _normalise(wdir / rest[0])
            return path if path in model.files else None
    return None


def _normalise(path: PurePosixPath) -> str:
    parts: list[str] = []
    for part in path.parts:
        if part == "..":
            if parts:
                parts.pop()
        elif part != ".":
            parts.append(part)
    return "/".join(parts)
