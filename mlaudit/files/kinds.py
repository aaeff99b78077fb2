"""One place decides what a file is.

A file has one *format* (how it is parsed) and any number of *roles* (what it means to the
project): `setup.py` is Python with the manifest and build-script roles, `dvc.yaml` is YAML with
the dvc role, `tests/test_model.py` is Python with the test role. Rules ask for roles
(`SourceFile.has_role`, `Rule.exempt_roles`) and never test path parts themselves. Knowledge
lives in the tables below, and the dependency file names in `DEPENDENCY_FILES` also tell the
dependency reader (files/manifests.py, files/lockfiles.py) which parser reads each file.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

# Formats: how a file is parsed.
PYTHON, NOTEBOOK, YAML, TOML, JSON, TEXT, BINARY, OTHER = (
    "python", "notebook", "yaml", "toml", "json", "text", "binary", "other",
)

FORMAT_BY_SUFFIX = {
    ".py": PYTHON,
    ".ipynb": NOTEBOOK,
    ".yaml": YAML,
    ".yml": YAML,
    ".toml": TOML,
    ".lock": TEXT,  # refined by name below (uv.lock is TOML, pdm.lock TOML, dvc.lock YAML)
    ".dvc": YAML,
    ".json": JSON,
    ".txt": TEXT,
    ".in": TEXT,
    ".cfg": TEXT,
    ".env": TEXT,
    ".sh": TEXT,
}

FORMAT_BY_NAME = {
    "uv.lock": TOML,
    "poetry.lock": TOML,
    "pdm.lock": TOML,
    "Pipfile": TOML,
    "Pipfile.lock": JSON,
    "pixi.lock": YAML,
    "dvc.lock": YAML,
    "Makefile": TEXT,
    "Dockerfile": TEXT,
    ".env": TEXT,  # a dotfile has no suffix, so the ".env" suffix entry never matches it
    ".gitattributes": TEXT,
    ".gitignore": TEXT,
    ".dvcignore": TEXT,
}

# Roles: what a file is to the project. A file can have several (precedence: `classify`).
MANIFEST, LOCKFILE, DVC, DATA_ARTIFACT, CONFIG, ENV_SCRIPT, VCS = (
    "manifest", "lockfile", "dvc", "data-artifact", "config", "env-script", "vcs",
)
# Code roles. A test file (tests are not training: determinism switched off in a fixture is not a
# finding); documentation (a literal there is an example in prose); an example program (runs as a
# demo, is not the package anyone imports); a project-template file (cookiecutter/copier: Jinja to
# render, not the repo's own code); a build script (packaging or task automation: not training);
# a notebook (the NOTEBOOK format, as a role too); and source: the repo's own Python that is none of
# test, docs, example or build script.
SOURCE, TEST, DOCS, EXAMPLE, TEMPLATE, BUILD_SCRIPT = "source", "test", "docs", "example", "template", "build-script"
# A notebook's role has its format's name: every .ipynb has it.

TEST_FOLDERS = frozenset({"tests", "test", "testing", "test_utils"})
DOCS_FOLDERS = frozenset({"docs", "doc"})
EXAMPLE_FOLDERS = frozenset({"examples", "example"})
# pytest's default test module names, and its per-folder fixtures file.
PYTEST_NAMES = re.compile(r"(test_.*|.*_test)\.py")
TEST_NAMES = re.compile(r"(test_.*|.*_test|conftest)\.py")
# Python that packages the project or automates its tasks, run by a tool rather than by a person to train.
BUILD_SCRIPT_NAMES = frozenset({"setup.py", "noxfile.py"})
# Roles that keep a Python file from being the repo's own source.
NOT_SOURCE = frozenset({TEST, DOCS, EXAMPLE, BUILD_SCRIPT})
# A folder of requirements files: every .txt/.in there is a requirements manifest
# (requirements/base.txt, Lightning's requirements/pytorch/base.txt). Right in that folder a .txt
# may serve as the lock like requirements*.txt (rules decide), and requirements/docs.txt installs the
# documentation tools, so it has the docs role like docs/requirements.txt.
REQUIREMENTS_FOLDER = "requirements"
REQUIREMENTS_FOLDER_SUFFIXES = (".txt", ".in")
# A template generator's settings at the root of a repo make it a project template.
COOKIECUTTER_MARKERS = frozenset({"cookiecutter.json"})
COPIER_MARKERS = frozenset({"copier.yml", "copier.yaml"})
# Template files by name: Jinja in a path (`{{cookiecutter.project_slug}}/`) or copier's suffix.
TEMPLATE_SUFFIXES = (".jinja", ".jinja2", ".j2")
# Jinja that a generator renders, in a file's text: decides a file that does not parse.
TEMPLATE_TEXT = re.compile(r"\{\{-?\s*(?:cookiecutter|copier)\b|\{%-?\s*(?:if|for|raw|set|include|macro)\b")

# Dependency files: (glob on the file name, roles, reader). Every dependency file name is listed
# here only: `classify` gives the roles, and the reader names the parser that reads the file
# (MANIFEST_PARSERS in files/manifests.py, LOCKFILE_PARSERS in files/lockfiles.py). The first row
# whose glob matches picks the reader.
DEPENDENCY_FILES: tuple[tuple[str, frozenset[str], str], ...] = (
    ("pyproject.toml", frozenset({MANIFEST}), "pyproject"),
    ("setup.py", frozenset({MANIFEST}), "setup-py"),
    ("setup.cfg", frozenset({MANIFEST}), "setup-cfg"),
    ("Pipfile", frozenset({MANIFEST}), "pipfile"),
    # A fully pinned requirements file also serves as the lock; the rules decide whether it does.
    ("requirements*.txt", frozenset({MANIFEST, LOCKFILE}), "requirements"),
    ("requirements*.in", frozenset({MANIFEST}), "requirements"),
    ("requirements*.lock", frozenset({LOCKFILE}), "requirements"),  # `pip freeze > requirements.lock`
    ("constraints*.txt", frozenset({MANIFEST}), "requirements"),
    ("environment*.yml", frozenset({MANIFEST}), "conda-env"),
    ("environment*.yaml", frozenset({MANIFEST}), "conda-env"),
    ("uv.lock", frozenset({LOCKFILE}), "uv-lock"),
    ("poetry.lock", frozenset({LOCKFILE}), "poetry-lock"),
    ("pdm.lock", frozenset({LOCKFILE}), "pdm-lock"),
    ("Pipfile.lock", frozenset({LOCKFILE}), "pipfile-lock"),
    ("pixi.lock", frozenset({LOCKFILE}), "pixi-lock"),
    ("conda-lock.yml", frozenset({LOCKFILE}), "conda-lock"),
    ("conda-lock.yaml", frozenset({LOCKFILE}), "conda-lock"),
    ("*.conda-lock.yml", frozenset({LOCKFILE}), "conda-lock"),  # conda-lock --lockfile NAME.conda-lock.yml
    ("*.conda-lock.yaml", frozenset({LOCKFILE}), "conda-lock"),
    ("pylock.toml", frozenset({LOCKFILE}), "pylock"),
    ("pylock.*.toml", frozenset({LOCKFILE}), "pylock"),  # PEP 751 names extra locks pylock.NAME.toml
)

# Other roles by name: (glob on the file name, role).
ROLE_PATTERNS: tuple[tuple[str, str], ...] = (
    *((pattern, role) for pattern, roles, _ in DEPENDENCY_FILES for role in sorted(roles)),
    ("*.dvc", DVC),
    ("dvc.yaml", DVC),
    ("dvc.lock", DVC),
    ("params.yaml", CONFIG),
    ("*.yaml", CONFIG),
    ("*.yml", CONFIG),
    ("Makefile", ENV_SCRIPT),
    ("Dockerfile", ENV_SCRIPT),
    ("*.Dockerfile", ENV_SCRIPT),
    ("*.sh", ENV_SCRIPT),
    (".env", ENV_SCRIPT),
    # Which files git, LFS and DVC track or ignore (LFS filters live in .gitattributes).
    (".gitattributes", VCS),
    (".gitignore", VCS),
    (".dvcignore", VCS),
)

# Data and model artifacts, by extension. Rules read this through `is_artifact`.
ARTIFACT_SUFFIXES = frozenset(
    [".csv", ".tsv", ".parquet", ".feather", ".arrow", ".npy", ".npz", ".h5", ".hdf5", ".pt", ".pth", ".ckpt", ".safetensors", ".onnx", ".pkl", ".pickle", ".joblib", ".tfrecord", ".zip", ".tar", ".gz", ".tgz", ".bin", ".pb", ".tflite", ".mat", ".jsonl"]
)

# Files that are lockfiles or DVC files by role but YAML-shaped configs must not be treated as
# Hydra configs; rules use `is_config_yaml` for that.
NOT_CONFIG_NAMES = frozenset(
    {"dvc.yaml", "dvc.lock", "pixi.lock", "conda-lock.yml", "environment.yml", "environment.yaml",
     ".pre-commit-config.yaml", ".pre-commit-hooks.yaml", "mkdocs.yml", "codecov.yml",
     ".readthedocs.yaml", ".readthedocs.yml", "docker-compose.yml", "docker-compose.yaml",
     ".gitlab-ci.yml", ".travis.yml", "azure-pipelines.yml", "bitbucket-pipelines.yml", "appveyor.yml",
     ".codecov.yml", "codecov.yaml"}
)


@dataclass(frozen=True)
class Kind:
    format: str
    roles: frozenset[str]


@dataclass(frozen=True)
class Templates:
    """Where a repo keeps a project template: folders whose files are all templates."""

    folders: tuple[str, ...] = ()  # "hooks/", "template/": prefixes of repo paths

    def holds(self, rel_path: str) -> bool:
        return rel_path.startswith(self.folders) if self.folders else False


def find_templates(rel_paths: list[str], copier_subdirectory: str | None = None) -> Templates:
    """The template folders of a repo, from the generator settings at its root: cookiecutter
    renders `hooks/` too; copier renders its `_subdirectory` (given by the caller, who reads
    copier.yml). Files with Jinja in their path are templates wherever they are (`classify`)."""
    root_names = {p for p in rel_paths if "/" not in p}
    folders = []
    if root_names & COOKIECUTTER_MARKERS:
        folders.append("hooks/")
    if root_names & COPIER_MARKERS and copier_subdirectory:
        folders.append(copier_subdirectory.strip("/") + "/")
    return Templates(tuple(folders))


def copier_subdirectory(settings_text: str) -> str | None:
    """copier.yml's `_subdirectory:` (the folder that holds the template), read without YAML."""
    match = re.search(r"^_subdirectory:[ \t]*[\"']?([\w./-]+)", settings_text, re.MULTILINE)
    return match.group(1) if match and match.group(1).strip("./") else None


