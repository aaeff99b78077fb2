"""ML109: gradient-boosting libraries configured so that a seed does not make runs repeat.

What each library documents as its nondeterministic configurations, and what makes them
deterministic, is data (`BOOSTERS` below); the rule reads the keyword arguments of the model
constructor or the `params` dict given to the library's `train` function, when they are written
in the same scope. Anything it cannot see (a `**params` it cannot resolve) keeps it silent.

XGBoost and CatBoost seed themselves with 0 and LightGBM with fixed C++ defaults when no seed is
given, so an unseeded booster is not a random source for ML101; these configurations are the
ones where a seed is not enough.
"""

from __future__ import annotations

import ast
from dataclasses import dataclass

from mlaudit.facts import flow
from mlaudit.facts.walk import PyContext
from mlaudit.rules.base import PythonRule


@dataclass(frozen=True)
class Booster:
    constructors: frozenset[str]  # estimator classes taking parameters as keywords
    train_functions: frozenset[str]  # functions taking a params dict as first argument
    thread_keys: tuple[str, ...]  # parameter names (aliases included) of the thread count
    device_keys: tuple[str, ...]


XGBOOST = Booster(
    frozenset(f"xgboost.{n}" for n in ("XGBClassifier", "XGBRegressor", "XGBRanker", "XGBModel", "sklearn.XGBClassifier", "sklearn.XGBRegressor")),
    frozenset({"xgboost.train", "xgboost.cv"}),
    ("nthread", "n_jobs"),
    ("device", "tree_method"),
)
LIGHTGBM = Booster(
    frozenset(f"lightgbm.{n}" for n in ("LGBMClassifier", "LGBMRegressor", "LGBMRanker", "LGBMModel", "sklearn.LGBMClassifier", "sklearn.LGBMRegressor")),
    frozenset({"lightgbm.train", "lightgbm.cv"}),
    ("num_threads", "n_jobs", "nthread", "num_thread", "nthreads"),
    ("device", "device_type"),
)
# XGBoost's linear booster: its default updater "shotgun" uses hogwild parallelism, which the
# XGBoost parameter docs call nondeterministic; "coord_descent" is deterministic.
XGB_LINEAR_BOOSTER = "gblinear"
XGB_DETERMINISTIC_UPDATERS = frozenset({"coord_descent", "gpu_coord_descent"})
# LightGBM: `deterministic=true` "should ensure the stable results when using the same inputs and
# the same parameters (and different num_threads)", only on the CPU, and the docs ask for
# force_col_wise or force_row_wise with it.
LGB_DETERMINISTIC = ("deterministic",)
LGB_FORCE_LAYOUT = ("force_col_wise", "force_row_wise")
LGB_GPU_DEVICES = frozenset({"gpu", "cuda"})


class BoosterNondeterminism(PythonRule):
    code = "ML109"
    name = "nondeterministic-library-config"
    summary = "XGBoost or LightGBM configured in a way their docs call nondeterministic even with a seed"
    tags = ("reproducibility", "tabular")
    # Opt-in: both findings on the real repositories were LightGBM demos without the two flags,
    # true to LightGBM's docs but noise (precision 0/2, docs/validation.md).
    opt_in = True
    valid = (
        "import xgboost as xgb\nmodel = xgb.XGBRegressor(booster='gblinear', updater='coord_descent', random_state=0)\n",
        "import xgboost as xgb\nmodel = xgb.XGBClassifier(n_estimators=100, random_state=0)\n",
        "import lightgbm as lgb\nmodel = lgb.LGBMClassifier(deterministic=True, force_row_wise=True, random_state=0)\n",
        "import lightgbm as lgb\nparams = {'objective': 'binary', 'deterministic': True, 'force_col_wise': True, 'seed': 0}\n"
        "booster = lgb.train(params, train_set)\n",
        "import lightgbm as lgb\nmodel = lgb.LGBMClassifier(n_jobs=1)\n",
        "import lightgbm as lgb\nmodel = lgb.LGBMClassifier(**config.model)\n",
    )
    invalid = (
        "import xgboost as xgb\nmodel = xgb.XGBRegressor(booster='gblinear', random_state=0)  # expect: ML109\n",
        "import xgboost as xgb\nparams = {'booster': 'gblinear', 'updater': 'shotgun', 'seed': 0}\n"
        "bst = xgb.train(params, dtrain)  # expect: ML109\n",
        "import lightgbm as lgb\nmodel = lgb.LGBMClassifier(random_state=0)  # expect: ML109\n",
        "import lightgbm as lgb\nmodel = lgb.LGBMRegressor(deterministic=True, random_state=0)  # expect: ML109\n",
        "import lightgbm as lgb\nparams = {'device': 'gpu', 'deterministic': True, 'force_row_wise': True}\n"
        "booster = lgb.train(params, train_set)  # expect: ML109\n",
    )

    def leave_Module(self, node: ast.Module, ctx: PyContext) -> None:
        if not _uses_a_booster(ctx):
            return  # most files: the statement-by-statement pass could find nothing
        for _, body in flow.scopes(node):
            dicts: dict[str, ast.Dict] = {}
            for stmt in flow.statements(body):
                for sub in flow.own_nodes(stmt):
                    if isinstance(sub, ast.Call):
                        self._check_call(sub, ctx, dicts)
                if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
                    if isinstance(stmt.value, ast.Dict):
                        dicts[stmt.targets[0].id] = stmt.value
                    else:
                        dicts.pop(stmt.targets[0].id, None)

    def _check_call(self, call: ast.Call, ctx: PyContext, dicts: dict[str, ast.Dict]) -> None:
        name = ctx.qualname(call.func) or ""
        for booster in (XGBOOST, LIGHTGBM):
            params = _parameters(call, name, booster, dicts)
            if params is None:
                continue
            problem = _xgboost_problem(params) if booster is XGBOOST else _lightgbm_problem(params, booster)
            if problem:
                ctx.report(self, call, problem)
            return


