"""Tensor's reductions and normalisations (``t.sum()``, ``t.var()``, ``t.softmax()``, ...): each a
thin call into ``tinygrad_gd.ops``. A new reduction's method goes here."""

from __future__ import annotations

from typing import Any

from . import ops as _ops
from ._graph_tensor import GraphTensor
from ._tensor_methods import reduction_axes, softmax_axis, spread_count
from ._typing import Axis

__all__ = ["ReductionMethods"]


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

    # ------------------------------------------------------------------ nn helpers
    def softmax(self, axis: Axis = -1, *, dim: Axis = None) -> Any:
        """exp(x) / Σ exp(x) along ``axis``, stable for large inputs. A tuple of axes
        normalises over them jointly (as ``scipy.special.softmax``)."""
        return _ops.Softmax.apply(self, axis=softmax_axis(axis if dim is None else dim, self.data.shape, "softmax"))

    def log_softmax(self, axis: Axis = -1, *, dim: Axis = None) -> Any:
        """x - logsumexp(x) along ``axis`` (an int or a tuple of axes), stable for large inputs."""
        return _ops.LogSoftmax.apply(self, axis=softmax_axis(axis if dim is None else dim, self.data.shape, "log_softmax"))

