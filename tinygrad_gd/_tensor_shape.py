"""Tensor's shape and indexing methods (``t.reshape()``, ``t.transpose()``, ``t[i]``, ...): each a
thin call into ``tinygrad_gd.ops``. A new shape or indexing op's method goes here."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validate
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