_LIBRARIES = frozenset({"xgboost", "lightgbm"})


def _uses_a_booster(ctx: PyContext) -> bool:
    """Whether any call of the module can resolve to XGBoost or LightGBM: qualified names come
    from the module's imports (every binding, nested ones too, is in ctx.imports by now) or its
    own name."""
    names = [*ctx.imports.values(), ctx.module]
    return any(name.partition(".")[0] in _LIBRARIES for name in names)


def _parameters(call: ast.Call, name: str, booster: Booster, dicts: dict[str, ast.Dict]) -> dict[str, ast.expr] | None:
    """The call's parameters by name, or None when it is not this library's or hides some."""
    if name in booster.constructors:
        return _keywords(call.keywords, dicts)
    if name in booster.train_functions:
        first = call.args[0] if call.args else flow.kwarg(call, "params")
        if isinstance(first, ast.Name):
            first = dicts.get(first.id)
        if isinstance(first, ast.Dict):
            return _dict_items(first, dicts)
    return None


def _keywords(keywords: list[ast.keyword], dicts: dict[str, ast.Dict]) -> dict[str, ast.expr] | None:
    found: dict[str, ast.expr] = {}
    for keyword in keywords:
        if keyword.arg is not None:
            found[keyword.arg] = keyword.value
            continue
        spread = dicts.get(keyword.value.id) if isinstance(keyword.value, ast.Name) else None
        if spread is None:
            return None
        inner = _dict_items(spread, dicts)
        if inner is None:
            return None
        found.update(inner)
    return found


def _dict_items(node: ast.Dict, dicts: dict[str, ast.Dict]) -> dict[str, ast.expr] | None:
    found: dict[str, ast.expr] = {}
    for key, value in zip(node.keys, node.values, strict=True):
        if key is None:
            return None  # `{**other}` we do not follow
        if isinstance(key, ast.Constant) and isinstance(key.value, str):
            found[key.value] = value
    return found


def _xgboost_problem(params: dict[str, ast.expr]) -> str:
    if flow.const(params.get("booster")) != XGB_LINEAR_BOOSTER:
        return ""
    updater = params.get("updater")
    if updater is not None and (flow.const(updater) in XGB_DETERMINISTIC_UPDATERS or flow.const(updater) is None):
        return ""  # coord_descent, or a value we cannot read
    if _single_thread(params, XGBOOST):
        return ""
    return (
        "booster='gblinear' runs the 'shotgun' updater by default, whose hogwild parallel updates make the "
        "model differ between runs even with a seed; pass updater='coord_descent' (deterministic and also "
        "multithreaded)."
    )


def _lightgbm_problem(params: dict[str, ast.expr], booster: Booster) -> str:
    device = next((flow.const(params[k]) for k in booster.device_keys if k in params), "cpu")
    if device in LGB_GPU_DEVICES:
        return (
            f"LightGBM on device='{device}' is not deterministic: its `deterministic` parameter applies to the CPU "
            "only; train on the CPU with deterministic=True and force_row_wise=True (or force_col_wise=True) "
            "where results must repeat."
        )
    if not isinstance(device, str):
        return ""
    if _single_thread(params, booster):
        return ""
    switches = [params[k] for k in (*LGB_DETERMINISTIC, *LGB_FORCE_LAYOUT, *booster.thread_keys) if k in params]
    if any(not isinstance(v, ast.Constant) for v in switches):
        return ""  # set from a config value we cannot read
    deterministic = any(_truthy(params.get(k)) for k in LGB_DETERMINISTIC)
    layout = any(_truthy(params.get(k)) for k in LGB_FORCE_LAYOUT)
    if deterministic and layout:
        return ""
    missing = " and ".join(
        part for part, ok in (("deterministic=True", deterministic), ("force_row_wise=True (or force_col_wise=True)", layout)) if not ok
    )
    return (
        "LightGBM runs multithreaded here without "
        f"{missing}; its docs promise repeatable results across thread counts and machines only with both, "
        "so the same seed can train a different model elsewhere; add them."
    )


def _single_thread(params: dict[str, ast.expr], booster: Booster) -> bool:
    return any(flow.const(params.get(k)) == 1 for k in booster.thread_keys)


def _truthy(node: ast.expr | None) -> bool:
    value = flow.const(node)
    return value is True or value == "true"
