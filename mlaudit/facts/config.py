"""Per-file configuration facts: where code reads config keys, where configs come from, which
hyperparameters are written as literals, and which module-level boolean flags are tested.

Everything is gathered during the single walk by `ConfigFacts` and stored as plain data under
`ModuleFacts.family(ModuleConfigFacts)`. The project-wide config index (`mlaudit.analysis.config_index`)
joins these facts with the YAML files; the ML2xx/ML3xx rules read both.

A *read* is the outermost expression of an attribute/subscript chain on a config object:
`cfg.model.optimizer.lr` is one read with the chain ("model", "optimizer", "lr"). Whatever the
code does with the read value (passes it to `instantiate`, splats it, prints it), the whole
subtree under the chain counts as consumed; that is what keeps unused-key detection quiet.
"""

from __future__ import annotations

import ast
import functools
import re
from dataclasses import dataclass
from typing import Any

from mlaudit.facts.python import argparse_default, argparse_dest
from mlaudit.facts.walk import PyContext

# --- tables ---------------------------------------------------------------------------------

# Names that usually hold a configuration object. Reads through them are "ambiguous": we do not
# know which config subtree they point at, so they only ever make rules quieter.
CONFIG_NAMES = frozenset(
    {"cfg", "config", "conf", "configs", "hparams", "hp", "hps", "params", "args", "opt", "opts",
     "options", "settings", "hyperparams", "hyperparameters", "flags", "FLAGS", "training_args"}
)
CONFIG_NAME_SUFFIXES = ("_cfg", "_config", "_conf", "_params", "_hparams", "_args", "cfg")
CONFIG_NAME_PREFIXES = ("cfg_", "config_", "conf_")
CONFIG_ANNOTATIONS = frozenset({"DictConfig", "ListConfig", "Namespace", "TrainingArguments"})

# Calls whose result is a whole config file.
YAML_LOADERS = frozenset(
    {"omegaconf.OmegaConf.load", "yaml.safe_load", "yaml.load", "yaml.full_load", "yaml.unsafe_load"}
)
HYDRA_COMPOSE = frozenset({"hydra.compose", "hydra.experimental.compose"})
HYDRA_INITIALIZE = frozenset(
    {"hydra.initialize", "hydra.experimental.initialize", "hydra.initialize_config_module"}
)
HYDRA_MAIN = "hydra.main"
DVC_PARAMS = frozenset({"dvc.api.params_show"})
# Sweep agents: the function they run gets its config from the sweep controller.
SWEEP_AGENTS = frozenset({"wandb.agent"})
# Methods of DictConfig / dict: calling them reads no key of that name.
MAPPING_METHODS = frozenset(
    {"get", "items", "keys", "values", "pop", "copy", "update", "setdefault", "merge_with", "to_dict",
     "to_container", "_get_node", "__contains__", "__getitem__", "__getattr__", "__dict__"}
)
OPTIONAL_GETTERS = frozenset({"get", "pop", "setdefault"})
EXEC_CALLS = frozenset({"builtins.exec"})
SPLAT = "**"  # `passed_to` of a read splatted into a call: every key becomes a keyword argument

DATACLASS_DECORATORS = frozenset({"dataclasses.dataclass", "dataclass", "pydantic.dataclasses.dataclass", "attr.s", "attrs.define"})
ARGPARSE_ADD = "add_argument"
CLICK_OPTIONS = frozenset({"click.option", "click.argument", "typer.Option", "typer.Argument"})


# --- facts ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class ConfigRead:
    root: str  # "hydra:<file>:<function>" (@hydra.main), "hydra:<file>" (compose), "file:<path literal>",
    # "dvc", or "" when ambiguous
    chain: tuple[str, ...]
    line: int
    col: int
    end_line: int
    end_col: int
    optional: bool  # .get()/select()/getattr with default: a missing key is not an error
    alias: bool  # `x = cfg.model`: the read continues through `x`, it does not consume the subtree
    condition: bool  # the read is tested in an if/while/ternary condition and nowhere else
    dynamic: bool  # a computed key followed the chain: the subtree is consumed
    text: str  # the expression as written, for messages
    passed_to: str | None = None  # callee (qualified) when the read is a direct call argument; "**" for a splat
    scope: str = ""  # enclosing function, dotted


