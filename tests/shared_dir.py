"""Where the project's shared research files live, found without a conftest.

`shared/` sits beside the repository (`<repo>/../shared`); a git worktree may sit deeper
(`<root>/wt/<branch>`), so every ancestor's `shared/` is tried, nearest first. The environment
variable MLAUDIT_SHARED overrides the search.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]


def find_shared() -> Path | None:
    env = os.environ.get("MLAUDIT_SHARED")
    if env:
        return Path(env).resolve()
    for base in REPO.parents:
        candidate = base / "shared"
        if (candidate / "schemas").is_dir():
            return candidate
    return None


SHARED = find_shared()


def shared_file(*parts: str) -> Path:
    """A file under shared/; skips the calling test (saying why) when it is not there."""
    if SHARED is None:
        pytest.skip("shared/ not found beside the repository; set MLAUDIT_SHARED")
    path = SHARED.joinpath(*parts)
    if not path.is_file():
        pytest.skip(f"{path} does not exist")
    return path
