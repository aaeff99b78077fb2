"""One probe from start to verdict: read the target, run the workers, compare, explain.

Verdicts: same-seed runs identical and the other-seed run different -> pass (exit 0); same-seed
runs differ -> ML901 (exit 1); other-seed run identical -> ML902 (exit 1); the target cannot run
(import error, exception, timeout, crash, no torch) -> error (exit 2).
"""

from __future__ import annotations

import importlib.util
import sys
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from mlaudit.probe import explain as explain_mod
from mlaudit.probe import reaper
from mlaudit.probe.compare import TensorDiff, first_difference, measure
from mlaudit.probe.runner import Runner, RunOutcome, RunSpec
from mlaudit.probe.target import Location, Target, TargetError, locate, read_target

TORCH_EXTRA_HINT = "install it with `pip install 'mlaudit[probe]'` (or `pip install torch`) in this environment"


@dataclass
class ProbeOptions:
    target: str | None = None  # overrides [tool.mlaudit.probe] target
    runs: int = 2  # same-seed runs; one more run uses seed + 1
    seed: int = 0
    device: str = "auto"
    timeout: float = 300.0  # per run, in seconds
    explain: bool = False
    deterministic: bool = False  # every run under torch.use_deterministic_algorithms(True)
    jobs: int = 4  # runs at a time
    steps: int = 0  # passed as steps=N to the target (--steps); 0: the target's own count
    resume_at: int = 0  # --resume-at K: also run K steps, checkpoint, resume in a fresh process, compare
    python: str | None = None  # the workers' interpreter (--python); None: this one
    threads: int = 1  # torch threads per run; 0 leaves torch's default (bitwise results depend on it)


@dataclass
class ProbeReport:
    root: Path
    verdict: str  # "pass", "ML901", "ML902" or "error"
    message: str  # the finding's message, the error, or what passed
    location: Location
    target: Target | None = None
    diff: TensorDiff | None = None
    error: dict[str, str] = field(default_factory=dict)  # kind, message, traceback, output
    outcomes: list[RunOutcome] = field(default_factory=list)
    explanation: list[str] = field(default_factory=list)
    related: list[Any] = field(default_factory=list)  # static Findings from `mlaudit check`
    options: ProbeOptions | None = None
    first_step: tuple[int, str] | None = None  # (optimizer step, tensor) where same-seed runs first differ
    compared: tuple[int, int] = (1, 2)  # the two runs the ML901 finding is about

    @property
    def exit_code(self) -> int:
        return {"pass": 0, "ML901": 1, "ML902": 1}.get(self.verdict, 2)


def run_probe(root: Path, options: ProbeOptions) -> ProbeReport:
    root = root.resolve()
    try:
        target = read_target(root, options.target)
    except TargetError as exc:
        report = ProbeReport(root, "error", str(exc), Location("pyproject.toml", 1), error={"kind": "target"})
        report.options = options
        return report
    location = locate(root, target)
    if options.python is None and importlib.util.find_spec("torch") is None:
        message = f"torch is not installed for {sys.executable}; {TORCH_EXTRA_HINT}"
        return ProbeReport(root, "error", message, location, target, error={"kind": "no_torch"}, options=options)
    runner = Runner(jobs=options.jobs, python=options.python or sys.executable)
    try:
        with reaper.signals_interrupt():
            return probe_with(runner, root, target, location, options)
    finally:
        runner.close()  # kills what is left and removes the temp folder, on every path


def probe_with(runner: Runner, root: Path, target: Target, location: Location, options: ProbeOptions) -> ProbeReport:
    base = RunSpec(
        root=root,
        target=target.spec,
        seed=options.seed,
        device=options.device,
        timeout=options.timeout,
        deterministic=options.deterministic,
        threads=options.threads,
        steps=options.steps,
    )
    specs = [replace(base, save=True, label=f"run {i + 1}") for i in range(max(1, options.runs))]
    if not target.seeds_itself:  # a pytest test (or a function with no `seed`) seeds itself: no seed to change
        specs.append(replace(base, seed=options.seed + 1, label=f"seed {options.seed + 1}"))
    outcomes = runner.run_all(specs, stop_on_failure=True)
    failed = next((o for o in outcomes if not o.ok and o.error.get("kind") != "cancelled"), None)
    if failed is not None:
        return failure_report(root, target, location, failed, outcomes)
    report = verdict(runner, root, target, location, options, outcomes)
    report.options = options
    if options.resume_at and report.verdict == "pass":
        report = resume_check(runner, base, report, options)
    if report.verdict == "ML901" and options.explain:
        report.explanation, report.related = explain_mod.explain(
            runner, base, outcomes if target.seeds_itself else outcomes[:-1]
        )
    return report