@dataclass(frozen=True)
class HydraApp:
    config_path: str | None  # as written, relative to the file; None when not given
    config_name: str | None
    function: str
    line: int
    module_dir: bool = False  # initialize_config_module: config_path is a dotted module
    decorator: bool = False  # @hydra.main: its config belongs to that function's `cfg` only


@dataclass(frozen=True)
class FlagTest:
    name: str  # qualified name of a module-level constant ("pkg.mod.USE_X")
    line: int
    col: int
    end_line: int
    end_col: int


@dataclass(frozen=True)
class BoolConstant:
    name: str  # qualified name
    value: bool
    line: int


@dataclass(frozen=True)
class OptionDef:
    kind: str  # "argparse", "click", "typer", "dataclass"
    name: str
    default: Any
    line: int
    owner: str = ""  # qualified name of the dataclass
    documented: bool = False  # a comment at the definition documents it as a switch to flip


@dataclass(frozen=True)
class ModuleConfigFacts:
    reads: tuple[ConfigRead, ...] = ()
    writes: tuple[ConfigRead, ...] = ()
    hydra_apps: tuple[HydraApp, ...] = ()
    loaded_files: tuple[tuple[str, int], ...] = ()  # YAML paths literally loaded (as written)
    flag_tests: tuple[FlagTest, ...] = ()
    attribute_tests: tuple[FlagTest, ...] = ()  # `if x.use_amp:` atoms, by attribute name
    attribute_uses: tuple[str, ...] = ()  # attribute names assigned, or loaded anywhere but a condition
    call_keywords: tuple[str, ...] = ()  # every keyword name passed in a call
    calls_with_arguments: tuple[str, ...] = ()  # callees given any argument
    bool_constants: tuple[BoolConstant, ...] = ()
    # Qualified names of module-level names used anywhere other than a condition or their own
    # definition (so they are not pure flags), plus names assigned more than once.
    non_flag_uses: tuple[str, ...] = ()
    attribute_stores: tuple[str, ...] = ()  # `mod.NAME = ...` targets, qualified
    options: tuple[OptionDef, ...] = ()
    execs_config: bool = False  # `exec(open(...).read())`: module globals are overridable config
    uses_config_store: bool = False  # hydra ConfigStore / OmegaConf.structured: schemas in code
    tracker_config_stores: int = 0  # `wandb.config.x = ...` / `run.config[...] = ...`
    # Functions handed to a sweep agent (`wandb.agent(sweep_id, function=train)`): the sweep
    # controller fills the config of the runs they start.
    sweep_functions: tuple[str, ...] = ()


# --- helpers --------------------------------------------------------------------------------


