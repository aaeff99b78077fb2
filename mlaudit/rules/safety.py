"""ML6xx: loading that can execute code from a file."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlaudit.facts.fixes import call_fix, chain, drop_argument, rename_callee
from mlaudit.facts.loading import BUFFER, DOWNLOAD, FALLBACK, FALSE, MISSING, SAVED_HERE, LoadingFacts, TorchLoadCall
from mlaudit.facts.walk import PyContext
from mlaudit.files import kinds
from mlaudit.files.sources import SourceFile
from mlaudit.findings import Finding, Fix, Level
from mlaudit.project.dependencies import dependency_index
from mlaudit.project.model import ProjectModel
from mlaudit.project.versions import VersionInfo, all_at_least, all_older_than
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
# yaml functions that write a document: loading back what the same function just dumped reads no
# outside input (detectron2's LazyConfig.save checks that its output loads).
YAML_DUMP_CALLS = frozenset({"yaml.dump", "yaml.safe_dump", "yaml.dump_all", "yaml.safe_dump_all"})


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
        # Loading back what the same function just dumped (detectron2 LazyConfig.save).
        "import yaml\ndef save(cfg):\n    dumped = yaml.dump(cfg)\n    _ = yaml.unsafe_load(dumped)  # test that it is loadable\n"
        "    return dumped\n",
        {"tests/test_utils.py": "import yaml\ndef test_cli(tmp_path):\n    cfg = yaml.full_load((tmp_path / 'c.yaml').read_text())\n"},
        # A config loader that exec()s .py configs: its input is trusted code by design.
        "import yaml\ndef load(filename):\n    if filename.endswith('.py'):\n        with open(filename) as f:\n"
        "            ns = {}\n            exec(compile(f.read(), filename, 'exec'), ns)\n            return ns\n"
        "    with open(filename) as f:\n        return yaml.unsafe_load(f)\n",
    )
    # Tests load YAML they wrote themselves (litgpt, Lightning read back the hparams file a test
    # just saved): no outside input reaches them.
    exempt_roles = frozenset({kinds.TEST})
    # Every call it reports is PyYAML's (yaml.load, yaml.unsafe_load, ...), bound by an import that says "yaml".
    requires_text = ("yaml",)
    invalid = (
        "import yaml\ncfg = yaml.load(open('c.yaml'))  # expect: ML602\n",
        # exec() of a fixed string is no trusted-code loader.
        "import yaml\ndef load(path):\n    exec('import os')\n    return yaml.unsafe_load(open(path))  # expect: ML602\n",
        # Dumped in another function: the text may have been changed on the way.
        "import yaml\ndef save(cfg):\n    return yaml.dump(cfg)\ndef load(text):\n"
        "    return yaml.unsafe_load(text)  # expect: ML602\n",
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

    def begin(self, ctx: PyContext) -> None:
        self.dumped: set[tuple[str, str]] = set()  # (function, name) bound to a yaml.dump(...) result
        self.execs: set[str] = set()  # functions that exec() code they did not write themselves
        self.pending: list[tuple[str, ast.Call, str, str]] = []

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        if isinstance(node.value, ast.Call) and ctx.qualname(node.value.func) in YAML_DUMP_CALLS:
            self.dumped.update((ctx.function, t.id) for t in node.targets if isinstance(t, ast.Name))

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        callee = ctx.qualname(node.func)
        if callee == "builtins.exec" and node.args and not isinstance(node.args[0], ast.Constant):
            self.execs.add(ctx.function)
            return
        if node.args and isinstance(node.args[0], ast.Name) and (ctx.function, node.args[0].id) in self.dumped:
            return  # reads back what this function just wrote
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
        self.pending.append((ctx.function, node, problem, safe))

    def end(self, ctx: PyContext) -> None:
        for function, node, problem, safe in self.pending:
            if function and function in self.execs:
                # detectron2's LazyConfig.load: the same function exec()s .py configs, so its inputs
                # are trusted code by design; an unsafe YAML load adds no new way in.
                continue
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


# The Hugging Face setup.py pattern (diffusers, transformers): every requirement once in `_deps`.
DEPS_TABLE_SETUP = (
    "import re\nfrom setuptools import setup\n"
    "_deps = ['accelerate>=0.31.0', 'numpy', '{torch}']\n"
    "deps = {{b: a for a, b in (re.findall(r'^(([^!=<>~]+)(?:[!=<>~].*)?$)', x)[0] for x in _deps)}}\n"
    "def deps_list(*pkgs):\n    return [deps[pkg] for pkg in pkgs]\n"
    "extras = {{}}\nextras['torch'] = deps_list('torch', 'accelerate')\nextras['dev'] = extras['torch']\n"
    "setup(name='p', install_requires=[deps['numpy']], extras_require=extras)\n"
)

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
        # torch>=2.6 declared through setup.py indirection (diffusers): a `_deps` table, `deps_list`
        # picking from it, and extras filled by subscript assignments.
        {"setup.py": DEPS_TABLE_SETUP.format(torch="torch>=2.6"), "scripts/convert.py": "import torch\nsd = torch.load('m.ckpt')\n"},
        # The root requirements.txt includes per-package requirements (Lightning).
        {"requirements.txt": "-r ./requirements/pytorch/base.txt\n", "requirements/pytorch/base.txt": "torch >=2.6.0, <2.10.0\n",
         "src/pkg/io.py": "import torch\nsd = torch.load('m.ckpt')\n"},
        # A test loads what it (or the code under test) wrote: no trust boundary.
        {"tests/test_save.py": "import torch\ndef test_roundtrip(tmp_path):\n    path = tmp_path / 'r.pt'\n"
         "    torch.save({'a': 1}, path)\n    assert torch.load(path, weights_only=False) == {'a': 1}\n"},
        # An object broadcast between ranks through an in-memory buffer the same function filled.
        "import io\nimport torch\ndef broadcast(obj, src):\n    buffer = io.BytesIO()\n    torch.save(obj, buffer)\n"
        "    data = collective_broadcast(buffer.getvalue(), src)\n    buffer = io.BytesIO(data)\n    return torch.load(buffer)\n",
        # The old-torch fallback of a load whose weights_only is a parameter (timm's _torch_load).
        "import torch\ndef load(path, weights_only=True):\n    try:\n        return torch.load(path, weights_only=weights_only)\n"
        "    except TypeError:\n        if not weights_only:\n            return torch.load(path)\n        raise\n",
        # Explicit False for whole objects this same function saved.
        "import torch\ndef cache(ds, path):\n    torch.save(ds, path)\n    return torch.load(path, weights_only=False)\n",
    )
    invalid = (
        "import torch\nstate = torch.load('model.pt', weights_only=False)  # expect: ML601\n",
        {"requirements.txt": "torch==2.7.1\n",
         "train.py": "import torch\nstate = torch.load('m.pt', weights_only=False)  # expect: ML601\n"},
        {"requirements.txt": "torch==2.4.1\n", "train.py": "import torch as T\nstate = T.load('model.pt')  # expect: ML601\n"},
        {"requirements.txt": "torch>=2.0\n", "train.py": "from torch import load\nstate = load('model.pt')  # expect: ML601\n"},
        "import torch\nstate = torch.load('model.pt')  # expect: ML601\n",  # no torch version known
        {"setup.py": DEPS_TABLE_SETUP.format(torch="torch>=2.1"),
         "scripts/convert.py": "import torch\nsd = torch.load('m.ckpt')  # expect: ML601\n"},
        {"requirements.txt": "-r ./requirements/pytorch/base.txt\n", "requirements/pytorch/base.txt": "torch >=2.1.0, <2.10.0\n",
         "src/pkg/io.py": "import torch\nsd = torch.load('m.ckpt')  # expect: ML601\n"},
        # An upper bound below 2.6: the unsafe default is certain.
        {"requirements.txt": "torch<2.6\n", "train.py": "import torch\nsd = torch.load('m.ckpt')  # expect: ML601\n"},
        # A test that loads a downloaded file crosses a trust boundary.
        {"tests/test_hub.py": "import torch\nfrom huggingface_hub import hf_hub_download\ndef test_slices():\n"
         "    path = hf_hub_download('someone/slices', 'embeds.pt')\n    torch.load(path, weights_only=False)  # expect: ML601\n"},
        # A buffer filled from a model file, not by this function's own torch.save (detectron2).
        "import io\nimport torch\ndef converter(net):\n    buffer = io.BytesIO(get_arg(net, 'anchors'))\n"
        "    return torch.load(buffer)  # expect: ML601\n",
        # A fallback that drops weights_only whatever the caller asked for.
        "import torch\ndef load(path):\n    try:\n        return torch.load(path, weights_only=True)\n"
        "    except TypeError:\n        return torch.load(path)  # expect: ML601\n",
        # Outside tests, a bare load of a file the same code saved still unpickles on old torch.
        "import torch\ndef cache(model, path):\n    torch.save(model, path)\n    return torch.load(path)  # expect: ML601\n",
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
            loading = facts.family(LoadingFacts)
            calls = loading.calls if loading is not None else ()
            versions: VersionInfo | None = None
            for call in calls:
                if _not_a_trust_boundary(file, call):
                    continue
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


def _not_a_trust_boundary(file: SourceFile, call: TorchLoadCall) -> bool:
    """Loads of bytes the same code produced: an object serialized and deserialized by one job
    (an in-memory buffer), the old-torch fallback of a load whose `weights_only` is a parameter,
    an explicit `weights_only=False` of a file the same function just `torch.save`d (whole objects
    need it), and, in tests, anything not downloaded: a test loads what it or the code under test
    wrote, or the project's own fixtures (0 of 18 test findings on 19 real repositories were worth
    acting on)."""
    if call.origin in (BUFFER, FALLBACK):
        return True
    if call.origin == SAVED_HERE and call.weights_only == FALSE:
        return True
    return file.has_role(kinds.TEST) and call.origin != DOWNLOAD


def _bare_load_problem(versions: VersionInfo) -> tuple[str, Level]:
    unpickles = "torch.load() without weights_only unpickles the file (arbitrary code)"
    if not versions.exact and all_older_than(versions, TORCH_SAFE_LOAD_SINCE):
        # `torch<2.6`: the unsafe default is certain, not possible (a pin below 2.6 says so itself).
        return (
            f"{unpickles} on every torch that {versions.source} allows ({_allowed(versions)}): only torch "
            f"{TORCH_SAFE_LOAD_SINCE} and later load with weights_only=True by default",
            Level.ERROR,
        )
    if versions.known:
        return f"{unpickles} on torch < 2.6, and {versions.source} allows torch {_allowed(versions)}", Level.ERROR
    if versions.source:
        return (
            f"{unpickles} on torch < 2.6, and {versions.source} declares torch without a lower bound, so an "
            "older torch already installed satisfies it",
            Level.NOTE,
        )
    return (
        f"{unpickles} on torch < 2.6, and no lockfile, pin or lower bound says which torch this project installs",
        Level.NOTE,
    )


def _allowed(versions: VersionInfo) -> str:
    if versions.exact:
        return ", ".join(versions.exact)
    return versions.specifier or f">={versions.lower}"
