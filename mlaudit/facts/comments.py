"""Commented-out code: blocks of full-line comments that are code someone switched off.

A comment is code when its text parses as Python *and* reads like a program rather than prose.
Prose that happens to parse is common in ML code and must not count: a citation
(`# equation (88)`), a heading (`# import packages`), a formula (`# 0.5 * sum(1 + log(s))`), one
word (`# Training`), a sentence ending with a period, a URL, a REPL session (`# >>> ds`), a usage
example introduced as one, a license header, PEP 723 script metadata, and tool directives (`# type: ignore`, `# noqa`).

A block is a run of consecutive full-line comments. It is commented-out code when it holds a
statement that does something on its own (an assignment, an import, a `def`/`for`/`if`/`with`
header with its body, `return`, ...) or at least two calls: a lone `# print(x)` or
`# F.gelu(x)` naming the call the line below makes is too weak a sign. The finding spans the
block's code lines, first to last.
"""

from __future__ import annotations

import ast
import keyword
import re
import textwrap
import warnings
from collections.abc import Iterable
from dataclasses import dataclass

# Tool directives: not code, not prose; they neither make nor break a block.
DIRECTIVE = re.compile(
    r"^\s*(?:type|noqa|pragma|mlaudit|fmt|isort|pylint|ruff|pyright|mypy|flake8|nosec|yapf|autopep8|pytype|pyformat"
    r"|pyre(?:-\w+)?|black|coverage|codespell|cspell|skipcq|lint|docformatter|jscpd)\b\s*:?|^\s*noqa\b",
    re.IGNORECASE,
)
# Blocks that are a license or copyright header.
LICENSE = re.compile(r"copyright|licen[cs]e|spdx-|all rights reserved", re.IGNORECASE)
# A block that introduces an example shows how to use the code; it is documentation.
EXAMPLE_INTRO = re.compile(r"^\s*(?:example|examples|usage|e\.g\.|for example|for instance|such as)\b.*:?\s*$",
                           re.IGNORECASE)
# Prose ending with a colon right above the code introduces it ("is calculated by:", "You can
# specify a list:"): an explanation, unless it asks to uncomment the code.
UNCOMMENT = re.compile(r"\buncomment|\bcomment (?:it |this |them )?(?:in|out)\b", re.IGNORECASE)
# `import packages`, `import libraries`: section headings that parse as imports.
HEADING_IMPORTS = frozenset({
    "packages", "package", "libraries", "library", "libs", "modules", "module", "dependencies", "stuff",
    "everything", "necessary", "required", "requirements", "things", "data", "models", "tools", "helpers",
})
# Compound statement headers, completed with a body to be parsed on their own.
HEADER = re.compile(r"^(?:async\s+)?(?:if|elif|else|for|while|with|try|except|finally|def|class)\b.*:\s*$")
CONTINUED_HEADER = re.compile(r"^(?:elif|else|except|finally)\b")
# `name=value` written without spaces, the way a label or a keyword argument is.
LABEL = re.compile(r"^\w+=[^=\s]")
# `name = ...` of a one-line formula comment.
REFERENCE_TARGET = re.compile(r"^\s*(\w+)\s*=[^=]")
# How many comment lines one statement may span (a call with its arguments over several lines).
MAX_STATEMENT_LINES = 12
URL = re.compile(r"\w+://|www\.")
QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
# A comment after the commented-out code (`# for x in y:  # slow`), without quotes in it.
TRAILING_COMMENT = re.compile(r"\s+#[^'\"]*$")
CODE_CHARS = re.compile(r"[=()\[\]{}.:,+\-*/%<>\"'@]")
STRONG = (ast.Assign, ast.AugAssign, ast.AnnAssign, ast.Import, ast.ImportFrom, ast.FunctionDef, ast.AsyncFunctionDef,
          ast.ClassDef, ast.For, ast.AsyncFor, ast.While, ast.If, ast.With, ast.AsyncWith, ast.Try, ast.Return,
          ast.Raise, ast.Assert, ast.Delete, ast.Global, ast.Nonlocal)


@dataclass(frozen=True)
class CodeBlock:
    start: int  # 1-based line of the first commented-out code line
    end: int  # its last


