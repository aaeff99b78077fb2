"""SARIF 2.1.0 output, shaped for GitHub code scanning (see shared/research/sarif.md §0).

One run per log; the full rule catalog in `tool.driver.rules`; every result carries `ruleId` and
`ruleIndex`, one location with a repo-relative percent-encoded URI under `%SRCROOT%`, a full region
and, when the file can be read, GitHub's own `primaryLocationLineHash`.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote

import mlaudit
from mlaudit.engine.fingerprint import decode_like_node, line_hashes
from mlaudit.engine.result import RunResult
from mlaudit.files.boundary import is_inside
from mlaudit.findings import Edit, Finding, Fix, Level, RelatedLocation
from mlaudit.rules.base import Rule
from mlaudit.rules.docs import RuleDoc, load_doc

SCHEMA_URI = "https://json.schemastore.org/sarif-2.1.0.json"
INFORMATION_URI = "https://github.com/mlaudit/mlaudit"
DRIVER_NAME = "mlaudit"
SRCROOT = "%SRCROOT%"
# GitHub's limits: longer names/descriptions reject the upload, extra tags are dropped.
MAX_NAME = 255
MAX_DESCRIPTION = 1024
MAX_TAGS = 20
# Files larger than this are not read for fingerprints or end columns: hashing is a Python loop,
# and a finding on line 1 of a multi-gigabyte data file must not stall the report.
MAX_READ_BYTES = 8 * 1024 * 1024

PROBLEM_SEVERITY = {
    Level.ERROR: "error",
    Level.WARNING: "warning",
    Level.NOTE: "recommendation",
}
# For security rules that do not state a severity: GitHub's bands are high (7.0-8.9),
# medium (4.0-6.9) and low (0.1-3.9); the rule's level picks one.
DEFAULT_SECURITY_SEVERITY = {
    Level.ERROR: "7.5",
    Level.WARNING: "5.0",
    Level.NOTE: "2.0",
}
# SARIF lines end at CR, LF or CRLF (the same breaks Python's tokenizer and GitHub's hash use).
LINE_BREAK = re.compile(r"\r\n|\r|\n")

Json = dict[str, Any]


def render(run: RunResult) -> str:
    # ASCII-only JSON: the log survives any console or file encoding unchanged.
    return json.dumps(sarif_log(run), indent=2) + "\n"


def sarif_log(run: RunResult) -> Json:
    return {"$schema": SCHEMA_URI, "version": "2.1.0", "runs": [sarif_run(run)]}


def sarif_run(run: RunResult) -> Json:
    catalog = Catalog.build(run)
    sources = SourceCache(run.root, uri_prefix(run))
    document: Json = {
        "tool": {"driver": driver(catalog)},
        "automationDetails": {"id": automation_id(run)},
        "invocations": [invocation(run)],
        "originalUriBaseIds": {SRCROOT: {"uri": root_uri(run.source_root or run.root)}},
        "columnKind": "unicodeCodePoints",
        "results": [result(f, catalog, sources) for f in run.findings],
    }
    if run.properties:
        document["properties"] = run.properties
        if run.properties.get("finding"):
            for res in document["results"]:
                res["properties"] = run.properties["finding"]
    return document


def automation_id(run: RunResult) -> str:
    """GitHub's category is `automationDetails.id` up to its last "/". `check` and `probe` get
    their own by default, so both logs can be uploaded from one job without replacing each
    other's alerts; `--sarif-category` (the upload action's `category:`) sets another."""
    if run.sarif_category:
        return run.sarif_category if run.sarif_category.endswith("/") else run.sarif_category + "/"
    command = "probe" if run.rules and all(r.runtime for r in run.rules) else "check"
    return f"mlaudit/{command}/"


def driver(catalog: Catalog) -> Json:
    return {
        "name": DRIVER_NAME,
        "version": mlaudit.__version__,
        "semanticVersion": mlaudit.__version__,
        "informationUri": INFORMATION_URI,
        "rules": [descriptor(info) for info in catalog.rules],
    }


def invocation(run: RunResult) -> Json:
    inv: Json = {
        "executionSuccessful": run.execution_successful,
        "exitCode": run.exit_code,
    }
    # Internal errors (which made the run fail) are errors; degraded parts of a run are warnings.
    notes = [("error", text) for text in run.notifications] + [("warning", text) for text in run.warnings]
    notes += [("note", text) for text in run.notes]
    if notes:
        inv["toolExecutionNotifications"] = [{"level": level, "message": {"text": text}} for level, text in notes]
    return inv


def root_uri(root: Path) -> str:
    # SARIF §3.14.14: a base URI must end with exactly one "/".
    uri = root.resolve().as_uri()
    return uri if uri.endswith("/") else uri + "/"


# --- rules -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RuleInfo:
    """What SARIF says about a rule, from its class or, for an unknown code, from its doc."""

    code: str
    name: str
    summary: str
    level: Level
    tags: tuple[str, ...]
    precision: str
    cwe: int | None
    security_severity: str | None

    @classmethod
    def from_class(cls, rule: type[Rule]) -> RuleInfo:
        return cls(
            code=rule.code,
            name=rule.name,
            summary=rule.summary,
            level=rule.level,
            tags=tuple(rule.tags),
            precision=rule.precision,
            cwe=rule.cwe,
            security_severity=rule.security_severity,
        )

    @classmethod
    def from_code(cls, code: str) -> RuleInfo:
        """A code that was reported but is not in the run's catalog (e.g. a disabled rule)."""
        doc = load_doc(code)
        front = doc.front if doc else {}
        level = front.get("level", "")
        return cls(
            code=code,
            name=front.get("name", ""),
            summary=first_paragraph(doc.what) if doc else "",
            level=Level(level)
            if level in {lv.value for lv in Level}
            else Level.WARNING,
            tags=(),  # unknown: claiming "security" would invent a security alert
            precision=Rule.precision,
            cwe=None,
            security_severity=None,
        )


