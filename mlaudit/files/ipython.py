"""IPython cell input turned into Python, line for line, the way IPython's own input transformer
(`IPython/core/inputtransformer2.py`) reads it.

A notebook cell is IPython, not Python: `!pip install x`, `%matplotlib inline`, `obj?`,
`files = !ls`, `%%bash` cells, and (in a cell of one line) automagic such as `cd data`. Each of
these becomes the call IPython would make (`get_ipython().system('pip install x')`), so the
cell parses and every other line is analysed as written. The result has exactly as many lines
as the cell: a command continued over several lines with a trailing backslash becomes one call
on its first line followed by empty lines, so line numbers never move.

Like IPython, special syntax is only recognised where a logical line starts (not inside a
string, a bracket, or after a backslash), and the cell is first cleaned the same way: leading
empty lines skipped, a common leading indent removed, `>>>` and `In [1]:` prompts stripped.
"""

from __future__ import annotations

import ast
import re
import warnings
from dataclasses import dataclass

# Cell magics whose body is Python that IPython runs (timed, captured, profiled): the body is
# analysed. Any other cell magic (%%bash, %%writefile, %%html, %%sql, ...) holds no Python.
PYTHON_CELL_MAGICS = frozenset({"time", "timeit", "capture", "prun", "debug", "memit", "px", "cache"})
# Line magics whose argument is a Python statement run in the notebook's namespace
# (`%time model.fit(x, y)`): the statement is analysed in place of the magic.
PYTHON_LINE_MAGICS = frozenset({"time", "timeit", "prun", "memit", "debug"})
# Magics and aliases that IPython runs without the `%` (automagic) when a cell is that one line:
# the ones people type bare in notebooks. A bare word that is valid Python (`ls`) stays Python.
AUTOMAGICS = frozenset({
    "alias", "autoreload", "bookmark", "cat", "cd", "clear", "conda", "cp", "dhist", "dirs", "env", "history",
    "less", "load", "load_ext", "ls", "lsmagic", "man", "mamba", "matplotlib", "micromamba", "mkdir", "more",
    "mv", "pip", "popd", "pushd", "pwd", "reload_ext", "reset", "rm", "rmdir", "run", "set_env", "store",
    "timeit", "uv", "who", "whos",
})

ESCAPES = ("!!", "??", "!", "?", "%", ",", ";", "/")
_PROMPTS = (
    # (the first line's prompt, any line's prompt): IPython's classic_prompt and ipython_prompt.
    (re.compile(r"^>>>( |$)"), re.compile(r"^(>>>|\.\.\.)( |$)")),
    (re.compile(r"^(In \[\d+\]: |\s*\.{3,}: ?)"), re.compile(r"^(In \[\d+\]: |\s*\.{3,}: ?)")),
)
_INDENT = re.compile(r"^[ \t]+")
_HELP_END = re.compile(r"(%{0,2}[a-zA-Z_*][\w*]*(\.[a-zA-Z_*][\w*]*)*)(\?\??)$")
_ASSIGNED_ESCAPE = re.compile(r"^(\s*[\w.\[\]'\", ]+?\s*=\s*)([!%])(.*)$")
# A quick test on the whole cell: is there anything IPython would transform at all?
_MAYBE_IPYTHON = re.compile(
    r"^[ \t]*(?:[!%?,;/]|>>>|In \[|\.\.\.|(?:" + "|".join(sorted(AUTOMAGICS)) + r")\b)|\?[ \t]*$|=[ \t]*[!%]",
    re.MULTILINE,
)
# Characters that change the scanner's state; everything else is skipped in one regex step.
_SPECIAL = re.compile(r"[\"'#()\[\]{}\\]")
_STRING_START = re.compile(r"'''|\"\"\"|'|\"")


