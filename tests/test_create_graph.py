"""create_graph=True: backward rules run on Tensors and record, so gradients are themselves
differentiable. Second (and third) derivatives against closed forms, then every op of the op
table against finite differences of its first-order gradient."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_table import OP_TABLE, OpRow, autodiff_vjp, sample_inputs

import tinygrad_gd as tg
from tinygrad_gd import Tensor


def _leaf(values):
    return Tensor(values, requires_grad=True)


def _first_grad(fn, x):
    """d fn(x).sum() / dx as a Tensor that is still part of a graph."""
    x.grad = None
    fn(x).sum().backward(create_graph=True)
    g = x.grad
    x.grad = None
    return g


def _hessian(fn, values):
    """Hessian of the scalar fn at values, one create_graph gradient + one backward per row."""
    x = _leaf(values)
    g = _first_grad(fn, x).reshape(-1)
    rows = []
    for i in range(g.shape[0]):
        x.grad = None
        g[i].backward(retain_graph=True)
        rows.append(np.zeros(x.size) if x.grad is None else x.grad.numpy().reshape(-1))
    return np.array(rows)


# --------------------------------------------------------------------------- closed forms
X = np.array([-1.5, -0.2, 0.7, 2.0])


def test_x_cubed_second_and_third_derivative():
    x = _leaf(X)
    g1 = _first_grad(lambda t: t**3, x)
    np.testing.assert_allclose(g1.numpy(), 3 * X**2)
    assert g1.requires_grad
    g1.sum().backward(create_graph=True)
    g2 = x.grad
    np.testing.assert_allclose(g2.numpy(), 6 * X)
    x.grad = None
    g2.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [6.0] * 4)


@pytest.mark.parametrize(
    "fn, d1, d2",
    [
        (lambda t: t.sin(), np.cos, lambda v: -np.sin(v)),
        (lambda t: t.cos(), lambda v: -np.sin(v), lambda v: -np.cos(v)),
        (lambda t: t.exp(), np.exp, np.exp),
        (lambda t: t.tanh(), lambda v: 1 - np.tanh(v) ** 2, lambda v: -2 * np.tanh(v) * (1 - np.tanh(v) ** 2)),
        (lambda t: t.sigmoid(), lambda v: np.exp(-v) / (1 + np.exp(-v)) ** 2, lambda v: (s := 1 / (1 + np.exp(-v))) * (1 - s) * (1 - 2 * s)),
        (lambda t: t.softplus(), lambda v: 1 / (1 + np.exp(-v)), lambda v: np.exp(-v) / (1 + np.exp(-v)) ** 2),
        (lambda t: (t * t + 1.0).log(), lambda v: 2 * v / (v * v + 1), lambda v: (2 - 2 * v * v) / (v * v + 1) ** 2),
        (lambda t: (t * t + 1.0).sqrt(), lambda v: v / np.sqrt(v * v + 1), lambda v: (v * v + 1) ** -1.5),
        (lambda t: 1.0 / (t * t + 1.0), lambda v: -2 * v / (v * v + 1) ** 2, lambda v: (6 * v * v - 2) / (v * v + 1) ** 3),
        (lambda t: 2.0**t, lambda v: 2**v * np.log(2), lambda v: 2**v * np.log(2) ** 2),
        (lambda t: (t * t + 1.0) ** 1.5, lambda v: 3 * v * np.sqrt(v * v + 1), lambda v: 3 * np.sqrt(v * v + 1) + 3 * v * v / np.sqrt(v * v + 1)),
        (lambda t: t.abs() ** 3, lambda v: 3 * v * np.abs(v), lambda v: 6 * np.abs(v)),
        (lambda t: t.relu() ** 2, lambda v: 2 * np.maximum(v, 0), lambda v: 2.0 * (v > 0)),
    ],
    ids=["sin", "cos", "exp", "tanh", "sigmoid", "softplus", "log", "sqrt", "reciprocal", "exp2", "pow", "abs", "relu"],
)
def test_elementwise_second_derivatives(fn, d1, d2):
    x = _leaf(X)
    g1 = _first_grad(fn, x)
    np.testing.assert_allclose(g1.numpy(), d1(X), rtol=1e-10)
    g1.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), d2(X), rtol=1e-9, atol=1e-12)


def test_quadratic_form_hessian_is_a_plus_a_transpose():
    rng = np.random.default_rng(0)
    A = rng.standard_normal((4, 4))
    x0 = rng.standard_normal(4)
    x = _leaf(x0)
    g = _first_grad(lambda t: t @ (Tensor(A) @ t), x)
    np.testing.assert_allclose(g.numpy(), (A + A.T) @ x0)
    np.testing.assert_allclose(_hessian(lambda t: t @ (Tensor(A) @ t), x0), A + A.T, atol=1e-12)
    # the same with the matrix on the other side and as a row vector
    np.testing.assert_allclose(_hessian(lambda t: (t.reshape(1, 4) @ A @ t.reshape(4, 1)).sum(), x0), A + A.T, atol=1e-12)


def test_least_squares_hessian_is_xt_x():
    rng = np.random.default_rng(1)
    Xm, y = rng.standard_normal((6, 3)), rng.standard_normal(6)
    H = _hessian(lambda w: ((Tensor(Xm) @ w - y) ** 2).sum() * 0.5, rng.standard_normal(3))
    np.testing.assert_allclose(H, Xm.T @ Xm, atol=1e-12)
    H = _hessian(lambda w: ((Xm @ w - y) ** 2).mean(), rng.standard_normal(3))  # ndarray @ Tensor
    np.testing.assert_allclose(H, 2 * Xm.T @ Xm / 6, atol=1e-12)


def test_matmul_chain_mixed_second_derivative():
    # f = sum(X W1 W2): df/dW1 = Xᵀ 1 W2ᵀ, and d<df/dW1, V>/dW2 = (X V)ᵀ 1
    rng = np.random.default_rng(2)
    Xm, V = rng.standard_normal((5, 3)), rng.standard_normal((3, 4))
    W1, W2 = _leaf(rng.standard_normal((3, 4))), _leaf(rng.standard_normal((4, 2)))
    (Tensor(Xm) @ W1 @ W2).sum().backward(create_graph=True)
    ones = np.ones((5, 2))
    np.testing.assert_allclose(W1.grad.numpy(), Xm.T @ ones @ W2.numpy().T)
    g1 = W1.grad
    W1.grad = W2.grad = None
    (g1 * V).sum().backward()
    np.testing.assert_allclose(W2.grad.numpy(), (Xm @ V).T @ ones)
    assert W1.grad is None  # df/dW1 does not depend on W1


def test_batched_matmul_hessian_vector_product():
    rng = np.random.default_rng(3)
    A = rng.standard_normal((2, 3, 3))
    x0, v = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))

    def f(t):  # Σ_b x_bᵀ A_b x_b
        return (t.reshape(2, 1, 3) @ A @ t.reshape(2, 3, 1)).sum()

    x = _leaf(x0)
    g = _first_grad(f, x)
    (g * v).sum().backward()
    expected = np.einsum("bij,bj->bi", A + A.transpose(0, 2, 1), v)
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-12)


def test_softmax_log_softmax_and_logsumexp_hessians():
    rng = np.random.default_rng(4)
    x0, c = rng.standard_normal(4), rng.standard_normal(4)
    p = np.exp(x0) / np.exp(x0).sum()
    J = np.diag(p) - np.outer(p, p)  # Jacobian of softmax = Hessian of logsumexp
    np.testing.assert_allclose(_hessian(lambda t: t.logsumexp(), x0), J, atol=1e-12)
    # f = c·softmax(x): gradient J c; Hessian H_ij = J_ij (c_i - p·c) - p_i J_jk c_k... in closed form:
    pc = p @ c
    H = J * (c - pc)[:, None] - np.outer(p, J @ c)
    np.testing.assert_allclose(_hessian(lambda t: (t.softmax() * c).sum(), x0), H, atol=1e-12)
    # f = c·log_softmax(x): gradient c - p Σc; Hessian -(Σc) J
    np.testing.assert_allclose(_hessian(lambda t: (t.log_softmax() * c).sum(), x0), -c.sum() * J, atol=1e-12)


def test_softmax_along_an_axis_second_derivative():
    rng = np.random.default_rng(5)
    x0, c, v = rng.standard_normal((2, 3)), rng.standard_normal((2, 3)), rng.standard_normal((2, 3))
    x = _leaf(x0)
    g = _first_grad(lambda t: t.softmax(axis=0) * c, x)
    (g * v).sum().backward()
    # column by column: the Hessian-vector product of c·softmax over each column
    expected = np.empty((2, 3))
    for j in range(3):
        p = np.exp(x0[:, j]) / np.exp(x0[:, j]).sum()
        J = np.diag(p) - np.outer(p, p)
        H = J * (c[:, j] - p @ c[:, j])[:, None] - np.outer(p, J @ c[:, j])
        expected[:, j] = H @ v[:, j]
    np.testing.assert_allclose(x.grad.numpy(), expected, atol=1e-12)


def test_exponent_second_derivative_and_mixed_pow_terms():
    a, b = _leaf([2.0, 3.0]), _leaf([1.5, 0.5])
    (a**b).sum().backward(create_graph=True)
    ga, gb = a.grad, b.grad
    a.grad = b.grad = None
    gb.sum().backward(retain_graph=True)  # d/db (a^b log a) and d/da (a^b log a)
    av, bv = np.array([2.0, 3.0]), np.array([1.5, 0.5])
    np.testing.assert_allclose(b.grad.numpy(), av**bv * np.log(av) ** 2)
    np.testing.assert_allclose(a.grad.numpy(), bv * av ** (bv - 1) * np.log(av) + av ** (bv - 1))
    a.grad = b.grad = None
    ga.sum().backward()  # d/da (b a^(b-1))
    np.testing.assert_allclose(a.grad.numpy(), bv * (bv - 1) * av ** (bv - 2))


def test_reductions_and_shape_ops_record_under_create_graph():
    rng = np.random.default_rng(6)
    x0 = rng.standard_normal((2, 3))

    def f(t):
        m = t.mean(axis=0, keepdims=True)
        return ((t - m) ** 2).sum(axis=1).reshape(1, 2).T.squeeze() @ np.array([1.0, 2.0]) + t.max() ** 2

    H = _hessian(f, x0)
    eps, n = 1e-5, x0.size
    numeric = np.empty((n, n))
    for j in range(n):
        e = np.zeros(n)
        e[j] = eps
        plus = autodiff_vjp(f, [x0 + e.reshape(2, 3)], np.array(1.0))[0].reshape(-1)
        minus = autodiff_vjp(f, [x0 - e.reshape(2, 3)], np.array(1.0))[0].reshape(-1)
        numeric[:, j] = (plus - minus) / (2 * eps)
    np.testing.assert_allclose(H, numeric, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-10)


# --------------------------------------------------------------------------- graph lifetime
def test_create_graph_retains_the_graph_by_default():
    x = _leaf([1.0, 2.0])
    loss = (x**3).sum()
    loss.backward(create_graph=True)
    loss.backward()  # allowed: retain_graph defaults to create_graph
    np.testing.assert_allclose(x.grad.numpy(), 2 * 3 * np.array([1.0, 4.0]))
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_create_graph_without_retain_releases_the_graph():
    x = _leaf([1.0, 2.0])
    loss = (x**3).sum()
    loss.backward(create_graph=True, retain_graph=False)
    assert x.grad.requires_grad
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_gradients_of_different_leaves_never_alias():
    x, y = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (x + y).sum().backward(create_graph=True)
    assert x.grad is not y.grad
    with tg.no_grad():
        x.grad *= 10.0  # e.g. gradient clipping or scaling on one parameter
    np.testing.assert_array_equal(y.grad.numpy(), [1.0, 1.0])
    a, b = _leaf([1.0, 2.0]), _leaf([3.0, 4.0])
    (a * b + a + b).sum().backward(create_graph=True)
    assert a.grad is not b.grad and a.grad.requires_grad
    np.testing.assert_array_equal(a.grad.numpy(), [4.0, 5.0])
    np.testing.assert_array_equal(b.grad.numpy(), [2.0, 3.0])


def test_create_graph_gradient_accumulates_into_a_graph():
    x = _leaf(1.5)
    (x**2).backward(create_graph=True)
    (x**3).backward(create_graph=True)
    g = x.grad  # 2x + 3x²
    np.testing.assert_allclose(g.item(), 2 * 1.5 + 3 * 1.5**2)
    x.grad = None
    g.backward()
    np.testing.assert_allclose(x.grad.item(), 2 + 6 * 1.5)


def test_float32_second_derivatives_stay_float32():
    x = Tensor(np.array([0.5, 1.0], dtype=np.float32), requires_grad=True)
    g = _first_grad(lambda t: t.sin() * t, x)
    assert g.dtype == np.float32
    g.sum().backward()
    assert x.grad.dtype == np.float32
    xv = np.array([0.5, 1.0])
    np.testing.assert_allclose(x.grad.numpy(), 2 * np.cos(xv) - xv * np.sin(xv), rtol=1e-5)


# --------------------------------------------------------------------------- the op table
SECOND_ORDER_EXAMPLES = max(6, settings().max_examples // 6)


def _squared(row: OpRow):
    """fn(x)², so that the row's backward rule gets an upstream gradient that itself depends
    on x (2·fn(x)·G): even a linear op's rule (reshape, sum, getitem...) must then record."""

    def fn(*xs):
        out = row.fn(*xs)
        return out * out

    return fn


