"""The randomness extractor runs a step of its classification only for the calls the step's row
names (`_STEPS`). That must never change the facts: running every step on every call gives the
same events for calls of every name, prefix and method in the knowledge tables, in the shapes the
steps look at (keywords, seeds, a receiver built by a known constructor)."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from mlaudit.facts import randomness
from mlaudit.facts.randomness import RandomnessExtractor, RandomnessFacts
from mlaudit.facts.walk import Callees, CallRouter, PyContext, module_level_names, walk
from mlaudit.knowledge import randomness as data


class _EveryStep(RandomnessExtractor):
    """The extractor without routing: every step runs on every call, in order."""

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        if self.skip and id(node) in self.skip:
            return
        callee, receiver = self._effective(node, ctx)
        method = node.func.attr if isinstance(node.func, ast.Attribute) else ""
        self._classify(node, callee, receiver, method, ctx, randomness._STEPS.handlers)


def _strings(value: object) -> Iterator[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key in value:
            yield from _strings(key)
    elif isinstance(value, (frozenset, set, tuple, list)):
        for item in value:
            yield from _strings(item)
    elif isinstance(value, data.DataMethod):
        yield from _strings(value.objects)
        yield value.method


def _table_strings() -> set[str]:
    """Every string in every table of the knowledge module: names, prefixes, method names."""
    return {s for name in dir(data) if name.isupper() for s in _strings(getattr(data, name)) if s.isascii()}


def _calls(strings: set[str]) -> list[str]:
    lines = []
    for text in sorted(strings):
        words = text.strip(".").split(".")
        if not all(w.isidentifier() for w in words):
            continue
        dotted = ".".join(words)
        args = "(x, 'cuda', seed=1, shuffle=True, generator=None, random_state=None, deterministic=True)"
        lines += [f"import {words[0]}", f"{dotted}()", f"{dotted}{args}", f"{dotted}.Thing()", f"{dotted}.thing(grads)"]
        lines += [f"{dotted}(main, benchmark=True, full_determinism=True, accelerator='gpu')",
                  f"{dotted}('{data.CUBLAS_VAR}', ':4096:8')", f"{dotted}({{'{data.CUBLAS_VAR}': ':4096:8'}})",
                  f"{dotted}('out.txt', 'w')", f"{dotted}(False, warn_only=False)"]
        lines += [f"v = {dotted}()", f"v.{words[-1]}(grads)", "v.sample()", "v.shuffle(seed=None)", "v.step()"]
        lines += [f"obj.{words[-1]}(grads, p.grad)", f"obj.{words[-1]}()"]
    return lines


# Shapes of the steps whose rows name no table: argparse options, `super().__init__()`.
_FIXED = [
    "import argparse, time, random, torch",
    "parser = argparse.ArgumentParser()",
    "parser.add_argument('--seed', type=int, default=int(time.time()))",
    "parser.add_argument('--bench', action='store_true', default=True)",
    "args = parser.parse_args()",
    "random.seed(args.seed)",
    "torch.backends.cudnn.benchmark = args.bench",
    "class Layer(torch.nn.Linear):",
    "    def __init__(self):",
    "        super().__init__(2, 2)",
]


def _facts(extractor: RandomnessExtractor, source: str) -> RandomnessFacts:
    tree = ast.parse(source)
    ctx = PyContext("m.py", "m", False, source, module_defs=module_level_names(tree))
    walk(tree, ctx, [extractor])
    assert not ctx.errors
    return extractor.facts(ctx)


def test_routing_the_steps_never_changes_the_facts() -> None:
    lines = _FIXED + _calls(_table_strings())
    assert len(lines) > 3000  # the tables were read
    for source in ("\n".join(lines), "def train():\n" + "\n".join(f"    {line}" for line in lines)):
        assert "super().__init__" in source
        routed, every = _facts(RandomnessExtractor(), source), _facts(_EveryStep(), source)
        assert routed.events == every.events
        assert routed == every


def test_a_step_missing_from_its_row_would_be_caught() -> None:
    # The check above can fail: without its row, a seeding call is no longer seen as one.
    source = "import torch\ntorch.manual_seed(0)\n"
    kinds = [e.kind for e in _facts(RandomnessExtractor(), source).events]
    assert randomness.SEED in kinds
    original = randomness._STEPS
    rows = [(step, Callees() if step.run is RandomnessExtractor._seed else callees) for step, callees in randomness._STEP_ROWS]
    try:
        randomness._STEPS = CallRouter(rows)
        kinds = [e.kind for e in _facts(RandomnessExtractor(), source).events]
    finally:
        randomness._STEPS = original
    assert randomness.SEED not in kinds
