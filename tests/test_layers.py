"""Imports go one way: each layer of the package imports only from layers below it (docs/architecture.md).

The graph is read with `ast` from the source, so it counts every import: at module level, inside
functions, and under `if TYPE_CHECKING:` (a type-only import is still a dependency, and the usual
way to hide a cycle). A module may import its own layer; `probe` sits beside `engine` and neither
imports the other.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "mlaudit"

# Lowest first. A module belongs to the longest prefix listed; the probe's command-line half is
# part of the CLI (it renders reports), the rest of the probe sits beside the engine.
LAYERS: tuple[tuple[str, ...], ...] = (
    ("mlaudit", "mlaudit.findings", "mlaudit.files"),
    ("mlaudit.knowledge",),
    ("mlaudit.facts",),
    ("mlaudit.project",),
    ("mlaudit.analysis",),
    ("mlaudit.rules",),
    ("mlaudit.engine", "mlaudit.probe"),
    ("mlaudit.report", "mlaudit.fix"),
    ("mlaudit.cli", "mlaudit.__main__", "mlaudit.probe.command"),
)
# Packages in the same layer that must not import each other.
SIBLINGS_APART = (("mlaudit.engine", "mlaudit.probe"),)


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root.parent).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def imports_of(path: Path, module: str) -> set[str]:
    """Every mlaudit module `path` imports, wherever the import statement stands."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".") if is_package else module.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            # `from pkg import sub` imports the submodule when there is one, else a name of pkg.
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
    return {name for name in found if name == "mlaudit" or name.startswith("mlaudit.")}


def import_graph(root: Path) -> dict[str, set[str]]:
    modules = {module_name(path, root): path for path in sorted(root.rglob("*.py"))}
    graph = {}
    for module, path in modules.items():
        # Keep only names that are modules (drop `pkg.function` from `from pkg import function`).
        graph[module] = {name for name in imports_of(path, module) if name in modules and name != module}
    return graph


def owner(module: str) -> tuple[int, str]:
    """(layer index, package prefix) of the longest prefix that claims `module`."""
    best: tuple[int, str] | None = None
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            # The root package's own `__init__` is a leaf (the version); it claims no submodule.
            claims = module == prefix or (prefix != "mlaudit" and module.startswith(prefix + "."))
            if claims and (best is None or len(prefix) > len(best[1])):
                best = (index, prefix)
    if best is None:
        raise AssertionError(f"{module} belongs to no layer; add it to LAYERS in tests/test_layers.py")
    return best


def violations(graph: dict[str, set[str]]) -> list[str]:
    problems = []
    for module, targets in sorted(graph.items()):
        layer, package = owner(module)
        for target in sorted(targets):
            target_layer, target_package = owner(target)
            if target_layer > layer:
                problems.append(f"{module} (layer {layer}) imports {target} (layer {target_layer}): upward")
            elif (package, target_package) in SIBLINGS_APART or (target_package, package) in SIBLINGS_APART:
                problems.append(f"{module} imports {target}: {package} and {target_package} sit side by side")
    return problems


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                top = stack.pop()
                on_stack.discard(top)
                component.append(top)
                if top == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_import_points_down() -> None:
    assert violations(import_graph(PACKAGE)) == []


def test_no_import_cycle() -> None:
    assert cycles(import_graph(PACKAGE)) == []


def test_the_graph_sees_the_package() -> None:
    graph = import_graph(PACKAGE)
    assert "mlaudit.files.kinds" in graph["mlaudit.engine.per_file"]
    assert "mlaudit.engine.check" in graph["mlaudit.cli"]


def _package(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "mlaudit"
    for rel, text in {"__init__.py": "", **files}.items():
        target = root / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text)
    return root


UPWARD_IMPORTS = {
    "module level": "from mlaudit.rules.base import Rule\n",
    "inside a function": "def f():\n    from mlaudit.rules import base\n    return base\n",
    "type checking only": "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import mlaudit.rules.base\n",
    "relative": "from ..rules import base\n",
}


@pytest.mark.parametrize("source", UPWARD_IMPORTS.values(), ids=UPWARD_IMPORTS.keys())
def test_an_upward_import_fails(tmp_path: Path, source: str) -> None:
    root = _package(tmp_path, {
        "files/__init__.py": "", "files/kinds.py": source,
        "rules/__init__.py": "", "rules/base.py": "from mlaudit.files import kinds\n",
    })
    graph = import_graph(root)
    assert "mlaudit.rules.base" in graph["mlaudit.files.kinds"]
    assert any("mlaudit.files.kinds (layer 0) imports mlaudit.rules" in line for line in violations(graph))
    assert cycles(graph) == [["mlaudit.files.kinds", "mlaudit.rules.base"]]


def test_downward_and_same_layer_imports_pass(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "files/__init__.py": "", "files/kinds.py": "", "files/sources.py": "from mlaudit.files import kinds\n",
        "rules/__init__.py": "", "rules/base.py": "from mlaudit.files.sources import x\n",
    })
    assert violations(import_graph(root)) == []


def test_engine_and_probe_stay_apart(tmp_path: Path) -> None:
    root = _package(tmp_path, {
        "engine/__init__.py": "", "engine/check.py": "",
        "probe/__init__.py": "", "probe/runner.py": "from mlaudit.engine import check\n",
    })
    assert "mlaudit.probe.runner imports mlaudit.engine.check: mlaudit.probe and mlaudit.engine sit side by side" in (
        violations(import_graph(root))
    )


def test_a_module_outside_every_layer_is_reported(tmp_path: Path) -> None:
    root = _package(tmp_path, {"stray.py": "import mlaudit.findings\n", "findings.py": ""})
    with pytest.raises(AssertionError, match=r"mlaudit\.stray belongs to no layer"):
        violations(import_graph(root))
