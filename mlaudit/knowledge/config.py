"""What the config family knows about libraries and conventions. Adding a library is adding rows here.

- ML201 (hard-coded hyperparameters): which calls take hyperparameters and where, which objects and
  calls log a run's config (the trackers), which parameters only matter for evaluation, and what a
  training loop looks like.
- The config facts (`mlaudit.facts.config`): which names and annotations usually hold a config,
  which calls load or compose one, which declare command-line options, and which comments mark a
  flag as a switch to flip.
"""

from __future__ import annotations

import functools
import re

# Hyperparameter sinks: callee -> (keyword names, positional index -> keyword name).
# Prefix entries end with "."; the longest matching prefix wins. Rules extend this table with the
# ML201 option `extend-sinks` (same shape, lists instead of tuples).
_OPTIMIZER = (("lr", "weight_decay", "momentum", "betas", "eps", "alpha", "rho", "dampening"), {1: "lr"})
_SCHEDULER_KW = (
    "step_size", "gamma", "milestones", "T_max", "T_0", "T_mult", "eta_min", "max_lr", "base_lr",
    "total_steps", "pct_start", "factor", "patience", "warmup_steps", "num_warmup_steps",
    "num_training_steps", "power", "end_factor", "start_factor", "total_iters",
)
HYPERPARAMETER_SINKS: dict[str, tuple[tuple[str, ...], dict[int, str]]] = {
    "torch.optim.": _OPTIMIZER,
    "torch.optim.lr_scheduler.": (_SCHEDULER_KW, {}),
    "torch.optim.lr_scheduler.CyclicLR": (_SCHEDULER_KW, {1: "base_lr", 2: "max_lr"}),
    "torch.optim.lr_scheduler.CosineAnnealingWarmRestarts": (_SCHEDULER_KW, {1: "T_0"}),
    "torch.optim.lr_scheduler.PolynomialLR": (_SCHEDULER_KW, {1: "total_iters", 2: "power"}),
    "torch.optim.lr_scheduler.ExponentialLR": (_SCHEDULER_KW, {1: "gamma"}),
    "torch.optim.lr_scheduler.CosineAnnealingLR": (_SCHEDULER_KW, {1: "T_max"}),
    "torch.optim.lr_scheduler.MultiStepLR": (_SCHEDULER_KW, {1: "milestones", 2: "gamma"}),
    "torch.optim.lr_scheduler.StepLR": (_SCHEDULER_KW, {1: "step_size", 2: "gamma"}),
    "torch.optim.lr_scheduler.OneCycleLR": (_SCHEDULER_KW, {1: "max_lr"}),
    "torch.optim.lr_scheduler.LambdaLR": ((), {}),
    "torch.optim.lr_scheduler.ReduceLROnPlateau": (("factor", "patience"), {}),
    "timm.optim.": _OPTIMIZER,
    "timm.optim.create_optimizer_v2": (("lr", "weight_decay", "momentum"), {}),
    "bitsandbytes.optim.": _OPTIMIZER,
    "transformers.AdamW": _OPTIMIZER,
    "transformers.Adafactor": (("lr", "weight_decay", "eps"), {}),
    "transformers.optimization.AdamW": _OPTIMIZER,
    "transformers.optimization.Adafactor": (("lr", "weight_decay", "eps"), {}),
    "transformers.get_linear_schedule_with_warmup": (
        ("num_warmup_steps", "num_training_steps"), {1: "num_warmup_steps", 2: "num_training_steps"}),
    "transformers.get_cosine_schedule_with_warmup": (
        ("num_warmup_steps", "num_training_steps"), {1: "num_warmup_steps", 2: "num_training_steps"}),
    "transformers.get_scheduler": (("num_warmup_steps", "num_training_steps"), {}),
    "torch.utils.data.DataLoader": (("batch_size",), {1: "batch_size"}),
    "torch.utils.data.dataloader.DataLoader": (("batch_size",), {1: "batch_size"}),
    "torch.nn.utils.clip_grad_norm_": (("max_norm",), {1: "max_norm"}),
    "torch.nn.utils.clip_grad_value_": (("clip_value",), {1: "clip_value"}),
    "torch.nn.utils.clip_grad.clip_grad_norm_": (("max_norm",), {1: "max_norm"}),
    "torch.nn.Dropout": (("p",), {0: "p"}),
    "torch.nn.Dropout1d": (("p",), {0: "p"}),
    "torch.nn.Dropout2d": (("p",), {0: "p"}),
    "torch.nn.Dropout3d": (("p",), {0: "p"}),
    "torch.nn.AlphaDropout": (("p",), {0: "p"}),
    "torch.nn.functional.dropout": (("p",), {1: "p"}),
}
# Run-config objects: their arguments *are* the run's config (the trainer logs them, a tracker
# records them, `--help` lists them), so a literal given to one is where a hyperparameter belongs,
# and a constant passed to one is logged wherever else it is used. `trl.<X>Config` counts too.
RUN_CONFIG_OBJECTS = frozenset(
    {
        "transformers.TrainingArguments", "transformers.Seq2SeqTrainingArguments",
        "transformers.training_args.TrainingArguments", "lightning.Trainer", "lightning.pytorch.Trainer",
        "pytorch_lightning.Trainer", "lightning.pytorch.trainer.Trainer", "lightning.fabric.Fabric",
        "lightning.Fabric", "accelerate.utils.ProjectConfiguration",
    }
)
RUN_CONFIG_PREFIX_SUFFIX = (("trl.", "Config"),)
# Calls that log a run config passed to them: callee -> keyword (None: the first positional).
RUN_CONFIG_LOGGERS = {"wandb.init": "config", "wandb.config.update": None, "mlflow.log_params": None}
# Sinks whose value only sets the speed of evaluation, not the result, when the object is an
# evaluation one (`eval_loader = DataLoader(ds, batch_size=EVAL_BATCH_SIZE)`): callee -> parameter.
EVALUATION_ONLY_PARAMS = {
    "torch.utils.data.DataLoader": "batch_size", "torch.utils.data.dataloader.DataLoader": "batch_size",
}
EVALUATION_NAME = re.compile(r"(?:^|_)(?:eval|evaluation|test|val|valid|validation|predict|inference)(?:_|$)",
                             re.IGNORECASE)
