"""Keys defined in code: command-line options (argparse, click, typer) and dataclass config fields,
with their defaults. The config index lists them beside the YAML keys; ML301 asks whether a boolean
field can ever be set another way."""

from __future__ import annotations

import ast
from dataclasses import dataclass
from typing import Any

from mlaudit.facts.config.syntax import documented_switch, literal
from mlaudit.facts.python import argparse_default, argparse_dest
from mlaudit.facts.walk import PyContext
from mlaudit.knowledge.config import ARGPARSE_ADD, CLICK_OPTIONS, DATACLASS_DECORATORS

# Text a command-line option needs in the file (or in its module's name, for a module that is
# itself `click`): the argparse method or the library's name.
_COMMAND_LINE = (ARGPARSE_ADD, *sorted({name.partition(".")[0] for name in CLICK_OPTIONS}))


@dataclass(frozen=True)
class OptionDef:
    kind: str  # "argparse", "click", "typer", "dataclass"
    name: str
    default: Any
    line: int
    owner: str = ""  # qualified name of the dataclass
    documented: bool = False  # a comment at the definition documents it as a switch to flip


@dataclass(frozen=True)
class OptionFacts:
    options: tuple[OptionDef, ...] = ()


class DataclassFields:
    """Collects `OptionFacts` in a file without command-line options: dataclass fields only."""

    def __init__(self) -> None:
        self.options: list[OptionDef] = []

    def visit_ClassDef(self, node: ast.ClassDef, ctx: PyContext) -> None:
        if not node.decorator_list:
            return
        decorators = {ctx.qualname(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list}
        if not decorators & DATACLASS_DECORATORS:
            return
        owner = ".".join(p for p in (ctx.module, *ctx.scope, node.name) if p)
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                default = literal(stmt.value) if stmt.value is not None else None
                self.options.append(OptionDef("dataclass", stmt.target.id, default, stmt.lineno, owner,
                                              documented_switch(stmt, ctx)))

    def facts(self, ctx: PyContext) -> OptionFacts:
        return OptionFacts(tuple(self.options))


class ConfigOptions(DataclassFields):
    """Collects `OptionFacts`: `add_argument` calls, click/typer parameters, dataclass fields."""

    @classmethod
    def for_file(cls, ctx: PyContext) -> DataclassFields:
        """Most files declare no command-line option (nine in ten of pytorch-lightning): they need
        no call or function handler, which the walk would call for every call and function."""
        if any(word in ctx.source or word in ctx.module for word in _COMMAND_LINE):
            return cls()
        return DataclassFields()

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        func = node.func
        if type(func) is ast.Attribute and func.attr == ARGPARSE_ADD:
            dest = argparse_dest(node)
            if dest is not None:
                self.options.append(OptionDef("argparse", dest, argparse_default(node, literal), node.lineno))

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> None:
        args = node.args
        if any(type(d) is ast.Call for d in args.defaults) or any(type(d) is ast.Call for d in args.kw_defaults):
            self._typer_options(node, ctx)
        for decorator in node.decorator_list:
            if isinstance(decorator, ast.Call) and ctx.qualname(decorator.func) in CLICK_OPTIONS:
                self._click_option(decorator)

    visit_AsyncFunctionDef = visit_FunctionDef

    def _click_option(self, call: ast.Call) -> None:
        """`@click.option("--lr", "-l", default=0.1)` / `@click.option("--amp", is_flag=True)`."""
        names = [a.value for a in call.args if isinstance(a, ast.Constant) and isinstance(a.value, str)]
        plain = [n for n in names if not n.startswith("-")]
        long_names = [n for n in names if n.startswith("--")] or names
        if not (plain or long_names):
            return
        dest = plain[0] if plain else long_names[0].lstrip("-").replace("-", "_")
        default: Any = None
        for keyword in call.keywords:
            if keyword.arg == "default":
                default = literal(keyword.value)
            elif keyword.arg == "is_flag" and literal(keyword.value) is True and default is None:
                default = False
        self.options.append(OptionDef("click", dest, default, call.lineno))

    def _typer_options(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> None:
        """`def main(lr: float = typer.Option(0.1))`: the parameter is a command-line option."""
        args = node.args
        positional = [*args.posonlyargs, *args.args]
        pairs = list(zip(positional[len(positional) - len(args.defaults):], args.defaults, strict=True))
        pairs += [(a, d) for a, d in zip(args.kwonlyargs, args.kw_defaults, strict=True) if d is not None]
        for arg, default in pairs:
            if isinstance(default, ast.Call) and ctx.qualname(default.func) in CLICK_OPTIONS:
                value = literal(default.args[0]) if default.args else None
                for keyword in default.keywords:
                    if keyword.arg == "default":
                        value = literal(keyword.value)
                self.options.append(OptionDef("typer", arg.arg, value, default.lineno))
