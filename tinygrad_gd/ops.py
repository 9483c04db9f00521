"""Every differentiable primitive: forward and backward side by side, nothing else.

Each op is one :class:`~tinygrad_gd.autograd.Function` subclass, registered in
``autograd.OPS`` so the test tables cover it. ``forward`` works on numpy arrays.
``backward`` is written once with operators, methods and the small namespace below, which
work on numpy arrays and on Tensors alike: a first-order backward runs it on arrays (fast,
nothing recorded); ``create_graph=True`` runs it on Tensors, which records it.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _validate
from .autograd import Function, GraphTensor, register_op

# --------------------------------------------------------------------------- namespace
# The seam between backward rules and the array library: each function takes numpy arrays
# (-> numpy) or Tensors (-> a recorded op). Keep array-library calls in rules behind it.
_ARRAY_TYPES = (np.ndarray, np.generic, float, int, bool)


def _is_array(*xs: Any) -> bool:
    return all(isinstance(x, _ARRAY_TYPES) for x in xs)


def exp(x: Any) -> Any:
    return np.exp(x) if _is_array(x) else Exp.apply(x)


def log(x: Any) -> Any:
    return np.log(x) if _is_array(x) else Log.apply(x)


def sin(x: Any) -> Any:
    return np.sin(x) if _is_array(x) else Sin.apply(x)


def cos(x: Any) -> Any:
    return np.cos(x) if _is_array(x) else Cos.apply(x)


def sigmoid(x: Any) -> Any:
    return _sigmoid(x) if _is_array(x) else Sigmoid.apply(x)


def sign(x: Any) -> Any:
    """sign as a constant (its derivative is 0 almost everywhere)."""
    return np.sign(x if _is_array(x) else x.data)


def where(cond: Any, a: Any, b: Any) -> Any:
    if _is_array(a, b):
        return np.where(cond, a, b)
    return Where.apply(cond if _is_array(cond) else cond.data, a, b)


def broadcast_to(x: Any, shape: tuple[int, ...]) -> Any:
    return np.broadcast_to(x, shape) if _is_array(x) else BroadcastTo.apply(x, shape=shape)


def matmul(a: Any, b: Any) -> Any:
    return a @ b


def swap_last(x: Any) -> Any:
    """Swap the last two axes (matrix transpose of a batch)."""
    axes = list(range(x.ndim))
    axes[-1], axes[-2] = axes[-2], axes[-1]
    return x.transpose(axes)


def scatter_add(g: Any, index: Any, shape: tuple[int, ...], accumulate: bool) -> Any:
    """zeros(shape) with ``g`` added at ``index`` (the gradient of indexing)."""
    if _is_array(g):
        return _scatter(g, index, shape, accumulate)
    return ScatterAdd.apply(g, index=index, shape=shape, accumulate=accumulate)


def expand_reduced(g: Any, shape: tuple[int, ...], axis: tuple[int, ...] | None, keepdims: bool) -> Any:
    """Bring a reduction's gradient back to the input's rank (size-1 reduced axes)."""
    if keepdims or axis is None and g.ndim == len(shape):
        return g
    kept = [1 if (axis is None or i in axis) else n for i, n in enumerate(shape)]
    return g.reshape(tuple(kept))


# --------------------------------------------------------------------------- helpers
def _floating(x: Any) -> np.ndarray:
    """``x`` itself when it holds floats, else ``x`` as float64.

    Float-valued ops (exp, sigmoid, mean, softmax, ...) on integer or bool tensors promote
    to float64, as PyTorch promotes to its default float: never truncated back to the
    integer dtype (sigmoid([1, 2, -3]) is not [0, 0, 0]), never numpy's float16 for bool or
    int8. Float arrays pass through untouched (same object: saved-input tracking holds)."""
    x = np.asarray(x)
    return x if x.dtype.kind == "f" else x.astype(np.float64)


def _sigmoid(x: Any) -> np.ndarray:
    """Stable logistic: never exponentiates a large positive number."""
    x = _floating(x)
    e = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(x.dtype, copy=False)


def _scatter(g: np.ndarray, index: Any, shape: tuple[int, ...], accumulate: bool) -> np.ndarray:
    out = np.zeros(shape, dtype=g.dtype)
    if accumulate:
        np.add.at(out, index, g)
    else:
        out[index] = g
    return out


def normalize_axis(axis: Any, ndim: int, argument: str = "axis", shape: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
    """``None`` or a sorted tuple of non-negative axes (see ``_validate.axes``: integers only,
    in range, each once; a clear error otherwise)."""
    return _validate.axes(axis, ndim, argument, shape)


# --------------------------------------------------------------------------- binary
@register_op
class Add(Function):
    """f(a, b) = a + b;  df/da = 1, df/db = 1"""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


@register_op
class Sub(Function):
    """f(a, b) = a - b;  df/da = 1, df/db = -1"""

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


@register_op
class Mul(Function):
    """f(a, b) = a * b;  df/da = b, df/db = a"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


