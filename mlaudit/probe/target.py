"""Which function the probe runs: `[tool.mlaudit.probe] target = "package.module:function"`, or a
pytest test, `tests/test_train.py::test_one_step`, given as the target or found in the repo.

Everything here is static (tomllib and ast); nothing imports the audited code.
"""

from __future__ import annotations

import ast
import re
import sys
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import partial
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from mlaudit.probe.worker import import_paths

_TARGET = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")
_PYTEST_TARGET = re.compile(r"^(?P<file>[^:]+\.py)::(?P<test>[A-Za-z_][\w]*)$")
MAX_TEST_FILES = 2000
SKIPPED_FOLDERS = {".git", ".venv", "venv", "env", "node_modules", "site-packages", "build", "dist", ".tox", ".nox"}


class TargetError(Exception):
    """The target is missing or malformed; the message says how to set it."""


@dataclass(frozen=True)
class Target:
    module: str  # a dotted module, or for a pytest test the repo-relative file
    function: str
    pytest: bool = False
    source: str = field(default="option", compare=False)  # "option" (--target), "pyproject", or "discovered"
    takes_seed: bool = field(default=True, compare=False)  # False: run as is (it seeds itself), no ML902 run
    reason: str = field(default="", compare=False)  # for a discovered target: why it was chosen

    @property
    def spec(self) -> str:
        return f"{self.module}::{self.function}" if self.pytest else f"{self.module}:{self.function}"

    @property
    def seeds_itself(self) -> bool:
        return self.pytest or not self.takes_seed


@dataclass(frozen=True)
class Location:
    path: str  # repo-relative POSIX path
    line: int


def parse_target(text: str, source: str = "option") -> Target:
    test = _PYTEST_TARGET.match(text.strip())
    if test:
        return Target(test["file"].replace("\\", "/").removeprefix("./"), test["test"], pytest=True, source=source)
    if not _TARGET.match(text.strip()):
        raise TargetError(
            f"target {text!r} is not of the form 'package.module:function' (e.g. 'mypkg.train:step') "
            "or 'path/to/test_file.py::test_name'"
        )
    module, _, function = text.strip().partition(":")
    return Target(module, function, source=source)


def read_target(root: Path, override: str | None = None) -> Target:
    """The `--target` option if given, else `[tool.mlaudit.probe] target` in root/pyproject.toml."""
    found = parse_target(override) if override else pyproject_target(root)
    if found is not None:
        return found if found.pytest else replace(found, takes_seed=function_takes_seed(root, found))
    finders: list[Callable[[Path], Target | None]] = [
        find_pytest_target,
        *(partial(find_framework_target, framework=f) for f in FRAMEWORKS),
    ]
    for find in finders:
        discovered = find(root)
        if discovered is not None:
            return discovered
    raise TargetError(
        f"no probe target: [tool.mlaudit.probe] target is not set in {root / 'pyproject.toml'}, no pytest test "
        "under the repo looks like it trains, and no function drives a Lightning Trainer(fast_dev_run=N) or a "
        'Hugging Face Trainer with max_steps; set it as\n\n    [tool.mlaudit.probe]\n    target = "mypkg.train:step"'
        "\n\nor pass --target mypkg.train:step (or --target tests/test_train.py::test_one_step)"
    )


def pyproject_target(root: Path) -> Target | None:
    """The `[tool.mlaudit.probe] target`, None when pyproject.toml or the key is missing."""
    pyproject = root / "pyproject.toml"
    hint = (
        f'set it in {pyproject} as\n\n    [tool.mlaudit.probe]\n    target = "mypkg.train:step"\n\n'
        "or pass --target mypkg.train:step"
    )
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TargetError(f"cannot read {pyproject}: {exc}") from None
    section = data.get("tool", {}).get("mlaudit", {}).get("probe", {})
    value = section.get("target") if isinstance(section, dict) else None
    if value is None:
        return None
    if not isinstance(value, str):
        raise TargetError(f"[tool.mlaudit.probe] target in {pyproject} must be a string; {hint}")
    return parse_target(value, source="pyproject")


def test_files(root: Path) -> list[Path]:
    """tests' files (`test_*.py`, `*_test.py`) under root, sorted, skipping environments and builds."""
    return python_files(root, _is_test_file)


def _is_test_file(path: Path) -> bool:
    # pytest's default `python_files`, not files/kinds' test role: the probe hands these to pytest.
    return path.name.startswith("test_") or path.name.endswith("_test.py")


TRAINING_CALLS = {"fit", "train", "run", "train_step", "training_step"}  # trainer.fit(), trainer.run()...
TRAINING_WORDS = ("train", "fit", "step")
ML_LIBRARIES = ("torch", "lightning", "transformers")


