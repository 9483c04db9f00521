"""The estimators are scikit-learn estimators: check_estimator passes, and Pipeline,
GridSearchCV and cross_val_score work; without scikit-learn a small fallback keeps the API."""

import json
import os
import subprocess
import sys
import warnings

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import data

sklearn = pytest.importorskip("sklearn", reason="scikit-learn (in the test extra) is not installed")

# check_estimator in a fresh interpreter: SCIPY_ARRAY_API must be set before scipy is imported,
# or scikit-learn skips its array-API check. Budgets are reduced so its many tiny fits are quick.
CHECK = """
import json, warnings
warnings.simplefilter("ignore")
import tinygrad_gd as tg
from sklearn.utils.estimator_checks import check_estimator
report = {}
for est in [tg.LinearRegression(max_steps=200), tg.LogisticRegression(max_steps=50)]:
    results = check_estimator(est, on_fail=None, on_skip=None)
    report[type(est).__name__] = [(r["check_name"], r["status"], repr(r["exception"])) for r in results]
print(json.dumps(report))
"""


def test_check_estimator_passes_for_both_estimators():
    env = {**os.environ, "SCIPY_ARRAY_API": "1"}
    done = subprocess.run([sys.executable, "-c", CHECK], capture_output=True, text=True, timeout=300, env=env)
    assert done.returncode == 0, done.stderr[-3000:]
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for name, results in report.items():
        assert len(results) > 50, (name, len(results))
        failed = [r for r in results if r[1] != "passed"]
        assert not failed, f"{name}: {failed}"


def test_pipeline_grid_search_and_cross_validation():
    from sklearn.model_selection import GridSearchCV, cross_val_score
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    X, y = data.make_noisy_line(n=60, noise=0.5, seed=0)
    y = y.ravel()
    pipe = make_pipeline(StandardScaler(), tg.LinearRegression(standardize=False)).fit(X, y)
    assert pipe.score(X, y) > 0.9
    np.testing.assert_allclose(pipe[-1].coef_, pipe[-1].closed_form_coef_, atol=1e-4)
    search = GridSearchCV(tg.LinearRegression(max_steps=30, tol=None), {"lr": [0.01, 0.3]}, cv=3).fit(X, y)
    assert search.best_params_ == {"lr": 0.3} and search.best_estimator_.lr == 0.3
    scores = cross_val_score(tg.LinearRegression(), X, y, cv=3)
    assert scores.shape == (3,) and np.all(scores > 0.8)
    Xc, yc = data.load_builtin("two_blobs", n=60)
    accuracy = cross_val_score(tg.LogisticRegression(max_steps=100, tol=None), Xc, yc.ravel(), cv=3)
    assert np.all(accuracy >= 0.9)


def test_params_clone_and_fitted_state():
    from sklearn.base import clone
    from sklearn.exceptions import NotFittedError
    from sklearn.utils.validation import check_is_fitted

    model = tg.LinearRegression("half_mse", lr=0.3)
    assert model.get_params()["loss"] == "half_mse" and model.get_params()["lr"] == 0.3
    assert model.set_params(max_steps=50) is model and model.max_steps == 50
    copy = clone(model)
    assert copy is not model and copy.get_params() == model.get_params()
    with pytest.raises(NotFittedError):
        check_is_fitted(model)
    with pytest.raises(NotFittedError, match="not fitted yet"):
        model.predict(np.ones((2, 1)))
    with pytest.raises(ValueError, match="Invalid parameter"):
        model.set_params(learning_rate=1.0)
    X, y = data.make_noisy_line(n=20, seed=1)
    check_is_fitted(model.set_params(max_steps=2000).fit(X, y))
    assert model.n_features_in_ == 1 and not hasattr(model, "feature_names_in_")


def test_feature_names_from_a_dataframe():
    pd = pytest.importorskip("pandas", reason="pandas (in the test extra) is not installed")
    X, y = two_features()
    frame = pd.DataFrame(X, columns=["size", "age"])
    model = tg.LinearRegression().fit(frame, y)
    assert model.feature_names_in_.tolist() == ["size", "age"] and model.n_features_in_ == 2
    with pytest.warns(UserWarning, match="X does not have valid feature names, but LinearRegression was fitted with"):
        model.predict(X)
    with pytest.raises(ValueError, match="The feature names should match those that were passed during fit"):
        model.predict(frame[["age", "size"]])
    plain = tg.LinearRegression().fit(X, y)
    with pytest.warns(UserWarning, match="X has feature names, but LinearRegression was fitted without"):
        plain.predict(frame)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(model.predict(frame), plain.predict(X))


def two_features():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(30, 2))
    return X, X @ [2.0, -1.0] + 0.5


FALLBACK = """
import sys
sys.modules["sklearn"] = None
import numpy as np
import tinygrad_gd as tg
from tinygrad_gd import _estimator_base as base
assert not base.HAVE_SKLEARN
model = tg.LinearRegression("half_mse", lr=0.5)
assert repr(model) == "LinearRegression(loss='half_mse', lr=0.5)", repr(model)
assert model.get_params()["lr"] == 0.5 and model.set_params(max_steps=3000) is model
try:
    model.set_params(learning_rate=1)
except ValueError as e:
    assert "Invalid parameter 'learning_rate'" in str(e)
try:
    model.predict(np.ones((2, 1)))
except tg.estimators.NotFittedError as e:
    assert isinstance(e, ValueError) and isinstance(e, AttributeError)
X = np.arange(8.0).reshape(-1, 1)
assert abs(model.fit(X, 2 * X.ravel() + 1).coef_[0] - 2) < 1e-4 and model._estimator_type == "regressor"
assert tg.LogisticRegression()._estimator_type == "classifier"
assert repr(tg.LogisticRegression()) == "LogisticRegression()"
print("ok")
"""


def test_without_scikit_learn_a_small_fallback_keeps_the_api():
    done = subprocess.run([sys.executable, "-c", FALLBACK], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr[-3000:]