def transform_cell(source: str) -> list[str]:
    """The cell as Python, one output line per input line (`source.splitlines()`)."""
    lines = source.splitlines()
    if not lines:
        return [""]
    first = next((i for i, line in enumerate(lines) if line.strip()), None)
    if first is None or not (_INDENT.match(lines[first]) or _MAYBE_IPYTHON.search(source)):
        return lines
    body = _cleaned(lines[first:])
    return lines[:first] + _cell_magic(body)


def _cleaned(lines: list[str]) -> list[str]:
    """IPython's cleanup: the first line's indent removed from every line, prompts stripped."""
    indent = _INDENT.match(lines[0])
    if indent:
        space = indent.group(0)
        lines = [line[len(space):] if line.startswith(space) else line for line in lines]
    for initial, any_line in _PROMPTS:
        if initial.match(lines[0]) or (len(lines) > 1 and any_line.match(lines[1])):
            lines = [any_line.sub("", line, count=1) for line in lines]
    return lines


def _cell_magic(lines: list[str]) -> list[str]:
    if not lines[0].startswith("%%") or re.match(r"%%\w+\?", lines[0]):
        return _Transformer(lines, single=_one_code_line(lines)).run()
    name = lines[0][2:].split(" ", 1)[0].strip()
    if name not in PYTHON_CELL_MAGICS:
        return ["" for _ in lines]
    body = lines[1:]
    rest = next((i for i, line in enumerate(body) if line.strip()), None)
    if rest is None:
        return [""] * len(lines)
    return ["", *body[:rest], *_cell_magic(_cleaned(body[rest:]))]


def _one_code_line(lines: list[str]) -> bool:
    """IPython applies automagic to a cell of one line. A comment or blank line beside it is
    counted out here, so a `# install` comment above `pip install x` is read as the author meant it."""
    return sum(1 for line in lines if line.strip() and not line.lstrip().startswith("#")) == 1


@dataclass
class _State:
    depth: int = 0  # open brackets
    string: str | None = None  # the closing quote of an unfinished triple-quoted string
    continued: bool = False  # the previous line ended with a backslash

    @property
    def at_statement_start(self) -> bool:
        return self.depth == 0 and self.string is None and not self.continued


