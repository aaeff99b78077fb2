"""What a user installing mlaudit gets: the wheel's metadata and files, the probe extra, `make demo`."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from mlaudit.files.structured import parse_toml

REPO = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> zipfile.ZipFile:
    out = tmp_path_factory.mktemp("wheel")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--quiet", "--no-deps", "--no-build-isolation", "-w", str(out), str(REPO)],
        check=True, capture_output=True, timeout=300,
    )
    return zipfile.ZipFile(next(out.glob("mlaudit-*.whl")))


def metadata(wheel: zipfile.ZipFile) -> tuple[dict[str, list[str]], str]:
    name = next(n for n in wheel.namelist() if n.endswith(".dist-info/METADATA"))
    message = Parser().parsestr(wheel.read(name).decode("utf-8"))
    fields: dict[str, list[str]] = {}
    for key, value in message.items():
        fields.setdefault(key, []).append(value)
    return fields, str(message.get_payload())


def test_wheel_has_licence_urls_classifiers_and_py_typed(wheel: zipfile.ZipFile) -> None:
    fields, _ = metadata(wheel)
    names = wheel.namelist()
    assert "mlaudit/py.typed" in names
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert fields["License-Expression"] == ["MIT"]
    assert {url.split(",")[0] for url in fields["Project-URL"]} >= {"Homepage", "Source", "Issues"}
    requires = fields["Requires-Python"][0]
    low = int(re.fullmatch(r">=3\.(\d+)", requires).group(1))  # type: ignore[union-attr]
    minors = {int(c.rsplit(".", 1)[1]) for c in fields["Classifier"] if re.fullmatch(r"Programming Language :: Python :: 3\.\d+", c)}
    assert min(minors) == low and "Typing :: Typed" in fields["Classifier"]


def test_package_description_has_no_relative_links(wheel: zipfile.ZipFile) -> None:
    # The description is the README, shown on the package index, where relative links lead nowhere.
    _, description = metadata(wheel)
    assert "mlaudit rule ML103" in description
    assert re.findall(r"\]\((?!https?://|#)[^)]*\)", description) == []


def test_probe_extra_accepts_a_range_of_torch_that_the_lock_satisfies() -> None:
    project = parse_toml((REPO / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    (probe,) = project["optional-dependencies"]["probe"]
    match = re.fullmatch(r"torch>=(\d+)\.(\d+)", probe)
    assert match, f"the probe runs with the user's torch: a lower bound, not {probe!r}"
    locked = re.search(r"^torch==(\d+)\.(\d+)\.\d+$", (REPO / "requirements-dev.lock").read_text(), re.MULTILINE)
    assert locked, "the dev lock pins torch exactly (CI installs the local wheel)"
    assert (int(locked[1]), int(locked[2])) >= (int(match[1]), int(match[2]))


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_demo_ends_cleanly(tmp_path: Path) -> None:
    # -o: do not rebuild .venv; BIN: the mlaudit of the interpreter running the tests.
    result = subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.installed", "demo",
         f"BIN={Path(sys.executable).parent}", f"DEMO_DIR={tmp_path / 'demo'}"],
        cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Found 13 findings" in result.stdout and "exit code 1: findings, as planted" in result.stdout
    assert "Error" not in result.stdout + result.stderr
