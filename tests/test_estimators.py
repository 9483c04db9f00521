"""LinearRegression / LogisticRegression: agreement with closed forms and with independent
numpy gradient descent, unit conversion under standardisation, predictions, errors."""

import functools
import warnings

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import data, losses
from tinygrad_gd.estimators import LinearRegression, LogisticRegression, NotFittedError
from tinygrad_gd.train import DivergenceError, History


def two_scale_problem(n=60, seed=0):
    """Two features on very different scales (the tutorials' classic divergence trap)."""
    rng = np.random.default_rng(seed)
    X = np.c_[rng.uniform(0, 1, n), rng.uniform(0, 1000, n)]
    y = 3.0 * X[:, 0] - 0.002 * X[:, 1] + 5.0 + 0.01 * rng.standard_normal(n)
    return X, y


# --------------------------------------------------------------------------- LinearRegression
def test_linear_regression_reaches_the_closed_form():
    X, y = data.load_builtin("noisy_line")
    model = LinearRegression(tol=1e-14, max_steps=5000).fit(X, y)
    cf_coef, cf_intercept = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y.ravel(), rcond=None)[0]
    np.testing.assert_allclose(model.closed_form_coef_, [cf_coef], rtol=1e-12)
    assert model.closed_form_intercept_ == pytest.approx(cf_intercept, rel=1e-12)
    assert model.closed_form_ == (model.closed_form_coef_, model.closed_form_intercept_)
    assert model.closed_form_gap_ < 1e-6
    assert model.closed_form_gap_ == pytest.approx(
        max(abs(model.coef_[0] - cf_coef), abs(model.intercept_ - cf_intercept)), abs=1e-15
    )
    assert isinstance(model.history_, History) and model.n_iter_ == model.history_.steps
    assert model.history_.stop_reason == "tol"


def test_standardised_coefficients_are_reported_in_original_units():
    X, y = two_scale_problem()
    model = LinearRegression(tol=1e-16, max_steps=5000).fit(X, y)
    assert model.coef_.shape == (2,)
    assert model.closed_form_gap_ < 1e-7
    np.testing.assert_allclose(model.predict(X), X @ model.closed_form_coef_ + model.closed_form_intercept_, atol=1e-6)


def test_unscaled_features_diverge_without_standardisation():
    X, y = two_scale_problem()
    with pytest.raises(DivergenceError, match="smaller learning rate.*standardize=True"):
        LinearRegression(standardize=False, lr=0.1).fit(X, y)


def test_divergence_advice_does_not_suggest_standardizing_standardized_features():
    X, y = two_scale_problem()
    with pytest.raises(DivergenceError, match=r"already standardized \(standardize=True\).*try lr=0.5 ") as info:
        LinearRegression(lr=5.0).fit(X, y)
    assert "standardize the features" not in str(info.value) and info.value.step > 0


def test_seed_002_line_without_standardisation():
    X, y = data.make_line()
    model = LinearRegression("half_mse", standardize=False, lr=0.1, max_steps=20_000, tol=1e-20).fit(X, y)
    assert model.coef_[0] == pytest.approx(2.0, abs=1e-6) and model.intercept_ == pytest.approx(0.0, abs=1e-5)
    assert model.predict(X).shape == (3, 1)  # shaped like the y it was given
    assert model.score(X, y) == pytest.approx(1.0, abs=1e-10)


def test_linear_regression_matches_independent_numpy_gradient_descent():
    X, y = two_scale_problem(n=30, seed=3)
    model = LinearRegression("mse", lr=0.05, max_steps=40, tol=None).fit(X, y)
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z = (X - mean) / std
    w, b = np.zeros(2), 0.0
    for _ in range(40):
        r = Z @ w + b - y  # J = mean(r²): dJ/dw = 2 Zᵀr/n, dJ/db = 2 mean(r)
        w, b = w - 0.05 * 2 * Z.T @ r / len(y), b - 0.05 * 2 * r.mean()
    np.testing.assert_allclose(model.coef_, w / std, rtol=1e-12)
    assert model.intercept_ == pytest.approx(b - np.sum(w * mean / std), rel=1e-12)
    assert model.n_iter_ == 40 and model.history_.stop_reason == "max_steps"


