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
    for bad in ("pkg.train", "pkg.train:", ":step", "pkg/train.py:step", "pkg.train:step:x"):
        with pytest.raises(TargetError, match=r"package\.module:function"):
            parse_target(bad)


def test_read_target_from_pyproject_and_override(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[tool.mlaudit.probe]\ntarget = "pkg.train:step"\n')
    assert read_target(tmp_path) == Target("pkg.train", "step")
    assert read_target(tmp_path, "other.mod:fn") == Target("other.mod", "fn")


def test_missing_target_explains_how_to_set_it(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="does not exist"):
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
