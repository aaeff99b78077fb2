"""What mlaudit knows about randomness in ML libraries, as data.

Names are fully qualified, resolved through imports (`import numpy as np; np.random.seed` is
"numpy.random.seed"). Adding a library is adding a line here; the extractor in
`mlaudit.facts.randomness` and the ML1xx rules read only these tables.

RNG families: "torch" (torch's default CPU generator, which `torch.manual_seed` also applies to
CUDA), "cuda" (the per-device CUDA generators only), "numpy" (numpy's legacy global RandomState),
"random" (Python's `random` module), "tensorflow" (TF's global seed).
"""

from __future__ import annotations

from typing import NamedTuple

TORCH, CUDA, NUMPY, PYRANDOM, TF = "torch", "cuda", "numpy", "random", "tensorflow"
GLOBAL_FAMILIES: tuple[str, ...] = (TORCH, NUMPY, PYRANDOM, TF)
FAMILY_LABELS = {
    TORCH: "torch",
    CUDA: "torch CUDA",
    NUMPY: "numpy's global",
    PYRANDOM: "Python's random",
    TF: "TensorFlow",
}
# The call that seeds each family, suggested in messages.
FAMILY_SEED_CALL = {
    TORCH: "torch.manual_seed(seed)",
    CUDA: "torch.manual_seed(seed)",
    NUMPY: "np.random.seed(seed)",
    PYRANDOM: "random.seed(seed)",
    TF: "tf.random.set_seed(seed)",
}

_EVERYTHING = frozenset({TORCH, CUDA, NUMPY, PYRANDOM})
_LIGHTNING_SEED = _EVERYTHING
_HF_SEED = _EVERYTHING | {TF}
_KERAS_SEED = frozenset({PYRANDOM, NUMPY, TF})

# Seeding APIs -> the families each seeds.
SEEDERS: dict[str, frozenset[str]] = {
    "torch.manual_seed": frozenset({TORCH, CUDA}),
    "torch.random.manual_seed": frozenset({TORCH, CUDA}),
    "torch.cuda.manual_seed": frozenset({CUDA}),
    "torch.cuda.manual_seed_all": frozenset({CUDA}),
    "numpy.random.seed": frozenset({NUMPY}),
    "random.seed": frozenset({PYRANDOM}),
    "tensorflow.random.set_seed": frozenset({TF}),
    "tensorflow.set_random_seed": frozenset({TF}),
    "tensorflow.compat.v1.set_random_seed": frozenset({TF}),
    "tensorflow.keras.utils.set_random_seed": _KERAS_SEED,
    "keras.utils.set_random_seed": _KERAS_SEED,
    "lightning.seed_everything": _LIGHTNING_SEED,
    "lightning.pytorch.seed_everything": _LIGHTNING_SEED,
    "lightning.fabric.seed_everything": _LIGHTNING_SEED,
    "lightning.fabric.utilities.seed.seed_everything": _LIGHTNING_SEED,
    "lightning.pytorch.utilities.seed.seed_everything": _LIGHTNING_SEED,
    "lightning_fabric.seed_everything": _LIGHTNING_SEED,
    "lightning_fabric.utilities.seed.seed_everything": _LIGHTNING_SEED,
    "pytorch_lightning.seed_everything": _LIGHTNING_SEED,
    "pytorch_lightning.utilities.seed.seed_everything": _LIGHTNING_SEED,
    "lightning.Fabric.seed_everything": _LIGHTNING_SEED,
    "lightning.fabric.Fabric.seed_everything": _LIGHTNING_SEED,
    "transformers.set_seed": _HF_SEED,
    "transformers.trainer_utils.set_seed": _HF_SEED,
    "transformers.enable_full_determinism": _HF_SEED,
    "transformers.trainer_utils.enable_full_determinism": _HF_SEED,
    "accelerate.utils.set_seed": _EVERYTHING,
    "accelerate.utils.random.set_seed": _EVERYTHING,
    # ColossalAI's launchers call its set_seed(seed) with a default seed of 1024.
    "colossalai.launch": _EVERYTHING,
    "colossalai.launch_from_torch": _EVERYTHING,
    "colossalai.launch_from_slurm": _EVERYTHING,
    "colossalai.launch_from_openmpi": _EVERYTHING,
    "ray.train.torch.enable_reproducibility": _EVERYTHING,
    "detectron2.utils.env.seed_all_rng": _EVERYTHING,
}

