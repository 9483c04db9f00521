"""Hand-derived gradients (tinygrad_gd.analytic): hand-worked values, shape forms, errors, and
property tests that autodiff of the losses equals the formulas on random datasets."""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import tinygrad_gd as tg
from tinygrad_gd import analytic, losses

# --------------------------------------------------------------------------- datasets
FORMS = ("scalar", "vector", "column")  # 1-D x + scalar w; X (N, d) + w (d,); seed 002's columns


@st.composite
def linear_problems(draw, forms=FORMS):
    """A random linear-model problem: N in 1..200, d in 1..10, column magnitudes 1e-3..1e3,
    some columns constant, random parameters, in one of the three shape forms."""
    form = draw(st.sampled_from(forms))
    n = draw(st.integers(1, 200))
    d = 1 if form == "scalar" else draw(st.integers(1, 10))
    log_scales = draw(st.lists(st.floats(-3, 3), min_size=d, max_size=d))
    constant = draw(st.lists(st.booleans(), min_size=d, max_size=d))
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    X = np.empty((n, d))
    for j in range(d):
        scale = 10.0 ** log_scales[j]
        if constant[j]:
            X[:, j] = scale * rng.choice([-1.0, 1.0])
        else:
            X[:, j] = scale * rng.uniform(-1, 1, size=n)
    w = rng.normal(size=d) * 10.0 ** rng.uniform(-3, 3, size=d)
    b = float(rng.normal() * 10.0 ** rng.uniform(-3, 3))
    y = (X @ w + b) * rng.uniform(0.5, 1.5, size=n) + rng.normal(size=n) * 10.0 ** rng.uniform(-3, 3)
    if form == "scalar":
        return form, X[:, 0], y, float(w[0]), b
    if form == "column":
        return form, X, y.reshape(n, 1), w.reshape(d, 1), b
    return form, X, y, w, b


def model(X, w, b):
    """ŷ = X w + b with Tensor ops, for whichever shape form."""
    return X * w + b if w.ndim == 0 else tg.Tensor(X) @ w + b


def autodiff_grads(loss_fn, X, y, w, b):
    w_t, b_t = tg.Tensor(w, requires_grad=True), tg.Tensor(b, requires_grad=True)
    loss = loss_fn(model(X, w_t, b_t), y, w_t)
    loss.backward()
    return w_t.grad.numpy(), b_t.grad.numpy()


def assert_grad_close(actual, expected, scale, rtol=1e-12):
    """|actual − expected| ≤ rtol · scale elementwise, where ``scale`` is the same formula with
    every term made non-negative: a tight bound on rounding that survives cancellation near
    the optimum (where a plain relative tolerance against a tiny gradient would be meaningless)."""
    actual, expected, scale = (np.asarray(v, dtype=np.float64) for v in (actual, expected, scale))
    assert actual.shape == expected.shape
    assert np.all(np.isfinite(actual)) and np.all(np.isfinite(expected))
    bound = rtol * scale + 1e-300
    worst = np.max(np.abs(actual - expected) / bound)
    assert worst <= 1.0, f"max error {worst:.3g}× the bound: {actual} vs {expected}"


def term_scale(X, w, b, per_sample, factor):
    """factor · Σ |x| · per_sample (≥ every partial sum), shaped like w and like b."""
    X = np.asarray(X, dtype=np.float64)
    per_sample = np.asarray(per_sample, dtype=np.float64)
    if np.ndim(w) == 0:
        return factor * np.sum(np.abs(X) * per_sample), factor * np.sum(per_sample)
    return factor * (np.abs(X).T @ per_sample), factor * np.sum(per_sample)


# --------------------------------------------------------------------------- hand-worked values
def test_mse_grad_hand_worked_values():
    # x = [1, 2], y = [2, 4], w = b = 0: residuals y − ŷ = [2, 4]
    # dJ/dw = −2/2 (1·2 + 2·4) = −10, dJ/db = −2/2 (2 + 4) = −6
    dw, db = analytic.linreg_mse_grad([1.0, 2.0], [2.0, 4.0], 0.0, 0.0)
    assert (dw, db) == (-10.0, -6.0)
    dw, db = analytic.linreg_half_mse_grad([1.0, 2.0], [2.0, 4.0], 0.0, 0.0)
    assert (dw, db) == (-5.0, -3.0)


