"""Git, run safely on a repository that may be hostile; and the git state read once per run.

Every git invocation in mlaudit goes through `run_git`. The audited repository's own settings
must never run a program: a `.git/config` (or a committed bare repository that git would
discover on its own) can name programs that git starts while listing files or diffing
(`core.fsmonitor`, hooks, pagers, filter and diff drivers, `core.sshCommand`, credential
helpers, remote helpers). So `run_git`:
  - finds the repository itself (a `.git` entry above the folder) and passes `GIT_DIR` and
    `GIT_WORK_TREE` explicitly, so git never discovers a bare repository on its own;
  - starts git with an environment holding no inherited `GIT_*` variable, no system or global
    config, no terminal prompt, no lazy fetch, and overrides every program-naming key on the
    command line's level (the highest); for commands that may convert file content (`diff`, ...)
    it also empties every filter and diff driver the repository's config defines, and adds
    `--no-ext-diff --no-textconv`;
  - bounds its time and output, and never writes the index (`--no-optional-locks`).
Without git (not installed, not a repository, git failing) the state is `None` and discovery walks
the file system with the .gitignore patterns instead.
"""

from __future__ import annotations

import functools
import os
import selectors
import shutil
import signal
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

TIMEOUT_SECONDS = 60.0
MAX_OUTPUT_BYTES = 512 * 2**20

# Config keys that name a program or let the repository reach the network, set on the command
# line's level so that no repository, worktree or included config can set them.
SAFE_CONFIG: tuple[tuple[str, str], ...] = (
    ("core.fsmonitor", "false"),
    ("core.hooksPath", os.devnull),
    ("core.pager", "cat"),
    ("core.sshCommand", "false"),
    ("core.askPass", ""),
    ("core.editor", "false"),
    ("core.attributesFile", os.devnull),
    ("diff.external", ""),
    ("credential.helper", ""),
    ("gpg.program", "false"),
    ("log.showSignature", "false"),
    ("protocol.allow", "never"),
    *((f"protocol.{name}.allow", "never") for name in ("file", "git", "ssh", "http", "https", "ext", "fd")),
    ("safe.bareRepository", "explicit"),
    ("submodule.recurse", "false"),
)

# Per config key suffix, in `<section>.<driver>.<key>`, of the drivers a repository may define.
DRIVER_KEYS = {
    "filter": ("clean", "smudge", "process"),
    "diff": ("command", "textconv"),
    "merge": ("driver",),
}

# Subcommands that never convert work-tree content, so need no per-driver overrides.
NO_CONTENT_COMMANDS = frozenset({"ls-files", "rev-parse", "config", "ls-tree", "cat-file", "merge-base"})

# Flags added after these subcommands (external diff programs, text conversion, signatures).
COMMAND_FLAGS = {
    "diff": ("--no-ext-diff", "--no-textconv"),
    "log": ("--no-ext-diff", "--no-textconv", "--no-show-signature"),
    "show": ("--no-ext-diff", "--no-textconv", "--no-show-signature"),
}

# The only inherited variables git sees: what it needs to find itself and write messages.
KEPT_ENVIRONMENT = ("PATH", "HOME", "LANG", "LC_ALL", "LC_CTYPE", "LC_MESSAGES", "TMPDIR", "SYSTEMROOT", "TZ")


class GitError(Exception):
    """git is missing, failed, ran too long or said too much."""


@dataclass(frozen=True)
class GitRepo:
    top: Path  # the work tree's top, resolved
    git_dir: Path  # its `.git` entry: a folder, or a file naming the real one (worktrees, submodules)


def find_git_root(start: Path) -> Path | None:
    """The top of the work tree containing `start`, found without starting git."""
    repo = find_repo(start)
    return repo.top if repo is not None else None


def find_repo(start: Path) -> GitRepo | None:
    """The work tree containing `start`: the nearest folder holding a `.git` folder or file.

    Only a `.git` entry counts. A bare repository (HEAD, objects/, refs/, config) committed inside
    a clone is never taken for the repository, as git's own discovery would."""
    start = start.resolve()
    for folder in (start, *start.parents):
        entry = folder / ".git"
        if entry.is_dir() or entry.is_file():
            return GitRepo(folder, entry)
    return None


