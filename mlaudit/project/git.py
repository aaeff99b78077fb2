"""Git state, read once per run: which files are tracked, untracked or ignored.

Only gitpython talks to git, and only here. Without git (not installed, not a repository)
the state is `None` and discovery walks the file system with the .gitignore patterns instead.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class GitState:
    root: Path
    tracked: frozenset[str]  # repo-relative POSIX paths in the index
    untracked: frozenset[str]  # present, not tracked, not ignored

    def is_tracked(self, rel_path: str) -> bool:
        return rel_path in self.tracked


def find_git_root(start: Path) -> Path | None:
    """The top of the work tree containing `start`, found without starting git."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def read_git_state(root: Path) -> GitState | None:
    """List tracked and untracked-not-ignored files with two `git ls-files` calls."""
    try:
        import git  # gitpython; imported here so a run outside git never pays for it
    except ImportError:
        return None
    try:
        repo = git.Repo(root)
        tracked = _split(repo.git.ls_files("-z", "--cached"))
        untracked = _split(repo.git.ls_files("-z", "--others", "--exclude-standard"))
    except (git.exc.GitError, OSError, ValueError):
        return None
    # Deleted-but-still-indexed files are not in the work tree; keep only what exists.
    tracked = frozenset(p for p in tracked if os.path.lexists(root / p))
    return GitState(root=root, tracked=tracked, untracked=frozenset(untracked))


def _split(output: str) -> frozenset[str]:
    return frozenset(p for p in output.split("\0") if p)
