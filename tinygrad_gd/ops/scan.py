"""Scans and orderings along one axis: cumsum, cumprod, and the sorted values of sort/topk.

``axis`` arrives as one non-negative integer (checked by the Tensor method). The sort and
topk ops take the order from ``ArgSort`` (an op too: the input's own stable argsort) and
gather along it; their gradient goes back through the inverse permutation.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _backend
from ..autograd import Function, GraphTensor
from . import (
    concatenate,
    constant,
    cumprod,
    cumsum,
    cumulative_prod,
    cumulative_sum,
    may_be_any,
    register_op,
    select,
    where,
    xp_of,
)
from ._metadata import MATRIX, UNARY, WIDE, Case, Domain, Fuzz, OpCheck

LINES = MATRIX + (((4,),),)  # shapes with an axis to scan or sort along


# --------------------------------------------------------------------------- cumsum, cumprod
@register_op(check=OpCheck(
    cases=(
        Case("cumsum", lambda a: a.cumsum(axis=0), lambda a: np.cumsum(a, axis=0), LINES),
        Case("cumsum_last", lambda a: a.cumsum(axis=-1), lambda a: np.cumsum(a, axis=-1), MATRIX),
        Case("cumsum_flattened", lambda a: a.cumsum(), np.cumsum, UNARY),
    ),
    fuzz=(Fuzz("cumsum", lambda xs, s: xs[0].cumsum(axis=s.axis(xs[0].ndim)), min_ndim=1),),
))
class CumSum(Function):
    """f(x)_k = Σ_{j≤k} x_j along axis;  df/dx_i = Σ_{k≥i} g_k (the reversed cumsum of g)"""

    def forward(self, x, axis=0):
        self.axis = axis
        return cumulative_sum(x, axis)

    def backward(self, g):
        return cumsum(g, self.axis, reverse=True)


@register_op(check=OpCheck(
    cases=(
        Case("cumprod", lambda a: a.cumprod(axis=0), lambda a: np.cumprod(a, axis=0), LINES, Domain(-2.0, 2.0, avoid=(0.0,), margin=0.2)),
        Case("cumprod_last", lambda a: a.cumprod(axis=-1), lambda a: np.cumprod(a, axis=-1), MATRIX, Domain(-2.0, 2.0, avoid=(0.0,), margin=0.2)),
    ),
    fuzz=(Fuzz("cumprod", lambda xs, s: xs[0].cumprod(axis=s.axis(xs[0].ndim)), ("bounded",), min_ndim=1),),
))
class CumProd(Function):
    """f(x)_k = Π_{j≤k} x_j along axis;  df/dx_i = Σ_{k≥i} g_k Π_{j≤k, j≠i} x_j, which is
    (Σ_{k≥i} g_k f_k)/x_i before a slice's first zero z, Σ_{k≥z} g_k Π_{j≤k, j≠z} x_j at it
    (the cumprod with x_z taken as 1), and 0 after it"""

    def forward(self, x, axis=0):
        self.axis = axis
        out = cumulative_prod(x, axis)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        axis = self.axis
        zero = constant(x) == 0
        if not may_be_any(zero):
            return cumsum(g * out, axis, reverse=True) / x
        seen = cumulative_sum(_backend.astype(zero, xp_of(zero).int64), axis)  # zeros up to each position (a constant)
        before, first = seen == 0, zero & (seen == 1)
        head = select(before, cumsum(g * out, axis, reverse=True) / where(before, x, 1.0))
        at_zero = cumsum(g * cumprod(where(first, 1.0, x), axis), axis, reverse=True)
        return head + select(first, at_zero)


# --------------------------------------------------------------------------- sort, topk
def take_index(index: np.ndarray, axis: int) -> tuple[np.ndarray, ...]:
    """The index tuple that picks ``index`` (positions along ``axis``) from each slice: what
    ``np.take_along_axis`` does, as an index a Tensor's ``[]`` and ``scatter_add`` accept."""
    ndim = index.ndim
    return tuple(
        index if i == axis else np.arange(n).reshape((-1,) + (1,) * (ndim - i - 1))
        for i, n in enumerate(index.shape)
    )


def take_along(x: Any, index: Any, axis: int) -> Any:
    """``x``'s values at ``index`` (positions along ``axis``) of each slice: the standard's
    ``take_along_axis`` on arrays, a recorded ``[]`` on Tensors."""
    if type(x) is np.ndarray:
        return np.take_along_axis(x, index, axis)
    if isinstance(x, GraphTensor):
        tensor: Any = x  # (a Tensor: GraphTensor declares no __getitem__)
        return tensor[take_index(index, axis)]
    return xp_of(x).take_along_axis(x, index, axis=axis)


