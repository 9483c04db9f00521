"""Fit the line y = 2x by gradient descent, with autodiff doing the calculus.

The update-rule tutorial's data and settings: X = [1, 2, 3], y = [2, 4, 6], w = b = 0, alpha = 0.01,
1000 iterations, cost J = 1/(2m) Σ (Xw + b - y)². Run: python examples/fit_line.py
"""

import numpy as np

import tinygrad_gd as tg

X = tg.Tensor([[1.0], [2.0], [3.0]])  # m x n features, no bias column
y = tg.Tensor([[2.0], [4.0], [6.0]])  # m x 1 targets
w = tg.zeros(1, 1, requires_grad=True)  # n x 1 weights
b = tg.zeros((), requires_grad=True)  # scalar bias
alpha, m = 0.01, X.shape[0]

for iteration in range(1000):
    cost = ((X @ w + b - y) ** 2).sum() / (2 * m)
    cost.backward()  # fills w.grad and b.grad: both partials before any update
    with tg.no_grad():  # simultaneous update, not recorded in the graph
        w -= alpha * w.grad
        b -= alpha * b.grad
    w.grad = None
    b.grad = None
    if iteration % 200 == 0:
        print(f"iteration {iteration:4d}  cost {cost.item():.6f}")

closed_form = np.linalg.lstsq(np.c_[X.numpy(), np.ones(m)], y.numpy().ravel(), rcond=None)[0]
print(f"learned:     y = {b.item():.4f} + {w.item():.4f}·x")
print(f"closed form: y = {closed_form[1]:.4f} + {closed_form[0]:.4f}·x")
