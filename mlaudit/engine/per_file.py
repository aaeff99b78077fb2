"""Per-file work: read a file once, parse it once, extract its facts, run the per-file rules.

`analyse_file` is the unit that the engine runs in parallel and caches by content hash. Its
result (`FileResult`) is plain data: facts for the project rules and the file's own findings.
"""

from __future__ import annotations

import ast
import dataclasses
import importlib
import warnings
from collections.abc import Callable, Collection, Sequence
from typing import Any

from mlaudit.facts.file import FileFacts, FileResult
from mlaudit.facts.notebook import CellError, NotebookFacts, parse_notebook
from mlaudit.facts.python import CoreFacts
from mlaudit.facts.walk import LineMap, PyContext, module_level_names, walk
from mlaudit.files import kinds
from mlaudit.files.manifests import ManifestError, read_dependency_file
from mlaudit.files.modules import module_name
from mlaudit.files.sources import SourceError, SourceFile, decode_python, decode_text, read_bytes
from mlaudit.files.structured import parse_json, parse_toml, parse_yaml
from mlaudit.findings import Finding, Level
from mlaudit.rules.base import FileRule, PythonRule

RuleFactory = Callable[[], PythonRule]

# Family fact extractors: modules that define `EXTRACTORS`, a list of listener classes whose
# instances join the single walk and expose `facts(ctx) -> plain data` stored under its type in
# ModuleFacts.families (read with `ModuleFacts.family(ThatType)`). A class may pick its listener
# per file with a `for_file(ctx)` class method (see `_extractor`).
EXTRACTOR_MODULES: tuple[str, ...] = (
    "mlaudit.facts.paths",
    "mlaudit.facts.loading",
    "mlaudit.facts.randomness",
    "mlaudit.facts.config",
)


def extractor_classes(needed: Collection[type] | None = None) -> tuple[type, ...]:
    """The family extractors a run needs. An extractor that says `on_demand = True` runs only when
    a selected rule lists the type it `produces` in its `needs_facts` (PathFacts feed only the
    opt-in ML403); `needed=None` runs them all."""
    classes = [cls for name in EXTRACTOR_MODULES for cls in importlib.import_module(name).EXTRACTORS]
    return tuple(
        cls for cls in classes
        if needed is None or not getattr(cls, "on_demand", False) or cls.produces in needed
    )


# Parse budget of Python source: ast.parse costs memory per token, up to ~1.8 KB for a file of bare
# names on their own lines (a 10 MiB `a+a+...` took 2.5 GB). Tokens are estimated in C time by
# counting punctuation and line breaks, about one per syntax node; the largest of 19 real ML
# repositories has 43,000, so 250,000 (~450 MB, ~3 s at worst) leaves six times the room.
MAX_PYTHON_TOKENS = 250_000
_PUNCTUATION = b"\n;,.:()[]{}=+-*/%&|^<>@~!"

# Which non-Python files are worth reading at all. Anything else is only stat'ed: a 2 GB
# JSON dataset must never be loaded.
_TEXT_ROLES = frozenset({kinds.MANIFEST, kinds.LOCKFILE, kinds.DVC, kinds.ENV_SCRIPT, kinds.VCS})


def needs_reading(file: SourceFile) -> bool:
    if file.outside:
        return False  # a symlink out of the repository is never opened (project.boundary)
    if file.format in (kinds.PYTHON, kinds.NOTEBOOK, kinds.YAML, kinds.TOML):
        return True
    return file.format in (kinds.TEXT, kinds.JSON) and bool(file.kind.roles & _TEXT_ROLES)


def analyse_file(
    file: SourceFile,
    python_rules: Sequence[RuleFactory],
    file_rules: Sequence[FileRule],
    max_bytes: int,
    extractors: Sequence[type] | None = None,
) -> FileResult:
    """Read, parse and check one file, with `extractors` (default: all, see `extractor_classes`).
    Never raises for bad input."""
    if not needs_reading(file):
        return FileResult(FileFacts(file.path, file.format))
    try:
        raw = read_bytes(file.abs_path, max_bytes)
    except SourceError as exc:
        return _unparseable(file, exc)
    try:
        result = _parse(file, raw, python_rules, extractor_classes() if extractors is None else extractors)
    except SourceError as exc:
        if kinds.is_template_text(raw.decode("utf-8", errors="replace")):
            return FileResult(FileFacts(file.path, file.format))  # Jinja to render, not ours to parse
        return _unparseable(file, exc)
    except Exception as exc:  # noqa: BLE001 - hostile input must become ML001, never end the run
        return _unparseable(file, SourceError(f"unexpected content ({type(exc).__name__}: {_first_line(exc)})"))
    _run_file_rules(file, result, file_rules)
    return result


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0][:200] if text else "no detail"


