"""DESIGN.md's Tensor table, row by row: constructors and dtype rules, attributes, plain
values, operators (with Python numbers, numpy scalars and arrays), comparisons, the in-place
rules and version counter, clear errors for bad input, pickling."""

import copy
import pickle

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import Tensor


def _leaf(values, dtype=None):
    return Tensor(values, requires_grad=True, dtype=dtype)


# --------------------------------------------------------------------------- constructors
@pytest.mark.parametrize(
    "data, shape",
    [(3, ()), (2.5, ()), (True, ()), ([1, 2], (2,)), ([[1, 2], [3, 4]], (2, 2)), ([[True, False]], (1, 2))],
)
def test_python_numbers_lists_and_bools_become_float64(data, shape):
    t = Tensor(data)
    assert t.dtype == np.float64 and t.shape == shape
    np.testing.assert_array_equal(t.numpy(), np.asarray(data, dtype=np.float64))


@pytest.mark.parametrize("dtype", [np.int8, np.int32, np.int64, np.uint16, np.bool_])
def test_integer_and_bool_arrays_become_float64_copies(dtype):
    arr = np.array([1, 0, 1], dtype=dtype)
    t = Tensor(arr)
    assert t.dtype == np.float64
    assert not np.shares_memory(t.numpy(), arr)
    np.testing.assert_array_equal(t.numpy(), [1.0, 0.0, 1.0])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_float_arrays_keep_their_dtype_and_are_not_copied(dtype):
    arr = np.array([1.5, -2.0], dtype=dtype)
    t = Tensor(arr, requires_grad=True)
    assert t.dtype == dtype
    assert np.shares_memory(t.numpy(), arr)
    (t * 3.0).sum().backward()
    assert t.grad.dtype == dtype  # a float32 tensor gets a float32 gradient
    np.testing.assert_array_equal(t.grad.numpy(), [3.0, 3.0])


def test_data_is_copied_from_lists():
    row = [1.0, 2.0]
    t = Tensor([row, row])
    t.numpy()[0, 0] = 9.0
    assert row == [1.0, 2.0] and t.numpy()[1, 0] == 1.0


def test_explicit_dtype_wins():
    assert Tensor([1, 2], dtype=np.float32).dtype == np.float32
    assert Tensor(np.array([1.0, 2.0]), dtype="float32").dtype == np.float32
    t = Tensor(np.array([1.7, -2.2]), dtype=np.int64)
    assert t.dtype == np.int64 and t.tolist() == [1, -2]
    assert Tensor([1, 0], dtype=bool).dtype == np.bool_
    f32 = np.array([1.0], dtype=np.float32)
    assert not np.shares_memory(Tensor(f32, dtype=np.float64).numpy(), f32)  # a dtype change copies


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.uint8])
def test_integer_dtype_cannot_require_grad(dtype):
    with pytest.raises(TypeError, match=np.dtype(dtype).name) as info:
        Tensor([1, 0], dtype=dtype, requires_grad=True)
    assert "float" in str(info.value)  # says what to do instead
    with pytest.raises(RuntimeError):  # PyTorch raises RuntimeError: both clauses catch it
        Tensor([1, 0], dtype=dtype, requires_grad=True)
    t = Tensor([1, 0], dtype=dtype)
    with pytest.raises(TypeError, match="float"):
        t.requires_grad_()
    assert not t.requires_grad


@pytest.mark.parametrize(
    "data",
    ["1.5", b"12", ["a", "b"], [1, "a"], np.array(["1.0"]), object(), None, {"a": 1}, [object()], [1 + 2j], np.array([1j])],
    ids=["str", "bytes", "str-list", "mixed-list", "str-array", "object", "None", "dict", "object-list", "complex", "complex-array"],
)
def test_strings_and_objects_raise_type_error(data):
    with pytest.raises(TypeError, match="Tensor data must be"):
        Tensor(data)


def test_strings_raise_even_with_an_explicit_float_dtype():
    with pytest.raises(TypeError, match="float"):
        Tensor(["1.5", "2"], dtype=np.float64)
    with pytest.raises(TypeError):
        Tensor(np.array(["1.5"]), dtype=np.float32)


def test_ragged_lists_raise_a_clear_error():
    with pytest.raises(ValueError, match="same length"):
        Tensor([[1.0, 2.0], [3.0]])


def test_tensor_from_tensor_shares_data():
    a = Tensor([1.0, 2.0])
    b = Tensor(a)
    assert np.shares_memory(a.numpy(), b.numpy()) and not b.requires_grad