def training_tier(function: ast.FunctionDef | ast.AsyncFunctionDef, source: str) -> int | None:
    """How surely the test trains, best first: 0 it calls `.step()` in a file that uses torch.optim;
    1 it calls a trainer's `.fit()`/`.train()`/`.run()`; 2 its name says train/fit/step in a file that
    uses torch, Lightning or transformers; None otherwise. The run itself checks that an optimizer
    stepped, so a wrong guess costs one clear error, never a wrong verdict."""
    calls = {
        node.func.attr
        for node in ast.walk(function)
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
    }
    if "step" in calls and "optim" in source:
        return 0
    uses_ml = any(library in source for library in ML_LIBRARIES)
    if calls & TRAINING_CALLS and "trainer" in source.lower() and uses_ml:
        return 1
    if any(word in function.name for word in TRAINING_WORDS) and uses_ml:
        return 2
    return None


def find_pytest_target(root: Path) -> Target | None:
    """A pytest smoke test that trains: the surest tier first, then names with train/step, then path order."""
    candidates: list[tuple[int, bool, str, int, str]] = []
    for file in test_files(root):
        source = read_source(file)
        tree = parse_source(source) if source is not None else None
        if source is None or tree is None:
            continue
        relative = file.relative_to(root).as_posix()
        for node in tree.body:
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name.startswith("test"):
                tier = training_tier(node, source)
                if tier is not None:
                    named = any(word in node.name for word in TRAINING_WORDS)
                    candidates.append((tier, not named, relative, node.lineno, node.name))
    if not candidates:
        return None
    *_, relative, _, name = min(candidates)
    return Target(relative, name, pytest=True, source="discovered", reason="a pytest test that looks like it trains")


def module_file(root: Path, module: str) -> Path | None:
    """The file that defines `module`, looked up the way the worker's sys.path would find it."""
    parts = module.split(".")
    for base in import_paths(root):
        for candidate in (base.joinpath(*parts).with_suffix(".py"), base.joinpath(*parts, "__init__.py")):
            if candidate.is_file():
                return candidate
    return None


def locate(root: Path, target: Target) -> Location:
    """Where findings point: the target function's `def` line, else its module, else pyproject.toml."""
    file = (
        (root / target.module if (root / target.module).is_file() else None)
        if target.pytest
        else module_file(root, target.module)
    )
    if file is None:
        return Location("pyproject.toml", 1)
    relative = file.relative_to(root).as_posix()
    tree = parse_file(file)
    if tree is None:
        return Location(relative, 1)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == target.function:
            return Location(relative, node.lineno)
    return Location(relative, 1)


@dataclass(frozen=True)
class Framework:
    """A training framework whose Trainer runs a few steps when told to: how a project shows it
    uses it (its import names) and the Trainer settings that make a run short."""

    name: str
    label: str  # how the probe's message names such a run
    imports: tuple[str, ...]
    short_run: tuple[str, ...]  # keywords / attributes that make the Trainer stop after a few steps
    callees: str  # regex: the calls whose keywords count (litdata's optimize(fast_dev_run=...) does not)
    owners: str  # regex: what an assigned setting must hang from (`cfg.trainer.fast_dev_run = True`)

    def imported_by(self, text: str) -> bool:
        names = "|".join(re.escape(name) for name in self.imports)
        return re.search(rf"^\s*(?:from|import)\s+(?:{names})\b", text, re.MULTILINE) is not None


# Searched in this order, after pytest smoke tests; adding a framework is a row (and its Trainer
# patch in worker.TRAINERS for --steps / --resume-at).
FRAMEWORKS = (
    Framework("lightning", "a Lightning Trainer(fast_dev_run=N) run", ("lightning", "pytorch_lightning"),
              ("fast_dev_run", "limit_train_batches"), r"Trainer$", r"(?i)trainer"),
    # TRL's SFTConfig, GRPOConfig... are TrainingArguments too.
    Framework("transformers", "a Hugging Face Trainer run with max_steps=N", ("transformers", "trl"), ("max_steps",),
              r"(TrainingArguments|Config)$", r"(?i)args|config"),
)
MAX_SOURCE_BYTES = 1_000_000


def python_files(root: Path, keep: Callable[[Path], bool] = lambda path: True) -> list[Path]:
    """The repo's .py files that `keep` accepts, sorted, skipping environments, builds and hidden
    folders (bounded)."""
    found: list[Path] = []
    todo = [root]
    while todo and len(found) < MAX_TEST_FILES:
        folder = todo.pop()
        try:
            entries = sorted(folder.iterdir(), reverse=True)
        except OSError:
            continue
        for entry in entries:
            if entry.is_symlink():
                continue
            if entry.is_dir():
                if entry.name not in SKIPPED_FOLDERS and not entry.name.startswith("."):
                    todo.append(entry)
            elif entry.suffix == ".py" and entry.is_file() and keep(entry):  # never a FIFO or device
                found.append(entry)
    return sorted(found)


