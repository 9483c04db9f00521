"""Every differentiable primitive, by kind, and the namespace their backward rules are written in.

An op is one :class:`~tinygrad_gd.autograd.Function` subclass in one of the modules below,
registered with :func:`register_op` together with its test metadata (:class:`OpCheck`), so
that the test-suite's op table and fuzzer cover it. ``forward`` works on numpy arrays and
keeps every array its ``backward`` needs with ``save_for_backward`` (released after
backward, version-checked); plain attributes hold only non-array options (axes, shapes,
Python scalars). ``backward`` is written once with operators, methods and the namespace
below, which work on numpy arrays and on Tensors alike: a first-order backward runs it on
arrays (fast, nothing recorded); ``create_graph=True`` runs it on Tensors, which records it.

Read in this order: the namespace (the seam between rules and the array library: each
function takes numpy arrays, returning numpy, or Tensors, returning a recorded op);
:func:`register_op`; then ``arithmetic`` (binary ops), ``elementwise`` (unary),
``reduce`` (reductions and softmax), ``shape`` (shape, indexing, dtype) and ``fused``
(numerically stable loss kernels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import numpy as np

from .. import _validate
from .. import autograd as _autograd
from .._typing import Axis, Operand
from ..autograd import Function
from ._metadata import Case, Domain, Fuzz, OpCheck

# --------------------------------------------------------------------------- namespace
_ARRAY_TYPES = (np.ndarray, np.generic, float, int, bool)
# The integer type whose bit patterns are those of a float of the same size (select's fast path).
_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}
_SELECT_BY_BITS_FROM = 4096  # elements; below it np.where's single call is faster


def _is_array(x: Any) -> bool:
    return type(x) is np.ndarray or isinstance(x, _ARRAY_TYPES)


def constant(x: Operand) -> np.ndarray:
    """The values of ``x`` as a plain array (a Tensor's data): what is computed from it (a
    mask, a sign) is a constant of the rule, through which no gradient flows."""
    if _autograd._tracer is not None:  # tg.compile: the rule computes with values no op records
        _autograd._tracer.escaped = True
    return np.asarray(x if _is_array(x) else x.data)


def exp(x: Operand) -> Operand:
    return np.exp(x) if _is_array(x) else Exp.apply(x)


def log(x: Operand) -> Operand:
    return np.log(x) if _is_array(x) else Log.apply(x)


def sin(x: Operand) -> Operand:
    return np.sin(x) if _is_array(x) else Sin.apply(x)


def cos(x: Operand) -> Operand:
    return np.cos(x) if _is_array(x) else Cos.apply(x)


def sigmoid(x: Operand) -> Operand:
    return stable_sigmoid(x) if _is_array(x) else Sigmoid.apply(x)


def softmax(x: Operand, axis: Axis) -> Operand:
    """softmax along ``axis`` (shifted by the max: stable)."""
    return stable_softmax(x, axis) if _is_array(x) else Softmax.apply(x, axis=axis)


def sign(x: Operand) -> np.ndarray:
    """sign as a constant (its derivative is 0 almost everywhere)."""
    return np.sign(constant(x))


def isfinite(x: Operand) -> np.ndarray:
    """Where ``x`` is neither inf nor NaN, as a constant mask."""
    return np.isfinite(constant(x))


def floor(x: Operand) -> np.ndarray:
    """floor as a constant (piecewise constant: derivative 0 almost everywhere)."""
    return np.floor(constant(x))


def trunc(x: Operand) -> np.ndarray:
    """Rounding toward 0 as a constant (piecewise constant: derivative 0 almost everywhere)."""
    return np.trunc(constant(x))


def erf(x: Operand) -> Operand:
    """The error function (needs scipy on arrays, as the ops that use it)."""
    return erf_array(x) if _is_array(x) else Erf.apply(x)


def cumsum(x: Operand, axis: int, reverse: bool = False) -> Operand:
    """Σ of the entries up to each position along ``axis`` (from the far end when ``reverse``)."""
    if not reverse:
        return np.cumsum(x, axis=axis) if _is_array(x) else CumSum.apply(x, axis=axis)
    flip = (slice(None),) * (axis % x.ndim) + (slice(None, None, -1),)
    return cumsum(x[flip], axis)[flip]


def cumprod(x: Operand, axis: int) -> Operand:
    """Π of the entries up to each position along ``axis``."""
    return np.cumprod(x, axis=axis) if _is_array(x) else CumProd.apply(x, axis=axis)


def concatenate(xs: list[Any], axis: int) -> Operand:
    """Join along ``axis`` (arrays, or Tensors mixed with constant arrays)."""
    if all(_is_array(x) for x in xs):
        return np.concatenate(xs, axis=axis)
    return Concatenate.apply(*xs, axis=axis)


def where(cond: Any, a: Operand, b: Operand) -> Operand:
    """``a`` where ``cond`` (a constant mask) is true, else ``b``."""
    if _is_array(a) and _is_array(b):
        return np.where(cond, a, b)
    return Where.apply(constant(cond), a, b)


def select(mask: Any, g: Operand) -> Operand:
    """``g`` where ``mask`` is true, exactly 0 elsewhere: how every masking rule passes a
    gradient on (never ``g * mask``: an inf or NaN upstream where the mask is off gives 0, not
    NaN). The shape is ``mask`` and ``g`` broadcast together."""
    if type(g) is np.ndarray and type(mask) is np.ndarray and mask.dtype.kind == "b" and g.dtype.kind == "f":
        as_int = _SAME_SIZE_INT.get(g.dtype.itemsize)
        if as_int is not None and max(g.size, mask.size) >= _SELECT_BY_BITS_FROM:
            # Branch-free, about 3x np.where on a random mask: AND the float's bits with 0 or
            # with all ones (-1). 0 bits are +0.0; kept bits keep every value, NaN and inf too.
            bits = mask.astype(as_int)
            np.negative(bits, out=bits)
            if bits.shape == g.shape:
                np.bitwise_and(bits, g.view(as_int), out=bits)
            else:
                bits = np.bitwise_and(bits, g.view(as_int))
            return bits.view(g.dtype)
    return where(mask, g, 0.0)


def broadcast_to(x: Operand, shape: tuple[int, ...]) -> Operand:
    return np.broadcast_to(x, shape) if _is_array(x) else BroadcastTo.apply(x, shape=shape)


def swap_last(x: Operand) -> Operand:
    """Swap the last two axes (matrix transpose of a batch)."""
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return x.transpose(axes)


def scatter_add(g: Operand, index: Any, shape: tuple[int, ...], accumulate: bool) -> Operand:
    """zeros(shape) with ``g`` added at ``index`` (the gradient of indexing)."""
    if _is_array(g):
        return scatter(g, index, shape, accumulate)
    return ScatterAdd.apply(g, index=index, shape=shape, accumulate=accumulate)


def expand_reduced(g: Operand, shape: tuple[int, ...], axis: tuple[int, ...] | None, keepdims: bool) -> Operand:
    """Bring a reduction's gradient (or output) back to the input's rank (size-1 reduced axes)."""
    if keepdims or axis is None and g.ndim == len(shape):
        return g
    kept = [1 if (axis is None or i in axis) else n for i, n in enumerate(shape)]
    return g.reshape(tuple(kept))


def normalize_axis(axis: Axis, ndim: int, argument: str = "axis", shape: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
    """``None`` or a sorted tuple of non-negative axes (see ``_validate.axes``: integers only,
    in range, each once; a clear error otherwise)."""
    return _validate.axes(axis, ndim, argument, shape)


# --------------------------------------------------------------------------- forward helpers
# numpy only: forwards run on arrays. (Backward rules use the namespace above.)
def floating(x: Any) -> np.ndarray:
    """``x`` itself when it holds floats, else ``x`` as float64.

    Float-valued ops (exp, sigmoid, mean, softmax, ...) on integer or bool tensors promote
    to float64, as PyTorch promotes to its default float: never truncated back to the
    integer dtype (sigmoid([1, 2, -3]) is not [0, 0, 0]), never numpy's float16 for bool or
    int8. Float arrays pass through untouched (same object: saved-input tracking holds)."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def stable_sigmoid(x: Any) -> np.ndarray:
    """Logistic that never exponentiates a large positive number."""
    x = floating(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def max_keepdims(x: np.ndarray, axis: Any) -> np.ndarray:
    """max over ``axis`` with keepdims; -inf (the max of nothing) where an axis is empty."""
    if x.size == 0:
        return np.max(floating(x), axis=axis, keepdims=True, initial=-np.inf)
    return np.max(x, axis=axis, keepdims=True)


def stable_softmax(x: Any, axis: Any) -> np.ndarray:
    """exp(x) / Σ exp(x) along ``axis``, shifted by the max so that nothing overflows."""
    x = floating(x)
    e = np.exp(x - max_keepdims(x, axis))
    return e / np.sum(e, axis=axis, keepdims=True)


def erf_array(x: Any) -> np.ndarray:
    """erf on a numpy array, by ``scipy.special.erf``; without scipy an ImportError that says
    what needs it and the way out."""
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:
        raise ImportError(
            "erf (and gelu(approximate='none'), the exact erf form) needs scipy, which is not "
            "installed: pip install scipy, or use gelu() / gelu(approximate='tanh')"
        ) from None
    x = floating(x)
    return scipy_erf(x).astype(x.dtype, copy=False)


def scatter(g: np.ndarray, index: Any, shape: tuple[int, ...], accumulate: bool) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if accumulate:
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


# --------------------------------------------------------------------------- registry
OPS: dict[str, type[Function]] = {}
"""Every registered primitive by name; the test-suite's op table and fuzzer are built from
their ``test_metadata``, and a test fails for an op registered without it."""

_FunctionType = type[Function]


@overload
def register_op(cls: _FunctionType, /) -> _FunctionType: ...
@overload
def register_op(*, check: OpCheck | None = None) -> Callable[[_FunctionType], _FunctionType]: ...


def register_op(cls: _FunctionType | None = None, /, *, check: OpCheck | None = None) -> Any:
    """Class decorator: record a primitive in :data:`OPS` with its test metadata.

    ``@register_op(check=OpCheck(cases=(...), fuzz=(...)))`` stores ``check`` as the class's
    ``test_metadata``; the op table and the fuzzer read it. A bare ``@register_op`` registers
    without metadata, which the test-suite reports as a failure."""

    def register(op: _FunctionType) -> _FunctionType:
        op.test_metadata = check  # type: ignore[attr-defined]
        OPS[op.__name__] = op
        return op

    return register if cls is None else register(cls)


# --------------------------------------------------------------------------- the ops
# Imported last: their modules use the namespace above, and the namespace's Tensor paths use
# their classes (looked up when called).
from .arithmetic import (  # noqa: E402
    Add,
    Arctan2,
    Div,
    Fmod,
    Hypot,
    LogAddExp,
    MatMul,
    Maximum,
    Minimum,
    Mul,
    Pow,
    PowScalar,
    Remainder,
    Sub,
    Where,
)
from .contract import Einsum  # noqa: E402
from .conv import Col2Im, Im2Col, col2im, im2col  # noqa: E402
from .elementwise import (  # noqa: E402
    Abs,
    Ceil,
    Clip,
    Cos,
    Elu,
    Erf,
    Exp,
    Floor,
    Gelu,
    Hardtanh,
    LeakyRelu,
    Log,
    Neg,
    Relu,
    Round,
    Sigmoid,
    Sign,
    Silu,
    Sin,
    Softplus,
    Softsign,
    Sqrt,
    Tanh,
)
from .fused import BinaryCrossEntropy, BinaryCrossEntropyWithLogits, SoftmaxCrossEntropy, SumSquares  # noqa: E402
from .indexing import (  # noqa: E402
    Diagonal,
    Flip,
    MaskedFill,
    Pad,
    Repeat,
    Roll,
    ScatterAddAlong,
    Tile,
    Trace,
    Tril,
    Triu,
    along_axis_index,
    check_along_axis,
)
from .linalg import Cholesky, Det, Eigh, Inv, LogAbsDet, Solve  # noqa: E402
from .reduce import LogSoftmax, LogSumExp, Max, Mean, Min, Norm, Prod, Softmax, Std, Sum  # noqa: E402
from .scan import CumProd, CumSum, Sort, TopK, take_index  # noqa: E402
from .shape import BroadcastTo, Cast, Concatenate, GetItem, Reshape, ScatterAdd, Transpose, normalize_index  # noqa: E402
from .special import (  # noqa: E402
    Arccos,
    Arccosh,
    Arcsin,
    Arcsinh,
    Arctan,
    Arctanh,
    Cosh,
    Exp2,
    Expm1,
    Log1p,
    Log2,
    Log10,
    Reciprocal,
    Sinh,
    Tan,
)

__all__ = [
    # the namespace of backward rules
    "constant", "exp", "log", "sin", "cos", "sigmoid", "softmax", "sign", "isfinite", "where", "select",
    "floor", "trunc", "erf", "cumsum", "cumprod", "concatenate",
    "broadcast_to", "swap_last", "scatter_add", "expand_reduced", "normalize_axis", "normalize_index",
    # forward helpers
    "floating", "stable_sigmoid", "stable_softmax", "max_keepdims", "scatter", "erf_array", "take_index",
    # the registry and its metadata
    "OPS", "register_op", "OpCheck", "Case", "Fuzz", "Domain",
    # the ops
    "Add", "Sub", "Mul", "Div", "Pow", "PowScalar", "MatMul", "Maximum", "Minimum", "Where",
    "Neg", "Exp", "Log", "Sqrt", "Abs", "Sin", "Cos", "Tanh", "Sigmoid", "Relu", "LeakyRelu", "Softplus", "Clip",
    "Arctan2", "Hypot", "LogAddExp", "Remainder", "Fmod",
    "Tan", "Arcsin", "Arccos", "Arctan", "Sinh", "Cosh", "Arcsinh", "Arccosh", "Arctanh",
    "Log1p", "Expm1", "Log2", "Log10", "Exp2", "Reciprocal",
    "Silu", "Elu", "Gelu", "Erf", "Softsign", "Hardtanh", "Floor", "Ceil", "Round", "Sign",
    "Sum", "Mean", "Max", "Min", "Std", "LogSumExp", "Softmax", "LogSoftmax",
    "Prod", "Norm", "CumSum", "CumProd", "Sort", "TopK",
    "Reshape", "Transpose", "BroadcastTo", "GetItem", "ScatterAdd", "Concatenate", "Cast",
    "Flip", "Roll", "Tile", "Repeat", "Pad", "Tril", "Triu", "Diagonal", "Trace", "MaskedFill", "ScatterAddAlong",
    "along_axis_index", "check_along_axis", "Einsum", "Inv", "Solve", "Det", "LogAbsDet", "Cholesky", "Eigh",
    "BinaryCrossEntropy", "BinaryCrossEntropyWithLogits", "SumSquares", "SoftmaxCrossEntropy",
    "Im2Col", "Col2Im", "im2col", "col2im",
]  # fmt: skip