def test_module_level_constructors():
    assert tg.tensor([1, 2], requires_grad=True).requires_grad
    for z in (tg.zeros(2, 3), tg.zeros((2, 3)), tg.zeros([2, 3])):
        assert z.shape == (2, 3) and z.dtype == np.float64 and not z.numpy().any()
    np.testing.assert_array_equal(tg.ones(3).numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(tg.full((2,), 7.0).numpy(), [7.0, 7.0])
    assert tg.full(3, 1.5).shape == (3,)
    src = Tensor(np.zeros((2, 2), dtype=np.float32))
    assert tg.zeros_like(src).dtype == np.float32 and tg.zeros_like(src).shape == (2, 2)
    assert tg.ones_like(np.array([1, 2, 3])).dtype == np.float64  # an int array: float zeros
    np.testing.assert_array_equal(tg.ones_like(src).numpy(), np.ones((2, 2)))
    np.testing.assert_array_equal(tg.eye(3).numpy(), np.eye(3))
    assert tg.eye(2, 3).shape == (2, 3)
    np.testing.assert_array_equal(tg.arange(4).numpy(), [0.0, 1.0, 2.0, 3.0])
    np.testing.assert_allclose(tg.arange(1, 2, 0.25).numpy(), [1.0, 1.25, 1.5, 1.75])
    assert tg.arange(3).dtype == np.float64


@pytest.mark.parametrize(
    "make",
    [
        lambda **kw: tg.zeros(2, **kw),
        lambda **kw: tg.ones(2, **kw),
        lambda **kw: tg.full((2,), 3.0, **kw),
        lambda **kw: tg.zeros_like(np.zeros(2), **kw),
        lambda **kw: tg.ones_like(Tensor([1.0, 2.0]), **kw),
        lambda **kw: tg.eye(2, **kw),
        lambda **kw: tg.arange(2, **kw),
        lambda **kw: tg.randn(2, rng=0, **kw),
        lambda **kw: tg.rand(2, rng=0, **kw),
        lambda **kw: tg.tensor([1.0, 2.0], **kw),
    ],
    ids=["zeros", "ones", "full", "zeros_like", "ones_like", "eye", "arange", "randn", "rand", "tensor"],
)
def test_every_constructor_takes_requires_grad_and_dtype(make):
    t = make(requires_grad=True, dtype=np.float32)
    assert t.requires_grad and t.is_leaf and t.dtype == np.float32
    assert make().dtype == np.float64 and not make().requires_grad
    (t * 2.0).sum().backward()
    assert t.grad.dtype == np.float32
    with pytest.raises(TypeError):
        make(requires_grad=True, dtype=np.int64)


def test_random_constructors_take_a_generator_or_a_seed():
    np.testing.assert_array_equal(tg.randn(2, 3, rng=7).numpy(), tg.randn(2, 3, rng=7).numpy())
    np.testing.assert_array_equal(tg.randn(4, rng=7).numpy(), np.random.default_rng(7).standard_normal(4))
    np.testing.assert_array_equal(tg.rand((3,), rng=np.random.default_rng(1)).numpy(), np.random.default_rng(1).random(3))
    r = tg.rand(1000, rng=0).numpy()
    assert r.min() >= 0.0 and r.max() < 1.0
    assert tg.randn(2, 3).shape == (2, 3)  # rng=None: fresh entropy
    with pytest.raises(TypeError, match="rng"):
        tg.randn(2, rng="seed")
    with pytest.raises(TypeError, match="rng"):
        tg.rand(2, rng=True)  # not seed 1: a bool is a typo (one rng rule: _validate.generator)


def test_constructors_and_joins_are_importable_from_tensor_and_the_top_level():
    import sys

    module = sys.modules["tinygrad_gd.tensor"]
    for name in module.__all__:
        assert getattr(module, name) is getattr(tg, name), name
    assert {"zeros", "randn", "cat", "where", "maximum"} <= set(module.__all__)


def test_operators_are_named_methods_and_reflected_ones_swap_the_operands():
    a = np.arange(6.0).reshape(2, 3)
    t = Tensor(a)
    assert Tensor.__rsub__.__name__ == "__rsub__" and Tensor.add is Tensor.__add__
    np.testing.assert_array_equal((a - t).numpy(), np.zeros((2, 3)))
    np.testing.assert_array_equal((2.0 ** Tensor([1.0, 3.0])).numpy(), [2.0, 8.0])
    np.testing.assert_array_equal((1.0 / Tensor([2.0, 4.0])).numpy(), [0.5, 0.25])
    with pytest.raises(ValueError, match=r"shapes \(4,\) and \(2, 3\) cannot be broadcast together for '-'"):
        np.zeros(4) - t  # the message keeps the written order: left operand first
    with pytest.raises(ValueError, match=r"shapes \(2, 3\) and \(4,\) cannot be broadcast together for '\*'"):
        t * np.zeros(4)


# --------------------------------------------------------------------------- attributes
def test_shape_ndim_size_dtype_and_transpose():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert (t.shape, t.ndim, t.size, t.dtype) == ((2, 3), 2, 6, np.float64)
    assert t.T.shape == (3, 2)
    np.testing.assert_array_equal(t.T.numpy(), np.arange(6.0).reshape(2, 3).T)
    v = Tensor([1.0, 2.0])
    assert v.T.shape == (2,) and Tensor(1.0).T.shape == ()


def test_data_assignment_replaces_the_array_without_telling_the_graph():
    w = _leaf([1.0, 2.0])
    loss = (w * w).sum()
    w.data = np.array([10.0, 20.0])
    np.testing.assert_array_equal(w.numpy(), [10.0, 20.0])
    assert w.requires_grad and w.is_leaf
    loss.backward()  # as PyTorch's .data: the graph keeps the values it saved
    np.testing.assert_array_equal(w.grad.numpy(), [2.0, 4.0])


def test_grad_is_none_until_a_backward_reaches_it_then_matches_shape_and_dtype():
    a = _leaf(np.ones((2, 3), dtype=np.float32))
    b = _leaf([1.0, 2.0])
    assert a.grad is None and b.grad is None
    (a * 2.0).sum().backward()
    assert isinstance(a.grad, Tensor) and a.grad.shape == (2, 3) and a.grad.dtype == np.float32
    assert b.grad is None  # not reached
    assert not a.grad.requires_grad


def test_is_leaf_requires_grad_and_retain_grad():
    x = _leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0])
    assert x.is_leaf and c.is_leaf and x.grad_fn is None
    y = x * 2.0
    assert not y.is_leaf and y.requires_grad and y.grad_fn is not None
    assert (c * 2.0).is_leaf and not (c * 2.0).requires_grad
    z = y * 3.0
    z.retain_grad()
    assert z.retains_grad and not y.retains_grad
    (z * z).sum().backward()
    with pytest.warns(UserWarning, match="not a leaf"):  # as PyTorch warns
        assert y.grad is None  # non-leaf without retain_grad keeps nothing
    np.testing.assert_allclose(z.grad.numpy(), 2 * z.numpy())
    np.testing.assert_allclose(x.grad.numpy(), 2 * z.numpy() * 6.0)
    x.retain_grad()  # a no-op on leaves
    with pytest.raises(RuntimeError, match="retain_grad"):
        c.retain_grad()


def test_requires_grad_toggle():
    t = Tensor([1.0])
    assert t.requires_grad_() is t and t.requires_grad
    assert t.requires_grad_(False) is t and not t.requires_grad
    y = _leaf([1.0]) * 2.0
    with pytest.raises(RuntimeError, match="detach"):
        y.requires_grad_(False)


