"""ML811-ML814: the practices the essay behind mlaudit asks for, checked at repository level.

Tests only protect a training pipeline when something runs them on every change. The rule
reads the repository's CI configuration (and what it calls: Makefile targets, shell scripts) as
text and looks for a test runner; which files are CI configuration and which commands run
tests is data (the tables below).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from mlaudit.analysis.entrypoints import EntryPoint, entry_points
from mlaudit.analysis.modules import module_graph
from mlaudit.files import boundary, kinds
from mlaudit.files.kinds import DOCS, TEST
from mlaudit.files.sources import SourceFile
from mlaudit.findings import Finding
from mlaudit.project.model import ProjectModel
from mlaudit.rules.base import ProjectRule

# CI configuration: (path prefix, suffixes) of the files automation reads.
CI_FILES = (
    (".github/workflows/", (".yml", ".yaml")),
    (".gitlab-ci", (".yml", ".yaml")),
    (".circleci/", (".yml", ".yaml")),
    ("azure-pipelines", (".yml", ".yaml")),
    (".travis", (".yml", ".yaml")),
    ("bitbucket-pipelines", (".yml", ".yaml")),
    (".buildkite/", (".yml", ".yaml")),
    (".pre-commit-config", (".yaml", ".yml")),
    (".ci/", ("",)),  # a repository's own CI entry scripts (`.ci/run`)
    ("Jenkinsfile", ("",)),
)
# CI files and delegates are read up to this size; a test command sits near the top.
MAX_READ = 256 * 1024
# Commands that run a test suite.
TEST_COMMAND = re.compile(
    r"(?<![\w-])(pytest|py\.test|python3? -m unittest|unittest discover|tox|nox|hatch (?:run )?test|"
    r"coverage run|nose2|make (?:\S+ )*test\w*)(?![\w-])"
)
# Files CI may delegate to, read when a CI file names them.
DELEGATES = ("Makefile", ".sh")


def _is_ci(path: str) -> bool:
    return any(path.startswith(prefix) and path.endswith(suffixes) for prefix, suffixes in CI_FILES)


def _is_test(file: SourceFile) -> bool:
    """A pytest module (test_*.py, *_test.py) in a test folder: the test role alone also takes a
    top-level `test_x.py`, in an ML repository as often an evaluation script."""
    return file.has_role(TEST) and kinds.in_test_folder(file.path) and kinds.PYTEST_NAMES.fullmatch(file.name) is not None


def _text(model: ProjectModel, path: str) -> str:
    data: Any = model.data(path)
    if isinstance(data, str):
        return data
    if data is not None:
        return repr(getattr(data, "documents", data))
    file = model.files.get(path)  # a file no parser reads (`.ci/run`, `Jenkinsfile`)
    raw = boundary.read_inside(model.root, file.abs_path, MAX_READ) if file is not None else None
    return raw.decode("utf-8", errors="replace") if raw else ""


class TestsNotRunInCI(ProjectRule):
    code = "ML814"
    reads_source = True  # CI scripts and module text, read from disk
    name = "tests-not-run-in-ci"
    summary = "The repository has tests but no CI workflow, pre-commit hook or script it calls runs them"
    tags = ("practices",)
    # Opt-in: right on both real repositories where it fired, but CI that lives outside the
    # repository (a Jenkins or Buildkite pipeline set up in its UI, a separate infra repo) is
    # invisible here, and it fires on every small repository with a tests/ folder.
    opt_in = True
    valid = (
        {
            "tests/test_model.py": "def test_shape():\n    assert True\n",
            ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: python -m pytest -q\n",
        },
        {
            "tests/test_model.py": "def test_shape():\n    assert True\n",
            "Makefile": "test:\n\tpytest tests\n",
            ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: make test\n",
        },
        {
            "tests/test_model.py": "def test_shape():\n    assert True\n",
            "scripts/ci.sh": "set -e\npython -m pytest tests\n",
            ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: bash scripts/ci.sh\n",
        },
        {"train.py": "print('no tests here')\n"},
        {**{"tests/test_model.py": "def test_shape():\n    assert True\n"}, ".ci/run": "#!/bin/sh\nmake test\n",
         "Makefile": "test:\n\tpython -m pytest\n"},
    )
    invalid = (
        {"tests/test_model.py": "def test_shape():\n    assert True\n", "train.py": "print(1)\n"},
        {
            "tests/test_model.py": "def test_shape():\n    assert True\n",
            ".github/workflows/lint.yml": "on: push\njobs:\n  l:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: ruff check .\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        tests = sorted(f.path for f in model.files.values() if _is_test(f))
        if not tests:
            return
        ci = sorted(p for p in model.files if _is_ci(p))
        if any(_runs_tests(model, path) for path in ci):
            return
        if ci:
            yield Finding(
                self.code,
                f"{len(tests)} test file(s) exist but no CI file runs them ({', '.join(ci[:3])}"
                f"{' ...' if len(ci) > 3 else ''} call no pytest, unittest, tox, nox or `make test`), so a change "
                "that breaks training can be merged unnoticed; add a step that runs the test suite.",
                ci[0],
                level=self.level,
            )
            return
        yield Finding(
            self.code,
            f"{len(tests)} test file(s) exist but nothing automated runs them (no CI workflow, no pre-commit "
            "hook), so a change that breaks training can be merged unnoticed; add a CI workflow that runs "
            "the test suite (for GitHub: .github/workflows/tests.yml with `python -m pytest`).",
            tests[0],
            level=self.level,
        )


def _runs_tests(model: ProjectModel, path: str) -> bool:
    text = _text(model, path)
    if TEST_COMMAND.search(text):
        return True
    # One level of delegation: a Makefile target or a script that the CI file names.
    named = [o for o in model.files if o.endswith(DELEGATES) and (o in text or (o == "Makefile" and "make " in text))]
    return any(TEST_COMMAND.search(_text(model, other)) for other in named)


# --- ML811-ML813: environment captured, training code tested --------------------------------

# Calls that start a tracked run, by qualified name: (tracker, captures the environment by default,
# words in the module that switch that default capture off). W&B saves the installed packages
# (`requirements.txt`) with every run unless its metadata collection is disabled; ClearML's
# Task.init records the installed packages; MLflow's start_run records nothing of the environment.
TRACKED_RUNS: dict[str, tuple[str, bool, tuple[str, ...]]] = {
    "wandb.init": ("W&B", True, ("disable_meta", "WANDB_DISABLE_META")),
    "mlflow.start_run": ("MLflow", False, ()),
    "clearml.Task.init": ("ClearML", True, ("auto_connect_frameworks=False",)),
}
# Calls that log the environment with the run: a lockfile or freeze saved as an artifact, or a model
# logged with MLflow (log_model and autolog write its conda.yaml/requirements.txt/python_env.yaml).
ENV_LOGGING_CALLS = ("wandb.save", "mlflow.log_artifact", "mlflow.log_artifacts", "mlflow.log_text")
ENV_LOGGING_SUFFIXES = (".log_model", ".autolog", ".save_model")
# Text that shows the code handles the environment itself (a freeze, a lockfile, a conda env).
ENV_TEXT = re.compile(
    r"pip\W+freeze|pip_requirements|conda_env|requirements\.txt|environment\.ya?ml|poetry\.lock|uv\.lock|"
    r"conda-lock|pkg_resources\.working_set|importlib\.metadata\.distributions|wandb\.Artifact"
)
# Files that declare the run's environment to the tracker itself (MLflow Projects).
ENV_FILES = ("MLproject",)
# Calls that run a training step, by the last part of the name as written (`trainer.fit`,
# `optimizer.step`, `loss.backward`); a call to a repo function named train* counts too.
STEP_CALLS = frozenset({"fit", "backward", "train_step", "training_step", "train_one_epoch", "train_epoch"})
OPTIMIZER_WORDS = ("optim", "opt", "scaler")  # `scaler.step(optimizer)` under AMP
# A trainer built to run a few steps (`Trainer(fast_dev_run=True)`): in a test, it is there to train.
SMOKE_KEYWORDS = frozenset({"fast_dev_run", "max_steps", "limit_train_batches"})
# `train_test_split`, `train_loader()`: data, not a step.
DATA_WORDS = ("split", "load", "data", "transform", "set", "path", "file")
# Training entry points in this many folders make a collection of examples, which is
# rarely meant to carry tests (ML812/ML813 judged such findings noise on real repositories).
COLLECTION_FOLDERS = 3


def _is_step_call(call: Any) -> bool:
    """`trainer.fit(...)`, `loss.backward()`, `optimizer.step()`, `train(...)`, `trainer.train()`;
    not `model.train()`, which only switches the model to training mode."""
    text = (call.text or "").lower()
    last = text.rpartition(".")[2]
    if last in STEP_CALLS or SMOKE_KEYWORDS & set(call.keywords):
        return True
    if last == "train" or (last.startswith("train_") and not any(w in last for w in DATA_WORDS)):
        return "model" not in text
    return last == "step" and any(word in text for word in OPTIMIZER_WORDS)


def _steps(graph: Any, path: str, memo: dict[str, bool]) -> bool:
    if path not in memo:
        memo[path] = any(_is_step_call(c) for c in graph.facts[path].calls)
    return memo[path]


def _module_text(model: ProjectModel, path: str) -> str:
    file = model.files.get(path)
    raw = boundary.read_inside(model.root, file.abs_path, MAX_READ) if file is not None else None
    return raw.decode("utf-8", errors="replace") if raw else ""


def _tests(model: ProjectModel) -> list[str]:
    """Python modules with the project's `test` role (test_*.py, conftest.py, files in tests/)."""
    return sorted(f.path for f, _ in model.python_modules() if f.has_role(TEST) and f.format == "python")