def _second_order(fn, xs: list[np.ndarray], upstream: np.ndarray, v: list[np.ndarray], directions: list[list[np.ndarray]], eps: float):
    """Check the create_graph gradient's values, then compare the derivative of
    s(x) = Σ_i <d<fn(x), upstream>/dx_i, v_i> along random ``directions``: through a second
    backward (autodiff) and by central differences of the first-order gradient."""
    ts = [_leaf(x) for x in xs]
    fn(*ts).backward(gradient=upstream, create_graph=True)
    grads = [t.grad for t in ts]
    first_order = autodiff_vjp(fn, xs, upstream)
    for g, expected in zip(grads, first_order):  # the Tensor path of every rule: same values
        np.testing.assert_allclose(np.zeros_like(expected) if g is None else g.numpy(), expected, rtol=1e-12, atol=1e-12)
    for t in ts:
        t.grad = None
    terms = [(g * vi).sum() for g, vi in zip(grads, v) if g is not None and g.requires_grad]
    if terms:
        s = terms[0]
        for term in terms[1:]:
            s = s + term
        s.backward()
    hvp = [np.zeros_like(x) if t.grad is None else t.grad.numpy() for t, x in zip(ts, xs)]

    def s_of(arrays):
        return sum(float((g * vi).sum()) for g, vi in zip(autodiff_vjp(fn, arrays, upstream), v))

    analytic, numeric = [], []
    for u in directions:
        analytic.append(sum(float((h * ui).sum()) for h, ui in zip(hvp, u)))
        plus = s_of([x + eps * ui for x, ui in zip(xs, u)])
        minus = s_of([x - eps * ui for x, ui in zip(xs, u)])
        numeric.append((plus - minus) / (2 * eps))
    return np.array(analytic), np.array(numeric)


