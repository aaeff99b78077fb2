"""ML4xx: data and model artifacts: where they live, how they are versioned, what they are called.

These rules read the project model's git state plus the DVC and LFS state built once per run
(mlaudit.project.dvc, mlaudit.project.lfs). Ignored files never reach the model: discovery lists
tracked files and untracked files that git does not ignore.
"""

from __future__ import annotations

import posixpath
import re
from collections import defaultdict
from collections.abc import Iterable, Iterator
from pathlib import PurePosixPath
from typing import Any

from mlaudit.facts.paths import PathFacts, PathLiteral, machine_path
from mlaudit.files import kinds
from mlaudit.files.sources import SourceFile
from mlaudit.files.structured import YamlFacts
from mlaudit.findings import Finding
from mlaudit.project.artifacts import artifact_kind, suffixes
from mlaudit.project.dvc import DvcPath, DvcState, dvc_state, exists_on_disk, yaml_item_line
from mlaudit.project.lfs import is_lfs_pointer, lfs_state
from mlaudit.project.model import ProjectModel
from mlaudit.rules.base import ProjectRule

# A folder of this many untracked images is a dataset, not a couple of figures.
IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".gif", ".tif", ".tiff", ".webp"})
# Words that say "one of several versions of this file, nobody remembers which" in a name.
AMBIGUOUS_WORDS = ("final", "new", "old", "copy", "backup", "bak", "tmp", "untitled")


def _extensions(options: dict[str, Any]) -> tuple[frozenset[str], frozenset[str]]:
    return suffixes(options.get("extend-extensions", [])), suffixes(options.get("ignore-extensions", []))


def _sorted(files: Iterable[SourceFile]) -> list[SourceFile]:
    return sorted(files, key=lambda f: f.path)


