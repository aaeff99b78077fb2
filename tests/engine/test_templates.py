"""Project templates (cookiecutter, copier): their files are Jinja for a generator to render, not
the repo's code, so they are neither reported as unparseable nor audited as the repo's manifests."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaudit.files import kinds
from tests.helpers import check, make_repo

JINJA_PY = (
    "import torch\n{% if cookiecutter.use_wandb == 'y' %}\nimport wandb\n{% endif %}\n"
    "def main():\n    model = {{ cookiecutter.model_class }}()\n"
)


def test_cookiecutter_template_is_not_the_project(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "cookiecutter.json": '{"project_slug": "demo", "use_wandb": "y"}\n',
        "{{cookiecutter.project_slug}}/src/train.py": JINJA_PY,
        "{{cookiecutter.project_slug}}/requirements.txt": "torch\nnumpy>=1.0\n",
        "{{cookiecutter.project_slug}}/configs/train.yaml": "lr: {{ cookiecutter.lr }}\nname: {{cookiecutter.slug}}\n",
        "{{cookiecutter.project_slug}}/notebooks/explore.ipynb": "{{ not json }}",
        "hooks/post_gen_project.py": "{% if cookiecutter.license == 'none' %}\nremove('LICENSE')\n{% endif %}\n",
        # The template repo's own test of the template is real code and still audited.
        "tests/test_bake.py": "import torch\nfrom huggingface_hub import hf_hub_download\ndef test_load():\n"
        "    torch.load(hf_hub_download('org/model', 'm.pt'), weights_only=False)\n",
    })
    found = sorted((f.path, f.code) for f in check(repo).findings)
    assert found == [("tests/test_bake.py", "ML601")]


def test_copier_subdirectory_and_jinja_suffix(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {
        "copier.yml": "_subdirectory: template\nproject_name:\n  type: str\n",
        "template/requirements.txt": "torch\n",
        "template/pyproject.toml": '[project]\nname = "{{ project_name }}"\ndependencies = ["torch"]\n',
        "template/{{project_name}}/train.py.jinja": "{{ imports }}\n",
        "template/setup.cfg.jinja": "[metadata]\nname = {{ project_name }}\n",
    })
    assert check(repo).findings == []


def test_jinja_in_a_file_that_does_not_parse_is_a_template(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"scaffold/model.py": JINJA_PY, "broken.py": "def f(:\n"})
    assert sorted((f.path, f.code) for f in check(repo).findings) == [("broken.py", "ML001")]


@pytest.mark.parametrize(("path", "role"), [
    ("tests/conftest.py", kinds.TEST),
    ("tests/tests_fabric/strategies/test_ddp.py", kinds.TEST),
    ("src/pkg/test_utils.py", kinds.TEST),
    ("src/pkg/model_test.py", kinds.TEST),
    ("{{cookiecutter.slug}}/train.py", kinds.TEMPLATE),
    ("template/README.md.jinja", kinds.TEMPLATE),
])
def test_roles(path: str, role: str) -> None:
    assert role in kinds.classify(path).roles


def test_template_folders_come_from_the_root_settings() -> None:
    cookiecutter = kinds.find_templates(["cookiecutter.json", "hooks/pre_gen_project.py"])
    assert kinds.classify("hooks/pre_gen_project.py", cookiecutter) == kinds.TEMPLATE_KIND
    assert kinds.classify("hooks/pre_gen_project.py") != kinds.TEMPLATE_KIND
    assert kinds.copier_subdirectory("_min_copier_version: 9\n_subdirectory: 'tpl'\n") == "tpl"
    assert kinds.copier_subdirectory("_subdirectory: .\n") is None
    assert kinds.classify("src/pkg/train.py").roles == frozenset({kinds.SOURCE})
