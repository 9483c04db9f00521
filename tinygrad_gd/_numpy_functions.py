"""The Tensor computations of numpy functions that are not one Tensor method each
(``np.average`` with weights, ``np.dot``, ``np.inner``, ``np.linalg.norm``, ``np.clip`` with
array bounds, ...), composed from Tensor ops with numpy's semantics and argument names: the
``call`` column of ``_numpy_dispatch``'s table. Arguments may be Tensors or arrays (at least
one is a Tensor); results are Tensors.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validate
from ._creation import concatenate, maximum, minimum, where
from .tensor import Tensor

__all__ = ["as_tensor", "average", "dot", "inner", "expand_dims", "clip", "where_or_indices", "concatenate_or_flat",
           "norm", "reshape", "transpose", "data_of", "ufunc_outer"]


def as_tensor(x: Any) -> Tensor:
    """``x`` itself when it is a Tensor, else ``Tensor(x)`` (a constant of the graph)."""
    return x if isinstance(x, Tensor) else Tensor(x)


def data_of(x: Any) -> Any:
    """Tensors replaced by their arrays, inside lists and tuples too."""
    if isinstance(x, Tensor):
        return x.data
    if isinstance(x, (list, tuple)):
        return type(x)(data_of(v) for v in x)
    return x


def ufunc_outer(call: Any, a: Any, b: Any) -> Any:
    """``np.multiply.outer(a, b)``: ``call`` (a binary ufunc's row) on every pair, the result of
    shape ``a.shape + b.shape`` (an outer product on purpose: no broadcast warning)."""
    return call(as_tensor(a).reshape(np.shape(data_of(a)) + (1,) * np.ndim(data_of(b))), b)


def average(a: Any, axis: Any = None, weights: Any = None, returned: bool = False, keepdims: bool = False) -> Any:
    """Σ w·a / Σ w over ``axis`` (the plain mean without weights), as ``np.average``."""
    a = as_tensor(a)
    if weights is None:
        avg = a.mean(axis, bool(keepdims))
        total: Any = Tensor(np.full(avg.shape, a.size / max(avg.size, 1), dtype=avg.dtype))
    else:
        w = _average_weights(a, weights, axis)
        total = as_tensor(w).sum(axis, bool(keepdims))
        if np.any(total.data == 0):
            raise ZeroDivisionError("np.average: the weights sum to zero, can't be normalized")
        avg = (a * w).sum(axis, bool(keepdims)) / total
        total = total.broadcast_to(avg.shape)
    return (avg, total) if returned else avg


def _average_weights(a: Tensor, weights: Any, axis: Any) -> Any:
    """The weights in a shape that broadcasts against ``a`` (numpy's 1-D weights along ``axis``)."""
    shape = tuple(np.shape(weights.data if isinstance(weights, Tensor) else weights))
    if shape == a.shape:
        return weights
    if axis is None:
        raise TypeError(f"np.average: weights of shape {shape} differ from a's {a.shape}: pass axis=")
    if len(shape) != 1:
        raise TypeError(f"np.average: 1-D weights expected when shapes differ, got {shape} for a of shape {a.shape}")
    k = _validate.axis(axis, a.ndim, "np.average axis", a.shape)
    if shape[0] != a.shape[k]:
        raise ValueError(f"np.average: {shape[0]} weights for axis {axis} of length {a.shape[k]} (shape {a.shape})")
    return weights.reshape(tuple(-1 if i == k else 1 for i in range(a.ndim)))


def dot(a: Any, b: Any) -> Any:
    """np.dot: a product with a scalar, else a matrix product (the right operand ≤ 2-D)."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if b.ndim > 2:
        raise TypeError(
            f"np.dot with a {b.ndim}-D right operand (shapes {a.shape} and {b.shape}) sums over its "
            f"second-to-last axis, which the Tensor matmul does not do: use np.matmul or @ (a "
            f"batched product), or np.dot(a.detach().numpy(), b.detach().numpy()) to leave autodiff"
        )
    return a @ b


def inner(a: Any, b: Any) -> Any:
    """np.inner: Σ over the last axes of both, a[..., k] · b[..., k]."""
    a, b = as_tensor(a), as_tensor(b)
    if a.ndim == 0 or b.ndim == 0:
        return a * b
    if a.shape[-1] != b.shape[-1]:
        raise ValueError(f"np.inner: the last axes must have one length, got shapes {a.shape} and {b.shape}")
    n = a.shape[-1]
    return (a.reshape(-1, n) @ b.reshape(-1, n).T).reshape(a.shape[:-1] + b.shape[:-1])


def expand_dims(a: Any, axis: Any) -> Any:
    a = as_tensor(a)
    count = len(axis) if isinstance(axis, (tuple, list)) else 1
    new = _validate.axes(axis, a.ndim + count, "expand_dims axis", a.shape) or ()
    sizes = iter(a.shape)
    return a.reshape(tuple(1 if i in new else next(sizes) for i in range(a.ndim + count)))


def clip(a: Any, a_min: Any = None, a_max: Any = None, min: Any = None, max: Any = None) -> Any:  # noqa: A002
    """np.clip: Tensor.clip for number bounds; elementwise maximum/minimum for array bounds."""
    lo, hi = (a_min if a_min is not None else min), (a_max if a_max is not None else max)
    if isinstance(a, Tensor) and all(b is None or np.ndim(b) == 0 and not isinstance(b, Tensor) for b in (lo, hi)):
        return a.clip(None if lo is None else float(lo), None if hi is None else float(hi))
    if lo is None and hi is None:
        raise ValueError("np.clip needs at least one of a_min and a_max")
    out = a if lo is None else maximum(a, lo)
    return out if hi is None else minimum(out, hi)


def where_or_indices(condition: Any, x: Any = None, y: Any = None) -> Any:
    if x is None and y is None:
        return np.nonzero(data_of(condition))  # np.where(cond): the indices, no gradient
    return where(condition, x, y)


def concatenate_or_flat(arrays: Any, axis: Any = 0) -> Any:
    if axis is None:
        return concatenate([as_tensor(x).reshape(-1) for x in arrays])
    return concatenate(arrays, axis)


def norm(x: Any, ord: Any = None, axis: Any = None, keepdims: bool = False) -> Any:  # noqa: A002
    """np.linalg.norm: vector norms (2, 1, ±inf, any p) and matrix norms ('fro', 1, ±inf)."""
    x = as_tensor(x)
    if ord is None and axis is None:
        return (x * x).sum(None, bool(keepdims)).sqrt()
    axes = _validate.axes(axis, x.ndim, "norm axis", x.shape) if axis is not None else tuple(range(x.ndim))
    if axes is None or len(axes) not in (1, 2):
        raise ValueError(f"np.linalg.norm: a vector (1 axis) or a matrix (2 axes) norm, got axis={axis} for shape {x.shape}")
    if len(axes) == 1:
        return _vector_norm(x, ord, axes[0], bool(keepdims))
    if ord in (None, "fro"):
        return (x * x).sum(axes, bool(keepdims)).sqrt()
    if ord in (1, -1, np.inf, -np.inf):
        rows, cols = axes if ord in (1, -1) else axes[::-1]
        sums = x.abs().sum(rows, keepdims=True)
        out = sums.max(cols, keepdims=True) if ord > 0 else sums.min(cols, keepdims=True)
        return out if keepdims else out.squeeze(axes)
    raise TypeError(
        f"np.linalg.norm(ord={ord!r}) of a matrix needs singular values, which no Tensor op computes: "
        f"use ord='fro', 1 or inf, or leave autodiff with np.linalg.norm(x.detach().numpy(), {ord!r})"
    )


def _vector_norm(x: Tensor, ord: Any, axis: int, keepdims: bool) -> Any:  # noqa: A002
    if ord is None or ord == 2:
        return (x * x).sum(axis, keepdims).sqrt()
    if ord == np.inf:
        return x.abs().max(axis, keepdims)
    if ord == -np.inf:
        return x.abs().min(axis, keepdims)
    if isinstance(ord, str) or ord == 0:
        raise TypeError(f"np.linalg.norm(ord={ord!r}) is not a differentiable vector norm: use 1, 2, inf or a p ≠ 0")
    return (x.abs() ** float(ord)).sum(axis, keepdims) ** (1.0 / float(ord))


def reshape(a: Any, shape: Any = None, newshape: Any = None) -> Any:
    return as_tensor(a).reshape(shape if shape is not None else newshape)  # newshape: numpy < 2.1's name


def transpose(a: Any, axes: Any = None) -> Any:
    return as_tensor(a).transpose() if axes is None else as_tensor(a).transpose(tuple(axes))


