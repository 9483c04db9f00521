"""THE op table: one row per differentiable primitive (and per derived Tensor method).

Every test that checks "all ops" reads this table, so adding an op is adding a row here:

    OpRow("log", "Log", lambda x: x.log(), np.log, UNARY, Domain(0.2, 3.0))

A row is data: a function of Tensors written with the public API, a numpy reference for the
forward, the sample shape sets (one shape per input, broadcasting pairs included) and the
input domain, shifted away from kinks and poles so that central finite differences are
valid. ``tests/test_ops.py`` fails when a name in ``tinygrad_gd.autograd.OPS`` has no row.

Helpers other test modules reuse: :func:`sample_inputs` (draw a row's inputs),
:func:`numerical_vjp` (float64 central differences of ``<fn(x), upstream>``) and
:func:`autodiff_vjp` (the same through ``backward``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

import tinygrad_gd as tg
from tinygrad_gd import ops

Shape = tuple[int, ...]


@dataclass(frozen=True)
class Domain:
    """Where one input's values are drawn: uniform in [low, high], redrawn while closer than
    ``margin`` to any point in ``avoid`` (kinks such as 0 for relu, clip's bounds)."""

    low: float = -2.0
    high: float = 2.0
    avoid: tuple[float, ...] = ()
    margin: float = 0.1


@dataclass(frozen=True)
class OpRow:
    """One row of the table.

    name: unique id (the pytest id).  op: the primitive in ``autograd.OPS`` that produces the
    output (its ``grad_fn``), or None for a derived method built from several primitives.
    fn: Tensors -> Tensor, public API only.  ref: numpy arrays -> numpy array (the forward).
    shapes: sample shape sets, one shape per input.  domains: one Domain for all inputs or
    one per input.  distinct: all values of all inputs pairwise at least ``Domain.margin``
    apart (no ties for max/min/comparisons).  float32_out: float32 inputs give a float32
    output (False when the row mixes in float64 constants or casts).  fd_eps/atol/rtol:
    finite-difference step and tolerances of gradient checks.
    """

    name: str
    op: str | None
    fn: Callable[..., Any]
    ref: Callable[..., np.ndarray]
    shapes: tuple[tuple[Shape, ...], ...]
    domains: Domain | tuple[Domain, ...] = Domain()
    distinct: bool = False
    float32_out: bool = True
    fd_eps: float = 1e-6
    atol: float = 1e-6
    rtol: float = 1e-5

    @property
    def arity(self) -> int:
        return len(self.shapes[0])

    def domain(self, i: int) -> Domain:
        return self.domains[i] if isinstance(self.domains, tuple) else self.domains


# --------------------------------------------------------------------------- sampling
def sample_inputs(row: OpRow, shapes: Sequence[Shape], rng: np.random.Generator, dtype: Any = np.float64) -> list[np.ndarray]:
    """Draw one input array per shape from the row's domains (as ``dtype``)."""
    if row.distinct:
        return _sample_distinct(row, shapes, rng, dtype)
    out = []
    for i, shape in enumerate(shapes):
        d = row.domain(i)
        x = rng.uniform(d.low, d.high, size=shape)
        for _ in range(1000):
            bad = np.zeros(np.shape(x), dtype=bool)
            for p in d.avoid:
                bad |= np.abs(x - p) < d.margin
            if not bad.any():
                break
            x = np.where(bad, rng.uniform(d.low, d.high, size=shape), x)
        else:  # pragma: no cover - a domain that leaves no room
            raise ValueError(f"row {row.name}: domain {d} leaves no room to sample")
        out.append(np.asarray(x, dtype=dtype))
    return out


def _sample_distinct(row: OpRow, shapes: Sequence[Shape], rng: np.random.Generator, dtype: Any) -> list[np.ndarray]:
    # Distinct grid points spaced `margin` apart plus a jitter well below the spacing: no two
    # values (inside one input or across inputs) are within margin/2 of each other.
    d = row.domain(0)
    sizes = [int(np.prod(s)) for s in shapes]
    grid = np.arange(d.low, d.high, d.margin)
    if len(grid) < sum(sizes):  # pragma: no cover - a domain too small for the shapes
        raise ValueError(f"row {row.name}: domain {d} is too small for {sum(sizes)} distinct values")
    values = rng.choice(grid, size=sum(sizes), replace=False) + rng.uniform(0, d.margin / 4, size=sum(sizes))
    out, start = [], 0
    for shape, n in zip(shapes, sizes):
        out.append(np.asarray(values[start : start + n].reshape(shape), dtype=dtype))
        start += n
    return out


# --------------------------------------------------------------------------- derivatives
def numerical_vjp(fn: Callable[..., Any], arrays: Sequence[np.ndarray], upstream: np.ndarray, eps: float = 1e-6) -> list[np.ndarray]:
    """Central differences of ``s(x) = sum(fn(*x) * upstream)`` for every element of every input.

    ``fn`` takes and returns Tensors (or arrays); evaluated without recording."""
    arrays = [np.array(a, dtype=np.float64) for a in arrays]

    def s() -> float:
        with tg.no_grad():
            out = fn(*[tg.Tensor(a) for a in arrays])
        return float(np.sum(np.asarray(out, dtype=np.float64) * upstream))

    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        flat, gflat = a.reshape(-1), g.reshape(-1)
        for k in range(flat.size):
            keep = flat[k]
            flat[k] = keep + eps
            plus = s()
            flat[k] = keep - eps
            minus = s()
            flat[k] = keep
            gflat[k] = (plus - minus) / (2 * eps)
        grads.append(g)
    return grads


def autodiff_vjp(fn: Callable[..., Any], arrays: Sequence[np.ndarray], upstream: np.ndarray) -> list[np.ndarray]:
    """``backward(gradient=upstream)`` through ``fn``; zeros for inputs it does not reach."""
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    out = fn(*xs)
    out.backward(gradient=upstream)
    return [np.zeros_like(a) if x.grad is None else x.grad.numpy() for x, a in zip(xs, arrays)]


# --------------------------------------------------------------------------- shape sets
UNARY: tuple[tuple[Shape, ...], ...] = (((),), ((3,),), ((2, 3),), ((1, 3),), ((2, 1),), ((2, 3, 2),))
BINARY: tuple[tuple[Shape, ...], ...] = (
    ((2, 3), (2, 3)),
    ((), (3,)),
    ((3,), ()),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 3), (1, 3)),
    ((2, 1), (1, 3)),
    ((2, 3), (2, 1)),
    ((1,), (2, 1)),
    ((), ()),
    ((2, 1, 3), (4, 1)),
)
MATRIX: tuple[tuple[Shape, ...], ...] = (((2, 3),), ((3, 4),), ((2, 3, 2),))
MATMUL: tuple[tuple[Shape, ...], ...] = (
    ((2, 3), (3, 4)),
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((2, 2, 3), (3, 4)),
    ((2, 2, 3), (2, 3, 2)),
    ((1, 2, 3), (2, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
)

POSITIVE = Domain(0.2, 3.0)
NONZERO = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.3)
AWAY_FROM_ZERO = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.05)
WIDE = Domain(-1.0, 1.0, margin=0.05)  # for `distinct` rows: 40 grid points

