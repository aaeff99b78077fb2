"""The probe's subprocess: import the target, run it once, fingerprint every tensor it returned.

Run as `python -m mlaudit.probe.worker --root R --target pkg.mod:func --seed S --result OUT.json`,
or `python -m mlaudit.probe.worker diff --a A.pt --b B.pt --path P --result OUT.json` to count the
elements of one tensor that differ between two saved runs.
This is the only mlaudit module that imports torch, and it imports nothing else from mlaudit, so
a worker starts as fast as `import torch` allows. Whatever happens inside the target, the worker
writes one JSON result; if the process dies without writing it, the parent reports a crash.

Result fields: status ("ok" | "error"), error {kind, message, traceback}, device, torch_version,
tensors [{path, dtype, shape, device, sha256, nbytes}], saved (tensors written with torch.save),
hooks (per forward call, with --hooks), nondeterministic_ops (with --deterministic-warn),
repo_files (the repo's modules the step imported), seconds.
"""

from __future__ import annotations

import argparse
import ctypes
import faulthandler
import hashlib
import importlib
import importlib.util
import inspect
import json
import os
import signal
import sys
import time
import traceback
import warnings
from collections.abc import Iterator, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

# Scalars in returns and optimizer hyperparameters are fingerprinted like 0-d tensors.
_SCALARS = (bool, int, float)
_MAX_DEPTH = 64


class BadReturn(Exception):
    """The target returned something the probe cannot fingerprint."""


def import_paths(root: Path) -> list[Path]:
    """Where the target's imports resolve: the repo root, and `src/` for a src layout."""
    paths = [root]
    if (root / "src").is_dir():
        paths.append(root / "src")
    return paths


def tensor_bytes_hash(tensor: Any) -> str:
    """sha256 of the exact bytes of `tensor`'s elements in row-major order (device-independent)."""
    import torch

    t = tensor.detach()
    if t.is_sparse:
        t = t.to_dense()
    if t.is_quantized:
        t = t.int_repr()
    t = t.resolve_conj().resolve_neg().to("cpu").contiguous().reshape(-1)
    if t.numel() == 0:
        return hashlib.sha256(b"").hexdigest()
    # view(uint8) reinterprets the bits; clone() gives a storage holding exactly these bytes.
    raw = t.view(torch.uint8).clone()
    storage = raw.untyped_storage()
    buffer = (ctypes.c_ubyte * storage.nbytes()).from_address(storage.data_ptr())
    return hashlib.sha256(buffer).hexdigest()


def as_tensor(value: Any) -> Any:
    import torch

    if isinstance(value, torch.Tensor):
        return value
    if isinstance(value, bool):
        return torch.tensor(value, dtype=torch.bool)
    if isinstance(value, int):
        return torch.tensor(value, dtype=torch.int64)
    return torch.tensor(value, dtype=torch.float64)


def param_names(value: Any, prefix: str = "", depth: int = 0) -> dict[int, str]:
    """id(parameter) -> name path, for every module in the return, so optimizer state gets names."""
    import torch

    names: dict[int, str] = {}
    if depth > _MAX_DEPTH:
        return names
    if isinstance(value, torch.nn.Module):
        for name, param in value.named_parameters():
            names.setdefault(id(param), join(prefix, name))
    elif isinstance(value, Mapping):
        for key, item in value.items():
            for k, v in param_names(item, join(prefix, str(key)), depth + 1).items():
                names.setdefault(k, v)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            for k, v in param_names(item, join(prefix, str(index)), depth + 1).items():
                names.setdefault(k, v)
    return names


def join(prefix: str, name: str) -> str:
    if not name:
        return prefix
    return f"{prefix}.{name}" if prefix else name


def flatten(
    value: Any, prefix: str, names: dict[int, str], strict: bool = True, depth: int = 0
) -> Iterator[tuple[str, Any]]:
    """Yield (path, tensor) for every tensor in `value`, in a stable order.

    `strict` is for what the user returned: an unknown type there is an error that names its path.
    Inside a `state_dict()` (schedulers, scalers) unknown entries are skipped.
    """
    import torch

    if depth > _MAX_DEPTH:
        raise BadReturn(f"`{prefix}` nests deeper than {_MAX_DEPTH} levels")
    if isinstance(value, torch.Tensor):
        yield prefix, value
    elif isinstance(value, _SCALARS):
        yield prefix, as_tensor(value)
    elif isinstance(value, torch.nn.Module):
        yield from flatten_module(value, prefix)
    elif isinstance(value, torch.optim.Optimizer):
        yield from flatten_optimizer(value, prefix, names)
    elif isinstance(value, Mapping):
        for key, item in value.items():
            yield from flatten(item, join(prefix, str(key)), names, strict, depth + 1)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            yield from flatten(item, join(prefix, str(index)), names, strict, depth + 1)
    elif value is None or isinstance(value, (str, bytes)):
        return
    elif callable(getattr(value, "state_dict", None)):
        # LR schedulers, GradScaler and friends: their state is what the step changed.
        yield from flatten(value.state_dict(), prefix, names, False, depth + 1)
    elif strict:
        where = f"`{prefix}`" if prefix else "the return value"
        raise BadReturn(
            f"{where} is a {type(value).__module__}.{type(value).__qualname__}; return tensors, "
            "modules, optimizers, numbers, or dicts/lists/tuples of them"
        )


