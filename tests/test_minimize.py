"""tg.minimize, the bridge to scipy.optimize.minimize: each method reaches the closed-form least
squares solution, the solution is written back into the parameters (in place, versions bumped),
the result is scipy's OptimizeResult, our derivatives are what scipy is given (jac, hessp,
hess), bad input is refused clearly, and without scipy the ImportError says how to install it."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import tinygrad_gd as tg

optimize = pytest.importorskip("scipy.optimize", reason="tg.minimize needs scipy (the optional extra)")

RNG = np.random.default_rng(0)
X = RNG.normal(size=(30, 3))
Y = X @ np.array([1.5, -2.0, 0.5]) + 0.3 + 0.1 * RNG.normal(size=30)
SOLUTION = np.linalg.lstsq(np.c_[X, np.ones(len(X))], Y, rcond=None)[0]  # (w, b)


def _line_fit():
    w = tg.Tensor(np.zeros(3), requires_grad=True)
    b = tg.Tensor(np.zeros(()), requires_grad=True)
    return w, b, (lambda: tg.losses.half_mse(tg.Tensor(X) @ w + b, Y))


# method, keyword arguments, tolerance on the solution
METHODS = [
    ("L-BFGS-B", {"gtol": 1e-12, "ftol": 1e-15}, 1e-6),
    ("BFGS", {"gtol": 1e-10}, 1e-7),
    ("Newton-CG", {}, 1e-9),
    ("trust-ncg", {"gtol": 1e-10}, 1e-8),
    ("trust-krylov", {"gtol": 1e-10}, 1e-8),
    ("trust-exact", {}, 1e-9),
    ("CG", {"gtol": 1e-8}, 1e-7),
]


@pytest.mark.parametrize("method, kwargs, tol", METHODS, ids=[m for m, _, _ in METHODS])
def test_each_method_reaches_the_least_squares_solution_and_writes_it_back(method, kwargs, tol):
    w, b, loss = _line_fit()
    array, version = w.data, w._version
    result = tg.minimize(loss, [w, b], method=method, **kwargs)
    assert isinstance(result, optimize.OptimizeResult) and result.success, result.message
    np.testing.assert_allclose(np.r_[w.data, b.data], SOLUTION, atol=tol)
    np.testing.assert_array_equal(result.x, np.r_[w.data, b.data])  # the written solution is scipy's
    assert w.data is array and w._version > version  # in place, and graphs that saved w refuse to run
    assert w.grad is None and b.grad is None  # the parameters' gradients are left as they were


def test_the_derivatives_scipy_gets_are_autodiffs(monkeypatch):
    seen = {}

    def spy(fun, x0, method=None, jac=None, hessp=None, hess=None, **kwargs):
        seen.update(fun=fun, jac=jac, hessp=hessp, hess=hess, x0=x0.copy())
        return optimize.OptimizeResult(x=x0, success=True)

    monkeypatch.setattr(optimize, "minimize", spy)
    w, b, loss = _line_fit()
    tg.minimize(loss, [w, b], method="Newton-CG")
    theta, v = RNG.normal(size=4), RNG.normal(size=4)
    design = np.c_[X, np.ones(len(X))]
    value, gradient = seen["fun"](theta)
    assert seen["jac"] is True and seen["hess"] is None
    np.testing.assert_allclose(value, 0.5 * np.mean((design @ theta - Y) ** 2), rtol=1e-12)
    np.testing.assert_allclose(gradient, design.T @ (design @ theta - Y) / len(Y), rtol=1e-12)
    np.testing.assert_allclose(seen["hessp"](theta, v), design.T @ design @ v / len(Y), rtol=1e-12)
    tg.minimize(loss, [w, b], method="dogleg")
    np.testing.assert_allclose(seen["hess"](theta), design.T @ design / len(Y), rtol=1e-12)
    tg.minimize(loss, [w, b], method="Nelder-Mead")  # derivative-free: no jac, just the value
    assert seen["jac"] is None and seen["hessp"] is None and np.isscalar(seen["fun"](theta))


def test_module_parameters_options_and_bounds():
    model = tg.nn.Linear(3, 1, rng=0)
    result = tg.minimize(lambda: tg.losses.half_mse(model(X)[:, 0], Y), model, maxiter=2)
    assert result.nit <= 2 and not np.allclose(model.weight.data[0], SOLUTION[:3], atol=1e-3)  # maxiter reached scipy
    w, b, loss = _line_fit()
    tg.minimize(loss, [w, b], bounds=[(None, 1.0), (None, None), (None, None), (0.0, 0.0)])
    assert w.data[0] == pytest.approx(1.0) and b.item() == 0.0


def test_float32_parameters_stay_float32():
    w = tg.Tensor(np.zeros(3, dtype=np.float32), requires_grad=True)
    tg.minimize(lambda: ((w - np.array([1.0, 2.0, 3.0], dtype=np.float32)) ** 2).sum(), [w])
    assert w.dtype == np.float32
    np.testing.assert_allclose(w.data, [1.0, 2.0, 3.0], atol=1e-4)


@pytest.mark.parametrize(
    "fn, params, error, words",
    [
        (lambda w: (w * w), "w", TypeError, "one-element Tensor (the loss), got a Tensor of shape (2,)"),
        (lambda w: 3.0, "w", TypeError, "got float"),
        (lambda w: (w * w).sum(), [], ValueError, "params is empty"),
        (lambda w: (w * w).sum(), ["w"], TypeError, "parameter 0 must be a Tensor, got str"),
        (lambda w: (w * w).sum(), "frozen", ValueError, "parameter 0 (shape (2,)) must be a float Tensor that requires grad"),
        (lambda w: (w * w).sum(), "twice", ValueError, "listed more than once"),
    ],
    ids=["vector-loss", "float-loss", "empty", "not-a-tensor", "frozen", "duplicate"],
)
def test_bad_input_is_refused_and_the_parameters_are_kept(fn, params, error, words):
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    if isinstance(params, str):
        params = {"w": [w], "frozen": [tg.Tensor([1.0, 2.0])], "twice": [w, w]}[params]
    with pytest.raises(error) as info:
        tg.minimize(lambda: fn(w), params)
    assert words in str(info.value)
    assert w.data.tolist() == [1.0, 2.0]


def test_without_scipy_the_error_says_how_to_install_it(monkeypatch):
    for name in [n for n in sys.modules if n == "scipy" or n.startswith("scipy.")]:
        monkeypatch.delitem(sys.modules, name)
    monkeypatch.setitem(sys.modules, "scipy", None)  # `import scipy...` now raises ImportError
    w = tg.Tensor([1.0], requires_grad=True)
    with pytest.raises(ImportError, match=r"pip install tinygrad-gd\[scipy\]"):
        tg.minimize(lambda: (w * w).sum(), [w])
