"""ML1xx: randomness and determinism.

ML103 and ML104 are per-file rules over the syntax tree. The others are project rules: they
follow each entry point's run through the repo's own modules (`mlaudit.analysis.trace`), using
the per-file facts of `mlaudit.facts.randomness` and the knowledge in `mlaudit.knowledge.randomness`.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable, Iterator

from mlaudit.analysis.config_index import is_training_path
from mlaudit.analysis.trace import HELPER_SEED, UNRESOLVED_STEP, Step, Trace, Tracer, Traces, traces
from mlaudit.analysis.training import evaluates, mechanics_demo
from mlaudit.facts.python import ModuleFacts
from mlaudit.facts.randomness import (
    ALGORITHMS,
    BENCHMARK,
    CALL,
    CUDA,
    DEFERRED,
    DET_ON,
    DETERMINISM_OPTION,
    GENERATOR,
    IMPORT,
    SEED,
    SEED_MATERIAL,
    SETS_CUBLAS,
    SOURCE,
    TRAIN,
    UNUSED,
    BenchmarkSite,
    RandEvent,
    RandomnessFacts,
)
from mlaudit.facts.walk import PyContext
from mlaudit.files import kinds
from mlaudit.files.sources import SourceFile
from mlaudit.findings import Finding, Level
from mlaudit.knowledge import randomness as data
from mlaudit.project.dependencies import dependency_index
from mlaudit.project.model import ProjectModel
from mlaudit.project.versions import VersionInfo, all_at_least
from mlaudit.rules.base import ProjectRule, PythonRule

# The repo's seeding helpers as (path, function, line), worked out on first call.
Helpers = Callable[[], list[tuple[str, str, int]]]

class CudnnBenchmark(ProjectRule):
    code = "ML103"
    name = "cudnn-benchmark"
    summary = "cudnn.benchmark = True makes convolution algorithm choice nondeterministic"
    tags = ("reproducibility", "determinism")
    valid = (
        "import torch\ntorch.backends.cudnn.benchmark = False\n",
        "from torch.backends import cudnn\ncudnn.benchmark = False\n",
        # A flag defaulting to off: only an explicit --benchmark turns it on.
        "import argparse, torch\np = argparse.ArgumentParser()\np.add_argument('--benchmark', action='store_true')\n"
        "args = p.parse_args()\ntorch.backends.cudnn.benchmark = args.benchmark\n",
        # Not torch's cudnn.
        "class Cfg: pass\ncudnn = Cfg()\ncudnn.benchmark = True\n",
        "import lightning as L\ntrainer = L.Trainer(benchmark=False)\n",
        # An inference program (timm's inference.py, yolov5's stream loader): nothing trains, so the
        # algorithm cuDNN picks changes no model.
        "import torch\n\nif __name__ == '__main__':\n    torch.backends.cudnn.benchmark = True\n"
        "    model = torch.nn.Linear(2, 2).eval()\n    print(model(torch.ones(1, 2)))\n",
        # A test that flips global flags to check they are restored is not a training run.
        {"tests/test_launcher.py": "import torch\n\ndef test_restores_flags():\n    torch.backends.cudnn.benchmark = True\n"},
        # A speed benchmark measures exactly what benchmark mode changes.
        {"benchmark.py": "import torch\n\nif __name__ == '__main__':\n    torch.backends.cudnn.benchmark = True\n"
                         "    w = torch.zeros(2, requires_grad=True)\n    torch.optim.SGD([w], lr=0.1).step()\n"},
    )
    invalid = (
        "import torch\ntorch.backends.cudnn.benchmark = True  # expect: ML103\n",
        "from torch.backends import cudnn as c\nc.benchmark = True  # expect: ML103\n",
        "import torch.backends.cudnn as cudnn\ncudnn.benchmark = 1  # expect: ML103\n",
        "import argparse, torch\np = argparse.ArgumentParser()\np.add_argument('--benchmark', type=int, default=1)\n"
        "args = p.parse_args()\ntorch.backends.cudnn.benchmark = args.benchmark  # expect: ML103\n"
        "w = torch.zeros(2, requires_grad=True)\ntorch.optim.SGD([w], lr=0.1).step()\n",
        "from lightning.pytorch import Trainer\ntrainer = Trainer(benchmark=True)  # expect: ML103\n",
        # A training program reaches a helper in another module that turns it on.
        {
            "utils.py": "import torch\n\ndef setup():\n    torch.backends.cudnn.benchmark = True  # expect: ML103\n",
            "train.py": "import torch\nfrom utils import setup\n\nif __name__ == '__main__':\n    setup()\n"
            "    w = torch.zeros(2, requires_grad=True)\n    torch.optim.SGD([w], lr=0.1).step()\n",
        },
        # A sampling program that asks for determinism and then undoes it (paella's notebooks).
        "import torch\n\nif __name__ == '__main__':\n    torch.manual_seed(0)\n    torch.backends.cudnn.deterministic = True\n"
        "    torch.backends.cudnn.benchmark = True  # expect: ML103\n",
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        """A site reached by a program that trains (or turns deterministic algorithms on) is
        reported once per program, at the first site it runs. A site reached by a program that
        visibly does not train (it runs its model for inference, measures speed, or is a mechanics
        demo) and by no training program is not reported, nor is anything in a test. Any other
        site (a bare script, a library function no program reaches, a notebook that trains or
        asks for determinism) is reported where it is."""
        found = traces(model)
        sites = {
            (file.path, site.line): (file, site)
            for file, facts in model.python_modules() if not file.has_role(kinds.TEST)
            for site in _randomness(facts).benchmark_sites
        }
        quiet: set[tuple[str, int]] = set()  # reached by an inference program or a speed benchmark
        reported: set[tuple[str, int]] = set()
        for trace in found.traces:
            steps = [s for s in trace.steps if s.event.kind == BENCHMARK and (s.path, s.event.line) in sites]
            if not steps:
                continue
            why = self._why(trace, found)
            if not why and self._not_training(trace, found):
                quiet.update((s.path, s.event.line) for s in steps)
            if why and (steps[0].path, steps[0].event.line) not in reported:
                key = (steps[0].path, steps[0].event.line)
                reported.add(key)
                yield self._finding(*sites[key], "runs")
        for key, (file, site) in sorted(sites.items(), key=lambda item: item[0]):
            if key not in quiet and key not in reported and self._judged_alone(model, file.path, file.format, reported):
                reported.add(key)
                yield self._finding(file, site, "runs")

    @staticmethod
    def _why(trace: Trace, found: Traces) -> str:
        """Why this program's runs should repeat: it trains, or it asks for deterministic algorithms."""
        name = trace.entry.path.rsplit("/", 1)[-1].lower()
        if any(part in name for part in data.BENCHMARK_NAME_PARTS):
            return ""  # a speed benchmark measures what benchmark mode changes
        if any(s.event.kind == DET_ON for s in trace.steps):
            return "turns deterministic algorithms on"
        if trace.training is not None and not mechanics_demo(trace, found.import_lines(trace.entry.path)):
            return "trains"
        return ""

    @staticmethod
    def _not_training(trace: Trace, found: Traces) -> bool:
        """A program that visibly does not train: a speed benchmark, a mechanics demo, or one that
        runs its model for inference (`model.eval()`, `torch.no_grad()`)."""
        name = trace.entry.path.rsplit("/", 1)[-1].lower()
        if any(part in name for part in data.BENCHMARK_NAME_PARTS):
            return True
        if trace.training is not None:
            return True  # it trains but `_why` said no: a mechanics demo
        return evaluates(trace, found.tracer)

    @staticmethod
    def _judged_alone(model: ProjectModel, path: str, fmt: str, reported: set[tuple[str, int]]) -> bool:
        """A site no training program reaches and no inference program either. A notebook is its
        own program: it counts when it trains or asks for determinism, once. Anything else is
        reported (a bare script, a library function: nothing says it is not part of a run)."""
        if fmt != "notebook":
            return True
        if any(p == path for p, _ in reported):
            return False
        facts = next((f for file, f in model.python_modules() if file.path == path), None)
        events = _randomness(facts).events if facts is not None else ()
        return any(e.kind in (TRAIN, DET_ON) for e in events)

    def _finding(self, file: SourceFile, site: BenchmarkSite, who: str) -> Finding:
        if site.how == "keyword":
            message = (f"Trainer(benchmark=True) turns on cudnn.benchmark, which picks convolution algorithms by "
                       f"timing, so {who} with the same seed can differ; use benchmark=False for reproducible runs.")
        elif site.how == "assignment":
            message = (f"cudnn.benchmark = True picks convolution algorithms by timing, so {who} with the same seed "
                       "can differ; set it to False (and cudnn.deterministic = True).")
        else:
            message = (f"cudnn.benchmark is turned on by default here (option '{site.how}' defaults to "
                       f"{site.default!r}), so {who} with the same seed can differ; default it to off.")
        if site.cell:
            message = f"cell {site.cell}: {message}"
        return Finding(self.code, message, file.path, site.line, site.col, site.end_line, site.end_col, level=self.level)