def _parse(
    file: SourceFile, raw: bytes, python_rules: Sequence[RuleFactory], extractors: Sequence[type]
) -> FileResult:
    if file.format == kinds.PYTHON:
        text = decode_python(raw)
        tree = _parse_python(file, text, LineMap())
        # setup.py's dependency reader gets the same tree: a file is parsed once.
        return _with_dependencies(file, text, _python(file, text, LineMap(), python_rules, extractors, None, tree), tree)
    text = decode_text(raw)
    if file.format == kinds.NOTEBOOK:
        notebook, code, line_map, tree = parse_notebook(text)
        result = _python(file, code, line_map, python_rules, extractors, notebook, tree)
        result.findings.extend(_bad_cell_finding(file, bad) for bad in notebook.bad_cells)
        return result
    parsers = {kinds.YAML: parse_yaml, kinds.TOML: parse_toml, kinds.JSON: parse_json}
    # Lockfiles are read by the dependency reader alone: nothing needs their generic tree, and a
    # big pixi.lock would be slow to compose and could hit the YAML node cap.
    only_lock = file.kind.roles & _DEPENDENCY_ROLES == {kinds.LOCKFILE} and file.format in parsers
    data = parsers[file.format](text) if file.format in parsers and not only_lock else text
    result = FileResult(FileFacts(file.path, file.format, data=None if only_lock else data))
    return _with_dependencies(file, text, result)


_DEPENDENCY_ROLES = frozenset({kinds.MANIFEST, kinds.LOCKFILE})


def _with_dependencies(file: SourceFile, text: str, result: FileResult, tree: ast.Module | None = None) -> FileResult:
    """Read a manifest or lockfile with the dependency reader; its failure is an ML001 finding,
    while the file's other facts and findings (a setup.py's Python rules) stay."""
    if not file.kind.roles & _DEPENDENCY_ROLES or kinds.is_template_text(text):
        return result  # a template's requirements belong to the projects it generates
    try:
        parsed = result.facts.data if file.format == kinds.TOML else tree
        dependencies = read_dependency_file(file.path, text, parsed)
    except ManifestError as exc:
        result.findings.append(_unparseable_finding(file, SourceError(exc.message, line=exc.line)))
        return result
    except Exception as exc:  # noqa: BLE001 - a reader failing on odd content must not lose the file's other facts
        reason = f"unexpected content in its dependency list ({type(exc).__name__}: {_first_line(exc)})"
        result.findings.append(_unparseable_finding(file, SourceError(reason)))
        return result
    result.facts = dataclasses.replace(result.facts, dependencies=dependencies)
    return result


def _python(
    file: SourceFile,
    text: str,
    line_map: LineMap,
    python_rules: Sequence[RuleFactory],
    extractor_types: Sequence[type],
    notebook: NotebookFacts | None,
    tree: ast.Module | None = None,
) -> FileResult:
    module, is_package = module_name(file.path) if notebook is None else ("", False)
    if tree is None:
        tree = _parse_python(file, text, line_map)
    ctx = PyContext(file.path, module, is_package, text, line_map, module_defs=module_level_names(tree))
    core = CoreFacts()
    extractors = [_extractor(cls, ctx) for cls in extractor_types]
    rules = [
        rule for rule in (make() for make in python_rules)
        if not rule.exempt_roles & file.kind.roles and rule.may_report(text)
    ]
    for rule in rules:
        rule.begin(ctx)
    walk(tree, ctx, [core, *extractors, *rules])
    for rule in rules:
        _guarded(ctx, rule, lambda r=rule: r.end(ctx))
    facts = core.facts(ctx)
    for extractor in extractors:
        found = extractor.facts(ctx)
        facts.families[type(found)] = found
    file_facts = FileFacts(file.path, file.format, python=facts, notebook=notebook)
    return FileResult(file_facts, ctx.findings, ctx.errors)


