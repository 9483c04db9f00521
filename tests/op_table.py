"""THE op table: one row per way of calling each differentiable primitive, built from the
test metadata that every op declares where it is registered (``@register_op(check=OpCheck(
cases=(Case(...), ...)))`` in ``tinygrad_gd/ops/``), plus a few rows for public functions
that sit above the ops layer (``tg.where``, ``tg.cat``, the losses, ...) and compositions.

A row is data: a function of Tensors written with the public API, a numpy reference for the
forward, the sample shape sets (one shape per input, broadcasting pairs included) and the
input domain, shifted away from kinks and poles so that central finite differences are
valid. ``tests/test_ops.py`` fails when a registered op declares no rows.

:func:`op_rows` rebuilds the rows from the registry (an op registered later, e.g. by a test,
is in it at once); ``OP_TABLE`` is the table at import time. Helpers other test modules
reuse: :func:`sample_inputs` (draw a row's inputs), :func:`numerical_vjp` (float64 central
differences of ``<fn(x), upstream>``) and :func:`autodiff_vjp` (the same through ``backward``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any

import numpy as np

import tinygrad_gd as tg
from tinygrad_gd import ops
from tinygrad_gd.ops import Domain
from tinygrad_gd.ops._metadata import BINARY, MASK, UNARY, WIDE, Case

Shape = tuple[int, ...]


@dataclass(frozen=True)
class OpRow(Case):
    """One row of the table: a :class:`tinygrad_gd.ops.Case` and ``op``, the registered
    primitive (in ``ops.OPS``) that produces the output (its ``grad_fn``), or None for a
    public function or composition built from several primitives. ``fn`` (Tensors -> Tensor,
    public API only) and ``ref`` (numpy arrays -> numpy array) are the case's call and
    reference."""

    op: str | None = None

    @classmethod
    def from_case(cls, op: str, case: Case) -> OpRow:
        return cls(**{f.name: getattr(case, f.name) for f in fields(Case)}, op=op)

    @property
    def fn(self) -> Callable[..., Any]:
        return self.call

    @property
    def ref(self) -> Callable[..., np.ndarray]:
        return self.reference

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


# --------------------------------------------------------------------------- the table
def registered_rows() -> list[OpRow]:
    """One row per :class:`~tinygrad_gd.ops.Case` of every registered op, in registration order."""
    return [
        OpRow.from_case(name, case)
        for name, op in ops.OPS.items()
        if getattr(op, "test_metadata", None) is not None
        for case in op.test_metadata.cases
    ]


def _cyclic_labels(shape: tuple[int, ...]) -> np.ndarray:
    """Fixed integer labels 0, 1, ..., C-1, 0, ... for logits of shape (n, C)."""
    return np.arange(shape[0]) % shape[1]


def _np_cross_entropy(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    m = x.max(axis=1, keepdims=True)
    return np.log(np.exp(x - m).sum(axis=1)) + m[:, 0] - x[np.arange(x.shape[0]), labels]


PAIRS = (((3,), (3,)), ((2, 3), (2, 3)))

# Public functions above the ops layer (the ops cannot name them) and compositions: each
# calls registered ops, checked here through the function users call.
API_ROWS: tuple[OpRow, ...] = (
    OpRow("maximum_function", lambda a, b: tg.maximum(a, b), np.maximum, BINARY, WIDE, distinct=True, op="Maximum"),
    OpRow("maximum_function_number", lambda a: tg.maximum(a, 0.3), lambda a: np.maximum(a, 0.3), UNARY, Domain(avoid=(0.3,)), op="Maximum"),
    OpRow("minimum_function", lambda a, b: tg.minimum(a, b), np.minimum, BINARY, WIDE, distinct=True, op="Minimum"),
    OpRow("where_function", lambda a, b: tg.where(MASK, a, b), lambda a, b: np.where(MASK, a, b), (((2, 3), (2, 3)), ((2, 3), ()), ((1, 3), (2, 1)), ((3,), (2, 3))), op="Where"),
    OpRow("where_function_scalar_branch", lambda a: tg.where(MASK, a, 0.0), lambda a: np.where(MASK, a, 0.0), (((2, 3),), ((3,),)), op="Where"),
    OpRow("where_function_tensor_condition", lambda a, b: tg.where(a > b, a * b, a - b), lambda a, b: np.where(a > b, a * b, a - b), BINARY[:6], WIDE, distinct=True, op="Where"),
    OpRow("cat", lambda a, b: tg.cat([a, b], axis=0), lambda a, b: np.concatenate([a, b], axis=0), (((2, 3), (1, 3)), ((3,), (2,)), ((1, 2, 2), (2, 2, 2))), op="Concatenate"),
    OpRow("concatenate_function_last_axis", lambda a, b, c: tg.concatenate([a, b, c], axis=-1), lambda a, b, c: np.concatenate([a, b, c], axis=-1), (((2, 1), (2, 3), (2, 2)),), op="Concatenate"),
    OpRow("stack", lambda a, b: tg.stack([a, b]), lambda a, b: np.stack([a, b]), (((3,), (3,)), ((2, 3), (2, 3)), ((), ()))),
    OpRow("stack_axis1", lambda a, b, c: tg.stack([a, b, c], axis=1), lambda a, b, c: np.stack([a, b, c], axis=1), (((2, 3), (2, 3), (2, 3)),)),
    # the singular-value matrix norms: built from eigh of the smaller Gram matrix
    OpRow("matrix_norm_nuc", lambda a: tg.linalg.norm(a, "nuc", axis=(-2, -1)), lambda a: np.linalg.norm(a, "nuc", axis=(-2, -1)), (((2, 3),), ((3, 2),), ((2, 3, 3),))),
    OpRow("matrix_norm_2_keepdims", lambda a: tg.linalg.norm(a, 2, axis=(0, 1), keepdims=True), lambda a: np.linalg.norm(a, 2, axis=(0, 1), keepdims=True), (((2, 3),), ((3, 3),))),
    OpRow("matrix_norm_minus_2", lambda a: tg.linalg.norm(a, -2, axis=(-2, -1)), lambda a: np.linalg.norm(a, -2, axis=(-2, -1)), (((2, 3),), ((3, 2),))),
    OpRow("var", lambda a: a.var(), np.var, UNARY[1:]),
    OpRow("var_axis_ddof", lambda a: a.var(axis=0, ddof=1), lambda a: a.var(axis=0, ddof=1), (((2, 3),), ((3, 4),))),
    OpRow("binary_cross_entropy_loss", lambda p, t: tg.losses.binary_cross_entropy(p, t, reduction="none"), lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p)), PAIRS, (Domain(0.05, 0.95), Domain(0.0, 1.0)), op="BinaryCrossEntropy"),
    OpRow("binary_cross_entropy_with_logits_loss", lambda x, t: tg.losses.binary_cross_entropy_with_logits(x, t, reduction="none"), lambda x, t: np.log1p(np.exp(x)) - t * x, PAIRS, (Domain(-4.0, 4.0), Domain(0.0, 1.0)), op="BinaryCrossEntropyWithLogits"),
    OpRow("sum_squares_mse", lambda p, t: tg.losses.mse(p, t), lambda p, t: np.mean((p - t) ** 2), (((3,), (3,)), ((2, 3), (2, 3)), ((), ())), op="SumSquares"),
    OpRow("sum_squares_half_mse_sum", lambda p, t: tg.losses.half_mse(p, t, reduction="sum"), lambda p, t: 0.5 * np.sum((p - t) ** 2), (((4,), (4,)), ((2, 1), (2, 1))), op="SumSquares"),
    OpRow("cross_entropy_loss", lambda x: tg.losses.cross_entropy(x, _cyclic_labels(x.shape), reduction="none"), lambda x: _np_cross_entropy(x, _cyclic_labels(x.shape)), (((3, 4),), ((1, 2),), ((5, 3),)), op="SoftmaxCrossEntropy"),
    OpRow("linear_layer", lambda x, w, b: (x @ w.T + b).tanh(), lambda x, w, b: np.tanh(x @ w.T + b), (((4, 3), (2, 3), (2,)), ((3,), (2, 3), ()))),
    OpRow("mse_expression", lambda p, y: ((p - y) ** 2).mean(), lambda p, y: np.mean((p - y) ** 2), (((5,), (5,)), ((3, 1), (3, 1)))),
)


def ops_without_metadata() -> list[str]:
    """Registered ops that declare no rows or no fuzz steps (``@register_op(check=...)``)."""
    return sorted(
        name
        for name, op in ops.OPS.items()
        if getattr(op, "test_metadata", None) is None or not op.test_metadata.cases or not op.test_metadata.fuzz
    )


def op_rows() -> tuple[OpRow, ...]:
    """The whole table as the registry stands now: the registered ops' rows, then API_ROWS."""
    return tuple(registered_rows()) + API_ROWS


OP_TABLE: tuple[OpRow, ...] = op_rows()
ROWS_BY_NAME: dict[str, OpRow] = {row.name: row for row in OP_TABLE}
