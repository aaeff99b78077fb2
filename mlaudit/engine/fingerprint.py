"""GitHub's `primaryLocationLineHash`, ported exactly from github/codeql-action `src/fingerprints.ts`.

GitHub code scanning matches alerts across commits by this value. `upload-sarif` computes it when a
result lacks it, but REST uploads and other consumers do not, so mlaudit emits it itself. A value
that differs from GitHub's would make every alert look new, so this is a literal port:

- the text is walked as UTF-16 code units (JavaScript `charCodeAt`), not code points;
- spaces and tabs are skipped, CR becomes LF and an LF right after a CR is dropped, so indentation
  and line-ending style never change a hash;
- a rolling polynomial hash (base 37) over a window of 100 kept code units, all arithmetic modulo
  2**64 (the `Long` type in the original);
- the hash of line N is the window that starts at line N's first kept code unit, emitted once 100
  more code units (padded with one EOF marker and zeros) have gone by;
- each value is printed as unpadded lower-case hex plus `:k`, where k counts earlier lines of the
  same file with the same hex value.
"""

from __future__ import annotations

from dataclasses import dataclass, field

BLOCK_SIZE = 100
MOD = 37
MASK = (1 << 64) - 1
FIRST_MOD = pow(MOD, BLOCK_SIZE, 1 << 64)  # weight of the code unit leaving the window
EOF = 65535
TAB = 0x09
SPACE = 0x20
LF = 0x0A
CR = 0x0D


def utf16_units(text: str) -> list[int]:
    """The UTF-16 code units JavaScript's `charCodeAt` would see for `text`."""
    # surrogatepass keeps lone surrogates (possible in a Python str) as single units, like JS.
    data = text.encode("utf-16-le", "surrogatepass")
    return [data[i] | (data[i + 1] << 8) for i in range(0, len(data), 2)]


@dataclass
class _Hasher:
    """The state of one pass over a file; mirrors the closures in fingerprints.ts."""

    window: list[int] = field(default_factory=lambda: [0] * BLOCK_SIZE)
    # line_numbers[i] is the 1-based line whose first kept code unit sits in window slot i, or -1.
    line_numbers: list[int] = field(default_factory=lambda: [-1] * BLOCK_SIZE)
    hash_raw: int = 0
    index: int = 0
    line_number: int = 0
    line_start: bool = True
    prev_cr: bool = False
    counts: dict[str, int] = field(default_factory=dict)
    hashes: dict[int, str] = field(default_factory=dict)

    def output_hash(self) -> None:
        value = format(self.hash_raw, "x")
        self.counts[value] = self.counts.get(value, 0) + 1
        self.hashes[self.line_numbers[self.index]] = f"{value}:{self.counts[value]}"
        self.line_numbers[self.index] = -1

    def update_hash(self, current: int) -> None:
        begin = self.window[self.index]
        self.window[self.index] = current
        self.hash_raw = (MOD * self.hash_raw + current - FIRST_MOD * begin) & MASK
        self.index = (self.index + 1) % BLOCK_SIZE

    def process(self, current: int) -> None:
        if current in (SPACE, TAB) or (self.prev_cr and current == LF):
            self.prev_cr = False
            return
        if current == CR:
            current = LF
            self.prev_cr = True
        else:
            self.prev_cr = False
        if self.line_numbers[self.index] != -1:
            self.output_hash()
        if self.line_start:
            self.line_start = False
            self.line_number += 1
            self.line_numbers[self.index] = self.line_number
        if current == LF:
            self.line_start = True
        self.update_hash(current)

    def flush(self) -> None:
        self.process(EOF)
        for _ in range(BLOCK_SIZE):
            if self.line_numbers[self.index] != -1:
                self.output_hash()
            self.update_hash(0)


def line_hashes(text: str) -> list[str]:
    """`primaryLocationLineHash` of every line of `text`; element k belongs to line k+1.

    `text` must be the file decoded as UTF-8 the way Node does it: BOM kept, invalid bytes
    replaced by U+FFFD (`bytes.decode("utf-8", "replace")`), newlines untranslated. A text that
    ends with a line break has one more entry, for the empty last line.
    """
    hasher = _Hasher()
    for unit in utf16_units(text):
        hasher.process(unit)
    hasher.flush()
    return [hasher.hashes[line] for line in range(1, hasher.line_number + 1)]


def decode_like_node(data: bytes) -> str:
    """Decode file bytes as `fs.createReadStream(path, "utf8")` does in the upload action."""
    return data.decode("utf-8", "replace")
