"""Add a loss of your own, check its gradient, and train with it.

The pseudo-Huber loss, δ²·(√(1 + (d/δ)²) − 1) with d = prediction − target, is smooth
everywhere. For small residuals it behaves like d²/2 (the squared error) and for large ones like
δ·|d| (the absolute error), so a few wild outliers cannot drag the fit around the way they do
under the mean squared error.

1. Write it with Tensor operations: autodiff derives the gradient.
2. Check that gradient: tg.gradcheck (finite differences) and the hand-derived formula
   d / √(1 + (d/δ)²) via tg.compare_gradients.
3. Train a line with tg.fit on data with outliers, beside the same line under losses.mse.

Run: python examples/custom_loss.py   (about a second)
"""

import numpy as np

import tinygrad_gd as tg
from tinygrad_gd import data, losses, nn


def pseudo_huber(pred, target, delta=1.0, reduction="mean"):
    """mean(δ²·(√(1 + ((pred − target)/δ)²) − 1)): quadratic near 0, linear (slope δ) far out."""
    # tg.Tensor(t) would copy a Tensor into a new leaf, cutting it from the graph: wrap only arrays
    pred, target = (v if isinstance(v, tg.Tensor) else tg.Tensor(v) for v in (pred, target))
    if pred.shape != target.shape:  # never broadcast a (n, 1) prediction against a (n,) target
        raise ValueError(f"pseudo_huber: prediction shape {pred.shape} != target shape {target.shape}")
    scaled = (pred - target) / delta
    terms = delta**2 * ((1.0 + scaled**2).sqrt() - 1.0)
    return {"mean": terms.mean, "sum": terms.sum, "none": lambda: terms}[reduction]()


# 1. the definition, against numpy, including its two limits
d = np.array([-50.0, -1.0, -1e-3, 0.0, 2e-3, 0.7, 80.0])
values = pseudo_huber(d, np.zeros_like(d), delta=2.0, reduction="none").numpy()
assert np.allclose(values, 4.0 * (np.sqrt(1.0 + (d / 2.0) ** 2) - 1.0))
assert np.allclose(values[2:5], d[2:5] ** 2 / 2, rtol=1e-5)  # small residuals: d²/2
assert np.allclose(values[[0, -1]], 2.0 * np.abs(d[[0, -1]]) - 4.0, rtol=0.05)  # large: δ|d| − δ²
print("pseudo-Huber values match the formula (d²/2 near 0, about δ|d| far out)")

# 2a. gradcheck: backward() vs central differences, with a random upstream gradient
pred = tg.randn(5, 2, rng=0, requires_grad=True)
target = tg.randn(5, 2, rng=1, requires_grad=True)
for reduction in ("mean", "sum", "none"):
    assert tg.gradcheck(lambda p, t, r=reduction: pseudo_huber(p, t, delta=0.5, reduction=r), [pred, target])
print("gradcheck passed for every reduction, in the prediction and in the target")


# 2b. the hand-derived gradient of a line's pseudo-Huber cost, three ways
x = np.linspace(-2.0, 2.0, 9)
y = 1.5 * x - 0.5 + np.sin(5 * x)


def line_cost(w, b):
    return pseudo_huber(w * x + b, y, delta=0.5)


def line_cost_gradient(w, b):
    """dJ/dw = mean(x·ψ(d)), dJ/db = mean(ψ(d)) with ψ(d) = d / √(1 + (d/δ)²)."""
    residual = w * x + b - y
    psi = residual / np.sqrt(1.0 + (residual / 0.5) ** 2)
    return np.mean(x * psi), np.mean(psi)


report = tg.compare_gradients(line_cost, [0.8, 0.3], line_cost_gradient)
print(report)
assert report.ok

# 3. train a line on data with outliers: mse gets dragged, pseudo-Huber does not
X, y = data.make_noisy_line(n=100, slope=2.0, intercept=1.0, noise=0.3, seed=0)
rng = np.random.default_rng(0)
outliers = rng.choice(len(y), size=10, replace=False)
y[outliers] += 30.0  # ten wild measurements, all far above the line


def train(loss_fn):
    model = nn.Linear(1, 1, rng=0)
    history = tg.fit(model, loss_fn, (X, y), optimizer="adam", lr=0.05, max_steps=1500, tol=1e-12)
    return model.weight.item(), model.bias.item(), history


print("true line:    y = 2.0000·x + 1.0000")
fits = {}
for name, loss_fn in (("mse", losses.mse), ("pseudo-Huber", lambda p, t: pseudo_huber(p, t, delta=1.0))):
    w, b, history = train(loss_fn)
    fits[name] = (w, b)
    print(f"{name + ':':<13} y = {w:.4f}·x + {b:.4f}   ({history.steps} steps, final loss {history.final_loss:.4f})")

error = {name: abs(w - 2.0) + abs(b - 1.0) for name, (w, b) in fits.items()}
assert error["pseudo-Huber"] < 0.5 < error["mse"], error
print(f"distance from the true line: mse {error['mse']:.2f}, pseudo-Huber {error['pseudo-Huber']:.2f}")
