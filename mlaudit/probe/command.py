"""The `mlaudit probe` subcommand: argument parsing, report writing, exit codes.

The lead's cli.py calls `add_parser(subparsers)` and dispatches to `run(args)`;
`python -m mlaudit.probe.command ...` runs it alone through `main(argv)`.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from mlaudit.findings import Finding
from mlaudit.report import FORMATS, RunResult, render
from mlaudit.rules.probe import PROBE_RULES

if TYPE_CHECKING:  # the session (subprocess plumbing) loads only when a probe runs, not for `check`
    from mlaudit.probe.session import ProbeOptions, ProbeReport

DESCRIPTION = """\
Prove that one training step is bitwise reproducible, and that its seed matters.

The target is a function `step(seed: int)` named in pyproject.toml:

    [tool.mlaudit.probe]
    target = "mypkg.train:step"

It runs one training step and returns what the step produced: an nn.Module, an optimizer,
a tensor, or a dict/list/tuple of those. If it accepts a `device` argument it gets the device;
otherwise new tensors default to that device. Imports resolve from the repo root and from src/.

Without a target, one is found (statically, nothing is imported), in this order: a pytest
test that looks like it trains, then a test or function that runs a Lightning
Trainer(fast_dev_run=N) (or limit_train_batches), then one that runs a Hugging Face Trainer
with max_steps=N. A test, or a function with no `seed` parameter, runs as is and what its
optimizers stepped is compared. --target can name one: tests/test_train.py::test_one_step.
With --steps / --resume-at such a run is driven through the Trainer and its own checkpoint.

Each run is a fresh Python process (PYTHONHASHSEED not pinned, so hash-order bugs show) that
fingerprints every returned tensor (path, dtype, shape, device, sha256 of its bytes).
  ML901  runs with the same seed differ: the message names the first differing tensor
  ML902  a run with another seed (seed + 1) is identical: the seed never reaches the step

