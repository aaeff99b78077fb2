"""ML101-ML108: seeds and determinism followed from entry points across the repo's modules.

Every case is a small repo written to tmp_path; lines that must be reported carry
`# expect: MLxxx`, and the test checks the exact set of (path, line, code) for the codes it selects.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from mlaudit.findings import Level
from mlaudit.rules import all_rules
from tests.fixture_repos import expected_lines, fixture_repos
from tests.helpers import check, expected_markers, located, make_repo

ML1 = ["ML101", "ML102", "ML104", "ML105", "ML106", "ML107"]


def run(tmp_path: Path, files: dict[str, str], codes: list[str] | None = None) -> tuple[set[tuple[str, int, str]], dict]:
    result = check(make_repo(tmp_path / "repo", files), select=codes or ML1)
    assert result.notifications == []
    return located(result), {(f.path, f.line, f.code): f for f in result.findings}


def assert_exact(tmp_path: Path, files: dict[str, str], codes: list[str] | None = None) -> dict:
    found, by_key = run(tmp_path, files, codes)
    selected = set(codes or ML1)
    assert found == {m for m in expected_markers(files) if m[2] in selected}
    return by_key


# --- plain scripts and argparse ----------------------------------------------------------------

PLAIN_POSITIVE = {
    "train.py": """import torch


def main():
    model = torch.nn.Linear(4, 2)  # expect: ML101
    opt = torch.optim.SGD(model.parameters(), lr=0.1)


if __name__ == "__main__":
    main()
""",
}


def test_plain_script_without_seed(tmp_path: Path) -> None:
    by_key = assert_exact(tmp_path, PLAIN_POSITIVE)
    message = by_key[("train.py", 5, "ML101")].message
    assert "nn.Linear()" in message and "torch.manual_seed(seed)" in message
    assert by_key[("train.py", 5, "ML101")].level == Level.WARNING


def test_argparse_seed_in_a_branch_counts(tmp_path: Path) -> None:
    files = {
        "main.py": """import argparse
import random
import numpy as np
import torch


def train(args):
    model = torch.nn.Linear(4, 2)
    noise = np.random.rand(3)
    random.shuffle([1, 2])


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--seed", type=int, default=None)
    args = parser.parse_args()
    if args.seed is not None:
        random.seed(args.seed)
        np.random.seed(args.seed)
        torch.manual_seed(args.seed)
    train(args)


if __name__ == "__main__":
    main()
""",
    }
    assert_exact(tmp_path, files)


def test_seed_after_model_construction_is_reported_for_order(tmp_path: Path) -> None:
    files = {
        "train.py": """import torch
from model import Net


def main():
    net = Net()  # expect: ML101
    torch.manual_seed(0)
    opt = torch.optim.SGD(net.parameters(), lr=0.1)


if __name__ == "__main__":
    main()
""",
        "model.py": """import torch.nn as nn


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.fc = nn.Linear(3, 3)
""",
    }
    by_key = assert_exact(tmp_path, files)
    message = by_key[("train.py", 6, "ML101")].message
    assert "model.py:7" in message and "before its first seed" in message and "line 7" in message


def test_family_seeded_only_after_its_first_use(tmp_path: Path) -> None:
    files = {
        "train.py": """import numpy as np
import torch

if __name__ == "__main__":
    np.random.seed(0)
    model = torch.nn.Linear(2, 2)  # expect: ML101
    torch.manual_seed(0)
    opt = torch.optim.SGD(model.parameters(), lr=0.1)
""",
    }
    by_key = assert_exact(tmp_path, files)
    assert "manual_seed at line 7" in by_key[("train.py", 6, "ML101")].message


def test_random_use_inside_function_called_before_seed(tmp_path: Path) -> None:
    files = {
        "run.py": """import numpy as np


def make_data():
    return np.random.rand(10)  # expect: ML101


if __name__ == "__main__":
    data = make_data()
    np.random.seed(0)
""",
    }
    assert_exact(tmp_path, files)


def test_module_level_code_before_guard_runs_first(tmp_path: Path) -> None:
    files = {
        "run.py": """import torch

