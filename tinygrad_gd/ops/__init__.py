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

from .. import _backend, _validate
from .. import autograd as _autograd
from .._backend import xp_of
from .._typing import Axis, Operand
from ..autograd import Function
from ._metadata import Case, Domain, Fuzz, OpCheck

# --------------------------------------------------------------------------- namespace
_ARRAY_TYPES = (np.ndarray, np.generic, float, int, bool)
# The integer type whose bit patterns are those of a float of the same size (select's fast path).
_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}
_SELECT_BY_BITS_FROM = 4096  # elements; below it np.where's single call is faster


def _is_array(x: Any) -> bool:
    """An array of any backend (or a number), not a Tensor."""
    return type(x) is np.ndarray or not isinstance(x, _autograd.GraphTensor)


def constant(x: Operand) -> Any:
    """The values of ``x`` as a plain array (a Tensor's data): what is computed from it (a
    mask, a sign) is a constant of the rule, through which no gradient flows."""
    if _autograd._tracer is not None:  # tg.compile: the rule computes with values no op records
        _autograd._tracer.escaped = True
    if type(x) is np.ndarray:
        return x
    if isinstance(x, _autograd.GraphTensor):
        x = x.data
    return x if type(x) is np.ndarray or _backend.is_foreign(x) else np.asarray(x)


def exp(x: Operand) -> Operand:
    return xp_of(x).exp(x) if _is_array(x) else Exp.apply(x)


def log(x: Operand) -> Operand:
    return xp_of(x).log(x) if _is_array(x) else Log.apply(x)


def sin(x: Operand) -> Operand:
    return xp_of(x).sin(x) if _is_array(x) else Sin.apply(x)


def cos(x: Operand) -> Operand:
    return xp_of(x).cos(x) if _is_array(x) else Cos.apply(x)


def sigmoid(x: Operand) -> Operand:
    return stable_sigmoid(x) if _is_array(x) else Sigmoid.apply(x)


def softmax(x: Operand, axis: Axis) -> Operand:
    """softmax along ``axis`` (shifted by the max: stable)."""
    return stable_softmax(x, axis) if _is_array(x) else Softmax.apply(x, axis=axis)


def sign(x: Operand) -> Any:
    """sign as a constant (its derivative is 0 almost everywhere)."""
    c = constant(x)
    return xp_of(c).sign(c)


def isfinite(x: Operand) -> Any:
    """Where ``x`` is neither inf nor NaN, as a constant mask."""
    c = constant(x)
    return xp_of(c).isfinite(c)


def floor(x: Operand) -> Any:
    """floor as a constant (piecewise constant: derivative 0 almost everywhere)."""
    c = constant(x)
    return xp_of(c).floor(c)


def trunc(x: Operand) -> Any:
    """Rounding toward 0 as a constant (piecewise constant: derivative 0 almost everywhere)."""
    c = constant(x)
    return xp_of(c).trunc(c)


def erf(x: Operand) -> Operand:
    """The error function (needs scipy on arrays, as the ops that use it)."""
    return erf_array(x) if _is_array(x) else Erf.apply(x)


def cumsum(x: Operand, axis: int, reverse: bool = False) -> Operand:
    """Σ of the entries up to each position along ``axis`` (from the far end when ``reverse``)."""
    if not reverse:
        return cumulative_sum(x, axis) if _is_array(x) else CumSum.apply(x, axis=axis)
    return flip(cumsum(flip(x, axis), axis), axis)


def flip(x: Operand, axis: int) -> Operand:
    """``x`` reversed along ``axis``."""
    if type(x) is np.ndarray:
        return np.flip(x, axis)
    return xp_of(x).flip(x, axis=axis) if _is_array(x) else Flip.apply(x, axis=(axis % x.ndim,))


def cumulative_sum(x: Any, axis: int) -> Any:
    """Σ up to each position on an array (numpy's cumsum; the standard's cumulative_sum)."""
    if type(x) is np.ndarray:
        return np.cumsum(x, axis=axis)
    xp = xp_of(x)
    return xp.cumulative_sum(x, axis=axis) if hasattr(xp, "cumulative_sum") else xp.cumsum(x, axis=axis)


def cumprod(x: Operand, axis: int) -> Operand:
    """Π of the entries up to each position along ``axis``."""
    return np.cumprod(x, axis=axis) if _is_array(x) else CumProd.apply(x, axis=axis)