@pytest.mark.parametrize("optimizer", ["sgd", "momentum", "adam"])
def test_each_optimizer_gets_close(optimizer):
    X, y = data.load_builtin("noisy_line")
    model = LinearRegression(optimizer=optimizer, lr=0.05, max_steps=3000, tol=1e-14).fit(X, y)
    assert model.closed_form_gap_ < 1e-4


def test_other_losses_and_callables():
    X, y = data.make_noisy_line(n=80, noise=0.0, seed=0)  # exact line: every loss has the same minimiser
    for loss in ["mae", "huber", functools.partial(losses.huber, delta=0.5)]:
        model = LinearRegression(loss, optimizer="adam", lr=0.05, max_steps=1000, tol=None).fit(X, y)
        assert model.coef_[0] == pytest.approx(2.0, abs=0.02) and model.intercept_ == pytest.approx(1.0, abs=0.02)


def test_minibatches_and_no_intercept():
    X, y = data.make_noisy_line(n=64, intercept=0.0, noise=0.05, seed=1)
    model = LinearRegression(fit_intercept=False, standardize=False, batch_size=16, seed=0, lr=0.02, max_steps=800).fit(
        X, y.ravel()
    )
    assert model.intercept_ == 0.0 and model.closed_form_intercept_ == 0.0
    assert model.closed_form_gap_ < 0.02 and model.predict(X).shape == (64,)


def test_r2_score_formula():
    X, y = data.make_noisy_line(n=50, noise=1.0, seed=4)
    model = LinearRegression().fit(X, y)
    pred = model.predict(X).ravel()
    expected = 1 - np.sum((y.ravel() - pred) ** 2) / np.sum((y.ravel() - y.mean()) ** 2)
    assert model.score(X, y) == pytest.approx(expected, rel=1e-12) and 0 < expected < 1


def test_linear_regression_errors():
    with pytest.raises(NotFittedError, match="fit") as info:
        LinearRegression().predict(np.ones((2, 1)))
    assert isinstance(info.value, ValueError) and isinstance(info.value, AttributeError)
    model = LinearRegression().fit(np.array([[0.0, 1.0], [1.0, 0.0], [2.0, 5.0], [3.0, 1.0]]), np.arange(4.0))
    with pytest.raises(ValueError, match=r"X has 3 features, but LinearRegression is expecting 2 features"):
        model.predict(np.ones((1, 3)))
    with pytest.raises(ValueError, match=r"1-D array of shape \(4,\). Reshape your data: X.reshape\(-1, 1\)"):
        LinearRegression().fit(np.arange(4.0), np.arange(4.0))
    with pytest.raises(ValueError, match=r"0 feature\(s\) \(shape=\(3, 0\)\)"):
        LinearRegression().fit(np.ones((3, 0)), np.ones(3))
    with pytest.raises(ValueError, match="Complex data not supported"):
        LinearRegression().fit(np.ones((3, 1)) * 1j, np.ones(3))
    with pytest.raises(TypeError, match="sparse input is not supported"):
        LinearRegression().fit(pytest.importorskip("scipy.sparse").csr_matrix(np.eye(3)), np.ones(3))
    with pytest.raises(ValueError, match="requires y to be passed"):
        LinearRegression().fit(np.ones((3, 1)), None)
    with pytest.raises(ValueError, match="4 rows but y has 3"):
        LinearRegression().fit(np.ones((4, 1)), np.ones(3))
    with pytest.raises(ValueError, match="NaN"):
        LinearRegression().fit(np.array([[1.0], [np.nan]]), np.ones(2))
    with pytest.raises(ValueError, match=r"y must be \(n,\) or \(n, n_targets\)"):
        LinearRegression().fit(np.ones((4, 1)), np.ones((4, 2, 1)))
    with pytest.raises(ValueError, match="unknown loss"):
        LinearRegression("l3").fit(np.ones((2, 1)), np.ones(2))
    with pytest.raises(ValueError, match="unknown optimizer"):
        LinearRegression(optimizer="lbfgs").fit(np.ones((2, 1)), np.ones(2))
    with pytest.raises(ValueError, match="numeric"):
        LinearRegression().fit(np.array([["a"], ["b"]]), np.ones(2))


