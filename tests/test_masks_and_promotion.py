"""Never silently wrong (issue 11): masks select, std at zero spread, integer promotion,
pow at exponent 0, softmax/logsumexp edge shapes.

* Masking backward rules (relu, leaky_relu, clip, abs, maximum/minimum, where, max/min
  reductions) *select* the gradient: where the mask is off it is exactly 0, even when the
  upstream gradient is inf (sqrt'(0)), so ``x.relu().sqrt()`` at x = -1 has gradient 0, as
  PyTorch, not inf·0 = NaN. The checks run under ``np.errstate(invalid="raise")``: no 0·inf
  is computed anywhere, not even in a branch that is thrown away.
* ``std``'s gradient is 0 where the spread is 0 (PyTorch masks std = 0 in its backward).
* Float-valued ops on integer/bool tensors give float64, never a truncated integer.
* ``a ** b``: d/da at b = 0 is 0 everywhere (±inf and 0 too); d²/(da db) there is 1/a.

Where torch is importable, the expected values are also checked against it.
"""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import autograd


def _grad(fn, values, create_graph=False):
    x = tg.Tensor(np.array(values, dtype=np.float64), requires_grad=True)
    with np.errstate(divide="ignore", invalid="raise"):  # sqrt'(0) = inf is fine; 0·inf is not
        out = fn(x)
        (g,) = autograd.grad(out.sum(), [x], create_graph=create_graph)
    return x, g


def _torch():
    return pytest.importorskip("torch")


# --------------------------------------------------------------------------- masks select
X = [-1.0, 4.0, 0.25, 2.0]
MASKED = {
    # name: (tinygrad_gd expression, torch expression or None, expected gradient at X)
    "relu": (lambda x: x.relu().sqrt(), lambda x, t: x.relu().sqrt(), [0.0, 0.25, 1.0, 0.5**1.5]),
    "clip_lo": (lambda x: x.clip(0.0).sqrt(), lambda x, t: x.clamp(min=0).sqrt(), [0.0, 0.25, 1.0, 0.5**1.5]),
    "clip_both": (lambda x: x.clip(0.0, 1.0).sqrt(), lambda x, t: x.clamp(0, 1).sqrt(), [0.0, 0.0, 1.0, 0.0]),
    "clamp_hi": (lambda x: (-x.clamp(max=0.0)).sqrt(), lambda x, t: (-x.clamp(max=0)).sqrt(), [-0.5, 0.0, 0.0, 0.0]),
    "maximum": (lambda x: tg.maximum(x, 0.0).sqrt(), lambda x, t: t.maximum(x, t.zeros(4, dtype=x.dtype)).sqrt(), [0.0, 0.25, 1.0, 0.5**1.5]),
    "maximum_reflected": (lambda x: tg.maximum(0.0, x).sqrt(), lambda x, t: t.maximum(t.zeros(4, dtype=x.dtype), x).sqrt(), [0.0, 0.25, 1.0, 0.5**1.5]),
    "minimum": (lambda x: (-tg.minimum(x, 0.0)).sqrt(), lambda x, t: (-t.minimum(x, t.zeros(4, dtype=x.dtype))).sqrt(), [-0.5, 0.0, 0.0, 0.0]),
    "where": (lambda x: tg.where(x > 0, x, 0.0).sqrt(), lambda x, t: t.where(x > 0, x, 0.0).sqrt(), [0.0, 0.25, 1.0, 0.5**1.5]),
    "leaky_relu_slope_0": (lambda x: x.leaky_relu(0.0).sqrt(), None, [0.0, 0.25, 1.0, 0.5**1.5]),  # torch: NaN
    "abs_at_0": (lambda x: abs(x * 0.0).sqrt(), None, [0.0, 0.0, 0.0, 0.0]),  # torch: NaN (abs'(0)·inf)
    "min_reduction": (lambda x: x.clip(0.0).reshape(2, 2).min(axis=1).sqrt(), lambda x, t: x.clamp(min=0).reshape(2, 2).min(dim=1).values.sqrt(), [0.0, 0.0, 1.0, 0.0]),
    # max of [-1, 0, 0, 0] is 0 (a tie of three); the -1 is not chosen: 0, not 0·inf
    "max_reduction": (lambda x: (-x.clip(hi=0.0).max()).sqrt(), lambda x, t: (-x.clamp(max=0).max()).sqrt(), [0.0, 0.0, 0.0, 0.0]),
}


