"""Command line: argument parsing and exit codes. No analysis happens here.

Exit codes: 0 no findings, 1 findings, 2 usage, configuration or internal error.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlaudit import __version__

if TYPE_CHECKING:
    from mlaudit.engine.check import CheckOptions
    from mlaudit.engine.result import RunResult
    from mlaudit.rules.base import Rule

EXIT_CLEAN, EXIT_FINDINGS, EXIT_ERROR = 0, 1, 2

DESCRIPTION = """\
mlaudit audits a machine-learning repository for reproducibility and ML technical debt:
unseeded randomness, nondeterministic cuDNN settings, hardcoded hyperparameters, config keys
nobody reads, dead feature flags, untracked data, missing lockfiles, unsafe checkpoint loading,
notebooks run out of order. It reads code and configs; it never imports or runs them.
"""

EPILOG = """\
examples:
  mlaudit check .                              audit the repository you are in
  mlaudit check train.py conf/model.yaml       model the whole repo, report only on these files
  mlaudit check . --select ML1 --ignore ML105  only randomness rules, without ML105
  mlaudit check . --output-format sarif -o mlaudit.sarif --exit-zero   for GitHub code scanning
  mlaudit baseline && mlaudit check --baseline mlaudit-baseline.json   only findings not there today
  mlaudit check --diff-base origin/main        only findings on lines this branch changed
  mlaudit rule ML101                           why a rule exists and how to fix what it finds
  mlaudit probe                                run the training step twice and compare bitwise

exit codes: 0 no findings, 1 findings, 2 usage/config/internal error
"""

CHECK_EPILOG = """\
configuration: [tool.mlaudit] in pyproject.toml, or mlaudit.toml (same keys, top level):
  select = ["ML"]          ignore = ["ML303"]        extend-select = ["ML103"]
  exclude = ["third_party/"]                         extend-exclude = ["notebooks/scratch/"]
  per-file-ignores = { "tests/*" = ["ML201"] }       [tool.mlaudit.options.ML403] ...
suppress one line with `# noqa: ML103`, a whole file with `# mlaudit: noqa: ML201` (every rule:
`# mlaudit: noqa`), on its own line.
adopting on a repository with findings: `mlaudit baseline` then `check --baseline FILE` (or
`baseline = "FILE"` above), `check --diff-base origin/main`, or `check --add-noqa` (docs/adoption.md).

exit codes: 0 no findings, 1 findings, 2 usage/config/internal error
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="mlaudit", description=DESCRIPTION, epilog=EPILOG, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--version", action=_Version, nargs=0, help="print the version and the rule set, then exit")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_check(sub)
    _add_baseline(sub)
    _add_rule(sub)
    _add_clean(sub)
    _add_probe(sub)
    return parser


class _Version(argparse.Action):
    """`--version`: the package version and the rule-set version (imports the rules, so only on demand)."""

    def __call__(self, parser: argparse.ArgumentParser, *_: object) -> None:
        from mlaudit.rules import ruleset_version

        print(f"mlaudit {__version__} (rule set: {ruleset_version()})")
        parser.exit()