def flatten_module(module: Any, prefix: str) -> Iterator[tuple[str, Any]]:
    # state_dict holds parameters and buffers (running stats); gradients are not in it but are
    # the first place a nondeterministic backward kernel shows.
    for name, tensor in module.state_dict(keep_vars=True).items():
        yield join(prefix, name), tensor
    for name, param in module.named_parameters():
        if param.grad is not None:
            yield join(prefix, f"{name}.grad"), param.grad


def flatten_optimizer(optimizer: Any, prefix: str, names: dict[int, str]) -> Iterator[tuple[str, Any]]:
    for g, group in enumerate(optimizer.param_groups):
        for i, param in enumerate(group["params"]):
            label = names.get(id(param), f"param_groups.{g}.params.{i}")
            for key, item in optimizer.state.get(param, {}).items():
                if isinstance(item, _SCALARS) or hasattr(item, "dtype"):
                    yield f"{join(prefix, 'state')}[{label}].{key}", as_tensor(item)
        for key, item in group.items():
            if key == "params":
                continue
            path = join(prefix, f"param_groups.{g}.{key}")
            if isinstance(item, _SCALARS):
                yield path, as_tensor(item)
            elif isinstance(item, (list, tuple)) and all(isinstance(x, _SCALARS) for x in item):
                for j, x in enumerate(item):
                    yield f"{path}.{j}", as_tensor(x)


def fingerprint(path: str, tensor: Any) -> dict[str, Any]:
    return {
        "path": path,
        "dtype": str(tensor.dtype).removeprefix("torch."),
        "shape": list(tensor.shape),
        "device": str(tensor.device),
        "sha256": tensor_bytes_hash(tensor),
        "nbytes": tensor.numel() * tensor.element_size(),
    }


def value_hash(value: Any, depth: int = 0) -> str:
    """Hash of a module's input or output (nested tensors, numbers, strings) for the hook trace."""
    import torch

    h = hashlib.sha256()
    if depth > _MAX_DEPTH:
        return "deep"
    if isinstance(value, torch.Tensor):
        h.update(f"T{value.dtype}{tuple(value.shape)}".encode())
        h.update(tensor_bytes_hash(value).encode())
    elif isinstance(value, Mapping):
        for key, item in value.items():
            h.update(f"K{key!r}".encode())
            h.update(value_hash(item, depth + 1).encode())
    elif isinstance(value, (list, tuple)):
        for item in value:
            h.update(value_hash(item, depth + 1).encode())
    elif value is None or isinstance(value, (str, bytes, bool, int, float)):
        h.update(repr(value).encode())
    else:
        # Other objects' reprs carry memory addresses; their type is all that is stable.
        h.update(type(value).__qualname__.encode())
    return h.hexdigest()[:16]