def commented_code(lines: list[str], skip: Iterable[int] = (), bracketed: Iterable[int] = ()) -> list[CodeBlock]:
    """Blocks of commented-out code among `lines`; lines in `skip` (1-based, e.g. inside a
    multi-line string) are not comments; lines in `bracketed` sit inside an open bracket of the
    code (a call's arguments), where `# name=value` is a commented-out argument."""
    skipped = set(skip)
    inside = set(bracketed)
    found = []
    for block in _comment_blocks(lines, skipped):
        code = _code_span(block, block[0][0] in inside)
        if code is not None and not _reference_formula(block, lines):
            found.append(code)
    return found


def _reference_formula(block: list[tuple[int, str]], lines: list[str]) -> bool:
    """`# h = f * g` right above `h_row = f_row * g_row`: the math the next line implements
    (a kernel's comments, up to three lines), not code switched off."""
    if len(block) > 3:
        return False
    target = REFERENCE_TARGET.match(block[-1][1])
    following = lines[block[-1][0]] if block[-1][0] < len(lines) else ""
    return target is not None and re.match(rf"\s*{re.escape(target.group(1))}_\w+\s*=", following) is not None


def _comment_blocks(lines: list[str], skipped: set[int]) -> list[list[tuple[int, str]]]:
    """Runs of consecutive full-line comments, as (line number, text after the `#`)."""
    blocks: list[list[tuple[int, str]]] = []
    current: list[tuple[int, str]] = []
    for number, line in enumerate(lines, 1):
        stripped = line.lstrip()
        if not stripped.startswith("#") or number in skipped:
            if current:
                blocks.append(current)
                current = []
            continue
        if number <= 2 and (stripped.startswith("#!") or "coding" in stripped):
            continue  # shebang and encoding lines
        text = stripped.lstrip("#")
        current.append((number, text[1:] if text.startswith(" ") else text))
    if current:
        blocks.append(current)
    return blocks


def _code_span(block: list[tuple[int, str]], in_brackets: bool = False) -> CodeBlock | None:
    texts = [text for _, text in block]
    if any(LICENSE.search(t) for t in texts) or any(">>>" in t for t in texts):
        return None
    if any(t.startswith("///") for t in texts):
        return None  # PEP 723 inline script metadata (`# /// script` ... `# ///`): TOML, not code
    entries = [(n, TRAILING_COMMENT.sub("", t)) for n, t in block if t.strip() and not DIRECTIVE.match(t)]
    if not entries or EXAMPLE_INTRO.match(entries[0][1]):
        return None
    strong, calls = 0, 0
    code_lines: list[int] = []
    index = 0
    while index < len(entries):
        taken, kind = _statement_at(entries, index, in_brackets)
        if taken == 0:
            index += 1
            continue
        if not code_lines and _introduced(entries, index):
            return None
        code_lines.extend(n for n, _ in entries[index : index + taken])
        strong += kind == "strong"
        calls += kind == "call"
        index += taken
    if not code_lines or (strong == 0 and calls < 2):
        return None
    return CodeBlock(min(code_lines), max(code_lines))


def _introduced(entries: list[tuple[int, str]], index: int) -> bool:
    """Is the code at `index` shown by the prose line right above it (ending with a colon)?"""
    if index == 0:
        return False
    above = entries[index - 1][1].strip()
    if EXAMPLE_INTRO.match(above):
        return True
    if above.endswith((" where", ", where")):
        return True  # `# ... contains [row, col], where` / `# row = i // grid_size`
    return above.endswith(":") and " " in above and not UNCOMMENT.search(above) and _parse(above + "\n    pass") is None


def _statement_at(entries: list[tuple[int, str]], index: int, in_brackets: bool = False) -> tuple[int, str]:
    """How many comment lines from `index` form one statement of code, and how strong a sign
    of code it is ("strong", "call" or "weak"); (0, "") for prose."""
    first = entries[index][1]
    if _is_prose(first):
        return 0, ""
    limit = min(len(entries), index + MAX_STATEMENT_LINES)
    for stop in range(index + 1, limit + 1):
        text = textwrap.dedent("\n".join(t for _, t in entries[index:stop]))
        tree = _parse(text)
        if tree is not None and tree.body:
            return stop - index, _strength(tree, text, in_brackets)
        if stop == index + 1 and not _may_continue(first):
            return 0, ""
    return 0, ""


