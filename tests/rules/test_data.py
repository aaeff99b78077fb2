"""ML401-ML405 on real git repositories built in temporary folders: tracked, untracked, ignored,
LFS pointer, DVC-tracked (file and folder outs, .dvc and dvc.yaml/dvc.lock), large committed files."""

from __future__ import annotations

import struct
from pathlib import Path

import pytest

from mlaudit.project.artifacts import artifact_kind
from mlaudit.project.kinds import classify
from mlaudit.project.lfs import parse_gitattributes
from mlaudit.project.model import SourceFile
from mlaudit.rules.data import ambiguous_words
from tests.helpers import check, located, make_repo, write_tree

MIB = 2**20
POINTER = (
    "version https://git-lfs.github.com/spec/v1\n"
    "oid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 12345678\n"
)
DVC_FILE = "outs:\n- md5: 22a1a2931c8370d3aeedd7183606fd7f\n  size: 14445097\n  hash: md5\n  path: {name}\n"


def _ml(run: object, code: str) -> set[tuple[str, int, str]]:
    return located(run, code)  # type: ignore[arg-type]


# --- ML401 untracked-data ----------------------------------------------------------------------


def test_git_states_are_classified(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            ".gitignore": "ignored/\n*.tmp.csv\n",
            "data/.gitignore": "/raw.csv\n",
            "data/raw.csv.dvc": DVC_FILE.format(name="raw.csv"),
            "dvc.yaml": "stages:\n  prep:\n    cmd: python prep.py\n    outs:\n    - features\n    - model.pkl\n",
            "prep.py": "print(1)\n",
            "tracked.csv": "a,b\n",
            ".gitattributes": "*.pt filter=lfs diff=lfs merge=lfs -text\n",
            "weights.pt": POINTER,
        },
    )
    write_tree(
        repo,
        {
            "untracked.csv": "a,b\n",  # the one finding
            "ignored/big.parquet": "PAR1",
            "scratch.tmp.csv": "x\n",
            "data/raw.csv": "a,b\n",  # DVC-tracked (and ignored by data/.gitignore)
            "features/train.npy": "x\n",  # inside a stage out folder, not ignored
            "model.pkl": "x\n",  # stage out
            "notes.txt": "hello\n",
        },
    )
    run = check(repo, select=["ML401"])
    assert _ml(run, "ML401") == {("untracked.csv", 1, "ML401")}


def test_ignored_files_never_reach_the_model(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {".gitignore": "*.ckpt\ndata/\n", "train.py": "print(1)\n"})
    write_tree(repo, {"last.ckpt": "w", "data/x.csv": "a\n", "data/sub/y.parquet": "p"})
    run = check(repo, select=["ML4"])
    assert run.findings == []
    assert run.files_checked == 2  # .gitignore and train.py


def test_dvc_lock_outs_cover_foreach_outputs(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "dvc.yaml": "stages:\n  split:\n    foreach: [a, b]\n    do:\n      cmd: python s.py ${item}\n"
            "      outs:\n      - out/${item}.csv\n",
            "dvc.lock": "schema: '2.0'\nstages:\n  split@a:\n    cmd: python s.py a\n    outs:\n"
            "    - path: out/a.csv\n      md5: 0cc175b9c0f1b6a831c399e269772661\n",
        },
    )
    write_tree(repo, {"out/a.csv": "x\n", "out/b.csv": "y\n", "other/c.csv": "z\n"})
    assert _ml(check(repo, select=["ML401"]), "ML401") == {("other/c.csv", 1, "ML401")}


def test_dvcignore_excludes_files_from_a_tracked_folder(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            ".dvcignore": "*.bak.csv\n",
            "data.dvc": "outs:\n- md5: 153aad06d376b6595932470e459ef42a.dir\n  nfiles: 2\n  path: data\n",
        },
    )
    write_tree(repo, {"data/a.csv": "x\n", "data/b.bak.csv": "y\n"})
    assert _ml(check(repo, select=["ML401"]), "ML401") == {("data/b.bak.csv", 1, "ML401")}


def test_sniffed_checkpoint_without_extension(tmp_path: Path) -> None:
    header = b"PK\x03\x04" + b"\x00" * 22 + struct.pack("<H", 13) + b"\x00\x00" + b"ckpt/data.pkl" + b"\x00" * 40
    repo = make_repo(tmp_path / "r", {"train.py": "print(1)\n"})
    write_tree(repo, {"checkpoint_best": header, "LICENSE_copy": "MIT license text, long enough\n"})
    run = check(repo, select=["ML401"])
    assert _ml(run, "ML401") == {("checkpoint_best", 1, "ML401")}
    assert "PyTorch checkpoint" in run.findings[0].message


