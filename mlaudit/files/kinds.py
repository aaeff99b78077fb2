"""One place decides what a file is.

A file has one *format* (how it is parsed) and any number of *roles* (what it means to the
project): `setup.py` is Python with the manifest role, `dvc.yaml` is YAML with the dvc role,
`pyproject.toml` is TOML with the manifest role. Knowledge lives in the tables below.
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

# Roles: (glob on the file name, role). A file can match several.
MANIFEST, LOCKFILE, DVC, DATA, CONFIG, ENV_SCRIPT, VCS = (
    "manifest", "lockfile", "dvc", "data", "config", "env-script", "vcs",
)
# A test file (tests are not training: determinism switched off in a fixture is not a finding),
# and a project-template file (cookiecutter/copier: Jinja to render, not the repo's own code).
TEST, TEMPLATE, DOCS = "test", "template", "docs"

TEST_FOLDERS = frozenset({"tests", "test", "testing"})
DOCS_FOLDERS = frozenset({"docs", "doc"})
TEST_NAMES = re.compile(r"(test_.*|.*_test|conftest)\.py")
# A template generator's settings at the root of a repo make it a project template.
COOKIECUTTER_MARKERS = frozenset({"cookiecutter.json"})
COPIER_MARKERS = frozenset({"copier.yml", "copier.yaml"})
# Template files by name: Jinja in a path (`{{cookiecutter.project_slug}}/`) or copier's suffix.
TEMPLATE_SUFFIXES = (".jinja", ".jinja2", ".j2")
# Jinja that a generator renders, in a file's text: decides a file that does not parse.
TEMPLATE_TEXT = re.compile(r"\{\{-?\s*(?:cookiecutter|copier)\b|\{%-?\s*(?:if|for|raw|set|include|macro)\b")

ROLE_PATTERNS: tuple[tuple[str, str], ...] = (
    ("pyproject.toml", MANIFEST),
    ("setup.py", MANIFEST),
    ("setup.cfg", MANIFEST),
    ("requirements*.in", MANIFEST),
    ("requirements*.txt", MANIFEST),
    ("requirements*.txt", LOCKFILE),  # only counts as a lock when fully pinned; rules decide
    ("requirements*.lock", LOCKFILE),  # `pip freeze > requirements.lock`: a pinned requirements file
    ("constraints*.txt", MANIFEST),
    ("environment*.yml", MANIFEST),
    ("environment*.yaml", MANIFEST),
    ("Pipfile", MANIFEST),
    ("uv.lock", LOCKFILE),
    ("poetry.lock", LOCKFILE),
    ("pdm.lock", LOCKFILE),
    ("Pipfile.lock", LOCKFILE),
    ("pixi.lock", LOCKFILE),
    ("conda-lock.yml", LOCKFILE),
    ("conda-lock.yaml", LOCKFILE),
    ("*.conda-lock.yml", LOCKFILE),
    ("*.conda-lock.yaml", LOCKFILE),
    ("pylock.toml", LOCKFILE),
    ("pylock.*.toml", LOCKFILE),
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

    A template file is nothing else: it is not parsed, and its requirements are not the repo's."""
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
    if "requirements" in folders and suffix in (".txt", ".in"):
        roles.add(MANIFEST)  # requirements/base.txt, requirements/dev.in, requirements/pytorch/base.txt
    # A lockfile (gpu.conda-lock.yml) is never a Hydra config. An `environment_atari.yaml` may be an
    # RL config rather than a conda environment, so manifests keep the config role unless named above.
    if CONFIG in roles and (name in NOT_CONFIG_NAMES or _in_ci_dir(folders) or LOCKFILE in roles):
        roles.discard(CONFIG)
    if TEST_NAMES.fullmatch(name) or any(folder in TEST_FOLDERS for folder in folders):
        roles.add(TEST)
    if any(folder in DOCS_FOLDERS for folder in folders):
        roles.add(DOCS)
    if is_artifact(rel_path):
        roles.add(DATA)
        if fmt in (OTHER, TEXT):
            fmt = BINARY
    return Kind(fmt, frozenset(roles))


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
