"""The SARIF reporter: schema-valid logs with exactly the structure GitHub code scanning reads."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, ClassVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import mlaudit
from mlaudit.engine.fingerprint import line_hashes
from mlaudit.engine.result import RunResult
from mlaudit.findings import Edit, Finding, Fix, Level, RelatedLocation
from mlaudit.report import render, sarif_format
from mlaudit.report.sarif_format import render as render_sarif
from mlaudit.rules.base import Rule
from mlaudit.rules.docs import load_doc
from tests.helpers import TEST_DATA
from tests.sarif_helpers import assert_valid_sarif

TRAIN_PY = (
    "import torch\n"
    "\n"
    "def load(path):\n"
    "    # modèle pré-entraîné 😀\n"
    "    return torch.load(path)\n"
)
NOTEBOOK = '{\n "cells": [],\n "nbformat": 4\n}\n'


class UnsafeLoad(Rule):
    code = "ML601"
    name = "unsafe-torch-load"
    summary = "torch.load without weights_only=True"
    level = Level.ERROR
    tags = ("security", "reproducibility")
    cwe: ClassVar[int | None] = 502
    security_severity: ClassVar[str | None] = "8.1"


class SeedMissing(Rule):
    code = "ML101"
    name = "missing-seed"
    summary = "Training entry point never seeds the random generators"
    tags = ("reproducibility", "determinism")


class NotebookOrder(Rule):
    code = "ML701"
    name = "notebook-execution-order"
    summary = "Notebook cells were run out of order"
    level = Level.NOTE
    precision = "very-high"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    (tmp_path / "pkg").mkdir()
    (tmp_path / "pkg" / "train.py").write_text(TRAIN_PY, encoding="utf-8")
    (tmp_path / "notebooks").mkdir()
    (tmp_path / "notebooks" / "my exp.ipynb").write_text(NOTEBOOK, encoding="utf-8")
    return tmp_path


def sarif(run: RunResult) -> dict[str, Any]:
    """Render, validate against the official schema and GitHub's rules, and parse."""
    return assert_valid_sarif(render_sarif(run))


def make_run(root: Path, findings: list[Finding], **kw: Any) -> RunResult:
    rules: list[type[Rule]] = kw.pop("rules", [SeedMissing, UnsafeLoad, NotebookOrder])
    return RunResult(root=root, findings=findings, rules=rules, **kw)


def only_result(log: dict[str, Any]) -> dict[str, Any]:
    results: list[dict[str, Any]] = log["runs"][0]["results"]
    assert len(results) == 1
    return results[0]


def physical(result: dict[str, Any]) -> dict[str, Any]:
    location: dict[str, Any] = result["locations"][0]["physicalLocation"]
    return location