# --------------------------------------------------------------------------- LogisticRegression
def test_logistic_regression_matches_independent_numpy_gradient_descent():
    X, y = data.load_builtin("two_blobs", std=2.0)  # overlapping classes: a finite optimum
    model = LogisticRegression(lr=0.5, max_steps=100, tol=None).fit(X, y.ravel())
    mean, std = X.mean(axis=0), X.std(axis=0)
    Z, t = (X - mean) / std, y.ravel()
    w, b = np.zeros(2), 0.0
    for _ in range(100):
        p = 1 / (1 + np.exp(-(Z @ w + b)))  # mean BCE: dJ/dw = Zᵀ(p - t)/n, dJ/db = mean(p - t)
        w, b = w - 0.5 * Z.T @ (p - t) / len(t), b - 0.5 * np.mean(p - t)
    assert model.coef_.shape == (1, 2) and model.intercept_.shape == (1,)
    np.testing.assert_allclose(model.coef_[0], w / std, rtol=1e-10)
    assert model.intercept_[0] == pytest.approx(b - np.sum(w * mean / std), rel=1e-10)


def test_logistic_regression_predictions_and_probabilities():
    X, y = data.load_builtin("two_blobs")
    model = LogisticRegression().fit(X, y.ravel())
    assert model.score(X, y.ravel()) >= 0.98
    proba = model.predict_proba(X)
    assert proba.shape == (200, 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    z = model.decision_function(X)
    np.testing.assert_allclose(proba[:, 1], 1 / (1 + np.exp(-z)), rtol=1e-9, atol=1e-15)
    np.testing.assert_array_equal(model.predict(X), (z > 0).astype(float))
    assert model.predict_log_proba(X).shape == (200, 2)
    assert np.all(np.isfinite(model.predict_proba(X * 1e4)))  # huge logits stay finite


def test_string_labels_come_back():
    X, y = data.load_builtin("two_blobs", n=60)
    names = np.where(y.ravel() > 0.5, "yes", "no")
    model = LogisticRegression().fit(X, names)
    assert model.classes_.tolist() == ["no", "yes"]
    assert set(model.predict(X)) <= {"no", "yes"} and model.score(X, names) >= 0.95


def test_multiclass_softmax_regression():
    X, y = data.load_builtin("three_blobs")
    model = LogisticRegression(lr=0.5, max_steps=500).fit(X, y)
    assert model.coef_.shape == (3, 2) and model.intercept_.shape == (3,)
    assert model.score(X, y) >= 0.95
    proba = model.predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    np.testing.assert_array_equal(model.predict(X), proba.argmax(axis=1))


def test_l2_shrinks_the_weights():
    X, y = data.load_builtin("two_blobs")
    plain = LogisticRegression(max_steps=300).fit(X, y.ravel())
    ridge = LogisticRegression(max_steps=300, l2=0.1).fit(X, y.ravel())
    assert np.linalg.norm(ridge.coef_) < 0.5 * np.linalg.norm(plain.coef_)
    model = LogisticRegression(l2=-1.0)  # constructors only store (scikit-learn's rule) ...
    with pytest.raises(ValueError, match="l2 must be a number >= 0"):  # ... fit checks
        model.fit(X, y.ravel())


def test_logistic_regression_errors():
    with pytest.raises(ValueError, match="two classes in y, got one class"):
        LogisticRegression().fit(np.ones((3, 1)), np.zeros(3))
    with pytest.raises(NotFittedError):
        LogisticRegression().predict_proba(np.ones((1, 1)))
    with pytest.raises(NotFittedError):
        LogisticRegression().predict(np.ones((1, 1)))
    with pytest.raises(ValueError, match="Unknown label type: continuous.*0.5"):
        LogisticRegression().fit(np.arange(3.0).reshape(-1, 1), np.array([0.0, 0.5, 1.0]))
    with pytest.raises(ValueError, match="NaN"):
        LogisticRegression().fit(np.arange(3.0).reshape(-1, 1), np.array([0.0, np.nan, 1.0]))


def test_a_column_of_labels_warns_as_scikit_learn_does():
    X, y = data.load_builtin("two_blobs", n=40)
    with pytest.warns(UserWarning, match="A column-vector y was passed when a 1d array was expected"):
        column = LogisticRegression(max_steps=50, tol=None).fit(X, y)  # y is (40, 1)
    flat = LogisticRegression(max_steps=50, tol=None).fit(X, y.ravel())
    np.testing.assert_array_equal(column.coef_, flat.coef_)


# --------------------------------------------------------------------------- the shared helpers
# estimators.py is the one place for unscaling, least squares, R² and class ids; the CLI and
# tg.sweep train through _prepare/_descend (their end-to-end tests: test_cli.py, test_sweep.py).
def test_signatures_take_loss_positionally_and_the_rest_by_keyword():
    import inspect

    linear = inspect.signature(LinearRegression).parameters
    assert list(linear)[0] == "loss" and linear["loss"].kind is inspect.Parameter.POSITIONAL_OR_KEYWORD
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for name, p in linear.items() if name != "loss")
    logistic = inspect.signature(LogisticRegression).parameters
    assert all(p.kind is inspect.Parameter.KEYWORD_ONLY for p in logistic.values())
    assert logistic["lr"].default == 0.5 and linear["lr"].default == 0.1 and logistic["l2"].default == 0.0
    with pytest.raises(TypeError):
        LinearRegression("mse", "adam")
    # scikit-learn's repr: the arguments that differ from their defaults
    assert repr(LinearRegression()) == "LinearRegression()"
    assert repr(LinearRegression("half_mse", lr=0.5)) == "LinearRegression(loss='half_mse', lr=0.5)"
    assert LinearRegression() != LinearRegression()  # identity, as scikit-learn estimators


