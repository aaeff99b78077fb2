"""The shared project model: module graph, entry points and call graph, as other families use it."""

from __future__ import annotations

from pathlib import Path

from mlaudit.analysis.callgraph import EXTERNAL, RESOLVED, UNRESOLVED, call_graph
from mlaudit.analysis.entrypoints import entry_points
from mlaudit.analysis.modules import module_graph
from mlaudit.engine.check import CheckOptions, analyse_all, build_settings, discover
from mlaudit.project.model import ProjectModel
from tests.helpers import make_repo


def build(tmp_path: Path, files: dict[str, str]) -> ProjectModel:
    root = make_repo(tmp_path / "repo", files)
    settings = build_settings(root, CheckOptions(use_cache=False))
    found, git = discover(root, settings)
    results, _ = analyse_all(list(found.values()), settings, None, 1)
    return ProjectModel(root, found, {r.facts.path: r.facts for r in results}, git, settings)


FILES = {
    "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n\n[project.scripts]\np-run = "pkg.cli:run"\n\n'
    '[tool.setuptools.packages.find]\nwhere = ["lib"]\n',
    "lib/pkg/__init__.py": "from .core import helper\n",
    "lib/pkg/core.py": "def helper():\n    return 1\n\n\nclass Base:\n    def step(self):\n        return 2\n",
    "lib/pkg/sub/__init__.py": "",
    "lib/pkg/sub/child.py": "from ..core import Base\n\n\nclass Child(Base):\n    def go(self):\n        return self.step()\n",
    "lib/pkg/cli.py": "import pkg\n\n\ndef run():\n    return pkg.helper()\n",
    "examples/mnist/utils.py": "def load():\n    return 0\n",
    "examples/mnist/main.py": "import sys\nimport utils\nfrom vendored import thing\nsys.path.append('x')\n\n"
    "if __name__ == '__main__':\n    utils.load()\n    thing()\n    obj.method()\n",
    "src/app.py": "import click\n\n\n@click.command()\ndef cli():\n    pass\n",
    "dvc.yaml": "stages:\n  prep:\n    cmd: python scripts/prep.py --fast\n",
    "scripts/prep.py": "def prep():\n    pass\n",
    "cli_main.py": "from lightning.pytorch.cli import LightningCLI\n\nLightningCLI(object)\n",
    "tests/test_x.py": "import torch\n\ntorch.randn(2)\n",
}


def test_module_graph_resolves_package_roots_siblings_and_reexports(tmp_path: Path) -> None:
    graph = module_graph(build(tmp_path, FILES))
    assert graph.module_path("lib/pkg/cli.py", "pkg") == "lib/pkg/__init__.py"
    assert graph.module_path("examples/mnist/main.py", "utils") == "examples/mnist/utils.py"
    symbol = graph.resolve("lib/pkg/cli.py", "pkg.helper")
    assert symbol is not None and (symbol.path, symbol.name) == ("lib/pkg/core.py", "helper")
    inherited = graph.method("lib/pkg/sub/child.py", "Child", "step")
    assert inherited is not None and (inherited.path, inherited.name) == ("lib/pkg/core.py", "Base.step")
    assert "vendored.thing" in graph.unresolved["examples/mnist/main.py"]


def test_monorepo_package_roots_from_setup_py_and_setup_cfg(tmp_path: Path) -> None:
    """Each project of a monorepo declares its own package folder; setup.py is read, never run."""
    graph = module_graph(build(tmp_path, {
        "libs/a/setup.py": "from setuptools import setup, find_packages\nsetup(name='a', "
        "package_dir={'': 'src'}, packages=find_packages('src'))\n",
        "libs/a/src/alpha/__init__.py": "from .core import f\n",
        "libs/a/src/alpha/core.py": "def f():\n    return 1\n",
        "libs/b/setup.cfg": "[metadata]\nname = b\n\n[options]\npackage_dir =\n    =lib\n",
        "libs/b/lib/beta/__init__.py": "",
        "libs/c/setup.py": "import setuptools\nsetuptools.setup(packages=setuptools.find_packages(where='code'))\n",
        "libs/c/code/gamma.py": "",
        "libs/d/setup.py": "setup(package_dir={'': compute()})\n",  # not a literal: no root
        "libs/d/other/delta.py": "",
        "app/train.py": "import alpha\nimport beta\nimport gamma\nimport delta\n",
    }))
    assert graph.module_path("app/train.py", "alpha") == "libs/a/src/alpha/__init__.py"
    assert graph.resolve("app/train.py", "alpha.f") is not None
    assert graph.module_path("app/train.py", "beta") == "libs/b/lib/beta/__init__.py"
    assert graph.module_path("app/train.py", "gamma") == "libs/c/code/gamma.py"
    assert graph.unresolved["app/train.py"] == ("delta",)


