"""Reductions over axes (sum, mean, prod, max/min, norm, std, logsumexp) and the softmax
normalisations.

``axis`` arrives normalised (``None`` or a sorted tuple of non-negative axes, checked by the
Tensor method); each rule brings its gradient back to the input's rank with
:func:`~tinygrad_gd.ops.expand_reduced`.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend
from .._backend import xp_of
from ..autograd import Function
from . import (
    broadcast_to,
    concatenate,
    constant,
    cumprod,
    exp,
    expand_reduced,
    floating,
    max_keepdims,
    may_be_any,
    mean_axes,
    permute,
    register_op,
    reshape,
    select,
    sign,
    stable_softmax,
    sum_axes,
    surely_all,
    where,
)
from ._metadata import AWAY_FROM_ZERO, MATRIX, UNARY, WIDE, Case, Domain, Fuzz, OpCheck


def _squeezed(out: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> np.ndarray:
    """A keepdims result in the shape the caller asked for."""
    if keepdims:
        return out
    if type(out) is not np.ndarray:
        return xp_of(out).squeeze(out, axis=axis) if axis is not None else reshape(out, ())
    return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())


def _spread(g: Any, in_shape: tuple[int, ...], axis: tuple[int, ...] | None, keepdims: bool, scale: float | None = None) -> Any:
    """A reduction's gradient: ``g`` (times ``scale``) broadcast back to the input's shape,
    read-only. A numpy gradient of one element (a full reduction's) is taken as a numpy
    scalar (scaled as one: no ufunc call on a 0-d array) and repeated by a stride-0 view of
    it, which no one can write (a scalar's buffer is read-only): a fraction of a microsecond
    where ``np.broadcast_to`` takes several, and, as it, no pass over the input's size."""
    if type(g) is np.ndarray and g.size == 1:
        g = g[()] if g.ndim == 0 else g.reshape(-1)[0]
        if scale is not None:
            g = g * scale
        return np.ndarray(in_shape, g.dtype, g, 0, (0,) * len(in_shape))
    g = expand_reduced(g, in_shape, axis, keepdims)
    return broadcast_to(g if scale is None else g * scale, in_shape)


def _numpy_mean(x: np.ndarray, axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """``np.mean(x, axis, keepdims=keepdims)`` for a non-empty float32/float64 array, to the
    bit (the same sum, divided by the count), without np.mean's Python-level wrapper (about
    3 µs a call). The count is a Python integer, so the division runs in ``x``'s dtype:
    np.mean divides float32 sums in float64 and rounds back, which gives the same float32
    when the count is exact in float32 (double rounding is innocuous for a division), so
    counts above 2**24 take np.mean itself."""
    total = np.add.reduce(x, axis=axis, keepdims=keepdims)  # type: ignore[call-overload]  # (a bool keepdims)
    count = x.size // total.size
    if x.dtype.itemsize == 4 and count > 1 << 24:
        return np.mean(x, axis=axis, keepdims=keepdims)
    if type(total) is np.ndarray:
        return np.true_divide(total, count, out=total)
    return total / count


def _reference_logsumexp(x: np.ndarray, axis: Any = None, keepdims: bool = False) -> np.ndarray:
    m = np.max(x, axis=axis, keepdims=True)
    return _squeezed(np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m, axis, keepdims)


# --------------------------------------------------------------------------- sum, mean
@register_op(check=OpCheck(
    cases=(
        Case("sum", lambda a: a.sum(), np.sum, UNARY),
        Case("sum_axis0", lambda a: a.sum(axis=0), lambda a: a.sum(axis=0), MATRIX),
        Case("sum_last_keepdims", lambda a: a.sum(axis=-1, keepdims=True), lambda a: a.sum(axis=-1, keepdims=True), MATRIX + (((3,),),)),
        Case("sum_axes_tuple", lambda a: a.sum(axis=(0, 2)), lambda a: a.sum(axis=(0, 2)), (((2, 3, 2),), ((1, 2, 4),))),
        Case("sum_dim_alias", lambda a: a.sum(dim=1, keepdim=True), lambda a: a.sum(axis=1, keepdims=True), MATRIX),
    ),
    fuzz=(
        Fuzz("sum", lambda xs, s: xs[0].sum(axis=s.axis_or_all(xs[0].ndim), keepdims=True)),
        Fuzz("sum_axes", lambda xs, s: xs[0].sum(axis=(0, -1), keepdims=True), min_ndim=2),
    ),
))
class Sum(Function):
    """f(x) = Σ x over axis;  df/dx = 1 (gradient broadcast back)"""

    def forward(self, x, axis=None, keepdims=False):
        xp = xp_of(x)
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return xp.sum(x, axis=axis, keepdims=keepdims)

    def backward(self, g):
        return _spread(g, self.in_shape, self.axis, self.keepdims)


@register_op(check=OpCheck(
    cases=(
        Case("mean", lambda a: a.mean(), np.mean, UNARY),
        Case("mean_axis1", lambda a: a.mean(axis=1), lambda a: a.mean(axis=1), MATRIX),
        Case("mean_axes_keepdims", lambda a: a.mean(axis=(0, -1), keepdims=True), lambda a: a.mean(axis=(0, -1), keepdims=True), MATRIX),
    ),
    fuzz=(Fuzz("mean", lambda xs, s: xs[0].mean(dim=s.axis_or_all(xs[0].ndim), keepdim=True)),),
))
class Mean(Function):
    """f(x) = (1/n) Σ x over axis;  df/dx = 1/n"""

    def forward(self, x, axis=None, keepdims=False):
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        if type(x) is np.ndarray and x.dtype.kind == "f" and x.dtype.itemsize >= 4 and x.size:
            out = _numpy_mean(x, axis, keepdims)
        else:
            out = xp_of(x).mean(x, axis=axis, keepdims=keepdims)
        # (an empty input has an empty gradient: any nonzero count keeps 1/count finite)
        self.count = x.size // max(getattr(out, "size", 1) or 1, 1) if x.size else 1
        return out

    def backward(self, g):
        return _spread(g, self.in_shape, self.axis, self.keepdims, 1.0 / self.count)


# --------------------------------------------------------------------------- prod
def _others_product(x: Any, axis: tuple[int, ...] | None) -> Any:
    """Π of every other entry of each reduced slice, at each position, without dividing (so
    right with zeros in the slice): the product of the entries before times the product of
    the entries after, each an exclusive cumulative product. (TensorFlow's Prod gradient.)"""
    ndim = x.ndim
    reduced = tuple(range(ndim)) if axis is None else axis
    kept = tuple(i for i in range(ndim) if i not in reduced)
    perm = kept + reduced
    moved = permute(x, perm) if perm != tuple(range(ndim)) else x
    flat = reshape(moved, tuple(x.shape[i] for i in kept) + (-1,))
    data = constant(x)
    ones = _backend.ones(tuple(flat.shape[:-1]) + (1,), data.dtype, data)
    before = cumprod(concatenate([ones, flat[..., :-1]], -1), -1)
    after = cumprod(concatenate([ones, flat[..., :0:-1]], -1), -1)[..., ::-1]
    others = reshape(before * after, tuple(moved.shape))
    return permute(others, tuple(int(i) for i in np.argsort(perm))) if perm != tuple(range(ndim)) else others


@register_op(check=OpCheck(
    cases=(
        Case("prod", lambda a: a.prod(), np.prod, UNARY),
        Case("prod_axis1", lambda a: a.prod(axis=1), lambda a: a.prod(axis=1), MATRIX),
        Case("prod_axes_keepdims", lambda a: a.prod(axis=(0, -1), keepdims=True), lambda a: a.prod(axis=(0, -1), keepdims=True), MATRIX),
    ),
    fuzz=(Fuzz("prod", lambda xs, s: xs[0].prod(axis=s.axis_or_all(xs[0].ndim), keepdims=True), ("bounded",)),),
))
class Prod(Function):
    """f(x) = Π x over axis;  df/dx_i = Π_{j≠i} x_j = f/x_i where no entry of the slice is 0;
    with zeros, the product of the other entries (one zero: nonzero only at the zero; two or
    more: 0), computed without dividing"""

    def forward(self, x, axis=None, keepdims=False):
        xp = xp_of(x)
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        out = xp.prod(x, axis=axis, keepdims=keepdims)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        if surely_all(constant(x) != 0):
            return g * expand_reduced(out, self.in_shape, self.axis, self.keepdims) / x
        return g * _others_product(x, self.axis)


# --------------------------------------------------------------------------- norm
def _reference_norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """The vector norm of an array of any backend (the forward, and the table's reference)."""
    xp = xp_of(x)
    a = xp.abs(x)
    if ord in (None, 2):
        return xp.sqrt(xp.sum(a * a, axis=axis, keepdims=keepdims))
    if ord == 1:
        return xp.sum(a, axis=axis, keepdims=keepdims)
    return (xp.max if ord == np.inf else xp.min)(a, axis=axis, keepdims=keepdims)


@register_op(check=OpCheck(
    cases=(
        Case("norm", lambda a: a.norm(), _reference_norm, UNARY, AWAY_FROM_ZERO),
        Case("norm_axis_keepdims", lambda a: a.norm(axis=-1, keepdims=True), lambda a: _reference_norm(a, axis=-1, keepdims=True), MATRIX),
        Case("norm_1", lambda a: a.norm(1, axis=0), lambda a: _reference_norm(a, 1, axis=0), MATRIX, AWAY_FROM_ZERO),
        Case("norm_inf", lambda a: a.norm(np.inf, axis=-1), lambda a: _reference_norm(a, np.inf, axis=-1), MATRIX, WIDE, distinct=True),
        Case("norm_minus_inf", lambda a: a.norm(-np.inf), lambda a: _reference_norm(a, -np.inf), MATRIX[:2], Domain(0.2, 2.0, margin=0.05), distinct=True),
    ),
    fuzz=(
        Fuzz("norm", lambda xs, s: xs[0].norm(s.pick((None, 1)), axis=s.axis_or_all(xs[0].ndim), keepdims=True), kinks=(0.0,)),
        Fuzz("norm_inf", lambda xs, s: xs[0].norm(np.inf, axis=s.axis_or_all(xs[0].ndim), keepdims=True), ("positive",), ties="reduced", shift="ramp"),
    ),
))
class Norm(Function):
    """f(x) = ‖x‖ over axis: ord 2 (None) √Σx², 1 Σ|x|, inf max|x|, -inf min|x|;
    df/dx = x/f (0 where f = 0, as PyTorch), sign(x), and sign(x) on the extreme |x| (ties share
    it evenly)"""

    def forward(self, x, ord=None, axis=None, keepdims=False):  # noqa: A002
        xp = xp_of(x)
        self.in_shape, self.axis, self.keepdims, self.ord = x.shape, axis, keepdims, ord
        x = floating(x)
        out = _reference_norm(x, ord, axis, keepdims)
        chosen = None
        if ord in (np.inf, -np.inf):
            chosen = xp.abs(x) == expand_reduced(out, x.shape, axis, keepdims)
            chosen = _backend.astype(chosen, x.dtype)
            chosen = chosen / sum_axes(chosen, axis=axis, keepdims=True)  # 1/k on k tied extremes
        self.save_for_backward(x, out, chosen)
        return out

    def backward(self, g):
        x, out, chosen = self.saved
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        if self.ord == 1:
            return g * sign(x)
        if chosen is not None:
            return g * (sign(x) * chosen)
        out = expand_reduced(out, self.in_shape, self.axis, self.keepdims)
        nonzero = constant(out) != 0
        return select(nonzero, g / where(nonzero, out, 1.0)) * x


# --------------------------------------------------------------------------- max, min
class _Extremum(Function):
    """Shared rule of max/min reductions: ties share the gradient evenly. The gradient is
    *selected* onto the extreme entries (never multiplied by a 0/1 mask): the others get
    exactly 0 even when the upstream gradient is inf. A NaN extreme sends it to the NaN."""

    reduce = staticmethod(np.max)

    def forward(self, x, axis=None, keepdims=False):
        xp = xp_of(x)
        if x.size == 0:
            raise ValueError(f"{type(self).__name__.lower()}() of an empty tensor (shape {x.shape}) has no value")
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        out = getattr(xp, self.reduce.__name__)(x, axis=axis, keepdims=True)
        chosen = x == out
        floats = _backend.is_floating(out)
        if floats and may_be_any(xp.isnan(out)):
            chosen = chosen | xp.isnan(x)  # (NaN == NaN is False: without this no entry would be chosen)
        share = 1.0 / xp.sum(_backend.astype(chosen, x.dtype if floats else xp.float64), axis=axis, keepdims=True)
        self.save_for_backward(chosen, share)  # 1/k for k tied extremes
        return _squeezed(out, axis, keepdims)

    def backward(self, g):
        chosen, share = self.saved
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        return select(chosen, g * share)


def _extremum_fuzz(name: str) -> Fuzz:
    def reduce_kept(xs: Any, s: Any) -> Any:
        return getattr(xs[0], name)(axis=s.axis_or_all(xs[0].ndim), keepdims=True)

    return Fuzz(name, reduce_kept, ties="reduced", shift="ramp")


@register_op(check=OpCheck(
    cases=(
        Case("max", lambda a: a.max(), np.max, UNARY, WIDE, distinct=True),
        Case("max_axis1", lambda a: a.max(axis=1), lambda a: a.max(axis=1), MATRIX, WIDE, distinct=True),
        Case("max_axis0_keepdims", lambda a: a.max(axis=0, keepdims=True), lambda a: a.max(axis=0, keepdims=True), MATRIX, WIDE, distinct=True),
    ),
    fuzz=(_extremum_fuzz("max"),),
))
class Max(_Extremum):
    """f(x) = max x over axis;  df/dx = 1/k on the k tied maxima, 0 elsewhere"""

    reduce = staticmethod(np.max)


@register_op(check=OpCheck(
    cases=(
        Case("min", lambda a: a.min(), np.min, UNARY, WIDE, distinct=True),
        Case("min_axes", lambda a: a.min(axis=(0, 1)), lambda a: a.min(axis=(0, 1)), MATRIX, WIDE, distinct=True),
    ),
    fuzz=(_extremum_fuzz("min"),),
))
class Min(_Extremum):
    """f(x) = min x over axis;  df/dx = 1/k on the k tied minima, 0 elsewhere"""

    reduce = staticmethod(np.min)


# --------------------------------------------------------------------------- std, logsumexp
@register_op(check=OpCheck(
    cases=(
        Case("std", lambda a: a.std(), np.std, UNARY[1:3], WIDE, distinct=True),
        Case("std_axis_keepdims", lambda a: a.std(axis=-1, keepdims=True), lambda a: a.std(axis=-1, keepdims=True), (((2, 3),), ((3, 4),)), WIDE, distinct=True),
        Case("std_axis_ddof", lambda a: a.std(axis=0, ddof=1), lambda a: a.std(axis=0, ddof=1), (((3, 2),), ((2, 3, 2),)), WIDE, distinct=True),
        Case("std_length_one_axis", lambda a: a.std(axis=0), lambda a: a.std(axis=0), (((1, 3),), ((1,),), ((1, 2, 2),))),
    ),
    fuzz=(Fuzz("std", lambda xs, s: xs[0].std(axis=s.spread_axis(xs[0].shape), keepdims=True), ties="spread", shift="ramp"),),
))
class Std(Function):
    """f(x) = √(Σ (x - mean)² / (n - ddof)) over axis;  df/dx = (x - mean) / ((n - ddof)·f),
    and 0 where f = 0 (equal values, or one value: a batch of one), as PyTorch"""

    def forward(self, x, axis=None, ddof=0, keepdims=False):
        xp = xp_of(x)
        self.in_shape, self.axis, self.ddof, self.keepdims = x.shape, axis, ddof, keepdims
        self.count = x.size if axis is None else math.prod(x.shape[a] for a in axis)
        out = xp.std(floating(x), axis=axis, correction=ddof, keepdims=keepdims)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        out = expand_reduced(out, self.in_shape, self.axis, self.keepdims)
        # √'(0) = inf meets (x - mean) = 0 where the spread is 0: select 0 there (not 0·inf =
        # NaN), with a safe divisor inside; a NaN std stays NaN.
        spread = constant(out) != 0
        scale = select(spread, g / (where(spread, out, 1.0) * float(self.count - self.ddof)))
        return scale * (x - mean_axes(x, self.axis))


@register_op(check=OpCheck(
    cases=(
        Case("logsumexp", lambda a: a.logsumexp(), _reference_logsumexp, UNARY),
        Case("logsumexp_axis1", lambda a: a.logsumexp(axis=1), lambda a: _reference_logsumexp(a, axis=1), MATRIX),
        Case("logsumexp_keepdims", lambda a: a.logsumexp(axis=0, keepdims=True), lambda a: _reference_logsumexp(a, axis=0, keepdims=True), MATRIX),
    ),
    fuzz=(Fuzz("logsumexp", lambda xs, s: xs[0].logsumexp(axis=s.axis_or_all(xs[0].ndim), keepdims=True)),),
))
class LogSumExp(Function):
    """f(x) = log Σ exp(x) over axis (shifted by the max: stable);  df/dx = exp(x - f) = softmax(x)"""

    def forward(self, x, axis=None, keepdims=False):
        xp = xp_of(x)
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        m = max_keepdims(x, axis)
        m = xp.where(xp.isfinite(m), m, 0.0)
        with np.errstate(divide="ignore"):  # an empty axis: log Σ∅ = log 0 = -inf, as PyTorch
            out = _squeezed(xp.log(xp.sum(xp.exp(x - m), axis=axis, keepdims=True)) + m, axis, keepdims)
        # The output itself is saved (not the keepdims intermediate): under create_graph it is
        # this node's output tensor, so the rule's exp(x - f) records its dependence on x.
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        out = expand_reduced(out, self.in_shape, self.axis, self.keepdims)
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        return g * exp(x - out)


# --------------------------------------------------------------------------- softmax
def _reference_softmax(x: np.ndarray, axis: Any = -1) -> np.ndarray:
    e = np.exp(x - x.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


@register_op(check=OpCheck(
    cases=(
        Case("softmax", lambda a: a.softmax(), _reference_softmax, UNARY[1:]),
        Case("softmax_axis0", lambda a: a.softmax(axis=0), lambda a: _reference_softmax(a, axis=0), MATRIX),
        Case("softmax_dim_alias", lambda a: a.softmax(dim=1), lambda a: _reference_softmax(a, axis=1), MATRIX),
        Case("softmax_axes_tuple", lambda a: a.softmax(axis=(0, -1)), lambda a: _reference_softmax(a, axis=(0, -1)), (((2, 3),), ((2, 3, 2),))),
        Case("softmax_0d", lambda a: a.softmax(), lambda a: np.ones_like(a), (((),),)),
    ),
    fuzz=(Fuzz("softmax", lambda xs, s: xs[0].softmax(axis=s.axis(xs[0].ndim)), min_ndim=1),),
))
class Softmax(Function):
    """f(x)_i = exp(x_i) / Σ_j exp(x_j) along axis (an int, a tuple of axes: normalised over
    them jointly, or None: over all);  df = f · (g - Σ g·f)"""

    def forward(self, x, axis=-1):
        self.axis = axis
        out = stable_softmax(x, axis)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return out * (g - sum_axes(g * out, self.axis, keepdims=True))


@register_op(check=OpCheck(
    cases=(
        Case("log_softmax", lambda a: a.log_softmax(), lambda a: np.log(_reference_softmax(a)), UNARY[1:]),
        Case("log_softmax_axis0", lambda a: a.log_softmax(axis=0), lambda a: np.log(_reference_softmax(a, axis=0)), MATRIX),
        Case("log_softmax_axes_tuple", lambda a: a.log_softmax(axis=(0, 1)), lambda a: np.log(_reference_softmax(a, axis=(0, 1))), (((2, 3),), ((2, 3, 2),))),
        Case("log_softmax_0d", lambda a: a.log_softmax(0), lambda a: np.zeros_like(a), (((),),)),
    ),
    fuzz=(Fuzz("log_softmax", lambda xs, s: xs[0].log_softmax(dim=s.axis(xs[0].ndim)), min_ndim=1),),
))
class LogSoftmax(Function):
    """f(x)_i = x_i - logsumexp(x) along axis (axes as Softmax);  df = g - softmax(x) · Σ g"""

    def forward(self, x, axis=-1):
        xp = xp_of(x)
        self.axis = axis
        x = floating(x)
        shifted = x - max_keepdims(x, axis)
        out = shifted - xp.log(xp.sum(xp.exp(shifted), axis=axis, keepdims=True))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g - exp(out) * sum_axes(g, self.axis, keepdims=True)
