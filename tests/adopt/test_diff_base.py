"""`check --diff-base REF`: only findings on lines changed since REF, and in files added since."""

from __future__ import annotations

from pathlib import Path

from mlaudit.engine.changed import parse_diff
from tests.adopt.conftest import OPT_IN_ML502, TRAIN, insert_lines, reported, run_cli
from tests.helpers import git, make_repo

FILES = {"train.py": TRAIN, "requirements.txt": "torch\n", **OPT_IN_ML502}


def test_only_changed_lines_are_reported(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    assert run_cli(repo, "check", ".", "--diff-base", "HEAD").returncode == 0
    insert_lines(repo / "train.py", 1, [f"CONSTANT_{i} = {i}" for i in range(50)])  # moves the old findings
    insert_lines(repo / "train.py", 56, ["    backup = torch.load(path + '.bak')"])
    result = run_cli(repo, "check", ".", "--diff-base", "HEAD")
    assert result.returncode == 1 and reported(result) == ["train.py:57 ML601"]
    assert "3 findings on lines unchanged since HEAD not shown." in result.stdout


def test_staged_changes_count_and_commits_since_the_base(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    git(repo, "checkout", "-q", "-b", "feature")
    (repo / "requirements.txt").write_text("torch\nnumpy\n")
    git(repo, "commit", "-qam", "numpy")
    assert reported(run_cli(repo, "check", ".", "--diff-base", "HEAD")) == []
    # One ML502 per file, at its first unpinned line; shown because another unpinned line changed.
    assert reported(run_cli(repo, "check", ".", "--diff-base", "HEAD~1")) == ["requirements.txt:1 ML502"]


def test_new_files_count_as_a_whole(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    (repo / "data").mkdir()
    (repo / "data" / "train.csv").write_text("a,b\n" * 10)  # untracked data: ML401 on line 1
    (repo / "eval.py").write_text("import torch\nckpt = torch.load('m.pt')\n")
    result = reported(run_cli(repo, "check", ".", "--diff-base", "HEAD"))
    assert "eval.py:2 ML601" in result and any(r.startswith("data/train.csv:1 ML4") for r in result)
    assert not any(r.startswith("train.py") for r in result)


def test_works_with_a_baseline(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    assert run_cli(repo, "baseline", "-o", "known.json").returncode == 0
    path = repo / "train.py"
    path.write_text(path.read_text().replace("    model = torch.load(path)\n", "    model = torch.load(path)  # changed line, known finding\n"))
    assert reported(run_cli(repo, "check", ".", "--diff-base", "HEAD")) == ["train.py:5 ML601"]
    assert reported(run_cli(repo, "check", ".", "--diff-base", "HEAD", "--baseline", "known.json")) == []


def test_bad_references_exit_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", FILES)
    for ref in ("no-such-branch", "--output=/tmp/x"):
        result = run_cli(repo, "check", ".", f"--diff-base={ref}")
        assert result.returncode == 2 and "--diff-base" in result.stderr and "Traceback" not in result.stderr
    plain = make_repo(tmp_path / "plain", FILES, commit=False)
    assert run_cli(plain, "check", ".", "--diff-base", "HEAD").returncode == 2


def test_parse_diff_reads_hunks_renames_binaries_and_quoted_names() -> None:
    diff = "\n".join(
        [
            "diff --git a/src/m.py b/src/m.py",
            "index 1..2 100644",
            "--- a/src/m.py",
            "+++ b/src/m.py",
            "@@ -3 +3,2 @@ def f():",
            "-old",
            "++++ b/evil.py",  # an added line that looks like a header
            "+new",
            "@@ -10,2 +11,0 @@",
            "-gone",
            "-gone",
            "diff --git a/old.py b/new.py",
            "similarity index 90%",
            "rename from old.py",
            "rename to new.py",
            "--- a/old.py",
            "+++ b/new.py",
            "@@ -1 +1 @@",
            "-a",
            "+b",
            "\\ No newline at end of file",
            "diff --git a/data/x.bin b/data/x.bin",
            "new file mode 100644",
            "index 0..1",
            "Binary files /dev/null and b/data/x.bin differ",
            'diff --git "a/t\\303\\251st.py" "b/t\\303\\251st.py"',
            "--- \"a/t\\303\\251st.py\"",
            "+++ \"b/t\\303\\251st.py\"",
            "@@ -0,0 +1 @@",
            "+x",
            "",
        ]
    )
    changed = parse_diff(diff)
    assert changed.lines == {"src/m.py": {3, 4}, "new.py": {1}, "tést.py": {1}}
    assert changed.whole == {"data/x.bin"}
    assert "evil.py" not in changed.lines


def test_a_clone_missing_a_deleted_files_blob_still_works(tmp_path: Path) -> None:
    """Corpus-style clones leave large files out; a diff that touches such a file fails in git."""
    repo = make_repo(tmp_path / "repo", {**FILES, "big.bin": b"\0" * 100})
    blob = git(repo, "rev-parse", "HEAD:big.bin").strip()
    (repo / ".git" / "objects" / blob[:2] / blob[2:]).unlink()
    (repo / "big.bin").unlink()
    insert_lines(repo / "train.py", 11, ["", "", "def again(path):", "    return torch.load(path)"])
    result = run_cli(repo, "check", ".", "--diff-base", "HEAD")
    assert reported(result) == ["train.py:15 ML601"], result.stderr


def test_a_project_in_a_subfolder_maps_paths_to_the_repository(tmp_path: Path) -> None:
    files = {"README.md": "x\n", "proj/pyproject.toml": '[project]\nname = "p"\ndependencies = ["torch==2.1.0"]\n', "proj/train.py": TRAIN}
    repo = make_repo(tmp_path / "repo", files)
    insert_lines(repo / "proj" / "train.py", 11, ["", "", "def again(path):", "    return torch.load(path)"])
    found = reported(run_cli(repo / "proj", "check", ".", "--diff-base", "HEAD"))
    assert len(found) == 1 and found[0].endswith("train.py:15 ML601")
    assert run_cli(repo / "proj", "baseline", "-o", "known.json").returncode == 0
    assert reported(run_cli(repo / "proj", "check", ".", "--baseline", "known.json")) == []


def test_no_filter_program_of_the_repository_runs(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "repo", {**FILES, ".gitattributes": "*.py filter=evil\n"})
    marker = tmp_path / "ran"
    git(repo, "config", "filter.evil.clean", f"touch {marker}; cat")
    git(repo, "config", "filter.evil.process", f"touch {marker}")
    insert_lines(repo / "train.py", 11, ["", "", "def again(path):", "    return torch.load(path)"])
    assert reported(run_cli(repo, "check", ".", "--diff-base", "HEAD")) == ["train.py:15 ML601"]
    git(repo, "mv", "train.py", "fit.py")
    assert run_cli(repo, "baseline", "-o", "b.json").returncode == 0
    (repo / "fit.py").rename(repo / "train2.py")
    run_cli(repo, "check", ".", "--baseline", "b.json")
    assert not marker.exists()
