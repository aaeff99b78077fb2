"""ML801-ML803: leakage found by data flow inside one function or notebook, never by names alone."""

from __future__ import annotations

from pathlib import Path

from tests.helpers import assert_exact, check, make_repo

CODES = ["ML801", "ML802", "ML803"]


def test_names_do_not_decide_what_is_full_data(tmp_path: Path) -> None:
    # `train` is the whole data set here: it is split afterwards.
    files = {
        "a.py": """from sklearn.preprocessing import StandardScaler
from sklearn.model_selection import train_test_split


def run(train, labels):
    train = StandardScaler().fit_transform(train)  # expect: ML801
    a, b, c, d = train_test_split(train, labels, random_state=0)
    return a, b, c, d
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_fitted_scaler_applied_to_split_outputs_is_reported(tmp_path: Path) -> None:
    files = {
        "a.py": """from sklearn.preprocessing import MinMaxScaler
from sklearn.model_selection import train_test_split

X, y = load()
scaler = MinMaxScaler()
scaler.fit(X)  # expect: ML801
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
X_train = scaler.transform(X_train)
X_test = scaler.transform(X_test)
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_exploratory_fit_not_used_by_the_model_is_silent(tmp_path: Path) -> None:
    # A PCA fit on everything for a plot; the model is trained on the raw split.
    files = {
        "a.py": """from sklearn.decomposition import PCA
from sklearn.model_selection import train_test_split

X, y = load()
coords = PCA(n_components=2).fit_transform(X)
plot(coords)
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_fit_on_the_training_split_and_pipeline_are_silent(tmp_path: Path) -> None:
    files = {
        "a.py": """from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC
from sklearn.model_selection import GridSearchCV, train_test_split

X, y = load()
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
scaler = StandardScaler().fit(X_train)
pipe = Pipeline([("scale", StandardScaler()), ("svc", SVC())])
search = GridSearchCV(pipe, {"svc__C": [1, 10]}).fit(X_train, y_train)
print(search.score(scaler.transform(X_test), y_test))
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_each_function_is_its_own_scope(tmp_path: Path) -> None:
    files = {
        "a.py": """from sklearn.preprocessing import StandardScaler
from sklearn.model_selection import train_test_split


def prepare(X):
    return StandardScaler().fit_transform(X)


def split(X, y):
    return train_test_split(X, y, random_state=0)
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_resampling_then_split_and_test_for_early_stopping(tmp_path: Path) -> None:
    files = {
        "a.py": """import xgboost as xgb
from imblearn.over_sampling import RandomOverSampler
from sklearn.model_selection import train_test_split

X, y = load()
X, y = RandomOverSampler().fit_resample(X, y)  # expect: ML802
X_train, X_test, y_train, y_test = train_test_split(X, y, random_state=0)
model = xgb.XGBClassifier(early_stopping_rounds=5)
model.fit(X_train, y_train, eval_set=[(X_test, y_test)])  # expect: ML803
print(model.score(X_test, y_test))
""",
    }
    assert_exact(tmp_path, files, CODES)


def test_messages_name_the_split_and_the_remedy(tmp_path: Path) -> None:
    files = {
        "a.py": "from sklearn.preprocessing import StandardScaler\nfrom sklearn.model_selection import cross_val_score\n"
        "X, y = load()\nX = StandardScaler().fit_transform(X)\nprint(cross_val_score(model, X, y))\n",
    }
    result = check(make_repo(tmp_path / "repo", files), select=["ML801"])
    [finding] = result.findings
    assert "cross-validation folds" in finding.message and "line 5" in finding.message
    assert "Pipeline" in finding.message
