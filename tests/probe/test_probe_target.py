from __future__ import annotations

from pathlib import Path

import pytest

from mlaudit.probe.target import Location, Target, TargetError, locate, module_file, parse_target, read_target


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_parse_target() -> None:
    assert parse_target(" pkg.train:step ") == Target("pkg.train", "step")
    assert parse_target("./tests/test_train.py::test_one_step") == Target(
        "tests/test_train.py", "test_one_step", pytest=True
    )
    for bad in ("pkg.train", "pkg.train:", ":step", "pkg/train.py:step", "pkg.train:step:x", "tests/t.py::"):
        with pytest.raises(TargetError, match=r"package\.module:function"):
            parse_target(bad)


def test_read_target_from_pyproject_and_override(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.mlaudit.probe]\ntarget = "pkg.train:step"\n')
    assert read_target(tmp_path) == Target("pkg.train", "step")
    assert read_target(tmp_path, "other.mod:fn") == Target("other.mod", "fn")


def test_missing_target_explains_how_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="no pytest test under the repo looks like it trains"):
        read_target(tmp_path)
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    with pytest.raises(TargetError, match=r"\[tool.mlaudit.probe\]\n    target = "):
        read_target(tmp_path)
    write(tmp_path / "pyproject.toml", "[tool.mlaudit.probe\n")
    with pytest.raises(TargetError, match="cannot read"):
        read_target(tmp_path)


def test_locate_def_line_in_src_layout(tmp_path: Path) -> None:
    write(tmp_path / "src" / "pkg" / "__init__.py", "")
    write(tmp_path / "src" / "pkg" / "train.py", "import torch\n\n@decorator\ndef step(seed):\n    pass\n")
    assert module_file(tmp_path, "pkg.train") == tmp_path / "src" / "pkg" / "train.py"
    assert locate(tmp_path, Target("pkg.train", "step")) == Location("src/pkg/train.py", 4)
    assert locate(tmp_path, Target("pkg", "step")) == Location("src/pkg/__init__.py", 1)
    assert locate(tmp_path, Target("nowhere", "step")) == Location("pyproject.toml", 1)


SMOKE = """
import torch

def test_shapes():
    torch.nn.Linear(2, 2)

def helper_step(optimizer):
    optimizer.step()

def test_from_factory(optimizer_factory):
    optimizer = optimizer_factory()
    optimizer.step()

def test_one_step():
    model = torch.nn.Linear(2, 2)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
    optimizer.step()
"""


def test_pytest_smoke_test_is_found_when_no_target_is_set(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", "[project]\nname = 'x'\n")
    write(tmp_path / "tests" / "test_model.py", SMOKE)
    write(tmp_path / ".venv" / "lib" / "test_a.py", SMOKE)  # environments are not searched
    write(tmp_path / "tests" / "test_broken.py", "def test_(:\n")  # unparsable files are skipped
    found = read_target(tmp_path)
    # Both test_from_factory and test_one_step step an optimizer; a name with train/fit/step wins.
    assert (found.spec, found.pytest, found.source) == ("tests/test_model.py::test_one_step", True, "discovered")
    assert locate(tmp_path, found) == Location("tests/test_model.py", 14)
    write(tmp_path / "pyproject.toml", '[tool.mlaudit.probe]\ntarget = "pkg.train:step"\n')
    assert read_target(tmp_path).source == "pyproject"


def test_a_test_that_runs_a_trainer_is_found_too(tmp_path: Path) -> None:
    """minGPT-style: the test never calls .step() itself, its Trainer does."""
    write(tmp_path / "tests" / "test_misc.py", "def test_config():\n    assert True\n")
    write(
        tmp_path / "tests" / "test_smoke.py",
        "import torch\nfrom mingpt.trainer import Trainer\n\n"
        "def test_two_iterations():\n    Trainer(cfg, model, data).run()\n\n"
        "def test_training_config():\n    assert torch.ones(1)\n",
    )
    assert read_target(tmp_path).spec == "tests/test_smoke.py::test_two_iterations"


def test_discovery_skips_fifos_and_oversized_files(tmp_path: Path) -> None:
    """A hostile repository cannot make target discovery block on a FIFO or read a huge file."""
    import os
    import signal

    from mlaudit.probe.target import MAX_SOURCE_BYTES, find_pytest_target, python_files

    tests = tmp_path / "tests"
    tests.mkdir()
    os.mkfifo(tests / "test_blocks.py")
    (tests / "test_huge.py").write_text("def test_step():\n    pass\n" + "#" * MAX_SOURCE_BYTES)
    previous = signal.signal(signal.SIGALRM, lambda *_: pytest.fail("discovery blocked"))
    signal.alarm(20)
    try:
        assert tests / "test_blocks.py" not in python_files(tmp_path)
        assert find_pytest_target(tmp_path) is None
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, previous)
