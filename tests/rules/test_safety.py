"""ML601 unsafe-torch-load: version awareness, aliases, fixes in JSON and SARIF, notebooks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from mlaudit.findings import Level
from mlaudit.fix.apply import apply_edits
from mlaudit.report import json_format
from mlaudit.report.sarif_format import render as render_sarif
from tests.helpers import check, located, make_repo
from tests.sarif_helpers import assert_valid_sarif

LOAD = "import torch\nstate = torch.load('m.pt', map_location='cpu')\n"


@pytest.mark.parametrize(
    ("manifest", "fires", "level"),
    [
        ({"requirements.txt": "torch==2.5.1\n"}, True, Level.ERROR),
        ({"requirements.txt": "torch==2.6.0+cu124\n"}, False, None),
        ({"requirements.txt": "torch>=2.6,<3\n"}, False, None),
        ({"requirements.txt": "torch>=2.1\n"}, True, Level.ERROR),
        ({"requirements.txt": "numpy==2.1.0\n"}, True, Level.NOTE),  # torch unknown
        ({}, True, Level.NOTE),
        (
            {
                "pyproject.toml": "[project]\nname='p'\nversion='1'\ndependencies=['torch>=2.0']\n",
                "uv.lock": 'version = 1\n[[package]]\nname = "torch"\nversion = "2.7.0"\n',
            },
            False,
            None,
        ),
    ],
)
def test_bare_load_depends_on_allowed_torch(tmp_path: Path, manifest: dict[str, str], fires: bool, level: Level | None) -> None:
    run = check(make_repo(tmp_path / "r", {**manifest, "train.py": LOAD}), select=["ML601"])
    assert bool(run.findings) is fires
    if fires:
        assert run.findings[0].level == level
        assert run.findings[0].line == 2


@pytest.mark.parametrize(
    ("manifest", "says", "level"),
    [
        # An upper bound below 2.6: every allowed torch unpickles, and the message says it is certain.
        ({"requirements.txt": "torch<2.6\n"}, "on every torch that requirements.txt allows (<2.6)", Level.ERROR),
        ({"requirements.txt": "torch~=2.5.0\n"}, "on every torch that requirements.txt allows (~=2.5.0)", Level.ERROR),
        ({"requirements.txt": "torch==2.4.1\n"}, "on torch < 2.6, and requirements.txt allows torch 2.4.1", Level.ERROR),
        ({"requirements.txt": "-r requirements/pytorch/base.txt\n", "requirements/pytorch/base.txt": "torch >=2.1.0, <2.10.0\n"},
         "on torch < 2.6, and requirements/pytorch/base.txt allows torch >=2.1.0,<2.10.0", Level.ERROR),
        ({"requirements.txt": "torch\n"}, "requirements.txt declares torch without a lower bound", Level.NOTE),
        ({}, "no lockfile, pin or lower bound says which torch", Level.NOTE),
    ],
)
def test_bare_load_message_says_what_the_project_declares(
    tmp_path: Path, manifest: dict[str, str], says: str, level: Level
) -> None:
    run = check(make_repo(tmp_path / "r", {**manifest, "train.py": LOAD}), select=["ML601"])
    assert len(run.findings) == 1 and says in run.findings[0].message and run.findings[0].level == level


def test_per_folder_requirements(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "old/requirements.txt": "torch==2.3.0\n",
            "old/main.py": LOAD,
            "new/requirements.txt": "torch==2.7.0\n",
            "new/main.py": LOAD,
        },
    )
    assert located(check(repo, select=["ML601"])) == {("old/main.py", 2, "ML601")}


def test_explicit_false_fires_whatever_the_version(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {"requirements.txt": "torch==2.8.0\n", "a.py": "import torch\nx = torch.load('m.pt', weights_only=False)\n"},
    )
    run = check(repo, select=["ML601"])
    assert [(f.line, f.level) for f in run.findings] == [(2, Level.ERROR)]


def test_not_fooled(tmp_path: Path) -> None:
    source = (
        "import torch\nimport torch.jit\nimport pickle\n"
        "a = torch.jit.load('m.pt')\n"
        "b = torch.hub.load('repo', 'model')\n"
        "c = pickle.load\n"
        "flag = True\n"
        "d = torch.load('m.pt', weights_only=flag)\n"
        "class M:\n    def load(self):\n        return 1\n"
        "e = M().load()\n"
    )
    assert check(make_repo(tmp_path / "r", {"a.py": source}), select=["ML601"]).findings == []


def test_fixes_in_json_and_sarif(tmp_path: Path) -> None:
    source = (
        "import torch\n"
        "a = torch.load('a.pt')\n"
        "b = torch.load(\n    'b.pt',\n)\n"
        "c = torch.load('c.pt', weights_only=False)\n"
    )
    run = check(make_repo(tmp_path / "r", {"a.py": source}), select=["ML601"])
    edits = [e for f in run.findings if f.fix for e in f.fix.edits]
    assert len(edits) == 3
    assert apply_edits(source, edits)[0] == (
        "import torch\n"
        "a = torch.load('a.pt', weights_only=True)\n"
        "b = torch.load(\n    'b.pt',\n    weights_only=True,\n)\n"  # the call's own layout
        "c = torch.load('c.pt', weights_only=True)\n"
    )
    assert [f.fix.safe for f in run.findings if f.fix] == [True, True, False]  # flipping an explicit False is unsafe
    data = json.loads(json_format.render(run))
    assert [f["fix"]["applicability"] for f in data["findings"]] == ["safe", "safe", "unsafe"]
    assert data["findings"][0]["fix"]["edits"][0]["content"] == "torch.load('a.pt', weights_only=True)"
    log = assert_valid_sarif(render_sarif(run))
    result = log["runs"][0]["results"][0]
    inserted = result["fixes"][0]["artifactChanges"][0]["replacements"][0]["insertedContent"]["text"]
    assert inserted == "torch.load('a.pt', weights_only=True)"
    rule = next(r for r in log["runs"][0]["tool"]["driver"]["rules"] if r["id"] == "ML601")
    assert rule["properties"]["security-severity"] == "8.1"
    assert "external/cwe/cwe-502" in rule["properties"]["tags"]
    assert "security" in rule["properties"]["tags"]


def test_notebook_cells_get_no_fix(tmp_path: Path) -> None:
    nb = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [{"cell_type": "code", "execution_count": 1, "metadata": {}, "outputs": [],
                   "source": ["import torch\n", "m = torch.load('m.pt', weights_only=False)\n"]}],
    }
    text = json.dumps(nb, indent=1)
    run = check(make_repo(tmp_path / "r", {"nb.ipynb": text}), select=["ML601"])
    line = next(i for i, s in enumerate(text.splitlines(), 1) if "torch.load" in s)
    assert [(f.path, f.line, f.fix) for f in run.findings] == [("nb.ipynb", line, None)]


def test_a_buffer_filled_from_a_download_is_reported_even_where_the_function_saves_to_a_buffer(tmp_path: Path) -> None:
    source = (
        "import io\nimport requests\nimport torch\n"
        "def swap(obj, url):\n"
        "    out = io.BytesIO()\n    torch.save(obj, out)\n"
        "    reply = requests.get(url)\n"
        "    return torch.load(io.BytesIO(reply.content))\n"
    )
    run = check(make_repo(tmp_path / "r", {"a.py": source}), select=["ML601"])
    assert located(run) == {("a.py", 8, "ML601")}