@register_op
class Div(Function):
    """f(a, b) = a / b;  df/da = 1/b, df/db = -a/b² = -f/b"""

    def forward(self, a, b):
        out = a / b
        self.save_for_backward(b, out)
        return out

    def backward(self, g):
        b, out = self.saved
        need_a, need_b = self.needs_input_grad
        ga = g / b if need_a else None
        gb = -g * out / b if need_b else None
        return ga, gb


@register_op
class Pow(Function):
    """f(a, b) = a ** b;  df/da = b a^(b-1) (exactly 0 where b = 0, a = 0 and ±inf included),
    df/db = a^b log(a) (0 where a = 0, NaN where a < 0)"""

    def forward(self, a, b):
        out = np.power(a, b)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:
            if isinstance(b, (int, float)):  # a constant exponent
                if b == 0:
                    # a**0 = 1 for every a: the derivative is exactly 0 (selected: no 0·inf
                    # at a = 0 or a = ±inf, nor from an inf upstream gradient)
                    ga = where(False, g, 0.0)
                elif b == 2:
                    ga = g * a * 2.0
                else:
                    ga = g * b * a ** (b - 1)
            else:
                # An exponent array or Tensor: b·a^(b-1) is right everywhere, its derivative
                # in b too (a^(b-1)·(1 + b log a), which is 1/a at b = 0: create_graph needs
                # it), except where b = 0 meets a = 0 (0·inf) or a non-finite upstream
                # gradient. Only there the 0 is selected, with safe operands inside (a double
                # where, so that no NaN appears in the branch not taken either).
                stuck = (_raw(b) == 0) & ((_raw(a) == 0) | ~np.isfinite(_raw(g)))
                if stuck.any():
                    safe = where(stuck, 0.0, g) * b * where(stuck, 1.0, a) ** (b - 1)
                    ga = where(stuck, 0.0, safe)
                else:
                    ga = g * b * a ** (b - 1)
        if need_b:
            # Only computed when the exponent requires grad: log of a negative base is NaN.
            a_arr = np.asarray(_raw(a))
            positive = a_arr > 0
            if positive.all():
                gb = g * out * log(a)
            else:  # select (a double where: no 0·inf from an inf upstream where a ≤ 0)
                inside = where(positive, g, 0.0) * out * log(where(positive, a, 1.0))
                gb = where(positive, inside, np.where(a_arr < 0, np.nan, 0.0))
        return ga, gb


