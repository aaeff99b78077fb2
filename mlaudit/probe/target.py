"""Which function the probe runs: `[tool.mlaudit.probe] target = "package.module:function"`.

Everything here is static (tomllib and ast); nothing imports the audited code.
"""

from __future__ import annotations

import ast
import re
import sys
from dataclasses import dataclass
from pathlib import Path

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib

from mlaudit.probe.worker import import_paths

_TARGET = re.compile(r"^[A-Za-z_][\w]*(\.[A-Za-z_][\w]*)*:[A-Za-z_][\w]*$")


class TargetError(Exception):
    """The target is missing or malformed; the message says how to set it."""


@dataclass(frozen=True)
class Target:
    module: str
    function: str

    @property
    def spec(self) -> str:
        return f"{self.module}:{self.function}"


@dataclass(frozen=True)
class Location:
    path: str  # repo-relative POSIX path
    line: int


def parse_target(text: str) -> Target:
    if not _TARGET.match(text.strip()):
        raise TargetError(f"target {text!r} is not of the form 'package.module:function' (e.g. 'mypkg.train:step')")
    module, _, function = text.strip().partition(":")
    return Target(module, function)


def read_target(root: Path, override: str | None = None) -> Target:
    """The `--target` option if given, else `[tool.mlaudit.probe] target` in root/pyproject.toml."""
    if override:
        return parse_target(override)
    pyproject = root / "pyproject.toml"
    hint = (
        f'set it in {pyproject} as\n\n    [tool.mlaudit.probe]\n    target = "mypkg.train:step"\n\n'
        "or pass --target mypkg.train:step"
    )
    try:
        data = tomllib.loads(pyproject.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise TargetError(f"no probe target: {pyproject} does not exist; {hint}") from None
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TargetError(f"cannot read {pyproject}: {exc}") from None
    value = data.get("tool", {}).get("mlaudit", {}).get("probe", {}).get("target")
    if not isinstance(value, str):
        raise TargetError(f"no probe target: [tool.mlaudit.probe] target is not set; {hint}")
    return parse_target(value)


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
    file = module_file(root, target.module)
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