SECOND_ORDER_ROWS = [row for row in OP_TABLE if row.second_order]  # (Case.second_order)


@pytest.mark.parametrize("squared", [False, True], ids=["fn", "fn_squared"])
@pytest.mark.parametrize("row", SECOND_ORDER_ROWS, ids=[row.name for row in SECOND_ORDER_ROWS])
@settings(max_examples=SECOND_ORDER_EXAMPLES)
@given(data=st.data())
def test_second_derivatives_match_finite_differences_of_the_gradient(row, squared, data):
    shapes = data.draw(st.sampled_from(row.shapes), label="shapes")
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1), label="seed"))
    xs = sample_inputs(row, shapes, rng)
    fn = _squared(row) if squared else row.fn
    with tg.no_grad():
        out_shape = fn(*[Tensor(x) for x in xs]).shape
    upstream = np.asarray(rng.standard_normal(out_shape))
    v = [rng.standard_normal(x.shape) for x in xs]
    # one direction per input alone (a wrong cross term cannot hide) and two along all inputs
    directions = [[rng.standard_normal(x.shape) if j == i else np.zeros(x.shape) for j, x in enumerate(xs)] for i in range(len(xs))]
    directions += [[rng.standard_normal(x.shape) for x in xs] for _ in range(2)]
    analytic, numeric = _second_order(fn, xs, upstream, v, directions, eps=max(row.fd_eps, 1e-5))
    np.testing.assert_allclose(analytic, numeric, rtol=1e-4, atol=max(10 * row.atol, 1e-5), err_msg=row.name)
