"""ML110, ML111: file-system order and set order that decide data, followed through one scope."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import assert_exact, check, make_repo

CODES = ["ML110", "ML111"]


def test_listing_followed_through_a_loop_that_appends(tmp_path: Path) -> None:
    files = {
        "prep.py": """import os
import random


def split(root, seed):
    random.seed(seed)
    paths = []
    for name in os.listdir(root):  # expect: ML110
        if name.endswith(".png"):
            paths.append(os.path.join(root, name))
    random.shuffle(paths)
    return paths[:100], paths[100:]
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_sorted_listing_and_in_place_sort_are_silent(tmp_path: Path) -> None:
    files = {
        "prep.py": """import glob
import os
import random

random.seed(0)
a = sorted(glob.glob("data/*.png"))
random.shuffle(a)
b = os.listdir("data")
b.sort()
random.shuffle(b)
c = [f for f in sorted(os.listdir("x")) if f.endswith(".jpg")]
train, val = c[:10], c[10:]
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_label_ids_from_a_listing_are_reported_without_any_seed(tmp_path: Path) -> None:
    files = {
        "data.py": """import os


def class_index(root):
    classes = [d for d in os.listdir(root) if os.path.isdir(os.path.join(root, d))]  # expect: ML110
    return dict(zip(classes, range(len(classes))))
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_notebook_cells_are_one_scope(tmp_path: Path) -> None:
    import json

    cells = [
        "import os, random\nrandom.seed(0)",
        "files = os.listdir('data')",
        "random.shuffle(files)",
    ]
    notebook = {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": {},
        "cells": [{"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": [], "source": [c]} for c in cells],
    }
    result = check(make_repo(tmp_path / "repo", {"nb.ipynb": json.dumps(notebook, indent=1)}), select=CODES)
    [finding] = result.findings
    assert finding.code == "ML110"
    assert finding.message.startswith("cell 2: os.listdir()")


def test_set_of_ints_is_silent_and_set_of_words_is_reported(tmp_path: Path) -> None:
    files = {
        "vocab.py": """def build(path):
    ids = {3, 1, 2}
    order = {v: i for i, v in enumerate(ids)}
    words = set()
    for line in open(path):
        words.update(line.lower().split())
    index = {w: i for i, w in enumerate(words)}  # expect: ML111
    return order, index
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_set_used_for_membership_and_sorted_set_are_silent(tmp_path: Path) -> None:
    files = {
        "vocab.py": """text = open("input.txt").read()
seen = set(text.split())
kept = [w for w in text.split() if w in seen]
chars = sorted(list(set(text)))
stoi = {c: i for i, c in enumerate(chars)}
itos = dict(enumerate(sorted(set(text))))
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_messages_say_what_to_do(tmp_path: Path) -> None:
    files = {
        "a.py": "import os\nclasses = os.listdir('d')\nidx = {c: i for i, c in enumerate(classes)}\n"
        "words = open('a').read().split()\nvocab = {w: i for i, w in enumerate(set(words))}\n",
    }
    result = check(make_repo(tmp_path / "repo", files), select=CODES)
    messages = {f.code: f.message for f in result.findings}
    assert "wrap it in sorted(...)" in messages["ML110"]
    assert "its positions become label ids" in messages["ML110"]
    assert "PYTHONHASHSEED" in messages["ML111"] and "sorted(...)" in messages["ML111"]
