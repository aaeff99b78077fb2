"""What an entry point runs, in order: its randomness events with calls into the repo followed.

Each function (and each module's top level) is summarised once, as a `Node`: its own events in
statement order, with every call that resolves to a repo function kept as a link to the callee's
node (an import of a repo module links to that module's top level), plus whether anything it runs
seeds and which functions it reaches. Building all nodes costs O(events + call edges); nothing is
copied from callee to caller.

A trace walks an entry point's node depth first, following links, so a helper that seeds counts as
a seed at its call site and a draw inside a function called before the seed counts as before it.
A function already walked in the same trace is not walked again: everything it runs has already
appeared earlier in the trace, so every "first draw", "first seed", "first use of a family" and
every set of kinds the rules ask about is the same as with the function repeated, and a trace is
at most as long as the events it can reach (no step cap, nothing silently dropped). Recursion is
cut where it closes the cycle: the outer activation already accounts for those events.

The walk costs what it emits, not what it passes. Links only ever point at finished nodes, so the
nodes form a DAG; each node carries the set of nodes with events of their own that it reaches
(`mask`, a bit set). Whatever a trace has walked is closed under reachability, so a link whose
mask the trace has already covered can only lead to nodes walked before: it is skipped in one
step, and the nodes a trace enters are those on the way to events it has not emitted yet. (On
diffusers, 267 traces over 4,344 nodes: 960,000 part visits before, most of them links to nodes
already walked.)

Unresolved calls whose name suggests seeding or determinism (`set_random_seed`, `make_deterministic`)
are kept as UNRESOLVED steps, so rules can lower their certainty instead of guessing.

Build all traces once per run with `model.analysis(build_traces)`.
"""

from __future__ import annotations

import functools
import itertools
import operator
import re
from collections.abc import Generator, Iterator
from dataclasses import dataclass, field

from mlaudit.analysis.callgraph import RESOLVED, UNRESOLVED, CallGraph, call_graph
from mlaudit.analysis.entrypoints import EntryPoint, entry_points
from mlaudit.facts.randomness import CALL, IMPORT, SEED, TRAIN, RandEvent, RandomnessFacts
from mlaudit.files.kinds import TEST
from mlaudit.project.model import ProjectModel

UNRESOLVED_STEP = "unresolved"
HELPER_SEED = "helper-seed"  # a call of a repo function that seeds (for ML107 and messages)
_SCOPE = operator.attrgetter("scope")
_SEEDISH = re.compile(r"seed|determinis|reproducib", re.IGNORECASE)
# Names of helpers worth suggesting in messages (a `main` that seeds is not a helper).
SEED_HELPER_NAME = re.compile(r"seed|reproducib|determinis|rng", re.IGNORECASE)
_HELPER_WORDS = ("seed", "reproducib", "determinis", "rng")  # the same words, for ASCII text made lower case


@dataclass(frozen=True)
class Step:
    event: RandEvent
    path: str  # the file the event is written in
    site: int  # the last line of the entry point's own file on the way to the event


Key = tuple[str, str, bool]  # (path, function or "" for the top level, main guard body included)


@dataclass(eq=False)
class Node:
    """One function's (or top level's) summary: what it runs, in order, with calls as links."""

    path: str  # the file it is written in
    # (path, line, what): an event written at path:line, or a call (or import) at path:line
    # that runs the linked node. Links to nodes that run no event at all are left out.
    parts: list[tuple[str, int, RandEvent | Node]] = field(default_factory=list)
    # What it reaches: the nodes it links to (each once), and (path, function) pairs: its own,
    # and those of calls not followed.
    callees: set[Node] = field(default_factory=set)
    pairs: set[tuple[str, str]] = field(default_factory=set)
    seeds: bool = False  # a SEED event runs in it or in anything it links to
    bit: int = 0  # its own bit when it has events of its own, else 0
    mask: int = 0  # the bits of every node it runs (itself included) that has events of its own

    __hash__ = object.__hash__  # identity: one node per function


@dataclass
class Trace:
    entry: EntryPoint
    steps: list[Step]
    roots: list[Node] = field(repr=False)

    @functools.cached_property
    def reached(self) -> set[tuple[str, str]]:
        """(path, function) pairs run by the entry point; "" is a top level. Worked out on first
        use: only a finding that suggests a seeding helper asks."""
        return _reached(self.roots)

    @property
    def training(self) -> Step | None:
        """The first sign that this program trains (an optimizer built or stepped, a trainer, an
        estimator's fit), or None for a program that does not train (evaluation, export, a demo)."""
        return next((s for s in self.steps if s.event.kind == TRAIN), None)


# A node being built waits for a callee's node: it yields the callee's key and is sent the node
# (None while that callee is itself being built: recursion).
Build = Generator[Key, "Node | None", Node]


