"""PEP 440 version ordering and the lower bound a specifier allows, without `packaging`.

The version-aware rules ask one kind of question: may the project run a torch older than X? That
needs an ordering of versions (epoch, release, pre, post, dev; the local part such as `+cpu` does
not change which release it is) and the lowest version a specifier admits.
"""

from __future__ import annotations

import posixpath
import re
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TypeVar

from mlaudit.files.lockfiles import Lockfile
from mlaudit.files.manifests import Manifest, expand_includes
from mlaudit.files.requirements import normalize_name, split_clauses

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


def version_key(text: str) -> VersionKey | None:
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


def lower_bound(specifier: str) -> str | None:
    """The lowest version a specifier admits (`>=2.1,<3` -> 2.1, `~=2.6` -> 2.6, `==2.*` -> 2).

    Exact pins give their version too. None when there is no lower bound (`<3`, "", `!=2.0`) or
    the specifier is not PEP 440 (a Poetry `||` alternative, a conda `|`).
    """
    if "|" in specifier:
        return None
    best: str | None = None
    for op, version in split_clauses(specifier):
        if op in ("<", "<=", "!="):
            continue
        candidate = version.removesuffix(".*")
        if version_key(candidate) is None:
            continue
        # Several lower clauses all hold at once, so the highest one bounds the range.
        if best is None or is_older(best, candidate):
            best = candidate
    return best


def upper_bound(specifier: str) -> tuple[str, bool] | None:
    """The cap of a specifier's range, as (version, inclusive): `<2.6` -> ("2.6", False),
    `<=2.5.1` -> ("2.5.1", True), `==2.5.*` and `~=2.5.0` -> ("2.6", False), `==2.5.1` -> ("2.5.1",
    True). None when nothing caps the range (`>=2.1`, "") or the specifier is not PEP 440."""
    if "|" in specifier:
        return None
    best: tuple[str, bool] | None = None
    for op, version in split_clauses(specifier):
        if op == "<" or op == "<=":
            candidate = (version, op == "<=")
        elif op in ("==", "===") and not version.endswith(".*"):
            candidate = (version, True)
        elif op == "==" and version.endswith(".*"):
            candidate = (_next_release(version.removesuffix(".*")), False)
        elif op == "~=":
            candidate = (_next_release(version.rsplit(".", 1)[0]) if "." in version else "", False)
        else:
            continue
        if not candidate[0] or version_key(candidate[0]) is None:
            continue
        # Several upper clauses all hold at once, so the lowest one caps the range.
        if best is None or _upper_key(candidate) < _upper_key(best):
            best = candidate
    return best


def _next_release(prefix: str) -> str:
    """`2.5` -> `2.6`: the first release after every `2.5.*` (the bump of the last part)."""
    parts = prefix.split(".")
    if not all(p.isdigit() for p in parts):
        return ""
    return ".".join([*parts[:-1], str(int(parts[-1]) + 1)])


def _upper_key(bound: tuple[str, bool]) -> tuple[VersionKey, int]:
    return (version_key(bound[0]) or (0, (0,), (0, 0), 0, 0), 1 if bound[1] else 0)


@dataclass(frozen=True)
class VersionInfo:
    """Which versions of one package the project allows, as seen from one file."""

    name: str
    exact: tuple[str, ...] = ()  # locked or `==`-pinned versions (several when a lock forks)
    lower: str | None = None  # lowest allowed version when only ranges are declared
    source: str = ""  # the lockfile or manifest that answered, "" when nothing did
    line: int = 0  # the requirement's line in a manifest, 0 for a lockfile
    specifier: str = ""  # the answering requirement's specifier as declared ("" for a bare name)
    unbounded: bool = False  # some declaration has no lower bound (`torch`, `torch<3`)
    upper: tuple[str, bool] | None = None  # (version, inclusive) capping every declaration, if any

    @property
    def known(self) -> bool:
        return bool(self.exact) or self.lower is not None


