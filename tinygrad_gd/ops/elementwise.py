"""Unary elementwise ops: the smooth functions, the piecewise-linear ones, the activations
(silu, elu, gelu, softsign, hardtanh, and erf behind the exact gelu) and the rounding ops
(floor, ceil, round, sign: gradient 0, as PyTorch). The trigonometric, hyperbolic and log/exp
family live in ``special``.

The piecewise ones (relu, leaky_relu, clip, abs) pass the gradient on with
:func:`~tinygrad_gd.ops.select`, never by multiplying with a 0/1 mask: where the mask is
off the gradient is exactly 0, even when the upstream one is inf (relu(x).sqrt() at x < 0:
sqrt'(0) = inf).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from importlib.util import find_spec
from typing import Any

import numpy as np

from .. import _backend
from .._backend import xp_of
from ..autograd import Function
from . import (
    constant,
    cos,
    erf,
    erf_array,
    exp,
    floating,
    register_op,
    select,
    sigmoid,
    sign,
    sin,
    stable_sigmoid,
    where,
)
from ._metadata import ANYWHERE, AWAY_FROM_ZERO, POSITIVE, UNARY, Case, Domain, Fuzz, OpCheck


def unary_check(
    name: str,
    call: Callable[..., Any],
    reference: Callable[..., Any],
    domain: Domain = ANYWHERE,
    fuzz_domain: str = "any",
    kinks: tuple[float, ...] = (),
    fuzz: Fuzz | None = None,
) -> OpCheck:
    """The metadata of a unary op with one row over the UNARY shapes and one fuzz step (the op
    on ``fuzz_domain`` away from ``kinks``, unless a ``fuzz`` step is given)."""
    step = fuzz if fuzz is not None else Fuzz(name, operands=(fuzz_domain,), kinks=kinks)
    return OpCheck((Case(name, call, reference, UNARY, domain),), (step,))


# --------------------------------------------------------------------------- smooth
@register_op(check=unary_check("neg", lambda a: -a, np.negative))
class Neg(Function):
    """f(x) = -x;  f'(x) = -1"""

    def forward(self, x):
        return -x

    def backward(self, g):
        return -g