W = torch.randn(3)  # expect: ML101


def main():
    torch.manual_seed(0)
    W.sum().backward()
    torch.optim.SGD([W], lr=0.1).step()


if __name__ == "__main__":
    main()
""",
    }
    assert_exact(tmp_path, files)


# --- seeds in other modules ----------------------------------------------------------------------

HYDRA_HELPER = {
    "src/train.py": """import hydra
import lightning as L
from omegaconf import DictConfig

from src.utils.seeding import seed_all
from src.models.net import build_model


@hydra.main(version_base=None, config_path="../configs", config_name="train")
def main(cfg: DictConfig) -> None:
    seed_all(cfg.seed)
    model = build_model(cfg)
    trainer = L.Trainer(max_epochs=cfg.epochs)
    trainer.fit(model)


if __name__ == "__main__":
    main()
""",
    "src/utils/__init__.py": "",
    "src/utils/seeding.py": """import random

import numpy as np
import torch


def seed_all(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
""",
    "src/models/__init__.py": "",
    "src/models/net.py": """import numpy as np
import torch


def build_model(cfg):
    perm = np.random.permutation(10)
    print(perm)
    return torch.nn.Linear(cfg.width, 2)
""",
    "configs/train.yaml": "seed: 1\nwidth: 4\nepochs: 1\n",
}


def test_hydra_with_seed_helper_in_another_module(tmp_path: Path) -> None:
    assert_exact(tmp_path, HYDRA_HELPER)


def test_hydra_without_the_helper_call_suggests_it(tmp_path: Path) -> None:
    files = dict(HYDRA_HELPER)
    files["src/train.py"] = files["src/train.py"].replace("    seed_all(cfg.seed)\n", "").replace(
        "    model = build_model(cfg)\n", "    model = build_model(cfg)  # expect: ML101\n"
    )
    by_key = assert_exact(tmp_path, files)
    message = next(iter(by_key.values())).message
    assert "`seeding.seed_all` exists (src/utils/seeding.py:7) but is never called from src/train.py" in message
    assert "np.random.permutation() at src/models/net.py:6" in message


def test_seed_helper_reached_through_relative_star_import(tmp_path: Path) -> None:
    files = {
        "pkg/__init__.py": "",
        "pkg/utils.py": "import torch\n\n\ndef fix_seed(seed):\n    torch.manual_seed(seed)\n",
        "pkg/train.py": """from .utils import *
import torch


def main():
    fix_seed(3)
    return torch.nn.Linear(2, 2)


if __name__ == "__main__":
    main()
""",
    }
    assert_exact(tmp_path, files)


def test_seed_in_a_class_method(tmp_path: Path) -> None:
    files = {
        "experiment.py": """import random

import torch


class Experiment:
    def __init__(self, seed):
        self.seed = seed

    def setup(self):
        random.seed(self.seed)
        torch.manual_seed(self.seed)

    def run(self):
        self.setup()
        model = torch.nn.Linear(2, 2)
        random.shuffle([1, 2, 3])


if __name__ == "__main__":
    exp = Experiment(0)
    exp.run()
""",
    }
    assert_exact(tmp_path, files)


def test_method_of_object_built_in_entry_point_reaches_random_use(tmp_path: Path) -> None:
    files = {
        "runner.py": """import torch


class Runner:
    def fit(self):
        w = torch.randn(3, requires_grad=True)
        optimizer = torch.optim.SGD([w], lr=0.1)
        w.sum().backward()
        optimizer.step()
""",
        "main.py": """from runner import Runner

if __name__ == "__main__":
    r = Runner()
    r.fit()  # expect: ML101
""",
    }
    assert_exact(tmp_path, files)


def test_attribute_built_in_init_is_followed_in_other_methods(tmp_path: Path) -> None:
    files = {
        "app.py": """import torch

from seeding import Seeder


class App:
    def __init__(self):
        self.seeder = Seeder()

    def run(self):
        self.seeder.apply(0)
        model = torch.nn.Linear(2, 2)
        torch.optim.SGD(model.parameters(), lr=0.1)


if __name__ == "__main__":
    App().run()
""",
        "seeding.py": "import torch\n\n\nclass Seeder:\n    def apply(self, s):\n        torch.manual_seed(s)\n",
    }
    assert_exact(tmp_path / "seeded", files)
    files["app.py"] = files["app.py"].replace("        self.seeder.apply(0)\n", "").replace(
        "        model = torch.nn.Linear(2, 2)\n", "        model = torch.nn.Linear(2, 2)  # expect: ML101\n"
    )
    assert_exact(tmp_path / "unseeded", files)


def test_script_folder_sibling_import(tmp_path: Path) -> None:
    """`python examples/mnist/main.py` imports `utils` from examples/mnist/, not from the root."""
    files = {
        "utils.py": "def seed(x):\n    pass\n",
        "examples/mnist/utils.py": "import torch\n\n\ndef seed(x):\n    torch.manual_seed(x)\n",
        "examples/mnist/main.py": """import torch
import utils

if __name__ == "__main__":
    utils.seed(1)
    model = torch.nn.Conv2d(1, 4, 3)
""",
    }
    assert_exact(tmp_path, files)


def test_src_layout_declared_in_pyproject(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": """[project]
name = "proj"
version = "0"

[project.scripts]
proj-train = "proj.cli:main"

[tool.setuptools.packages.find]
where = ["lib"]
""",
        "lib/proj/__init__.py": "from .seeding import seed_everything\n",
        "lib/proj/seeding.py": "import torch\n\n\ndef seed_everything(s):\n    torch.manual_seed(s)\n",
        "lib/proj/cli.py": """import torch
import proj


def main():
    proj.seed_everything(0)
    return torch.randn(2)
""",
        "lib/proj/other.py": """import torch


def main():
    return torch.randn(2)
""",
    }
    assert_exact(tmp_path, files)


def test_project_script_target_without_seed(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[project]\nname = "p"\nversion = "0"\n\n[project.scripts]\nrun = "p.cli:main"\n',
        "src/p/__init__.py": "",
        "src/p/cli.py": "import numpy as np\n\n\ndef main():\n    return np.random.rand(2)  # expect: ML101\n",
    }
    assert_exact(tmp_path, files)


def test_dvc_stage_script_is_an_entry_point(tmp_path: Path) -> None:
    files = {
        "dvc.yaml": "stages:\n  train:\n    cmd: python src/train.py --epochs 2\n    deps: [src/train.py]\n",
        "src/train.py": "import numpy as np\n\nX = np.random.randn(10, 2)  # expect: ML101\nprint(X)\n",
        "src/evaluate.py": "import numpy as np\n\n\ndef load():\n    return np.random.randn(10, 2)\n",
    }
    assert_exact(tmp_path, files)


def test_click_and_typer_commands(tmp_path: Path) -> None:
    files = {
        "cli.py": """import random

import click
import torch


@click.command()
@click.option("--seed", default=0)
def train(seed):
    torch.manual_seed(seed)
    return torch.randn(2)


@click.command()
def sample():
    return random.random()  # expect: ML101
""",
        "app.py": """import typer
import numpy as np

app = typer.Typer()


@app.command()
def go():
    return np.random.rand()  # expect: ML101
""",
    }
    assert_exact(tmp_path, files)


# --- libraries that seed ---------------------------------------------------------------------------


def test_lightning_seed_everything_with_workers(tmp_path: Path) -> None:
    files = {
        "train.py": """import lightning as L
import numpy as np
import torch


def main():
    L.seed_everything(42, workers=True)
    model = torch.nn.Linear(2, 2)
    loader = torch.utils.data.DataLoader([1, 2, 3], shuffle=True, num_workers=2)
    noise = np.random.rand()
    trainer = L.Trainer(deterministic=True, accelerator="cuda")
    trainer.fit(model, loader)


if __name__ == "__main__":
    main()
""",
    }
    assert_exact(tmp_path, files)


def test_hf_trainer_and_accelerate(tmp_path: Path) -> None:
    files = {
        "hf.py": """import random

from transformers import Trainer, TrainingArguments, set_seed


def main():
    args = TrainingArguments(output_dir="out", seed=7)
    set_seed(args.seed)
    random.shuffle([1, 2])
    trainer = Trainer(args=args)
    trainer.train()


if __name__ == "__main__":
    main()
""",
        "acc.py": """import torch
from accelerate import Accelerator
from accelerate.utils import set_seed

if __name__ == "__main__":
    set_seed(0)
    accelerator = Accelerator()
    model = torch.nn.Linear(2, 2)
""",
    }
    assert_exact(tmp_path, files)


def test_hf_trainer_construction_seeds(tmp_path: Path) -> None:
    """transformers.Trainer.__init__ calls set_seed(args.seed): draws after it are seeded, draws before are not."""
    files = {
        "ft.py": """import random

from transformers import Trainer, TrainingArguments

if __name__ == "__main__":
    early = random.random()  # expect: ML101
    trainer = Trainer(args=TrainingArguments(output_dir="out"))
    print(early)
""",
        "ft_ok.py": """import random

from transformers import Trainer, TrainingArguments

if __name__ == "__main__":
    trainer = Trainer(args=TrainingArguments(output_dir="out"))
    late = random.random()
    trainer.train()
""",
    }
    assert_exact(tmp_path, files)


def test_sklearn_with_random_state_everywhere(tmp_path: Path) -> None:
    files = {
        "fit.py": """from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import KFold, train_test_split

if __name__ == "__main__":
    X_train, X_test = train_test_split([1, 2, 3, 4], random_state=0)
    folds = KFold(n_splits=2, shuffle=True, random_state=1)
    plain = KFold(n_splits=2)
    clf = RandomForestClassifier(n_estimators=10, random_state=0)
""",
        "fit_bad.py": """from sklearn.ensemble import RandomForestClassifier

if __name__ == "__main__":
    clf = RandomForestClassifier(n_estimators=10)  # expect: ML101
    clf.fit([[0], [1]], [0, 1])
""",
    }
    assert_exact(tmp_path, files)


def test_jax_keys_from_config_are_fine(tmp_path: Path) -> None:
    files = {
        "jx.py": """import time

import jax


def main(cfg):
    key = jax.random.PRNGKey(cfg.seed)
    key, sub = jax.random.split(key)
    bad = jax.random.key(int(time.time()))  # expect: ML106


if __name__ == "__main__":
    main(None)
""",
    }
    assert_exact(tmp_path, files)


# --- certainty --------------------------------------------------------------------------------------


def test_unresolved_seed_helper_lowers_to_note(tmp_path: Path) -> None:
    files = {
        "scripts/train.py": """import sys
sys.path.insert(0, "../lib")
import torch
from helpers import set_random_seed

if __name__ == "__main__":
    set_random_seed(0)
    model = torch.nn.Linear(2, 2)  # expect: ML101
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1)
""",
    }
    by_key = assert_exact(tmp_path, files)
    finding = by_key[("scripts/train.py", 8, "ML101")]
    assert finding.level == Level.NOTE
    assert "unless `set_random_seed`" in finding.message


def test_torch_draws_in_a_program_that_never_trains_are_not_reported(tmp_path: Path) -> None:
    """Example inputs for tracing, and weights a checkpoint replaces, do not make results differ."""
    files = {
        "export.py": """import torch