def verdict(
    runner: Runner, root: Path, target: Target, location: Location, options: ProbeOptions, outcomes: list[RunOutcome]
) -> ProbeReport:
    same, other = (outcomes, None) if target.seeds_itself else (outcomes[:-1], outcomes[-1])
    first = same[0]
    device = first.result.get("device", options.device)
    count = len(first.result["tensors"])
    for index, run in enumerate(same[1:], start=2):
        diff = first_difference(first.result["tensors"], run.result["tensors"])
        if diff is not None:
            diff = measure(diff, first.saved_path, run.saved_path, runner)
            causes = [
                step_cause(first.result, run.result),
                *stream_causes(first.result, run.result),
                data_cause(first.result, run.result),
            ]
            message = (
                f"Runs 1 and {index} of `{target.spec}` {seed_text(target, options)} on {device} differ "
                f"bitwise, first at {diff.describe()}: something in the step is not controlled by the seed"
                + ("" if options.explain else " (run `mlaudit probe --explain` to find what)")
                + "".join(f"\n{cause}" for cause in causes if cause)
            )
            report = ProbeReport(root, "ML901", message, location, target, diff, outcomes=outcomes, compared=(1, index))
            report.first_step = first_diverging_step(first.result, run.result)
            return report
    if other is None:
        runs = "The run" if len(same) == 1 else f"{len(same)} runs"
        message = (
            f"{runs} of {target_text(target)} on {device} "
            + ("is" if len(same) == 1 else "are bitwise identical")
            + f" ({count} tensors its optimizers stepped, {threads_text(first.result)}"
            + frameworks_text(first.result)
            + f"); the {'test' if target.pytest else 'function'} seeds itself, "
            "so seed sensitivity (ML902) was not checked"
        )
        return ProbeReport(root, "pass", message, location, target, outcomes=outcomes)
    other_diff = first_difference(first.result["tensors"], other.result["tensors"])
    if other_diff is None:
        message = (
            f"Runs of `{target.spec}` with seeds {options.seed} and {options.seed + 1} on {device} return "
            f"bitwise identical tensors ({count}): the seed argument never reaches the computation; seed "
            "torch, random and numpy from it (e.g. torch.manual_seed(seed)) instead of a constant"
        )
        return ProbeReport(root, "ML902", message, location, target, outcomes=outcomes)
    changed = f"seed {options.seed + 1} changes them (first `{other_diff.path}`)"
    if len(same) == 1:
        message = (
            f"The run of `{target.spec}` with seed {options.seed} on {device} returns {count} tensors and "
            f"{changed}; with --runs 1 reproducibility itself was not checked"
        )
    else:
        message = (
            f"{len(same)} runs of `{target.spec}` with seed {options.seed} on {device} are bitwise identical "
            f"({count} tensors, {threads_text(first.result)}{frameworks_text(first.result)}), and {changed}"
        )
    return ProbeReport(root, "pass", message, location, target, outcomes=outcomes)


STREAMS = {
    "python": "Python's global `random`",
    "numpy": "NumPy's global RNG (`np.random`)",
    "torch": "torch's CPU generator",
    "cuda": "torch's CUDA generators",
}


