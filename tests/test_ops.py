"""Every op, driven by the op table: gradients against float64 central finite differences with
a random upstream gradient, forward values against plain numpy, float32 in -> float32 out.
Then DESIGN.md's gradient conventions, each against a hand-computed value."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_table import OP_TABLE, OpRow, autodiff_vjp, numerical_vjp, ops_without_metadata, sample_inputs

import tinygrad_gd as tg
from tinygrad_gd.ops import OPS

ROW_IDS = [row.name for row in OP_TABLE]
SEEDS = st.integers(min_value=0, max_value=2**32 - 1)


def _draw(row: OpRow, data: st.DataObject) -> tuple[list[np.ndarray], np.random.Generator]:
    shapes = data.draw(st.sampled_from(row.shapes), label="shapes")
    rng = np.random.default_rng(data.draw(SEEDS, label="seed"))
    return sample_inputs(row, shapes, rng), rng


# --------------------------------------------------------------------------- the table itself
def test_every_registered_op_declares_its_test_metadata():
    missing = ops_without_metadata()
    assert not missing, f"ops registered without test metadata (@register_op(check=OpCheck(...))): {missing}"


def test_every_registered_op_has_a_row():
    covered = {row.op for row in OP_TABLE}
    missing = sorted(set(OPS) - covered)
    assert not missing, f"ops with no row in the op table (declare a Case at registration): {missing}"


def test_rows_are_well_formed():
    names = [row.name for row in OP_TABLE]
    assert len(names) == len(set(names)), "row names must be unique"
    for row in OP_TABLE:
        assert row.op is None or row.op in OPS, f"{row.name}: unknown op {row.op}"
        assert row.shapes and all(len(s) == row.arity for s in row.shapes), row.name
        if isinstance(row.domains, tuple):
            assert len(row.domains) == row.arity, row.name


def test_the_table_covers_broadcasting_pairs():
    pairs = {shapes for row in OP_TABLE for shapes in row.shapes if len(shapes) == 2}
    for pair in [((), (3,)), ((2, 3), (1, 3)), ((2, 1), (1, 3)), ((2, 3), (3,)), ((1,), (2, 1))]:
        assert pair in pairs


@pytest.mark.parametrize("row", [r for r in OP_TABLE if r.op], ids=lambda r: r.name)
def test_row_output_comes_from_its_op(row):
    xs = sample_inputs(row, row.shapes[0], np.random.default_rng(0))
    out = row.fn(*[tg.Tensor(x, requires_grad=True) for x in xs])
    assert type(out.grad_fn).__name__ == row.op


# --------------------------------------------------------------------------- table-driven
@pytest.mark.parametrize("row", OP_TABLE, ids=ROW_IDS)
def test_forward_matches_numpy(row):
    rng = np.random.default_rng(0)
    for shapes in row.shapes:
        for _ in range(3):
            xs = sample_inputs(row, shapes, rng)
            out = row.fn(*[tg.Tensor(x) for x in xs])
            expected = np.asarray(row.ref(*xs))
            assert isinstance(out, tg.Tensor)
            assert out.shape == expected.shape, f"{row.name} {shapes}"
            assert out.dtype == expected.dtype  # float64 in, float64 out (unless the op casts)
            np.testing.assert_allclose(out.numpy(), expected, rtol=1e-12, atol=1e-12, err_msg=f"{row.name} {shapes}")


def _check_gradient(row: OpRow, xs: list[np.ndarray], rng: np.random.Generator) -> None:
    with tg.no_grad():
        out_shape = row.fn(*[tg.Tensor(x) for x in xs]).shape
    upstream = np.asarray(rng.standard_normal(out_shape))  # random, never all-ones
    analytic = autodiff_vjp(row.fn, xs, upstream)
    numeric = numerical_vjp(row.fn, xs, upstream, eps=row.fd_eps)
    for i, (a, n, x) in enumerate(zip(analytic, numeric, xs)):
        assert a.shape == x.shape and a.dtype == np.float64
        np.testing.assert_allclose(a, n, rtol=row.rtol, atol=row.atol, err_msg=f"{row.name}: input {i}")


@pytest.mark.parametrize("row", OP_TABLE, ids=ROW_IDS)
def test_gradient_matches_finite_differences_for_every_shape_set(row):
    rng = np.random.default_rng(0)
    for shapes in row.shapes:
        _check_gradient(row, sample_inputs(row, shapes, rng), rng)


@pytest.mark.parametrize("row", OP_TABLE, ids=ROW_IDS)
@settings(max_examples=max(10, settings().max_examples // 3))
@given(data=st.data())
def test_gradient_matches_finite_differences(row, data):
    xs, rng = _draw(row, data)
    _check_gradient(row, xs, rng)


@pytest.mark.parametrize("row", OP_TABLE, ids=ROW_IDS)
def test_float32_inputs_give_float32_outputs_and_grads(row):
    rng = np.random.default_rng(1)
    for shapes in row.shapes:
        xs32 = sample_inputs(row, shapes, rng, dtype=np.float32)
        ts = [tg.Tensor(x, requires_grad=True) for x in xs32]
        out = row.fn(*ts)
        if row.float32_out:
            assert out.dtype == np.float32, f"{row.name} {shapes}: output {out.dtype}"
        upstream = rng.standard_normal(out.shape)
        out.backward(gradient=upstream.astype(out.dtype))
        expected = autodiff_vjp(row.fn, [x.astype(np.float64) for x in xs32], upstream)
        for t, e in zip(ts, expected):
            assert t.grad is not None and t.grad.dtype == np.float32 and t.grad.shape == t.shape
            np.testing.assert_allclose(t.grad.numpy(), e, rtol=2e-3, atol=2e-3)


# --------------------------------------------------------------------------- conventions
def _grad(fn, *values):
    xs = [tg.Tensor(v, requires_grad=True) for v in values]
    fn(*xs).backward()
    return [x.grad.numpy() for x in xs]


def test_relu_and_abs_have_zero_gradient_at_zero():
    (g,) = _grad(lambda x: x.relu().sum(), [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0])
    (g,) = _grad(lambda x: x.abs().sum(), [-1.0, 0.0, 2.0])
    np.testing.assert_array_equal(g, [-1.0, 0.0, 1.0])


def test_leaky_relu_and_clip_at_their_kinks_follow_pytorch():
    (g,) = _grad(lambda x: x.leaky_relu(0.1).sum(), [-1.0, 0.0, 2.0])
    np.testing.assert_allclose(g, [0.1, 0.1, 1.0])
    (g,) = _grad(lambda x: x.clip(-1.0, 1.0).sum(), [-2.0, -1.0, 0.5, 1.0, 3.0])
    np.testing.assert_array_equal(g, [0.0, 1.0, 1.0, 1.0, 0.0])  # bounds are inside, as clamp


@pytest.mark.parametrize("method", ["max", "min"])
def test_reduction_ties_share_the_gradient_evenly(method):
    sign = 1.0 if method == "max" else -1.0
    x = sign * np.array([[1.0, 3.0, 3.0, 2.0], [5.0, 5.0, 5.0, 0.0]])
    (g,) = _grad(lambda t: (getattr(t, method)(axis=1) * tg.Tensor([2.0, 3.0])).sum(), x)
    np.testing.assert_allclose(g, [[0, 1, 1, 0], [1, 1, 1, 0]])
    (g,) = _grad(lambda t: getattr(t, method)(), x)
    np.testing.assert_allclose(g, [[0, 0, 0, 0], [1 / 3, 1 / 3, 1 / 3, 0]])


@pytest.mark.parametrize("fn", [tg.maximum, tg.minimum])
def test_elementwise_ties_share_the_gradient_evenly(fn):
    ga, gb = _grad(lambda a, b: (fn(a, b) * tg.Tensor([1.0, 2.0, 4.0])).sum(), [1.0, 2.0, -1.0], [1.0, 0.0, 5.0])
    if fn is tg.maximum:
        np.testing.assert_allclose(ga, [0.5, 2.0, 0.0])
        np.testing.assert_allclose(gb, [0.5, 0.0, 4.0])
    else:
        np.testing.assert_allclose(ga, [0.5, 0.0, 4.0])
        np.testing.assert_allclose(gb, [0.5, 2.0, 0.0])
    # With broadcasting, a scalar tied with two of three elements collects 0.5 + 0.5 + its win.
    ga, gb = _grad(lambda a, b: fn(a, b).sum(), [1.0, 1.0, 0.0 if fn is tg.maximum else 2.0], 1.0)
    np.testing.assert_allclose(ga, [0.5, 0.5, 0.0])
    np.testing.assert_allclose(gb, 2.0)


def test_repeated_integer_indices_accumulate():
    (g,) = _grad(lambda x: (x[[0, 0, 2, 0]] * tg.Tensor([1.0, 2.0, 3.0, 4.0])).sum(), [10.0, 20.0, 30.0])
    np.testing.assert_allclose(g, [7.0, 0.0, 3.0])
    (g,) = _grad(lambda x: x[np.array([1, 1]), np.array([0, 0])].sum(), np.zeros((2, 2)))
    np.testing.assert_allclose(g, [[0.0, 0.0], [2.0, 0.0]])
    (g,) = _grad(lambda x: x[np.array([[0, 1], [1, 1]])].sum(), np.zeros(3))
    np.testing.assert_allclose(g, [1.0, 3.0, 0.0])


def test_boolean_masks_route_the_gradient_to_the_selected_elements():
    mask = np.array([[True, False], [False, True], [True, True]])
    (g,) = _grad(lambda x: (x[mask] * tg.Tensor([1.0, 2.0, 3.0, 4.0])).sum(), np.ones((3, 2)))
    np.testing.assert_allclose(g, [[1.0, 0.0], [0.0, 2.0], [3.0, 4.0]])
    (g,) = _grad(lambda x: x[x > 0].sum(), [-1.0, 2.0, 3.0])
    np.testing.assert_allclose(g, [0.0, 1.0, 1.0])
    (g,) = _grad(lambda x: x[tg.Tensor([1.0, 0.0, 1.0]) > 0.5].sum(), [4.0, 5.0, 6.0])
    np.testing.assert_allclose(g, [1.0, 0.0, 1.0])


def test_pow_computes_the_exponent_gradient_only_when_the_exponent_requires_grad():
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no "invalid value in log" from a negative base
        (g,) = _grad(lambda x: (x**3).sum(), [-2.0, 0.0, 3.0])
        np.testing.assert_allclose(g, [12.0, 0.0, 27.0])
        (g,) = _grad(lambda x: (x ** tg.Tensor(2.0)).sum(), [-2.0, 3.0])
        np.testing.assert_allclose(g, [-4.0, 6.0])
        (g,) = _grad(lambda x: (x ** np.array([2.0, 3.0])).sum(), [-2.0, -1.0])
        np.testing.assert_allclose(g, [-4.0, 3.0])
    # When the exponent does require grad: d/db a^b = a^b log a (NaN for a < 0, as PyTorch).
    ga, gb = _grad(lambda a, b: (a**b).sum(), [2.0, 3.0], [3.0, 0.5])
    np.testing.assert_allclose(ga, [3 * 2.0**2, 0.5 * 3.0**-0.5])
    np.testing.assert_allclose(gb, [8 * np.log(2.0), 3**0.5 * np.log(3.0)])
    with np.errstate(all="ignore"):
        _, gb = _grad(lambda a, b: (a**b).sum(), [-2.0, 0.0], [2.0, 2.0])
    assert np.isnan(gb[0]) and gb[1] == 0.0


def test_pow_at_zero_base():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        (g,) = _grad(lambda x: (x**0).sum() + (x**2).sum(), [0.0, 1.5])
        np.testing.assert_allclose(g, [0.0, 3.0])
        # a zero exponent inside an array exponent: d/dx x^0 = 0 even at x = 0 (as PyTorch)
        (g,) = _grad(lambda x: (x ** np.array([0.0, 2.0])).sum(), [0.0, 0.0])
        np.testing.assert_allclose(g, [0.0, 0.0])


def _sum_to(arr: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Hand formula for undoing broadcasting: sum the new leading axes, then stretched 1-axes."""
    arr = arr.sum(axis=tuple(range(arr.ndim - len(shape)))) if arr.ndim > len(shape) else arr
    stretched = tuple(i for i, n in enumerate(shape) if n == 1 and arr.shape[i] != 1)
    return arr.sum(axis=stretched, keepdims=True).reshape(shape)


