"""Which files are data or model artifacts: by extension (mlaudit.files.kinds), else by their first bytes.

Sniffing reads at most `HEAD_BYTES` of a file and only runs for files whose name says nothing
(no known suffix), so a repository of source code costs nothing.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterable
from pathlib import PurePosixPath

from mlaudit.files import kinds
from mlaudit.files.sources import SourceFile
from mlaudit.project.lfs import read_head

HEAD_BYTES = 64
# Smaller files are notes or placeholders, not artifacts worth sniffing.
MIN_SNIFF_BYTES = 16


def _torch_zip(head: bytes, size: int) -> bool:
    # torch.save writes a zip whose first entry is "<archive>/data.pkl" (or ".../.format_version"
    # in newer releases, followed by data.pkl); a plain zip of documents has other names.
    if not head.startswith(b"PK\x03\x04") or len(head) < 30:
        return False
    name_length = struct.unpack_from("<H", head, 26)[0]
    name = head[30 : 30 + name_length]
    return name.endswith((b"/data.pkl", b"/.format_version", b"/byteorder", b"/version"))


def _safetensors(head: bytes, size: int) -> bool:
    # 8-byte little-endian header length, then a JSON object describing the tensors.
    if len(head) < 10:
        return False
    header_length = struct.unpack_from("<Q", head, 0)[0]
    return 2 <= header_length <= size - 8 and head[8:10] in (b'{"', b"{ ")


MAGIC: tuple[tuple[str, Callable[[bytes, int], bool]], ...] = (
    ("PyTorch checkpoint (zip)", _torch_zip),
    ("safetensors file", _safetensors),
    ("HDF5 file", lambda head, size: head.startswith(b"\x89HDF\r\n\x1a\n")),
    ("Parquet file", lambda head, size: head.startswith(b"PAR1")),
    ("NumPy array", lambda head, size: head.startswith(b"\x93NUMPY")),
)


def suffixes(option: Iterable[str]) -> frozenset[str]:
    """Normalise a user's extension list: "pt", ".PT" and "*.pt" all mean ".pt"."""
    return frozenset("." + s.strip().lstrip("*").lstrip(".").lower() for s in option if s.strip().lstrip("*."))


def artifact_kind(file: SourceFile, extra: frozenset[str] = frozenset(), skip: frozenset[str] = frozenset()) -> str | None:
    """What kind of artifact the file is ("data file (.csv)", "HDF5 file"), or None."""
    suffix = PurePosixPath(file.path).suffix.lower()
    if suffix in skip:
        return None
    if suffix in extra or kinds.is_artifact(file.path):
        return f"{suffix} file"
    if file.format != kinds.OTHER or file.is_symlink or file.size < MIN_SNIFF_BYTES:
        return None
    head = read_head(file.abs_path, HEAD_BYTES)
    for name, test in MAGIC:
        if test(head, file.size):
            return name
    return None
