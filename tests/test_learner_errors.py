"""The mistakes a new user makes first, each answered in words: .grad after rebinding w,
fit's call of the loss function, and compare_gradients naming N, the elements that
disagree, and accepting one stacked hand gradient."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd._report import HandMismatch

x = np.array([1.0, 2.0, 3.0, 4.0, 5.0])
y = np.array([3.1, 4.9, 7.2, 8.8, 11.1])
N = len(x)


def mean_cost(m, b):
    return ((y - (m * x + b)) ** 2).mean()


def _residual(m, b):
    return y - (m * x + b)


# --------------------------------------------------------------------------- .grad is None
def test_rebinding_w_then_using_its_grad_says_w_is_no_longer_a_leaf():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    (w * w).sum().backward()
    w = w - 0.1 * w.grad  # w is now a computed tensor
    (w * w).sum().backward()
    with pytest.warns(UserWarning, match=r"not a leaf \(it is the result of Sub\).*w -= lr \* w\.grad"):
        assert w.grad is None and not w.is_leaf
    with pytest.warns(UserWarning, match="not a leaf"), pytest.raises(TypeError, match=r"w is no longer a leaf.*with tg\.no_grad\(\): w -= lr \* w\.grad"):
        w - w.grad
    # the learner's own line, `w = w - lr * w.grad`, fails in Python (float * None) before any
    # Tensor sees it: the warning, as PyTorch's, is what names the cause
    with pytest.warns(UserWarning, match=r"stopped being a leaf: update it in place"), pytest.raises(TypeError):
        w = w - 0.1 * w.grad


def test_leaves_and_retained_gradients_read_without_a_warning():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    h = w * 3.0
    h.retain_grad()
    (h * h).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        np.testing.assert_allclose(w.grad.numpy(), 18.0 * w.numpy())
        np.testing.assert_allclose(h.grad.numpy(), 2.0 * h.numpy())


# --------------------------------------------------------------------------- fit
def test_fit_with_a_parameter_list_and_data_says_what_it_calls():
    X, Y = np.ones((4, 1)), np.ones((4, 1))
    w, b = tg.zeros((1, 1), requires_grad=True), tg.zeros((), requires_grad=True)

    def loss(w, b):
        return ((X @ w + b - Y) ** 2).mean()

    with pytest.raises(ValueError, match=r"calls loss_fn\(X, y\) on each batch \(X of shape \(4, 1\)\)"):
        tg.fit([w, b], loss, (X, Y), max_steps=1)
    with pytest.raises(RuntimeError, match=r"calls loss_fn\(model\(X\), y\).*lambda: loss\(w, b\)"):
        tg.fit([w, b], "mse", (X, Y), max_steps=1)  # mse(X, y): no parameter in it
    history = tg.fit([w, b], lambda Xb, yb: tg.losses.mse(Xb @ w + b, yb), (X, Y), lr=0.1, max_steps=2)
    assert history.steps == 2  # what the message suggests works


# --------------------------------------------------------------------------- compare_gradients
def _stacked(scale):
    """A hand gradient of mean_cost returned as one array np.array([dm, db]), times ``scale``."""
    return lambda m, b: scale * np.array([-2.0 * np.sum(x * _residual(m, b)), -2.0 * np.sum(_residual(m, b))])


def test_a_stacked_hand_gradient_is_accepted_for_scalar_parameters():
    report = tg.compare_gradients(mean_cost, [0.5, 0.1], _stacked(1.0 / N))
    assert report.ok and report.has_hand


@pytest.mark.parametrize(
    ("scale", "factor", "advice"),
    [
        (1.0, "factor N with N = 5", "forgot the 1/N?"),  # no 1/N
        (0.5, "factor N/2 with N = 5", "forgot the 1/N (and a 1/N vs 1/(2N) mix-up)?"),  # no 2/N
        (1.0 / N**2, "factor 1/N with N = 5", "divided by N once too often"),
    ],
)
def test_a_factor_of_the_number_of_samples_is_named(scale, factor, advice):
    report = tg.compare_gradients(mean_cost, [0.5, 0.1], _stacked(scale))
    assert not report.ok
    for name in ("m", "b"):
        assert report[name].mismatch is HandMismatch.SAMPLE_COUNT
        assert report[name].sample_count == N
    assert f"m: {factor}" in report.diagnosis and advice in report.diagnosis


def test_n_names_the_sample_count_of_a_loss_without_reductions():
    def loop_cost(m, b):  # seed 000's per-point loop: no Sum or Mean in the graph
        total = 0.0
        for xi, yi in zip(x, y):
            total = total + (yi - (m * xi + b)) ** 2
        return total / N

    without = tg.compare_gradients(loop_cost, [0.5, 0.1], _stacked(1.0))
    assert "factor of 5 —" in without.diagnosis  # a constant factor, but N unknown
    named = tg.compare_gradients(loop_cost, [0.5, 0.1], _stacked(1.0), n=N)
    assert "factor N with N = 5" in named.diagnosis


def test_no_constant_factor_names_the_elements_that_disagree():
    rng = np.random.default_rng(0)
    X = rng.normal(size=(6, 3))
    target = X @ np.array([1.0, 2.0, 3.0])

    def cost(w):
        return ((X @ w - target) ** 2).mean()

    def wrong(w):
        g = 2.0 / 6 * X.T @ (X @ w - target)
        g[1] += 0.5  # one element off
        return g

    report = tg.compare_gradients(cost, [np.zeros(3)], wrong)
    assert report["w"].disagreeing == ((1,),)
    assert "elements that disagree most: w[1]: hand-derived" in report.diagnosis
    assert "w[0]" not in report.diagnosis and "w[2]" not in report.diagnosis