class ArgSort(Function):
    """The positions that sort each slice along ``axis`` (stable: ties keep their order;
    descending sorts -x): an integer constant, no gradient. Sort's and topk's order, computed
    as an op (not by the method on ``.data``), so that tg.compile replays it and every backend
    computes it with its own ``argsort``. Not registered: Sort and TopK test it."""

    def forward(self, x, axis=-1, descending=False, for_op=None):
        if type(x) is np.ndarray:
            return np.argsort(-x if descending else x, axis=axis, kind="stable")
        reason = getattr(for_op, "unsupported_backends", {}).get(_backend.backend_name(x))
        if reason is not None:  # the op the order is for cannot run here: refuse by its name
            raise _backend.unsupported(for_op.__name__, _backend.backend_name(x), reason)
        return xp_of(x).argsort(-x if descending else x, axis=axis, stable=True)


class _Take(Function):
    """Shared rule of sort and topk: the values of each slice along ``axis`` in the given
    order (``ArgSort``'s output, a constant input), the first ``k`` of them for topk. The
    gradient goes back to those positions: padded with zeros for the values not taken, then
    gathered by the inverse permutation (no scatter: exact on every backend)."""

    def forward(self, x, order, axis=-1, k=None):
        xp = xp_of(x)
        self.axis, self.size = axis, x.shape[axis]
        self.save_for_backward(xp.argsort(order, axis=axis))  # the inverse permutation
        if k is not None:
            order = order[(slice(None),) * axis + (slice(0, k), Ellipsis)]
        return take_along(x, order, axis)

    def backward(self, g):
        # (constant: the inverse is a value of the forward, which tg.compile re-runs for it)
        inverse = constant(self.saved[0])
        axis = self.axis
        missing = self.size - g.shape[axis]
        if missing:
            like = g.data if isinstance(g, GraphTensor) else g
            shape = g.shape[:axis] + (missing,) + g.shape[axis + 1 :]
            g = concatenate([g, _backend.zeros(shape, g.dtype, like)], axis)
        return take_along(g, inverse, axis), None


def _ramped(x: Any, axis: int) -> Any:
    """x plus a fixed ramp along ``axis``: breaks the exact ties (broadcast copies, relu's
    zeros) that would make a sort's finite differences meaningless."""
    shape = [1] * x.ndim
    shape[axis] = x.shape[axis]
    return x + np.arange(x.shape[axis], dtype=np.float64).reshape(shape) * 0.37


def _sort_step(xs: Any, s: Any) -> Any:
    axis = s.axis(xs[0].ndim)
    return _ramped(xs[0], axis).sort(axis=axis, descending=bool(s.param % 2)).values


def _topk_step(xs: Any, s: Any) -> Any:
    axis = s.axis(xs[0].ndim)
    return _ramped(xs[0], axis).topk(1, axis=axis, largest=bool(s.param % 2)).values


def _sorted(a: np.ndarray, axis: int = -1, descending: bool = False) -> np.ndarray:
    out = np.sort(a, axis=axis)
    return np.flip(out, axis=axis) if descending else out


@register_op(check=OpCheck(
    cases=(
        Case("sort", lambda a: a.sort().values, _sorted, LINES, WIDE, distinct=True),
        Case("sort_descending_axis0", lambda a: a.sort(axis=0, descending=True).values, lambda a: _sorted(a, 0, True), MATRIX, WIDE, distinct=True),
    ),
    fuzz=(Fuzz("sort", _sort_step, min_ndim=1),),
))
class Sort(_Take):
    """f(x) = the values of each slice along axis in order;  df/dx: each gradient entry goes
    back to the position its value came from"""

    unsupported_backends = {"dask": "dask has no argsort nor nd fancy indexing (take_along_axis)"}


def _top(a: np.ndarray, k: int, axis: int = -1, largest: bool = True) -> np.ndarray:
    return np.take(_sorted(a, axis, largest), np.arange(k), axis=axis)


@register_op(check=OpCheck(
    cases=(
        Case("topk", lambda a: a.topk(2).values, lambda a: _top(a, 2), LINES, WIDE, distinct=True),
        Case("topk_smallest_axis0", lambda a: a.topk(1, axis=0, largest=False).values, lambda a: _top(a, 1, 0, False), MATRIX, WIDE, distinct=True),
    ),
    fuzz=(Fuzz("topk", _topk_step, min_ndim=1),),
))
class TopK(_Take):
    """f(x) = the k largest (or smallest) values of each slice along axis, in order;  df/dx:
    each gradient entry goes back to its position, 0 for the entries not chosen"""

    unsupported_backends = {"dask": "dask has no argsort nor nd fancy indexing (take_along_axis)"}