# --------------------------------------------------------------------------- plain values
def test_item_numpy_tolist_and_asarray():
    t = Tensor([[1.5, 2.0]])
    assert Tensor(2.5).item() == 2.5 and isinstance(Tensor(2.5).item(), float)
    assert Tensor([[3.0]]).item() == 3.0
    with pytest.raises(ValueError, match=r"\(1, 2\)"):
        t.item()
    assert t.numpy() is t.data
    assert t.tolist() == [[1.5, 2.0]]
    arr = np.asarray(t)
    assert arr is t.data or np.shares_memory(arr, t.data)
    assert np.asarray(t, dtype=np.float32).dtype == np.float32
    assert np.array(t).tolist() == [[1.5, 2.0]]
    assert float(Tensor(2.0)) == 2.0 and int(Tensor(3.0)) == 3
    assert len(Tensor([1.0, 2.0, 3.0])) == 3
    assert [r.tolist() for r in Tensor([[1.0], [2.0]])] == [[1.0], [2.0]]
    assert bool(Tensor(1.0)) and not bool(Tensor(0.0))
    with pytest.raises(TypeError):
        len(Tensor(1.0))


def test_detach_shares_data_and_leaves_the_graph():
    x = _leaf([1.0, 2.0])
    y = x * 3.0
    d = y.detach()
    assert np.shares_memory(d.numpy(), y.numpy())
    assert not d.requires_grad and d.is_leaf and d.grad_fn is None
    loss = (y * d).sum()  # d is a constant: d(loss)/dx = 3 * d
    loss.backward()
    np.testing.assert_allclose(x.grad.numpy(), [9.0, 18.0])


def test_repr_shows_values_and_graph_state():
    assert repr(Tensor([1.0, 2.0])) == "Tensor([1., 2.])"
    assert "requires_grad=True" in repr(_leaf([1.0]))
    assert "grad_fn=<Mul>" in repr(_leaf([1.0]) * 2.0)
    assert "float32" in repr(Tensor(np.ones(2, dtype=np.float32)))


# --------------------------------------------------------------------------- operators
def _grad_of(fn, value):
    x = _leaf(value)
    out = fn(x)
    assert isinstance(out, Tensor)
    out.sum().backward()
    return out.numpy(), x.grad.numpy()


X = np.array([0.5, 2.0])


@pytest.mark.parametrize(
    "fn, value, grad",
    [
        (lambda x: x + 2.0, X + 2.0, [1.0, 1.0]),
        (lambda x: 2.0 + x, X + 2.0, [1.0, 1.0]),
        (lambda x: x - 2, X - 2, [1.0, 1.0]),
        (lambda x: 2 - x, 2 - X, [-1.0, -1.0]),
        (lambda x: x * 3, X * 3, [3.0, 3.0]),
        (lambda x: 3 * x, X * 3, [3.0, 3.0]),
        (lambda x: x / 4.0, X / 4.0, [0.25, 0.25]),
        (lambda x: 2 / x, 2 / X, -2 / X**2),
        (lambda x: x**3, X**3, 3 * X**2),
        (lambda x: 2**x, 2**X, 2**X * np.log(2.0)),
        (lambda x: -x, -X, [-1.0, -1.0]),
        (lambda x: +x, X, [1.0, 1.0]),
        (lambda x: np.float64(2.0) * x, 2 * X, [2.0, 2.0]),
        (lambda x: x * np.float64(2.0), 2 * X, [2.0, 2.0]),
        (lambda x: np.float32(2.0) + x, X + 2, [1.0, 1.0]),
        (lambda x: np.int64(5) - x, 5 - X, [-1.0, -1.0]),
        (lambda x: np.float64(1.0) / x, 1 / X, -1 / X**2),
        (lambda x: np.float64(3.0) ** x, 3**X, 3**X * np.log(3.0)),
        (lambda x: np.array([1.0, 2.0]) + x, X + [1.0, 2.0], [1.0, 1.0]),
        (lambda x: np.array([1.0, 2.0]) - x, [1.0, 2.0] - X, [-1.0, -1.0]),
        (lambda x: np.array([1.0, 2.0]) * x, X * [1.0, 2.0], [1.0, 2.0]),
        (lambda x: np.array([1.0, 2.0]) / x, [1.0, 2.0] / X, -np.array([1.0, 2.0]) / X**2),
        (lambda x: np.array([[1.0, 2.0], [3.0, 4.0]]) @ x, [[1 * 0.5 + 4], [1.5 + 8]], [4.0, 6.0]),
        (lambda x: x @ np.array([1.0, 3.0]), 6.5, [1.0, 3.0]),
        (lambda x: np.array([3, 4]) * x, X * [3, 4], [3.0, 4.0]),
        (lambda x: x + [1.0, 1.0], X + 1.0, [1.0, 1.0]),
        (lambda x: x + True, X + 1.0, [1.0, 1.0]),
        (lambda x: abs(x - 1.0), np.abs(X - 1.0), [-1.0, 1.0]),
        (lambda x: x.add(1.0).mul(2.0).sub(x).div(2.0), X / 2 + 1.0, [0.5, 0.5]),
        (lambda x: x.pow(2).neg(), -(X**2), -2 * X),
    ],
)
def test_operators_and_reflected_forms_give_tensors_with_correct_gradients(fn, value, grad):
    out, g = _grad_of(fn, X)
    np.testing.assert_allclose(out.reshape(-1), np.asarray(value, dtype=float).reshape(-1))
    np.testing.assert_allclose(g, grad)


def test_numpy_operands_never_make_object_arrays():
    t = Tensor([1.0, 2.0])
    for result in (np.array([1.0, 2.0]) + t, np.float64(2.0) * t, np.ones((2, 2)) @ t, np.float32(1.0) - t):
        assert type(result) is Tensor and result.dtype != object
    assert type(np.array([1.0, 2.0]) < t) is Tensor


def test_python_scalars_keep_float32():
    t = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    for out in (t * 2.0, 2.0 * t, t + np.float64(1.0), np.float64(3.0) - t, t / 3, t**2, 2.0**t, -t):
        assert out.dtype == np.float32


def test_mixing_float32_and_float64_promotes_but_grads_keep_each_dtype():
    a = Tensor(np.ones(2, dtype=np.float32), requires_grad=True)
    b = Tensor(np.ones(2), requires_grad=True)
    out = a * b
    assert out.dtype == np.float64
    out.sum().backward()
    assert a.grad.dtype == np.float32 and b.grad.dtype == np.float64