# Seeding calls that pick a seed from the OS entropy pool when given no argument (ML107).
SEED_FROM_ENTROPY_WITHOUT_ARGUMENT = frozenset({"random.seed", "numpy.random.seed"})
# Calls that reseed with a nondeterministic seed of torch's choosing (ML107); they seed these families.
ENTROPY_SEEDERS: dict[str, frozenset[str]] = {
    "torch.seed": frozenset({TORCH, CUDA}),
    "torch.random.seed": frozenset({TORCH, CUDA}),
    "torch.cuda.seed": frozenset({CUDA}),
    "torch.cuda.seed_all": frozenset({CUDA}),
}

# Constructors that seed as a side effect: HF Trainer.__init__ calls set_seed(args.seed);
# LightningCLI calls seed_everything unless `seed_everything_default=False`.
SEEDING_CONSTRUCTORS: dict[str, frozenset[str]] = {
    "transformers.Trainer": _EVERYTHING,
    "transformers.Seq2SeqTrainer": _EVERYTHING,
    "transformers.trainer.Trainer": _EVERYTHING,
    "trl.SFTTrainer": _EVERYTHING,
    "lightning.pytorch.cli.LightningCLI": _LIGHTNING_SEED,
    "pytorch_lightning.cli.LightningCLI": _LIGHTNING_SEED,
    "pytorch_lightning.utilities.cli.LightningCLI": _LIGHTNING_SEED,
    "lightning.pytorch.LightningCLI": _LIGHTNING_SEED,
}
LIGHTNING_CLIS = frozenset(n for n in SEEDING_CONSTRUCTORS if n.endswith("LightningCLI"))

# --- random sources ----------------------------------------------------------------------------

TORCH_RANDOM_FUNCTIONS = frozenset(
    f"torch.{n}"
    for n in (
        "rand", "rand_like", "randn", "randn_like", "randint", "randint_like", "randperm", "normal",
        "bernoulli", "multinomial", "poisson",
    )
)
# torch.nn.init functions that draw random numbers (constant_, zeros_, ones_, eye_, dirac_ do not).
TORCH_INIT_RANDOM = frozenset(
    f"torch.nn.init.{n}"
    for n in (
        "uniform_", "normal_", "trunc_normal_", "xavier_uniform_", "xavier_normal_", "kaiming_uniform_",
        "kaiming_normal_", "orthogonal_", "sparse_",
    )
)
# Layers whose constructor draws their initial weights from torch's RNG.
TORCH_RANDOM_LAYERS = frozenset(
    f"torch.nn.{n}"
    for n in (
        "Linear", "Bilinear", "LazyLinear", "Conv1d", "Conv2d", "Conv3d", "ConvTranspose1d", "ConvTranspose2d",
        "ConvTranspose3d", "LazyConv1d", "LazyConv2d", "LazyConv3d", "Embedding", "EmbeddingBag", "RNN", "LSTM",
        "GRU", "RNNCell", "LSTMCell", "GRUCell", "MultiheadAttention", "Transformer", "TransformerEncoderLayer",
        "TransformerDecoderLayer",
    )
)
# Layers and functions that draw random numbers while training (not at construction).
TORCH_TRAINING_RANDOM = frozenset(
    [f"torch.nn.{n}" for n in ("Dropout", "Dropout1d", "Dropout2d", "Dropout3d", "AlphaDropout", "FeatureAlphaDropout")]
    + [f"torch.nn.functional.{n}" for n in ("dropout", "dropout1d", "dropout2d", "dropout3d", "alpha_dropout", "gumbel_softmax")]
)
# In-place tensor methods that fill from torch's RNG; matched on the method name.
TORCH_RANDOM_METHODS = frozenset(
    {"normal_", "uniform_", "bernoulli_", "random_", "exponential_", "cauchy_", "log_normal_", "geometric_"}
)
# Data utilities that draw from torch's global RNG unless given `generator=`.
TORCH_DATA_RANDOM = frozenset(
    {
        "torch.utils.data.random_split",
        "torch.utils.data.RandomSampler",
        "torch.utils.data.SubsetRandomSampler",
        "torch.utils.data.WeightedRandomSampler",
        "torch.utils.data.sampler.RandomSampler",
        "torch.utils.data.dataset.random_split",
    }
)
DATALOADERS = frozenset({"torch.utils.data.DataLoader", "torch.utils.data.dataloader.DataLoader"})
# Model constructors of other libraries that initialise weights randomly unless pretrained.
MODEL_ZOO_PREFIXES = ("torchvision.models.",)
PRETRAINED_KWARGS = ("weights", "pretrained", "weights_backbone")
TORCHVISION_TRANSFORM_PREFIXES = ("torchvision.transforms.", "torchvision.transforms.v2.")
TORCHVISION_RANDOM_TRANSFORMS = frozenset(
    {"ColorJitter", "RandAugment", "AutoAugment", "TrivialAugmentWide", "AugMix", "GaussianBlur", "ElasticTransform"}
)

