"""Facts that come from external tools, run once per run over the files the cache did not have.

Today that is ruff's ERA001 (commented-out code) for ML303: rather than reimplementing
eradicate's heuristics, mlaudit runs the ruff binary that ships with the `ruff` dependency, in one
process, over the Python files being analysed afresh, and stores the rows it reports in each file's
facts (`ModuleFacts.extra["commented_code"]`). Cached files keep their rows, so a warm run starts no
process at all.
"""

from __future__ import annotations

import ast
import json
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mlaudit.project.boundary import read_inside

COMMENTED_CODE = "commented_code"
RUFF_TIMEOUT_SECONDS = 120
# Longer file lists are split over several ruff processes, so no command line overflows.
MAX_ARGUMENT_CHARS = 100_000


class RuffUnavailable(RuntimeError):
    """ruff could not be found or run; the message says what to do."""


class CommentedCode:
    """ruff's ERA001 over some files: started at once, collected with `rows()`, so that ruff runs
    while mlaudit analyses the same files."""

    def __init__(self, root: Path, paths: Sequence[str]) -> None:
        self.root = root
        self.paths = list(paths)
        self.processes = [_start_ruff(root, batch) for batch in _batches(self.paths)]

    def rows(self) -> dict[str, tuple[int, ...]]:
        """Rows of commented-out code per file, ruff's ERA001 minus the prose it mistakes for code."""
        items = [item for process in self.processes for item in _collect(process, RUFF_TIMEOUT_SECONDS)]
        return _rows(self.root, self.paths, items) if self.processes else {}


def _batches(paths: list[str]) -> list[list[str]]:
    """The file list cut into command lines that fit. ruff is never pointed at a folder to walk
    itself: it would then read files mlaudit does not (over the size limit, FIFOs)."""
    batches: list[list[str]] = []
    size = MAX_ARGUMENT_CHARS
    for path in paths:
        if size + len(path) + 1 > MAX_ARGUMENT_CHARS:
            batches.append([])
            size = 0
        batches[-1].append(path)
        size += len(path) + 1
    return batches


def commented_code_rows(root: Path, paths: Sequence[str]) -> dict[str, tuple[int, ...]]:
    """Rows of commented-out code per file, ruff's ERA001 minus the prose it mistakes for code."""
    return CommentedCode(root, paths).rows()


def _rows(root: Path, paths: list[str], items: list[dict[str, Any]]) -> dict[str, tuple[int, ...]]:
    wanted = set(paths)
    found: dict[str, list[int]] = {}
    for item in items:
        rel = _relative(root, str(item.get("filename", "")))
        location = item.get("location") or {}
        if rel in wanted and item.get("code") == "ERA001" and isinstance(location.get("row"), int):
            found.setdefault(rel, []).append(location["row"])
    rows = {}
    for path, hits in found.items():
        lines = _source_lines(root, root / path)
        rows[path] = tuple(row for row in sorted(set(hits)) if _looks_like_code(lines, row))
    return {path: value for path, value in rows.items() if value}


def _source_lines(root: Path, path: Path) -> list[str]:
    data = read_inside(root, path, 64 * 2**20)  # never a file outside the repository
    return data.decode("utf-8", errors="replace").splitlines() if data is not None else []


def _looks_like_code(lines: list[str], row: int) -> bool:
    """Drop two kinds of ERA001 hits that are prose: a formula written as a bare expression
    (`# 0.5 * sum(1 + log(sigma^2))`) and lines of a pasted REPL session (`# >>> x` and its output)."""
    if not 0 < row <= len(lines):
        return True
    text = lines[row - 1].strip().lstrip("#").strip()
    try:
        tree = ast.parse(text)
    except (SyntaxError, ValueError):
        tree = None
    effects = (ast.Call, ast.Await, ast.Yield, ast.YieldFrom)
    body = tree.body if tree is not None else []
    if len(body) == 1 and isinstance(body[0], ast.Expr) and not isinstance(body[0].value, effects):
        return False
    return not any(">>>" in line for line in _comment_block(lines, row))


def _comment_block(lines: list[str], row: int) -> list[str]:
    """The run of full-line comments around `row`."""
    start = end = row - 1
    while start > 0 and lines[start - 1].lstrip().startswith("#"):
        start -= 1
    while end + 1 < len(lines) and lines[end + 1].lstrip().startswith("#"):
        end += 1
    return lines[start : end + 1]


def _relative(root: Path, filename: str) -> str:
    try:
        return Path(filename).resolve().relative_to(root.resolve()).as_posix()
    except (ValueError, OSError):
        return filename


def _start_ruff(root: Path, paths: list[str]) -> subprocess.Popen[str]:
    try:
        from ruff.__main__ import find_ruff_bin  # type: ignore[import-untyped]
        binary = find_ruff_bin()
    except (ImportError, FileNotFoundError) as exc:
        raise RuffUnavailable(f"ML303 needs the ruff binary (pip install ruff) and could not find it: {exc}; "
                              "ignore ML303 or install ruff") from None
    command = [str(binary), "check", "--isolated", "--no-cache", "--select", "ERA001", "--output-format", "json",
               "--exit-zero", "--force-exclude", "--", *paths]
    try:
        return subprocess.Popen(command, cwd=root, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    except OSError as exc:
        raise RuffUnavailable(f"ML303 could not run ruff ({type(exc).__name__}: {exc}); ignore ML303 or fix ruff") from None


def _collect(process: subprocess.Popen[str], timeout: float) -> list[dict[str, Any]]:
    try:
        stdout, stderr = process.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        process.kill()
        process.communicate()
        raise RuffUnavailable(f"ML303: ruff did not finish in {timeout:.0f} s; ignore ML303 or fix ruff") from None
    if process.returncode != 0:
        raise RuffUnavailable(f"ML303: ruff exited with {process.returncode}: {stderr.strip()[:300]}")
    try:
        data = json.loads(stdout or "[]")
    except json.JSONDecodeError:
        raise RuffUnavailable("ML303: ruff printed output that is not JSON; ignore ML303 or upgrade ruff") from None
    return [item for item in data if isinstance(item, dict)] if isinstance(data, list) else []
