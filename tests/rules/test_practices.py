"""ML814: tests exist but nothing automated runs them."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import check, make_repo

TEST = {"tests/test_data.py": "def test_transform():\n    assert 1 + 1 == 2\n"}
WORKFLOW = "on: push\njobs:\n  t:\n    runs-on: ubuntu-latest\n    steps:\n    - run: {}\n"


def findings(tmp_path: Path, files: dict[str, str]) -> list[tuple[str, str]]:
    result = check(make_repo(tmp_path / "repo", files), select=["ML814"])
    return [(f.path, f.message) for f in result.findings]


def test_no_ci_points_at_the_first_test_file(tmp_path: Path) -> None:
    files = {**TEST, "tests/test_model.py": "def test_shape():\n    pass\n"}
    [(path, message)] = findings(tmp_path, files)
    assert path == "tests/test_data.py"
    assert "2 test file(s)" in message and "python -m pytest" in message


def test_ci_without_tests_points_at_the_workflow(tmp_path: Path) -> None:
    files = {**TEST, ".github/workflows/docs.yml": WORKFLOW.format("mkdocs build")}
    [(path, _)] = findings(tmp_path, files)
    assert path == ".github/workflows/docs.yml"


def test_runners_direct_and_delegated(tmp_path: Path) -> None:
    cases = [
        {".github/workflows/ci.yml": WORKFLOW.format("tox -e py311")},
        {".gitlab-ci.yml": "test:\n  script:\n    - python -m unittest discover\n"},
        {".pre-commit-config.yaml": "repos:\n- repo: local\n  hooks:\n  - id: tests\n    entry: pytest -q\n    language: system\n"},
        {".github/workflows/ci.yml": WORKFLOW.format("make check-all"), "Makefile": "check-all:\n\tpython -m pytest\n"},
        {".github/workflows/ci.yml": WORKFLOW.format("./run_tests.sh"), "run_tests.sh": "nox -s tests\n"},
    ]
    for index, extra in enumerate(cases):
        assert findings(tmp_path / str(index), {**TEST, **extra}) == [], extra


def test_a_top_level_test_script_is_not_a_test_suite(tmp_path: Path) -> None:
    # In ML repositories `test_model.py` at the top is often an evaluation script.
    assert findings(tmp_path, {"test_model.py": "print('accuracy')\n"}) == []


def test_a_script_named_in_ci_without_tests_does_not_count(tmp_path: Path) -> None:
    files = {**TEST, ".github/workflows/ci.yml": WORKFLOW.format("bash build.sh"), "build.sh": "python -m build\n"}
    assert len(findings(tmp_path, files)) == 1


# --- ML811-ML813 --------------------------------------------------------------------------------

TRAIN = {"train.py": "from model import Net\nif __name__ == '__main__':\n    train(Net())\n",
         "model.py": "class Net:\n    pass\n\n\ndef train(net):\n    net.loss().backward()\n"}


def codes(tmp_path: Path, files: dict[str, str], code: str) -> list[tuple[str, int]]:
    result = check(make_repo(tmp_path / "repo", files), select=[code])
    return [(f.path, f.line) for f in result.findings]


def test_wandb_captures_requirements_by_default_unless_metadata_is_off(tmp_path: Path) -> None:
    plain = {"run.py": "import wandb\nrun = wandb.init(project='p', settings=wandb.Settings(disable_code=True))\n"}
    assert codes(tmp_path / "a", plain, "ML811") == []
    off = {"run.py": "import os\nimport wandb\nos.environ['WANDB_DISABLE_META'] = 'true'\nrun = wandb.init()\n"}
    assert codes(tmp_path / "b", off, "ML811") == [("run.py", 4)]


def test_mlflow_environment_logged_anywhere_in_the_repo_counts(tmp_path: Path) -> None:
    run = {"run.py": "import mlflow\nwith mlflow.start_run():\n    mlflow.log_metric('loss', 1.0)\n"}
    assert codes(tmp_path / "a", run, "ML811") == [("run.py", 2)]
    logged = {**run, "log.py": "import mlflow.sklearn\ndef save(m):\n    mlflow.sklearn.log_model(m, 'model')\n"}
    assert codes(tmp_path / "b", logged, "ML811") == []
    assert codes(tmp_path / "c", {**run, "MLproject": "name: p\npython_env: python_env.yaml\n"}, "ML811") == []


def test_untested_training_code_points_at_the_train_script(tmp_path: Path) -> None:
    files = {**TRAIN, "bench.py": "if __name__ == '__main__':\n    optimizer.step()\n"}
    assert codes(tmp_path / "a", files, "ML812") == [("train.py", 2)]
    tested = {**files, "tests/test_model.py": "from model import Net\n\ndef test_net():\n    assert Net()\n"}
    assert codes(tmp_path / "b", tested, "ML812") == []


def test_a_repo_that_never_trains_needs_no_training_tests(tmp_path: Path) -> None:
    files = {"serve.py": "if __name__ == '__main__':\n    model.train()\n    print(model(x))\n"}
    assert codes(tmp_path, files, "ML812") == []


def test_smoke_test_calling_the_repo_train_function(tmp_path: Path) -> None:
    shapes = {**TRAIN, "tests/test_model.py": "from model import Net\n\ndef test_net():\n    Net().train()\n"}
    assert codes(tmp_path / "a", shapes, "ML813") == [("tests/test_model.py", 1)]
    smoke = {**TRAIN, "tests/test_model.py": "from model import Net, train\n\ndef test_step():\n    train(Net())\n"}
    assert codes(tmp_path / "b", smoke, "ML813") == []


def test_ci_that_runs_the_training_script_is_a_smoke_test(tmp_path: Path) -> None:
    files = {**TRAIN, "tests/test_model.py": "def test_net():\n    assert True\n",
             ".github/workflows/ci.yml": WORKFLOW.format("python train.py --epochs 1")}
    assert codes(tmp_path / "a", files, "ML813") == []
    other = {**files, ".github/workflows/ci.yml": WORKFLOW.format("python pretrain.py")}
    assert codes(tmp_path / "b", other, "ML813") == [("tests/test_model.py", 1)]


def test_a_collection_of_examples_is_not_one_untested_project(tmp_path: Path) -> None:
    step = "if __name__ == '__main__':\n    optimizer.step()\n"
    files = {f"{name}/main.py": step for name in ("dcgan", "mnist", "vae")}
    assert codes(tmp_path / "a", files, "ML812") == []
    assert codes(tmp_path / "b", dict(list(files.items())[:2]), "ML812") == [("dcgan/main.py", 1)]