# numpy's legacy global RandomState functions (the ones `np.random.seed` seeds).
NUMPY_GLOBAL_FUNCTIONS = frozenset(
    f"numpy.random.{n}"
    for n in (
        "rand", "randn", "randint", "random", "random_sample", "ranf", "sample", "choice", "shuffle", "permutation",
        "normal", "uniform", "binomial", "poisson", "beta", "gamma", "exponential", "multivariate_normal",
        "standard_normal", "laplace", "lognormal", "multinomial", "dirichlet", "geometric", "bytes", "random_integers",
        "triangular", "logistic", "gumbel", "chisquare", "f", "weibull", "pareto", "power", "rayleigh", "vonmises",
        "wald", "zipf", "hypergeometric", "negative_binomial", "standard_cauchy", "standard_exponential",
        "standard_gamma", "standard_t", "logseries",
    )
)
PYRANDOM_FUNCTIONS = frozenset(
    f"random.{n}"
    for n in (
        "random", "randint", "randrange", "choice", "choices", "shuffle", "sample", "uniform", "gauss",
        "normalvariate", "lognormvariate", "expovariate", "betavariate", "gammavariate", "triangular",
        "vonmisesvariate", "paretovariate", "weibullvariate", "getrandbits", "randbytes", "binomialvariate",
    )
)
TF_RANDOM_FUNCTIONS = frozenset(
    f"tensorflow.random.{n}"
    for n in ("normal", "uniform", "truncated_normal", "shuffle", "categorical", "gamma", "poisson")
)
# Keras layers whose constructor sets up random initialisers or dropout.
KERAS_LAYER_PREFIXES = ("tensorflow.keras.layers.", "keras.layers.")
KERAS_RANDOM_LAYERS = frozenset(
    {"Dense", "Conv1D", "Conv2D", "Conv3D", "Embedding", "LSTM", "GRU", "SimpleRNN", "Dropout", "MultiHeadAttention"}
)

