"""What ML201 (hard-coded hyperparameters) knows about libraries: which calls take
hyperparameters and where, which objects and calls log a run's config (the trackers), which
parameters only matter for evaluation, and what a training loop looks like. Adding a library is
adding rows here.
"""

from __future__ import annotations

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
