"""Suppression as ruff users expect it."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.engine.suppress import FileNoqa, parse_noqa
from tests.adopt.conftest import run_cli
from tests.helpers import check, located, make_repo

BENCH = "torch.backends.cudnn.benchmark = True"


def test_noqa_in_any_case() -> None:
    for spelling in ("NOQA", "NoQa", "noqa"):
        noqa = parse_noqa(f"import torch\n{BENCH}  # {spelling}:ML103\n")
        assert [(d.line, d.codes) for d in noqa.directives] == [(2, ("ML103",))]


def test_bare_file_level_directive_silences_the_whole_file_and_is_not_commented_out_code(tmp_path: Path) -> None:
    files = {"a.py": f"# mlaudit: noqa\nimport torch\n{BENCH}\n", "b.py": f"import torch\n{BENCH}\n"}
    run = check(make_repo(tmp_path / "r", files), select=["ML103", "ML303"])
    assert located(run) == {("b.py", 2, "ML103")}
    assert run.suppressed == 1  # ML103 in a.py; the directive line itself was never a finding


def test_an_inline_file_level_directive_covers_only_its_line() -> None:
    noqa = parse_noqa(f"import torch\n{BENCH}  # mlaudit: noqa\n{BENCH}\n")
    assert [(d.whole_file, d.covers) for d in noqa.directives] == [(False, (2,))]


def test_directives_in_strings_and_docstrings_do_not_count(tmp_path: Path) -> None:
    source = f'"""Write `{BENCH}  # noqa: ML103` to silence it."""\nimport torch\ns = "# noqa: ML103"; {BENCH}\n'
    run = check(make_repo(tmp_path / "r", {"a.py": source}), select=["ML103"])
    assert located(run) == {("a.py", 3, "ML103")}


def test_a_directive_at_the_end_of_a_multiline_string_covers_its_lines() -> None:
    noqa = parse_noqa('x = f("""\nabc\n""")  # noqa: ML201\n')
    assert noqa.directives[0].covers == (1, 2, 3)


def test_unknown_codes_are_warned_about_without_changing_the_exit_code(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": f"import torch\n{BENCH}  # noqa: ML1033, E501\n"})
    result = run_cli(repo, "check", ".", "--select", "ML103")
    assert result.returncode == 1
    assert result.stderr.count("unknown rule code") == 1 and "a.py:2: unknown rule code ML1033" in result.stderr


def test_negated_per_file_ignores_apply_to_files_not_matching(tmp_path: Path) -> None:
    pyproject = '[project]\nname = "x"\n[tool.mlaudit.per-file-ignores]\n"!src/**" = ["ML103"]\n'
    files = {"pyproject.toml": pyproject, "src/m.py": f"import torch\n{BENCH}\n", "scripts/s.py": f"import torch\n{BENCH}\n"}
    run = check(make_repo(tmp_path / "r", files), select=["ML103"])
    assert located(run) == {("src/m.py", 2, "ML103")}


def test_unused_noqa_is_off_by_default_and_reports_when_selected(tmp_path: Path) -> None:
    files = {"a.py": "import torch\ntorch.backends.cudnn.benchmark = False  # noqa: ML103, E501\n"}
    repo = make_repo(tmp_path / "r", files)
    assert located(check(repo)) == set()
    run = check(repo, select=["ML", "ML002"])
    assert located(run) == {("a.py", 2, "ML002")}
    assert "ML103" in run.findings[0].message and "E501" not in run.findings[0].message


def test_a_file_with_only_other_linters_directives_is_not_tokenized_unless_ml303_asks() -> None:
    source = "import os\n# noqa: E501\nx = os.sep  # noqa: S310\n"
    assert parse_noqa(source, directive_lines=False) == FileNoqa([], [])
    assert parse_noqa(source).directive_only == {2}  # what ML303's findings are checked against


def _directives(noqa: FileNoqa) -> list[tuple[object, ...]]:
    return [(d.line, d.col, d.codes, d.whole_file, d.covers) for d in noqa.directives]


@settings(max_examples=300, deadline=None)
@given(
    st.lists(st.sampled_from(["# noqa", "# NoQA", ": ", "ML101", "Ml1033", "S310", "mlaudit", "# mlaudit: noqa", "\n",
                              "\r", "x = 1  ", "'# noqa: ML101'", '"""', "ml", " "]), max_size=10).map("".join),
    st.sampled_from(["python", "yaml", "text"]),
)
def test_skipping_other_linters_files_never_changes_what_silences_mlaudit(text: str, fmt: str) -> None:
    """Without the directive lines, only files that cannot hold an mlaudit directive are skipped:
    the directives and unknown codes are those of the full reading."""
    full, lean = parse_noqa(text, fmt), parse_noqa(text, fmt, directive_lines=False)
    assert _directives(lean) == _directives(full) and lean.unknown == full.unknown
