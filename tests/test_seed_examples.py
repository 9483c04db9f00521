"""The seeds' worked examples, reproduced: autodiff + optim.SGD against the hand-derived loops."""

import runpy
from pathlib import Path

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import analytic

EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "autodiff_vs_analytic.py"


def seed_002_gradient_descent(X, y, w, b, alpha, iterations):
    """Seed 002's compute_gradient + gradient_descent, in plain numpy (J = 1/(2m) Σ (Xw+b−y)²)."""
    m = X.shape[0]
    for _ in range(iterations):
        error = X @ w + b - y
        dw = (1 / m) * (X.T @ error)
        db = (1 / m) * np.sum(error)
        w = w - alpha * dw
        b = b - alpha * db
    return w, b


def seed_000_update_weights(m, b, X, Y, learning_rate):
    """Seed 000's update_weights: one step, summing the per-sample partials of 1/N Σ (y − (mx+b))²."""
    m_deriv = 0.0
    b_deriv = 0.0
    N = len(X)
    for i in range(N):
        m_deriv += -2 * X[i] * (Y[i] - (m * X[i] + b))
        b_deriv += -2 * (Y[i] - (m * X[i] + b))
    m -= (m_deriv / float(N)) * learning_rate
    b -= (b_deriv / float(N)) * learning_rate
    return m, b


def sgd_fit(loss_fn, w, b, lr, iterations):
    """Tensor ops + optim.SGD: zero_grad, loss, backward, step."""
    w = tg.Tensor(w, requires_grad=True)
    b = tg.Tensor(b, requires_grad=True)
    optimizer = tg.optim.SGD([w, b], lr=lr)
    for _ in range(iterations):
        optimizer.zero_grad()
        loss_fn(w, b).backward()
        optimizer.step()
    return w.numpy(), b.numpy()


def test_seed_002_fit_of_y_equals_2x_matches_the_analytic_loop():
    X = np.array([[1], [2], [3]])  # integer data, as in the seed
    y = np.array([[2], [4], [6]])
    w_hand, b_hand = seed_002_gradient_descent(X, y, np.zeros((1, 1)), 0, alpha=0.01, iterations=1000)
    w_auto, b_auto = sgd_fit(
        lambda w, b: tg.losses.half_mse(tg.Tensor(X) @ w + b, y), np.zeros((1, 1)), 0.0, lr=0.01, iterations=1000
    )
    assert w_auto.shape == (1, 1) and b_auto.shape == ()
    np.testing.assert_allclose(w_auto, w_hand, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b_auto, b_hand, rtol=0, atol=1e-12)
    # The seed's printed result, and the same loop through analytic.gradient_descent.
    assert (round(float(w_hand[0, 0]), 4), round(float(b_hand), 4)) == (1.9026, 0.2214)
    w_lib, b_lib = analytic.gradient_descent(X, y, np.zeros((1, 1)), 0.0, lr=0.01, iterations=1000)
    np.testing.assert_allclose(w_lib, w_hand, rtol=0, atol=1e-12)
    np.testing.assert_allclose(b_lib, b_hand, rtol=0, atol=1e-12)


def test_seed_000_loop_formulation_matches_autodiff_on_a_small_dataset():
    x = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    y = np.array([5.2, 6.8, 9.1, 11.0, 12.9, 15.2])  # about 2x + 3
    m, b = 0.0, 0.0
    for _ in range(2000):
        m, b = seed_000_update_weights(m, b, x, y, learning_rate=0.02)
    w_auto, b_auto = sgd_fit(lambda w, b: tg.losses.mse(w * x + b, y), 0.0, 0.0, lr=0.02, iterations=2000)
    assert w_auto.shape == () and b_auto.shape == ()
    assert float(w_auto) == pytest.approx(m, abs=1e-12) and float(b_auto) == pytest.approx(b, abs=1e-12)
    # It converged to the least-squares line.
    slope, intercept = np.polyfit(x, y, 1)
    assert m == pytest.approx(slope, abs=1e-5) and b == pytest.approx(intercept, abs=1e-5)


def test_seed_000_loop_gradient_equals_autodiff_at_every_step():
    x = np.array([0.5, 1.5, 2.5])
    y = np.array([1.0, 2.0, 4.5])
    w, b = 0.0, 0.0
    for _ in range(50):
        dw, db = analytic.linreg_mse_grad_loop(x, y, w, b)
        w_t, b_t = tg.Tensor(w, requires_grad=True), tg.Tensor(b, requires_grad=True)
        tg.losses.mse(w_t * x + b_t, y).backward()
        assert w_t.grad.item() == pytest.approx(dw, abs=1e-12) and b_t.grad.item() == pytest.approx(db, abs=1e-12)
        w, b = w - 0.05 * dw, b - 0.05 * db


def test_example_script_runs_and_reports_agreement(capsys):
    runpy.run_path(str(EXAMPLE), run_name="__main__")
    out = capsys.readouterr().out
    assert "the update-rule tutorial" in out and "the step-by-step tutorial" in out
    assert "sign flipped" in out and "describe different costs" in out
    assert out.count("agree to 1e-12: True") == 2
