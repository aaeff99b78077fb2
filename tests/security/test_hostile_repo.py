"""The canary suite: one repository with every trap at once. After check (every output format,
cached and not, --fix) and clean: nothing ran, nothing outside the repository was read into
any output, and nothing outside it changed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from mlaudit.engine.cache import TAG_TEXT
from tests.helpers import git, make_repo
from tests.security.hostile import KNOBS, SECRET, embedded_bare_repo, fired
from tests.security.test_cache_clean import snapshot

FORMATS = ("full", "concise", "json", "sarif", "github")
FILES = {
    "train.py": "import yaml\nimport random\ncfg = yaml.load(open('c.yaml'))\nx = random.random()\n",
    "a.txt": "aaaa\n",
    "b.txt": "bbbb\n",
    ".gitattributes": "a.txt filter=evil diff=evil\nb.txt filter=proc diff=ext\n",
}


def hostile_repo(tmp_path: Path) -> tuple[Path, Path, Path]:
    """The repository, its markers folder and a sibling folder holding the secret."""
    markers = tmp_path / "markers"
    markers.mkdir()
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    (sibling / ".netrc").write_text(f"machine github.com login bot password {SECRET}\n")
    (sibling / "project.py").write_text("import yaml\ncfg = yaml.load(open('c.yaml'))\n")
    root = make_repo(tmp_path / "repo", FILES)
    for plant, _ in KNOBS.values():
        plant(root, markers)
    embedded_bare_repo(root / "vendor" / "evil", markers)
    for name in ("requirements.txt", "conf/secret.yaml", "leak.py", "notebook.ipynb", "dvc.yaml"):
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).symlink_to(sibling / ".netrc")
    (root / "fix_me.py").symlink_to(sibling / "project.py")
    (root / "sibling_link").symlink_to(sibling)
    cache = root / ".mlaudit_cache"
    (cache / "v1").mkdir(parents=True)
    (cache / "CACHEDIR.TAG").symlink_to(sibling / "project.py")
    (cache / ".gitignore").symlink_to(sibling / "written-through-gitignore")
    (cache / "v1" / "digests").symlink_to("/dev/zero")
    (root / "a.txt").write_text("cccc\n")  # same size, new content: git would have to filter it
    (root / "b.txt").write_text("dddd\n")
    return root, markers, sibling


def run_cli(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlaudit", *args], capture_output=True, text=True, timeout=120,
        stdin=subprocess.PIPE, cwd=cwd, check=False, env={**os.environ, "PYTHONPATH": str(Path(__file__).parents[2])},
    )


def test_nothing_runs_leaks_or_changes_outside(tmp_path: Path) -> None:
    root, markers, sibling = hostile_repo(tmp_path)
    before = snapshot(sibling)
    outputs = []
    for fmt, cache in [(fmt, "--no-cache") for fmt in FORMATS] + [("full", ""), ("json", "")]:
        result = run_cli(["check", str(root), "--output-format", fmt, *filter(None, [cache])], root)
        assert result.returncode == 1, result.stderr
        outputs.append(result.stdout + result.stderr)
    inside_bare = run_cli(["check", "--output-format", "full"], root / "vendor" / "evil")
    outputs.append(inside_bare.stdout + inside_bare.stderr)
    fixed = run_cli(["check", str(root), "--fix", "--output-format", "concise"], root)
    outputs.append(fixed.stdout + fixed.stderr)
    assert "safe_load" in (root / "train.py").read_text()  # --fix works inside the repository
    clean = run_cli(["clean", str(root)], root)
    outputs.append(clean.stdout + clean.stderr)

    assert fired(markers) == []
    assert all(SECRET not in text for text in outputs)
    assert snapshot(sibling) == before
    assert not (sibling / "written-through-gitignore").exists()
    assert "ML602" in outputs[0] and "not using the cache" in outputs[5]
    assert clean.returncode == 2 and (root / ".mlaudit_cache").is_dir()  # not its own cache: kept


def test_the_control_fires_with_plain_git(tmp_path: Path) -> None:
    """Shows the suite above can fail: the same repository does run programs under plain git."""
    root, markers, _ = hostile_repo(tmp_path)
    env = {k: v for k, v in os.environ.items() if not k.startswith("GIT_")}
    env.update(GIT_CONFIG_NOSYSTEM="1", GIT_CONFIG_GLOBAL=os.devnull)
    subprocess.run(["git", "status"], cwd=root, env=env, capture_output=True, timeout=60, check=False)
    assert {"fsmonitor", "clean"} <= set(fired(markers))


def test_clean_after_a_normal_run_removes_only_the_cache(tmp_path: Path) -> None:
    root = make_repo(tmp_path / "repo", FILES)
    sibling = tmp_path / "sibling"
    sibling.mkdir()
    (sibling / "keep").write_text("keep\n")
    assert run_cli(["check", str(root)], root).returncode == 1
    assert (root / ".mlaudit_cache" / "CACHEDIR.TAG").read_text() == TAG_TEXT
    tracked = git(root, "ls-files")
    assert run_cli(["clean", str(root)], root).returncode == 0
    assert not (root / ".mlaudit_cache").exists()
    assert git(root, "ls-files") == tracked and (sibling / "keep").exists()


def test_python_dash_m_inside_the_checkout_imports_none_of_its_modules(tmp_path: Path) -> None:
    """`python -m mlaudit` puts the working folder first on sys.path; a checkout's `argparse.py`
    or `yaml/` must not be imported in place of the real ones."""
    marker = tmp_path / "ran"
    planted = f"open({str(marker)!r}, 'w').write('ran')\nraise SystemExit('the checkout ran')\n"
    repo = make_repo(tmp_path / "r", {"argparse.py": planted, "yaml/__init__.py": planted, "conf/a.yaml": "lr: 0.1\n",
                                      "train.py": "import argparse\n"})
    done = subprocess.run([sys.executable, "-m", "mlaudit", "check", ".", "--no-cache"], cwd=repo,
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    assert not marker.exists()