@dataclass(frozen=True)
class Catalog:
    """The rule descriptors in emission order, and each code's index among them."""

    rules: tuple[RuleInfo, ...]
    index: dict[str, int]

    @classmethod
    def build(cls, run: RunResult) -> Catalog:
        infos: list[RuleInfo] = []
        index: dict[str, int] = {}
        # Two rules with one id pass the schema but confuse GitHub: the first class wins.
        for rule in run.rules:
            if rule.code not in index:
                index[rule.code] = len(infos)
                infos.append(RuleInfo.from_class(rule))
        # Findings of rules outside the catalog still need a descriptor for a valid ruleIndex.
        for code in sorted({f.code for f in run.findings} - index.keys()):
            index[code] = len(infos)
            infos.append(RuleInfo.from_code(code))
        return cls(tuple(infos), index)


def descriptor(info: RuleInfo) -> Json:
    doc = load_doc(info.code)
    short = clip(
        info.summary or info.name or f"mlaudit rule {info.code}", MAX_DESCRIPTION
    )
    rule: Json = {"id": info.code}
    # SARIF1001: a name equal to the id says nothing; leave it out instead.
    if info.name and info.name != info.code:
        rule["name"] = clip(info.name, MAX_NAME)
    rule["shortDescription"] = {"text": short}
    full = first_paragraph(doc.what) if doc else ""
    rule["fullDescription"] = {"text": clip(full, MAX_DESCRIPTION) if full else short}
    rule["help"] = rule_help(doc, short)
    if doc is not None:
        rule["helpUri"] = doc.url
    rule["defaultConfiguration"] = {"level": info.level.value}
    rule["properties"] = rule_properties(info)
    return rule


def rule_help(doc: RuleDoc | None, fallback: str) -> Json:
    if doc is None or not doc.markdown.strip():
        return {"text": fallback}
    # GitHub shows `markdown` when present; `text` is for consumers without Markdown.
    return {"text": doc.markdown, "markdown": doc.markdown}


def rule_properties(info: RuleInfo) -> Json:
    tags = list(info.tags)
    if info.cwe is not None:
        tags.append(f"external/cwe/cwe-{info.cwe}")
    props: Json = {
        "tags": list(dict.fromkeys(tags))[:MAX_TAGS],
        "precision": info.precision,
        "problem.severity": PROBLEM_SEVERITY[info.level],
    }
    # The key's presence turns results into security alerts, so only security rules get it.
    if "security" in info.tags:
        props["security-severity"] = security_severity(info)
    return props


def security_severity(info: RuleInfo) -> str:
    """GitHub wants a numeric string in (0.0, 10.0]; anything else fails processing."""
    value = info.security_severity or DEFAULT_SECURITY_SEVERITY[info.level]
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0.0 < number <= 10.0:
        raise ValueError(
            f"{info.code}: security_severity {value!r} is not a number in (0, 10]"
        )
    return value


def first_paragraph(markdown: str) -> str:
    paragraph = re.split(r"\n[ \t]*\n", markdown.strip(), maxsplit=1)[0]
    return " ".join(line.strip() for line in paragraph.splitlines()).strip()


def clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# --- results ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SourceText:
    lines: list[str]  # split at CR, LF and CRLF; a BOM is not part of line 1
    hashes: list[str]  # primaryLocationLineHash per line, index = line - 1


class SourceCache:
    """Reads each reported file at most once."""

    def __init__(self, root: Path, prefix: str = "") -> None:
        self.root = root
        self.prefix = prefix  # the project's folder below %SRCROOT%, "" or ending in "/"
        self.texts: dict[str, SourceText | None] = {}

    def get(self, path: str) -> SourceText | None:
        if path not in self.texts:
            self.texts[path] = self.read(path)
        return self.texts[path]

    def read(self, path: str) -> SourceText | None:
        file = self.root / path
        try:
            # Only a regular file inside the repository (never a FIFO, nor a symlink out of it).
            if not is_inside(file, self.root) or not file.is_file() or file.stat().st_size > MAX_READ_BYTES:
                return None
            data = file.read_bytes()
        except OSError:
            return None
        # Hash exactly what GitHub's Node code reads; columns ignore a BOM (SARIF §3.30).
        text = decode_like_node(data)
        return SourceText(
            LINE_BREAK.split(text.removeprefix("\ufeff")), line_hashes(text)
        )