# scikit-learn: estimators and helpers that draw from numpy's global RNG when random_state is
# missing or None. Splitters listed in SKLEARN_SHUFFLE_OPTIONAL are random only with shuffle=True.
SKLEARN_RANDOM = frozenset(
    {
        "ensemble.RandomForestClassifier", "ensemble.RandomForestRegressor", "ensemble.ExtraTreesClassifier",
        "ensemble.ExtraTreesRegressor", "ensemble.GradientBoostingClassifier", "ensemble.GradientBoostingRegressor",
        "ensemble.IsolationForest", "ensemble.BaggingClassifier", "ensemble.BaggingRegressor",
        "ensemble.AdaBoostClassifier", "ensemble.AdaBoostRegressor", "ensemble.RandomTreesEmbedding",
        "tree.DecisionTreeClassifier", "tree.DecisionTreeRegressor", "tree.ExtraTreeClassifier",
        "tree.ExtraTreeRegressor", "cluster.KMeans", "cluster.MiniBatchKMeans", "cluster.BisectingKMeans",
        "linear_model.SGDClassifier", "linear_model.SGDRegressor", "linear_model.Perceptron",
        "linear_model.PassiveAggressiveClassifier", "neural_network.MLPClassifier", "neural_network.MLPRegressor",
        "manifold.TSNE", "mixture.GaussianMixture", "mixture.BayesianGaussianMixture", "decomposition.NMF",
        "decomposition.LatentDirichletAllocation", "decomposition.FastICA", "decomposition.TruncatedSVD",
        "model_selection.train_test_split", "model_selection.ShuffleSplit", "model_selection.StratifiedShuffleSplit",
        "model_selection.GroupShuffleSplit", "model_selection.RandomizedSearchCV", "utils.shuffle", "utils.resample",
        "datasets.make_classification", "datasets.make_regression", "datasets.make_blobs", "datasets.make_moons",
        "datasets.make_circles",
    }
)
SKLEARN_SHUFFLE_OPTIONAL = frozenset(
    {"model_selection.KFold", "model_selection.StratifiedKFold", "model_selection.RepeatedKFold"}
)
# Functions whose `shuffle` defaults to True (so shuffle=False makes them deterministic).
SKLEARN_SHUFFLE_DEFAULT_ON = frozenset({"model_selection.train_test_split", "utils.shuffle"})

# --- local generators (ML106) ------------------------------------------------------------------

# Constructors of RNG objects independent of the global seed; unseeded when called without a
# seed argument (or with None).
LOCAL_GENERATORS = frozenset(
    {
        "numpy.random.default_rng",
        "numpy.random.RandomState",
        "numpy.random.PCG64",
        "numpy.random.PCG64DXSM",
        "numpy.random.MT19937",
        "numpy.random.Philox",
        "numpy.random.SFC64",
        "numpy.random.SeedSequence",
        "random.Random",
    }
)
# Wrappers that take a bit generator; unseeded when the bit generator inside is.
GENERATOR_WRAPPERS = frozenset({"numpy.random.Generator"})
TORCH_GENERATORS = frozenset({"torch.Generator", "torch._C.Generator"})
TORCH_GENERATOR_SEEDING_METHODS = frozenset({"manual_seed", "seed", "set_state"})
JAX_KEYS = frozenset({"jax.random.PRNGKey", "jax.random.key"})
# What to do about an unseeded generator, when more specific than "pass it a seed".
GENERATOR_ADVICE = {
    "torch.Generator": "call g.manual_seed(seed) on it before use",
    "jax.random.PRNGKey": "build the key from a seed in your config",
    "jax.random.key": "build the key from a seed in your config",
}

# --- seed sources that differ on every run (ML107) ---------------------------------------------

ENTROPY_CALLS = frozenset(
    {
        "time.time", "time.time_ns", "time.perf_counter", "time.perf_counter_ns", "time.monotonic",
        "time.monotonic_ns", "time.process_time", "datetime.datetime.now", "datetime.datetime.utcnow",
        "datetime.datetime.today", "datetime.date.today", "os.urandom", "os.getpid", "uuid.uuid1", "uuid.uuid4",
        "random.SystemRandom", "torch.seed", "torch.random.seed", "numpy.random.SeedSequence",
    }
)
ENTROPY_PREFIXES = ("secrets.",)

# --- the program's environment -----------------------------------------------------------------

# Calls that let imports reach folders outside the package (unresolved imports may be local modules).
SYS_PATH = "sys.path"  # assigning it, like the calls below, edits where imports are found
SYS_PATH_EDITS = frozenset({"sys.path.insert", "sys.path.append", "sys.path.extend", "site.addsitedir"})
# Calls that set one environment variable (its name first), and the one that sets several.
ENVIRONMENT_SETTERS = frozenset({"os.environ.setdefault", "os.putenv", "os.environ.__setitem__"})
ENVIRONMENT_UPDATE = "os.environ.update"