class RngWatch:
    """The global random streams around the step: a hash of each one's state before and after,
    and the seeds passed to its seeding functions (a stream with no seed call was left to chance).

    Streams: Python's `random`, NumPy's legacy global RNG (when numpy is installed), torch's CPU
    generator, and the CUDA generators (only when CUDA was initialised: reading them would do it).
    """

    SEEDERS: dict[str, list[tuple[str, str]]] = {
        "python": [("random", "seed")],
        "numpy": [("numpy.random", "seed")],
        "torch": [("torch", "manual_seed"), ("torch.random", "manual_seed"), ("torch", "seed")],
        "cuda": [
            ("torch.cuda", "manual_seed"),
            ("torch.cuda", "manual_seed_all"),
            ("torch.cuda.random", "manual_seed"),
            ("torch.cuda.random", "manual_seed_all"),
        ],
    }

    def __init__(self) -> None:
        self.before: dict[str, str] = {}
        self.seeds: dict[str, list[str]] = {name: [] for name in self.SEEDERS}
        self.patched: list[tuple[Any, str, Any]] = []

    def install(self) -> None:
        for stream, places in self.SEEDERS.items():
            for module_name, attr in places:
                module = sys.modules.get(module_name)
                original = getattr(module, attr, None)
                if module is None or original is None or getattr(original, "_mlaudit_seed_watch", False):
                    continue
                setattr(module, attr, self.recorder(stream, original))
                self.patched.append((module, attr, original))
        self.before = self.states()

    def recorder(self, stream: str, original: Any) -> Any:
        def seed(*args: Any, **kwargs: Any) -> Any:
            value = args[0] if args else kwargs.get("seed", kwargs.get("a"))
            self.seeds[stream].append(repr(value) if value is not None else "entropy")
            return original(*args, **kwargs)

        seed._mlaudit_seed_watch = True  # type: ignore[attr-defined]
        return seed

    def remove(self) -> None:
        for module, attr, original in reversed(self.patched):
            setattr(module, attr, original)

    @staticmethod
    def states() -> dict[str, str]:
        import random

        states = {"python": hashlib.sha256(repr(random.getstate()).encode()).hexdigest()[:16]}
        numpy = sys.modules.get("numpy")
        if numpy is not None:
            kind, keys, pos, has_gauss, gauss = numpy.random.get_state()
            raw = f"{kind}{pos}{has_gauss}{gauss}".encode() + bytes(keys.tobytes())
            states["numpy"] = hashlib.sha256(raw).hexdigest()[:16]
        torch = sys.modules.get("torch")
        if torch is not None:
            states["torch"] = hashlib.sha256(torch_state_bytes(torch.get_rng_state())).hexdigest()[:16]
            if torch.cuda.is_initialized():
                joined = b"".join(torch_state_bytes(s) for s in torch.cuda.get_rng_state_all())
                states["cuda"] = hashlib.sha256(joined).hexdigest()[:16]
        return states

    def report(self) -> dict[str, dict[str, Any]]:
        after = self.states()
        return {
            name: {"before": self.before.get(name), "after": value, "seeds": self.seeds.get(name, [])}
            for name, value in after.items()
        }


def torch_state_bytes(state: Any) -> bytes:
    """The bytes of a generator state (a uint8 tensor) without numpy."""
    storage = state.contiguous().untyped_storage()
    return bytes((ctypes.c_ubyte * storage.nbytes()).from_address(storage.data_ptr()))


class StepTrace:
    """After every `torch.optim.Optimizer.step` call in the step, a hash of each parameter the
    optimizer stepped and of its state, so several steps are compared one by one and the first
    step that diverges is named. Parameters are keyed by id() and named after the return."""

    MAX_STEPS = 10_000

    def __init__(self) -> None:
        self.steps: list[dict[str, Any]] = []
        self.optimizers: list[Any] = []  # strong refs: ids stay unique
        self.params: list[Any] = []
        self.handles: list[Any] = []
        self.module_names: dict[int, str] = {}  # id(param) -> name in the live modules, at first step
        self.pending: dict[str, Any] = {}

    def install(self) -> None:
        from torch.optim.optimizer import register_optimizer_step_post_hook, register_optimizer_step_pre_hook

        self.handles = [
            register_optimizer_step_pre_hook(self.before_step),
            register_optimizer_step_post_hook(self.after_step),
        ]

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def before_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        """What a resumed run must have restored before this step: weights, optimizer state,
        hyperparameters (an LR scheduler's work) and the random streams."""
        if len(self.steps) >= self.MAX_STEPS:
            return
        params, state, hyper = hashlib.sha256(), hashlib.sha256(), hashlib.sha256()
        for group in optimizer.param_groups:
            for param in group["params"]:
                params.update(value_hash(param).encode())
                for key, item in sorted(optimizer.state.get(param, {}).items()):
                    state.update(f"{key}{value_hash(item)}".encode())
            hyper.update(repr(sorted((k, v) for k, v in group.items() if isinstance(v, _SCALARS))).encode())
        self.pending = {
            "params": params.hexdigest()[:16],
            "state": state.hexdigest()[:16],
            "hyper": hyper.hexdigest()[:16],
            "rng": RngWatch.states(),
        }

    def after_step(self, optimizer: Any, args: Any, kwargs: Any) -> None:
        if len(self.steps) >= self.MAX_STEPS:
            return
        if not any(o is optimizer for o in self.optimizers):
            self.optimizers.append(optimizer)
            self.name_parameters(optimizer)
        number = next(i for i, o in enumerate(self.optimizers) if o is optimizer)
        hashes = []
        for g, group in enumerate(optimizer.param_groups):
            for i, param in enumerate(group["params"]):
                self.params.append(param)
                hashes.append([id(param), f"optimizer{number}.param_groups.{g}.params.{i}", "", value_hash(param)])
                for key, item in optimizer.state.get(param, {}).items():
                    if hasattr(item, "dtype"):
                        hashes.append([id(param), "", f".{key}", value_hash(item)])
        self.steps.append({"optimizer": number, "tensors": hashes, "before": self.pending})
        self.pending = {}

    def name_parameters(self, optimizer: Any) -> None:
        """Name the optimizer's parameters after the live module that holds most of them (for a
        pytest target nothing is returned, and its modules may be gone by the end of the test)."""
        import gc

        import torch

        wanted = {id(p) for group in optimizer.param_groups for p in group["params"]}
        best: tuple[int, Any] = (0, None)
        for obj in gc.get_objects():
            if isinstance(obj, torch.nn.Module):
                held = sum(1 for p in obj.parameters() if id(p) in wanted)
                if held > best[0]:
                    best = (held, obj)
        if best[1] is not None:
            prefix = f"{type(best[1]).__name__}"
            for name, param in best[1].named_parameters():
                self.module_names.setdefault(id(param), join(prefix, name))

    def stepped(self) -> dict[str, Any]:
        """What the optimizers stepped, as a return value: named parameters and the optimizers."""
        params: dict[str, Any] = {}
        seen: set[int] = set()
        for number, optimizer in enumerate(self.optimizers):
            for g, group in enumerate(optimizer.param_groups):
                for i, param in enumerate(group["params"]):
                    if id(param) not in seen:
                        seen.add(id(param))
                        params[self.module_names.get(id(param), f"optimizer{number}.param_groups.{g}.params.{i}")] = (
                            param
                        )
        return {"stepped": params, **{f"optimizer{n}": o for n, o in enumerate(self.optimizers)}}

    def named(self, returned: Any) -> list[dict[str, Any]]:
        """[{optimizer, tensors: [[name, hash]]}] with parameters named as in the returned modules."""
        names = {**{k: f"stepped.{v}" for k, v in self.module_names.items()}, **param_names(returned)}
        out = []
        for step in self.steps:
            named, fallback = [], ""
            for pid, default, suffix, digest in step["tensors"]:
                fallback = default or fallback
                base = names.get(pid, fallback)
                named.append([f"optimizer state[{base}]{suffix}" if suffix else base, digest])
            out.append({"optimizer": step["optimizer"], "tensors": named, "before": step.get("before", {})})
        return out