def test_operators_with_unsupported_types_raise_type_error():
    t = Tensor([1.0])
    with pytest.raises(TypeError):
        t + "a"
    with pytest.raises(TypeError):
        t * None
    with pytest.raises(TypeError):
        t + np.array(["x"])


# --------------------------------------------------------------------------- comparisons
@pytest.mark.parametrize(
    "fn, expected",
    [
        (lambda a, b: a < b, [True, False, False]),
        (lambda a, b: a <= b, [True, True, False]),
        (lambda a, b: a > b, [False, False, True]),
        (lambda a, b: a >= b, [False, True, True]),
        (lambda a, b: a == b, [False, True, False]),
        (lambda a, b: a != b, [True, False, True]),
    ],
)
def test_comparisons_give_bool_tensors_without_grad(fn, expected):
    a = _leaf([1.0, 2.0, 3.0])
    for other in (Tensor([2.0, 2.0, 2.0], requires_grad=True), 2.0, 2, np.array([2.0, 2.0, 2.0]), np.float64(2.0)):
        out = fn(a, other)
        assert type(out) is Tensor and out.dtype == np.bool_
        assert not out.requires_grad and out.grad_fn is None
        assert out.tolist() == expected
    reflected = fn(np.array([2.0, 2.0, 2.0]), a)  # numpy defers to the reflected comparison
    assert type(reflected) is Tensor and reflected.dtype == np.bool_


def test_equality_with_unrelated_objects_is_false_not_an_error():
    t = Tensor([1.0])
    assert (t == None) is False  # noqa: E711
    assert (t != "a") is True
    with pytest.raises(TypeError):
        assert t < "a"
    assert t in [t]  # identity first, as lists do


# --------------------------------------------------------------------------- in-place
@pytest.mark.parametrize("op", ["+=", "-=", "*=", "/="])
def test_in_place_on_a_leaf_that_requires_grad_raises_and_shows_no_grad(op):
    w = _leaf([1.0, 2.0])
    with pytest.raises(RuntimeError, match=r"with tg\.no_grad\(\):") as info:
        exec(f"w {op} 2.0", {}, {"w": w})
    assert "leaf" in str(info.value)
    np.testing.assert_array_equal(w.numpy(), [1.0, 2.0])


@pytest.mark.parametrize("op, expected", [("+=", [3.0, 4.0]), ("-=", [-1.0, 0.0]), ("*=", [2.0, 4.0]), ("/=", [0.5, 1.0])])
def test_in_place_inside_no_grad_updates_data_in_place(op, expected):
    w = _leaf([1.0, 2.0])
    before = w.data
    scope = {"w": w, "tg": tg}
    exec(f"with tg.no_grad():\n    w {op} 2.0", scope)
    assert scope["w"] is w and w.data is before
    np.testing.assert_array_equal(w.numpy(), expected)
    assert w.is_leaf and w.requires_grad and w.grad_fn is None
    (w * w).sum().backward()  # the leaf still works as a parameter
    np.testing.assert_array_equal(w.grad.numpy(), 2 * np.asarray(expected))


def test_gradient_descent_step_with_a_tensor_operand():
    w = _leaf([1.0, 2.0])
    (w * w).sum().backward()
    with tg.no_grad():
        w -= 0.25 * w.grad
    np.testing.assert_array_equal(w.numpy(), [0.5, 1.0])
    assert w.is_leaf and w.grad_fn is None


def test_in_place_on_tensors_that_need_no_grad_updates_data_in_place():
    t = Tensor([1.0, 2.0])
    before = t.data
    t += Tensor([1.0, 1.0])
    t *= 3
    t -= np.array([1.0, 1.0])
    t /= 2
    assert t.data is before
    np.testing.assert_array_equal(t.numpy(), [2.5, 4.0])
    f32 = Tensor(np.ones(2, dtype=np.float32))
    f32 += np.ones(2)  # in place keeps the tensor's dtype
    assert f32.dtype == np.float32


def test_in_place_on_a_non_leaf_records_correctly():
    x = _leaf([1.0, 2.0])
    y = x * 2.0
    y += x  # y = 3x
    y *= x  # y = 3x²
    y -= 1.0
    y /= 2.0  # y = (3x² - 1) / 2
    assert not y.is_leaf
    y.sum().backward()
    np.testing.assert_allclose(y.numpy(), (3 * np.array([1.0, 4.0]) - 1) / 2)
    np.testing.assert_allclose(x.grad.numpy(), 3 * np.array([1.0, 2.0]))


def test_in_place_with_an_operand_that_requires_grad_keeps_its_gradient():
    w = _leaf(1.5)
    total = tg.zeros(())
    total += w * 2.0  # total needs no grad itself, but what is added to it does
    total += w
    (total * w).backward()  # d/dw (3w · w) = 6w
    np.testing.assert_allclose(w.grad.numpy(), 6 * 1.5)


def test_in_place_cannot_change_the_shape():
    t = Tensor([1.0, 2.0])
    with pytest.raises(ValueError, match=r"\(2,\).*\(2, 2\)"):
        t += np.ones((2, 2))
    y = _leaf([1.0, 2.0]) * 1.0
    with pytest.raises(ValueError, match="shape"):
        y += _leaf(np.ones((3, 2)))


def test_in_place_on_a_broadcast_view_raises_clearly():
    b = Tensor([1.0, 2.0]).broadcast_to(3, 2)
    with pytest.raises(RuntimeError, match="read-only"):
        b += 1.0


# --------------------------------------------------------------------------- version counter
def test_changing_a_saved_output_in_place_makes_backward_raise():
    x = _leaf([1.0, 2.0])
    y = x.exp()  # exp saves its output
    with tg.no_grad():
        y += 1.0
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.sum().backward()
    assert x.grad is None


def test_changing_a_saved_input_in_place_makes_backward_raise():
    x = _leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0])
    loss = (x * c).sum()  # mul saves both inputs
    c *= 2.0
    with pytest.raises(RuntimeError, match=r"in-place.*x = x \+ 1"):
        loss.backward()


