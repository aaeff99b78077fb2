"""ML6xx: loading that can execute code from a file."""

from __future__ import annotations

import ast

from mlaudit.facts.walk import PyContext
from mlaudit.findings import Fix, Level
from mlaudit.fix import call_fix, chain, drop_argument, rename_callee
from mlaudit.rules.base import PythonRule

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