from model import Net

if __name__ == "__main__":
    net = Net()
    net.load_state_dict(torch.load("net.pt", weights_only=True))
    example = torch.rand(1, 3, 224, 224)
    torch.jit.trace(net, example).save("net.ts")
""",
        "model.py": "import torch.nn as nn\n\n\nclass Net(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.fc = nn.Linear(3, 3)\n",
        "prep.py": """import random

if __name__ == "__main__":
    files = ["a", "b", "c"]
    random.shuffle(files)  # expect: ML101
""",
    }
    assert_exact(tmp_path, files)


def test_plain_top_level_script_is_an_entry_point(tmp_path: Path) -> None:
    files = {
        "model.py": "import torch.nn as nn\n\n\nclass GPT(nn.Module):\n    def __init__(self):\n"
        "        super().__init__()\n        self.head = nn.Linear(4, 4)\n",
        "train.py": """import torch

from model import GPT

device = "cuda"  # expect: ML105
model = GPT().to(device)  # expect: ML101
optimizer = torch.optim.AdamW(model.parameters())
torch.manual_seed(1337)
""",
        "bench.py": """import torch

from model import GPT

torch.manual_seed(0)
model = GPT().to("cuda")
optimizer = torch.optim.AdamW(model.parameters())
""",
        "tests/test_model.py": "import torch\n\nx = torch.randn(2)\nx.sum().backward()\n",
    }
    assert_exact(tmp_path, files)


def test_library_module_without_entry_point_is_silent(tmp_path: Path) -> None:
    files = {"lib.py": "import torch\n\n\ndef make():\n    return torch.nn.Linear(2, 2)\n"}
    assert_exact(tmp_path, files)


def test_function_defined_inside_the_main_guard(tmp_path: Path) -> None:
    files = {
        "run.py": """import numpy as np