def _matmul_error(a: Any, b: Any) -> ValueError:
    a_shape, b_shape = np.shape(a), np.shape(b)
    if not a_shape or not b_shape:
        return ValueError(
            f"matmul needs at least 1-D operands, got shapes {a_shape} and {b_shape}; "
            f"use * to multiply by a scalar"
        )
    inner_a = a_shape[-1]
    inner_b = b_shape[-2] if len(b_shape) > 1 else b_shape[0]
    if inner_a != inner_b:
        return ValueError(
            f"matmul shape mismatch: {a_shape} @ {b_shape} — the last axis of the left "
            f"operand ({inner_a}) must equal the "
            f"{'second-to-last' if len(b_shape) > 1 else 'only'} axis of the right "
            f"operand ({inner_b}). Transpose one operand (e.g. X @ w.T) or fix the shapes."
        )
    return ValueError(
        f"matmul: the batch axes of shapes {a_shape} and {b_shape} cannot be broadcast together"
    )


@register_op
class MatMul(Function):
    """f(A, B) = A @ B;  dA = G Bᵀ, dB = Aᵀ G (1-D operands promoted as numpy does)"""

    def forward(self, a, b):
        try:
            out = a @ b
        except (ValueError, TypeError):
            raise _matmul_error(a, b) from None
        self.save_for_backward(a, b)
        return out

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the general reshaping
            return (g @ b.T if need_a else None), (a.T @ g if need_b else None)
        if a.ndim == 2 and b.ndim == 1:  # X @ w
            return (g.reshape((-1, 1)) * b if need_a else None), (a.T @ g if need_b else None)
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        a2 = a.reshape((1, a.shape[0])) if a_vec else a
        b2 = b.reshape((b.shape[0], 1)) if b_vec else b
        g2 = g
        if a_vec:
            g2 = g2.reshape(g2.shape[:-1] + (1,) + g2.shape[-1:]) if not b_vec else g2
        if b_vec:
            g2 = g2.reshape(g2.shape + (1,)) if not a_vec else g2.reshape((1, 1))
        ga = gb = None
        if need_a:
            ga = g2 @ swap_last(b2)
            if a_vec:
                ga = ga.reshape(ga.shape[:-2] + ga.shape[-1:])
        if need_b:
            gb = swap_last(a2) @ g2
            if b_vec:
                gb = gb.reshape(gb.shape[:-1])
        return ga, gb


class _Choose(Function):
    """Shared rule of elementwise maximum/minimum: the gradient goes to the chosen input,
    split evenly on ties. It is *selected* (never multiplied by a 0/1 mask): where an input
    lost, its gradient is exactly 0 even when the upstream one is inf (maximum(x, 0).sqrt()
    at x < 0). A NaN operand passes the gradient to both inputs, as PyTorch."""

    pick = staticmethod(np.maximum)
    loses = staticmethod(np.less)  # a loses to b where loses(a, b)

    def forward(self, a, b):
        a_arr, b_arr = np.asarray(a), np.asarray(b)
        self.keep_a, self.keep_b = ~self.loses(a_arr, b_arr), ~self.loses(b_arr, a_arr)
        tie = a_arr == b_arr
        self.half = np.where(tie, 0.5, 1.0) if tie.any() else None
        return self.pick(a, b)

    def backward(self, g):
        need_a, need_b = self.needs_input_grad
        ga = where(self.keep_a, g, 0.0) if need_a else None
        gb = where(self.keep_b, g, 0.0) if need_b else None
        if self.half is not None:
            ga = ga * self.half if need_a else None
            gb = gb * self.half if need_b else None
        return ga, gb


@register_op
class Maximum(_Choose):
    """f(a, b) = max(a, b);  gradient to the larger input, split evenly on ties"""

    pick = staticmethod(np.maximum)
    loses = staticmethod(np.less)


@register_op
class Minimum(_Choose):
    """f(a, b) = min(a, b);  gradient to the smaller input, split evenly on ties"""

    pick = staticmethod(np.minimum)
    loses = staticmethod(np.greater)