def _reachable(graph: Any, start: str) -> set[str]:
    """The repo modules `start` imports, directly or through other repo modules."""
    seen, todo = {start}, [start]
    while todo and len(seen) < 10_000:
        for target in graph.imports.get(todo.pop(), ()):
            if target not in seen:
                seen.add(target)
                todo.append(target)
    return seen


def _training_entries(model: ProjectModel) -> list[tuple[EntryPoint, set[str]]]:
    """Entry points outside the tests whose code (the module and what it imports) runs a training
    step, with the repo modules that code spans. Built once per run for ML812 and ML813."""
    return model.analysis(_find_training_entries)


def _find_training_entries(model: ProjectModel) -> list[tuple[EntryPoint, set[str]]]:
    graph = module_graph(model)
    steps: dict[str, bool] = {}  # module -> it calls a training step; asked for by many entries
    found = []
    for entry in entry_points(model):
        file = model.files.get(entry.path)
        if file is None or file.has_role(TEST) or file.has_role(DOCS):
            continue
        code = {p for p in _reachable(graph, entry.path) if not model.files[p].has_role(TEST)}
        if any(_steps(graph, p, steps) for p in code):
            found.append((entry, code))
    if len({entry.path.rpartition("/")[0] for entry, _ in found}) >= COLLECTION_FOLDERS:
        return []  # a collection of independent examples (pytorch/examples, a book's chapters), not one project
    # The finding points at the entry that most looks like *the* training script.
    return sorted(found, key=lambda item: "train" not in item[0].path.rpartition("/")[2])


