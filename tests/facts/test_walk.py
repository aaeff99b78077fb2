"""The single walk: listeners share it, a broken listener is dropped without stopping the others,
and names resolve per node even when a module rebinds an import half-way."""

from __future__ import annotations

import ast
import gc
import re
import weakref

from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.facts.walk import Callees, CallRouter, PyContext, module_level_names, source_lines, walk


def _walk(source: str, listeners: list[object]) -> PyContext:
    tree = ast.parse(source)
    ctx = PyContext("m.py", "m", False, source, module_defs=module_level_names(tree))
    walk(tree, ctx, listeners)
    return ctx


class _Names:
    def __init__(self) -> None:
        self.seen: list[tuple[str, str | None]] = []

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        self.seen.append((ctx.dotted(node.func) or "", ctx.qualname(node.func)))


class _BreaksOnSecondCall:
    calls = 0

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        self.calls += 1
        if self.calls == 2:
            raise ValueError("boom")


def test_a_listener_that_raises_is_dropped_and_the_others_go_on() -> None:
    broken, names = _BreaksOnSecondCall(), _Names()
    ctx = _walk("f()\ng()\nh()\n", [broken, names])
    assert broken.calls == 2  # not called again after raising
    assert [text for text, _ in names.seen] == ["f", "g", "h"]  # the listener after it still ran on g()
    assert len(ctx.errors) == 1 and "_BreaksOnSecondCall" in ctx.errors[0] and "m.py:2" in ctx.errors[0]


def test_names_resolve_per_node_across_a_rebound_import() -> None:
    names = _Names()
    _walk("import numpy as np\nnp.random.seed(0)\nimport torch as np\nnp.random.seed(0)\n", [names])
    assert names.seen == [("np.random.seed", "numpy.random.seed"), ("np.random.seed", "torch.random.seed")]


def test_the_enclosing_function_follows_the_walk() -> None:
    seen: list[str] = []

    class Scopes:
        def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
            seen.append(ctx.function)

    _walk("a()\nclass C:\n    def m(self):\n        b()\n    c()\nd()\n", [Scopes()])
    assert seen == ["", "C.m", "C", ""]


class _Routed:
    """Takes routed calls: torch.load by name, anything under `os.path.` by prefix, `.step()`."""

    routed_calls = Callees(frozenset({"torch.load"}), ("os.path.",), frozenset({"step"}))

    def __init__(self) -> None:
        self.seen: list[str] = []

    def visit_routed_call(self, node: ast.Call, ctx: PyContext) -> None:
        self.seen.append(ctx.dotted(node.func) or "")


def test_routed_calls_reach_only_the_listeners_whose_callees_name_them() -> None:
    source = (
        "import torch, os\nfrom torch import load as L\ntorch.load(f)\nL(f)\ntorch.save(x, f)\n"
        "os.path.join(a, b)\nos.getcwd()\nopt.step()\nopt.zero_grad()\nload(f)\n"
    )
    routed, names = _Routed(), _Names()
    _walk(source, [routed, names])
    assert routed.seen == ["torch.load", "L", "os.path.join", "opt.step"]  # by name, alias, prefix, method
    assert len(names.seen) == 8  # a plain visit_Call still sees every call


class _RoutedBreaks(_Routed):
    def visit_routed_call(self, node: ast.Call, ctx: PyContext) -> None:
        super().visit_routed_call(node, ctx)
        raise ValueError("boom")


def test_a_routed_listener_that_raises_is_dropped_and_the_others_go_on() -> None:
    broken, other = _RoutedBreaks(), _Routed()
    ctx = _walk("import torch\ntorch.load(a)\ntorch.load(b)\n", [broken, other])
    assert broken.seen == ["torch.load"] and other.seen == ["torch.load", "torch.load"]
    assert len(ctx.errors) == 1 and "_RoutedBreaks" in ctx.errors[0] and "m.py:2" in ctx.errors[0]


def test_a_router_gives_the_handlers_of_every_matching_row_in_row_order() -> None:
    router = CallRouter([
        ("by-method", Callees(methods=frozenset({"fit"}))),
        ("by-prefix", Callees(prefixes=("sklearn.",))),
        ("by-name", Callees(frozenset({"sklearn.svm.SVC.fit"}))),
    ])
    assert router.route("sklearn.svm.SVC.fit", "fit") == ("by-method", "by-prefix", "by-name")
    assert router.route(None, "fit") == ("by-method",)
    assert router.route("sklearn.linear_model.Ridge", "") == ("by-prefix",)
    assert router.route("torch.nn.Linear", "") == ()
    assert router.route("torch.fit", "predict") == ()


def test_the_walk_leaves_no_cycle_that_keeps_listeners_alive() -> None:
    # A run pauses the cyclic collector (engine.check.paused_gc): a listener (and the tree it may
    # hold) kept alive by a reference cycle would stay in memory until the run ends.
    routed, plain = _Routed(), _Names()
    refs = [weakref.ref(routed), weakref.ref(plain)]
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        _walk("import torch\ntorch.load(f)\nopt.step()\n", [routed, plain])
        del routed, plain
        assert [ref() for ref in refs] == [None, None]
    finally:
        if was_enabled:
            gc.enable()


@settings(max_examples=300, deadline=None)
@given(st.lists(st.sampled_from(["a", "x = 1", "\r", "\n", "\r\n", "\f", "\x1c", "\x85", "\u2028", " "]), max_size=12)
       .map("".join))
def test_source_lines_break_where_the_parser_breaks_lines(text: str) -> None:
    """At "\\r\\n", "\\r" and "\\n" only, as a pattern of those three splits: a form feed, "\\x1c",
    NEL or a Unicode line separator ends no line for the parser, so it must not here either."""
    assert source_lines(text) == re.split(r"\r\n|\r|\n", text)


def test_a_nodes_line_is_the_parsers_line_whatever_the_line_ends() -> None:
    source = "a = 1\r\nb = 2\rc = '\x0c'\nd = 4\x0c\ne = 5\n"
    tree = ast.parse(source)
    ctx = PyContext("m.py", "m", False, source)
    names = {n.id: n for n in ast.walk(tree) if isinstance(n, ast.Name)}
    for name in "abde":
        assert ctx.segment(names[name]) == name
        assert ctx.lines[names[name].lineno - 1].lstrip("\x0c").startswith(f"{name} = ")