def is_template_text(text: str) -> bool:
    """Does a file that failed to parse hold Jinja for a project generator to render?"""
    return TEMPLATE_TEXT.search(text) is not None


TEMPLATE_KIND = Kind(OTHER, frozenset({TEMPLATE}))


def classify(rel_path: str, templates: Templates | None = None) -> Kind:
    """Decide the format and roles of the file at `rel_path` (POSIX, relative to the root).

    Roles add up (`tests/setup.py` is a test, a build script and a manifest; `docs/examples/x.py`
    is docs and an example), with two exceptions: a template file is nothing else (it is not parsed,
    and its requirements are not the repo's), and source is only the Python that no other code role
    (test, docs, example, build script) claims."""
    if "{{" in rel_path or "{%" in rel_path or rel_path.endswith(TEMPLATE_SUFFIXES):
        return TEMPLATE_KIND
    if templates is not None and templates.holds(rel_path):
        return TEMPLATE_KIND
    *folders, name = rel_path.split("/")  # string work, not pathlib: this runs for every file
    suffix = suffix_of(name)
    fmt = FORMAT_BY_NAME.get(name) or FORMAT_BY_SUFFIX.get(suffix.lower(), OTHER)
    if name.endswith((".conda-lock.yml", ".conda-lock.yaml")) or name in ("conda-lock.yml", "conda-lock.yaml"):
        fmt = YAML
    roles = {role for role, pattern in _ROLE_REGEXES if pattern.match(name)}
    if _in_requirements_folder(folders, suffix):
        roles |= _requirements_folder_roles(folders[-1], name, suffix)
    # A lockfile (gpu.conda-lock.yml) is never a Hydra config. An `environment_atari.yaml` may be an
    # RL config rather than a conda environment, so manifests keep the config role unless named above.
    if CONFIG in roles and (name in NOT_CONFIG_NAMES or _in_ci_dir(folders) or LOCKFILE in roles):
        roles.discard(CONFIG)
    roles |= _code_roles(folders, name, fmt)
    if is_artifact(rel_path):
        roles.add(DATA_ARTIFACT)
        if fmt in (OTHER, TEXT):
            fmt = BINARY
    return Kind(fmt, frozenset(roles))


