"""ML8xx data leakage: the test data shaping the model before it is used to score it.

Found by data flow inside one function or notebook (`mlaudit.facts.flow`): every variable holds
data from one or more *sources* (a load, a parameter, the output of a split). A transformer fit
or a resampling before a split leaks when the data it saw shares a source with the data that is
split afterwards; the test part of a split leaks when it is given to a model search or to early
stopping. Variable names are never used to decide what is train and what is test; the position
of a split's outputs is (`train_test_split` returns train, test pairs).

Which classes are transformers, resamplers, splitters and searches is data (the tables below).
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field

from mlaudit.facts import flow
from mlaudit.facts.walk import BUILTIN_NAMES, PyContext
from mlaudit.rules.base import PythonRule

# --- knowledge ---------------------------------------------------------------------------------

# Transformers that learn statistics of the data they are fit on (scale, variance, vocabulary
# weights, imputed values, selected features). Label/ordinal/one-hot encoders only learn the set
# of categories and are left out on purpose: reporting them is noise.
TRANSFORMERS = frozenset(
    [
        f"sklearn.preprocessing.{n}"
        for n in (
            "StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler", "QuantileTransformer",
            "PowerTransformer", "KBinsDiscretizer", "TargetEncoder", "SplineTransformer",
        )
    ]
    + [f"sklearn.impute.{n}" for n in ("SimpleImputer", "KNNImputer", "IterativeImputer")]
    + [
        f"sklearn.decomposition.{n}"
        for n in ("PCA", "TruncatedSVD", "KernelPCA", "IncrementalPCA", "FastICA", "NMF", "FactorAnalysis")
    ]
    + [
        f"sklearn.feature_selection.{n}"
        for n in (
            "SelectKBest", "SelectPercentile", "GenericUnivariateSelect", "RFE", "RFECV", "SelectFromModel",
            "SequentialFeatureSelector", "SelectFpr", "SelectFdr", "SelectFwe",
        )
    ]
    + [f"sklearn.feature_extraction.text.{n}" for n in ("TfidfVectorizer", "TfidfTransformer")]
    + [f"category_encoders.{n}" for n in ("TargetEncoder", "CatBoostEncoder", "WOEEncoder", "JamesSteinEncoder", "MEstimateEncoder", "LeaveOneOutEncoder")]
)
TRANSFORMER_FITS = frozenset({"fit", "fit_transform"})
# Resamplers (imbalanced-learn): they copy or drop rows.
RESAMPLER_PREFIXES = ("imblearn.over_sampling.", "imblearn.under_sampling.", "imblearn.combine.")
RESAMPLER_FITS = frozenset({"fit_resample", "fit_sample"})
# Functions that split data: the arguments are the data being split.
SPLIT_FUNCTIONS = frozenset(
    {
        "sklearn.model_selection.train_test_split",
        "sklearn.model_selection.cross_val_score",
        "sklearn.model_selection.cross_validate",
        "sklearn.model_selection.cross_val_predict",
        "sklearn.model_selection.learning_curve",
        "sklearn.model_selection.validation_curve",
        "sklearn.model_selection.permutation_test_score",
    }
)
# Functions whose outputs come in (train, test) pairs, in argument order.
PAIRED_SPLITS = frozenset({"sklearn.model_selection.train_test_split"})
# Objects whose `.split(X)` or `.fit(X, y)` splits X into folds.
SPLITTER_PREFIX = "sklearn.model_selection."
SEARCH_CLASSES = frozenset(
    f"sklearn.model_selection.{n}" for n in ("GridSearchCV", "RandomizedSearchCV", "HalvingGridSearchCV", "HalvingRandomSearchCV")
)
# A held-out part named like this is a validation set by the author's own account; data flow
# finds the held-out part, the name only vetoes a finding (a two-way split cannot say which it is).
VALIDATION_NAME_PARTS = ("val", "dev")
# Keywords that turn on early stopping against `eval_set` (XGBoost, LightGBM, CatBoost).
EARLY_STOPPING_KEYWORDS = frozenset({"early_stopping_rounds", "early_stopping", "callbacks", "od_type", "od_wait"})


# --- data flow ---------------------------------------------------------------------------------


@dataclass
class _Event:
    kind: str  # "fit", "resample", "split", "search", "early-stop"
    node: ast.AST
    sources: frozenset[int]
    text: str  # the call as written, shortened
    data: str = ""  # the data argument as written
    marker: int = 0  # fits: the source that marks data the fitted object has touched
    outputs: frozenset[int] = frozenset()  # splits: the sources of what they return
    folds: bool = False  # splits: cross-validation folds rather than one train/test split
    names: tuple[str, ...] = ()  # the variables the event reads


@dataclass
class _Flow:
    """Sources of every variable in one scope, and the events met in statement order.

    A source is a number: each load, literal or parameter gets a fresh one, an expression carries
    the union of the sources of the variables it reads, and a split's outputs get fresh ones. A
    fit adds a marker source to what it returns (and to the fitted object), so data that went
    through the fitted transformer can be told apart from data that merely shares its origin.
    """

    ctx: PyContext
    sources: dict[str, frozenset[int]] = field(default_factory=dict)
    objects: dict[str, str] = field(default_factory=dict)  # variable -> qualified constructor
    early: set[str] = field(default_factory=set)  # variables built with early stopping turned on
    test_sources: set[int] = field(default_factory=set)  # sources that are the test part of a split
    split_outputs: set[int] = field(default_factory=set)  # sources of everything a split returned
    events: list[_Event] = field(default_factory=list)
    markers: dict[int, int] = field(default_factory=dict)  # id(fit call) -> its marker
    history: list[frozenset[int]] = field(default_factory=list)  # every value assigned, in order
    counter: int = 0

    def fresh(self) -> frozenset[int]:
        self.counter += 1
        return frozenset({self.counter})

    def of(self, expr: ast.AST | None) -> frozenset[int]:
        if expr is None:
            return frozenset()
        found: set[int] = set()
        self._collect(expr, found)
        return frozenset(found)

    def _collect(self, node: ast.AST, found: set[int]) -> None:
        if isinstance(node, ast.Call):
            if id(node) in self.markers:
                found.add(self.markers[id(node)])
            if isinstance(node.func, ast.Attribute):
                self._collect(node.func.value, found)  # `X.fillna(0)`: the receiver is data
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                self._collect(arg, found)
            return
        if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        key = _data_key(node)
        if key is not None:
            if (isinstance(node, ast.Name) and node.id in self.ctx.imports) or key in BUILTIN_NAMES:
                return
            if key not in self.sources:
                self.sources[key] = self.fresh()
            found.update(self.sources[key])
            if isinstance(node, ast.Subscript):
                self._collect(node.slice, found)
            return
        for child in ast.iter_child_nodes(node):
            self._collect(child, found)


def _data_key(node: ast.AST) -> str | None:
    """The variable an expression reads: `X` for `X`, `X.values`, `X[:, 1]`; `self.X` for
    attributes of self (each is its own variable)."""
    chain: list[str] = []
    current = node
    while isinstance(current, (ast.Attribute, ast.Subscript)):
        if isinstance(current, ast.Attribute):
            chain.append(current.attr)
        else:
            chain = []
        current = current.value
    if not isinstance(current, ast.Name):
        return None
    if current.id in ("self", "cls") and chain:
        return f"{current.id}.{chain[-1]}"
    return current.id


def _constructor(expr: ast.AST, state: _Flow) -> str:
    """What a receiver was built from: `StandardScaler()` directly or a variable assigned one."""
    if isinstance(expr, ast.Call):
        inner = expr.func.value if isinstance(expr.func, ast.Attribute) and expr.func.attr == "fit" else expr
        if isinstance(inner, ast.Call):
            return state.ctx.qualname(inner.func) or ""
        return ""
    key = _data_key(expr)
    return state.objects.get(key, "") if key else ""


def _scope_events(body: list[ast.stmt], ctx: PyContext) -> _Flow:
    state = _Flow(ctx)
    for stmt in flow.statements(body):
        for node in flow.own_nodes(stmt):
            if isinstance(node, ast.Call):
                _classify_call(node, state)
        _assign(stmt, state)
    return state


def _classify_call(node: ast.Call, state: _Flow) -> None:
    ctx = state.ctx
    name = ctx.qualname(node.func) or ""
    text = _short(ctx.segment(node) or "")
    if name in SPLIT_FUNCTIONS:
        data_args = node.args if name in PAIRED_SPLITS else node.args[1:]
        sources = frozenset().union(*(state.of(a) for a in data_args)) if data_args else frozenset()
        state.events.append(_Event("split", node, sources, text, folds=name not in PAIRED_SPLITS))
        return
    func = node.func
    if not isinstance(func, ast.Attribute):
        return
    ctor = _constructor(func.value, state)
    data = node.args[0] if node.args else flow.kwarg(node, "X")
    if data is None:
        return
    if (func.attr in TRANSFORMER_FITS and ctor in TRANSFORMERS) or (func.attr in RESAMPLER_FITS and ctor.startswith(RESAMPLER_PREFIXES)):
        marker = min(state.fresh())
        state.markers[id(node)] = marker
        kind = "fit" if func.attr in TRANSFORMER_FITS else "resample"
        state.events.append(_Event(kind, node, state.of(data), text, ctx.segment(data) or "", marker))
        receiver = _data_key(func.value)
        if receiver is not None and not isinstance(func.value, ast.Call):
            state.sources[receiver] = state.sources.get(receiver, frozenset()) | {marker}
    elif ctor in SEARCH_CLASSES and func.attr == "fit":
        names = tuple(sorted(flow.names_read(node)))
        state.events.append(_Event("search", node, state.of(data), text, ctx.segment(data) or "", names=names))
        state.events.append(_Event("split", node, state.of(data), text, folds=True))
    elif ctor.startswith(SPLITTER_PREFIX) and func.attr == "split":
        state.events.append(_Event("split", node, state.of(data), text, folds=True))
    elif func.attr == "fit" and flow.kwarg(node, "eval_set") is not None:
        early = any(k.arg in EARLY_STOPPING_KEYWORDS for k in node.keywords) or _data_key(func.value) in state.early
        if early:
            eval_set = flow.kwarg(node, "eval_set")
            names = tuple(sorted(flow.names_read(eval_set))) if eval_set is not None else ()
            state.events.append(_Event("early-stop", node, state.of(eval_set), text, names=names))


def _assign(stmt: ast.stmt, state: _Flow) -> None:
    if isinstance(stmt, ast.Assign):
        targets, value = stmt.targets, stmt.value
    elif isinstance(stmt, (ast.AnnAssign, ast.AugAssign)) and stmt.value is not None:
        targets, value = [stmt.target], stmt.value
    else:
        return
    ctx = state.ctx
    called = ctx.qualname(value.func) if isinstance(value, ast.Call) else None
    if called in PAIRED_SPLITS and len(targets) == 1 and isinstance(targets[0], (ast.Tuple, ast.List)):
        _split_outputs(targets[0], state)
        return
    sources = state.of(value)
    if not sources:
        sources = state.fresh()  # a load, a literal: new data
    state.history.append(sources)
    ctor = _constructor(value, state) if isinstance(value, ast.Call) else ""
    early = isinstance(value, ast.Call) and any(k.arg in EARLY_STOPPING_KEYWORDS for k in value.keywords)
    for target in targets:
        keys = [_data_key(t) for t in _flat(target)]
        for key in keys:
            if key is None:
                continue
            if isinstance(target, ast.Subscript) or isinstance(stmt, ast.AugAssign):
                # `df["x"] = scaler.fit_transform(df[["x"]])` changes df in place
                state.sources[key] = state.sources.get(key, frozenset()) | sources
                continue
            state.sources[key] = sources
            state.objects[key] = ctor
            if early:
                state.early.add(key)
            else:
                state.early.discard(key)


def _flat(target: ast.AST) -> list[ast.AST]:
    if isinstance(target, (ast.Tuple, ast.List)):
        return [t for elt in target.elts for t in _flat(elt)]
    if isinstance(target, ast.Starred):
        return _flat(target.value)
    return [target]


def _split_outputs(target: ast.Tuple | ast.List, state: _Flow) -> None:
    """train_test_split returns (train, test) for each array, in order: odd positions are test."""
    split = next((e for e in reversed(state.events) if e.kind == "split"), None)
    # A split of an earlier split's output (train -> train, validation) makes a validation set.
    nested = split is not None and bool(split.sources & state.split_outputs)
    outputs: set[int] = set()
    for index, element in enumerate(target.elts):
        fresh = state.fresh()
        outputs |= fresh
        if index % 2 == 1 and not nested:
            state.test_sources |= fresh
        for key in (_data_key(t) for t in _flat(element)):
            if key is not None:
                state.sources[key] = fresh
                state.objects.pop(key, None)
    state.split_outputs |= outputs
    if split is not None:
        split.outputs = frozenset(outputs)


def _short(text: str) -> str:
    text = " ".join(text.split())
    return text if len(text) <= 60 else text[:57] + "..."


def _before_split(state: _Flow, kind: str) -> Iterator[tuple[_Event, _Event]]:
    """(event, the later split it leaks into): the fit saw data that a later split divides, and
    what the fitted object produced is on one side of that split (the split data came out of the
    transformer, or the transformer is applied to the split's outputs)."""
    for index, event in enumerate(state.events):
        if event.kind != kind or not event.sources or event.sources & state.split_outputs:
            continue  # fit on a split's output: the training split (the catalog's negative) or the test one
        for split in state.events[index + 1 :]:
            if split.kind != "split" or not split.sources & event.sources:
                continue
            if event.marker in split.sources or any(
                event.marker in h and h & split.outputs for h in state.history
            ):
                yield event, split
                break


_SPLIT_WORDS = ("split", "Fold", "cross_val", "Search", "eval_set")


class _LeakageRule(PythonRule):
    tags = ("leakage", "correctness")
    # Every leak needs a split, and every split this family knows is scikit-learn's
    # (SPLIT_FUNCTIONS, SPLITTER_PREFIX, SEARCH_CLASSES), bound by an import that says "sklearn".
    requires_text = ("sklearn",)

    def leave_Module(self, node: ast.Module, ctx: PyContext) -> None:
        # Leakage needs a split, a CV or a search somewhere in the file: a look at the text spares the
        # data-flow pass to the many files that have none.
        if not any(word in ctx.source for word in _SPLIT_WORDS):
            return
        for _, body in flow.scopes(node):
            self.check_scope(_scope_events(body, ctx), ctx)

    def check_scope(self, state: _Flow, ctx: PyContext) -> None:
        raise NotImplementedError


class FitBeforeSplit(_LeakageRule):
    code = "ML801"
    name = "preprocessing-fit-before-split"
    summary = "A scaler, imputer, selector or vectorizer is fit on data that is split into train and test afterwards"
    valid = (
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\n"
        "X, y = load()\nX_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
        "scaler = StandardScaler().fit(X_train)\nX_test = scaler.transform(X_test)\n",
        "from sklearn.pipeline import make_pipeline\nfrom sklearn.preprocessing import StandardScaler\n"
        "from sklearn.linear_model import LogisticRegression\nfrom sklearn.model_selection import cross_val_score\n"
        "X, y = load()\nmodel = make_pipeline(StandardScaler(), LogisticRegression())\n"
        "print(cross_val_score(model, X, y, cv=5))\n",
        "from sklearn.preprocessing import LabelEncoder\nfrom sklearn.model_selection import train_test_split\n"
        "X, y = load()\ny = LabelEncoder().fit_transform(y)\ntrain_test_split(X, y, random_state=0)\n",
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\n"
        "X, y = load()\nZ = other()\nscaler = StandardScaler()\nscaler.fit(Z)\ntrain_test_split(X, y, random_state=0)\n",
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import GridSearchCV, train_test_split\n"
        "from sklearn.svm import SVC\nX, y = load()\nX_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
        "X_train_scaled = StandardScaler().fit_transform(X_train)\nGridSearchCV(SVC(), {'C': [1, 10]}).fit(X_train_scaled, y_train)\n",
    )
    invalid = (
        "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import train_test_split\n"
        "X, y = load()\nscaler = StandardScaler()\nX_scaled = scaler.fit_transform(X)  # expect: ML801\n"
        "X_train, X_test, y_train, y_test = train_test_split(X_scaled, y, random_state=0)\n",
        "import pandas as pd\nfrom sklearn.impute import SimpleImputer\nfrom sklearn.model_selection import cross_val_score\n"
        "from sklearn.linear_model import LogisticRegression\ndf = pd.read_csv('data.csv')\n"
        "df[['age']] = SimpleImputer().fit_transform(df[['age']])  # expect: ML801\n"
        "print(cross_val_score(LogisticRegression(), df.drop(columns='y'), df['y']))\n",
        "from sklearn.feature_selection import SelectKBest\nfrom sklearn.model_selection import KFold\n"
        "def run(X, y):\n    X = SelectKBest(k=10).fit_transform(X, y)  # expect: ML801\n"
        "    for train_idx, test_idx in KFold(5).split(X):\n        fit(X[train_idx], y[train_idx])\n",
    )

    def check_scope(self, state: _Flow, ctx: PyContext) -> None:
        for fit, split in _before_split(state, "fit"):
            parts = "cross-validation folds" if split.folds else "train and test"
            ctx.report(
                self,
                fit.node,
                f"{fit.text} learns its statistics from {fit.data or 'the data'}, which is split into {parts} "
                f"later ({split.text}, line {ctx.line(split.node)}), so the held-out rows shape the "
                "preprocessing and the score is optimistic; fit it on the training split only, or put it "
                "in a Pipeline that the split or cross-validation fits.",
            )


class ResampleBeforeSplit(_LeakageRule):
    code = "ML802"
    name = "resampling-before-split"
    summary = "SMOTE or other over/under-sampling of data that is split into train and test afterwards"
    # Opt-in until measured: no finding on the 13 real repositories triaged (docs/validation.md).
    opt_in = True
    valid = (
        "from imblearn.over_sampling import SMOTE\nfrom sklearn.model_selection import train_test_split\n"
        "X, y = load()\nX_train, X_test, y_train, y_test = train_test_split(X, y, stratify=y, random_state=0)\n"
        "X_train, y_train = SMOTE(random_state=0).fit_resample(X_train, y_train)\n",
        "from imblearn.pipeline import make_pipeline\nfrom imblearn.over_sampling import SMOTE\n"
        "from sklearn.linear_model import LogisticRegression\nfrom sklearn.model_selection import cross_val_score\n"
        "X, y = load()\nprint(cross_val_score(make_pipeline(SMOTE(), LogisticRegression()), X, y))\n",
    )
    invalid = (
        "from imblearn.over_sampling import SMOTE\nfrom sklearn.model_selection import train_test_split\n"
        "X, y = load()\nsm = SMOTE(random_state=0)\nX_res, y_res = sm.fit_resample(X, y)  # expect: ML802\n"
        "X_train, X_test, y_train, y_test = train_test_split(X_res, y_res, random_state=0)\n",
    )

    def check_scope(self, state: _Flow, ctx: PyContext) -> None:
        for event, split in _before_split(state, "resample"):
            ctx.report(
                self,
                event.node,
                f"{event.text} resamples {event.data or 'the data'} before it is split ({split.text}, line "
                f"{ctx.line(split.node)}), so copies or neighbours of test rows end up in training and the "
                "score is optimistic; resample the training split only, or use an imblearn Pipeline.",
            )


class TestSplitForSelection(_LeakageRule):
    code = "ML803"
    name = "test-split-used-for-selection"
    summary = "The test part of a split chooses hyperparameters or stops training early"
    # Opt-in until measured: no finding on the 13 real repositories triaged (docs/validation.md).
    opt_in = True
    valid = (
        "from sklearn.model_selection import GridSearchCV, train_test_split\nfrom sklearn.svm import SVC\n"
        "X, y = load()\nX_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
        "search = GridSearchCV(SVC(), {'C': [1, 10]})\nsearch.fit(X_train, y_train)\nprint(search.score(X_test, y_test))\n",
        "import xgboost as xgb\nfrom sklearn.model_selection import train_test_split\nX, y = load()\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
        "X_tr, X_val, y_tr, y_val = train_test_split(X_train, y_train, random_state=0)\n"
        "model = xgb.XGBClassifier(early_stopping_rounds=10)\nmodel.fit(X_tr, y_tr, eval_set=[(X_val, y_val)])\n",
        "import xgboost as xgb\nfrom sklearn.model_selection import train_test_split\nX, y = load()\n"
        "X_train, X_val, y_train, y_val = train_test_split(X, y, random_state=0)\nmodel = xgb.XGBRegressor()\n"
        "model.fit(X_train, y_train, eval_set=[(X_val, y_val)], early_stopping_rounds=2)\n",
    )
    invalid = (
        "from sklearn.model_selection import GridSearchCV, train_test_split\nfrom sklearn.svm import SVC\n"
        "X, y = load()\nX_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\n"
        "search = GridSearchCV(SVC(), {'C': [1, 10]})\nsearch.fit(X_test, y_test)  # expect: ML803\n",
        "import lightgbm as lgb\nfrom sklearn.model_selection import train_test_split\nX, y = load()\n"
        "X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)\nmodel = lgb.LGBMClassifier()\n"
        "model.fit(X_train, y_train, eval_set=[(X_test, y_test)], callbacks=[lgb.early_stopping(10)])  # expect: ML803\n"
        "print(model.score(X_test, y_test))\n",
        "import lightgbm as lgb\nfrom sklearn.model_selection import train_test_split\nX, y = load()\n"
        "a, b, c, d = train_test_split(X, y, random_state=0)\nmodel = lgb.LGBMClassifier()\n"
        "model.fit(a, c, eval_set=[(b, d)], callbacks=[lgb.early_stopping(10)])  # expect: ML803\n",
    )

    def check_scope(self, state: _Flow, ctx: PyContext) -> None:
        for event in state.events:
            if event.kind not in ("search", "early-stop") or not event.sources & state.test_sources:
                continue
            if any(part in name.lower() for name in event.names for part in VALIDATION_NAME_PARTS):
                continue  # a two-way split whose held-out part the code itself calls validation
            what = "chooses hyperparameters on" if event.kind == "search" else "stops training early on"
            ctx.report(
                self,
                event.node,
                f"{event.text} {what} the test part of a split, so the test score that follows is no longer "
                "an unbiased estimate; split off a validation set from the training data and keep the test "
                "split for the final score only.",
            )
