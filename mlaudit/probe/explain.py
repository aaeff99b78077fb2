"""`mlaudit probe --explain`: after same-seed runs differed, find out why.

Three pairs of extra same-seed runs, all at once:
- with a forward hook on every module, to name the first module whose output diverges and say
  whether its input, its weights or its own kernels are to blame;
- under `torch.use_deterministic_algorithms(True, warn_only=True)`, to collect the ops that have
  no deterministic implementation (their message, at the user's line) and to see whether
  deterministic mode alone makes the runs identical;
- with `PYTHONHASHSEED=0`, to see whether hash randomization (set/dict iteration order of
  strings) is the cause.
Then `mlaudit check` runs on the repo files the step imported, and its randomness and determinism
findings (ML1xx) are listed as likely causes.

Nondeterminism can be intermittent (a coin-flip augmentation agrees in half the pairs), so one
pair that agreed proves nothing. "Deterministic mode / a fixed hash seed makes the runs identical"
is stated only after enough pairs agreed under it that chance is ruled out at the rate plain
same-seed pairs were seen to differ (control pairs run alongside); otherwise the line says what was
seen, with counts. The number of runs used is printed.
"""

from __future__ import annotations

import importlib
import inspect
import math
from dataclasses import replace
from typing import Any

from mlaudit.probe.compare import first_difference
from mlaudit.probe.runner import Runner, RunOutcome, RunSpec

MAX_RELATED = 10
MAX_PAIRS = 6  # per check: beyond this the probe stops and says what it saw
CHANCE = 0.05  # a "fixes it" claim may be a fluke with at most this probability

Pair = tuple[RunOutcome, RunOutcome]


def explain(runner: Runner, base: RunSpec, same: list[RunOutcome]) -> tuple[list[str], list[Any]]:
    """Lines of explanation, and the related static findings. `same`: the verdict's same-seed runs."""
    first = same[0]
    plain = replace(base, save=False, deterministic=False)
    checks = {
        "plain": replace(plain, label="explain: control"),
        "deterministic": replace(plain, deterministic_warn=True, label="explain: deterministic mode"),
        "hash": replace(plain, hash_seed=0, label="explain: PYTHONHASHSEED=0"),
    }
    hooks_spec = replace(plain, hooks=True, label="explain: hooks")
    outcomes = runner.run_all([hooks_spec, hooks_spec, *(spec for spec in checks.values() for _ in range(2))])
    hooks_a, hooks_b = outcomes[:2]
    pairs: dict[str, list[Pair]] = {name: [(outcomes[2 + 2 * i], outcomes[3 + 2 * i])] for i, name in enumerate(checks)}
    # The verdict's own pairs are plain pairs too.
    pairs["plain"] = [(first, other) for other in same[1:] if other.ok] + pairs["plain"]
    extra_runs = 0
    while undecided := [name for name in ("deterministic", "hash") if needs_more(pairs[name], pairs["plain"])]:
        specs = [checks[name] for name in [*undecided, "plain"] for _ in range(2)]
        more = runner.run_all(specs)
        extra_runs += len(more)
        for i, name in enumerate([*undecided, "plain"]):
            pairs[name].append((more[2 * i], more[2 * i + 1]))
    lines = [
        explain_hooks(hooks_a, hooks_b),
        *explain_deterministic(pairs["deterministic"], pairs["plain"]),
        explain_hash_seed(pairs["hash"], pairs["plain"]),
        *explain_intermittent(pairs["plain"]),
        *explain_settings(first),
        runs_used(pairs, 8 + extra_runs),
    ]
    files = sorted(set(first.result.get("repo_files", [])) | set(hooks_a.result.get("repo_files", [])))
    related, note = static_findings(base, files)
    lines.append(note)
    return lines, related


def differing_rate(pairs: list[Pair]) -> float:
    usable = [p for p in pairs if not pair_failed(*p)]
    return sum(not identical(*p) for p in usable) / len(usable) if usable else 1.0


def pairs_needed(control: list[Pair]) -> int:
    """Identical pairs under a change before "it fixes it" is stated: enough that, at the rate plain
    pairs differ, all of them agreeing by chance has probability under CHANCE."""
    rate = differing_rate(control)
    if rate >= 1.0:
        return 2
    if rate <= 0.0:
        return MAX_PAIRS + 1  # plain pairs never differed here: no claim can be told from chance
    return max(2, math.ceil(math.log(CHANCE) / math.log(1.0 - rate)))


