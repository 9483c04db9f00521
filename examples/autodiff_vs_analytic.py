"""Autodiff against the gradients the tutorials derive by hand.

1. The update-rule tutorial's fit of y = 2x (alpha = 0.01, 1000 iterations, w = b = 0, J = 1/(2m) Σ (ŷ − y)²):
   the hand-derived loop and Tensor ops + optim.SGD end at the same w and b.
2. The step-by-step tutorial's per-sample loop (J = 1/N Σ (y − ŷ)²) against autodiff + SGD on a small dataset.
3. compare_gradients catching the beginner's article's two mistakes: a flipped sign in the hand-derived
   gradient, and a loss that squares only the prediction.

Run: python examples/autodiff_vs_analytic.py   (a second or so)
"""

import numpy as np

import tinygrad_gd as tg
from tinygrad_gd import analytic


def sgd_fit(loss_fn, w, b, lr, iterations):
    """Fit (w, b) with Tensor ops and optim.SGD; returns numpy values."""
    w, b = tg.Tensor(w, requires_grad=True), tg.Tensor(b, requires_grad=True)
    optimizer = tg.optim.SGD([w, b], lr=lr)
    for _ in range(iterations):
        optimizer.zero_grad()
        loss_fn(w, b).backward()
        optimizer.step()
    return w.numpy(), b.numpy()


def compare(title, hand, auto):
    difference = max(float(np.max(np.abs(np.asarray(h) - a))) for h, a in zip(hand, auto))
    print(title)
    print(f"  hand-derived loop: w = {np.ravel(hand[0])[0]:.10f}, b = {float(hand[1]):.10f}")
    print(f"  autodiff + SGD:    w = {np.ravel(auto[0])[0]:.10f}, b = {float(auto[1]):.10f}")
    print(f"  max difference {difference:.2e}; agree to 1e-12: {difference <= 1e-12}")


# 1. The update-rule tutorial: X (m, n), y (m, 1), w (n, 1), b scalar.
X = np.array([[1.0], [2.0], [3.0]])
y = np.array([[2.0], [4.0], [6.0]])
hand = analytic.gradient_descent(X, y, np.zeros((1, 1)), 0.0, grad=analytic.linreg_half_mse_grad, lr=0.01, iterations=1000)
auto = sgd_fit(lambda w, b: tg.losses.half_mse(tg.Tensor(X) @ w + b, y), np.zeros((1, 1)), 0.0, 0.01, 1000)
compare("the update-rule tutorial: y = 2x, J = 1/(2m) Σ (ŷ − y)², alpha 0.01, 1000 iterations", hand, auto)

# 2. The step-by-step tutorial: one feature, the gradient summed one sample at a time.
x1 = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
y1 = np.array([5.2, 6.8, 9.1, 11.0, 12.9, 15.2])
w, b = 0.0, 0.0
for _ in range(2000):
    dw, db = analytic.linreg_mse_grad_loop(x1, y1, w, b)  # both partials first...
    w, b = w - 0.02 * dw, b - 0.02 * db  # ...then the simultaneous update
auto = sgd_fit(lambda w, b: tg.losses.mse(w * x1 + b, y1), 0.0, 0.0, 0.02, 2000)
compare("the step-by-step tutorial: J = 1/N Σ (y − ŷ)², lr 0.02, 2000 iterations", (w, b), auto)


# 3. The beginner's article's mistakes, caught.
def seed_001_gradients(w, b):
    """The beginner's article's hand-derived gradient: −2·mean(x(ŷ − y)) — the sign is flipped."""
    prediction = x1 * w + b
    return -2 * np.mean(x1 * (prediction - y1)), -2 * np.mean(prediction - y1)


def correct_mse(w, b):
    return tg.losses.mse(x1 * w + b, y1)


def seed_001_mse(w, b):
    """The beginner's article's loss: mean(Y − ŷ²) squares only the prediction."""
    return (y1 - (x1 * w + b) ** 2).mean()


print("\nthe beginner's article's gradients() against autodiff of the mse:")
print(tg.compare_gradients(correct_mse, [0.5, 0.1], seed_001_gradients))
print("\nthe beginner's article's mse() against the correct hand-derived gradient:")
print(tg.compare_gradients(seed_001_mse, [0.5, 0.1], lambda w, b: analytic.linreg_mse_grad(x1, y1, w, b)))
