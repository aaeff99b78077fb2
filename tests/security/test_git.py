"""Nothing the audited repository's git configuration names ever runs.

Each knob is planted with a canary that leaves a marker file. A control runs plain git the way a
user would and shows the canary fires; then `run_git` with the same command, and a whole
`mlaudit check` in every output format, must leave no marker."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaudit.cli import main
from mlaudit.files.git import GitError, find_repo, run_git, run_git_together
from mlaudit.project.git import read_git_state
from tests.security.hostile import KNOBS, embedded_bare_repo, fired, knob_repo, plain_git

FORMATS = ("full", "concise", "json", "sarif", "github")


@pytest.mark.parametrize("name", sorted(KNOBS))
def test_plain_git_fires_the_canary(tmp_path: Path, name: str) -> None:
    root, markers = knob_repo(tmp_path, name)
    plain_git(root, *KNOBS[name][1])
    assert fired(markers), f"the {name} canary is not live: plain git ran nothing"


@pytest.mark.parametrize("name", sorted(KNOBS))
def test_run_git_runs_nothing(tmp_path: Path, name: str) -> None:
    root, markers = knob_repo(tmp_path, name)
    repo = find_repo(root)
    assert repo is not None
    try:
        run_git(repo, *KNOBS[name][1])
    except GitError:
        pass  # fetching is refused outright; what matters is that nothing ran
    assert fired(markers) == []


@pytest.mark.parametrize("name", sorted(KNOBS))
def test_check_runs_nothing(tmp_path: Path, name: str, capsys: pytest.CaptureFixture[str]) -> None:
    root, markers = knob_repo(tmp_path, name)
    for fmt in FORMATS:
        assert main(["check", str(root), "--no-cache", "--output-format", fmt]) == 1
    assert main(["check", str(root), "--fix"]) in (0, 1)
    assert fired(markers) == []
    assert "ML602" in capsys.readouterr().out  # the run did see the repository


def test_run_git_neutralises_pager_and_editor(tmp_path: Path) -> None:
    root, _ = knob_repo(tmp_path, "fsmonitor")
    plain_git(root, "config", "core.pager", "touch evil-pager")
    plain_git(root, "config", "core.editor", "touch evil-editor")
    assert plain_git(root, "var", "GIT_PAGER").stdout.strip() == "touch evil-pager"  # control
    repo = find_repo(root)
    assert repo is not None
    assert run_git(repo, "var", "GIT_PAGER").strip() == b"cat"
    assert run_git(repo, "var", "GIT_EDITOR").strip() == b"false"


def test_git_state_is_unchanged_by_hardening(tmp_path: Path) -> None:
    root, _ = knob_repo(tmp_path, "fsmonitor")
    (root / "new.py").write_text("x = 1\n")
    (root / ".gitignore").write_text("ignored.py\n")
    (root / "ignored.py").write_text("x = 1\n")
    state = read_git_state(root)
    assert state is not None
    assert state.tracked == {"train.py", "a.txt", "b.txt"}
    assert state.untracked == {"new.py", ".gitignore"}


def test_embedded_bare_repo_control(tmp_path: Path) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    outer = tmp_path / "clone"
    embedded_bare_repo(outer / "evil", markers)
    plain_git(outer, "ls-files", cwd=outer / "evil")
    assert "bare-fsmonitor" in fired(markers)


@pytest.mark.parametrize("in_a_clone", [True, False])
def test_embedded_bare_repo_runs_nothing(
    tmp_path: Path, in_a_clone: bool, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    markers = tmp_path / "markers"
    markers.mkdir()
    outer = tmp_path / "clone"
    embedded_bare_repo(outer / "evil", markers)
    if in_a_clone:
        plain_git(outer, "init", "-q")
        plain_git(outer, "add", "-A")
        plain_git(outer, "-c", "user.name=t", "-c", "user.email=t@t", "commit", "-qm", "i", "--no-verify")
        for marker in markers.iterdir():  # whatever the set-up itself ran
            marker.unlink()
    monkeypatch.chdir(outer / "evil")
    for fmt in FORMATS:
        main(["check", "--no-cache", "--output-format", fmt])
        main(["check", ".", "--no-cache", "--output-format", fmt])
    assert fired(markers) == []
    assert capsys.readouterr().out


def test_run_git_bounds_output_and_time(tmp_path: Path) -> None:
    root, _ = knob_repo(tmp_path, "fsmonitor")
    repo = find_repo(root)
    assert repo is not None
    with pytest.raises(GitError, match="more than"):
        run_git(repo, "ls-files", max_bytes=4)
    with pytest.raises(GitError, match="within"):
        run_git(repo, "ls-files", timeout=0)
    with pytest.raises(GitError, match="failed"):
        run_git(repo, "no-such-command")


def test_git_commands_run_together_answer_in_order_and_fail_as_one(tmp_path: Path) -> None:
    root, markers = knob_repo(tmp_path, "fsmonitor")
    repo = find_repo(root)
    assert repo is not None
    cached, version = run_git_together(repo, ("ls-files", "-z"), ("version",))
    assert cached == run_git(repo, "ls-files", "-z") and b"train.py" in cached
    assert version.startswith(b"git version")
    with pytest.raises(GitError, match="failed"):
        run_git_together(repo, ("no-such-command",), ("ls-files",))
    with pytest.raises(GitError, match="more than"):
        run_git_together(repo, ("ls-files",), ("ls-files",), max_bytes=4)
    assert fired(markers) == []


def test_inherited_git_environment_is_ignored(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root, markers = knob_repo(tmp_path, "fsmonitor")
    monkeypatch.setenv("GIT_DIR", str(tmp_path))
    monkeypatch.setenv("GIT_EXTERNAL_DIFF", str(markers / "x"))
    monkeypatch.setenv("GIT_CONFIG_PARAMETERS", "'core.fsmonitor=touch " + str(markers / "env") + "'")
    repo = find_repo(root)
    assert repo is not None
    assert b"train.py" in run_git(repo, "ls-files")
    run_git(repo, "diff", "HEAD")
    assert fired(markers) == []
