"""The shape every rule has.

A rule is a small class that describes itself (code, name, level, summary) and checks one thing.
Three kinds, by what they look at:

- `PythonRule`: per file, over Python's `ast`; it defines `visit_<NodeType>` (and optionally
  `leave_<NodeType>`) methods that the single walk of each file calls. See `mlaudit.facts.walk`.
- `FileRule`: per file, over a non-Python file's parsed content (YAML, notebook JSON, ...).
- `ProjectRule`: once per run, over the facts of all files plus the project model.

Each rule carries `valid` and `invalid` examples (fixit's idea): the test in
`tests/rules/test_rule_examples.py` runs all of them. An example is either Python source or a
mapping of repo-relative paths to file contents; in an invalid example, lines that must be reported
end with a comment `# expect: CODE` (semgrep's idea). Invalid examples without such markers just
need at least one finding of the rule. A rule that offers fixes shows them as `fixes`: pairs of an
example and the files it becomes under `mlaudit check --fix --unsafe-fixes`; having them is what
makes a rule fixable, and the same test checks that a rule without them never offers a fix.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, ClassVar

from mlaudit.facts.walk import PyContext
from mlaudit.files.sources import SourceFile
from mlaudit.findings import Finding, Level
from mlaudit.project.model import ProjectModel

Example = str | Mapping[str, str]


class Rule:
    """Metadata shared by all rules. Subclasses set the class attributes."""

    code: ClassVar[str] = ""
    name: ClassVar[str] = ""
    summary: ClassVar[str] = ""  # one line, shown by `mlaudit rule --all` and in SARIF
    level: ClassVar[Level] = Level.WARNING
    tags: ClassVar[tuple[str, ...]] = ("reproducibility",)
    # Rule options with their defaults; users override them in [tool.mlaudit.options.CODE].
    defaults: ClassVar[Mapping[str, Any]] = {}
    valid: ClassVar[tuple[Example, ...]] = ()
    invalid: ClassVar[tuple[Example, ...]] = ()
    # (before, after) pairs; `after` lists only the files the fixes change (an example given as a
    # string is example.py in both).
    fixes: ClassVar[tuple[tuple[Example, Example], ...]] = ()
    # Runtime rules (ML9xx) are reported by `mlaudit probe`, never by `mlaudit check`.
    runtime: ClassVar[bool] = False
    # Off by default: `select = ["ML"]` does not enable it, only its full code does (ML002, and
    # rules measured under 0.95 precision on real repositories or not measured yet).
    opt_in: ClassVar[bool] = False
    # Fact types of extractors that run only on demand (`on_demand = True`, see
    # engine.per_file.extractor_classes) which this rule reads.
    needs_facts: ClassVar[tuple[type, ...]] = ()
    # SARIF / GitHub code scanning metadata. How often the rule is right when it fires:
    # "very-high", "high", "medium" or "low" (GitHub orders alerts by it).
    precision: ClassVar[str] = "high"
    # The CWE number, emitted as the tag `external/cwe/cwe-<n>`. For rules tagged "security"
    # only (its presence makes GitHub treat results as security alerts): GitHub's security
    # severity, a numeric string in (0.0, 10.0] such as "7.5"; None derives it from `level`
    # (error 7.5, warning 5.0, note 2.0).
    cwe: ClassVar[int | None] = None
    security_severity: ClassVar[str | None] = None

    def __init__(self, options: Mapping[str, Any] | None = None) -> None:
        self.options: dict[str, Any] = {**self.defaults, **(options or {})}

    @classmethod
    def family(cls) -> str:
        """The family is the module the rule lives in: mlaudit.rules.randomness -> randomness."""
        return cls.__module__.rsplit(".", 1)[-1]

    @classmethod
    def fixable(cls) -> bool:
        """Whether `mlaudit check --fix` can rewrite what the rule reports: it has fix examples."""
        return bool(cls.fixes)


class PythonRule(Rule):
    """Per-file rule over a Python module (or a notebook's code cells).

    Define `visit_Call(self, node, ctx)` and friends; report with `ctx.report(self, node, msg)`.
    A fresh instance is made for every file, so instance attributes are per-file state.
    `begin(ctx)` runs before the walk and `end(ctx)` after it.
    """

    # File roles (mlaudit.files.kinds) the rule does not apply to, e.g. {"test"}.
    exempt_roles: frozenset[str] = frozenset()
    # Words one of which the module's text must contain for the rule to be able to report: the walk
    # leaves the rule out of every other file. Only for rules that match calls or names by their
    # qualified name, whose last part is written in the file (in the call, or in the import that
    # binds it) whatever the aliases: `from yaml import load as l` still says "yaml". Empty: every file.
    requires_text: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def may_report(cls, text: str) -> bool:
        """Whether the rule can report anything in a module with this source text."""
        return not cls.requires_text or any(word in text for word in cls.requires_text)

    def begin(self, ctx: PyContext) -> None:
        """Called before the walk of a file."""

    def end(self, ctx: PyContext) -> None:
        """Called after the walk of a file."""


class FileRule(Rule):
    """Per-file rule over a non-Python file. `kinds` names the file kinds it wants."""

    kinds: ClassVar[frozenset[str]] = frozenset()

    def check_file(self, file: SourceFile, data: Any) -> Iterable[Finding]:
        """`data` is what the file's parser returned (see mlaudit.engine.per_file.parse_file)."""
        raise NotImplementedError


class ProjectRule(Rule):
    """Project-wide rule: runs once over all file facts and the project model.

    Lines come from facts (or are line 1), lines of one file are compared only with each other,
    and a message cites a line as `line N` (of the finding's own file) or `PATH:N`: then an edit
    that only moves lines keeps the last run's findings, moved (mlaudit.engine.shift)."""

    # Reads the text of Python files from disk, not only their facts: an edit that leaves a
    # file's facts unchanged (a comment) can still change its findings, so a run where this rule
    # is enabled reruns the project rules for any changed file (engine's early cutoff).
    reads_source: ClassVar[bool] = False

    def check(self, model: ProjectModel) -> Iterable[Finding]:
        raise NotImplementedError