def rules_by_id(log: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {rule["id"]: rule for rule in log["runs"][0]["tool"]["driver"]["rules"]}


# --- the log and the run ---------------------------------------------------------------------


def test_empty_run_still_has_results_and_catalog(repo: Path) -> None:
    log = sarif(make_run(repo, []))
    assert log["$schema"] == "https://json.schemastore.org/sarif-2.1.0.json"
    assert log["version"] == "2.1.0"
    assert len(log["runs"]) == 1
    run = log["runs"][0]
    assert run["results"] == []
    assert [r["id"] for r in run["tool"]["driver"]["rules"]] == [
        "ML101",
        "ML601",
        "ML701",
    ]


def test_run_level_fields(repo: Path) -> None:
    run = sarif(make_run(repo, [], exit_code=1))["runs"][0]
    driver = run["tool"]["driver"]
    assert driver["name"] == "mlaudit"
    assert driver["version"] == driver["semanticVersion"] == mlaudit.__version__
    assert driver["informationUri"].startswith("https://")
    assert run["automationDetails"] == {"id": "mlaudit/check/"}
    assert run["columnKind"] == "unicodeCodePoints"
    assert (
        run["originalUriBaseIds"]["%SRCROOT%"]["uri"] == repo.resolve().as_uri() + "/"
    )
    assert run["invocations"] == [{"executionSuccessful": True, "exitCode": 1}]


def test_notifications_and_failed_execution(repo: Path) -> None:
    run = make_run(
        repo,
        [],
        exit_code=2,
        execution_successful=False,
        notifications=["rule ML101 crashed on pkg/train.py"],
        warnings=["skipped big.csv"],
    )
    invocation = sarif(run)["runs"][0]["invocations"][0]
    assert invocation["executionSuccessful"] is False
    assert invocation["exitCode"] == 2
    notes = invocation["toolExecutionNotifications"]
    assert [n["message"]["text"] for n in notes] == [
        "rule ML101 crashed on pkg/train.py",
        "skipped big.csv",
    ]
    assert [n["level"] for n in notes] == ["error", "warning"]


def test_probe_runs_get_their_own_category(repo: Path) -> None:
    from mlaudit.rules.probe import PROBE_RULES

    run = sarif(make_run(repo, [], rules=sorted(PROBE_RULES, key=lambda r: r.code)))["runs"][0]
    assert run["automationDetails"]["id"] == "mlaudit/probe/"
    assert run["tool"]["driver"]["name"] == "mlaudit"


@pytest.mark.parametrize(("category", "expected"), [("lint/py", "lint/py/"), ("mlaudit/check/sub/", "mlaudit/check/sub/")])
def test_sarif_category_sets_the_automation_id(repo: Path, category: str, expected: str) -> None:
    run = sarif(make_run(repo, [], sarif_category=category))["runs"][0]
    assert run["automationDetails"]["id"] == expected


def test_dispatcher_renders_sarif(repo: Path) -> None:
    run = make_run(repo, [Finding("ML101", "no seed", "pkg/train.py")])
    assert render("sarif", run) == render_sarif(run)


def test_output_is_ascii_and_round_trips(repo: Path) -> None:
    text = render_sarif(
        make_run(repo, [Finding("ML101", "graine absente 😀", "pkg/train.py")])
    )
    assert text.isascii()
    assert (
        only_result(assert_valid_sarif(text))["message"]["text"] == "graine absente 😀"
    )


# --- rules -----------------------------------------------------------------------------------


def test_rule_descriptor_fields(repo: Path) -> None:
    class Undocumented(SeedMissing):
        code = "ML199"  # a code with no rules/ doc

    rule = rules_by_id(sarif(make_run(repo, [], rules=[Undocumented])))["ML199"]
    assert rule["name"] == "missing-seed"
    assert rule["shortDescription"]["text"] == SeedMissing.summary
    # No doc for this code: the summary stands in, helpUri is not invented.
    assert rule["fullDescription"]["text"] == SeedMissing.summary
    assert rule["help"] == {"text": SeedMissing.summary}
    assert "helpUri" not in rule
    assert rule["defaultConfiguration"] == {"level": "warning"}
    assert rule["properties"] == {
        "tags": ["reproducibility", "determinism"],
        "precision": "high",
        "problem.severity": "warning",
    }


def test_rule_with_doc_uses_it(repo: Path) -> None:
    class Benchmark(Rule):
        code = "ML103"
        name = "cudnn-benchmark"
        summary = "cuDNN benchmark mode picks kernels by timing"

    rule = rules_by_id(sarif(make_run(repo, [], rules=[Benchmark])))["ML103"]
    doc_text = (Path(mlaudit.__file__).parents[1] / "rules" / "ML103.md").read_text(
        "utf-8"
    )
    full = rule["fullDescription"]["text"]
    # The first paragraph of "What it does", lines joined, and nothing from the next section.
    assert full.startswith(
        "Reports `torch.backends.cudnn.benchmark = True`, under any alias"
    )
    assert full.endswith("(an argparse option with a truthy default in the same file).")
    assert "\n" not in full and "With benchmarking on" not in full
    assert " ".join(full.split()) == full
    assert rule["help"]["markdown"] in doc_text
    assert "## Why it matters" in rule["help"]["markdown"]
    assert rule["help"]["text"] == rule["help"]["markdown"]
    assert (
        rule["helpUri"] == "https://github.com/mlaudit/mlaudit/blob/main/rules/ML103.md"
    )


def test_security_rule_properties(repo: Path) -> None:
    props = rules_by_id(sarif(make_run(repo, [])))["ML601"]["properties"]
    assert props["security-severity"] == "8.1"
    assert isinstance(props["security-severity"], str)
    assert props["tags"] == ["security", "reproducibility", "external/cwe/cwe-502"]
    assert props["problem.severity"] == "error"


def test_non_security_rules_have_no_security_severity(repo: Path) -> None:
    rules = rules_by_id(sarif(make_run(repo, [])))
    assert "security-severity" not in rules["ML101"]["properties"]
    assert rules["ML701"]["properties"]["problem.severity"] == "recommendation"
    assert rules["ML701"]["properties"]["precision"] == "very-high"
    assert rules["ML701"]["defaultConfiguration"] == {"level": "note"}


def test_security_severity_defaults_from_level(repo: Path) -> None:
    class Pickle(Rule):
        code = "ML602"
        name = "unsafe-pickle"
        summary = "pickle.load of an untrusted file"
        level = Level.WARNING
        tags = ("security",)

    props = rules_by_id(sarif(make_run(repo, [], rules=[Pickle])))["ML602"][
        "properties"
    ]
    assert props["security-severity"] == "5.0"
    assert props["tags"] == ["security"]


@pytest.mark.parametrize("bad", ["high", "0", "0.0", "10.5", "-1", "nan"])
def test_invalid_security_severity_is_refused(repo: Path, bad: str) -> None:
    class Bad(Rule):
        code = "ML603"
        name = "bad-severity"
        summary = "x"
        tags = ("security",)
        security_severity: ClassVar[str | None] = bad

    with pytest.raises(ValueError, match="ML603"):
        render_sarif(make_run(repo, [], rules=[Bad]))


def test_duplicate_rule_codes_give_one_descriptor(repo: Path) -> None:
    class SeedAgain(Rule):
        code = "ML101"
        name = "missing-seed-again"
        summary = "duplicate"

    log = sarif(make_run(repo, [], rules=[SeedMissing, SeedAgain, UnsafeLoad]))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["ML101", "ML601"]
    assert rules[0]["name"] == "missing-seed"


def test_reported_codes_outside_the_catalog_are_added(repo: Path) -> None:
    findings = [
        Finding("ML999", "mystery", "pkg/train.py"),
        Finding("ML103", "benchmark on", "pkg/train.py", line=5),
        Finding("ML601", "unsafe", "pkg/train.py", line=5),
    ]
    log = sarif(make_run(repo, findings, rules=[UnsafeLoad]))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == ["ML601", "ML103", "ML999"]
    indexes = [r["ruleIndex"] for r in log["runs"][0]["results"]]
    assert indexes == [2, 1, 0]
    # ML103 has a doc: its front matter names it; ML999 has nothing, yet stays valid.
    assert rules[1]["name"] == "cudnn-benchmark"
    assert rules[1]["helpUri"].endswith("/rules/ML103.md")
    assert "name" not in rules[2] and "helpUri" not in rules[2]
    assert rules[2]["shortDescription"]["text"]
    assert "security-severity" not in rules[2]["properties"]


def test_long_texts_are_clipped(repo: Path) -> None:
    class Wordy(Rule):
        code = "ML102"
        name = "w" * 300
        summary = "word " * 400

    rule = rules_by_id(sarif(make_run(repo, [], rules=[Wordy])))["ML102"]
    assert len(rule["shortDescription"]["text"]) == 1024
    assert rule["shortDescription"]["text"].endswith("\u2026")
    assert len(rule["name"]) == 255


# --- results ---------------------------------------------------------------------------------


def test_result_shape(repo: Path) -> None:
    finding = Finding(
        "ML601",
        "torch.load without weights_only",
        "pkg/train.py",
        5,
        12,
        5,
        28,
        Level.ERROR,
    )
    result = only_result(sarif(make_run(repo, [finding])))
    assert result["ruleId"] == "ML601"
    assert result["ruleIndex"] == 1
    assert result["level"] == "error"
    assert result["message"] == {"text": "torch.load without weights_only"}
    assert len(result["locations"]) == 1
    assert physical(result) == {
        "artifactLocation": {"uri": "pkg/train.py", "uriBaseId": "%SRCROOT%"},
        "region": {"startLine": 5, "startColumn": 12, "endLine": 5, "endColumn": 28},
    }
    expected = line_hashes(TRAIN_PY)[4]
    assert result["partialFingerprints"] == {"primaryLocationLineHash": expected}
    assert "fixes" not in result


def test_result_level_follows_the_finding(repo: Path) -> None:
    finding = Finding("ML601", "m", "pkg/train.py", level=Level.NOTE)
    assert only_result(sarif(make_run(repo, [finding])))["level"] == "note"


def test_end_column_defaults_to_end_of_line_in_code_points(repo: Path) -> None:
    # "    # modèle pré-entraîné 😀" is 27 code points (the emoji counts once).
    result = only_result(
        sarif(make_run(repo, [Finding("ML101", "m", "pkg/train.py", 4, 5)]))
    )
    assert physical(result)["region"] == {
        "startLine": 4,
        "startColumn": 5,
        "endLine": 4,
        "endColumn": 28,
    }


def test_end_column_defaults_on_a_later_end_line(repo: Path) -> None:
    finding = Finding("ML101", "m", "pkg/train.py", line=3, col=1, end_line=5)
    region = physical(only_result(sarif(make_run(repo, [finding]))))["region"]
    assert region == {"startLine": 3, "startColumn": 1, "endLine": 5, "endColumn": 28}
    assert len("    return torch.load(path)") + 1 == 28


def test_crlf_and_bom_file(repo: Path) -> None:
    crlf = "\ufeffx = 1\r\ny = 22\r\n"
    (repo / "win.py").write_bytes(crlf.encode("utf-8"))
    findings = [
        Finding("ML101", "m", "win.py", 1, 1),
        Finding("ML101", "m", "win.py", 2, 1),
    ]
    results = sarif(make_run(repo, findings))["runs"][0]["results"]
    # Columns ignore the BOM (SARIF §3.30); "\r" is a line break, not a character.
    assert physical(results[0])["region"]["endColumn"] == 6
    assert physical(results[1])["region"]["endColumn"] == 7
    lf_hashes = line_hashes("\ufeffx = 1\ny = 22\n")
    assert [
        r["partialFingerprints"]["primaryLocationLineHash"] for r in results
    ] == lf_hashes[:2]


def test_unreadable_file_has_no_fingerprint(repo: Path) -> None:
    result = only_result(
        sarif(make_run(repo, [Finding("ML101", "m", "gone.py", 3, 7)]))
    )
    assert "partialFingerprints" not in result
    assert physical(result)["region"] == {
        "startLine": 3,
        "startColumn": 7,
        "endLine": 3,
        "endColumn": 8,
    }


def test_directory_has_no_fingerprint(repo: Path) -> None:
    result = only_result(
        sarif(make_run(repo, [Finding("ML401", "untracked data", "pkg")]))
    )
    assert "partialFingerprints" not in result
    assert physical(result)["artifactLocation"]["uri"] == "pkg"


def test_line_past_the_end_has_no_fingerprint(repo: Path) -> None:
    result = only_result(
        sarif(make_run(repo, [Finding("ML101", "m", "pkg/train.py", 40)]))
    )
    assert "partialFingerprints" not in result
    assert physical(result)["region"]["endColumn"] == 2


def test_oversized_file_is_not_read(
    repo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(sarif_format, "MAX_READ_BYTES", len(TRAIN_PY.encode()) - 1)
    result = only_result(
        sarif(make_run(repo, [Finding("ML101", "m", "pkg/train.py", 5, 5)]))
    )
    assert "partialFingerprints" not in result
    assert physical(result)["region"]["endColumn"] == 6


def test_file_is_read_once(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    reads: list[Path] = []
    original = Path.read_bytes

    def counting(self: Path) -> bytes:
        reads.append(self)
        return original(self)

    monkeypatch.setattr(Path, "read_bytes", counting)
    findings = [Finding("ML101", "m", "pkg/train.py", n) for n in (1, 3, 5)]
    results = sarif(make_run(repo, findings))["runs"][0]["results"]
    assert reads == [repo / "pkg" / "train.py"]
    hashes = [r["partialFingerprints"]["primaryLocationLineHash"] for r in results]
    all_hashes = line_hashes(TRAIN_PY)
    assert hashes == [all_hashes[0], all_hashes[2], all_hashes[4]]


@pytest.mark.parametrize(
    ("path", "uri"),
    [
        ("notebooks/my exp.ipynb", "notebooks/my%20exp.ipynb"),
        ("./pkg/train.py", "pkg/train.py"),
        ("données/ünï.csv", "donn%C3%A9es/%C3%BCn%C3%AF.csv"),
        ("a#b?c%d.py", "a%23b%3Fc%25d.py"),
    ],
)
def test_uri_is_relative_posix_and_percent_encoded(
    repo: Path, path: str, uri: str
) -> None:
    result = only_result(sarif(make_run(repo, [Finding("ML701", "m", path)])))
    assert physical(result)["artifactLocation"] == {
        "uri": uri,
        "uriBaseId": "%SRCROOT%",
    }


def test_notebook_with_space_is_read(repo: Path) -> None:
    result = only_result(
        sarif(make_run(repo, [Finding("ML701", "m", "notebooks/my exp.ipynb")]))
    )
    assert physical(result)["region"]["endColumn"] == 2  # line 1 is "{"
    assert (
        result["partialFingerprints"]["primaryLocationLineHash"]
        == line_hashes(NOTEBOOK)[0]
    )


def test_absolute_path_under_root_becomes_relative(repo: Path) -> None:
    absolute = str(repo / "pkg" / "train.py")
    result = only_result(sarif(make_run(repo, [Finding("ML101", "m", absolute)])))
    assert physical(result)["artifactLocation"]["uri"] == "pkg/train.py"
    assert "partialFingerprints" in result


def test_positions_are_clamped_to_valid_regions(repo: Path) -> None:
    findings = [
        Finding("ML101", "m", "gone.py", line=0, col=0),
        Finding("ML101", "m", "gone.py", line=4, col=9, end_line=2, end_col=3),
    ]
    results = sarif(make_run(repo, findings))["runs"][0]["results"]
    assert physical(results[0])["region"] == {
        "startLine": 1,
        "startColumn": 1,
        "endLine": 1,
        "endColumn": 2,
    }
    assert physical(results[1])["region"] == {
        "startLine": 4,
        "startColumn": 9,
        "endLine": 4,
        "endColumn": 9,
    }


def test_empty_message_falls_back_to_rule_summary(repo: Path) -> None:
    result = only_result(sarif(make_run(repo, [Finding("ML101", "", "pkg/train.py")])))
    assert result["message"]["text"] == SeedMissing.summary


def test_fixes(repo: Path) -> None:
    fix = Fix(
        "Pass weights_only=True",
        (
            # An insertion (empty deleted region), then a deletion (no inserted content).
            Edit(5, 27, 5, 27, ", weights_only=True"),
            Edit(4, 1, 5, 1, ""),
        ),
    )
    finding = Finding("ML601", "unsafe", "pkg/train.py", 5, 12, fix=fix)
    result = only_result(sarif(make_run(repo, [finding])))
    assert result["fixes"] == [
        {
            "description": {"text": "Pass weights_only=True"},
            "artifactChanges": [
                {
                    "artifactLocation": {
                        "uri": "pkg/train.py",
                        "uriBaseId": "%SRCROOT%",
                    },
                    "replacements": [
                        {
                            "deletedRegion": {
                                "startLine": 5,
                                "startColumn": 27,
                                "endLine": 5,
                                "endColumn": 27,
                            },
                            "insertedContent": {"text": ", weights_only=True"},
                        },
                        {
                            "deletedRegion": {
                                "startLine": 4,
                                "startColumn": 1,
                                "endLine": 5,
                                "endColumn": 1,
                            }
                        },
                    ],
                }
            ],
        }
    ]


def test_fix_without_edits_is_left_out(repo: Path) -> None:
    finding = Finding("ML601", "unsafe", "pkg/train.py", fix=Fix("nothing to do", ()))
    assert "fixes" not in only_result(sarif(make_run(repo, [finding])))


def test_many_findings_keep_order_and_indexes(repo: Path) -> None:
    findings = [
        Finding("ML101", "a", "pkg/train.py", 1),
        Finding("ML701", "b", "notebooks/my exp.ipynb", 1),
        Finding("ML601", "c", "pkg/train.py", 5),
    ]
    log = sarif(make_run(repo, findings))
    rules = log["runs"][0]["tool"]["driver"]["rules"]
    results = log["runs"][0]["results"]
    assert [r["message"]["text"] for r in results] == ["a", "b", "c"]
    assert [rules[r["ruleIndex"]]["id"] for r in results] == ["ML101", "ML701", "ML601"]


# --- property: any finding gives a valid, GitHub-ready log ------------------------------------

positions = st.one_of(st.none(), st.integers(-3, 12))


@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    code=st.sampled_from(["ML101", "ML601", "ML701", "ML888"]),
    path=st.sampled_from(
        ["pkg/train.py", "notebooks/my exp.ipynb", "missing dir/ü.py"]
    ),
    line=st.integers(-3, 12),
    col=st.integers(-3, 40),
    end_line=positions,
    end_col=positions,
    message=st.text(max_size=40),
)
def test_any_finding_renders_valid_sarif(
    repo: Path,
    code: str,
    path: str,
    line: int,
    col: int,
    end_line: int | None,
    end_col: int | None,
    message: str,
) -> None:
    finding = Finding(code, message, path, line, col, end_line, end_col)
    result = only_result(sarif(make_run(repo, [finding])))
    region = physical(result)["region"]
    assert region["startLine"] == max(1, line)
    assert region["startColumn"] == max(1, col)
    if "partialFingerprints" in result:
        text = (repo / path).read_text(encoding="utf-8")
        expected = line_hashes(text)[region["startLine"] - 1]
        assert result["partialFingerprints"]["primaryLocationLineHash"] == expected


# --- the validation helper itself -------------------------------------------------------------


def test_helper_accepts_the_shared_example() -> None:
    assert_valid_sarif(json.dumps(example_log()))


RESULT = ("runs", 0, "results", 0)
LOCATION = (*RESULT, "locations", 0, "physicalLocation")
RULE = ("runs", 0, "tool", "driver", "rules")


def example_log() -> dict[str, Any]:
    path = TEST_DATA / "sarif" / "mlaudit-example.sarif"
    log: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return log


@pytest.mark.parametrize(
    ("path", "value"),
    [
        ((*LOCATION, "region", "startLine"), 0),
        ((*RESULT, "level"), "fatal"),
        ((*RESULT, "ruleIndex"), 7),  # past the end of rules
        ((*RESULT, "ruleIndex"), 1),  # points at another rule than ruleId
        ((*RULE, 0, "properties", "security-severity"), 7.5),  # a number, not a string
        ((*LOCATION, "artifactLocation", "uri"), "/abs.py"),
        ((*LOCATION, "artifactLocation", "uri"), "my dir/a.py"),
        ((*RULE, 1, "id"), "ML601"),  # two rules with one id
    ],
)
def test_helper_rejects_what_github_rejects(path: tuple[Any, ...], value: Any) -> None:
    log = example_log()
    target = log
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = value
    with pytest.raises(AssertionError):
        assert_valid_sarif(json.dumps(log))


def test_helper_rejects_a_run_without_results() -> None:
    log = example_log()
    del log["runs"][0]["results"]
    with pytest.raises(AssertionError, match="results"):
        assert_valid_sarif(json.dumps(log))


def test_load_doc_is_available_for_ml103() -> None:
    # The doc-based assertions above rely on the shipped ML103 doc.
    doc = load_doc("ML103")
    assert doc is not None and doc.what


def test_related_locations(repo: Path) -> None:
    related = (RelatedLocation("pkg/train.py", 5, 12, "also here"), RelatedLocation("pkg/train.py", 3))
    finding = Finding("ML601", "m", "pkg/train.py", line=1, related=related)
    result = only_result(sarif(make_run(repo, [finding])))
    assert [(r["id"], r["physicalLocation"]["region"]["startLine"], r.get("message")) for r in result["relatedLocations"]] == [
        (1, 5, {"text": "also here"}), (2, 3, None)]
    plain = only_result(sarif(make_run(repo, [Finding("ML601", "m", "pkg/train.py")])))
    assert "relatedLocations" not in plain