def test_untracked_image_folder_is_a_dataset(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": "print(1)\n"})
    write_tree(repo, {f"images/{i:03}.jpg": "jpg" for i in range(25)})
    write_tree(repo, {"figures/loss.png": "png", "figures/acc.png": "png"})
    run = check(repo, select=["ML401"])
    assert _ml(run, "ML401") == {("images/000.jpg", 1, "ML401")}
    assert "25 untracked images" in run.findings[0].message


def test_no_git_means_no_untracked_findings(tmp_path: Path) -> None:
    write_tree(tmp_path, {"pyproject.toml": "[project]\nname='x'\n", "data.csv": "a\n"})
    assert _ml(check(tmp_path, select=["ML401"]), "ML401") == set()


def test_extension_options(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {"pyproject.toml": "[tool.mlaudit.options.ML401]\nextend-extensions = ['dat']\nignore-extensions = ['.jsonl']\n"},
    )
    write_tree(repo, {"a.dat": "x\n", "b.jsonl": "{}\n"})
    assert _ml(check(repo, select=["ML401"]), "ML401") == {("a.dat", 1, "ML401")}


# --- ML402 large-file-in-git -------------------------------------------------------------------


def test_large_committed_file_lfs_and_dvc(tmp_path: Path) -> None:
    big = "x" * (MIB + 10)
    repo = make_repo(
        tmp_path / "r",
        {
            ".gitattributes": "models/*.pt filter=lfs diff=lfs merge=lfs -text\n",
            "models/w.pt": big,  # LFS pattern: in git as a pointer once LFS is installed
            "pointer.bin": POINTER,  # an LFS pointer committed as such
            "data/big.csv": big,  # the finding
            "data/small.csv": "a,b\n",
            "docs/figure.png": big,  # not a data/model artifact
            "metrics.json": big,
            "dvc.yaml": "stages:\n  s:\n    cmd: echo\n    outs:\n    - cached.npz:\n        cache: false\n",
            "cached.npz": big,  # a DVC out kept in git on purpose (cache: false)
        },
    )
    run = check(repo, select=["ML402"])
    assert _ml(run, "ML402") == {("data/big.csv", 1, "ML402")}
    assert "1.0 MiB" in run.findings[0].message


def test_size_threshold_option(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {"pyproject.toml": "[tool.mlaudit.options.ML402]\nmax-size-mib = 0.001\n", "a.csv": "x" * 2000},
    )
    assert _ml(check(repo, select=["ML402"]), "ML402") == {("a.csv", 1, "ML402")}


def test_untracked_large_file_is_not_ml402(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"train.py": "print(1)\n"})
    write_tree(repo, {"big.csv": "x" * (MIB + 10)})
    assert codes_of(check(repo, select=["ML401", "ML402"])) == ["ML401"]


def codes_of(run: object) -> list[str]:
    return [f.code for f in run.findings]  # type: ignore[attr-defined]


def test_gitattributes_parsing() -> None:
    patterns = parse_gitattributes(
        "sub/.gitattributes", "# comment\n*.bin filter=lfs -text\nkeep.bin -filter\n[attr]x a\n\n*.txt text\n"
    )
    assert [(p.folder, p.pattern, p.lfs, p.line) for p in patterns] == [
        ("sub", "*.bin", True, 2),
        ("sub", "keep.bin", False, 3),
    ]


def test_lfs_deeper_and_later_lines_win(tmp_path: Path) -> None:
    big = "x" * (MIB + 10)
    repo = make_repo(
        tmp_path / "r",
        {
            ".gitattributes": "*.h5 filter=lfs diff=lfs merge=lfs -text\n",
            "raw/.gitattributes": "*.h5 -filter\n",
            "a.h5": big,
            "raw/b.h5": big,
        },
    )
    assert _ml(check(repo, select=["ML402"]), "ML402") == {("raw/b.h5", 1, "ML402")}


# --- ML403 hardcoded-absolute-path -------------------------------------------------------------


