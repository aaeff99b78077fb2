"""Rerun `mlaudit check` on real repositories and diff the JSON reports against reference ones.

A refactoring must not change what mlaudit reports. This reruns the current checkout's mlaudit on
each repository named (`--no-cache`, so nothing is written into the clones) and compares the full
JSON report with the reference report of the same name, after dropping the fields that name the
installation rather than the findings (the tool version).

    python bench/compare_findings.py --corpus /work/corpus --reference /work/triage/r3/json CLIP nanoGPT

Prints one line per repository (`same` or the number of differing lines and a unified diff) and
exits 1 when any report differs.
"""

from __future__ import annotations

import argparse
import difflib
import json
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

DEFAULT_REPOS = (
    "CLIP", "minGPT", "nanoGPT", "pytorch-examples", "pytorch-lightning", "pytorch-image-models",
    "lightning-hydra-template", "diffusers",
)
# Fields that describe the run or the installation, not the findings.
VOLATILE_KEYS = ("tool", "timings")


def normalised(report: dict[str, Any]) -> str:
    kept = {key: value for key, value in report.items() if key not in VOLATILE_KEYS}
    return json.dumps(kept, indent=1, sort_keys=True)


def run_check(mlaudit: str, repo: Path, select: str | None = None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        command = [mlaudit, "check", str(repo), "--no-cache", "--output-format", "json", "-o", str(out), "--exit-zero"]
        if select:
            command += ["--select", select]
        subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
        result: dict[str, Any] = json.loads(out.read_text())
        return result


def compare(mlaudit: str, corpus: Path, reference: Path, name: str, select: str | None = None) -> bool:
    expected = normalised(json.loads((reference / f"{name}.json").read_text()))
    actual = normalised(run_check(mlaudit, corpus / name, select))
    if expected == actual:
        print(f"{name}: same")
        return True
    diff = list(difflib.unified_diff(expected.splitlines(), actual.splitlines(), "reference", "now", lineterm=""))
    print(f"{name}: {sum(1 for line in diff if line[:1] in '+-') - 2} lines differ")
    print("\n".join(diff[:200]))
    return False


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("repos", nargs="*", default=list(DEFAULT_REPOS), help="repository folder names in the corpus")
    parser.add_argument("--corpus", type=Path, default=Path("/work/corpus"), help="folder of the clones")
    parser.add_argument("--reference", type=Path, default=Path("/work/triage/r3/json"), help="folder of <repo>.json")
    parser.add_argument("--mlaudit", default=str(Path(sys.executable).parent / "mlaudit"), help="the mlaudit to run")
    parser.add_argument("--select", help="passed to `check --select` (e.g. ML002,ML to include every opt-in rule)")
    parser.add_argument("--write", action="store_true", help="write the reference reports instead of comparing")
    args = parser.parse_args()
    if args.write:
        args.reference.mkdir(parents=True, exist_ok=True)
        for name in args.repos:
            report = run_check(args.mlaudit, args.corpus / name, args.select)
            (args.reference / f"{name}.json").write_text(json.dumps(report, indent=1, sort_keys=True))
            print(f"{name}: written")
        return 0
    results = [compare(args.mlaudit, args.corpus, args.reference, name, args.select) for name in args.repos]
    print(f"{sum(results)} of {len(results)} reports identical")
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())
