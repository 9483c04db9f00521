"""Tensor: a numpy array plus its place in the graph. Operators and methods are thin calls
into ``ops``; the machinery behind them (operators built once, argument conversion, axis
and shape arithmetic) lives in ``_tensor_methods``. The module-level constructors and joins
(``zeros``, ``randn``, ``cat``, ``where``, ...) live in ``_creation`` and are importable
from here too (``tinygrad_gd.tensor.zeros``)."""

from __future__ import annotations

import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from . import _validate, autograd
from . import ops as _ops
from ._graph_tensor import GraphTensor, bump_version, new_tensor, share_version_box
from ._tensor_methods import (
    FLOAT_KINDS,
    DtypeError,
    binary,
    binary_operator,
    check_requires_grad,
    comparison,
    flatten_shape,
    inplace,
    operand,
    reduction_axes,
    shape_argument,
    softmax_axis,
    spread_count,
    squeeze_shape,
    to_array,
    transpose_permutation,
)
from ._typing import Axis, TensorLike
from .autograd import is_grad_enabled


class Tensor(GraphTensor):
    """An n-dimensional array that records the operations applied to it for backward.

    ``Tensor(data, requires_grad=False, dtype=None)``: numbers, lists and int/bool arrays
    become float64; float32/float64 arrays keep their dtype (and are not copied); an
    explicit ``dtype`` wins. Only float tensors can require grad.
    """

    __slots__ = ()
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray + t is a Tensor
    __array_priority__ = 1000

    def __init__(self, data: TensorLike, requires_grad: bool = False, dtype: DTypeLike = None) -> None:
        arr = to_array(data, dtype)
        check_requires_grad(arr, requires_grad)
        self.data = arr
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None
        # Sharing another tensor's array means sharing its in-place version counter too.
        shares = isinstance(data, GraphTensor) and data.data is arr
        self._version_box = share_version_box(data, self) if shares else [0]
        self._retains_grad = False

    # ------------------------------------------------------------------ attributes
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def grad_fn(self) -> Any:
        """The graph node that produced this tensor (``None`` for leaves)."""
        return self._node

    @property
    def T(self) -> Tensor:
        return self.transpose()

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        """Set ``requires_grad`` on a leaf in place and return it."""
        if self._node is not None and not requires_grad:
            raise RuntimeError(
                "requires_grad_(False) on a non-leaf tensor is not allowed; use .detach() to "
                "get a tensor outside the graph"
            )
        check_requires_grad(self.data, requires_grad)
        self.requires_grad = bool(requires_grad)
        return self

    def retain_grad(self) -> None:
        """Keep ``.grad`` on this non-leaf tensor after backward (leaves always keep it)."""
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on a tensor that does not require grad")
        if self._node is not None:
            self._retains_grad = True
            self._node.retain_ref = weakref.ref(self)

    @property
    def retains_grad(self) -> bool:
        return self._retains_grad

    def item(self) -> float:
        """The value of a one-element tensor as a Python number."""
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a one-element tensor, this one has shape {self.shape}; "
                f"use .tolist() or .numpy() for several values"
            )
        return self.data.item()

    def numpy(self) -> np.ndarray:
        """The underlying numpy array (shared, not copied)."""
        return self.data

    def tolist(self) -> Any:
        return self.data.tolist()

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data (and in-place version counter, as PyTorch),
        outside the graph (requires_grad=False)."""
        out = new_tensor(type(self), self.data, False, None)
        out._version_box = share_version_box(self, out)
        return out

    def astype(self, dtype: DTypeLike) -> Tensor:
        """Cast to ``dtype``; float-to-float casts are differentiable, others are detached."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind not in FLOAT_KINDS:
            return new_tensor(type(self), self.data.astype(dtype), False, None)
        return _ops.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def __array__(self, dtype: DTypeLike = None, copy: bool | None = None) -> np.ndarray:
        arr = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return arr.copy() if copy else arr

    def __repr__(self) -> str:
        body = np.array2string(self.data, separator=", ", prefix="Tensor(")
        extra = ""
        if self.dtype != np.float64:
            extra += f", dtype={self.dtype}"
        if self._node is not None:
            extra += f", grad_fn=<{self._node.name}>"
        elif self.requires_grad:
            extra += ", requires_grad=True"
        return f"Tensor({body}{extra})"

    def __format__(self, spec: str) -> str:
        """``f"{loss:.4f}"`` formats a one-element tensor's value (as PyTorch does)."""
        if spec and self.data.size == 1:
            return format(self.data.item(), spec)
        return format(str(self), spec)

    def __len__(self) -> int:
        if self.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.shape[0]

    def __iter__(self) -> Iterator[Tensor]:
        if self.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.shape[0]))

    def __bool__(self) -> bool:
        return bool(self.data)

    def __float__(self) -> float:
        return float(self.item())

    def __int__(self) -> int:
        return int(self.item())

    __hash__ = object.__hash__

    # ------------------------------------------------------------------ pickling
    def __getstate__(self) -> dict[str, Any]:
        return {"data": self.data, "requires_grad": self.requires_grad}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.data = state["data"]
        self.requires_grad = state["requires_grad"]
        self.grad = None
        self._node = None
        self._version_box = [0]
        self._retains_grad = False

    # ------------------------------------------------------------------ autograd
    def backward(
        self,
        gradient: TensorLike | None = None,
        retain_graph: bool | None = None,
        create_graph: bool = False,
    ) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``.

        ``gradient`` (same shape as self) is required unless self has one element.
        ``retain_graph`` defaults to ``create_graph``; without it the saved arrays are freed
        and a second backward through this graph raises.
        """
        autograd.backward(self, gradient, retain_graph, create_graph)


    # ------------------------------------------------------------------ arithmetic
    __add__ = binary_operator("__add__", _ops.Add, "+")
    __radd__ = binary_operator("__radd__", _ops.Add, "+", reflected=True)
    __sub__ = binary_operator("__sub__", _ops.Sub, "-")
    __rsub__ = binary_operator("__rsub__", _ops.Sub, "-", reflected=True)
    __mul__ = binary_operator("__mul__", _ops.Mul, "*")
    __rmul__ = binary_operator("__rmul__", _ops.Mul, "*", reflected=True)
    __truediv__ = binary_operator("__truediv__", _ops.Div, "/")
    __rtruediv__ = binary_operator("__rtruediv__", _ops.Div, "/", reflected=True)
    __pow__ = binary_operator("__pow__", _ops.Pow, "**")
    __rpow__ = binary_operator("__rpow__", _ops.Pow, "**", reflected=True)

    def __matmul__(self, other: TensorLike) -> Tensor:
        return _ops.MatMul.apply(self, operand(other))  # numpy's matmul errors name the shapes

    def __rmatmul__(self, other: TensorLike) -> Tensor:
        return _ops.MatMul.apply(operand(other), self)

    def __neg__(self) -> Tensor:
        return _ops.Neg.apply(self)

    def __pos__(self) -> Tensor:
        return self

    def __abs__(self) -> Tensor:
        return self.abs()

    add = __add__
    sub = __sub__
    mul = __mul__
    div = __truediv__
    pow = __pow__
    matmul = __matmul__
    neg = __neg__

    # ------------------------------------------------------------------ in place
    def __iadd__(self, other: TensorLike) -> Tensor:
        return inplace(self, other, np.add, _ops.Add, "+")

    def __isub__(self, other: TensorLike) -> Tensor:
        return inplace(self, other, np.subtract, _ops.Sub, "-")

    def __imul__(self, other: TensorLike) -> Tensor:
        return inplace(self, other, np.multiply, _ops.Mul, "*")

    def __itruediv__(self, other: TensorLike) -> Tensor:
        return inplace(self, other, np.true_divide, _ops.Div, "/")

    def zero_(self) -> Tensor:
        """Set every element to 0 in place (not recorded)."""
        self.data[...] = 0
        bump_version(self)
        return self

    # ------------------------------------------------------------------ comparisons
    __lt__ = comparison("__lt__", np.less)
    __le__ = comparison("__le__", np.less_equal)
    __gt__ = comparison("__gt__", np.greater)
    __ge__ = comparison("__ge__", np.greater_equal)
    __eq__ = comparison("__eq__", np.equal)  # type: ignore[assignment]
    __ne__ = comparison("__ne__", np.not_equal)  # type: ignore[assignment]

    # ------------------------------------------------------------------ elementwise
    def exp(self) -> Tensor:
        """exp(x)"""
        return _ops.Exp.apply(self)

    def log(self) -> Tensor:
        """natural log(x)"""
        return _ops.Log.apply(self)

    def sqrt(self) -> Tensor:
        """√x"""
        return _ops.Sqrt.apply(self)

    def abs(self) -> Tensor:
        """|x| (gradient 0 at 0)"""
        return _ops.Abs.apply(self)

    def sin(self) -> Tensor:
        return _ops.Sin.apply(self)

    def cos(self) -> Tensor:
        return _ops.Cos.apply(self)

    def tanh(self) -> Tensor:
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> Tensor:
        """1 / (1 + exp(-x)), stable for large |x|"""
        return _ops.Sigmoid.apply(self)

    def relu(self) -> Tensor:
        """max(x, 0) (gradient 0 at 0)"""
        return _ops.Relu.apply(self)

    def leaky_relu(self, slope: float = 0.01) -> Tensor:
        """x for x > 0, slope·x otherwise"""
        return _ops.LeakyRelu.apply(self, slope=float(slope))

    def softplus(self) -> Tensor:
        """log(1 + exp(x)), stable for large |x|"""
        return _ops.Softplus.apply(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Tensor:
        """min(max(x, lo), hi); either bound may be None"""
        if lo is None and hi is None:
            raise ValueError("clip needs at least one of lo and hi")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"clip bounds are reversed: lo={lo} > hi={hi}")
        return _ops.Clip.apply(self, lo=lo, hi=hi)

    def clamp(self, min: float | None = None, max: float | None = None) -> Tensor:  # noqa: A002
        """PyTorch's name for :meth:`clip`."""
        return self.clip(min, max)

    def maximum(self, other: TensorLike) -> Tensor:
        """Elementwise max(self, other); ties share the gradient evenly."""
        return binary(_ops.Maximum, self, operand(other), "maximum")

    def minimum(self, other: TensorLike) -> Tensor:
        """Elementwise min(self, other); ties share the gradient evenly."""
        return binary(_ops.Minimum, self, operand(other), "minimum")

    def square(self) -> Tensor:
        return self * self


    # ------------------------------------------------------------------ reductions
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Σ over ``axis`` (all axes when None)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.shape)
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Arithmetic mean over ``axis``."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.shape)
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Maximum over ``axis`` (values only; ties share the gradient evenly)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.shape)
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Minimum over ``axis`` (values only; ties share the gradient evenly)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.shape)
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Σ (x - mean)² / (n - ddof) over ``axis`` (ddof=0: numpy's population variance)."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.shape)
        n = spread_count(self.shape, axis, ddof, "var")
        centered = self - _ops.Mean.apply(self, axis=axis, keepdims=True)
        return _ops.Sum.apply(centered * centered, axis=axis, keepdims=keepdims) / float(n - ddof)

    def std(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """√var over ``axis``. Its gradient is 0 where the spread is 0 (all values equal, or an
        axis of length 1 with ddof=0: a batch of one), as PyTorch; never NaN."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.shape)
        spread_count(self.shape, axis, ddof, "std")
        return _ops.Std.apply(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def logsumexp(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """log Σ exp(x) over ``axis``, stable for large inputs."""
        axis, keepdims = reduction_axes(axis, keepdims, dim, keepdim, self.shape)
        return _ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    # ------------------------------------------------------------------ nn helpers
    def softmax(self, axis: Axis = -1, *, dim: Axis = None) -> Tensor:
        """exp(x) / Σ exp(x) along ``axis``, stable for large inputs. A tuple of axes
        normalises over them jointly (as ``scipy.special.softmax``)."""
        return _ops.Softmax.apply(self, axis=softmax_axis(axis if dim is None else dim, self.shape, "softmax"))

    def log_softmax(self, axis: Axis = -1, *, dim: Axis = None) -> Tensor:
        """x - logsumexp(x) along ``axis`` (an int or a tuple of axes), stable for large inputs."""
        return _ops.LogSoftmax.apply(self, axis=softmax_axis(axis if dim is None else dim, self.shape, "log_softmax"))

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Tensor:
        """The same values with a new shape (one entry may be -1)."""
        return _ops.Reshape.apply(self, shape=shape_argument(shape, "reshape shape", allow_unknown=True))

    view = reshape

    def transpose(self, *axes: Any) -> Tensor:
        """Swap or permute axes.

        ``transpose(i, j)`` (exactly two integer arguments) swaps axes i and j, as PyTorch,
        on a 2-D tensor too; ``transpose()`` reverses the axes; a full permutation, as
        separate arguments (``transpose(2, 0, 1)``) or one tuple/list (numpy's
        ``transpose((2, 0, 1))``, ``transpose((0, 1))``), moves axis ``axes[k]`` to position
        k, as numpy. Axes out of range raise, never wrap around.
        """
        return _ops.Transpose.apply(self, axes=transpose_permutation(axes, self.shape))

    def permute(self, *axes: Any) -> Tensor:
        """Reorder the axes by a full permutation (PyTorch's ``permute``)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list, np.ndarray)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=_validate.permutation(axes, self.ndim, "permute axes", self.shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes start_dim..end_dim into one (all of them by default)."""
        return self.reshape(flatten_shape(self.shape, start_dim, end_dim))

    def squeeze(self, axis: Axis = None, *, dim: Axis = None) -> Tensor:
        """Drop size-1 axes (all of them, or the given ones)."""
        return self.reshape(squeeze_shape(self.shape, dim if dim is not None else axis))

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a size-1 axis at ``axis``."""
        a = _validate.axis(axis, self.ndim, "unsqueeze axis", self.shape, insert=True)
        return self.reshape(self.shape[:a] + (1,) + self.shape[a:])

    expand_dims = unsqueeze

    def broadcast_to(self, *shape: Any) -> Tensor:
        """Repeat along size-1 (or new leading) axes to ``shape``."""
        return _ops.BroadcastTo.apply(self, shape=shape_argument(shape, "broadcast_to shape"))

    def __getitem__(self, index: Any) -> Tensor:
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
                f"item assignment t[...] = ... on a tensor of shape {self.shape} would not be "
                f"recorded for backward (the tensor or the assigned value requires grad). Do it "
                f"inside `with tg.no_grad():` (e.g. to edit parameters), or build a new tensor "
                f"with tg.where(mask, value, t)."
            )
        if not self.data.flags.writeable:
            raise RuntimeError(
                f"item assignment on a read-only tensor of shape {self.shape} (a broadcast_to "
                f"view repeats one memory location); copy it first (t * 1.0)."
            )
        # The index as numpy reads it: one rule, shared with GetItem (its gradient too).
        self.data[_ops.normalize_index(index)] = other.data if isinstance(other, GraphTensor) else other
        bump_version(self)


# The constructors and joins (tensor, zeros, ..., randn, cat, stack, where, maximum, minimum)
# need Tensor, so they are defined after it, in their own module, and re-exported here:
# ``tinygrad_gd.tensor.zeros`` and ``tg.zeros`` are the same function.
from . import _creation  # noqa: E402
from ._creation import *  # noqa: E402, F403

__all__ = ["Tensor", "DtypeError", *_creation.__all__]