def _code_roles(folders: list[str], name: str, fmt: str) -> set[str]:
    """Test, docs, example, build-script, notebook and source, from the folders and the name."""
    roles = set()
    if TEST_NAMES.fullmatch(name) or any(folder in TEST_FOLDERS for folder in folders):
        roles.add(TEST)
    if any(folder in DOCS_FOLDERS for folder in folders):
        roles.add(DOCS)
    if any(folder in EXAMPLE_FOLDERS for folder in folders):
        roles.add(EXAMPLE)
    if name in BUILD_SCRIPT_NAMES:
        roles.add(BUILD_SCRIPT)
    if fmt == NOTEBOOK:
        roles.add(NOTEBOOK)
    elif fmt == PYTHON and not roles & NOT_SOURCE:
        roles.add(SOURCE)
    return roles


def dependency_reader(rel_path: str) -> str | None:
    """Which reader (a key of MANIFEST_PARSERS or LOCKFILE_PARSERS) reads the dependency file at
    `rel_path`; None when it is not one. Agrees with the manifest and lockfile roles of `classify`."""
    *folders, name = rel_path.split("/")
    for pattern, reader in _READER_REGEXES:
        if pattern.match(name):
            return reader
    return "requirements" if _in_requirements_folder(folders, suffix_of(name)) else None


