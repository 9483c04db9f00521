"""Unary elementwise ops: the smooth functions and the piecewise-linear ones.

The piecewise ones (relu, leaky_relu, clip, abs) pass the gradient on with
:func:`~tinygrad_gd.ops.select`, never by multiplying with a 0/1 mask: where the mask is
off the gradient is exactly 0, even when the upstream one is inf (relu(x).sqrt() at x < 0:
sqrt'(0) = inf).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ..autograd import Function
from . import constant, cos, floating, register_op, select, sigmoid, sign, sin, stable_sigmoid, where
from ._metadata import ANYWHERE, AWAY_FROM_ZERO, POSITIVE, UNARY, Case, Domain, Fuzz, OpCheck


def _unary(name: str, call: Callable[..., Any], reference: Callable[..., Any], domain: Domain = ANYWHERE, fuzz_domain: str = "any", kinks: tuple[float, ...] = ()) -> OpCheck:
    """The metadata of a unary op with one row over the UNARY shapes and one fuzz step."""
    return OpCheck((Case(name, call, reference, UNARY, domain),), (Fuzz(name, operands=(fuzz_domain,), kinks=kinks),))


# --------------------------------------------------------------------------- smooth
@register_op(check=_unary("neg", lambda a: -a, np.negative))
class Neg(Function):
    """f(x) = -x;  f'(x) = -1"""

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


@register_op(check=_unary("exp", lambda a: a.exp(), np.exp, fuzz_domain="bounded"))
class Exp(Function):
    """f(x) = exp(x);  f'(x) = exp(x)"""

    def forward(self, x):
        out = np.exp(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * out


@register_op(check=_unary("log", lambda a: a.log(), np.log, POSITIVE, "positive"))
class Log(Function):
    """f(x) = log(x);  f'(x) = 1/x"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.log(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g / x


@register_op(check=_unary("sqrt", lambda a: a.sqrt(), np.sqrt, POSITIVE, "positive"))
class Sqrt(Function):
    """f(x) = √x;  f'(x) = 1/(2√x) (inf at 0, as PyTorch)"""

    def forward(self, x):
        out = np.sqrt(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g / (2.0 * out)


@register_op(check=_unary("sin", lambda a: a.sin(), np.sin, Domain(-3.0, 3.0)))
class Sin(Function):
    """f(x) = sin(x);  f'(x) = cos(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g * cos(x)


@register_op(check=_unary("cos", lambda a: a.cos(), np.cos, Domain(-3.0, 3.0)))
class Cos(Function):
    """f(x) = cos(x);  f'(x) = -sin(x)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.cos(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return -g * sin(x)


@register_op(check=_unary("tanh", lambda a: a.tanh(), np.tanh))
class Tanh(Function):
    """f(x) = tanh(x);  f'(x) = 1 - tanh(x)²"""

    def forward(self, x):
        out = np.tanh(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (1.0 - out * out)


@register_op(check=_unary("sigmoid", lambda a: a.sigmoid(), lambda a: 1.0 / (1.0 + np.exp(-a)), Domain(-4.0, 4.0)))
class Sigmoid(Function):
    """f(x) = 1/(1+exp(-x));  f'(x) = f(x)(1 - f(x)) (stable for large |x|)"""

    def forward(self, x):
        out = stable_sigmoid(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (out * (1.0 - out))


@register_op(check=_unary("softplus", lambda a: a.softplus(), lambda a: np.log1p(np.exp(a)), Domain(-4.0, 4.0)))
class Softplus(Function):
    """f(x) = log(1 + exp(x));  f'(x) = sigmoid(x) (stable for large |x|)"""

    def forward(self, x):
        self.save_for_backward(x)
        x = floating(x)
        return np.logaddexp(0.0, x).astype(x.dtype, copy=False)

    def backward(self, g):
        (x,) = self.saved
        return g * sigmoid(x)


# --------------------------------------------------------------------------- piecewise
@register_op(check=OpCheck(
    cases=(
        Case("abs", lambda a: a.abs(), np.abs, UNARY, AWAY_FROM_ZERO),
        Case("abs_builtin", lambda a: abs(a), np.abs, UNARY[:3], AWAY_FROM_ZERO),
    ),
    fuzz=(Fuzz("abs", kinks=(0.0,)),),
))
class Abs(Function):
    """f(x) = |x|;  f'(x) = sign(x) (0 at 0: selected, so an inf upstream at 0 gives 0, not NaN)"""

    def forward(self, x):
        self.save_for_backward(x)
        return np.abs(x)

    def backward(self, g):
        (x,) = self.saved
        values = constant(x)
        return sign(values) * select(values != 0, g)


@register_op(check=_unary("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0.0), AWAY_FROM_ZERO, kinks=(0.0,)))
class Relu(Function):
    """f(x) = max(x, 0);  f'(x) = 1 if x > 0 else 0 (0 at 0)"""

    def forward(self, x):
        self.save_for_backward(x > 0)
        return np.maximum(x, 0)

    def backward(self, g):
        (positive,) = self.saved
        return select(positive, g)


@register_op(check=OpCheck(
    cases=(
        Case("leaky_relu", lambda a: a.leaky_relu(), lambda a: np.where(a > 0, a, 0.01 * a), UNARY, AWAY_FROM_ZERO),
        Case("leaky_relu_slope", lambda a: a.leaky_relu(0.2), lambda a: np.where(a > 0, a, 0.2 * a), UNARY, AWAY_FROM_ZERO),
    ),
    fuzz=(Fuzz("leaky_relu", lambda xs, s: xs[0].leaky_relu(s.pick((0.01, 0.2))), kinks=(0.0,)),),
))
class LeakyRelu(Function):
    """f(x) = x if x > 0 else slope·x;  f'(x) = 1 if x > 0 else slope"""

    def forward(self, x, slope=0.01):
        positive = x > 0
        self.slope = slope
        self.save_for_backward(positive)
        # (x * slope promotes an integer x to float64: -3 with slope 0.5 is -1.5, not 0)
        return np.where(positive, x, x * slope)

    def backward(self, g):
        (positive,) = self.saved
        if self.slope == 0:  # select: an inf upstream where x ≤ 0 gives 0, not inf·0 = NaN
            return select(positive, g)
        return where(positive, g, g * self.slope)


@register_op(check=OpCheck(
    cases=(
        Case("clip", lambda a: a.clip(-0.5, 0.8), lambda a: np.clip(a, -0.5, 0.8), UNARY, Domain(avoid=(-0.5, 0.8))),
        Case("clip_low_only", lambda a: a.clip(0.25), lambda a: np.maximum(a, 0.25), UNARY, Domain(avoid=(0.25,))),
        Case("clamp", lambda a: a.clamp(max=0.5), lambda a: np.minimum(a, 0.5), UNARY, Domain(avoid=(0.5,))),
    ),
    fuzz=(Fuzz("clip", kinks=(-0.5, 0.8)),),
))
class Clip(Function):
    """f(x) = min(max(x, lo), hi);  f'(x) = 1 if lo ≤ x ≤ hi else 0 (as PyTorch's clamp)"""

    def forward(self, x, lo=None, hi=None):
        inside = np.ones(x.shape, dtype=bool)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        self.save_for_backward(inside)
        return np.clip(x, lo, hi)

    def backward(self, g):
        (inside,) = self.saved
        return select(inside, g)