@register_op
class Where(Function):
    """f(c, a, b) = a where c else b;  da = g·c, db = g·(1-c) (c is a constant mask)"""

    def forward(self, cond, a, b):
        self.cond = np.asarray(cond, dtype=bool)
        return np.where(self.cond, a, b)

    def backward(self, g):
        zero = 0.0
        _, need_a, need_b = self.needs_input_grad
        ga = where(self.cond, g, zero) if need_a else None
        gb = where(self.cond, zero, g) if need_b else None
        return None, ga, gb


# --------------------------------------------------------------------------- unary
@register_op
class Neg(Function):
    """f(x) = -x;  f'(x) = -1"""

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


@register_op
class Exp(Function):
    """f(x) = exp(x);  f'(x) = exp(x)"""

    def forward(self, x):
        out = np.exp(_floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * out


@register_op
class Log(Function):
    """f(x) = log(x);  f'(x) = 1/x"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(_floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g / x


@register_op
class Sqrt(Function):
    """f(x) = √x;  f'(x) = 1/(2√x) (inf at 0, as PyTorch)"""

    def forward(self, x):
        out = np.sqrt(_floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g / (2.0 * out)


@register_op
class Abs(Function):
    """f(x) = |x|;  f'(x) = sign(x) (0 at 0: selected, so an inf upstream at 0 gives 0, not NaN)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, g):
        (x,) = self.saved
        x_raw = _raw(x)
        return sign(x_raw) * where(x_raw != 0, g, 0.0)


@register_op
class Sin(Function):
    """f(x) = sin(x);  f'(x) = cos(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(_floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g * cos(x)


@register_op
class Cos(Function):
    """f(x) = cos(x);  f'(x) = -sin(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.cos(_floating(x))

    def backward(self, g):
        (x,) = self.saved
        return -g * sin(x)


@register_op
class Tanh(Function):
    """f(x) = tanh(x);  f'(x) = 1 - tanh(x)²"""

    def forward(self, x):
        out = np.tanh(_floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (1.0 - out * out)


@register_op
class Sigmoid(Function):
    """f(x) = 1/(1+exp(-x));  f'(x) = f(x)(1 - f(x)) (stable for large |x|)"""

    def forward(self, x):
        out = _sigmoid(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (out * (1.0 - out))


@register_op
class Relu(Function):
    """f(x) = max(x, 0);  f'(x) = 1 if x > 0 else 0 (0 at 0)"""

    def forward(self, x):
        self.mask = x > 0
        return np.maximum(x, 0)

    def backward(self, g):
        # Masks *select* (never g * mask): where the mask is off the gradient is exactly 0,
        # even when the upstream one is inf (relu(x).sqrt() at x < 0: sqrt'(0) = inf).
        return where(self.mask, g, 0.0)


@register_op
class LeakyRelu(Function):
    """f(x) = x if x > 0 else slope·x;  f'(x) = 1 if x > 0 else slope"""

    def forward(self, x, slope=0.01):
        self.mask, self.slope = x > 0, slope
        # (x * slope promotes an integer x to float64: -3 with slope 0.5 is -1.5, not 0)
        return np.where(self.mask, x, x * slope)

    def backward(self, g):
        if self.slope == 0:  # select: an inf upstream where x ≤ 0 gives 0, not inf·0 = NaN
            return where(self.mask, g, 0.0)
        return where(self.mask, g, g * self.slope)


@register_op
class Softplus(Function):
    """f(x) = log(1 + exp(x));  f'(x) = sigmoid(x) (stable for large |x|)"""

    def forward(self, x):
        self.save_for_backward(x)
        x = _floating(x)
        return np.logaddexp(0.0, x).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved
        return g * sigmoid(x)


@register_op
class Clip(Function):
    """f(x) = min(max(x, lo), hi);  f'(x) = 1 if lo ≤ x ≤ hi else 0 (as PyTorch's clamp)"""

    def forward(self, x, lo=None, hi=None):
        inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        self.inside = inside
        return np.clip(x, lo, hi)

    def backward(self, g):
        return where(self.inside, g, 0.0)  # select, not multiply (see Relu)


@register_op
class Cast(Function):
    """f(x) = x as another float dtype;  f'(x) = 1 (gradient cast back)"""

    def forward(self, x, dtype=None):
        self.in_dtype = x.dtype
        return x.astype(dtype)

    def backward(self, g):
        return g  # the engine casts gradients to the input's dtype


# --------------------------------------------------------------------------- reductions
@register_op
class Sum(Function):
    """f(x) = Σ x over axis;  df/dx = 1 (gradient broadcast back)"""

    def forward(self, x, axis=None, keepdims=False):
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        return np.sum(x, axis=axis, keepdims=keepdims)

    def backward(self, g):
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        return broadcast_to(g, self.in_shape)


@register_op
class Mean(Function):
    """f(x) = (1/n) Σ x over axis;  df/dx = 1/n"""

    def forward(self, x, axis=None, keepdims=False):
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        out = np.mean(x, axis=axis, keepdims=keepdims)
        # (an empty input has an empty gradient: any nonzero count keeps 1/count finite)
        self.count = x.size // max(np.size(out), 1) if x.size else 1
        return out

    def backward(self, g):
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        return broadcast_to(g * (1.0 / self.count), self.in_shape)


class _Extremum(Function):
    """Shared rule of max/min reductions: ties share the gradient evenly. The gradient is
    *selected* onto the extreme entries (never multiplied by a 0/1 mask): the others get
    exactly 0 even when the upstream gradient is inf. A NaN extreme sends it to the NaN."""

    reduce = staticmethod(np.max)

    def forward(self, x, axis=None, keepdims=False):
        if x.size == 0:
            raise ValueError(f"{type(self).__name__.lower()}() of an empty tensor (shape {x.shape}) has no value")
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        out = self.reduce(x, axis=axis, keepdims=True)
        mask = x == out
        if out.dtype.kind == "f" and np.isnan(out).any():
            mask |= np.isnan(x)  # (NaN == NaN is False: without this no entry would be chosen)
        self.mask = mask
        share = 1.0 / mask.sum(axis=axis, keepdims=True)  # 1/k for k tied extremes
        self.share = share.astype(x.dtype if x.dtype.kind == "f" else np.float64, copy=False)
        return out if keepdims else np.squeeze(out, axis=axis) if axis is not None else out.reshape(())

    def backward(self, g):
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        return where(self.mask, g * self.share, 0.0)


@register_op
class Max(_Extremum):
    """f(x) = max x over axis;  df/dx = 1/k on the k tied maxima, 0 elsewhere"""

    reduce = staticmethod(np.max)


@register_op
class Min(_Extremum):
    """f(x) = min x over axis;  df/dx = 1/k on the k tied minima, 0 elsewhere"""

    reduce = staticmethod(np.min)


@register_op
class Std(Function):
    """f(x) = √(Σ (x - mean)² / (n - ddof)) over axis;  df/dx = (x - mean) / ((n - ddof)·f),
    and 0 where f = 0 (equal values, or one value: a batch of one), as PyTorch"""

    def forward(self, x, axis=None, ddof=0, keepdims=False):
        self.in_shape, self.axis, self.ddof, self.keepdims = x.shape, axis, ddof, keepdims
        self.count = x.size if axis is None else int(np.prod([x.shape[a] for a in axis]))
        out = np.std(_floating(x), axis=axis, ddof=ddof, keepdims=keepdims)
        self.save_for_backward(x, out)
        return out

    def backward(self, g):
        x, out = self.saved
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        out = expand_reduced(out, self.in_shape, self.axis, self.keepdims)
        # √'(0) = inf meets (x - mean) = 0 where the spread is 0: select 0 there (not 0·inf =
        # NaN), with a safe divisor inside; a NaN std stays NaN.
        spread = _raw(out) != 0
        scale = where(spread, g / (where(spread, out, 1.0) * float(self.count - self.ddof)), 0.0)
        return scale * (x - x.mean(axis=self.axis, keepdims=True))


@register_op
class LogSumExp(Function):
    """f(x) = log Σ exp(x) over axis (shifted by the max: stable);  df/dx = softmax(x)"""

    def forward(self, x, axis=None, keepdims=False):
        self.in_shape, self.axis, self.keepdims = x.shape, axis, keepdims
        m = _max_keepdims(x, axis)
        m = np.where(np.isfinite(m), m, 0.0)
        with np.errstate(divide="ignore"):  # an empty axis: log Σ∅ = log 0 = -inf, as PyTorch
            out = np.log(np.sum(np.exp(x - m), axis=axis, keepdims=True)) + m
        self.save_for_backward(x, out)
        if keepdims:
            return out
        return np.squeeze(out, axis=axis) if axis is not None else out.reshape(())

    def backward(self, g):
        x, out = self.saved
        if not _is_array(x):
            # Under create_graph the saved (keepdims) result is a constant intermediate:
            # recompute it from x so that it is recorded too.
            out = x.logsumexp(axis=self.axis, keepdims=True)
        g = expand_reduced(g, self.in_shape, self.axis, self.keepdims)
        return g * exp(x - out)


# --------------------------------------------------------------------------- nn
def _max_keepdims(x: np.ndarray, axis: Any) -> np.ndarray:
    """max over ``axis`` with keepdims; -inf (the max of nothing) where an axis is empty."""
    if x.size == 0:
        return np.max(_floating(x), axis=axis, keepdims=True, initial=-np.inf)
    return np.max(x, axis=axis, keepdims=True)


@register_op
class Softmax(Function):
    """f(x)_i = exp(x_i) / Σ_j exp(x_j) along axis (an int, a tuple of axes: normalised over
    them jointly, or None: over all);  df = f · (g - Σ g·f)"""

    def forward(self, x, axis=-1):
        self.axis = axis
        x = _floating(x)
        shifted = x - _max_keepdims(x, axis)
        e = np.exp(shifted)
        out = e / np.sum(e, axis=axis, keepdims=True)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return out * (g - (g * out).sum(axis=self.axis, keepdims=True))


@register_op
class LogSoftmax(Function):
    """f(x)_i = x_i - logsumexp(x) along axis (axes as Softmax);  df = g - softmax(x) · Σ g"""

    def forward(self, x, axis=-1):
        self.axis = axis
        x = _floating(x)
        shifted = x - _max_keepdims(x, axis)
        out = shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g - exp(out) * g.sum(axis=self.axis, keepdims=True)


# --------------------------------------------------------------------------- shape
@register_op
class Reshape(Function):
    """f(x) = x viewed with a new shape;  gradient reshaped back"""

    returns_view = True

    def forward(self, x, shape=()):
        self.in_shape = x.shape
        try:
            return x.reshape(shape)
        except ValueError:
            raise ValueError(
                f"cannot reshape a tensor of shape {x.shape} ({x.size} elements) into shape "
                f"{tuple(shape)}: the number of elements must stay the same"
            ) from None

    def backward(self, g):
        return g.reshape(self.in_shape)


@register_op
class Transpose(Function):
    """f(x) = x with permuted axes;  gradient permuted back by the inverse permutation"""

    returns_view = True

    def forward(self, x, axes=None):
        if axes is None:
            axes = tuple(range(x.ndim))[::-1]
        else:
            axes = _validate.permutation(axes, x.ndim, "transpose axes", x.shape)
        self.inverse = tuple(np.argsort(axes))
        return np.transpose(x, axes)

    def backward(self, g):
        return g.transpose(self.inverse)


@register_op
class BroadcastTo(Function):
    """f(x) = x broadcast to shape;  gradient summed back (by the engine's unbroadcast)"""

    returns_view = True

    def forward(self, x, shape=()):
        try:
            return np.broadcast_to(x, shape)
        except ValueError:
            raise ValueError(
                f"cannot broadcast a tensor of shape {np.shape(x)} to shape {tuple(shape)}"
            ) from None

    def backward(self, g):
        return g


_BASIC_INDEX_TYPES = (int, slice, type(None), type(Ellipsis), np.integer, np.bool_)


def normalize_index(index: Any) -> Any:
    """The index as numpy reads it, with every array part an ndarray.

    A tuple is the index tuple (one entry per axis). Any other sequence — a list, nested
    lists, or a tuple or list *inside* the index tuple (``x[(0, 0, 2),]``,
    ``x[(0, 0), (1, 1)]``) — is an integer (or boolean) array index, as numpy and PyTorch
    read it. A Tensor is its data; a float array of whole numbers (a Tensor of ids) becomes
    an integer array. Everything that decides how an index behaves (the gradient's
    accumulation above all) looks at this form only.
    """
    if isinstance(index, tuple):
        return tuple(_index_part(p) for p in index)
    return _index_part(index)


def _index_part(part: Any) -> Any:
    if isinstance(part, _BASIC_INDEX_TYPES):  # bool is an int: x[True] stays numpy's new axis
        return part
    if isinstance(part, GraphTensor):
        part = part.data
    elif isinstance(part, (list, tuple)):
        try:
            part = np.asarray(part)
        except ValueError:
            raise IndexError(
                f"an index list must be rectangular (every inner list the same length), got {part!r}"
            ) from None
    if isinstance(part, np.ndarray) and part.dtype.kind == "f":
        if not np.all(np.mod(part, 1) == 0):
            raise IndexError("tensors used as indices must hold whole numbers (or be boolean masks)")
        part = part.astype(np.intp)
    return part


def _needs_accumulation(index: Any) -> bool:
    """Integer-array indices may repeat (also as ``i`` and ``i - n``), so their gradient must
    be added, not assigned. ``index`` is in :func:`normalize_index`'s form."""
    parts = index if isinstance(index, tuple) else (index,)
    return any(isinstance(p, np.ndarray) and p.dtype.kind in "iu" for p in parts)


@register_op
class GetItem(Function):
    """f(x) = x[index];  gradient scattered back (repeated indices accumulate)"""

    returns_view = True

    def forward(self, x, index=None):
        index = normalize_index(index)
        self.in_shape, self.index = x.shape, index
        self.accumulate = _needs_accumulation(index)
        return np.asarray(x[index])

    def backward(self, g):
        return scatter_add(g, self.index, self.in_shape, self.accumulate)


@register_op
class ScatterAdd(Function):
    """f(g) = zeros(shape) with g added at index;  gradient: df = upstream[index]"""

    def forward(self, g, index=None, shape=(), accumulate=True):
        self.index = index = normalize_index(index)
        return _scatter(g, index, shape, accumulate)

    def backward(self, g):
        return g[self.index]


@register_op
class Concatenate(Function):
    """f(x1, …, xk) = concatenation along axis;  each gradient is its slice"""

    def forward(self, *xs, axis=0):
        self.axis = axis
        self.bounds = np.cumsum([0] + [np.shape(x)[axis] for x in xs])
        return np.concatenate(xs, axis=axis)

    def backward(self, g):
        axis = self.axis % g.ndim
        lead = (slice(None),) * axis
        bounds = self.bounds
        return tuple(
            g[lead + (slice(int(bounds[i]), int(bounds[i + 1])),)] if need else None
            for i, need in enumerate(self.needs_input_grad)
        )


# --------------------------------------------------------------------------- fused losses
# Elementwise loss terms whose naive composition overflows or divides by zero at the edges
# of their domain. losses.py reduces their output ("mean" / "sum" / "none").
_BCE_LOG_FLOOR = -100.0  # PyTorch clamps BCE's logs at -100 so that p = 0 or 1 stays finite
_BCE_GRAD_EPS = 1e-12  # ... and floors p(1-p) in the gradient at 1e-12, as PyTorch does


def _raw(x: Any) -> np.ndarray:
    """The numpy array behind a backward-rule operand (an array, or a Tensor's data)."""
    return np.asarray(x if _is_array(x) else x.data)


def _floored_log(x: Any) -> Any:
    """max(log x, -100) that records under create_graph and never takes log(0)."""
    with np.errstate(divide="ignore"):
        usable = np.log(_raw(x)) > _BCE_LOG_FLOOR
    return where(usable, log(where(usable, x, 1.0)), _BCE_LOG_FLOOR)


@register_op
class BinaryCrossEntropy(Function):
    """f(p, t) = -(t·log p + (1-t)·log(1-p)), each log clamped at -100 (as PyTorch);
    df/dp = (p - t) / max(p(1-p), 1e-12),  df/dt = log(1-p) - log p"""

    def forward(self, p, t):
        with np.errstate(divide="ignore"):
            log_p = np.maximum(np.log(p), _BCE_LOG_FLOOR)
            log_q = np.maximum(np.log1p(-p), _BCE_LOG_FLOOR)
        self.save_for_backward(p, t)
        return -(t * log_p) - (1.0 - t) * log_q  # (not -(a + b): no -0.0 at p = t = 1)

    def backward(self, g):
        p, t = self.saved
        need_p, need_t = self.needs_input_grad
        gp = gt = None
        if need_p:
            spread = p * (1.0 - p)
            spread = where(_raw(spread) > _BCE_GRAD_EPS, spread, _BCE_GRAD_EPS)
            gp = g * (p - t) / spread
        if need_t:
            gt = g * (_floored_log(1.0 - p) - _floored_log(p))
        return gp, gt


@register_op
class BinaryCrossEntropyWithLogits(Function):
    """f(x, t) = softplus(x) - t·x = max(x, 0) - t·x + log(1 + exp(-|x|)) (stable for any x);
    df/dx = sigmoid(x) - t,  df/dt = -x"""

    def forward(self, x, t):
        self.save_for_backward(x, t)
        return np.maximum(x, 0.0) - t * x + np.log1p(np.exp(-np.abs(x)))

    def backward(self, g):
        x, t = self.saved
        need_x, need_t = self.needs_input_grad
        gx = g * (sigmoid(x) - t) if need_x else None
        gt = -g * x if need_t else None
        return gx, gt


@register_op
class SumSquares(Function):
    """f(r) = scale · Σ r²  (the reduction of mse and half_mse, without a squared temporary);
    df/dr = 2·scale·r"""

    def forward(self, r, scale=1.0):
        self.scale = scale
        self.save_for_backward(r)
        return np.vdot(r, r) * scale

    def backward(self, g):
        (r,) = self.saved
        return r * (g * (2.0 * self.scale))


@register_op
class SoftmaxCrossEntropy(Function):
    """f(x, y)_i = logsumexp(x_i) - x_i[y_i] for logits x (n, C) and integer labels y (n,);
    df/dx_i = softmax(x_i) - onehot(y_i)  (stable for any logits)"""

    def forward(self, x, labels=None):
        shifted = x - np.max(x, axis=1, keepdims=True)
        exp_shifted = np.exp(shifted)
        total = np.sum(exp_shifted, axis=1, keepdims=True)
        rows = np.arange(x.shape[0])
        self.labels, self.rows = labels, rows
        self.save_for_backward(x, exp_shifted / total)
        return np.log(total[:, 0]) - shifted[rows, labels]

    def backward(self, g):
        x, probs = self.saved
        if not _is_array(x):
            probs = x.softmax(axis=1)  # under create_graph: recorded
        onehot = np.zeros(x.shape, dtype=probs.dtype)
        onehot[self.rows, self.labels] = 1.0
        return (probs - onehot) * g.reshape((-1, 1))
