"""The git state of a run, read once: which files git tracks and which it would add.

Git runs only through `mlaudit.files.git.run_git_together` (hardened against a hostile repository).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from mlaudit.files.git import GitError, find_repo, run_git_together


@dataclass(frozen=True)
class GitState:
    root: Path
    top: Path  # the work tree's top; differs from root for a project inside a larger repository
    tracked: frozenset[str]  # repo-relative POSIX paths in the index
    untracked: frozenset[str]  # present, not tracked, not ignored

    def is_tracked(self, rel_path: str) -> bool:
        return rel_path in self.tracked


def read_git_state(root: Path) -> GitState | None:
    """List tracked and untracked-not-ignored files below `root` with two `git ls-files` calls.

    `root` may be a folder inside a larger work tree; paths are then relative to `root`."""
    repo = find_repo(root)
    if repo is None:
        return None
    try:
        top = repo.top
        prefix = root.resolve().relative_to(top).as_posix()
        scope = ["--", prefix] if prefix != "." else []
        listings = run_git_together(
            repo, ("ls-files", "-z", "--cached", *scope), ("ls-files", "-z", "--others", "--exclude-standard", *scope)
        )
        tracked, untracked = (_strip(_split(listing), prefix) for listing in listings)
    except (GitError, OSError, ValueError):
        return None
    # Deleted-but-still-indexed files are not in the work tree; keep only what exists.
    base = str(root)
    tracked = frozenset(p for p in tracked if os.path.lexists(os.path.join(base, p)))
    return GitState(root=root, top=top, tracked=tracked, untracked=frozenset(untracked))


def _split(output: bytes) -> frozenset[str]:
    return frozenset(p for p in output.decode("utf-8", "surrogateescape").split("\0") if p)


def _strip(paths: frozenset[str], prefix: str) -> frozenset[str]:
    """Paths relative to a project root that sits below the git top (a project inside a monorepo)."""
    if prefix == ".":
        return paths
    return frozenset(p[len(prefix) + 1 :] for p in paths if p.startswith(prefix + "/"))