@pytest.mark.parametrize("name", sorted(MASKED))
def test_masks_select_the_gradient_where_the_next_op_has_an_infinite_one(name):
    fn, _, expected = MASKED[name]
    _, g = _grad(fn, X)
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(k for k, v in MASKED.items() if v[1] is not None))
def test_masks_select_as_pytorch(name):
    torch = _torch()
    fn, torch_fn, _ = MASKED[name]
    _, g = _grad(fn, X)
    x = torch.tensor(X, dtype=torch.float64, requires_grad=True)
    torch_fn(x, torch).sum().backward()
    np.testing.assert_allclose(g.numpy(), x.grad.numpy(), rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(MASKED))
def test_masked_rules_under_create_graph_give_the_same_gradient_and_no_nan(name):
    fn, _, expected = MASKED[name]
    x, g = _grad(fn, X, create_graph=True)
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12, atol=0)
    if g.requires_grad:
        with np.errstate(divide="ignore", invalid="ignore"):
            (h,) = autograd.grad(g.sum(), [x], allow_unused=True)
        # sqrt'' at 0 is -inf where the mask is on at 0, but never NaN where it is off
        h = np.zeros(4) if h is None else h.numpy()
        off = np.array(expected) == 0
        assert not np.isnan(h[off]).any(), h


def test_ties_still_share_an_infinite_gradient():
    # maximum(x, 0) at x = 0: a tie, each side gets half of sqrt'(0) = inf (inf, not NaN)
    _, g = _grad(lambda x: tg.maximum(x, tg.Tensor(np.zeros(2))).sqrt(), [0.0, 4.0])
    np.testing.assert_array_equal(g.numpy(), [np.inf, 0.25])


def test_nan_operands_pass_their_gradient_on_as_pytorch():
    # torch.maximum([nan, -1], 0).sum().backward() -> [1, 0]; torch.max of [[nan, -1]] -> [[1, 0]]
    x = tg.Tensor([np.nan, -1.0], requires_grad=True)
    tg.maximum(x, 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0])
    x.grad = None
    x.max().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 0.0])
    x.grad = None
    x.std().backward()  # a NaN std has a NaN gradient (not a silent 0)
    assert np.isnan(x.grad.numpy()).all()


# --------------------------------------------------------------------------- std
STD_CASES = {
    # name: (values, kwargs, expected gradient of std(...).sum())
    "length_one_axis": ([[1.0, 2.0]], {"axis": 0}, [[0.0, 0.0]]),
    "length_one_axis_keepdims": ([[1.0, 2.0]], {"axis": 0, "keepdims": True}, [[0.0, 0.0]]),
    "constant": ([3.0, 3.0, 3.0], {}, [0.0, 0.0, 0.0]),
    "constant_ddof1": ([3.0, 3.0, 3.0], {"ddof": 1}, [0.0, 0.0, 0.0]),
    "one_row_constant": ([[3.0, 3.0], [1.0, 2.0]], {"axis": 1}, [[0.0, 0.0], [-0.5, 0.5]]),
    "zero_d": (2.0, {}, 0.0),
}


@pytest.mark.parametrize("name", sorted(STD_CASES))
def test_std_gradient_is_zero_where_the_spread_is_zero(name):
    values, kwargs, expected = STD_CASES[name]
    x, g = _grad(lambda t: t.std(**kwargs), values)
    np.testing.assert_allclose(g.numpy(), expected, rtol=1e-12, atol=0)
    x2, g2 = _grad(lambda t: t.std(**kwargs), values, create_graph=True)
    np.testing.assert_allclose(g2.numpy(), expected, rtol=1e-12, atol=0)


@pytest.mark.parametrize("name", sorted(STD_CASES))
def test_std_at_zero_spread_as_pytorch(name):
    torch = _torch()
    values, kwargs, _ = STD_CASES[name]
    x, g = _grad(lambda t: t.std(**kwargs), values)
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    dim = kwargs.get("axis")
    t_kwargs = {"correction": kwargs.get("ddof", 0), "keepdim": kwargs.get("keepdims", False)}
    out = tx.std(**t_kwargs) if dim is None else tx.std(dim=dim, **t_kwargs)
    out.sum().backward()
    np.testing.assert_allclose(g.numpy(), tx.grad.numpy(), rtol=1e-12, atol=0)


