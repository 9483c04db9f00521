"""The array side of the ops' namespace: the helpers that rules and forwards call on raw
arrays of any backend (numpy first, by ``type(x) is np.ndarray``; others through their Array
API namespace, ``_backend.xp_of``), and the methods numpy spells differently from the standard
(``x.reshape`` vs ``xp.reshape``). None of them records an op: those that take Tensors too
(``reshape``, ``permute``, ``sum_axes``) do so through the Tensor's own methods. The functions
that record an op on Tensors (``exp``, ``where``, ``scatter_add``, ...) are in ``ops/__init__``,
next to the op classes they apply; everything here is re-exported from there.

Imports only the engine, ``_backend`` and ``_validate``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _backend, _validate
from .. import autograd as _autograd
from .._backend import xp_of
from .._typing import Axis, Operand


def _is_array(x: Any) -> bool:
    """An array of any backend (or a number), not a Tensor."""
    return type(x) is np.ndarray or not isinstance(x, _autograd.GraphTensor)


def constant(x: Operand) -> Any:
    """The values of ``x`` as a plain array (a Tensor's data): what is computed from it (a
    mask, a sign) is a constant of the rule, through which no gradient flows."""
    if _autograd._tracer is not None:  # tg.compile: the rule computes with values no op records
        _autograd._tracer.escaped = True
    if type(x) is np.ndarray:
        return x
    if isinstance(x, _autograd.GraphTensor):
        x = x.data
    return x if type(x) is np.ndarray or _backend.is_foreign(x) else np.asarray(x)


def cumulative_sum(x: Any, axis: int) -> Any:
    """Σ up to each position on an array (numpy's cumsum; the standard's cumulative_sum)."""
    if type(x) is np.ndarray:
        return np.cumsum(x, axis=axis)
    xp = xp_of(x)
    return xp.cumulative_sum(x, axis=axis) if hasattr(xp, "cumulative_sum") else xp.cumsum(x, axis=axis)


def where_arrays(cond: Any, a: Any, b: Any) -> Any:
    """``xp.where`` in the backend of the first non-numpy array among the three (a Python
    bool condition or number branches made arrays of it)."""
    like = next((v for v in (cond, a, b) if hasattr(v, "shape") and type(v) is not np.ndarray), None)
    if like is None:
        return np.where(cond, a, b)
    xp = xp_of(like)
    cond, a, b = (v if hasattr(v, "shape") else _backend.asarray(v, like) for v in (cond, a, b))
    return xp.where(xp.astype(cond, xp.bool), a, b)


def swap_last(x: Operand) -> Operand:
    """Swap the last two axes (matrix transpose of a batch)."""
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return permute(x, tuple(axes))


# Array methods numpy, Dask and CuPy have but the standard spells as functions: rules call
# these, so that they also run on array-api-strict (and record on Tensors).
def reshape(x: Operand, shape: tuple[int, ...]) -> Operand:
    """``x`` with a new shape (numpy's ``x.reshape``; the standard's ``xp.reshape``)."""
    if type(x) is np.ndarray or not _is_array(x):
        return x.reshape(shape)
    return xp_of(x).reshape(x, shape)


def permute(x: Operand, axes: tuple[int, ...]) -> Operand:
    """``x`` with its axes permuted (numpy's ``x.transpose(axes)``; ``xp.permute_dims``)."""
    if type(x) is np.ndarray or not _is_array(x):
        return x.transpose(axes)
    return xp_of(x).permute_dims(x, axes)


def matrix_t(x: Operand) -> Operand:
    """The transpose of a 2-D ``x`` (``x.T``)."""
    return x.T


def sum_axes(x: Operand, axis: Any = None, keepdims: bool = False) -> Operand:
    """Σ over ``axis`` (numpy's ``x.sum``; the standard's ``xp.sum``)."""
    if type(x) is np.ndarray or not _is_array(x):
        return x.sum(axis=axis, keepdims=keepdims)
    return xp_of(x).sum(x, axis=axis, keepdims=keepdims)


def mean_axes(x: Operand, axis: Any = None) -> Operand:
    """The mean over ``axis`` with keepdims (numpy's ``x.mean``; the standard's ``xp.mean``)."""
    if type(x) is np.ndarray or not _is_array(x):
        return x.mean(axis=axis, keepdims=True)
    return xp_of(x).mean(x, axis=axis, keepdims=True)


def may_be_any(mask: Any) -> bool:
    """Whether any entry of a constant mask may be true: rules take a fast path when not. A
    lazy (Dask) mask is not computed to decide: True, the general path, right either way."""
    return _mask_reduction(mask, "any", lazy=True)


def surely_all(mask: Any) -> bool:
    """Whether every entry of a constant mask is known to be true (False for a lazy mask:
    the general path, right either way)."""
    return _mask_reduction(mask, "all", lazy=False)


def _mask_reduction(mask: Any, name: str, lazy: bool) -> bool:
    """``mask.any()`` / ``mask.all()`` on any backend; ``lazy`` for a Dask mask (not computed)."""
    if type(mask) is np.ndarray:
        return bool(getattr(mask, name)())
    if isinstance(mask, (bool, np.bool_)):
        return bool(mask)
    if _backend.backend_name(mask) == "dask":
        return lazy
    return bool(_backend.to_numpy(getattr(xp_of(mask), name)(mask)))


def expand_reduced(g: Operand, shape: tuple[int, ...], axis: tuple[int, ...] | None, keepdims: bool) -> Operand:
    """Bring a reduction's gradient (or output) back to the input's rank (size-1 reduced axes)."""
    if keepdims or axis is None and g.ndim == len(shape):
        return g
    kept = [1 if (axis is None or i in axis) else n for i, n in enumerate(shape)]
    return reshape(g, tuple(kept))


def normalize_axis(axis: Axis, ndim: int, argument: str = "axis", shape: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
    """``None`` or a sorted tuple of non-negative axes (see ``_validate.axes``: integers only,
    in range, each once; a clear error otherwise)."""
    return _validate.axes(axis, ndim, argument, shape)


# Forwards run on arrays of any backend: each calls its input's namespace (xp_of).
def floating(x: Any) -> Any:
    """``x`` itself when it holds floats, else ``x`` as float64.

    Float-valued ops (exp, sigmoid, mean, softmax, ...) on integer or bool tensors promote
    to float64, as PyTorch promotes to its default float: never truncated back to the
    integer dtype (sigmoid([1, 2, -3]) is not [0, 0, 0]), never numpy's float16 for bool or
    int8. Float arrays pass through untouched (same object: saved-input tracking holds)."""
    if type(x) is not np.ndarray:
        if _backend.is_foreign(x):
            xp = xp_of(x)
            return x if _backend.is_float_dtype(x.dtype, xp) else xp.astype(x, xp.float64)
        x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def stable_sigmoid(x: Any) -> Any:
    """Logistic that never exponentiates a large positive number."""
    x = floating(x)
    xp = xp_of(x)
    e = xp.exp(-xp.abs(x))
    return _backend.astype(xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), x.dtype)


def max_keepdims(x: Any, axis: Any) -> Any:
    """max over ``axis`` with keepdims; -inf (the max of nothing) where an axis is empty."""
    if x.size == 0:
        if type(x) is not np.ndarray:
            reduced = _validate.axes(axis, x.ndim, "axis") or tuple(range(x.ndim))
            shape = tuple(1 if i in reduced else n for i, n in enumerate(x.shape))
            return _backend.asarray(np.full(shape, -np.inf), floating(x))
        return np.max(floating(x), axis=axis, keepdims=True, initial=-np.inf)
    return xp_of(x).max(x, axis=axis, keepdims=True)


def stable_softmax(x: Any, axis: Any) -> Any:
    """exp(x) / Σ exp(x) along ``axis``, shifted by the max so that nothing overflows."""
    x = floating(x)
    xp = xp_of(x)
    e = xp.exp(x - max_keepdims(x, axis))
    return e / xp.sum(e, axis=axis, keepdims=True)


def erf_array(x: Any) -> np.ndarray:
    """erf on a numpy array, by ``scipy.special.erf``; without scipy an ImportError that says
    what needs it and the way out. (The standard has no erf: other backends are refused.)"""
    if type(x) is not np.ndarray and _backend.is_foreign(x):
        raise _backend.unsupported("erf", _backend.backend_name(x), NO_ERF)
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:
        raise ImportError(
            "erf (and gelu(approximate='none'), the exact erf form) needs scipy, which is not "
            "installed: pip install scipy, or use gelu() / gelu(approximate='tanh')"
        ) from None
    x = floating(x)
    return scipy_erf(x).astype(x.dtype, copy=False)


NO_ERF = "the Array API standard has no erf (numpy's comes from scipy.special)"


NO_SCATTER = (
    "indexing with integer arrays needs a scatter-add (numpy's np.add.at) in backward, which the "
    "Array API standard does not have"
)


def scatter(g: Any, index: Any, shape: tuple[int, ...], accumulate: bool) -> Any:
    """zeros(shape) with ``g`` added at ``index``: np.add.at on numpy (repeated indices add
    up); other backends have no scatter-add: ``_scatter.scatter_foreign`` (an assignment, or a
    sum over a one-hot matrix for integer-array indices)."""
    if type(g) is not np.ndarray:
        from ._scatter import scatter_foreign  # (it imports this module)

        return scatter_foreign(g, index, shape, accumulate)
    out = np.zeros(shape, dtype=g.dtype)
    if accumulate:
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


def cumulative_prod(x: Any, axis: int) -> Any:
    """Π up to each position on an array (numpy's cumprod; the standard's cumulative_prod)."""
    if type(x) is np.ndarray:
        return np.cumprod(x, axis=axis)
    xp = xp_of(x)
    return xp.cumulative_prod(x, axis=axis) if hasattr(xp, "cumulative_prod") else xp.cumprod(x, axis=axis)


def same_backend(a: Any, b: Any) -> tuple[Any, Any]:
    """Two operands of a binary forward, a Python number among them made an array of the
    other's backend when that is not numpy (the standard's functions want arrays, or scalars
    that mix with them in Python, never numpy scalars): numpy operands come back unchanged."""
    if type(a) is np.ndarray or type(b) is np.ndarray:
        return a, b
    like = a if hasattr(a, "shape") else b
    if not _backend.is_foreign(like):
        return a, b
    return tuple(v if hasattr(v, "shape") else _backend.asarray(v, like) for v in (a, b))


def constant_like(value: np.ndarray, like: Any) -> Any:
    """A numpy constant of a rule (a mask, an identity, a one-hot matrix, index arrays) as an
    array of ``like``'s backend, on its device, with the same dtype: unchanged when ``like``
    is numpy (a Tensor's data is read). The explicit way a constant meets a foreign array."""
    data = like.data if isinstance(like, _autograd.GraphTensor) else like  # (read, not a value of the rule)
    if type(data) is np.ndarray or not _backend.is_foreign(data):
        return value
    value = np.asarray(value)
    xp = xp_of(data)
    return xp.asarray(value, dtype=getattr(xp, value.dtype.name), device=_backend.compat().device(data))


def kind_of(x: Any) -> str:
    """numpy's dtype kind letter ("b", "i", "u", "f", "c") of an array of any backend."""
    if isinstance(x.dtype, np.dtype):
        return x.dtype.kind
    xp = xp_of(x)
    kinds = (("bool", "b"), ("signed integer", "i"), ("unsigned integer", "u"), ("real floating", "f"))
    return next((k for name, k in kinds if xp.isdtype(x.dtype, name)), "c")


def one_hot_matmul(g: Operand, axis: int, matrix: np.ndarray) -> Operand:
    """``g`` with its ``axis`` (length m) mapped through the constant 0/1 ``matrix`` (m, n):
    out[..., j, ...] = Σ_i g[..., i, ...]·matrix[i, j]. The scatter-free sum over copies that
    rules use on backends without numpy's np.add.at; a matmul, so it records on Tensors."""
    axis %= g.ndim
    last = tuple(i for i in range(g.ndim) if i != axis) + (axis,)
    weights = constant_like(matrix, g)
    moved = permute(g, last) @ _backend.astype(weights, constant(g).dtype)
    back = tuple(int(i) for i in np.argsort(last))
    return permute(moved, back)
