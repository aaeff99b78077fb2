"""The project's manifests and lockfiles, gathered once per run from the per-file facts.

Rules ask it which lock covers a manifest (ML501-ML503) and which torch a file may run with
(the version-aware rules: `index.allowed_versions("torch", near=path)`).
"""

from __future__ import annotations

import posixpath
from collections.abc import Iterator
from dataclasses import dataclass

from mlaudit.files.lockfiles import Lockfile
from mlaudit.files.manifests import Manifest, lock_from_requirements
from mlaudit.project.model import ProjectModel
from mlaudit.project.versions import VersionInfo, allowed_versions, folders_up

# A lock in one of these sub-folders of a manifest's folder covers it too: requirements/prod.txt.
LOCK_SUBFOLDERS = ("requirements",)


@dataclass(frozen=True)
class DependencyIndex:
    manifests: tuple[Manifest, ...]
    # Real lockfiles, then requirements files and environment files pinned so fully they lock.
    lockfiles: tuple[Lockfile, ...]

    def by_path(self) -> dict[str, Manifest]:
        return {m.path: m for m in self.manifests}

    def real_lockfiles(self) -> tuple[Lockfile, ...]:
        """Lockfiles written by a locking tool, not requirements files that happen to be pinned."""
        return tuple(lock for lock in self.lockfiles if lock.kind not in _DERIVED_LOCK_KINDS)

    def covering_locks(self, path: str, *, real_only: bool = False) -> list[Lockfile]:
        """Locks that cover the file at `path`: in its folder, a folder above it, or a
        conventional lock sub-folder of its folder; nearest folder first."""
        folders = folders_up(path)
        here = posixpath.dirname(path)
        extra = [posixpath.join(here, sub) for sub in LOCK_SUBFOLDERS]
        candidates = self.real_lockfiles() if real_only else self.lockfiles
        ranked = [(_rank(lock.path, folders, extra), lock) for lock in candidates]
        return [lock for rank, lock in sorted(ranked, key=lambda pair: (pair[0], pair[1].path)) if rank >= 0]

    def allowed_versions(self, name: str, near: str) -> VersionInfo:
        return allowed_versions(name, self.manifests, self.real_lockfiles(), near)


_DERIVED_LOCK_KINDS = frozenset({"requirements-lock", "conda-env-lock"})


def _rank(lock_path: str, folders: list[str], extra: list[str]) -> int:
    folder = posixpath.dirname(lock_path)
    if folder in folders:
        return folders.index(folder)
    return len(folders) if folder in extra else -1


def dependency_index(model: ProjectModel) -> DependencyIndex:
    """Built once per run and shared by every rule that asks."""
    return model.analysis(build_index)


def build_index(model: ProjectModel) -> DependencyIndex:
    manifests: list[Manifest] = []
    lockfiles: list[Lockfile] = []
    for item in _dependency_files(model):
        if isinstance(item, Lockfile):
            lockfiles.append(item)
            continue
        manifests.append(item)
        derived = lock_from_requirements(item)
        if derived is not None:
            lockfiles.append(derived)
    return DependencyIndex(tuple(manifests), tuple(lockfiles))


def _dependency_files(model: ProjectModel) -> Iterator[Manifest | Lockfile]:
    for path in sorted(model.facts):
        item = model.facts[path].dependencies
        if item is not None:
            yield item
