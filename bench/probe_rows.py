"""The probe's done-when rows (issue 16): nanoGPT, minGPT and lightning-hydra-template, copied into a
temporary folder (the clones are never touched), each with at most one pytest smoke test added,
probed with no target; then the planted bugs. Prints a markdown table of verdicts and wall times.

    python bench/probe_rows.py --corpus /work/corpus --python /path/to/venv/bin/python

`--python` is an interpreter with torch, numpy, pytest, lightning and torchmetrics (the projects'
own dependencies; mlaudit need not be installed there). Run from the repository root.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

NANOGPT_TEST = '''
import torch

from model import GPT, GPTConfig


def test_train_two_steps():
    torch.manual_seed(1337)
    config = GPTConfig(block_size=16, vocab_size=64, n_layer=2, n_head=2, n_embd=32, dropout=0.1, bias=True)
    model = GPT(config)
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3, betas=(0.9, 0.95), device_type="cpu")
    data = torch.tensor([STOI[c] for c in TEXT])
    for _ in range(2):
        ix = torch.randint(len(data) - config.block_size, (4,))  # as train.py's get_batch
        x = torch.stack([data[i : i + config.block_size] for i in ix])
        y = torch.stack([data[i + 1 : i + 1 + config.block_size] for i in ix])
        _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
'''
NANOGPT_VOCAB = '''
TEXT = "first citizen: before we proceed any further, hear me speak. " * 8
STOI = {c: i for i, c in enumerate(sorted(set(TEXT)))}  # as data/shakespeare_char/prepare.py
'''
MINGPT_TEST = '''
import numpy as np
import torch
from torch.utils.data import Dataset

from mingpt.model import GPT
from mingpt.trainer import Trainer
from mingpt.utils import set_seed


class Sorting(Dataset):
    def __len__(self):
        return 64

    def __getitem__(self, idx):
        g = torch.Generator().manual_seed(idx)
        x = torch.randint(3, (6,), generator=g)
        x = AUGMENT(x)
        cat = torch.cat((x, torch.sort(x)[0]))
        y = cat[1:].clone()
        y[:5] = -1
        return cat[:-1], y


def test_train_two_steps():
    SEED(3407)
    config = GPT.get_default_config()
    config.model_type, config.vocab_size, config.block_size = "gpt-nano", 3, 11
    model = GPT(config)
    train_config = Trainer.get_default_config()
    train_config.max_iters, train_config.num_workers, train_config.batch_size = 2, 0, 8
    Trainer(train_config, model, Sorting()).run()
'''
LIGHTNING_TEST = '''
from functools import partial

import lightning as L
import torch
from torch.utils.data import DataLoader, TensorDataset

from src.models.components.simple_dense_net import SimpleDenseNet
from src.models.mnist_module import MNISTLitModule

ALLOW

def test_fit_fast_dev_run(tmp_path) -> None:
    L.seed_everything(12345)
    generator = torch.Generator().manual_seed(0)
    images = torch.rand(256, 1, 28, 28, generator=generator)
    labels = torch.randint(0, 10, (256,), generator=generator)
    loader = DataLoader(TensorDataset(images, labels), batch_size=32, shuffle=SHUFFLE)
    model = MNISTLitModule(net=NET, optimizer=partial(torch.optim.Adam, lr=1e-3), scheduler=None, compile=False)
    trainer = L.Trainer(fast_dev_run=3, accelerator="cpu", default_root_dir=tmp_path, enable_progress_bar=False)
    trainer.fit(model, loader, loader)
'''
# The module saves its `net` and `optimizer` arguments as hyperparameters, so its checkpoint holds
# pickled objects that torch >= 2.6 loads only when allowlisted (as its error message advises).
ALLOWLIST = """import functools

