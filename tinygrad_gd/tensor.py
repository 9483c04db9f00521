"""Tensor: a numpy array plus its place in the graph. Operators and methods are thin calls
into ``ops``; module-level constructors (``zeros``, ``randn``, ...) live here too."""

from __future__ import annotations

import weakref
from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from . import _validate, autograd
from . import ops as _ops
from .autograd import GraphTensor, _new_tensor, is_grad_enabled

__all__ = [
    "Tensor",
    "DtypeError",
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
    "cat",
    "concatenate",
    "stack",
    "where",
    "maximum",
    "minimum",
]

Axis = int | Sequence[int] | None


class DtypeError(TypeError, RuntimeError):
    """A dtype that cannot do what was asked (e.g. an integer tensor that requires grad).

    A ``TypeError`` in numpy's vocabulary and a ``RuntimeError`` as PyTorch raises it, so
    either ``except`` clause catches it.
    """


_FLOAT_KINDS = "f"


def _to_array(data: Any, dtype: Any) -> np.ndarray:
    """Apply DESIGN.md's dtype rules: numbers, lists, int/bool arrays become float64; float
    arrays keep their dtype and are not copied; an explicit ``dtype`` wins."""
    if isinstance(data, GraphTensor):
        data = data.data
    if isinstance(data, (str, bytes)):
        raise TypeError(f"Tensor data must be numbers, not {type(data).__name__} {data!r}")
    is_array = isinstance(data, np.ndarray)
    if is_array:
        arr = _validate.plain_array(data)  # np.matrix -> ndarray (2-D kept); masked arrays raise
    else:
        try:
            arr = np.array(data)
        except ValueError as e:
            raise ValueError(
                f"cannot make a Tensor from ragged nested lists ({e}); every row must have "
                f"the same length"
            ) from None
    # Checked before any dtype= conversion: numpy would silently parse ["1.5"] as a number.
    _check_dtype(arr.dtype, data)
    if dtype is not None:
        dtype = np.dtype(dtype)
        _check_dtype(dtype, data)
        return arr.astype(dtype, copy=False)
    if arr.dtype.kind not in _FLOAT_KINDS:
        arr = arr.astype(np.float64)
    return arr


def _check_dtype(dtype: np.dtype, data: Any) -> None:
    if dtype.kind in "OUSVMmc":
        what = "complex numbers" if dtype.kind == "c" else f"dtype {dtype}"
        raise TypeError(
            f"Tensor data must be real numbers (bool, int or float), got {what} from "
            f"{type(data).__name__}; convert strings with float(...) or np.asarray(..., dtype=float)"
        )


def _check_requires_grad(arr: np.ndarray, requires_grad: bool) -> None:
    if requires_grad and arr.dtype.kind not in _FLOAT_KINDS:
        raise DtypeError(
            f"only floating-point tensors can require gradients, but this tensor has dtype "
            f"{arr.dtype}. Use a float dtype (dtype=np.float64) or requires_grad=False."
        )


def _operand(x: Any) -> Any:
    """The other operand of a binary op: a Tensor, a Python number, or a numpy array."""
    if isinstance(x, GraphTensor):
        return x
    if isinstance(x, np.generic):
        # numpy scalars are weakly typed here, as Python numbers (float32 stays float32).
        # (Checked first: np.float64 is a subclass of float.)
        _check_dtype(x.dtype, x)
        x = x.item()
    if isinstance(x, bool):
        return float(x)
    if isinstance(x, (int, float)):
        return x
    if isinstance(x, np.ndarray):
        x = _validate.plain_array(x, "an operand")  # np.matrix's * would be a matrix product
        _check_dtype(x.dtype, x)
        return x
    if isinstance(x, (list, tuple)):
        return _to_array(x, None)
    raise TypeError(f"unsupported operand type for a Tensor operation: {type(x).__name__}")


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


def _shape_of(x: Any) -> tuple[int, ...]:
    return tuple(np.shape(x.data if isinstance(x, GraphTensor) else x))


