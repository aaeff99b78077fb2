"""ML5xx: dependencies and environment. The project must say exactly what it installs."""

from __future__ import annotations

import posixpath
from collections.abc import Iterable, Iterator

from mlaudit.files import kinds
from mlaudit.files.lockfiles import Lockfile
from mlaudit.files.manifests import Manifest, expand_includes
from mlaudit.files.requirements import Requirement
from mlaudit.findings import Finding, Level, RelatedLocation
from mlaudit.project.dependencies import DependencyIndex, dependency_index
from mlaudit.project.model import ProjectModel
from mlaudit.rules.base import ProjectRule

# Manifests that declare what a project needs (ML501), most telling first: the finding for a
# folder points at the first of them present.
DECLARING_KINDS = ("pyproject", "pipfile", "conda-env", "setup-cfg", "setup-py", "requirements-in")

# Entries that name the interpreter or the installer, not a dependency.
NOT_DEPENDENCIES = frozenset({"python", "pip"})

# How to make the missing lock, by the tool the manifest names.
LOCK_ADVICE = {
    "poetry": "run `poetry lock` and commit poetry.lock",
    "uv": "run `uv lock` and commit uv.lock",
    "pdm": "run `pdm lock` and commit pdm.lock",
    "pipenv": "run `pipenv lock` and commit Pipfile.lock",
    "conda": "lock it with `conda-lock -f {name}` (or `pixi`) and commit the lockfile",
    "pip-tools": "compile it with `pip-compile {name}` (or `uv pip compile`) and commit the pinned output",
}
DEFAULT_LOCK_ADVICE = "lock it (`uv lock`, `poetry lock`, or `pip-compile` to a fully pinned requirements.txt) and commit the lockfile"

# Manifests that can build a distributable package (ML501 asks no lock of a published library).
PACKAGE_KINDS = frozenset({"pyproject", "setup-py", "setup-cfg"})
# Package names that project templates give the code: nothing anyone installs by that name.
PLACEHOLDER_PACKAGES = frozenset({"src", "app", "project", "package", "main", "code", "lib"})
# Front-ends to look at a notebook: they compute nothing the project reports.
VIEWING_TOOLS = frozenset({"jupyterlab", "jupyter", "notebook", "ipykernel", "ipython", "ipywidgets", "nb-conda-kernels"})

# Which pyproject tables each locking tool resolves (ML503); other tables it never reads.
LOCK_READS = {
    "uv-lock": ("project.", "dependency-groups", "tool.uv"),
    "poetry-lock": ("project.", "tool.poetry."),
    "pdm-lock": ("project.", "dependency-groups", "tool.pdm."),
}
TOOL_LOCK = {"uv": "uv-lock", "poetry": "poetry-lock", "pdm": "pdm-lock"}
LOCK_COMMAND = {"uv-lock": "uv lock", "poetry-lock": "poetry lock", "pdm-lock": "pdm lock"}