if __name__ == "__main__":
    def go():
        return np.random.rand()  # expect: ML101

    go()
""",
    }
    assert_exact(tmp_path, files)


def test_recursion_does_not_hang(tmp_path: Path) -> None:
    files = {
        "loop.py": """import torch


def a(n):
    return b(n - 1) if n else torch.randn(1)


def b(n):
    return a(n)


if __name__ == "__main__":
    torch.manual_seed(0)
    a(3)
""",
    }
    assert_exact(tmp_path, files)


# --- ML102 ------------------------------------------------------------------------------------------


def test_partial_seed_names_the_family_and_the_use(tmp_path: Path) -> None:
    files = {
        "utils.py": "import torch\n\n\ndef seed_torch(s):\n    torch.manual_seed(s)\n",
        "aug.py": "import random\n\n\ndef jitter(x):\n    return x + random.random()\n",
        "train.py": """import torch
from utils import seed_torch
from aug import jitter

if __name__ == "__main__":
    seed_torch(0)
    model = torch.nn.Linear(2, 2)
    y = jitter(1.0)  # expect: ML102
    torch.optim.SGD(model.parameters(), lr=0.1).step()
""",
    }
    by_key = assert_exact(tmp_path, files)
    message = by_key[("train.py", 8, "ML102")].message
    assert "Python's random RNG" in message and "aug.py:5" in message and "random.seed(seed)" in message


def test_family_seeded_anywhere_reachable(tmp_path: Path) -> None:
    files = {
        "train.py": """import numpy as np