@dataclass
class Tracer:
    model: ProjectModel
    calls: CallGraph
    memo: dict[Key, Node] = field(default_factory=dict)
    active: set[Key] = field(default_factory=set)
    with_events: int = 0  # nodes with events of their own so far: the next one's bit
    by_scope: dict[str, dict[str, list[RandEvent]]] = field(default_factory=dict)  # path -> scope -> events

    def events(self, path: str) -> tuple[RandEvent, ...]:
        facts = self.calls.graph.facts.get(path)
        extra = facts.family(RandomnessFacts) if facts is not None else None
        return extra.events if extra is not None else ()

    def trace(self, entry: EntryPoint) -> Trace:
        frames = [(entry.path, "", entry.function is None)]
        if entry.function:
            frames.append((entry.path, entry.function, False))
        roots = [node for node in (self.node(*frame) for frame in frames) if node is not None]
        return Trace(entry, _walk(roots, entry.path), roots)

    def seeds(self, path: str, scope: str) -> bool:
        node = self.node(path, scope)
        return node is not None and node.seeds

    def node(self, path: str, scope: str, guard: bool = False) -> Node | None:
        """The summary of a function (or a module's top level), built on first use.

        Builds run on an explicit stack, not Python's, so a deep call chain cannot overflow it.
        """
        key = (path, scope, guard)
        if key in self.memo:
            return self.memo[key]
        stack = [self._build(key)]
        sent: Node | None = None
        while True:
            try:
                want = stack[-1].send(sent)
            except StopIteration as done:
                stack.pop()
                sent = done.value
                if not stack:
                    return sent
                continue
            sent = self.memo.get(want)
            if sent is None and want not in self.active:
                stack.append(self._build(want))

    def _build(self, key: Key) -> Build:
        # One generator per node, none per call: a callee already built (or being built: recursion)
        # is taken from the memo without a round trip through `node`'s stack.
        path, scope, guard = key
        memo, active = self.memo, self.active
        active.add(key)
        node = Node(path, pairs={(path, scope)})
        head, slash, _ = path.rpartition("/")
        folder = head if slash else "."
        resolve = self.calls.resolve
        for event in self._own(path, scope, guard):
            kind = event.kind
            if kind == CALL:
                found = resolve(path, scope, event.name or None, event.text, event.receiver)
                symbol = found.symbol
                if symbol is None:  # a library, or not known: no link
                    if found.status == UNRESOLVED and _SEEDISH.search(event.text or event.name):
                        marker = RandEvent(UNRESOLVED_STEP, event.text or event.name, event.line, event.scope,
                                           event.main_guard, note=found.reason)
                        node.parts.append((path, event.line, marker))
                    continue
                callee: Node | None = None
                want = (symbol.path, symbol.name, False)
                if found.status == RESOLVED:
                    callee = memo.get(want)
                    if callee is None and want not in active:
                        callee = yield want
                    if callee is not None and callee.seeds:
                        marker = RandEvent(HELPER_SEED, _label(symbol.path, symbol.name), event.line,
                                           event.scope, event.main_guard, note=event.note, text=event.text)
                        node.parts.append((path, event.line, marker))
                    self._link(node, path, event.line, callee)
                elif found.status == UNRESOLVED and _SEEDISH.search(event.text or event.name):
                    marker = RandEvent(UNRESOLVED_STEP, event.text or event.name, event.line, event.scope,
                                       event.main_guard, note=found.reason)
                    node.parts.append((path, event.line, marker))
                if found.status != RESOLVED or callee is None:
                    # Not followed (ambiguous, or recursion): it counts as reached, with what it
                    # reaches when its summary is already built.
                    built = memo.get(want)
                    if built is not None:
                        node.callees.add(built)
                    else:
                        node.pairs.add((symbol.path, symbol.name))
            elif kind == IMPORT:
                target = self._import_target(path, folder, event)
                if target is not None:
                    want = (target, "", False)
                    callee = memo.get(want)
                    if callee is None and want not in active:
                        callee = yield want
                    self._link(node, path, event.line, callee)
            else:
                node.parts.append((path, event.line, event))
                node.seeds = node.seeds or event.kind == SEED
        active.discard(key)
        memo[key] = node
        self.with_events += _seal(node, self.with_events)
        return node

    @staticmethod
    def _link(node: Node, path: str, line: int, callee: Node | None) -> None:
        if callee is None:
            return  # recursion: the outer activation already accounts for its events
        if callee.parts:
            node.parts.append((path, line, callee))
            node.mask |= callee.mask
        node.callees.add(callee)
        node.seeds = node.seeds or callee.seeds

    def _own(self, path: str, scope: str, guard: bool) -> list[RandEvent]:
        index = self.by_scope.get(path)
        if index is None:
            # Grouped by a stable sort: each scope's events stay in statement order.
            index = self.by_scope[path] = {
                name: list(events) for name, events in itertools.groupby(sorted(self.events(path), key=_SCOPE), key=_SCOPE)
            }
        own = index.get(scope, [])
        # The main guard's body runs only when the module is the program, not when it is
        # imported; functions defined inside the guard are filtered by being called or not.
        return own if guard or scope else [e for e in own if not e.main_guard]

    def _import_target(self, path: str, folder: str, event: RandEvent) -> str | None:
        graph = self.calls.graph
        target = graph.module_in(folder, event.name)
        if target is None and event.note:
            target = graph.module_in(folder, event.note)
        return target if target != path else None


