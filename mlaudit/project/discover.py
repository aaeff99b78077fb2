"""Find the project root and list the files to audit, honouring .gitignore and excludes."""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator
from pathlib import Path

import pathspec

from mlaudit.project.boundary import read_inside
from mlaudit.project.git import GitState, find_git_root
from mlaudit.project.patterns import gitignore_spec

# Never audited, whatever the configuration says: tool caches and environments.
ALWAYS_EXCLUDED = (
    ".git/", ".hg/", ".svn/", ".venv/", "venv/", ".tox/", ".nox/", "node_modules/", "__pycache__/",
    ".mypy_cache/", ".ruff_cache/", ".pytest_cache/", ".mlaudit_cache/", ".ipynb_checkpoints/",
    "site-packages/", ".eggs/", "*.egg-info/", ".dvc/cache/", ".dvc/tmp/",
)


# A folder holding one of these is a project of its own when it is checked by name.
PROJECT_MARKERS = (
    "pyproject.toml", "mlaudit.toml", "setup.py", "setup.cfg", "requirements.txt", "environment.yml", "dvc.yaml",
)


def find_root(target: Path) -> Path:
    """The project that `target` belongs to.

    A folder named on the command line that holds a project marker (pyproject.toml,
    requirements.txt, ...) is its own project, as one example in a repository of examples is.
    Otherwise the git work tree; outside git, the nearest folder with a pyproject.toml.
    """
    start = target if target.is_dir() else target.parent
    if target.is_dir() and any((target / marker).is_file() for marker in PROJECT_MARKERS):
        return target
    git_root = find_git_root(start)
    if git_root is not None:
        return git_root
    for folder in (start, *start.parents):
        if (folder / "pyproject.toml").is_file():
            return folder
    return start


def exclude_spec(patterns: Iterable[str]) -> pathspec.PathSpec:
    return pathspec.PathSpec.from_lines("gitignore", [*ALWAYS_EXCLUDED, *patterns])


def list_files(root: Path, git: GitState | None, exclude: pathspec.PathSpec) -> list[str]:
    """Repo-relative POSIX paths of every file to audit, sorted."""
    if git is not None:
        candidates: Iterable[str] = git.tracked | git.untracked
    else:
        candidates = _walk(root, _gitignore_spec(root))
    return sorted(p for p in candidates if not exclude.match_file(p))


def _walk(root: Path, ignored: pathspec.PathSpec) -> Iterator[str]:
    # followlinks=False: a symlinked folder is never entered, so symlink loops cannot trap us.
    for folder, dirs, files in os.walk(root, followlinks=False):
        rel_folder = os.path.relpath(folder, root)
        prefix = "" if rel_folder == "." else rel_folder.replace(os.sep, "/") + "/"
        dirs[:] = sorted(d for d in dirs if not ignored.match_file(prefix + d + "/"))
        for name in files:
            rel = prefix + name
            if not ignored.match_file(rel):
                yield rel


def _gitignore_spec(root: Path) -> pathspec.PathSpec:
    data = read_inside(root, root / ".gitignore", 16 * 2**20)  # never one outside, nor a FIFO
    lines = data.decode("utf-8", errors="replace").splitlines() if data is not None else []
    return gitignore_spec([*ALWAYS_EXCLUDED, *lines])