def concatenate(xs: list[Any], axis: int) -> Operand:
    """Join along ``axis`` (arrays, or Tensors mixed with constant arrays)."""
    if all(_is_array(x) for x in xs):
        return xp_of(xs[0]).concat(xs, axis=axis)
    return Concatenate.apply(*xs, axis=axis)


def where(cond: Any, a: Operand, b: Operand) -> Operand:
    """``a`` where ``cond`` (a constant mask) is true, else ``b``."""
    if _is_array(a) and _is_array(b):
        if type(cond) is np.ndarray and (type(a) is np.ndarray or type(b) is np.ndarray):
            return np.where(cond, a, b)
        return where_arrays(cond, a, b)
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


def where_arrays(cond: Any, a: Any, b: Any) -> Any:
    """``xp.where`` in the backend of the first non-numpy array among the three (a Python
    bool condition or number branches made arrays of it)."""
    like = next((v for v in (cond, a, b) if hasattr(v, "shape") and type(v) is not np.ndarray), None)
    if like is None:
        return np.where(cond, a, b)
    xp = xp_of(like)
    cond, a, b = (v if hasattr(v, "shape") else _backend.asarray(v, like) for v in (cond, a, b))
    return xp.where(xp.astype(cond, xp.bool), a, b)


def broadcast_to(x: Operand, shape: tuple[int, ...]) -> Operand:
    return xp_of(x).broadcast_to(x, shape) if _is_array(x) else BroadcastTo.apply(x, shape=shape)


def swap_last(x: Operand) -> Operand:
    """Swap the last two axes (matrix transpose of a batch)."""
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return permute(x, tuple(axes))


# Array methods numpy, Dask and CuPy have but the standard spells as functions: rules call
# these, so that they also run on array-api-strict (and record on Tensors).
def reshape(x: Operand, shape: tuple[int, ...]) -> Operand:
    """``x`` with a new shape (numpy's ``x.reshape``; the standard's ``xp.reshape``)."""
    if type(x) is np.ndarray or not _is_array(x):
        return x.reshape(shape)
    return xp_of(x).reshape(x, shape)


def permute(x: Operand, axes: tuple[int, ...]) -> Operand:
    """``x`` with its axes permuted (numpy's ``x.transpose(axes)``; ``xp.permute_dims``)."""
    if type(x) is np.ndarray or not _is_array(x):
        return x.transpose(axes)
    return xp_of(x).permute_dims(x, axes)


def matrix_t(x: Operand) -> Operand:
    """The transpose of a 2-D ``x`` (``x.T``)."""
    return x.T


def sum_axes(x: Operand, axis: Any = None, keepdims: bool = False) -> Operand:
    """Σ over ``axis`` (numpy's ``x.sum``; the standard's ``xp.sum``)."""
    if type(x) is np.ndarray or not _is_array(x):
        return x.sum(axis=axis, keepdims=keepdims)
    return xp_of(x).sum(x, axis=axis, keepdims=keepdims)


def mean_axes(x: Operand, axis: Any = None) -> Operand:
    """The mean over ``axis`` with keepdims (numpy's ``x.mean``; the standard's ``xp.mean``)."""
    if type(x) is np.ndarray or not _is_array(x):
        return x.mean(axis=axis, keepdims=True)
    return xp_of(x).mean(x, axis=axis, keepdims=True)


def may_be_any(mask: Any) -> bool:
    """Whether any entry of a constant mask may be true: rules take a fast path when not. A
    lazy (Dask) mask is not computed to decide: True, the general path, right either way."""
    if type(mask) is np.ndarray:
        return bool(mask.any())
    if isinstance(mask, (bool, np.bool_)):
        return bool(mask)
    if _backend.backend_name(mask) == "dask":
        return True
    return bool(_backend.to_numpy(xp_of(mask).any(mask)))


def surely_all(mask: Any) -> bool:
    """Whether every entry of a constant mask is known to be true (False for a lazy mask:
    the general path, right either way)."""
    if type(mask) is np.ndarray:
        return bool(mask.all())
    if isinstance(mask, (bool, np.bool_)):
        return bool(mask)
    if _backend.backend_name(mask) == "dask":
        return False
    return bool(_backend.to_numpy(xp_of(mask).all(mask)))


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
    return reshape(g, tuple(kept))


