"""What a traced program trains on: real data, or numbers it draws on the spot.

One shared notion for the ML1xx rules. A program *trains* when an optimizer steps on parameters
(`Trace.training`). It *trains on real data* when some data source that is not an RNG draw runs on
its path: a file read, a dataset library, a download, an environment (`knowledge.randomness.DATA_SOURCE_*`).
A program that trains, reads no data and draws its inputs or targets from the RNG
(`knowledge.randomness.SYNTHETIC_DRAWS`: `torch.rand` batches, a `RandomDataset`, `np.random.normal`
targets) is a *mechanics demo*: a DDP/tensor-parallel wiring example, a bug-report template, a toy
fit. Its numbers are noise by design, so seeding it or making its kernels deterministic changes
nothing anyone keeps; ML101, ML102 and ML105 stay silent on it.

Both signs are required: a program whose data loading mlaudit cannot see (a framework calls the
datamodule) but that draws no synthetic batches is still judged as training on real data.
"""

from __future__ import annotations

from mlaudit.analysis.trace import Step, Trace, Tracer
from mlaudit.facts.randomness import AS_DATA, CALL, DATA, SOURCE
from mlaudit.knowledge import randomness as data


def data_read(trace: Trace, import_lines: frozenset[int]) -> Step | None:
    """The first step on the program's path that reads data from outside it. A read met while a
    library is imported (its version file, a registry) is not the program's data: only reads
    reached through what the program runs or calls count (`Traces.import_lines` gives the lines
    of the entry point's file that import)."""
    return next(
        (s for s in trace.steps if s.event.kind == DATA and (s.site not in import_lines or s.path == trace.entry.path)),
        None,
    )


def synthetic_draw(trace: Trace) -> Step | None:
    """The first draw on the program's path that makes data (inputs, targets, a dataset's items)."""
    return next((s for s in trace.steps if s.event.kind == SOURCE and AS_DATA in s.event.flags), None)


def mechanics_demo(trace: Trace, import_lines: frozenset[int]) -> bool:
    """Whether the program trains only on numbers it draws from the RNG (see the module docstring)."""
    return trace.training is not None and synthetic_draw(trace) is not None and data_read(trace, import_lines) is None


def evaluates(trace: Trace, tracer: Tracer) -> bool:
    """Whether the program shows that it runs a model for inference: `model.eval()`,
    `torch.no_grad()` or `torch.inference_mode()` in a function it runs. Calls are not steps of a
    trace, so this reads the events of every function the program reaches; ask it only of the
    few programs that need it."""
    scopes: dict[str, set[str]] = {}
    for path, scope in trace.reached:
        scopes.setdefault(path, set()).add(scope)
    for path, wanted in scopes.items():
        for event in tracer.events(path):
            if event.kind == CALL and event.scope in wanted and (
                event.name in data.EVALUATION_CALLS
                or (event.text or event.name).rsplit(".", 1)[-1] in data.EVALUATION_METHODS
            ):
                return True
    return False
