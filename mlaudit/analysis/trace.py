"""What an entry point runs, in order: its randomness events with calls into the repo inlined.

Starting from an entry point, the events of each function are taken in statement order; a call
that resolves to a repo function is replaced by that function's events (so a helper that seeds
counts as a seed at its call site, and a random draw inside a function called before the seed
counts as before it); an import of a repo module runs that module's top level once. Recursion is
cut, and traces are bounded so that a huge repo cannot blow up.

Unresolved calls whose name suggests seeding or determinism (`set_random_seed`, `make_deterministic`)
are kept as UNRESOLVED steps, so rules can lower their certainty instead of guessing.

Build all traces once per run with `model.analysis("randomness-traces", build_traces)`.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from mlaudit.analysis.callgraph import RESOLVED, UNRESOLVED, CallGraph, call_graph
from mlaudit.analysis.entrypoints import EntryPoint, entry_points
from mlaudit.facts.randomness import CALL, IMPORT, SEED, RandEvent, RandomnessFacts

if TYPE_CHECKING:
    from mlaudit.project.model import ProjectModel

UNRESOLVED_STEP = "unresolved"
HELPER_SEED = "helper-seed"  # a call of a repo function that seeds (for ML107 and messages)
MAX_STEPS = 5000
# Calls followed into at most this many nested functions or imports. `flatten` recurses (three
# frames a level), so a hostile chain of 490 calls would exhaust Python's stack; past this depth the
# trace stops following calls, as it does for recursion. Real projects nest a few dozen at most.
MAX_CALL_DEPTH = 150
_SEEDISH = re.compile(r"seed|determinis|reproducib", re.IGNORECASE)
# Names of helpers worth suggesting in messages (a `main` that seeds is not a helper).
SEED_HELPER_NAME = re.compile(r"seed|reproducib|determinis|rng", re.IGNORECASE)


@dataclass(frozen=True)
class Step:
    event: RandEvent
    path: str  # the file the event is written in
    site: int  # the last line of the entry point's own file on the way to the event


# The call sites that led to a flattened event from the function being flattened, outermost
# first, as a linked list of (path, line, rest). Inlining a callee's events then adds one site
# to each in O(1), where copying a tuple of sites cost time in the depth of the call tree.
Sites = tuple[str, int, "Sites"] | None
# A flattened event: where it is written, the event, and the call sites that led to it.
Item = tuple[str, RandEvent, Sites]


@dataclass
class Trace:
    entry: EntryPoint
    steps: list[Step]
    reached: set[tuple[str, str]]  # (path, function) run by the entry point; "" is a top level


@dataclass
class Tracer:
    model: ProjectModel
    calls: CallGraph
    memo: dict[tuple[str, str, bool], list[Item]] = field(default_factory=dict)
    reached_by: dict[tuple[str, str, bool], set[tuple[str, str]]] = field(default_factory=dict)
    active: set[tuple[str, str, bool]] = field(default_factory=set)
    by_scope: dict[str, dict[str, list[RandEvent]]] = field(default_factory=dict)  # path -> scope -> events

    def events(self, path: str) -> tuple[RandEvent, ...]:
        facts = self.calls.graph.facts.get(path)
        extra = facts.extra.get("randomness") if facts is not None else None
        return extra.events if isinstance(extra, RandomnessFacts) else ()

    def trace(self, entry: EntryPoint) -> Trace:
        steps: list[Step] = []
        reached: set[tuple[str, str]] = set()
        frames = [(entry.path, "", entry.function is None)]
        if entry.function:
            frames.append((entry.path, entry.function, False))
        for path, scope, guard in frames:
            self.flatten(path, scope, guard)
            reached |= self.reached_by.get((path, scope, guard), set())
            for inner_path, event, sites in self.flatten(path, scope, guard):
                steps.append(Step(event, inner_path, _last_site_in(entry.path, sites, event.line)))
        return Trace(entry, steps[:MAX_STEPS], reached)

    def flatten(self, path: str, scope: str, guard: bool = False) -> list[Item]:
        """Events a function (or a module's top level) runs, calls inlined."""
        key = (path, scope, guard)
        if key in self.memo:
            return self.memo[key]
        if key in self.active:
            return []  # recursion: the outer activation already accounts for these events
        if len(self.active) >= MAX_CALL_DEPTH:
            return []  # too deep to follow (see MAX_CALL_DEPTH)
        self.active.add(key)
        result: list[Item] = []
        reached: set[tuple[str, str]] = {(path, scope)}
        for event in self._own(path, scope, guard):
            result.extend(self._expand(path, event))
            reached |= self._reached(path, event)
            if len(result) > MAX_STEPS:
                break
        self.active.discard(key)
        self.memo[key] = result[:MAX_STEPS]
        self.reached_by[key] = reached
        return self.memo[key]

    def seeds(self, path: str, scope: str) -> bool:
        return any(e.kind == SEED for _, e, _ in self.flatten(path, scope))

    def _own(self, path: str, scope: str, guard: bool) -> list[RandEvent]:
        if path not in self.by_scope:
            index: dict[str, list[RandEvent]] = {}
            for event in self.events(path):
                index.setdefault(event.scope, []).append(event)
            self.by_scope[path] = index
        own = self.by_scope[path].get(scope, [])
        # The main guard's body runs only when the module is the program, not when it is
        # imported; functions defined inside the guard are filtered by being called or not.
        return own if guard or scope else [e for e in own if not e.main_guard]

    def _expand(self, path: str, event: RandEvent) -> list[Item]:
        here: Sites = (path, event.line, None)
        if event.kind == IMPORT:
            target = self._import_target(path, event)
            return [(p, e, (path, event.line, c)) for p, e, c in self.flatten(target, "")] if target is not None else []
        if event.kind != CALL:
            return [(path, event, here)]
        found = self.calls.resolve(path, event.scope, event.name or None, event.text, event.receiver)
        if found.status == RESOLVED and found.symbol is not None:
            inner: list[Item] = [(p, e, (path, event.line, c)) for p, e, c in self.flatten(found.symbol.path, found.symbol.name)]
            if any(e.kind == SEED for _, e, _ in inner):
                marker = RandEvent(HELPER_SEED, _label(found.symbol.path, found.symbol.name), event.line,
                                   event.scope, event.main_guard, note=event.note, text=event.text)
                return [(path, marker, here), *inner]
            return inner
        if found.status == UNRESOLVED and _SEEDISH.search(event.text or event.name):
            marker = RandEvent(UNRESOLVED_STEP, event.text or event.name, event.line, event.scope,
                               event.main_guard, note=found.reason)
            return [(path, marker, here)]
        return []

    def _reached(self, path: str, event: RandEvent) -> set[tuple[str, str]]:
        """Functions and modules an event leads into (computed after `_expand` memoised them)."""
        if event.kind == IMPORT:
            target = self._import_target(path, event)
            return self.reached_by.get((target, "", False), set()) if target is not None else set()
        if event.kind != CALL:
            return set()
        found = self.calls.resolve(path, event.scope, event.name or None, event.text, event.receiver)
        if found.symbol is None:
            return set()
        return self.reached_by.get((found.symbol.path, found.symbol.name, False), {(found.symbol.path, found.symbol.name)})

    def _import_target(self, path: str, event: RandEvent) -> str | None:
        graph = self.calls.graph
        target = graph.module_path(path, event.name)
        if target is None and event.note:
            target = graph.module_path(path, event.note)
        return target if target != path else None


def _last_site_in(path: str, sites: Sites, default: int) -> int:
    """The innermost call site written in `path` on the way to an event, else `default`."""
    found = default
    while sites is not None:
        site_path, line, sites = sites
        if site_path == path:
            found = line
    return found


def _label(path: str, name: str) -> str:
    module = path.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{module}.{name}" if module != "__init__" else name


@dataclass
class Traces:
    tracer: Tracer
    traces: list[Trace]

    def seeding_helpers(self) -> list[tuple[str, str, int]]:
        """(path, function, line) of repo functions named like seeding helpers that seed, directly
        or through calls."""
        helpers = []
        for path, defs in self.tracer.calls.graph.defs.items():
            for name, fact in defs.items():
                if fact.kind == "function" and _helper_name(name) and self.tracer.seeds(path, name):
                    helpers.append((path, name, fact.line))
        return sorted(helpers)


@functools.lru_cache(maxsize=8192)  # def names repeat across a repo (`forward`, `setup`, `__init__`)
def _helper_name(name: str) -> bool:
    return SEED_HELPER_NAME.search(name) is not None


def build_traces(model: ProjectModel) -> Traces:
    tracer = Tracer(model, call_graph(model))
    return Traces(tracer, [tracer.trace(entry) for entry in entry_points(model)])


def traces(model: ProjectModel) -> Traces:
    return model.analysis("randomness-traces", build_traces)