def _add_check(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from mlaudit.report import FORMATS

    check = sub.add_parser(
        "check",
        help="audit a repository (static analysis)",
        description="Audit the repository containing PATH. The whole repository is modelled (imports, "
        "configs, lockfiles, git state); when PATHs are files or folders inside it, only findings "
        "located in them are reported, which is what a pre-commit hook needs.",
        epilog=CHECK_EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    check.add_argument("paths", nargs="*", type=Path, metavar="PATH", help="files or folders (default: .)")
    check.add_argument(
        "--output-format",
        choices=FORMATS,
        default=None,
        help="full (default: source and caret), concise (one line each), json, sarif (GitHub code "
        "scanning), github (Actions annotations). Env: MLAUDIT_OUTPUT_FORMAT.",
    )
    check.add_argument("-o", "--output-file", type=Path, help="write the report here instead of stdout")
    check.add_argument("--select", type=_codes, help="comma-separated codes or prefixes to enable (replaces config)")
    check.add_argument("--extend-select", type=_codes, default=[], help="codes or prefixes to enable in addition")
    check.add_argument("--ignore", type=_codes, default=[], help="codes or prefixes to disable")
    check.add_argument(
        "--fix", action="store_true", help="apply the available safe fixes (e.g. yaml.safe_load), then report what is left"
    )
    check.add_argument(
        "--unsafe-fixes",
        action="store_true",
        help="with --fix or --diff, also apply fixes that may change what working code does "
        "(e.g. an explicit weights_only=False flipped to True)",
    )
    check.add_argument(
        "--diff",
        action="store_true",
        help="print the fixes as a unified diff instead of writing them; exit 1 when there would be changes",
    )
    check.add_argument(
        "--sarif-category",
        metavar="CATEGORY",
        help="SARIF automationDetails.id, which code scanning uses to keep uploads apart "
        "(default: mlaudit/check/); give the same value as the upload action's category:",
    )
    check.add_argument("--exit-zero", action="store_true", help="exit 0 even when there are findings (2 still means an error)")
    check.add_argument("--statistics", action="store_true", help="print a count per rule instead of each finding")
    check.add_argument("--config", type=Path, help="use this TOML file instead of pyproject.toml / mlaudit.toml")
    check.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    check.add_argument(
        "--cache-dir", type=Path, metavar="PATH",
        help="keep the cache in PATH, which may lie outside the project (the cache-dir setting must name a folder inside it)",
    )
    check.add_argument("-q", "--quiet", action="store_true", help="print findings only, no summary")
    check.add_argument("-v", "--verbose", action="store_true", help="print timings and skipped files to stderr")
    _add_adoption_options(check)


def _add_adoption_options(check: argparse.ArgumentParser) -> None:
    """Options for repositories that adopt mlaudit with findings already in them (docs/adoption.md)."""
    group = check.add_argument_group("adopting mlaudit on an existing repository")
    group.add_argument(
        "--baseline", type=Path, metavar="FILE",
        help="report only findings not listed in FILE (written by `mlaudit baseline`); default: the "
        "`baseline` setting",
    )  # fmt: skip
    group.add_argument("--no-baseline", action="store_true", help="ignore the configured baseline: report every finding")
    group.add_argument(
        "--diff-base", metavar="REF",
        help="report only findings on lines the working tree changed since REF (a branch, tag or "
        "commit, e.g. origin/main or HEAD), plus findings in files added since",
    )  # fmt: skip
    group.add_argument(
        "--add-noqa", action="store_true",
        help="write `# noqa: CODE` on each reported line (merged with existing codes), then report what is left",
    )  # fmt: skip
    group.add_argument("--reason", metavar="TEXT", help="with --add-noqa: a comment after the directive saying why")


def _add_baseline(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    baseline = sub.add_parser(
        "baseline",
        help="record the current findings, so `check --baseline` reports only new ones",
        description="Run `mlaudit check` on PATH and write every finding to a baseline file. Then "
        "`mlaudit check --baseline FILE` (or `baseline = \"FILE\"` in [tool.mlaudit]) reports only findings "
        "that are not in it. Entries survive unrelated edits, moved lines and renamed files; see "
        "docs/adoption.md for the format.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    baseline.add_argument("path", nargs="?", type=Path, default=Path("."), metavar="PATH", help="a folder or file (default: .)")
    baseline.add_argument(
        "-o", "--output-file", type=Path, metavar="FILE",
        help="where to write it (default: the `baseline` setting, else mlaudit-baseline.json in the project root)",
    )  # fmt: skip
    baseline.add_argument("--config", type=Path, help="use this TOML file instead of pyproject.toml / mlaudit.toml")
    baseline.add_argument("--no-cache", action="store_true", help="neither read nor write the cache")
    baseline.add_argument("--cache-dir", type=Path, metavar="PATH", help="keep the cache in PATH (as for `check`)")


def _add_rule(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    rule = sub.add_parser("rule", help="explain a rule", description="Print a rule's documentation, or list all rules.")
    rule.add_argument("code", nargs="?", help="a rule code such as ML101")
    rule.add_argument("--all", action="store_true", help="list every rule with its level and summary")
    rule.add_argument("--markdown", action="store_true", help="with --all: a Markdown table linking the docs (the README's)")


def _add_clean(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    clean = sub.add_parser(
        "clean",
        help="remove the cache folder",
        description="Remove the project's cache folder (.mlaudit_cache/, or the cache-dir setting). Only a "
        "folder that mlaudit signed with its CACHEDIR.TAG is removed, and only inside the project unless "
        "you name it with --cache-dir.",
    )
    clean.add_argument("path", nargs="?", type=Path, default=Path("."), help="a folder inside the project")
    clean.add_argument("--cache-dir", type=Path, metavar="PATH", help="remove this cache folder instead (as passed to check)")


def _add_probe(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    from mlaudit.probe import command as probe_command  # argparse only: torch is imported by the worker

    probe_command.add_parser(sub)


def _codes(text: str) -> list[str]:
    return [c.strip().upper() for c in text.split(",") if c.strip()]


def entry() -> None:
    """The `mlaudit` command, a short-lived process. The cyclic garbage collector stays off for its
    whole life (see engine.paused_gc for why), and it exits without the interpreter's teardown,
    which would free every cached fact one by one (0.1 s on a large repo; mypy exits the same
    way). Everything it writes is closed by then; only the standard streams need flushing."""
    gc.disable()
    code = main()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe (`| head`): nothing left to say
            pass
    os._exit(code)


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        if args.command == "check":
            return run_check(args)
        if args.command == "baseline":
            return run_baseline(args)
        if args.command == "rule":
            return run_rule(args)
        if args.command == "clean":
            return run_clean(args)
        if args.command == "probe":
            from mlaudit.probe import command as probe_command

            return probe_command.run(args)
    except KeyboardInterrupt:
        print("mlaudit: interrupted", file=sys.stderr)
        return EXIT_ERROR
    except Exception as exc:  # noqa: BLE001 - a bug is exit 2 and one line: exit 1 means findings
        print(f"mlaudit: internal error: {type(exc).__name__}: {exc}; please report it "
              "(MLAUDIT_DEBUG=1 prints the traceback)", file=sys.stderr)
        if os.environ.get("MLAUDIT_DEBUG"):
            import traceback  # on this path only: every run would pay for the import

            traceback.print_exc()
        return EXIT_ERROR
    parser.print_help()
    return EXIT_ERROR


def run_check(args: argparse.Namespace) -> int:
    from mlaudit.engine.check import CheckOptions, check_paths
    from mlaudit.engine.settings import ConfigError, check_codes

    started = time.perf_counter()
    fmt, problem = _output_format(args)
    problem = problem or _output_file_problem(args.output_file) or _missing_path(args.paths)
    if problem:
        print(f"mlaudit: error: {problem}", file=sys.stderr)
        return EXIT_ERROR
    paths = args.paths or [Path(".")]
    try:
        options = CheckOptions(
            config_file=args.config,
            select=check_codes(args.select, "--select") if args.select is not None else None,
            extend_select=check_codes(args.extend_select, "--extend-select"),
            ignore=check_codes(args.ignore, "--ignore"),
            use_cache=not args.no_cache,
            cache_dir=args.cache_dir,
            **_adoption_options(args),
        )
        run = check_paths(paths, options)
        if args.diff:
            return _show_diff(args, run)
        if args.fix:
            run = _fix(args, run, lambda: check_paths(paths, options))
        run = _add_noqa_then_recheck(args, run, options)
    except ConfigError as exc:
        print(f"mlaudit: configuration error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except _adoption_errors() as exc:
        print(f"mlaudit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    run.sarif_category = args.sarif_category
    try:
        _report(args, fmt, run)
    except OSError as exc:
        print(f"mlaudit: error: cannot write {exc.filename or 'the report'}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    if args.verbose:
        stages = ", ".join(f"{name} {seconds:.3f} s" for name, seconds in run.timings.items())
        print(
            f"mlaudit: checked {run.files_checked} files in {time.perf_counter() - started:.2f} s ({stages}; "
            f"{run.cache_hits} cached, {run.workers} worker{'s' if run.workers > 1 else ''})",
            file=sys.stderr,
        )
    if run.exit_code == EXIT_ERROR:
        return EXIT_ERROR
    return EXIT_CLEAN if args.exit_zero else run.exit_code


def _output_format(args: argparse.Namespace) -> tuple[str, str | None]:
    """The format to write, and a one-line problem when MLAUDIT_OUTPUT_FORMAT names none."""
    from mlaudit.report import FORMATS

    if args.output_format:
        return args.output_format, None
    env = os.environ.get("MLAUDIT_OUTPUT_FORMAT")
    if env:
        if env not in FORMATS:
            return "", f"MLAUDIT_OUTPUT_FORMAT={env!r} is not an output format; choose one of {', '.join(FORMATS)}"
        return env, None
    return ("concise" if os.environ.get("PRE_COMMIT") else "full"), None


def _output_file_problem(output_file: Path | None) -> str | None:
    """Refuse an output file that cannot be written before spending a run on it."""
    if output_file is None:
        return None
    folder = output_file.parent
    if not folder.is_dir():
        return f"cannot write {output_file}: the folder {folder} does not exist; create it first"
    if output_file.is_dir():
        return f"cannot write {output_file}: it is a folder"
    return None


def _missing_path(paths: Sequence[Path]) -> str | None:
    missing = [str(p) for p in paths if not os.path.lexists(p)]
    return f"no such file or folder: {missing[0]}" if missing else None


def _show_diff(args: argparse.Namespace, run: RunResult) -> int:
    """`--diff`: the fixes as a unified diff on stdout, nothing written (ruff's convention: exit 1
    when there would be changes)."""
    from mlaudit.fix.apply import plan_fixes, unified_diff

    plan = plan_fixes(run.root, run.findings, unsafe=args.unsafe_fixes)
    sys.stdout.write(unified_diff(plan))
    sys.stdout.flush()
    count = plan.applied
    note = f"would apply {count} fix{'es' if count != 1 else ''}" if count else "no fixes to apply"
    print(f"mlaudit: {note}{_unsafe_note(plan.unsafe_skipped)}", file=sys.stderr)
    if run.exit_code == EXIT_ERROR:
        return EXIT_ERROR
    return EXIT_FINDINGS if count and not args.exit_zero else EXIT_CLEAN


def _fix(args: argparse.Namespace, run: RunResult, rerun: Callable[[], RunResult]) -> RunResult:
    """`--fix`: write the fixes, then check again so the report shows what is left."""
    from mlaudit.fix.apply import apply_fixes

    plan = apply_fixes(run.root, run.findings, unsafe=args.unsafe_fixes)
    if plan.applied:
        print(f"mlaudit: applied {plan.applied} fix{'es' if plan.applied != 1 else ''}", file=sys.stderr)
    if plan.unsafe_skipped:
        print(f"mlaudit: {_unsafe_note(plan.unsafe_skipped).lstrip('; ')}", file=sys.stderr)
    return rerun() if plan.applied else run


def _unsafe_note(skipped: int) -> str:
    if not skipped:
        return ""
    return f"; {skipped} unsafe fix{'es' if skipped != 1 else ''} left out (they may change what working code does; --unsafe-fixes applies them)"


def _report(args: argparse.Namespace, fmt: str, run: RunResult) -> None:
    from mlaudit.report import render
    from mlaudit.report.summary import statistics_lines

    if args.statistics:
        text = "\n".join(statistics_lines(run)) + ("\n" if run.findings else "")
    else:
        to_terminal = args.output_file is None and sys.stdout.isatty() and not os.environ.get("NO_COLOR")
        text = render(fmt, run, color=to_terminal)
        if args.quiet and fmt in ("full", "concise"):
            text = "".join(line for line in text.splitlines(keepends=True) if ": ML" in line or line.startswith(" "))
    _write(text, args.output_file)
    for line in run.unchecked_targets:
        print(f"mlaudit: {line}", file=sys.stderr)
    for warning in run.warnings:
        print(f"mlaudit: warning: {warning}", file=sys.stderr)
    for note in run.notifications:
        print(f"mlaudit: {note}", file=sys.stderr)
    if fmt == "github" and os.environ.get("GITHUB_STEP_SUMMARY"):
        _write_step_summary(Path(os.environ["GITHUB_STEP_SUMMARY"]), run)


def _write_step_summary(path: Path, run: RunResult) -> None:
    """Append the run's Markdown summary to the GitHub Actions job summary; a summary that cannot
    be written is a warning, not a failed check."""
    from mlaudit.report.github_format import step_summary

    try:
        with path.open("a", encoding="utf-8") as handle:
            handle.write(step_summary(run))
    except OSError as exc:
        print(f"mlaudit: warning: cannot write the job summary {path}: {exc.strerror or exc}", file=sys.stderr)


def _adoption_options(args: argparse.Namespace) -> dict[str, Any]:
    if args.reason is not None and not args.add_noqa:
        raise _usage("--reason only goes with --add-noqa")
    if args.baseline is not None and args.no_baseline:
        raise _usage("--baseline and --no-baseline contradict each other; pass one")
    return {"baseline": args.baseline, "use_baseline": not args.no_baseline, "diff_base": args.diff_base}


def _adoption_errors() -> tuple[type[Exception], ...]:
    from mlaudit.engine.adopt import AdoptError

    return (*AdoptError, UsageError)


class UsageError(Exception):
    """A wrong combination of options: exit 2 with the message."""


def _usage(message: str) -> UsageError:
    return UsageError(message)


def _add_noqa_then_recheck(args: argparse.Namespace, run: RunResult, options: CheckOptions) -> RunResult:
    """--add-noqa: write the directives, say what was done and what could not be, check again."""
    if not args.add_noqa or not run.findings:
        return run
    from mlaudit.engine.check import check_paths
    from mlaudit.fix.noqa import add_noqa

    result = add_noqa(run.root, run.findings, args.reason)
    for message in result.messages():
        print(f"mlaudit: {message}", file=sys.stderr)
    return check_paths(args.paths or [Path(".")], options) if result.added else run


def run_baseline(args: argparse.Namespace) -> int:
    from mlaudit.engine.adopt import baseline_path, write_from_run
    from mlaudit.engine.baseline import DEFAULT_NAME
    from mlaudit.engine.check import CheckOptions, check_paths
    from mlaudit.engine.discover import find_root
    from mlaudit.engine.settings import ConfigError, load_settings
    from mlaudit.project.git import read_git_state

    if not args.path.exists():
        print(f"mlaudit: error: no such file or folder: {args.path}", file=sys.stderr)
        return EXIT_ERROR
    try:
        run = check_paths([args.path], CheckOptions(config_file=args.config, use_cache=not args.no_cache, cache_dir=args.cache_dir, use_baseline=False))
        root = find_root(args.path.resolve())
        target = args.output_file or baseline_path(root, load_settings(root, args.config), None) or root / DEFAULT_NAME
        entries = write_from_run(run.root, read_git_state(run.root), run.findings, target)
    except ConfigError as exc:
        print(f"mlaudit: configuration error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except _adoption_errors() as exc:
        print(f"mlaudit: error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    except OSError as exc:
        print(f"mlaudit: error: cannot write the baseline: {exc}", file=sys.stderr)
        return EXIT_ERROR
    for note in run.notifications:
        print(f"mlaudit: {note}", file=sys.stderr)
    noun = "finding" if len(run.findings) == 1 else "findings"
    shown = _shown(target)
    print(f"mlaudit: wrote {len(run.findings)} {noun} ({entries} entries) to {shown}", file=sys.stderr)
    if load_settings(root, args.config).baseline is None:
        inside = _shown(target, root)
        setting = f", or set `baseline = \"{inside}\"` in [tool.mlaudit]" if not Path(inside).is_absolute() else ""
        print(f"mlaudit: use it with `mlaudit check --baseline {shown}`{setting}", file=sys.stderr)
    return EXIT_ERROR if run.exit_code == EXIT_ERROR else EXIT_CLEAN


def _shown(path: Path, base: Path | None = None) -> str:
    """`path` relative to `base` (default: the working directory) when it is inside it."""
    try:
        return path.resolve().relative_to((base or Path.cwd()).resolve()).as_posix()
    except (ValueError, OSError):
        return str(path)


def _write(text: str, output_file: Path | None) -> None:
    if output_file is None:
        sys.stdout.write(text)
        sys.stdout.flush()
    else:
        output_file.write_text(text, encoding="utf-8")


def run_rule(args: argparse.Namespace) -> int:
    from mlaudit.rules import rule_by_code
    from mlaudit.rules.docs import load_doc

    if args.all or not args.code:
        print(rule_table(markdown=args.markdown))
        return EXIT_CLEAN
    code = args.code.upper()
    doc = load_doc(code)
    if rule_by_code(code) is None or doc is None:
        print(f"mlaudit: unknown rule {args.code!r}; `mlaudit rule --all` lists them", file=sys.stderr)
        return EXIT_ERROR
    print(doc.markdown.rstrip())
    return EXIT_CLEAN


def run_clean(args: argparse.Namespace) -> int:
    """Remove the cache folder, and nothing else: see cache.removable."""
    import shutil

    from mlaudit.engine.cache import CacheSettingError, cache_location, removable
    from mlaudit.engine.discover import find_root
    from mlaudit.engine.settings import ConfigError, load_settings

    root = find_root(args.path.resolve())
    try:
        folder = cache_location(root, load_settings(root).cache_dir, args.cache_dir)
    except (ConfigError, CacheSettingError) as exc:
        print(f"mlaudit: configuration error: {exc}", file=sys.stderr)
        return EXIT_ERROR
    problem = removable(root, folder, explicit=args.cache_dir is not None)
    if problem == "it does not exist":
        print(f"nothing to remove: {folder} does not exist")
        return EXIT_CLEAN
    if problem is not None:
        print(f"mlaudit: not removing {folder}: {problem}", file=sys.stderr)
        return EXIT_ERROR
    try:
        shutil.rmtree(folder)  # never follows a symlink inside the folder
    except OSError as exc:
        print(f"mlaudit: could not remove all of {folder}: {exc.strerror or exc}", file=sys.stderr)
        return EXIT_ERROR
    print(f"removed {folder}")
    return EXIT_CLEAN


def _default_label(rule: type[Rule]) -> str:
    """`on` for rules in the default selection, `opt-in` for those that need their code selected."""
    return "opt-in" if rule.opt_in else "on"


def rule_table(markdown: bool = False) -> str:
    from mlaudit.rules import all_rules
    from mlaudit.rules.docs import DOCS_URL

    if not markdown:
        return "\n".join(
            f"{r.code}  {r.name:<36} {r.level.value:<8} {_default_label(r):<8} {r.summary}" for r in all_rules()
        )
    rows = ["| code | name | level | default | what it finds |", "|---|---|---|---|---|"]
    for r in all_rules():
        # Absolute links: the README is also the package page on PyPI, where relative links break.
        rows.append(f"| [{r.code}]({DOCS_URL.format(code=r.code)}) | {r.name} | {r.level.value} | {_default_label(r)} | {r.summary} |")
    return "\n".join(rows)