import torch


def late():
    np.random.seed(0)


if __name__ == "__main__":
    torch.manual_seed(0)
    x = np.random.rand()
    late()
""",
    }
    assert_exact(tmp_path, files, ["ML102"])


# --- ML104, ML105 -------------------------------------------------------------------------------------


def test_determinism_switched_off(tmp_path: Path) -> None:
    files = {
        "a.py": "import torch\ntorch.backends.cudnn.deterministic = False  # expect: ML104\n"
        "torch.use_deterministic_algorithms(False)  # expect: ML104\n",
        "b.py": "import torch\ntorch.backends.cudnn.deterministic = True\ntorch.use_deterministic_algorithms(True)\n",
    }
    assert_exact(tmp_path, files, ["ML104"])


def test_cuda_training_without_determinism(tmp_path: Path) -> None:
    files = {
        "train.py": """import torch
from setup_utils import make_deterministic


def main():
    torch.manual_seed(0)
    device = torch.device("cuda")  # expect: ML105
    model = torch.nn.Linear(2, 2).to(device)
    opt = torch.optim.Adam(model.parameters())
    loss = model(torch.ones(2)).sum()
    loss.backward()


if __name__ == "__main__":
    main()
""",
        "train_det.py": """import torch
from setup_utils import make_deterministic


def main():
    make_deterministic()
    model = torch.nn.Linear(2, 2).cuda()
    opt = torch.optim.Adam(model.parameters())


