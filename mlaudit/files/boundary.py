"""The repository boundary: which paths mlaudit may open, and opening them so nothing can block.

mlaudit reads only regular files inside the repository. A symlink is followed only when its
target resolves inside the repository: `requirements.txt -> ~/.netrc` is listed (its name is
the repository's) but never opened, so its content can reach no report. FIFOs, devices and
sockets are never opened: a FIFO would block a read forever and a device can be endless
(`/dev/zero`) or have side effects. Every open is non-blocking and checks, on the open
descriptor, that it got a regular file, so a path swapped for a FIFO after it was listed still
cannot hang the run.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path

from mlaudit.files.git import find_git_root

OUTSIDE = "a symlink to a path outside the repository"

_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NOCTTY", 0)


class NotRegular(OSError):
    """The path is not a regular file (or lies outside the boundary); it was not opened."""


def is_inside(path: str | Path, top: str | Path) -> bool:
    """Whether `path`, with every symlink resolved, lies in the folder `top` (also resolved)."""
    real, base = os.path.realpath(path), os.path.realpath(top)
    return real == base or real.startswith(base.rstrip(os.sep) + os.sep)


def repository_top(root: Path) -> Path:
    """The boundary for a project at `root`: the top of its git work tree, else `root` itself."""
    return find_git_root(root) or root


def special_kind(mode: int) -> str | None:
    """What a non-regular, non-folder file is, in words; None for a regular file or folder."""
    if stat.S_ISREG(mode) or stat.S_ISDIR(mode):
        return None
    if stat.S_ISFIFO(mode):
        return "a FIFO (named pipe)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def screen(path: Path, top: str, mode: int | None = None) -> str | None:
    """Why the listed file at `path` must never be opened, or None when it may be. `mode` is
    its `lstat` mode when the caller has it already (None: taken here).

    `top` is the repository's resolved top. A dangling link, or one to a folder, inside the
    repository is allowed here: reading it fails with a clear ML001, as before."""
    if mode is None:
        try:
            mode = os.lstat(path).st_mode
        except OSError:
            return None  # vanished: the reader reports it
    if stat.S_ISLNK(mode):
        if not is_inside(path, top):
            return OUTSIDE
        try:
            mode = os.stat(path).st_mode
        except OSError:
            return None
    return special_kind(mode)


def open_regular(path: str | Path) -> int:
    """A descriptor of the regular file at `path`, opened without blocking; NotRegular for a FIFO,
    device, socket or folder (checked before opening, and again on the descriptor)."""
    kind = special_kind(os.stat(path).st_mode)
    if kind is not None:
        raise NotRegular(f"{kind}; it was not read")
    descriptor = os.open(path, _OPEN_FLAGS)
    mode = os.fstat(descriptor).st_mode
    if not stat.S_ISREG(mode):
        os.close(descriptor)
        if stat.S_ISDIR(mode):
            raise IsADirectoryError(21, "Is a directory")
        raise NotRegular(f"{special_kind(mode)}; it was not read")
    return descriptor


def read_regular(path: str | Path, max_bytes: int) -> bytes:
    """At most `max_bytes` of the regular file at `path` (OSError when it is anything else)."""
    with os.fdopen(open_regular(path), "rb") as handle:
        return handle.read(max_bytes)


def read_inside(top: str | Path, path: str | Path, max_bytes: int) -> bytes | None:
    """At most `max_bytes` of `path` when it resolves to a regular file inside `top`; else None."""
    if not is_inside(path, top):
        return None
    try:
        return read_regular(os.path.realpath(path), max_bytes)
    except OSError:
        return None


def writable_file(top: str | Path, path: Path) -> bool:
    """Whether `path` is a regular file, not a symlink, in a folder inside `top`: the only kind of
    file `--fix` rewrites."""
    try:
        mode = os.lstat(path).st_mode
    except OSError:
        return False
    return stat.S_ISREG(mode) and is_inside(path.parent, top)


def replace_file(top: str | Path, path: Path, data: bytes) -> bool:
    """Replace the content of the regular file `path` inside `top` with `data`: written to a new file
    in the same folder, with the old file's permissions, and renamed over it, so nothing is written
    through a symlink and a reader never sees half a file. False when `path` is not such a file."""
    if not writable_file(top, path):
        return False
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    import tempfile  # for --fix only: with shutil and random, 2.5 ms of every check's start

    descriptor, temp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".mlaudit-fix")
    try:
        with os.fdopen(descriptor, "wb") as handle:
            handle.write(data)
        os.chmod(temp, mode)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    return True