def test_a_parameter_update_between_forward_and_backward_makes_backward_raise():
    w = _leaf([1.0, 2.0])
    loss = (w * w).sum()
    with tg.no_grad():
        w -= 0.1
    with pytest.raises(RuntimeError, match="version"):
        loss.backward()


@pytest.mark.parametrize(
    "make_view",
    [lambda a: a[0:2], lambda a: a.reshape(3, 1), lambda a: a.T, lambda a: a[...], lambda a: a.detach()],
    ids=["slice", "reshape", "transpose", "ellipsis", "detach"],
)
def test_changing_a_view_of_saved_data_makes_backward_raise(make_view):
    x = _leaf([1.0, 2.0, 3.0])
    a = x.exp()
    v = make_view(a)
    with tg.no_grad():
        v += 1.0  # writes into a's memory
    with pytest.raises(RuntimeError, match="in-place"):
        a.sum().backward()


def test_changing_the_base_of_a_saved_view_makes_backward_raise():
    x = _leaf([1.0, 2.0, 3.0])
    base = Tensor([1.0, 2.0, 3.0])
    view = base[1:]
    loss = (x[1:] * view).sum()  # mul saves the view
    base *= 2.0
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()


def test_in_place_on_something_no_node_saved_is_fine():
    x = _leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0])
    loss = (x + c).sum()  # add saves nothing
    c += 1.0
    loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 1.0])


def test_in_place_after_backward_is_fine():
    w = _leaf([1.0, 2.0])
    (w * w).sum().backward()
    with tg.no_grad():
        w -= 0.5 * w.grad
    (w * w).sum().backward()  # w is now 0: this backward adds 2w = 0 to the first grad
    np.testing.assert_allclose(w.grad.numpy(), [2.0, 4.0])


def test_item_assignment_follows_the_in_place_rules():
    w = _leaf([1.0, 2.0, 3.0])
    with pytest.raises(RuntimeError, match=r"no_grad\(\)"):
        w[0] = 5.0
    y = w * 2.0
    with pytest.raises(RuntimeError, match="recorded"):
        y[0] = 5.0  # a non-leaf: raises rather than give a wrong gradient
    t = Tensor([0.0, 0.0])
    with pytest.raises(RuntimeError, match="recorded"):
        t[0] = w[0]  # would silently drop w's gradient
    before = w.data
    with tg.no_grad():
        w[0] = 5.0
        w[w > 2.5] -= 1.0  # boolean masks, and += through a view
        w[[1, 1]] = Tensor([7.0, 7.0])
    assert w.data is before and w.is_leaf and w.requires_grad
    np.testing.assert_array_equal(w.numpy(), [4.0, 7.0, 2.0])
    plain = tg.zeros(2, 2)
    plain[:, 1] = np.array([1.0, 2.0])
    np.testing.assert_array_equal(plain.numpy(), [[0.0, 1.0], [0.0, 2.0]])
    with pytest.raises(RuntimeError, match="read-only"):
        Tensor([1.0]).broadcast_to(2, 1)[0] = 3.0


def test_item_assignment_after_the_graph_saved_the_tensor_makes_backward_raise():
    x = _leaf([1.0, 2.0])
    c = Tensor([3.0, 4.0])
    loss = (x * c).sum()
    c[0] = 0.0
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()


def test_format_spec_formats_one_element_tensors():
    assert f"{Tensor(2.5):.3f}" == "2.500"
    assert f"{Tensor([[0.25]]):.1%}" == "25.0%"
    assert f"{Tensor([1.0, 2.0])}" == "Tensor([1., 2.])"
    with pytest.raises((TypeError, ValueError)):
        f"{Tensor([1.0, 2.0]):.3f}"


def test_zero_is_in_place():
    t = Tensor([1.0, 2.0])
    before = t.data
    assert t.zero_() is t and t.data is before and not t.numpy().any()


# --------------------------------------------------------------------------- bad input
def test_non_broadcastable_shapes_name_both_shapes_and_the_fix():
    with pytest.raises(ValueError, match=r"\(2, 3\) and \(4,\)") as info:
        tg.zeros(2, 3) + tg.zeros(4)
    assert "reshape" in str(info.value)
    with pytest.raises(ValueError, match=r"\(3,\) and \(2,\)"):
        tg.maximum(tg.zeros(3), tg.zeros(2))
    with pytest.raises(ValueError, match=r"\(3, 1\).*\(2, 2\)"):
        tg.zeros(3, 1) * np.ones((2, 2))


def test_matmul_mismatch_names_shapes_and_the_fix():
    with pytest.raises(ValueError, match=r"\(2, 3\) @ \(2, 3\)") as info:
        tg.zeros(2, 3) @ tg.zeros(2, 3)
    assert "Transpose" in str(info.value) or "transpose" in str(info.value)
    with pytest.raises(ValueError, match=r"\(3,\) @ \(4,\)"):
        tg.zeros(3) @ tg.zeros(4)
    with pytest.raises(ValueError, match=r"scalar"):
        tg.zeros(3) @ Tensor(2.0)


def test_reshape_mismatch_names_the_shapes():
    with pytest.raises(ValueError, match=r"\(2, 3\).*6 elements.*\(4,\)"):
        tg.zeros(2, 3).reshape(4)


def test_shape_method_errors_are_clear():
    with pytest.raises(ValueError, match="size is not 1"):
        tg.zeros(2, 3).squeeze(0)
    with pytest.raises(ValueError, match="out of range"):
        tg.zeros(2).unsqueeze(3)
    with pytest.raises(ValueError, match="out of range"):
        tg.zeros(2, 3).sum(axis=2)
    with pytest.raises(ValueError, match="repeated axis"):
        tg.zeros(2, 3).sum(axis=(0, 0))
    with pytest.raises(ValueError, match="permutation"):
        tg.zeros(2, 3).permute(0, 0)
    with pytest.raises(ValueError, match="softmax needs at least one axis"):
        tg.zeros(2, 3).softmax(axis=())  # (a 0-d tensor is fine: softmax 1.0, as PyTorch)
    with pytest.raises(ValueError, match="cannot broadcast"):
        tg.zeros(3).broadcast_to(2, 2)
    with pytest.raises(ValueError, match="cannot concatenate"):
        tg.cat([tg.zeros(2, 3), tg.zeros(2, 2)], axis=0)
    with pytest.raises(ValueError, match="one shape"):
        tg.stack([tg.zeros(2), tg.zeros(3)])
    with pytest.raises(ValueError, match="at least one"):
        tg.cat([])
    with pytest.raises(ValueError, match="lo"):
        tg.zeros(2).clip()
    with pytest.raises(ValueError, match="reversed"):
        tg.zeros(2).clip(1.0, -1.0)
    with pytest.raises(IndexError, match="whole numbers"):
        tg.zeros(3)[Tensor([0.5])]
    with pytest.raises(ValueError, match="ddof"):
        tg.zeros(2).var(ddof=2)
    with pytest.raises(TypeError, match="dim"):
        tg.zeros(2, 3).sum(axis=0, dim=1)


