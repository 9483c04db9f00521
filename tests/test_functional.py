"""The functional API (tinygrad_gd.functional): DESIGN.md's call forms of grad, value_and_grad,
jacobian, hessian and hvp, against closed forms and finite differences; its errors; and second
derivatives of x**3, sin, exp, matmul chains and softmax/cross-entropy against closed forms."""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import tinygrad_gd as tg
from tinygrad_gd import Tensor

RNG = np.random.default_rng(20240608)
A = RNG.standard_normal((3, 4))
B = RNG.standard_normal((4, 2))


def f_xy(x, y):
    """Σ x² y: d/dx = 2xy, d/dy = x²."""
    return (x * x * y).sum()


def numeric_hessian(f, x, eps=1e-5):
    """Central differences of tg.grad(f): the Hessian as an (n, n) matrix of the flattened x."""
    x = np.asarray(x, dtype=np.float64)
    n = x.size
    H = np.empty((n, n))
    for j in range(n):
        step = np.zeros(n)
        step[j] = eps
        plus = tg.grad(f)(x + step.reshape(x.shape)).reshape(-1)
        minus = tg.grad(f)(x - step.reshape(x.shape)).reshape(-1)
        H[:, j] = (plus - minus) / (2 * eps)
    return H


# --------------------------------------------------------------------------- grad / value_and_grad
def test_grad_with_int_argnums_selects_one_argument():
    x, y = np.array([1.0, -2.0, 0.5]), np.array([3.0, 0.25, -1.0])
    gx = tg.grad(f_xy)(x, y)
    gy = tg.grad(f_xy, argnums=1)(x, y)
    assert isinstance(gx, np.ndarray) and isinstance(gy, np.ndarray)
    np.testing.assert_allclose(gx, 2 * x * y)
    np.testing.assert_allclose(gy, x * x)
    np.testing.assert_allclose(tg.grad(f_xy, argnums=-1)(x, y), x * x)  # negative, as Python indexing
    np.testing.assert_allclose(tg.grad(f_xy, argnums=np.int64(1))(x, y), x * x)


def test_grad_with_tuple_argnums_returns_a_tuple_in_argnums_order():
    x, y = np.array([1.0, -2.0, 0.5]), np.array([3.0, 0.25, -1.0])
    grads = tg.grad(f_xy, argnums=(0, 1))(x, y)
    assert isinstance(grads, tuple) and len(grads) == 2
    np.testing.assert_allclose(grads[0], 2 * x * y)
    np.testing.assert_allclose(grads[1], x * x)
    gy, gx = tg.grad(f_xy, argnums=(1, 0))(x, y)
    np.testing.assert_allclose(gx, 2 * x * y)
    np.testing.assert_allclose(gy, x * x)
    (single,) = tg.grad(f_xy, argnums=(1,))(x, y)  # a one-element tuple stays a tuple
    np.testing.assert_allclose(single, x * x)
    first, again = tg.grad(f_xy, argnums=(0, -2))(x, y)  # the same argument twice
    np.testing.assert_allclose(first, 2 * x * y)
    np.testing.assert_allclose(again, 2 * x * y)


@pytest.mark.parametrize(
    "make",
    [
        lambda v: v,
        lambda v: v.tolist(),
        lambda v: Tensor(v),
        lambda v: Tensor(v, requires_grad=True),
        lambda v: v.astype(np.float32),
    ],
    ids=["ndarray", "list", "tensor", "tensor_requires_grad", "float32"],
)
def test_grad_accepts_arrays_lists_and_tensors_and_returns_numpy(make):
    x = np.array([[0.5, -1.0], [2.0, 0.25]])
    g = tg.grad(lambda t: (t.sin() * t).sum())(make(x))
    assert type(g) is np.ndarray and g.shape == x.shape
    tol = 1e-6 if g.dtype == np.float32 else 1e-12
    np.testing.assert_allclose(g, np.cos(x) * x + np.sin(x), rtol=tol, atol=tol)


def test_grad_of_a_python_float_and_of_a_scalar_tensor():
    g = tg.grad(lambda t: t**3)(2.0)
    assert isinstance(g, np.ndarray) and g.shape == ()
    assert float(g) == pytest.approx(12.0)
    assert float(tg.grad(lambda t: t.exp())(Tensor(0.5))) == pytest.approx(np.exp(0.5))