def stream_causes(a: dict[str, Any], b: dict[str, Any]) -> list[str]:
    """Name each global random stream that was drawn during the step and ended in another state in
    the two runs, and say whether it was seeded (and with what)."""
    causes = []
    rng_a, rng_b = a.get("rng", {}), b.get("rng", {})
    for name, label in STREAMS.items():
        x, y = rng_a.get(name), rng_b.get(name)
        if not x or not y:
            continue
        if x["after"] == y["after"]:
            site = draw_site(a, b, name)
            if site and x["before"] != y["before"] and x["seeds"]:
                causes.append(
                    f"Stream: {label} was drawn before it was first seeded ({', '.join(x['seeds'])}), from a state "
                    f"that differs between the runs{site}; seed it before that line"
                )
            continue
        if x["before"] == x["after"] and y["before"] == y["after"]:
            continue  # never drawn in the step: its state differs only because nothing used it
        if set(x["seeds"]) <= {"entropy"} and set(y["seeds"]) <= {"entropy"}:
            how = "seeded only from OS entropy (`torch.seed()`, `seed(None)`)" if x["seeds"] else "never seeded"
            causes.append(
                f"Stream: {label} was drawn during the step and {how}, and its state after the step "
                f"differs between the runs{draw_site(a, b, name)}; seed it from the step's seed"
            )
        elif x["seeds"] != y["seeds"]:
            causes.append(
                f"Stream: {label} was seeded with different values in the two runs ({', '.join(x['seeds']) or 'none'} "
                f"vs {', '.join(y['seeds']) or 'none'}): the seed itself comes from an unseeded source"
            )
        else:
            causes.append(
                f"Stream: {label} was seeded ({', '.join(x['seeds'])}) but its state after the step still differs "
                "between the runs: something consumed it a different number of times (data-dependent draws)"
            )
    return causes


CHECKPOINTS = {
    "lightning": "Lightning's own checkpoint (`trainer.save_checkpoint`, then `fit(ckpt_path=...)`)",
    "transformers": "the Hugging Face Trainer's own checkpoint (`checkpoint-N`, then `train(resume_from_checkpoint=...)`)",
}


def checkpoint_text(saved: dict[str, Any]) -> str:
    frameworks = saved.get("frameworks", [])
    return CHECKPOINTS.get(frameworks[0], "its own checkpoint") if frameworks else "its own checkpoint"


def draw_site(a: dict[str, Any], b: dict[str, Any], stream: str) -> str:
    """Where the stream was first drawn before any seeding: the project's file:line and the
    function (with the library frame it went through when that is not the project's)."""
    first = a.get("draws", {}).get(stream) or b.get("draws", {}).get(stream)
    if not first:
        return ""
    where = f"`{first['site']}`" if first.get("site") else f"`{first['via']}` (outside the repo)"
    via = f", in `{first['via']}`" if first.get("site") and first.get("via") else ""
    return f"; it was first drawn at {where} (`{first['function']}`{via})"


def resume_check(runner: Runner, base: RunSpec, report: ProbeReport, options: ProbeOptions) -> ProbeReport:
    """Run K steps and save with the target's own checkpointing, resume in a fresh process up to step
    N, and compare with the uninterrupted run 1: ML901 naming what the checkpoint did not carry."""
    k, n = options.resume_at, options.steps
    checkpoint = str(runner.workdir / "resume-checkpoint")
    [saved] = runner.run_all([replace(base, steps=k, total_steps=n, save_to=checkpoint, label=f"resume: first {k} steps")])
    if not saved.ok:
        return failure_report(report.root, report.target, report.location, saved, [*report.outcomes, saved])  # type: ignore[arg-type]
    [resumed] = runner.run_all([replace(base, steps=n, resume_from=checkpoint, save=True, label="resume: the rest")])
    if not resumed.ok:
        return failure_report(report.root, report.target, report.location, resumed, [*report.outcomes, resumed])  # type: ignore[arg-type]
    whole = report.outcomes[0]
    diff = first_difference(whole.result["tensors"], resumed.result["tensors"])
    report.outcomes = [*report.outcomes, saved, resumed]
    how = checkpoint_text(saved.result)
    if diff is None:
        own = "the target's own checkpoint" if how == "its own checkpoint" else how
        report.message += f"; resumed after step {k} from {own}, step {n} is identical"
        return report
    diff = measure(diff, whole.saved_path, resumed.saved_path, runner)
    spec = report.target.spec if report.target else base.target
    step = resumed_divergence(whole.result, resumed.result, k)
    lines = [
        f"Resuming `{spec}` after step {k} from {how} does not give the uninterrupted run: at step "
        f"{n} they differ first at {diff.describe()}"
        + (f"; first after optimizer step {step[0]}, at `{step[1]}`" if step else ""),
        *resume_causes(whole.result, resumed.result, k),
    ]
    resumed_report = ProbeReport(
        report.root, "ML901", "\n".join(lines), report.location, report.target, diff, outcomes=report.outcomes
    )
    resumed_report.options = options
    resumed_report.first_step = step
    resumed_report.compared = (1, len(report.outcomes))
    return resumed_report


