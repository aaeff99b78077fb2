"""Check that incremental runs find what cold runs find, on a real repository: random edits that
move lines (a comment or blank line inserted, two lines inserted, a blank line removed), each run
with the cache (the shortcut of mlaudit.engine.shift when it applies) and compared with a cold run.

Usage: python bench/edits_check.py REPO [--edits 15] [--seed 0] [--notebooks] [--select CODE ...]

REPO is a scratch copy (its files are edited and restored; the cache lives in a temporary folder).
Most edits go to files that findings point at or cite, where a wrong move would show. With
--notebooks the edits are blank lines inserted into .ipynb files (whitespace between JSON tokens).
Prints how many edits took the shortcut and every difference; exits 1 when any run differed.
"""

from __future__ import annotations

import argparse
import random
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import mlaudit.engine.check as engine
from mlaudit.engine.check import CheckOptions, check_paths
from mlaudit.findings import Finding
from mlaudit.project.model import ProjectModel


def _edit(lines: list[bytes], rng: random.Random, notebook: bool) -> list[bytes] | None:
    at = rng.randrange(0, len(lines) + 1)
    kind = "blank" if notebook else rng.choice(["comment", "blank", "two", "remove"])
    if kind == "remove":
        blanks = [i for i, line in enumerate(lines) if not line.strip()]
        if not blanks:
            return None
        gone = rng.choice(blanks)
        return lines[:gone] + lines[gone + 1 :]
    added = {"comment": [b"# inserted %d\n" % time.time_ns()], "blank": [b"\n"], "two": [b"\n", b"# two\n"]}[kind]
    return lines[:at] + added + lines[at:]


def _cited(findings: list[Finding], files: set[str]) -> list[str]:
    found = set()
    for finding in findings:
        found.add(finding.path)
        found.update(match.group(1) for match in re.finditer(r"([\w./-]+\.(?:py|ipynb)):\d+", finding.message))
        found.update(r.path for r in finding.related)
    return sorted(found & files)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repo", type=Path)
    parser.add_argument("--edits", type=int, default=15)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--notebooks", action="store_true", help="edit notebooks instead of Python files")
    parser.add_argument("--select", nargs="*", help="the rules to run (default: the configured ones)")
    args = parser.parse_args()
    repo, rng = args.repo.resolve(), random.Random(args.seed)
    pattern = "*.ipynb" if args.notebooks else "*.py"
    listed = subprocess.run(["git", "ls-files", pattern], cwd=repo, capture_output=True, text=True, check=True).stdout.split()
    files = [f for f in listed if (repo / f).is_file()]
    with tempfile.TemporaryDirectory(prefix="mlaudit-edits-check-") as scratch:
        options = CheckOptions(jobs=1, cache_dir=Path(scratch), select=args.select)
        cited = _cited(check_paths([repo], options).findings, set(files))
        project_runs: list[int] = []
        original_rules = engine.run_project_rules

        def counting(model: ProjectModel) -> tuple[list[Finding], list[str]]:
            project_runs.append(1)
            return original_rules(model)

        shortcut = differed = 0
        for _ in range(args.edits):
            path = repo / (rng.choice(cited) if cited and rng.random() < 0.6 else rng.choice(files))
            original = path.read_bytes()
            edited = _edit(original.splitlines(keepends=True), rng, args.notebooks)
            if edited is None:
                continue
            path.write_bytes(b"".join(edited))
            try:
                engine.run_project_rules = counting
                before = len(project_runs)
                incremental = check_paths([repo], options).findings
                shortcut += len(project_runs) == before
                engine.run_project_rules = original_rules
                cold = check_paths([repo], CheckOptions(jobs=1, use_cache=False, select=args.select)).findings
            finally:
                engine.run_project_rules = original_rules
                path.write_bytes(original)
            if incremental != cold:
                differed += 1
                print(f"DIFFERS after editing {path.relative_to(repo)}:")
                for finding in set(incremental) - set(cold):
                    print("  incremental:", finding)
                for finding in set(cold) - set(incremental):
                    print("  cold:       ", finding)
            check_paths([repo], options)  # back to the unedited tree
    print(f"{repo.name}: {args.edits} edits, {shortcut} took the shortcut, {differed} differed from a cold run")
    return 1 if differed else 0


if __name__ == "__main__":
    sys.exit(main())
