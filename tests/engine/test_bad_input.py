"""Bad input never crashes a run: each bad file becomes ML001 (or a clear note) and the run goes on."""

from __future__ import annotations

import errno
import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mlaudit.engine.check import CheckOptions, check_paths
from mlaudit.engine.per_file import analyse_file
from mlaudit.files import boundary, sources
from mlaudit.files.kinds import classify
from mlaudit.files.sources import SourceFile
from tests.helpers import check, located, make_repo, write_tree

GOOD = "import torch\ntorch.backends.cudnn.benchmark = True\n"


def ml001(run: object) -> dict[str, str]:
    return {f.path: f.message for f in run.findings if f.code == "ML001"}  # type: ignore[attr-defined]


def test_each_broken_file_is_reported_and_the_rest_still_checked(tmp_path: Path) -> None:
    files: dict[str, str | bytes] = {
        "train.py": GOOD,
        "syntax.py": "def f(:\n    pass\n",
        "binary.py": b"\x00\x01\x02ELF junk",
        "latin1.py": b"x = '\xe9t\xe9'\n",
        "conf/broken.yaml": "model: [unclosed\n",
        "pyproject.toml": "[project\nname = 'x'\n",
        "Pipfile.lock": "{not json",
        "nb.ipynb": "{\"cells\": 3}",
        "nb_json.ipynb": "not json at all",
    }
    repo = make_repo(tmp_path / "repo", files)
    run = check(repo)
    messages = ml001(run)
    assert set(messages) == {
        "syntax.py", "binary.py", "latin1.py", "conf/broken.yaml", "pyproject.toml", "Pipfile.lock", "nb.ipynb", "nb_json.ipynb",
    }
    assert "invalid Python syntax" in messages["syntax.py"]
    assert "binary content" in messages["binary.py"]
    assert "not valid UTF-8" in messages["latin1.py"]
    assert "invalid YAML" in messages["conf/broken.yaml"]
    assert "invalid TOML" in messages["pyproject.toml"]
    assert "invalid JSON" in messages["Pipfile.lock"]
    assert "no cell list" in messages["nb.ipynb"]
    assert ("train.py", 2, "ML103") in located(run)
    assert run.exit_code == 1


def test_syntax_error_points_at_its_line(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"a.py": "x = 1\ny = (\n"})
    finding = next(f for f in check(repo).findings if f.code == "ML001")
    assert finding.line == 2


def test_declared_encoding_is_honoured(tmp_path: Path) -> None:
    source = "# -*- coding: latin-1 -*-\nimport torch\nname = 'caf\xe9'\ntorch.backends.cudnn.benchmark = True\n"
    repo = make_repo(tmp_path / "repo", {"a.py": source.encode("latin-1")})
    assert located(check(repo)) == {("a.py", 4, "ML103")}


def test_file_over_the_size_limit_is_reported_not_read(tmp_path: Path) -> None:
    big = "x = 1\n" * 400_000  # about 2.3 MiB
    repo = make_repo(tmp_path / "repo", {"big.py": big, "pyproject.toml": "[tool.mlaudit]\nmax-file-mib = 1\n"})
    messages = ml001(check(repo))
    assert "over the 1 MiB limit" in messages["big.py"]


def test_symlink_loop_and_dangling_link(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"train.py": GOOD}, commit=False)
    os.symlink("loop.py", repo / "loop.py")
    os.symlink("missing.py", repo / "dangling.py")
    os.symlink(".", repo / "self_dir")
    run = check(repo)
    messages = ml001(run)
    assert "cannot read file" in messages["loop.py"]
    assert "cannot read file" in messages["dangling.py"]
    assert ("train.py", 2, "ML103") in located(run)


def test_symlink_loops_outside_git_do_not_hang(tmp_path: Path) -> None:
    repo = write_tree(tmp_path / "plain", {"train.py": GOOD, "pyproject.toml": "[project]\nname='x'\n"})
    os.symlink("..", repo / "up")
    os.symlink(".", repo / "here")
    run = check(repo)
    assert located(run, "ML103") == {("train.py", 2, "ML103")}


def test_unreadable_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Root reads a file whatever its mode, so the refusal is simulated where the source reader opens
    # the file (in this process: jobs=1), and the same test runs, and can fail, for root and others.
    repo = make_repo(tmp_path / "repo", {"secret.py": GOOD, "train.py": GOOD})
    (repo / "secret.py").chmod(0)

    def refuse_secret(path: str | Path) -> int:
        if Path(path).name == "secret.py":
            raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(path))
        return boundary.open_regular(path)

    monkeypatch.setattr(sources, "open_regular", refuse_secret)
    run = check_paths([repo], CheckOptions(use_cache=False, jobs=1))
    assert "Permission denied" in ml001(run)["secret.py"]
    assert ("train.py", 2, "ML103") in located(run)  # the run went on


def test_deeply_nested_expression_does_not_crash(tmp_path: Path) -> None:
    chain = "x = " + " + ".join(["1"] * 20_000) + "\n"
    repo = make_repo(tmp_path / "repo", {"deep.py": chain, "train.py": GOOD})
    run = check(repo)
    assert ("train.py", 2, "ML103") in located(run)
    assert run.exit_code == 1 and not run.notifications


def test_yaml_alias_bomb_is_refused(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i-1}'] * 10)}]" for i in range(1, 9)]
    repo = make_repo(tmp_path / "repo", {"bomb.yaml": "\n".join(lines) + "\n"})
    assert "too large" in ml001(check(repo))["bomb.yaml"]


def _source(tmp_path: Path, name: str, data: bytes) -> SourceFile:
    path = tmp_path / name
    path.write_bytes(data)
    return SourceFile(name, path, classify(name), len(data), None)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.binary(max_size=400), name=st.sampled_from(["a.py", "b.yaml", "c.toml", "d.ipynb", "Pipfile.lock", "dvc.yaml"]))
def test_random_bytes_never_raise(tmp_path: Path, data: bytes, name: str) -> None:
    result = analyse_file(_source(tmp_path, name, data), [], [], 2**20)
    assert result.facts.error is None or [f.code for f in result.findings] == ["ML001"]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.text(max_size=300))
def test_random_text_as_python_never_raises(tmp_path: Path, text: str) -> None:
    from mlaudit.rules import PythonRule, all_rules

    rules = [r for r in all_rules() if issubclass(r, PythonRule)]
    result = analyse_file(_source(tmp_path, "r.py", text.encode("utf-8", "surrogatepass")), rules, [], 2**20)
    assert not result.errors


def test_notebook_v3_is_read(tmp_path: Path) -> None:
    notebook = {
        "nbformat": 3,
        "worksheets": [{"cells": [{"cell_type": "code", "input": ["import yaml\n", "yaml.load(open('a'))\n"], "prompt_number": 1}]}],
    }
    repo = make_repo(tmp_path / "repo", {"old.ipynb": json.dumps(notebook, indent=1)})
    run = check_paths([repo], CheckOptions(use_cache=False))
    assert [f.code for f in run.findings] == ["ML602"]
