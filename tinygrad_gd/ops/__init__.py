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
function takes numpy arrays, returning numpy, or Tensors, returning a recorded op; the
array-only helpers and forward helpers are in ``_arrays``, re-exported here);
:func:`register_op`; then ``arithmetic`` (binary ops), ``elementwise`` (unary),
``reduce`` (reductions and softmax), ``shape`` (shape, indexing, dtype) and ``fused``
(numerically stable loss kernels).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, overload

import numpy as np

from .._backend import xp_of
from .._typing import Axis, Operand
from ..autograd import Function
from ._arrays import (
    NO_ERF,
    NO_SCATTER,
    _is_array,
    constant,
    constant_like,
    cumulative_prod,
    cumulative_sum,
    erf_array,
    expand_reduced,
    floating,
    kind_of,
    matrix_t,
    max_keepdims,
    may_be_any,
    mean_axes,
    normalize_axis,
    one_hot_matmul,
    permute,
    reshape,
    same_backend,
    scatter,
    stable_sigmoid,
    stable_softmax,
    sum_axes,
    surely_all,
    swap_last,
    where_arrays,
)
from ._metadata import Case, Domain, Fuzz, OpCheck

# --------------------------------------------------------------------------- namespace
# (the array-only helpers are in ``_arrays``; these also record an op when given Tensors)
# The integer type whose bit patterns are those of a float of the same size (select's fast path).
_SAME_SIZE_INT = {2: np.int16, 4: np.int32, 8: np.int64}
_SELECT_BY_BITS_FROM = 4096  # elements; below it np.where's single call is faster


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


def _as_constant(name: str, doc: str) -> Callable[[Operand], Any]:
    """The namespace function ``name`` of the input's backend on ``x``'s values, as a constant
    of the rule (these are piecewise constant, or masks: no gradient flows through them)."""

    def function(x: Operand) -> Any:
        c = constant(x)
        return getattr(xp_of(c), name)(c)

    function.__name__ = function.__qualname__ = name
    function.__doc__ = doc
    return function


sign: Callable[[Operand], Any] = _as_constant("sign", "sign as a constant (its derivative is 0 almost everywhere).")
isfinite: Callable[[Operand], Any] = _as_constant("isfinite", "Where ``x`` is neither inf nor NaN, as a constant mask.")
floor: Callable[[Operand], Any] = _as_constant("floor", "floor as a constant (piecewise constant: derivative 0 almost everywhere).")
trunc: Callable[[Operand], Any] = _as_constant("trunc", "Rounding toward 0 as a constant (piecewise constant: derivative 0 almost everywhere).")


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


def cumprod(x: Operand, axis: int) -> Operand:
    """Π of the entries up to each position along ``axis``."""
    return cumulative_prod(x, axis) if _is_array(x) else CumProd.apply(x, axis=axis)


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


def roll(x: Operand, shift: tuple[int, ...], axis: tuple[int, ...]) -> Operand:
    """``x`` shifted cyclically by ``shift`` along ``axis`` (one shift per axis)."""
    if type(x) is np.ndarray:
        return np.roll(x, shift, axis=axis)
    return xp_of(x).roll(x, shift=shift, axis=axis) if _is_array(x) else Roll.apply(x, shift=shift, axis=axis)


def broadcast_to(x: Operand, shape: tuple[int, ...]) -> Operand:
    return xp_of(x).broadcast_to(x, shape) if _is_array(x) else BroadcastTo.apply(x, shape=shape)


def scatter_add(g: Operand, index: Any, shape: tuple[int, ...], accumulate: bool) -> Operand:
    """zeros(shape) with ``g`` added at ``index`` (the gradient of indexing)."""
    if _is_array(g):
        return scatter(g, index, shape, accumulate)
    return ScatterAdd.apply(g, index=index, shape=shape, accumulate=accumulate)


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
from .matmul import MatMul  # noqa: E402
from .reduce import LogSoftmax, LogSumExp, Max, Mean, Min, Norm, Prod, Softmax, Std, Sum  # noqa: E402
from .scan import ArgSort, CumProd, CumSum, Sort, TopK, take_along, take_index  # noqa: E402
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
    "may_be_any", "surely_all", "mean_axes", "where_arrays", "cumulative_sum", "cumulative_prod", "matrix_t", "xp_of", "constant_like", "kind_of", "one_hot_matmul", "roll", "expand_reduced", "normalize_axis", "normalize_index",
    # forward helpers
    "floating", "stable_sigmoid", "stable_softmax", "max_keepdims", "scatter", "erf_array", "take_index", "take_along", "same_backend",
    "NO_ERF", "NO_SCATTER",
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
    "Prod", "Norm", "CumSum", "CumProd", "ArgSort", "Sort", "TopK",
    "Reshape", "Transpose", "BroadcastTo", "GetItem", "ScatterAdd", "Concatenate", "Cast",
    "Flip", "Roll", "Tile", "Repeat", "Pad", "Tril", "Triu", "Diagonal", "Trace", "MaskedFill", "ScatterAddAlong",
    "along_axis_index", "check_along_axis", "Einsum", "Inv", "Solve", "Det", "LogAbsDet", "Cholesky", "Eigh",
    "BinaryCrossEntropy", "BinaryCrossEntropyWithLogits", "SumSquares", "SoftmaxCrossEntropy",
    "Im2Col", "Col2Im", "im2col", "col2im",
]  # fmt: skip
