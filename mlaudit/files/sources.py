"""Reading files safely: size caps, binary content, encodings, unreadable paths.

Every failure becomes a `SourceError` with a message a user can act on; nothing here raises
anything else for bad input.
"""

from __future__ import annotations

import io
import os
import tokenize
from dataclasses import dataclass
from pathlib import Path

from mlaudit.files.boundary import NotRegular, open_regular
from mlaudit.files.kinds import Kind


class SourceError(Exception):
    """A file could not be read or decoded. `line` is 1-based, 0 when unknown."""

    def __init__(self, message: str, line: int = 0, col: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def read_bytes(path: Path, max_bytes: int) -> bytes:
    """The file's bytes, if it is a regular file of at most `max_bytes`. Only a regular file is
    opened, without blocking (see project.boundary); the size is checked on the open descriptor,
    so nothing over the limit is read."""
    try:
        descriptor = open_regular(path)
        try:
            size = os.fstat(descriptor).st_size
            if size > max_bytes:
                raise SourceError(
                    f"file is {size / 2**20:.1f} MiB, over the {max_bytes / 2**20:g} MiB limit, so it was not "
                    "analysed; raise `max-file-mib` in [tool.mlaudit] to include it"
                )
            # The size read is the file's own, not the limit: a buffer of `max_bytes` would be
            # allocated up front for every file.
            data = _read_up_to(descriptor, size + 1)
        finally:
            os.close(descriptor)
    except BlockingIOError:  # a procfs-like file with nothing to read yet
        raise SourceError("file would block when read (not a file on disk); not read") from None
    except SourceError:
        raise
    except NotRegular as exc:
        raise SourceError(f"path is {exc}") from None
    except IsADirectoryError:
        raise SourceError("path is a directory (a symlink to a folder?), not a file") from None
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise SourceError(f"cannot read file: {reason}") from None
    if len(data) > size:
        raise SourceError("file grew while being read (a log being written, or not a file on disk); not analysed")
    return data


def _read_up_to(descriptor: int, count: int) -> bytes:
    """`count` bytes, or fewer at the end of the file. `os.read` itself: a buffered file object
    costs more to set up than a source file takes to read."""
    chunks = []
    while count > 0:
        chunk = os.read(descriptor, count)
        if not chunk:
            break
        chunks.append(chunk)
        count -= len(chunk)
    return b"".join(chunks)


def decode_python(data: bytes) -> str:
    """Decode Python source honouring a PEP 263 coding line or a BOM."""
    _check_not_binary(data)
    try:
        encoding, _ = tokenize.detect_encoding(io.BytesIO(data).readline)
    except SyntaxError as exc:
        # Usually non-UTF-8 bytes in the first two lines; decoding as UTF-8 says exactly where.
        _decode(data, "utf-8")
        raise SourceError(f"cannot decode: {exc.msg}") from None
    return _decode(data, encoding)


def decode_text(data: bytes) -> str:
    _check_not_binary(data)
    return _decode(data, "utf-8-sig")


def _check_not_binary(data: bytes) -> None:
    nul = data.find(b"\0", 0, 65536)
    if nul != -1:
        raise SourceError(f"file holds binary content (a NUL byte at offset {nul}), not text")


def _decode(data: bytes, encoding: str) -> str:
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        bad = data[exc.start : exc.start + 1].hex()
        raise SourceError(
            f"not valid {encoding.replace('-sig', '').upper()}: byte 0x{bad} at offset {exc.start}; "
            "save the file as UTF-8 or declare its encoding",
            line=line,
        ) from None
    except LookupError:
        raise SourceError(f"unknown encoding {encoding!r} declared in the file") from None


@dataclass(frozen=True)
class SourceFile:
    path: str  # relative to the project root, POSIX
    abs_path: Path
    kind: Kind
    size: int  # bytes, -1 when the file could not be stat'ed
    tracked: bool | None  # None outside git
    is_symlink: bool = False
    mtime_ns: int = 0
    ctime_ns: int = 0  # with size and mtime, tells an unchanged file without reading it
    outside: bool = False  # a symlink whose target lies outside the repository: listed, never opened

    @property
    def name(self) -> str:
        return self.path.rpartition("/")[2]  # PurePosixPath(path).name; rules ask thousands of times

    @property
    def format(self) -> str:
        return self.kind.format

    def has_role(self, role: str) -> bool:
        return role in self.kind.roles