def needs_more(pairs: list[Pair], control: list[Pair]) -> bool:
    """More pairs are worth running while every pair so far agreed and the claim is not yet safe."""
    if len(pairs) >= MAX_PAIRS or any(pair_failed(*p) or not identical(*p) for p in pairs):
        return False
    return len(pairs) < pairs_needed(control)


def counted(pairs: list[Pair]) -> tuple[int, int]:
    """(identical pairs, pairs that ran)."""
    usable = [p for p in pairs if not pair_failed(*p)]
    return sum(identical(*p) for p in usable), len(usable)


def verdict_under(pairs: list[Pair], control: list[Pair]) -> str:
    """ "fixes" (identical in enough pairs), "no" (differed in every pair), or "intermittent"."""
    same, total = counted(pairs)
    if same == total and total >= pairs_needed(control):
        return "fixes"
    if same == 0:
        return "no"
    return "intermittent"


def tally(pairs: list[Pair]) -> str:
    same, total = counted(pairs)
    return f"identical in {same} of {total} pair{'s' if total != 1 else ''}"


def control_tally(control: list[Pair]) -> str:
    same, total = counted(control)
    return f"plain same-seed runs differed in {total - same} of {total}"


def explain_intermittent(control: list[Pair]) -> list[str]:
    same, total = counted(control)
    if not same:
        return []
    return [
        f"Intermittent: plain same-seed runs differed in {total - same} of {total} pairs "
        f"({100 * (total - same) / total:.0f}%): the source fires only in some runs (a coin-flip augmentation, "
        "a race, data-dependent control flow); a single passing probe does not prove the step reproducible."
    ]


def runs_used(pairs: dict[str, list[Pair]], runs: int) -> str:
    counts = ", ".join(
        f"{label} {len(pairs[name])}"
        for name, label in (("plain", "plain"), ("deterministic", "deterministic mode"), ("hash", "PYTHONHASHSEED=0"))
    )
    return f"Runs: --explain ran {runs} more runs; pairs compared: {counts}."


def pair_failed(a: RunOutcome, b: RunOutcome) -> str:
    failed = a if not a.ok else b if not b.ok else None
    if failed is None:
        return ""
    return failed.error.get("message", "the run failed")


def identical(a: RunOutcome, b: RunOutcome) -> bool:
    return first_difference(a.result["tensors"], b.result["tensors"]) is None


def explain_hooks(a: RunOutcome, b: RunOutcome) -> str:
    failure = pair_failed(a, b)
    if failure:
        return f"Module trace: could not run with forward hooks: {failure}."
    calls_a, calls_b = a.result.get("hooks", []), b.result.get("hooks", [])
    if not calls_a:
        return "Module trace: no nn.Module forward ran during the step, so there is nothing to trace."
    for x, y in zip(calls_a, calls_b, strict=False):  # lengths compared below
        if (x["module"], x["type"]) != (y["module"], y["type"]):
            return (
                f"Module trace: the two runs call different modules at forward call {x['index'] + 1} "
                f"({module_label(x)} vs {module_label(y)}): control flow depends on something unseeded."
            )
        if x["out"] != y["out"]:
            return f"Module trace: the first module whose output diverges is {module_label(x)}; {blame(x, y)}."
    if len(calls_a) != len(calls_b):
        return f"Module trace: the runs make a different number of module calls ({len(calls_a)} vs {len(calls_b)})."
    if identical(a, b):
        return "Module trace: these two runs happened to agree; the nondeterminism is intermittent."
    return (
        "Module trace: every module's forward output is identical in both runs, so the divergence "
        "comes later: in the backward pass (e.g. cuDNN convolution weight gradients, or the gradients "
        "of index_add_/scatter_add_ on CUDA), the "
        "optimizer step, or code outside modules."
    )


def module_label(call: dict[str, Any]) -> str:
    name = (
        f"`{call['module']}` ({call['type']}"
        if call["module"]
        else f"an unnamed {call['type']} (not among the returned modules"
    )
    where = f", defined at {call['file']}:{call['line']}" if call.get("file") else ""
    return f"{name}{where}, forward call {call['index'] + 1})"


def blame(x: dict[str, Any], y: dict[str, Any]) -> str:
    if x["in"] != y["in"]:
        return (
            "its input already differs, so the divergence starts before any module computes: in data "
            "loading, sampling, preprocessing or a vocabulary/ordering step"
        )
    if x["params"] != y["params"]:
        return "its weights already differ before the forward: initialization or an earlier update is unseeded"
    return "its input and weights are identical, so an op inside it is nondeterministic"