def test_squeeze_and_reductions_accept_axis_0_on_a_0d_tensor():
    t = Tensor(2.0)
    assert t.squeeze(0).shape == () and t.squeeze().shape == ()
    assert t.sum(axis=0).item() == 2.0 and t.max(dim=-1).item() == 2.0


# --------------------------------------------------------------------------- misc methods
def test_astype_to_an_integer_dtype_detaches():
    x = _leaf([1.7, -2.2])
    i = x.astype(np.int64)
    assert i.dtype == np.int64 and not i.requires_grad and i.tolist() == [1, -2]
    assert x.astype(np.float64) is x
    f = x.float()
    assert f.dtype == np.float32 and f.requires_grad
    f.sum().backward()
    assert x.grad.dtype == np.float64


def test_where_accepts_bool_tensors_and_arrays_as_condition():
    a, b = _leaf([1.0, 2.0, 3.0]), _leaf([10.0, 20.0, 30.0])
    out = tg.where(a > 1.5, a, b) + tg.where(np.array([True, False, False]), a, 0.0)
    np.testing.assert_array_equal(out.numpy(), [11.0, 2.0, 3.0])
    out.sum().backward()
    np.testing.assert_array_equal(a.grad.numpy(), [1.0, 1.0, 1.0])
    np.testing.assert_array_equal(b.grad.numpy(), [1.0, 0.0, 0.0])
    assert tg.where([True, False], 1.0, 2.0).tolist() == [1.0, 2.0]


def test_sum_mean_var_std_follow_numpy_defaults_and_aliases():
    data = np.arange(12.0).reshape(3, 4) ** 1.5
    t = Tensor(data)
    np.testing.assert_allclose(t.var().item(), data.var())
    np.testing.assert_allclose(t.var(axis=0, ddof=1).numpy(), data.var(axis=0, ddof=1))
    np.testing.assert_allclose(t.std(dim=1, keepdim=True).numpy(), data.std(axis=1, keepdims=True))
    np.testing.assert_allclose(t.mean(dim=(0, 1)).item(), data.mean())
    np.testing.assert_allclose(t.max(dim=0).numpy(), data.max(axis=0))
    np.testing.assert_allclose(t.min(axis=1, keepdims=True).numpy(), data.min(axis=1, keepdims=True))


# --------------------------------------------------------------------------- pickling
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_pickling_keeps_data_and_requires_grad_but_no_graph(dtype):
    x = _leaf(np.array([1.0, 2.0], dtype=dtype))
    (x * x).sum().backward()
    y = x * 2.0
    for original in (x, y, Tensor([3.0])):
        restored = pickle.loads(pickle.dumps(original))
        assert type(restored) is Tensor
        np.testing.assert_array_equal(restored.numpy(), original.numpy())
        assert restored.dtype == original.dtype
        assert restored.requires_grad == original.requires_grad
        assert restored.grad is None and restored.is_leaf and restored.grad_fn is None
    restored = pickle.loads(pickle.dumps(x))
    (restored * 3.0).sum().backward()  # a working leaf
    np.testing.assert_array_equal(restored.grad.numpy(), [3.0, 3.0])
    assert copy.deepcopy(x).requires_grad and not np.shares_memory(copy.deepcopy(x).numpy(), x.numpy())


# --------------------------------------------------------------------------- never silently wrong (issue 11)
try:  # torch is NOT a dependency: when it happens to be installed, compare with it as well
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None


def _torch_index(index):
    """The same index for torch: lists/tuples inside it (and a top-level list) as int tensors."""
    def part(p):
        if isinstance(p, (list, tuple, np.ndarray)):
            return torch.as_tensor(np.asarray(p))
        return int(p) if isinstance(p, np.integer) else p
    return tuple(part(p) for p in index) if isinstance(index, tuple) else part(index)


INDEX_FORMS = [
    ((3,), ((0, 0, 2),)),  # a tuple inside the index tuple is an integer-array index
    ((3,), [0, 0, 2]),
    ((3,), [[0, 0], [2, 0]]),  # nested lists
    ((3,), [-1, 2]),  # -1 and 2 are the same element
    ((2, 3), ((0, 0), (1, 1))),
    ((1, 3), ((-1, 0), slice(None))),
    ((2, 3), ((0, 0),)),
    ((2, 3), (Ellipsis, [2, 2])),
    ((2, 3), (None, 0, [1, 1])),
    ((2, 3), (np.int64(0), (2, 2))),
    ((2, 3), ([True, False], [1, 1])),  # a boolean mask with an integer array
    ((2, 3), (slice(None), ((1, 1), (0, 1)))),  # a tuple of tuples inside the index tuple
]


@pytest.mark.parametrize("shape, index", INDEX_FORMS, ids=[repr(i) for _, i in INDEX_FORMS])
def test_repeated_indices_accumulate_in_every_index_form(shape, index):
    a = np.arange(float(np.prod(shape))).reshape(shape)
    x = _leaf(a)
    out = x[index]
    np.testing.assert_array_equal(out.numpy(), a[index])  # numpy reads every form the same way
    out.sum().backward()
    expected = np.zeros(shape)
    np.add.at(expected, index, 1.0)  # repeats add up
    np.testing.assert_array_equal(x.grad.numpy(), expected)
    if torch is not None:
        t = torch.tensor(a, requires_grad=True)
        t[_torch_index(index)].sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


