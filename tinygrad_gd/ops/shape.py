"""Shape, indexing and dtype ops: the values are moved or picked, not computed, so each
gradient is the inverse move (reshape back, permute back, scatter back, slice out)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _backend, _validate
from .._backend import xp_of
from .._graph_tensor import GraphTensor
from ..autograd import Function
from . import permute, register_op, reshape, scatter, scatter_add
from ._metadata import AWAY_FROM_ZERO, MASK, MATRIX, UNARY, Case, Fuzz, OpCheck
from ._scatter import backend_index, is_int_array, take, take_foreign

GATHER = np.array([[2, 0, 2], [1, 1, 0]])  # gather/take_along_axis picks, repeats included
REPEATED = np.array([0, 2, 0, 1, 0])  # sample indices with repeats: gradients must accumulate
ROWS, COLS = np.array([0, 0, 1, 1]), np.array([2, 2, 0, 2])


def _reference_scatter(g: np.ndarray, index: Any, shape: tuple[int, ...]) -> np.ndarray:
    out = np.zeros(shape)
    np.add.at(out, index, g)
    return out


# --------------------------------------------------------------------------- views
@register_op(check=OpCheck(
    cases=(
        Case("reshape", lambda a: a.reshape(3, 2), lambda a: a.reshape(3, 2), (((2, 3),), ((6,),), ((3, 2),))),
        Case("reshape_tuple_infer", lambda a: a.reshape((-1,)), lambda a: a.reshape(-1), UNARY),
        Case("view", lambda a: a.view(2, -1), lambda a: a.reshape(2, -1), (((2, 3),), ((6,),))),
        Case("flatten", lambda a: a.flatten(), lambda a: a.reshape(-1), UNARY[1:]),
        Case("squeeze", lambda a: a.squeeze(), np.squeeze, (((1, 3),), ((2, 1),), ((1, 3, 1),))),
        Case("squeeze_axis", lambda a: a.squeeze(0), lambda a: np.squeeze(a, 0), (((1, 3),), ((1, 1),))),
        Case("unsqueeze", lambda a: a.unsqueeze(1), lambda a: np.expand_dims(a, 1), (((3,),), ((2, 3),))),
        Case("expand_dims_last", lambda a: a.expand_dims(-1), lambda a: np.expand_dims(a, -1), UNARY),
    ),
    fuzz=(
        Fuzz("reshape", lambda xs, s: xs[0].reshape(-1).reshape(xs[0].shape)),
        Fuzz("flatten_unsqueeze", lambda xs, s: xs[0].flatten().unsqueeze(0).squeeze(0).reshape(xs[0].shape)),
    ),
))
class Reshape(Function):
    """f(x) = x viewed with a new shape;  gradient reshaped back"""

    returns_view = True

    def forward(self, x, shape=()):
        self.in_shape = x.shape
        try:
            return _reshaped(x, shape)
        except ValueError:
            raise ValueError(
                f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into shape "
                f"{tuple(shape)}: the number of elements must stay the same"
            ) from None

    def backward(self, g):
        return _reshaped(g, self.in_shape)


def _reshaped(x: Any, shape: tuple[int, ...]) -> Any:
    """``reshape(x, shape)``; on Dask, where its chunk-wise reshape cannot (axes neither merged
    nor split evenly: (2, 3) -> (3, 2)), after rechunking every axis from the first one that
    changes into one chunk (a documented cost: such a chunk holds whole trailing axes)."""
    try:
        return reshape(x, shape)
    except NotImplementedError:
        if _backend.backend_name(x) != "dask":
            raise
    kept = next((i for i, (n, m) in enumerate(zip(x.shape, shape)) if n != m), min(len(shape), x.ndim))
    return reshape(x.rechunk({i: -1 for i in range(kept, x.ndim)}), shape)


@register_op(check=OpCheck(
    cases=(
        Case("transpose", lambda a: a.T, lambda a: a.T, UNARY),
        Case("transpose_axes", lambda a: a.transpose(1, 0, 2), lambda a: a.transpose(1, 0, 2), (((2, 3, 2),), ((1, 2, 3),))),
        Case("transpose_swap_pair", lambda a: a.transpose(0, 2), lambda a: np.swapaxes(a, 0, 2), (((2, 3, 4),),)),
        Case("permute", lambda a: a.permute(2, 0, 1), lambda a: a.transpose(2, 0, 1), (((2, 3, 4),),)),
        Case("swapaxes", lambda a: a.swapaxes(0, -1), lambda a: np.swapaxes(a, 0, -1), (((2, 3),), ((2, 3, 4),))),
        Case("moveaxis", lambda a: a.moveaxis((0, 1), (-1, 0)), lambda a: np.moveaxis(a, (0, 1), (-1, 0)), (((2, 3, 4),),)),
    ),
    # moved, weighted by a constant (so the gradient is not all ones), and moved back
    fuzz=(Fuzz("transpose", lambda xs, s: (xs[0].T * s.constant(xs[0].shape[::-1])).T, min_ndim=2),),
))
class Transpose(Function):
    """f(x) = x with permuted axes;  gradient permuted back by the inverse permutation"""

    returns_view = True

    def forward(self, x, axes=None):
        xp = xp_of(x)
        if axes is None:
            axes = tuple(range(x.ndim))[::-1]
        else:
            axes = _validate.permutation(axes, x.ndim, "transpose axes", x.shape)
        self.inverse = tuple(int(i) for i in np.argsort(axes))
        return xp.permute_dims(x, axes)

    def backward(self, g):
        return permute(g, self.inverse)


@register_op(check=OpCheck(
    cases=(Case("broadcast_to", lambda a: a.broadcast_to(2, 3), lambda a: np.broadcast_to(a, (2, 3)), (((),), ((3,),), ((1, 3),), ((2, 1),), ((2, 3),))),),
    fuzz=(Fuzz("broadcast_to", lambda xs, s: xs[0].broadcast_to(s.base)),),
))
class BroadcastTo(Function):
    """f(x) = x broadcast to shape;  gradient summed back (by the engine's unbroadcast)"""

    returns_view = True

    def forward(self, x, shape=()):
        xp = xp_of(x)
        try:
            return xp.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(
                f"cannot broadcast a tensor of shape {tuple(x.shape)} to shape {tuple(shape)}"
            ) from None

    def backward(self, g):
        return g


# --------------------------------------------------------------------------- indexing
_BASIC_INDEX_TYPES = (int, slice, type(None), type(Ellipsis), np.integer, np.bool_)


def normalize_index(index: Any) -> Any:
    """The index as numpy reads it, with every array part an ndarray.

    A tuple is the index tuple (one entry per axis). Any other sequence — a list, nested
    lists, or a tuple or list *inside* the index tuple (``x[(0, 0, 2),]``,
    ``x[(0, 0), (1, 1)]``) — is an integer (or boolean) array index, as numpy and PyTorch
    read it. A Tensor is its data; a float array of whole numbers (a Tensor of ids) becomes
    an integer array. Everything that decides how an index behaves (the gradient's
    accumulation above all) looks at this form only.
    """
    if isinstance(index, tuple):
        return tuple(_index_part(p) for p in index)
    return _index_part(index)


def _index_part(part: Any) -> Any:
    if isinstance(part, _BASIC_INDEX_TYPES):  # bool is an int: x[True] stays numpy's new axis
        return part
    if isinstance(part, GraphTensor):
        part = part.data
    elif isinstance(part, (list, tuple)):
        try:
            part = np.asarray(part)
        except ValueError:
            raise IndexError(
                f"an index list must be rectangular (every inner list the same length), got {part!r}"
            ) from None
    if isinstance(part, np.ndarray) and part.dtype.kind == "f":
        if not np.all(np.mod(part, 1) == 0):
            raise IndexError("tensors used as indices must hold whole numbers (or be boolean masks)")
        part = part.astype(np.intp)
    return part


def _needs_accumulation(index: Any) -> bool:
    """Integer-array indices may repeat (also as ``i`` and ``i - n``), so their gradient must
    be added, not assigned. ``index`` is in :func:`normalize_index`'s form."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(is_int_array(p) for p in parts)


def _with_own_tensor_index(a: Any) -> Any:
    return a[type(a)([2.0, 0.0, 2.0])]  # a Tensor (of the operand's own class) holding ids


@register_op(check=OpCheck(
    cases=(
        Case("getitem_int", lambda a: a[1], lambda a: a[1], (((3,),), ((2, 3),))),
        Case("getitem_slices", lambda a: a[:, 1:], lambda a: a[:, 1:], MATRIX),
        Case("getitem_step_negative", lambda a: a[::-2], lambda a: a[::-2], (((5,),), ((3, 2),))),
        Case("getitem_ellipsis_newaxis", lambda a: a[None, ..., 0], lambda a: a[None, ..., 0], MATRIX),
        Case("getitem_repeated_ints", lambda a: a[REPEATED], lambda a: a[REPEATED], (((3,),), ((3, 2),))),
        Case("getitem_list", lambda a: a[[1, 1, 0]], lambda a: a[[1, 1, 0]], (((2,),), ((2, 3),))),
        Case("getitem_pairs", lambda a: a[ROWS, COLS], lambda a: a[ROWS, COLS], (((2, 3),),)),
        Case("getitem_tensor_index", _with_own_tensor_index, lambda a: a[[2, 0, 2]], (((3,),), ((3, 2),))),
        Case("getitem_mask", lambda a: a[MASK], lambda a: a[MASK], (((2, 3),),)),
        Case("getitem_comparison_mask", lambda a: a[a > 0.0], lambda a: a[a > 0.0], (((2, 3),), ((4,),)), AWAY_FROM_ZERO),
        Case("split_piece", lambda a: a.split([1, 3], axis=-1)[1], lambda a: np.split(a, [1, 3], axis=-1)[1], (((4,),), ((2, 4),))),
        Case("chunk_last_piece", lambda a: a.chunk(2)[-1], lambda a: a[2:], (((3,),), ((3, 2),))),
        Case("gather", lambda a: a.gather(1, GATHER), lambda a: np.take_along_axis(a[:2], GATHER, 1), (((2, 3),), ((3, 4),))),
        Case("take_along_axis", lambda a: a.take_along_axis(GATHER[:1], 0), lambda a: np.take_along_axis(a, GATHER[:1], 0), (((3, 3),), ((4, 3),))),
    ),
    fuzz=(
        Fuzz("take_rows", lambda xs, s: xs[0][s.integers(xs[0].shape[0], xs[0].shape[0])], min_ndim=1),
        Fuzz("reverse", lambda xs, s: xs[0][::-1], min_ndim=1),
        Fuzz("mask_sum", lambda xs, s: xs[0][s.mask(xs[0].shape)].sum(), min_ndim=1),
        Fuzz("positive_sum", lambda xs, s: xs[0][xs[0] > 0.0].sum(), kinks=(0.0,), min_ndim=1),
        Fuzz("split_sum", lambda xs, s: sum(xs[0].split(xs[0].shape[-1], axis=-1)[1:], xs[0].split(xs[0].shape[-1], axis=-1)[0]), min_ndim=1),
        Fuzz("gather", lambda xs, s: xs[0].gather(-1, s.integers(xs[0].shape[-1], xs[0].size).reshape(xs[0].shape)), min_ndim=1),
    ),
))
class GetItem(Function):
    """f(x) = x[index];  gradient scattered back (repeated indices accumulate)"""

    returns_view = True

    def forward(self, x, index=None):
        index = normalize_index(index)
        self.in_shape, self.accumulate = x.shape, _needs_accumulation(index)
        self.save_for_backward(index)  # (an index may hold arrays: released after backward)
        if type(x) is not np.ndarray and _backend.is_foreign(x):
            return take_foreign(x, backend_index(x, index))
        out = x[index]
        return out if type(out) is not np.generic else np.asarray(out)

    def backward(self, g):
        (index,) = self.saved
        return scatter_add(g, index, self.in_shape, self.accumulate)


@register_op(check=OpCheck(
    cases=(
        Case("scatter_add_repeated", lambda g: scatter_add(g, REPEATED, (3,), True), lambda g: _reference_scatter(g, REPEATED, (3,)), (((5,),),)),
        Case("scatter_add_slice", lambda g: scatter_add(g, (slice(None), slice(1, None)), (2, 3), False), lambda g: _reference_scatter(g, (slice(None), slice(1, None)), (2, 3)), (((2, 2),),)),
    ),
    fuzz=(Fuzz("scatter_add", lambda xs, s: scatter_add(xs[0], s.integers(xs[0].shape[0], xs[0].shape[0]), xs[0].shape, True), min_ndim=1),),
))
class ScatterAdd(Function):
    """f(g) = zeros(shape) with g added at index;  gradient: df = upstream[index]"""

    def forward(self, g, index=None, shape=(), accumulate=True):
        index = normalize_index(index)
        self.save_for_backward(index)
        return scatter(g, index, shape, accumulate)

    def backward(self, g):
        (index,) = self.saved
        return take(g, index)


# --------------------------------------------------------------------------- joining
def _joined_halves(xs: Sequence[Any], s: Any, fold: Callable[[Any], Any]) -> Any:
    """The operands joined along axis 0, then folded back to their common shape by ``fold``
    over the two halves (so the step's output broadcasts to the base shape)."""
    a, b = s.common(*xs)
    if a.ndim == 0:
        return Concatenate.apply(a.reshape(1), b.reshape(1), axis=0).sum()
    return fold(Concatenate.apply(a, b, axis=0).reshape((2,) + a.shape))


@register_op(check=OpCheck(
    cases=(
        Case("concatenate", lambda a, b: Concatenate.apply(a, b, axis=0), lambda a, b: np.concatenate([a, b], axis=0), (((2, 3), (1, 3)), ((3,), (2,)), ((1, 2, 2), (2, 2, 2)))),
        Case("concatenate_last_axis", lambda a, b, c: Concatenate.apply(a, b, c, axis=-1), lambda a, b, c: np.concatenate([a, b, c], axis=-1), (((2, 1), (2, 3), (2, 2)),)),
    ),
    fuzz=(
        Fuzz("concatenate", lambda xs, s: _joined_halves(xs, s, lambda both: both.sum(axis=0)), ("any", "any")),
        Fuzz("concatenate_max", lambda xs, s: _joined_halves(xs, s, lambda both: both.max(axis=0)), ("any", "any"), ties="operands"),
    ),
))
class Concatenate(Function):
    """f(x1, …, xk) = concatenation along axis;  each gradient is its slice"""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.bounds = tuple(int(b) for b in np.cumsum([0] + [np.shape(x)[axis] for x in xs]))
        return _backend.namespace(*xs).concat(list(xs), axis=axis) if type(xs[0]) is not np.ndarray else np.concatenate(xs, axis=axis)

    def backward(self, g):
        lead = (slice(None),) * (self.axis % g.ndim)
        bounds = self.bounds
        return tuple(
            g[lead + (slice(bounds[i], bounds[i + 1]), ...)] if need else None
            for i, need in enumerate(self.needs_input_grad)
        )


# --------------------------------------------------------------------------- dtype
@register_op(check=OpCheck(
    cases=(
        Case("astype_float32", lambda a: a.astype(np.float32), lambda a: a.astype(np.float32), UNARY, fd_eps=1e-2, atol=1e-4, rtol=1e-4),
        Case("double", lambda a: a.float().double(), lambda a: a.astype(np.float32).astype(np.float64), UNARY[:3], float32_out=False, fd_eps=1e-2, atol=1e-4, rtol=1e-4),
    ),
    fuzz=(Fuzz("cast", lambda xs, s: (xs[0].astype(np.longdouble) * 1.0).astype(np.float64)),),
))
class Cast(Function):
    """f(x) = x as another float dtype;  f'(x) = 1 (the engine casts the gradient back)"""

    def forward(self, x, dtype=None):
        if type(x) is np.ndarray:
            return x.astype(dtype)
        xp = xp_of(x)
        if not isinstance(dtype, (type, str, np.dtype)):
            return xp.astype(x, dtype)
        name = np.dtype(dtype).name
        if not hasattr(xp, name):
            raise _backend.unsupported("Cast", _backend.backend_name(x), f"the backend has no {name} dtype")
        return xp.astype(x, getattr(xp, name))

    def backward(self, g):
        return g