class _ForwardHooks:
    """Global forward pre/post hooks on every module, installed for one step and removed after it."""

    handles: list[Any]

    def install(self) -> None:
        from torch.nn.modules import module as nn_module

        self.handles.append(nn_module.register_module_forward_pre_hook(self.pre))
        self.handles.append(nn_module.register_module_forward_hook(self.post))

    def remove(self) -> None:
        for handle in self.handles:
            handle.remove()

    def pre(self, module: Any, args: Any) -> None:
        raise NotImplementedError

    def post(self, module: Any, args: Any, output: Any) -> None:
        raise NotImplementedError


class DataTrace(_ForwardHooks):
    """Hashes of what the step feeds its models: for each outermost forward call of a module with
    parameters, its input and its weights before the call. Inputs that differ while the weights
    agree mean the data (order, sampling, augmentation) differed; the other way round, the math."""

    def __init__(self, steps: StepTrace | None = None) -> None:
        self.calls: list[dict[str, Any]] = []
        self.depth = 0
        self.handles: list[Any] = []
        self.step_trace = steps  # to tag each call with the optimizer step it feeds

    def pre(self, module: Any, args: Any) -> None:
        self.depth += 1
        if self.depth != 1:
            return
        params = list(module.parameters())
        if params:
            weights = hashlib.sha256("".join(value_hash(p) for p in params).encode()).hexdigest()[:16]
            step = len(self.step_trace.steps) + 1 if self.step_trace is not None else 1
            self.calls.append(
                {"type": type(module).__qualname__, "in": value_hash(args), "params": weights, "step": step}
            )

    def post(self, module: Any, args: Any, output: Any) -> None:
        self.depth = max(0, self.depth - 1)


class HookTrace(_ForwardHooks):
    """Records, for every module forward call, hashes of its inputs, own parameters and outputs.

    Inputs are hashed in the pre-hook because in-place modules (ReLU(inplace=True)) overwrite them.
    """

    def __init__(self) -> None:
        self.calls: list[dict[str, Any]] = []
        self.modules: list[Any] = []  # strong refs: keeps id() values unique for the whole run
        self.stack: list[dict[str, Any]] = []
        self.handles: list[Any] = []

    def pre(self, module: Any, args: Any) -> None:
        params = [value_hash(p) for p in module.parameters(recurse=False)]
        self.modules.append(module)
        self.stack.append(
            {
                "id": id(module),
                "type": type(module).__qualname__,
                "in": value_hash(args),
                "params": hashlib.sha256("".join(params).encode()).hexdigest()[:16],
            }
        )

    def post(self, module: Any, args: Any, output: Any) -> None:
        if not self.stack:
            return
        call = self.stack.pop()
        call["out"] = value_hash(output)
        call["index"] = len(self.calls)
        self.calls.append(call)

    def named(self, returned: Any, root: Path) -> list[dict[str, Any]]:
        """Replace module ids by their names in the returned modules; describe where classes live."""
        names = module_names(returned)
        for call in self.calls:
            module_id = call.pop("id")
            call["module"] = names.get(module_id, "")
        types = {type(m).__qualname__: type(m) for m in self.modules}
        for call in self.calls:
            file, line = class_location(types[call["type"]], root)
            call["file"], call["line"] = file, line
        # Calls are in completion order, inner modules first, so the first call that diverges is
        # the innermost, earliest computation that did.
        return self.calls


