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

    def __init__(self, draws: DrawWatch | None = None) -> None:
        self.before: dict[str, str] = {}
        self.seeds: dict[str, list[str]] = {name: [] for name in self.SEEDERS}
        self.patched: list[tuple[Any, str, Any]] = []
        self.draws = draws  # told when a stream is seeded: draws after that are no longer traced

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
            if value is not None and self.draws is not None:
                self.draws.seeded(stream)
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


# Where each global stream is drawn from, for naming the first draw of a stream nothing had seeded:
# (stream, module, attribute) rows. The functions of `random` and `numpy.random` bound to the global
# instance are found by walking their modules (every such function draws, but for the state ones).
TORCH_DRAWS = [
    *(("torch", name) for name in ("rand", "randn", "randint", "randperm", "normal", "bernoulli", "multinomial",
                                    "poisson", "rand_like", "randn_like", "randint_like", "dropout")),
    *(("torch.Tensor", name) for name in ("uniform_", "normal_", "random_", "bernoulli_", "exponential_",
                                           "geometric_", "cauchy_", "log_normal_", "bernoulli", "multinomial")),
    *(("torch.nn.functional", name) for name in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout",
                                                  "feature_alpha_dropout", "gumbel_softmax", "rrelu")),
]
STATE_FUNCTIONS = {"seed", "getstate", "setstate", "get_state", "set_state", "get_bit_generator",
                   "set_bit_generator", "default_rng", "RandomState", "Generator"}
LIBRARY_FOLDERS = ("site-packages", "dist-packages", "/lib/python")


def library_relative(file: str) -> str:
    """`torch/nn/init.py` for a file inside site-packages (where it is installed says nothing)."""
    for folder in ("site-packages", "dist-packages"):
        marker = f"{os.sep}{folder}{os.sep}"
        if marker in file:
            return file.split(marker, 1)[1].replace(os.sep, "/")
    return file