def test_value_and_grad_returns_the_value_and_the_gradients():
    x, y = np.array([1.0, -2.0, 0.5]), np.array([3.0, 0.25, -1.0])
    value, gx = tg.value_and_grad(f_xy)(x, y)
    assert isinstance(value, np.ndarray) and value.shape == ()
    assert float(value) == pytest.approx(np.sum(x * x * y))
    np.testing.assert_allclose(gx, 2 * x * y)
    value, (gx, gy) = tg.value_and_grad(f_xy, argnums=(0, 1))(x, Tensor(y))
    assert float(value) == pytest.approx(np.sum(x * x * y))
    np.testing.assert_allclose(gx, 2 * x * y)
    np.testing.assert_allclose(gy, x * x)


def test_grad_matches_finite_differences_for_several_arguments():
    rng = np.random.default_rng(1)
    W, b, X = rng.standard_normal((3, 2)), rng.standard_normal(2), rng.standard_normal((5, 3))

    def loss(W, b):
        return ((Tensor(X) @ W + b).tanh() ** 2).mean()

    analytic = tg.grad(loss, argnums=(0, 1))(W, b)
    numeric = tg.numerical_grad(loss, [W, b])
    for a, n in zip(analytic, numeric):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-9)


def test_grad_of_an_unused_argument_is_zeros_shaped_like_it():
    gx, gy = tg.grad(lambda x, y: (x * 2.0).sum(), argnums=(0, 1))(np.ones(2), np.ones((3, 1)))
    np.testing.assert_array_equal(gx, [2.0, 2.0])
    np.testing.assert_array_equal(gy, np.zeros((3, 1)))
    # a constant output: every gradient is zero
    value, g = tg.value_and_grad(lambda x: Tensor(5.0))(np.ones(3))
    assert float(value) == 5.0
    np.testing.assert_array_equal(g, np.zeros(3))


def test_grad_works_inside_no_grad():
    with tg.no_grad():
        g = tg.grad(lambda t: (t * t).sum())(np.array([1.0, 3.0]))
        assert not tg.is_grad_enabled()
    np.testing.assert_allclose(g, [2.0, 6.0])


# --------------------------------------------------------------------------- f's tensors untouched
def test_captured_and_passed_tensors_keep_their_grad_and_data():
    W = Tensor(A, requires_grad=True)  # captured by f: a parameter f closes over
    x = Tensor([1.0, -1.0, 0.5, 2.0], requires_grad=True)  # passed in and differentiated
    previous = Tensor(np.full(4, 7.0))
    x.grad = previous

    def f(t):
        return ((W @ t) ** 2).sum()

    for transform in (tg.grad(f), lambda v: tg.value_and_grad(f)(v)[1], tg.hessian(f), lambda v: tg.hvp(f, v, np.ones(4))):
        transform(x)
    assert W.grad is None
    assert x.grad is previous
    np.testing.assert_array_equal(x.grad.numpy(), np.full(4, 7.0))
    np.testing.assert_array_equal(x.numpy(), [1.0, -1.0, 0.5, 2.0])
    np.testing.assert_array_equal(W.numpy(), A)
    np.testing.assert_array_equal(tg.jacobian(lambda t: W @ t)(x), A)
    assert W.grad is None and x.grad is previous


def test_the_argument_array_is_not_modified():
    x = np.array([1.0, 2.0])
    tg.grad(lambda t: (t * t).sum())(x)
    tg.hessian(lambda t: (t * t * t).sum())(x)
    np.testing.assert_array_equal(x, [1.0, 2.0])


# --------------------------------------------------------------------------- errors
def test_non_scalar_output_in_grad_suggests_jacobian():
    with pytest.raises(ValueError, match=r"shape \(3,\).*jacobian") as info:
        tg.grad(lambda t: t * 2.0)(np.ones(3))
    assert "one-element" in str(info.value)
    with pytest.raises(ValueError, match="jacobian"):
        tg.value_and_grad(lambda t: t.reshape(1, 3) @ np.ones((3, 2)))(np.ones(3))


def test_non_scalar_output_in_hessian_and_hvp_is_an_error():
    with pytest.raises(ValueError, match=r"hessian.*shape \(2,\)"):
        tg.hessian(lambda t: t * t)(np.ones(2))
    with pytest.raises(ValueError, match=r"hvp.*shape \(2,\)"):
        tg.hvp(lambda t: t * t, np.ones(2), np.ones(2))


@pytest.mark.parametrize(
    "value",
    [np.array([1, 2, 3]), [1, 2], 3, np.array([True, False]), Tensor(np.array([1, 2]), dtype=np.int64)],
    ids=["int_array", "int_list", "python_int", "bool_array", "int_tensor"],
)
def test_integer_inputs_raise_a_clear_type_error(value):
    with pytest.raises(TypeError, match=r"(integer|bool).*float") as info:
        tg.grad(lambda t: (t * t).sum())(value)
    assert "dtype=float" in str(info.value)  # names the fix
    for transform in (tg.jacobian(lambda t: t * 1.0), tg.hessian(lambda t: (t * t).sum())):
        with pytest.raises(TypeError, match="float"):
            transform(value)
    with pytest.raises(TypeError, match="float"):
        tg.hvp(lambda t: (t * t).sum(), value, np.ones(np.shape(np.asarray(getattr(value, "data", value)))))