def test_std_second_derivatives_match_finite_differences():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(3, 4))
    v = rng.normal(size=(3, 4))

    def grad_dot_v(arr):
        x = tg.Tensor(arr, requires_grad=True)
        (g,) = autograd.grad(x.std(axis=1, ddof=1).sum(), [x])
        return float(np.sum(g.numpy() * v))

    x = tg.Tensor(a, requires_grad=True)
    (g,) = autograd.grad(x.std(axis=1, ddof=1).sum(), [x], create_graph=True)
    (h,) = autograd.grad((g * v).sum(), [x])
    w = rng.normal(size=a.shape)
    eps = 1e-6
    numeric = (grad_dot_v(a + eps * w) - grad_dot_v(a - eps * w)) / (2 * eps)
    assert np.sum(h.numpy() * w) == pytest.approx(numeric, rel=1e-6, abs=1e-8)


# --------------------------------------------------------------------------- integer tensors
FLOAT_VALUED = {
    "exp": lambda t: t.exp(),
    "log": lambda t: t.log(),
    "sqrt": lambda t: t.sqrt(),
    "sin": lambda t: t.sin(),
    "cos": lambda t: t.cos(),
    "tanh": lambda t: t.tanh(),
    "sigmoid": lambda t: t.sigmoid(),
    "softplus": lambda t: t.softplus(),
    "leaky_relu": lambda t: t.leaky_relu(0.5),
    "softmax": lambda t: t.softmax(),
    "log_softmax": lambda t: t.log_softmax(),
    "logsumexp": lambda t: t.logsumexp(),
    "mean": lambda t: t.mean(),
    "var": lambda t: t.var(),
    "std": lambda t: t.std(),
    "div": lambda t: t / 2,
    "rdiv": lambda t: 2 / t,
    "pow_half": lambda t: t**0.5,
    "clip_float_bound": lambda t: t.clip(0.5),
    "maximum_float": lambda t: tg.maximum(t, 0.5),
}
INT_VALUES = {
    np.int64: [1, 2, -3, 0],
    np.int8: [1, 2, -3, 0],
    np.uint8: [1, 2, 200, 0],
    np.bool_: [True, False, True, True],
}


@pytest.mark.parametrize("dtype", list(INT_VALUES), ids=lambda d: np.dtype(d).name)
@pytest.mark.parametrize("name", sorted(FLOAT_VALUED))
def test_float_valued_ops_on_integer_tensors_promote_to_float64(name, dtype):
    fn = FLOAT_VALUED[name]
    values = INT_VALUES[dtype]
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        out = fn(tg.Tensor(np.array(values), dtype=dtype))
        reference = fn(tg.Tensor(np.array(values, dtype=dtype).astype(np.float64)))
    assert out.dtype == np.float64, f"{name} of {np.dtype(dtype)} gave {out.dtype}"
    np.testing.assert_allclose(out.numpy(), reference.numpy(), rtol=1e-15, atol=0, equal_nan=True)


def test_integer_sigmoid_and_leaky_relu_are_not_truncated():
    x = tg.Tensor(np.array([1, 2, -3]), dtype=np.int64)
    np.testing.assert_allclose(x.sigmoid().numpy(), 1 / (1 + np.exp(-np.array([1.0, 2.0, -3.0]))), rtol=1e-15)
    np.testing.assert_array_equal(x.leaky_relu(0.5).numpy(), [1.0, 2.0, -1.5])


INTEGRAL = {
    "sum": lambda t: t.sum(),
    "abs": lambda t: t.abs(),
    "relu": lambda t: t.relu(),
    "neg": lambda t: -t,
    "mul_int": lambda t: t * 2,
    "pow_two": lambda t: t**2,
    "max": lambda t: t.max(),
    "clip_int_bounds": lambda t: t.clip(0, 1),
}


@pytest.mark.parametrize("name", sorted(INTEGRAL))
def test_integral_ops_keep_the_integer_dtype_as_pytorch(name):
    out = INTEGRAL[name](tg.Tensor(np.array([1, 2, -3]), dtype=np.int64))
    assert out.dtype == np.int64