def test_unscale_least_squares_and_r2():
    from tinygrad_gd.estimators import _least_squares, _r2, _unscale

    X, y = two_scale_problem()
    scaler = data.Standardizer().fit(X)
    weight, bias = np.array([[0.5, -2.0]]), np.array([3.0])
    w, b = _unscale(weight, bias, scaler)
    np.testing.assert_allclose(X @ w[0] + b[0], scaler.transform(X) @ weight[0] + bias[0], rtol=1e-12)
    coef, intercept = _least_squares(X, y)
    np.testing.assert_allclose(np.r_[coef, intercept], np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0])
    assert _least_squares(X, y, fit_intercept=False)[1] == 0.0
    assert _r2(y, X @ coef + intercept) > 0.99 and _r2(np.ones(3), np.ones(3)) is None


def test_class_targets():
    from tinygrad_gd.estimators import _class_targets

    two = _class_targets(np.array(["b", "a", "b"]))
    assert two.classes.tolist() == ["a", "b"] and two.loss_name == "binary_cross_entropy_with_logits"
    assert two.outputs == 1 and two.target.tolist() == [[1.0], [0.0], [1.0]]
    three = _class_targets(np.array([5, 1, 3, 1]))
    assert three.loss_name == "cross_entropy" and three.outputs == 3
    assert three.target.dtype == np.int64 and three.target.tolist() == [2, 0, 1, 0]