def _extractor(cls: Any, ctx: PyContext) -> Any:
    """A family extractor for this file. A class with `for_file(ctx)` picks its listener per file
    (a text gate that leaves out the handlers a file cannot need: the walk calls a handler for every
    node of its kind, needed or not); any other class is instantiated."""
    for_file = getattr(cls, "for_file", None)
    return for_file(ctx) if for_file is not None else cls()


def _parse_python(file: SourceFile, text: str, line_map: LineMap) -> ast.Module:
    _check_python_budget(text)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # invalid escape sequences etc. are not our findings
            return ast.parse(text, filename=file.path)
    except (SyntaxError, ValueError, MemoryError, RecursionError) as exc:
        raise _syntax_error(exc, line_map) from None


def python_tokens(data: bytes) -> int:
    """Estimated tokens of Python source (see MAX_PYTHON_TOKENS), in C time."""
    return len(data) - len(data.translate(None, _PUNCTUATION))


def _check_python_budget(text: str) -> None:
    if len(text) <= MAX_PYTHON_TOKENS:
        return  # each token counted is an ASCII character: a text this short is under budget
    tokens = python_tokens(text.encode("utf-8", "surrogatepass"))
    if tokens > MAX_PYTHON_TOKENS:
        raise SourceError(
            f"Python source has about {tokens:,} tokens, over the parse budget of {MAX_PYTHON_TOKENS:,} "
            "(generated code?); not analysed; exclude it in [tool.mlaudit] if it is meant to be there"
        )


def _guarded(ctx: PyContext, rule: Any, action: Any) -> None:
    try:
        action()
    except Exception as exc:  # noqa: BLE001 - a rule's bug must not lose other findings
        ctx.errors.append(f"internal error in {rule.code} on {ctx.path}: {type(exc).__name__}: {exc}")


def _syntax_error(exc: Exception, line_map: LineMap) -> SourceError:
    if isinstance(exc, SyntaxError):
        line = line_map.file_line(exc.lineno or 1) if exc.lineno else 0
        cell = line_map.cell(exc.lineno or 0)
        where = f"cell {cell}: " if cell is not None else ""
        return SourceError(f"{where}invalid Python syntax: {exc.msg}", line=line, col=exc.offset or 0)
    if isinstance(exc, ValueError):  # e.g. "source code string cannot contain null bytes"
        return SourceError(f"invalid Python source: {exc}")
    return SourceError("Python source nests too deeply to be parsed")


def _unparseable(file: SourceFile, exc: SourceError) -> FileResult:
    return FileResult(FileFacts(file.path, file.format, error=exc.message), [_unparseable_finding(file, exc)])


def _unparseable_finding(file: SourceFile, exc: SourceError) -> Finding:
    return Finding(
        code="ML001",
        message=f"Cannot parse {file.name}: {exc.message}.",
        path=file.path,
        line=max(exc.line, 1),
        col=max(exc.col, 1) if exc.line else 1,
        level=Level.ERROR,
    )


def _bad_cell_finding(file: SourceFile, bad: CellError) -> Finding:
    """A code cell that is not IPython: reported alone, the other cells were analysed."""
    message = f"cell {bad.cell}: invalid Python syntax: {bad.message} (this cell was skipped; the others were checked)"
    return _unparseable_finding(file, SourceError(message, line=bad.line, col=bad.col))


def _run_file_rules(file: SourceFile, result: FileResult, file_rules: Sequence[FileRule]) -> None:
    data = result.facts.notebook if file.format == kinds.NOTEBOOK else result.facts.data
    for rule in file_rules:
        if rule.kinds and not (rule.kinds & ({file.format} | file.kind.roles)):
            continue
        try:
            result.findings.extend(rule.check_file(file, data))
        except Exception as exc:  # noqa: BLE001 - a rule's bug must not lose other findings
            result.errors.append(f"internal error in {rule.code} on {file.path}: {type(exc).__name__}: {exc}")