# Operand types the binary operators pass straight to the op (the common cases: no
# conversion needed). Everything else goes through _operand.
_PLAIN_OPERANDS = frozenset({float, int})


def _operand_error(a: Any, b: Any, symbol: str, error: ValueError) -> ValueError:
    """The error to raise when a binary op failed: a clear one for non-broadcastable shapes,
    the original otherwise."""
    sa, sb = _shape_of(a), _shape_of(b)
    try:
        np.broadcast_shapes(sa, sb)
    except ValueError:
        return ValueError(
            f"shapes {sa} and {sb} cannot be broadcast together for '{symbol}': trailing "
            f"axes must be equal or 1. Reshape one operand (e.g. y.reshape(-1, 1) or "
            f"y.reshape(-1)) so that they line up."
        )
    return error


def _binary(op: type, a: Any, b: Any, symbol: str) -> Tensor:
    try:
        return op.apply(a, b)
    except ValueError as error:
        raise _operand_error(a, b, symbol, error) from None


def _axis_args(axis: Axis, keepdims: bool, dim: Axis, keepdim: bool | None, shape: tuple[int, ...]) -> tuple[Any, bool]:
    if dim is not None:
        if axis is not None:
            raise TypeError("pass either axis= or its alias dim=, not both")
        axis = dim
    if keepdim is not None:
        keepdims = keepdim
    # ``shape`` is the tensor's shape (named in errors); a bare ndim is accepted too
    ndim, shape = (shape, None) if isinstance(shape, int) else (len(shape), shape)
    if ndim == 0:
        _validate.axes(axis, 0, "axis", shape)  # a 0-d tensor accepts axis 0 or -1, as PyTorch
        return None, bool(keepdims)
    return _validate.axes(axis, ndim, "axis", shape), bool(keepdims)


# Tensor/list/tuple parts of an index as the numpy arrays numpy would read them (one rule,
# shared with GetItem, which decides the gradient's accumulation from this form).
_index = _ops.normalize_index


