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
    top: Path  # the work tree's top; differs from root for a project inside a larger repository
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
    """List tracked and untracked-not-ignored files below `root` with two `git ls-files` calls.

    `root` may be a folder inside a larger work tree; paths are then relative to `root`."""
    try:
        import git  # gitpython; imported here so a run outside git never pays for it
    except ImportError:
        return None
    try:
        repo = git.Repo(root, search_parent_directories=True)
        top = Path(repo.working_tree_dir or root).resolve()
        prefix = root.resolve().relative_to(top).as_posix()
        scope = ["--", prefix] if prefix != "." else []
        tracked = _strip(_split(repo.git.ls_files("-z", "--cached", *scope)), prefix)
        untracked = _strip(_split(repo.git.ls_files("-z", "--others", "--exclude-standard", *scope)), prefix)
    except (git.exc.GitError, OSError, ValueError):
        return None
    # Deleted-but-still-indexed files are not in the work tree; keep only what exists.
    base = str(root)
    tracked = frozenset(p for p in tracked if os.path.lexists(os.path.join(base, p)))
    return GitState(root=root, top=top, tracked=tracked, untracked=frozenset(untracked))


def _split(output: str) -> frozenset[str]:
    return frozenset(p for p in output.split("\0") if p)


def _strip(paths: frozenset[str], prefix: str) -> frozenset[str]:
    """Paths relative to a project root that sits below the git top (a project inside a monorepo)."""
    if prefix == ".":
        return paths
    return frozenset(p[len(prefix) + 1 :] for p in paths if p.startswith(prefix + "/"))


class GitError(Exception):
    """A git command failed or git is missing; the message says which and why."""


# Settings that would make git start a program the audited repository chose, or write to it.
_SAFE_CONFIG = ("-c", "core.fsmonitor=false", "-c", "core.hooksPath=/dev/null", "--no-optional-locks")
# Variables that would point git at another repository, index or configuration than `repo`'s.
_KEEP_ENV = ("PATH", "HOME", "SYSTEMROOT", "TMPDIR")


def run_git(repo: Path, *args: str) -> str:
    """Run `git ARGS` in `repo` with a clean environment and no repo-chosen programs; return stdout.

    Output is decoded as UTF-8 with undecodable bytes kept as surrogates, so odd file names
    survive a round trip. Raises GitError when git is missing or exits non-zero."""
    import subprocess

    env = {key: os.environ[key] for key in _KEEP_ENV if key in os.environ}
    env.update(LC_ALL="C", GIT_TERMINAL_PROMPT="0", GIT_PAGER="cat")
    try:
        result = subprocess.run(
            ["git", *_SAFE_CONFIG, *args], cwd=repo, env=env, capture_output=True, check=False, timeout=120
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise GitError(f"git {args[0] if args else ''} failed: {exc}") from None
    if result.returncode != 0:
        message = result.stderr.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {args[0] if args else ''}: {message[-1] if message else f'exit {result.returncode}'}")
    return result.stdout.decode("utf-8", "surrogateescape")


def content_options(repo: Path) -> tuple[str, ...]:
    """Options for git commands that read work-tree contents (diff against the work tree): every
    filter driver the configuration defines is switched off, so no clean/process program the
    repository names runs, and no transport is allowed, so a partial clone never fetches (through
    a transport the repository's configuration could choose)."""
    try:
        names = run_git(repo, "config", "--null", "--name-only", "--get-regexp", r"^filter\..*\.(clean|process)$")
    except GitError:  # exit 1: no filter configured
        names = ""
    options = ["-c", "protocol.allow=never"]
    for name in sorted({n for n in names.split("\0") if n}):
        options += ["-c", f"{name}="]
    return tuple(options)
