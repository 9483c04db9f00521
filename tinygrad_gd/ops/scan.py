"""Scans and orderings along one axis: cumsum, cumprod, and the sorted values of sort/topk.

``axis`` arrives as one non-negative integer (checked by the Tensor method). The sort and
topk ops take the indices the method computed (numpy's stable argsort) as an option and
gather along them; their gradient is scattered back to those positions.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from . import constant, cumprod, cumsum, register_op, scatter_add, select, where
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

    unsupported_backends = {"array_api_strict": 'not yet ported to the Array API namespace (cumulative_sum exists in the standard; numpy, Dask and CuPy run it)'}

    def forward(self, x, axis=0):
        self.axis = axis
        return np.cumsum(x, axis=axis)

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

    unsupported_backends = {"array_api_strict": 'not yet ported to the Array API namespace (cumulative_prod exists in the standard; numpy, Dask and CuPy run it)'}

    def forward(self, x, axis=0):
        self.axis = axis
        out = np.cumprod(x, axis=axis)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        axis = self.axis
        zero = constant(x) == 0
        if not zero.any():
            return cumsum(g * out, axis, reverse=True) / x
        seen = np.cumsum(zero, axis=axis)  # zeros up to each position (a constant mask)
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


class _Take(Function):
    """Shared rule of sort and topk: the values at the given indices of each slice along
    ``axis`` (computed by the method, a constant); the gradient goes back to those positions
    (distinct: nothing accumulates)."""

    # tg.compile cannot replay it: the index is computed by the method, before the op runs.
    untraceable = "its index is computed with numpy before the op runs"

    def forward(self, x, index=None, axis=-1):
        self.in_shape = x.shape
        where_from = take_index(index, axis)
        self.save_for_backward(where_from)
        return x[where_from]

    def backward(self, g):
        (where_from,) = self.saved
        return scatter_add(g, where_from, self.in_shape, False)


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

    unsupported_backends = {
        "array_api_strict": 'not yet ported to the Array API namespace (sort/argsort and take_along_axis exists in the standard; numpy, Dask and CuPy run it)',
        "dask": 'dask has no nd fancy indexing (take_along_axis)',
    }


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

    unsupported_backends = {
        "array_api_strict": 'not yet ported to the Array API namespace (sort/argsort and take_along_axis exists in the standard; numpy, Dask and CuPy run it)',
        "dask": 'dask has no nd fancy indexing (take_along_axis)',
    }