def run_git(
    repo: GitRepo, *args: str, cwd: Path | None = None, timeout: float = TIMEOUT_SECONDS, max_bytes: int = MAX_OUTPUT_BYTES
) -> bytes:
    """Run `git <args>` on `repo` with nothing the repository controls able to start a program;
    return its standard output. Raises GitError when git is missing, fails, outlives `timeout`
    seconds or writes more than `max_bytes`."""
    (output,) = run_git_together(repo, args, cwd=cwd, timeout=timeout, max_bytes=max_bytes)
    return output


def run_git_together(
    repo: GitRepo,
    *commands: Sequence[str],
    cwd: Path | None = None,
    timeout: float = TIMEOUT_SECONDS,
    max_bytes: int = MAX_OUTPUT_BYTES,
) -> list[bytes]:
    """`run_git` for each of `commands`, all started before any is waited for, so that each git
    starts while the others run (the two listings of a check: 5 ms one after the other, 3 ms
    together on pytorch-lightning). `timeout` and `max_bytes` bound each command. The first failure
    raises; the others are stopped."""
    started: list[tuple[list[str], subprocess.Popen[bytes]]] = []
    try:
        for args in commands:
            command, env = _prepared(repo, args)
            started.append((command, _start(command, env, cwd or repo.top)))
        return [_finish(command, process, timeout, max_bytes) for command, process in started]
    finally:
        for _, process in started:
            if process.poll() is None:
                _kill(process)


