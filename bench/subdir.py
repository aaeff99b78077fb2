"""What `mlaudit check SUBDIR` models, measured: which root it audits, how many files it analyses and
reports on, what it costs next to `check .`, and whether its findings are those `check .` reports in
that folder. Then the same folder copied out of the repository (no git, no project marker), where
it is a project of its own.

Usage: python bench/subdir.py REPO SUBDIR [SUBDIR ...] [--runs 5]

REPO is a git clone; nothing is written into it (every run uses --cache-dir in a temporary folder).
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

MLAUDIT = str(Path(sys.executable).parent / "mlaudit")


def check(cwd: Path, target: str, cache: Path | None) -> tuple[float, list[dict[str, Any]], str]:
    """CPU seconds (user+sys of the process and its workers: on a shared machine, wall time says
    more about the neighbours), findings (JSON) and the -v summary line of one run."""
    with tempfile.NamedTemporaryFile(suffix=".json") as out:
        caching = ["--cache-dir", str(cache)] if cache is not None else ["--no-cache"]
        command = [MLAUDIT, "check", target, "--output-format", "json", "-o", out.name, "--exit-zero", "-v", *caching]
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        done = subprocess.run(command, cwd=cwd, capture_output=True, text=True)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        elapsed = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
        report = json.loads(Path(out.name).read_text() or "{}")
    line = next((text for text in done.stderr.splitlines() if text.startswith("mlaudit: checked")), done.stderr.strip()[-200:])
    return elapsed, report.get("findings", []), line


def located(findings: list[dict[str, Any]], prefix: str = "") -> list[tuple[str, int, str, str]]:
    """(path, line, code, message) of the findings under the folder `prefix` ("" for all)."""
    rows = [(f["path"], f["location"]["line"], f["code"], f["message"]) for f in findings]
    return sorted(r for r in rows if not prefix or r[0] == prefix or r[0].startswith(prefix + "/"))


def median(values: list[float]) -> str:
    return f"{statistics.median(values):.2f} ({min(values):.2f}-{max(values):.2f})"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("subdirs", nargs="+")
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    repo = args.repo.resolve()
    rows = []
    with tempfile.TemporaryDirectory(prefix="mlaudit-subdir-") as scratch:
        cache = Path(scratch) / "cache"
        _, whole, whole_line = check(repo, ".", None)
        for number, subdir in enumerate(args.subdirs):
            prefix = Path(subdir).as_posix().strip("/")
            cold, found, line = check(repo, subdir, None)
            check(repo, subdir, cache)  # fill the cache
            warm = [check(repo, subdir, cache)[0] for _ in range(args.runs)]
            colds = [cold] + [check(repo, subdir, None)[0] for _ in range(args.runs - 1)]
            same = located(found) == located(whole, prefix)
            copy = Path(scratch) / f"copy-{number}" / Path(subdir).name
            shutil.copytree(repo / subdir, copy, ignore=shutil.ignore_patterns(".git", ".mlaudit_cache"))
            _, alone, _ = check(copy, ".", None)
            shown = {(p[len(prefix) + 1 :], n, c) for p, n, c, _ in located(found)}
            apart = {(p, n, c) for p, n, c, _ in located(alone)}
            rows.append(
                f"| {subdir} | {line.split(' in ')[0].replace('mlaudit: checked ', '')} | {median(colds)} | "
                f"{median(warm)} | {len(found)} | {'yes' if same else 'NO'} | {len(apart - shown)} new, "
                f"{len(shown - apart)} gone |"
            )
    print(f"`python bench/subdir.py` on {repo.name}: `check .` {whole_line.replace('mlaudit: ', '')}\n")
    print("| SUBDIR | files reported on | cold CPU s | warm CPU s | findings | = `check .` there | copied out of the repo (no git) |")
    print("|---|---:|---:|---:|---:|---|---|")
    print("\n".join(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