@register_op(check=unary_check("exp", lambda a: a.exp(), np.exp, fuzz_domain="bounded"))
class Exp(Function):
    """f(x) = exp(x);  f'(x) = exp(x)"""

    def forward(self, x):
        xp = xp_of(x)
        out = xp.exp(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * out


@register_op(check=unary_check("log", lambda a: a.log(), np.log, POSITIVE, "positive"))
class Log(Function):
    """f(x) = log(x);  f'(x) = 1/x"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.log(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g / x


@register_op(check=unary_check("sqrt", lambda a: a.sqrt(), np.sqrt, POSITIVE, "positive"))
class Sqrt(Function):
    """f(x) = √x;  f'(x) = 1/(2√x) (inf at 0, as PyTorch)"""

    def forward(self, x):
        xp = xp_of(x)
        out = xp.sqrt(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g / (2.0 * out)


@register_op(check=unary_check("sin", lambda a: a.sin(), np.sin, Domain(-3.0, 3.0)))
class Sin(Function):
    """f(x) = sin(x);  f'(x) = cos(x)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.sin(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g * cos(x)


@register_op(check=unary_check("cos", lambda a: a.cos(), np.cos, Domain(-3.0, 3.0)))
class Cos(Function):
    """f(x) = cos(x);  f'(x) = -sin(x)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.cos(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return -g * sin(x)


@register_op(check=unary_check("tanh", lambda a: a.tanh(), np.tanh))
class Tanh(Function):
    """f(x) = tanh(x);  f'(x) = 1 - tanh(x)²"""

    def forward(self, x):
        xp = xp_of(x)
        out = xp.tanh(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (1.0 - out * out)


@register_op(check=unary_check("sigmoid", lambda a: a.sigmoid(), lambda a: 1.0 / (1.0 + np.exp(-a)), Domain(-4.0, 4.0)))
class Sigmoid(Function):
    """f(x) = 1/(1+exp(-x));  f'(x) = f(x)(1 - f(x)) (stable for large |x|)"""

    def forward(self, x):
        out = stable_sigmoid(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (out * (1.0 - out))


@register_op(check=unary_check("softplus", lambda a: a.softplus(), lambda a: np.log1p(np.exp(a)), Domain(-4.0, 4.0)))
class Softplus(Function):
    """f(x) = log(1 + exp(x));  f'(x) = sigmoid(x) (stable for large |x|)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        x = floating(x)
        return _backend.astype(xp.logaddexp(0.0, x), x.dtype)

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
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.abs(x)

    def backward(self, g):
        (x,) = self.saved
        values = constant(x)
        return sign(values) * select(values != 0, g)


@register_op(check=unary_check("relu", lambda a: a.relu(), lambda a: np.maximum(a, 0.0), AWAY_FROM_ZERO, kinks=(0.0,)))
class Relu(Function):
    """f(x) = max(x, 0);  f'(x) = 1 if x > 0 else 0 (0 at 0)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x > 0)
        return xp.maximum(x, 0)

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
        xp = xp_of(x)
        positive = x > 0
        self.slope = slope
        self.save_for_backward(positive)
        # (x * slope promotes an integer x to float64: -3 with slope 0.5 is -1.5, not 0)
        return xp.where(positive, x, x * slope)

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
        xp = xp_of(x)
        inside = _backend.ones(x.shape, xp.bool, x)
        if lo is not None:
            inside &= x >= lo
        if hi is not None:
            inside &= x <= hi
        self.save_for_backward(inside)
        return xp.clip(x, lo, hi)

    def backward(self, g):
        (inside,) = self.saved
        return select(inside, g)


@register_op(check=OpCheck(
    cases=(Case("hardtanh", lambda a: a.hardtanh(), lambda a: np.clip(a, -1.0, 1.0), UNARY, Domain(avoid=(-1.0, 1.0))),
           Case("hardtanh_bounds", lambda a: a.hardtanh(-0.5, 0.8), lambda a: np.clip(a, -0.5, 0.8), UNARY[:3], Domain(avoid=(-0.5, 0.8)))),
    fuzz=(Fuzz("hardtanh", kinks=(-1.0, 1.0)),),
))
class Hardtanh(Function):
    """f(x) = min(max(x, lo), hi);  f'(x) = 1 if lo < x < hi else 0 (strict, as PyTorch's
    hardtanh: 0 at the bounds, where ``clip`` passes 1)"""

    def forward(self, x, min_val=-1.0, max_val=1.0):
        xp = xp_of(x)
        self.save_for_backward((x > min_val) & (x < max_val))
        return xp.clip(x, min_val, max_val)

    def backward(self, g):
        (inside,) = self.saved
        return select(inside, g)


# --------------------------------------------------------------------------- rounding
class _Rounding(Function):
    """Shared rule of the piecewise-constant ops: the gradient is exactly 0 (as PyTorch; an
    inf upstream gives 0 too), so they can sit inside a differentiated program."""

    function = "floor"  # the name of the rounding function, the same in numpy and the standard

    def forward(self, x):
        x = floating(x)
        return getattr(xp_of(x), self.function)(x)

    def backward(self, g):
        return select(False, g)


def _rounding_check(name: str, reference: Any, kinks: tuple[float, ...]) -> OpCheck:
    return OpCheck(
        (Case(name, lambda a: getattr(a, name)(), reference, UNARY, Domain(avoid=kinks)),),
        (Fuzz(name, operands=("bounded",), kinks=kinks),),
    )


INTEGERS = (-3.0, -2.0, -1.0, 0.0, 1.0, 2.0, 3.0)
HALVES = (-2.5, -1.5, -0.5, 0.5, 1.5, 2.5)


@register_op(check=_rounding_check("floor", np.floor, INTEGERS))
class Floor(_Rounding):
    """f(x) = ⌊x⌋;  f'(x) = 0"""

    function = "floor"


@register_op(check=_rounding_check("ceil", np.ceil, INTEGERS))
class Ceil(_Rounding):
    """f(x) = ⌈x⌉;  f'(x) = 0"""

    function = "ceil"


@register_op(check=_rounding_check("round", np.round, HALVES))
class Round(_Rounding):
    """f(x) = x rounded to the nearest integer, halves to even (numpy and PyTorch);  f'(x) = 0"""

    function = "round"


@register_op(check=_rounding_check("sign", np.sign, (0.0,)))
class Sign(_Rounding):
    """f(x) = sign(x) ∈ {-1, 0, 1};  f'(x) = 0"""

    function = "sign"


# --------------------------------------------------------------------------- activations
@register_op(check=unary_check("silu", lambda a: a.silu(), lambda a: a / (1.0 + np.exp(-a)), Domain(-4.0, 4.0)))
class Silu(Function):
    """f(x) = x·σ(x);  f'(x) = σ(x)·(1 + x·(1 - σ(x)))"""

    def forward(self, x):
        self.save_for_backward(x)
        x = floating(x)
        return x * stable_sigmoid(x)

    def backward(self, g):
        (x,) = self.saved
        s = sigmoid(x)
        return g * (s * (1.0 + x * (1.0 - s)))


def _elu_reference(a: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    return np.where(a > 0, a, alpha * np.expm1(np.minimum(a, 0.0)))


@register_op(check=OpCheck(
    cases=(Case("elu", lambda a: a.elu(), _elu_reference, UNARY, AWAY_FROM_ZERO),
           Case("elu_alpha", lambda a: a.elu(0.5), lambda a: _elu_reference(a, 0.5), UNARY[:3], AWAY_FROM_ZERO)),
    fuzz=(Fuzz("elu", lambda xs, s: xs[0].elu(s.pick((1.0, 0.5))), kinks=(0.0,)),),
))
class Elu(Function):
    """f(x) = x if x > 0 else α(eˣ - 1);  f'(x) = 1 if x > 0 else α·eˣ"""

    def forward(self, x, alpha=1.0):
        xp = xp_of(x)
        self.alpha = alpha
        x = floating(x)
        positive = x > 0
        self.save_for_backward(x, positive)
        return xp.where(positive, x, alpha * xp.expm1(xp.minimum(x, 0.0)))

    def backward(self, g):
        x, positive = self.saved
        # (e^x only where x ≤ 0: the branch not taken never overflows)
        return where(positive, g, g * (self.alpha * exp(where(positive, 0.0, x))))


@register_op(check=unary_check("softsign", lambda a: a.softsign(), lambda a: a / (1.0 + np.abs(a)), AWAY_FROM_ZERO, kinks=(0.0,)))
class Softsign(Function):
    """f(x) = x/(1 + |x|);  f'(x) = 1/(1 + |x|)²"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        x = floating(x)
        return x / (1.0 + xp.abs(x))

    def backward(self, g):
        (x,) = self.saved
        return g / (1.0 + abs(x)) ** 2


GELU_C, GELU_K = math.sqrt(2.0 / math.pi), 0.044715
INV_SQRT2, INV_SQRT_2PI = 1.0 / math.sqrt(2.0), 1.0 / math.sqrt(2.0 * math.pi)
HAVE_SCIPY = find_spec("scipy") is not None


def _gelu_tanh(a: Any) -> Any:
    return 0.5 * a * (1.0 + xp_of(a).tanh(GELU_C * (a + GELU_K * a * a * a)))


def _gelu_exact(a: np.ndarray) -> np.ndarray:
    return 0.5 * a * (1.0 + erf_array(a * INV_SQRT2))


_GELU_EXACT_CASES = (Case("gelu_exact", lambda a: a.gelu(approximate="none"), _gelu_exact, UNARY),) if HAVE_SCIPY else ()


@register_op(check=OpCheck(
    cases=(Case("gelu", lambda a: a.gelu(), _gelu_tanh, UNARY, Domain(-4.0, 4.0)),) + _GELU_EXACT_CASES,
    fuzz=(Fuzz("gelu", lambda xs, s: xs[0].gelu()),),
))
class Gelu(Function):
    """f(x) = x·Φ(x), Φ the standard normal CDF. approximate="tanh" (the default):
    f(x) = x/2·(1 + tanh(u)), u = √(2/π)(x + 0.044715x³), f'(x) = (1 + t)/2 + x/2·(1 - t²)·u',
    t = tanh(u); approximate="none": f(x) = x/2·(1 + erf(x/√2)), f'(x) = Φ(x) + x·φ(x)"""

    def forward(self, x, approximate="tanh"):
        self.approximate = approximate
        self.save_for_backward(x)
        x = floating(x)
        return _gelu_tanh(x) if approximate == "tanh" else _gelu_exact(x)

    def backward(self, g):
        (x,) = self.saved
        if self.approximate == "none":
            return g * (0.5 * (1.0 + erf(x * INV_SQRT2)) + x * (exp(x * x * -0.5) * INV_SQRT_2PI))
        t = 2.0 * sigmoid(2.0 * GELU_C * (x + GELU_K * x * x * x)) - 1.0  # tanh(u), recorded
        du = GELU_C * (1.0 + 3.0 * GELU_K * x * x)
        return g * (0.5 * (1.0 + t) + 0.5 * x * (1.0 - t * t) * du)


class Erf(Function):
    """f(x) = erf(x) = 2/√π ∫₀ˣ e^(-t²) dt;  f'(x) = 2/√π·e^(-x²) (needs scipy)"""

    unsupported_backends = {"array_api_strict": 'the Array API standard has no erf'}

    def forward(self, x):
        self.save_for_backward(x)
        return erf_array(x)

    def backward(self, g):
        (x,) = self.saved
        return g * (exp(-(x * x)) * (2.0 / math.sqrt(math.pi)))


if HAVE_SCIPY:  # registered (in the op table and the fuzzer) only where it can run
    register_op(check=unary_check("erf", lambda a: a.erf(), erf_array))(Erf)
