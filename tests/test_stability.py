"""Numerical stability: values and gradients finite and accurate for |x| ≤ 1e3 in sigmoid, tanh,
softplus, log_softmax, softmax, logsumexp, BCE-with-logits and cross-entropy, compared with
50-digit references (mpmath when installed, otherwise closed forms that never overflow);
``where`` never leaks NaN/inf from the branch not taken into that branch's gradient; the
"double where" case (docs/errors.md, "Numerics"); pow with a negative base and an integer
exponent; sqrt, norms and std at 0 (PyTorch's choices); masks that select the gradient
(``ops.select``: bit for bit np.where, exact zeros for an inf upstream where the mask is off).

Accuracy contract tested here (float64): values to 1e-13 relative (results that underflow
may be 0; log-probabilities next to 0 to 1e-15 absolute); gradients to 1e-12 relative or 1e-15 absolute — these gradients are bounded by 1,
and their tails (e.g. sigmoid'(40) ≈ 4e-18) come from PyTorch's formulas s·(1 - s) and
1 - tanh², exact to that absolute level.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import losses as L

try:  # a 50-digit reference when available; the closed forms below otherwise
    import mpmath

    mpmath.mp.dps = 50
except ImportError:  # pragma: no cover - depends on the environment
    mpmath = None

EDGES = np.array([-1000.0, -745.0, -700.0, -100.0, -40.0, -20.0, -5.0, -1.0, -1e-8, 0.0, 1e-8, 1.0, 5.0, 20.0, 40.0, 100.0, 700.0, 745.0, 1000.0])
GRID = np.concatenate([EDGES, np.random.default_rng(0).uniform(-1e3, 1e3, size=40)])

VALUE_RTOL, GRAD_RTOL, GRAD_ATOL = 1e-13, 1e-12, 1e-15
# Log-probabilities next to 0 (log_softmax of the largest logit, -log1p(tiny)) round to 0:
# their error is absolute, a relative error of e^(1e-15) in the probability.
LOG_ATOL = 1e-15
# No overflow, 0/0 or division by zero anywhere on the way (underflow to 0 is expected).
STRICT = {"over": "raise", "divide": "raise", "invalid": "raise", "under": "ignore"}


# --------------------------------------------------------------------------- references
def _mp_map(f, x: np.ndarray) -> np.ndarray:
    return np.array([float(f(mpmath.mpf(float(v)))) for v in np.ravel(x)]).reshape(np.shape(x))


def ref_sigmoid(x: np.ndarray) -> np.ndarray:
    if mpmath:
        return _mp_map(lambda v: 1 / (1 + mpmath.exp(-v)), x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1 / (1 + e), e / (1 + e))


def ref_sigmoid_grad(x: np.ndarray) -> np.ndarray:
    if mpmath:
        return _mp_map(lambda v: mpmath.exp(-v) / (1 + mpmath.exp(-v)) ** 2, x)
    e = np.exp(-np.abs(x))
    return e / (1 + e) ** 2


def ref_tanh(x: np.ndarray) -> np.ndarray:
    return _mp_map(mpmath.tanh, x) if mpmath else np.tanh(x)


def ref_tanh_grad(x: np.ndarray) -> np.ndarray:
    if mpmath:
        return _mp_map(lambda v: mpmath.sech(v) ** 2, x)
    e = np.exp(-2 * np.abs(x))
    return 4 * e / (1 + e) ** 2


def ref_softplus(x: np.ndarray) -> np.ndarray:
    if mpmath:
        return _mp_map(lambda v: mpmath.log1p(mpmath.exp(v)), x)
    return np.maximum(x, 0) + np.log1p(np.exp(-np.abs(x)))


def _mp_row(x: np.ndarray) -> list:
    return [mpmath.mpf(float(v)) for v in x]


def ref_logsumexp(x: np.ndarray) -> float:
    if mpmath:
        return float(mpmath.log(mpmath.fsum(mpmath.exp(v) for v in _mp_row(x))))
    m = np.max(x)
    return float(m + np.log(np.sum(np.exp(x - m))))


def ref_softmax(x: np.ndarray) -> np.ndarray:
    if mpmath:
        row = _mp_row(x)
        total = mpmath.fsum(mpmath.exp(v) for v in row)
        return np.array([float(mpmath.exp(v) / total) for v in row])
    e = np.exp(x - np.max(x))
    return e / e.sum()


def ref_log_softmax(x: np.ndarray) -> np.ndarray:
    if mpmath:
        row = _mp_row(x)
        lse = mpmath.log(mpmath.fsum(mpmath.exp(v) for v in row))
        return np.array([float(v - lse) for v in row])
    shifted = x - np.max(x)
    return shifted - np.log(np.sum(np.exp(shifted)))


def assert_accurate(actual, expected, rtol: float, atol: float = 1e-300, what: str = "") -> None:
    actual, expected = np.asarray(actual, dtype=np.float64), np.asarray(expected, dtype=np.float64)
    assert np.all(np.isfinite(actual)), f"{what}: non-finite values {actual}"
    np.testing.assert_allclose(actual, expected, rtol=rtol, atol=atol, err_msg=what)


def _value_and_grad(fn, x: np.ndarray, upstream: np.ndarray | None = None):
    t = tg.Tensor(x, requires_grad=True)
    out = fn(t)
    out.backward(gradient=upstream if upstream is not None else np.ones(out.shape))
    return out.numpy(), t.grad.numpy()


# --------------------------------------------------------------------------- elementwise
ELEMENTWISE = {
    "sigmoid": (lambda t: t.sigmoid(), ref_sigmoid, ref_sigmoid_grad),
    "tanh": (lambda t: t.tanh(), ref_tanh, ref_tanh_grad),
    "softplus": (lambda t: t.softplus(), ref_softplus, ref_sigmoid),
}


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_values_and_gradients_for_large_inputs(name):
    fn, ref, ref_grad = ELEMENTWISE[name]
    with np.errstate(**STRICT):
        value, grad = _value_and_grad(fn, GRID)
    assert_accurate(value, ref(GRID), VALUE_RTOL, what=f"{name} values")
    assert_accurate(grad, ref_grad(GRID), GRAD_RTOL, GRAD_ATOL, what=f"{name} gradients")


@pytest.mark.parametrize("name", sorted(ELEMENTWISE))
def test_elementwise_float32_stays_finite_and_close(name):
    fn, ref, ref_grad = ELEMENTWISE[name]
    x = GRID.astype(np.float32)
    with np.errstate(**STRICT):
        value, grad = _value_and_grad(fn, x)
    assert value.dtype == np.float32 and grad.dtype == np.float32
    xs = x.astype(np.float64)
    assert_accurate(value, ref(xs), 1e-6, 1e-38, f"{name} float32 values")
    assert_accurate(grad, ref_grad(xs), 1e-5, 1e-7, f"{name} float32 gradients")


# --------------------------------------------------------------------------- along an axis
ROWS = [
    np.array([1000.0, -1000.0, 0.0]),
    np.array([1000.0, 999.0, 998.0]),
    np.array([-1000.0, -1000.5, -999.0]),
    np.array([5.0, 5.0, 5.0]),
    np.array([1e-8, -1e-8, 0.0]),
    np.array([745.0, -745.0, 700.0]),
    np.random.default_rng(1).uniform(-1e3, 1e3, size=3),
]


@pytest.mark.parametrize("row", range(len(ROWS)))
def test_softmax_log_softmax_logsumexp_rows(row):
    x = ROWS[row]
    g = np.array([0.3, -1.2, 2.0])  # a non-trivial upstream gradient
    s, ls, lse = ref_softmax(x), ref_log_softmax(x), ref_logsumexp(x)
    with np.errstate(**STRICT):
        value, grad = _value_and_grad(lambda t: t.softmax(), x, g)
        assert_accurate(value, s, VALUE_RTOL, what="softmax values")
        assert_accurate(grad, s * (g - np.dot(g, s)), GRAD_RTOL, GRAD_ATOL, "softmax gradients")
        value, grad = _value_and_grad(lambda t: t.log_softmax(), x, g)
        assert_accurate(value, ls, VALUE_RTOL, LOG_ATOL, what="log_softmax values")
        assert_accurate(grad, g - s * g.sum(), GRAD_RTOL, GRAD_ATOL, "log_softmax gradients")
        value, grad = _value_and_grad(lambda t: t.logsumexp(), x, np.array(1.7))
        assert_accurate(value, lse, VALUE_RTOL, what="logsumexp value")
        assert_accurate(grad, 1.7 * s, GRAD_RTOL, GRAD_ATOL, "logsumexp gradients")


def test_axis_forms_on_a_batch_match_the_row_references():
    X = np.stack(ROWS)
    with np.errstate(**STRICT):
        values = tg.Tensor(X).log_softmax(axis=1).numpy()
        lse = tg.Tensor(X.T).logsumexp(axis=0, keepdims=True).numpy()
    for i, x in enumerate(ROWS):
        assert_accurate(values[i], ref_log_softmax(x), VALUE_RTOL, LOG_ATOL, what=f"row {i}")
        assert_accurate(lse[0, i], ref_logsumexp(x), VALUE_RTOL, what=f"column {i}")


# --------------------------------------------------------------------------- losses
def test_bce_with_logits_for_large_logits():
    x = GRID
    t = np.random.default_rng(2).choice([0.0, 1.0, 0.25], size=x.shape)
    logits, target = tg.Tensor(x, requires_grad=True), tg.Tensor(t, requires_grad=True)
    with np.errstate(**STRICT):
        loss = L.binary_cross_entropy_with_logits(logits, target, reduction="none")
        loss.backward(gradient=np.ones(x.shape))
    expected = ref_softplus(x) - t * x
    # softplus(x) - t·x loses digits to cancellation when the two terms nearly cancel; the
    # error is relative to the terms, not to their difference.
    terms = np.abs(ref_softplus(x)) + np.abs(t * x)
    assert np.all(np.abs(loss.numpy() - expected) <= 1e-14 * terms + 1e-300)
    assert_accurate(logits.grad.numpy(), ref_sigmoid(x) - t, GRAD_RTOL, GRAD_ATOL, "d/dlogits")
    assert_accurate(target.grad.numpy(), -x, GRAD_RTOL, what="d/dtarget")


def test_bce_with_logits_mean_matches_the_elementwise_reference_at_the_extremes():
    x = np.array([1000.0, -1000.0, 1000.0, -1000.0])
    t = np.array([1.0, 0.0, 0.0, 1.0])  # right and confident / wrong and confident
    logits = tg.Tensor(x, requires_grad=True)
    loss = L.binary_cross_entropy_with_logits(logits, t)
    loss.backward()
    assert loss.item() == pytest.approx(500.0, rel=1e-15)  # (0 + 0 + 1000 + 1000) / 4
    np.testing.assert_array_equal(logits.grad.numpy(), [0.0, 0.0, 0.25, -0.25])


def test_cross_entropy_for_large_logits():
    X = np.stack(ROWS)
    labels = np.array([1, 0, 2, 1, 0, 1, 2])
    logits = tg.Tensor(X, requires_grad=True)
    with np.errstate(**STRICT):
        loss = L.cross_entropy(logits, labels)
        loss.backward()
    n = len(ROWS)
    expected = sum(ref_logsumexp(x) - x[k] for x, k in zip(ROWS, labels)) / n
    assert_accurate(loss.numpy(), expected, 1e-13, what="cross-entropy value")
    onehot = np.eye(3)[labels]
    expected_grad = (np.stack([ref_softmax(x) for x in ROWS]) - onehot) / n
    assert_accurate(logits.grad.numpy(), expected_grad, GRAD_RTOL, GRAD_ATOL, "cross-entropy gradients")


def test_cross_entropy_confidently_wrong_is_large_and_finite():
    logits = tg.Tensor([[1000.0, -1000.0]], requires_grad=True)
    loss = L.cross_entropy(logits, np.array([1]))
    loss.backward()
    assert loss.item() == 2000.0
    np.testing.assert_array_equal(logits.grad.numpy(), [[1.0, -1.0]])


# --------------------------------------------------------------------------- where
def test_where_gives_the_branch_not_taken_an_exact_zero_gradient_even_if_it_is_inf_or_nan():
    a = tg.Tensor([np.inf, 1.0, -np.inf, np.nan], requires_grad=True)
    b = tg.Tensor([2.0, np.nan, 3.0, 4.0], requires_grad=True)
    cond = np.array([False, True, False, False])
    out = tg.where(cond, a, b)
    out.backward(gradient=np.array([0.5, -2.0, 3.0, 1.5]))
    np.testing.assert_array_equal(out.numpy(), [2.0, 1.0, 3.0, 4.0])
    np.testing.assert_array_equal(a.grad.numpy(), [0.0, -2.0, 0.0, 0.0])
    np.testing.assert_array_equal(b.grad.numpy(), [0.5, 0.0, 3.0, 1.5])


def test_where_with_a_computed_inf_branch_keeps_the_other_gradient_finite():
    x = tg.Tensor([-1.0, 0.5, 2.0], requires_grad=True)
    inf_branch = tg.full((3,), np.inf, requires_grad=True)
    out = tg.where(x.data > 0, x * 3.0, inf_branch)
    out.backward(gradient=np.ones(3))
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 3.0, 3.0])
    np.testing.assert_array_equal(inf_branch.grad.numpy(), [1.0, 0.0, 0.0])


def test_huber_with_huge_residuals_has_finite_gradients():
    # Huber is where(|r| < delta, r²/2, linear): r²/2 overflows for r = 1e200, but that branch
    # is not taken, and its gradient 0·r stays 0.
    pred = tg.Tensor([1e200, -1e200, 0.5], requires_grad=True)
    with np.errstate(over="ignore"):
        loss = L.huber(pred, np.zeros(3), reduction="sum")
        loss.backward()
    np.testing.assert_array_equal(pred.grad.numpy(), [1.0, -1.0, 0.5])


def test_the_double_where_case_and_its_fix():
    """docs/errors.md 'Numerics': where(x > 0, sqrt(x), 0) has a NaN gradient at x ≤ 0,
    because sqrt's backward computes 0 / (2·sqrt(x)) = 0/0 or 0/NaN. Guarding sqrt's input
    with an inner where makes it exactly 0."""
    values = np.array([-1.0, 0.0, 4.0])
    x = tg.Tensor(values, requires_grad=True)
    with np.errstate(all="ignore"):
        tg.where(x > 0, x.sqrt(), 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()[:2]).all() and x.grad.numpy()[2] == 0.25
    x = tg.Tensor(values, requires_grad=True)
    safe = tg.where(x > 0, x, 1.0)  # the inner where: sqrt only ever sees valid inputs
    tg.where(x > 0, safe.sqrt(), 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.25])


def test_the_double_where_case_with_log():
    x = tg.Tensor([0.0, 2.0], requires_grad=True)
    with np.errstate(all="ignore"):
        tg.where(x > 0, x.log(), 0.0).sum().backward()
    assert np.isnan(x.grad.numpy()[0])  # 0 upstream / 0 input
    x.grad = None
    tg.where(x > 0, tg.where(x > 0, x, 1.0).log(), 0.0).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.5])


# --------------------------------------------------------------------------- pow
@pytest.mark.parametrize("k", [2, 3, 4, -1, -2, -3, 0, 1])
def test_pow_negative_base_integer_exponent(k):
    base = np.array([-3.0, -1.5, -0.5, 0.75, 2.0])
    with np.errstate(**STRICT):
        value, grad = _value_and_grad(lambda t: t**k, base)
    np.testing.assert_allclose(value, base**float(k), rtol=1e-15)
    np.testing.assert_allclose(grad, k * base ** float(k - 1) if k else np.zeros(5), rtol=1e-15)


def test_pow_with_an_integer_valued_tensor_exponent_and_negative_base():
    base = np.array([-2.0, -0.5, -3.0, 1.5])
    k = np.array([3.0, 2.0, -1.0, 0.0])
    x = tg.Tensor(base, requires_grad=True)
    out = x ** tg.Tensor(k)  # the exponent needs no gradient: no log of a negative number
    out.backward(gradient=np.ones(4))
    np.testing.assert_allclose(out.numpy(), base**k, rtol=1e-15)
    np.testing.assert_allclose(x.grad.numpy(), k * base ** (k - 1), rtol=1e-15)
    # d/dk a^k = a^k·log(a) is undefined for a < 0: NaN there, as PyTorch; exact elsewhere.
    x, e = tg.Tensor(base, requires_grad=True), tg.Tensor(k, requires_grad=True)
    with np.errstate(invalid="ignore"):
        (x**e).sum().backward()
    assert np.isnan(e.grad.numpy()[:3]).all()
    assert e.grad.numpy()[3] == pytest.approx(math.log(1.5))
    np.testing.assert_allclose(x.grad.numpy(), k * base ** (k - 1), rtol=1e-15)


def test_pow_at_zero_follows_pytorch():
    cases = {0: 0.0, 1: 1.0, 2: 0.0, 3: 0.0, 0.5: np.inf, -1: -np.inf}
    for k, expected in cases.items():
        x = tg.Tensor(0.0, requires_grad=True)
        with np.errstate(divide="ignore"):
            (x**k).backward()
        assert x.grad.item() == expected, f"d/dx x**{k} at 0"


# --------------------------------------------------------------------------- sqrt, norms, std at 0
def test_sqrt_at_zero_has_an_infinite_gradient_as_pytorch():
    x = tg.Tensor([0.0, 4.0], requires_grad=True)
    with np.errstate(divide="ignore"):
        x.sqrt().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [np.inf, 0.25])


def test_euclidean_norm_at_zero_is_nan_and_the_documented_fix_is_zero():
    x = tg.Tensor([0.0, 0.0], requires_grad=True)
    with np.errstate(all="ignore"):
        (x * x).sum().sqrt().backward()  # 0 · inf
    assert np.isnan(x.grad.numpy()).all()
    x.grad = None
    ((x * x).sum() + 1e-12).sqrt().backward()  # the fix in docs/errors.md
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])
    y = tg.Tensor([3.0, 4.0], requires_grad=True)
    ((y * y).sum() + 1e-12).sqrt().backward()
    np.testing.assert_allclose(y.grad.numpy(), [0.6, 0.8], rtol=1e-12)


def test_std_of_equal_values_has_a_zero_gradient_as_pytorch():
    # torch.tensor([2., 2., 2.], requires_grad=True).std(correction=0).backward() -> zeros
    # (its std backward masks result == 0; so does correction=1). Not NaN (0·inf).
    x = tg.Tensor([2.0, 2.0, 2.0], requires_grad=True)
    with np.errstate(all="raise"):  # no 0·inf computed anywhere, not even in a masked branch
        s = x.std()
        s.backward()
    assert s.item() == 0.0
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])
    x.grad = None
    x.std(ddof=1).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 0.0])


def test_abs_relu_at_zero_are_zero():
    x = tg.Tensor([0.0, 0.0], requires_grad=True)
    (x.abs() + x.relu()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0])


# --------------------------------------------------------------------------- select (masks)
@pytest.mark.parametrize("dtype", [np.float16, np.float32, np.float64, np.longdouble])
@pytest.mark.parametrize("n", [5, 10_000])  # below and above the branch-free path's threshold
def test_select_is_np_where_with_zero_bit_for_bit(dtype, n):
    rng = np.random.default_rng(n)
    g = rng.normal(size=n).astype(dtype)
    g[::7], g[1::7], g[2::7], g[3::7] = np.inf, -np.inf, np.nan, -0.0
    mask = rng.random(n) < 0.5
    for gg, mm in [(g, mask), (g[::2], mask[::2]), (g.reshape(-1, 5)[:, :1], mask.reshape(-1, 5))]:  # strided, broadcast
        out = tg.ops.select(mm, gg)
        expected = np.where(mm, gg, 0.0)
        assert out.dtype == expected.dtype and out.shape == expected.shape
        np.testing.assert_array_equal(out, expected)
        assert np.array_equal(np.signbit(out), np.signbit(expected))  # -0.0 kept where selected, +0.0 elsewhere


MASKED = {  # name: (op, where it lets the gradient through)
    "relu": (lambda t: t.relu(), lambda x: x > 0),
    "clip": (lambda t: t.clip(0.0), lambda x: x >= 0),
    "clip_hi": (lambda t: t.clip(hi=0.0) * -1.0, lambda x: x <= 0),
    "where": (lambda t: tg.where(t.data > 0.5, t, 0.0), lambda x: x > 0.5),
    "max_axis1": (lambda t: t.max(axis=1, keepdims=True), lambda x: x == x.max(axis=1, keepdims=True)),
}


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("name", sorted(MASKED))
def test_large_masks_give_exact_zeros_for_an_inf_upstream_and_keep_nan(dtype, name):
    fn, passes = MASKED[name]
    x = tg.Tensor(np.random.default_rng(0).normal(size=(100, 200)).astype(dtype), requires_grad=True)
    out = fn(x)
    upstream = np.full(out.shape, np.inf, dtype=dtype)
    upstream.flat[0] = np.nan
    out.backward(gradient=upstream)
    g, through = x.grad.numpy(), passes(x.data)
    assert g.dtype == dtype
    assert np.all(g[~through] == 0.0)  # exactly 0 where the mask is off: never NaN from inf·0
    assert not np.isfinite(g[through]).any()  # inf (or the NaN) where it is on
