"""Checks a SARIF log the way GitHub code scanning will see it.

`assert_valid_sarif(text)` validates against the official OASIS SARIF 2.1.0 schema (draft-04, with
a format checker) and then checks what the schema lets through but GitHub rejects or mishandles
(the SARIF research notes, §1.1 and §2). Any test that produces SARIF can call it; the schema is
vendored in tests/data/sarif/ (source and licence in its README).
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

from jsonschema import Draft4Validator  # type: ignore[import-untyped]

from tests.helpers import TEST_DATA

# RFC 3986 URI-reference characters: draft-04 format checkers do not check "uri-reference",
# so a space or backslash in a location would otherwise slip through.
URI_REFERENCE = re.compile(r"(?:[A-Za-z0-9\-._~!$&'()*+,;=:@/?#]|%[0-9A-Fa-f]{2})*")


@lru_cache(maxsize=1)
def official_schema() -> dict[str, Any]:
    path = TEST_DATA / "sarif" / "sarif-schema-2.1.0.json"
    schema: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    Draft4Validator.check_schema(schema)
    return schema


def assert_valid_sarif(text: str) -> dict[str, Any]:
    """Parse `text`, fail on any schema or GitHub-ingestion problem, return the parsed log."""
    log: dict[str, Any] = json.loads(text)
    assert_schema_valid(log)
    assert_github_ready(log)
    return log


def assert_schema_valid(log: dict[str, Any]) -> None:
    validator = Draft4Validator(
        official_schema(), format_checker=Draft4Validator.FORMAT_CHECKER
    )
    errors = sorted(validator.iter_errors(log), key=lambda e: list(e.absolute_path))
    messages = [f"{'/'.join(map(str, e.absolute_path))}: {e.message}" for e in errors]
    assert not messages, "SARIF schema errors:\n" + "\n".join(messages)


def assert_github_ready(log: dict[str, Any]) -> None:
    assert log.get("$schema"), "GitHub requires $schema"
    assert log["version"] == "2.1.0"
    for run in log["runs"]:
        check_run(run)


def check_run(run: dict[str, Any]) -> None:
    # upload-sarif: "Invalid SARIF. Missing 'results' array in run."
    assert isinstance(run.get("results"), list), "every run needs a results array"
    rules = run["tool"]["driver"].get("rules", [])
    ids = [rule["id"] for rule in rules]
    assert len(ids) == len(set(ids)), f"duplicate rule ids: {ids}"
    for rule in rules:
        check_rule(rule)
    for base in run.get("originalUriBaseIds", {}).values():
        if "uri" in base:
            assert base["uri"].endswith("/"), (
                f"base URI must end with '/': {base['uri']}"
            )
    for result in run["results"]:
        check_result(result, ids)


def check_rule(rule: dict[str, Any]) -> None:
    assert rule["id"], "empty rule id"
    for key in ("shortDescription", "fullDescription", "help"):
        assert rule[key]["text"], f"{rule['id']}: GitHub requires a non-empty {key}"
    for key in ("shortDescription", "fullDescription"):
        assert len(rule[key]["text"]) <= 1024, f"{rule['id']}: {key} over 1024 chars"
    assert len(rule.get("name", "")) <= 255
    props = rule.get("properties", {})
    assert len(props.get("tags", [])) <= 20
    if "security-severity" in props:
        severity = props["security-severity"]
        assert isinstance(severity, str), "security-severity must be a numeric string"
        assert 0.0 < float(severity) <= 10.0


def check_result(result: dict[str, Any], rule_ids: list[str]) -> None:
    index = result.get("ruleIndex")
    if index is not None:
        assert 0 <= index < len(rule_ids), f"ruleIndex {index} outside the rules"
        assert rule_ids[index] == result["ruleId"], "ruleIndex does not point at ruleId"
    assert result["message"]["text"], "GitHub needs a message text"
    assert result["locations"], "GitHub shows only results with a location"
    for location in result["locations"]:
        physical = location["physicalLocation"]
        check_uri(physical["artifactLocation"]["uri"])
        check_region(physical["region"])


def check_uri(uri: str) -> None:
    assert not uri.startswith("/"), f"relative URI with a leading '/': {uri}"
    assert URI_REFERENCE.fullmatch(uri), (
        f"not a valid, percent-encoded URI reference: {uri}"
    )


def check_region(region: dict[str, Any]) -> None:
    start_line = region["startLine"]
    assert start_line >= 1
    end_line = region.get("endLine", start_line)
    assert end_line >= start_line, "endLine before startLine"
    if end_line == start_line and "endColumn" in region:
        assert region["endColumn"] >= region.get("startColumn", 1), (
            "endColumn before startColumn"
        )