def test_prepare_checks_the_target_and_the_loss():
    from tinygrad_gd.estimators import _prepare

    X = np.arange(6.0).reshape(-1, 1)
    with pytest.raises(data.DataError, match="single value 1"):
        _prepare(X, np.ones(6), "logistic", None, False, "label")
    with pytest.raises(data.DataError, match="'label' holds 0.5, not a class label"):
        _prepare(X, np.array([0, 0.5, 1, 1, 0, 1]), "logistic", None, False, "label")
    with pytest.raises(data.DataError, match="trains on binary_cross_entropy_with_logits"):
        _prepare(X, np.array([0, 1, 1, 0, 1, 0]), "logistic", "mse", False)
    with pytest.raises(data.DataError, match="does not fit a linear regression"):
        _prepare(X, np.arange(6.0), "linear", "cross_entropy", False)
    problem = _prepare(X, np.array([0, 2, 1, 2, 0, 1]), "logistic", None, True)
    assert problem.outputs == 3 and problem.loss_name == "cross_entropy"
    np.testing.assert_allclose(problem.train_X.std(axis=0), 1.0)


def test_the_cli_core_matches_the_estimator():
    # the command line's fit (via _prepare/_descend) and LogisticRegression train identically
    from tinygrad_gd.estimators import _prepare, _Settings

    X, y = data.load_builtin("two_blobs", std=2.0)
    problem = _prepare(X, y, "logistic", None, True)
    run = problem.descend(_Settings(lr=0.5, max_steps=100, progress=False))
    model = LogisticRegression(lr=0.5, max_steps=100, tol=None).fit(X, y.ravel())
    np.testing.assert_array_equal(run.weight, model.coef_)
    np.testing.assert_array_equal(run.bias, model.intercept_)
    evaluation = problem.evaluate(run.weight, run.bias)
    assert evaluation.accuracy == pytest.approx(model.score(X, y)) and evaluation.closed_form is None


# --------------------------------------------------------------------------- honest fits (issue 14)
def test_a_budget_stop_warns_with_convergence_warning():
    X, y = data.load_builtin("noisy_line")
    with pytest.warns(tg.ConvergenceWarning, match=r"stopped by its budget \(max_steps=5\).*Raise max_steps") as record:
        LinearRegression(max_steps=5).fit(X, y)
    assert issubclass(tg.ConvergenceWarning, UserWarning) and len(record) == 1
    assert "from the closed form (closed_form_gap_)" in str(record[0].message)
    with pytest.warns(tg.ConvergenceWarning, match="LogisticRegression stopped by its budget"):
        LogisticRegression(max_steps=5).fit(*data.load_builtin("three_blobs"))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # converged, or no convergence test asked for: silent
        LinearRegression().fit(X, y)
        LinearRegression(max_steps=500, tol=None).fit(X, y)
    with pytest.warns(tg.ConvergenceWarning, match="from the closed-form.*stopped after max_steps=5 steps"):
        LinearRegression(max_steps=5, tol=None).fit(X, y)  # no convergence test, but far from the answer


def test_a_large_gap_to_the_closed_form_warns_about_collinear_features():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 1))
    X = np.c_[x, x + 1e-4 * rng.normal(size=(80, 1))]  # two copies of one feature, almost
    y = 3.0 * X[:, 0] - 2.0 * X[:, 1] + 0.1 * rng.normal(size=80)
    with pytest.warns(tg.ConvergenceWarning, match=r"from the closed-form least-squares answer.*nearly collinear"):
        model = LinearRegression(max_steps=5000).fit(X, y)
    assert model.history_.converged and model.closed_form_gap_ > 0.01 * np.abs(model.closed_form_coef_).max()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        LinearRegression("mae", optimizer="adam", max_steps=300, tol=None).fit(X, y)  # its minimiser is not lstsq's


def test_multi_output_regression():
    X, _ = two_scale_problem(n=40)
    Y = np.c_[X @ [1.0, 0.01] + 2.0, X @ [-3.0, 0.002] - 1.0]
    model = LinearRegression(tol=1e-16, max_steps=5000).fit(X, Y)
    assert model.coef_.shape == (2, 2) and model.intercept_.shape == (2,) and model.predict(X).shape == (40, 2)
    np.testing.assert_allclose(model.coef_, [[1.0, 0.01], [-3.0, 0.002]], atol=1e-6)
    assert model.closed_form_coef_.shape == (2, 2) and model.closed_form_gap_ < 1e-5
    assert model.score(X, Y) == pytest.approx(1.0)
