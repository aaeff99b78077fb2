"""ML3xx: dead code and feature flags."""

from __future__ import annotations

import ast
import functools
import operator
import re
from collections.abc import Iterator
from typing import Any

from mlaudit.analysis.config_index import Chain, ConfigIndex, Namespace, config_index, is_training_path
from mlaudit.facts.comments import commented_code
from mlaudit.facts.config.flags import FlagFacts
from mlaudit.facts.python import ModuleFacts
from mlaudit.facts.walk import PyContext
from mlaudit.files import kinds
from mlaudit.findings import Finding, Level, RelatedLocation
from mlaudit.knowledge.config import DOCUMENTED_SWITCH, EXEC_CALLS
from mlaudit.project.model import ProjectModel
from mlaudit.rules.base import ProjectRule, PythonRule

_CALLEE = operator.attrgetter("callee")  # of a CallFact: `map` runs it in C

# Names that look constant but are meant to be: type-checking imports, interpreter flags.
CONSTANT_NAMES = frozenset({"TYPE_CHECKING", "__debug__"})


class DeadFeatureFlag(ProjectRule):
    code = "ML301"
    name = "dead-feature-flag"
    summary = "A boolean flag has the same value everywhere, so one branch of each test can never run"
    tags = ("maintainability", "configuration")
    valid = (
        # An experiment override turns the flag on.
        {
            "conf/config.yaml": "defaults:\n  - _self_\nuse_amp: false\n",
            "conf/experiment/fast.yaml": "# @package _global_\nuse_amp: true\n",
            "train.py": "import hydra\n@hydra.main(config_path='conf', config_name='config')\n"
                        "def main(cfg):\n    if cfg.use_amp:\n        print('amp')\n",
        },
        # The flag's value flows somewhere else than a condition.
        "USE_CUDA = False\ndef device():\n    return 'cuda' if USE_CUDA else 'cpu'\nprint(USE_CUDA)\n",
        # Rebound at runtime.
        "DEBUG = False\ndef main(argv):\n    global DEBUG\n    DEBUG = '-d' in argv\n    if DEBUG:\n        print(argv)\n",
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
    )
    invalid = (
        "USE_OLD_ATTENTION = False\ndef forward(x):\n    if USE_OLD_ATTENTION:  # expect: ML301\n        return x * 2\n"
        "    return x\n",
        {
            "conf/config.yaml": "defaults:\n  - _self_\nuse_old_attention_v2: false\n",
            "conf/experiment/big.yaml": "# @package _global_\nuse_old_attention_v2: false\n",
            "train.py": "import hydra\n@hydra.main(config_path='conf', config_name='config')\n"
                        "def main(cfg):\n    if cfg.use_old_attention_v2:  # expect: ML301\n        print('old')\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        index = config_index(model)
        yield from self._constants(model)
        yield from self._dataclass_fields(index, model)
        for ns in index.namespaces.values():
            yield from self._config_flags(index, ns)

    def _constants(self, model: ProjectModel) -> Iterator[Finding]:
        definitions: dict[str, list[tuple[str, bool, int]]] = {}
        tests: list[tuple[str, Any]] = []
        flags = _flag_facts(model)
        for path, facts, _ in flags:
            for constant in facts.bool_constants:
                definitions.setdefault(constant.name, []).append((path, constant.value, constant.line))
            tests.extend((path, t) for t in facts.flag_tests)
        # Tests of a constant defined once, in training code: only these need the names that are
        # bound or used another way, gathered from every file (most repos have none).
        maybe = [
            (path, test) for path, test in tests
            if len(definitions.get(test.name, ())) == 1 and test.name.rsplit(".", 1)[-1] not in CONSTANT_NAMES
            and is_training_path(path)
        ]
        if not maybe:
            return
        blocked: set[str] = set()
        for _, facts, module in flags:
            if not EXEC_CALLS.isdisjoint(map(_CALLEE, module.calls)):  # module globals are overridable config
                blocked.update(c.name for c in facts.bool_constants)
            blocked.update(facts.non_flag_uses)
            blocked.update(facts.attribute_stores)
        # Also by module basename + name: `import a; a.DEBUG = True` in a script folder names the
        # module `a`, while the file's own module name may be `examples.a`.
        blocked_tails = {_tail(q) for q in blocked}
        by_flag: dict[str, list[tuple[str, Any]]] = {}
        for path, test in maybe:
            if test.name in blocked or _tail(test.name) in blocked_tails:
                continue
            by_flag.setdefault(test.name, []).append((path, test))
        for name, flag_tests in by_flag.items():
            def_path, value, line = definitions[name][0]
            short = name.rsplit(".", 1)[-1]
            yield self._finding(
                flag_tests, f"`{short}` is always {value} (set once at {def_path}:{line} and never changed), so "
                "{this} always gives the same answer and the code it switches off never runs; remove the flag and "
                "the dead code, or make it a real config option.")

    def _finding(self, tests: list[tuple[str, Any]], message: str, related_paths: tuple[str, ...] = ()) -> Finding:
        """One finding per flag, at its first test; the other tests are related locations."""
        ordered = sorted(tests, key=lambda item: (item[0], item[1].line, item[1].col))
        path, first = ordered[0]
        others = ordered[1:]
        this = "this test" if not others else f"this test and the {len(others)} other(s) listed"
        return Finding(
            code=self.code, path=path, line=first.line, col=first.col, end_line=first.end_line,
            end_col=first.end_col, level=self.level, related_paths=related_paths,
            message=message.replace("{this}", this),
            related=tuple(RelatedLocation(p, t.line, t.col, "another test of the same flag") for p, t in others),
        )

    def _dataclass_fields(self, index: ConfigIndex, model: ProjectModel) -> Iterator[Finding]:
        """A bool field of a dataclass config that nothing can set another way, tested by name.
        A dataclass of an importable package is public API: its users set the field."""
        fields: dict[str, list[tuple[str, Any]]] = {}
        for path, option in index.options:
            fields.setdefault(option.name, []).append((path, option))
        candidates = [
            (name, *defs[0]) for name, defs in fields.items()
            # One dataclass field with a bool default; also an argparse/click option, or fields of
            # several classes, are not constant.
            if len(defs) == 1 and defs[0][1].kind == "dataclass" and isinstance(defs[0][1].default, bool)
            and not defs[0][1].documented and is_training_path(defs[0][0]) and not _in_package(defs[0][0], model)
        ]
        if not candidates:
            return  # most repos: skip gathering every use in the repo
        uses = _RepoUses(model, index)
        for name, path, option in candidates:
            owner = option.owner.rsplit(".", 1)[-1]
            if (owner in uses.escaped or owner in uses.constructed or name in uses.keywords or name in uses.used
                    or name in uses.yaml_names or index.written((name,))):
                continue
            flag_tests = [(p, t) for p, f, _ in uses.flags for t in f.attribute_tests if t.name == name]
            if flag_tests:
                yield self._finding(
                    flag_tests, f"`{name}` defaults to {option.default} in dataclass {option.owner.rsplit('.', 1)[-1]} "
                    f"({path}:{option.line}) and nothing ever sets it, so {{this}} always gives the same answer and the "
                    "code it switches off never runs; remove the field and the dead code.")

    def _config_flags(self, index: ConfigIndex, ns: Namespace) -> Iterator[Finding]:
        for chain, defs in ns.keys.items():
            values = {d.value for d in defs if isinstance(d.value, bool)}
            if len(values) != 1 or len(values) != len({repr(d.value) for d in defs}):
                continue
            if index.written(chain) or _consumed_elsewhere(index, ns, chain):
                continue
            if any(DOCUMENTED_SWITCH.search(d.comment) for d in defs):
                continue
            reads = index.reads_of(ns, chain)
            if not reads or not all(r.condition for _, r in reads):
                continue
            value = values.pop()
            where = ", ".join(sorted({f"{d.file}:{d.line}" for d in defs}))
            key = ".".join(chain)
            yield self._finding(
                list(reads), f"Config flag `{key}` is {str(value).lower()} in every config that sets it ({where}), so "
                "{this} always gives the same answer and the code it switches off never runs; remove the flag and the "
                "dead code, or set it the other way in an experiment config.", tuple(sorted({d.file for d in defs})))


class _RepoUses:
    """Names used anywhere in the repo, each set gathered from every file on first use: most
    candidate fields are settled by the first one."""

    def __init__(self, model: ProjectModel, index: ConfigIndex) -> None:
        self.model = model
        self.flags = _flag_facts(model)
        self.index = index

    @functools.cached_property
    def escaped(self) -> set[str]:
        # By last name: imports through re-exports or script folders do not resolve to the class's
        # own qualified name, and a miss here would be a false alarm.
        return {q.rpartition(".")[2] for _, f, _ in self.flags for q in f.non_flag_uses}

    @functools.cached_property
    def constructed(self) -> set[str]:
        """Last names of classes built with arguments."""
        return {c for _, f, _ in self.flags for c in f.constructed}

    @functools.cached_property
    def keywords(self) -> set[str]:
        return {k for _, m in self.model.python_modules() for call in m.calls for k in call.keywords if k != "**"}

    @functools.cached_property
    def used(self) -> set[str]:
        return {a for _, f, _ in self.flags for a in f.attribute_uses}

    @functools.cached_property
    def yaml_names(self) -> set[str]:
        return {chain[-1] for ns in self.index.namespaces.values() for chain in ns.keys}


def _flag_facts(model: ProjectModel) -> list[tuple[str, FlagFacts, ModuleFacts]]:
    """(path, flag facts, module facts) of every module the flag listener saw."""
    return [(file.path, f, m) for file, m in model.python_modules() if (f := m.family(FlagFacts)) is not None]


def _in_package(path: str, model: ProjectModel) -> bool:
    folder = path.rpartition("/")[0]
    return bool(folder) and f"{folder}/__init__.py" in model.files


def _tail(qualname: str) -> str:
    return ".".join(qualname.split(".")[-2:])


def _consumed_elsewhere(index: ConfigIndex, ns: Namespace, chain: Chain) -> bool:
    """Does the flag's value (or a section holding it) flow anywhere but a condition?"""
    return index.consumed(ns, chain, for_flag=True)


# --- ML302 -----------------------------------------------------------------------------------

# A comment that tells the reader how to turn a hand toggle on ("enable to benchmark ...", "set to
# True to ..."): a documented manual switch, not a leftover. "disabled" only describes the state.
TOGGLE_HOWTO = re.compile(r"\b(enable|set (it |this )?(to )?(true|false|1|0)|change (it |this )?to|flip|toggle|switch)\b",
                          re.IGNORECASE)


def _constant(node: ast.AST) -> tuple[bool, Any] | None:
    """(truthiness, value) when `node` is a literal True/False/0/1/None/"" (also `not <literal>`)."""
    if isinstance(node, ast.Constant) and (node.value is None or isinstance(node.value, (bool, int, float, str))):
        return bool(node.value), node.value
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
        inner = _constant(node.operand)
        return (not inner[0], inner[1]) if inner else None
    return None


def _trailing_comment(line: str) -> str:
    return line.split("#", 1)[1].strip() if "#" in line else ""


def _documented_toggle(node: ast.If, lines: list[str]) -> bool:
    """`if 1:  # real dataset` ... `else:  # fake dataset`, or a comment on the `if` line or atop
    its body that says how to turn it on: a labelled switch the reader is meant to flip."""
    def line(number: int) -> str:
        return lines[number - 1] if 0 < number <= len(lines) else ""

    head = _trailing_comment(line(node.lineno))
    top = [line(n).strip() for n in range(node.lineno + 1, node.body[0].lineno)]
    if any(TOGGLE_HOWTO.search(text) for text in (head, *top)):
        return True
    if not head or not node.orelse:
        return False
    end = node.body[-1].end_lineno or node.body[-1].lineno
    else_lines = [line(n) for n in range(end + 1, node.orelse[0].lineno + 1) if line(n).strip().startswith("else")]
    return bool(else_lines) and bool(_trailing_comment(else_lines[0]))


class ConstantCondition(PythonRule):
    code = "ML302"
    name = "constant-condition"
    summary = "A condition is a constant, so one branch never runs"
    tags = ("maintainability",)
    valid = (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import torch\n",
        "if __debug__:\n    print('debug')\n",
        "while True:\n    break\n",
        "import sys\nif sys.argv:\n    print(1)\n",
        "x = 1 if len([]) else 2\n",
        # A labelled two-way switch for readers to flip (accelerate's sp-alst.py example), and a
        # test toggle that says how to turn it on (detectron2's test_roi_align.py).
        "if 1:  # real dataset\n    data = [1, 2]\nelse:  # fake dataset\n    data = [0, 0]\n",
        "def bench(n):\n    if False and n == 1:\n        # enable to benchmark grid_sample (slower)\n"
        "        print(n)\n",
    )
    invalid = (
        "if False:  # expect: ML302\n    print('never')\n",
        "if 0:  # expect: ML302\n    print('never')\n",
        "import sys\nif sys.argv and False:  # expect: ML302\n    print('never')\n",
        "while False:  # expect: ML302\n    pass\n",
        "import sys\nif True and sys.argv:  # expect: ML302\n    pass\n",
        # Comments that only say what the branch is, or that it is off, do not make it a switch.
        "if 0:  # expect: ML302\n    data = [1, 2]\nelse:\n    data = [0, 0]\n",
        "def f(dim, n):\n    if dim == n and False:  # expect: ML302\n        # disabled for now\n        return 1\n"
        "    return 0\n",
    )

    def visit_If(self, node: ast.If, ctx: PyContext) -> None:
        # The comments around an `if` are read only when its test is constant (few are).
        message = _dead_branch(node.test, "if")
        if message is not None and not _documented_toggle(node, ctx.lines):
            ctx.report(self, node.test, message)

    def visit_While(self, node: ast.While, ctx: PyContext) -> None:
        constant = _constant(node.test)
        if constant is not None and not constant[0]:
            ctx.report(self, node.test, f"`while {ast.unparse(node.test)}` never runs its body; delete the loop "
                       "or restore the real condition.")

    def visit_IfExp(self, node: ast.IfExp, ctx: PyContext) -> None:
        message = _dead_branch(node.test, "conditional expression")
        if message is not None:
            ctx.report(self, node.test, message)


def _dead_branch(test: ast.expr, kind: str) -> str | None:
    """The message for a constant condition, or for one with a constant part; None for others."""
    constant = _constant(test)
    if constant is not None:
        dead = "else branch" if constant[0] else "body"
        return (f"The {kind} condition `{ast.unparse(test)}` is always {constant[0]}, so its {dead} never "
                "runs; delete the dead branch or restore the real condition.")
    if isinstance(test, ast.BoolOp):
        for value in test.values:
            part = _constant(value)
            if part is None:
                continue
            decides = part[0] == isinstance(test.op, ast.Or)
            effect = f"always {part[0]}" if decides else f"the same as without `{ast.unparse(value)}`"
            return (f"The {kind} condition `{ast.unparse(test)}` contains the constant "
                    f"`{ast.unparse(value)}`, so it is {effect}; remove the leftover toggle.")
    return None


# --- ML303 -----------------------------------------------------------------------------------


class CommentedOutCode(PythonRule):
    """Detection is `mlaudit.facts.comments`: comment blocks whose text parses as Python and reads
    like a program, not prose that happens to parse; one finding per block, spanning it."""

    code = "ML303"
    # Measured at 0.56 on the round-3 validation corpus: opt-in until it reaches 0.95 (rules/ML303.md).
    opt_in = True
    name = "commented-out-code"
    summary = "A block of commented-out code"
    level = Level.NOTE
    tags = ("maintainability",)
    # A docs build script (sphinx-quickstart's conf.py) ships commented settings as documentation.
    exempt_roles = frozenset({kinds.DOCS})
    valid = (
        "# Compute the loss over the batch.\nx = 1\n",
        "# TODO: tune this later\nx = 1\n",
        # A formula and a pasted REPL session are prose.
        "# KL term:\n# 0.5 * sum(1 + log(sigma^2) - mu^2 - sigma^2)\nx = 1\n",
        "# >>> ds\n# DatasetDict({\n#     train: Dataset({\n#         num_rows: 8009762\n#     })\n# })\nx = 1\n",
        # A citation, a heading, a comment naming the equivalent call, one word, a URL, directives.
        "# equation (88)\n# import packages\nimport numpy as np\n# same as F.gelu(x)\n# torch.nn.functional.gelu(x)\n"
        "y = np.tanh(1)\n# Training\n# https://arxiv.org/abs/1706.03762\nz = y  # type: ignore\n",
        # A license header, a usage example, and a comment-like line inside a string.
        "# Copyright 2024 The Authors.\n# Licensed under the Apache License, Version 2.0 (the 'License');\n"
        "# x = 1\nx = 1\n",
        "# Example:\n#     model = Net()\n#     model.fit(data)\nx = 1\n",
        's = """\n# x = 1\n# y = 2\n"""\n',
        {"docs/source/conf.py": "# The theme to use.\n# html_theme = 'alabaster'\nhtml_theme = 'furo'\n"},
    )
    invalid = (
        "x = 1\n# y = x + 1  # expect: ML303\n# print(y)\n",
        # One block of consecutive comment lines is one finding, whatever its length.
        "import torch\n# for batch in loader:  # expect: ML303\n#     loss = model(batch)\n#     loss.backward()\n"
        "#     optimizer.step()\nx = 1\n",
        "# model.eval()  # expect: ML303\n# print(evaluate(model))\nx = 1\n",
    )

    def begin(self, ctx: PyContext) -> None:
        self.in_strings: set[int] = set()
        self.bracketed: set[int] = set()  # lines inside a call's or a literal's brackets

    def _brackets(self, node: ast.expr) -> None:
        if node.end_lineno and node.end_lineno > node.lineno:
            self.bracketed.update(range(node.lineno + 1, node.end_lineno + 1))

    def visit_Call(self, node: ast.Call, ctx: PyContext) -> None:
        self._brackets(node)

    def visit_Dict(self, node: ast.Dict, ctx: PyContext) -> None:
        self._brackets(node)

    def visit_List(self, node: ast.List, ctx: PyContext) -> None:
        self._brackets(node)

    def visit_Tuple(self, node: ast.Tuple, ctx: PyContext) -> None:
        self._brackets(node)

    def visit_Constant(self, node: ast.Constant, ctx: PyContext) -> None:
        if isinstance(node.value, str) and node.end_lineno and node.end_lineno > node.lineno:
            self.in_strings.update(range(node.lineno + 1, node.end_lineno + 1))

    def visit_JoinedStr(self, node: ast.JoinedStr, ctx: PyContext) -> None:
        if node.end_lineno and node.end_lineno > node.lineno:
            self.in_strings.update(range(node.lineno + 1, node.end_lineno + 1))

    def end(self, ctx: PyContext) -> None:
        if ctx.line_map.file_lines:
            return  # notebooks: a commented cell line is a scratch-pad habit, not a leftover
        for block in commented_code(ctx.lines, self.in_strings, self.bracketed):
            span = f"line {block.start}" if block.start == block.end else f"lines {block.start}-{block.end}"
            ctx.findings.append(Finding(
                code=self.code, path=ctx.path, line=block.start, col=1, end_line=block.end,
                end_col=len(ctx.lines[block.end - 1]) + 1, level=self.level,
                message=f"Commented-out code ({span}); delete it (version control keeps the history) or "
                        "turn it into a real option.",
            ))