def module_names(value: Any, prefix: str = "", depth: int = 0) -> dict[int, str]:
    import torch

    names: dict[int, str] = {}
    if depth > _MAX_DEPTH:
        return names
    if isinstance(value, torch.nn.Module):
        for name, module in value.named_modules():
            names.setdefault(id(module), join(prefix, name) or "<returned module>")
    elif isinstance(value, Mapping):
        for key, item in value.items():
            for k, v in module_names(item, join(prefix, str(key)), depth + 1).items():
                names.setdefault(k, v)
    elif isinstance(value, (list, tuple)):
        for index, item in enumerate(value):
            for k, v in module_names(item, join(prefix, str(index)), depth + 1).items():
                names.setdefault(k, v)
    return names


def class_location(cls: type, root: Path) -> tuple[str, int]:
    """Repo-relative file and line of a class defined inside the repo, else ("", 0)."""
    try:
        file = inspect.getsourcefile(cls)
        line = inspect.getsourcelines(cls)[1]
    except (OSError, TypeError):
        return "", 0
    if not file:
        return "", 0
    relative = relative_to_root(Path(file), root)
    return (relative, line) if relative else ("", 0)


def relative_to_root(file: Path, root: Path) -> str:
    try:
        return file.resolve().relative_to(root.resolve()).as_posix()
    except ValueError:
        return ""


def repo_files(root: Path) -> list[str]:
    """The repo's own Python files the step imported (what `--explain` checks statically)."""
    files = set()
    for module in list(sys.modules.values()):
        file = getattr(module, "__file__", None)
        # Some extension-made modules carry a bare relative name (torch's "_classes.py").
        if isinstance(file, str) and file.endswith(".py") and os.path.isabs(file):
            relative = relative_to_root(Path(file), root)
            if relative and not relative.startswith(("mlaudit/", ".venv/", "venv/")):
                files.add(relative)
    return sorted(files)


def target_traceback(exc: BaseException) -> str:
    """The traceback from the target's first frame on: the worker's own frames are noise."""
    tb: TracebackType | None = exc.__traceback__
    here = os.path.abspath(__file__)
    while tb is not None and (
        os.path.abspath(tb.tb_frame.f_code.co_filename) == here or is_import_machinery(tb.tb_frame.f_code.co_filename)
    ):
        tb = tb.tb_next
    return "".join(traceback.format_exception(type(exc), exc, tb))


def is_import_machinery(filename: str) -> bool:
    return filename.startswith("<frozen importlib") or filename == importlib.__file__


def checkpoint_args(args: argparse.Namespace) -> dict[str, str]:
    """--resume-at's two halves: `save_to` (run K steps, then save) and `resume_from` (load, go on)."""
    extra = {}
    if args.save_to:
        extra["save_to"] = args.save_to
    if args.resume_from:
        extra["resume_from"] = args.resume_from
    return extra


def call_target(func: Any, seed: int, device: str, steps: int = 0, extra: dict[str, str] | None = None) -> Any:
    """Pass `device=` when the target takes it; otherwise make `device` the default for new tensors.
    With `steps`, pass `steps=` (the parent checked that the target takes it); `extra` likewise."""
    import torch

    kwargs: dict[str, Any] = {"seed": seed, **(extra or {})}
    if steps:
        kwargs["steps"] = steps
    if takes_device(func):
        return func(**kwargs, device=device)
    if device != "cpu":
        torch.set_default_device(device)
    return func(**kwargs)


def default_device_hint(func: Any, device: str) -> str:
    """After a failure on a default device the step did not ask for, say so: a CPU torch.Generator
    (DataLoader shuffling) or a CPU-only library breaks when new tensors land on the GPU."""
    if device == "cpu" or takes_device(func):
        return ""
    return (
        f" (the step has no `device` parameter, so the probe made {device} the default device for new "
        "tensors; give it a `device: str` parameter to choose where tensors go, or use --device cpu)"
    )


def takes_device(func: Any) -> bool:
    return takes_parameter(func, "device")


def takes_parameter(func: Any, name: str) -> bool:
    try:
        return name in inspect.signature(func).parameters
    except (TypeError, ValueError):
        return False


def resolve_device(requested: str) -> str:
    import torch

    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("--device cuda was asked for, but torch.cuda.is_available() is False here")
    return requested