def _is_prose(text: str) -> bool:
    stripped = text.strip()
    words = stripped.split()
    if not words:
        return True
    if not CODE_CHARS.search(stripped) and not keyword.iskeyword(words[0]):
        return True  # words without operators or brackets: prose (or a bare name), no need to parse
    unquoted = QUOTED.sub("", stripped)  # `# url='https://...'` is a commented-out argument
    if URL.search(unquoted) or (stripped.endswith(".") and not stripped.endswith("...")):
        return True
    if len(words) == 1 and re.fullmatch(r"[A-Za-z_][\w.]*", stripped) and "." not in stripped:
        return True  # one word: `# Training`, `# TODO`
    if len(words) == 2 and words[0] == "assert" and words[1].isidentifier():
        return True  # `# assert speeds`: a heading
    return len(words) == 2 and words[0] == "import" and words[1].lower() in HEADING_IMPORTS


def _may_continue(text: str) -> bool:
    """Could this line start a statement that goes on below (open bracket, header, backslash)?"""
    stripped = text.rstrip()
    opened = sum(stripped.count(c) for c in "([{") - sum(stripped.count(c) for c in ")]}")
    return opened > 0 or stripped.endswith(("\\", ",")) or HEADER.match(stripped.lstrip()) is not None


def _parse(text: str) -> ast.Module | None:
    candidates = [text]
    stripped = text.lstrip()
    if HEADER.match(text.splitlines()[-1].strip()):
        candidates.append(text + "\n    pass")  # a header whose body was not commented out with it
    if CONTINUED_HEADER.match(stripped):
        candidates.append("if x:\n    pass\n" + stripped + ("\n    pass" if stripped.rstrip().endswith(":") else ""))
        candidates.append("try:\n    pass\n" + stripped + ("\n    pass" if stripped.rstrip().endswith(":") else ""))
    for candidate in candidates:
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                return ast.parse(candidate)
        except (SyntaxError, ValueError, MemoryError, RecursionError):
            continue
    return None


def _strength(tree: ast.Module, text: str, in_brackets: bool = False) -> str:
    if HEADER.match(text.strip()) and "\n" not in text.strip():
        return "weak"  # `# if needed:`, `# else:` alone: too little to call it code
    statement = tree.body[-1] if CONTINUED_HEADER.match(text.lstrip()) else tree.body[0]
    if isinstance(statement, ast.AnnAssign) and statement.value is None:
        return "weak"  # `# locations: [R*K, 2]` documents a shape
    if isinstance(statement, ast.Assign) and _documents_shape(statement):
        return "weak"  # `# x.shape = [batch_size, n_ctx, width]`
    if not in_brackets and LABEL.match(text.strip()):
        return "weak"  # `# logger=False` above a test case: a label (an argument would sit in brackets)
    if len(tree.body) > 1 and all(_constant_assignment(s) for s in tree.body):
        return "weak"  # `# pad_token_id = 151643; eos_token_id = 151645` documents values
    if isinstance(statement, STRONG):
        if isinstance(statement, ast.Import) and len(statement.names) == 1:
            return "strong" if statement.names[0].name.lower() not in HEADING_IMPORTS else "weak"
        return "strong"
    if isinstance(statement, ast.Expr) and isinstance(statement.value, ast.Call) and not _citation(statement.value, text):
        return "call"
    return "weak"


def _constant_assignment(statement: ast.stmt) -> bool:
    return isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant)


def _documents_shape(statement: ast.Assign) -> bool:
    target = statement.targets[0]
    name = target.attr if isinstance(target, ast.Attribute) else target.id if isinstance(target, ast.Name) else ""
    return name.endswith("shape") and isinstance(statement.value, (ast.List, ast.Tuple))


def _citation(call: ast.Call, text: str) -> bool:
    """`equation (88)`, `Figure 2(b)`, `step (3)`: a name, a space, and numbers in brackets."""
    literal_args = all(isinstance(a, ast.Constant) for a in call.args) and not call.keywords
    return literal_args and re.match(r"^\s*[\w.]+\s+\(", text) is not None