def normalize_axis(axis: Axis, ndim: int, argument: str = "axis", shape: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
    """``None`` or a sorted tuple of non-negative axes (see ``_validate.axes``: integers only,
    in range, each once; a clear error otherwise)."""
    return _validate.axes(axis, ndim, argument, shape)


# --------------------------------------------------------------------------- forward helpers
# Forwards run on arrays of any backend: each calls its input's namespace (xp_of).
def floating(x: Any) -> Any:
    """``x`` itself when it holds floats, else ``x`` as float64.

    Float-valued ops (exp, sigmoid, mean, softmax, ...) on integer or bool tensors promote
    to float64, as PyTorch promotes to its default float: never truncated back to the
    integer dtype (sigmoid([1, 2, -3]) is not [0, 0, 0]), never numpy's float16 for bool or
    int8. Float arrays pass through untouched (same object: saved-input tracking holds)."""
    if type(x) is not np.ndarray:
        if _backend.is_foreign(x):
            xp = xp_of(x)
            return x if _backend.is_float_dtype(x.dtype, xp) else xp.astype(x, xp.float64)
        x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def stable_sigmoid(x: Any) -> Any:
    """Logistic that never exponentiates a large positive number."""
    x = floating(x)
    xp = xp_of(x)
    e = xp.exp(-xp.abs(x))
    return _backend.astype(xp.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)), x.dtype)


def max_keepdims(x: Any, axis: Any) -> Any:
    """max over ``axis`` with keepdims; -inf (the max of nothing) where an axis is empty."""
    if x.size == 0:
        if type(x) is not np.ndarray:
            reduced = _validate.axes(axis, x.ndim, "axis") or tuple(range(x.ndim))
            shape = tuple(1 if i in reduced else n for i, n in enumerate(x.shape))
            return _backend.asarray(np.full(shape, -np.inf), floating(x))
        return np.max(floating(x), axis=axis, keepdims=True, initial=-np.inf)
    return xp_of(x).max(x, axis=axis, keepdims=True)


def stable_softmax(x: Any, axis: Any) -> Any:
    """exp(x) / Σ exp(x) along ``axis``, shifted by the max so that nothing overflows."""
    x = floating(x)
    xp = xp_of(x)
    e = xp.exp(x - max_keepdims(x, axis))
    return e / xp.sum(e, axis=axis, keepdims=True)


def erf_array(x: Any) -> np.ndarray:
    """erf on a numpy array, by ``scipy.special.erf``; without scipy an ImportError that says
    what needs it and the way out. (The standard has no erf: other backends are refused.)"""
    if type(x) is not np.ndarray and _backend.is_foreign(x):
        raise _backend.unsupported("erf", _backend.backend_name(x), NO_ERF)
    try:
        from scipy.special import erf as scipy_erf
    except ImportError:
        raise ImportError(
            "erf (and gelu(approximate='none'), the exact erf form) needs scipy, which is not "
            "installed: pip install scipy, or use gelu() / gelu(approximate='tanh')"
        ) from None
    x = floating(x)
    return scipy_erf(x).astype(x.dtype, copy=False)


NO_ERF = "the Array API standard has no erf (numpy's comes from scipy.special)"
NO_SCATTER = (
    "indexing with integer arrays needs a scatter-add (numpy's np.add.at) in backward, which the "
    "Array API standard does not have"
)


def scatter(g: Any, index: Any, shape: tuple[int, ...], accumulate: bool) -> Any:
    """zeros(shape) with ``g`` added at ``index``: np.add.at on numpy (repeated indices add
    up); elsewhere a plain ``out[index] = g``, valid for indices without repeats only (basic
    slices, masks), the others are refused."""
    if type(g) is not np.ndarray:
        return _scatter_foreign(g, index, shape, accumulate)
    out = np.zeros(shape, dtype=g.dtype)
    if accumulate:
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


def _scatter_foreign(g: Any, index: Any, shape: tuple[int, ...], accumulate: bool) -> Any:
    backend = _backend.backend_name(g)
    parts = index if isinstance(index, tuple) else (index,)
    if accumulate and any(hasattr(p, "shape") and not _is_bool_array(p) for p in parts):
        raise _backend.unsupported("scatter-add (the gradient of integer-array indexing)", backend, NO_SCATTER)
    out = _backend.zeros(shape, g.dtype, g)
    out[index] = g
    return out


def _is_bool_array(x: Any) -> bool:
    return x.dtype == np.bool_ if isinstance(x.dtype, np.dtype) else bool(xp_of(x).isdtype(x.dtype, "bool"))


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
    "broadcast_to", "swap_last", "scatter_add", "reshape", "permute", "sum_axes", "flip",
    "may_be_any", "surely_all", "mean_axes", "where_arrays", "cumulative_sum", "xp_of", "expand_reduced", "normalize_axis", "normalize_index",
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