class NondeterministicAlgorithms(PythonRule):
    code = "ML104"
    name = "nondeterministic-algorithms"
    summary = "Deterministic algorithms explicitly switched off"
    tags = ("reproducibility", "determinism")
    exempt_roles = frozenset({kinds.TEST})  # tests are not training: a fixture may restore the default
    # A function that exists to undo determinism (diffusers' `disable_full_determinism`) or to
    # restore the default after a run is the switch's other position, not a training choice.
    UNDO_FUNCTION = re.compile(r"^_*(disable|restore|reset|undo|teardown|tear_down|cleanup)", re.IGNORECASE)
    # cudnn.deterministic and use_deterministic_algorithms: either name says "deterministic".
    requires_text = ("deterministic",)
    valid = (
        "import torch\ntorch.backends.cudnn.deterministic = True\ntorch.use_deterministic_algorithms(True)\n",
        "import torch\ntorch.use_deterministic_algorithms(args.deterministic)\n",
        "from torch.backends import cudnn\ncudnn.deterministic = cfg.deterministic\n",
        # Not torch's flag.
        "class C: pass\ncudnn = C()\ncudnn.deterministic = False\n",
        # A test fixture that restores the default after a test (pytorch-lightning's conftest).
        {"tests/conftest.py": "import pytest, torch\n@pytest.fixture(autouse=True)\ndef restore():\n    yield\n"
                              "    torch.use_deterministic_algorithms(False)\n"},
        # A library's off-switch (diffusers' disable_full_determinism).
        "import torch\ndef disable_full_determinism():\n    torch.use_deterministic_algorithms(False)\n",
    )
    invalid = (
        "import torch\ntorch.backends.cudnn.deterministic = False  # expect: ML104\n",
        "from torch.backends import cudnn as c\nc.deterministic = 0  # expect: ML104\n",
        "import torch\ntorch.use_deterministic_algorithms(False)  # expect: ML104\n",
        "from torch import use_deterministic_algorithms\nuse_deterministic_algorithms(mode=False)  # expect: ML104\n",
    )

    def _undoing(self, ctx: PyContext) -> bool:
        return bool(ctx.scope) and self.UNDO_FUNCTION.match(ctx.scope[-1]) is not None

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        if self._undoing(ctx):
            return
        if any(ctx.qualname(t) == data.CUDNN_DETERMINISTIC for t in node.targets) and _falsy_constant(node.value):
            ctx.report(self, node, "cudnn.deterministic = False lets cuDNN pick nondeterministic convolution "
                       "algorithms; set it to True (or remove the line) for reproducible runs.")

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        if ctx.qualname(node.func) != data.USE_DETERMINISTIC or self._undoing(ctx):
            return
        mode = node.args[0] if node.args else next((k.value for k in node.keywords if k.arg == "mode"), None)
        if mode is not None and _falsy_constant(mode):
            ctx.report(self, node, "torch.use_deterministic_algorithms(False) explicitly allows nondeterministic "
                       "kernels; pass True (warn_only=True to only warn) for reproducible runs.")


