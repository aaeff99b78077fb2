"""PEP 440 version ordering and the lower bound a specifier allows, without `packaging`.

The version-aware rules ask one kind of question: may the project run a torch older than X? That
needs an ordering of versions (epoch, release, pre, post, dev; the local part such as `+cpu` does
not change which release it is) and the lowest version a specifier admits.
"""

from __future__ import annotations

import re
import sys
from typing import Optional

from mlaudit.project.requirements import split_clauses

_VERSION = re.compile(
    r"""
    v?
    (?:(?P<epoch>[0-9]+)!)?
    (?P<release>[0-9]+(?:\.[0-9]+)*)
    (?P<pre>[-_.]?(?P<pre_l>alpha|a|beta|b|preview|pre|c|rc)[-_.]?(?P<pre_n>[0-9]+)?)?
    (?P<post>(?:-(?P<post_n1>[0-9]+))|(?:[-_.]?(?P<post_l>post|rev|r)[-_.]?(?P<post_n2>[0-9]+)?))?
    (?P<dev>[-_.]?dev[-_.]?(?P<dev_n>[0-9]+)?)?
    (?:\+[a-z0-9]+(?:[-_.][a-z0-9]+)*)?
    """,
    re.VERBOSE | re.IGNORECASE,
)

_PRE_RANK = {"a": 0, "alpha": 0, "b": 1, "beta": 1, "c": 2, "rc": 2, "pre": 2, "preview": 2}
_NO_DEV = sys.maxsize  # a final release sorts after all of its dev releases

VersionKey = tuple[int, tuple[int, ...], tuple[int, int], int, int]


def version_key(text: str) -> Optional[VersionKey]:
    """A sortable key for a PEP 440 version, or None when `text` is not one.

    The order follows PEP 440: 2.6.dev1 < 2.6a1 < 2.6rc1 < 2.6 == 2.6.0 < 2.6.post1 < 2.6.1;
    `2.6.0+cu124` sorts as `2.6.0`.
    """
    match = _VERSION.fullmatch(text.strip())
    if match is None:
        return None
    release = tuple(int(part) for part in match.group("release").split("."))
    while len(release) > 1 and release[-1] == 0:
        release = release[:-1]
    return (
        int(match.group("epoch") or 0),
        release,
        _pre_key(match),
        _post_key(match),
        int(match.group("dev_n") or 0) if match.group("dev") else _NO_DEV,
    )


def _pre_key(match: re.Match[str]) -> tuple[int, int]:
    if match.group("pre"):
        return (_PRE_RANK[match.group("pre_l").lower()], int(match.group("pre_n") or 0))
    if match.group("dev") and not match.group("post"):
        return (-1, 0)  # 1.0.dev0 comes before 1.0a0
    return (3, 0)


def _post_key(match: re.Match[str]) -> int:
    if not match.group("post"):
        return -1
    return int(match.group("post_n1") or match.group("post_n2") or 0)


def is_older(version: str, than: str) -> bool:
    """True when `version` sorts before `than`; a version that does not parse counts as older."""
    key, other = version_key(version), version_key(than)
    if key is None or other is None:
        return True
    return key < other


def lower_bound(specifier: str) -> Optional[str]:
    """The lowest version a specifier admits (`>=2.1,<3` -> 2.1, `~=2.6` -> 2.6, `==2.*` -> 2).

    Exact pins give their version too. None when there is no lower bound (`<3`, "", `!=2.0`) or
    the specifier is not PEP 440 (a Poetry `||` alternative, a conda `|`).
    """
    if "|" in specifier:
        return None
    best: Optional[str] = None
    for op, version in split_clauses(specifier):
        if op in ("<", "<=", "!="):
            continue
        candidate = version[:-2] if version.endswith(".*") else version
        if version_key(candidate) is None:
            continue
        # Several lower clauses all hold at once, so the highest one bounds the range.
        if best is None or is_older(best, candidate):
            best = candidate
    return best