class MissingLockfile(ProjectRule):
    code = "ML501"
    name = "missing-lockfile"
    summary = "The project declares dependencies but has no lockfile that pins them"
    level = Level.WARNING
    valid = (
        {"pyproject.toml": '[project]\nname = "p"\ndependencies = ["torch>=2.1"]\n', "uv.lock": 'version = 1\n\n[[package]]\nname = "torch"\nversion = "2.6.0"\n'},
        # A fully pinned requirements.txt is a lock.
        {"setup.py": "from setuptools import setup\nsetup(install_requires=['numpy'])\n", "requirements.txt": "numpy==1.26.4\n"},
        # A lock in a folder above covers the example's requirements.in.
        {"examples/a/requirements.in": "torch\n", "poetry.lock": '[[package]]\nname = "torch"\nversion = "2.6.0"\n'},
        # Only development tools declared: nothing the program runs with.
        {"pyproject.toml": '[project]\nname = "p"\n\n[dependency-groups]\ndev = ["pytest"]\n'},
        # `conda env export` output pins every package and build.
        {"environment.yml": "dependencies:\n  - python=3.11.9=hab00c5b_0_cpython\n  - numpy=1.26.4=py311h64a7726_0\n"},
        # A published library: the distribution's package sits beside the manifest and the repo's
        # tests import it (timm, trl, accelerate, detectron2): its ranges are meant to float.
        {"pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n\n[project]\nname = "tinylib"\n'
                           'dependencies = ["torch>=2.1"]\n',
         "tinylib/__init__.py": "", "tests/test_tinylib.py": "import tinylib\n"},
        {"setup.py": "from setuptools import setup\nsetup(name='minGPT', packages=['mingpt'], install_requires=['torch'])\n",
         "mingpt/__init__.py": "", "tests/test_model.py": "from mingpt.model import GPT\n"},
        # An environment.yml whose runtime packages are pinned by hand (machine-learning-book);
        # only the notebook front-end floats.
        {"environment.yml": "dependencies:\n  - python=3.9\n  - numpy=1.21.2\n  - scikit-learn=1.0\n  - jupyterlab>=3.4.4\n"},
    )
    invalid = (
        {"pyproject.toml": '[tool.poetry]\nname = "p"\n\n[tool.poetry.dependencies]  # expect: ML501\npython = "^3.10"\ntorch = "^2.1"\n'},
        {"environment.yml": "name: env\ndependencies:  # expect: ML501\n  - pytorch>=2.1\n"},
        # A template's environment with major versions only (lightning-hydra-template).
        {"environment.yaml": "name: env\ndependencies:  # expect: ML501\n  - python=3.10\n  - pytorch=2.*\n  - pip:\n"
                             "      - hydra-core\n"},
        # An application run from the clone: no package named after the project (yolov5), or no
        # test of it.
        {"pyproject.toml": '[build-system]\nrequires = ["setuptools"]\n\n[project]\nname = "YOLOv5"\n'
                           'dependencies = [  # expect: ML501\n    "torch>=1.8",\n]\n',
         "models/__init__.py": "", "train.py": "import models\n", "tests/test_export.py": "import models\n"},
        {"pyproject.toml": '[tool.poetry]\nname = "classifier"\n\n[tool.poetry.dependencies]  # expect: ML501\n'
                           'torch = "^2.4"\n\n[build-system]\nrequires = ["poetry-core"]\n',
         "src/classifier/__init__.py": ""},
        {"setup.py": "from setuptools import setup\nsetup(  # expect: ML501\n    install_requires=['torch>=2'],\n)\n", "requirements.txt": "torch>=2\n"},
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        index = dependency_index(model)
        unlocked: dict[str, list[Manifest]] = {}
        for manifest in index.manifests:
            if manifest.kind in DECLARING_KINDS and _declares(manifest) and not index.covering_locks(manifest.path):
                if _pinned_by_hand(manifest) or _is_published_library(manifest, model):
                    continue
                unlocked.setdefault(posixpath.dirname(manifest.path), []).append(manifest)
        for folder in sorted(unlocked):
            yield self._finding(sorted(unlocked[folder], key=lambda m: DECLARING_KINDS.index(m.kind)))

    def _finding(self, manifests: list[Manifest]) -> Finding:
        primary = manifests[0]
        name = posixpath.basename(primary.path)
        advice = LOCK_ADVICE.get(primary.tool, DEFAULT_LOCK_ADVICE).format(name=name)
        return Finding(
            code=self.code,
            message=f"{name} declares dependencies but no lockfile pins them, so each install may resolve "
            f"different versions; {advice}.",
            path=primary.path,
            line=primary.anchor_line,
            level=self.level,
            related_paths=tuple(m.path for m in manifests[1:]),
        )


def _declares(manifest: Manifest) -> bool:
    """Main dependencies only: a pyproject that lists just dev tools installs nothing to run."""
    return any(r.group == "" and r.name not in NOT_DEPENDENCIES for r in manifest.requirements)


def _pinned_by_hand(manifest: Manifest) -> bool:
    """A conda environment whose every runtime package names a release line down to the minor
    version (`numpy=1.21.2`, `scikit-learn=1.0`; conda's `=1.0` is 1.0.*): it already says what to
    install. Notebook front-ends (`jupyterlab>=3.4`) change no result and may float."""
    if manifest.kind != "conda-env":
        return False
    runtime = [r for r in manifest.requirements if r.name not in NOT_DEPENDENCIES | VIEWING_TOOLS]
    return bool(runtime) and all(r.pinned or _minor_line(r.specifier) for r in runtime)


def _minor_line(specifier: str) -> bool:
    """`==1.0.*`, `==1.21.2.*`: one release line at least as narrow as a minor version."""
    if not specifier.startswith("==") or "," in specifier:
        return False
    parts = specifier[2:].removesuffix(".*").split(".")
    return len(parts) >= 2 and all(p.isdigit() for p in parts)


def _is_published_library(manifest: Manifest, model: ProjectModel) -> bool:
    """A distribution other projects install (timm, trl, accelerate, detectron2, minGPT): the
    manifest names it, a package of that name sits beside the manifest (or under src/), and the
    repo's tests import that package. Its ranges are meant to float and be resolved in each user's
    environment; a lock would pin only the maintainers' own. An application run from the clone
    (yolov5: no `yolov5` package) or a project with no test of its package keeps the finding."""
    if manifest.kind not in PACKAGE_KINDS or not manifest.name:
        return False
    folder = posixpath.dirname(manifest.path)
    candidates = {manifest.name.replace("-", "_"), manifest.name.rsplit("-", 1)[-1]} - PLACEHOLDER_PACKAGES
    present = {name for name in candidates
               if any(f"{posixpath.join(folder, base, name)}/__init__.py" in model.files for base in ("", "src"))}
    return bool(present & _imported_by_tests(model, folder))


def _imported_by_tests(model: ProjectModel, folder: str) -> set[str]:
    """Top-level modules that the test files under `folder` import."""
    prefix = f"{folder}/" if folder else ""
    found: set[str] = set()
    for file, facts in model.python_modules():
        if file.path.startswith(prefix) and file.has_role(kinds.TEST):
            found.update(i.target.split(".", 1)[0] for i in facts.imports if i.target)
    return found


class UnpinnedDependency(ProjectRule):
    code = "ML502"
    # Measured at 0.46 on the round-3 validation corpus: opt-in until it reaches 0.95 (rules/ML502.md).
    opt_in = True
    name = "unpinned-dependency"
    summary = "A requirements file that serves as the only lock has an entry not pinned with =="
    level = Level.WARNING
    valid = (
        {"requirements.txt": "numpy==1.26.4 \\\n    --hash=sha256:2a02aba9ed12e4ac4eb3ea9421c5b2e0d4b6a6c5ff6c5f3c0d8fc2b4e0d1e0a4\ntorch[cuda]==2.6.0 ; sys_platform == 'linux'\n"},
        # A real lockfile also present: requirements.txt is only a convenience list.
        {"requirements.txt": "torch>=2.1\n", "uv.lock": 'version = 1\n\n[[package]]\nname = "torch"\nversion = "2.6.0"\n'},
        # Pinned through a constraints file.
        {"requirements.txt": "-c constraints.txt\ntorch\n", "constraints.txt": "torch==2.6.0\n"},
        # The `-r` line is not an entry; the included file is pinned.
        {"requirements-dev.txt": "-r requirements.txt\npytest==8.3.3\n", "requirements.txt": "numpy==1.26.4\n"},
        {"docs/requirements.txt": "sphinx\n"},
        {"requirements/docs.txt": "sphinx >5.0, <6.0\n"},
    )
    invalid = (
        # One finding per file, at the first unpinned line, naming every unpinned entry.
        {"requirements.txt": "numpy==1.26.4\ntorch>=2.1  # expect: ML502\nscipy~=1.11\npandas\n"},
        {"requirements-dev.txt": "-r requirements.txt\npytest  # expect: ML502\n", "requirements.txt": "Foo_Bar==1.0\n"},
        # A VCS URL without a revision installs whatever the branch holds that day.
        {"requirements.txt": "numpy==1.26.4\ngit+https://github.com/openai/CLIP.git  # expect: ML502\n"},
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        index = dependency_index(model)
        by_path = index.by_path()
        for manifest in index.manifests:
            if not _serves_as_lock(manifest) or index.covering_locks(manifest.path, real_only=True):
                continue
            constrained = _constrained_names(manifest, by_path)
            unpinned = [r for r in manifest.requirements if not r.pinned and r.name not in constrained]
            if unpinned:
                yield self._finding(sorted(unpinned, key=lambda r: r.line))

    def _finding(self, unpinned: list[Requirement]) -> Finding:
        """One finding per file: the fix (`pip-compile` / `uv pip compile`) is one for all entries."""
        first = unpinned[0]
        if len(unpinned) == 1:
            what, pronoun = f"`{first.raw}` is not pinned to one version", "it"
        else:
            names = ", ".join(f"`{r.raw}`" for r in unpinned)
            what, pronoun = f"{len(unpinned)} entries are not pinned to one version ({names})", "them"
        return Finding(
            code=self.code,
            message=f"{what} and this file is the project's only lock, so installs drift over time; pin {pronoun} "
            "with `==` (e.g. from `pip freeze`) or generate the file with `pip-compile` / `uv pip compile`.",
            path=first.source,
            line=first.line,
            level=self.level,
            related=tuple(RelatedLocation(r.source, r.line, 1, f"`{r.raw}` is not pinned") for r in unpinned[1:]),
        )


def _serves_as_lock(manifest: Manifest) -> bool:
    """A requirements file with the lockfile role (requirements*.txt, requirements*.lock,
    requirements/base.txt) outside docs: constraints.txt ranges are meant as ranges, and
    docs/requirements.txt or requirements/docs.txt install documentation tools, not the training
    environment."""
    if manifest.kind != "requirements-txt":
        return False
    roles = kinds.classify(manifest.path).roles
    return kinds.LOCKFILE in roles and kinds.DOCS not in roles


def _constrained_names(manifest: Manifest, by_path: dict[str, Manifest]) -> frozenset[str]:
    """Names pinned with `==` in the constraints files (`-c`) the manifest names."""
    names: set[str] = set()
    for include in manifest.includes:
        constraints = by_path.get(include.path)
        if include.constraint and constraints is not None:
            names.update(r.name for r in expand_includes(constraints, by_path) if r.pinned)
    return frozenset(names)


class StaleLockfile(ProjectRule):
    code = "ML503"
    name = "stale-lockfile"
    summary = "A dependency declared in the manifest is missing from its lockfile"
    level = Level.WARNING
    valid = (
        {
            "pyproject.toml": '[project]\nname = "p"\ndependencies = ["Foo_Bar[extra]>=1", "torch"]\n\n[project.optional-dependencies]\nall = ["p[extra]"]\n',
            "uv.lock": 'version = 1\n\n[[package]]\nname = "foo-bar"\nversion = "1.0"\n\n[[package]]\nname = "torch"\nversion = "2.6.0"\n',
        },
        # Left out of the lock by its marker; the lock is right to omit it.
        {
            "pyproject.toml": '[project]\nname = "p"\ndependencies = ["importlib-metadata; python_version < \'3.8\'"]\n',
            "uv.lock": 'version = 1\n\n[[package]]\nname = "p"\nversion = "0.1"\n',
        },
        # requirements.in without a compiled requirements.txt: no lock to be stale (ML501's business).
        {"requirements.in": "torch\n"},
    )
    invalid = (
        {
            "pyproject.toml": '[project]\nname = "p"\ndependencies = [\n  "torch>=2.1",\n  "einops",  # expect: ML503\n]\n',
            "uv.lock": 'version = 1\n\n[[package]]\nname = "torch"\nversion = "2.6.0"\n',
        },
        {
            "requirements.in": "numpy\ntorch  # expect: ML503\n",
            "requirements.txt": "numpy==1.26.4\n",
        },
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        index = dependency_index(model)
        for manifest in index.manifests:
            lock = _paired_lock(manifest, index)
            if lock is None:
                continue
            for requirement in _missing(manifest, lock):
                yield self._finding(manifest, requirement, lock)

    def _finding(self, manifest: Manifest, requirement: Requirement, lock: Lockfile) -> Finding:
        lock_name = posixpath.basename(lock.path)
        command = LOCK_COMMAND.get(lock.kind, f"pip-compile {posixpath.basename(manifest.path)}")
        return Finding(
            code=self.code,
            message=f"`{requirement.name}` is declared in {posixpath.basename(manifest.path)} but missing from "
            f"{lock_name}, so the lock no longer matches the project; run `{command}` and commit {lock_name}.",
            path=manifest.path,
            line=requirement.line,
            level=self.level,
            related_paths=(lock.path,),
        )


def _paired_lock(manifest: Manifest, index: DependencyIndex) -> Lockfile | None:
    if manifest.kind == "requirements-in":
        compiled = manifest.path[: -len(".in")] + ".txt"  # pip-compile's default output name
        return next((lock for lock in index.lockfiles if lock.path == compiled), None)
    if manifest.kind != "pyproject":
        return None
    folder = posixpath.dirname(manifest.path)
    beside = [lock for lock in index.real_lockfiles() if lock.kind in LOCK_READS and posixpath.dirname(lock.path) == folder]
    preferred = [lock for lock in beside if lock.kind == TOOL_LOCK.get(manifest.tool)]
    if preferred or len(beside) == 1:
        return (preferred or beside)[0]
    if beside:
        return None  # two locks and no tool named: which one is meant is a guess
    return _workspace_lock(manifest, index)


def _workspace_lock(manifest: Manifest, index: DependencyIndex) -> Lockfile | None:
    """A uv workspace member is locked in the workspace root's uv.lock, which lists the member."""
    for lock in index.covering_locks(manifest.path, real_only=True):
        if lock.kind == "uv-lock" and manifest.name and manifest.name in lock.names():
            return lock
    return None


def _missing(manifest: Manifest, lock: Lockfile) -> Iterable[Requirement]:
    names = lock.names()
    reads = LOCK_READS.get(lock.kind)
    for requirement in manifest.requirements:
        if requirement.name in names or requirement.name == manifest.name or requirement.name in NOT_DEPENDENCIES:
            continue
        if requirement.marker:
            continue  # a lock may rightly leave out what a marker excludes (python_version < "3.8")
        if reads is not None and not requirement.table.startswith(reads):
            continue  # a table this tool never reads (a PEP 735 group under Poetry)
        if lock.groups and _pdm_group(requirement) not in lock.groups:
            continue  # pdm locked only some groups, and not this one
        yield requirement


def _pdm_group(requirement: Requirement) -> str:
    return requirement.group.partition(":")[2] or "default"