def test_vector_form_hand_worked_values():
    X = np.array([[1.0, 0.0], [0.0, 2.0], [1.0, 1.0]])
    y = np.array([1.0, 2.0, 3.0])
    w, b = np.array([1.0, 1.0]), 0.5
    # ŷ = [1.5, 2.5, 2.5]; ŷ − y = [0.5, 0.5, −0.5]
    dw, db = analytic.linreg_mse_grad(X, y, w, b)
    np.testing.assert_allclose(dw, 2 / 3 * np.array([0.5 - 0.5, 1.0 - 0.5]), rtol=1e-15)
    np.testing.assert_allclose(db, 2 / 3 * 0.5, rtol=1e-15)
    dw, db = analytic.logreg_bce_grad(X, np.array([1.0, 0.0, 1.0]), np.zeros(2), 0.0)
    # σ(0) = 0.5: σ − y = [−0.5, 0.5, −0.5]
    np.testing.assert_allclose(dw, 1 / 3 * np.array([-1.0, 0.5]), rtol=1e-15)
    np.testing.assert_allclose(db, 1 / 3 * -0.5, rtol=1e-15)
    dw, db = analytic.ridge_mse_grad(X, y, w, b, lam=0.25)
    np.testing.assert_allclose(dw, 2 / 3 * np.array([0.0, 0.5]) + 2 * 0.25 * w, rtol=1e-15)
    np.testing.assert_allclose(db, 2 / 3 * 0.5, rtol=1e-15)


def test_seed_002_column_shapes():
    X = np.array([[1], [2], [3]])  # integer data, as in the seed
    y = np.array([[2], [4], [6]])
    w = np.zeros((1, 1))
    dw, db = analytic.linreg_half_mse_grad(X, y, w, 0)
    assert dw.shape == (1, 1) and np.ndim(db) == 0
    # ŷ − y = −y: dw = 1/3 (−2 − 8 − 18) = −28/3, db = 1/3 (−12) = −4
    np.testing.assert_allclose(dw, [[-28 / 3]], rtol=1e-15)
    np.testing.assert_allclose(db, -4.0, rtol=1e-15)


@pytest.mark.parametrize("grad", [analytic.linreg_mse_grad, analytic.linreg_half_mse_grad, analytic.logreg_bce_grad])
def test_gradients_are_shaped_like_the_parameters(grad):
    rng = np.random.default_rng(0)
    X, y01 = rng.normal(size=(5, 3)), (rng.random(5) > 0.5).astype(float)
    cases = [
        (X[:, 0], y01, 0.3, 0.1, (), ()),
        (X, y01, np.ones(3), 0.1, (3,), ()),
        (X, y01.reshape(5, 1), np.ones((3, 1)), 0.1, (3, 1), ()),
        (X, y01.reshape(5, 1), np.ones((3, 1)), np.array([0.1]), (3, 1), (1,)),
        (X, y01, np.ones(3), np.array(0.1), (3,), ()),
    ]
    for x, y, w, b, w_shape, b_shape in cases:
        dw, db = grad(x, y, w, b)
        assert np.shape(dw) == w_shape and np.shape(db) == b_shape


