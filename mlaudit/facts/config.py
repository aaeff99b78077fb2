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

from mlaudit.facts.python import argparse_dest
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

# Hyperparameter sinks: callee -> (keyword names, positional index -> keyword name).
# Prefix entries end with "."; the longest matching prefix wins. Rules extend this table with the
# ML201 option `extend-sinks` (same shape, lists instead of tuples).
_OPTIMIZER = (("lr", "weight_decay", "momentum", "betas", "eps", "alpha", "rho", "dampening"), {1: "lr"})
_SCHEDULER_KW = (
    "step_size", "gamma", "milestones", "T_max", "T_0", "T_mult", "eta_min", "max_lr", "base_lr",
    "total_steps", "pct_start", "factor", "patience", "warmup_steps", "num_warmup_steps",
    "num_training_steps", "power", "end_factor", "start_factor", "total_iters",
)
HYPERPARAMETER_SINKS: dict[str, tuple[tuple[str, ...], dict[int, str]]] = {
    "torch.optim.": _OPTIMIZER,
    "torch.optim.lr_scheduler.": (_SCHEDULER_KW, {}),
    "torch.optim.lr_scheduler.CyclicLR": (_SCHEDULER_KW, {1: "base_lr", 2: "max_lr"}),
    "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts": (_SCHEDULER_KW, {1: "T_0"}),
    "torch.optim.lr_scheduler.PolynomialLR": (_SCHEDULER_KW, {1: "total_iters", 2: "power"}),
    "torch.optim.lr_scheduler.ExponentialLR": (_SCHEDULER_KW, {1: "gamma"}),
    "torch.optim.lr_scheduler.CosineAnnealingLR": (_SCHEDULER_KW, {1: "T_max"}),
    "torch.optim.lr_scheduler.MultiStepLR": (_SCHEDULER_KW, {1: "milestones", 2: "gamma"}),
    "torch.optim.lr_scheduler.StepLR": (_SCHEDULER_KW, {1: "step_size", 2: "gamma"}),
    "torch.optim.lr_scheduler.OneCycleLR": (_SCHEDULER_KW, {1: "max_lr"}),
    "torch.optim.lr_scheduler.LambdaLR": ((), {}),
    "torch.optim.lr_scheduler.ReduceLROnPlateau": (("factor", "patience"), {}),
    "timm.optim.": _OPTIMIZER,
    "timm.optim.create_optimizer_v2": (("lr", "weight_decay", "momentum"), {}),
    "bitsandbytes.optim.": _OPTIMIZER,
    "transformers.AdamW": _OPTIMIZER,
    "transformers.Adafactor": (("lr", "weight_decay", "eps"), {}),
    "transformers.optimization.AdamW": _OPTIMIZER,
    "transformers.optimization.Adafactor": (("lr", "weight_decay", "eps"), {}),
    "transformers.get_linear_schedule_with_warmup": (
        ("num_warmup_steps", "num_training_steps"), {1: "num_warmup_steps", 2: "num_training_steps"}),
    "transformers.get_cosine_schedule_with_warmup": (
        ("num_warmup_steps", "num_training_steps"), {1: "num_warmup_steps", 2: "num_training_steps"}),
    "transformers.get_scheduler": (("num_warmup_steps", "num_training_steps"), {}),
    "torch.utils.data.DataLoader": (("batch_size",), {1: "batch_size"}),
    "torch.utils.data.dataloader.DataLoader": (("batch_size",), {1: "batch_size"}),
    "torch.nn.utils.clip_grad_norm_": (("max_norm",), {1: "max_norm"}),
    "torch.nn.utils.clip_grad_value_": (("clip_value",), {1: "clip_value"}),
    "torch.nn.utils.clip_grad.clip_grad_norm_": (("max_norm",), {1: "max_norm"}),
    "torch.nn.Dropout": (("p",), {0: "p"}),
    "torch.nn.Dropout1d": (("p",), {0: "p"}),
    "torch.nn.Dropout2d": (("p",), {0: "p"}),
    "torch.nn.Dropout3d": (("p",), {0: "p"}),
    "torch.nn.AlphaDropout": (("p",), {0: "p"}),
    "torch.nn.functional.dropout": (("p",), {1: "p"}),
}
# Run-config objects: their arguments *are* the run's config (the trainer logs them, a tracker
# records them, `--help` lists them), so a literal given to one is where a hyperparameter belongs,
# and a constant passed to one is logged wherever else it is used. `trl.<X>Config` counts too.
RUN_CONFIG_OBJECTS = frozenset(
    {
        "transformers.TrainingArguments", "transformers.Seq2SeqTrainingArguments",
        "transformers.training_args.TrainingArguments", "lightning.Trainer", "lightning.pytorch.Trainer",
        "pytorch_lightning.Trainer", "lightning.pytorch.trainer.Trainer", "lightning.fabric.Fabric",
        "lightning.Fabric", "accelerate.utils.ProjectConfiguration",
    }
)
RUN_CONFIG_PREFIX_SUFFIX = (("trl.", "Config"),)
# Calls that log a run config passed to them: callee -> keyword (None: the first positional).
RUN_CONFIG_LOGGERS = {"wandb.init": "config", "wandb.config.update": None, "mlflow.log_params": None}
# Sinks whose value only sets the speed of evaluation, not the result, when the object is an
# evaluation one (`eval_loader = DataLoader(ds, batch_size=EVAL_BATCH_SIZE)`): callee -> parameter.
EVALUATION_ONLY_PARAMS = {
    "torch.utils.data.DataLoader": "batch_size", "torch.utils.data.dataloader.DataLoader": "batch_size",
}
EVALUATION_NAME = re.compile(r"(?:^|_)(?:eval|evaluation|test|val|valid|validation|predict|inference)(?:_|$)",
                             re.IGNORECASE)