def _seal(node: Node, with_events: int) -> int:
    """Give a finished node its bit when it has events of its own (the `with_events`-th such
    node); 1 when it took one, else 0."""
    if not any(isinstance(what, RandEvent) for _, _, what in node.parts):
        return 0
    node.bit = 1 << with_events
    node.mask |= node.bit
    return 1


def _walk(roots: list[Node], entry_path: str) -> list[Step]:
    """The steps an entry point runs, each node walked once (see the module docstring).

    A step's site is the innermost line of the entry point's file on the way to it (the event's
    own line when it is written there), else the event's line. `left` holds the bits of the
    nodes with events not walked yet; a node whose mask has none of them has nothing left to give.
    """
    found: list[Step] = []
    # The bits not walked yet, rather than those walked: one operation per link instead of two.
    # A node's own bit is never among those walked when its mask is not (whatever it reaches
    # was walked with it), so `^=` takes it out.
    left = 0
    for root in roots:
        left |= root.mask
    for root in roots:
        if not root.mask & left:
            continue
        left ^= root.bit
        # Each frame resumes its parts where the callee it entered interrupted them.
        stack: list[tuple[Iterator[tuple[str, int, RandEvent | Node]], int]] = [(iter(root.parts), 0)]
        while stack:
            parts, site = stack[-1]
            for path, line, what in parts:
                here = line if path == entry_path else site
                if isinstance(what, RandEvent):
                    found.append(Step(what, path, here or what.line))
                elif what.mask & left:
                    left ^= what.bit
                    stack.append((iter(what.parts), here))
                    break
            else:
                stack.pop()
    return found


def _reached(roots: list[Node]) -> set[tuple[str, str]]:
    reached: set[tuple[str, str]] = set()
    seen = set(roots)
    todo = list(roots)
    while todo:
        node = todo.pop()
        reached |= node.pairs
        for callee in node.callees - seen:
            seen.add(callee)
            todo.append(callee)
    return reached


def _label(path: str, name: str) -> str:
    module = path.rsplit("/", 1)[-1].removesuffix(".py")
    return f"{module}.{name}" if module != "__init__" else name


@dataclass
class Traces:
    tracer: Tracer
    traces: list[Trace]

    def import_lines(self, path: str) -> frozenset[int]:
        """Lines of `path` that import a module: what a step reached from one of them runs at import
        time, in the imported module's top level, not because the program called it."""
        events = self.tracer.by_scope.get(path, {})
        return frozenset(e.line for scope in events.values() for e in scope if e.kind == IMPORT)

    def seeding_helpers(self) -> list[tuple[str, str, int]]:
        """(path, function, line) of repo functions named like seeding helpers that seed, directly
        or through calls."""
        helpers = []
        for path, defs in self.tracer.calls.graph.defs.items():
            if _is_test(self.tracer.model, path):
                continue  # a test that checks seeding is no helper to call from a program
            names = "\n".join(defs)
            if names.isascii() and not any(word in names.lower() for word in _HELPER_WORDS):
                continue  # no def of the file is named like a helper: one look per file, not per def
            for name, fact in defs.items():
                if fact.kind == "function" and _helper_name(name) and self.tracer.seeds(path, name):
                    helpers.append((path, name, fact.line))
        return sorted(helpers)


@functools.lru_cache(maxsize=8192)  # def names repeat across a repo (`forward`, `setup`, `__init__`)
def _helper_name(name: str) -> bool:
    return SEED_HELPER_NAME.search(name) is not None


def build_traces(model: ProjectModel) -> Traces:
    tracer = Tracer(model, call_graph(model))
    # A test's main guard or test-runner script is not a program whose results anyone keeps: the
    # randomness rules judge programs, so entry points in test files are not traced.
    programs = [entry for entry in entry_points(model) if not _is_test(model, entry.path)]
    return Traces(tracer, [tracer.trace(entry) for entry in programs])


def _is_test(model: ProjectModel, path: str) -> bool:
    file = model.files.get(path)
    return file is not None and file.has_role(TEST)


def traces(model: ProjectModel) -> Traces:
    return model.analysis(build_traces)