def test_absolute_paths_in_code_and_yaml(tmp_path: Path) -> None:
    files = {
        "train.py": (
            "import argparse, os, torch\n"
            "p = argparse.ArgumentParser()\n"
            "p.add_argument('--data', default='/home/alice/imagenet')  # expect: ML403\n"
            "out = os.path.join('/scratch/bob', 'run1')  # expect: ML403\n"
            "torch.save({}, 'model.pt')\n"
            "root = os.environ.get('ROOT', '/mnt/data')\n"
            "if out.startswith('/home/'):\n    pass\n"
            "null = open('/dev/null')\n"
            "log = '/var/log/syslog'\n"
            "msg = f'saved to {out}'\n"
        ),
        "conf/config.yaml": "paths:\n  data: /data/imagenet  # expect: ML403\n  logs: ${hydra:runtime.cwd}/logs\n"
        "files:\n- /Users/carol/x.csv  # expect: ML403\n",
        "docker-compose.yml": "services:\n  a:\n    volumes:\n    - /data:/data\n    working_dir: /home/app/src\n",
        "tests/test_train.py": "def test_x():\n    assert f('/home/alice/x') == 1\n",
        ".gitlab-ci.yml": "cache:\n  paths:\n  - /home/runner/cache\n",
    }
    repo = make_repo(tmp_path / "r", files)
    found = _ml(check(repo, select=["ML403"]), "ML403")
    assert found == {
        ("train.py", 3, "ML403"),
        ("train.py", 4, "ML403"),
        ("conf/config.yaml", 2, "ML403"),
        ("conf/config.yaml", 5, "ML403"),
    }


# --- ML404 broken-dvc-pointer ------------------------------------------------------------------


def test_dvc_references(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "data/data.xml.dvc": DVC_FILE.format(name="data.xml"),  # data absent until `dvc pull`: fine
            "src/prepare.py": "print(1)\n",
            "params.yaml": "prepare:\n  seed: 1\n",
            "dvc.yaml": (
                "stages:\n"
                "  prepare:\n"
                "    cmd: python src/prepare.py\n"
                "    deps:\n"
                "    - data/data.xml\n"
                "    - src/prepare.py\n"
                "    - src/missing.py\n"  # line 7: the finding
                "    params:\n"
                "    - prepare.seed\n"
                "    outs:\n"
                "    - data/prepared\n"
                "  train:\n"
                "    cmd: python src/train.py\n"
                "    wdir: .\n"
                "    deps:\n"
                "    - data/prepared/train.tsv\n"
                "    - path/with/${vars.x}.csv\n"
                "    params:\n"
                "    - other.yaml:\n"  # line 19: missing params file
                "      - lr\n"
                "    outs:\n"
                "    - model.pkl\n"
                "metrics:\n"
                "- eval/metrics.json\n"  # line 24: produced by nothing
                "plots:\n"
                "- ROC:\n"
                "    y:\n"
                "      data/prepared/roc.json: tpr\n"
                "artifacts:\n"
                "  model:\n"
                "    path: model.pkl\n"
            ),
        },
    )
    found = _ml(check(repo, select=["ML404"]), "ML404")
    assert found == {("dvc.yaml", 7, "ML404"), ("dvc.yaml", 19, "ML404"), ("dvc.yaml", 24, "ML404")}


def test_dvc_dep_on_ignored_local_file_exists(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {".gitignore": "local.csv\n", "dvc.yaml": "stages:\n  s:\n    cmd: echo\n    deps:\n    - local.csv\n"},
    )
    write_tree(repo, {"local.csv": "a\n"})
    assert _ml(check(repo, select=["ML404"]), "ML404") == set()


@pytest.mark.parametrize(
    ("text", "line"),
    [
        ("- just a list\n", 1),
        ("outs: []\n", 1),
        ("outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  size: 1\n", 2),
        ("outs:\n- path: x.csv\n  size: 1\n", 2),
    ],
)
def test_malformed_dvc_files(tmp_path: Path, text: str, line: int) -> None:
    repo = make_repo(tmp_path / "r", {"x.csv.dvc": text})
    assert _ml(check(repo, select=["ML404"]), "ML404") == {("x.csv.dvc", line, "ML404")}


def test_unparseable_dvc_file_is_ml001_only(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"x.csv.dvc": "outs: [unclosed\n"})
    assert codes_of(check(repo, select=["ML001", "ML404"])) == ["ML001"]