def test_repeated_tensor_indices_accumulate_inside_an_index_tuple():
    x = _leaf([1.0, 2.0, 3.0])
    x[(Tensor([2.0, 2.0]),)].sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 0.0, 2.0])
    y = _leaf(np.ones((2, 3)))
    y[Tensor([1.0, 1.0]), (0, 0)].sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [[0.0, 0.0, 0.0], [2.0, 0.0, 0.0]])


def test_repeated_indices_accumulate_under_create_graph_too():
    x = _leaf([1.0, 2.0, 3.0])
    (g,) = tg.autograd.grad((x[(0, 0, 2),] ** 2).sum(), [x], create_graph=True)
    np.testing.assert_array_equal(g.numpy(), [4.0, 0.0, 6.0])  # 2·(2·x0), 0, 2·x2


def test_transpose_of_two_axes_swaps_them_on_2d_and_3d():
    W = Tensor(np.arange(6.0).reshape(2, 3))
    np.testing.assert_array_equal(W.transpose(0, 1).numpy(), W.numpy().T)  # was W unchanged
    np.testing.assert_array_equal(W.transpose(1, 0).numpy(), W.numpy().T)
    np.testing.assert_array_equal(W.transpose(-1, 0).numpy(), W.numpy().T)
    np.testing.assert_array_equal(W.transpose(0, 0).numpy(), W.numpy())
    A = np.arange(24.0).reshape(2, 3, 4)
    np.testing.assert_array_equal(Tensor(A).transpose(0, 2).numpy(), np.swapaxes(A, 0, 2))
    np.testing.assert_array_equal(Tensor(A).transpose(np.int64(1), -1).numpy(), np.swapaxes(A, 1, 2))
    if torch is not None:
        np.testing.assert_array_equal(W.transpose(0, 1).numpy(), torch.tensor(W.numpy()).transpose(0, 1).numpy())
    x = _leaf(np.arange(6.0).reshape(2, 3))
    (x.transpose(0, 1) * Tensor(np.arange(6.0).reshape(3, 2))).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), np.arange(6.0).reshape(3, 2).T)


def test_transpose_with_a_full_permutation_keeps_numpys_meaning():
    A = np.arange(24.0).reshape(2, 3, 4)
    t = Tensor(A)
    for args in [(), ((2, 0, 1),), (2, 0, 1), ([1, 0, 2],), (None,)]:
        np.testing.assert_array_equal(t.transpose(*args).numpy(), A.transpose(*args))
    W = np.arange(6.0).reshape(2, 3)
    np.testing.assert_array_equal(Tensor(W).transpose((0, 1)).numpy(), W)  # numpy's one-tuple form
    np.testing.assert_array_equal(Tensor(W).transpose((1, 0)).numpy(), W.T)
    np.testing.assert_array_equal(t.permute(2, 0, 1).numpy(), A.transpose(2, 0, 1))


BAD_AXES = [
    (lambda: tg.zeros(2, 3).transpose(5, 0), IndexError, r"transpose axis 5 is out of range .*2 dimension\(s\) \(shape \(2, 3\)\)"),
    (lambda: tg.zeros(2, 3).transpose(True, 0), TypeError, r"transpose axis must be an integer, got the bool True"),
    (lambda: tg.zeros(2, 3, 4).transpose((0, 1)), ValueError, r"transpose\(0, 1\)"),
    (lambda: tg.zeros(2, 3, 4).transpose(0, 1, 5), IndexError, r"transpose axes 5 is out of range"),
    (lambda: tg.zeros(2, 3).permute(0, 2), IndexError, r"permute axes 2 is out of range"),
    (lambda: tg.cat([tg.zeros(2, 3), tg.zeros(2, 3)], axis=2), IndexError, r"concatenate axis 2 is out of range"),
    (lambda: tg.stack([tg.zeros(2, 3), tg.zeros(2, 3)], axis=3), IndexError, r"stack axis 3 .*inserting"),
    (lambda: tg.zeros(2, 3).flatten(1, 0), ValueError, r"start_dim=1 comes after end_dim=0"),
    (lambda: tg.zeros(2, 3).flatten(0, 2), IndexError, r"flatten end_dim 2 is out of range"),
    (lambda: tg.zeros(2, 3).sum(axis="0"), TypeError, r"axis must be an integer, got str '0'"),
    (lambda: tg.zeros(2, 3).sum(axis=1.0), TypeError, r"axis must be an integer, got float 1.0"),
    (lambda: tg.zeros(2, 3).mean(dim=True), TypeError, r"bool"),
    (lambda: tg.zeros(2, 3).max(axis=(0, 2)), IndexError, r"axis 2 is out of range .*\(shape \(2, 3\)\)"),
    (lambda: tg.zeros(2, 3).min(axis=-3), IndexError, r"axis -3 is out of range"),
    (lambda: tg.zeros(2, 3).var(axis=2.0), TypeError, r"float"),
    (lambda: tg.zeros(2, 3).std(axis=[5]), IndexError, r"axis 5"),
    (lambda: tg.zeros(2, 3).logsumexp(axis=2), IndexError, r"axis 2"),
    (lambda: tg.zeros(2, 3).softmax(axis=2), IndexError, r"axis 2"),
    (lambda: tg.zeros(2, 3).log_softmax(axis=1.0), TypeError, r"float"),
    (lambda: tg.zeros(2, 1).squeeze(2), IndexError, r"squeeze axis 2"),
    (lambda: tg.zeros(2).unsqueeze(2.0), TypeError, r"unsqueeze axis must be an integer"),
    (lambda: Tensor(1.0).sum(axis=1), IndexError, r"0-d tensor accepts only axis 0 or -1"),
    (lambda: tg.zeros(2, 2).reshape(2.5, 2), TypeError, r"reshape shape entry must be an integer, got float 2.5"),
    (lambda: tg.zeros(2, 2).view((2, "2")), TypeError, r"got str"),
    (lambda: tg.zeros(2, 2).reshape(-1, -1), ValueError, r"at most one size can be inferred"),
    (lambda: tg.zeros(2, 2).reshape(-2, -2), ValueError, r"negative size -2"),
    (lambda: tg.zeros(2).broadcast_to(2.0, 2), TypeError, r"broadcast_to shape entry"),
    (lambda: tg.zeros(2).broadcast_to(-1, 2), ValueError, r"negative size"),
    (lambda: tg.zeros(2.5), TypeError, r"float 2.5"),
    (lambda: tg.full((2, 1.5), 0.0), TypeError, r"float 1.5"),
    (lambda: tg.randn(True, rng=0), TypeError, r"bool"),
]


