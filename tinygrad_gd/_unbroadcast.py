"""``unbroadcast``: the gradient of broadcasting, summed back to an input's shape. The engine
applies it centrally (op authors cannot forget it); written with methods that numpy arrays
and Tensors share, so it records under ``create_graph``."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _backend
from ._graph_tensor import GraphTensor

__all__ = ["unbroadcast"]


def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` back to ``shape``: the gradient of broadcasting an input to the output.

    Handles different ranks (``()`` vs ``(1,)`` vs ``(n, 1)``). Written with methods that
    numpy arrays and Tensors share, so it also records under ``create_graph``.
    """
    gshape = grad.shape
    if gshape == shape:
        return grad
    extra = len(gshape) - len(shape)
    if extra < 0:
        # A gradient with fewer dimensions than its input: broadcast it up (e.g. a scalar rule).
        grad = _reshape(grad, (1,) * -extra + tuple(gshape))
        data = grad.data if isinstance(grad, GraphTensor) else grad
        return grad + _backend.xp_of(data).zeros(shape, dtype=grad.dtype)
    axes = tuple(range(extra))
    if shape:
        axes += tuple(i + extra for i, n in enumerate(shape) if n == 1 and gshape[i + extra] != 1)
    if type(grad) is np.ndarray:
        # np.add.reduce is what ndarray.sum runs, without its Python wrapper; to a 0-d input
        # (a bias) the sum is already the value, as a numpy scalar the engine wants an array of
        if not shape:
            return np.asarray(np.add.reduce(grad, axis=axes))
        return np.add.reduce(grad, axis=axes, keepdims=True).reshape(shape) if axes else grad.reshape(shape)
    if axes:
        if isinstance(grad, GraphTensor):
            grad = grad.sum(axis=axes, keepdims=True)  # type: ignore[attr-defined]  # (Tensor.sum)
        else:
            grad = _backend.namespace(grad).sum(grad, axis=axes, keepdims=True)
    return _reshape(grad, shape)


def _reshape(x: Any, shape: tuple[int, ...]) -> Any:
    if type(x) is np.ndarray or isinstance(x, GraphTensor):
        return x.reshape(shape)  # type: ignore[union-attr]  # (Tensor.reshape)
    return _backend.namespace(x).reshape(x, shape)