@pytest.mark.parametrize(
    "shape_a, shape_b",
    [((), (1,)), ((1,), ()), ((3, 1), (1,)), ((3, 1), (3,)), ((), (3, 1)), ((1, 1), (3,)), ((2, 1, 1), (3, 1)), ((1,), (1, 1))],
)
def test_broadcasting_is_undone_for_every_rank(shape_a, shape_b):
    rng = np.random.default_rng(0)
    a_val, b_val = rng.standard_normal(shape_a), rng.standard_normal(shape_b)
    a, b = tg.Tensor(a_val, requires_grad=True), tg.Tensor(b_val, requires_grad=True)
    out = a * b
    upstream = rng.standard_normal(out.shape)
    out.backward(gradient=upstream)
    assert a.grad.shape == shape_a and b.grad.shape == shape_b
    np.testing.assert_allclose(a.grad.numpy(), _sum_to(upstream * b_val, shape_a))
    np.testing.assert_allclose(b.grad.numpy(), _sum_to(upstream * a_val, shape_b))


def test_stable_for_large_inputs():
    x = tg.Tensor([-1000.0, -30.0, 0.0, 30.0, 1000.0], requires_grad=True)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no overflow in exp
        s = x.sigmoid()
        np.testing.assert_allclose(s.numpy(), [0.0, 1 / (1 + np.exp(30.0)), 0.5, 1 / (1 + np.exp(-30.0)), 1.0])
        sp = x.softplus()
        np.testing.assert_allclose(sp.numpy(), [0.0, np.log1p(np.exp(-30.0)), np.log(2.0), 30.0 + np.log1p(np.exp(-30.0)), 1000.0])
        (s.sum() + sp.sum()).backward()
        assert np.all(np.isfinite(x.grad.numpy()))
        big = tg.Tensor([[1000.0, 1000.0, -1000.0], [0.0, 1.0, 2.0]], requires_grad=True)
        np.testing.assert_allclose(big.logsumexp(axis=1).numpy(), [1000.0 + np.log(2.0), np.log(np.exp([0.0, 1.0, 2.0]).sum())])
        np.testing.assert_allclose(big.softmax().numpy()[0], [0.5, 0.5, 0.0])
        np.testing.assert_allclose(big.log_softmax().numpy()[0], [-np.log(2.0), -np.log(2.0), -2000.0 - np.log(2.0)])
        (big.softmax()[:, 0].sum() + big.log_softmax()[:, 1].sum() + big.logsumexp()).backward()
        assert np.all(np.isfinite(big.grad.numpy()))


def test_logsumexp_of_all_minus_infinity_is_minus_infinity():
    with np.errstate(all="ignore"):
        out = tg.Tensor([-np.inf, -np.inf]).logsumexp()
    assert out.item() == -np.inf


def test_empty_tensors_give_empty_gradients():
    for shape, axis in [((0,), None), ((0, 3), 0), ((3, 0), 0), ((3, 0), 1)]:
        for method in ("sum", "mean"):
            x = tg.zeros(*shape, requires_grad=True)
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # numpy: mean of empty slice
                y = getattr(x, method)(axis=axis)
            y.backward(gradient=np.ones(y.shape))
            assert x.grad.shape == shape
    with pytest.raises(ValueError, match="empty"):
        tg.zeros(0).max()


def test_sqrt_gradient_at_zero_is_infinite_as_pytorch():
    with np.errstate(divide="ignore"):
        (g,) = _grad(lambda x: x.sqrt().sum(), [0.0, 4.0])
    assert g[0] == np.inf and g[1] == 0.25
