"""Where configs come from and where code reads their keys.

A *read* is the outermost expression of an attribute/subscript chain on a config object:
`cfg.model.optimizer.lr` is one read with the chain ("model", "optimizer", "lr"). Whatever the
code does with the read value (passes it to `instantiate`, splats it, prints it), the whole
subtree under the chain counts as consumed; that is what keeps unused-key detection quiet.

Config *roots* are the names a read can start from: the `cfg` of a `@hydra.main` function, a name
bound to `compose()`/`OmegaConf.load(...)`/`params_show()`, a parameter annotated as a config, an
alias into one (`m = cfg.model`), and any name that looks like a config (`args`, `hparams`).

Cost: the walk shows this listener every Name, Attribute, Subscript and Call of the repository,
and almost none of them touch a config. Each is turned away by a set lookup on the name at the
bottom of its chain (`_may_root`) before anything is resolved or unwound.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass, replace

from mlaudit.facts.config.syntax import (
    callee_tail,
    condition_atoms,
    hydra_mains,
    hydra_param,
    is_config_annotated,
    mentions_config_types,
    mentions_hydra,
    params_of,
    str_arg,
)
from mlaudit.facts.walk import PyContext
from mlaudit.knowledge.config import (
    CONFIG_STORE_SUFFIX,
    DVC_PARAMS,
    HYDRA_COMPOSE,
    HYDRA_INITIALIZE,
    MAPPING_METHODS,
    OMEGACONF_SELECT,
    OPTIONAL_GETTERS,
    STRUCTURED_CONFIG,
    YAML_LOADERS,
    is_config_name,
)

SPLAT = "**"  # `passed_to` of a read splatted into a call: every key becomes a keyword argument
Root = tuple[str, tuple[str, ...]]  # (root, chain prefix)
_NO_ROOTS: dict[str, Root] = {}
_NO_PARAMS: frozenset[str] = frozenset()
_OPEN = "builtins.open"
_GETATTR = frozenset({"builtins.getattr", "builtins.hasattr"})
_LOADERS = YAML_LOADERS | HYDRA_COMPOSE | DVC_PARAMS  # calls whose result is a whole config


def _tails(*names: str) -> frozenset[str]:
    return frozenset(name.rpartition(".")[2] for name in names)


# Last names of the callees this listener has a row for: any other call is turned away unresolved.
_ROOT_CALL_TAILS = _tails(*_LOADERS)
_METHOD_READS = OPTIONAL_GETTERS | MAPPING_METHODS
_CHAIN_KINDS = frozenset({ast.Name, ast.Attribute, ast.Subscript, ast.Call})  # what a read can be
_CALL_TAILS = _ROOT_CALL_TAILS | _tails(*HYDRA_INITIALIZE, CONFIG_STORE_SUFFIX, STRUCTURED_CONFIG,
                                        OMEGACONF_SELECT, *_GETATTR)


# name -> is_config_name(name), for every name the walk meets (a plain dict: this is asked for
# every Name node of the repository). Cleared when it grows past a bound: a hostile repository may
# hold any number of distinct names.
_CONFIG_LIKE: dict[str, bool] = {}
_CONFIG_LIKE_MAX = 200_000


def _config_like(name: str) -> bool:
    if len(_CONFIG_LIKE) >= _CONFIG_LIKE_MAX:
        _CONFIG_LIKE.clear()
    like = _CONFIG_LIKE[name] = is_config_name(name)
    return like


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
class ConfigReadFacts:
    reads: tuple[ConfigRead, ...] = ()
    writes: tuple[ConfigRead, ...] = ()
    hydra_apps: tuple[HydraApp, ...] = ()
    loaded_files: tuple[tuple[str, int], ...] = ()  # YAML paths literally loaded (as written)
    uses_config_store: bool = False  # hydra ConfigStore / OmegaConf.structured: schemas in code


class ConfigReads:
    """Collects `ConfigReadFacts` during the single walk."""

    def __init__(self) -> None:
        self.reads: list[ConfigRead] = []
        self.writes: list[ConfigRead] = []
        self.apps: list[HydraApp] = []
        self.loaded: list[tuple[str, int]] = []
        self.config_store = False
        # id of a call argument -> the call (SPLAT for `**x`), for `passed_to`; the callee is
        # resolved only for the few arguments that turn out to be reads.
        self.arguments: dict[int, ast.Call | str] = {}
        self.seen: set[int] = set()  # inner nodes of chains already recorded
        self.conditions: set[int] = set()  # ids of condition atoms
        # Per scope (function dotted name): local name -> (root, chain prefix).
        self.roots: dict[str, dict[str, Root]] = {}
        # Names bound as roots anywhere in the file (never unset: with the names that look like a
        # config, a superset of the roots, enough to turn every other name away).
        self.bound: set[str] = set()
        self.open_files: dict[str, dict[str, str]] = {}  # scope -> {file var: path literal}
        # Per scope: the function and its config parameters; its other parameter names (which
        # shadow module-level roots) are listed only when a lookup needs them.
        self.functions: dict[str, tuple[ast.FunctionDef | ast.AsyncFunctionDef, frozenset[str]]] = {}
        self.params: dict[str, set[str]] = {}
        self.gates: tuple[bool, bool] | None = None  # (config annotations, hydra) in the source

    # --- scopes and roots --------------------------------------------------------------------

    def _bind_root(self, roots: dict[str, Root], name: str, root: Root) -> None:
        """Bind a root; the name stays a candidate root for the rest of the file."""
        roots[name] = root
        self.bound.add(name)

    def _lookup(self, name: str, ctx: PyContext) -> Root | None:
        local = self.roots.get(ctx.function, _NO_ROOTS)
        if name in local:
            return local[name]
        if name in self._params(ctx.function):
            return None  # a parameter shadows module-level roots
        return self.roots.get("", _NO_ROOTS).get(name)

    def _params(self, scope: str) -> set[str] | frozenset[str]:
        known = self.params.get(scope)
        if known is None:
            function = self.functions.get(scope)
            if function is None:
                return _NO_PARAMS
            known = self.params[scope] = {a.arg for a in params_of(function[0])} - function[1]
        return known

    def visit_FunctionDef(self, node: ast.FunctionDef | ast.AsyncFunctionDef, ctx: PyContext) -> None:
        scope = f"{ctx.function}.{node.name}" if ctx.function else node.name
        self.params.pop(scope, None)
        if self.gates is None:
            self.gates = mentions_config_types(ctx), mentions_hydra(ctx)
        typed, hydra = self.gates
        configs: list[str] = []
        if typed:
            for arg in params_of(node):
                if is_config_annotated(arg):
                    self._bind_root(self.roots.setdefault(scope, {}), arg.arg, ("", ()))
                    configs.append(arg.arg)
        for decorator in hydra_mains(node, ctx) if hydra else ():
            call = decorator if isinstance(decorator, ast.Call) else None
            path = str_arg(call, 0, "config_path") if call else None
            name = str_arg(call, 1, "config_name") if call else None
            self.apps.append(HydraApp(path, name, scope, node.lineno, decorator=True))
            first = hydra_param(params_of(node))
            if first is not None:
                self._bind_root(self.roots.setdefault(scope, {}), first.arg, (f"hydra:{ctx.path}:{scope}", ()))
                configs.append(first.arg)
        self.functions[scope] = (node, frozenset(configs) if configs else _NO_PARAMS)

    visit_AsyncFunctionDef = visit_FunctionDef

    # --- conditions --------------------------------------------------------------------------

    def visit_If(self, node: ast.If | ast.While | ast.IfExp, ctx: PyContext) -> None:
        for atom in condition_atoms(node.test):
            self.conditions.add(id(atom))
            # `if DEBUG:` tests a flag (ML301's business), it does not read a config whole.
            if (type(atom) is ast.Name and type(atom.ctx) is ast.Load and ctx.resolve_name(atom.id)
                    and atom.id not in self._params(ctx.function)):
                self.seen.add(id(atom))

    visit_While = visit_IfExp = visit_If

    # --- assignments -------------------------------------------------------------------------

    def visit_Assign(self, node: ast.Assign, ctx: PyContext) -> None:
        targets = node.targets
        if len(targets) == 1 and type(targets[0]) is ast.Name:
            self._bind(targets[0].id, node.value, ctx)
            return
        for target in targets:
            self._store_target(target, ctx)

    def visit_AnnAssign(self, node: ast.AnnAssign, ctx: PyContext) -> None:
        if node.value is not None and type(node.target) is ast.Name:
            self._bind(node.target.id, node.value, ctx)

    def visit_AugAssign(self, node: ast.AugAssign, ctx: PyContext) -> None:
        self._store_target(node.target, ctx)

    def visit_withitem(self, node: ast.withitem, ctx: PyContext) -> None:
        call = node.context_expr
        if (type(call) is ast.Call and callee_tail(call.func, ctx) == "open"
                and ctx.qualname(call.func) == _OPEN and isinstance(node.optional_vars, ast.Name)):
            path = str_arg(call, 0, "file")
            if path:
                self.open_files.setdefault(ctx.function, {})[node.optional_vars.id] = path

    def _store_target(self, target: ast.AST, ctx: PyContext) -> None:
        """`cfg.model.lr = 0.1` writes a key."""
        if isinstance(target, (ast.Tuple, ast.List)):
            for element in target.elts:
                self._store_target(element, ctx)
        elif isinstance(target, (ast.Attribute, ast.Subscript)) and self._may_root(target, ctx):
            read = self._chain_read(target, ctx)
            if read is not None:
                self.writes.append(read)

    def _bind(self, name: str, value: ast.AST, ctx: PyContext) -> None:
        """Track what a simple assignment binds: a config root, an alias into a config."""
        roots = self.roots.get(ctx.function)
        if roots is not None:
            roots.pop(name, None)
        kind = type(value)
        if kind not in _CHAIN_KINDS:
            return  # a literal, an operation: nothing a config read starts from
        if kind is ast.Call:
            root = self._root_of_call(value, ctx)
            if root is not None:
                self._bind_root(self.roots.setdefault(ctx.function, {}), name, (root, ()))
                self.seen.add(id(value))  # bound to a name: reads go through the name
                return
            if not _is_getter(value):  # type: ignore[arg-type]
                return  # a call is a read only as a root (just asked) or through `.get(...)`
        if not self._may_root(value, ctx):
            return
        read = self._chain_read(value, ctx, alias=True)
        if read is not None and not read.dynamic:
            self._bind_root(self.roots.setdefault(ctx.function, {}), name, (read.root, read.chain))

    def _root_of_call(self, value: ast.AST, ctx: PyContext) -> str | None:
        if type(value) is not ast.Call:
            return None
        func = value.func
        tail = func.attr if type(func) is ast.Attribute else callee_tail(func, ctx)
        if tail not in _ROOT_CALL_TAILS:
            return None
        assert isinstance(value, ast.Call)
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
        if isinstance(node, ast.Call) and ctx.qualname(node.func) == _OPEN and node.args:
            return self._path_of(node.args[0], ctx)
        if isinstance(node, ast.Name):
            return self.open_files.get(ctx.function, {}).get(node.id)
        return None

    # --- reads -------------------------------------------------------------------------------

    def visit_Name(self, node: ast.Name, ctx: PyContext) -> None:
        """A bare config name used as a value (`instantiate(cfg)`, `print(cfg)`): all of it is read."""
        name = node.id
        like = _CONFIG_LIKE.get(name)
        if like is None:
            like = _config_like(name)
        if not like and name not in self.bound:
            return  # the common case, decided on the name alone
        if id(node) in self.seen or type(node.ctx) is not ast.Load:
            return
        if self._root_name(name, ctx) is not None:
            read = self._chain_read(node, ctx)
            if read is not None:
                self.reads.append(read)

    def visit_Attribute(self, node: ast.Attribute | ast.Subscript, ctx: PyContext) -> None:
        if type(node.ctx) is not ast.Load or id(node) in self.seen:
            return
        base = node.value
        if type(base) is ast.Name:  # `x.attr`, `x[key]`: the most common chain, decided inline
            name = base.id
            like = _CONFIG_LIKE.get(name)
            if like is None:
                like = _config_like(name)
            if not like and name not in self.bound and (
                    name != "self" or (type(node) is ast.Attribute and not self._could_hold(node.attr))):
                return  # `self.attr` names a config only when the attribute looks like one
        elif not self._may_root(node, ctx):
            return
        read = self._chain_read(node, ctx)
        if read is not None:
            self.reads.append(read)

    visit_Subscript = visit_Attribute

    def _could_hold(self, name: str) -> bool:
        """Can this name hold a config here? It looks like one, or the file bound it as a root."""
        like = _CONFIG_LIKE.get(name)
        if like is None:
            like = _config_like(name)
        return like or name in self.bound

    def _may_root(self, node: ast.AST, ctx: PyContext) -> bool:
        """Can the chain ending at `node` start at a config root? A cheap "no" for almost every
        chain (`self.model.weight`, `torch.nn.functional`): it only finds the bottom of the chain
        and looks the name up; `_receiver` decides for the few that pass."""
        above: ast.AST | None = None
        while True:
            kind = type(node)
            if kind is ast.Attribute or kind is ast.Subscript:
                above, node = node, node.value  # type: ignore[attr-defined]
            elif kind is ast.Call and _is_getter(node):  # type: ignore[arg-type]
                above, node = node, node.func.value  # type: ignore[attr-defined]
            else:
                break
        if kind is ast.Name:
            name = node.id  # type: ignore[attr-defined]
            if self._could_hold(name):
                return True
            # `self.hparams.lr`: the attribute right on self names the config.
            return name == "self" and above is not None and (
                type(above) is not ast.Attribute or self._could_hold(above.attr))
        return isinstance(node, ast.Call) and callee_tail(node.func, ctx) in _ROOT_CALL_TAILS

    def _chain_read(self, node: ast.AST, ctx: PyContext, alias: bool = False) -> ConfigRead | None:
        """Unwind `cfg.a["b"].get("c")` into a read of ("a", "b", "c") on a config root, or None.
        Callers turn most chains away first with `_may_root`."""
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
            elif isinstance(node, ast.Call) and _is_getter(node):
                assert isinstance(node.func, ast.Attribute)
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
            passed_to=self._passed_to(outer, ctx),
            scope=ctx.function,
        )

    def _receiver(self, base: ast.AST, segments: list[str], ctx: PyContext) -> tuple[str, tuple[str, ...], int] | None:
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

    def _root_name(self, name: str, ctx: PyContext) -> Root | None:
        """(root, chain prefix) when a bare name holds a config, else None."""
        known = self._lookup(name, ctx)
        if known is not None:
            return known
        if is_config_name(name) and name not in ctx.imports:
            return ("", ())
        return None

    def _passed_to(self, node: ast.AST, ctx: PyContext) -> str | None:
        call = self.arguments.get(id(node))
        if call is None or isinstance(call, str):
            return call
        return ctx.qualname(call.func) or ctx.dotted(call.func) or "?"

    # --- calls -------------------------------------------------------------------------------

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        arguments = self.arguments
        for arg in node.args:
            if type(arg) in _CHAIN_KINDS:  # a constant, `*xs`, `a + b` is never a read
                arguments[id(arg)] = node
        for keyword in node.keywords:
            if type(keyword.value) in _CHAIN_KINDS:
                arguments[id(keyword.value)] = node if keyword.arg is not None else SPLAT
        func = node.func
        if type(func) is ast.Attribute:
            attr = func.attr
            if attr in _CALL_TAILS:
                self._known_call(node, ctx)
            if attr in _METHOD_READS:
                self._method_call(node, func, ctx)
        elif type(func) is ast.Name:
            target = ctx.imports.get(func.id)  # the name's last part, through its import
            if (target.rpartition(".")[2] if target is not None else func.id) in _CALL_TAILS:
                self._known_call(node, ctx)

    def _known_call(self, node: ast.Call, ctx: PyContext) -> None:
        callee = ctx.qualname(node.func)
        if callee in HYDRA_INITIALIZE:
            module = callee == "hydra.initialize_config_module"
            path = str_arg(node, 0, "config_module" if module else "config_path")
            self.apps.append(HydraApp(path, None, ctx.function, node.lineno, module))
        elif callee in HYDRA_COMPOSE:
            self.apps.append(HydraApp(None, str_arg(node, 0, "config_name"), ctx.function, node.lineno))
        elif callee and (callee.endswith(CONFIG_STORE_SUFFIX) or callee == STRUCTURED_CONFIG):
            self.config_store = True
        elif callee == OMEGACONF_SELECT and len(node.args) >= 2:
            self._keyed_read(node, ctx, optional=True, split=True)
        elif callee in _GETATTR and len(node.args) >= 2:
            self._keyed_read(node, ctx, optional=callee == "builtins.hasattr" or len(node.args) > 2)
        if callee in _LOADERS and id(node) not in self.seen:
            read = self._chain_read(node, ctx)  # a loaded config used whole: `build(yaml.safe_load(f))`
            if read is not None:
                self.reads.append(read)

    def _method_call(self, node: ast.Call, func: ast.Attribute, ctx: PyContext) -> None:
        """`cfg.get("a")` is a keyed read; `cfg.model.items()` reads model as a whole. Any other
        method call (`self.hparams.optimizer(...)`, a partial from instantiate) reads its callee,
        which `visit_Attribute` records next: the callee is the first child of the call."""
        if func.attr in OPTIONAL_GETTERS and node.args:
            read = self._chain_read(node, ctx) if self._may_root(node, ctx) else None
            if read is not None:
                self.reads.append(read)
            return
        if func.attr not in MAPPING_METHODS or id(func) in self.seen or not self._may_root(func.value, ctx):
            return
        read = self._chain_read(func.value, ctx)
        if read is not None:
            self.seen.add(id(func))
            self.reads.append(read)

    def _keyed_read(self, node: ast.Call, ctx: PyContext, optional: bool, split: bool = False) -> None:
        """`OmegaConf.select(cfg, "a.b")` (split at dots), `getattr(cfg, "a", None)`."""
        key = node.args[1]
        read = self._chain_read(node.args[0], ctx)
        if read is None:
            return
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            keys = tuple(k for k in key.value.split(".") if k) if split else (key.value,)
            self.reads.append(replace(read, chain=read.chain + keys, optional=optional))
        else:
            self.reads.append(replace(read, dynamic=True))

    # --- result ------------------------------------------------------------------------------

    def facts(self, ctx: PyContext) -> ConfigReadFacts:
        return ConfigReadFacts(
            reads=tuple(self.reads),
            writes=tuple(self.writes),
            hydra_apps=tuple(self.apps),
            loaded_files=tuple(self.loaded),
            uses_config_store=self.config_store,
        )


def _is_getter(node: ast.Call) -> bool:
    """`x.get("key")`, `x.pop("key", None)`: a keyed read that may miss."""
    func = node.func
    return type(func) is ast.Attribute and func.attr in OPTIONAL_GETTERS and bool(node.args)