def error(kind: str, message: str, tb: str = "") -> dict[str, Any]:
    return {"status": "error", "error": {"kind": kind, "message": message, "traceback": tb}}


def save_tensors(pairs: list[tuple[str, Any]], path: Path, limit: int) -> bool:
    """torch.save the returned tensors (on CPU) for diffing, unless together they exceed `limit` bytes."""
    import torch

    total = sum(t.numel() * t.element_size() for _, t in pairs)
    if total > limit:
        return False
    tensors = {}
    for name, tensor in pairs:
        t = tensor.detach()
        if t.is_sparse:
            t = t.to_dense()
        if t.is_quantized:
            t = t.int_repr()
        tensors[name] = t.resolve_conj().resolve_neg().to("cpu").clone()
    torch.save(tensors, path)
    return True


def run(args: argparse.Namespace) -> dict[str, Any]:
    root = Path(args.root).resolve()
    for path in reversed(import_paths(root)):
        sys.path.insert(0, str(path))
    # torch warns at import when numpy is missing; that is noise in the target's output.
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    try:
        import torch
    except ImportError as exc:
        return error("no_torch", f"torch cannot be imported: {exc}")
    started = time.perf_counter()
    try:
        device = resolve_device(args.device)
    except RuntimeError as exc:
        return error("device", str(exc))
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.deterministic:
        torch.use_deterministic_algorithms(True)
    elif args.deterministic_warn:
        torch.use_deterministic_algorithms(True, warn_only=True)

    try:  # so that NumPy's global RNG is watched even when a library imports numpy during the step
        if importlib.util.find_spec("numpy") is not None:
            importlib.import_module("numpy")
    except Exception:  # noqa: BLE001 - a broken numpy is the step's business, not the probe's
        pass
    if "::" in args.target:
        return run_pytest_target(args, root, device, started)
    module_name, _, func_name = args.target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except BaseException as exc:  # noqa: BLE001 - the target's import errors, sys.exit() too, shown to the user
        if isinstance(exc, ModuleNotFoundError) and exc.name and (module_name + ".").startswith(exc.name + "."):
            places = " nor ".join(str(p) for p in import_paths(root))
            return error(
                "import",
                f"cannot import `{args.target}`: there is no module `{exc.name}` in {places}; a target is "
                "`package.module:function` as imported from the repository root (or src/)",
            )
        return error("import", f"cannot import `{args.target}`: {type(exc).__name__}: {exc}", target_traceback(exc))
    func = getattr(module, func_name, None)
    if not callable(func):
        where = getattr(module, "__file__", None) or module_name
        found = "has no" if func is None else f"has a non-callable {type(func).__name__}"
        return error("import", f"cannot import `{args.target}`: module `{module_name}` ({where}) {found} `{func_name}`")
    if (args.save_to or args.resume_from) and not (
        takes_parameter(func, "save_to") and takes_parameter(func, "resume_from")
    ):
        return error(
            "usage",
            f"--resume-at needs a target with `save_to` and `resume_from` parameters: `{args.target}` should "
            "save its checkpoint to `save_to` after its `steps` steps when it is given, and load `resume_from` "
            "before training when that is given (both default None)",
        )
    if args.steps and not takes_parameter(func, "steps"):
        return error(
            "usage",
            f"--steps {args.steps} needs a target with a `steps` parameter: give `{args.target}` a "
            "`steps: int = 1` parameter that sets how many optimizer steps it runs",
        )

    trace = HookTrace()
    if args.hooks:
        trace.install()
    steps = StepTrace()
    steps.install()
    data = DataTrace(steps)
    data.install()
    rng = RngWatch()
    rng.install()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            returned = call_target(func, args.seed, device, args.steps, checkpoint_args(args))
            if device.startswith("cuda"):
                torch.cuda.synchronize()  # an asynchronous CUDA error belongs to the step
        except BaseException as exc:  # noqa: BLE001 - any failure of the step, sys.exit() and KeyboardInterrupt too
            message = f"`{args.target}` raised {type(exc).__name__}: {exc}{default_device_hint(func, device)}"
            return error("exception", message, target_traceback(exc))
        finally:
            trace.remove()
            data.remove()
            steps.remove()
            rng.remove()

    try:
        result = fingerprint_return(args, root, returned, device, started, caught, trace)
        result["rng"] = rng.report()
        result["data"] = data.calls
        result["steps"] = steps.named(returned)
        return result
    except BadReturn as exc:
        return error("bad_return", f"`{args.target}` returned something the probe cannot compare: {exc}")
    except Exception as exc:  # noqa: BLE001 - e.g. a state_dict() that raises, a tensor on the meta device
        message = f"cannot fingerprint what `{args.target}` returned: {type(exc).__name__}: {exc}"
        return error("bad_return", message, target_traceback(exc))