def may_be_older_than(info: VersionInfo, version: str) -> bool:
    """True when some allowed version may sort before `version`, or nothing is known."""
    if info.exact:
        return any(is_older(v, version) for v in info.exact)
    if info.lower is not None:
        return is_older(info.lower, version)
    return True


def all_at_least(info: VersionInfo, version: str) -> bool:
    """True when every allowed version is known to be `version` or newer."""
    return not may_be_older_than(info, version)


def all_older_than(info: VersionInfo, version: str) -> bool:
    """True when every allowed version is known to sort before `version` (`torch<2.6`)."""
    if info.exact:
        return all(is_older(v, version) for v in info.exact)
    if info.upper is None:
        return False
    cap, inclusive = info.upper
    return is_older(cap, version) if inclusive else not is_older(version, cap)


def allowed_versions(
    name: str, manifests: Iterable[Manifest], lockfiles: Iterable[Lockfile], near: str
) -> VersionInfo:
    """The versions of `name` allowed for the file at `near` (repo-relative, POSIX).

    Folders are searched from the file's own up to the root, and the first folder that says
    anything answers: a repo of examples can have one requirements.txt per folder. Within a
    folder a lockfile beats an `==` pin, which beats a range; a range answers with its lowest
    bound across the folder's files, since any of them may be the one installed. A requirements
    file answers with what it `-r`-includes too (Lightning's root requirements.txt includes
    requirements/pytorch/base.txt).
    """
    wanted = normalize_name(name)
    manifests = list(manifests)
    by_path = {m.path: m for m in manifests}
    locks_by_dir = _by_dir(lockfiles)
    manifests_by_dir = _by_dir(manifests)
    for folder in folders_up(near):
        info = _from_locks(wanted, locks_by_dir.get(folder, [])) or _from_manifests(
            wanted, manifests_by_dir.get(folder, []), by_path
        )
        if info is not None:
            return info
    return VersionInfo(wanted)


_Located = TypeVar("_Located", "Manifest", "Lockfile")


def _by_dir(files: Iterable[_Located]) -> dict[str, list[_Located]]:
    out: dict[str, list[_Located]] = {}
    for item in sorted(files, key=lambda f: f.path):
        out.setdefault(posixpath.dirname(item.path), []).append(item)
    return out


def folders_up(path: str) -> list[str]:
    """The folders from the one holding `path` up to the root ("")."""
    folder = posixpath.dirname(path.strip("/"))
    folders = [folder]
    while folder:
        folder = posixpath.dirname(folder)
        folders.append(folder)
    return folders


def _from_locks(name: str, locks: list[Lockfile]) -> VersionInfo | None:
    for lock in locks:
        versions = lock.versions(name)
        if versions:
            return VersionInfo(name, exact=versions, source=lock.path)
    return None


def _from_manifests(name: str, manifests: list[Manifest], by_path: dict[str, Manifest]) -> VersionInfo | None:
    requirements = [r for m in manifests for r in expand_includes(m, by_path) if r.name == name]
    pinned = [r for r in requirements if r.exact_version]
    if pinned:
        versions = tuple(sorted({r.exact_version or "" for r in pinned}))
        return VersionInfo(name, exact=versions, source=pinned[0].source, line=pinned[0].line)
    if not requirements:
        return None
    bounds = [(lower_bound(r.specifier), r) for r in requirements]
    uppers = [upper_bound(r.specifier) for r in requirements]
    # The loosest cap holds for every declaration; one uncapped declaration leaves the top open.
    upper = None if any(u is None for u in uppers) else max((u for u in uppers if u), key=_upper_key)
    open_ended = [r for bound, r in bounds if bound is None]
    if open_ended:
        # One declaration without a lower bound (`torch`, `torch<3`) lets any old version in: it answers.
        first = open_ended[0]
        return VersionInfo(name, source=first.source, line=first.line, specifier=first.specifier, unbounded=True, upper=upper)
    lowest, requirement = min(bounds, key=lambda pair: version_key(pair[0] or "") or ())
    return VersionInfo(
        name, lower=lowest, source=requirement.source, line=requirement.line, specifier=requirement.specifier, upper=upper
    )
