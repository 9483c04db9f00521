"""Integer-array indexing and its gradient (a scatter-add) on backends other than numpy.

numpy indexes any way and scatters with ``np.add.at``. The Array API standard indexes with
integer arrays only one per axis (or, with ``take``, one array along one axis) and has no
scatter-add at all; Dask has no nd fancy indexing in ``[]`` (its ``vindex`` has it). Here:

- :func:`backend_index` / :func:`take_foreign` / :func:`take`: ``x[index]`` on any backend;
- :func:`scatter_foreign`: zeros(shape) with ``g`` added at ``index``. Without integer arrays
  (slices, masks: no position repeats) it is an assignment. With them, repeated positions must
  add up, and it is a sum over a 0/1 **one-hot** matrix instead, built in the backend from the
  index (lazily on Dask): along the one indexed axis (``x[idx]``, ``x[:, idx]``, pad's
  borders: a ``(k, n)`` matrix, k picks of an axis of length n, and one matmul); per slice
  along one axis (``gather``/``take_along_axis``: k picks × n); any other index (``x[rows,
  cols]``): its flat positions, a ``(k, x.size)`` matrix. Exact (each entry a sum of the same
  terms), but the memory is k × n where ``np.add.at`` needs none: only non-numpy arrays take
  this path;
- :func:`along_axis_index` / :func:`check_along_axis`: the index of ``gather``,
  ``take_along_axis`` and ``scatter_add``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from .. import _backend, _validate
from ..autograd import GraphTensor
from ._arrays import constant_like, kind_of, permute, reshape, xp_of

# Backends that index with numpy index arrays themselves (Dask): those stay numpy.
_INDEXES_WITH_NUMPY = frozenset({"dask"})


def _is_index_array(part: Any) -> bool:
    return hasattr(part, "dtype") and hasattr(part, "shape") and not isinstance(part, np.generic)


def is_int_array(part: Any) -> bool:
    return _is_index_array(part) and kind_of(part) in "iu"


def _is_int(part: Any) -> bool:
    return isinstance(part, (int, np.integer)) and not isinstance(part, (bool, np.bool_))


# --------------------------------------------------------------------------- x[index]
def backend_index(x: Any, index: Any) -> Any:
    """A normalized index made fit for ``x``'s (non-numpy) backend: numpy index arrays as
    arrays of that backend (the standard indexes with its own arrays only; Dask takes numpy's),
    slice bounds clamped to the axis (out-of-range bounds are unspecified there, numpy clamps
    them), and a trailing ``...`` where fewer axes than ``x`` has are indexed (numpy's rest)."""
    parts = index if isinstance(index, tuple) else (index,)
    convert = _backend.backend_name(x) not in _INDEXES_WITH_NUMPY
    out, axis = [], 0
    for k, part in enumerate(parts):
        if part is Ellipsis:
            axis = x.ndim - sum(_consumed(p) for p in parts[k + 1 :])
        elif isinstance(part, slice):
            part = _clamped(part, x.shape[axis])
        elif type(part) is np.ndarray and convert:
            part = constant_like(part, x)
        axis += _consumed(part)
        out.append(part)
    has_arrays = any(is_int_array(p) for p in out)
    if axis < x.ndim and not has_arrays and not any(p is Ellipsis for p in out):
        out.append(Ellipsis)
    return tuple(out) if isinstance(index, tuple) or len(out) > 1 else out[0]


def _consumed(part: Any) -> int:
    """How many axes of the indexed array an index part reads."""
    if part is None or part is Ellipsis or isinstance(part, (bool, np.bool_)):
        return 0
    return part.ndim if _is_index_array(part) and kind_of(part) == "b" else 1


def _clamped(part: slice, n: int) -> slice:
    start, stop, step = part.indices(n)
    return slice(start, None if step < 0 and stop < 0 else stop, step)


def take_foreign(x: Any, index: Any) -> Any:
    """``x[index]`` on a non-numpy backend (``index`` from :func:`backend_index`). The
    standard takes integer index arrays only together with integers (one per axis; Dask:
    ``vindex``); one integer array with full slices elsewhere is its ``take`` along that axis;
    Dask indexes one array among slices itself. Other mixes raise a TypeError saying how to
    index instead."""
    parts = index if isinstance(index, tuple) else (index,)
    arrays = [k for k, p in enumerate(parts) if is_int_array(p)]
    dask = _backend.backend_name(x) == "dask"
    if not arrays:
        return x[index]
    if len(parts) == x.ndim and all(_is_int(p) or k in arrays for k, p in enumerate(parts)):
        return x.vindex[index] if dask and len(parts) > 1 else x[index]
    rest_full = all(isinstance(p, slice) and p.indices(x.shape[k]) == (0, x.shape[k], 1) for k, p in enumerate(parts) if k not in arrays)
    if len(arrays) == 1 and rest_full:
        k, picks = arrays[0], parts[arrays[0]]
        xp = xp_of(x)
        taken = xp.take(x, reshape(picks, (-1,)), axis=k)
        return xp.reshape(taken, tuple(x.shape[:k]) + tuple(picks.shape) + tuple(x.shape[k + 1 :]))
    if dask and len(arrays) == 1:
        return x[index]
    raise _backend.unsupported(
        "indexing with integer arrays next to slices, None or ...", _backend.backend_name(x),
        f"the Array API standard takes integer index arrays only with integers (shape {tuple(x.shape)}): "
        f"give one integer array per axis (x[rows, cols]), or one with full slices elsewhere (x[:, cols])",
    )


def take(x: Any, index: Any) -> Any:
    """``x[index]`` for a normalized index (numpy index arrays): a numpy array or a Tensor
    indexes itself, any other array through :func:`take_foreign`."""
    if type(x) is np.ndarray or isinstance(x, GraphTensor) or not _backend.is_foreign(x):
        return x[index]
    return take_foreign(x, backend_index(x, index))


# --------------------------------------------------------------------------- the scatter
def scatter_foreign(g: Any, index: Any, shape: tuple[int, ...], accumulate: bool) -> Any:
    """zeros(shape) with ``g`` (a non-numpy array) added at ``index`` (numpy's form, index
    arrays of numpy or of g's backend): an assignment without integer arrays, else a sum over
    a one-hot matrix (see the module's docstring for which one and its memory)."""
    parts = index if isinstance(index, tuple) else (index,)
    if not accumulate or not any(is_int_array(p) for p in parts):
        return _assigned(g, index, shape)
    along = _one_array_layout(parts, shape)
    if along is not None:
        return _scatter_along_axis(g, shape, *along)
    picks = _take_along_layout(parts, shape)
    if picks is not None:
        return _scatter_per_slice(g, shape, *picks)
    return _scatter_flat(g, index, shape)


def _assigned(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """zeros(shape) with ``out[index] = g`` (an index without repeated positions)."""
    out = _backend.zeros(shape, g.dtype, g)
    index = backend_index(out, index)
    parts = index if isinstance(index, tuple) else (index,)
    if any(p is None for p in parts):  # (new axes: the standard assigns only without them)
        index = tuple(p for p in parts if p is not None)
        g = reshape(g, tuple(out[index].shape))
    out[index] = g
    return out


def _one_hot(picks: Any, n: int, like: Any) -> Any:
    """``(picks[..., None] % n == arange(n))`` as ``like``'s dtype, in ``like``'s backend."""
    xp = xp_of(like)
    if type(picks) is np.ndarray:
        picks = constant_like(picks.astype(np.int64), like)
    positions = xp.arange(n, dtype=picks.dtype, device=_backend.compat().device(like))
    return xp.astype((picks % n)[..., None] == positions, like.dtype)


def _one_array_layout(parts: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[int, Any, tuple[Any, ...], tuple[int, ...]] | None:
    """For an index with one integer array and otherwise slices, None and ``...``: the axis
    it picks along, the picks, the slices per axis (full at that axis) and g's shape without
    the new axes (the picks' axes as one). None for any other index."""
    if sum(is_int_array(p) for p in parts) != 1 or not all(is_int_array(p) or isinstance(p, slice) or p is None or p is Ellipsis for p in parts):
        return None
    rest = len(shape) - sum(p is not None and p is not Ellipsis for p in parts)
    if rest < 0 or sum(p is Ellipsis for p in parts) > 1:
        return None
    if not any(p is Ellipsis for p in parts):
        parts = (*parts, Ellipsis)  # (numpy's implicit rest)
    expanded: list[Any] = [q for p in parts for q in ((slice(None),) * rest if p is Ellipsis else (p,)) if q is not None]
    axis = next(k for k, p in enumerate(expanded) if is_int_array(p))
    picks = expanded[axis]
    slices = tuple(slice(None) if k == axis else p for k, p in enumerate(expanded))
    g_shape = tuple(math.prod(picks.shape) if k == axis else len(range(*p.indices(n))) for k, (p, n) in enumerate(zip(expanded, shape)))
    return axis, picks, slices, g_shape


def _placed(block: Any, shape: tuple[int, ...], slices: tuple[slice, ...]) -> Any:
    """``block`` itself when ``slices`` take every position, else zeros(shape) with it there."""
    if all(s.indices(n) == (0, n, 1) for s, n in zip(slices, shape)):
        return block
    return _assigned(block, slices, shape)


def _scatter_along_axis(g: Any, shape: tuple[int, ...], axis: int, picks: Any, slices: tuple[slice, ...], g_shape: tuple[int, ...]) -> Any:
    """The one-array case: out[..., c, ...] = Σ_j g[..., j, ...]·[picks_j = c], one matmul of
    g (that axis last) with the (k, n) one-hot matrix."""
    g = reshape(g, g_shape)
    last = tuple(i for i in range(g.ndim) if i != axis) + (axis,)
    one_hot = _one_hot(reshape(picks, (-1,)), shape[axis], g)
    block = permute(permute(g, last) @ one_hot, tuple(int(i) for i in np.argsort(last)))
    return _placed(block, shape, slices)


def _take_along_layout(parts: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[int, Any] | None:
    """For one index array per axis where every axis but one reads ``arange`` along itself
    (``gather``, ``take_along_axis``: :func:`along_axis_index`'s form): that axis and its
    picks. None for any other index."""
    if len(parts) != len(shape) or not all(is_int_array(p) and p.ndim == len(shape) for p in parts):
        return None
    own = [k for k, p in enumerate(parts) if not _reads_itself(p, k, shape[k])]
    return (own[0], parts[own[0]]) if len(own) == 1 else None


def _reads_itself(part: Any, axis: int, n: int) -> bool:
    """Whether ``part`` is arange(m ≤ n) laid along ``axis`` (size 1 in every other axis)."""
    if type(part) is not np.ndarray or any(m != 1 for k, m in enumerate(part.shape) if k != axis):
        return False
    values = part.reshape(-1)
    return values.size <= n and bool(np.array_equal(values, np.arange(values.size)))


def _scatter_per_slice(g: Any, shape: tuple[int, ...], axis: int, picks: Any) -> Any:
    """The gather case: out[..., c, ...] = Σ_j g[..., j, ...]·[picks[..., j, ...] = c] in
    each slice along ``axis``, a (k, n) one-hot summed over j."""
    xp = xp_of(g)
    if type(picks) is np.ndarray:
        picks = np.broadcast_to(picks, tuple(g.shape))
    else:
        picks = xp.broadcast_to(picks, tuple(g.shape))
    last = tuple(i for i in range(g.ndim) if i != axis) + (axis,)
    one_hot = _one_hot(permute(picks, last), shape[axis], g)  # (..., j, c)
    block = xp.sum(permute(g, last)[..., None] * one_hot, axis=-2)
    block = permute(block, tuple(int(i) for i in np.argsort(last)))
    slices = tuple(slice(None) if k == axis else slice(0, m) for k, m in enumerate(g.shape))
    return _placed(block, shape, slices)


def _scatter_flat(g: Any, index: Any, shape: tuple[int, ...]) -> Any:
    """Any other integer-array index: the flat position each entry of g came from (the same
    index applied to arange(size)), one-hot against every position: (k, size) memory."""
    xp = xp_of(g)
    size = math.prod(shape)
    device = _backend.compat().device(g)
    grid = xp.reshape(xp.arange(size, dtype=xp.int64, device=device), shape)
    positions = reshape(take_foreign(grid, backend_index(grid, index)), (-1,))
    flat = reshape(g, (-1,)) @ _one_hot(positions, size, g)
    return reshape(flat, shape)


# --------------------------------------------------------------------------- gather's index
def along_axis_index(index: Any, axis: int, sizes: tuple[int, ...]) -> tuple[np.ndarray, ...]:
    """The integer-array index tuple that reads ``index`` along ``axis`` and position k of axis
    d elsewhere (k < sizes[d]): ``x[along_axis_index(i, a, i.shape)]`` is torch's
    ``gather(x, a, i)``; with the tensor's own sizes it is numpy's ``take_along_axis``."""
    index = np.asarray(index)
    ndim = index.ndim
    return tuple(
        index if d == axis else np.arange(sizes[d]).reshape((-1,) + (1,) * (ndim - d - 1))
        for d in range(ndim)
    )


def check_along_axis(x_shape: tuple[int, ...], index: Any, axis: Any, what: str, bigger: tuple[int, ...] | None = None) -> tuple[np.ndarray, int]:
    """An integer index array with x's number of axes, in range along ``axis``, no larger than
    x (and ``bigger``) in the other axes (torch's rules for gather and scatter_add)."""
    index = np.asarray(index.data if hasattr(index, "data") else index)
    if index.dtype.kind == "f" and np.all(np.mod(index, 1) == 0):
        index = index.astype(np.intp)
    if index.dtype.kind not in "iu":
        raise TypeError(f"{what}: the index must hold integers, got dtype {index.dtype}")
    a = _validate.axis(axis, len(x_shape), f"{what} axis", x_shape)
    if index.ndim != len(x_shape):
        raise ValueError(f"{what}: the index has {index.ndim} axes (shape {index.shape}), the tensor {len(x_shape)} (shape {x_shape}); they must match")
    limits = [n for n in x_shape] if bigger is None else [min(n, m) for n, m in zip(x_shape, bigger)]
    too_big = [d for d in range(index.ndim) if d != a and index.shape[d] > limits[d]]
    if too_big:
        raise ValueError(f"{what}: index shape {index.shape} is larger than the tensor's shape {x_shape} in axis {too_big[0]}")
    n = x_shape[a]
    if index.size and (index.min() < -n or index.max() >= n):
        raise IndexError(f"{what}: index values must lie in [{-n}, {n - 1}] along axis {a} (size {n}), got {index.min()}..{index.max()}")
    return index, a