class Tensor(GraphTensor):
    """An n-dimensional array that records the operations applied to it for backward.

    ``Tensor(data, requires_grad=False, dtype=None)``: numbers, lists and int/bool arrays
    become float64; float32/float64 arrays keep their dtype (and are not copied); an
    explicit ``dtype`` wins. Only float tensors can require grad.
    """

    __slots__ = ()
    __array_ufunc__ = None  # numpy defers to our reflected operators: ndarray + t is a Tensor
    __array_priority__ = 1000

    def __init__(self, data: Any, requires_grad: bool = False, dtype: Any = None) -> None:
        arr = _to_array(data, dtype)
        _check_requires_grad(arr, requires_grad)
        self.data = arr
        self.requires_grad = bool(requires_grad)
        self.grad = None
        self._node = None
        # Sharing another tensor's array means sharing its in-place version counter too.
        shares = isinstance(data, GraphTensor) and data.data is arr
        self._version_box = autograd.share_version_box(data, self) if shares else [0]
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
    def is_leaf(self) -> bool:
        """True for tensors the user created (not the result of a recorded op)."""
        return self._node is None

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
        _check_requires_grad(self.data, requires_grad)
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
        out = _new_tensor(type(self), self.data, False, None)
        out._version_box = autograd.share_version_box(self, out)
        return out

    def astype(self, dtype: Any) -> Tensor:
        """Cast to ``dtype``; float-to-float casts are differentiable, others are detached."""
        dtype = np.dtype(dtype)
        if dtype == self.dtype:
            return self
        if dtype.kind not in _FLOAT_KINDS:
            return _new_tensor(type(self), self.data.astype(dtype), False, None)
        return _ops.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def __array__(self, dtype: Any = None, copy: Any = None) -> np.ndarray:
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
        gradient: Any = None,
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
    def __add__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Add.apply(self, other)
        except ValueError as error:
            raise _operand_error(self, other, "+", error) from None

    def __radd__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Add.apply(other, self)
        except ValueError as error:
            raise _operand_error(other, self, "+", error) from None

    def __sub__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Sub.apply(self, other)
        except ValueError as error:
            raise _operand_error(self, other, "-", error) from None

    def __rsub__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Sub.apply(other, self)
        except ValueError as error:
            raise _operand_error(other, self, "-", error) from None

    def __mul__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Mul.apply(self, other)
        except ValueError as error:
            raise _operand_error(self, other, "*", error) from None

    def __rmul__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Mul.apply(other, self)
        except ValueError as error:
            raise _operand_error(other, self, "*", error) from None

    def __truediv__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Div.apply(self, other)
        except ValueError as error:
            raise _operand_error(self, other, "/", error) from None

    def __rtruediv__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Div.apply(other, self)
        except ValueError as error:
            raise _operand_error(other, self, "/", error) from None

    def __pow__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Pow.apply(self, other)
        except ValueError as error:
            raise _operand_error(self, other, "**", error) from None

    def __rpow__(self, other: Any) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        try:
            return _ops.Pow.apply(other, self)
        except ValueError as error:
            raise _operand_error(other, self, "**", error) from None

    def __matmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(self, _operand(other))

    def __rmatmul__(self, other: Any) -> Tensor:
        return _ops.MatMul.apply(_operand(other), self)

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
    def _inplace(self, other: Any, ufunc: np.ufunc, symbol: str) -> Tensor:
        if type(other) not in _PLAIN_OPERANDS:
            other = _operand(other)
        other_requires = isinstance(other, GraphTensor) and other.requires_grad
        if (self.requires_grad or other_requires) and autograd._state.grad_enabled:
            if self.requires_grad and self._node is None:
                raise RuntimeError(
                    f"a leaf Tensor that requires grad is being used in an in-place operation "
                    f"(x {symbol}= ...): that would change a value the graph depends on. Update "
                    f"parameters inside `with tg.no_grad(): x {symbol}= ...`, or write "
                    f"x = x {symbol} ... for a new tensor."
                )
            # A non-leaf, or an operand that requires grad: record the operation out of place
            # (the name is rebound to the result), so the values the graph saved stay intact
            # and the operand's gradient is not silently dropped. That cannot write through to
            # other tensors seeing the same memory (a base, a view, an alias): refuse then.
            sharers = autograd.memory_sharers(self)
            if sharers:
                raise RuntimeError(_shared_inplace_message(self, sharers, symbol))
            op = {"+": _ops.Add, "-": _ops.Sub, "*": _ops.Mul, "/": _ops.Div}[symbol]
            out = _binary(op, self, other, symbol)
            if out.shape != self.shape:
                raise ValueError(
                    f"in-place '{symbol}=' cannot change the shape: this tensor has shape "
                    f"{self.shape}, the other operand {_shape_of(other)}. Use x = x {symbol} y instead."
                )
            return out if out.dtype == self.dtype else out.astype(self.dtype)
        if not self.data.flags.writeable:
            raise RuntimeError(
                f"in-place '{symbol}=' on a read-only tensor of shape {self.shape} (a broadcast_to "
                f"view repeats one memory location): write x = x {symbol} y instead."
            )
        value = other.data if isinstance(other, GraphTensor) else other
        try:
            ufunc(self.data, value, out=self.data, casting="same_kind")
        except ValueError:
            raise ValueError(
                f"in-place '{symbol}=' cannot change the shape: this tensor has shape "
                f"{self.shape}, the other operand {_shape_of(other)}. Use x = x {symbol} y instead."
            ) from None
        self._version_box[0] += 1  # views of the same memory share this counter
        return self

    def __iadd__(self, other: Any) -> Tensor:
        return self._inplace(other, np.add, "+")

    def __isub__(self, other: Any) -> Tensor:
        return self._inplace(other, np.subtract, "-")

    def __imul__(self, other: Any) -> Tensor:
        return self._inplace(other, np.multiply, "*")

    def __itruediv__(self, other: Any) -> Tensor:
        return self._inplace(other, np.true_divide, "/")

    def zero_(self) -> Tensor:
        """Set every element to 0 in place (not recorded)."""
        self.data[...] = 0
        self._version += 1
        return self

    # ------------------------------------------------------------------ comparisons
    def _compare(self, other: Any, ufunc: np.ufunc) -> Any:
        try:
            other = _operand(other)
        except TypeError:
            return NotImplemented  # t == None is False, t < "a" raises TypeError (Python's rules)
        value = other.data if isinstance(other, GraphTensor) else other
        return _new_tensor(type(self), np.asarray(ufunc(self.data, value)), False, None)

    def __lt__(self, other: Any) -> Tensor:
        return self._compare(other, np.less)

    def __le__(self, other: Any) -> Tensor:
        return self._compare(other, np.less_equal)

    def __gt__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater)

    def __ge__(self, other: Any) -> Tensor:
        return self._compare(other, np.greater_equal)

    def __eq__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.equal)

    def __ne__(self, other: Any) -> Tensor:  # type: ignore[override]
        return self._compare(other, np.not_equal)

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

    def maximum(self, other: Any) -> Tensor:
        return maximum(self, other)

    def minimum(self, other: Any) -> Tensor:
        return minimum(self, other)

    def square(self) -> Tensor:
        return self * self

    # ------------------------------------------------------------------ reductions
    def sum(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Σ over ``axis`` (all axes when None)."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim, self.shape)
        return _ops.Sum.apply(self, axis=axis, keepdims=keepdims)

    def mean(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Arithmetic mean over ``axis``."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim, self.shape)
        return _ops.Mean.apply(self, axis=axis, keepdims=keepdims)

    def max(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Maximum over ``axis`` (values only; ties share the gradient evenly)."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim, self.shape)
        return _ops.Max.apply(self, axis=axis, keepdims=keepdims)

    def min(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Minimum over ``axis`` (values only; ties share the gradient evenly)."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim, self.shape)
        return _ops.Min.apply(self, axis=axis, keepdims=keepdims)

    def var(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """Σ (x - mean)² / (n - ddof) over ``axis`` (ddof=0: numpy's population variance)."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim, self.shape)
        n = self._spread_count(axis, ddof, "var")
        centered = self - _ops.Mean.apply(self, axis=axis, keepdims=True)
        return _ops.Sum.apply(centered * centered, axis=axis, keepdims=keepdims) / float(n - ddof)

    def std(self, axis: Axis = None, ddof: int = 0, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """√var over ``axis``. Its gradient is 0 where the spread is 0 (all values equal, or an
        axis of length 1 with ddof=0: a batch of one), as PyTorch; never NaN."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim, self.shape)
        self._spread_count(axis, ddof, "std")
        return _ops.Std.apply(self, axis=axis, ddof=ddof, keepdims=keepdims)

    def _spread_count(self, axis: Any, ddof: int, name: str) -> int:
        """The number of values per var/std result; raises when n - ddof ≤ 0."""
        n = self.size if axis is None else int(np.prod([self.shape[a] for a in axis]))
        if n - ddof <= 0:
            raise ValueError(f"{name} over {n} element(s) with ddof={ddof} divides by {n - ddof}")
        return n

    def logsumexp(self, axis: Axis = None, keepdims: bool = False, *, dim: Axis = None, keepdim: bool | None = None) -> Tensor:
        """log Σ exp(x) over ``axis``, stable for large inputs."""
        axis, keepdims = _axis_args(axis, keepdims, dim, keepdim, self.shape)
        return _ops.LogSumExp.apply(self, axis=axis, keepdims=keepdims)

    # ------------------------------------------------------------------ nn helpers
    def softmax(self, axis: Axis = -1, *, dim: Axis = None) -> Tensor:
        """exp(x) / Σ exp(x) along ``axis``, stable for large inputs. A tuple of axes
        normalises over them jointly (as ``scipy.special.softmax``)."""
        return _ops.Softmax.apply(self, axis=self._softmax_axis(axis if dim is None else dim, "softmax"))

    def log_softmax(self, axis: Axis = -1, *, dim: Axis = None) -> Tensor:
        """x - logsumexp(x) along ``axis`` (an int or a tuple of axes), stable for large inputs."""
        return _ops.LogSoftmax.apply(self, axis=self._softmax_axis(axis if dim is None else dim, "log_softmax"))

    def _softmax_axis(self, axis: Axis, name: str) -> int | tuple[int, ...] | None:
        """softmax's axis as the op takes it: an int, a tuple of several axes, or None for a
        0-d tensor (its one element: softmax 1.0, log_softmax 0.0, as PyTorch)."""
        if axis is None:
            raise TypeError(
                f"{name}: axis=None is ambiguous (PyTorch would pick an axis implicitly); pass "
                f"an int axis, or a tuple of axes to normalise over them jointly (all of them: "
                f"axis=tuple(range(x.ndim)))"
            )
        axes = _ops.normalize_axis(axis, self.ndim, f"{name} axis", self.shape)
        if self.ndim == 0:
            return None
        if not axes:
            raise ValueError(f"{name} needs at least one axis to normalise over, got axis={axis!r}")
        return axes[0] if len(axes) == 1 else axes

    # ------------------------------------------------------------------ shape
    def reshape(self, *shape: Any) -> Tensor:
        """The same values with a new shape (one entry may be -1)."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, np.ndarray)):
            shape = shape[0]
        return _ops.Reshape.apply(self, shape=_validate.shape(shape, "reshape shape", allow_unknown=True))

    view = reshape

    def transpose(self, *axes: Any) -> Tensor:
        """Swap or permute axes.

        ``transpose(i, j)`` (exactly two integer arguments) swaps axes i and j, as PyTorch,
        on a 2-D tensor too; ``transpose()`` reverses the axes; a full permutation, as
        separate arguments (``transpose(2, 0, 1)``) or one tuple/list (numpy's
        ``transpose((2, 0, 1))``, ``transpose((0, 1))``), moves axis ``axes[k]`` to position
        k, as numpy. Axes out of range raise, never wrap around.
        """
        if not axes or (len(axes) == 1 and axes[0] is None):
            return _ops.Transpose.apply(self, axes=None)
        if len(axes) == 2:
            i, j = (_validate.axis(a, self.ndim, "transpose axis", self.shape) for a in axes)
            perm = list(range(self.ndim))
            perm[i], perm[j] = perm[j], perm[i]
            return _ops.Transpose.apply(self, axes=tuple(perm))
        if len(axes) == 1 and isinstance(axes[0], (tuple, list, np.ndarray)):
            axes = tuple(axes[0])
            if len(axes) == 2 and self.ndim != 2:
                raise ValueError(
                    f"transpose({axes!r}) on a tensor of shape {self.shape}: one tuple is numpy's "
                    f"full permutation of all {self.ndim} axes; to swap two axes pass them as two "
                    f"arguments, transpose({axes[0]}, {axes[1]})"
                )
        return _ops.Transpose.apply(self, axes=_validate.permutation(axes, self.ndim, "transpose axes", self.shape))

    def permute(self, *axes: Any) -> Tensor:
        """Reorder the axes by a full permutation (PyTorch's ``permute``)."""
        if len(axes) == 1 and isinstance(axes[0], (tuple, list, np.ndarray)):
            axes = tuple(axes[0])
        return _ops.Transpose.apply(self, axes=_validate.permutation(axes, self.ndim, "permute axes", self.shape))

    def flatten(self, start_dim: int = 0, end_dim: int = -1) -> Tensor:
        """Merge axes start_dim..end_dim into one (all of them by default)."""
        ndim = max(self.ndim, 1)  # a 0-d tensor flattens to shape (1,), with axis 0 or -1
        s = _validate.axis(start_dim, ndim, "flatten start_dim", self.shape)
        e = _validate.axis(end_dim, ndim, "flatten end_dim", self.shape)
        if s > e:
            raise ValueError(
                f"flatten start_dim={start_dim} comes after end_dim={end_dim} for a tensor of "
                f"shape {self.shape}: pass start_dim ≤ end_dim"
            )
        if self.ndim == 0:
            return self.reshape(1)
        shape = self.shape[:s] + (int(np.prod(self.shape[s : e + 1])),) + self.shape[e + 1 :]
        return self.reshape(shape)

    def squeeze(self, axis: Axis = None, *, dim: Axis = None) -> Tensor:
        """Drop size-1 axes (all of them, or the given ones)."""
        axis = dim if dim is not None else axis
        if self.ndim == 0:
            _validate.axes(axis, 0, "squeeze axis", self.shape)  # axis 0 or -1, as PyTorch
            return self.reshape(())
        if axis is None:
            shape = tuple(n for n in self.shape if n != 1)
        else:
            axes = _validate.axes(axis, self.ndim, "squeeze axis", self.shape) or ()
            for a in axes:
                if self.shape[a] != 1:
                    raise ValueError(f"cannot squeeze axis {a} of shape {self.shape}: its size is not 1")
            shape = tuple(n for i, n in enumerate(self.shape) if i not in axes)
        return self.reshape(shape)

    def unsqueeze(self, axis: int) -> Tensor:
        """Insert a size-1 axis at ``axis``."""
        a = _validate.axis(axis, self.ndim, "unsqueeze axis", self.shape, insert=True)
        return self.reshape(self.shape[:a] + (1,) + self.shape[a:])

    expand_dims = unsqueeze

    def broadcast_to(self, *shape: Any) -> Tensor:
        """Repeat along size-1 (or new leading) axes to ``shape``."""
        if len(shape) == 1 and isinstance(shape[0], (tuple, list, np.ndarray)):
            shape = shape[0]
        return _ops.BroadcastTo.apply(self, shape=_validate.shape(shape, "broadcast_to shape"))

    def __getitem__(self, index: Any) -> Tensor:
        """Slices, integer arrays (repeats accumulate in the gradient) and boolean masks."""
        return _ops.GetItem.apply(self, index=index)  # GetItem normalises the index (_index)

    def __setitem__(self, index: Any, value: Any) -> None:
        """``t[index] = value`` writes into the data in place (not recorded). Allowed where an
        in-place operator is allowed: inside ``no_grad()`` or on tensors that need no grad."""
        other = _operand(value)
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
        self.data[_index(index)] = other.data if isinstance(other, GraphTensor) else other
        self._version += 1


_PLAIN_OPERANDS = _PLAIN_OPERANDS | {Tensor}


# ---------------------------------------------------------------------- constructors
def tensor(data: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Same as ``Tensor(data, requires_grad, dtype)``."""
    return Tensor(data, requires_grad=requires_grad, dtype=dtype)


def _shape_arg(shape: tuple[Any, ...]) -> tuple[int, ...]:
    if len(shape) == 1 and isinstance(shape[0], (tuple, list, np.ndarray)):
        shape = shape[0]
    return _validate.shape(shape)


def _make(arr: np.ndarray, requires_grad: bool) -> Tensor:
    _check_requires_grad(arr, requires_grad)
    return _new_tensor(Tensor, arr, bool(requires_grad), None)


def _float_dtype(dtype: Any) -> np.dtype:
    return np.dtype(np.float64 if dtype is None else dtype)


def zeros(*shape: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor of zeros: ``zeros(2, 3)`` or ``zeros((2, 3))``."""
    return _make(np.zeros(_shape_arg(shape), dtype=_float_dtype(dtype)), requires_grad)


def ones(*shape: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor of ones."""
    return _make(np.ones(_shape_arg(shape), dtype=_float_dtype(dtype)), requires_grad)


def full(shape: Any, fill_value: float, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """A tensor of ``shape`` filled with ``fill_value``."""
    shape = _validate.shape(shape)
    return _make(np.full(shape, fill_value, dtype=_float_dtype(dtype)), requires_grad)


def _like_dtype(t: Any, dtype: Any) -> tuple[tuple[int, ...], np.dtype]:
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


def zeros_like(t: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Zeros with the shape and dtype of ``t`` (see ``_like_dtype``)."""
    shape, dtype = _like_dtype(t, dtype)
    return _make(np.zeros(shape, dtype=dtype), requires_grad)


def ones_like(t: Any, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Ones with the shape and dtype of ``t`` (see ``_like_dtype``)."""
    shape, dtype = _like_dtype(t, dtype)
    return _make(np.ones(shape, dtype=dtype), requires_grad)


def eye(n: int, m: int | None = None, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """The n×m identity matrix."""
    return _make(np.eye(n, m, dtype=_float_dtype(dtype)), requires_grad)


def arange(start: float, stop: float | None = None, step: float = 1, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Evenly spaced values in [start, stop) as float64 (numpy's arange)."""
    arr = np.arange(start, stop, step) if stop is not None else np.arange(start)
    return _make(arr.astype(_float_dtype(dtype)), requires_grad)


def _rng(rng: Any) -> np.random.Generator:
    if rng is None or isinstance(rng, (int, np.integer)):
        return np.random.default_rng(rng)
    if isinstance(rng, np.random.Generator):
        return rng
    raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")


def randn(*shape: Any, rng: Any = None, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Standard normal samples; ``rng`` is a ``np.random.Generator`` or an int seed."""
    arr = _rng(rng).standard_normal(_shape_arg(shape))
    return _make(arr.astype(_float_dtype(dtype), copy=False), requires_grad)


def rand(*shape: Any, rng: Any = None, requires_grad: bool = False, dtype: Any = None) -> Tensor:
    """Uniform samples in [0, 1); ``rng`` is a ``np.random.Generator`` or an int seed."""
    arr = _rng(rng).random(_shape_arg(shape))
    return _make(arr.astype(_float_dtype(dtype), copy=False), requires_grad)


def _as_tensor(x: Any) -> Tensor:
    return x if isinstance(x, GraphTensor) else Tensor(x)


def concatenate(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join tensors along an existing axis."""
    ts = [_as_tensor(t) for t in tensors]
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


def stack(tensors: Sequence[Any], axis: int = 0) -> Tensor:
    """Join same-shaped tensors along a new axis."""
    ts = [_as_tensor(t) for t in tensors]
    if not ts:
        raise ValueError("stack needs at least one tensor")
    shapes = {t.shape for t in ts}
    if len(shapes) != 1:
        raise ValueError(f"stack needs tensors of one shape, got {sorted(shapes)}")
    a = _validate.axis(axis, ts[0].ndim, "stack axis", ts[0].shape, insert=True)
    return concatenate([t.unsqueeze(a) for t in ts], axis=a)


def where(cond: Any, a: Any, b: Any) -> Tensor:
    """``a`` where ``cond`` is true, else ``b`` (the gradient flows only to the chosen side).

    ``cond`` is a boolean mask (e.g. ``x > 0``); integer 0/1 masks work as in numpy. A float
    condition raises ``TypeError``: every nonzero value (a probability of 0.2 too) would count
    as true."""
    c = cond.data if isinstance(cond, GraphTensor) else np.asarray(_validate.plain_array(cond, "where's condition"))
    if c.dtype.kind not in "biu":
        raise TypeError(
            f"where: the condition must be a boolean mask (e.g. x > 0 or p > 0.5), got dtype "
            f"{c.dtype}; with a float condition every nonzero value, 0.2 included, would count "
            f"as true. Compare it first, e.g. where(p > 0.5, a, b)."
        )
    a, b = _operand(a), _operand(b)
    if not isinstance(a, GraphTensor) and not isinstance(b, GraphTensor):
        a = Tensor(a)
    return _ops.Where.apply(c.astype(bool, copy=False), a, b)


def maximum(a: Any, b: Any) -> Tensor:
    """Elementwise max(a, b); ties share the gradient evenly."""
    a, b = _operand(a), _operand(b)
    if not isinstance(a, GraphTensor) and not isinstance(b, GraphTensor):
        a = Tensor(a)
    return _binary(_ops.Maximum, a, b, "maximum")


def minimum(a: Any, b: Any) -> Tensor:
    """Elementwise min(a, b); ties share the gradient evenly."""
    a, b = _operand(a), _operand(b)
    if not isinstance(a, GraphTensor) and not isinstance(b, GraphTensor):
        a = Tensor(a)
    return _binary(_ops.Minimum, a, b, "minimum")
