"""Fused loss kernels: elementwise loss terms (and the sum of squares) whose naive composition
overflows or divides by zero at the edges of their domain, as one stable forward and one
backward. ``losses.py`` reduces their output ("mean" / "sum" / "none")."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from .. import _backend
from ..autograd import Function
from . import constant, floating, log, register_op, reshape, sigmoid, softmax, where, xp_of
from ._metadata import Case, Domain, Fuzz, OpCheck

_BCE_LOG_FLOOR = -100.0  # PyTorch clamps BCE's logs at -100 so that p = 0 or 1 stays finite
_BCE_GRAD_EPS = 1e-12  # ... and floors p(1-p) in the gradient at 1e-12, as PyTorch does
PAIRS = (((3,), (3,)), ((2, 3), (2, 3)))  # (prediction, target) sample shapes


def _floored_log(x: Any) -> Any:
    """max(log x, -100) that records under create_graph and never takes log(0)."""
    with np.errstate(divide="ignore"):
        usable = log(constant(x)) > _BCE_LOG_FLOOR
    return where(usable, log(where(usable, x, 1.0)), _BCE_LOG_FLOOR)


@register_op(check=OpCheck(
    cases=(Case("binary_cross_entropy", lambda p, t: BinaryCrossEntropy.apply(p, t), lambda p, t: -(t * np.log(p) + (1 - t) * np.log(1 - p)), PAIRS, (Domain(0.05, 0.95), Domain(0.0, 1.0))),),
    fuzz=(Fuzz("bce", lambda xs, s: BinaryCrossEntropy.apply(*s.common(*xs)), ("prob", "unit")),),
))
class BinaryCrossEntropy(Function):
    """f(p, t) = -(t·log p + (1-t)·log(1-p)), each log clamped at -100 (as PyTorch);
    df/dp = (p - t) / max(p(1-p), 1e-12),  df/dt = log(1-p) - log p"""

    def forward(self, p, t):
        xp = xp_of(p)
        with np.errstate(divide="ignore"):
            log_p = xp.maximum(xp.log(p), _BCE_LOG_FLOOR)
            log_q = xp.maximum(xp.log1p(-p), _BCE_LOG_FLOOR)
        self.save_for_backward(p, t)
        return -(t * log_p) - (1.0 - t) * log_q  # (not -(a + b): no -0.0 at p = t = 1)

    def backward(self, g):
        p, t = self.saved
        need_p, need_t = self.needs_input_grad
        gp = gt = None
        if need_p:
            spread = p * (1.0 - p)
            spread = where(constant(spread) > _BCE_GRAD_EPS, spread, _BCE_GRAD_EPS)
            gp = g * (p - t) / spread
        if need_t:
            gt = g * (_floored_log(1.0 - p) - _floored_log(p))
        return gp, gt


@register_op(check=OpCheck(
    cases=(Case("binary_cross_entropy_with_logits", lambda x, t: BinaryCrossEntropyWithLogits.apply(x, t), lambda x, t: np.log1p(np.exp(x)) - t * x, PAIRS, (Domain(-4.0, 4.0), Domain(0.0, 1.0))),),
    fuzz=(Fuzz("bce_logits", lambda xs, s: BinaryCrossEntropyWithLogits.apply(*s.common(*xs)), ("any", "unit")),),
))
class BinaryCrossEntropyWithLogits(Function):
    """f(x, t) = softplus(x) - t·x = max(x, 0) - t·x + log(1 + exp(-|x|)) (stable for any x);
    df/dx = sigmoid(x) - t,  df/dt = -x"""

    def forward(self, x, t):
        xp = xp_of(x)
        self.save_for_backward(x, t)
        return xp.maximum(x, 0.0) - t * x + xp.log1p(xp.exp(-xp.abs(x)))

    def backward(self, g):
        x, t = self.saved
        need_x, need_t = self.needs_input_grad
        gx = g * (sigmoid(x) - t) if need_x else None
        gt = -g * x if need_t else None
        return gx, gt


@register_op(check=OpCheck(
    cases=(Case("sum_squares", lambda r: SumSquares.apply(r, scale=0.5), lambda r: 0.5 * np.sum(r**2), (((3,),), ((2, 3),), ((),), ((2, 1),))),),
    fuzz=(Fuzz("sum_squares", lambda xs, s: SumSquares.apply(xs[0] - xs[1], scale=s.pick((1.0, 0.5, 1 / 3))), ("any", "any")),),
))
class SumSquares(Function):
    """f(r) = scale · Σ r²  (the reduction of mse and half_mse, without a squared temporary);
    df/dr = 2·scale·r"""

    def forward(self, r, scale=1.0):
        xp = xp_of(r)
        self.scale = scale
        self.save_for_backward(r)
        return (np.vdot(r, r) if xp is np else xp.sum(r * r)) * scale

    def backward(self, g):
        (r,) = self.saved
        return r * (g * (2.0 * self.scale))


def _onehot(labels: Any, shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
    """1.0 at (i, labels[i]), 0 elsewhere: by item assignment on numpy, by comparison with
    a class range elsewhere (the standard has no scatter)."""
    if type(like) is np.ndarray:
        onehot = np.zeros(shape, dtype=dtype)
        onehot[np.arange(shape[0]), labels] = 1.0
        return onehot
    xp = xp_of(like)
    labels = labels if _backend.backend_name(labels) != "numpy" else _backend.asarray(np.asarray(labels).tolist(), like, xp.int64)
    classes = xp.arange(shape[1], device=_backend.compat().device(like))
    return xp.astype(xp.reshape(classes, (1, -1)) == xp.reshape(labels, (-1, 1)), dtype)


def _cyclic_labels(shape: tuple[int, ...]) -> np.ndarray:
    """Fixed integer labels 0, 1, ..., C-1, 0, ... for logits of shape (n, C)."""
    return np.arange(shape[0]) % shape[1]


def _reference_cross_entropy(x: np.ndarray, labels: np.ndarray) -> np.ndarray:
    m = x.max(axis=1, keepdims=True)
    return np.log(np.exp(x - m).sum(axis=1)) + m[:, 0] - x[np.arange(x.shape[0]), labels]


def _fuzz_cross_entropy(xs: Sequence[Any], s: Any) -> Any:
    x = xs[0]
    logits = x.reshape(1, 1) if x.ndim == 0 else x.reshape(-1, x.shape[-1])
    n, classes = logits.shape
    return SoftmaxCrossEntropy.apply(logits, labels=s.integers(classes, n)).sum()


@register_op(check=OpCheck(
    cases=(Case("cross_entropy_fused", lambda x: SoftmaxCrossEntropy.apply(x, labels=_cyclic_labels(x.shape)), lambda x: _reference_cross_entropy(x, _cyclic_labels(x.shape)), (((3, 4),), ((1, 2),), ((5, 3),))),),
    fuzz=(Fuzz("cross_entropy_fused", _fuzz_cross_entropy),),
))
class SoftmaxCrossEntropy(Function):
    """f(x, y)_i = logsumexp(x_i) - x_i[y_i] for logits x (n, C) and integer labels y (n,);
    df/dx_i = softmax(x_i) - onehot(y_i)  (stable for any logits)"""

    def forward(self, x, labels=None):
        xp = xp_of(x)
        shifted = x - xp.max(x, axis=1, keepdims=True)
        total = xp.sum(xp.exp(shifted), axis=1, keepdims=True)
        onehot = _onehot(labels, x.shape, floating(shifted).dtype, x)
        # The probabilities are recomputed by the rule (not saved): under create_graph they
        # must be recorded as a function of x.
        self.save_for_backward(x, onehot)
        picked = shifted[np.arange(x.shape[0]), labels] if xp is np else xp.sum(shifted * onehot, axis=1)
        return xp.log(total[:, 0]) - picked

    def backward(self, g):
        x, onehot = self.saved
        return (softmax(x, axis=1) - onehot) * reshape(g, (-1, 1))
