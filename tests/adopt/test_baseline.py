"""`mlaudit baseline` and `check --baseline`: only new findings are reported, whatever else moved."""

from __future__ import annotations

import json
import random
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.engine.baseline import Key, line_hash_at, match
from mlaudit.engine.fingerprint import line_hashes
from tests.adopt.conftest import OPT_IN_ML502, TRAIN, insert_lines, reported, run_cli
from tests.helpers import git, make_repo


def _adopted(tmp_path: Path, files: dict[str, str] | None = None) -> Path:
    repo = make_repo(tmp_path / "repo", files or {"train.py": TRAIN, "requirements.txt": "torch\n", **OPT_IN_ML502})
    written = run_cli(repo, "baseline")
    assert written.returncode == 0, written.stderr
    assert "wrote 3 findings" in written.stderr
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "baseline")
    return repo


def test_baseline_hides_known_findings_and_reports_a_new_one(tmp_path: Path) -> None:
    repo = _adopted(tmp_path)
    assert reported(run_cli(repo, "check", ".")) == ["requirements.txt:1 ML502", "train.py:5 ML601", "train.py:10 ML601"]
    clean = run_cli(repo, "check", ".", "--baseline", "mlaudit-baseline.json")
    assert clean.returncode == 0 and reported(clean) == []
    assert "3 known findings from the baseline not shown." in clean.stdout
    insert_lines(repo / "train.py", 11, ["", "", "def again(path):", "    return torch.load(path)"])
    new = run_cli(repo, "check", ".", "--baseline", "mlaudit-baseline.json")
    assert new.returncode == 1 and reported(new) == ["train.py:15 ML601"]


def test_moved_lines_and_unrelated_edits_keep_entries(tmp_path: Path) -> None:
    repo = _adopted(tmp_path)
    insert_lines(repo / "train.py", 1, [f"CONSTANT_{i} = {i}" for i in range(50)])
    # An edit right after a known finding changes its GitHub line hash; its text still matches.
    path = repo / "train.py"
    path.write_text(path.read_text().replace("    return model\n", "    model.eval()\n    return model\n"))
    result = run_cli(repo, "check", ".", "--baseline", "mlaudit-baseline.json")
    assert reported(result) == [] and result.returncode == 0


def test_a_copy_of_a_known_line_is_still_new(tmp_path: Path) -> None:
    repo = _adopted(tmp_path)
    path = repo / "train.py"
    path.write_text(path.read_text().replace("    model = torch.load(path)\n", "    model = torch.load(path)\n    model = torch.load(path)\n"))
    assert len(reported(run_cli(repo, "check", ".", "--baseline", "mlaudit-baseline.json"))) == 1


def test_fixed_findings_are_counted(tmp_path: Path) -> None:
    repo = _adopted(tmp_path)
    path = repo / "train.py"
    path.write_text(path.read_text().replace("torch.load(path)", "torch.load(path, weights_only=True)"))
    result = run_cli(repo, "check", ".", "--baseline", "mlaudit-baseline.json")
    assert result.returncode == 0
    assert "2 baseline findings fixed; run `mlaudit baseline` to shrink it." in result.stdout
    # A run on one file does not call the findings of other files fixed.
    scoped = run_cli(repo, "check", "requirements.txt", "--baseline", "mlaudit-baseline.json")
    assert "fixed" not in scoped.stdout


def test_a_renamed_file_keeps_its_entries(tmp_path: Path) -> None:
    repo = _adopted(tmp_path)
    git(repo, "mv", "train.py", "fit.py")
    insert_lines(repo / "fit.py", 1, [f"CONSTANT_{i} = {i}" for i in range(50)])  # too different for -M alone
    result = run_cli(repo, "check", ".", "--baseline", "mlaudit-baseline.json")
    assert reported(result) == [] and "fixed" not in result.stdout


def test_a_rename_committed_after_the_baseline_keeps_its_entries(tmp_path: Path) -> None:
    repo = _adopted(tmp_path)
    (repo / "train.py").rename(repo / "fit.py")
    insert_lines(repo / "fit.py", 1, ["# loading helpers"])
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "rename")
    assert reported(run_cli(repo, "check", ".", "--baseline", "mlaudit-baseline.json")) == []


def test_deleted_file_counts_as_fixed(tmp_path: Path) -> None:
    repo = _adopted(tmp_path)
    (repo / "train.py").unlink()
    result = run_cli(repo, "check", ".", "--baseline", "mlaudit-baseline.json")
    assert result.returncode == 0 and "2 baseline findings fixed" in result.stdout


