"""The eager engine's numpy fast paths give the values of the general paths: Mean's forward
is np.mean to the bit, a full reduction's gradient is a read-only repeated value that never
reaches a ``.grad`` as a view, and a power's rule on such a gradient equals its general rule."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_gd as tg

RNG = np.random.default_rng(15)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize(
    ("shape", "axis", "keepdims"),
    [((200,), None, False), ((3, 4), 1, False), ((3, 4), (0, 1), True), ((5, 1, 7), (0, 2), False), ((2, 3, 4), None, True), ((), None, False)],
)
def test_mean_forward_is_numpy_mean_to_the_bit(dtype, shape, axis, keepdims):
    for scale in (1.0, 1e30, 1e-30):
        x = (RNG.standard_normal(shape) * scale).astype(dtype)
        out = tg.Tensor(x).mean(axis=axis, keepdims=keepdims).data
        expected = np.mean(x, axis=axis, keepdims=keepdims)
        assert out.dtype == expected.dtype and out.shape == np.shape(expected)
        np.testing.assert_array_equal(out, expected)


def test_mean_of_a_large_float32_vector_is_numpy_mean_to_the_bit():
    x = RNG.standard_normal(1_000_003).astype(np.float32) + np.float32(3.0)
    np.testing.assert_array_equal(tg.Tensor(x).mean().data, np.mean(x))


@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_full_reduction_gradient_is_read_only_and_grad_owns_its_memory(reduce):
    x = tg.Tensor(RNG.standard_normal((4, 3)), requires_grad=True)
    out = getattr(x, reduce)()
    rule_grad = out._node.backward(np.ones(()))
    with pytest.raises(ValueError):
        rule_grad[0, 0] = 5.0  # a repeated value: nobody may write into it
    out.backward()
    expected = np.full((4, 3), 1.0 if reduce == "sum" else 1.0 / 12)
    np.testing.assert_array_equal(x.grad.data, expected)
    assert x.grad.data.flags.writeable and x.grad.data.flags.owndata and all(x.grad.data.strides)
    x.grad.data[0, 0] = 7.0  # the user's own array: writing it changes nothing else
    getattr(x, reduce)().backward()
    np.testing.assert_array_equal(x.grad.data[1:], 2 * expected[1:])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("exponent", [2, 3, 0.5, -1.5, 1, 0])
@pytest.mark.parametrize("reduce", ["sum", "mean"])
def test_power_rule_on_a_repeated_gradient_equals_its_general_rule(dtype, exponent, reduce):
    data = RNG.uniform(0.5, 2.0, size=(6, 5)).astype(dtype)
    fast = tg.Tensor(data, requires_grad=True)
    getattr(fast ** exponent, reduce)().backward()  # the reduction sends a stride-0 gradient
    general = tg.Tensor(data, requires_grad=True)
    upstream = np.full(data.shape, 1.0 if reduce == "sum" else 1.0 / data.size, dtype=dtype)
    (general ** exponent).backward(gradient=upstream)  # a full array: the general rule
    assert fast.grad.dtype == general.grad.dtype == dtype
    np.testing.assert_array_equal(fast.grad.data, general.grad.data)
    analytic = exponent * data.astype(np.float64) ** (exponent - 1) * upstream
    np.testing.assert_allclose(fast.grad.data, analytic, rtol=1e-6 if dtype == np.float32 else 1e-13)


def test_natural_form_gradient_matches_central_differences_and_torch():
    X, y = RNG.standard_normal((50, 3)), RNG.standard_normal(50)
    w0, b0 = RNG.standard_normal(3), np.array(0.3)

    def cost(w, b):
        return ((X @ w + b - y) ** 2).mean()

    w, b = tg.Tensor(w0, requires_grad=True), tg.Tensor(b0, requires_grad=True)
    cost(w, b).backward()
    eps = 1e-6
    for k in range(3):
        step = np.zeros(3)
        step[k] = eps
        numerical = (float(cost(tg.Tensor(w0 + step), b0).data) - float(cost(tg.Tensor(w0 - step), b0).data)) / (2 * eps)
        np.testing.assert_allclose(w.grad.data[k], numerical, rtol=1e-7)
    numerical_b = (float(cost(tg.Tensor(w0), b0 + eps).data) - float(cost(tg.Tensor(w0), b0 - eps).data)) / (2 * eps)
    np.testing.assert_allclose(b.grad.data, numerical_b, rtol=1e-7)

    torch = pytest.importorskip("torch", reason="the PyTorch comparison needs torch")
    wt = torch.tensor(w0, requires_grad=True)
    bt = torch.tensor(b0, requires_grad=True)
    ((torch.from_numpy(X) @ wt + bt - torch.from_numpy(y)) ** 2).mean().backward()
    np.testing.assert_allclose(w.grad.data, wt.grad.numpy(), rtol=1e-13)
    np.testing.assert_allclose(b.grad.data, bt.grad.numpy(), rtol=1e-13)


def test_a_numpy_scalar_in_a_tensors_data_is_numpy():
    # `b.data = b.data - lr * g` on a 0-d tensor stores a numpy scalar: it computes as numpy
    b = tg.Tensor(np.array(0.5), requires_grad=True)
    b.data = b.data - 0.1 * np.ones(())
    assert isinstance(b.data, np.generic)
    x = tg.Tensor(np.arange(3.0), requires_grad=True)
    (x * b).sum().backward()
    np.testing.assert_allclose(x.grad.data, [0.4, 0.4, 0.4])
    np.testing.assert_allclose(b.grad.data, 3.0)


@pytest.mark.parametrize(("a_dtype", "b_dtype"), [(np.float64, np.float64), (np.float32, np.float32), (np.float32, np.float64)])
@pytest.mark.parametrize("b_shape", [(1,), (1, 4)])
def test_matmul_with_one_column_is_matmul_in_values_dtype_and_gradients(a_dtype, b_dtype, b_shape):
    from tinygrad_gd.ops.matmul import _one_column

    a = RNG.standard_normal((50, 1)).astype(a_dtype)
    b = RNG.standard_normal(b_shape).astype(b_dtype)
    assert _one_column(a, b)  # the product path is the one under test
    A, B = tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)
    out = A @ B
    expected = a @ b
    assert out.data.shape == expected.shape and out.data.dtype == expected.dtype
    np.testing.assert_array_equal(out.data, expected)
    g = RNG.standard_normal(expected.shape).astype(expected.dtype)
    out.backward(tg.Tensor(g))
    ga, gb = (g.reshape(-1, 1) * b, a.T @ g) if len(b_shape) == 1 else (g @ b.T, a.T @ g)
    np.testing.assert_allclose(A.grad.data, ga.astype(a_dtype), rtol=1e-6)
    np.testing.assert_allclose(B.grad.data, gb.astype(b_dtype), rtol=1e-6)


def test_matmul_with_one_column_keeps_the_general_path_for_everything_else():
    from tinygrad_gd.ops.matmul import _one_column

    col = np.ones((3, 1))
    assert not _one_column(np.ones((3, 2)), np.ones(2))  # a real matrix-vector product
    assert not _one_column(col, np.ones(3))  # a shape error: the general path raises it
    assert not _one_column(col.astype(np.int64), np.ones(1))  # integer matmul keeps numpy's rules
    assert not _one_column(np.ones((2, 3, 1)), np.ones((1, 2)))  # batched
    with pytest.raises(ValueError, match=r"\(3, 1\)"):
        tg.Tensor(col) @ tg.Tensor(np.ones(3))