class DrawWatch:
    """The first call that drew from a global stream no seeding call had reached yet: the file
    and line in the project that made it (and the library function it went through), so ML901
    can say where an unseeded stream was drawn. A stream is watched only until it is seeded or
    drawn once; then its wrappers are removed, so a seeded step runs at full speed."""

    def __init__(self, root: Path) -> None:
        self.root = str(root.resolve())
        self.first: dict[str, dict[str, str]] = {}
        self.patched: dict[str, list[tuple[Any, str, Any, bool]]] = {}  # stream -> (owner, attr, original, own)
        self.depth = 0  # a wrapped function calling another (random.shuffle -> getrandbits): the outer one names it

    def install(self) -> None:
        import random

        # The module's functions are bound methods of one instance whose own methods call
        # self.random() / self.getrandbits(): instance attributes catch those calls too.
        instance = random._inst
        self.wrap("python", instance, "random")
        self.wrap("python", instance, "getrandbits")
        for name, value in sorted(vars(random).items()):
            if getattr(value, "__self__", None) is instance and name not in STATE_FUNCTIONS:
                self.wrap("python", random, name)
        numpy = sys.modules.get("numpy")
        rand = getattr(getattr(getattr(numpy, "random", None), "mtrand", None), "_rand", None)
        if numpy is not None and rand is not None:
            for name, value in sorted(vars(numpy.random).items()):
                if getattr(value, "__self__", None) is rand and name not in STATE_FUNCTIONS:
                    self.wrap("numpy", numpy.random, name)
        torch = sys.modules.get("torch")
        if torch is not None:
            for owner_name, name in TORCH_DRAWS:
                owner = torch.Tensor if owner_name == "torch.Tensor" else sys.modules.get(owner_name)
                self.wrap("torch", owner, name)

    def wrap(self, stream: str, owner: Any, name: str) -> None:
        original = getattr(owner, name, None)
        if owner is None or original is None or getattr(original, "_mlaudit_draw_watch", False):
            return
        own = name in vars(owner)  # else it is inherited (or a class method seen on an instance): delete to restore
        label = f"{getattr(owner, '__name__', 'random')}.{name}"

        def drawing(*args: Any, **kwargs: Any) -> Any:
            if stream not in self.patched or self.depth:
                return original(*args, **kwargs)
            before = self.state(stream)
            self.depth += 1
            try:
                result = original(*args, **kwargs)
            finally:
                self.depth -= 1
            if stream in self.patched and self.state(stream) != before:
                self.record(stream, label)
            return result

        drawing._mlaudit_draw_watch = True  # type: ignore[attr-defined]
        try:
            setattr(owner, name, drawing)
        except (AttributeError, TypeError):
            return
        self.patched.setdefault(stream, []).append((owner, name, original, own))

    @staticmethod
    def state(stream: str) -> Any:
        if stream == "python":
            import random

            return random.getstate()
        if stream == "numpy":
            _, keys, position, has_gauss, gauss = sys.modules["numpy"].random.get_state()
            return keys.tobytes(), position, has_gauss, gauss
        return torch_state_bytes(sys.modules["torch"].get_rng_state())

    def record(self, stream: str, function: str) -> None:
        """Name the innermost project frame (the caller's code) and the library frame it went through."""
        frame = sys._getframe(2)
        project, via = "", ""
        here = os.path.abspath(__file__)
        while frame is not None:
            file = os.path.abspath(frame.f_code.co_filename)
            if file != here:
                where = f"{library_relative(file)}:{frame.f_lineno}"
                if file.startswith(self.root + os.sep) and not any(f in file for f in LIBRARY_FOLDERS):
                    project = f"{os.path.relpath(file, self.root)}:{frame.f_lineno}"
                    break
                via = via or where
            frame = frame.f_back  # type: ignore[assignment]
        self.first[stream] = {"function": function, "site": project.replace(os.sep, "/"), "via": via}
        self.seeded(stream)

    def seeded(self, stream: str) -> None:
        """Stop watching `stream`: it is seeded (later draws are the seed's business) or already named."""
        for owner, name, original, own in reversed(self.patched.pop(stream, [])):
            try:
                if own:
                    setattr(owner, name, original)
                else:
                    delattr(owner, name)  # the inherited method (or the class's) shows again
            except (AttributeError, TypeError):
                pass

    def remove(self) -> None:
        for stream in list(self.patched):
            self.seeded(stream)


# The Trainers the probe drives for --steps and --resume-at: (framework, module defining the class,
# its training method). Patched when the module is imported (nothing is imported for it here).
TRAINERS = [
    ("lightning", "lightning.pytorch.trainer.trainer", "fit"),
    ("lightning", "pytorch_lightning.trainer.trainer", "fit"),
    ("transformers", "transformers.trainer", "train"),
]