def test_float_valued_integer_results_match_pytorch_values():
    torch = _torch()
    values = [1, 2, -3, 0]
    ours = tg.Tensor(np.array(values), dtype=np.int64)
    theirs = torch.tensor(values)
    for name, t_fn in {"exp": torch.exp, "sin": torch.sin, "sigmoid": torch.sigmoid, "tanh": torch.tanh}.items():
        expected = t_fn(theirs.double()).numpy()
        assert t_fn(theirs).dtype.is_floating_point  # PyTorch promotes too (to its default float)
        np.testing.assert_allclose(FLOAT_VALUED[name](ours).numpy(), expected, rtol=1e-15)


def test_zeros_like_and_ones_like_keep_a_tensors_dtype():
    xi = tg.Tensor(np.array([1, 2, 3]), dtype=np.int64)
    assert tg.zeros_like(xi).dtype == np.int64 and tg.ones_like(xi).dtype == np.int64
    np.testing.assert_array_equal(tg.ones_like(xi).numpy(), [1, 1, 1])
    xb = tg.Tensor(np.array([True, False]), dtype=bool)
    assert tg.zeros_like(xb).dtype == np.bool_
    assert tg.zeros_like(xi, dtype=np.float32).dtype == np.float32
    # numpy data follows the Tensor rule (an int array becomes float64), as before
    assert tg.zeros_like(np.array([1, 2])).dtype == np.float64
    with pytest.raises(TypeError, match="only floating-point tensors can require gradients"):
        tg.zeros_like(xi, requires_grad=True)


# --------------------------------------------------------------------------- pow at exponent 0
def test_x_pow_0_has_a_zero_gradient_everywhere():
    for exponent in (0, 0.0, np.zeros(4), None):
        x = tg.Tensor([np.inf, -np.inf, 0.0, 2.0], requires_grad=True)
        b = tg.Tensor(np.zeros(4)) if exponent is None else exponent
        with np.errstate(all="raise"):
            (x**b).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0, 0.0])


def test_x_pow_0_with_an_infinite_upstream_gradient_is_zero():
    for exponent in (0, tg.Tensor(np.zeros(2), requires_grad=True)):
        x = tg.Tensor([0.0, 4.0], requires_grad=True)
        with np.errstate(divide="ignore", invalid="raise"):
            (x**exponent - 1.0).sqrt().sum().backward()  # x**0 - 1 = 0: sqrt'(0) = inf upstream
        np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


def test_x_pow_0_as_pytorch():
    torch = _torch()
    values = [np.inf, -np.inf, 0.0, 2.0, -1.5]
    x = tg.Tensor(values, requires_grad=True)
    (x**0).sum().backward()
    tx = torch.tensor(values, dtype=torch.float64, requires_grad=True)
    (tx**0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), tx.grad.numpy())


def _pow_grads(a_values, b_values):
    a = tg.Tensor(np.array(a_values, dtype=np.float64), requires_grad=True)
    b = tg.Tensor(np.array(b_values, dtype=np.float64), requires_grad=True)
    ga, gb = autograd.grad((a**b).sum(), [a, b], create_graph=True)
    return a, b, ga, gb


def test_pow_mixed_second_derivative_at_exponent_0_is_one_over_a():
    # d/db (b·a^(b-1)) = a^(b-1)·(1 + b·log a) = 1/a at b = 0. (PyTorch's pow backward masks
    # b == 0 to 0 and so also reports 0 here: mathematically it is 1/a.)
    a_values, b_values = [2.0, 0.5, 3.0], [0.0, 0.0, 1.5]
    a, b, ga, gb = _pow_grads(a_values, b_values)
    np.testing.assert_allclose(ga.numpy()[:2], [0.0, 0.0], atol=0)
    (d_ga_db,) = autograd.grad(ga.sum(), [b], retain_graph=True)
    eps = 1e-6
    numeric = []
    for k in range(3):
        plus, minus = np.array(b_values), np.array(b_values)
        plus[k] += eps
        minus[k] -= eps
        numeric.append((_pow_grads(a_values, plus)[2].numpy()[k] - _pow_grads(a_values, minus)[2].numpy()[k]) / (2 * eps))
    np.testing.assert_allclose(d_ga_db.numpy(), numeric, rtol=1e-6)
    np.testing.assert_allclose(d_ga_db.numpy()[:2], [0.5, 2.0], rtol=1e-12)
    # and the other second derivatives at b = 0: d²/da² a^0 = 0, d/da (a^0 log a) = 1/a
    (d_ga_da,) = autograd.grad(ga.sum(), [a], retain_graph=True)
    np.testing.assert_allclose(d_ga_da.numpy()[:2], [0.0, 0.0], atol=0)
    (d_gb_da,) = autograd.grad(gb.sum(), [a])
    np.testing.assert_allclose(d_gb_da.numpy()[:2], [0.5, 2.0], rtol=1e-12)


