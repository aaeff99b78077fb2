"""The trace walk (analysis.trace._walk) skips links whose events a trace has already emitted by
bit masks; it must give exactly the steps of a plain depth-first walk that enters every node not
seen before, on any DAG of nodes that the tracer can build."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.analysis.trace import Node, Step, Tracer, _seal, _walk
from mlaudit.facts.randomness import RandEvent

PATHS = ("train.py", "lib/a.py", "lib/b.py")


def plain_walk(roots: list[Node], entry_path: str) -> list[Step]:
    """The definition: depth first, each node entered once, the site being the innermost line of
    the entry point's file on the way."""
    found: list[Step] = []
    seen: set[Node] = set()

    def enter(node: Node, site: int) -> None:
        seen.add(node)
        for path, line, what in node.parts:
            here = line if path == entry_path else site
            if isinstance(what, RandEvent):
                found.append(Step(what, path, here or what.line))
            elif what not in seen:
                enter(what, here)

    for root in roots:
        if root not in seen:
            enter(root, 0)
    return found


# A node: its path, then parts, each an own event (None) or a link to an earlier node (its index).
graphs = st.lists(
    st.tuples(st.sampled_from(PATHS), st.lists(st.tuples(st.integers(1, 40), st.none() | st.integers(0, 30)), max_size=6)),
    min_size=1, max_size=25,
)


def build(spec: list[tuple[str, list[tuple[int, int | None]]]]) -> list[Node]:
    """Nodes as the tracer builds them: callees finished first, links only to nodes with parts."""
    nodes: list[Node] = []
    with_events = 0
    for number, (path, parts) in enumerate(spec):
        node = Node(path)
        for line, link in parts:
            if link is None:
                node.parts.append((path, line, RandEvent("draw", f"n{number}", line, "", False)))
            elif nodes:
                Tracer._link(node, path, line, nodes[link % len(nodes)])
        with_events += _seal(node, with_events)
        nodes.append(node)
    return nodes


@settings(max_examples=300, deadline=None)
@given(graphs, st.sampled_from(PATHS), st.integers(0, 30), st.integers(0, 30))
def test_the_masked_walk_equals_the_plain_walk(spec, entry_path, first, second) -> None:  # type: ignore[no-untyped-def]
    nodes = build(spec)
    roots = [nodes[first % len(nodes)], nodes[second % len(nodes)]]
    assert _walk(roots, entry_path) == plain_walk(roots, entry_path)
    assert _walk(roots[:1], entry_path) == plain_walk(roots[:1], entry_path)
