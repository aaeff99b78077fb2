"""Configuration, selection, suppression and path scoping."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from mlaudit.engine.check import CheckOptions, check_paths
from mlaudit.engine.settings import ConfigError, Settings, settings_from_table
from mlaudit.rules import PythonRule
from tests.helpers import check, codes, located, make_repo

BENCH = "import torch\ntorch.backends.cudnn.benchmark = True\n"
YAML_LOAD = "import yaml\nyaml.load(open('c.yaml'))\n"


def run_cli(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "mlaudit", *args], cwd=cwd, capture_output=True, text=True, timeout=120)


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"selct": ["ML1"]}, "unknown key 'selct'"),
        ({"select": ["ML999"]}, "unknown rule code or prefix 'ML999'"),
        ({"ignore": "ML103"}, "must be a list of strings"),
        ({"per-file-ignores": {"tests/*": ["XX1"]}}, "unknown rule code or prefix 'XX1'"),
        ({"options": {"ML103": {"nope": 1}}}, "unknown option 'nope' for ML103"),
        ({"options": {"ML777": {}}}, "unknown rule code 'ML777'"),
        ({"max-file-mib": -1}, "must be a number of MiB above 0"),
    ],
)
def test_invalid_settings_are_rejected(table: dict[str, object], message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        settings_from_table(table)


def test_config_error_exits_2_with_a_clear_message(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"pyproject.toml": "[tool.mlaudit]\nselect = ['ML9999']\n", "a.py": BENCH})
    result = run_cli(repo, "check", ".")
    assert result.returncode == 2
    assert "configuration error" in result.stderr and "ML9999" in result.stderr


def test_unknown_code_on_the_command_line_exits_2(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH})
    result = run_cli(repo, "check", ".", "--select", "ML12345")
    assert result.returncode == 2


def test_most_specific_prefix_wins() -> None:
    settings = Settings(select=["ML"], ignore=["ML1"], extend_select=["ML103"])
    assert settings.is_enabled("ML103")
    assert not settings.is_enabled("ML101")
    assert settings.is_enabled("ML602")


def test_select_and_ignore_from_pyproject(tmp_path: Path) -> None:
    files = {"a.py": BENCH + YAML_LOAD, "pyproject.toml": "[tool.mlaudit]\nignore = ['ML6']\n"}
    assert codes(check(make_repo(tmp_path / "r", files))) == ["ML103"]


def test_mlaudit_toml_takes_top_level_keys(tmp_path: Path) -> None:
    files = {"a.py": BENCH + YAML_LOAD, "mlaudit.toml": "select = ['ML6']\n"}
    assert codes(check(make_repo(tmp_path / "r", files))) == ["ML602"]


def test_per_file_ignores(tmp_path: Path) -> None:
    files = {
        "tests/test_a.py": BENCH,
        "train.py": BENCH,
        "pyproject.toml": "[tool.mlaudit.per-file-ignores]\n'tests/*' = ['ML103']\n",
    }
    assert located(check(make_repo(tmp_path / "r", files))) == {("train.py", 2, "ML103")}


def test_file_level_noqa_and_noqa_lists(tmp_path: Path) -> None:
    files = {
        "a.py": "# mlaudit: noqa: ML103\n" + BENCH,
        "b.py": "import torch, yaml\ntorch.backends.cudnn.benchmark = True  # noqa: E501, ML103\nyaml.load(open('x'))  #" " noqa\n",
    }
    run = check(make_repo(tmp_path / "r", files))
    # A bare noqa comment is for other linters; it does not silence mlaudit.
    assert located(run) == {("b.py", 3, "ML602")}
    assert run.suppressed == 2


def test_exclude_and_gitignore(tmp_path: Path) -> None:
    files = {
        "vendor/lib.py": BENCH,
        "build_out/gen.py": BENCH,
        "train.py": BENCH,
        ".gitignore": "build_out/\n",
        "pyproject.toml": "[tool.mlaudit]\nextend-exclude = ['vendor/']\n",
    }
    repo = make_repo(tmp_path / "r", files, commit=False)
    assert located(check(repo)) == {("train.py", 2, "ML103")}


def test_paths_limit_what_is_reported(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "pkg/b.py": BENCH, "pkg/c.py": BENCH})
    assert located(check(repo, "a.py")) == {("a.py", 2, "ML103")}
    assert located(check(repo, "pkg")) == {("pkg/b.py", 2, "ML103"), ("pkg/c.py", 2, "ML103")}


def test_a_repository_named_through_a_link_to_it_is_checked_whole(tmp_path: Path) -> None:
    repo = make_repo(tmp_path / "r", {"a.py": BENCH, "pkg/b.py": BENCH})
    (tmp_path / "link").symlink_to(repo, target_is_directory=True)
    assert located(check(tmp_path / "link")) == {("a.py", 2, "ML103"), ("pkg/b.py", 2, "ML103")}


def test_check_never_imports_or_runs_audited_code(tmp_path: Path) -> None:
    marker = tmp_path / "IMPORTED"
    payload = f"open({str(marker)!r}, 'w').write('x')\n"
    files = {"train.py": payload + BENCH, "pkg/__init__.py": payload, "setup.py": payload, "conftest.py": payload}
    repo = make_repo(tmp_path / "r", files)
    result = run_cli(repo, "check", ".")
    assert result.returncode == 1
    assert not marker.exists()


class _Exploding(PythonRule):
    code = "ML103"  # borrows a real code so selection lets it run; never registered
    name = "exploding"

    def visit_Assign(self, node: object, ctx: object) -> None:
        raise ZeroDivisionError("boom")


def test_a_crashing_rule_names_itself_and_others_still_report(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import mlaudit.engine.analyse as analyse
    from mlaudit.rules import all_rules

    monkeypatch.setattr(analyse, "all_rules", lambda: (*all_rules(), _Exploding))
    repo = make_repo(tmp_path / "r", {"a.py": BENCH + YAML_LOAD})
    run = check_paths([repo], CheckOptions(use_cache=False))
    assert run.exit_code == 2 and not run.execution_successful
    assert any("internal error in ML103" in n and "a.py" in n and "ZeroDivisionError" in n for n in run.notifications)
    assert {"ML103", "ML602"} <= set(codes(run))


def test_a_folder_with_its_own_manifest_is_judged_as_the_whole_repository_judges_it(tmp_path: Path) -> None:
    repo = make_repo(
        tmp_path / "r",
        {
            "pyproject.toml": "[tool.mlaudit]\nextend-exclude = ['examples/']\n",
            "examples/mnist/requirements.txt": "torch==2.13.0\n",
            "examples/mnist/main.py": BENCH,
        },
    )
    run = check_paths([repo / "examples" / "mnist"], CheckOptions(use_cache=False))
    assert run.root == run.source_root == repo.resolve()
    assert located(run) == set() and run.files_checked == 0  # excluded by the repository's settings
    assert run.unchecked_targets and "examples/mnist is excluded" in run.unchecked_targets[0]


NESTED = {
    "top.py": "import torch\n",
    "sub/pyproject.toml": "[project]\nname = 'sub'\ndependencies = ['torch>=2.1', 'pyyaml']\n",
    "sub/conf/config.yaml": "lr: 0.1\nunused_key: 3\n",
    "sub/src/demo/__init__.py": "",
    "sub/src/demo/train.py": "import torch, yaml\n"
    "torch.backends.cudnn.benchmark = True\n"
    "cfg = yaml.load(open('conf/config.yaml'), Loader=yaml.FullLoader)\n"
    "state = torch.load('m.pt')\n"
    "model = torch.nn.Linear(4, 2)\n",
}


@pytest.mark.parametrize(
    "named",
    [["sub/src/demo/train.py"], ["sub"], ["sub/src"], ["sub/src/demo/train.py", "top.py"], ["sub/src/demo/train.py", "sub/conf/config.yaml"]],
)
def test_a_named_path_gets_exactly_the_findings_the_whole_repository_run_gives_it(tmp_path: Path, named: list[str]) -> None:
    # pre-commit passes file names; the hook must judge them as `check .` (CI, mlaudit-repo) does.
    repo = make_repo(tmp_path / "r", NESTED)
    whole = check_paths([repo], CheckOptions(use_cache=False))
    part = check_paths([repo / p for p in named], CheckOptions(use_cache=False))
    assert part.root == whole.root == repo.resolve()

    def inside(path: str) -> bool:
        return any(path == p or path.startswith(p + "/") for p in named)

    expected = [f for f in whole.findings if inside(f.path) or any(inside(p) for p in f.related_paths)]
    assert part.findings == expected
    assert {f.code for f in expected} >= {"ML103", "ML602", "ML601"}


def test_sarif_uris_are_relative_to_the_checkout(tmp_path: Path) -> None:
    from mlaudit.report import render
    from tests.sarif_helpers import assert_valid_sarif

    repo = make_repo(tmp_path / "r", {"examples/mnist/requirements.txt": "torch==2.13.0\n", "examples/mnist/main.py": BENCH})
    run = check_paths([repo / "examples" / "mnist"], CheckOptions(use_cache=False))
    log = assert_valid_sarif(render("sarif", run))
    location = log["runs"][0]["results"][0]["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == "examples/mnist/main.py"
    assert log["runs"][0]["results"][0]["partialFingerprints"]["primaryLocationLineHash"]


def test_a_missing_path_is_refused_not_widened_to_its_parents(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match="no such file or folder"):
        check_paths([tmp_path / "absent" / "train.py"], CheckOptions(use_cache=False))


@settings(max_examples=400, deadline=None)
@given(st.lists(st.sampled_from([".git", ".venv", "venv", "xvenv", "site-packages", "a.egg-info", ".egg-info", "egg-info",
                                 ".dvc", "cache", "tmp", "node_modules", "__pycache__", "src", "m.py", ".eggs"]),
                min_size=1, max_size=5).map("/".join))
def test_the_built_in_excludes_shortcut_decides_as_the_patterns_do(path: str) -> None:
    """Without configured excludes, a path holding none of the built-in patterns' texts is let
    through unmatched; the patterns themselves must agree on every path."""
    import pathspec

    from mlaudit.engine.discover import ALWAYS_EXCLUDED, exclude_spec

    full = pathspec.PathSpec.from_lines("gitignore", ALWAYS_EXCLUDED)
    assert exclude_spec([]).match_file(path) == full.match_file(path)
    configured = pathspec.PathSpec.from_lines("gitignore", [*ALWAYS_EXCLUDED, "*.py", "!venv/"])
    assert exclude_spec(["*.py", "!venv/"]).match_file(path) == configured.match_file(path)