def _ci_text(model: ProjectModel) -> str:
    """What the CI files say, with the Makefile and scripts they name (ML814's delegation)."""
    texts = []
    for path in sorted(p for p in model.files if _is_ci(p)):
        text = _text(model, path)
        texts.append(text)
        named = [o for o in model.files if o.endswith(DELEGATES) and (o in text or (o == "Makefile" and "make " in text))]
        texts.extend(_text(model, other) for other in named)
    return "\n".join(texts)


def _ci_runs(model: ProjectModel, entries: list[tuple[EntryPoint, set[str]]]) -> bool:
    """Does CI run a training script itself (`python train.py --epochs 1`)? That is a smoke test
    too, one that lives in a workflow rather than in tests/."""
    text = _ci_text(model)
    return any(re.search(rf"(?<![\w.-]){re.escape(e.path.rpartition('/')[2])}\b", text) for e, _ in entries)


class EnvironmentNotCaptured(ProjectRule):
    code = "ML811"
    reads_source = True  # CI scripts and module text, read from disk
    name = "environment-not-captured"
    summary = "A tracked training run (MLflow, W&B) logs neither the package environment nor lets the tracker capture it"
    tags = ("practices",)
    opt_in = True
    valid = (
        "import wandb\nrun = wandb.init(project='p')\n",
        "import mlflow\nwith mlflow.start_run():\n    mlflow.pytorch.log_model(model, 'model')\n",
        "import mlflow\nmlflow.autolog()\nwith mlflow.start_run():\n    model.fit(X, y)\n",
        "import mlflow\nwith mlflow.start_run():\n    mlflow.log_artifact('requirements.lock')\n",
        "import subprocess\nimport mlflow\nwith mlflow.start_run():\n"
        "    subprocess.run(['pip', 'freeze'], stdout=open('env.txt', 'w'))\n",
        {"tests/test_run.py": "import mlflow\ndef test_run():\n    with mlflow.start_run():\n        pass\n"},
    )
    invalid = (
        "import mlflow\nwith mlflow.start_run():  # expect: ML811\n    mlflow.log_metric('loss', 0.1)\n",
        "import wandb\nrun = wandb.init(settings=wandb.Settings(x_disable_meta=True))  # expect: ML811\n",
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        if any(path.rpartition("/")[2] in ENV_FILES for path in model.files):
            return
        modules = [(f, m) for f, m in model.python_modules() if not f.has_role(TEST) and not f.has_role(DOCS)]
        if any(_logs_environment(call.callee or "") for _, m in modules for call in m.calls):
            return
        for file, facts in modules:
            runs = [c for c in facts.calls if c.callee in TRACKED_RUNS]
            if not runs:
                continue
            text = _module_text(model, file.path)
            if ENV_TEXT.search(text):
                continue
            for call in runs:
                tracker, captures, switched_off = TRACKED_RUNS[call.callee or ""]
                if captures and not any(word in text for word in switched_off):
                    continue
                yield Finding(
                    self.code,
                    f"`{call.text}()` starts a run tracked by {tracker}, but nothing records the package environment it ran "
                    "in, so the run cannot be rebuilt later; log it at the start of the run (for MLflow: "
                    "`mlflow.log_artifact('requirements.lock')` or log the model with `log_model`, which writes "
                    "its requirements).",
                    file.path,
                    call.line,
                    call.col + 1,
                    level=self.level,
                )


def _logs_environment(callee: str) -> bool:
    return callee in ENV_LOGGING_CALLS or (callee.startswith("mlflow.") and callee.endswith(ENV_LOGGING_SUFFIXES))


class TrainingCodeUntested(ProjectRule):
    code = "ML812"
    reads_source = True  # CI scripts and module text, read from disk
    name = "training-code-untested"
    summary = "The repository has a training entry point but no test imports any module of its training code"
    tags = ("practices",)
    opt_in = True
    valid = (
        {
            "train.py": "from model import Net\nif __name__ == '__main__':\n    Net().fit()\n",
            "model.py": "class Net:\n    def fit(self):\n        pass\n",
            "tests/test_model.py": "from model import Net\ndef test_net():\n    assert Net()\n",
        },
        {
            "train.py": "if __name__ == '__main__':\n    loss.backward()\n",
            "tests/test_train.py": "import subprocess\ndef test_runs():\n"
            "    subprocess.run(['python', 'train.py', '--max-steps', '1'], check=True)\n",
        },
        {"evaluate.py": "if __name__ == '__main__':\n    print(model(x))\n"},
        {
            "dcgan/main.py": "if __name__ == '__main__':\n    optimizer.step()\n",
            "run_examples.sh": "cd dcgan && python main.py --dry-run\n",
            ".github/workflows/ci.yml": "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n"
            "    - run: bash run_examples.sh\n",
        },
    )
    invalid = (
        {"train.py": "import torch\nif __name__ == '__main__':\n    optimizer.step()\n"},
        {
            "train.py": "if __name__ == '__main__':\n    trainer.fit(model)\n",
            "tests/test_utils.py": "import math\ndef test_sqrt():\n    assert math.sqrt(4) == 2\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        entries = _training_entries(model)
        if not entries or _ci_runs(model, entries):
            return
        graph = module_graph(model)
        tests = _tests(model)
        training = set().union(*(code for _, code in entries))
        for test in tests:
            if training & set(graph.imports.get(test, ())):
                return
            text = _module_text(model, test)
            if any(entry.path.rpartition("/")[2] in text for entry, _ in entries):
                return  # the test runs the script (`subprocess.run(["python", "train.py", ...])`)
        entry = entries[0][0]
        what = f"{len(tests)} test file(s) import none of its modules" if tests else "the repository has no tests"
        yield Finding(
            self.code,
            f"`{entry.label}` trains, but {what}, so a change that breaks data loading, the model or the "
            "loss is found only by the next full training run; add a test that imports the training code "
            "(checks a transform's output, the model's output shape, one training step).",
            entry.path,
            entry.line,
            level=self.level,
        )


class NoTrainingSmokeTest(ProjectRule):
    code = "ML813"
    reads_source = True  # CI scripts and module text, read from disk
    name = "no-training-smoke-test"
    summary = "Tests exist but none runs a training step (the training function, an optimizer step, Trainer.fit)"
    tags = ("practices",)
    opt_in = True
    valid = (
        {
            "train.py": "from model import Net\nif __name__ == '__main__':\n    train(Net())\n",
            "tests/test_train.py": "import torch\ndef test_one_step(model):\n    loss = model(torch.ones(1)).sum()\n"
            "    loss.backward()\n    optimizer.step()\n",
        },
        {
            "train.py": "if __name__ == '__main__':\n    trainer.fit(model)\n",
            "tests/test_fit.py": "from lightning import Trainer\ndef test_fit(model):\n"
            "    Trainer(fast_dev_run=True).fit(model)\n",
        },
        {"train.py": "if __name__ == '__main__':\n    trainer.fit(model)\n"},
    )
    invalid = (
        {
            "train.py": "if __name__ == '__main__':\n    trainer.fit(model)\n",
            "tests/test_shapes.py": "def test_shape(model):\n    model.train()\n    assert model(x).shape == (2, 10)\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        tests = _tests(model)
        entries = _training_entries(model) if tests else []
        if not entries or _ci_runs(model, entries):
            return
        graph = module_graph(model)
        if any(_is_step_call(call) for test in tests for call in graph.facts[test].calls):
            return
        yield Finding(
            self.code,
            f"{len(tests)} test file(s) exist but none runs a training step, so a change that breaks the "
            "backward pass, the optimizer or the trainer's wiring passes the tests; add a smoke test that "
            "trains for one step on a tiny batch (`loss.backward(); optimizer.step()`, or "
            "`Trainer(fast_dev_run=True).fit(model)`).",
            tests[0],
            level=self.level,
        )