def _falsy_constant(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and not node.value and node.value is not None


# --- project rules over entry-point traces -------------------------------------------------------


def _where(trace: Trace, step: Step) -> str:
    """Where a step is, as seen from the entry point's file."""
    if step.path == trace.entry.path:
        return f"line {step.site}" if step.event.line == step.site else f"line {step.event.line}, reached from line {step.site}"
    return f"{step.path}:{step.event.line}, reached from line {step.site}"


def _line(trace: Trace, step: Step | None) -> int:
    """The line of the entry point's file a finding points at: the random use itself when it is
    written there, else the call in that file that leads to it, else the entry point's line."""
    if step is None:
        return trace.entry.line
    if step.path == trace.entry.path:
        return step.event.line
    return step.site if step.site > 0 else trace.entry.line


def _unresolved(steps: Iterable[Step]) -> Step | None:
    return next((s for s in steps if s.event.kind == UNRESOLVED_STEP), None)


def _uses(trace: Trace) -> list[tuple[int, Step]]:
    """Random draws that matter for ML101/ML102, in run order.

    Draws that only make a seed are ML107's concern. In a program that trains every global draw
    counts. In a program that does not train (evaluation, export, visualisation, a data
    generator), only draws written in its own file decide its output; a draw deep in a shared
    helper (a RAM estimate, a random colour, a unique name) does not, and torch draws there are
    example inputs for tracing or initial weights that a checkpoint then replaces.
    """
    trains = trace.training is not None
    return [
        (i, s) for i, s in enumerate(trace.steps)
        if s.event.kind == SOURCE and s.event.families and s.event.families[0] in data.GLOBAL_FAMILIES
        and SEED_MATERIAL not in s.event.flags
        and s.event.read_until != 0  # a value nothing reads (an estimator rebound before it is fitted)
        and (trains or (s.event.families[0] != data.TORCH and s.path == trace.entry.path))
    ]


def _why(trace: Trace) -> str:
    """Why a draw matters in this program: it trains, or its output is the draw's."""
    training = trace.training
    if training is not None:
        return f"trains ({training.event.note or training.event.name} at {_where(trace, training)}) and"
    return "does not train, but its own output depends on what it"


def _family(step: Step) -> str:
    return data.FAMILY_LABELS[step.event.families[0]]


def _seed_call(trace: Trace, seed: Step) -> str:
    """`seed_everything at line 12` for a seed set by a repo helper, `manual_seed at line 9` otherwise."""
    index = trace.steps.index(seed)
    helper = next(
        (s for s in reversed(trace.steps[:index]) if s.event.kind == HELPER_SEED and s.site == seed.site), None
    )
    if helper is not None:
        return f"{helper.event.name} at line {helper.site}"
    return f"{seed.event.name.rsplit('.', 1)[-1]} at {_where(trace, seed)}"


def _families(families: Iterable[str]) -> str:
    chosen = set(families)
    if data.TORCH in chosen:
        chosen.discard(data.CUDA)  # torch.manual_seed also seeds CUDA; naming both is noise
    return ", ".join(data.FAMILY_LABELS[f] for f in sorted(chosen))


def _real_programs(found: Traces) -> Iterator[Trace]:
    """The traced programs, less mechanics demos: a program that trains only on numbers it draws
    on the spot (`mlaudit.analysis.training`) keeps nothing a seed or deterministic kernels would
    make repeatable."""
    return (trace for trace in found.traces if not mechanics_demo(trace, found.import_lines(trace.entry.path)))


def _dedupe(findings: Iterable[Finding | None]) -> Iterator[Finding]:
    seen: set[tuple[str, int, str]] = set()
    for finding in findings:
        if finding is not None and (finding.path, finding.line, finding.message) not in seen:
            seen.add((finding.path, finding.line, finding.message))
            yield finding


class MissingSeed(ProjectRule):
    code = "ML101"
    # Measured at 0.81 on the round-3 validation corpus: opt-in until it reaches 0.95 (rules/ML101.md).
    opt_in = True
    name = "missing-seed"
    summary = "An entry point draws random numbers before any seed is set"
    tags = ("reproducibility", "randomness")
    valid = (
        "import torch\n\ndef main():\n    torch.manual_seed(0)\n    x = torch.randn(3)\n\n"
        "if __name__ == '__main__':\n    main()\n",
        {
            "utils.py": "import random, numpy as np, torch\n\ndef seed_everything(seed):\n    random.seed(seed)\n"
            "    np.random.seed(seed)\n    torch.manual_seed(seed)\n",
            "train.py": "import torch\nfrom utils import seed_everything\n\nif __name__ == '__main__':\n"
            "    seed_everything(1)\n    model = torch.nn.Linear(2, 2)\n",
        },
        # A library module without an entry point is not a run.
        "import torch\n\ndef make():\n    return torch.nn.Linear(2, 2)\n",
        # The main guard of a library module (a package module the repo imports) is a demo; a
        # visualisation script that does not train gets a random colour from a shared helper.
        {
            "pkg/__init__.py": "",
            "pkg/colormap.py": "import numpy as np\n\ndef random_color():\n    return np.random.rand(3)\n\n"
            "if __name__ == '__main__':\n    print(random_color())\n",
            "viz.py": "from pkg.colormap import random_color\n\nif __name__ == '__main__':\n    print(random_color())\n",
        },
        # An evaluation script whose helper samples files for a RAM estimate: not its output.
        {
            "utils/data.py": "import random\n\ndef fits_in_ram(files):\n    return len(random.choice(files)) < 10\n",
            "val.py": "from utils.data import fits_in_ram\n\nif __name__ == '__main__':\n    fits_in_ram(['a.jpg'])\n",
        },
        # A profiling block calls backward() only to time it: no optimizer steps, nothing trains.
        "import torch\n\nif __name__ == '__main__':\n    model = torch.nn.Linear(3, 1)\n"
        "    model(torch.randn(8, 3)).sum().backward()\n",
        # random_state passed indirectly: a dict built from config or loaded from a tracker may hold it.
        "import json\nfrom sklearn.ensemble import RandomForestRegressor\n\nif __name__ == '__main__':\n"
        "    params = {'n_estimators': 100, 'random_state': 42}\n    rf = RandomForestRegressor(**params)\n"
        "    best = json.load(open('best_params.json'))\n    RandomForestRegressor(**best).fit([[0]], [0])\n",
        # JAX: an explicit PRNG key from a constant is a seed.
        "import jax\n\nif __name__ == '__main__':\n    key = jax.random.PRNGKey(0)\n"
        "    x = jax.random.normal(key, (3,))\n",
        # A mechanics demo (a DDP/TP wiring example, a bug-report template): it trains only on numbers it
        # draws on the spot, reads no data, so nothing it computes is kept.
        "import torch\n\nclass RandomDataset(torch.utils.data.Dataset):\n    def __init__(self, n):\n"
        "        self.data = torch.randn(n, 8)\n    def __len__(self):\n        return len(self.data)\n"
        "    def __getitem__(self, i):\n        return self.data[i]\n\nif __name__ == '__main__':\n"
        "    model = torch.nn.Linear(8, 1)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    for x in torch.utils.data.DataLoader(RandomDataset(64), batch_size=8):\n"
        "        model(x).sum().backward()\n        opt.step()\n",
        # An estimator built without random_state draws when fitted: this one is rebound first.
        "from sklearn.linear_model import SGDClassifier\nfrom sklearn.svm import SVC\n\nif __name__ == '__main__':\n"
        "    clf = SGDClassifier(loss='hinge')\n    clf = SVC(random_state=1)\n    clf.fit([[0], [1]], [0, 1])\n",
        # The __main__ demo of a module that a script next to it imports (no __init__.py: Python resolves
        # a script's imports from its own folder) is not a program of the project.
        {
            "gridworld/gridworld_env.py": "import numpy as np\n\nclass Env:\n    def step(self):\n"
            "        return np.random.choice(4)\n\nif __name__ == '__main__':\n    print(np.random.choice(4))\n",
            "gridworld/qlearning.py": "from gridworld_env import Env\n\nif __name__ == '__main__':\n    print(Env().step())\n",
        },
        # A Trainer subclass of the repo: transformers.Trainer.__init__ seeds before the subclass draws.
        {
            "base.py": "from transformers import Trainer\n\nclass BaseTrainer(Trainer):\n"
            "    def __init__(self, *args, **kwargs):\n        super().__init__(*args, **kwargs)\n",
            "bco.py": "import numpy as np\nfrom base import BaseTrainer\n\nclass BCOTrainer(BaseTrainer):\n"
            "    def __init__(self, args):\n        super().__init__(args=args)\n"
            "        self.sample = np.random.choice(10)\n        print(self.sample)\n",
            "train.py": "import torch\nfrom bco import BCOTrainer\n\nif __name__ == '__main__':\n    BCOTrainer(args=None)\n"
            "    torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1).step()\n",
        },
        # A draw whose value is last read before the seed (a notebook-style demo before the seeded part).
        "import torch\n\nif __name__ == '__main__':\n    conv = torch.nn.Conv2d(1, 2, 3)\n"
        "    print(sum(p.numel() for p in conv.parameters()))\n    torch.manual_seed(1)\n"
        "    model = torch.nn.Linear(2, 2)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
    )
    invalid = (
        # A program that does not train, drawing in its own code: its output is the draw.
        "import numpy as np\n\nif __name__ == '__main__':\n    x = np.random.rand(3)  # expect: ML101\n    print(x)\n",
        # Seeded only after the model drew its initial weights.
        "import torch\n\nif __name__ == '__main__':\n    model = torch.nn.Linear(2, 2)  # expect: ML101\n"
        "    torch.manual_seed(0)\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        # fire.Fire(train) runs train(); the repo's own torch.optim.Optimizer subclass trains.
        {
            "lion.py": "import torch\n\nclass Lion(torch.optim.Optimizer):\n    def __init__(self, params, lr=1e-4):\n"
            "        super().__init__(params, dict(lr=lr))\n",
            "train.py": "import fire, torch\nfrom lion import Lion\n\ndef train(lr=1e-4):\n"
            "    model = torch.nn.Linear(2, 2)  # expect: ML101\n    opt = Lion(model.parameters(), lr=lr)\n\n"
            "if __name__ == '__main__':\n    fire.Fire(train)\n",
        },
        # An estimator fitted without random_state (a splatted dict literal without it counts).
        "from sklearn.ensemble import RandomForestRegressor\n\nif __name__ == '__main__':\n"
        "    rf = RandomForestRegressor(**{'n_estimators': 10})  # expect: ML101\n    rf.fit([[0]], [0])\n",
        # typer.run(main) runs main().
        "import numpy as np, typer\n\ndef main(n: int = 3):\n    print(np.random.rand(n))  # expect: ML101\n\n"
        "if __name__ == '__main__':\n    typer.run(main)\n",
        # Real data read, random noise drawn as input (a GAN): it trains on real data.
        "import torch, torchvision\n\nif __name__ == '__main__':\n    data = torchvision.datasets.MNIST('data', download=True)\n"
        "    gen = torch.nn.Linear(16, 784)  # expect: ML101\n    opt = torch.optim.Adam(gen.parameters())\n"
        "    noise = torch.randn(8, 16)\n    gen(noise).sum().backward()\n    opt.step()\n",
        # A value read while its variable is bound again (`accelerator.prepare`) is read.
        "import torch\n\nif __name__ == '__main__':\n    opt = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1)\n"
        "    loader = torch.utils.data.DataLoader([1, 2], shuffle=True)  # expect: ML101\n"
        "    opt, loader = prepare(opt, loader)\n",
        # A training script that another script next to it imports is still a program.
        {
            "exp/train.py": "import torch\n\ndef build():\n    return torch.nn.Linear(2, 2)  # expect: ML101\n\n"
            "if __name__ == '__main__':\n    model = build()\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
            "exp/evaluate.py": "from train import build\n\nif __name__ == '__main__':\n    print(build())\n",
        },
        # A draw read after the seed still counts: the model's weights drawn before it are trained.
        "import torch\n\nif __name__ == '__main__':\n    conv = torch.nn.Conv2d(1, 2, 3)  # expect: ML101\n"
        "    torch.manual_seed(1)\n    opt = torch.optim.SGD(conv.parameters(), lr=0.1)\n",
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        found = traces(model)
        helpers = functools.cache(found.seeding_helpers)  # only a finding without a seed needs them
        return _dedupe(self._check(trace, helpers) for trace in _real_programs(found))

    def _check(self, trace: Trace, helpers: Helpers) -> Finding | None:
        uses = _uses(trace)
        if not uses:
            return None
        seeds = [i for i, s in enumerate(trace.steps) if s.event.kind == SEED]
        if not seeds:
            index, step = uses[0]
            unresolved = _unresolved(trace.steps)
            return self._finding(trace, step, None, helpers, unresolved)
        immediate = [(i, s) for i, s in uses if DEFERRED not in s.event.flags]
        early = self._early_use(trace, immediate, seeds)
        if early is None:
            return None
        index, step, seed = early
        unresolved = _unresolved(trace.steps[:index])
        return self._finding(trace, step, seed, helpers, unresolved)

    @staticmethod
    def _early_use(trace: Trace, immediate: list[tuple[int, Step]], seeds: list[int]) -> tuple[int, Step, Step] | None:
        """The first draw that runs before every seed, or before the first seed of its own family."""
        first_of: dict[str, int] = {}
        for i in seeds:
            for family in trace.steps[i].event.families:
                first_of.setdefault(family, i)
        for index, step in immediate:
            family = step.event.families[0]
            seed = None
            if index < seeds[0]:
                seed = trace.steps[first_of.get(family, seeds[0])]
            elif family in first_of and index < first_of[family]:
                seed = trace.steps[first_of[family]]
            if seed is not None and not MissingSeed._dead_before(trace, step, seed):
                return index, step, seed
        return None

    @staticmethod
    def _dead_before(trace: Trace, step: Step, seed: Step) -> bool:
        """Whether the drawn value is last read before the seeding call, in the same function (a
        notebook-style script draws for a demo, then seeds before the part that trains): nothing
        after the seed depends on it, and the seed resets the generator it advanced."""
        last_read = step.event.read_until
        if last_read <= 0:
            return False
        if seed.path == step.path and seed.event.scope == step.event.scope:
            return last_read < seed.event.line
        index = trace.steps.index(seed)
        helper = next((s for s in reversed(trace.steps[:index]) if s.event.kind == HELPER_SEED and s.site == seed.site), None)
        return (helper is not None and helper.path == step.path and helper.event.scope == step.event.scope
                and last_read < helper.event.line)

    def _finding(
        self, trace: Trace, step: Step, later_seed: Step | None, helpers: Helpers,
        unresolved: Step | None,
    ) -> Finding:
        entry = trace.entry.path
        use = f"{step.event.note} at {_where(trace, step)}"
        why = _why(trace)
        if later_seed is not None:
            message = (f"{entry} {why} draws from {_family(step)} RNG ({use}) before its first seed "
                       f"({_seed_call(trace, later_seed)}); move the seeding call before the first random use.")
        else:
            message = f"{entry} {why} draws from {_family(step)} RNG ({use}) but no seed is set on its path; "
            message += self._suggestion(trace, helpers)
        level = self.level
        if unresolved is not None:
            level = Level.NOTE
            message = message[:-1] + (f", unless `{unresolved.event.name}` (line {unresolved.site}), which could not be "
                                      "resolved, sets it.")
        return Finding(self.code, message, entry, _line(trace, step), level=level)

    def _suggestion(self, trace: Trace, helpers: Helpers) -> str:
        unused = [h for h in helpers() if (h[0], h[1]) not in trace.reached and self._importable(trace, h[0])]
        unused.sort(key=lambda h: ("seed" not in h[1].lower(), h[0].count("/"), h))
        if unused:
            path, name, line = unused[0]
            module = path.rsplit("/", 1)[-1].removesuffix(".py")
            return (f"`{module}.{name}` exists ({path}:{line}) but is never called from {trace.entry.path}; "
                    "call it before the first random use.")
        return self._plain_advice(trace)

    @staticmethod
    def _importable(trace: Trace, helper_path: str) -> bool:
        """A helper the entry point could import: in its folder, a parent folder or a subfolder
        (not in a sibling example's folder)."""
        helper_dir = helper_path.rpartition("/")[0]
        entry_dir = trace.entry.path.rpartition("/")[0]
        return any(
            inner == outer or not outer or inner.startswith(outer + "/")
            for inner, outer in ((entry_dir, helper_dir), (helper_dir, entry_dir))
        )

    @staticmethod
    def _plain_advice(trace: Trace) -> str:
        families = sorted({s.event.families[0] for _, s in _uses(trace)}, key=data.GLOBAL_FAMILIES.index)
        calls = ", ".join(data.FAMILY_SEED_CALL[f] for f in families)
        return f"call {calls} at start-up, before the first random use."


class PartialSeed(ProjectRule):
    code = "ML102"
    # Measured at 0.80 on the round-3 validation corpus: opt-in until it reaches 0.95 (rules/ML102.md).
    opt_in = True
    name = "partial-seed"
    summary = "An entry point seeds some RNG families but uses another that is never seeded"
    tags = ("reproducibility", "randomness")
    valid = (
        "import random, numpy as np, torch\n\nif __name__ == '__main__':\n    torch.manual_seed(0)\n"
        "    np.random.seed(0)\n    x = torch.randn(2) + np.random.rand()\n",
        "import numpy as np, lightning as L\n\nif __name__ == '__main__':\n    L.seed_everything(0, workers=True)\n"
        "    x = np.random.rand()\n",
    )
    invalid = (
        "import numpy as np, torch\n\nif __name__ == '__main__':\n    torch.manual_seed(0)\n"
        "    noise = np.random.rand(3)  # expect: ML102\n    print(noise)\n",
        "import torch\n\nif __name__ == '__main__':\n    torch.cuda.manual_seed_all(0)\n"
        "    w = torch.randn(3, requires_grad=True)  # expect: ML102\n    optimizer = torch.optim.SGD([w], lr=0.1)\n"
        "    w.sum().backward()\n    optimizer.step()\n",
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        return _dedupe(f for trace in _real_programs(traces(model)) for f in self._check(trace))

    def _check(self, trace: Trace) -> list[Finding]:
        seeds = [s for s in trace.steps if s.event.kind == SEED]
        if not seeds:
            return []  # nothing seeded at all: ML101's case
        seeded = {f for s in seeds for f in s.event.families}
        first: dict[str, Step] = {}
        for _, step in _uses(trace):
            first.setdefault(step.event.families[0], step)
        unresolved = _unresolved(trace.steps)
        findings = []
        for family, step in first.items():
            if family in seeded:
                continue
            seed = seeds[0]
            message = (f"{trace.entry.path} seeds {_families(seeded)} ({_seed_call(trace, seed)}) but "
                       f"{_family(step)} RNG, used by {step.event.note} at "
                       f"{_where(trace, step)}, is never seeded; add {data.FAMILY_SEED_CALL[family]} next to the "
                       "other seeding call.")
            level = self.level
            if unresolved is not None:
                level = Level.NOTE
                message = message[:-1] + (f", unless `{unresolved.event.name}` (line {unresolved.site}), which could "
                                          "not be resolved, seeds it.")
            findings.append(Finding(self.code, message, trace.entry.path, _line(trace, step), level=level))
        return findings


class DeterminismNotEnforced(ProjectRule):
    code = "ML105"
    name = "determinism-not-enforced"
    summary = "A CUDA training entry point never enables deterministic algorithms"
    tags = ("reproducibility", "determinism")
    valid = (
        "import torch\n\nif __name__ == '__main__':\n    torch.use_deterministic_algorithms(True)\n"
        "    model = torch.nn.Linear(2, 2).cuda()\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        "import torch\nfrom torch.backends import cudnn\n\nif __name__ == '__main__':\n    cudnn.deterministic = True\n"
        "    model = torch.nn.Linear(2, 2).to('cuda')\n    opt = torch.optim.Adam(model.parameters())\n",
        # Inference only: no optimizer, no backward.
        "import torch\n\nif __name__ == '__main__':\n    model = torch.nn.Linear(2, 2).cuda()\n",
        # A profiling block that calls backward() only to time it does not train.
        "import torch\n\nif __name__ == '__main__':\n    model = torch.nn.Linear(2, 2).cuda()\n"
        "    model(torch.ones(1, 2).cuda()).sum().backward()\n",
        # The main guard of a library module is a demo, not the project's entry point.
        {
            "models/__init__.py": "",
            "models/yolo.py": "import torch\n\nclass Net(torch.nn.Module):\n    pass\n\nif __name__ == '__main__':\n"
            "    net = Net().cuda()\n    opt = torch.optim.SGD(net.parameters(), lr=0.1)\n",
            "detect.py": "from models.yolo import Net\n\nif __name__ == '__main__':\n    Net()\n",
        },
        # A DDP-style mechanics demo: one step on random inputs and labels, no data read.
        "import torch\n\nif __name__ == '__main__':\n    model = torch.nn.Linear(10, 5).cuda()\n"
        "    opt = torch.optim.SGD(model.parameters(), lr=0.001)\n    inputs = torch.randn(20, 10).cuda()\n"
        "    labels = torch.randn(20, 5).cuda()\n    torch.nn.functional.mse_loss(model(inputs), labels).backward()\n"
        "    opt.step()\n",
    )
    invalid = (
        "import torch\n\nif __name__ == '__main__':\n    model = torch.nn.Linear(2, 2).cuda()  # expect: ML105\n"
        "    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n",
        # An optimizer built elsewhere, stepped here.
        "import torch\nfrom mylib import build_optimizer\n\nif __name__ == '__main__':\n"
        "    model = torch.nn.Linear(2, 2).cuda()  # expect: ML105\n    optimizer = build_optimizer(model)\n"
        "    model(torch.ones(1, 2).cuda()).sum().backward()\n    optimizer.step()\n",
        # Real data with random noise added: not a demo.
        "import numpy as np, torch\n\nif __name__ == '__main__':\n"
        "    x = torch.from_numpy(np.load('train.npy')).cuda()  # expect: ML105\n"
        "    model = torch.nn.Linear(10, 5).cuda()\n    opt = torch.optim.SGD(model.parameters(), lr=0.1)\n"
        "    inputs = x + torch.randn(20, 10).cuda()\n    model(inputs).sum().backward()\n    opt.step()\n",
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        found = traces(model)
        return _dedupe(self._check(trace, found.import_lines(trace.entry.path)) for trace in _real_programs(found))

    def _check(self, trace: Trace, import_lines: frozenset[int]) -> Finding | None:
        kinds = {s.event.kind for s in trace.steps}
        training = trace.training
        # A device string met while a library is imported (its top level) is not this program's choice
        # of device: only CUDA reached through what the program runs or calls counts.
        cuda = next((s for s in trace.steps
                     if s.event.kind == CUDA and (s.site not in import_lines or s.path == trace.entry.path)), None)
        if training is None or cuda is None or DET_ON in kinds:
            return None
        if any(DETERMINISM_OPTION in s.event.flags for s in trace.steps if s.event.kind == TRAIN):
            return None  # an HF/TRL trainer: its run config's full_determinism is a launch option
        name = trace.entry.path.rsplit("/", 1)[-1].lower()
        if any(part in name for part in data.BENCHMARK_NAME_PARTS):
            return None
        message = (f"{trace.entry.path} trains ({training.event.note or training.event.name} at "
                   f"{_where(trace, training)}) on CUDA ({cuda.event.note} at {_where(trace, cuda)}) without turning on "
                   "deterministic algorithms; call torch.use_deterministic_algorithms(True) (or set "
                   "torch.backends.cudnn.deterministic = True) at start-up.")
        unresolved = _unresolved(trace.steps)
        level = self.level
        if unresolved is not None:
            level = Level.NOTE
            message = message[:-1] + (f", unless `{unresolved.event.name}` (line {unresolved.site}), which could not be "
                                      "resolved, does it.")
        return Finding(self.code, message, trace.entry.path, _line(trace, cuda), level=level)


class UnseededGenerator(ProjectRule):
    code = "ML106"
    # Measured at 0 of 4 on the validation corpus this round: opt-in until it reaches 0.95 (rules/ML106.md).
    opt_in = True
    name = "unseeded-generator"
    summary = "A local RNG object is created without a seed, so global seeding never reaches it"
    tags = ("reproducibility", "randomness")
    valid = (
        "import numpy as np\n\nif __name__ == '__main__':\n    rng = np.random.default_rng(cfg.seed)\n",
        "import torch\n\nif __name__ == '__main__':\n    g = torch.Generator()\n    g.manual_seed(0)\n"
        "    loader = torch.utils.data.DataLoader([1, 2], shuffle=True, generator=g)\n",
        "import torch\n\nif __name__ == '__main__':\n    torch.manual_seed(0)\n"
        "    loader = torch.utils.data.DataLoader([1, 2], shuffle=True)\n",
        # Not reachable from any entry point.
        "import numpy as np\n\ndef helper():\n    return np.random.default_rng()\n",
        # Built but never drawn from: it cannot change a result.
        "import numpy as np\n\nif __name__ == '__main__':\n    rng = np.random.default_rng()\n    print('done')\n",
    )
    invalid = (
        "import numpy as np\n\nif __name__ == '__main__':\n    rng = np.random.default_rng()  # expect: ML106\n"
        "    noise = rng.normal(size=3)\n",
        "import random\n\ndef main():\n    r = random.Random()  # expect: ML106\n    return r.random()\n\n"
        "if __name__ == '__main__':\n    main()\n",
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        found = traces(model)
        reached = set().union(*(t.reached for t in found.traces)) if found.traces else set()
        imported: set[str] | None = None  # names other modules import, gathered on first need
        for file, facts in model.python_modules():
            if not is_training_path(file.path) or "testing" in file.path.rsplit("/", 1)[-1]:
                continue  # test inputs and test helpers: not a run
            extra = facts.family(RandomnessFacts)
            for event in extra.events if extra is not None else ():
                if event.kind != GENERATOR or (file.path, event.scope) not in reached:
                    continue
                if UNUSED in event.flags:
                    imported = imported if imported is not None else _imported_names(model)
                    if event.scope or f"{facts.module}.{event.text}" not in imported:
                        continue  # never drawn from: it cannot change a result
                advice = data.GENERATOR_ADVICE.get(event.name, "pass it a seed from your config or a constant")
                message = (f"{event.note}, so the global seed never reaches it and every run draws different "
                           f"numbers; {advice}.")
                yield Finding(self.code, message, file.path, event.line, level=self.level)


def _imported_names(model: ProjectModel) -> set[str]:
    """Qualified names imported anywhere in the repo (`from pkg.rngs import rng` gives "pkg.rngs.rng")."""
    return {
        event.name for _, facts in model.python_modules()
        for extra in [facts.family(RandomnessFacts)] if extra is not None
        for event in extra.events if event.kind == IMPORT
    }


class NondeterministicSeedSource(ProjectRule):
    code = "ML107"
    # Measured at 0.00 on the round-3 validation corpus: opt-in until it reaches 0.95 (rules/ML107.md).
    opt_in = True
    name = "nondeterministic-seed-source"
    summary = "A seed derived from the clock, the OS entropy pool or an unseeded RNG"
    tags = ("reproducibility", "randomness")
    valid = (
        "import torch\ntorch.manual_seed(42)\n",
        "import torch\n\ndef main(cfg):\n    torch.manual_seed(cfg.seed)\n",
        "import random, numpy as np\nrandom.seed(0)\nnp.random.seed(random.randint(0, 100))\n",
    )
    invalid = (
        "import time, torch\ntorch.manual_seed(int(time.time()))  # expect: ML107\n",
        "import os, numpy as np\nseed = int.from_bytes(os.urandom(4), 'little')\nnp.random.seed(seed)  # expect: ML107\n",
        {
            "utils.py": "import torch\n\ndef seed_all(seed):\n    torch.manual_seed(seed)\n",
            "train.py": "import time\nfrom utils import seed_all\nseed_all(time.time_ns() % 2**32)  # expect: ML107\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        found = traces(model)
        for file, facts in model.python_modules():
            extra = facts.family(RandomnessFacts)
            for event in extra.events if extra is not None else ():
                if not event.note or event.kind not in (SEED, CALL):
                    continue
                if event.kind == CALL and not self._seeding_helper(found.tracer, file.path, event):
                    continue
                name = event.name.rsplit(".", 1)[-1] if event.kind == SEED else event.text
                if event.name in data.ENTROPY_SEEDERS or event.note.startswith("nothing"):
                    problem = f"{name}() seeds from {event.note}"
                else:
                    problem = f"The seed passed to {name}() comes from {event.note}"
                message = (f"{problem}, so every run uses a different seed; pass a seed from your config or a "
                           "constant (and log it).")
                yield Finding(self.code, message, file.path, event.line, level=self.level)

    @staticmethod
    def _seeding_helper(tracer: Tracer, path: str, event: RandEvent) -> bool:
        found = tracer.calls.resolve(path, event.scope, event.name or None, event.text, event.receiver)
        return found.symbol is not None and tracer.seeds(found.symbol.path, found.symbol.name)


class MissingCublasWorkspaceConfig(ProjectRule):
    code = "ML108"
    name = "missing-cublas-workspace-config"
    summary = "Deterministic algorithms on CUDA without CUBLAS_WORKSPACE_CONFIG on a torch that needs it"
    tags = ("reproducibility", "determinism")
    # The first torch release without the CUBLAS_WORKSPACE_CONFIG check (pytorch PR #161749).
    defaults = {"fixed-in": "2.10"}
    valid = (
        {
            "train.py": "import os\nos.environ['CUBLAS_WORKSPACE_CONFIG'] = ':4096:8'\nimport torch\n\n"
            "if __name__ == '__main__':\n    torch.use_deterministic_algorithms(True)\n    x = torch.ones(2).cuda()\n",
        },
        {
            "requirements.txt": "torch==2.10.0\n",
            "train.py": "import torch\n\nif __name__ == '__main__':\n    torch.use_deterministic_algorithms(True)\n"
            "    x = torch.ones(2).cuda()\n",
        },
        {
            "Dockerfile": "FROM python:3.12\nENV CUBLAS_WORKSPACE_CONFIG=:4096:8\n",
            "train.py": "import torch\n\nif __name__ == '__main__':\n    torch.use_deterministic_algorithms(True)\n"
            "    x = torch.ones(2).cuda()\n",
        },
        # CPU only: cuBLAS is never used.
        "import torch\n\nif __name__ == '__main__':\n    torch.use_deterministic_algorithms(True)\n    x = torch.ones(2)\n",
    )
    invalid = (
        {
            "requirements.txt": "torch==2.4.1\n",
            "train.py": "import torch\n\nif __name__ == '__main__':\n"
            "    torch.use_deterministic_algorithms(True)  # expect: ML108\n    x = torch.ones(2).cuda()\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        if _cublas_configured(model):
            return
        fixed_in = str(self.options.get("fixed-in", self.defaults["fixed-in"]))
        index = dependency_index(model)
        seen: set[tuple[str, int]] = set()
        for trace in traces(model).traces:
            kinds = {s.event.kind for s in trace.steps}
            if CUDA not in kinds or any(SETS_CUBLAS in s.event.flags for s in trace.steps):
                continue
            for step in trace.steps:
                if step.event.kind != DET_ON or ALGORITHMS not in step.event.flags:
                    continue
                if (step.path, step.event.line) in seen:
                    continue
                info = index.allowed_versions("torch", near=step.path)
                if all_at_least(info, fixed_in):
                    continue
                seen.add((step.path, step.event.line))
                yield Finding(self.code, self._message(info, fixed_in), step.path, step.event.line, level=self.level)

    @staticmethod
    def _message(info: VersionInfo, fixed_in: str) -> str:
        if info.exact:
            which = f"the project's torch {', '.join(info.exact)} ({info.source}) is older than {fixed_in}"
        elif info.lower is not None:
            which = f"the project allows torch {info.lower} ({info.source}), older than {fixed_in}"
        else:
            which = f"no lockfile or pin says the project's torch is {fixed_in} or newer"
        return (f"use_deterministic_algorithms(True) on CUDA raises a RuntimeError at the first cuBLAS call on torch "
                f"before {fixed_in} unless CUBLAS_WORKSPACE_CONFIG is set, and {which}; set "
                "CUBLAS_WORKSPACE_CONFIG=:4096:8 in the environment (Dockerfile, .env, CI) or in os.environ before "
                "CUDA starts.")


def _cublas_configured(model: ProjectModel) -> bool:
    """Whether anything the repo controls sets CUBLAS_WORKSPACE_CONFIG: code, env files, Dockerfiles,
    Makefiles, shell scripts, CI workflows and other YAML."""
    for _, facts in model.python_modules():
        if (extra := facts.family(RandomnessFacts)) is not None and extra.cublas_env_lines:
            return True
    for file_facts in model.facts.values():
        if file_facts.python is not None or file_facts.data is None:
            continue
        content = file_facts.data if isinstance(file_facts.data, str) else repr(getattr(file_facts.data, "documents", file_facts.data))
        if data.CUBLAS_VAR in content:
            return True
    return False


def _randomness(facts: ModuleFacts) -> RandomnessFacts:
    """The module's randomness facts (empty when the extractor found nothing to record)."""
    return facts.family(RandomnessFacts) or RandomnessFacts()