def _literal(node: ast.AST) -> Any:
    """The value of a literal expression (numbers, strings, tuples, ...), else None."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


_NO_ROOTS: dict[str, tuple[str, tuple[str, ...]]] = {}
_NO_PARAMS: frozenset[str] = frozenset()


@functools.lru_cache(maxsize=8192)  # asked for every name read; names repeat
def is_config_name(name: str) -> bool:
    return name in CONFIG_NAMES or name.endswith(CONFIG_NAME_SUFFIXES) or name.startswith(CONFIG_NAME_PREFIXES)


def _annotation_name(node: ast.AST | None) -> str:
    if node is None:
        return ""
    if isinstance(node, ast.Constant) and isinstance(node.value, str):
        return node.value.rsplit(".", 1)[-1]
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Subscript):  # Optional[DictConfig]
        return _annotation_name(node.slice)
    if isinstance(node, ast.BinOp):  # DictConfig | None
        return _annotation_name(node.left) or _annotation_name(node.right)
    return ""


def _str_arg(call: ast.Call, index: int, keyword: str) -> str | None:
    for kw in call.keywords:
        if kw.arg == keyword:
            return kw.value.value if isinstance(kw.value, ast.Constant) and isinstance(kw.value.value, str) else None
    if len(call.args) > index:
        arg = call.args[index]
        return arg.value if isinstance(arg, ast.Constant) and isinstance(arg.value, str) else None
    return None


def _condition_atoms(test: ast.AST) -> list[ast.AST]:
    """The expressions a condition tests: `a and not b` -> [a, b]; `x == True` -> [x]."""
    atoms: list[ast.AST] = []
    stack = [test]
    while stack:
        node = stack.pop()
        if isinstance(node, ast.BoolOp):
            stack.extend(node.values)
        elif isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            stack.append(node.operand)
        elif isinstance(node, ast.Compare) and all(isinstance(c, ast.Constant) for c in node.comparators):
            stack.append(node.left)
        else:
            atoms.append(node)
    return atoms


# --- the listener ---------------------------------------------------------------------------


class ConfigFacts:
    """Collects `ModuleConfigFacts` during the single walk."""

    family = "config"

    def __init__(self) -> None:
        self.reads: list[ConfigRead] = []
        self.writes: list[ConfigRead] = []
        self.apps: list[HydraApp] = []
        self.loaded: list[tuple[str, int]] = []
        self.flag_tests: list[FlagTest] = []
        self.attribute_tests: list[FlagTest] = []
        self.attribute_uses: set[str] = set()
        self.call_keywords: set[str] = set()
        self.calls_with_arguments: set[str] = set()
        self.not_values: set[int] = set()  # Names used as callee, annotation or base: not a value use
        self.bool_constants: list[BoolConstant] = []
        self.non_flag: set[str] = set()
        self.attr_stores: set[str] = set()
        self.options: list[OptionDef] = []
        self.execs = False
        self.config_store = False
        self.tracker_stores = 0
        self.sweep_functions: set[str] = set()
        self.arguments: dict[int, str] = {}  # id of a call argument -> callee, for whole reads
        self.seen: set[int] = set()  # inner nodes of chains already recorded
        self.conditions: set[int] = set()  # ids of condition atoms
        # Per scope (function dotted name): local name -> (root, chain prefix).
        self.roots: dict[str, dict[str, tuple[str, tuple[str, ...]]]] = {}
        self.open_files: dict[str, dict[str, str]] = {}  # scope -> {file var: path literal}
        self.module_counts: dict[str, int] = {}
        self.params: dict[str, set[str]] = {}

    # --- scopes and roots --------------------------------------------------------------------

    def _roots(self, ctx: PyContext) -> dict[str, tuple[str, tuple[str, ...]]]:
        return self.roots.setdefault(ctx.function, {})

    def _lookup(self, name: str, ctx: PyContext) -> tuple[str, tuple[str, ...]] | None:
        local = self.roots.get(ctx.function, _NO_ROOTS)
        if name in local:
            return local[name]
        if name in self.params.get(ctx.function, _NO_PARAMS):
            return None  # a parameter shadows module-level roots
        return self.roots.get("", _NO_ROOTS).get(name)

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> None:
        scope = ".".join([*ctx.scope, node.name])
        args = node.args
        all_args = [*args.posonlyargs, *args.args, *args.kwonlyargs]
        self.params[scope] = {a.arg for a in all_args}
        for annotation in (*(a.annotation for a in all_args), node.returns):
            self._not_values(annotation)
        roots = self.roots.setdefault(scope, {})
        for arg in all_args:  # `def fit(trainer: DictConfig)`: a config subtree whatever its name
            if _annotation_name(arg.annotation) in CONFIG_ANNOTATIONS:
                roots[arg.arg] = ("", ())
                self.params[scope].discard(arg.arg)
        self._typer_options(node, ctx)
        for decorator in node.decorator_list:
            call = decorator if isinstance(decorator, ast.Call) else None
            target = call.func if call else decorator
            if call is not None and ctx.qualname(target) in CLICK_OPTIONS:
                self._click_option(call)
            if ctx.qualname(target) == HYDRA_MAIN:
                path = _str_arg(call, 0, "config_path") if call else None
                name = _str_arg(call, 1, "config_name") if call else None
                self.apps.append(HydraApp(path, name, scope, node.lineno, decorator=True))
                positional = [a for a in all_args if a.arg not in ("self", "cls")]
                if positional:
                    roots[positional[0].arg] = (f"hydra:{ctx.path}:{scope}", ())
                    self.params[scope].discard(positional[0].arg)

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
                default = _literal(keyword.value)
            elif keyword.arg == "is_flag" and _literal(keyword.value) is True and default is None:
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
                value = _literal(default.args[0]) if default.args else None
                for keyword in default.keywords:
                    if keyword.arg == "default":
                        value = _literal(keyword.value)
                self.options.append(OptionDef("typer", arg.arg, value, default.lineno))

    def _not_values(self, annotation: ast.AST | None) -> None:
        """Names in an annotation or a class's bases are not uses of the value."""
        if annotation is not None:
            self.not_values.update(id(n) for n in ast.walk(annotation) if isinstance(n, ast.Name))

    def visit_ClassDef(self, node: ast.ClassDef, ctx: PyContext) -> None:
        for base in node.bases:
            self._not_values(base)
        decorators = {ctx.qualname(d.func if isinstance(d, ast.Call) else d) for d in node.decorator_list}
        if not decorators & DATACLASS_DECORATORS:
            return
        owner = ".".join(p for p in (ctx.module, *ctx.scope, node.name) if p)
        for stmt in node.body:
            if isinstance(stmt, ast.AnnAssign) and isinstance(stmt.target, ast.Name):
                default = _literal(stmt.value) if stmt.value is not None else None
                self.options.append(OptionDef("dataclass", stmt.target.id, default, stmt.lineno, owner,
                                              _documented_switch(stmt, ctx)))

    # --- conditions --------------------------------------------------------------------------

    def visit_If(self, node: ast.If, ctx: PyContext) -> None:
        self._condition(node.test, ctx)

    def visit_While(self, node: ast.While, ctx: PyContext) -> None:
        self._condition(node.test, ctx)

    def visit_IfExp(self, node: ast.IfExp, ctx: PyContext) -> None:
        self._condition(node.test, ctx)

    def _condition(self, test: ast.AST, ctx: PyContext) -> None:
        for atom in _condition_atoms(test):
            self.conditions.add(id(atom))
            if isinstance(atom, ast.Attribute) and isinstance(atom.ctx, ast.Load):
                line, col, end_line, end_col = ctx.span(atom)
                self.attribute_tests.append(FlagTest(atom.attr, line, col, end_line, end_col))
            if isinstance(atom, ast.Name) and isinstance(atom.ctx, ast.Load):
                qual = ctx.qualname(atom)
                if qual and atom.id not in self.params.get(ctx.function, set()):
                    line, col, end_line, end_col = ctx.span(atom)
                    self.flag_tests.append(FlagTest(qual, line, col, end_line, end_col))
                    self.seen.add(id(atom))

    # --- names, assignments ------------------------------------------------------------------

    def visit_Name(self, node: ast.Name, ctx: PyContext) -> None:
        if id(node) in self.seen:
            return
        if isinstance(node.ctx, ast.Load):
            qual = ctx.qualname(node)
            if qual and not qual.startswith("builtins.") and id(node) not in self.not_values:
                self.non_flag.add(qual)
            self._read_root_whole(node, ctx)

    def visit_Global(self, node: ast.Global, ctx: PyContext) -> None:
        for name in node.names:
            self.module_counts[name] = self.module_counts.get(name, 0) + 2  # rebound in a function

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        for target in node.targets:
            self._store_target(target, node.value, ctx)
        if len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            self._bind(node.targets[0].id, node.value, node, ctx)

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: PyContext) -> None:
        self._not_values(node.annotation)
        if node.value is not None and isinstance(node.target, ast.Name):
            self._store_target(node.target, node.value, ctx)
            self._bind(node.target.id, node.value, node, ctx)

    def visit_AugAssign(self, node: ast.AugAssign, ctx: PyContext) -> None:
        self._store_target(node.target, None, ctx)

    def visit_withitem(self, node: ast.withitem, ctx: PyContext) -> None:
        call = node.context_expr
        if (isinstance(call, ast.Call) and ctx.qualname(call.func) == "builtins.open"
                and isinstance(node.optional_vars, ast.Name)):
            path = _str_arg(call, 0, "file")
            if path:
                self.open_files.setdefault(ctx.function, {})[node.optional_vars.id] = path

    def _store_target(self, target: ast.AST, value: ast.AST | None, ctx: PyContext) -> None:
        if isinstance(target, ast.Name):
            if not ctx.scope:
                self.module_counts[target.id] = self.module_counts.get(target.id, 0) + 1
            self.seen.add(id(target))
            return
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._store_target(element, None, ctx)
            return
        if isinstance(target, (ast.Attribute, ast.Subscript)):
            qual = ctx.qualname(target)
            if qual:
                self.attr_stores.add(qual)
            if _logs_run_config(target, qual, ctx):
                self.tracker_stores += 1
            read = self._chain_read(target, ctx)
            if read is not None:
                self.writes.append(read)

    def _bind(self, name: str, value: ast.AST, node: ast.Assign | ast.AnnAssign, ctx: PyContext) -> None:
        """Track what a simple assignment binds: a config root, an alias into a config, a literal."""
        roots = self._roots(ctx)
        roots.pop(name, None)
        if isinstance(value, ast.Constant) and isinstance(value.value, bool) and not ctx.scope:
            qual = ctx.resolve_name(name)
            if qual and (ctx.line_map.file_lines or _is_form_field(node, ctx) or _documented_switch(node, ctx)):
                # A notebook's top-level values (Colab form fields above all) are its inputs: the
                # reader edits the cell and reruns; they are no constants. Nor is a constant whose
                # comment tells the reader when to flip it.
                self.non_flag.add(qual)
            elif qual:
                self.bool_constants.append(BoolConstant(qual, value.value, node.lineno))
        root = self._root_of_call(value, ctx)
        if root is not None:
            roots[name] = (root, ())
            self.seen.add(id(value))  # bound to a name: reads go through the name
            return
        read = self._chain_read(value, ctx, alias=True)
        if read is not None and not read.dynamic:
            roots[name] = (read.root, read.chain)

    def _root_of_call(self, value: ast.AST, ctx: PyContext) -> str | None:
        if not isinstance(value, ast.Call):
            return None
        callee = ctx.qualname(value.func)
        if callee in HYDRA_COMPOSE:
            return f"hydra:{ctx.path}"
        if callee in DVC_PARAMS:
            return "dvc"
        if callee in YAML_LOADERS and value.args:
            path = self._path_of(value.args[0], ctx)
            if path:
                if (path, value.lineno) not in self.loaded:
                    self.loaded.append((path, value.lineno))
                return f"file:{path}"
        return None

    def _path_of(self, node: ast.AST, ctx: PyContext) -> str | None:
        if isinstance(node, ast.Constant) and isinstance(node.value, str):
            return node.value
        if isinstance(node, ast.Call) and ctx.qualname(node.func) == "builtins.open" and node.args:
            return self._path_of(node.args[0], ctx)
        if isinstance(node, ast.Name):
            return self.open_files.get(ctx.function, {}).get(node.id)
        return None

    # --- reads -------------------------------------------------------------------------------

    def visit_Attribute(self, node: ast.Attribute, ctx: PyContext) -> None:
        if not isinstance(node.ctx, ast.Load) or id(node) not in self.conditions:
            self.attribute_uses.add(node.attr)  # assigned, or used as a value
        if id(node) in self.seen:
            return
        if isinstance(node.ctx, ast.Load):
            qual = ctx.qualname(node)
            if qual:
                self.non_flag.add(qual)
            read = self._chain_read(node, ctx)
            if read is not None:
                self.reads.append(read)

    def visit_Subscript(self, node: ast.Subscript, ctx: PyContext) -> None:
        if id(node) in self.seen or not isinstance(node.ctx, ast.Load):
            return
        read = self._chain_read(node, ctx)
        if read is not None:
            self.reads.append(read)

    def _read_root_whole(self, node: ast.Name, ctx: PyContext) -> None:
        """A bare config name used as a value (`instantiate(cfg)`, `print(cfg)`): all of it is read."""
        if self._root_name(node.id, ctx) is None:
            return  # the common case, decided without unwinding a chain
        read = self._chain_read(node, ctx)
        if read is not None:
            self.reads.append(read)

    def _chain_read(self, node: ast.AST, ctx: PyContext, alias: bool = False) -> ConfigRead | None:
        """Unwind `cfg.a["b"].get("c")` into a read of ("a", "b", "c") on a config root, or None."""
        outer = node
        segments: list[str] = []
        optional = dynamic = False
        inner: list[ast.AST] = []
        while True:
            if isinstance(node, ast.Attribute):
                segments.append(node.attr)
            elif isinstance(node, ast.Subscript):
                key = node.slice
                if isinstance(key, ast.Constant) and isinstance(key.value, (str, int)) and not isinstance(key.value, bool):
                    segments.append(str(key.value))
                else:
                    segments.clear()  # computed key: everything below the prefix may be read
                    dynamic = True
            elif (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                  and node.func.attr in OPTIONAL_GETTERS and node.args):
                key_node = node.args[0]
                if isinstance(key_node, ast.Constant) and isinstance(key_node.value, str):
                    segments.append(key_node.value)
                    optional = True
                else:
                    segments.clear()
                    dynamic = True
                inner.append(node.func)
                node = node.func.value
                continue
            else:
                break
            inner.append(node)
            node = node.value
        root = self._receiver(node, segments, ctx)
        if root is None:
            return None
        base_root, prefix, consumed = root
        for item in inner:
            self.seen.add(id(item))
        self.seen.add(id(node))
        chain = tuple(reversed(segments[: len(segments) - consumed]))
        line, col, end_line, end_col = ctx.span(outer)
        return ConfigRead(
            root=base_root,
            chain=prefix + chain,
            line=line,
            col=col,
            end_line=end_line,
            end_col=end_col,
            optional=optional,
            alias=alias,
            condition=id(outer) in self.conditions,
            dynamic=dynamic,
            text=ctx.dotted(outer) or (ctx.segment(outer) or "")[:80],
            passed_to=self.arguments.get(id(outer)),
            scope=ctx.function,
        )

    def _receiver(
        self, base: ast.AST, segments: list[str], ctx: PyContext
    ) -> tuple[str, tuple[str, ...], int] | None:
        """(root, chain prefix, how many trailing segments the receiver itself used) or None."""
        if isinstance(base, ast.Call):
            root = self._root_of_call(base, ctx)
            return (root, (), 0) if root else None
        if not isinstance(base, ast.Name):
            return None
        if base.id == "self" and segments and is_config_name(segments[-1]):
            return ("", (), 1)
        known = self._root_name(base.id, ctx)
        return (known[0], known[1], 0) if known is not None else None

    def _root_name(self, name: str, ctx: PyContext) -> tuple[str, tuple[str, ...]] | None:
        """(root, chain prefix) when a bare name holds a config, else None."""
        known = self._lookup(name, ctx)
        if known is not None:
            return known
        if is_config_name(name) and name not in ctx.imports:
            return ("", ())
        return None

    # --- calls -------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        callee = ctx.qualname(node.func)
        label = callee or ctx.dotted(node.func) or "?"
        for arg in (*node.args, *(k.value for k in node.keywords if k.arg is not None)):
            self.arguments[id(arg)] = label
        for keyword in node.keywords:
            if keyword.arg is None:
                self.arguments[id(keyword.value)] = SPLAT
        if isinstance(node.func, ast.Name):
            self.not_values.add(id(node.func))
        self.call_keywords.update(k.arg for k in node.keywords if k.arg)
        if node.args or node.keywords:
            self.calls_with_arguments.add(label)
        if callee in HYDRA_INITIALIZE:
            path = _str_arg(node, 0, "config_path" if callee != "hydra.initialize_config_module" else "config_module")
            self.apps.append(HydraApp(path, None, ctx.function, node.lineno, callee == "hydra.initialize_config_module"))
        elif callee in HYDRA_COMPOSE:
            self.apps.append(HydraApp(None, _str_arg(node, 0, "config_name"), ctx.function, node.lineno))
        elif callee in EXEC_CALLS:
            self.execs = True
        elif callee in SWEEP_AGENTS:
            function = node.args[1] if len(node.args) > 1 else next(
                (k.value for k in node.keywords if k.arg == "function"), None)
            name = ctx.dotted(function) if function is not None else None
            if name:
                self.sweep_functions.add(name.rsplit(".", 1)[-1])
        elif callee and (callee.endswith("ConfigStore.instance") or callee == "omegaconf.OmegaConf.structured"):
            self.config_store = True
        elif callee == "omegaconf.OmegaConf.select" and len(node.args) >= 2:
            self._select(node, ctx)
        elif callee in ("builtins.getattr", "builtins.hasattr") and len(node.args) >= 2:
            self._getattr(node, ctx, optional=callee == "builtins.hasattr" or len(node.args) > 2)
        if (callee in YAML_LOADERS or callee in HYDRA_COMPOSE or callee in DVC_PARAMS) and id(node) not in self.seen:
            read = self._chain_read(node, ctx)  # a loaded config used whole: `build(yaml.safe_load(f))`
            if read is not None:
                self.reads.append(read)
        if isinstance(node.func, ast.Attribute):
            self._method_call(node, ctx)
            if node.func.attr == ARGPARSE_ADD:
                self._argparse(node)

    def _method_call(self, node: ast.Call, ctx: PyContext) -> None:
        """`cfg.model.items()` reads model as a whole; `cfg.get("a")` is handled as a chain."""
        func = node.func
        assert isinstance(func, ast.Attribute)
        if func.attr in OPTIONAL_GETTERS and node.args:
            read = self._chain_read(node, ctx)
            if read is not None:
                self.reads.append(read)
            return
        if id(func) in self.seen:
            return
        # `cfg.items()` reads cfg as a whole; `self.hparams.optimizer(params=...)` calls a config
        # value (a partial from instantiate): either way the read is of the receiver or the key.
        read = self._chain_read(func.value if func.attr in MAPPING_METHODS else func, ctx)
        if read is not None:
            self.seen.add(id(func))
            self.reads.append(read)

    def _select(self, node: ast.Call, ctx: PyContext) -> None:
        key = node.args[1]
        read = self._chain_read(node.args[0], ctx)
        if read is None:
            return
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            chain = read.chain + tuple(k for k in key.value.split(".") if k)
            self.reads.append(_replace(read, chain=chain, optional=True))
        else:
            self.reads.append(_replace(read, dynamic=True))

    def _getattr(self, node: ast.Call, ctx: PyContext, optional: bool) -> None:
        key = node.args[1]
        read = self._chain_read(node.args[0], ctx)
        if read is None:
            return
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            self.reads.append(_replace(read, chain=(*read.chain, key.value), optional=optional))
        else:
            self.reads.append(_replace(read, dynamic=True))

    def _argparse(self, node: ast.Call) -> None:
        dest = argparse_dest(node)
        if dest is None:
            return
        self.options.append(OptionDef("argparse", dest, argparse_default(node, _literal), node.lineno))

    # --- result ------------------------------------------------------------------------------

    def facts(self, ctx: PyContext) -> ModuleConfigFacts:
        non_flag = set(self.non_flag)
        for name, count in self.module_counts.items():
            if count > 1:
                qual = ctx.resolve_name(name)
                if qual:
                    non_flag.add(qual)
        return ModuleConfigFacts(
            reads=tuple(self.reads),
            writes=tuple(self.writes),
            hydra_apps=tuple(self.apps),
            loaded_files=tuple(self.loaded),
            flag_tests=tuple(self.flag_tests),
            attribute_tests=tuple(self.attribute_tests),
            attribute_uses=tuple(sorted(self.attribute_uses)),
            call_keywords=tuple(sorted(self.call_keywords)),
            calls_with_arguments=tuple(sorted(self.calls_with_arguments)),
            bool_constants=tuple(self.bool_constants),
            non_flag_uses=tuple(sorted(non_flag)),
            attribute_stores=tuple(sorted(self.attr_stores)),
            options=tuple(self.options),
            execs_config=self.execs,
            uses_config_store=self.config_store,
            tracker_config_stores=self.tracker_stores,
            sweep_functions=tuple(sorted(self.sweep_functions)),
        )


