"""ML109 and the data-library random sources (pandas, datasets, Polars, Dask) that feed ML101/102/106."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import assert_exact


def test_params_spread_from_a_dict_in_the_same_scope(tmp_path: Path) -> None:
    files = {
        "a.py": """import lightgbm as lgb
import xgboost as xgb

base = {"deterministic": True, "force_col_wise": True}
good = lgb.LGBMRegressor(**base, random_state=0)
linear = {"booster": "gblinear", "nthread": 4}
bad = xgb.XGBRegressor(**linear)  # expect: ML109
hidden = lgb.LGBMRegressor(**load_params())
configured = lgb.LGBMRegressor(deterministic=cfg.det, force_row_wise=True)
""",
    }
    assert_exact(tmp_path, files, ["ML109"])


def test_xgboost_single_thread_shotgun_is_deterministic(tmp_path: Path) -> None:
    files = {"a.py": "import xgboost as xgb\nm = xgb.XGBRegressor(booster='gblinear', n_jobs=1)\n"}
    assert_exact(tmp_path, files, ["ML109"])


TRAIN = """import numpy as np
import pandas as pd
from datasets import load_dataset


def main():
    df = pd.read_csv("train.csv").dropna()
    sample = df.sample(frac=0.1)  # expect: ML101
    seeded = df.sample(frac=0.1, random_state=0)
    ds = load_dataset("imdb")
    parts = ds["train"].train_test_split(test_size=0.1, shuffle=False)
    rows = [1, 2, 3]
    rows.sample()  # an unknown receiver is never a random source
    return sample, seeded, parts


if __name__ == "__main__":
    main()
"""


def test_pandas_sample_without_random_state_draws_from_numpy(tmp_path: Path) -> None:
    assert_exact(tmp_path, {"train.py": TRAIN}, ["ML101", "ML102", "ML106"])


def test_seeding_numpy_covers_pandas_and_datasets(tmp_path: Path) -> None:
    seeded = TRAIN.replace('    df = pd.read_csv', '    np.random.seed(0)\n    df = pd.read_csv').replace("  # expect: ML101", "")
    assert_exact(tmp_path, {"train.py": seeded}, ["ML101", "ML102", "ML106"])


def test_polars_has_its_own_seed_and_dask_seeds_from_the_os(tmp_path: Path) -> None:
    files = {
        "train.py": """import dask.dataframe as dd
import numpy as np
import polars as pl


def main():
    np.random.seed(0)
    frame = pl.read_parquet("a.parquet")
    part = frame.sample(n=10)  # expect: ML102
    lazy = dd.read_csv("b-*.csv")
    piece = lazy.sample(frac=0.5)  # expect: ML106
    return part, piece


if __name__ == "__main__":
    main()
""",
    }
    assert_exact(tmp_path, files, ["ML101", "ML102", "ML106"])
    fixed = files["train.py"].replace("np.random.seed(0)", "np.random.seed(0)\n    pl.set_random_seed(0)")
    fixed = fixed.replace("  # expect: ML102", "").replace('frac=0.5)  # expect: ML106', "frac=0.5, random_state=0)")
    assert_exact(tmp_path / "fixed", {"train.py": fixed}, ["ML101", "ML102", "ML106"])


