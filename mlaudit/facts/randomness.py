"""Per-file randomness facts: seeding calls, random sources, local generators, determinism
switches, CUDA use, and the calls that may lead into the repo's own code, in execution order per
function. The ML1xx project rules stitch these together along the call graph.

Which API does what is data (`mlaudit.knowledge.randomness`); this module only classifies calls
met during the single walk.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import NamedTuple

from mlaudit.facts.python import argparse_default, argparse_dest
from mlaudit.facts.records import reduce_records
from mlaudit.facts.walk import Callees, CallRouter, PyContext, iter_nodes, resolve_relative
from mlaudit.knowledge import randomness as data

# Event kinds.
SEED = "seed"  # seeds `families`
SOURCE = "source"  # draws from `families[0]`; flag "deferred" when the draw happens later (dropout, shuffle)
GENERATOR = "generator"  # a local RNG created without a seed (ML106)
DET_ON = "det-on"  # turns deterministic algorithms on; flag "algorithms" for use_deterministic_algorithms(True)
CUDA = "cuda"  # uses a CUDA device
TRAIN = "train"  # looks like training (optimizer, backward, Trainer)
CALL = "call"  # any other call, maybe into the repo's own code
IMPORT = "import"  # an import of `name` (a module, or a module's attribute)
CLI = "cli"  # LightningCLI: the module is an entry point
DATA = "data"  # reads records a program can learn from: a file, a dataset library, an environment
BENCHMARK = "benchmark"  # turns cudnn.benchmark on (ML103)

DEFERRED = "deferred"
SEED_MATERIAL = "seed-material"  # the draw makes a seed (`seed = random.randint(...)`): ML107's business
ALGORITHMS = "algorithms"
SETS_CUBLAS = "sets-cublas"
# A trainer whose run config has a determinism option (`TrainingArguments.full_determinism`, a
# command-line flag under HfArgumentParser/TrlParser): turning it on is the user's call, not code's.
DETERMINISM_OPTION = "determinism-option"
AS_DATA = "as-data"  # a SOURCE that makes data (a dataset's items, inputs, targets): see data.SYNTHETIC_DRAWS
UNUSED = "unused"  # a GENERATOR assigned to a name this module never reads: nothing draws from it

_CUDA_STRING = re.compile(r"cuda(:\d+)?")
_OPTIMIZER_VARIABLE = re.compile(data.OPTIMIZER_VARIABLE, re.IGNORECASE)
_DATA_SCOPE = re.compile(data.DATA_SCOPE, re.IGNORECASE)
_DATA_VARIABLE = re.compile(data.DATA_VARIABLE, re.IGNORECASE)
_GRADIENT_NAME = re.compile(data.GRADIENT_NAME, re.IGNORECASE)
_LEARNING_RATE_NAME = re.compile(data.LEARNING_RATE_NAME, re.IGNORECASE)

# Assigned names that switch something on (see _switch), by their last component.
_SWITCH_ATTRIBUTES = frozenset(n.rsplit(".", 1)[-1] for n in (data.CUDNN_BENCHMARK, data.CUDNN_DETERMINISTIC, data.SYS_PATH))


class RandEvent(NamedTuple):  # a tuple: tens of thousands per repo, built and unpickled fast
    kind: str
    name: str  # the API's qualified name, or the callee as resolved/written for CALL
    line: int
    scope: str  # enclosing function ("" at module level), as in DefFact.name
    main_guard: bool = False
    families: tuple[str, ...] = ()
    text: str = ""  # callee as written (`self.setup`), for resolving calls into the repo
    receiver: str = ""  # what the receiver variable was built from, when known
    note: str = ""  # description for messages, or why a seed is not reproducible (ML107)
    flags: tuple[str, ...] = ()
    # A draw assigned to a plain variable: the last line of its own scope that reads the value before
    # the variable is bound again (0: never read), or -1 when unknown (read from another scope, in a
    # loop, not assigned to a plain variable).
    read_until: int = -1


_new_event = tuple.__new__


class BenchmarkSite(NamedTuple):
    line: int
    col: int
    end_line: int
    end_col: int
    cell: int
    how: str  # "assignment", "keyword" or the argparse option that defaults it on
    default: object = None  # that option's default


@dataclass(frozen=True)
class RandomnessFacts:
    events: tuple[RandEvent, ...] = ()
    # Module-level variables built by a call: name -> callee (`app = typer.Typer()`).
    module_vars: tuple[tuple[str, str], ...] = ()
    sys_path_tricks: bool = False  # sys.path edited: unresolved imports may be local modules
    cublas_env_lines: tuple[int, ...] = ()  # where CUBLAS_WORKSPACE_CONFIG is set
    # Functions run as the program by `fire.Fire(train)` / `typer.run(main)`: (name, line).
    cli_targets: tuple[tuple[str, int], ...] = ()
    # Where cudnn.benchmark is turned on (a BENCHMARK event at `line`): the span to report and
    # the notebook cell (0 in a plain file).
    benchmark_sites: tuple[BenchmarkSite, ...] = ()

    def __reduce__(self) -> tuple[object, ...]:
        return reduce_records(self, _RECORDS)  # a Python call per event otherwise (facts.records)


_RECORDS = {"events": RandEvent}


class RandomnessExtractor:
    family = "randomness"

    def __init__(self) -> None:
        self.events: list[RandEvent] = []
        self.vars: dict[tuple[str, str], str] = {}  # (scope, name as written) -> callee of its constructor
        self.assigned: dict[tuple[str, str], ast.expr] = {}  # (scope, variable) -> value last assigned
        # (scope, family) -> line of the first seeding call (source lines, as in the tree).
        self.seeded_here: dict[tuple[str, str], int] = {}
        self.generators: dict[tuple[str, str], RandEvent] = {}  # unseeded torch.Generator vars
        self.seeded_generators: set[tuple[str, str]] = set()
        self.skip: set[int] = set()  # ids of calls already accounted for by their parent
        self.arg_entropy: dict[str, str] = {}  # argparse dest -> entropy reason of its default
        self.sys_path = False
        self.class_bases: dict[str, tuple[str, ...]] = {}
        self.seed_material: set[int] = set()  # ids of calls whose result becomes a seed
        self.cublas: list[int] = []
        self.cli_targets: list[tuple[str, int]] = []
        self.targets: dict[int, str] = {}  # id of an assigned call -> the name it is assigned to
        # Names and attribute names read anywhere in the module, gathered only once a generator
        # asks (see _mark_unused).
        self.loaded: set[str] | None = None
        self.module: ast.Module | None = None
        self.var_names: set[str] = set()  # the names in self.vars, to skip its scope lookups cheaply
        # The value of the last assignment to a dotted name, and that name: the calls its value is
        # made of (_value_calls) are assigned to it. Expressions hold no statements, so a call met
        # on the walk is in the value of the last assignment or in none (see _data_target).
        self.assigned_value: ast.expr | None = None
        self.assigned_name = ""
        self.arg_defaults: dict[str, object] = {}  # argparse dest -> literal default
        # cudnn.benchmark = <attribute>: (option name, event, site), kept if the option defaults on
        self.benchmark_pending: list[tuple[str, RandEvent, BenchmarkSite]] = []
        self.benchmark_sites: list[BenchmarkSite] = []
        # Draws assigned to a plain variable, followed until it is bound again: (scope, name) ->
        # [index of the event, last line read (-1 once read from elsewhere), skip the next store].
        self.watched: dict[tuple[str, str], list[int]] = {}
        self.loops = 0  # loops around the current statement: a draw there is read again next turn
        self.devices = True  # whether the module says "cuda" (set on entering it)

    # --- helpers -----------------------------------------------------------------------------

    def _add(
        self, kind: str, name: str, node: ast.AST, ctx: PyContext, *, families: tuple[str, ...] = (), text: str = "",
        note: str = "", flags: tuple[str, ...] = (),
    ) -> None:
        # Every field given, straight to tuple.__new__ (see _call_event): imports alone make
        # thousands of these per repo.
        self.events.append(_new_event(RandEvent, (kind, name, ctx.line(node), ctx.function, ctx.in_main_guard, families,
                                                  text, "", note, flags, -1)))

    def _receiver(self, func: ast.expr, ctx: PyContext) -> str:
        """What the receiver of a method call was built from (`trainer.fit` after `trainer = Trainer()`)."""
        if type(func) is not ast.Attribute:
            return ""
        owner = func.value
        if type(owner) is ast.Call:  # `Runner(cfg).fit()`
            return ctx.qualname(owner.func) or ""
        if not self.var_names:
            return ""
        base = ctx.dotted(owner)
        if base is None or base not in self.var_names:
            return ""
        for scope in _enclosing(ctx.function):
            ctor = self.vars.get((scope, base))
            if ctor:
                return ctor
        return ""

    def _effective(self, node: ast.Call, ctx: PyContext) -> tuple[str | None, str]:
        callee = ctx.qualname(node.func)
        receiver = self._receiver(node.func, ctx)
        if receiver and isinstance(node.func, ast.Attribute):
            return f"{receiver}.{node.func.attr}", receiver
        return callee, receiver

    # --- visitors ----------------------------------------------------------------------------

    def visit_Module(self, node: ast.Module, ctx: PyContext) -> None:
        self.module = node
        # A device string is "cuda" or "cuda:N" (_cuda_strings): a module that never says "cuda"
        # has none, and its calls' arguments need not be looked at for one.
        self.devices = "cuda" in ctx.source

    def visit_Import(self, node: ast.Import, ctx: PyContext) -> None:
        for alias in node.names:
            self._add(IMPORT, alias.name, node, ctx)

    def visit_ImportFrom(self, node: ast.ImportFrom, ctx: PyContext) -> None:
        base = node.module or ""
        if node.level:
            base = resolve_relative(ctx.module, ctx.is_package, node.level, node.module)
        for alias in node.names:
            name = base if alias.name == "*" else f"{base}.{alias.name}".lstrip(".")
            self._add(IMPORT, name, node, ctx, note=base)

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        self._assignment(node.targets, node.value, node, ctx)

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: PyContext) -> None:
        if node.value is not None:
            self._assignment([node.target], node.value, node, ctx)

    def _assignment(self, targets: list[ast.expr], value: ast.expr, node: ast.AST, ctx: PyContext) -> None:
        if self.watched:
            self._reads_before_rebinding(value, ctx)
        for target in targets:
            written = ctx.dotted(target)
            last = written.rpartition(".")[2].lower() if written is not None else ""  # the name assigned
            if self.devices and "device" in last:
                self._cuda_strings(value, ctx)
            # A target's qualified name ends with its own last name, so only those of the switches
            # below are worth resolving; a bare name can also be an import's alias for one.
            if (type(target) is ast.Attribute and target.attr in _SWITCH_ATTRIBUTES) or (
                    type(target) is ast.Name and (target.id in ctx.imports or target.id in _SWITCH_ATTRIBUTES)):
                self._switch(ctx.qualname(target), node, value, ctx)
            if (
                isinstance(target, ast.Subscript)
                and ctx.qualname(target.value) == "os.environ"
                and _const(target.slice) == data.CUBLAS_VAR
            ):
                self.cublas.append(ctx.line(node))
            if written is None:
                continue
            if "seed" in last:
                self._mark_seed_material(value)
            self.assigned_value, self.assigned_name = value, written
            if isinstance(value, ast.Call):
                self.targets[id(value)] = written
                callee, _ = self._effective(value, ctx)
                if callee:
                    # `self.x = Foo()` in a method is visible to every method of the class.
                    owner = ".".join(ctx.scope[:-1]) if written.startswith("self.") else ctx.function
                    self.vars[(owner, written)] = callee
                    self.var_names.add(written)
                if callee in data.TORCH_GENERATORS and id(value) not in self.skip:
                    self.generators[(ctx.function, written)] = RandEvent(
                        GENERATOR, callee, ctx.line(node), ctx.function, ctx.in_main_guard, text=written,
                        note="torch.Generator() is never given manual_seed()",
                    )
                    self.skip.add(id(value))
            # Remember the value; whether it is entropy is worked out only if a seeding call uses it.
            self.assigned[(ctx.function, written)] = value

    def _switch(self, name: str | None, node: ast.AST, value: ast.expr, ctx: PyContext) -> None:
        """`cudnn.benchmark = ...`, `cudnn.deterministic = ...`, `sys.path = ...`."""
        if name == data.CUDNN_BENCHMARK:
            self._benchmark(node, value, ctx)
        if name == data.CUDNN_DETERMINISTIC and not _falsy(value):
            self._add(DET_ON, name, node, ctx, note="cudnn.deterministic = True")
        if name == data.SYS_PATH:
            self.sys_path = True

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        if self.skip and id(node) in self.skip:
            return
        # This runs for every call of every file, so `_effective` and the common case of
        # `_device_arguments` are written out here.
        func = node.func
        if type(func) is ast.Attribute:
            method = func.attr
            receiver = self._receiver(func, ctx) if self.var_names or type(func.value) is ast.Call else ""
            callee = f"{receiver}.{method}" if receiver else ctx.qualname(func)
        else:
            method, receiver, callee = "", "", ctx.qualname(func)
        steps = _STEPS.route(callee, method)
        if steps:
            self._classify(node, callee, receiver, method, ctx, steps)
            return
        # No table names this callee or method, so of `_classify`'s steps only the device strings
        # and the CALL record can apply; most calls take this path.
        if self.devices:
            for arg in (*node.args, *[k.value for k in node.keywords]) if node.keywords else node.args:
                if type(arg) is ast.IfExp or (type(arg) is ast.Constant and type(arg.value) is str and arg.value[:4] == "cuda"):
                    self._cuda_strings(arg, ctx)
        self._call_event(node, callee, receiver, ctx)

    def _device_arguments(self, node: ast.Call, ctx: PyContext) -> None:
        """Device strings among a call's arguments (see _cuda_strings)."""
        if not self.devices:
            return
        for arg in (*node.args, *[k.value for k in node.keywords]):
            self._cuda_strings(arg, ctx)

    def _call_event(self, node: ast.Call, callee: str | None, receiver: str, ctx: PyContext) -> None:
        """Record a call that may lead into the repo's own code (builtins cannot)."""
        if callee and callee.startswith("builtins."):
            return
        func = node.func
        text = func.id if type(func) is ast.Name else ctx.dotted(func) or ""
        # Only calls named like a seeding helper can be one for ML107; skip the others cheaply.
        note = self._seed_entropy(node, ctx) if "seed" in (callee or text).lower() else ""
        line = ctx.line_map.file_line(node.lineno) if ctx.line_map.file_lines else node.lineno
        # Every field given, straight to tuple.__new__: the generated RandEvent.__new__ (a Python
        # call that fills in the defaults) would cost a fifth of this handler.
        self.events.append(_new_event(RandEvent, (CALL, callee or "", line, ctx.function, ctx.in_main_guard, (), text,
                                                  receiver, note, (), -1)))

    def _classify(
        self, node: ast.Call, callee: str | None, receiver: str, method: str, ctx: PyContext, steps: tuple[_Step, ...]
    ) -> None:
        """Run the steps whose tables name this call (see `_STEPS`), in order: the ones that only
        take note, the device strings among the arguments, then the classifiers until one settles
        what the call is; a call none settles may lead into the repo's code."""
        devices_done = False
        for step in steps:
            if step.after_devices and not devices_done:
                self._device_arguments(node, ctx)
                devices_done = True
            if step.run(self, node, callee, method, ctx):
                return
        if not devices_done:
            self._device_arguments(node, ctx)
        self._call_event(node, callee, receiver, ctx)

    def _argparse_option(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        if method == "add_argument":
            self._argparse(node, ctx)
            dest, default = argparse_dest(node), argparse_default(node, _const)
            if dest:
                self.arg_defaults[dest] = default
        return False

    def _cli_runner(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        if callee in data.CLI_RUNNERS and node.args and isinstance(node.args[0], ast.Name):
            self.cli_targets.append((node.args[0].id, ctx.line(node)))
        return False

    def _sys_path_edit(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        if callee in data.SYS_PATH_EDITS:
            self.sys_path = True
        return False

    def visit_ClassDef(self, node: ast.ClassDef, ctx: PyContext) -> None:
        name = ".".join([*ctx.scope, node.name])
        self.class_bases[name] = tuple(ctx.qualname(b) or "" for b in node.bases)

    def _random_super_init(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        """`super().__init__(...)` in a subclass of a randomly initialised layer (`class L(nn.Linear)`)."""
        func = node.func
        if not (isinstance(func, ast.Attribute) and func.attr == "__init__" and isinstance(func.value, ast.Call)):
            return False
        if ctx.qualname(func.value.func) != "builtins.super" or len(ctx.scope) < 2:
            return False
        bases = self.class_bases.get(".".join(ctx.scope[:-1]), ())
        seeding = next((b for b in bases if b in data.SEEDING_CONSTRUCTORS), None)
        if seeding is not None:  # a Trainer subclass: transformers.Trainer.__init__ calls set_seed(args.seed)
            self._add(SEED, seeding, node, ctx, families=tuple(sorted(data.SEEDING_CONSTRUCTORS[seeding])),
                      note="")
            return True
        if any(b in data.OPTIMIZER_BASES for b in bases):  # the repo's own optimizer is built
            self._add(TRAIN, ".".join(ctx.scope[:-1]), node, ctx, note=f"{ctx.scope[-2]}() optimizer")
            return True
        layer = next((b for b in bases if b in data.TORCH_RANDOM_LAYERS), None)
        if layer is None:
            if bases and bases[0]:  # the base class's constructor, which may be the repo's own (and seed)
                self._add(CALL, f"{bases[0]}.__init__", node, ctx, text=f"{bases[0]}.__init__")
                return True
            return False
        self._add(SOURCE, layer, node, ctx, families=(data.TORCH,), note=f"{_torch_short(layer)}() initialises weights randomly")
        return True

    def visit_AugAssign(self, node: ast.AugAssign, ctx: PyContext) -> None:
        watched = self.watched.get((ctx.function, node.target.id)) if isinstance(node.target, ast.Name) else None
        if watched is not None and watched[1] >= 0:
            watched[1], watched[2] = ctx.line(node), 1  # `x += 1` reads x, and its store does not rebind it
        # `p.data -= lr * p.grad`, or NumPy's `w -= learning_rate * dw`
        if isinstance(node.op, ast.Sub) and (_reads_grad(node.value) or _scaled_by_learning_rate(node.value)):
            self._add(TRAIN, "-=", node, ctx, note="a gradient step by hand")

    def visit_Name(self, node: ast.Name, ctx: PyContext) -> None:
        if self.watched:
            self._follow(node, ctx)

    def _reads_before_rebinding(self, value: ast.expr, ctx: PyContext) -> None:
        """`a, loader = prepare(a, loader)` reads loader before it binds it again; the walk meets
        the targets first, so the value's reads of followed variables are counted here."""
        if not any(scope == ctx.function for scope, _ in self.watched):
            return  # the variables followed belong to other functions
        for sub in ast.walk(value):
            if isinstance(sub, ast.Name) and isinstance(sub.ctx, ast.Load):
                watched = self.watched.get((ctx.function, sub.id))
                if watched is not None and watched[1] >= 0:
                    watched[1] = ctx.line(sub)

    def _follow(self, node: ast.Name, ctx: PyContext) -> None:
        """Reads and rebinds of the variables that hold a draw (see RandEvent.read_until)."""
        key = (ctx.function, node.id)
        watched = self.watched.get(key)
        if watched is None:
            outer = self.watched.get(("", node.id))
            if outer is not None and isinstance(node.ctx, ast.Load):
                outer[1] = -1  # a module variable read in a function: when it runs is unknown here
            return
        if isinstance(node.ctx, ast.Load):
            if watched[1] >= 0:
                watched[1] = ctx.line(node)
        elif isinstance(node.ctx, ast.Store):
            if watched[2]:
                watched[2] = 0
            else:
                self._unwatch(key)

    def _cuda_strings(self, value: ast.expr, ctx: PyContext) -> None:
        """A "cuda" string counts as CUDA use only where it names a device: a call's argument, a value
        given to a device variable (either branch of a conditional). A "cuda" key in a
        table of backends or a list of attribute names is not device use."""
        if type(value) is ast.Constant and not (type(value.value) is str and value.value[:4] == "cuda"):
            return  # the common case, settled without building the list of branches
        for leaf in _branches(value):
            if isinstance(leaf, ast.Constant) and isinstance(leaf.value, str) and _CUDA_STRING.fullmatch(leaf.value):
                self._add(CUDA, leaf.value, leaf, ctx, note=f'"{leaf.value}" device')

    def leave_FunctionDef(self, node: ast.FunctionDef, ctx: PyContext) -> None:
        self._flush_generators(ctx.function)

    leave_AsyncFunctionDef = leave_FunctionDef

    # --- classification ----------------------------------------------------------------------

    def _seed(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        families = data.SEEDERS.get(callee or "") or data.ENTROPY_SEEDERS.get(callee or "")
        if callee in data.SEEDING_CONSTRUCTORS:
            if callee in data.LIGHTNING_CLIS:
                self._add(CLI, callee, node, ctx)
                if _kwarg_is(node, "seed_everything_default", False):
                    return False
            families = data.SEEDING_CONSTRUCTORS[callee]
        if families is None:
            return False
        note = self._seed_entropy(node, ctx)
        if callee in data.ENTROPY_SEEDERS:
            note = "a nondeterministic seed that torch picks"
        elif callee in data.SEED_FROM_ENTROPY_WITHOUT_ARGUMENT and not node.args and not node.keywords:
            note = "nothing (no argument seeds from the OS entropy pool)"
        for arg in [*node.args, *(k.value for k in node.keywords)]:
            self._mark_seed_material(arg)
        for family in families:
            self.seeded_here.setdefault((ctx.function, family), node.lineno)
        self._add(SEED, callee or "", node, ctx, families=tuple(sorted(families)), note=note)
        self._determinism_keyword(node, callee, ctx)
        if callee in data.TRAINING_CONSTRUCTORS:
            self._add(TRAIN, callee or "", node, ctx, note=f"{_short(callee)}()", flags=_trainer_flags(callee))
        return True

    def _determinism(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        if callee == data.USE_DETERMINISTIC:
            mode = node.args[0] if node.args else _kwarg(node, "mode")
            if mode is not None and not _falsy(mode):
                warn_only = _kwarg(node, "warn_only")
                flags = () if warn_only is not None and not _falsy(warn_only) else (ALGORITHMS,)
                self._add(DET_ON, callee, node, ctx, note="torch.use_deterministic_algorithms(True)", flags=flags)
            return True
        if callee == data.DETERMINISTIC_DEBUG_MODE:
            mode = node.args[0] if node.args else None
            if mode is not None and _const(mode) not in (0, "default"):
                self._add(DET_ON, callee, node, ctx, note="torch.set_deterministic_debug_mode")
            return True
        if callee in data.DETERMINISM_CALLS:
            self._add(DET_ON, callee, node, ctx, note=callee, flags=(SETS_CUBLAS,))
            return False  # enable_full_determinism also seeds: let _seed see it
        if callee in data.DETERMINISM_KEYWORDS and callee not in data.SEEDERS:
            self._determinism_keyword(node, callee, ctx)
            if callee in data.TRAINING_CONSTRUCTORS:
                self._add(TRAIN, callee, node, ctx, note=f"{_short(callee)}()")
                accelerator = _const(_kwarg(node, "accelerator"))
                if accelerator in data.CUDA_ACCELERATORS:
                    self._add(CUDA, callee, node, ctx, note=f'accelerator="{accelerator}"')
                return True
        return False

    def _determinism_keyword(self, node: ast.Call, callee: str | None, ctx: PyContext) -> None:
        keyword = data.DETERMINISM_KEYWORDS.get(callee or "")
        value = _kwarg(node, keyword) if keyword else None
        if value is not None and not _falsy(value):
            flags = (SETS_CUBLAS,) if callee in data.SETS_CUBLAS_ITSELF else ()
            self._add(DET_ON, callee or "", node, ctx, note=f"{callee}({keyword}=...)", flags=flags)

    def _source(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        found = _random_source(node, callee, method)
        if found is None:
            return False
        family, description, deferred = found
        flags: tuple[str, ...] = (DEFERRED,) if deferred else ()
        if id(node) in self.seed_material:
            flags += (SEED_MATERIAL,)
        if callee in data.SYNTHETIC_DRAWS and self._as_data(node, ctx):
            flags += (AS_DATA,)
        self._add(SOURCE, callee or method, node, ctx, families=(family,), note=description, flags=flags)
        target = self._data_target(node)
        if target.isidentifier() and not self.loops:
            self._unwatch((ctx.function, target))
            self.watched[(ctx.function, target)] = [len(self.events) - 1, 0, 0]
        return True

    def _data_target(self, node: ast.Call) -> str:
        """The name a call's result is assigned to, through method chains and arithmetic."""
        value = self.assigned_value
        if value is not None and any(inner is node for inner in _value_calls(value)):
            return self.assigned_name
        return ""

    def _unwatch(self, key: tuple[str, str]) -> None:
        """Stop following a variable: its value is bound again (or the module ends)."""
        found = self.watched.pop(key, None)
        if found is not None:
            index, last_read, _ = found
            self.events[index] = self.events[index]._replace(read_until=last_read)

    def visit_For(self, node: ast.AST, ctx: PyContext) -> None:
        self.loops += 1

    def leave_For(self, node: ast.AST, ctx: PyContext) -> None:
        self.loops -= 1

    visit_AsyncFor = visit_While = visit_For
    leave_AsyncFor = leave_While = leave_For

    def _as_data(self, node: ast.Call, ctx: PyContext) -> bool:
        """Whether a draw makes data: written in a dataset class or data/batch function, or assigned
        to a variable named like data."""
        target = self._data_target(node).rsplit(".", 1)[-1]
        return bool(target and _DATA_VARIABLE.fullmatch(target)) or any(_DATA_SCOPE.fullmatch(part) for part in ctx.scope)

    def _mark_seed_material(self, expr: ast.expr) -> None:
        self.seed_material.update(id(sub) for sub in ast.walk(expr) if isinstance(sub, ast.Call))

    def _local_generator(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        if callee in data.LOCAL_GENERATORS or callee in data.GENERATOR_WRAPPERS:
            if callee in data.GENERATOR_WRAPPERS:
                inner = node.args[0] if node.args else None
                if isinstance(inner, ast.Call) and ctx.qualname(inner.func) in data.LOCAL_GENERATORS:
                    self.skip.add(id(inner))
                    if not _seed_argument(inner):
                        self._add(GENERATOR, callee, node, ctx, text=self.targets.get(id(node), ""),
                                  note=f"{_short(callee)}({_short(ctx.qualname(inner.func))}()) has no seed")
                return True
            if not _seed_argument(node):
                self._add(GENERATOR, callee or "", node, ctx, text=self.targets.get(id(node), ""),
                          note=f"{_short(callee)}() has no seed")
            return True
        if callee in data.TORCH_GENERATORS:
            self._add(GENERATOR, callee, node, ctx, text=self.targets.get(id(node), ""),
                      note="torch.Generator() is never given manual_seed()")
            return True
        if callee in data.JAX_KEYS:
            reason = self._entropy(node.args[0], ctx) if node.args else ""
            if reason:
                self._add(GENERATOR, callee, node, ctx, note=f"{_short(callee)}() is built from {reason}")
            return True
        return False

    def _cuda(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        if method == "cuda" and not (callee or "").startswith("torch.cuda"):
            self._add(CUDA, "cuda", node, ctx, note=".cuda()")
            return True
        if callee and callee.startswith("torch.cuda.") and callee not in data.SEEDERS:
            if callee not in data.CUDA_QUERIES:
                self._add(CUDA, callee, node, ctx, note=f"{callee}()")
            return True
        return False

    def _training(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        """Training evidence: a trainer or optimizer built, an optimizer stepped, an estimator fitted."""
        if callee in data.TRAINING_CONSTRUCTORS:
            self._add(TRAIN, callee or method, node, ctx, note=f"{_short(callee)}()", flags=_trainer_flags(callee))
            return True
        if callee and _optimizer_constructor(callee):
            self._add(TRAIN, callee, node, ctx, note=f"{_torch_short(callee)}()")
            return True
        if _trainer_class(callee):  # still a call: in the library's own repo it leads into its code
            self._add(TRAIN, callee or method, node, ctx, note=f"{_short(callee)}()", flags=(DETERMINISM_OPTION,))
            return False
        steps = method in data.STEP_METHODS and self._steps_optimizer(node, callee, ctx)
        fits = method in data.FIT_METHODS and (callee or "").startswith(data.FIT_PREFIXES)
        if method in data.IN_PLACE_UPDATES and any(_reads_grad(arg) for arg in node.args):
            self._add(TRAIN, method, node, ctx, note=f"a gradient step by hand ({ctx.dotted(node.func) or method}())")
        elif (method in data.GRADIENT_UPDATE_METHODS or callee in data.GRADIENT_TREE_MAPS) and _given_gradients(node, ctx):
            self._add(TRAIN, callee or method, node, ctx, note=f"a gradient step ({ctx.dotted(node.func) or method}())")
        elif steps or fits:
            self._add(TRAIN, callee or method, node, ctx, note=f"{ctx.dotted(node.func) or method}()")
        return False

    def _data_method(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        """pandas/datasets/Polars/Dask methods that draw random numbers unless given a seed."""
        if not method or not isinstance(node.func, ast.Attribute):
            return False
        spec = next((m for m in data.DATA_METHODS if m.method == method), None)
        if spec is None:
            return False
        built_from = self._built_from(node.func.value, ctx)
        spec = next((m for m in data.DATA_METHODS if m.method == method and _made_by(built_from, m.objects)), None)
        if spec is None:
            return False
        seed = _kwarg(node, spec.seed_keyword)
        if seed is not None and not (isinstance(seed, ast.Constant) and seed.value is None):
            return True
        if spec.shuffle_keyword and _kwarg_is(node, spec.shuffle_keyword, False):
            return True
        note = f"{spec.label} without {spec.seed_keyword}="
        if spec.family:
            self._add(SOURCE, f"{built_from}.{method}", node, ctx, families=(spec.family,), note=note)
        else:
            self._add(GENERATOR, f"{built_from}.{method}", node, ctx, note=f"{note} seeds itself from the OS")
        return True

    def _built_from(self, expr: ast.expr, ctx: PyContext) -> str:
        """The call a receiver chain starts from: `pd.read_csv(f)` in `pd.read_csv(f).dropna()["a"]`,
        or what the variable at its root was built from."""
        while True:
            if isinstance(expr, ast.Call):
                if isinstance(expr.func, ast.Attribute) and not ctx.qualname(expr.func):
                    expr = expr.func.value  # a method call on the chain: `.dropna()`
                    continue
                return ctx.qualname(expr.func) or ""
            if isinstance(expr, ast.Subscript):
                expr = expr.value
                continue
            written = ctx.dotted(expr)
            if written is None:
                return ""
            for scope in _enclosing(ctx.function):
                ctor = self.vars.get((scope, written))
                if ctor:
                    return ctor
            return ""

    def _steps_optimizer(self, node: ast.Call, callee: str | None, ctx: PyContext) -> bool:
        """`optimizer.step()`, `self.opt_g.step()`, `scaler.step(optimizer)`, or `.step()` on a
        variable built by an optimizer constructor."""
        receiver = self._receiver(node.func, ctx)
        if receiver and _optimizer_constructor(receiver):
            return True
        owner = node.func.value if isinstance(node.func, ast.Attribute) else None
        names = [ctx.dotted(owner) or ""] if owner is not None else []
        names += [ctx.dotted(arg) or "" for arg in node.args[:1]]
        return any(_OPTIMIZER_VARIABLE.fullmatch(name.rsplit(".", 1)[-1]) for name in names if name)

    def _benchmark(self, node: ast.AST, value: ast.expr, ctx: PyContext) -> None:
        """`cudnn.benchmark = True`, or `= args.x` kept until we know whether --x defaults on."""
        if _truthy(value):
            self._benchmark_site(node, "assignment", ctx)
        elif isinstance(value, ast.Attribute):
            event = RandEvent(BENCHMARK, data.CUDNN_BENCHMARK, ctx.line(node), ctx.function, ctx.in_main_guard,
                              note="cudnn.benchmark")
            self.benchmark_pending.append((value.attr, event, self._site(node, value.attr, ctx)))

    def _benchmark_keyword(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        """`Trainer(benchmark=True)`."""
        keyword = data.BENCHMARK_KEYWORDS.get(callee or "")
        found = next((k for k in node.keywords if keyword and k.arg == keyword), None)
        if found is not None and _truthy(found.value):
            self._benchmark_site(found, "keyword", ctx)
        return False

    def _benchmark_site(self, node: ast.AST, how: str, ctx: PyContext) -> None:
        self._add(BENCHMARK, data.CUDNN_BENCHMARK, node, ctx, note=how)
        self.benchmark_sites.append(self._site(node, how, ctx))

    @staticmethod
    def _site(node: ast.AST, how: str, ctx: PyContext) -> BenchmarkSite:
        line, col, end_line, end_col = ctx.span(node)
        return BenchmarkSite(line, col, end_line, end_col, ctx.line_map.cell(getattr(node, "lineno", 1)) or 0, how)

    def _data_read(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        """A call that reads data from outside the program (see data.DATA_SOURCE_CALLS)."""
        name = callee or ""
        if name in data.DATA_SOURCE_CALLS or name.startswith(data.DATA_SOURCE_PREFIXES) or method in data.DATA_SOURCE_METHODS:
            if name.endswith("open") and _writes(node, 0 if name == "pathlib.Path.open" else 1):
                return False  # a file opened for writing is an output
            self._add(DATA, name or method, node, ctx, note=f"{_short(name) or method}()")
        return False

    # --- torch.Generator seeding, environment, argparse --------------------------------------

    def _generator_seeding(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        if method not in data.TORCH_GENERATOR_SEEDING_METHODS or not isinstance(node.func, ast.Attribute):
            return False
        owner = node.func.value
        if isinstance(owner, ast.Call) and ctx.qualname(owner.func) in data.TORCH_GENERATORS:
            self.skip.add(id(owner))  # torch.Generator().manual_seed(0)
            return False
        written = ctx.dotted(owner)
        if written is not None:
            self.seeded_generators.add((ctx.function, written))
            self.seeded_generators.add(("*", written))
        return False

    def _flush_generators(self, scope: str) -> None:
        for key in [k for k in self.generators if k[0] == scope]:
            event = self.generators.pop(key)
            if key not in self.seeded_generators and ("*", key[1]) not in self.seeded_generators:
                self.events.append(event)

    def _environment(self, node: ast.Call, callee: str | None, method: str, ctx: PyContext) -> bool:
        if callee in data.ENVIRONMENT_SETTERS:
            if node.args and _const(node.args[0]) == data.CUBLAS_VAR:
                self.cublas.append(ctx.line(node))
        elif callee == data.ENVIRONMENT_UPDATE:
            keys: list[object] = [k.arg for k in node.keywords]
            for arg in node.args:
                if isinstance(arg, ast.Dict):
                    keys += [_const(k) for k in arg.keys if k is not None]
            if data.CUBLAS_VAR in keys:
                self.cublas.append(ctx.line(node))
        return False

    def _argparse(self, node: ast.Call, ctx: PyContext) -> None:
        default = _kwarg(node, "default")
        if default is None:
            return
        reason = self._entropy(default, ctx)
        if not reason:
            return
        dest = argparse_dest(node)
        if dest is not None:
            self.arg_entropy[dest] = reason

    # --- entropy (ML107) ---------------------------------------------------------------------

    def _seed_entropy(self, node: ast.Call, ctx: PyContext) -> str:
        for arg in [*node.args, *(k.value for k in node.keywords if k.arg in (None, "seed"))]:
            reason = self._entropy(arg, ctx)
            if reason:
                return reason
        return ""

    def _entropy(self, expr: ast.expr, ctx: PyContext, depth: int = 0) -> str:
        """Why `expr` differs on every run (`time.time()`), or "" when it does not. Variables are
        followed to the value last assigned to them in this or an enclosing scope."""
        if depth > 5:
            return ""
        for sub in ast.walk(expr):
            if isinstance(sub, ast.Call):
                name = ctx.qualname(sub.func) or ""
                if name in data.ENTROPY_CALLS or name.startswith(data.ENTROPY_PREFIXES):
                    return f"{name}()"
                family = _global_family(name)
                seeded_at = self.seeded_here.get((ctx.function, family), 0)
                if family and not 0 < seeded_at < sub.lineno:
                    return f"{name}() before any seed"
            elif isinstance(sub, (ast.Name, ast.Attribute)):
                reason = self._variable_entropy(ctx.dotted(sub) or "", ctx, depth)
                if reason:
                    return reason
                if isinstance(sub, ast.Attribute) and sub.attr in self.arg_entropy:
                    return f"the default of --{sub.attr.replace('_', '-')} ({self.arg_entropy[sub.attr]})"
        return ""

    def _variable_entropy(self, written: str, ctx: PyContext, depth: int) -> str:
        for scope in _enclosing(ctx.function):
            value = self.assigned.get((scope, written))
            if value is not None:
                return self._entropy(value, ctx, depth + 1)
        return ""

    def facts(self, ctx: PyContext) -> RandomnessFacts:
        self._flush_generators("")
        for key in list(self.generators):
            self._flush_generators(key[0])
        for key in list(self.watched):
            self._unwatch(key)
        for dest, event, site in self.benchmark_pending:
            if self.arg_defaults.get(dest):
                self.events.append(event)
                self.benchmark_sites.append(site._replace(default=self.arg_defaults[dest]))
        module_vars = tuple(sorted((name, ctor) for (scope, name), ctor in self.vars.items() if scope == ""))
        events = tuple(self._mark_unused(e) if e.kind == GENERATOR else e for e in self.events)
        return RandomnessFacts(events, module_vars, self.sys_path, tuple(self.cublas), tuple(self.cli_targets),
                               tuple(self.benchmark_sites))

    def _mark_unused(self, event: RandEvent) -> RandEvent:
        """Flag a generator assigned to a name that nothing in the module reads again."""
        if not event.text or event.text.rsplit(".", 1)[-1] in self._loaded():
            return event
        return event._replace(flags=(*event.flags, UNUSED))

    def _loaded(self) -> set[str]:
        """Names and attribute names read anywhere in the module. Generators are rare, so this
        reads the tree again for the few modules that build one, instead of collecting every
        Name and Attribute on the walk."""
        if self.loaded is None:
            nodes = iter_nodes(self.module) if self.module is not None else []
            self.loaded = {n.id for n in nodes if type(n) is ast.Name and type(n.ctx) is ast.Load}
            self.loaded |= {n.attr for n in nodes if type(n) is ast.Attribute and type(n.ctx) is ast.Load}
        return self.loaded


@functools.lru_cache(maxsize=1024)  # asked for every method call; a module has few scopes
def _enclosing(function: str) -> tuple[str, ...]:
    """Dotted names of the current scope (`Trainer.fit`) and each enclosing one, innermost first."""
    scope = function.split(".") if function else []
    return tuple(".".join(scope[:i]) for i in range(len(scope), -1, -1))


def _random_source(node: ast.Call, callee: str | None, method: str) -> tuple[str, str, bool] | None:
    """(family, description, deferred) when the call draws from a global RNG."""
    name = callee or ""
    if name in data.TORCH_RANDOM_FUNCTIONS or name in data.TORCH_INIT_RANDOM:
        return data.TORCH, f"{_torch_short(name)}()", False
    if name in data.TORCH_RANDOM_LAYERS:
        return data.TORCH, f"{_torch_short(name)}() initialises weights randomly", False
    if name in data.TORCH_TRAINING_RANDOM:
        return data.TORCH, f"{_torch_short(name)}", True
    if name in data.TORCH_DATA_RANDOM and _kwarg(node, "generator") is None:
        return data.TORCH, f"{_short(name)}() without generator=", True
    if name in data.DATALOADERS:
        shuffle = _kwarg(node, "shuffle")
        if shuffle is not None and _const(shuffle) is True and _kwarg(node, "generator") is None:
            return data.TORCH, "DataLoader(shuffle=True)", True
        return None
    if name.startswith(data.MODEL_ZOO_PREFIXES) and name.count(".") == 2 and name[-1:].islower():
        if not any(not _falsy(v) for k in data.PRETRAINED_KWARGS if (v := _kwarg(node, k)) is not None):
            return data.TORCH, f"{_short(name)}() without pretrained weights", False
        return None
    if name.startswith(data.TORCHVISION_TRANSFORM_PREFIXES):
        last = name.rsplit(".", 1)[-1]
        if last.startswith("Random") or last in data.TORCHVISION_RANDOM_TRANSFORMS:
            return data.TORCH, f"transforms.{last}", True
        return None
    if name in data.NUMPY_GLOBAL_FUNCTIONS:
        return data.NUMPY, f"np.random.{name.rsplit('.', 1)[-1]}()", False
    if name in data.PYRANDOM_FUNCTIONS:
        return data.PYRANDOM, f"{name}()", False
    if name in data.TF_RANDOM_FUNCTIONS:
        return data.TF, f"tf.random.{name.rsplit('.', 1)[-1]}()", False
    if name.startswith(data.KERAS_LAYER_PREFIXES) and name.rsplit(".", 1)[-1] in data.KERAS_RANDOM_LAYERS:
        return data.TF, f"keras {name.rsplit('.', 1)[-1]} layer", False
    sklearn = _sklearn_source(node, name)
    if sklearn:
        return data.NUMPY, sklearn, False
    if callee is None and method in data.TORCH_RANDOM_METHODS:
        return data.TORCH, f".{method}()", False
    return None


def _sklearn_source(node: ast.Call, name: str) -> str:
    if not name.startswith("sklearn."):
        return ""
    parts = name.split(".")
    short = f"{parts[1]}.{parts[-1]}" if len(parts) >= 3 else ""
    if _splat_may_hold(node, "random_state"):
        return ""  # `RandomForestRegressor(**best_params)`: the dict may well carry random_state
    random_state = _kwarg(node, "random_state")
    if random_state is not None and _const(random_state) is not None:
        return ""
    if random_state is not None and not (isinstance(random_state, ast.Constant) and random_state.value is None):
        return ""
    if short in data.SKLEARN_RANDOM:
        if short in data.SKLEARN_SHUFFLE_DEFAULT_ON and _kwarg_is(node, "shuffle", False):
            return ""
        return f"{parts[-1]}() without random_state"
    if short in data.SKLEARN_SHUFFLE_OPTIONAL and _kwarg_is(node, "shuffle", True):
        return f"{parts[-1]}(shuffle=True) without random_state"
    return ""


def _optimizer_constructor(name: str) -> bool:
    """Whether a callee builds an optimizer (`torch.optim.AdamW`, `optax.adamw`); schedulers count,
    since they wrap one."""
    if name in data.OPTIMIZER_CONSTRUCTORS:
        return True
    last = name.rsplit(".", 1)[-1]
    if name.startswith(data.OPTIMIZER_PREFIXES) and last[:1].isupper():
        return name not in data.OPTIMIZER_BASES and "._" not in name  # not a private registry class
    return name.startswith(data.FUNCTIONAL_OPTIMIZER_PREFIXES) and name.count(".") == 1 and last[:1].islower()


def _reads_grad(expr: ast.expr) -> bool:
    """Whether an expression reads a parameter's gradient (`-lr * p.grad`)."""
    return any(isinstance(sub, ast.Attribute) and sub.attr == "grad" for sub in ast.walk(expr))


def _value_calls(value: ast.expr) -> list[ast.Call]:
    """The calls whose result an assigned value is made of, through method chains and arithmetic:
    `torch.randn(20, 5).to(rank)`, `0.8 * X + np.random.normal(0, 0.1)`."""
    found: list[ast.Call] = []
    todo: list[ast.expr] = [value]
    while todo and len(found) < 16:
        item = todo.pop()
        if isinstance(item, ast.Call):
            found.append(item)
            if isinstance(item.func, ast.Attribute):
                todo.append(item.func.value)
        elif isinstance(item, ast.BinOp):
            todo += [item.left, item.right]
        elif isinstance(item, (ast.Attribute, ast.Subscript)):
            todo.append(item.value)
    return found


def _given_gradients(node: ast.Call, ctx: PyContext) -> bool:
    """Whether a call gets gradients: an argument that is, or contains, a name like `grads`."""
    for arg in [*node.args, *(k.value for k in node.keywords)]:
        for sub in ast.walk(arg):
            written = ctx.dotted(sub) if isinstance(sub, (ast.Name, ast.Attribute)) else None
            if written and _GRADIENT_NAME.fullmatch(written.rsplit(".", 1)[-1]):
                return True
    return False


def _scaled_by_learning_rate(expr: ast.expr) -> bool:
    """`learning_rate * dw` (either side, possibly dotted: `self.lr * g`)."""
    if not (isinstance(expr, ast.BinOp) and isinstance(expr.op, ast.Mult)):
        return False
    for side in (expr.left, expr.right):
        name = side.attr if isinstance(side, ast.Attribute) else side.id if isinstance(side, ast.Name) else ""
        if _LEARNING_RATE_NAME.fullmatch(name):
            return True
    return False


def _trainer_flags(name: str | None) -> tuple[str, ...]:
    return (DETERMINISM_OPTION,) if _trainer_class(name) else ()


def _trainer_class(name: str | None) -> bool:
    return bool(name) and name.startswith(data.TRAINER_PREFIXES) and name.endswith(data.TRAINER_SUFFIX)  # type: ignore[union-attr]


def _splat_may_hold(node: ast.Call, keyword: str) -> bool:
    """Whether a `**mapping` argument may pass `keyword`: anything but a dict literal without it."""
    for item in node.keywords:
        if item.arg is not None:
            continue
        value = item.value
        if not (isinstance(value, ast.Dict) and None not in value.keys
                and all(isinstance(k, ast.Constant) and k.value != keyword for k in value.keys)):
            return True
    return False


def _global_family(name: str) -> str:
    if name in data.NUMPY_GLOBAL_FUNCTIONS:
        return data.NUMPY
    if name in data.PYRANDOM_FUNCTIONS:
        return data.PYRANDOM
    if name in data.TORCH_RANDOM_FUNCTIONS:
        return data.TORCH
    return ""


def _made_by(built_from: str, objects: frozenset[str]) -> bool:
    """`pandas.read_csv` or a method chain on it (`pandas.read_csv.dropna`) is one of `objects`."""
    return any(built_from == o or built_from.startswith(o + ".") for o in objects)


def _seed_argument(node: ast.Call) -> bool:
    """Whether a generator constructor got a seed (anything but nothing or a literal None)."""
    values = [*node.args, *(k.value for k in node.keywords if k.arg in ("seed", "x", "entropy", None))]
    return any(not (isinstance(v, ast.Constant) and v.value is None) for v in values)


def _kwarg(node: ast.Call, name: str | None) -> ast.expr | None:
    for keyword in node.keywords:
        if keyword.arg == name:
            return keyword.value
    return None


def _kwarg_is(node: ast.Call, name: str, value: object) -> bool:
    found = _kwarg(node, name)
    return found is not None and _const(found) is value


def _truthy(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and bool(node.value) and node.value is not Ellipsis


def _writes(node: ast.Call, position: int) -> bool:
    """Whether an `open(path, mode)` call (mode at `position`) opens for writing or appending."""
    mode = node.args[position] if len(node.args) > position else _kwarg(node, "mode")
    return isinstance(_const(mode), str) and any(c in str(_const(mode)) for c in "wax")


def _const(node: ast.AST | None) -> object:
    return node.value if isinstance(node, ast.Constant) else None


def _falsy(node: ast.AST) -> bool:
    return isinstance(node, ast.Constant) and not node.value


def _short(name: str | None) -> str:
    return (name or "").rsplit(".", 1)[-1]


def _torch_short(name: str) -> str:
    for prefix, short in (("torch.nn.functional.", "F."), ("torch.nn.init.", "nn.init."), ("torch.nn.", "nn.")):
        if name.startswith(prefix):
            return short + name[len(prefix):]
    return name


class _Step(NamedTuple):
    run: Callable[[RandomnessExtractor, ast.Call, str | None, str, PyContext], bool]  # True: the call is settled
    after_devices: bool  # runs after the device strings among the arguments are noted


def _row(
    run: Callable[[RandomnessExtractor, ast.Call, str | None, str, PyContext], bool],
    names: Iterable[str] = (),
    prefixes: tuple[str, ...] = (),
    methods: Iterable[str] = (),
    after_devices: bool = True,
) -> tuple[_Step, Callees]:
    return _Step(run, after_devices), Callees(frozenset(names), prefixes, frozenset(methods))


# Which calls each step of the classification can be about, read from the tables it reads: a step
# runs only for a call whose (effective) callee or method its row names. A step's row must name
# every table the step looks a callee or method up in; tests/facts/test_randomness_steps.py
# checks it against running every step on every name of the knowledge tables.
_X = RandomnessExtractor
_STEP_ROWS = [
    _row(_X._argparse_option, methods={"add_argument"}, after_devices=False),
    _row(_X._benchmark_keyword, data.BENCHMARK_KEYWORDS, after_devices=False),
    _row(_X._cli_runner, data.CLI_RUNNERS, after_devices=False),
    _row(_X._sys_path_edit, data.SYS_PATH_EDITS, after_devices=False),
    _row(_X._environment, {*data.ENVIRONMENT_SETTERS, data.ENVIRONMENT_UPDATE}, after_devices=False),
    _row(_X._data_read, data.DATA_SOURCE_CALLS, data.DATA_SOURCE_PREFIXES, data.DATA_SOURCE_METHODS,
         after_devices=False),
    _row(_X._generator_seeding, methods=data.TORCH_GENERATOR_SEEDING_METHODS),
    _row(_X._random_super_init, methods={"__init__"}),
    _row(_X._seed, {*data.SEEDERS, *data.ENTROPY_SEEDERS, *data.SEEDING_CONSTRUCTORS}),
    _row(_X._determinism, {data.USE_DETERMINISTIC, data.DETERMINISTIC_DEBUG_MODE, *data.DETERMINISM_CALLS,
                           *data.DETERMINISM_KEYWORDS}),
    _row(_X._source,
         {*data.TORCH_RANDOM_FUNCTIONS, *data.TORCH_INIT_RANDOM, *data.TORCH_RANDOM_LAYERS, *data.TORCH_TRAINING_RANDOM,
          *data.TORCH_DATA_RANDOM, *data.DATALOADERS, *data.NUMPY_GLOBAL_FUNCTIONS, *data.PYRANDOM_FUNCTIONS,
          *data.TF_RANDOM_FUNCTIONS},
         (*data.MODEL_ZOO_PREFIXES, *data.TORCHVISION_TRANSFORM_PREFIXES, *data.KERAS_LAYER_PREFIXES, "sklearn."),
         data.TORCH_RANDOM_METHODS),
    _row(_X._local_generator, {*data.LOCAL_GENERATORS, *data.GENERATOR_WRAPPERS, *data.TORCH_GENERATORS, *data.JAX_KEYS}),
    _row(_X._training, {*data.TRAINING_CONSTRUCTORS, *data.OPTIMIZER_CONSTRUCTORS, *data.GRADIENT_TREE_MAPS},
         (*data.OPTIMIZER_PREFIXES, *data.FUNCTIONAL_OPTIMIZER_PREFIXES, *data.TRAINER_PREFIXES),
         {*data.STEP_METHODS, *data.FIT_METHODS, *data.IN_PLACE_UPDATES, *data.GRADIENT_UPDATE_METHODS}),
    _row(_X._cuda, (), ("torch.cuda.",), {"cuda"}),
    _row(_X._data_method, methods={m.method for m in data.DATA_METHODS}),
]
_STEPS: CallRouter[_Step] = CallRouter(_STEP_ROWS)

EXTRACTORS = [RandomnessExtractor]


def _branches(value: ast.expr) -> list[ast.expr]:
    """The values an expression can take, through conditionals: `"cuda" if ok else "cpu"`."""
    leaves, todo = [], [value]
    while todo:
        item = todo.pop()
        if isinstance(item, ast.IfExp):
            todo += [item.body, item.orelse]
        else:
            leaves.append(item)
    return leaves
