"""Run `mlaudit check` over a folder of real repositories and write a per-repo, per-rule count table.

Usage: python bench/corpus_counts.py --corpus DIR --out OUT [--before BEFORE] [--select CODES]

Every folder of DIR that is a git clone is checked with `--no-cache` (nothing is written into the
clones) and its JSON report is kept as OUT/<repo>.json, ready for `triage.py sample`. OUT/counts.md
gets the table; with --before (a folder of earlier reports with the same names) each cell reads
before→after. The clones are not part of this repository (docs/validation.md names them and their
commits).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from collections import Counter
from pathlib import Path

MLAUDIT = Path(sys.executable).parent / "mlaudit"


def check(repo: Path, out: Path, select: str | None) -> Counter[str]:
    report = out / f"{repo.name}.json"
    command = [str(MLAUDIT), "check", str(repo), "--no-cache", "--exit-zero", "--output-format", "json", "-o", str(report)]
    if select:
        command += ["--select", select]
    subprocess.run(command, check=False, capture_output=True)
    return counts(report)


def counts(report: Path) -> Counter[str]:
    if not report.is_file():
        return Counter()
    return Counter(f["code"] for f in json.loads(report.read_text(encoding="utf-8")).get("findings", []))


def cell(before: Counter[str] | None, after: Counter[str], code: str) -> str:
    if before is None:
        return str(after[code] or "")
    if before[code] == after[code]:
        return str(after[code] or "")
    return f"**{before[code]}→{after[code]}**"


def table(after: dict[str, Counter[str]], before: dict[str, Counter[str]] | None) -> str:
    codes = sorted({c for found in [*after.values(), *(before or {}).values()] for c in found})
    lines = ["| repo | " + " | ".join(codes) + " | total |", "|---|" + "---:|" * (len(codes) + 1)]
    total_before: Counter[str] = Counter()
    total_after: Counter[str] = Counter()
    for repo, found in after.items():
        old = before.get(repo, Counter()) if before is not None else None
        total_after.update(found)
        total_before.update(old or Counter())
        whole = f"{sum(old.values())}→{sum(found.values())}" if old is not None else str(sum(found.values()))
        lines.append(f"| {repo} | " + " | ".join(cell(old, found, c) for c in codes) + f" | {whole} |")
    old_total = total_before if before is not None else None
    lines.append("| **total** | " + " | ".join(cell(old_total, total_after, c) or "0" for c in codes) + " | |")
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="folder of git clones")
    parser.add_argument("--out", type=Path, required=True, help="folder for the JSON reports and counts.md")
    parser.add_argument("--before", type=Path, help="folder of earlier JSON reports, named <repo>.json")
    parser.add_argument("--select", help="comma-separated codes (default: the default selection)")
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    repos = sorted(p for p in args.corpus.iterdir() if (p / ".git").exists())
    after = {repo.name: check(repo, args.out, args.select) for repo in repos}
    before = {repo.name: counts(args.before / f"{repo.name}.json") for repo in repos} if args.before else None
    (args.out / "counts.md").write_text(table(after, before), encoding="utf-8")
    print(args.out / "counts.md")
    return 0


if __name__ == "__main__":
    sys.exit(main())
