"""Helpers for the adoption tests: a repository with known findings, the CLI, line edits."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

# ML502 is opt-in (docs/validation.md); these flows need a finding in requirements.txt too.
OPT_IN_ML502 = {"mlaudit.toml": 'extend-select = ["ML502"]\n'}

TRAIN = """\
import torch


def load(path):
    model = torch.load(path)
    return model


def resume(path):
    state = torch.load(path)
    return state
"""


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    extra = ["--output-format", "concise"] if args[0] == "check" else []
    command = [sys.executable, "-m", "mlaudit", *args, "--no-cache", *extra]
    return subprocess.run(command, cwd=cwd, capture_output=True, text=True, timeout=120)


def reported(result: subprocess.CompletedProcess[str]) -> list[str]:
    """`path:line CODE` of each reported finding in concise output."""
    lines = []
    for line in result.stdout.splitlines():
        head, _, rest = line.partition(": ML")
        if rest:
            path, number, _col = head.rsplit(":", 2)
            lines.append(f"{path}:{number} ML{rest.split()[0]}")
    return lines


def insert_lines(path: Path, after: int, lines: list[str]) -> None:
    text = path.read_text().splitlines(keepends=True)
    text[after:after] = [line + "\n" for line in lines]
    path.write_text("".join(text))