class FrameworkRuns:
    """Lightning's `Trainer.fit` and Hugging Face's `Trainer.train`, driven as the probe asks:
    `steps` sets max_steps (Lightning's fast_dev_run, which would cap it, is dropped); `save_to`
    saves the framework's own checkpoint after training (`trainer.save_checkpoint`, HF's
    `checkpoint-N` folder); `resume_from` passes it back (`ckpt_path=`, `resume_from_checkpoint=`).
    Records which framework trained, so a target with no `steps`/`save_to` parameters is still
    driven when it trains through one of them."""

    def __init__(self, steps: int = 0, save_to: str = "", resume_from: str = "", total_steps: int = 0) -> None:
        # With save_to, the Trainer is set up for `total_steps` (its LR schedule depends on it) and
        # stopped and saved after `steps`, as a run interrupted there would have saved.
        self.steps, self.save_to, self.resume_from = steps, save_to, resume_from
        self.max_steps = total_steps if save_to and total_steps else steps
        self.ran: list[str] = []
        self.patched: list[tuple[Any, str, Any]] = []
        self.finder: Any = None

    def install(self) -> None:
        import importlib.abc
        import importlib.machinery

        wanted = {module: (framework, method) for framework, module, method in TRAINERS}
        for name in wanted:
            if name in sys.modules:
                self.patch(sys.modules[name], *wanted[name])
        runs = self

        class Finder(importlib.abc.MetaPathFinder):
            def find_spec(self, name: str, path: Any, target: Any = None) -> Any:
                if name not in wanted:
                    return None
                spec = importlib.machinery.PathFinder.find_spec(name, path)
                loader = getattr(spec, "loader", None)
                if spec is None or not hasattr(loader, "exec_module"):
                    return None
                execute = loader.exec_module  # type: ignore[union-attr]

                def exec_and_patch(module: Any) -> None:
                    execute(module)
                    runs.patch(module, *wanted[name])

                loader.exec_module = exec_and_patch  # type: ignore[union-attr]
                return spec

        self.finder = Finder()
        sys.meta_path.insert(0, self.finder)

    def patch(self, module: Any, framework: str, method: str) -> None:
        trainer = getattr(module, "Trainer", None)
        if trainer is None or getattr(getattr(trainer, method, None), "_mlaudit_framework", False):
            return
        wrappers = {"lightning": (self.lightning_init, self.lightning_fit), "transformers": (None, self.hf_train)}
        init, train = wrappers[framework]
        for name, make in (("__init__", init), (method, train)):
            if make is not None:
                original = trainer.__dict__.get(name) or getattr(trainer, name)
                wrapper = make(original)
                wrapper._mlaudit_framework = True
                setattr(trainer, name, wrapper)
                self.patched.append((trainer, name, original))

    def lightning_init(self, original: Any) -> Any:
        def __init__(trainer: Any, *args: Any, **kwargs: Any) -> None:
            if self.steps:
                if kwargs.pop("fast_dev_run", None):  # it would cap the steps; it also turned these off
                    kwargs.update(logger=False, enable_checkpointing=False, limit_val_batches=0, num_sanity_val_steps=0)
                kwargs.update(max_steps=self.max_steps, max_epochs=-1)
            original(trainer, *args, **kwargs)

        return __init__

    def lightning_fit(self, original: Any) -> Any:
        def fit(trainer: Any, *args: Any, **kwargs: Any) -> Any:
            self.ran.append("lightning")
            if self.resume_from:
                if len(args) >= 5:
                    args = (*args[:4], self.resume_from, *args[5:])
                else:
                    kwargs["ckpt_path"] = self.resume_from
            if self.save_to:
                trainer.callbacks.append(self.lightning_stop(trainer))
            return original(trainer, *args, **kwargs)

        return fit

    def lightning_stop(self, trainer: Any) -> Any:
        """A callback that saves the checkpoint after step `steps` and stops the fit there."""
        package = type(trainer).__module__.split(".trainer")[0]  # lightning.pytorch or pytorch_lightning
        callback = importlib.import_module(f"{package}.callbacks").Callback
        runs = self

        class SaveAndStop(callback):  # type: ignore[misc, valid-type]
            def on_train_batch_end(self, trainer: Any, *args: Any) -> None:
                if trainer.global_step >= runs.steps and not trainer.should_stop:
                    trainer.save_checkpoint(runs.save_to)
                    trainer.should_stop = True

        return SaveAndStop()

    def hf_train(self, original: Any) -> Any:
        def train(trainer: Any, *args: Any, **kwargs: Any) -> Any:
            self.ran.append("transformers")
            if self.steps:
                trainer.args.max_steps = self.max_steps
            if self.resume_from:
                folders = sorted(Path(self.resume_from).glob("checkpoint-*"))
                kwargs["resume_from_checkpoint"] = str(folders[-1] if folders else self.resume_from)
                args = args[1:]  # resume_from_checkpoint is the first parameter
            if self.save_to:
                trainer.args.output_dir = self.save_to  # HF writes checkpoint-<global step> into it
                trainer.add_callback(self.hf_stop())
            return original(trainer, *args, **kwargs)

        return train

    def hf_stop(self) -> Any:
        """A callback that has the Trainer save its checkpoint after step `steps` and stop there."""
        callback = importlib.import_module("transformers").TrainerCallback
        runs = self

        class SaveAndStop(callback):  # type: ignore[misc, valid-type]
            def on_step_end(self, args: Any, state: Any, control: Any, **kwargs: Any) -> Any:
                if state.global_step >= runs.steps:
                    control.should_save = True
                    control.should_training_stop = True
                return control

        return SaveAndStop()

    def remove(self) -> None:
        if self.finder in sys.meta_path:
            sys.meta_path.remove(self.finder)
        for owner, name, original in reversed(self.patched):
            setattr(owner, name, original)


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
        self.modules: dict[str, Any] = {}  # those modules by name, so --explain's hook trace can name theirs
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
            self.modules.setdefault(prefix, best[1])
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
    seedless = not takes_parameter(func, "seed")  # run as is, like a test: it seeds itself
    # A target without `steps` / `save_to` parameters is driven through its Trainer instead, if it has one.
    usage = target_usage(args, func) if not seedless else ""
    own = not seedless and not usage

    trace = HookTrace()
    if args.hooks:
        trace.install()
    watchers = Watchers(root, args, drive=not own)
    watchers.install()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            if seedless:
                returned = func()
            elif own:
                returned = call_target(func, args.seed, device, args.steps, checkpoint_args(args))
            else:
                returned = call_target(func, args.seed, device)
            if device.startswith("cuda"):
                torch.cuda.synchronize()  # an asynchronous CUDA error belongs to the step
        except BaseException as exc:  # noqa: BLE001 - any failure of the step, sys.exit() and KeyboardInterrupt too
            message = f"`{args.target}` raised {type(exc).__name__}: {exc}{default_device_hint(func, device)}"
            return error("exception", message, target_traceback(exc))
        finally:
            trace.remove()
            watchers.remove()
    # A function run as is, or one that returns nothing (it trained through a Trainer): what its
    # optimizers stepped is what is compared.
    by_steps = seedless or (returned is None and bool(watchers.steps.optimizers))
    if not own and (args.steps or args.save_to or args.resume_from) and not watchers.frameworks.ran:
        return error("usage", usage or watchers.undriven(args))
    if by_steps:
        problem = watchers.seedless_problem(args)
        if problem:
            return error(*problem)
        returned = watchers.steps.stepped()

    try:
        known = {k: f"stepped.{v}" for k, v in watchers.steps.module_names.items()} if by_steps else None
        modules = watchers.steps.modules if by_steps else None
        result = fingerprint_return(args, root, returned, device, started, caught, trace, known, modules)
        result.update(watchers.results(returned), seeds_itself=seedless)
        return result
    except BadReturn as exc:
        return error("bad_return", f"`{args.target}` returned something the probe cannot compare: {exc}")
    except Exception as exc:  # noqa: BLE001 - e.g. a state_dict() that raises, a tensor on the meta device
        message = f"cannot fingerprint what `{args.target}` returned: {type(exc).__name__}: {exc}"
        return error("bad_return", message, target_traceback(exc))