def test_legacy_stage_file_and_import(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "Dvcfile.dvc": "cmd: python train.py\nmd5: 0cc175b9c0f1b6a831c399e269772661\ndeps:\n- path: train.py\n",
            "train.py": "print(1)\n",
            "imported.csv.dvc": "md5: abc\nfrozen: true\ndeps:\n- path: data/x.csv\n  repo:\n    url: https://github.com/a/b\n"
            "outs:\n- md5: 0cc175b9c0f1b6a831c399e269772661\n  path: imported.csv\n",
        },
    )
    assert _ml(check(repo, select=["ML404"]), "ML404") == set()


# --- ML405 ambiguous-artifact-name -------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "words"),
    [
        ("model_final_v3_FINAL.pt", ["final"]),
        ("final2.ckpt", ["final"]),
        ("data (copy).csv", ["copy"]),
        ("train-new-old.csv", ["new", "old"]),
        ("weights.bak.pt", ["bak"]),
        ("newton.csv", []),
        ("oldham.parquet", []),
        ("attmpt.npy", []),
        ("finalize.pkl", []),
        ("best.ckpt", []),
        ("tmp.csv", ["tmp"]),
    ],
)
def test_ambiguous_words(name: str, words: list[str]) -> None:
    from mlaudit.rules.data import AMBIGUOUS_WORDS

    assert ambiguous_words(name, frozenset(AMBIGUOUS_WORDS)) == words


def test_ambiguous_names_tracked_and_untracked(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"models/model_final.pt": "w", "notes_final.md": "x", "newton.csv": "a"})
    write_tree(repo, {"data/train_old.csv": "a"})
    found = _ml(check(repo, select=["ML405"]), "ML405")
    assert found == {("models/model_final.pt", 1, "ML405"), ("data/train_old.csv", 1, "ML405")}


# --- artifact sniffing -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x89HDF\r\n\x1a\n" + b"\x00" * 40, "HDF5 file"),
        (b"PAR1" + b"\x00" * 40, "Parquet file"),
        (struct.pack("<Q", 30) + b'{"w":{"dtype":"F32"}}' + b" " * 40, "safetensors file"),
        (b"\x93NUMPY\x01\x00" + b"\x00" * 40, "NumPy array"),
        (b"PK\x03\x04" + b"\x00" * 22 + struct.pack("<H", 8) + b"\x00\x00" + b"word.xml" + b"\x00" * 30, None),
        (b"just some text, not an artifact at all\n", None),
    ],
)
def test_sniffing(tmp_path: Path, head: bytes, kind: str | None) -> None:
    path = tmp_path / "blob"
    path.write_bytes(head)
    file = SourceFile("blob", path, classify("blob"), len(head), False)
    assert artifact_kind(file) == kind


def test_sniffing_reads_only_files_without_a_known_suffix(tmp_path: Path) -> None:
    path = tmp_path / "x.py"
    path.write_bytes(b"PAR1" + b"\x00" * 40)
    assert artifact_kind(SourceFile("x.py", path, classify("x.py"), 44, False)) is None


def test_dvc_paths_are_relative_to_the_file_and_wdir(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "pipelines/nlp/dvc.yaml": (
                "stages:\n"
                "  train:\n"
                "    wdir: ../..\n"
                "    cmd: python src/train.py\n"
                "    deps:\n"
                "    - src/train.py\n"  # exists at the repo root: resolvable through wdir
                "    - data/missing.csv\n"  # line 7
                "    params:\n"
                "    - lr\n"  # params.yaml in wdir (the root): present
                "    outs:\n"
                "    - models\n"
                "  grid:\n"
                "    matrix:\n"
                "      lr: [0.1, 0.01]\n"
                "    cmd: python src/train.py ${item.lr}\n"
                "    deps:\n"
                "    - configs/${item.lr}.yaml\n"
                "    - local.txt\n"  # line 18: relative to pipelines/nlp
            ),
            "pipelines/nlp/local.txt": "x\n",
            "src/train.py": "print(1)\n",
            "params.yaml": "lr: 0.1\n",
        },
    )
    write_tree(repo, {"models/m.pt": "w"})
    run = check(repo, select=["ML401", "ML404"])
    assert located(run) == {("pipelines/nlp/dvc.yaml", 7, "ML404")}


def test_lfs_pointer_is_never_a_large_file(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "pyproject.toml": "[tool.mlaudit.options.ML402]\nmax-size-mib = 0.00001\n",  # about 10 bytes
            "weights.bin": POINTER,  # committed as a pointer, no .gitattributes needed to see it
            "other.bin": "x" * len(POINTER),
        },
    )
    assert _ml(check(repo, select=["ML402"]), "ML402") == {("other.bin", 1, "ML402")}