Exit status: 0 reproducible and seed-sensitive, 1 ML901 or ML902, 2 the target could not run
(import error, exception, timeout, crash, torch missing); the report shows its traceback,
or for a crash or hang its last output."""

EPILOG = """\
examples:
  mlaudit probe                         probe the target of ./pyproject.toml
  mlaudit probe path/to/repo --runs 3   three same-seed runs instead of two
  mlaudit probe --target mypkg.train:step --device cpu --timeout 60
  mlaudit probe --explain               on ML901, find the module, op or hash order to blame
  mlaudit probe --steps 3               pass steps=3; ML901 names the first optimizer step that diverges
  mlaudit probe --python .venv/bin/python   run the step in the project's own interpreter
  mlaudit probe --output-format sarif --output-file probe.sarif"""


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "probe",
        help="run one training step several times and check it is bitwise reproducible (ML901, ML902)",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return parser


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "path",
        nargs="?",
        default=".",
        metavar="PATH",
        help="repository root holding pyproject.toml (default: the current directory)",
    )
    parser.add_argument(
        "--target",
        metavar="TARGET",
        help="the step function `pkg.module:function`, or a pytest test `tests/test_train.py::test_one_step`, "
        "overriding [tool.mlaudit.probe] target (default: that, else a pytest test that steps an optimizer, else a "
        "Lightning Trainer(fast_dev_run=N) or Hugging Face Trainer max_steps=N run)",
    )
    parser.add_argument(
        "--runs",
        type=positive_int,
        default=2,
        metavar="N",
        help="number of same-seed runs to compare (default: 2); one more run uses seed + 1",
    )
    parser.add_argument("--seed", type=int, default=0, help="the seed passed to the step (default: 0)")
    parser.add_argument(
        "--device",
        choices=("auto", "cpu", "cuda"),
        default="auto",
        help="where the step runs; auto picks CUDA when torch sees a GPU (default: auto)",
    )
    parser.add_argument(
        "--timeout",
        type=positive_float,
        default=300.0,
        metavar="SECONDS",
        help="kill a run (with all its child processes) after this long, counted from the start of "
        "its Python process, importing torch included (default: 300)",
    )
    parser.add_argument(
        "--explain",
        action="store_true",
        help="on ML901, rerun with module hooks, deterministic mode and a fixed "
        "PYTHONHASHSEED to name the cause, and list related static findings",
    )
    parser.add_argument(
        "--deterministic",
        action="store_true",
        help="run every step under torch.use_deterministic_algorithms(True), to check that it fixes ML901",
    )
    parser.add_argument(
        "--jobs",
        type=positive_int,
        default=None,
        metavar="N",
        help="how many runs go at once (default: 4); use 1 when one step fills the GPU",
    )
    parser.add_argument(
        "--steps",
        type=positive_int,
        default=None,
        metavar="N",
        help="pass steps=N to a target that takes a `steps` parameter; after every optimizer.step() the "
        "stepped parameters and optimizer state are fingerprinted, and ML901 names the first step that diverges",
    )
    parser.add_argument(
        "--resume-at",
        type=positive_int,
        default=None,
        metavar="K",
        help="with --steps N (N > K) and a target taking `save_to` and `resume_from` (or training through a "
        "Lightning / Hugging Face Trainer, whose own checkpoint is used): also run K steps and save, resume in a "
        "fresh process up to step N, and compare with the uninterrupted run",
    )
    parser.add_argument(
        "--python",
        metavar="PATH",
        help="run the step in this interpreter, e.g. the project's .venv/bin/python, which needs torch but "
        "not mlaudit (default: the one running mlaudit)",
    )
    parser.add_argument(
        "--threads",
        type=non_negative_int,
        default=1,
        metavar="N",
        help="torch (and OpenMP/MKL) threads per run (default: 1). CPU results are bitwise reproducible "
        "only for the same thread count; 0 keeps torch's default, which depends on the machine",
    )
    parser.add_argument(
        "--output-format",
        choices=FORMATS,
        default=None,
        help="full (default), concise, json, sarif or github, as for `mlaudit check`. Env: MLAUDIT_OUTPUT_FORMAT.",
    )
    parser.add_argument("-o", "--output-file", metavar="FILE", help="write the report here instead of stdout")


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def non_negative_int(text: str) -> int:
    value = int(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {value}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, got {value:g}")
    return value


def options_from(args: argparse.Namespace) -> ProbeOptions:
    from mlaudit.probe.session import ProbeOptions

    options = ProbeOptions(
        target=args.target,
        runs=args.runs,
        seed=args.seed,
        device=args.device,
        timeout=args.timeout,
        explain=args.explain,
        deterministic=getattr(args, "deterministic", False),
        threads=getattr(args, "threads", 1),
        python=getattr(args, "python", None),
        steps=getattr(args, "steps", None) or 0,
        resume_at=getattr(args, "resume_at", None) or 0,
    )
    if getattr(args, "jobs", None):
        options.jobs = args.jobs
    return options


def run(args: argparse.Namespace) -> int:
    from mlaudit.probe.reaper import ProbeInterrupted
    from mlaudit.probe.session import run_probe

    root = Path(args.path)
    if not root.is_dir():
        problem = "not a folder" if root.exists() else "no such folder"
        sys.stderr.write(f"mlaudit probe: error: {problem}: {args.path} (PATH is the repository root)\n")
        return 2
    resume_at, steps = getattr(args, "resume_at", None), getattr(args, "steps", None)
    if resume_at and not (steps and steps > resume_at):
        sys.stderr.write(f"mlaudit probe: error: --resume-at {resume_at} needs --steps N with N > {resume_at}\n")
        return 2
    python = getattr(args, "python", None)
    if python and not (os.path.isfile(python) and os.access(python, os.X_OK)):
        sys.stderr.write(f"mlaudit probe: error: --python {python}: not an executable file\n")
        return 2
    if args.output_file and not Path(args.output_file).parent.is_dir():
        sys.stderr.write(f"mlaudit probe: error: cannot write {args.output_file}: its folder does not exist\n")
        return 2
    try:
        report = run_probe(root, options_from(args))
    except KeyboardInterrupt as exc:
        cause = exc.name if isinstance(exc, ProbeInterrupted) else "Ctrl-C"
        sys.stderr.write(f"mlaudit probe: interrupted by {cause}; every run was stopped and its files removed\n")
        return 2
    result = to_run_result(report)
    fmt = args.output_format or os.environ.get("MLAUDIT_OUTPUT_FORMAT") or "full"
    color = not args.output_file and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
    text = render_report(fmt, result, color=color)
    if args.output_file:
        try:
            Path(args.output_file).write_text(text, encoding="utf-8")
        except OSError as exc:
            sys.stderr.write(f"mlaudit probe: error: cannot write {args.output_file}: {exc.strerror or exc}\n")
            return 2
    else:
        sys.stdout.write(text)
    if report.target is not None and report.target.source == "discovered":
        sys.stderr.write(chosen_target(report.target.spec, report.target.reason))
    # full and concise output on the terminal already show the error and its traceback.
    shown = fmt in ("full", "concise") and not args.output_file
    sys.stderr.write(summary(report, error_shown=shown))
    return report.exit_code


def to_run_result(report: ProbeReport) -> RunResult:
    findings = []
    rule = next((r for r in PROBE_RULES if r.code == report.verdict), None)
    if rule is not None:
        message = "\n".join([report.message, *report.explanation])
        findings.append(Finding(rule.code, message, report.location.path, report.location.line, level=rule.level))
    from mlaudit.probe.session import report_properties

    # Reporters show notifications as errors: only a run that could not finish has any.
    notifications = error_details(report) if report.verdict == "error" else []
    files = report.outcomes[0].result.get("repo_files", []) if report.outcomes else []
    return RunResult(
        root=report.root,
        findings=findings,
        rules=sorted(PROBE_RULES, key=lambda r: r.code),
        exit_code=report.exit_code,
        execution_successful=report.verdict != "error",
        notifications=notifications,
        files_checked=len(files),
        properties=report_properties(report),
        notes=[f"pass: {report.message}"] if report.verdict == "pass" else [],
    )


def chosen_target(spec: str, reason: str = "a pytest test that looks like it trains") -> str:
    return (
        f"mlaudit probe: no target was set, so it probes `{spec}`, {reason}; "
        f'pin it (or another) with [tool.mlaudit.probe] target = "{spec}" in pyproject.toml, or --target\n'
    )


def render_report(fmt: str, result: RunResult, color: bool = False) -> str:
    return render(fmt, result, color=color)


def error_details(report: ProbeReport) -> list[str]:
    """The error, then the target's traceback or, for a crash or hang, its last output."""
    details = [report.message]
    if report.error.get("traceback"):
        details.append(report.error["traceback"].rstrip("\n"))
    elif report.error.get("output", "").strip():
        tail = report.error["output"].rstrip("\n").splitlines()[-40:]
        details.append("last output of the step:\n" + "\n".join(f"  {line}" for line in tail))
    return details


def summary(report: ProbeReport, error_shown: bool = False) -> str:
    """What a person reads on stderr, whatever --output-format says.

    `error_shown`: the report on the terminal already shows the error details.
    """
    if report.verdict == "pass":
        return f"mlaudit probe: pass: {report.message}\n"
    if report.verdict != "error":
        return f"mlaudit probe: {report.verdict} at {report.location.path}:{report.location.line}\n"
    if error_shown:
        return ""
    message, *rest = error_details(report)
    return "".join([f"mlaudit probe: error: {message}\n", *(f"{part}\n" for part in rest)])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="mlaudit probe",
        description=DESCRIPTION,
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