def read_source(file: Path) -> str | None:
    try:
        if file.stat().st_size > MAX_SOURCE_BYTES:
            return None
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None


def parse_source(text: str) -> ast.Module | None:
    try:
        return ast.parse(text)
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        return None


def parse_file(file: Path) -> ast.Module | None:
    text = read_source(file)
    return parse_source(text) if text is not None else None


def callee_name(call: ast.Call) -> str:
    func = call.func
    return func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""


def sets_short_run(function: ast.FunctionDef | ast.AsyncFunctionDef, framework: Framework) -> bool:
    """The function passes one of the framework's short-run settings to its Trainer (or training
    arguments) as a keyword (`Trainer(fast_dev_run=2)`, `TrainingArguments(max_steps=3)`) or assigns
    it on a trainer/args/config object (`cfg.trainer.fast_dev_run = True`)."""
    settings = framework.short_run
    for node in ast.walk(function):
        if (
            isinstance(node, ast.Call)
            and any(k.arg in settings for k in node.keywords)
            and re.search(framework.callees, callee_name(node))
        ):
            return True
        targets = node.targets if isinstance(node, ast.Assign) else []
        for target in targets:
            if (
                isinstance(target, ast.Attribute)
                and target.attr in settings
                and re.search(framework.owners, ast.unparse(target.value))
            ):
                return True
            if (
                isinstance(target, ast.Subscript)
                and isinstance(target.slice, ast.Constant)
                and target.slice.value in settings
            ):
                return True
    return False


def callable_as_is(function: ast.FunctionDef | ast.AsyncFunctionDef) -> bool:
    """Every parameter but `seed` has a default, so the worker can call it."""
    args = function.args
    positional = [*args.posonlyargs, *args.args]
    required = [a.arg for a in positional[: len(positional) - len(args.defaults)]]
    required += [a.arg for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is None]
    return not isinstance(function, ast.AsyncFunctionDef) and set(required) <= {"seed"}


def module_name(root: Path, file: Path) -> str | None:
    """The dotted module the worker's sys.path (repo root, src/) imports `file` as."""
    for base in reversed(import_paths(root)):
        try:
            parts = list(file.relative_to(base).with_suffix("").parts)
        except ValueError:
            continue
        if parts and parts[-1] == "__init__":
            parts.pop()
        if parts and all(part.isidentifier() for part in parts):
            return ".".join(parts)
    return None


def find_framework_target(root: Path, framework: Framework) -> Target | None:
    """A pytest test, else a module-level function callable as is, that makes the framework's
    Trainer run a few steps, in a project that imports the framework; tests first, then path order.
    Static: the files are parsed, never imported."""
    texts = [(file, text) for file in python_files(root) if (text := read_source(file)) is not None]
    if not any(framework.imported_by(text) for _, text in texts):
        return None
    candidates: list[tuple[bool, str, int, Target]] = []
    for file, text in texts:
        # Only files that name a setting are parsed: a large repo has thousands of modules.
        tree = parse_source(text) if any(word in text for word in framework.short_run) else None
        is_test = file.name.startswith("test_") or file.name.endswith("_test.py")
        for node in tree.body if tree is not None else []:
            if not isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                continue
            if not sets_short_run(node, framework):
                continue
            relative = file.relative_to(root).as_posix()
            if is_test and node.name.startswith("test"):
                target = Target(relative, node.name, pytest=True, source="discovered", reason=framework.label)
            elif not is_test and callable_as_is(node) and (module := module_name(root, file)):
                takes_seed = any(a.arg == "seed" for a in [*node.args.args, *node.args.kwonlyargs])
                target = Target(module, node.name, source="discovered", takes_seed=takes_seed, reason=framework.label)
            else:
                continue
            candidates.append((not is_test, relative, node.lineno, target))
    return min(candidates, key=lambda c: c[:3])[3] if candidates else None


def function_takes_seed(root: Path, target: Target) -> bool:
    """Whether `module:function` has a `seed` parameter, read from its source (True when unknown)."""
    file = module_file(root, target.module)
    tree = parse_file(file) if file is not None else None
    for node in tree.body if tree is not None else []:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == target.function:
            args = node.args
            named = [a.arg for a in [*args.posonlyargs, *args.args, *args.kwonlyargs]]
            return "seed" in named
    return True