def result(finding: Finding, catalog: Catalog, sources: SourceCache) -> Json:
    rel = relative_path(finding.path, sources.root)
    source = sources.get(rel)
    reg = finding_region(finding, source)
    res: Json = {
        "ruleId": finding.code,
        "ruleIndex": catalog.index[finding.code],
        "level": finding.level.value,
        "message": {"text": message_text(finding, catalog)},
        "locations": [
            {"physicalLocation": {"artifactLocation": artifact(sources.prefix + rel), "region": reg}}
        ],
    }
    # A missing key is recomputed by upload-sarif; a wrong one would break alert tracking.
    if source is not None and reg["startLine"] <= len(source.hashes):
        res["partialFingerprints"] = {
            "primaryLocationLineHash": source.hashes[reg["startLine"] - 1]
        }
    if finding.related:
        res["relatedLocations"] = [related_location(i, r, sources) for i, r in enumerate(finding.related, 1)]
    # SARIF requires at least one replacement per change, so a fix without edits is left out.
    if finding.fix is not None and finding.fix.edits:
        res["fixes"] = [sarif_fix(finding.fix, sources.prefix + rel)]
    return res


def related_location(number: int, related: RelatedLocation, sources: SourceCache) -> Json:
    rel = relative_path(related.path, sources.root)
    line, col = max(1, related.line), max(1, related.col)
    location: Json = {
        "id": number,
        "physicalLocation": {"artifactLocation": artifact(sources.prefix + rel), "region": region(line, col, line, col)},
    }
    if related.message:
        location["message"] = {"text": related.message}
    return location


def message_text(finding: Finding, catalog: Catalog) -> str:
    # GitHub does not accept an empty message; the rule's summary is the next best title.
    summary = catalog.rules[catalog.index[finding.code]].summary
    return finding.message or summary or finding.code


def uri_prefix(run: RunResult) -> str:
    """Where the project sits below the checkout: "examples/mnist/" or ""."""
    if run.source_root is None:
        return ""
    try:
        prefix = run.root.resolve().relative_to(run.source_root.resolve()).as_posix()
    except ValueError:
        return ""
    return "" if prefix == "." else prefix + "/"


def relative_path(path: str, root: Path) -> str:
    """The finding's path relative to the root, POSIX style, without "./" or a leading "/"."""
    posix = PurePosixPath(path)
    if posix.is_absolute():
        try:
            posix = PurePosixPath(
                Path(path).resolve().relative_to(root.resolve()).as_posix()
            )
        except ValueError:
            pass  # outside the root: keep it; the URI below still has no leading "/"
    return str(posix).lstrip("/")


def artifact(rel: str) -> Json:
    # Percent-encoding keeps spaces and non-ASCII names valid URI references; "/" stays.
    # surrogateescape restores the original bytes of a file name that is not UTF-8.
    return {"uri": quote(rel, safe="/", errors="surrogateescape"), "uriBaseId": SRCROOT}


def finding_region(finding: Finding, source: SourceText | None) -> Json:
    start_line = max(1, finding.line)
    start_col = max(1, finding.col)
    end_line = max(start_line, finding.end_line or start_line)
    if finding.end_col is not None:
        end_col = finding.end_col
    elif source is not None and end_line <= len(source.lines):
        end_col = (
            len(source.lines[end_line - 1]) + 1
        )  # SARIF's default: the end of that line
    else:
        end_col = start_col + 1
    return region(start_line, start_col, end_line, end_col)


def region(start_line: int, start_col: int, end_line: int, end_col: int) -> Json:
    start_line, start_col = max(1, start_line), max(1, start_col)
    end_line = max(start_line, end_line)
    # On one line the end may not precede the start (SARIF1009); an empty region is allowed.
    end_col = max(start_col if end_line == start_line else 1, end_col)
    return {
        "startLine": start_line,
        "startColumn": start_col,
        "endLine": end_line,
        "endColumn": end_col,
    }


def sarif_fix(fix: Fix, rel: str) -> Json:
    changes = [
        {
            "artifactLocation": artifact(rel),
            "replacements": [replacement(e) for e in fix.edits],
        }
    ]
    if not fix.description:
        return {"artifactChanges": changes}
    return {"description": {"text": fix.description}, "artifactChanges": changes}


def replacement(edit: Edit) -> Json:
    rep: Json = {
        "deletedRegion": region(edit.line, edit.col, edit.end_line, edit.end_col)
    }
    # An insertion has an empty deleted region; a deletion has no inserted content.
    if edit.content:
        rep["insertedContent"] = {"text": edit.content}
    return rep
