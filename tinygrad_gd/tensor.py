"""Tensor: a numpy array plus its place in the graph. Operators and methods are thin calls
into ``ops``. The methods come by kind from three mixins, one file each, where a new op's
method goes: ``_tensor_elementwise``, ``_tensor_reductions`` and ``_tensor_shape``; the
machinery behind them (operators built once, argument conversion, axis
and shape arithmetic) lives in ``_tensor_methods``. The module-level constructors and joins
(``zeros``, ``randn``, ``cat``, ``where``, ...) live in ``_creation`` and are importable
from here too (``tinygrad_gd.tensor.zeros``)."""

from __future__ import annotations

import builtins
import weakref
from collections.abc import Iterator
from typing import Any

import numpy as np
from numpy.typing import DTypeLike

from . import _backend, autograd
from . import ops as _ops
from ._graph_tensor import GraphTensor, bump_version, new_tensor, share_version_box
from ._tensor_elementwise import ElementwiseMethods
from ._tensor_methods import (
    FLOAT_KINDS,
    DtypeError,
    binary_operator,
    check_requires_grad,
    comparison,
    inplace,
    operand,
    to_array,
)
from ._tensor_reductions import ReductionMethods
from ._tensor_shape import ShapeMethods
from ._typing import TensorLike


class _ClassOnlyHook:
    """``Tensor.__array_ufunc__``: numpy looks its hooks up on the class and finds the method;
    read from an instance it is None. numpy.ma's operators read it from the instance, and
    None makes ``masked + t`` defer to Tensor's reflected operator (which refuses masked
    arrays) instead of silently adding the raw data."""

    def __init__(self, method: Any) -> None:
        self.method = method

    def __get__(self, instance: Any, owner: Any = None) -> Any:
        return self.method if instance is None else None


class Tensor(ElementwiseMethods, ReductionMethods, ShapeMethods):
    """An n-dimensional array that records the operations applied to it for backward.

    ``Tensor(data, requires_grad=False, dtype=None)``: numbers, lists and int/bool arrays
    become float64; float32/float64 arrays keep their dtype (and are not copied); an
    explicit ``dtype`` wins. Only float tensors can require grad.
    """

    __slots__ = ()
    __array_priority__ = 1000

    # numpy dispatch (NEP 13/18): np.exp(t), np.sum(t), np.dot(X, w), ndarray + t run the Tensor
    # ops; a numpy function without one raises TypeError (never a silent detach). The table
    # is in _numpy_dispatch; np.asarray(t) is not dispatched and returns the data.
    @_ClassOnlyHook
    def __array_ufunc__(self, ufunc: np.ufunc, method: str, *inputs: Any, **kwargs: Any) -> Any:
        return _numpy_dispatch.array_ufunc(ufunc, method, inputs, kwargs)

    def __array_function__(self, func: Any, types: Any, args: Any, kwargs: Any) -> Any:
        return _numpy_dispatch.array_function(func, types, args, kwargs)

    def __init__(self, data: TensorLike, requires_grad: bool = False, dtype: DTypeLike | None = None) -> None:
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
        autograd.check_not_tracing("t.item()")
        if self.data.size != 1:
            raise ValueError(
                f"item() needs a one-element tensor, this one has shape {self.shape}; "
                f"use .tolist() or .numpy() for several values"
            )
        return (self.data if type(self.data) is np.ndarray else _backend.to_numpy(self.data)).item()

    def numpy(self) -> np.ndarray:
        """The underlying numpy array (shared, not copied); another backend's array is
        converted (Dask computes, CuPy copies to host)."""
        autograd.check_not_tracing("t.numpy()")
        return self.data if type(self.data) is np.ndarray else _backend.to_numpy(self.data)

    def tolist(self) -> Any:
        autograd.check_not_tracing("t.tolist()")
        return self.numpy().tolist()

    def numel(self) -> int:
        """The number of elements (numpy's ``size``), as PyTorch's ``numel()``."""
        return int(self.data.size)

    def dim(self) -> int:
        """The number of dimensions (numpy's ``ndim``), as PyTorch's ``dim()``."""
        return int(self.data.ndim)

    def clone(self) -> Tensor:
        """A copy of the data that is recorded in the graph, as PyTorch's ``clone()``: the
        gradient flows back to this tensor (``detach()`` is the way out of the graph)."""
        if self.dtype.kind not in FLOAT_KINDS:
            return new_tensor(type(self), self.data.copy(), False, None)
        return _ops.Cast.apply(self, dtype=self.dtype)  # f(x) = x, into a new array

    def _repr_html_(self) -> str:
        """Notebooks: the repr, or a shape/dtype/grad_fn summary for a large tensor."""
        from ._html import tensor_html

        return tensor_html(self)

    def detach(self) -> Tensor:
        """A new leaf sharing this tensor's data (and in-place version counter, as PyTorch),
        outside the graph (requires_grad=False)."""
        out = new_tensor(type(self), self.data, False, None)
        out._version_box = share_version_box(self, out)
        return out

    def astype(self, dtype: DTypeLike | None) -> Tensor:
        """Cast to ``dtype``; float-to-float casts are differentiable, others are detached."""
        dtype = np.dtype(dtype)
        current = self.data.dtype
        # (another library's dtype is compared by name: array-api-strict's never equals numpy's)
        if (dtype == current) if type(self.data) is np.ndarray else (dtype.name == str(current).rsplit(".", 1)[-1]):
            return self
        if dtype.kind not in FLOAT_KINDS:
            return new_tensor(type(self), self.data.astype(dtype), False, None)
        return _ops.Cast.apply(self, dtype=dtype)

    def float(self) -> Tensor:
        return self.astype(np.float32)

    def double(self) -> Tensor:
        return self.astype(np.float64)

    def __array__(self, dtype: DTypeLike | None = None, copy: bool | None = None) -> np.ndarray:
        arr = self.data if dtype is None else self.data.astype(dtype, copy=False)
        return arr.copy() if copy else arr

    def __repr__(self) -> str:
        if type(self.data) is not np.ndarray:  # another backend: never computed to print it
            return f"Tensor(<{_backend.backend_name(self.data)} array shape={self.shape} dtype={self.dtype}>)"
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
        autograd.check_not_tracing("bool(t) (an `if` or a comparison used as a condition)")
        return bool(self.data)

    def __float__(self) -> builtins.float:
        return builtins.float(self.item())

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
    __mod__ = binary_operator("__mod__", _ops.Remainder, "%")
    __rmod__ = binary_operator("__rmod__", _ops.Remainder, "%", reflected=True)

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
    __eq__ = comparison("__eq__", np.equal)
    __ne__ = comparison("__ne__", np.not_equal)


# The constructors and joins (tensor, zeros, ..., randn, cat, stack, where, maximum, minimum)
# need Tensor, so they are defined after it, in their own module, and re-exported here:
# ``tinygrad_gd.tensor.zeros`` and ``tg.zeros`` are the same function.
from . import _creation, _numpy_dispatch  # noqa: E402 (_numpy_dispatch: the numpy hooks above call it)
from ._creation import *  # noqa: E402, F403

__all__: list[str] = ["Tensor", "DtypeError", *_creation.__all__]