# --- CUDA use -----------------------------------------------------------------------------------

# torch.cuda calls that ask about the machine or tidy memory: they run the same whether or not the
# program computes on a GPU (`"cuda" if torch.cuda.is_available() else "cpu"` in a library's utils),
# so they are not evidence that a program uses CUDA (ML105).
CUDA_QUERIES = frozenset(
    f"torch.cuda.{name}"
    for name in (
        "is_available", "device_count", "current_device", "get_device_name", "get_device_properties",
        "get_device_capability", "get_arch_list", "is_bf16_supported", "is_initialized", "mem_get_info",
        "empty_cache", "ipc_collect", "synchronize", "memory_allocated", "max_memory_allocated",
        "memory_reserved", "max_memory_reserved", "memory_summary", "memory_stats", "reset_peak_memory_stats",
        "reset_max_memory_allocated", "reset_accumulated_memory_stats", "is_current_stream_capturing",
    )
)

# --- determinism switches ----------------------------------------------------------------------

USE_DETERMINISTIC = "torch.use_deterministic_algorithms"
DETERMINISTIC_DEBUG_MODE = "torch.set_deterministic_debug_mode"
CUDNN_DETERMINISTIC = "torch.backends.cudnn.deterministic"
# Calls that turn deterministic algorithms on unconditionally.
DETERMINISM_CALLS = frozenset(
    {
        "transformers.enable_full_determinism",
        "transformers.trainer_utils.enable_full_determinism",
        "tensorflow.config.experimental.enable_op_determinism",
    }
)
# Calls that turn determinism on when a keyword is truthy: name -> keyword.
DETERMINISM_KEYWORDS = {
    "lightning.Trainer": "deterministic",
    "lightning.pytorch.Trainer": "deterministic",
    "pytorch_lightning.Trainer": "deterministic",
    "transformers.TrainingArguments": "full_determinism",
    "transformers.Seq2SeqTrainingArguments": "full_determinism",
    "transformers.set_seed": "deterministic",
    "transformers.trainer_utils.set_seed": "deterministic",
    "accelerate.utils.set_seed": "deterministic",
}
# Determinism switches that also set CUBLAS_WORKSPACE_CONFIG themselves (ML108 negatives).
SETS_CUBLAS_ITSELF = frozenset(
    {
        "transformers.enable_full_determinism",
        "transformers.trainer_utils.enable_full_determinism",
        "transformers.TrainingArguments",
        "transformers.Seq2SeqTrainingArguments",
        "lightning.Trainer",
        "lightning.pytorch.Trainer",
        "pytorch_lightning.Trainer",
    }
)
CUBLAS_VAR = "CUBLAS_WORKSPACE_CONFIG"

# --- what a training program looks like (ML101, ML102, ML105) -----------------------------------