def explain_deterministic(pairs: list[Pair], control: list[Pair]) -> list[str]:
    failure = pair_failed(*pairs[0])
    if failure:
        return [f"Deterministic mode: the step fails under torch.use_deterministic_algorithms(True): {failure}."]
    ops: dict[tuple[str, str, int], None] = {}
    for pair in pairs:
        for run in pair:
            for op in run.result.get("nondeterministic_ops", []):
                ops[(first_line(op["message"]), op["file"], op["line"])] = None
    lines = [f"Nondeterministic op at {file}:{line}: {text}" for text, file, line in ops]
    seen = f"({tally(pairs)}; {control_tally(control)})"
    verdict = verdict_under(pairs, control)
    if verdict == "fixes":
        lines.append(
            f"Deterministic mode: under torch.use_deterministic_algorithms(True) the runs are identical {seen}; "
            "call it (and set torch.backends.cudnn.benchmark = False) before training."
        )
    elif verdict == "no":
        lines.append(
            f"Deterministic mode: the runs still differ under torch.use_deterministic_algorithms(True) {seen}, "
            "so the cause is not (only) a nondeterministic kernel."
        )
    else:
        lines.append(
            f"Deterministic mode: no conclusion {seen}: agreeing pairs are as likely by chance as because of "
            "deterministic mode."
        )
    return lines


def first_line(text: str) -> str:
    return text.strip().splitlines()[0] if text.strip() else text


def explain_settings(first: RunOutcome) -> list[str]:
    """Name the global switches that allow nondeterminism on the device the step ran on."""
    settings = first.result.get("settings", {})
    if not first.result.get("device", "").startswith("cuda"):
        return []
    lines = []
    if settings.get("cudnn_benchmark"):
        lines.append(
            "Settings: torch.backends.cudnn.benchmark was True after the step: cuDNN times candidate "
            "convolution algorithms in each process and may pick a different one each time; set it to False."
        )
    if not settings.get("deterministic_algorithms") and not settings.get("cudnn_deterministic"):
        lines.append(
            "Settings: neither torch.use_deterministic_algorithms(True) nor "
            "torch.backends.cudnn.deterministic = True was in effect on CUDA."
        )
    return lines


def explain_hash_seed(pairs: list[Pair], control: list[Pair]) -> str:
    failure = pair_failed(*pairs[0])
    if failure:
        return f"Hash seed: could not run with PYTHONHASHSEED=0: {failure}."
    seen = f"({tally(pairs)}; {control_tally(control)})"
    verdict = verdict_under(pairs, control)
    if verdict == "fixes":
        return (
            f"Hash seed: with PYTHONHASHSEED fixed the runs are identical {seen}, so hash randomization is the "
            "cause: the step iterates a set (or a dict built from one) of strings whose order changes "
            "between processes; iterate sorted(...) instead."
        )
    if verdict == "no":
        return (
            f"Hash seed: fixing PYTHONHASHSEED does not make the runs identical {seen}, so hash randomization "
            "is not the cause."
        )
    return f"Hash seed: no conclusion {seen}: agreeing pairs are as likely by chance as because of the fixed hash seed."


def static_findings(base: RunSpec, files: list[str]) -> tuple[list[Any], str]:
    """Randomness/determinism findings of `mlaudit check` in the files the step imported."""
    if not files:
        return [], "Static check: the step imported no Python files from the repo."
    try:
        # The static engine is optional here: the probe works (and says so) without it.
        check_paths = importlib.import_module("mlaudit.engine.check").check_paths
    except (ImportError, AttributeError):
        return [], (
            "Static check: `mlaudit check` is not available in this install (mlaudit.engine.check missing); "
            f"run it on {', '.join(files)} to look for unseeded randomness."
        )
    try:
        paths = [base.root / f for f in files]
        first = next(iter(inspect.signature(check_paths).parameters), "")
        # check_paths(paths) takes the project of its first path as the root: name the probe's root
        # first so finding paths are relative to it (an engine taking (root, paths) is served too).
        outcome = check_paths(base.root, paths) if first == "root" else check_paths([base.root, *paths])
    except Exception as exc:  # noqa: BLE001 - a crash in the static side must not hide the verdict
        return [], f"Static check failed on {', '.join(files)}: {type(exc).__name__}: {exc}."
    findings = getattr(outcome, "findings", outcome)
    wanted = set(files)
    likely = [f for f in findings if f.code.startswith("ML1") and f.path in wanted][:MAX_RELATED]
    if not likely:
        return [], f"Static check: no randomness or determinism findings in {', '.join(files)}."
    listed = "; ".join(f"{f.code} at {f.path}:{f.line}: {f.message}" for f in likely)
    return likely, f"Static findings that likely explain it: {listed}"