PYTEST_ARGS = [
    "-q",
    "-x",
    "-p",
    "no:cacheprovider",  # nothing written into the repo
    "-p",
    "no:randomly",  # pytest-randomly would reseed every stream per test, from a seed of its own
    "-p",
    "no:xdist",  # the steps must run in this process to be recorded
]


def run_pytest_target(args: argparse.Namespace, root: Path, device: str, started: float) -> dict[str, Any]:
    """Run one pytest test in this process and fingerprint what its optimizers stepped."""
    file, _, test = args.target.partition("::")
    try:
        import pytest
    except ImportError:
        return error("import", f"`{args.target}` is a pytest test, but pytest is not installed for {sys.executable}")
    path = root / file
    if not path.is_file():
        return error("import", f"cannot run `{args.target}`: {path} does not exist")
    steps = StepTrace()
    data, rng = DataTrace(steps), RngWatch()
    for watcher in (steps, data, rng):
        watcher.install()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = pytest.main([f"{path}::{test}", "--rootdir", str(root), *PYTEST_ARGS])
        finally:
            for watcher in (steps, data, rng):
                watcher.remove()
    if int(code) == 5:
        return error("import", f"pytest collected no test `{test}` in {file}")
    if int(code) != 0:
        return error("exception", f"`{args.target}` failed under pytest (exit status {int(code)}); its output is below")
    if not steps.optimizers:
        return error(
            "bad_return",
            f"`{args.target}` passed but ran no torch.optim optimizer step, so there is nothing to fingerprint; "
            "point --target at a test that trains",
        )
    returned = steps.stepped()
    trace = HookTrace()
    known = {k: f"stepped.{v}" for k, v in steps.module_names.items()}
    result = fingerprint_return(args, root, returned, device, started, caught, trace, known)
    result.update(rng=rng.report(), data=data.calls, steps=steps.named(returned))
    return result


def fingerprint_return(
    args: argparse.Namespace,
    root: Path,
    returned: Any,
    device: str,
    started: float,
    caught: list[warnings.WarningMessage],
    trace: HookTrace,
    known_names: dict[int, str] | None = None,
) -> dict[str, Any]:
    import torch

    names = {**(known_names or {}), **param_names(returned)}
    pairs = list(flatten(returned, "", names))
    if not pairs:
        raise BadReturn(f"no tensors in it (got {type(returned).__module__}.{type(returned).__qualname__})")
    result: dict[str, Any] = {
        "status": "ok",
        "device": device,
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "tensors": [fingerprint(path, tensor) for path, tensor in pairs],
        "seconds": round(time.perf_counter() - started, 3),
        "saved": bool(args.save) and save_tensors(pairs, Path(args.save), args.save_limit),
        "repo_files": repo_files(root),
        "nondeterministic_ops": nondeterministic_ops(caught, root),
        "settings": determinism_settings(),
    }
    if args.hooks:
        result["hooks"] = trace.named(returned, root)
    return result


def determinism_settings() -> dict[str, bool]:
    """The global switches as the step left them (it may have set them itself)."""
    import torch

    return {
        "cudnn_benchmark": bool(torch.backends.cudnn.benchmark),
        "cudnn_deterministic": bool(torch.backends.cudnn.deterministic),
        "deterministic_algorithms": torch.are_deterministic_algorithms_enabled(),
    }


def nondeterministic_ops(caught: list[warnings.WarningMessage], root: Path) -> list[dict[str, Any]]:
    """The deterministic-mode warnings ("... does not have a deterministic implementation ...")."""
    ops: list[dict[str, Any]] = []
    seen = set()
    for warning in caught:
        text = str(warning.message)
        if "deterministic" not in text:
            continue
        file = relative_to_root(Path(warning.filename), root) or warning.filename
        key = (text, file, warning.lineno)
        if key not in seen:
            seen.add(key)
            ops.append({"message": text, "file": file, "line": warning.lineno})
    return ops


def bitwise_ne(a: Any, b: Any) -> Any:
    """Elementwise "not the same bits" (so NaN == NaN and 0.0 != -0.0, as the hashes see them)."""
    import torch

    if not (a.is_floating_point() or a.is_complex()):
        return a != b
    complex_pair = a.is_complex()
    if complex_pair:
        a, b = torch.view_as_real(a), torch.view_as_real(b)  # (..., 2): real and imaginary parts
    as_int = {1: torch.uint8, 2: torch.int16, 4: torch.int32, 8: torch.int64}[a.element_size()]
    differing = a.contiguous().view(as_int) != b.contiguous().view(as_int)
    return differing.any(-1) if complex_pair else differing