# A program trains when an optimizer steps on parameters. `.backward()` alone is not evidence: a
# profiling or model-summary block calls it only to time it. Evidence is one of: a trainer object
# (its fit/train steps an optimizer), an optimizer built or stepped, an estimator's `.fit`.
TRAINING_CONSTRUCTORS = frozenset(
    {
        "lightning.Trainer", "lightning.pytorch.Trainer", "pytorch_lightning.Trainer", "transformers.Trainer",
        "transformers.Seq2SeqTrainer", "trl.SFTTrainer",
    }
)
# Trainer classes of a library, by prefix and suffix (`trl.DPOTrainer`, `trl.GRPOTrainer`, ...).
TRAINER_PREFIXES = ("trl.", "transformers.")
TRAINER_SUFFIX = "Trainer"
# Trainer(accelerator=...) values that mean CUDA.
CUDA_ACCELERATORS = frozenset({"gpu", "cuda"})
# Scripts that measure speed: deterministic kernels would distort what they measure (ML105).
BENCHMARK_NAME_PARTS = ("bench", "profil")
OPTIMIZER_PREFIX = "torch.optim."
# Optimizer constructors: capitalised callees under these prefixes (`torch.optim.AdamW`), and
# optax's lower-case factories (`optax.adamw`).
OPTIMIZER_PREFIXES = ("torch.optim.", "bitsandbytes.optim.", "timm.optim.", "apex.optimizers.")
FUNCTIONAL_OPTIMIZER_PREFIXES = ("optax.",)
OPTIMIZER_CONSTRUCTORS = frozenset(
    {
        "transformers.AdamW", "transformers.Adafactor", "transformers.optimization.AdamW",
        "transformers.optimization.Adafactor", "timm.optim.create_optimizer_v2", "timm.optim.create_optimizer",
        "flax.nnx.Optimizer", "flax.training.train_state.TrainState.create", "keras.optimizers.Adam",
        "tensorflow.keras.optimizers.Adam",
    }
)
# A repo class deriving from one of these is an optimizer: building it is training evidence.
OPTIMIZER_BASES = frozenset({"torch.optim.Optimizer", "torch.optim.optimizer.Optimizer"})
# `x.step()` steps an optimizer when x is named like one (`optimizer`, `self.opt_g`, `d_optim`), or
# a GradScaler steps one passed to it (`scaler.step(optimizer)`).
OPTIMIZER_VARIABLE = r"(?:\w+_)?(?:optim|optimi[sz]er|opt)s?(?:_\w+)?"
STEP_METHODS = frozenset({"step"})
# In-place updates that, given a gradient (`p.data.add_(-lr * p.grad)`), are a hand-written step.
IN_PLACE_UPDATES = frozenset({"add_", "sub_", "copy_"})
# Estimators whose `.fit()` trains: receivers built by a callee under these prefixes.
FIT_PREFIXES = ("sklearn.", "xgboost.", "lightgbm.", "catboost.", "keras.", "tensorflow.keras.", "tf.keras.", "fastai.")
FIT_METHODS = frozenset(
    {"fit", "partial_fit", "fit_transform", "fit_predict", "fit_generator", "fit_one_cycle", "fine_tune", "fit_flat_cos"}
)
# Hand-written steps in JAX/TF: an optimizer object's update given gradients (`optimizer.update(grads)`,
# `state.apply_gradients(grads=grads)`), a tree map over the gradients (`jax.tree.map(lambda w, g:
# w - lr * g, params, grads)`), optax's apply_updates. "Given gradients" means an argument named like
# them (`grads`, `grad`, `d_loss`), so `config.update({...})` is not a step.
GRADIENT_UPDATE_METHODS = frozenset({"update", "apply_gradients", "apply_updates"})
GRADIENT_TREE_MAPS = frozenset({"jax.tree.map", "jax.tree_util.tree_map", "jax.tree_map", "optax.apply_updates"})
GRADIENT_NAME = r"(?:\w*_)?(?:grads?|gradients?)(?:_\w*)?|d_\w+"
# `w -= lr * dw` in NumPy: a subtraction scaled by a learning-rate name is a gradient step by hand.
LEARNING_RATE_NAME = r"(?:\w+_)?(?:lr|learning_rate|eta|step_size)"

# --- entry points ------------------------------------------------------------------------------

HYDRA_MAINS = frozenset({"hydra.main"})
CLICK_COMMANDS = frozenset({"click.command", "click.group", "typer.main.command"})
# Objects whose `.command()` / `.callback()` decorator makes a CLI command.
CLI_APPS = frozenset({"typer.Typer", "click.Group", "click.group"})
CLI_APP_DECORATORS = frozenset({"command", "callback"})

# --- data libraries (pandas, Hugging Face datasets, Polars, Dask) ------------------------------