def test_an_integer_argument_that_is_not_differentiated_is_fine():
    labels = np.array([0, 2])
    g = tg.grad(lambda z, k: tg.losses.cross_entropy(z, k))(np.zeros((2, 3)), labels)
    np.testing.assert_allclose(g, (np.full((2, 3), 1 / 3) - np.eye(3)[labels]) / 2)


def test_other_errors_are_clear():
    with pytest.raises(TypeError, match="must return a Tensor"):
        tg.grad(lambda t: 3.0)(np.ones(2))
    with pytest.raises(ValueError, match="out of range"):
        tg.grad(f_xy, argnums=2)(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match="at least one"):
        tg.grad(f_xy, argnums=())(np.ones(2), np.ones(2))
    with pytest.raises(ValueError, match=r"v has shape \(3,\) but x has shape \(2,\)"):
        tg.hvp(lambda t: (t * t).sum(), np.ones(2), np.ones(3))
    with pytest.raises(TypeError, match="real numbers"):
        tg.grad(lambda t: t.sum())(np.array(["a", "b"]))


# --------------------------------------------------------------------------- jacobian
def test_jacobian_of_a_linear_map_is_its_matrix():
    x = RNG.standard_normal(4)
    J = tg.jacobian(lambda t: Tensor(A) @ t)(x)
    assert J.shape == (3, 4)
    np.testing.assert_allclose(J, A)


def test_jacobian_shape_is_output_shape_plus_input_shape():
    x = RNG.standard_normal((2, 3))
    J = tg.jacobian(lambda t: t.sin())(x)
    assert J.shape == (2, 3, 2, 3)
    expected = np.zeros((6, 6))
    expected[np.arange(6), np.arange(6)] = np.cos(x).reshape(-1)
    np.testing.assert_allclose(J.reshape(6, 6), expected)
    assert tg.jacobian(lambda t: t.sum())(x).shape == (2, 3)  # scalar output: () + x.shape
    np.testing.assert_allclose(tg.jacobian(lambda t: t.sum())(x), np.ones((2, 3)))
    assert tg.jacobian(lambda t: t * Tensor([1.0, 2.0]))(0.5).shape == (2,)  # scalar input
    J = tg.jacobian(lambda t: (t * t).sum(axis=0, keepdims=True))(x)  # (1, 3) output
    assert J.shape == (1, 3, 2, 3)
    np.testing.assert_allclose(J[0], np.einsum("jl,ij->jil", np.eye(3), 2 * x))


def test_jacobian_matches_finite_differences_and_the_softmax_formula():
    x = RNG.standard_normal(4)
    J = tg.jacobian(lambda t: t.softmax())(x)
    p = np.exp(x) / np.exp(x).sum()
    np.testing.assert_allclose(J, np.diag(p) - np.outer(p, p), atol=1e-12)
    X = RNG.standard_normal((2, 3))

    def f(t):
        return (t @ Tensor(X.T)).tanh() * t.sum()

    J = tg.jacobian(f)(x[:3])
    numeric = np.stack([tg.numerical_grad(lambda t, k=k: f(t).reshape(-1)[k], [x[:3]])[0] for k in range(2)])
    np.testing.assert_allclose(J, numeric, rtol=1e-6, atol=1e-9)


def test_jacobian_of_a_constant_is_zeros():
    np.testing.assert_array_equal(tg.jacobian(lambda t: Tensor([1.0, 2.0]))(np.ones(3)), np.zeros((2, 3)))


# --------------------------------------------------------------------------- hessian / hvp
def test_hessian_shape_is_input_shape_twice():
    x = RNG.standard_normal((2, 2))
    H = tg.hessian(lambda t: (t**3).sum())(x)
    assert H.shape == (2, 2, 2, 2)
    np.testing.assert_allclose(H.reshape(4, 4), np.diag(6 * x.reshape(-1)), atol=1e-12)
    h = tg.hessian(lambda t: t.sin())(0.3)
    assert h.shape == () and float(h) == pytest.approx(-np.sin(0.3))
    assert tg.hessian(lambda t: t.sum().reshape(1))(np.ones(3)).shape == (3, 3)  # one-element output


