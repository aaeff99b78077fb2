"""Rescore the round-3 triage sample (docs/triage/r3/sheets) against fresh mlaudit outputs.

    python bench/triage_rescore.py NEWDIR --before BEFOREDIR [--rules ML101,ML105] [--repos a,b]

NEWDIR and BEFOREDIR hold <repo>.json written by `mlaudit check CLONE --no-cache --output-format json
-o DIR/<repo>.json --exit-zero` (BEFOREDIR at the commit the sheets were drawn from, 2be7ebc). For
every sampled row the script says whether the finding (rule, path, line) is still reported, and
prints per rule the verdicts of the rows kept, the precision of those rows and the verdicts of the
rows gone; then every finding of NEWDIR that BEFOREDIR did not have, which must be read by hand
before a precision is claimed. docs/triage/r3/final-rescore.md is its output for this round.
"""

from __future__ import annotations

import argparse
import json
import re
from collections import Counter, defaultdict
from pathlib import Path

SHEETS = Path(__file__).resolve().parent.parent / "docs" / "triage" / "r3" / "sheets"
ROW = re.compile(r"\| (ML\d+) \| (.*?) \| (\d+) \| .* \| (true|false|noise|debatable) \| (.*?) \|$")
Key = tuple[str, str, int]


def findings(path: Path) -> tuple[Counter[Key], list[dict[str, object]]]:
    found = json.loads(path.read_text())["findings"]
    return Counter(_key(f) for f in found), found


def _key(finding: dict[str, object]) -> Key:
    location = finding.get("location") or {}
    return str(finding["code"]), str(finding["path"]), int(location.get("line", 0))  # type: ignore[union-attr]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("new", type=Path)
    parser.add_argument("--before", type=Path, required=True)
    parser.add_argument("--rules", default="")
    parser.add_argument("--repos", default="")
    args = parser.parse_args()
    rules = set(filter(None, args.rules.split(",")))
    repos = list(filter(None, args.repos.split(","))) or sorted(p.stem for p in SHEETS.glob("*.md"))
    kept: defaultdict[str, Counter[str]] = defaultdict(Counter)
    gone: defaultdict[str, list[str]] = defaultdict(list)
    new: list[str] = []
    for repo in repos:
        if not (args.new / f"{repo}.json").exists():
            continue
        now, now_findings = findings(args.new / f"{repo}.json")
        before, _ = findings(args.before / f"{repo}.json")
        for line in (SHEETS / f"{repo}.md").read_text().splitlines():
            row = ROW.match(line)
            if row is None or (rules and row[1] not in rules):
                continue
            if now[(row[1], row[2], int(row[3]))]:
                kept[row[1]][row[4]] += 1
            else:
                gone[row[1]].append(f"{repo}:{row[2]}:{row[3]} was {row[4]}: {row[5][:90]}")
        for finding in now_findings:
            key = _key(finding)
            if (not rules or key[0] in rules) and not before[key]:
                new.append(f"{repo}:{key[1]}:{key[2]} {key[0]} {str(finding['message'])[:140]}")
    _print(kept, gone, new)


def _print(kept: dict[str, Counter[str]], gone: dict[str, list[str]], new: list[str]) -> None:
    print("| rule | kept rows | true | false | noise | precision of kept | gone rows (true/false/noise) |")
    print("|---|---:|---:|---:|---:|---:|---|")
    for rule in sorted(set(kept) | set(gone)):
        counts = kept.get(rule, Counter())
        judged = counts["true"] + counts["false"] + counts["noise"]
        went = Counter(entry.split(" was ")[1].split(":")[0] for entry in gone.get(rule, []))
        precision = f"{counts['true'] / judged:.2f}" if judged else "n/a"
        print(f"| {rule} | {sum(counts.values())} | {counts['true']} | {counts['false']} | {counts['noise']} "
              f"| {precision} | {went['true']}/{went['false']}/{went['noise']} |")
    for rule in sorted(r for r in gone if gone[r]):
        print(f"\n## {rule}: sampled rows no longer reported")
        print("\n".join(f"- {entry}" for entry in gone[rule]))
    print(f"\n## new findings (not in the before outputs): {len(new)}")
    print("\n".join(f"- {entry}" for entry in new))


if __name__ == "__main__":
    main()