# A method call counts only when its receiver is known to be the library's object: a variable
# built by one of these calls, or a chain of method calls on one (`pd.read_csv(f).dropna()`).
# `.sample()` and `.shuffle()` are common names, so an unknown receiver never counts.
PANDAS_OBJECTS = frozenset(
    f"pandas.{n}"
    for n in (
        "DataFrame", "Series", "read_csv", "read_table", "read_parquet", "read_json", "read_excel", "read_feather",
        "read_pickle", "read_sql", "read_sql_query", "read_sql_table", "read_hdf", "read_orc", "read_fwf",
        "concat", "merge", "get_dummies",
    )
)
DATASETS_OBJECTS = frozenset(
    {
        "datasets.load_dataset", "datasets.load_from_disk", "datasets.Dataset.from_dict", "datasets.Dataset.from_pandas",
        "datasets.Dataset.from_list", "datasets.Dataset.from_csv", "datasets.Dataset.from_json",
        "datasets.Dataset.from_parquet", "datasets.Dataset.from_generator", "datasets.concatenate_datasets",
        "datasets.interleave_datasets",
    }
)
POLARS_OBJECTS = frozenset(
    f"polars.{n}" for n in ("DataFrame", "Series", "read_csv", "read_parquet", "read_json", "read_ipc", "read_excel", "concat")
)
DASK_OBJECTS = frozenset(f"dask.dataframe.{n}" for n in ("read_csv", "read_parquet", "read_json", "from_pandas", "read_table"))
POLARS = "polars"  # Polars' global seed, set by pl.set_random_seed


class DataMethod(NamedTuple):
    objects: frozenset[str]
    method: str
    seed_keyword: str  # the keyword that makes the call reproducible
    family: str  # the global RNG it draws from without that keyword; "" = a fresh OS-seeded RNG
    label: str  # for messages
    shuffle_keyword: str = ""  # a keyword that, set to False, makes the call draw nothing


# pandas' sample/GroupBy.sample use numpy's global RandomState when random_state is None; datasets'
# shuffle/train_test_split derive their seed from numpy's global state when seed is None; Polars
# draws from its own global seed; Dask's sample builds a RandomState(None) (OS entropy), which no
# global seeding reaches (ML106).
DATA_METHODS = (
    DataMethod(PANDAS_OBJECTS, "sample", "random_state", NUMPY, "pandas .sample()"),
    DataMethod(DATASETS_OBJECTS, "shuffle", "seed", NUMPY, "datasets .shuffle()"),
    DataMethod(DATASETS_OBJECTS, "train_test_split", "seed", NUMPY, "datasets .train_test_split()", "shuffle"),
    DataMethod(POLARS_OBJECTS, "sample", "seed", POLARS, "Polars .sample()"),
    DataMethod(POLARS_OBJECTS, "shuffle", "seed", POLARS, "Polars .shuffle()"),
    DataMethod(DASK_OBJECTS, "sample", "random_state", "", "Dask .sample()"),
)
SEEDERS["polars.set_random_seed"] = frozenset({POLARS})
FAMILY_LABELS[POLARS] = "Polars'"
FAMILY_SEED_CALL[POLARS] = "pl.set_random_seed(seed)"
GLOBAL_FAMILIES = (*GLOBAL_FAMILIES, POLARS)

# Calls that run the function given as their first argument as the program (`fire.Fire(train)`).
CLI_RUNNERS = frozenset({"fire.Fire", "typer.run"})

# --- cudnn.benchmark (ML103) -------------------------------------------------------------------

CUDNN_BENCHMARK = "torch.backends.cudnn.benchmark"
# Constructors that turn cudnn.benchmark on when a keyword is truthy: name -> keyword.
BENCHMARK_KEYWORDS = {
    "lightning.Trainer": "benchmark",
    "lightning.pytorch.Trainer": "benchmark",
    "pytorch_lightning.Trainer": "benchmark",
    "lightning.fabric.Fabric": "benchmark",
}

# A program shows it runs a model for inference (evaluation, export, a stream loader) when one of
# these runs on its path: `torch.no_grad()`, `torch.inference_mode()`, or a `.eval()` method call.
EVALUATION_CALLS = frozenset(
    {"torch.no_grad", "torch.inference_mode", "torch.autograd.no_grad", "torch.autograd.grad_mode.no_grad"}
)
EVALUATION_METHODS = frozenset({"eval"})