def test_hessian_of_a_linear_function_is_zero():
    np.testing.assert_array_equal(tg.hessian(lambda t: (t * 3.0).sum())(np.ones(3)), np.zeros((3, 3)))
    np.testing.assert_array_equal(tg.hessian(lambda t: Tensor(1.0))(np.ones(2)), np.zeros((2, 2)))


def test_hvp_is_the_hessian_times_v_and_shaped_like_x():
    rng = np.random.default_rng(2)
    x, v = rng.standard_normal((2, 3)), rng.standard_normal((2, 3))

    def f(t):
        return (t.sin() * t.sum(axis=0)).sum() + (t**4).mean()

    Hv = tg.hvp(f, x, v)
    assert isinstance(Hv, np.ndarray) and Hv.shape == x.shape
    H = tg.hessian(f)(x).reshape(6, 6)
    np.testing.assert_allclose(Hv.reshape(-1), H @ v.reshape(-1), atol=1e-12)
    np.testing.assert_allclose(H, numeric_hessian(f, x), atol=1e-6)
    np.testing.assert_allclose(tg.hvp(f, Tensor(x), Tensor(v)), Hv)  # Tensors in, numpy out
    np.testing.assert_array_equal(tg.hvp(lambda t: t.sum() * 2.0, x, v), np.zeros_like(x))  # linear f


@settings(max_examples=25)
@given(
    n=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
)
def test_hessian_matches_finite_differences_of_grad_and_is_symmetric(n, seed):
    rng = np.random.default_rng(seed)
    x, M = rng.uniform(-1.5, 1.5, n), rng.standard_normal((n, n))

    def f(t):
        return ((Tensor(M) @ t).tanh() * t).sum() + (t * t).sum().sqrt() + t.exp().mean()

    H = tg.hessian(f)(x)
    np.testing.assert_allclose(H, numeric_hessian(f, x), rtol=1e-5, atol=1e-6)
    np.testing.assert_allclose(H, H.T, atol=1e-12)


# --------------------------------------------------------------------------- closed forms
XS = np.array([-1.7, -0.3, 0.4, 1.2, 2.5])


@pytest.mark.parametrize(
    "f, d1, d2",
    [
        (lambda t: t**3, lambda v: 3 * v**2, lambda v: 6 * v),
        (lambda t: t.sin(), np.cos, lambda v: -np.sin(v)),
        (lambda t: t.exp(), np.exp, np.exp),
    ],
    ids=["cube", "sin", "exp"],
)
def test_second_derivatives_of_elementwise_functions(f, d1, d2):
    g = tg.grad(lambda t: f(t).sum())(XS)
    np.testing.assert_allclose(g, d1(XS), rtol=1e-12)
    H = tg.hessian(lambda t: f(t).sum())(XS)
    np.testing.assert_allclose(H, np.diag(d2(XS)), rtol=1e-12, atol=1e-15)
    for x in XS:  # scalar form: f''(x) directly
        assert float(tg.hessian(f)(x)) == pytest.approx(float(d2(x)), rel=1e-12)


def test_third_derivative_of_x_cubed_by_nesting_grad():
    def second(t):  # d²/dx² x³ = 6x, written as a Tensor function through tg.autograd.grad
        (g,) = tg.autograd.grad(t**3, [t], create_graph=True)
        (h,) = tg.autograd.grad(g, [t], create_graph=True)
        return h

    assert float(tg.grad(second)(1.3)) == pytest.approx(6.0)
    assert float(tg.grad(lambda t: second(t) * t)(1.3)) == pytest.approx(12 * 1.3)  # d/dx 6x²


def test_hessian_of_a_matmul_chain_least_squares():
    # f(x) = ‖A (B x) − y‖² with A (3, 4), B (4, 2): gradient 2 (AB)ᵀ(ABx − y), H = 2 (AB)ᵀ(AB)
    y = RNG.standard_normal(3)
    x = RNG.standard_normal(2)
    H = tg.hessian(lambda t: ((Tensor(A) @ (Tensor(B) @ t) - y) ** 2).sum())(x)
    AB = A @ B
    np.testing.assert_allclose(H, 2 * AB.T @ AB, atol=1e-12)
    np.testing.assert_allclose(tg.grad(lambda t: ((Tensor(A) @ (Tensor(B) @ t) - y) ** 2).sum())(x), 2 * AB.T @ (AB @ x - y), atol=1e-12)