def test_multi_output_columns_and_per_output_bias():
    rng = np.random.default_rng(1)
    X, y = rng.normal(size=(6, 3)), rng.normal(size=(6, 2))
    w, b = rng.normal(size=(3, 2)), rng.normal(size=2)
    dw, db = analytic.linreg_half_mse_grad(X, y, w, b)
    w_t, b_t = tg.Tensor(w, requires_grad=True), tg.Tensor(b, requires_grad=True)
    losses.half_mse(tg.Tensor(X) @ w_t + b_t, y).backward()
    np.testing.assert_allclose(dw, w_t.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(db, b_t.grad.numpy(), rtol=1e-12)


def test_tensors_are_accepted_as_values():
    x, y = tg.Tensor([1.0, 2.0]), tg.Tensor([2.0, 4.0])
    assert analytic.linreg_mse_grad(x, y, tg.Tensor(0.0), 0.0) == (-10.0, -6.0)


# --------------------------------------------------------------------------- errors
def test_column_target_against_vector_prediction_raises_naming_shapes():
    X, w = np.ones((4, 2)), np.ones(2)
    with pytest.raises(ValueError, match=r"y has shape \(4, 1\).*\(4,\)"):
        analytic.linreg_mse_grad(X, np.ones((4, 1)), w, 0.0)
    with pytest.raises(ValueError, match=r"y has shape \(4,\).*\(4, 1\)"):
        analytic.linreg_half_mse_grad(X, np.ones(4), np.ones((2, 1)), 0.0)
    with pytest.raises(ValueError, match=r"\(4, 4\)"):  # says what numpy would have done
        analytic.logreg_bce_grad(X, np.ones((4, 1)), w, 0.0)
    with pytest.raises(ValueError, match=r"y has shape \(4, 1\)"):
        analytic.linreg_mse_grad(np.ones(4), np.ones((4, 1)), 1.0, 0.0)


@pytest.mark.parametrize(
    "args, pattern",
    [
        ((np.ones((4, 3)), np.ones(4), np.ones(2), 0.0), r"X has shape \(4, 3\).*w has shape \(2,\)"),
        ((np.ones(4), np.ones(4), np.ones(1), 0.0), r"X has shape \(4,\).*2-D X"),
        ((np.ones((4, 2)), np.ones(4), np.ones((2, 1, 1)), 0.0), r"shape \(2, 1, 1\)"),
        ((np.ones((4, 2)), np.ones(4), np.ones(2), np.ones(3)), r"b has shape \(3,\)"),
        ((np.ones((4, 2)), np.ones(4), np.ones(2), np.ones((4, 1))), r"b has shape \(4, 1\)"),
        ((np.ones((0, 2)), np.ones(0), np.ones(2), 0.0), r"empty"),
        ((["a", "b"], np.ones(2), 1.0, 0.0), r"X must be numbers"),
    ],
)
def test_shape_errors_name_the_shapes(args, pattern):
    for grad in (analytic.linreg_mse_grad, analytic.linreg_half_mse_grad):
        with pytest.raises(ValueError, match=pattern):
            grad(*args)


def test_other_argument_errors():
    with pytest.raises(ValueError, match="lam"):
        analytic.ridge_mse_grad(np.ones((2, 1)), np.ones(2), np.ones(1), 0.0, lam=-1.0)
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        analytic.logreg_bce_grad(np.ones((2, 1)), np.array([0.0, 2.0]), np.ones(1), 0.0)
    with pytest.raises(ValueError, match="number w and b"):
        analytic.linreg_mse_grad_loop([1.0, 2.0], [1.0, 2.0], np.ones(1), 0.0)
    with pytest.raises(ValueError, match="same length"):
        analytic.linreg_mse_grad_loop([1.0, 2.0], [1.0], 1.0, 0.0)
    with pytest.raises(ValueError, match="lr"):
        analytic.gradient_descent(np.ones(2), np.ones(2), 0.0, 0.0, lr=-0.1)
    with pytest.raises(ValueError, match="iterations"):
        analytic.gradient_descent(np.ones(2), np.ones(2), 0.0, 0.0, iterations=2.5)


# --------------------------------------------------------------------------- properties
@given(linear_problems())
def test_autodiff_of_mse_equals_hand_formula(problem):
    _, X, y, w, b = problem
    dw, db = analytic.linreg_mse_grad(X, y, w, b)
    aw, ab = autodiff_grads(lambda pred, y, w: losses.mse(pred, y), X, y, w, b)
    residual = np.abs(np.asarray(model(X, tg.Tensor(w), b).data) - y)
    sw, sb = term_scale(X, w, b, residual, 2.0 / residual.size)
    assert_grad_close(aw, dw, sw)
    assert_grad_close(ab, db, sb)


@given(linear_problems())
def test_autodiff_of_half_mse_equals_hand_formula(problem):
    _, X, y, w, b = problem
    dw, db = analytic.linreg_half_mse_grad(X, y, w, b)
    aw, ab = autodiff_grads(lambda pred, y, w: losses.half_mse(pred, y), X, y, w, b)
    residual = np.abs(np.asarray(model(X, tg.Tensor(w), b).data) - y)
    sw, sb = term_scale(X, w, b, residual, 1.0 / residual.size)
    assert_grad_close(aw, dw, sw)
    assert_grad_close(ab, db, sb)


@given(linear_problems())
def test_the_two_mse_conventions_differ_by_exactly_a_factor_of_2(problem):
    _, X, y, w, b = problem
    dw, db = analytic.linreg_mse_grad(X, y, w, b)
    hw, hb = analytic.linreg_half_mse_grad(X, y, w, b)
    assert np.array_equal(dw, 2 * hw) and db == 2 * hb  # scaling by 2 is exact in binary floats
    aw, ab = autodiff_grads(lambda pred, y, w: losses.mse(pred, y), X, y, w, b)
    haw, hab = autodiff_grads(lambda pred, y, w: losses.half_mse(pred, y), X, y, w, b)
    np.testing.assert_allclose(aw, 2 * haw, rtol=1e-14, atol=0)
    np.testing.assert_allclose(ab, 2 * hab, rtol=1e-14, atol=0)
    pred = model(X, tg.Tensor(w), b)
    assert losses.mse(pred, y).item() == pytest.approx(2 * losses.half_mse(pred, y).item(), rel=1e-15)


@given(linear_problems(), st.floats(0.0, 10.0))
def test_autodiff_of_ridge_equals_hand_formula(problem, lam):
    _, X, y, w, b = problem
    dw, db = analytic.ridge_mse_grad(X, y, w, b, lam)
    aw, ab = autodiff_grads(lambda pred, y, w: losses.mse(pred, y) + lam * (w * w).sum(), X, y, w, b)
    residual = np.abs(np.asarray(model(X, tg.Tensor(w), b).data) - y)
    sw, sb = term_scale(X, w, b, residual, 2.0 / residual.size)
    assert_grad_close(aw, dw, sw + 2 * lam * np.abs(w))
    assert_grad_close(ab, db, sb)


def binary_targets(y, seed):
    """Replace the targets by labels in {0, 1} (and, for half of the seeds, soft labels)."""
    rng = np.random.default_rng(seed)
    labels = (rng.random(np.shape(y)) < 0.5).astype(float)
    return labels if seed % 2 else rng.random(np.shape(y))


@given(linear_problems(), st.integers(0, 1000))
def test_autodiff_of_bce_with_logits_equals_hand_formula(problem, seed):
    _, X, y, w, b = problem
    y = binary_targets(y, seed)
    dw, db = analytic.logreg_bce_grad(X, y, w, b)
    aw, ab = autodiff_grads(lambda z, y, w: losses.binary_cross_entropy_with_logits(z, y), X, y, w, b)
    sw, sb = term_scale(X, w, b, np.ones(np.shape(y)), 1.0 / np.size(y))
    assert_grad_close(aw, dw, sw)
    assert_grad_close(ab, db, sb)


@given(linear_problems(), st.integers(0, 1000))
def test_autodiff_of_bce_on_probabilities_equals_hand_formula(problem, seed):
    _, X, y, w, b = problem
    y = binary_targets(y, seed)
    # Keep the logits in [-12, 12], where σ(z) is not rounded to 0 or 1.
    z = np.asarray(model(X, tg.Tensor(w), b).data)
    shrink = 12.0 / max(np.max(np.abs(z)), 12.0)
    w, b = np.asarray(w) * shrink, b * shrink
    dw, db = analytic.logreg_bce_grad(X, y, w, b)
    aw, ab = autodiff_grads(lambda z, y, w: losses.binary_cross_entropy(z.sigmoid(), y), X, y, w, b)
    sw, sb = term_scale(X, w, b, np.ones(np.shape(y)), 1.0 / np.size(y))
    assert_grad_close(aw, dw, sw, rtol=1e-10)  # through p(1 − p): a few more roundings
    assert_grad_close(ab, db, sb, rtol=1e-10)


@given(linear_problems(forms=("scalar",)))
def test_loop_form_equals_vectorised_form(problem):
    _, x, y, w, b = problem
    loop_dw, loop_db = analytic.linreg_mse_grad_loop(list(x), list(y), w, b)
    dw, db = analytic.linreg_mse_grad(x, y, w, b)
    residual = np.abs(w * x + b - y)
    sw, sb = term_scale(x, w, b, residual, 2.0 / x.size)
    assert_grad_close(loop_dw, dw, sw)
    assert_grad_close(loop_db, db, sb)
    assert isinstance(loop_dw, float) and isinstance(loop_db, float)


# --------------------------------------------------------------------------- descent
def test_gradient_descent_is_the_simultaneous_update():
    X, y = np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [6.0]])
    w, b = np.zeros((1, 1)), 0.0
    expected_w, expected_b = w.copy(), b
    for _ in range(25):
        error = X @ expected_w + expected_b - y
        expected_w, expected_b = expected_w - 0.05 * X.T @ error / 3, expected_b - 0.05 * error.sum() / 3
    got_w, got_b = analytic.gradient_descent(X, y, w, b, lr=0.05, iterations=25)
    np.testing.assert_allclose(got_w, expected_w, rtol=1e-14)
    np.testing.assert_allclose(got_b, expected_b, rtol=1e-14)
    assert np.array_equal(w, np.zeros((1, 1)))  # the argument is not modified
    # seed 000's convention: the mse gradient, twice as large per step
    got_w, _ = analytic.gradient_descent(X, y, w, b, grad=analytic.linreg_mse_grad, lr=0.025, iterations=25)
    np.testing.assert_allclose(got_w, expected_w, rtol=1e-14)