def resumed_divergence(whole: dict[str, Any], resumed: dict[str, Any], k: int) -> tuple[int, str] | None:
    """The first step after the resume whose stepped tensors differ from the uninterrupted run's."""
    tail = {"steps": whole.get("steps", [])[k:]}
    found = first_diverging_step(tail, resumed)
    return (found[0] + k, found[1]) if found else None


def resume_causes(whole: dict[str, Any], resumed: dict[str, Any], k: int) -> list[str]:
    """Compare what the uninterrupted run had before step K+1 with what the resumed run had before its
    first step: each difference is something the checkpoint did not carry."""
    steps_whole, steps_resumed = whole.get("steps", []), resumed.get("steps", [])
    if len(steps_whole) <= k or not steps_resumed:
        return ["Checkpoint: no optimizer step was recorded around the resume, so what it lacked is unknown"]
    before, after = steps_whole[k].get("before", {}), steps_resumed[0].get("before", {})
    missing = []
    if before.get("params") != after.get("params"):
        missing.append("the weights (the model restored is not the model saved)")
    if before.get("state") != after.get("state"):
        missing.append("the optimizer state (momentum buffers, Adam moments, step counts): save optimizer.state_dict()")
    if before.get("hyper") != after.get("hyper"):
        missing.append("the learning rate and other hyperparameters: save the LR scheduler's state_dict()")
    drawn = {name for name, state in whole.get("rng", {}).items() if state.get("before") != state.get("after")}
    for name, label in STREAMS.items():
        x, y = before.get("rng", {}).get(name), after.get("rng", {}).get(name)
        # A stream the run never drew from differs only because nothing seeded it: not the checkpoint's to carry.
        if x and y and x != y and name in drawn:
            missing.append(f"the state of {label}: save and restore it with the checkpoint")
    fed_whole = [c for c in whole.get("data", []) if c.get("step") == k + 1]
    fed_resumed = [c for c in resumed.get("data", []) if c.get("step") == 1]
    if fed_whole and fed_resumed and fed_whole[0]["in"] != fed_resumed[0]["in"]:
        missing.append(
            f"the data position: the first batch after resuming is not batch {k + 1} of the uninterrupted run "
            "(sampler/DataLoader state, epoch, or the order's seed)"
        )
    if not missing:
        return [
            "Checkpoint: weights, optimizer state, hyperparameters, random streams and the next batch all "
            "matched at the resume; the difference comes from state outside them"
        ]
    return [f"Checkpoint: it did not carry {item}" for item in missing]


def first_diverging_step(a: dict[str, Any], b: dict[str, Any]) -> tuple[int, str] | None:
    """The first optimizer step after which the stepped tensors differ, and the first such tensor."""
    for number, (x, y) in enumerate(zip(a.get("steps", []), b.get("steps", []), strict=False), start=1):
        theirs = dict(map(tuple, y["tensors"]))
        for name, digest in x["tensors"]:
            if theirs.get(name) != digest:
                return number, name
    return None


def step_cause(a: dict[str, Any], b: dict[str, Any]) -> str:
    steps_a, steps_b = a.get("steps", []), b.get("steps", [])
    if not steps_a and not steps_b:
        return ""
    found = first_diverging_step(a, b)
    total = f"{len(steps_a)}" if len(steps_a) == len(steps_b) else f"{len(steps_a)} and {len(steps_b)}"
    if found is None:
        if len(steps_a) != len(steps_b):
            return f"Step: the runs made {total} optimizer steps; the steps both made agree"
        return (
            f"Step: after each of the {total} optimizer steps the stepped parameters and optimizer state agree; "
            "what differs is outside them"
        )
    number, tensor = found
    agreed = f"agree after optimizer steps 1-{number - 1} and " if number > 1 else ""
    return f"Step: the runs {agreed}first differ after optimizer step {number} of {total}, at `{tensor}`"


