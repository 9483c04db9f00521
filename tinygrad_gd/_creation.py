"""The module-level constructors (``tensor``, ``zeros``, ``randn``, ...) and the functions
that join or choose between tensors (``concatenate``/``cat``, ``stack``, ``where``,
``maximum``, ``minimum``). All are re-exported by ``tensor.py`` and at the top level:
``tg.zeros`` is ``tinygrad_gd.tensor.zeros``.

Every constructor takes ``requires_grad=`` and ``dtype=`` (default float64); ``rng`` is a
``np.random.Generator`` or an int seed.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from . import _backend, _validate
from . import ops as _ops
from ._graph_tensor import GraphTensor, new_tensor
from ._tensor_methods import binary, check_requires_grad, operand, shape_argument
from ._typing import TensorLike
from .tensor import Tensor

__all__: list[str] = [
    "tensor",
    "zeros",
    "ones",
    "full",
    "zeros_like",
    "ones_like",
    "eye",
    "arange",
    "randn",
    "rand",
    "concatenate",
    "cat",
    "stack",
    "where",
    "maximum",
    "minimum",
]

Seed = np.random.Generator | int | None


# --------------------------------------------------------------------------- constructors
def tensor(data: TensorLike, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """Same as ``Tensor(data, requires_grad, dtype)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _leaf(arr: np.ndarray, requires_grad: bool) -> Tensor:
    """A leaf holding ``arr`` as it is (the constructors chose its dtype already)."""
    check_requires_grad(arr, requires_grad)
    return new_tensor(Tensor, arr, bool(requires_grad), None)


def _float_dtype(dtype: DTypeLike | None) -> np.dtype:
    return np.dtype(np.float64 if dtype is None else dtype)


def zeros(*shape: Any, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _leaf(np.zeros(shape_argument(shape), dtype=_float_dtype(dtype)), requires_grad)


def ones(*shape: Any, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """A tensor of ones."""
    return _leaf(np.ones(shape_argument(shape), dtype=_float_dtype(dtype)), requires_grad)


def full(shape: Any, fill_value: float, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    shape = _validate.shape(shape)
    return _leaf(np.full(shape, fill_value, dtype=_float_dtype(dtype)), requires_grad)


def _like(t: TensorLike, dtype: DTypeLike | None) -> tuple[tuple[int, ...], np.dtype]:
    """Shape and dtype for ``zeros_like``/``ones_like``: ``dtype=`` wins; a Tensor keeps its
    dtype, integer ones included (as numpy and PyTorch); other data follows the Tensor rule
    (an int array or list gives float64, as ``Tensor(data)`` would)."""
    if isinstance(t, GraphTensor):
        ref = t.data
        default = ref.dtype
    else:
        ref = np.asarray(t)
        default = ref.dtype if ref.dtype.kind == "f" else np.dtype(np.float64)
    return ref.shape, (default if dtype is None else np.dtype(dtype))


def zeros_like(t: TensorLike, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """Zeros with the shape and dtype of ``t`` (see ``_like``)."""
    shape, dtype = _like(t, dtype)
    return _leaf(np.zeros(shape, dtype=dtype), requires_grad)


def ones_like(t: TensorLike, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """Ones with the shape and dtype of ``t`` (see ``_like``)."""
    shape, dtype = _like(t, dtype)
    return _leaf(np.ones(shape, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """The n×m identity matrix."""
    return _leaf(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """Evenly spaced values in [start, stop) as float64 (numpy's arange)."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    return _leaf(arr.astype(_float_dtype(dtype)), requires_grad)


def randn(*shape: Any, rng: Seed = None, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """Standard normal samples; ``rng`` is a ``np.random.Generator`` or an int seed."""
    arr = _validate.generator(rng).standard_normal(shape_argument(shape))
    return _leaf(arr.astype(_float_dtype(dtype), copy=False), requires_grad)


def rand(*shape: Any, rng: Seed = None, requires_grad: bool = False, dtype: DTypeLike | None = None) -> Tensor:
    """Uniform samples in [0, 1); ``rng`` is a ``np.random.Generator`` or an int seed."""
    arr = _validate.generator(rng).random(shape_argument(shape))
    return _leaf(arr.astype(_float_dtype(dtype), copy=False), requires_grad)


# --------------------------------------------------------------------------- joins and choices
def concatenate(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts = [_validate.as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("concatenate needs at least one tensor")
    ndim = ts[0].ndim
    if ndim == 0:
        raise ValueError("zero-dimensional tensors cannot be concatenated; use stack")
    shapes = [t.shape for t in ts]
    a = _validate.axis(axis, ndim, "concatenate axis", shapes[0])
    for s in shapes:
        if len(s) != ndim or s[:a] + s[a + 1 :] != shapes[0][:a] + shapes[0][a + 1 :]:
            raise ValueError(f"cannot concatenate shapes {shapes} along axis {axis}: all other axes must match")
    return _ops.Concatenate.apply(*ts, axis=a)


cat = concatenate


def stack(tensors: Sequence[TensorLike], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    ts = [_validate.as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    a = _validate.axis(axis, ts[0].ndim, "stack axis", ts[0].shape, insert=True)
    return concatenate([t.unsqueeze(a) for t in ts], axis=a)


def _operands(a: TensorLike, b: TensorLike) -> tuple[Any, Any]:
    """Both sides of a choice as operands, at least one of them a Tensor."""
    a, b = operand(a), operand(b)
    if not isinstance(a, GraphTensor) and not isinstance(b, GraphTensor):
        a = Tensor(a)
    return a, b


def where(cond: TensorLike, a: TensorLike, b: TensorLike) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (the gradient flows only to the chosen side).

    ``cond`` is a boolean mask (e.g. ``x > 0``); integer 0/1 masks work as in numpy. A float
    condition raises ``TypeError``: every nonzero value (a probability of 0.2 too) would count
    as true."""
    c = cond.data if isinstance(cond, GraphTensor) else np.asarray(_validate.plain_array(cond, "where's condition"))
    if _ops.kind_of(c) not in "biu":
        raise TypeError(
            f"where: the condition must be a boolean mask (e.g. x > 0 or p > 0.5), got dtype "
            f"{c.dtype}; with a float condition every nonzero value, 0.2 included, would count "
            f"as true. Compare it first, e.g. where(p > 0.5, a, b)."
        )
    a, b = _operands(a, b)
    return _ops.Where.apply(c.astype(bool, copy=False) if type(c) is np.ndarray else _as_bool(c), a, b)


def _as_bool(c: Any) -> Any:
    """A non-numpy condition as its backend's bool array."""
    xp = _ops.xp_of(c)
    return _backend.astype(c, xp.bool)


def maximum(a: TensorLike, b: TensorLike) -> Tensor:
    """Elementwise max(a, b); ties share the gradient evenly."""
    return binary(_ops.Maximum, *_operands(a, b), "maximum")


def minimum(a: TensorLike, b: TensorLike) -> Tensor:
    """Elementwise min(a, b); ties share the gradient evenly."""
    return binary(_ops.Minimum, *_operands(a, b), "minimum")