class _Transformer:
    def __init__(self, lines: list[str], single: bool) -> None:
        self.lines = lines
        self.out = list(lines)
        self.single = single  # automagic applies to a cell of one line only
        self.state = _State()

    def run(self) -> list[str]:
        number = 0
        start = 0  # first line of the current logical line
        while number < len(self.lines):
            line = self.lines[number]
            if self.state.at_statement_start:
                start = number
                consumed = self._special(number)
                if consumed:
                    number += consumed
                    continue
            code = self._scan(line)
            if self.state.at_statement_start and code.rstrip().endswith("?"):
                self._help_end(start, number, code)
            number += 1
        return self.out

    def _special(self, number: int) -> int:
        """Transform IPython syntax starting a logical line at `number`; return how many lines
        it took (0 when the line is Python)."""
        line = self.lines[number]
        stripped = line.lstrip()
        indent = line[: len(line) - len(stripped)]
        assigned = _ASSIGNED_ESCAPE.match(line)
        if stripped.startswith(ESCAPES):
            text, count = self._continued(number, len(indent))
            self._replace(number, count, indent + _escaped_call(text))
            return count
        if assigned and not _is_python(line.strip()):
            text, count = self._continued(number, len(assigned.group(1)))
            call = _magic_call(text[1:]) if text.startswith("%") else f"get_ipython().getoutput({text[1:]!r})"
            self._replace(number, count, assigned.group(1) + call)
            return count
        word = stripped.split(None, 1)[0] if stripped else ""
        if self.single and word in AUTOMAGICS and not _is_python(stripped):
            text, count = self._continued(number, len(indent))
            self._replace(number, count, indent + _magic_call(text))
            return count
        return 0

    def _continued(self, number: int, column: int) -> tuple[str, int]:
        """The command from `column` of line `number`, joined over trailing backslashes."""
        parts = [self.lines[number][column:]]
        count = 1
        while parts[-1].endswith("\\") and number + count < len(self.lines):
            parts[-1] = parts[-1][:-1]
            parts.append(self.lines[number + count])
            count += 1
        return " ".join(parts), count

    def _replace(self, number: int, count: int, text: str) -> None:
        self.out[number] = text
        for other in range(number + 1, number + count):
            self.out[other] = ""

    def _help_end(self, start: int, end: int, code: str) -> None:
        """`obj?` / `obj??` ending a logical line asks for help; IPython shows it, runs nothing."""
        text = " ".join(self.lines[i].strip() for i in range(start, end)) + " " + code.strip()
        match = _HELP_END.search(text.strip())
        target = match.group(1) if match else text.strip().rstrip("?")
        indent = self.lines[start][: len(self.lines[start]) - len(self.lines[start].lstrip())]
        magic = "pinfo2" if text.rstrip().endswith("??") else "pinfo"
        self._replace(start, end - start + 1, f"{indent}get_ipython().run_line_magic({magic!r}, {target.strip()!r})")

    def _scan(self, line: str) -> str:
        """Update the bracket/string state over `line`; return its code without the comment."""
        state = self.state
        state.continued = False
        position = 0
        while position < len(line):
            if state.string is not None:
                end = _string_end(line, position, state.string)
                if end < 0:
                    if len(state.string) == 1 and not line.endswith("\\"):
                        state.string = None  # an unterminated one-line string: a syntax error, not ours
                    return line
                state.string = None
                position = end
                continue
            match = _SPECIAL.search(line, position)
            if match is None:
                break
            char = match.group(0)
            position = match.end()
            if char == "#":
                return line[: match.start()]
            if char == "\\":
                if position == len(line):
                    state.continued = True
                position += 1
            elif char in "([{":
                state.depth += 1
            elif char in ")]}":
                state.depth = max(state.depth - 1, 0)
            else:
                quote = _STRING_START.match(line, match.start())
                delimiter = quote.group(0) if quote else char
                state.string = delimiter
                position = match.start() + len(delimiter)
        return line


def _string_end(line: str, position: int, delimiter: str) -> int:
    """Index just after `delimiter` closes the string in `line` from `position`; -1 if it does not."""
    while True:
        found = line.find(delimiter, position)
        escape = line.find("\\", position)
        if found < 0:
            return -1
        if 0 <= escape < found:
            position = escape + 2
            continue
        return found + len(delimiter)


def _escaped_call(text: str) -> str:
    escape = text[:2] if text[:2] in ("!!", "??") else text[:1]
    content = text[len(escape):]
    if escape == "%":
        return _magic_call(content)
    if escape == "!":
        return f"get_ipython().system({content!r})"
    if escape == "!!":
        return f"get_ipython().getoutput({content!r})"
    if escape in ("?", "??"):
        return f"get_ipython().run_line_magic({'pinfo2' if escape == '??' else 'pinfo'!r}, {content.strip()!r})"
    name, _, args = content.partition(" ")
    if escape == "," and name.isidentifier():
        return f"{name}(" + ", ".join(repr(a) for a in args.split()) + ")"
    if escape in (";", "/") and name.isidentifier():
        return f"{name}({args!r})" if escape == ";" else _paren_call(name, args)
    return f"get_ipython().run_line_magic({escape!r}, {content!r})"


def _paren_call(name: str, args: str) -> str:
    call = f"{name}({', '.join(args.split())})"
    return call if _is_python(call) else f"{name}({args!r})"


def _magic_call(content: str) -> str:
    """`%name args`: a Python statement for the timing magics, IPython's call otherwise."""
    name, _, args = content.partition(" ")
    statement = args.strip()
    if name in PYTHON_LINE_MAGICS and statement and not statement.startswith("-") and _is_python(statement):
        return statement
    return f"get_ipython().run_line_magic({name!r}, {args!r})"


def _is_python(text: str) -> bool:
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            ast.parse(text)
    except (SyntaxError, ValueError, MemoryError, RecursionError):
        return False
    return True