if __name__ == "__main__":
    torch.manual_seed(0)
    main()
""",
        "setup_utils.py": "import torch\n\n\ndef make_deterministic():\n    torch.use_deterministic_algorithms(True)\n",
        "infer.py": "import torch\n\nif __name__ == '__main__':\n    model = torch.load('m.pt').cuda()\n",
        "lit.py": "import lightning as L\n\nif __name__ == '__main__':\n"
        "    trainer = L.Trainer(accelerator='gpu', devices=1)  # expect: ML105\n",
        "lit_det.py": "import lightning as L\n\nif __name__ == '__main__':\n"
        "    trainer = L.Trainer(accelerator='gpu', deterministic=True)\n",
    }
    assert_exact(tmp_path, files, ["ML105"])


# --- ML106 ------------------------------------------------------------------------------------------


def test_unseeded_local_generators(tmp_path: Path) -> None:
    files = {
        "gen.py": """import random

import numpy as np
import torch


def loaders(cfg):
    g = torch.Generator()  # expect: ML106
    loader = torch.utils.data.DataLoader([1, 2], shuffle=True, generator=g)
    seeded = torch.Generator()
    seeded.manual_seed(cfg.seed)
    chained = torch.Generator().manual_seed(0)
    rng = np.random.default_rng()  # expect: ML106
    ok = np.random.default_rng(cfg.seed)
    legacy = np.random.RandomState(None)  # expect: ML106
    wrapped = np.random.Generator(np.random.PCG64())  # expect: ML106
    py = random.Random()  # expect: ML106
    from_initial = np.random.default_rng(torch.initial_seed())
    return loader, rng.normal(), legacy.rand(), wrapped.random(), py.random()


def unused():
    return np.random.default_rng()


if __name__ == "__main__":
    torch.manual_seed(0)
    plain = torch.utils.data.DataLoader([1, 2], shuffle=True)
    loaders(None)
""",
    }
    assert_exact(tmp_path, files, ["ML106"])


# --- ML107 ------------------------------------------------------------------------------------------


def test_seed_from_entropy(tmp_path: Path) -> None:
    files = {
        "seeds.py": """import argparse
import random
import time
import uuid
from datetime import datetime

import numpy as np
import torch
import transformers

parser = argparse.ArgumentParser()
parser.add_argument("--seed", type=int, default=int(time.time()))
args = parser.parse_args()
torch.manual_seed(args.seed)  # expect: ML107
np.random.seed(datetime.now().microsecond)  # expect: ML107
s = random.randint(0, 2**31)
torch.cuda.manual_seed_all(s)  # expect: ML107
transformers.set_seed(uuid.uuid4().int % 2**32)  # expect: ML107
torch.manual_seed(1234)
random.seed()  # expect: ML107
torch.seed()  # expect: ML107
np.random.seed(seed=None if False else 3)
""",
    }
    by_key = assert_exact(tmp_path, files, ["ML107"])
    assert "time.time()" in by_key[("seeds.py", 14, "ML107")].message


def test_seed_drawn_from_unseeded_random_then_reused(tmp_path: Path) -> None:
    """dcgan's pattern: a default seed drawn from `random`, then used for random and torch."""
    files = {
        "main.py": """import argparse
import random

import torch

parser = argparse.ArgumentParser()
parser.add_argument("--manualSeed", type=int)
opt = parser.parse_args()
if opt.manualSeed is None:
    opt.manualSeed = random.randint(1, 10000)
random.seed(opt.manualSeed)  # expect: ML107
torch.manual_seed(opt.manualSeed)  # expect: ML107
model = torch.nn.Linear(2, 2)
torch.optim.Adam(model.parameters())
""",
    }
    assert_exact(tmp_path, files, ["ML101", "ML107"])


