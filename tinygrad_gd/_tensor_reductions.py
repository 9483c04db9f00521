"""Tensor's reductions and normalisations (``t.sum()``, ``t.var()``, ``t.softmax()``, ...): each a
thin call into ``tinygrad_gd.ops``. A new reduction's method goes here."""

from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from . import _validate
from . import ops as _ops
from ._graph_tensor import GraphTensor, new_tensor
from ._tensor_methods import reduction_axes, softmax_axis, spread_count
from ._typing import Axis

__all__ = ["ReductionMethods", "Sorted"]

_NORM_ORDS = (None, 1, 2, np.inf, -np.inf)


class Sorted(NamedTuple):
    """What ``sort`` and ``topk`` return, as torch's: the values (differentiable) and their
    positions along the axis (an int64 tensor without grad)."""

    values: Any
    indices: Any


def _one_axis(axis: Any, shape: tuple[int, ...], name: str) -> int:
    """A scan's or sort's single axis, non-negative (a 0-d tensor accepts 0 or -1)."""
    if isinstance(axis, (tuple, list)) or axis is None:
        raise TypeError(f"{name} takes one integer axis, got axis={axis!r}")
    return _validate.axis(axis, max(len(shape), 1), f"{name} axis", shape)


class ReductionMethods(GraphTensor):
    """The reduction methods of :class:`~tinygrad_gd.Tensor`."""

    __slots__ = ()

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """Σ over ``axis`` (all axes when None)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """Arithmetic mean over ``axis``."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """Maximum over ``axis`` (values only; ties share the gradient evenly)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """Minimum over ``axis`` (values only; ties share the gradient evenly)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """Σ (x - mean)² / (n - ddof) over ``axis`` (ddof=0: numpy's population variance)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        n = spread_count(self.data.shape, axis, ddof, "var")
        centered = _ops.Sub.apply(self, _ops.Mean.apply(self, axis=axis, keepdims=True))
        return _ops.Sum.apply(_ops.Mul.apply(centered, centered), axis=axis, keepdims=keepdims) / float(n - ddof)

    def std(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """√var over ``axis``. Its gradient is 0 where the spread is 0 (all values equal, or an
        axis of length 1 with ddof=0: a batch of one), as PyTorch; never NaN."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        spread_count(self.data.shape, axis, ddof, "std")
        return _ops.Std.apply(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """log Σ exp(x) over ``axis``, stable for large inputs."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        return _ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    def prod(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """Π over ``axis``; the gradient is right with zeros in the input (the product of the
        other entries, computed without dividing)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        return _ops.Prod.apply(self, axis=axis, keepdims=keepdims)

    def norm(self, ord: float | None = None, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:  # noqa: A002
        """The vector norm over ``axis`` (all axes when None, as torch's ``Tensor.norm``):
        ord None or 2 √Σx², 1 Σ|x|, inf max|x|, -inf min|x|. Gradient 0 at x = 0 (as PyTorch)."""
        if not any(ord is o or ord == o for o in _NORM_ORDS) or isinstance(ord, bool):
            raise ValueError(f"norm(ord={ord!r}): use None or 2 (Euclidean), 1, np.inf or -np.inf")
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        if ord in (np.inf, -np.inf) and self.data.size == 0:
            raise ValueError(f"norm(ord={ord}) of an empty tensor (shape {self.shape}) has no value")
        return _ops.Norm.apply(self, ord=None if ord == 2 else ord, axis=axis, keepdims=keepdims)

    def argmax(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None, keepdim: bool | None = None) -> Any:
        """The position of the largest value (in the flattened tensor when ``axis`` is None),
        an int64 tensor without grad (as torch's argmax; the first of tied maxima)."""
        return self._arg_extremum(np.argmax, axis, keepdims, dim, keepdim)

    def argmin(self, axis: int | None = None, keepdims: bool = False, *, dim: int | None = None, keepdim: bool | None = None) -> Any:
        """The position of the smallest value, as :meth:`argmax`."""
        return self._arg_extremum(np.argmin, axis, keepdims, dim, keepdim)

    def _arg_extremum(self, find: Any, axis: Any, keepdims: bool, dim: Any, keepdim: bool | None) -> Any:
        axis = axis if dim is None else dim
        keepdims = keepdims if keepdim is None else keepdim
        if self.data.size == 0:
            raise ValueError(f"{find.__name__} of an empty tensor (shape {self.shape}) has no value")
        if axis is not None:
            axis = _one_axis(axis, self.data.shape, find.__name__)
        index = find(self.data, axis=axis, keepdims=bool(keepdims)).astype(np.int64)
        return new_tensor(type(self), np.asarray(index), False, None)

    def any(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """Whether any value over ``axis`` is nonzero: a bool tensor without grad."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        return new_tensor(type(self), np.asarray(np.any(self.data, axis=axis, keepdims=keepdims)), False, None)

    def all(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Any:
        """Whether every value over ``axis`` is nonzero: a bool tensor without grad."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.data.shape)
        return new_tensor(type(self), np.asarray(np.all(self.data, axis=axis, keepdims=keepdims)), False, None)

    # ------------------------------------------------------------------ scans and orderings
    def cumsum(self, axis: int | None = None, *, dim: int | None = None) -> Any:
        """Running Σ along ``axis`` (over the flattened tensor when None, as numpy)."""
        return self._scan(_ops.CumSum, axis if dim is None else dim, "cumsum")

    def cumprod(self, axis: int | None = None, *, dim: int | None = None) -> Any:
        """Running Π along ``axis`` (flattened when None); the gradient is right with zeros."""
        return self._scan(_ops.CumProd, axis if dim is None else dim, "cumprod")

    def _scan(self, op: Any, axis: int | None, name: str) -> Any:
        me: Any = self
        x = me if axis is not None and me.ndim > 0 else me.reshape(-1)
        return op.apply(x, axis=0 if axis is None else _one_axis(axis, self.data.shape, name))

    def sort(self, axis: int = -1, descending: bool = False, *, dim: int | None = None) -> Sorted:
        """``(values, indices)`` of each slice along ``axis`` in ascending (or descending)
        order, as torch.sort; stable: tied values keep their order. Values are differentiable."""
        axis = _one_axis(axis if dim is None else dim, self.data.shape, "sort")
        me: Any = self
        if me.ndim == 0:
            return Sorted(me * 1.0, new_tensor(type(self), np.zeros((), np.int64), False, None))
        return self._taken(_ops.Sort, axis, descending, None)

    def topk(self, k: int, axis: int = -1, largest: bool = True, *, dim: int | None = None) -> Sorted:
        """``(values, indices)`` of the ``k`` largest (or smallest) values of each slice along
        ``axis``, in order, as torch.topk. Values are differentiable."""
        axis = _one_axis(axis if dim is None else dim, self.data.shape, "topk")
        n = self.data.shape[axis] if self.ndim else 1
        if isinstance(k, bool) or not isinstance(k, (int, np.integer)) or not 0 <= k <= n:
            raise ValueError(f"topk: k={k!r} must be an integer in [0, {n}] (the size of axis {axis} of shape {self.shape})")
        me: Any = self
        if me.ndim == 0:
            return me.reshape(1).topk(k, 0, largest)
        return self._taken(_ops.TopK, axis, largest, k)

    def _taken(self, op: Any, axis: int, descending: bool, k: int | None) -> Sorted:
        # The order is an op of its own (computed in the backend, replayed by tg.compile).
        me: Any = self
        order = _ops.ArgSort.apply(me.detach(), axis=axis, descending=descending, for_op=op)
        indices = order if k is None else order[(slice(None),) * axis + (slice(0, k), Ellipsis)]
        return Sorted(op.apply(self, order, axis=axis, k=k), indices)

    # ------------------------------------------------------------------ nn helpers
    def softmax(self, axis: Axis = -1, *, dim: Axis = None) -> Any:
        """exp(x) / Σ exp(x) along ``axis``, stable for large inputs. A tuple of axes
        normalises over them jointly (as ``scipy.special.softmax``)."""
        return _ops.Softmax.apply(self, axis=softmax_axis(axis if dim is None else dim, self.data.shape, "softmax"))

    def log_softmax(self, axis: Axis = -1, *, dim: Axis = None) -> Any:
        """x - logsumexp(x) along ``axis`` (an int or a tuple of axes), stable for large inputs."""
        return _ops.LogSoftmax.apply(self, axis=softmax_axis(axis if dim is None else dim, self.data.shape, "log_softmax"))