@pytest.mark.parametrize("call, error, message", BAD_AXES, ids=[m for _, _, m in BAD_AXES])
def test_every_axis_and_shape_argument_is_validated(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_out_of_range_axes_raise_what_numpy_and_pytorch_users_catch():
    with pytest.raises(np.exceptions.AxisError) as info:
        tg.zeros(2, 3).transpose(5, 0)
    assert isinstance(info.value, IndexError) and isinstance(info.value, ValueError)


def test_valid_axis_and_shape_forms_still_work():
    t = Tensor(np.arange(6.0).reshape(2, 3))
    assert t.sum(axis=np.int64(1)).shape == (2,) and t.sum(axis=[0, 1]).shape == () and t.sum(axis=(-1,)).shape == (2,)
    assert t.reshape(np.int64(3), -1).shape == (3, 2) and t.reshape([6]).shape == (6,) and t.reshape(np.array([3, 2])).shape == (3, 2)
    assert t.flatten(-2, -1).shape == (6,) and Tensor(1.0).flatten().shape == (1,) and Tensor(1.0).flatten(0, -1).shape == (1,)
    assert t.unsqueeze(-1).shape == (2, 3, 1) and t.unsqueeze(2).shape == (2, 3, 1)
    assert tg.stack([t, t], axis=-1).shape == (2, 3, 2) and tg.cat([t, t], axis=-1).shape == (2, 6)
    assert tg.zeros(np.int64(2), 3).shape == (2, 3) and tg.full(2, 1.0).shape == (2,) and tg.ones(()).shape == ()


def test_in_place_on_a_view_of_a_non_leaf_raises_instead_of_rebinding():
    x = _leaf([1.0, 2.0, 3.0])
    h = x * 1.0
    p = h[0:2]
    with pytest.raises(RuntimeError, match=r"shares its memory.*p = p \* 10|shares its memory.*x = x \* y"):
        p *= 10.0
    np.testing.assert_array_equal(h.numpy(), [1.0, 2.0, 3.0])  # nothing half-done
    for view in (h.reshape(3, 1), h.T, h[...], x[1:]):  # other views, and a view of a leaf
        with pytest.raises(RuntimeError, match="shares its memory"):
            view += 1.0
    with pytest.raises(RuntimeError, match="shares its memory"):
        h *= 10.0  # the base, while its view p is alive: p would keep the old values
    # Without grad the same code writes through, as PyTorch: the result never depends on grad mode
    # silently.
    with tg.no_grad():
        g = x * 1.0
        q = g[0:2]
        q *= 10.0
    np.testing.assert_array_equal(g.numpy(), [10.0, 20.0, 3.0])
    if torch is not None:  # what PyTorch computes with the write-through
        tx = torch.tensor([1.0, 2.0, 3.0], requires_grad=True)
        th = tx * 1.0
        tp = th[0:2]
        tp *= 10.0
        np.testing.assert_array_equal(th.detach().numpy(), g.numpy())


def test_in_place_on_a_non_leaf_whose_views_are_gone_still_records():
    import gc

    x = _leaf([1.0, 2.0, 3.0])
    h = x * 1.0
    p = h[0:2]
    del p
    gc.collect()
    h *= 10.0  # no other tensor sees h's memory any more: recorded out of place
    h.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 10.0, 10.0])
    x.grad = None
    v = (x * 1.0)[0:2]  # a view whose base is gone: nothing to write through to
    v *= 10.0
    v.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [10.0, 10.0, 0.0])
    t = Tensor([1.0, 2.0, 3.0])
    for _ in range(100):  # many dead views of one tensor: the bookkeeping stays small
        t[0:2].sum()
    assert len(t._version_box) < 40


def test_a_detached_alias_of_a_non_leaf_blocks_recorded_in_place():
    x = _leaf([1.0, 2.0])
    h = x * 1.0
    d = h.detach()
    with pytest.raises(RuntimeError, match="shares its memory"):
        h += 1.0
    d += 1.0  # needs no grad: writes through, as PyTorch (and bumps the shared version)
    np.testing.assert_array_equal(h.numpy(), [2.0, 3.0])


@pytest.mark.filterwarnings("ignore::PendingDeprecationWarning")  # np.matrix itself warns
def test_np_matrix_becomes_a_plain_2d_array():
    M = np.matrix([[1.0, 2.0], [3.0, 4.0]])
    t = Tensor(M)
    assert type(t.data) is np.ndarray and t.shape == (2, 2)
    expected = np.asarray(M) * np.asarray(M)  # elementwise, not the matrix product M * M
    np.testing.assert_array_equal((Tensor(M) * Tensor(M)).numpy(), expected)
    np.testing.assert_array_equal((t * M).numpy(), expected)
    np.testing.assert_array_equal((M * t).numpy(), expected)
    np.testing.assert_array_equal((M + t).numpy(), 2 * np.asarray(M))
    np.testing.assert_array_equal((t @ M).numpy(), np.asarray(M) @ np.asarray(M))
    assert type((M * t).data) is np.ndarray and type((t - M).data) is np.ndarray
    assert Tensor(np.matrix([1.0, 2.0])).shape == (1, 2)  # the 2-D shape is kept


def test_masked_arrays_are_refused_with_the_fix():
    m = np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0])
    for call in (lambda: Tensor(m), lambda: Tensor([1.0, 2.0, 3.0]) * m, lambda: m + Tensor([1.0, 2.0, 3.0]),
                 lambda: tg.where(m > 1.0, Tensor([1.0, 2.0, 3.0]), 0.0), lambda: tg.grad(lambda x: x.sum())(m)):
        with pytest.raises(TypeError, match=r"masked array.*filled\(value\)"):
            call()
    np.testing.assert_array_equal(Tensor(m.filled(0.0)).numpy(), [1.0, 0.0, 3.0])
