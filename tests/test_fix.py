"""Fixes are built with libcst on the offending call and keep everything else byte for byte."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from mlaudit.findings import Finding
from tests.helpers import check, make_repo


def apply(text: str, finding: Finding) -> str:
    assert finding.fix is not None
    lines = text.splitlines(keepends=True)
    for edit in sorted(finding.fix.edits, key=lambda e: (e.line, e.col), reverse=True):
        start = sum(len(line) for line in lines[: edit.line - 1]) + edit.col - 1
        end = sum(len(line) for line in lines[: edit.end_line - 1]) + edit.end_col - 1
        text = text[:start] + edit.content + text[end:]
        lines = text.splitlines(keepends=True)
    return text


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("cfg = yaml.load(f)\n", "cfg = yaml.safe_load(f)\n"),
        ("cfg = yaml.load(f, Loader=yaml.FullLoader)\n", "cfg = yaml.safe_load(f)\n"),
        ("cfg = yaml.load(f, yaml.Loader)\n", "cfg = yaml.safe_load(f)\n"),
        ("cfg = yaml.load(  # the config\n    f,\n    Loader=yaml.Loader,\n)\n", "cfg = yaml.safe_load(  # the config\n    f,\n)\n"),
        ("cfg = yaml.load(\n    f,  # the file\n    Loader=yaml.Loader\n)\n", "cfg = yaml.safe_load(\n    f,  # the file\n)\n"),
        ("x = 'é'; cfg = yaml.unsafe_load(f)\n", "x = 'é'; cfg = yaml.safe_load(f)\n"),
    ],
)
def test_yaml_fix(tmp_path: Path, before: str, after: str) -> None:
    source = "import yaml\nf = open('c.yaml')\n" + before
    repo = make_repo(tmp_path / "r", {"a.py": source})
    finding = next(f for f in check(repo).findings if f.code == "ML602")
    assert apply(source, finding) == "import yaml\nf = open('c.yaml')\n" + after


def test_no_fix_for_a_bare_imported_name(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": "from yaml import load\ncfg = load(open('c'))\n"})
    assert next(f for f in check(repo).findings if f.code == "ML602").fix is None


def test_check_fix_rewrites_the_file_and_reports_the_rest(tmp_path: Path) -> None:
    source = "import torch, yaml\r\ntorch.backends.cudnn.benchmark = True\r\ncfg = yaml.load(open('c'), Loader=yaml.Loader)\r\n"
    repo = make_repo(tmp_path / "r", {"a.py": ""})
    (repo / "a.py").write_bytes(source.encode())
    result = subprocess.run([sys.executable, "-m", "mlaudit", "check", ".", "--fix", "--output-format", "concise"],
                            cwd=repo, capture_output=True, text=True, timeout=120)
    assert "applied 1 fix" in result.stderr
    assert (repo / "a.py").read_bytes() == source.replace("yaml.load(open('c'), Loader=yaml.Loader)", "yaml.safe_load(open('c'))").encode()
    assert result.returncode == 1 and "ML103" in result.stdout and "ML602" not in result.stdout


PYPROJECT = "[project]\nname = 'p'\ndependencies = ['torch>=2.1']\n"


@pytest.mark.parametrize(
    ("before", "after"),
    [
        ("torch.load(path)\n", "torch.load(path, weights_only=True)\n"),
        (
            "torch.load(\n    path,  # the checkpoint\n    map_location='cpu',  # on CPU\n)\n",
            "torch.load(\n    path,  # the checkpoint\n    map_location='cpu',  # on CPU\n    weights_only=True,\n)\n",
        ),
        (
            "torch.load(\n    path,  # the checkpoint\n    map_location='cpu'  # on CPU\n)\n",
            "torch.load(\n    path,  # the checkpoint\n    map_location='cpu',  # on CPU\n    weights_only=True\n)\n",
        ),
        (
            "torch.load(path,  # the checkpoint\n           map_location='cpu')\n",
            "torch.load(path,  # the checkpoint\n           map_location='cpu',\n           weights_only=True)\n",
        ),
        (
            "torch.load(\n    path,\n    weights_only=False,  # our own file\n)\n",
            "torch.load(\n    path,\n    weights_only=True,  # our own file\n)\n",
        ),
    ],
)
def test_torch_load_fix_keeps_the_layout_and_comments(tmp_path: Path, before: str, after: str) -> None:
    import ast

    prefix = "import torch\npath = 'm.pt'\nstate = "
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "a.py": prefix + before})
    finding = next(f for f in check(repo).findings if f.code == "ML601")
    fixed = apply(prefix + before, finding)
    assert fixed == prefix + after
    ast.parse(fixed)


def test_flipping_an_explicit_false_is_an_unsafe_fix(tmp_path: Path) -> None:
    from mlaudit.fix.apply import plan_fixes

    source = "import torch\na = torch.load('a.pt')\nb = torch.load('b.pt', weights_only=False)\n"
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "a.py": source})
    run = check(repo)
    fixes = {f.line: f.fix for f in run.findings if f.code == "ML601"}
    assert fixes[2] is not None and fixes[2].safe
    assert fixes[3] is not None and not fixes[3].safe
    safe_only = plan_fixes(run.root, run.findings)
    assert safe_only.unsafe_skipped == 1
    assert safe_only.files[0].after == source.replace("torch.load('a.pt')", "torch.load('a.pt', weights_only=True)")
    both = plan_fixes(run.root, run.findings, unsafe=True)
    assert both.unsafe_skipped == 0 and "weights_only=False" not in both.files[0].after
    assert (repo / "a.py").read_text() == source  # planning writes nothing


def mlaudit(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlaudit", "check", ".", "--no-cache", *args],
                          cwd=repo, capture_output=True, text=True, timeout=120)


def test_diff_shows_the_fixes_and_writes_nothing(tmp_path: Path) -> None:
    source = "import torch\nstate = torch.load(\n    'm.pt',  # checkpoint\n)\nb = torch.load('b.pt', weights_only=False)\n"
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "a.py": source})
    result = mlaudit(repo, "--diff")
    assert result.returncode == 1  # there would be changes
    assert result.stdout == (
        "--- a/a.py\n+++ b/a.py\n@@ -1,5 +1,6 @@\n import torch\n state = torch.load(\n"
        "     'm.pt',  # checkpoint\n+    weights_only=True,\n )\n b = torch.load('b.pt', weights_only=False)\n"
    )
    assert "1 unsafe fix left out" in result.stderr and "--unsafe-fixes" in result.stderr
    assert (repo / "a.py").read_text() == source
    unsafe = mlaudit(repo, "--diff", "--unsafe-fixes")
    assert "+b = torch.load('b.pt', weights_only=True)" in unsafe.stdout
    assert (repo / "a.py").read_text() == source


def test_diff_without_fixes_exits_0(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": "import torch\ntorch.backends.cudnn.benchmark = True\n"})
    result = mlaudit(repo, "--diff")
    assert result.returncode == 0 and result.stdout == "" and "no fixes to apply" in result.stderr


def test_fix_applies_unsafe_fixes_only_when_asked(tmp_path: Path) -> None:
    source = "import torch\nb = torch.load('b.pt', weights_only=False)  # trusted\n"
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "a.py": source})
    kept = mlaudit(repo, "--fix", "--output-format", "concise")
    assert kept.returncode == 1 and "--unsafe-fixes" in kept.stderr
    assert (repo / "a.py").read_text() == source
    fixed = mlaudit(repo, "--fix", "--unsafe-fixes", "--output-format", "concise")
    assert "applied 1 fix" in fixed.stderr and "ML601" not in fixed.stdout
    assert (repo / "a.py").read_text() == source.replace("False", "True")


# --- text fixes without libcst ----------------------------------------------------------------

_CALLEES = ("torch.load", "yaml.load", "yaml . load", "load", "a.b.full_load")
_ARGUMENTS = (
    "x", "'p.pt'", "f(x, y)", "*a", "**kw", "map_location='cpu'", "weights_only=False", "weights_only=True",
    "weights_only=(False)", "weights_only = False", "Loader=yaml.Loader", "yaml.FullLoader", "(y for y in z)",
    "x[0]", "{'a': 1}",
)


def _call_shapes() -> list[str]:
    """Calls of every callee with up to three arguments, spaced and ended in each way Python allows."""
    import ast
    import itertools

    shapes = []
    for callee, opening, ending in itertools.product(_CALLEES, ("(", "( "), (")", ",)", " )", ", )")):
        for count in range(4):
            for chosen in itertools.permutations(_ARGUMENTS, count):
                for separator in (", ", ",", " , ") if count > 1 else (", ",):
                    text = f"{callee}{opening}{separator.join(chosen)}{ending}"
                    try:
                        ast.parse(text, mode="eval")
                    except SyntaxError:
                        continue
                    shapes.append(text)
    return shapes[::7]  # a fixed sample: every shape of one and two arguments, many of three


def _edits() -> dict[str, object]:
    from mlaudit.facts.fixes import chain, drop_argument, rename_callee, set_keyword

    return {
        "set weights_only": set_keyword("weights_only", "True"),
        "safe_load": chain(rename_callee("safe_load"), drop_argument("Loader", position=1)),
        "rename": rename_callee("safe_load"),
        "drop Loader": drop_argument("Loader", position=1),
    }


def test_a_text_fix_is_exactly_what_libcst_writes() -> None:
    from mlaudit.facts.fixes import CallEdit, libcst_text, quick_text

    shapes = _call_shapes()
    assert len(shapes) > 2000
    by_edit = {name: 0 for name in _edits()}
    for name, edit in _edits().items():
        assert isinstance(edit, CallEdit)
        for shape in shapes:
            quick = quick_text(shape, edit)
            if quick is not None:
                by_edit[name] += 1
                assert quick == libcst_text(shape, edit), (name, shape)
    # The plain shapes do take the text path (else this test would hold vacuously).
    assert all(count > 100 for count in by_edit.values()), by_edit
    assert quick_text("torch.load(path)", _edits()["set weights_only"]) == "torch.load(path, weights_only=True)"  # type: ignore[arg-type]
    assert quick_text("yaml.load(f)", _edits()["safe_load"]) == "yaml.safe_load(f)"  # type: ignore[arg-type]


def test_a_plain_fixable_finding_does_not_import_libcst(tmp_path: Path) -> None:
    source = "import torch, yaml\ncfg = yaml.load(open('c'))\nstate = torch.load('m.pt')\n"
    repo = make_repo(tmp_path / "r", {"pyproject.toml": PYPROJECT, "a.py": source})
    script = (
        "import sys\nfrom pathlib import Path\nfrom mlaudit.engine.check import CheckOptions, check_paths\n"
        f"run = check_paths([Path({str(repo)!r})], CheckOptions(use_cache=False, jobs=1))\n"
        "print(sorted((f.code, f.fix is not None) for f in run.findings if f.code.startswith('ML6')), 'libcst' in sys.modules)\n"
    )
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert result.stdout.strip() == "[('ML601', True), ('ML602', True)] False", result.stderr
