"""Issue #12: malformed, pathological and non-regular files found by fuzzing and by hand. Each
becomes an ML001 naming the file and the cause (or a DVC finding), the rest of the repo is still
checked, and nothing blocks or crashes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlaudit.engine.per_file import MAX_PYTHON_TOKENS
from mlaudit.files.sources import SourceError, read_bytes
from mlaudit.files.structured import (
    MAX_TOML_BYTES,
    MAX_TOML_SEPARATORS,
    MAX_YAML_NODES,
    parse_json,
    parse_toml,
    parse_yaml,
)
from tests.helpers import check, located, make_repo, write_tree

GOOD = "import torch\ntorch.backends.cudnn.benchmark = True\n"  # ML103 on line 2


def deep_calls(depth: int) -> str:
    chain = "".join(f"def f{i}():\n    return f{i + 1}()\n" for i in range(depth))
    return chain + f"def f{depth}():\n    import random\n    return random.random()\n" + "if __name__ == '__main__':\n    f0()\n"


BROKEN = {
    "yaml-date": (".github/workflows/ci.yml", "on: push\ndate: 2023-02-29\n", "'2023-02-29': day is out of range"),
    "yaml-int-tag": ("conf/c.yaml", "a: !!int abc\n", "'abc'"),
    "yaml-long-int": ("conf/c.yaml", "a: " + "1" * 5000 + "\n", "more digits than Python's limit"),
    "yaml-float-tag": ("conf/c.yaml", "a: !!float abc\n", "invalid YAML value 'abc'"),
    "toml-long-int": ("conf/c.toml", "a = " + "1" * 5000 + "\n", "more digits than Python's limit"),
    "toml-nested-arrays": ("conf/c.toml", "a = " + "[" * 1000 + "]" * 1000 + "\n", "nesting too deep"),
    "toml-nested-tables": ("conf/c.toml", "a = " + "{b = " * 1000 + "1" + "}" * 1000 + "\n", "nesting too deep"),
    "toml-dotted-header": ("conf/c.toml", "[" + ".".join(f"a{i}" for i in range(900)) + "]\nx = 1\n", "deeper than 100"),
    "nb3-worksheets-int": ("nb.ipynb", json.dumps({"nbformat": 3, "worksheets": 3}), "no cell list for nbformat 3"),
    "nb3-worksheets-dict": ("nb.ipynb", json.dumps({"nbformat": 3, "worksheets": {"a": 1}}), "no cell list"),
    "nb3-worksheet-str": ("nb.ipynb", json.dumps({"nbformat": 3, "worksheets": ["x"]}), "no cell list"),
    "nb-long-int": ("nb.ipynb", '{"nbformat": 4, "cells": [], "x": ' + "1" * 5000 + "}", "more digits than"),
    "nb-deep-json": ("nb.ipynb", '{"nbformat": 4, "cells": [], "x": ' + "[" * 150 + "]" * 150 + "}", "deeper than 100"),
    "environment-deep": ("environment.yml", "dependencies:\n- " + "[" * 900 + "]" * 900 + "\n", "nested"),
    "python-token-budget": ("gen.py", "a\n" * (MAX_PYTHON_TOKENS + 1), "over the parse budget"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_malformed_file_is_ml001_and_the_run_goes_on(tmp_path: Path, case: str) -> None:
    path, content, cause = BROKEN[case]
    repo = make_repo(tmp_path / "r", {path: content, "train.py": GOOD})
    run = check(repo)
    messages = {f.path: f.message for f in run.findings if f.code == "ML001"}
    assert path in messages, run.findings
    assert Path(path).name in messages[path] and cause in messages[path]
    assert ("train.py", 2, "ML103") in located(run)
    assert run.exit_code == 1 and not run.notifications


def test_gitignore_line_with_one_backslash_is_skipped_as_git_does(tmp_path: Path) -> None:
    # Outside git, mlaudit reads .gitignore itself; pathspec rejects a lone backslash.
    repo = write_tree(tmp_path / "r", {".gitignore": "\\\nignored.py\n[z-a]\n", "train.py": GOOD, "ignored.py": GOOD})
    run = check(repo)
    assert located(run) == {("train.py", 2, "ML103")}


def test_dvc_lock_with_outs_not_a_list_is_a_finding_on_that_file(tmp_path: Path) -> None:
    files = {
        "dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    outs: 3\n",
        "dvc.lock": "schema: '2.0'\nstages:\n  train:\n    cmd: python train.py\n    outs: 3\n",
        "train.py": GOOD,
    }
    run = check(make_repo(tmp_path / "r", files))
    assert not run.notifications, run.notifications
    assert ("dvc.lock", 5, "ML404") in located(run)
    assert ("train.py", 2, "ML103") in located(run)


@pytest.mark.parametrize("depth", [490, 2000])
def test_a_call_chain_deeper_than_the_stack_is_not_an_internal_error(tmp_path: Path, depth: int) -> None:
    run = check(make_repo(tmp_path / "r", {"train.py": deep_calls(depth)}))
    assert not run.notifications and run.exit_code in (0, 1)


def test_a_shallow_call_chain_is_still_followed(tmp_path: Path) -> None:
    # The depth cap must not hide real findings: 40 calls deep, the unseeded draw is still seen.
    run = check(make_repo(tmp_path / "r", {"train.py": deep_calls(40)}), select=["ML101"])
    assert {f.code for f in run.findings} == {"ML101"}


def test_an_import_chain_of_490_modules_is_not_an_internal_error(tmp_path: Path) -> None:
    files = {f"m{i}.py": f"import m{i + 1}\nimport random\nrandom.random()\n" for i in range(490)}
    files["train.py"] = "import m0\n"
    run = check(make_repo(tmp_path / "r", files))
    assert not run.notifications and run.exit_code in (0, 1)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_a_fifo_named_train_py_is_never_opened_for_reading(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "r", {"a.py": GOOD})
    os.mkfifo(repo / "train.py")
    # In a subprocess with a timeout: a blocking open would hang the test run otherwise.
    code = f"from tests.helpers import check; r = check(__import__('pathlib').Path({str(repo)!r})); print(r.exit_code)"
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                            cwd=Path(__file__).parents[2])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() in ("0", "1")
    with pytest.raises(SourceError, match="FIFO"):
        read_bytes(repo / "train.py", 2**20)


def test_a_file_over_the_size_limit_or_the_parse_budget_is_ml001_and_not_parsed(tmp_path: Path) -> None:
    big = "# x = 1\n" * (2**20 // 8 + 1)  # just over 1 MiB
    generated = "a\n" * (MAX_PYTHON_TOKENS + 1)  # within the size limit, over the parse budget
    files = {"mlaudit.toml": "max-file-mib = 1\n", "big.py": big, "gen.py": generated, "train.py": GOOD}
    run = check(make_repo(tmp_path / "r", files))
    messages = {f.path: f.message for f in run.findings if f.code == "ML001"}
    assert "over the 1 MiB limit" in messages["big.py"] and "over the parse budget" in messages["gen.py"]
    assert ("train.py", 2, "ML103") in located(run)


def test_structured_parse_budgets() -> None:
    with pytest.raises(SourceError, match="over the parse budget"):
        parse_yaml("- 1\n" * (MAX_YAML_NODES + 1))
    with pytest.raises(SourceError, match="over the parse budget"):
        parse_toml("a = 1\n" + "#" * MAX_TOML_BYTES)
    with pytest.raises(SourceError, match="TOML holds over"):
        parse_toml("a = [" + "1," * MAX_TOML_SEPARATORS + "1]")
    with pytest.raises(SourceError, match="deeper than 100"):
        parse_json("[" * 101 + "]" * 101)
    assert parse_yaml("- 1\n" * 1000).data == [1] * 1000  # below the count threshold, as before
    assert parse_json("[" * 100 + "]" * 100) is not None


def test_an_exception_inside_a_parser_is_ml001_not_a_crash(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # A parser bug we have not met yet: the file is reported and the run goes on.
    import mlaudit.engine.per_file as facts

    def broken(text: str) -> object:
        raise KeyError("boom")

    monkeypatch.setattr(facts, "parse_yaml", broken)
    repo = make_repo(tmp_path / "r", {"conf/c.yaml": "a: 1\n", "train.py": GOOD})
    run = check(repo)
    messages = {f.path: f.message for f in run.findings if f.code == "ML001"}
    assert "KeyError" in messages["conf/c.yaml"] and "c.yaml" in messages["conf/c.yaml"]
    assert ("train.py", 2, "ML103") in located(run)


def test_a_crashing_project_rule_still_writes_the_report_and_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from mlaudit.cli import main
    from mlaudit.rules import rule_by_code

    rule = rule_by_code("ML404")
    assert rule is not None

    def explode(self: object, model: object) -> object:
        raise RecursionError("maximum recursion depth exceeded")

    monkeypatch.setattr(rule, "check", explode)
    repo = make_repo(tmp_path / "r", {"train.py": GOOD})
    assert main(["check", "--no-cache", "--output-format", "concise", str(repo)]) == 2
    out, err = capsys.readouterr()
    assert "train.py:2:1: ML103" in out
    assert "internal error in ML404" in err and "RecursionError" in err and "Traceback" not in err


def test_an_unexpected_engine_error_is_one_line_and_exit_2_not_a_traceback(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    import mlaudit.engine.check as engine
    from mlaudit.cli import main

    def broken(*args: object) -> object:
        raise TypeError("unexpected")

    monkeypatch.setattr(engine, "build_settings", broken)
    monkeypatch.delenv("MLAUDIT_DEBUG", raising=False)
    repo = make_repo(tmp_path / "r", {"train.py": GOOD})
    assert main(["check", "--no-cache", str(repo)]) == 2
    err = capsys.readouterr().err
    assert err.strip() == "mlaudit: internal error: TypeError: unexpected; please report it (MLAUDIT_DEBUG=1 prints the traceback)"