def in_test_folder(rel_path: str) -> bool:
    """Does a folder on the path hold tests (the folder half of the test role)?"""
    return any(folder in TEST_FOLDERS for folder in rel_path.split("/")[:-1])


def _requirements_folder_roles(parent: str, name: str, suffix: str) -> set[str]:
    roles = {MANIFEST}
    if parent == REQUIREMENTS_FOLDER and suffix == ".txt":
        roles.add(LOCKFILE)  # requirements/base.txt may serve as the lock, as requirements.txt may
    if parent == REQUIREMENTS_FOLDER and name[: -len(suffix)] in DOCS_FOLDERS:
        roles.add(DOCS)  # requirements/docs.txt
    return roles


def _in_requirements_folder(folders: list[str], suffix: str) -> bool:
    return REQUIREMENTS_FOLDER in folders and suffix in REQUIREMENTS_FOLDER_SUFFIXES


def suffix_of(name: str) -> str:
    """`PurePosixPath(name).suffix`: the last dot-suffix, "" for `.bashrc` or `name.`."""
    dot = name.rfind(".")
    return name[dot:] if 0 < dot < len(name) - 1 else ""


def stem_parts(rel_path: str) -> list[str]:
    """`PurePosixPath(rel_path).with_suffix("").parts` for a normalised repo path, as strings."""
    suffix = suffix_of(rel_path.rpartition("/")[2])
    return (rel_path[: -len(suffix)] if suffix else rel_path).split("/")


def is_artifact(rel_path: str, extra_suffixes: frozenset[str] = frozenset()) -> bool:
    suffix = suffix_of(rel_path.rpartition("/")[2]).lower()
    return suffix in ARTIFACT_SUFFIXES or suffix in extra_suffixes


def _in_ci_dir(folders: list[str]) -> bool:
    return any(part in (".github", ".gitlab", ".circleci") for part in folders)


def _role_regexes() -> tuple[tuple[str, re.Pattern[str]], ...]:
    """One compiled pattern per role from its shell-style name patterns (what fnmatchcase does,
    in one match per role instead of one call per pattern)."""
    by_role: dict[str, list[str]] = {}
    for pattern, role in ROLE_PATTERNS:
        by_role.setdefault(role, []).append(fnmatch.translate(pattern))
    return tuple((role, re.compile("|".join(f"(?:{p})" for p in patterns))) for role, patterns in by_role.items())


_ROLE_REGEXES = _role_regexes()
_READER_REGEXES = tuple((re.compile(fnmatch.translate(pattern)), reader) for pattern, _, reader in DEPENDENCY_FILES)
