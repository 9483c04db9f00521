"""The machinery behind Tensor's methods, so that ``tensor.py``'s methods stay thin calls
into the ops: the operators (built once each: binary, comparison, in-place), data to an
array by DESIGN.md's dtype rules, the other operand of an operator, the axes and shapes the
shape and reduction methods mean, and the error messages when they cannot.

Never imports ``tensor.py`` (the engine's ``GraphTensor`` is all it needs to know).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import _backend, _validate
from . import autograd as _autograd
from ._graph_tensor import GraphTensor, bump_version, memory_sharers, new_tensor
from ._modes import is_grad_enabled
from ._typing import Axis, TensorLike

__all__ = [
    "DtypeError",
    "FLOAT_KINDS",
    "check_requires_grad",
    "binary_operator",
    "comparison",
    "inplace",
    "to_array",
    "check_dtype",
    "operand",
    "shape_of",
    "operand_error",
    "binary",
    "reduction_axes",
    "shape_argument",
    "transpose_permutation",
    "flatten_shape",
    "squeeze_shape",
    "softmax_axis",
    "spread_count",
]

FLOAT_KINDS = "f"  # the dtype kinds a tensor that requires grad may have


class DtypeError(TypeError, RuntimeError):
    """A dtype that cannot do what was asked (e.g. an integer tensor that requires grad).

    A ``TypeError`` in numpy's vocabulary and a ``RuntimeError`` as PyTorch raises it, so
    either ``except`` clause catches it.
    """

    __module__ = "tinygrad_gd.tensor"  # where it is imported from (tg.DtypeError), in tracebacks


# --------------------------------------------------------------------------- values
def to_array(data: Any, dtype: Any) -> np.ndarray:
    """Apply DESIGN.md's dtype rules: numbers, lists, int/bool arrays become float64; float
    arrays keep their dtype and are not copied; an explicit ``dtype`` wins."""
    if isinstance(data, GraphTensor):
        data = data.data
    if isinstance(data, (str, bytes)):
        raise TypeError(f"Tensor data must be numbers, not {type(data).__name__} {data!r}")
    if isinstance(data, np.ndarray):
        arr = _validate.plain_array(data)  # np.matrix -> ndarray (2-D kept); masked arrays raise
    elif _backend.is_foreign(data):
        return foreign_array(data, dtype)
    else:
        try:
            arr = np.array(data)
        except ValueError as e:
            raise ValueError(
                f"cannot make a Tensor from ragged nested lists ({e}); every row must have "
                f"the same length"
            ) from None
    # Checked before any dtype= conversion: numpy would silently parse ["1.5"] as a number.
    check_dtype(arr.dtype, data)
    if dtype is not None:
        dtype = np.dtype(dtype)
        check_dtype(dtype, data)
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind not in FLOAT_KINDS:
        arr = arr.astype(np.float64)
    return arr


def foreign_array(data: Any, dtype: Any) -> Any:
    """An array of another backend (CuPy, Dask, array-api-strict) by the same dtype rules, in
    its own library: ``dtype=`` a numpy dtype (or the namespace's own) is looked up by name
    in the array's namespace; bool and integer arrays become its float64."""
    xp = _backend.namespace(data)
    if dtype is not None:
        if isinstance(dtype, (type, str, np.dtype)):  # a numpy dtype: the namespace's of that name
            dtype = getattr(xp, np.dtype(dtype).name)
        return xp.astype(data, dtype, copy=False)
    if not _backend.is_float_dtype(data.dtype, xp):
        if not (xp.isdtype(data.dtype, "integral") or xp.isdtype(data.dtype, "bool")):
            raise TypeError(
                f"Tensor data must be real numbers (bool, int or float), got dtype {data.dtype} "
                f"from {type(data).__name__}"
            )
        return xp.astype(data, xp.float64)
    return data


def check_dtype(dtype: np.dtype, data: Any) -> None:
    """Refuse strings, objects, dates and complex numbers: a Tensor holds real numbers."""
    if dtype.kind in "OUSVMmc":
        what = "complex numbers" if dtype.kind == "c" else f"dtype {dtype}"
        raise TypeError(
            f"Tensor data must be real numbers (bool, int or float), got {what} from "
            f"{type(data).__name__}; convert strings with float(...) or np.asarray(..., dtype=float)"
        )


def check_requires_grad(arr: np.ndarray, requires_grad: bool) -> None:
    if requires_grad and not _backend.is_floating(arr):
        raise DtypeError(
            f"only floating-point tensors can require gradients, but this tensor has dtype "
            f"{arr.dtype}. Use a float dtype (dtype=np.float64) or requires_grad=False."
        )


def operand(x: Any) -> Any:
    """The other operand of a binary op: a Tensor, a Python number, or a numpy array."""
    if isinstance(x, GraphTensor):
        return x
    if isinstance(x, np.generic):
        # numpy scalars are weakly typed here, as Python numbers (float32 stays float32).
        # (Checked first: np.float64 is a subclass of float.)
        check_dtype(x.dtype, x)
        x = x.item()
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        return x
    if isinstance(x, np.ndarray):
        x = _validate.plain_array(x, "an operand")  # np.matrix's * would be a matrix product
        check_dtype(x.dtype, x)
        return x
    if isinstance(x, (list, tuple)):
        return to_array(x, None)
    if x is None:
        raise TypeError(_NONE_OPERAND)
    if _backend.is_foreign(x):
        return x  # an array of another backend: Function.apply checks that it matches
    raise TypeError(f"unsupported operand type for a Tensor operation: {type(x).__name__}")


_NONE_OPERAND = (
    "unsupported operand type for a Tensor operation: NoneType. If it is a .grad (w - w.grad): "
    "w.grad is None because backward() has not reached w, or because w is no longer a leaf: "
    "after w = w - lr * w.grad, w was rebound to the result of an operation, and backward() "
    "fills .grad only on leaves. Update parameters in place instead: "
    "`with tg.no_grad(): w -= lr * w.grad` (then w.grad = None), or use an optimizer."
)


def shape_of(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x.data if isinstance(x, GraphTensor) else x))