@pytest.mark.parametrize("path", ["train.py", "pkg/train.py"])
def test_no_internal_errors_on_odd_code(tmp_path: Path, path: str) -> None:
    files = {
        path: """import torch
from . import nothing
from .missing import *
x = (lambda: torch.randn(2))()
[f() for f in []]
getattr(torch, "randn")(3)
torch.Generator
class A(B, metaclass=M):
    def __init__(self):
        super(A, self).__init__()
if __name__ == "__main__":
    A()
    obj.method().chain()
""",
    }
    run(tmp_path, files)


# --- ML108 ------------------------------------------------------------------------------------------

DETERMINISTIC_CUDA = """import torch

from helpers import enable


def main():
    enable()
    model = torch.nn.Linear(2, 2).cuda()


if __name__ == "__main__":
    main()
"""
HELPERS = "import torch\n\n\ndef enable():\n    torch.use_deterministic_algorithms(True)  # expect: ML108\n"


def test_cublas_config_missing_with_old_or_unknown_torch(tmp_path: Path) -> None:
    files = {"train.py": DETERMINISTIC_CUDA, "helpers.py": HELPERS}
    by_key = assert_exact(tmp_path / "unknown", files, ["ML108"])
    assert "no lockfile or pin says the project's torch is 2.10 or newer" in by_key[("helpers.py", 5, "ML108")].message
    files = {**files, "requirements.txt": "torch==2.3.1\nnumpy==1.26.4\n"}
    by_key = assert_exact(tmp_path / "old", files, ["ML108"])
    assert "torch 2.3.1 (requirements.txt) is older than 2.10" in by_key[("helpers.py", 5, "ML108")].message


@pytest.mark.parametrize(
    "extra",
    [
        {"requirements.txt": "torch==2.10.0\n"},
        {"pyproject.toml": '[project]\nname = "p"\nversion = "0"\ndependencies = ["torch>=2.11"]\n'},
        {".github/workflows/ci.yml": "jobs:\n  test:\n    env:\n      CUBLAS_WORKSPACE_CONFIG: ':4096:8'\n"},
        {"run.sh": "export CUBLAS_WORKSPACE_CONFIG=:16:8\npython train.py\n"},
        {".env": "CUBLAS_WORKSPACE_CONFIG=:4096:8\n"},
        {"env.py": "import os\nos.environ.update({'CUBLAS_WORKSPACE_CONFIG': ':4096:8'})\n"},
    ],
    ids=["pinned-new", "lower-bound-new", "ci-env", "shell", "dotenv", "os-environ-update"],
)
def test_cublas_config_not_needed(tmp_path: Path, extra: dict[str, str]) -> None:
    files = {"train.py": DETERMINISTIC_CUDA, "helpers.py": HELPERS.replace("  # expect: ML108", ""), **extra}
    assert_exact(tmp_path, files, ["ML108"])


def test_cublas_rule_option_and_self_setting_switches(tmp_path: Path) -> None:
    files = {
        "pyproject.toml": '[project]\nname = "p"\nversion = "0"\ndependencies = ["torch==2.10.0"]\n\n'
        '[tool.mlaudit.options.ML108]\nfixed-in = "2.11"\n',
        "train.py": DETERMINISTIC_CUDA,
        "helpers.py": HELPERS,
        "warn.py": "import torch\n\nif __name__ == '__main__':\n    torch.use_deterministic_algorithms(True, warn_only=True)\n"
        "    x = torch.ones(1).cuda()\n",
        "lit.py": "import torch\nimport lightning as L\n\nif __name__ == '__main__':\n    torch.use_deterministic_algorithms(True)\n"
        "    trainer = L.Trainer(deterministic=True, accelerator='cuda')\n    x = torch.ones(1).cuda()\n",
    }
    assert_exact(tmp_path, files, ["ML108"])


# --- the example repo ---------------------------------------------------------------------------------

# The example repo's findings are compared by tests/test_fixture_repos.py; here: it shows every rule.


def test_fixture_repo_shows_every_randomness_rule() -> None:
    (fixture,) = [p for p in fixture_repos() if p.parent.name == "randomness"]
    codes = {line.split(": ", 2)[1].split()[0] for line in expected_lines(fixture)}
    assert codes == {r.code for r in all_rules() if r.family() == "randomness"}