# A Colab/Jupyter form field: `use_wandb = True  #@param {type:"boolean"}` is a checkbox.
FORM_FIELD = re.compile(r"#\s*@param\b")


def _is_form_field(node: ast.stmt, ctx: PyContext) -> bool:
    line = node.end_lineno or node.lineno
    return 0 < line <= len(ctx.lines) and FORM_FIELD.search(ctx.lines[line - 1]) is not None


# A comment that documents a flag as a switch to flip ("set False to skip training", "override from
# the command line", "If `True`, ... if `False`, ...", "this flag can alleviate ..."): the other
# value is a supported use, not dead code. Read on YAML keys and on Python constants and fields.
DOCUMENTED_SWITCH = re.compile(
    r"\b(set (it |this )?(to )?(true|false)|if `?(true|false)\b|command[- ]line|override|overwrite|enable|disable"
    r"|toggle|switch|flag|turn (it )?(on|off))\b", re.IGNORECASE)


def _documented_switch(node: ast.stmt, ctx: PyContext) -> bool:
    """Does the comment block right above the statement, or its own trailing comment, document it
    as a switch?"""
    lines = ctx.lines
    text = []
    if 0 < node.lineno <= len(lines) and "#" in lines[node.lineno - 1]:
        text.append(lines[node.lineno - 1].split("#", 1)[1])
    above = node.lineno - 1
    while 0 < above <= len(lines) and lines[above - 1].lstrip().startswith("#"):
        text.append(lines[above - 1])
        above -= 1
    return any(DOCUMENTED_SWITCH.search(t) for t in text)


TRACKER_KEYS = re.compile(r"param|config|hparam|args", re.IGNORECASE)


def _logs_run_config(target: ast.Attribute | ast.Subscript, qual: str | None, ctx: PyContext) -> bool:
    """`wandb.config.lr = ...`, `run.config["lr"] = ...`, `run["parameters"] = ...` (neptune)."""
    if (qual or "").startswith("wandb.config"):
        return True
    if re.search(r"(^|\.)config$", ctx.dotted(target.value) or ""):
        return True
    key = target.slice if isinstance(target, ast.Subscript) else None
    return isinstance(key, ast.Constant) and isinstance(key.value, str) and bool(TRACKER_KEYS.search(key.value))


def _replace(read: ConfigRead, **changes: Any) -> ConfigRead:
    from dataclasses import replace

    return replace(read, **changes)


EXTRACTORS = [ConfigFacts]