def diff_saved(a_file: Path, b_file: Path, path: str) -> dict[str, Any]:
    """Count the elements of tensor `path` whose bits differ between two saved runs, and the
    largest absolute difference among them."""
    import torch

    a = torch.load(a_file, map_location="cpu", weights_only=True)[path]
    b = torch.load(b_file, map_location="cpu", weights_only=True)[path]
    differing = bitwise_ne(a, b)
    count = int(differing.sum())
    gap = None
    if count and a.dtype != torch.bool:
        wide = torch.complex128 if a.is_complex() else torch.float64
        gap = float((a.to(wide) - b.to(wide)).abs()[differing].max())
    return {"status": "ok", "count": count, "numel": a.numel(), "max_abs_diff": gap}


def diff_main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m mlaudit.probe.worker diff")
    parser.add_argument("--a", required=True)
    parser.add_argument("--b", required=True)
    parser.add_argument("--path", required=True, help="the tensor's name path")
    parser.add_argument("--result", required=True)
    args = parser.parse_args(argv)
    warnings.filterwarnings("ignore", message="Failed to initialize NumPy")
    result = diff_saved(Path(args.a), Path(args.b), args.path)
    Path(args.result).write_text(json.dumps(result), encoding="utf-8")
    return 0


def parse_args(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m mlaudit.probe.worker")
    parser.add_argument("--root", required=True)
    parser.add_argument("--target", required=True)
    parser.add_argument("--seed", type=int, required=True)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--result", required=True, help="where to write the JSON result")
    parser.add_argument("--save", default="", help="torch.save the returned tensors here")
    parser.add_argument("--save-limit", type=int, default=512 * 2**20)
    parser.add_argument("--deterministic", action="store_true", help="use_deterministic_algorithms(True)")
    parser.add_argument("--deterministic-warn", action="store_true", help="the same with warn_only=True")
    parser.add_argument("--hooks", action="store_true", help="trace every module's forward")
    parser.add_argument("--steps", type=int, default=0, help="pass steps=N to the target")
    parser.add_argument("--save-to", default="", help="pass save_to=PATH: save a checkpoint after the steps")
    parser.add_argument("--resume-from", default="", help="pass resume_from=PATH: load it, then train")
    parser.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    return parser.parse_args(argv)


def become_subreaper() -> None:
    """Orphans of the step (children that called setsid() and lost their parent) re-parent to
    this worker instead of init, so `kill_descendants` still finds them (Linux only)."""
    if sys.platform.startswith("linux"):
        try:
            ctypes.CDLL(None, use_errno=True).prctl(36, 1, 0, 0, 0)  # PR_SET_CHILD_SUBREAPER
        except (OSError, AttributeError):
            pass


def descendants_of(pid: int) -> set[int]:
    """Every process below `pid`, from /proc (empty where there is none)."""
    children: dict[int, list[int]] = {}
    try:
        entries = [e for e in os.listdir("/proc") if e.isdigit()]
    except OSError:
        return set()
    for entry in entries:
        try:
            with open(f"/proc/{entry}/stat", encoding="ascii", errors="replace") as stat:
                text = stat.read()
        except OSError:
            continue
        fields = text[text.rfind(")") + 2 :].split()
        if len(fields) > 1 and fields[1].isdigit():
            children.setdefault(int(fields[1]), []).append(int(entry))
    found: set[int] = set()
    todo = [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            if child not in found:
                found.add(child)
                todo.append(child)
    return found


def kill_descendants() -> None:
    """SIGKILL whatever the step left running below this worker (the parent sweeps again after)."""
    for _ in range(3):
        pids = descendants_of(os.getpid())
        if not pids:
            return
        for pid in pids:
            try:
                os.kill(pid, signal.SIGKILL)
            except (ProcessLookupError, PermissionError):
                pass
        for pid in pids:
            try:
                os.waitpid(pid, 0)
            except (ChildProcessError, OSError):
                pass


def write_result(path: str, result: dict[str, Any]) -> None:
    try:
        text = json.dumps(result)
    except (TypeError, ValueError) as exc:
        text = json.dumps(error("internal", f"the probe could not encode its result: {exc}"))
    Path(path).write_text(text, encoding="utf-8")


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["diff"]:
        return diff_main(argv[1:])
    args = parse_args(argv)
    # At a timeout the parent sends SIGUSR1 first: the stack dump shows where the step hung.
    if hasattr(signal, "SIGUSR1"):
        faulthandler.register(signal.SIGUSR1, all_threads=True)
    become_subreaper()
    try:
        result = run(args)
    except BaseException as exc:  # noqa: BLE001 - a failure of the probe itself, reported as such
        message = f"the probe's worker failed: {type(exc).__name__}: {exc}"
        result = error("internal", message, "".join(traceback.format_exception(exc)))
    write_result(args.result, result)
    return 0


def finish(code: int) -> None:
    """Leave now: the result is written, so a thread or child the step left behind must not keep
    the process alive until the timeout (os._exit skips joining non-daemon threads)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    kill_descendants()
    os._exit(code)


if __name__ == "__main__":
    finish(main())