def operand_error(a: Any, b: Any, symbol: str, error: ValueError) -> ValueError:
    """The error to raise when a binary op failed: a clear one for non-broadcastable shapes,
    the original otherwise."""
    sa, sb = shape_of(a), shape_of(b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        return ValueError(
            f"shapes {sa} and {sb} cannot be broadcast together for '{symbol}': trailing "
            f"axes must be equal or 1. Reshape one operand (e.g. y.reshape(-1, 1) or "
            f"y.reshape(-1)) so that they line up."
        )
    return error


def binary(op: Any, a: Any, b: Any, symbol: str) -> Any:
    """``op.apply(a, b)`` for operands already converted, with :func:`operand_error`'s
    message when their shapes do not broadcast."""
    try:
        return op.apply(a, b)
    except ValueError as error:
        raise operand_error(a, b, symbol, error) from None


# --------------------------------------------------------------------------- operators
# Number types the binary operators pass straight to the op; an operand of the tensor's own
# type passes too. Everything else goes through ``operand``.
_PLAIN_NUMBERS = frozenset({float, int})


def binary_operator(name: str, op: Any, symbol: str, reflected: bool = False) -> Callable[[Any, TensorLike], Any]:
    """The method ``name`` (``__add__``, ``__radd__``, ...): ``self <symbol> other`` as one
    call of ``op`` (``other <symbol> self`` when ``reflected``), with a clear error for
    shapes that do not broadcast. Built once per operator, so every operator is one line."""

    apply = op.apply if not reflected else lambda a, b: op.apply(b, a)

    def operator(self: Any, other: TensorLike) -> Any:
        kind = type(other)
        if kind is not type(self) and kind not in _PLAIN_NUMBERS:
            other = operand(other)
        try:
            return apply(self, other)
        except ValueError as error:
            a, b = (other, self) if reflected else (self, other)
            raise operand_error(a, b, symbol, error) from None

    operator.__name__ = operator.__qualname__ = name
    operator.__doc__ = f"other {symbol} self" if reflected else f"self {symbol} other"
    return operator


def comparison(name: str, ufunc: np.ufunc) -> Callable[[Any, Any], Any]:
    """The comparison method ``name``: a bool-dtype Tensor outside the graph (no grad)."""

    def compare(self: Any, other: Any) -> Any:
        try:
            other = operand(other)
        except TypeError:
            return NotImplemented  # t == None is False, t < "a" raises TypeError (Python's rules)
        value = other.data if isinstance(other, GraphTensor) else other
        data = self.data
        # another backend compares by its own operator (numpy's ufunc would convert it)
        out = np.asarray(ufunc(data, value)) if type(data) is np.ndarray else getattr(data, name)(value)
        if _autograd._tracer is not None:  # tg.compile: a mask computed from traced values
            _autograd._tracer.record_call(ufunc, (self.data, value), out)
        return new_tensor(type(self), out, False, None)

    compare.__name__ = compare.__qualname__ = name
    return compare


def inplace(t: Any, other: TensorLike, ufunc: np.ufunc, op: type, symbol: str) -> Any:
    """``t <symbol>= other``: into ``t.data`` when nothing is recorded, else recorded out of
    place (the name is rebound to the result) or refused: never a wrong gradient."""
    if type(other) not in _PLAIN_NUMBERS:
        other = operand(other)
    other_requires = isinstance(other, GraphTensor) and other.requires_grad
    if (t.requires_grad or other_requires) and is_grad_enabled():
        return _inplace_recorded(t, other, op, symbol)
    if not t.data.flags.writeable:
        raise RuntimeError(
            f"in-place '{symbol}=' on a read-only tensor of shape {t.shape} (a broadcast_to "
            f"view repeats one memory location): write x = x {symbol} y instead."
        )
    value = other.data if isinstance(other, GraphTensor) else other
    try:
        ufunc(t.data, value, out=t.data, casting="same_kind")
    except ValueError:
        raise _inplace_shape_error(t, other, symbol) from None
    bump_version(t)  # views of the same memory share this counter
    return t


def _inplace_recorded(t: Any, other: Any, op: type, symbol: str) -> Any:
    if t.requires_grad and t._node is None:
        raise RuntimeError(
            f"a leaf Tensor that requires grad is being used in an in-place operation "
            f"(x {symbol}= ...): that would change a value the graph depends on. Update "
            f"parameters inside `with tg.no_grad(): x {symbol}= ...`, or write "
            f"x = x {symbol} ... for a new tensor."
        )
    # A non-leaf, or an operand that requires grad: record the operation out of place (the
    # name is rebound to the result), so the values the graph saved stay intact and the
    # operand's gradient is not silently dropped. That cannot write through to other tensors
    # seeing the same memory (a base, a view, an alias): refuse then.
    sharers = memory_sharers(t)
    if sharers:
        raise RuntimeError(_shared_inplace_message(t, sharers, symbol))
    out = binary(op, t, other, symbol)
    if out.shape != t.shape:
        raise _inplace_shape_error(t, other, symbol)
    return out if out.dtype == t.dtype else out.astype(t.dtype)


def _inplace_shape_error(t: Any, other: Any, symbol: str) -> ValueError:
    return ValueError(
        f"in-place '{symbol}=' cannot change the shape: this tensor has shape "
        f"{t.shape}, the other operand {shape_of(other)}. Use x = x {symbol} y instead."
    )


def _shared_inplace_message(t: Any, sharers: list[Any], symbol: str) -> str:
    shapes = ", ".join(str(o.shape) for o in sharers[:3]) + (", ..." if len(sharers) > 3 else "")
    return (
        f"in-place 'x {symbol}= ...' on a tensor of shape {t.shape} that shares its memory with "
        f"{len(sharers)} other live tensor(s) (shape {shapes}: a view of it such as t[0:2], "
        f"t.reshape(...) or t.T, the tensor it is a view of, or an alias from detach()). While "
        f"recording for backward it can only be recorded out of place, so it would not write "
        f"through to them as it does without grad (PyTorch changes them too). Build the new "
        f"value out of place instead: x = x {symbol} y (the other tensors keep their values), or "
        f"rebuild the whole base, e.g. h = tg.where(mask, h {symbol} y, h) or tg.cat([...])."
    )



# --------------------------------------------------------------------------- axes and shapes
def reduction_axes(
    axis: Axis, keepdims: bool, dim: Axis, keepdim: bool | None, shape: tuple[int, ...] | int
) -> tuple[tuple[int, ...] | None, bool]:
    """A reduction's ``(axis, keepdims)`` as the op takes them, with PyTorch's ``dim``/
    ``keepdim`` aliases. ``shape`` is the tensor's shape (named in errors), or a bare ndim."""
    if dim is not None:
        if axis is not None:
            raise TypeError("pass either axis= or its alias dim=, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    ndim, named = (shape, None) if isinstance(shape, int) else (len(shape), shape)
    if ndim == 0:
        _validate.axes(axis, 0, "axis", named)  # a 0-d tensor accepts axis 0 or -1, as PyTorch
        return None, bool(keepdims)
    return _validate.axes(axis, ndim, "axis", named), bool(keepdims)


def shape_argument(shape: tuple[Any, ...], argument: str = "shape", allow_unknown: bool = False) -> tuple[int, ...]:
    """A shape passed as separate integers (``reshape(2, 3)``) or as one sequence
    (``reshape((2, 3))``)."""
    given: Any = shape[0] if len(shape) == 1 and isinstance(shape[0], (tuple, list, np.ndarray)) else shape
    return _validate.shape(given, argument, allow_unknown=allow_unknown)


def transpose_permutation(axes: tuple[Any, ...], shape: tuple[int, ...]) -> tuple[int, ...] | None:
    """The permutation ``transpose(*axes)`` means (None: reverse all axes); see
    ``Tensor.transpose`` for the two readings of two axes."""
    ndim = len(shape)
    if not axes or (len(axes) == 1 and axes[0] is None):
        return None
    if len(axes) == 2:
        i, j = (_validate.axis(a, ndim, "transpose axis", shape) for a in axes)
        perm = list(range(ndim))
        perm[i], perm[j] = perm[j], perm[i]
        return tuple(perm)
    if len(axes) == 1 and isinstance(axes[0], (tuple, list, np.ndarray)):
        axes = tuple(axes[0])
        if len(axes) == 2 and ndim != 2:
            raise ValueError(
                f"transpose({axes!r}) on a tensor of shape {shape}: one tuple is numpy's "
                f"full permutation of all {ndim} axes; to swap two axes pass them as two "
                f"arguments, transpose({axes[0]}, {axes[1]})"
            )
    return _validate.permutation(axes, ndim, "transpose axes", shape)


def flatten_shape(shape: tuple[int, ...], start_dim: int, end_dim: int) -> tuple[int, ...]:
    """The shape after merging axes ``start_dim..end_dim`` into one (a 0-d shape gives (1,))."""
    ndim = max(len(shape), 1)  # a 0-d tensor flattens to shape (1,), with axis 0 or -1
    s = _validate.axis(start_dim, ndim, "flatten start_dim", shape)
    e = _validate.axis(end_dim, ndim, "flatten end_dim", shape)
    if s > e:
        raise ValueError(
            f"flatten start_dim={start_dim} comes after end_dim={end_dim} for a tensor of "
            f"shape {shape}: pass start_dim ≤ end_dim"
        )
    if not shape:
        return (1,)
    return shape[:s] + (int(np.prod(shape[s : e + 1])),) + shape[e + 1 :]


def squeeze_shape(shape: tuple[int, ...], axis: Axis) -> tuple[int, ...]:
    """The shape without its size-1 axes (all of them, or the given ones, which must be 1)."""
    if not shape:
        _validate.axes(axis, 0, "squeeze axis", shape)  # axis 0 or -1, as PyTorch
        return ()
    if axis is None:
        return tuple(n for n in shape if n != 1)
    axes = _validate.axes(axis, len(shape), "squeeze axis", shape) or ()
    for a in axes:
        if shape[a] != 1:
            raise ValueError(f"cannot squeeze axis {a} of shape {shape}: its size is not 1")
    return tuple(n for i, n in enumerate(shape) if i not in axes)


def softmax_axis(axis: Axis, shape: tuple[int, ...], name: str) -> int | tuple[int, ...] | None:
    """softmax's axis as the op takes it: an int, a tuple of several axes, or None for a
    0-d tensor (its one element: softmax 1.0, log_softmax 0.0, as PyTorch)."""
    if axis is None:
        raise TypeError(
            f"{name}: axis=None is ambiguous (PyTorch would pick an axis implicitly); pass "
            f"an int axis, or a tuple of axes to normalise over them jointly (all of them: "
            f"axis=tuple(range(x.ndim)))"
        )
    axes = _validate.axes(axis, len(shape), f"{name} axis", shape)
    if not shape:
        return None
    if not axes:
        raise ValueError(f"{name} needs at least one axis to normalise over, got axis={axis!r}")
    return axes[0] if len(axes) == 1 else axes


def spread_count(shape: tuple[int, ...], axis: tuple[int, ...] | None, ddof: int, name: str) -> int:
    """The number of values per var/std result; raises when n - ddof ≤ 0."""
    n = int(np.prod(shape)) if axis is None else int(np.prod([shape[a] for a in axis]))
    if n - ddof <= 0:
        raise ValueError(f"{name} over {n} element(s) with ddof={ddof} divides by {n - ddof}")
    return n