def test_configured_baseline_is_used_and_ignored_by_the_baseline_command(tmp_path: Path) -> None:
    files = {"train.py": TRAIN, "pyproject.toml": '[project]\nname = "x"\ndependencies = ["torch"]\n\n[tool.mlaudit]\nbaseline = "ci/known.json"\n'}
    repo = make_repo(tmp_path / "repo", files)
    (repo / "ci").mkdir()
    missing = run_cli(repo, "check", ".")
    assert missing.returncode == 2 and "ci/known.json does not exist" in missing.stderr
    assert run_cli(repo, "baseline").returncode == 0
    document = json.loads((repo / "ci" / "known.json").read_text())
    assert document["mlaudit-baseline"] == 1 and {e["code"] for e in document["findings"]} >= {"ML601"}
    assert run_cli(repo, "baseline").returncode == 0  # rewritten from every finding, not from the filtered run
    assert json.loads((repo / "ci" / "known.json").read_text())["findings"] == document["findings"]
    assert run_cli(repo, "check", ".").returncode == 0
    assert run_cli(repo, "check", ".", "--no-baseline").returncode == 1


def test_a_broken_baseline_file_exits_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"train.py": TRAIN})
    (repo / "b.json").write_text('{"findings": []}')
    result = run_cli(repo, "check", ".", "--baseline", "b.json")
    assert result.returncode == 2 and "is not an mlaudit baseline" in result.stderr and "Traceback" not in result.stderr
    (repo / "b.json").write_text('{"mlaudit-baseline": 1, "findings": [{"code": "ML601", "path": "x", "line-hash": "", "text-hash": "", "count": 0}]}')
    assert "invalid count" in run_cli(repo, "check", ".", "--baseline", "b.json").stderr


def test_counts_limit_matches() -> None:
    known = Key("ML601", "a.py", "h", "t")
    other_place = Key("ML601", "a.py", "h2", "t")
    found, left = match({known: 1}, [known, other_place])
    assert found == [True, False] and left == {}
    found, left = match({known: 2}, [other_place])
    assert found == [True] and left == {known: 1}


@settings(max_examples=60, deadline=None)
@given(st.lists(st.text(alphabet=" \t\r\nab#()é\U0001f600", max_size=30), min_size=1, max_size=12))
def test_line_hash_at_equals_githubs_line_hash(lines: list[str]) -> None:
    text = "\n".join(lines)
    hashes = line_hashes(text)
    starts = [0]
    index = 0
    while index < len(text):
        if text[index] == "\r":
            index += 2 if text[index + 1 : index + 2] == "\n" else 1
            starts.append(index)
            continue
        if text[index] == "\n":
            starts.append(index + 1)
        index += 1
    for number, start in enumerate(starts[: len(hashes)]):
        assert line_hash_at(text, start) == hashes[number].split(":")[0]


def test_line_hash_at_on_a_long_file() -> None:
    rng = random.Random(0)
    text = "".join(f"{'    ' * rng.randint(0, 3)}value_{rng.randint(0, 99)} = {rng.random()}\n" for _ in range(300))
    hashes = line_hashes(text)
    offset = 0
    for number, line in enumerate(text.splitlines(keepends=True)):
        assert line_hash_at(text, offset) == hashes[number].split(":")[0]
        offset += len(line)


def test_contradicting_options_exit_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {"train.py": TRAIN})
    result = run_cli(repo, "check", ".", "--baseline", "b.json", "--no-baseline")
    assert result.returncode == 2 and "contradict" in result.stderr


def test_a_configured_baseline_outside_the_project_is_refused(tmp_path: Path) -> None:
    outside = tmp_path / "outside.json"
    outside.write_text("precious\n")
    pyproject = '[project]\nname = "x"\n\n[tool.mlaudit]\nbaseline = "../outside.json"\n'
    repo = make_repo(tmp_path / "repo", {"train.py": TRAIN, "pyproject.toml": pyproject})
    (repo / "link.json").symlink_to(outside)
    for setting in ("../outside.json", "link.json"):
        (repo / "pyproject.toml").write_text(pyproject.replace("../outside.json", setting))
        for command in (("check", "."), ("baseline",)):
            result = run_cli(repo, *command)
            assert result.returncode == 2 and "points outside the project" in result.stderr
    assert outside.read_text() == "precious\n"