# A `for epoch in range(N)` loop trains only when its body calls something named like training
# (`train_one_epoch`, `loss.backward`, `optimizer.step`, `model(x)`); a loop that only simulates
# metrics for a logging demo is not a training loop.
TRAINING_CALL = re.compile(r"train|step|backward|fit|optim|forward|loss|model|net|epoch|batch|learn", re.IGNORECASE)
# Sinks that are not hyperparameters even though they match a prefix above.
NOT_SINKS = frozenset({"torch.optim.lr_scheduler", "torch.optim.Optimizer", "torch.optim.swa_utils.AveragedModel"})
# A `for <name> in range(N)` loop drives training when its variable is named like this.
LOOP_VARIABLE = re.compile(r"^(?:\w+_)?(?:epoch|epochs|ep|step|steps|iteration|iter|it|itr)(?:_\w+)?$")


# --- where configs come from and how code reads them (mlaudit.facts.config) ---------------------

# Names that usually hold a configuration object. Reads through them are "ambiguous": we do not
# know which config subtree they point at, so they only ever make rules quieter.
CONFIG_NAMES = frozenset(
    {"cfg", "config", "conf", "configs", "hparams", "hp", "hps", "params", "args", "opt", "opts",
     "options", "settings", "hyperparams", "hyperparameters", "flags", "FLAGS", "training_args"}
)
CONFIG_NAME_SUFFIXES = ("_cfg", "_config", "_conf", "_params", "_hparams", "_args", "cfg")
CONFIG_NAME_PREFIXES = ("cfg_", "config_", "conf_")
CONFIG_ANNOTATIONS = frozenset({"DictConfig", "ListConfig", "Namespace", "TrainingArguments"})


@functools.lru_cache(maxsize=8192)  # asked for names that repeat across files
def is_config_name(name: str) -> bool:
    return name in CONFIG_NAMES or name.endswith(CONFIG_NAME_SUFFIXES) or name.startswith(CONFIG_NAME_PREFIXES)


# Calls whose result is a whole config file.
YAML_LOADERS = frozenset(
    {"omegaconf.OmegaConf.load", "yaml.safe_load", "yaml.load", "yaml.full_load", "yaml.unsafe_load"}
)
HYDRA_COMPOSE = frozenset({"hydra.compose", "hydra.experimental.compose"})
HYDRA_INITIALIZE = frozenset(
    {"hydra.initialize", "hydra.experimental.initialize", "hydra.initialize_config_module"}
)
HYDRA_MAIN = "hydra.main"
DVC_PARAMS = frozenset({"dvc.api.params_show"})
# Calls that register config schemas in code (Hydra's ConfigStore, structured configs).
CONFIG_STORE_SUFFIX = "ConfigStore.instance"
STRUCTURED_CONFIG = "omegaconf.OmegaConf.structured"
OMEGACONF_SELECT = "omegaconf.OmegaConf.select"
# Sweep agents: the function they run gets its config from the sweep controller.
SWEEP_AGENTS = frozenset({"wandb.agent"})
# Methods of DictConfig / dict: calling them reads no key of that name.
MAPPING_METHODS = frozenset(
    {"get", "items", "keys", "values", "pop", "copy", "update", "setdefault", "merge_with", "to_dict",
     "to_container", "_get_node", "__contains__", "__getitem__", "__getattr__", "__dict__"}
)
OPTIONAL_GETTERS = frozenset({"get", "pop", "setdefault"})
# `exec(open("configurator.py").read())`: module globals are overridable config (nanoGPT).
EXEC_CALLS = frozenset({"builtins.exec"})

# Command-line options and config classes declared in code.
DATACLASS_DECORATORS = frozenset(
    {"dataclasses.dataclass", "dataclass", "pydantic.dataclasses.dataclass", "attr.s", "attrs.define"}
)
ARGPARSE_ADD = "add_argument"
CLICK_OPTIONS = frozenset({"click.option", "click.argument", "typer.Option", "typer.Argument"})

# A Colab/Jupyter form field: `use_wandb = True  #@param {type:"boolean"}` is a checkbox.
FORM_FIELD = re.compile(r"#\s*@param\b")
# A comment that documents a flag as a switch to flip ("set False to skip training", "override from
# the command line", "If `True`, ... if `False`, ...", "this flag can alleviate ..."): the other
# value is a supported use, not dead code. Read on YAML keys and on Python constants and fields.
DOCUMENTED_SWITCH = re.compile(
    r"\b(set (it |this )?(to )?(true|false)|if `?(true|false)\b|command[- ]line|override|overwrite|enable|disable"
    r"|toggle|switch|flag|turn (it )?(on|off))\b", re.IGNORECASE)
# Keys of a tracker's run object that hold the run's config (`run["parameters"] = ...`, neptune).
TRACKER_KEYS = re.compile(r"param|config|hparam|args", re.IGNORECASE)