def test_hessian_of_a_matmul_chain_in_a_middle_weight():
    # f(W) = ½‖X W v − y‖² for W (3, 2): linear in W, so H[(i,j),(k,l)] = Σ_n X_ni v_j X_nk v_l
    rng = np.random.default_rng(3)
    X, v, y, W = rng.standard_normal((5, 3)), rng.standard_normal(2), rng.standard_normal(5), rng.standard_normal((3, 2))
    H = tg.hessian(lambda w: ((Tensor(X) @ w @ Tensor(v) - y) ** 2).sum() * 0.5)(W)
    assert H.shape == (3, 2, 3, 2)
    np.testing.assert_allclose(H, np.einsum("ni,j,nk,l->ijkl", X, v, X, v), atol=1e-12)


def test_hessian_of_a_quadratic_form_and_a_bilinear_chain():
    M = RNG.standard_normal((4, 4))
    x = RNG.standard_normal(4)
    np.testing.assert_allclose(tg.hessian(lambda t: t @ (Tensor(M) @ t))(x), M + M.T, atol=1e-12)
    # f(x) = (xᵀ A ᵀ)(A x) through two matmuls with the same x: 2 AᵀA
    np.testing.assert_allclose(tg.hessian(lambda t: (Tensor(A) @ t) @ (Tensor(A) @ t))(x), 2 * A.T @ A, atol=1e-12)


def test_hessian_of_softmax_component():
    z = np.array([0.3, -1.1, 0.8, 0.05])
    p = np.exp(z) / np.exp(z).sum()
    eye = np.eye(4)
    for k in range(4):
        # ∂²p_k/∂z_i∂z_j = p_k[(δ_ki − p_i)(δ_kj − p_j) − p_j(δ_ij − p_i)]
        expected = p[k] * (np.outer(eye[k] - p, eye[k] - p) - (eye - p[:, None]) * p[None, :])
        H = tg.hessian(lambda t, k=k: t.softmax()[k])(z)
        np.testing.assert_allclose(H, expected, atol=1e-12)
        np.testing.assert_allclose(H, H.T, atol=1e-12)


def test_hessian_of_cross_entropy_in_the_logits():
    # CE(z, k) = logsumexp(z) − z_k: gradient p − onehot(k), Hessian diag(p) − p pᵀ (any k)
    rng = np.random.default_rng(4)
    Z = rng.standard_normal((3, 4))
    labels = np.array([2, 0, 3])
    P = np.exp(Z) / np.exp(Z).sum(axis=1, keepdims=True)
    H = tg.hessian(lambda z: tg.losses.cross_entropy(z, labels))(Z)  # mean over the 3 rows
    assert H.shape == (3, 4, 3, 4)
    expected = np.zeros((3, 4, 3, 4))
    for i in range(3):
        expected[i, :, i, :] = (np.diag(P[i]) - np.outer(P[i], P[i])) / 3
    np.testing.assert_allclose(H, expected, atol=1e-12)
    one = tg.hessian(lambda z: tg.losses.cross_entropy(z, 1))(Z[0])  # the (C,) form
    np.testing.assert_allclose(one, np.diag(P[0]) - np.outer(P[0], P[0]), atol=1e-12)
    by_hand = tg.hessian(lambda z: -(z.log_softmax(axis=1)[np.arange(3), labels]).mean())(Z)
    np.testing.assert_allclose(by_hand, expected, atol=1e-12)


def test_hessian_of_softmax_regression_in_the_weights():
    # J(W) = mean_n CE(x_n W, k_n): H = 1/N Σ_n x_n x_nᵀ ⊗ (diag(p_n) − p_n p_nᵀ)
    rng = np.random.default_rng(5)
    X, W = rng.standard_normal((6, 2)), rng.standard_normal((2, 3))
    labels = rng.integers(0, 3, size=6)
    H = tg.hessian(lambda w: tg.losses.cross_entropy(Tensor(X) @ w, labels))(W)
    logits = X @ W
    P = np.exp(logits - logits.max(axis=1, keepdims=True))
    P /= P.sum(axis=1, keepdims=True)
    curvature = np.einsum("nc,cd->ncd", P, np.eye(3)) - np.einsum("nc,nd->ncd", P, P)
    expected = np.einsum("ni,nk,njl->ijkl", X, X, curvature) / 6
    np.testing.assert_allclose(H, expected, atol=1e-12)
    eigenvalues = np.linalg.eigvalsh(H.reshape(6, 6))
    assert eigenvalues.min() > -1e-12  # convex in W


def test_functional_doc_examples():
    np.testing.assert_array_equal(tg.grad(lambda x: (x**3).sum())(np.array([1.0, 2.0])), [3.0, 12.0])
    np.testing.assert_array_equal(tg.hessian(lambda x: (x**3).sum())(np.array([1.0, 2.0])), [[6.0, 0.0], [0.0, 12.0]])