# --- trains on real data, or is a mechanics demo (ML101, ML103, ML105) ------------------------

# Calls that read the records a program learns from: files, dataset libraries, downloads,
# environments. A program that trains and reaches none of these, while drawing its batches or
# targets from the RNG on the spot (SYNTHETIC_DRAWS), is a mechanics demo: a DDP/TP wiring example
# or a bug-report template whose numbers nobody keeps. `torch.load` is left out on purpose: it
# restores a checkpoint (state), which a demo also does.
DATA_SOURCE_CALLS = frozenset(
    {
        "builtins.open", "io.open", "numpy.load", "numpy.loadtxt", "numpy.genfromtxt", "numpy.fromfile",
        "numpy.memmap", "PIL.Image.open", "cv2.imread", "imageio.imread", "imageio.v3.imread", "h5py.File",
        "json.load", "pickle.load", "joblib.load", "scipy.io.loadmat", "soundfile.read", "librosa.load",
        "torchaudio.load", "torchvision.io.read_image", "os.listdir", "os.scandir", "os.walk", "glob.glob",
        "glob.iglob", "pathlib.Path.glob", "pathlib.Path.rglob", "pathlib.Path.iterdir", "pathlib.Path.open",
        "pathlib.Path.read_text", "pathlib.Path.read_bytes", "urllib.request.urlopen", "urllib.request.urlretrieve",
        "requests.get", "gym.make", "gymnasium.make", "tensorflow.data.TFRecordDataset",
        "tensorflow.data.TextLineDataset", "tensorflow.keras.utils.image_dataset_from_directory",
        "tensorflow.keras.utils.text_dataset_from_directory", "tensorflow.keras.utils.get_file",
        "keras.utils.image_dataset_from_directory", "keras.utils.text_dataset_from_directory",
        "keras.utils.get_file", "tensorflow.keras.preprocessing.image_dataset_from_directory",
    }
)
DATA_SOURCE_PREFIXES = (
    "pandas.read_", "polars.read_", "polars.scan_", "dask.dataframe.read_", "datasets.load_",
    "torchvision.datasets.", "torchtext.datasets.", "torchaudio.datasets.", "tensorflow_datasets.",
    "tensorflow.keras.datasets.", "keras.datasets.", "sklearn.datasets.load_", "sklearn.datasets.fetch_",
    "webdataset.", "litdata.", "streaming.StreamingDataset", "fastai.data.external.untar_data",
    "fastai.vision.all.untar_data", "fastai.text.all.untar_data", "fastai.tabular.all.untar_data",
)
# Data-source methods on an object whose constructor is unknown (`datagen.flow_from_directory`).
DATA_SOURCE_METHODS = frozenset({"flow_from_directory", "flow_from_dataframe", "read_csv", "from_folder"})
# Draws that make data (inputs, targets, a dataset's items), as opposed to weights or augmentation:
# one of these calls, written in a dataset class or a data/batch function (DATA_SCOPE) or assigned
# to a variable named like data (DATA_VARIABLE: `inp = torch.rand(20, 10)`, `Y = f(X) + noise`).
# `W = torch.randn(3)` trained by SGD is a weight, not data.
DATA_SCOPE = r".*(?:dataset|datamodule|data|batch).*"
DATA_VARIABLE = (
    r"(?:\w+_)?(?:x|y|xs|ys|inp|inps|inputs?|labels?|targets?|tgts?|batch(?:es)?|data|dataset|tokens|images?|imgs"
    r"|features|samples)(?:_\w+)?"
)
SYNTHETIC_DRAWS = frozenset(
    {"torch.rand", "torch.randn", "torch.randint", "torch.normal"}
    | {f"numpy.random.{n}" for n in ("rand", "randn", "randint", "random", "random_sample", "normal", "uniform", "choice")}
    | {f"sklearn.datasets.make_{n}" for n in ("classification", "regression", "blobs", "moons", "circles")}
)