# A `for epoch in range(N)` loop trains only when its body calls something named like training
# (`train_one_epoch`, `loss.backward`, `optimizer.step`, `model(x)`); a loop that only simulates
# metrics for a logging demo is not a training loop.
TRAINING_CALL = re.compile(r"train|step|backward|fit|optim|forward|loss|model|net|epoch|batch|learn", re.IGNORECASE)
# Sinks that are not hyperparameters even though they match a prefix above.
NOT_SINKS = frozenset({"torch.optim.lr_scheduler", "torch.optim.Optimizer", "torch.optim.swa_utils.AveragedModel"})
# A `for <name> in range(N)` loop drives training when its variable is named like this.
LOOP_VARIABLE = re.compile(r"^(?:\w+_)?(?:epoch|epochs|ep|step|steps|iteration|iter|it|itr)(?:_\w+)?$")

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
class SinkLiteral:
    sink: str  # callee qualified name or "range"
    param: str
    value: str  # the literal as written
    line: int
    col: int
    end_line: int
    end_col: int
    via: str | None  # the constant's name when the literal flows through one
    via_line: int | None


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
    calls_with_arguments: tuple[str, ...] = ()  # callees given positional or ** arguments
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


def _number(node: ast.AST) -> Any:
    """The numeric literal value of `node` (also `-x`, `1e-3`, `(0.9, 0.999)`), else None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, (ast.USub, ast.UAdd)):
        inner = _number(node.operand)
        return -inner if isinstance(node.op, ast.USub) and isinstance(inner, (int, float)) else inner
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return node.value
    if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.Mult, ast.Pow, ast.Div)):
        left, right = _number(node.left), _number(node.right)
        if isinstance(left, (int, float)) and isinstance(right, (int, float)):
            return left  # `5 * 8`, `1e-3 / 2`: still literal; the exact value does not matter
    if isinstance(node, (ast.Tuple, ast.List)) and node.elts:
        values = [_number(e) for e in node.elts]
        if all(isinstance(v, (int, float)) for v in values):
            return tuple(values)
    return None


def _literal(node: ast.AST) -> Any:
    """The value of a literal expression (numbers, strings, tuples, ...), else None."""
    try:
        return ast.literal_eval(node)
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return None


def _trivial(value: Any) -> bool:
    """0 and the integer 1 are structural (no decay, one step, batch of one), not tuned values;
    a float such as `max_norm=1.0` is a choice."""
    if isinstance(value, tuple):
        return False
    return value == 0 or (isinstance(value, int) and value == 1)


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
                self.options.append(OptionDef("dataclass", stmt.target.id, default, stmt.lineno, owner))

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
            if qual and (ctx.line_map.file_lines or _is_form_field(node, ctx)):
                # A notebook's top-level values (Colab form fields above all) are its inputs: the
                # reader edits the cell and reruns; they are no constants.
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
        if node.args or any(k.arg is None for k in node.keywords):
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
        default: Any = None
        for keyword in node.keywords:
            if keyword.arg == "default":
                default = _literal(keyword.value)
            elif keyword.arg == "action" and isinstance(keyword.value, ast.Constant):
                default = {"store_true": False, "store_false": True}.get(str(keyword.value.value), default)
        self.options.append(OptionDef("argparse", dest, default, node.lineno))

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


def sink_spec(
    callee: str, table: dict[str, tuple[tuple[str, ...], dict[int, str]]]
) -> tuple[tuple[str, ...], dict[int, str]] | None:
    """The sink entry for a callee: an exact entry, else the longest matching prefix entry."""
    if callee in NOT_SINKS:
        return None
    if callee in table:
        return table[callee]
    # A prefix entry ("torch.optim.") covers the callees directly inside it, so the only entry
    # that can fit is the callee's own module part.
    cut = callee.rfind(".")
    return table.get(callee[: cut + 1]) if cut >= 0 else None


class SinkTracker:
    """Finds numeric literals passed to hyperparameter sinks, directly or through a name bound once
    to a literal (a module-level constant or a simple local assignment). ML201 drives it during
    the walk with its own sink table, so users can extend the table through rule options."""

    def __init__(self, table: dict[str, tuple[tuple[str, ...], dict[int, str]]]) -> None:
        self.table = table
        self.sinks: list[tuple[SinkLiteral, ast.AST]] = []  # with the node, for reporting
        self.params: dict[str, set[str]] = {}
        self.literals: dict[str, dict[str, tuple[Any, int, int]]] = {}  # scope -> name -> (value, line, count)
        self.rebound: set[str] = set()  # module names rebound through `global`
        self.execs_config = False
        self.logged: set[str] = set()  # names given to a run-config object or a logged config dict
        self.targets: dict[int, str] = {}  # id of an assigned call -> the name it is assigned to
        self.dicts: dict[str, set[str]] = {}  # dict variable -> names among its values

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> None:
        args = node.args
        scope = ".".join([*ctx.scope, node.name])
        self.params[scope] = {a.arg for a in (*args.posonlyargs, *args.args, *args.kwonlyargs)}
        if args.vararg:
            self.params[scope].add(args.vararg.arg)
        if args.kwarg:
            self.params[scope].add(args.kwarg.arg)

    def visit_Global(self, node: ast.Global, ctx: PyContext) -> None:
        self.rebound.update(node.names)

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        single = len(node.targets) == 1 and isinstance(node.targets[0], ast.Name)
        for target in node.targets:
            for name in _bound_names(target):
                self._bind(name, node.value if single else None, node.lineno, ctx)
        if single and isinstance(node.value, ast.Call):
            self.targets[id(node.value)] = node.targets[0].id  # type: ignore[attr-defined]
        values = _dict_value_names(node.value)
        if values is not None and single:
            name = node.targets[0].id  # type: ignore[attr-defined]
            self.dicts[name] = values
            if is_config_name(name) or name.lower() in ("hparams", "hyperparameters"):
                self.logged |= values  # `config = dict(lr=lr)`: the run's config, logged with it

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: PyContext) -> None:
        if isinstance(node.target, ast.Name) and node.value is not None:
            self._bind(node.target.id, node.value, node.lineno, ctx)

    def visit_AugAssign(self, node: ast.AugAssign, ctx: PyContext) -> None:
        for name in _bound_names(node.target):
            self._bind(name, None, node.lineno, ctx)

    def _bind(self, name: str, value: ast.AST | None, line: int, ctx: PyContext) -> None:
        scope = self.literals.setdefault(ctx.function, {})
        previous = scope.get(name)
        count = (previous[2] if previous else 0) + 1
        scope[name] = (_number(value) if value is not None else None, line, count)

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        callee = ctx.qualname(node.func)
        if not callee:
            return
        if callee in EXEC_CALLS:
            self.execs_config = True
            return
        self._run_config(node, callee)
        spec = sink_spec(callee, self.table)
        if spec is None:
            return
        keywords, positions = spec
        # `eval_loader = DataLoader(ds, batch_size=64)`: the batch size of an evaluation loader.
        where = (self.targets.get(id(node), ""), ctx.function.rsplit(".", 1)[-1])  # the loader, or `def eval_split`
        skip = EVALUATION_ONLY_PARAMS.get(callee) if any(EVALUATION_NAME.search(w) for w in where) else None
        for index, arg in enumerate(node.args):
            if index in positions and positions[index] != skip and not self._evaluation_constant(callee, positions[index], arg):
                self._literal_at(callee, positions[index], arg, ctx)
        for keyword in node.keywords:
            if keyword.arg in keywords and keyword.arg != skip and not self._evaluation_constant(callee, keyword.arg, keyword.value):
                self._literal_at(callee, keyword.arg, keyword.value, ctx)

    @staticmethod
    def _evaluation_constant(callee: str, param: str, arg: ast.AST) -> bool:
        """`DataLoader(ds, batch_size=EVAL_BATCH_SIZE)`: an evaluation batch size, named so."""
        return (EVALUATION_ONLY_PARAMS.get(callee) == param and isinstance(arg, ast.Name)
                and EVALUATION_NAME.search(arg.id) is not None)

    def _run_config(self, node: ast.Call, callee: str) -> None:
        """Names given to a run-config object (`TrainingArguments(learning_rate=lr)`) or in a dict
        handed to a config logger (`wandb.init(config={"lr": lr})`) are logged config."""
        if is_run_config_object(callee):
            self.logged.update(a.id for a in (*node.args, *(k.value for k in node.keywords)) if isinstance(a, ast.Name))
            return
        if callee not in RUN_CONFIG_LOGGERS:
            return
        keyword = RUN_CONFIG_LOGGERS[callee]
        arg = next((k.value for k in node.keywords if k.arg == keyword), None) if keyword else (
            node.args[0] if node.args else None)
        if isinstance(arg, ast.Name):
            self.logged |= self.dicts.get(arg.id, set())
        elif arg is not None:
            self.logged |= _dict_value_names(arg) or set()

    def visit_For(self, node: ast.For, ctx: PyContext) -> None:
        for name in _bound_names(node.target):
            self._bind(name, None, node.lineno, ctx)
        if not (isinstance(node.target, ast.Name) and LOOP_VARIABLE.match(node.target.id)):
            return
        if not _calls_training(node.body):
            return  # a loop that only simulates metrics (a logging demo) is not a training loop
        call = node.iter
        if isinstance(call, ast.Call) and ctx.qualname(call.func) == "builtins.range" and call.args:
            bound = call.args[1] if len(call.args) >= 2 else call.args[0]
            self._literal_at("range", f"bound of the '{node.target.id}' loop", bound, ctx)

    def _literal_at(self, sink: str, param: str, arg: ast.AST, ctx: PyContext) -> None:
        if isinstance(arg, (ast.Tuple, ast.List)) and _number(arg) is None:
            for element in arg.elts:  # `betas=(momentum, 0.999)`: beta2 is still a literal
                if _number(element) is not None:
                    self._literal_at(sink, param, element, ctx)
            return
        value = _number(arg)
        via: str | None = None
        via_line: int | None = None
        if value is None and isinstance(arg, ast.Name):
            value, via_line = self._literal_name(arg.id, ctx)
            via = arg.id if value is not None else None
        if value is None or _trivial(value):
            return
        line, col, end_line, end_col = ctx.span(arg)
        text = ctx.segment(arg) or repr(value)
        self.sinks.append((SinkLiteral(sink, param, text, line, col, end_line, end_col, via, via_line), arg))

    def _literal_name(self, name: str, ctx: PyContext) -> tuple[Any, int | None]:
        """A name bound exactly once to a numeric literal, in this function or at module level.
        Only assignments seen so far count; a later rebinding is caught by `valid_at_end`."""
        if name in self.params.get(ctx.function, set()):
            return None, None
        if ctx.function:
            local = self.literals.get(ctx.function, {}).get(name)
            if local is not None:
                return (local[0], local[1]) if local[2] == 1 and local[0] is not None else (None, None)
        module = self.literals.get("", {}).get(name)
        if module is not None and module[0] is not None and name not in self.rebound:
            return module[0], module[1]
        return None, None

    def findings(self) -> list[tuple[SinkLiteral, ast.AST]]:
        """Sinks whose constant was never rebound later in the file (a loop or branch may change it)."""
        kept = []
        for sink, node in self.sinks:
            if sink.via is not None:
                counts = [scope[sink.via][2] for scope in self.literals.values() if sink.via in scope]
                if any(c > 1 for c in counts) or sink.via in self.rebound or sink.via in self.logged:
                    continue
            kept.append((sink, node))
        return kept


def is_run_config_object(callee: str) -> bool:
    return callee in RUN_CONFIG_OBJECTS or any(
        callee.startswith(prefix) and callee.endswith(suffix) for prefix, suffix in RUN_CONFIG_PREFIX_SUFFIX)


def _dict_value_names(value: ast.AST) -> set[str] | None:
    """Names among the values of a dict literal or `dict(...)` call, None when it is neither."""
    if isinstance(value, ast.Dict):
        return {v.id for v in value.values if isinstance(v, ast.Name)}
    if isinstance(value, ast.Call) and isinstance(value.func, ast.Name) and value.func.id == "dict":
        return {k.value.id for k in value.keywords if isinstance(k.value, ast.Name)}
    return None


def _calls_training(body: list[ast.stmt]) -> bool:
    """Whether a loop body calls something named like training (see TRAINING_CALL)."""
    for statement in body:
        for sub in ast.walk(statement):
            if isinstance(sub, ast.Call):
                func = sub.func
                name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
                if TRAINING_CALL.search(name):
                    return True
    return False


def _bound_names(target: ast.AST) -> list[str]:
    if isinstance(target, ast.Name):
        return [target.id]
    if isinstance(target, (ast.Tuple, ast.List)):
        return [n for element in target.elts for n in _bound_names(element)]
    if isinstance(target, ast.Starred):
        return _bound_names(target.value)
    return []


EXTRACTORS = [ConfigFacts]