def test_a_setup_py_that_spells_a_name_another_way_still_declares_its_root(tmp_path: Path) -> None:
    """Python folds identifiers to NFKC ("\ufb01" is "fi"): a setup.py that says ﬁnd_packages calls
    find_packages. Only an ASCII text without the names is skipped unparsed."""
    graph = module_graph(build(tmp_path, {
        "libs/e/setup.py": "from setuptools import setup, \ufb01nd_packages\nsetup(packages=\ufb01nd_packages('code'))\n",
        "libs/e/code/epsilon.py": "",
        "libs/f/setup.py": "from setuptools import setup\nsetup(name='f')\n",
        "libs/f/src/zeta.py": "",
        "app/train.py": "import epsilon\nimport zeta\n",
    }))
    assert graph.module_path("app/train.py", "epsilon") == "libs/e/code/epsilon.py"
    assert graph.unresolved["app/train.py"] == ("zeta",)


def test_entry_points_of_every_kind(tmp_path: Path) -> None:
    entries = {(e.path, e.kind, e.function) for e in entry_points(build(tmp_path, FILES))}
    assert entries == {
        ("lib/pkg/cli.py", "project-script", "run"),
        ("examples/mnist/main.py", "main-guard", None),
        ("src/app.py", "click", "cli"),
        ("scripts/prep.py", "dvc", None),
        ("cli_main.py", "lightning-cli", None),
    }


def test_call_graph_resolution_and_reachability(tmp_path: Path) -> None:
    model = build(tmp_path, FILES)
    calls = call_graph(model)
    main = "examples/mnist/main.py"
    assert calls.resolve(main, "", "utils.load", "utils.load").status == RESOLVED
    assert calls.resolve(main, "", "vendored.thing", "thing").status == UNRESOLVED  # sys.path edited
    assert calls.resolve(main, "", None, "obj.method").status == UNRESOLVED
    assert calls.resolve(main, "", "torch.randn", "torch.randn").status == EXTERNAL
    child = calls.resolve("lib/pkg/sub/child.py", "Child.go", None, "self.step")
    assert child.symbol is not None and child.symbol.name == "Base.step"
    cli = next(e for e in entry_points(model) if e.kind == "project-script")
    assert ("lib/pkg/core.py", "helper") in calls.reachable(cli)


def test_star_imports_of_missing_modules_do_not_multiply_look_ups(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    """A package `__init__` that star-imports modules the repo lacks (generated, or left out of a
    copy): a name the package does not have was once retried through every star import at every
    re-export depth (7 star imports: 7^8 look-ups, hours on a quarter of diffusers). Now a star
    import binds only what a repo module it names defines."""
    stars = "".join(f"from .missing{i} import *\n" for i in range(6)) + "from .real import *\n"
    model = build(tmp_path, {
        "pkg/__init__.py": stars,
        "pkg/real.py": "def helper():\n    return 1\n",
        "train.py": "import pkg\n\nif __name__ == '__main__':\n    pkg.helper()\n    pkg.nothing.deeper.call()\n",
    })
    graph = module_graph(model)
    look_ups = []
    original = type(graph)._resolve

    def counting(self, importer: str, qualname: str, depth: int):  # type: ignore[no-untyped-def]
        look_ups.append(qualname)
        assert len(look_ups) < 1000, "look-ups multiply"
        return original(self, importer, qualname, depth)

    monkeypatch.setattr(type(graph), "_resolve", counting)
    assert graph.resolve("train.py", "pkg.nothing.deeper.call") is None
    found = graph.resolve("train.py", "pkg.helper")
    assert found is not None and (found.path, found.name) == ("pkg/real.py", "helper")
    assert len(look_ups) < 20