torch.serialization.add_safe_globals(
    [SimpleDenseNet, functools.partial, torch.optim.Adam, torch.nn.Sequential, torch.nn.Linear,
     torch.nn.BatchNorm1d, torch.nn.ReLU, torch.nn.Flatten, torch.nn.Dropout]
)
"""
DROPOUT_NET = "torch.nn.Sequential(torch.nn.Flatten(), torch.nn.Linear(784, 64), torch.nn.Dropout(0.2), torch.nn.Linear(64, 10))"

# A target written for the resume row: the checkpoint dict of nanoGPT's train.py (model, optimizer,
# model_args, iter_num, best_val_loss, config: no random state), batches drawn as its get_batch does.
NANOGPT_RESUME = '''
import torch

from model import GPT, GPTConfig


def step(seed, steps=1, save_to=None, resume_from=None):
    torch.manual_seed(seed)
    config = GPTConfig(block_size=16, vocab_size=64, n_layer=2, n_head=2, n_embd=32, dropout=0.1, bias=True)
    model = GPT(config)
    optimizer = model.configure_optimizers(weight_decay=0.1, learning_rate=1e-3, betas=(0.9, 0.95), device_type="cpu")
    data = torch.arange(1000) % 64
    start = 0
    if resume_from:
        checkpoint = torch.load(resume_from, weights_only=False)
        model.load_state_dict(checkpoint["model"])
        optimizer.load_state_dict(checkpoint["optimizer"])
        start = checkpoint["iter_num"]
    for _ in range(start, steps):
        ix = torch.randint(len(data) - config.block_size, (4,))
        x = torch.stack([data[i : i + config.block_size] for i in ix])
        y = torch.stack([data[i + 1 : i + 1 + config.block_size] for i in ix])
        _, loss = model(x, y)
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
    if save_to:
        torch.save({"model": model.state_dict(), "optimizer": optimizer.state_dict(), "model_args": {},
                    "iter_num": steps, "best_val_loss": 0.0, "config": {}}, save_to)
    return {"model": model, "optimizer": optimizer}
'''
NANOGPT_PYPROJECT = '[tool.mlaudit.probe]\ntarget = "probe_resume:step"\n'

# (row, corpus repo, test file, test text, extra probe options, what it should report)
ROWS = [
    ("nanoGPT", "nanoGPT", "tests/test_train_smoke.py", NANOGPT_VOCAB + NANOGPT_TEST, [], "pass"),
    ("minGPT", "minGPT", "tests/test_train_smoke.py",
     MINGPT_TEST.replace("AUGMENT(x)", "x").replace("SEED(", "set_seed("), [], "pass"),
    ("lightning-hydra-template", "lightning-hydra-template", "tests/test_probe_smoke.py",
     LIGHTNING_TEST.replace("ALLOW", "").replace("SHUFFLE", "True").replace("NET", "SimpleDenseNet()"), [], "pass"),
    ("minGPT + unseeded NumPy augmentation", "minGPT", "tests/test_train_smoke.py",
     MINGPT_TEST.replace("AUGMENT(x)", "x[np.random.permutation(6)]").replace("SEED(", "torch.manual_seed("),
     [], "ML901: NumPy stream, its line, step 1, the data differed"),
    ("nanoGPT + set-built vocabulary", "nanoGPT", "tests/test_train_smoke.py",
     NANOGPT_VOCAB.replace("sorted(set(TEXT))", "set(TEXT)") + NANOGPT_TEST, ["--explain"],
     "ML901: no stream, step 1, the data differed; explain: hash seed"),
    ("lightning-hydra-template, resume (dropout, fixed order)", "lightning-hydra-template",
     "tests/test_probe_smoke.py",
     LIGHTNING_TEST.replace("ALLOW", ALLOWLIST).replace("SHUFFLE", "False").replace("NET", DROPOUT_NET),
     ["--steps", "4", "--resume-at", "2"], "ML901: the checkpoint drops torch's RNG state"),
    ("lightning-hydra-template, resume (shuffled loader)", "lightning-hydra-template", "tests/test_probe_smoke.py",
     LIGHTNING_TEST.replace("ALLOW", ALLOWLIST).replace("SHUFFLE", "True").replace("NET", "SimpleDenseNet()"),
     ["--steps", "4", "--resume-at", "2"], "ML901: data order after resume"),
    ("nanoGPT, resume from train.py's checkpoint dict (target written)", "nanoGPT", "probe_resume.py",
     NANOGPT_RESUME, ["--steps", "4", "--resume-at", "2"], "ML901: the checkpoint drops torch's RNG state"),
    ("lightning-hydra-template, resume as is", "lightning-hydra-template", "tests/test_probe_smoke.py",
     LIGHTNING_TEST.replace("ALLOW", "").replace("SHUFFLE", "True").replace("NET", "SimpleDenseNet()"),
     ["--steps", "4", "--resume-at", "2"], "error: its checkpoint does not load under torch >= 2.6"),
]


def run_row(corpus: Path, work: Path, python: str, row: tuple) -> dict:
    name, repo, test_file, test_text, options, wanted = row
    copy = work / repo.replace("/", "_")
    shutil.rmtree(copy, ignore_errors=True)
    shutil.copytree(corpus / repo, copy, symlinks=True, ignore=shutil.ignore_patterns(".git"))
    (copy / test_file).parent.mkdir(parents=True, exist_ok=True)
    (copy / test_file).write_text(test_text.lstrip("\n"))
    if test_file == "probe_resume.py":
        (copy / "pyproject.toml").write_text(NANOGPT_PYPROJECT)
    command = [sys.executable, "-m", "mlaudit", "probe", str(copy), "--python", python, "--output-format", "json"]
    started = time.perf_counter()
    done = subprocess.run([*command, *options], capture_output=True, text=True, timeout=900)
    seconds = time.perf_counter() - started
    try:
        report = json.loads(done.stdout)
    except json.JSONDecodeError:
        report = {"findings": [], "properties": {"verdict": "error"}, "notes": []}
    props = report.get("properties", {})
    message = report["findings"][0]["message"] if report.get("findings") else (report.get("notes") or [""])[0]
    if props.get("verdict") == "error":
        message = props.get("error", {}).get("message", done.stderr[-400:])
    return {"row": name, "target": props.get("target"), "verdict": props.get("verdict"), "wanted": wanted,
            "seconds": round(seconds, 1), "exit": done.returncode, "message": message}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--corpus", type=Path, required=True, help="folder with the clones")
    parser.add_argument("--python", required=True, help="interpreter with the projects' dependencies")
    parser.add_argument("--only", help="run only rows whose name contains this")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    results = []
    with tempfile.TemporaryDirectory(prefix="mlaudit-probe-rows-") as work:
        for row in ROWS:
            if args.only and args.only not in row[0]:
                continue
            results.append(run_row(args.corpus, Path(work), args.python, row))
            print(json.dumps(results[-1]), file=sys.stderr, flush=True)
    print("| project | target found | verdict | wanted | wall s |\n|---|---|---|---|---|")
    for r in results:
        print(f"| {r['row']} | `{r['target']}` | {r['verdict']} | {r['wanted']} | {r['seconds']} |")
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
