"""Which function the probe runs: `[tool.mlaudit.probe] target = "package.module:function"`, or a
pytest test, `tests/test_train.py::test_one_step`, given as the target or found in the repo.

Everything here is static (tomllib and ast); nothing imports the audited code.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass, field
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

    @property
    def spec(self) -> str:
        return f"{self.module}::{self.function}" if self.pytest else f"{self.module}:{self.function}"


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
    if override:
        return parse_target(override)
    found = pyproject_target(root)
    if found is not None:
        return found
    test = find_pytest_target(root)
    if test is not None:
        return test
    raise TargetError(
        f"no probe target: [tool.mlaudit.probe] target is not set in {root / 'pyproject.toml'}, and no pytest test "
        'under the repo looks like it trains; set it as\n\n    [tool.mlaudit.probe]\n    target = "mypkg.train:step"'
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
            elif entry.suffix == ".py" and (entry.name.startswith("test_") or entry.name.endswith("_test.py")):
                found.append(entry)
    return sorted(found)


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
        try:
            source = file.read_text(encoding="utf-8")
            tree = ast.parse(source)
        except (OSError, SyntaxError, UnicodeDecodeError, ValueError, RecursionError):
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
    return Target(relative, name, pytest=True, source="discovered")


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
    try:
        tree = ast.parse(file.read_text(encoding="utf-8"))
    except (OSError, SyntaxError, UnicodeDecodeError, ValueError):
        return Location(relative, 1)
    for node in tree.body:
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) and node.name == target.function:
            return Location(relative, node.lineno)
    return Location(relative, 1)
