"""Calls into the repo's own functions: which definition a call site means, and what an entry
point reaches.

A call is resolved to a repo definition (`Symbol`) when its callee is a function or class of the
repo (through imports, re-exports and star imports), a method on `self`/`cls` (looking through
repo base classes), a nested function of the caller, or a method of an object whose constructor
is known (`trainer = Trainer(cfg); trainer.fit()`). Calling a class means calling its
`__init__`. A call that names a library (`torch.randn`) is EXTERNAL. Anything else (a method on
an object of unknown type, a name bound by a `sys.path` trick) is UNRESOLVED: recorded, never
guessed.

Build once per run with `model.analysis(build_call_graph)`.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from typing import NamedTuple

from mlaudit.analysis.entrypoints import EntryPoint
from mlaudit.analysis.modules import ModuleGraph, Symbol, module_graph
from mlaudit.facts.randomness import RandomnessFacts
from mlaudit.project.model import ProjectModel

RESOLVED, EXTERNAL, UNRESOLVED = "resolved", "external", "unresolved"


class Resolution(NamedTuple):  # a tuple: one per distinct call of the repo, fast to build
    status: str
    symbol: Symbol | None = None
    reason: str = ""  # why a call is unresolved, for messages


_EXTERNAL = Resolution(EXTERNAL)


@dataclass
class CallGraph:
    graph: ModuleGraph
    # Answers by call: the tracer asks about each call twice (its events, then what it reaches).
    _resolved: dict[tuple[str, str, str | None, str, str], Resolution] = field(default_factory=dict, repr=False)
    _last_parts: dict[str, frozenset[str]] = field(default_factory=dict, repr=False)  # path -> _def_names
    _tricks: dict[str, bool] = field(default_factory=dict, repr=False)  # path -> edits sys.path

    def resolve(self, path: str, scope: str, callee: str | None, text: str, receiver: str = "") -> Resolution:
        """What a call written in `path` inside `scope` calls."""
        key = (path, scope, callee, text, receiver)
        found = self._resolved.get(key)
        if found is None:
            found = self._resolved[key] = self._resolve(path, scope, callee, text, receiver)
        return found

    def _resolve(self, path: str, scope: str, callee: str | None, text: str, receiver: str) -> Resolution:
        graph = self.graph
        if callee and not receiver and "." in text:
            # The commonest call: a library's function by its qualified name (`torch.cat`). What
            # the steps below would conclude for it, without their look-ups.
            top = callee.partition(".")[0]
            if top not in graph.segments and top != _own_top(graph, path):
                if self._local_unresolved(path, callee):
                    return Resolution(UNRESOLVED, reason=f"`{callee}` comes from an import that could not be resolved")
                return _EXTERNAL
        method = (text or callee or "").rsplit(".", 1)[-1]
        if receiver:
            owner = graph.resolve(path, receiver)
            if owner is not None and owner.kind == "class":
                return _found(graph.method(owner.path, owner.name, method)) if method else _EXTERNAL
            if owner is None and not self._local_unresolved(path, receiver):
                return _EXTERNAL
        if text and "." not in text:
            nested = self._nested(path, scope, text)
            if nested is not None:
                return self._callable(nested)
        if callee:
            found = graph.resolve(path, callee)
            if found is not None:
                return self._callable(found)
            if self._local_unresolved(path, callee):
                return Resolution(UNRESOLVED, reason=f"`{callee}` comes from an import that could not be resolved")
            if graph.module_path(path, callee.split(".")[0]) is None and callee.split(".")[0] != _own_top(graph, path):
                return _EXTERNAL
        if text.startswith(("self.", "cls.")) and text.count(".") == 1:
            cls = graph.class_of(path, scope)
            if cls is not None:
                found_method = graph.method(path, cls, method)
                if found_method is not None:
                    return Resolution(RESOLVED, found_method)
                return Resolution(UNRESOLVED, reason=f"`{text}` is not defined in the repo's class `{cls}`")
        if text and "." not in text:
            star = graph.star_lookup(path, text)
            if star is not None:
                return self._callable(star)
            if any(f.star for f in graph.facts[path].imports):
                return Resolution(UNRESOLVED, reason=f"`{text}` may come from a star import")
        return Resolution(UNRESOLVED, reason=f"`{text or callee}` could not be resolved")

    def _callable(self, found: Symbol) -> Resolution:
        if found.kind == "function":
            return Resolution(RESOLVED, found)
        if found.kind == "class":
            init = self.graph.method(found.path, found.name, "__init__")
            return Resolution(RESOLVED, init) if init is not None else _EXTERNAL
        return _EXTERNAL

    def _nested(self, path: str, scope: str, name: str) -> Symbol | None:
        if name not in self._def_names(path):
            return None  # most bare calls (`len`, `print`, an imported helper) name no def of the file
        defs = self.graph.defs.get(path, {})
        parts = scope.split(".") if scope else []
        for cut in range(len(parts), -1, -1):
            enclosing = defs.get(".".join(parts[:cut])) if cut else None
            if enclosing is not None and enclosing.kind == "class":
                continue  # a bare name inside a method never means a sibling method
            candidate = ".".join([*parts[:cut], name])
            fact = defs.get(candidate)
            if fact is not None:
                return Symbol(path, candidate, fact.kind)
        return None

    def _def_names(self, path: str) -> frozenset[str]:
        """The last part of every def name of a file (`forward` for `Net.forward`)."""
        names = self._last_parts.get(path)
        if names is None:
            names = self._last_parts[path] = frozenset(n.rpartition(".")[2] for n in self.graph.defs.get(path, {}))
        return names

    def _local_unresolved(self, path: str, qualname: str) -> bool:
        """Whether a name comes from an import that is not a repo module and the file edits
        sys.path, so it may well be a repo module we cannot see."""
        tricks = self._tricks.get(path)
        if tricks is None:
            extra = self.graph.facts[path].family(RandomnessFacts)
            tricks = self._tricks[path] = extra is not None and bool(extra.sys_path_tricks)
        if not tricks:
            return False
        top = qualname.split(".")[0]
        return any(t.split(".")[0] == top for t in self.graph.unresolved.get(path, ()))

    def reachable(self, entry: EntryPoint) -> set[tuple[str, str]]:
        """(path, function) pairs an entry point can run, by following resolved calls from its
        start ("" is a module's top level). Uses the core call facts, so any family can use it."""
        start = [(entry.path, "")] + ([(entry.path, entry.function)] if entry.function else [])
        seen: set[tuple[str, str]] = set(start)
        queue = deque(start)
        while queue:
            path, scope = queue.popleft()
            for call in self.graph.facts[path].calls:
                if call.scope != scope:
                    continue
                if entry.function and (path, scope) == (entry.path, "") and call.in_main_guard:
                    continue
                found = self.resolve(path, scope, call.callee, call.text or "")
                if found.symbol is not None:
                    key = (found.symbol.path, found.symbol.name)
                    if key not in seen:
                        seen.add(key)
                        queue.append(key)
            for target in self.graph.imports.get(path, ()):
                if scope == "" and (target, "") not in seen:
                    seen.add((target, ""))
                    queue.append((target, ""))
        return seen


def _found(symbol: Symbol | None) -> Resolution:
    return Resolution(RESOLVED, symbol) if symbol is not None else _EXTERNAL


def _own_top(graph: ModuleGraph, path: str) -> str:
    module = graph.facts[path].module
    return module.split(".")[0] if module else ""


def build_call_graph(model: ProjectModel) -> CallGraph:
    return CallGraph(module_graph(model))


def call_graph(model: ProjectModel) -> CallGraph:
    return model.analysis(build_call_graph)
