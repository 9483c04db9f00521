"""Module-level shape functions (``tg.einsum``, ``tg.tensordot``, ``tg.outer``, ``tg.split``,
``tg.chunk``) and the no-gradient helper ``tg.one_hot``. The contractions are one recorded
``Einsum`` each; ``split``/``chunk`` are the Tensor methods."""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from . import _validate
from . import ops as _ops
from ._graph_tensor import GraphTensor
from ._typing import TensorLike
from .tensor import Tensor

__all__ = ["einsum", "tensordot", "outer", "split", "chunk", "one_hot"]


def einsum(subscripts: str, *operands: TensorLike) -> Tensor:
    """numpy's einsum, differentiable in every operand: any subscripts numpy accepts
    (``'ij,jk->ik'``, implicit output ``'ij,jk'``, ellipsis ``'...ij,...jk'``, diagonals
    ``'ii->i'``, size-1 broadcasting)."""
    if not isinstance(subscripts, str):
        raise TypeError(f"einsum: the first argument is the subscripts string (e.g. 'ij,jk->ik'), got {type(subscripts).__name__}")
    ts = [_validate.as_tensor(x, "einsum operand") for x in operands]
    if not ts:
        raise ValueError("einsum needs at least one operand")
    return _ops.Einsum.apply(*ts, subscripts=subscripts)


def _tensordot_subscripts(a_ndim: int, b_ndim: int, axes: Any, shapes: tuple[Any, Any]) -> str:
    if isinstance(axes, (int, np.integer)):
        k = int(axes)
        if k < 0 or k > min(a_ndim, b_ndim):
            raise ValueError(f"tensordot: axes={k} for shapes {shapes[0]} and {shapes[1]}")
        pairs = (list(range(a_ndim - k, a_ndim)), list(range(k)))
    else:
        first, second = axes
        pairs = ([first] if isinstance(first, int) else list(first), [second] if isinstance(second, int) else list(second))
    a_axes = [_validate.axis(i, a_ndim, "tensordot axes", shapes[0]) for i in pairs[0]]
    b_axes = [_validate.axis(i, b_ndim, "tensordot axes", shapes[1]) for i in pairs[1]]
    if len(a_axes) != len(b_axes):
        raise ValueError(f"tensordot: axes {axes!r} pair {len(a_axes)} axes of a with {len(b_axes)} of b")
    letters = iter("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ")
    a_sub = [next(letters) for _ in range(a_ndim)]
    b_sub = [next(letters) for _ in range(b_ndim)]
    for i, j in zip(a_axes, b_axes):
        b_sub[j] = a_sub[i]
    out = [c for k, c in enumerate(a_sub) if k not in a_axes] + [c for k, c in enumerate(b_sub) if k not in b_axes]
    return "".join(a_sub) + "," + "".join(b_sub) + "->" + "".join(out)


def tensordot(a: TensorLike, b: TensorLike, axes: Any = 2) -> Tensor:
    """numpy's tensordot: sum over the last ``axes`` axes of a and the first of b, or over the
    pairs ``(a_axes, b_axes)``; the free axes of a, then those of b."""
    ta, tb = _validate.as_tensor(a, "tensordot's a"), _validate.as_tensor(b, "tensordot's b")
    return _ops.Einsum.apply(ta, tb, subscripts=_tensordot_subscripts(ta.ndim, tb.ndim, axes, (ta.shape, tb.shape)))


def outer(a: TensorLike, b: TensorLike) -> Tensor:
    """The outer product a bᵀ of the flattened a and b (numpy's outer; torch's for vectors)."""
    ta, tb = _validate.as_tensor(a, "outer's a"), _validate.as_tensor(b, "outer's b")
    return _ops.Einsum.apply(ta.reshape(-1), tb.reshape(-1), subscripts="i,j->ij")


def split(t: TensorLike, indices_or_sections: Any, axis: int = 0) -> tuple[Tensor, ...]:
    """numpy's split (see ``Tensor.split``): a tuple of pieces, each with its gradient."""
    return _validate.as_tensor(t, "split's tensor").split(indices_or_sections, axis)


def chunk(t: TensorLike, chunks: int, axis: int = 0) -> tuple[Tensor, ...]:
    """PyTorch's chunk (see ``Tensor.chunk``)."""
    return _validate.as_tensor(t, "chunk's tensor").chunk(chunks, axis)


def one_hot(labels: TensorLike, num_classes: int = -1, dtype: DTypeLike = np.float64) -> Tensor:
    """Rows of the identity: ``out[..., c] = 1`` where ``labels == c`` (PyTorch's F.one_hot;
    float64 by default, to use as a target; no gradient). ``labels`` are integer class ids
    (an int array, a list, or a Tensor of whole numbers); ``num_classes=-1``: max + 1."""
    ids = np.asarray(labels.data if isinstance(labels, GraphTensor) else labels)
    if ids.dtype.kind == "f" and np.all(np.mod(ids, 1) == 0):
        ids = ids.astype(np.int64)
    if ids.dtype.kind not in "iu":
        raise TypeError(f"one_hot: labels must be integer class ids, got dtype {ids.dtype}")
    k = _validate.integer(num_classes, "num_classes")
    k = int(ids.max()) + 1 if k == -1 and ids.size else max(k, 0)
    if ids.size and (ids.min() < 0 or ids.max() >= k):
        raise ValueError(f"one_hot: labels must lie in [0, {k - 1}] for num_classes={k}, got {ids.min()}..{ids.max()}")
    return Tensor(ids[..., None] == np.arange(k), dtype=dtype)
