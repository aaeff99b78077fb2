"""ML6xx: loading that can execute code from a file."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlaudit.facts.loading import FALSE, MISSING, TorchLoadCall
from mlaudit.facts.walk import PyContext
from mlaudit.findings import Finding, Fix, Level
from mlaudit.fix import call_fix, chain, drop_argument, rename_callee
from mlaudit.project import kinds
from mlaudit.project.dependencies import dependency_index
from mlaudit.project.model import ProjectModel, SourceFile
from mlaudit.project.versions import VersionInfo, all_at_least
from mlaudit.rules.base import ProjectRule, PythonRule

# yaml functions that construct arbitrary Python objects without asking.
YAML_UNSAFE_CALLS = {
    "yaml.unsafe_load": "yaml.safe_load",
    "yaml.unsafe_load_all": "yaml.safe_load_all",
    "yaml.full_load": "yaml.safe_load",
    "yaml.full_load_all": "yaml.safe_load_all",
}
YAML_LOAD_CALLS = {"yaml.load": "yaml.safe_load", "yaml.load_all": "yaml.safe_load_all"}
YAML_SAFE_LOADERS = frozenset({"yaml.SafeLoader", "yaml.CSafeLoader", "yaml.BaseLoader", "yaml.CBaseLoader"})
YAML_UNSAFE_LOADERS = frozenset(
    {"yaml.Loader", "yaml.UnsafeLoader", "yaml.FullLoader", "yaml.CLoader", "yaml.CUnsafeLoader", "yaml.CFullLoader"}
)


class UnsafeYamlLoad(PythonRule):
    code = "ML602"
    name = "unsafe-yaml-load"
    summary = "yaml.load without a safe loader can build arbitrary Python objects"
    level = Level.ERROR
    tags = ("security", "external/cwe/cwe-502")
    cwe = 502
    security_severity = "7.5"
    valid = (
        "import yaml\ncfg = yaml.safe_load(open('c.yaml'))\n",
        "import yaml\ncfg = yaml.load(open('c.yaml'), Loader=yaml.SafeLoader)\n",
        "import yaml\ncfg = yaml.load(open('c.yaml'), yaml.CSafeLoader)\n",
        # A project loader we cannot see into: stay quiet rather than guess.
        "import yaml\nfrom myproj.loaders import StrictLoader\ncfg = yaml.load(open('c.yaml'), Loader=StrictLoader)\n",
        # Not PyYAML.
        "import json\ndata = json.load(open('c.json'))\n",
        "from ruamel.yaml import YAML\ndata = YAML(typ='safe').load(open('c.yaml'))\n",
    )
    invalid = (
        "import yaml\ncfg = yaml.load(open('c.yaml'))  # expect: ML602\n",
        "import yaml as y\ncfg = y.load(open('c.yaml'), Loader=y.FullLoader)  # expect: ML602\n",
        "from yaml import load, Loader\ncfg = load(open('c.yaml'), Loader)  # expect: ML602\n",
        "import yaml\ncfg = yaml.unsafe_load(open('c.yaml'))  # expect: ML602\n",
    )
    fixes = (
        ("import yaml\ncfg = yaml.load(open('c.yaml'), Loader=yaml.FullLoader)\n",
         "import yaml\ncfg = yaml.safe_load(open('c.yaml'))\n"),
        ("import yaml\ndocs = list(yaml.load_all(open('c.yaml')))\n",
         "import yaml\ndocs = list(yaml.safe_load_all(open('c.yaml')))\n"),
    )

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        callee = ctx.qualname(node.func)
        if callee in YAML_UNSAFE_CALLS:
            self._report(node, ctx, f"{callee}() can construct arbitrary Python objects from the file", YAML_UNSAFE_CALLS[callee])
        elif callee in YAML_LOAD_CALLS:
            loader = _loader_argument(node)
            loader_name = ctx.qualname(loader) if loader is not None else None
            if loader is None:
                self._report(node, ctx, f"{callee}() without a Loader uses an unsafe loader (or fails on PyYAML 6)", YAML_LOAD_CALLS[callee])
            elif loader_name in YAML_UNSAFE_LOADERS:
                short = loader_name.rsplit(".", 1)[-1]
                self._report(node, ctx, f"{callee}() with {short} can construct arbitrary Python objects", YAML_LOAD_CALLS[callee])

    def _report(self, node: ast.Call, ctx: PyContext, problem: str, safe: str) -> None:
        safe_name = safe.rsplit(".", 1)[-1]
        fix = _safe_load_fix(node, ctx, safe_name)
        ctx.report(self, node, f"{problem}; use {safe_name}() or Loader=yaml.SafeLoader.", fix=fix)


def _loader_argument(node: ast.Call) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == "Loader":
            return keyword.value
    return node.args[1] if len(node.args) > 1 else None


def _safe_load_fix(node: ast.Call, ctx: PyContext, safe_name: str) -> Fix | None:
    """`yaml.load(f, Loader=X)` -> `yaml.safe_load(f)`, only when the call is written `module.func(...)`
    (a bare `load` imported by name would need an import change too) and passes nothing but the
    stream and the loader."""
    if not isinstance(node.func, ast.Attribute) or not node.args or len(node.args) > 2:
        return None
    if any(k.arg != "Loader" for k in node.keywords):
        return None
    transform = chain(rename_callee(safe_name), drop_argument("Loader", position=1))
    return call_fix(ctx, node, f"Use {safe_name}()", transform)


# torch 2.6 made `weights_only=True` the default of torch.load (pytorch PR #137602).
TORCH_SAFE_LOAD_SINCE = "2.6"


class UnsafeTorchLoad(ProjectRule):
    """A project rule, not a visitor: whether a bare `torch.load(f)` is safe depends on the torch
    versions the project allows, which only the dependency index knows. The walk records the calls
    and the edit that fixes each (mlaudit.facts.loading)."""

    code = "ML601"
    name = "unsafe-torch-load"
    summary = "torch.load can run arbitrary code from the file unless weights_only=True"
    level = Level.ERROR
    tags = ("security", "external/cwe/cwe-502")
    cwe = 502
    security_severity = "8.1"
    valid = (
        "import torch\nstate = torch.load('model.pt', weights_only=True)\n",
        {"requirements.txt": "torch==2.6.0\n", "train.py": "import torch\nstate = torch.load('model.pt')\n"},
        {"pyproject.toml": "[project]\nname = 'p'\nversion = '1'\ndependencies = ['torch>=2.6']\n",
         "train.py": "import torch\nstate = torch.load('model.pt', map_location='cpu')\n"},
        # Not torch.load, or a value we cannot see: stay quiet.
        "import torch\nmodel = torch.jit.load('model.pt')\n",
        "import torch\ndef load(path, safe):\n    return torch.load(path, weights_only=safe)\n",
        "import torch\ndef load(path, **kw):\n    return torch.load(path, **kw)\n",
    )
    invalid = (
        "import torch\nstate = torch.load('model.pt', weights_only=False)  # expect: ML601\n",
        {"requirements.txt": "torch==2.7.1\n",
         "train.py": "import torch\nstate = torch.load('m.pt', weights_only=False)  # expect: ML601\n"},
        {"requirements.txt": "torch==2.4.1\n", "train.py": "import torch as T\nstate = T.load('model.pt')  # expect: ML601\n"},
        {"requirements.txt": "torch>=2.0\n", "train.py": "from torch import load\nstate = load('model.pt')  # expect: ML601\n"},
        "import torch\nstate = torch.load('model.pt')  # expect: ML601\n",  # no torch version known
    )
    fixes = (
        ({"requirements.txt": "torch==2.4.1\n", "train.py": "import torch\nstate = torch.load('model.pt')\n"},
         {"train.py": "import torch\nstate = torch.load('model.pt', weights_only=True)\n"}),
        # Flipping an explicit False is an unsafe fix (it may break loading a full pickled model).
        ("import torch\nstate = torch.load('model.pt', weights_only=False)\n",
         "import torch\nstate = torch.load('model.pt', weights_only=True)\n"),
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        index = dependency_index(model)
        for file, facts in model.python_modules():
            calls: tuple[TorchLoadCall, ...] = facts.extra.get("loading", ())
            versions: VersionInfo | None = None
            for call in calls:
                if call.weights_only == FALSE:
                    yield self._finding(file, call, "torch.load(..., weights_only=False) unpickles the file, which can "
                                        "run arbitrary code", Level.ERROR)
                elif call.weights_only == MISSING:
                    versions = versions or index.allowed_versions("torch", near=file.path)
                    if all_at_least(versions, TORCH_SAFE_LOAD_SINCE):
                        continue
                    problem, level = _bare_load_problem(versions)
                    yield self._finding(file, call, problem, level)

    def _finding(self, file: SourceFile, call: TorchLoadCall, problem: str, level: Level) -> Finding:
        # Notebook positions are JSON lines, not code: no fix there.
        fix = call.fix if file.format == kinds.PYTHON else None
        return Finding(
            self.code,
            f"{problem}; pass weights_only=True (allow-list your own classes with "
            "torch.serialization.add_safe_globals) and load only files you trust otherwise.",
            file.path,
            call.line,
            call.col,
            call.end_line,
            call.end_col,
            level=level,
            fix=fix,
        )


def _bare_load_problem(versions: VersionInfo) -> tuple[str, Level]:
    if not versions.known:
        return (
            "torch.load() without weights_only unpickles the file (arbitrary code) on torch < 2.6, and no "
            "lockfile, pin or lower bound says which torch this project installs",
            Level.NOTE,
        )
    allowed = ", ".join(versions.exact) if versions.exact else f">={versions.lower}"
    return (
        f"torch.load() without weights_only unpickles the file (arbitrary code) on torch < 2.6, and "
        f"{versions.source} allows torch {allowed}",
        Level.ERROR,
    )