def _prepared(repo: GitRepo, args: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """The command line and environment of `git <args>` (see `run_git`)."""
    executable = _git_executable()
    if executable is None:
        raise GitError("git is not installed")
    command = [executable, "--no-pager", "--no-optional-locks", *_with_flags(args)]
    overrides = list(SAFE_CONFIG)
    if args and args[0] not in NO_CONTENT_COMMANDS:
        overrides += _driver_overrides(repo)
    return command, git_environment(repo, overrides)


def git_environment(repo: GitRepo, overrides: Sequence[tuple[str, str]] = SAFE_CONFIG) -> dict[str, str]:
    """The whole environment git runs with: a few inherited variables, the repository named
    explicitly, no system or global config, and `overrides` as command-line config (passed as
    GIT_CONFIG_KEY_n/VALUE_n, which takes any key spelling, unlike `-c key=value`)."""
    env = {name: os.environ[name] for name in KEPT_ENVIRONMENT if name in os.environ}
    env.update(
        GIT_DIR=str(repo.git_dir),
        GIT_WORK_TREE=str(repo.top),
        GIT_CONFIG_NOSYSTEM="1",
        GIT_CONFIG_GLOBAL=os.devnull,
        GIT_ATTR_NOSYSTEM="1",
        GIT_TERMINAL_PROMPT="0",
        GIT_NO_LAZY_FETCH="1",  # a partial clone must not fetch missing objects (git >= 2.44)
        GIT_PROTOCOL_FROM_USER="0",
        GIT_OPTIONAL_LOCKS="0",
        GIT_NO_REPLACE_OBJECTS="1",
        GIT_PAGER="cat",
        PAGER="cat",
    )
    # git checks the owner of the repository (safe.directory) to protect exactly against the
    # programs its config can name; those are all disabled here, and CI checkouts are often owned
    # by another user, so the discovered repository is trusted for reading.
    pairs = [("safe.directory", str(repo.top)), ("safe.directory", str(repo.git_dir)), *overrides]
    env["GIT_CONFIG_COUNT"] = str(len(pairs))
    for index, (key, value) in enumerate(pairs):
        env[f"GIT_CONFIG_KEY_{index}"] = key
        env[f"GIT_CONFIG_VALUE_{index}"] = value
    index_file = _inherited_index_file(repo)
    if index_file is not None:
        env["GIT_INDEX_FILE"] = index_file
    return env


def _inherited_index_file(repo: GitRepo) -> str | None:
    """GIT_INDEX_FILE as git sets it for a hook (pre-commit during `git commit -a`), kept only when
    it names an index of this repository."""
    value = os.environ.get("GIT_INDEX_FILE")
    if not value:
        return None
    path = Path(value) if os.path.isabs(value) else repo.top / value
    git_dir = repo.git_dir.resolve()
    if git_dir.is_file():
        return None  # a worktree's real git folder is elsewhere; keep the default index
    return str(path) if path.resolve().is_relative_to(git_dir) else None


def _with_flags(args: Sequence[str]) -> list[str]:
    if not args:
        return []
    return [args[0], *COMMAND_FLAGS.get(args[0], ()), *args[1:]]


@functools.cache
def _git_executable() -> str | None:
    """git from PATH, ignoring relative PATH entries (`.`, empty) that would find a `git` inside
    the audited repository."""
    path = os.pathsep.join(p for p in os.environ.get("PATH", os.defpath).split(os.pathsep) if os.path.isabs(p))
    return shutil.which("git", path=path)


def _driver_overrides(repo: GitRepo) -> list[tuple[str, str]]:
    """Empty values for every filter, diff and merge driver the repository's config defines: a
    `.gitattributes` line picks a driver by name, and its program would run when git reads a
    changed file's content."""
    try:
        listing = run_git(repo, "config", "--list", "-z", "--includes", timeout=10, max_bytes=16 * 2**20)
    except GitError:
        return []
    overrides = []
    for item in listing.split(b"\0"):
        key = item.split(b"\n", 1)[0].decode("utf-8", "surrogateescape")
        section, _, rest = key.partition(".")
        driver, _, name = rest.rpartition(".")
        if driver and name.lower() in DRIVER_KEYS.get(section.lower(), ()):
            overrides.append((key, ""))
    return overrides


def _start(command: list[str], env: Mapping[str, str], cwd: Path) -> subprocess.Popen[bytes]:
    try:
        return subprocess.Popen(
            command,
            cwd=cwd,
            env=dict(env),
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,  # so that a timeout stops whatever git started as well
        )
    except OSError as exc:
        raise GitError(f"cannot start git: {exc.strerror or exc}") from None


def _finish(command: list[str], process: subprocess.Popen[bytes], timeout: float, max_bytes: int) -> bytes:
    """Its standard output once git exits (GitError when it fails or is out of bounds)."""
    try:
        out, err = _collect(process, timeout, max_bytes)
    finally:
        if process.poll() is None:
            _kill(process)
    if process.returncode != 0:
        message = err.decode("utf-8", "replace").strip().splitlines()
        raise GitError(f"git {command[3] if len(command) > 3 else ''} failed: {message[0] if message else process.returncode}")
    return out


def _collect(process: subprocess.Popen[bytes], timeout: float, max_bytes: int) -> tuple[bytes, bytes]:
    """Read stdout (up to max_bytes) and stderr (its first 64 KiB) until git exits or time is up."""
    assert process.stdout is not None and process.stderr is not None
    out_fd, err_fd = process.stdout.fileno(), process.stderr.fileno()
    deadline = time.monotonic() + timeout
    chunks: dict[int, list[bytes]] = {out_fd: [], err_fd: []}
    sizes = dict.fromkeys(chunks, 0)
    limits = {out_fd: max_bytes, err_fd: 64 * 1024}
    with selectors.DefaultSelector() as selector:
        selector.register(out_fd, selectors.EVENT_READ)
        selector.register(err_fd, selectors.EVENT_READ)
        while selector.get_map():
            left = deadline - time.monotonic()
            if left <= 0:
                raise GitError(f"git did not finish within {timeout:.0f} s")
            for key, _ in selector.select(left):
                data = os.read(key.fd, 65536)
                if not data:
                    selector.unregister(key.fd)
                    continue
                sizes[key.fd] += len(data)
                if sizes[key.fd] <= limits[key.fd]:
                    chunks[key.fd].append(data)
                elif key.fd == out_fd:
                    raise GitError(f"git wrote more than {max_bytes // 2**20} MiB")
    try:
        process.wait(max(deadline - time.monotonic(), 0.1))
    except subprocess.TimeoutExpired:
        raise GitError(f"git did not finish within {timeout:.0f} s") from None
    finally:
        process.stdout.close()
        process.stderr.close()
    return b"".join(chunks[out_fd]), b"".join(chunks[err_fd])


def _kill(process: subprocess.Popen[bytes]) -> None:
    try:
        os.killpg(process.pid, signal.SIGKILL)
    except OSError:
        process.kill()
    process.wait()
