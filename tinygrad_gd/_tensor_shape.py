"""Tensor's shape and indexing methods (``t.reshape()``, ``t.transpose()``, ``t[i]``, ...): each a
thin call into ``tinygrad_gd.ops``. A new shape or indexing op's method goes here."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _backend, _validate
from . import ops as _ops
from ._graph_tensor import GraphTensor, bump_version
from ._modes import is_grad_enabled
from ._tensor_methods import flatten_shape, operand, shape_argument, squeeze_shape, transpose_permutation
from ._typing import Axis, TensorLike

__all__ = ["ShapeMethods"]


class ShapeMethods(GraphTensor):
    """The shape and indexing methods of :class:`~tinygrad_gd.Tensor`."""

    __slots__ = ()

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Any:
        """The same values with a new shape (one entry may be -1)."""
        return _ops.Reshape.apply(self, shape=shape_argument(shape, "reshape shape", allow_unknown=True))

    view = reshape

    def transpose(self, *axes: Any) -> Any:
        """Swap or permute axes.

        ``transpose(i, j)`` (exactly two integer arguments) swaps axes i and j, as PyTorch,
        on a 2-D tensor too; ``transpose()`` reverses the axes; a full permutation, as
        separate arguments (``transpose(2, 0, 1)``) or one tuple/list (numpy's
        ``transpose((2, 0, 1))``, ``transpose((0, 1))``), moves axis ``axes[k]`` to position
        k, as numpy. Axes out of range raise, never wrap around.
        """
        return _ops.Transpose.apply(self, axes=transpose_permutation(axes, self.data.shape))

    def permute(self, *axes: Any) -> Any:
        """Reorder the axes by a full permutation (PyTorch's ``permute``)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list, np.ndarray)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=_validate.permutation(axes, self.data.ndim, "permute axes", self.data.shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Any:
        """Merge axes start_dim..end_dim into one (all of them by default)."""
        return self.reshape(flatten_shape(self.data.shape, start_dim, end_dim))

    def squeeze(self, axis: Axis = None, *, dim: Axis = None) -> Any:
        """Drop size-1 axes (all of them, or the given ones)."""
        return self.reshape(squeeze_shape(self.data.shape, dim if dim is not None else axis))

    def unsqueeze(self, axis: int) -> Any:
        """Insert a size-1 axis at ``axis``."""
        a = _validate.axis(axis, self.data.ndim, "unsqueeze axis", self.data.shape, insert=True)
        return self.reshape(self.data.shape[:a] + (1,) + self.data.shape[a:])

    expand_dims = unsqueeze

    def broadcast_to(self, *shape: Any) -> Any:
        """Repeat along size-1 (or new leading) axes to ``shape``."""
        return _ops.BroadcastTo.apply(self, shape=shape_argument(shape, "broadcast_to shape"))

    def __getitem__(self, index: Any) -> Any:
        """Slices, integer arrays (repeats accumulate in the gradient) and boolean masks."""
        return _ops.GetItem.apply(self, index=index)  # GetItem normalises the index

    def __setitem__(self, index: Any, value: TensorLike) -> None:
        """``t[index] = value`` writes into the data in place (not recorded). Allowed where an
        in-place operator is allowed: inside ``no_grad()`` or on tensors that need no grad."""
        other = operand(value)
        recording = is_grad_enabled() and (
            self.requires_grad or (isinstance(other, GraphTensor) and other.requires_grad)
        )
        if recording:
            raise RuntimeError(
                f"item assignment t[...] = ... on a tensor of shape {self.data.shape} would not be "
                f"recorded for backward (the tensor or the assigned value requires grad). Do it "
                f"inside `with tg.no_grad():` (e.g. to edit parameters), or build a new tensor "
                f"with tg.where(mask, value, t)."
            )
        if not self.data.flags.writeable:
            raise RuntimeError(
                f"item assignment on a read-only tensor of shape {self.data.shape} (a broadcast_to "
                f"view repeats one memory location); copy it first (t * 1.0)."
            )
        # The index as numpy reads it: one rule, shared with GetItem (its gradient too).
        self.data[_ops.normalize_index(index)] = other.data if isinstance(other, GraphTensor) else other
        bump_version(self)


    # ------------------------------------------------------------------ moving axes
    def swapaxes(self, axis1: int, axis2: int) -> Any:
        """Swap two axes (numpy's swapaxes; PyTorch's transpose(i, j))."""
        ndim = self.data.ndim
        perm = list(range(ndim))
        a = _validate.axis(axis1, ndim, "swapaxes axis1", self.data.shape)
        b = _validate.axis(axis2, ndim, "swapaxes axis2", self.data.shape)
        perm[a], perm[b] = perm[b], perm[a]
        return _ops.Transpose.apply(self, axes=tuple(perm))

    def moveaxis(self, source: Axis, destination: Axis) -> Any:
        """Move axes to new positions, the others keeping their order (numpy's moveaxis,
        PyTorch's movedim)."""
        return _ops.Transpose.apply(self, axes=moveaxis_permutation(self.data.shape, source, destination))

    def flip(self, axis: Axis = None) -> Any:
        """Reverse the order along ``axis`` (an int, a tuple; None: every axis), numpy's flip."""
        return _ops.Flip.apply(self, axis=axis)

    def roll(self, shift: int | tuple[int, ...], axis: Axis = None) -> Any:
        """Shift cyclically by ``shift`` along ``axis`` (None: the flattened tensor, reshaped back), numpy's roll."""
        return _ops.Roll.apply(self, shift=shift, axis=axis)

    def tile(self, reps: int | tuple[int, ...]) -> Any:
        """Repeat the whole tensor ``reps`` times per axis, numpy's tile (PyTorch's ``Tensor.repeat``)."""
        return _ops.Tile.apply(self, reps=reps)

    def repeat(self, repeats: Any, axis: int | None = None) -> Any:
        """Repeat each element ``repeats`` times (an int or one count per element) along
        ``axis`` (None: the flattened tensor), numpy's repeat. Not PyTorch's ``Tensor.repeat``,
        which tiles: that one is :meth:`tile`."""
        return _ops.Repeat.apply(self, repeats=repeats, axis=axis)

    repeat_interleave = repeat  # PyTorch's name for numpy's repeat

    def pad(self, pad_width: Any, mode: str = "constant", value: float = 0.0) -> Any:
        """Pad with ``value`` (mode "constant"), the mirror image without the edge ("reflect")
        or the edge value ("edge"), numpy's pad and its ``pad_width`` forms."""
        return _ops.Pad.apply(self, pad_width=pad_width, mode=mode, value=value)

    def tril(self, k: int = 0) -> Any:
        """The lower triangle (on and below diagonal k) of each matrix, zeros above."""
        return _ops.Tril.apply(self, k=k)

    def triu(self, k: int = 0) -> Any:
        """The upper triangle (on and above diagonal k) of each matrix, zeros below."""
        return _ops.Triu.apply(self, k=k)

    def diagonal(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        """The diagonal of axes axis1, axis2 as the last axis (numpy's diagonal)."""
        return _ops.Diagonal.apply(self, offset=offset, axis1=axis1, axis2=axis2)

    def trace(self, offset: int = 0, axis1: int = 0, axis2: int = 1) -> Any:
        """The sum along that diagonal (numpy's trace)."""
        return _ops.Trace.apply(self, offset=offset, axis1=axis1, axis2=axis2)

    # ------------------------------------------------------------------ pieces
    def split(self, indices_or_sections: int | Any, axis: int = 0) -> tuple[Any, ...]:
        """numpy's split: an int n gives n equal pieces (the axis must divide evenly), a
        sequence gives the pieces between those indices. Not PyTorch's ``split``, whose int
        is a piece's size: that is ``chunk``-like slicing, see :meth:`chunk`."""
        a = _validate.axis(axis, self.data.ndim, "split axis", self.data.shape)
        return tuple(self[_every(self.data.ndim, a, piece)] for piece in split_slices(self.data.shape[a], indices_or_sections))

    def chunk(self, chunks: int, axis: int = 0) -> tuple[Any, ...]:
        """PyTorch's chunk: at most ``chunks`` pieces of ceil(n / chunks) along ``axis`` (the last may be smaller)."""
        a = _validate.axis(axis, self.data.ndim, "chunk axis", self.data.shape)
        n, k = self.data.shape[a], _validate.integer(chunks, "chunks")
        if k < 1:
            raise ValueError(f"chunk: chunks must be ≥ 1, got {k}")
        size = max(1, -(-n // k))
        return tuple(self[_every(self.data.ndim, a, slice(i, i + size))] for i in range(0, n, size)) or (self,)

    # ------------------------------------------------------------------ gather and scatter
    def take_along_axis(self, indices: Any, axis: int | None) -> Any:
        """numpy's take_along_axis: ``out[..., j, ...] = x[..., indices[..., j, ...], ...]``,
        the index broadcast against the tensor in the other axes (axis None: the flattened
        tensor). Repeated picks accumulate their gradients."""
        x = self.reshape(-1) if axis is None else self
        idx, a = _ops.check_along_axis(x.data.shape, indices, 0 if axis is None else axis, "take_along_axis")
        bad = [d for d in range(idx.ndim) if d != a and idx.shape[d] not in (1, x.data.shape[d])]
        if bad:
            raise ValueError(
                f"take_along_axis: index shape {idx.shape} does not broadcast against the tensor's "
                f"shape {x.data.shape} in axis {bad[0]} (sizes must match or be 1); use gather for a smaller index"
            )
        return _ops.GetItem.apply(x, index=_ops.along_axis_index(idx, a, x.data.shape))

    def gather(self, axis: int, index: Any) -> Any:
        """PyTorch's gather(dim, index): ``out[i][j] = x[index[i][j]][j]`` for axis 0; the
        index has the tensor's number of axes and is no larger in the other axes."""
        idx, a = _ops.check_along_axis(self.data.shape, index, axis, "gather")
        return _ops.GetItem.apply(self, index=_ops.along_axis_index(idx, a, idx.shape))

    def scatter_add(self, axis: int, index: Any, src: TensorLike) -> Any:
        """PyTorch's scatter_add(dim, index, src), out of place: a copy of this tensor with
        ``src[i][j]`` added at row ``index[i][j]`` (axis 0); repeats accumulate. Gradients
        flow to this tensor (unchanged) and to ``src`` (read back at the index)."""
        return _ops.ScatterAddAlong.apply(self, operand(src), axis=axis, index=index)

    def masked_fill(self, mask: Any, value: float) -> Any:
        """``value`` where the boolean ``mask`` (broadcast to this shape) is true, else this
        tensor (PyTorch's masked_fill); no gradient where it is filled."""
        m = mask.data if isinstance(mask, GraphTensor) else mask
        if isinstance(value, GraphTensor):
            if value.requires_grad:
                raise TypeError("masked_fill: value must be a number (a constant); for a value that needs a gradient use tg.where(mask, value, t)")
            value = value.data
        mask = m if _backend.is_foreign(m) else np.asarray(m)  # (a backend's own mask stays in it)
        return _ops.MaskedFill.apply(self, mask=mask, value=float(np.asarray(value)))


def _every(ndim: int, axis: int, part: Any) -> tuple[Any, ...]:
    return (slice(None),) * axis + (part,)


def split_slices(n: int, indices_or_sections: Any) -> list[slice]:
    """The pieces of numpy's split of an axis of length n, as slices."""
    if isinstance(indices_or_sections, (int, np.integer)) and not isinstance(indices_or_sections, bool):
        k = int(indices_or_sections)
        if k < 1 or n % k:
            raise ValueError(
                f"split: an axis of length {n} does not divide into {k} equal pieces; pass split "
                f"indices, or use chunk({k}) for pieces of ceil({n}/{k})"
            )
        return [slice(i * (n // k), (i + 1) * (n // k)) for i in range(k)]
    bounds = [_validate.integer(i, "split index") for i in indices_or_sections]
    return [slice(a, b) for a, b in zip([0, *bounds], [*bounds, n])]


def moveaxis_permutation(shape: tuple[int, ...], source: Axis, destination: Axis) -> tuple[int, ...]:
    """numpy's moveaxis as a permutation for transpose."""
    ndim = len(shape)
    src = [_validate.axis(a, ndim, "moveaxis source", shape) for a in (source if isinstance(source, (tuple, list)) else (source,))]
    dst = [_validate.axis(a, ndim, "moveaxis destination", shape) for a in (destination if isinstance(destination, (tuple, list)) else (destination,))]
    if len(src) != len(dst) or len(set(src)) != len(src) or len(set(dst)) != len(dst):
        raise ValueError(f"moveaxis: source {source!r} and destination {destination!r} must name as many distinct axes")
    order = [a for a in range(ndim) if a not in src]
    for d, s in sorted(zip(dst, src)):
        order.insert(d, s)
    return tuple(order)