class UntrackedData(ProjectRule):
    code = "ML401"
    name = "untracked-data"
    summary = "A data or model file exists only in this working tree: not tracked by git, DVC or LFS, not ignored"
    defaults = {"extend-extensions": [], "ignore-extensions": [], "min-images": 20}
    # Examples hold files; a key starting with "untracked:" is written after the commit (tests/helpers.py).
    valid = (
        {"train.py": "print('train')\n", "data/train.csv": "a,b\n1,2\n"},  # committed
        {"data/raw.csv.dvc": "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  path: raw.csv\n",
         "data/.gitignore": "/raw.csv\n", "untracked:data/raw.csv": "a,b\n"},  # DVC-tracked and ignored
        {"dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    outs:\n    - models\n",
         "untracked:models/model.pt": "weights\n"},  # out of a stage (a folder)
        {".gitignore": "*.ckpt\n", "untracked:last.ckpt": "weights\n"},  # ignored
        {"untracked:notes.md": "# notes\n", "untracked:plot.png": "png\n"},  # not data
    )
    invalid = (
        {"train.py": "print('train')\n", "untracked:data/train.csv": "a,b  # expect: ML401\n"},
        {".gitattributes": "*.pt filter=lfs diff=lfs merge=lfs -text\n", "untracked:model.pt": "w  # expect: ML401\n"},
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        if model.git is None:
            return  # without git nothing is "untracked": the whole project is unversioned
        extra, skip = _extensions(self.options)
        dvc, lfs = dvc_state(model), lfs_state(model)
        images: dict[str, list[SourceFile]] = defaultdict(list)
        for file in _sorted(f for f in model.files.values() if f.tracked is False):
            if dvc.tracking(file.path) is not None:
                continue
            kind = artifact_kind(file, extra, skip)
            if kind is None:
                if PurePosixPath(file.path).suffix.lower() in IMAGE_SUFFIXES:
                    images[posixpath.dirname(file.path)].append(file)
                continue
            lfs_note = " (.gitattributes would store it in LFS once added)" if lfs.tracks(file.path) else ""
            yield Finding(
                self.code,
                f"{file.name} is a {kind} that git, DVC and LFS do not track{lfs_note}, so it exists only in "
                f"this working tree; version it with `dvc add {file.path}` or git LFS, or ignore it in "
                ".gitignore if it is a local by-product.",
                file.path,
                level=self.level,
            )
        yield from self._image_folders(images)

    def _image_folders(self, images: dict[str, list[SourceFile]]) -> Iterator[Finding]:
        minimum = int(self.options.get("min-images", 20))
        for folder, files in sorted(images.items()):
            if len(files) < minimum:
                continue
            shown = folder or "the project root"
            yield Finding(
                self.code,
                f"{shown} holds {len(files)} untracked images, a dataset that exists only in this working "
                f"tree; version the folder with `dvc add {folder or '.'}` or git LFS, or ignore it in .gitignore.",
                files[0].path,
                level=self.level,
            )


class LargeFileInGit(ProjectRule):
    code = "ML402"
    # Measured at 0.00 on the round-3 validation corpus: opt-in until it reaches 0.95 (rules/ML402.md).
    opt_in = True
    name = "large-file-in-git"
    summary = "A large data or model file is committed directly to git instead of DVC or LFS"
    defaults = {"max-size-mib": 1.0, "extend-extensions": [], "ignore-extensions": []}
    valid = (
        {"data/small.csv": "a,b\n1,2\n"},
        {".gitattributes": "*.bin filter=lfs diff=lfs merge=lfs -text\n", "model.bin": "x" * (2 << 20)},
        {"README.md": "x" * (2 << 20)},  # not an artifact
    )
    invalid = ({"data/big.csv": "a,b  # expect: ML402\n" + "1,2\n" * (600 << 10)},)

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        threshold = float(self.options.get("max-size-mib", 1.0)) * 2**20
        extra, skip = _extensions(self.options)
        lfs, dvc = lfs_state(model), dvc_state(model)
        for file in _sorted(f for f in model.files.values() if f.tracked and f.size > threshold):
            kind = artifact_kind(file, extra, skip)
            if kind is None or lfs.tracks(file.path) or is_lfs_pointer(file) or dvc.tracking(file.path):
                continue
            yield Finding(
                self.code,
                f"{file.name} is a {file.size / 2**20:.1f} MiB {kind} committed directly to git, so every clone "
                "downloads it and every new version grows the history for good; move it to DVC (`dvc add`) "
                "or git LFS (`git lfs track`).",
                file.path,
                level=self.level,
            )


class HardcodedAbsolutePath(ProjectRule):
    code = "ML403"
    needs_facts = (PathFacts,)
    # Measured at 0.80 (8 of 10) on the validation corpus: opt-in until it reaches 0.95 (rules/ML403.md).
    opt_in = True
    name = "hardcoded-absolute-path"
    summary = "An absolute path to one machine's data, model or output folder is written into code or config"
    valid = (
        "import os\ndata_dir = os.environ.get('DATA_DIR', '/data/imagenet')\n",
        "import sys\nsys.path.append('/home/alice/project')\n",
        "def f(p):\n    \"\"\"Reads /home/alice/data.\"\"\"\n    return p.startswith('/home/')\n",
        "open('/dev/null', 'w')\nurl = 'https://host/home/alice/x.csv'\n",
        {"tests/test_io.py": "def test_save():\n    save('/tmp/out.pt')\n"},
        {"conf/config.yaml": "data_dir: ${oc.env:DATA_DIR}\nout: outputs/\n"},
        {".github/workflows/ci.yml": "jobs:\n  t:\n    steps:\n    - uses: actions/cache@v4\n      with:\n        path: /home/runner/.cache\n"},
        "cache = '~/.cache/torch'\n",
        "BASE = 'https://example.org'\nurl = BASE + '/data/train.csv'\n",
        # The fallback of a configurable value, like the default of os.environ.get.
        "import os\ndef load(vocab_path=None):\n    if vocab_path is None:\n"
        "        vocab_path = os.path.expanduser('~/lm1b_sentencepiece_model')\n    return vocab_path\n",
        # The home folder of a container image (a sandbox's /home/user, Jupyter's /home/jovyan).
        "WORKDIR = '/home/user/workdir'\nsolution = WORKDIR + '/solution.py'\n",
        # /tmp exists on every POSIX machine: a scratch folder there is portable.
        "import orbax.checkpoint as ocp\nckpt_dir = '/tmp/flax_ckpt'\nocp.PyTreeCheckpointer().save(ckpt_dir, {})\n",
    )
    invalid = (
        "import pandas as pd\ndf = pd.read_csv('/home/alice/data/train.csv')  # expect: ML403\n",
        "import torch\ntorch.save({}, f'/mnt/ckpt/{1}.pt')  # expect: ML403\n",
        "name = 'run1'\nout = '/scratch/bob/' + name  # expect: ML403\n",
        # Cluster file systems, also as a bare root joined with more parts.
        "import os, getpass\nout = os.path.join('/checkpoint', getpass.getuser(), 'exp1')  # expect: ML403\n",
        "root = f'/lustre/fsw/{1}/imagenet'  # expect: ML403\n",
        "DATA = '/gpfs/projects/vision/coco'  # expect: ML403\n",
        "ROOT = 'C:\\\\Users\\\\bob\\\\data'  # expect: ML403\n",
        {"conf/config.yaml": "data:\n  root: /data/imagenet  # expect: ML403\n"},
        {"params.yaml": "train:\n  out_dir: ~/runs  # expect: ML403\n"},
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        for file, facts in model.python_modules():
            if file.has_role(kinds.TEST):  # fixtures hold fake paths, and /tmp is their scratch space
                continue
            found = facts.family(PathFacts)
            for literal in found.literals if found is not None else ():
                yield self._finding(file.path, literal.line, literal.value, "code", literal)
        for file in model.with_role(kinds.CONFIG):
            data = model.data(file.path)
            if not isinstance(data, YamlFacts) or file.has_role(kinds.TEST):
                continue
            for key, value in _yaml_strings(data.data, ""):
                if machine_path(value):
                    yield self._finding(file.path, _key_line(data, key), value, f"config key `{key}`", None)

    def _finding(self, path: str, line: int, value: str, where: str, literal: PathLiteral | None) -> Finding:
        shown = value if len(value) <= 60 else value[:57] + "..."
        span = (literal.col, literal.end_line, literal.end_col) if literal else (1, None, None)
        return Finding(
            self.code,
            f"'{shown}' in {where} is an absolute path that exists only on one machine; take the location "
            "from a config value, a command-line option or an environment variable, or make it relative "
            "to the project.",
            path,
            line,
            span[0],
            span[1],
            span[2],
            level=self.level,
        )


def _yaml_strings(value: Any, prefix: str) -> Iterator[tuple[str, str]]:
    """(dotted key, string) for every string value in a YAML document."""
    if isinstance(value, dict):
        for key, item in value.items():
            yield from _yaml_strings(item, f"{prefix}{key}.")
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from _yaml_strings(item, f"{prefix}{index}.")
    elif isinstance(value, str):
        yield prefix.rstrip("."), value


def _key_line(data: YamlFacts, key: str) -> int:
    """The line of `key`, or of the nearest enclosing key (list items have no key of their own)."""
    parts = key.split(".")
    if len(parts) > 1 and parts[-1].isdigit() and ".".join(parts[:-1]) in data.key_lines:
        return yaml_item_line(data, ".".join(parts[:-1]), int(parts[-1]))
    while parts:
        line = data.key_lines.get(".".join(parts))
        if line is not None:
            return line
        parts.pop()
    return 1


class BrokenDvcPointer(ProjectRule):
    code = "ML404"
    name = "broken-dvc-pointer"
    summary = "A .dvc file is malformed, or a dvc.yaml dependency names a path nothing provides"
    valid = (
        {"data/raw.csv.dvc": "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 4\n  path: raw.csv\n",
         "prepare.py": "print(1)\n",
         "dvc.yaml": "stages:\n  prepare:\n    cmd: python prepare.py\n    deps:\n    - prepare.py\n"
         "    - data/raw.csv\n    outs:\n    - data/prepared\n  train:\n    cmd: python prepare.py\n"
         "    deps:\n    - data/prepared/train.csv\n    outs:\n    - model.pkl\n"},
        {"dvc.yaml": "stages:\n  s:\n    foreach: [a, b]\n    do:\n      cmd: echo ${item}\n      deps:\n"
         "      - data/${item}.csv\n"},
        {"dvc.yaml": "stages:\n  s:\n    cmd: echo\n    deps:\n    - s3://bucket/data.csv\n"},
    )
    invalid = (
        {"dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    deps:\n    - train.py  # expect: ML404\n"},
        {"data.csv.dvc": "outs:\n- path: data.csv  # expect: ML404\n"},
        {"data.csv.dvc": "md5: 0cc175b9c0f1b6a831c399e269772661  # expect: ML404\n"},
        # A merge left conflict markers in the pointer: neither hash can be pulled.
        {"data.csv.dvc": "outs:\n<<<<<<< HEAD  # expect: ML404\n- md5: 0cc175b9c0f1b6a831c399e269772661\n=======\n"
         "- md5: 92eb5ffee6ae2fec3ad71c777531578f\n>>>>>>> feature\n  path: data.csv\n"},
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        state = dvc_state(model)
        for problem in state.problems:
            name = PurePosixPath(problem.source).name
            yield Finding(
                self.code,
                f"{name} {problem.message}; recreate it with `dvc add` (or `dvc commit`) "
                "or fix it by hand.",
                problem.source,
                problem.line,
                level=self.level,
            )
        for reference in state.references:
            if reference.templated or _resolvable(model, state, reference.path):
                continue
            yield Finding(self.code, _missing_message(reference), reference.source, reference.line, level=self.level)


def _resolvable(model: ProjectModel, state: DvcState, path: str) -> bool:
    """Present (tracked, untracked or ignored on disk), provided by an out (a folder out counts for
    the files below it), or a folder that outs will fill."""
    return exists_on_disk(model, path) or state.tracking(path) is not None or state.produces_inside(path)


def _missing_message(reference: DvcPath) -> str:
    what = {
        "dep": f"stage `{reference.stage}` depends on",
        "params": f"stage `{reference.stage}` reads parameters from",
        "metric": "the metrics list names",
        "plot": "the plots list names",
        "artifact": "the artifacts list names",
    }[reference.role]
    return (
        f"{what.capitalize()} `{reference.declared}`, which does not exist and is neither an out of a stage nor "
        "tracked by a .dvc file, so `dvc repro` fails on a fresh clone; commit it, `dvc add` it, or fix the path."
    )


class AmbiguousArtifactName(ProjectRule):
    code = "ML405"
    name = "ambiguous-artifact-name"
    summary = "A data or model file is named like one of several versions (final, new, old, copy, backup)"
    precision = "medium"
    defaults = {"words": list(AMBIGUOUS_WORDS), "extend-extensions": [], "ignore-extensions": []}
    valid = (
        {"data/newton.csv": "a\n", "data/oldham.parquet": "x\n", "models/attmpt.pt": "w\n"},
        {"models/best.ckpt": "w\n", "models/last.ckpt": "w\n", "models/resnet50-v3.pt": "w\n"},
        {"notes_final.md": "done\n"},  # not an artifact
    )
    invalid = (
        {"model_final_v3_FINAL.pt": "w  # expect: ML405\n"},
        {"data/train_new.csv": "a  # expect: ML405\n", "data/old-split.parquet": "x  # expect: ML405\n"},
        {"dvc.yaml": "stages:\n  train:\n    cmd: python train.py\n    outs:\n    - model_backup.pkl  # expect: ML405\n",
         "train.py": "print(1)\n"},
        {"data/raw_copy.csv.dvc": "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  path: raw_copy.csv  # expect: ML405\n"},
    )

    def check(self, model: ProjectModel) -> Iterator[Finding]:
        words = frozenset(str(w).lower() for w in self.options.get("words", AMBIGUOUS_WORDS))
        extra, skip = _extensions(self.options)
        for file in _sorted(model.files.values()):
            found = ambiguous_words(file.name, words)
            if found and artifact_kind(file, extra, skip) is not None:
                yield self._finding(file.name, found, file.path, 1)
        # Outs absent from the working tree (not pulled yet) are named where they are declared;
        # dvc.lock repeats dvc.yaml, so it is not a place to point at.
        seen: set[str] = set()
        for out in dvc_state(model).outs:
            name = PurePosixPath(out.path).name
            found = ambiguous_words(name, words)
            declared = not out.templated and out.path not in model.files and not out.source.endswith("dvc.lock")
            artifact = kinds.is_artifact(out.path, extra) and PurePosixPath(out.path).suffix.lower() not in skip
            if found and declared and artifact and out.path not in seen:
                seen.add(out.path)
                yield self._finding(name, found, out.source, out.line)

    def _finding(self, name: str, words: list[str], path: str, line: int) -> Finding:
        quoted = ", ".join(f"'{w}'" for w in words)
        return Finding(
            self.code,
            f"{name} is named with {quoted}, which says nothing about which run, data or code produced it; "
            "name it after what it is (dataset version, run id, date, metric) and let DVC or git keep "
            "its history.",
            path,
            line,
            level=self.level,
        )


_TOKEN = re.compile(r"[a-z]+|[0-9]+")


def ambiguous_words(name: str, words: frozenset[str]) -> list[str]:
    """The ambiguous words in a file name, matched as whole words (`newton` holds no `new`)."""
    stem = name.rsplit(".", 1)[0] if "." in name.lstrip(".") else name
    seen: list[str] = []
    for token in _TOKEN.findall(stem.lower()):
        if token in words and token not in seen:
            seen.append(token)
    return seen

