"""Python rules run on notebook code cells; findings point at the notebook's JSON line of that code."""

from __future__ import annotations

import json
from pathlib import Path

from tests.helpers import check, make_repo


def notebook(*cells: tuple[str, list[str]]) -> str:
    document = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [
            {"cell_type": kind, "metadata": {}, "source": source, **({"execution_count": i, "outputs": []} if kind == "code" else {})}
            for i, (kind, source) in enumerate(cells, 1)
        ],
    }
    return json.dumps(document, indent=1) + "\n"


def test_finding_in_a_cell_points_at_the_json_line(tmp_path: Path) -> None:
    text = notebook(
        ("markdown", ["# Training\n"]),
        ("code", ["%matplotlib inline\n", "!pip install torch\n", "import yaml\n"]),
        ("code", ["cfg = yaml.load(open('c.yaml'))\n", "print(cfg)\n"]),
    )
    repo = make_repo(tmp_path / "r", {"analysis.ipynb": text})
    findings = [f for f in check(repo).findings if f.code == "ML602"]
    assert len(findings) == 1
    expected_line = next(i for i, line in enumerate(text.splitlines(), 1) if "yaml.load" in line)
    assert findings[0].path == "analysis.ipynb"
    assert findings[0].line == expected_line
    assert findings[0].message.startswith("cell 3: ")
    assert findings[0].fix is None  # edits would be positioned in the joined cells, not the JSON


def test_magics_and_shell_escapes_do_not_break_parsing(tmp_path: Path) -> None:
    text = notebook(("code", ["%%bash\n", "echo hi\n"]), ("code", ["!ls -la\n", "x = 1\n", "%time y = 2\n"]))
    repo = make_repo(tmp_path / "r", {"n.ipynb": text})
    assert [f.code for f in check(repo).findings] == []


def test_noqa_inside_a_cell_silences(tmp_path: Path) -> None:
    text = notebook(("code", ["import yaml\n", "cfg = yaml.load(open('c.yaml'))  # noqa: ML602\n"]))
    repo = make_repo(tmp_path / "r", {"n.ipynb": text})
    run = check(repo)
    assert run.findings == [] and run.suppressed == 1


def test_syntax_error_in_a_cell_names_the_cell(tmp_path: Path) -> None:
    text = notebook(("code", ["x = 1\n"]), ("code", ["def broken(:\n"]))
    repo = make_repo(tmp_path / "r", {"n.ipynb": text})
    finding = next(f for f in check(repo).findings if f.code == "ML001")
    assert "cell 2" in finding.message
    assert finding.line == next(i for i, line in enumerate(text.splitlines(), 1) if "def broken" in line)


def test_source_segments_match_the_standard_library() -> None:
    import ast

    from mlaudit.facts.walk import PyContext

    source = "x = f(a,\n      'é', b)  # c\n\x0cy = [1,\r\n 2]\n"
    ctx = PyContext("a.py", "a", False, source)
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.expr):
            # Multi-line segments are joined with "\n" whatever the file's line endings.
            expected = ast.get_source_segment(source, node)
            assert ctx.segment(node) == (expected.replace("\r\n", "\n") if expected else expected)