MASK = np.array([[True, False, True], [False, True, True]])
CONSTANT = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
REPEATED = np.array([0, 2, 0, 1, 0])
ROWS, COLS = np.array([0, 0, 1, 1]), np.array([2, 2, 0, 2])


def _np_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def _np_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
    return out if keepdims else (np.squeeze(out, axis=axis) if axis is not None else out.reshape(()))


def _np_sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


def _np_scatter(g: np.ndarray, index: Any, shape: Shape) -> np.ndarray:
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


def _np_bce(p: np.ndarray, t: np.ndarray) -> np.ndarray:
    return -(t * np.log(p) + (1 - t) * np.log(1 - p))


def _np_bce_logits(x: np.ndarray, t: np.ndarray) -> np.ndarray:
    return np.log1p(np.exp(x)) - t * x


# --------------------------------------------------------------------------- the table

def _cyclic_labels(shape: tuple[int, ...]) -> np.ndarray:
    """Fixed integer labels 0, 1, ..., C-1, 0, ... for logits of shape (n, C)."""
    return np.arange(shape[0]) % shape[1]


def _np_cross_entropy(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    m = x.max(axis=1, keepdims=True)
    lse = np.log(np.exp(x - m).sum(axis=1)) + m[:, 0]
    return lse - x[np.arange(x.shape[0]), labels]

OP_TABLE: tuple[OpRow, ...] = (
    # ---- binary arithmetic (with broadcasting) and reflected forms with constants
    OpRow("add", "Add", lambda a, b: a + b, np.add, BINARY),
    OpRow("add_python_number", "Add", lambda a: 2.5 + a, lambda a: 2.5 + a, UNARY),
    OpRow("add_ndarray_left", "Add", lambda a: CONSTANT + a, lambda a: CONSTANT + a, (((2, 3),), ((3,),), ((),)), float32_out=False),
    OpRow("sub", "Sub", lambda a, b: a - b, np.subtract, BINARY),
    OpRow("sub_reflected", "Sub", lambda a: 2.0 - a, lambda a: 2.0 - a, UNARY),
    OpRow("sub_ndarray_left", "Sub", lambda a: CONSTANT - a, lambda a: CONSTANT - a, (((2, 3),), ((1, 3),)), float32_out=False),
    OpRow("mul", "Mul", lambda a, b: a * b, np.multiply, BINARY),
    OpRow("mul_numpy_scalar", "Mul", lambda a: np.float64(2.0) * a, lambda a: 2.0 * a, UNARY),
    OpRow("mul_self", "Mul", lambda a: a * a, lambda a: a * a, UNARY),
    OpRow("square", "Mul", lambda a: a.square(), np.square, UNARY),
    OpRow("div", "Div", lambda a, b: a / b, np.divide, BINARY, (Domain(), NONZERO)),
    OpRow("div_reflected", "Div", lambda a: 2.0 / a, lambda a: 2.0 / a, UNARY, NONZERO),
    OpRow("div_ndarray_left", "Div", lambda a: CONSTANT / a, lambda a: CONSTANT / a, (((2, 3),), ((3,),)), NONZERO, float32_out=False),
    OpRow("pow", "Pow", lambda a, b: a**b, np.power, BINARY, (POSITIVE, Domain(-2.0, 2.0))),
    OpRow("pow_int_negative_base", "Pow", lambda a: a**3, lambda a: a**3, UNARY),
    OpRow("pow_two", "Pow", lambda a: a**2, lambda a: a**2, UNARY),
    OpRow("pow_half", "Pow", lambda a: a**0.5, np.sqrt, UNARY, POSITIVE),
    OpRow("pow_negative", "Pow", lambda a: a**-1.5, lambda a: a**-1.5, UNARY, POSITIVE),
    OpRow("pow_zero", "Pow", lambda a: a**0, lambda a: a**0.0, UNARY),
    OpRow("pow_ndarray_exponent", "Pow", lambda a: a ** np.array([2.0, 0.0, -1.0]), lambda a: a ** np.array([2.0, 0.0, -1.0]), (((3,),), ((2, 3),)), NONZERO, float32_out=False),
    OpRow("pow_reflected", "Pow", lambda a: 2.0**a, lambda a: 2.0**a, UNARY),
    OpRow("matmul", "MatMul", lambda a, b: a @ b, np.matmul, MATMUL),
    OpRow("matmul_method", "MatMul", lambda a, b: a.matmul(b), np.matmul, MATMUL[:2]),
    OpRow("matmul_ndarray_left", "MatMul", lambda a: CONSTANT @ a, lambda a: CONSTANT @ a, (((3,),), ((3, 2),)), float32_out=False),
    OpRow("maximum", "Maximum", lambda a, b: tg.maximum(a, b), np.maximum, BINARY, WIDE, distinct=True),
    OpRow("maximum_method", "Maximum", lambda a, b: a.maximum(b), np.maximum, BINARY[:3], WIDE, distinct=True),
    OpRow("maximum_number", "Maximum", lambda a: tg.maximum(a, 0.3), lambda a: np.maximum(a, 0.3), UNARY, Domain(avoid=(0.3,))),
    OpRow("minimum", "Minimum", lambda a, b: tg.minimum(a, b), np.minimum, BINARY, WIDE, distinct=True),
    OpRow("minimum_method", "Minimum", lambda a, b: a.minimum(b), np.minimum, BINARY[:3], WIDE, distinct=True),
    OpRow("where", "Where", lambda a, b: tg.where(MASK, a, b), lambda a, b: np.where(MASK, a, b), (((2, 3), (2, 3)), ((2, 3), ()), ((1, 3), (2, 1)), ((3,), (2, 3)))),
    OpRow("where_scalar_branch", "Where", lambda a: tg.where(MASK, a, 0.0), lambda a: np.where(MASK, a, 0.0), (((2, 3),), ((3,),))),
    OpRow("where_tensor_condition", "Where", lambda a, b: tg.where(a > b, a * b, a - b), lambda a, b: np.where(a > b, a * b, a - b), BINARY[:6], WIDE, distinct=True),
    # ---- unary elementwise
    OpRow("neg", "Neg", lambda a: -a, np.negative, UNARY),
    OpRow("exp", "Exp", lambda a: a.exp(), np.exp, UNARY),
    OpRow("log", "Log", lambda a: a.log(), np.log, UNARY, POSITIVE),
    OpRow("sqrt", "Sqrt", lambda a: a.sqrt(), np.sqrt, UNARY, POSITIVE),
    OpRow("abs", "Abs", lambda a: a.abs(), np.abs, UNARY, AWAY_FROM_ZERO),
    OpRow("abs_builtin", "Abs", lambda a: abs(a), np.abs, UNARY[:3], AWAY_FROM_ZERO),
    OpRow("sin", "Sin", lambda a: a.sin(), np.sin, UNARY, Domain(-3.0, 3.0)),
    OpRow("cos", "Cos", lambda a: a.cos(), np.cos, UNARY, Domain(-3.0, 3.0)),
    OpRow("tanh", "Tanh", lambda a: a.tanh(), np.tanh, UNARY),
    OpRow("sigmoid", "Sigmoid", lambda a: a.sigmoid(), _np_sigmoid, UNARY, Domain(-4.0, 4.0)),
    OpRow("relu", "Relu", lambda a: a.relu(), lambda a: np.maximum(a, 0.0), UNARY, AWAY_FROM_ZERO),
    OpRow("leaky_relu", "LeakyRelu", lambda a: a.leaky_relu(), lambda a: np.where(a > 0, a, 0.01 * a), UNARY, AWAY_FROM_ZERO),
    OpRow("leaky_relu_slope", "LeakyRelu", lambda a: a.leaky_relu(0.2), lambda a: np.where(a > 0, a, 0.2 * a), UNARY, AWAY_FROM_ZERO),
    OpRow("softplus", "Softplus", lambda a: a.softplus(), lambda a: np.log1p(np.exp(a)), UNARY, Domain(-4.0, 4.0)),
    OpRow("clip", "Clip", lambda a: a.clip(-0.5, 0.8), lambda a: np.clip(a, -0.5, 0.8), UNARY, Domain(avoid=(-0.5, 0.8))),
    OpRow("clip_low_only", "Clip", lambda a: a.clip(0.25), lambda a: np.maximum(a, 0.25), UNARY, Domain(avoid=(0.25,))),
    OpRow("clamp", "Clip", lambda a: a.clamp(max=0.5), lambda a: np.minimum(a, 0.5), UNARY, Domain(avoid=(0.5,))),
    OpRow("astype_float32", "Cast", lambda a: a.astype(np.float32), lambda a: a.astype(np.float32), UNARY, float32_out=True, fd_eps=1e-2, atol=1e-4, rtol=1e-4),
    OpRow("double", "Cast", lambda a: a.float().double(), lambda a: a.astype(np.float32).astype(np.float64), UNARY[:3], float32_out=False, fd_eps=1e-2, atol=1e-4, rtol=1e-4),
    # ---- reductions
    OpRow("sum", "Sum", lambda a: a.sum(), np.sum, UNARY),
    OpRow("sum_axis0", "Sum", lambda a: a.sum(axis=0), lambda a: a.sum(axis=0), MATRIX),
    OpRow("sum_last_keepdims", "Sum", lambda a: a.sum(axis=-1, keepdims=True), lambda a: a.sum(axis=-1, keepdims=True), MATRIX + (((3,),),)),
    OpRow("sum_axes_tuple", "Sum", lambda a: a.sum(axis=(0, 2)), lambda a: a.sum(axis=(0, 2)), (((2, 3, 2),), ((1, 2, 4),))),
    OpRow("sum_dim_alias", "Sum", lambda a: a.sum(dim=1, keepdim=True), lambda a: a.sum(axis=1, keepdims=True), MATRIX),
    OpRow("mean", "Mean", lambda a: a.mean(), np.mean, UNARY),
    OpRow("mean_axis1", "Mean", lambda a: a.mean(axis=1), lambda a: a.mean(axis=1), MATRIX),
    OpRow("mean_axes_keepdims", "Mean", lambda a: a.mean(axis=(0, -1), keepdims=True), lambda a: a.mean(axis=(0, -1), keepdims=True), MATRIX),
    OpRow("max", "Max", lambda a: a.max(), np.max, UNARY, WIDE, distinct=True),
    OpRow("max_axis1", "Max", lambda a: a.max(axis=1), lambda a: a.max(axis=1), MATRIX, WIDE, distinct=True),
    OpRow("max_axis0_keepdims", "Max", lambda a: a.max(axis=0, keepdims=True), lambda a: a.max(axis=0, keepdims=True), MATRIX, WIDE, distinct=True),
    OpRow("min", "Min", lambda a: a.min(), np.min, UNARY, WIDE, distinct=True),
    OpRow("min_axes", "Min", lambda a: a.min(axis=(0, 1)), lambda a: a.min(axis=(0, 1)), MATRIX, WIDE, distinct=True),
    OpRow("logsumexp", "LogSumExp", lambda a: a.logsumexp(), _np_logsumexp, UNARY),
    OpRow("logsumexp_axis1", "LogSumExp", lambda a: a.logsumexp(axis=1), lambda a: _np_logsumexp(a, axis=1), MATRIX),
    OpRow("logsumexp_keepdims", "LogSumExp", lambda a: a.logsumexp(axis=0, keepdims=True), lambda a: _np_logsumexp(a, axis=0, keepdims=True), MATRIX),
    OpRow("var", None, lambda a: a.var(), np.var, UNARY[1:]),
    OpRow("var_axis_ddof", None, lambda a: a.var(axis=0, ddof=1), lambda a: a.var(axis=0, ddof=1), (((2, 3),), ((3, 4),))),
    OpRow("std", "Std", lambda a: a.std(), np.std, UNARY[1:3], WIDE, distinct=True),
    OpRow("std_axis_keepdims", "Std", lambda a: a.std(axis=-1, keepdims=True), lambda a: a.std(axis=-1, keepdims=True), (((2, 3),), ((3, 4),)), WIDE, distinct=True),
    OpRow("std_axis_ddof", "Std", lambda a: a.std(axis=0, ddof=1), lambda a: a.std(axis=0, ddof=1), (((3, 2),), ((2, 3, 2),)), WIDE, distinct=True),
    OpRow("std_length_one_axis", "Std", lambda a: a.std(axis=0), lambda a: a.std(axis=0), (((1, 3),), ((1,),), ((1, 2, 2),))),
    # ---- nn helpers
    OpRow("softmax", "Softmax", lambda a: a.softmax(), _np_softmax, UNARY[1:]),
    OpRow("softmax_axis0", "Softmax", lambda a: a.softmax(axis=0), lambda a: _np_softmax(a, axis=0), MATRIX),
    OpRow("softmax_dim_alias", "Softmax", lambda a: a.softmax(dim=1), lambda a: _np_softmax(a, axis=1), MATRIX),
    OpRow("log_softmax", "LogSoftmax", lambda a: a.log_softmax(), lambda a: np.log(_np_softmax(a)), UNARY[1:]),
    OpRow("log_softmax_axis0", "LogSoftmax", lambda a: a.log_softmax(axis=0), lambda a: np.log(_np_softmax(a, axis=0)), MATRIX),
    OpRow("softmax_axes_tuple", "Softmax", lambda a: a.softmax(axis=(0, -1)), lambda a: _np_softmax(a, axis=(0, -1)), (((2, 3),), ((2, 3, 2),))),
    OpRow("log_softmax_axes_tuple", "LogSoftmax", lambda a: a.log_softmax(axis=(0, 1)), lambda a: np.log(_np_softmax(a, axis=(0, 1))), (((2, 3),), ((2, 3, 2),))),
    OpRow("softmax_0d", "Softmax", lambda a: a.softmax(), lambda a: np.ones_like(a), (((),),)),
    OpRow("log_softmax_0d", "LogSoftmax", lambda a: a.log_softmax(0), lambda a: np.zeros_like(a), (((),),)),
    # ---- shape
    OpRow("reshape", "Reshape", lambda a: a.reshape(3, 2), lambda a: a.reshape(3, 2), (((2, 3),), ((6,),), ((3, 2),))),
    OpRow("reshape_tuple_infer", "Reshape", lambda a: a.reshape((-1,)), lambda a: a.reshape(-1), UNARY),
    OpRow("view", "Reshape", lambda a: a.view(2, -1), lambda a: a.reshape(2, -1), (((2, 3),), ((6,),))),
    OpRow("flatten", "Reshape", lambda a: a.flatten(), lambda a: a.reshape(-1), UNARY[1:]),
    OpRow("squeeze", "Reshape", lambda a: a.squeeze(), np.squeeze, (((1, 3),), ((2, 1),), ((1, 3, 1),))),
    OpRow("squeeze_axis", "Reshape", lambda a: a.squeeze(0), lambda a: np.squeeze(a, 0), (((1, 3),), ((1, 1),))),
    OpRow("unsqueeze", "Reshape", lambda a: a.unsqueeze(1), lambda a: np.expand_dims(a, 1), (((3,),), ((2, 3),))),
    OpRow("expand_dims_last", "Reshape", lambda a: a.expand_dims(-1), lambda a: np.expand_dims(a, -1), UNARY),
    OpRow("transpose", "Transpose", lambda a: a.T, lambda a: a.T, UNARY),
    OpRow("transpose_axes", "Transpose", lambda a: a.transpose(1, 0, 2), lambda a: a.transpose(1, 0, 2), (((2, 3, 2),), ((1, 2, 3),))),
    OpRow("transpose_swap_pair", "Transpose", lambda a: a.transpose(0, 2), lambda a: np.swapaxes(a, 0, 2), (((2, 3, 4),),)),
    OpRow("permute", "Transpose", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), (((2, 3, 4),),)),
    OpRow("broadcast_to", "BroadcastTo", lambda a: a.broadcast_to(2, 3), lambda a: np.broadcast_to(a, (2, 3)), (((),), ((3,),), ((1, 3),), ((2, 1),), ((2, 3),))),
    OpRow("getitem_int", "GetItem", lambda a: a[1], lambda a: a[1], (((3,),), ((2, 3),))),
    OpRow("getitem_slices", "GetItem", lambda a: a[:, 1:], lambda a: a[:, 1:], MATRIX),
    OpRow("getitem_step_negative", "GetItem", lambda a: a[::-2], lambda a: a[::-2], (((5,),), ((3, 2),))),
    OpRow("getitem_ellipsis_newaxis", "GetItem", lambda a: a[None, ..., 0], lambda a: a[None, ..., 0], MATRIX),
    OpRow("getitem_repeated_ints", "GetItem", lambda a: a[REPEATED], lambda a: a[REPEATED], (((3,),), ((3, 2),))),
    OpRow("getitem_list", "GetItem", lambda a: a[[1, 1, 0]], lambda a: a[[1, 1, 0]], (((2,),), ((2, 3),))),
    OpRow("getitem_pairs", "GetItem", lambda a: a[ROWS, COLS], lambda a: a[ROWS, COLS], (((2, 3),),)),
    OpRow("getitem_tensor_index", "GetItem", lambda a: a[tg.Tensor([2.0, 0.0, 2.0])], lambda a: a[[2, 0, 2]], (((3,),), ((3, 2),))),
    OpRow("getitem_mask", "GetItem", lambda a: a[MASK], lambda a: a[MASK], (((2, 3),),)),
    OpRow("getitem_comparison_mask", "GetItem", lambda a: a[a > 0.0], lambda a: a[a > 0.0], (((2, 3),), ((4,),)), AWAY_FROM_ZERO),
    OpRow("scatter_add_repeated", "ScatterAdd", lambda g: ops.scatter_add(g, REPEATED, (3,), True), lambda g: _np_scatter(g, REPEATED, (3,)), (((5,),),)),
    OpRow("scatter_add_slice", "ScatterAdd", lambda g: ops.scatter_add(g, (slice(None), slice(1, None)), (2, 3), False), lambda g: _np_scatter(g, (slice(None), slice(1, None)), (2, 3)), (((2, 2),),)),
    OpRow("concatenate", "Concatenate", lambda a, b: tg.cat([a, b], axis=0), lambda a, b: np.concatenate([a, b], axis=0), (((2, 3), (1, 3)), ((3,), (2,)), ((1, 2, 2), (2, 2, 2)))),
    OpRow("concatenate_last_axis", "Concatenate", lambda a, b, c: tg.concatenate([a, b, c], axis=-1), lambda a, b, c: np.concatenate([a, b, c], axis=-1), (((2, 1), (2, 3), (2, 2)),)),
    OpRow("stack", None, lambda a, b: tg.stack([a, b]), lambda a, b: np.stack([a, b]), (((3,), (3,)), ((2, 3), (2, 3)), ((), ()))),
    OpRow("stack_axis1", None, lambda a, b, c: tg.stack([a, b, c], axis=1), lambda a, b, c: np.stack([a, b, c], axis=1), (((2, 3), (2, 3), (2, 3)),)),
    # ---- fused losses (ops.py "fused losses" section), elementwise terms
    OpRow("binary_cross_entropy", "BinaryCrossEntropy", lambda p, t: tg.losses.binary_cross_entropy(p, t, reduction="none"), _np_bce, (((3,), (3,)), ((2, 3), (2, 3))), (Domain(0.05, 0.95), Domain(0.0, 1.0))),
    OpRow("binary_cross_entropy_with_logits", "BinaryCrossEntropyWithLogits", lambda x, t: tg.losses.binary_cross_entropy_with_logits(x, t, reduction="none"), _np_bce_logits, (((3,), (3,)), ((2, 3), (2, 3))), (Domain(-4.0, 4.0), Domain(0.0, 1.0))),
    OpRow("sum_squares_mse", "SumSquares", lambda p, t: tg.losses.mse(p, t), lambda p, t: np.mean((p - t) ** 2), (((3,), (3,)), ((2, 3), (2, 3)), ((), ()))),
    OpRow("sum_squares_half_mse_sum", "SumSquares", lambda p, t: tg.losses.half_mse(p, t, reduction="sum"), lambda p, t: 0.5 * np.sum((p - t) ** 2), (((4,), (4,)), ((2, 1), (2, 1)))),
    OpRow("cross_entropy_fused", "SoftmaxCrossEntropy", lambda x: tg.losses.cross_entropy(x, _cyclic_labels(x.shape), reduction="none"), lambda x: _np_cross_entropy(x, _cyclic_labels(x.shape)), (((3, 4),), ((1, 2),), ((5, 3),))),
    # ---- compositions that cross several rules at once
    OpRow("linear_layer", None, lambda x, w, b: (x @ w.T + b).tanh(), lambda x, w, b: np.tanh(x @ w.T + b), (((4, 3), (2, 3), (2,)), ((3,), (2, 3), ()))),
    OpRow("mse_expression", None, lambda p, y: ((p - y) ** 2).mean(), lambda p, y: np.mean((p - y) ** 2), (((5,), (5,)), ((3, 1), (3, 1)))),
)

ROWS_BY_NAME: dict[str, OpRow] = {row.name: row for row in OP_TABLE}
