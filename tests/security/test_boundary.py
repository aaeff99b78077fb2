"""mlaudit reads only regular files inside the repository: a symlink out of it is never opened,
a FIFO or device never blocks the run, and --fix writes only regular files inside it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from mlaudit.cli import main
from mlaudit.files.boundary import is_inside, read_inside, screen
from mlaudit.findings import Edit, Finding, Fix
from mlaudit.fix.apply import apply_fixes
from tests.helpers import make_repo, write_tree
from tests.security.hostile import SECRET

FORMATS = ("full", "concise", "json", "sarif", "github")
# Files whose content mlaudit reads, each a symlink to the secret outside the repository.
LINKED_NAMES = (
    "requirements.txt", "config.yaml", "conf/train.yaml", "train.py", "notebook.ipynb", "pyproject.toml", ".gitignore", ".gitattributes", "dvc.yaml", "environment.yml", "setup.cfg", "params.json",
    "uv.lock", "data/model.pt",
)


def outside_secret(tmp_path: Path) -> Path:
    secret = tmp_path / "home" / ".netrc"
    secret.parent.mkdir()
    secret.write_text(f"machine github.com login bot password {SECRET}\nimport torch: {SECRET}\n")
    return secret


def linked_repo(tmp_path: Path) -> Path:
    secret = outside_secret(tmp_path)
    root = make_repo(tmp_path / "repo", {"real.py": "import torch\nx = torch.load('m.pt')\nprint(x)\n"})
    for name in LINKED_NAMES:
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(secret)
    return root


def run_cli(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """mlaudit in its own process, so a hang is a test failure, not a stuck suite."""
    return subprocess.run(
        [sys.executable, "-m", "mlaudit", *args], capture_output=True, text=True, timeout=timeout,
        stdin=subprocess.PIPE, check=False,
    )


def test_symlinks_out_of_the_repository_are_never_read(tmp_path: Path) -> None:
    root = linked_repo(tmp_path)
    for fmt in FORMATS:
        result = run_cli(["check", str(root), "--no-cache", "--output-format", fmt])
        assert result.returncode == 1, result.stderr
        assert SECRET not in result.stdout + result.stderr
        assert "real.py" in result.stdout  # the rest of the repository was audited
    assert "skipped requirements.txt: a symlink to a path outside the repository" in result.stderr


def test_a_named_symlink_out_of_the_repository_is_not_followed(tmp_path: Path) -> None:
    root = linked_repo(tmp_path)
    (tmp_path / "home" / "stray.py").write_text("import torch\nx = torch.load('m.pt')\nprint(x)\n")
    result = run_cli(["check", str(root / "requirements.txt"), str(root / "train.py"), "--no-cache"])
    assert result.returncode == 0, result.stdout  # the links are in the repository, and not read
    assert "skipped requirements.txt" in result.stderr
    assert SECRET not in result.stdout + result.stderr and "stray.py" not in result.stdout


def test_a_settings_file_linked_out_of_the_repository_is_refused(tmp_path: Path) -> None:
    root = linked_repo(tmp_path)
    (root / "mlaudit.toml").symlink_to(tmp_path / "home" / ".netrc")
    result = run_cli(["check", str(root), "--no-cache"])
    assert result.returncode == 2
    assert "mlaudit.toml: a symlink to a file outside the repository; it was not read" in result.stderr
    assert SECRET not in result.stdout + result.stderr


def test_outside_symlinks_are_read_by_nothing(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Belt and braces: no open() of any kind reaches the secret during a whole run."""
    root = linked_repo(tmp_path)
    secret = os.path.realpath(tmp_path / "home" / ".netrc")
    opened: list[str] = []
    real_open = os.open

    def watching(path: str | bytes | os.PathLike[str], *args: object, **kwargs: object) -> int:
        if os.path.realpath(os.fsdecode(path)) == secret:
            opened.append(os.fsdecode(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(os, "open", watching)
    monkeypatch.setattr("builtins.open", _guarded_open(secret, opened))
    for fmt in FORMATS:
        main(["check", str(root), "--output-format", fmt, "--cache-dir", str(tmp_path / "cache")])
    assert opened == []


def _guarded_open(secret: str, opened: list[str]):  # type: ignore[no-untyped-def]
    import builtins

    real = builtins.open

    def guarded(file, *args, **kwargs):  # type: ignore[no-untyped-def]
        if isinstance(file, (str, bytes, os.PathLike)) and os.path.realpath(os.fsdecode(file)) == secret:
            opened.append(os.fsdecode(file))
        return real(file, *args, **kwargs)

    return guarded


def test_symlinks_inside_the_repository_are_followed(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"src/real.py": "import torch\nx = torch.load('m.pt')\nprint(x)\n"})
    (root / "link.py").symlink_to("src/real.py")
    result = run_cli(["check", str(root), "--no-cache", "--output-format", "concise"])
    assert "link.py:2" in result.stdout and "src/real.py:2" in result.stdout
    assert "skipped" not in result.stderr


@pytest.mark.parametrize("in_git", [True, False])
@pytest.mark.parametrize("name", ["train.py", "conf/data.yaml", "requirements.txt", "notebook.ipynb"])
def test_a_fifo_is_skipped_not_opened(tmp_path: Path, name: str, in_git: bool) -> None:
    """git lists a tracked path that is now a FIFO (it never lists an untracked one); outside git
    the walk finds it."""
    files = {"real.py": "import torch\nx = torch.load('m.pt')\nprint(x)\n", name: "x = 1\n"}
    root = make_repo(tmp_path / "repo", files) if in_git else write_tree(tmp_path / "repo", files)
    (root / name).unlink()
    os.mkfifo(root / name)
    result = run_cli(["check", str(root), "--no-cache", "--output-format", "concise"], timeout=60)
    assert result.returncode == 1
    assert f"skipped {name}: a FIFO (named pipe); it was not read" in result.stderr
    assert "real.py:2" in result.stdout


@pytest.mark.parametrize("target", ["/dev/zero", "/dev/stdin", "/dev/urandom", "/proc/self/environ"])
def test_a_symlink_to_a_device_neither_hangs_nor_reads(tmp_path: Path, target: str) -> None:
    root = make_repo(tmp_path / "repo", {"real.py": "x = 1\n"})
    (root / "train.py").symlink_to(target)
    (root / "params.yaml").symlink_to(target)
    result = run_cli(["check", str(root), "--no-cache", "--output-format", "json"], timeout=60)
    assert result.returncode in (0, 1), result.stderr
    assert "skipped train.py" in result.stderr


def test_config_option_naming_a_fifo_is_one_line_exit_2(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", {"real.py": "x = 1\n"})
    os.mkfifo(tmp_path / "settings.toml")
    result = run_cli(["check", str(root), "--no-cache", "--config", str(tmp_path / "settings.toml")], timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip().count("\n") == 0
    assert "FIFO" in result.stderr and "settings.toml" in result.stderr


def test_fix_never_writes_through_a_symlink(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    text = "import yaml\ncfg = yaml.load(open('c.yaml'))\n"
    outside.write_text(text)
    root = make_repo(tmp_path / "repo", {"inside.py": text})
    (root / "linked.py").symlink_to(outside)
    (root / "linked_inside.py").symlink_to("inside.py")
    edit = Edit(2, 7, 2, 32, "yaml.safe_load(open('c.yaml'))")
    findings = [Finding("ML602", "m", path, 2, 7, fix=Fix("use safe_load", (edit,)))
                for path in ("linked.py", "linked_inside.py", "../outside.py")]
    assert apply_fixes(root, findings).applied == 0
    assert outside.read_text() == text and (root / "inside.py").read_text() == text
    assert (root / "linked.py").is_symlink() and (root / "linked_inside.py").is_symlink()
    assert apply_fixes(root, [Finding("ML602", "m", "inside.py", 2, 7, fix=Fix("use safe_load", (edit,)))]).applied == 1
    assert "safe_load" in (root / "inside.py").read_text()


def test_check_fix_leaves_outside_files_alone(tmp_path: Path) -> None:
    outside = tmp_path / "outside.py"
    text = "import yaml\ncfg = yaml.load(open('c.yaml'))\n"
    outside.write_text(text)
    root = make_repo(tmp_path / "repo", {"inside.py": text})
    (root / "train.py").symlink_to(outside)
    mode = (root / "inside.py").stat().st_mode
    assert main(["check", str(root), "--no-cache", "--fix"]) in (0, 1)
    assert outside.read_text() == text
    assert "safe_load" in (root / "inside.py").read_text()
    assert (root / "inside.py").stat().st_mode == mode


def test_screen_and_read_inside(tmp_path: Path) -> None:
    secret = outside_secret(tmp_path)
    root = tmp_path / "repo"
    (root / "sub").mkdir(parents=True)
    (root / "sub" / "a.txt").write_text("a")
    (root / "in").symlink_to("sub/a.txt")
    (root / "out").symlink_to(secret)
    (root / "dangling").symlink_to("nowhere")
    os.mkfifo(root / "fifo")
    top = str(root)
    assert screen(root / "in", top) is None and screen(root / "dangling", top) is None
    assert screen(root / "out", top) == "a symlink to a path outside the repository"
    assert screen(root / "fifo", top) == "a FIFO (named pipe)"
    assert read_inside(root, root / "in", 10) == b"a"
    assert read_inside(root, root / "out", 10) is None and read_inside(root, root / "fifo", 10) is None
    assert is_inside(root / "sub", root) and not is_inside(tmp_path, root)


def test_skipped_files_are_warned_about_in_ten_lines_at_most(tmp_path: Path) -> None:
    secret = outside_secret(tmp_path)
    root = make_repo(tmp_path / "repo", {"real.py": "x = 1\n"})
    for number in range(15):
        (root / f"linked{number:02}.py").symlink_to(secret)
    result = run_cli(["check", str(root), "--no-cache", "--output-format", "concise"])
    warnings = [line for line in result.stderr.splitlines() if line.startswith("mlaudit: warning: skipped")]
    assert len(warnings) == 10
    assert warnings[-1] == "mlaudit: warning: skipped 6 more files (symlinks out of the repository, FIFOs, devices)"