def target_usage(args: argparse.Namespace, func: Any) -> str:
    """Why a `step(seed, ...)` target cannot do what --steps / --resume-at ask, or ""."""
    if (args.save_to or args.resume_from) and not (
        takes_parameter(func, "save_to") and takes_parameter(func, "resume_from")
    ):
        return (
            f"--resume-at needs a target with `save_to` and `resume_from` parameters: `{args.target}` should "
            "save its checkpoint to `save_to` after its `steps` steps when it is given, and load `resume_from` "
            "before training when that is given (both default None)"
        )
    if args.steps and not takes_parameter(func, "steps"):
        return (
            f"--steps {args.steps} needs a target with a `steps` parameter: give `{args.target}` a "
            "`steps: int = 1` parameter that sets how many optimizer steps it runs"
        )
    return ""


class Watchers:
    """Everything recorded around the step: optimizer steps, the data fed to models, the random
    streams (and where an unseeded one was first drawn), and the frameworks' Trainers."""

    def __init__(self, root: Path, args: argparse.Namespace, drive: bool = True) -> None:
        self.steps = StepTrace()
        self.data = DataTrace(self.steps)
        self.draws = DrawWatch(root)
        self.rng = RngWatch(self.draws)
        # `drive`: --steps / --resume-at go to the Trainer (not when the target takes them itself)
        self.frameworks = FrameworkRuns(*((args.steps, args.save_to, args.resume_from, args.total_steps) if drive else ()))

    def install(self) -> None:
        for watcher in (self.frameworks, self.steps, self.data, self.draws, self.rng):
            watcher.install()

    def remove(self) -> None:
        for watcher in (self.rng, self.draws, self.data, self.steps, self.frameworks):
            watcher.remove()

    def results(self, returned: Any) -> dict[str, Any]:
        return {
            "rng": self.rng.report(),
            "draws": self.draws.first,
            "data": self.data.calls,
            "steps": self.steps.named(returned),
            "frameworks": sorted(set(self.frameworks.ran)),
        }

    def seedless_problem(self, args: argparse.Namespace) -> tuple[str, str] | None:
        """A target run as is (a test, or a function with no `seed`) must have stepped an optimizer,
        and for --steps / --resume-at trained through a Trainer the probe can drive."""
        if not self.steps.optimizers:
            return (
                "bad_return",
                f"`{args.target}` ran no torch.optim optimizer step, so there is nothing to fingerprint; point "
                "--target at a test or function that trains",
            )
        if (args.steps or args.save_to or args.resume_from) and not self.frameworks.ran:
            return ("usage", self.undriven(args))
        return None

    @staticmethod
    def undriven(args: argparse.Namespace) -> str:
        option = "--resume-at" if args.save_to or args.resume_from else f"--steps {args.steps}"
        return (
            f"{option} needs a target that takes `steps` (and `save_to`/`resume_from`), or one that trains "
            f"with a Lightning or Hugging Face Trainer the probe can drive; `{args.target}` does neither"
        )


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
    trace = HookTrace()
    if args.hooks:
        trace.install()
    watchers = Watchers(root, args)
    watchers.install()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            code = pytest.main([f"{path}::{test}", "--rootdir", str(root), *PYTEST_ARGS])
        finally:
            trace.remove()
            watchers.remove()
    if int(code) == 5:
        return error("import", f"pytest collected no test `{test}` in {file}")
    if int(code) != 0:
        return error("exception", f"`{args.target}` failed under pytest (exit status {int(code)}); its output is below")
    problem = watchers.seedless_problem(args)
    if problem:
        return error(*problem)
    returned = watchers.steps.stepped()
    known = {k: f"stepped.{v}" for k, v in watchers.steps.module_names.items()}
    result = fingerprint_return(args, root, returned, device, started, caught, trace, known, watchers.steps.modules)
    result.update(watchers.results(returned), seeds_itself=True)
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
    modules: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """`modules`: for a target run as is, the live modules its optimizers stepped (named in the hook trace)."""
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
        result["hooks"] = trace.named(modules if modules is not None else returned, root)
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
    parser.add_argument("--total-steps", type=int, default=0, help="a framework Trainer set up for this many steps")
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
    """Every process below `pid`, from /proc (empty where there is none). The same walk as
    `mlaudit.probe.reaper.descendants`: the worker imports nothing from mlaudit (it runs as a
    standalone script in the project's interpreter), so it keeps its own copy."""
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