def test_pow_second_derivative_at_0_0_is_finite():
    a, b, ga, _ = _pow_grads([0.0], [0.0])
    assert ga.item() == 0.0
    with np.errstate(all="raise"):
        (h_a, h_b) = autograd.grad(ga.sum(), [a, b], allow_unused=True)
    assert (h_a is None or np.isfinite(h_a.numpy()).all()) and (h_b is None or np.isfinite(h_b.numpy()).all())


# --------------------------------------------------------------------------- softmax edges
def test_softmax_of_a_0d_tensor_is_one_as_pytorch():
    x = tg.Tensor(2.0, requires_grad=True)
    y = x.softmax()
    assert y.shape == () and y.item() == 1.0
    y.backward()
    assert x.grad.item() == 0.0
    assert tg.Tensor(2.0).log_softmax(0).item() == 0.0
    assert tg.Tensor(2.0).softmax(dim=-1).item() == 1.0
    with pytest.raises(ValueError, match="out of range"):
        tg.Tensor(2.0).softmax(axis=1)


def test_softmax_and_logsumexp_over_an_empty_axis_as_pytorch():
    x = tg.Tensor(np.zeros((3, 0)), requires_grad=True)
    for f in (lambda t: t.softmax(), lambda t: t.log_softmax(axis=0), lambda t: t.softmax(axis=(0, 1))):
        y = f(x)
        assert y.shape == (3, 0)
        y.backward(gradient=np.zeros((3, 0)))
    lse = x.logsumexp(axis=1)  # log of an empty sum: -inf (torch.logsumexp(torch.zeros(3, 0), 1))
    np.testing.assert_array_equal(lse.numpy(), [-np.inf] * 3)
    assert x.logsumexp().item() == -np.inf
    assert x.logsumexp(axis=0).shape == (0,)
    x.grad = None
    lse.backward(gradient=np.ones(3))
    assert x.grad.shape == (3, 0)


def test_softmax_over_several_axes_normalises_them_jointly():
    data = np.arange(12.0).reshape(2, 3, 2) / 5
    y = tg.Tensor(data).softmax(axis=(0, 2))
    e = np.exp(data - data.max(axis=(0, 2), keepdims=True))
    np.testing.assert_allclose(y.numpy(), e / e.sum(axis=(0, 2), keepdims=True), rtol=1e-14)
    np.testing.assert_allclose(y.numpy().sum(axis=(0, 2)), np.ones(3), rtol=1e-14)
    np.testing.assert_allclose(tg.Tensor(data).log_softmax(dim=(0, 2)).numpy(), np.log(y.numpy()), rtol=1e-13)
    assert tg.gradcheck(lambda t: t.softmax(axis=(0, 1)) * tg.Tensor(data[..., 0]), [tg.Tensor(data[..., 1], requires_grad=True)])


def test_softmax_axis_errors_are_clear():
    x = tg.Tensor(np.zeros((2, 3)))
    with pytest.raises(TypeError, match=r"softmax: axis=None is ambiguous.*tuple of axes"):
        x.softmax(axis=None)
    with pytest.raises(TypeError, match="log_softmax: axis=None"):
        x.log_softmax(axis=None)
    with pytest.raises(ValueError, match="softmax needs at least one axis"):
        x.softmax(axis=())
    with pytest.raises(ValueError, match="repeated axis"):
        x.softmax(axis=(0, -2))
    with pytest.raises(ValueError, match="out of range"):
        x.softmax(axis=(0, 2))
