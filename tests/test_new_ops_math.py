"""The elementwise ops, reductions and scans of issue 13 (items 1 and 2), beyond what the op
table checks for every registered op: each against PyTorch (value and gradient with a random
upstream, float64; skipped with a reason when torch is not importable), and the conventions
that finite differences cannot see: prod/cumprod gradients with zeros in the input, sort/topk
indices, integer and bool results without grad, gelu's two forms, the modulo gradients, the
norm's subgradient at 0 and the zero gradient of the rounding ops."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import tinygrad_gd as tg

UNARY_NAMES = (
    "tan arcsin arccos arctan sinh cosh arcsinh arccosh arctanh log1p expm1 log2 log10 exp2 square "
    "reciprocal silu elu gelu softsign hardtanh floor ceil round sign isnan isinf isfinite"
).split()
BINARY_NAMES = "arctan2 hypot logaddexp remainder fmod".split()
REDUCTION_NAMES = "prod cumsum cumprod argmax argmin any all norm sort topk".split()


def _torch():
    return pytest.importorskip("torch", reason="torch is the reference here; the op table checks the rest without it")


@pytest.mark.parametrize("name", UNARY_NAMES + BINARY_NAMES + REDUCTION_NAMES)
def test_every_name_of_items_1_and_2_is_a_tensor_method(name):
    assert callable(getattr(tg.Tensor, name, None)), f"Tensor.{name} is missing"


def test_mod_operators():
    a = tg.Tensor([5.5, -5.5, 3.0])
    np.testing.assert_allclose((a % 2.0).numpy(), [1.5, 0.5, 1.0])  # the sign of the divisor
    np.testing.assert_allclose((7.0 % tg.Tensor([2.0, -3.0])).numpy(), [1.0, -2.0])
    np.testing.assert_allclose(a.fmod(2.0).numpy(), [1.5, -1.5, 1.0])  # the sign of the dividend
    assert type((tg.Tensor([1.0], requires_grad=True) % 2.0).grad_fn).__name__ == "Remainder"


# --------------------------------------------------------------------------- against torch
# name: (our call, torch call, low, high) for one input; inputs drawn uniform in [low, high]
UNARY_VS_TORCH = {
    "tan": (lambda x: x.tan(), lambda x: x.tan(), -1.2, 1.2),
    "arcsin": (lambda x: x.arcsin(), lambda x: x.asin(), -0.9, 0.9),
    "arccos": (lambda x: x.arccos(), lambda x: x.acos(), -0.9, 0.9),
    "arctan": (lambda x: x.arctan(), lambda x: x.atan(), -3.0, 3.0),
    "sinh": (lambda x: x.sinh(), lambda x: x.sinh(), -2.0, 2.0),
    "cosh": (lambda x: x.cosh(), lambda x: x.cosh(), -2.0, 2.0),
    "arcsinh": (lambda x: x.arcsinh(), lambda x: x.asinh(), -3.0, 3.0),
    "arccosh": (lambda x: x.arccosh(), lambda x: x.acosh(), 1.1, 3.0),
    "arctanh": (lambda x: x.arctanh(), lambda x: x.atanh(), -0.9, 0.9),
    "log1p": (lambda x: x.log1p(), lambda x: x.log1p(), -0.8, 3.0),
    "expm1": (lambda x: x.expm1(), lambda x: x.expm1(), -2.0, 2.0),
    "log2": (lambda x: x.log2(), lambda x: x.log2(), 0.2, 3.0),
    "log10": (lambda x: x.log10(), lambda x: x.log10(), 0.2, 3.0),
    "exp2": (lambda x: x.exp2(), lambda x: x.exp2(), -2.0, 2.0),
    "square": (lambda x: x.square(), lambda x: x.square(), -2.0, 2.0),
    "reciprocal": (lambda x: x.reciprocal(), lambda x: x.reciprocal(), 0.3, 2.0),
    "silu": (lambda x: x.silu(), lambda x: __import__("torch").nn.functional.silu(x), -4.0, 4.0),
    "elu": (lambda x: x.elu(0.7), lambda x: __import__("torch").nn.functional.elu(x, 0.7), -2.0, 2.0),
    "gelu_tanh": (lambda x: x.gelu(), lambda x: __import__("torch").nn.functional.gelu(x, approximate="tanh"), -4.0, 4.0),
    "gelu_exact": (lambda x: x.gelu(approximate="none"), lambda x: __import__("torch").nn.functional.gelu(x), -4.0, 4.0),
    "softsign": (lambda x: x.softsign(), lambda x: __import__("torch").nn.functional.softsign(x), -2.0, 2.0),
    "hardtanh": (lambda x: x.hardtanh(-0.5, 0.8), lambda x: __import__("torch").nn.functional.hardtanh(x, -0.5, 0.8), -2.0, 2.0),
    "floor": (lambda x: x.floor(), lambda x: x.floor(), -3.0, 3.0),
    "ceil": (lambda x: x.ceil(), lambda x: x.ceil(), -3.0, 3.0),
    "round": (lambda x: x.round(), lambda x: x.round(), -3.0, 3.0),
    "sign": (lambda x: x.sign(), lambda x: x.sign(), -2.0, 2.0),
    "erf": (lambda x: x.erf(), lambda x: x.erf(), -2.0, 2.0),
    "prod_axis": (lambda x: x.prod(axis=1), lambda x: x.prod(dim=1), -2.0, 2.0),
    "cumsum": (lambda x: x.cumsum(axis=1), lambda x: x.cumsum(dim=1), -2.0, 2.0),
    "cumprod": (lambda x: x.cumprod(axis=0), lambda x: x.cumprod(dim=0), -2.0, 2.0),
    "norm": (lambda x: x.norm(), lambda x: x.norm(), -2.0, 2.0),
    "norm_1_axis": (lambda x: x.norm(1, axis=1), lambda x: __import__("torch").linalg.vector_norm(x, 1, dim=1), -2.0, 2.0),
    "norm_inf_keepdims": (lambda x: x.norm(np.inf, axis=0, keepdims=True), lambda x: __import__("torch").linalg.vector_norm(x, float("inf"), dim=0, keepdim=True), -2.0, 2.0),
    "sort_descending": (lambda x: x.sort(axis=1, descending=True).values, lambda x: x.sort(dim=1, descending=True).values, -2.0, 2.0),
    "topk": (lambda x: x.topk(2, axis=1).values, lambda x: x.topk(2, dim=1).values, -2.0, 2.0),
}
BINARY_VS_TORCH = {
    "arctan2": (lambda a, b: a.arctan2(b), lambda a, b: a.atan2(b)),
    "hypot": (lambda a, b: a.hypot(b), lambda a, b: a.hypot(b)),
    "logaddexp": (lambda a, b: a.logaddexp(b), lambda a, b: a.logaddexp(b)),
    "remainder": (lambda a, b: a % b, lambda a, b: a.remainder(b)),
    "fmod": (lambda a, b: a.fmod(b), lambda a, b: a.fmod(b)),
}


def _compare_with_torch(ours, theirs, arrays, rng):
    torch = _torch()
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    ts = [torch.tensor(a, dtype=torch.float64, requires_grad=True) for a in arrays]
    out, expected = ours(*xs), theirs(*ts)
    np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    upstream = rng.standard_normal(out.shape)
    out.backward(gradient=upstream)
    expected.backward(torch.tensor(upstream))
    for x, t in zip(xs, ts):
        np.testing.assert_allclose(x.grad.numpy(), t.grad.numpy(), rtol=1e-10, atol=1e-12)


@pytest.mark.parametrize("name", sorted(UNARY_VS_TORCH))
def test_value_and_gradient_match_torch(name):
    if name in ("gelu_exact", "erf"):
        pytest.importorskip("scipy", reason="the exact erf form needs scipy")
    ours, theirs, low, high = UNARY_VS_TORCH[name]
    rng = np.random.default_rng(0)
    _compare_with_torch(ours, theirs, [rng.uniform(low, high, size=(3, 4))], rng)


@pytest.mark.parametrize("name", sorted(BINARY_VS_TORCH))
def test_binary_value_and_gradients_match_torch(name):
    rng = np.random.default_rng(1)
    a = rng.uniform(-3.0, 3.0, size=(2, 3))
    b = rng.uniform(0.3, 2.0, size=(3,)) * rng.choice([-1.0, 1.0], size=3)
    _compare_with_torch(*BINARY_VS_TORCH[name], [a, b], rng)


# --------------------------------------------------------------------------- zeros in prod, cumprod
ZERO_CASES = {
    "one_zero": np.array([[2.0, 0.0, 3.0, -1.5], [1.0, 2.0, -0.5, 4.0]]),
    "several_zeros": np.array([[0.0, 2.0, 0.0, 3.0], [1.5, 0.0, -2.0, 0.5]]),
    "all_zero_row": np.array([[0.0, 0.0, 0.0, 0.0], [1.0, -1.0, 2.0, 0.5]]),
}


@pytest.mark.parametrize("case", sorted(ZERO_CASES))
@pytest.mark.parametrize("how", [{}, {"axis": 1}, {"axis": 0, "keepdims": True}, {"axis": (0, 1)}])
def test_prod_gradient_with_zeros_matches_torch(case, how):
    _torch()
    x = ZERO_CASES[case]

    def theirs(t):  # torch's prod takes one dim: a tuple of axes is reduced one at a time
        if "axis" not in how:
            return t.prod()
        axis = how["axis"]
        out = t
        for a in sorted(axis if isinstance(axis, tuple) else (axis,), reverse=True):
            out = out.prod(dim=a, keepdim=how.get("keepdims", False))
        return out

    _compare_with_torch(lambda t: t.prod(**how), theirs, [x], np.random.default_rng(2))


def test_prod_gradient_with_zeros_by_hand():
    x = tg.Tensor([2.0, 0.0, 3.0], requires_grad=True)
    x.prod().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 6.0, 0.0])  # one zero: the others' product there
    y = tg.Tensor([0.0, 5.0, 0.0], requires_grad=True)
    y.prod().backward()
    np.testing.assert_array_equal(y.grad.numpy(), [0.0, 0.0, 0.0])  # two zeros: 0 everywhere, no NaN


def test_prod_second_derivative_with_a_zero_matches_torch():
    torch = _torch()
    x = np.array([2.0, 0.0, 3.0, -1.0])
    ours = tg.hessian(lambda t: t.prod())(x)
    theirs = torch.autograd.functional.hessian(lambda t: t.prod(), torch.tensor(x)).numpy()
    np.testing.assert_allclose(ours, theirs, atol=1e-12)


@pytest.mark.parametrize("case", sorted(ZERO_CASES))
@pytest.mark.parametrize("axis", [0, 1])
def test_cumprod_gradient_with_zeros_matches_torch(case, axis):
    _compare_with_torch(lambda t: t.cumprod(axis=axis), lambda t: t.cumprod(dim=axis), [ZERO_CASES[case]], np.random.default_rng(3))


def test_cumprod_gradient_with_zeros_by_hand():
    x = tg.Tensor([2.0, 0.0, 3.0], requires_grad=True)  # cumprod = [2, 0, 0]
    x.cumprod().backward(gradient=np.array([1.0, 1.0, 1.0]))
    # d/dx0 = 1 + x1 + x1·x2 = 1; d/dx1 = x0 + x0·x2 = 8; d/dx2 = x0·x1 = 0
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 8.0, 0.0])


# --------------------------------------------------------------------------- indices, no grad
def test_sort_and_topk_return_values_and_indices_as_torch():
    data = np.array([[3.0, -1.0, 2.0, 0.5], [0.0, 4.0, -2.0, 1.0]])
    x = tg.Tensor(data, requires_grad=True)
    values, indices = x.sort(axis=1)
    np.testing.assert_array_equal(indices.numpy(), np.argsort(data, axis=1))
    np.testing.assert_array_equal(values.numpy(), np.sort(data, axis=1))
    assert indices.dtype == np.int64 and not indices.requires_grad and values.requires_grad
    top = x.topk(2, axis=1)
    np.testing.assert_array_equal(top.indices.numpy(), [[0, 2], [1, 3]])
    np.testing.assert_array_equal(top.values.numpy(), [[3.0, 2.0], [4.0, 1.0]])
    low = x.topk(1, axis=0, largest=False)
    np.testing.assert_array_equal(low.indices.numpy(), [[1, 0, 1, 0]])
    (top.values * np.array([[1.0, 10.0], [100.0, 1000.0]])).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[1.0, 0.0, 10.0, 0.0], [0.0, 100.0, 0.0, 1000.0]])
    stable = tg.Tensor([1.0, 0.0, 1.0, 0.0]).sort(descending=True).indices
    np.testing.assert_array_equal(stable.numpy(), [0, 2, 1, 3])  # ties keep their order
    torch = _torch()
    t = torch.tensor(data)
    np.testing.assert_array_equal(x.topk(3, axis=1).indices.numpy(), t.topk(3, dim=1).indices.numpy())
    np.testing.assert_array_equal(x.sort(axis=0, descending=True).indices.numpy(), t.sort(dim=0, descending=True).indices.numpy())


def test_argmax_argmin_any_all_give_integer_and_bool_tensors_without_grad():
    x = tg.Tensor([[1.0, 5.0, 5.0], [7.0, -2.0, 0.0]], requires_grad=True)
    assert x.argmax().item() == 3 and x.argmin().item() == 4  # flattened, as torch
    for index, expected in [(x.argmax(axis=1), [1, 0]), (x.argmin(dim=0, keepdim=True), [[0, 1, 1]])]:
        assert index.dtype == np.int64 and not index.requires_grad and index.grad_fn is None
        np.testing.assert_array_equal(index.numpy(), expected)
    np.testing.assert_array_equal(x.any(axis=0).numpy(), [True, True, True])
    np.testing.assert_array_equal(x.all(axis=1).numpy(), [True, False])
    assert x.all().dtype == bool and not x.any().requires_grad
    with pytest.raises(ValueError, match="empty"):
        tg.zeros(0).argmax()
    with pytest.raises(TypeError, match="one integer axis"):
        x.argmax(axis=(0, 1))


def test_isnan_isinf_isfinite_are_bool_tensors_without_grad():
    x = tg.Tensor([np.nan, np.inf, -np.inf, 1.0], requires_grad=True)
    for method, expected in [("isnan", [1, 0, 0, 0]), ("isinf", [0, 1, 1, 0]), ("isfinite", [0, 0, 0, 1])]:
        out = getattr(x, method)()
        assert out.dtype == bool and not out.requires_grad
        np.testing.assert_array_equal(out.numpy(), np.array(expected, dtype=bool))


@pytest.mark.parametrize("method", ["floor", "ceil", "round", "sign"])
def test_rounding_ops_have_zero_gradient_as_torch(method):
    x = tg.Tensor([-1.5, -0.2, 0.0, 0.7, 2.5], requires_grad=True)
    out = getattr(x, method)()
    assert out.requires_grad  # as torch: recorded, with gradient 0
    out.backward(gradient=np.array([1.0, np.inf, 2.0, -3.0, 4.0]))
    np.testing.assert_array_equal(x.grad.numpy(), np.zeros(5))  # exactly 0, even from an inf upstream


# --------------------------------------------------------------------------- gelu, mod, norm, hardtanh
def test_gelu_default_is_the_tanh_approximation_close_to_the_exact_form():
    pytest.importorskip("scipy", reason="the exact erf form needs scipy")
    x = np.linspace(-4.0, 4.0, 17)
    approx, exact = tg.Tensor(x).gelu().numpy(), tg.Tensor(x).gelu(approximate="none").numpy()
    assert np.max(np.abs(approx - exact)) < 1e-3 and not np.allclose(approx, exact, atol=1e-6)
    np.testing.assert_allclose(tg.Tensor(x).gelu(approximate="tanh").numpy(), approx)
    assert tg.gradcheck(lambda t: t.gelu(approximate="none"), [tg.Tensor(x[:5], requires_grad=True)])
    with pytest.raises(ValueError, match="'tanh'"):
        tg.Tensor(x).gelu(approximate="erf")


def test_exact_gelu_without_scipy_says_what_to_do(monkeypatch):
    monkeypatch.setitem(sys.modules, "scipy.special", None)  # import scipy.special now fails
    with pytest.raises(ImportError, match=r"needs scipy.*pip install scipy.*approximate='tanh'"):
        tg.Tensor([0.5]).gelu(approximate="none")
    assert tg.Tensor([0.5]).gelu().shape == (1,)  # the default needs no scipy


def test_mod_gradients_are_torch_remainder_and_fmod():
    _torch()
    a = np.array([5.5, -5.5, 5.5, -5.5, 0.25])
    b = np.array([2.0, 2.0, -2.0, -2.0, 0.75])
    for ours, name in [(lambda x, y: x % y, "remainder"), (lambda x, y: x.fmod(y), "fmod")]:
        _compare_with_torch(ours, lambda x, y, name=name: getattr(x, name)(y), [a, b], np.random.default_rng(4))
    x, y = tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)
    (x % y).sum().backward()
    np.testing.assert_array_equal(y.grad.numpy(), -np.floor(a / b))  # [-2, 3, 3, -2, 0]
    np.testing.assert_array_equal(x.grad.numpy(), np.ones(5))


def test_norm_gradient_at_zero_is_zero_as_torch():
    torch = _torch()
    for ord in (None, 1, np.inf):
        x = tg.Tensor(np.zeros((2, 3)), requires_grad=True)
        x.norm(ord, axis=1).sum().backward()
        t = torch.zeros((2, 3), dtype=torch.float64, requires_grad=True)
        torch.linalg.vector_norm(t, 2 if ord is None else float(ord), dim=1).sum().backward()
        np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())
        np.testing.assert_array_equal(x.grad.numpy(), np.zeros((2, 3)))
    with pytest.raises(ValueError, match="np.inf"):
        tg.Tensor([1.0]).norm(3)


def test_hardtanh_passes_no_gradient_at_its_bounds_as_torch():
    x = tg.Tensor([-1.0, 0.0, 1.0, 2.0], requires_grad=True)
    x.hardtanh().sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [0.0, 1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="reversed"):
        x.hardtanh(1.0, -1.0)


def test_topk_k_out_of_range_names_the_axis_size():
    with pytest.raises(ValueError, match=r"k=5 must be an integer in \[0, 4\]"):
        tg.Tensor(np.zeros((2, 4))).topk(5)