def data_cause(a: dict[str, Any], b: dict[str, Any]) -> str:
    """Data or math: compare what the models were fed (input hashes) with their weights at the time."""
    calls_a, calls_b = a.get("data", []), b.get("data", [])
    if not calls_a or not calls_b:
        return ""
    for number, (x, y) in enumerate(zip(calls_a, calls_b, strict=False), start=1):
        if x["params"] != y["params"]:
            return (
                f"Data or math: the weights of the {x['type']} already differ at outermost forward call {number}, "
                "before it ran: initialization or an earlier update differed"
            )
        if x["in"] != y["in"]:
            return (
                f"Data or math: the data differed: the input of outermost forward call {number} ({x['type']}) "
                "differs while its weights are identical (data order, sampling or augmentation)"
            )
    if len(calls_a) != len(calls_b):
        return f"Data or math: the runs made {len(calls_a)} and {len(calls_b)} forward calls: control flow differed"
    return (
        "Data or math: the math differed: every forward call saw identical inputs and weights, so the "
        "divergence is in the backward pass, the optimizer step or code outside modules"
    )


def seed_text(target: Target, options: ProbeOptions) -> str:
    if target.pytest:
        return "(a pytest test that seeds itself)"
    return "(a function that seeds itself)" if target.seeds_itself else f"with the same seed {options.seed}"


def target_text(target: Target) -> str:
    return f"the pytest test `{target.spec}`" if target.pytest else f"`{target.spec}`"


def frameworks_text(result: dict[str, Any]) -> str:
    names = {"lightning": "Lightning", "transformers": "Hugging Face"}
    ran = [names.get(f, f) for f in result.get("frameworks", [])]
    return f", through {' and '.join(ran)} Trainer" if ran else ""


def threads_text(result: dict[str, Any]) -> str:
    """Bitwise equality on CPU holds for one thread count: say which."""
    threads = result.get("threads")
    if not threads:
        return "thread count unknown"
    return f"{threads} torch thread" + ("" if threads == 1 else "s")


def failure_report(
    root: Path, target: Target, location: Location, failed: RunOutcome, outcomes: list[RunOutcome]
) -> ProbeReport:
    error = dict(failed.error)
    message = error.get("message", "the step failed")
    if error.get("kind") == "no_torch":
        message = f"{message}; {TORCH_EXTRA_HINT}"
    error["output"] = failed.output_tail
    return ProbeReport(root, "error", message, location, target, error=error, outcomes=outcomes)


def report_properties(report: ProbeReport) -> dict[str, Any]:
    """What CI reads without parsing messages: verdict, target, seeds, device, versions, counts."""
    options = report.options or ProbeOptions()
    first = next((o.result for o in report.outcomes if o.ok), {})
    props: dict[str, Any] = {
        "verdict": report.verdict,
        "target": report.target.spec if report.target else options.target,
        "target_source": report.target.source if report.target else None,
        "seed": None if report.target and report.target.seeds_itself else options.seed,
        "other_seed": None if report.target and report.target.seeds_itself else options.seed + 1,
        "frameworks": first.get("frameworks", []),
        "runs": options.runs,
        "device": first.get("device", options.device),
        "torch_version": first.get("torch_version"),
        "threads": first.get("threads"),
        "steps": len(first.get("steps", [])) or options.steps or 1,
        "optimizer_steps_recorded": len(first.get("steps", [])),
        "tensors": len(first.get("tensors", [])),
        "python": options.python or sys.executable,
        "run_seconds": [round(o.seconds, 2) for o in report.outcomes if o.seconds],
    }
    if report.diff is not None:
        # A target with no torch.optim step is one step as a whole: its difference is at step 1.
        step, tensor = report.first_step or ((None, None) if first.get("steps") else (1, None))
        props["finding"] = {
            **report.diff.properties(),
            "step": step,
            "step_tensor": tensor,
            "runs": list(report.compared),
        }
    elif report.verdict == "ML902":
        props["finding"] = {"tensor": None, "step": 1, "runs": [1, len(report.outcomes)]}
    if report.verdict == "error":
        props["error"] = {"kind": report.error.get("kind", ""), "message": report.message}
    return props
