"""Unary special functions: trigonometric and hyperbolic functions and their inverses, the
log/exp family (log1p, expm1, log2, log10, exp2) and the reciprocal.

Each derivative is written from the saved output where that is cheaper and exact (tan' = 1 +
tan², expm1' = expm1 + 1, ...), otherwise from the input with operators and the namespace,
so that it records under ``create_graph``.
"""

from __future__ import annotations

import math

import numpy as np

from .._backend import xp_of
from ..autograd import Function
from . import exp, floating, register_op
from ._metadata import ANYWHERE, NONZERO, POSITIVE, Domain, Fuzz
from .elementwise import unary_check

LN2, LN10 = math.log(2.0), math.log(10.0)
INSIDE_UNIT = Domain(-0.9, 0.9)  # arcsin, arccos, arctanh: away from the poles at ±1


def _squashed(name: str) -> Fuzz:
    """A fuzz step on 0.8·tanh(x): inside (-1, 1), away from the poles of arcsin/arccos/arctanh."""
    return Fuzz(name, lambda xs, s: getattr(xs[0].tanh() * 0.8, name)())


# --------------------------------------------------------------------------- trigonometric
@register_op(check=unary_check("tan", lambda a: a.tan(), np.tan, Domain(-1.2, 1.2), "unit"))
class Tan(Function):
    """f(x) = tan(x);  f'(x) = 1 + tan²(x)"""

    def forward(self, x):
        xp = xp_of(x)
        out = xp.tan(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (1.0 + out * out)


@register_op(check=unary_check("arcsin", lambda a: a.arcsin(), np.arcsin, INSIDE_UNIT, fuzz=_squashed("arcsin")))
class Arcsin(Function):
    """f(x) = arcsin(x);  f'(x) = 1/√(1 - x²)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.asin(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g * (1.0 - x * x) ** -0.5


@register_op(check=unary_check("arccos", lambda a: a.arccos(), np.arccos, INSIDE_UNIT, fuzz=_squashed("arccos")))
class Arccos(Function):
    """f(x) = arccos(x);  f'(x) = -1/√(1 - x²)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.acos(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return -g * (1.0 - x * x) ** -0.5


@register_op(check=unary_check("arctan", lambda a: a.arctan(), np.arctan, Domain(-3.0, 3.0)))
class Arctan(Function):
    """f(x) = arctan(x);  f'(x) = 1/(1 + x²)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.atan(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g / (1.0 + x * x)


# --------------------------------------------------------------------------- hyperbolic
@register_op(check=unary_check("sinh", lambda a: a.sinh(), np.sinh, fuzz_domain="bounded"))
class Sinh(Function):
    """f(x) = sinh(x);  f'(x) = cosh(x) = √(1 + sinh²(x))"""

    def forward(self, x):
        xp = xp_of(x)
        out = xp.sinh(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (1.0 + out * out) ** 0.5


@register_op(check=unary_check("cosh", lambda a: a.cosh(), np.cosh, fuzz_domain="bounded"))
class Cosh(Function):
    """f(x) = cosh(x);  f'(x) = sinh(x) = (eˣ - e⁻ˣ)/2"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.cosh(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g * ((exp(x) - exp(-x)) * 0.5)


@register_op(check=unary_check("arcsinh", lambda a: a.arcsinh(), np.arcsinh, Domain(-3.0, 3.0)))
class Arcsinh(Function):
    """f(x) = arcsinh(x);  f'(x) = 1/√(x² + 1)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.asinh(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g * (x * x + 1.0) ** -0.5


@register_op(check=unary_check(
    "arccosh", lambda a: a.arccosh(), np.arccosh, Domain(1.1, 3.0),
    fuzz=Fuzz("arccosh", lambda xs, s: (xs[0] + 1.0).arccosh(), ("positive",)),
))
class Arccosh(Function):
    """f(x) = arccosh(x) for x ≥ 1;  f'(x) = 1/√(x² - 1)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.acosh(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g * (x * x - 1.0) ** -0.5


@register_op(check=unary_check("arctanh", lambda a: a.arctanh(), np.arctanh, INSIDE_UNIT, fuzz=_squashed("arctanh")))
class Arctanh(Function):
    """f(x) = arctanh(x) for |x| < 1;  f'(x) = 1/(1 - x²)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.atanh(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g / (1.0 - x * x)


# --------------------------------------------------------------------------- log and exp
@register_op(check=unary_check("log1p", lambda a: a.log1p(), np.log1p, Domain(-0.8, 3.0), "positive"))
class Log1p(Function):
    """f(x) = log(1 + x) (accurate for small x);  f'(x) = 1/(1 + x)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.log1p(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g / (1.0 + x)


@register_op(check=unary_check("expm1", lambda a: a.expm1(), np.expm1, fuzz_domain="bounded"))
class Expm1(Function):
    """f(x) = eˣ - 1 (accurate for small x);  f'(x) = eˣ = f(x) + 1"""

    def forward(self, x):
        xp = xp_of(x)
        out = xp.expm1(floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (out + 1.0)


@register_op(check=unary_check("log2", lambda a: a.log2(), np.log2, POSITIVE, "positive"))
class Log2(Function):
    """f(x) = log₂(x);  f'(x) = 1/(x·ln 2)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.log2(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g / (x * LN2)


@register_op(check=unary_check("log10", lambda a: a.log10(), np.log10, POSITIVE, "positive"))
class Log10(Function):
    """f(x) = log₁₀(x);  f'(x) = 1/(x·ln 10)"""

    def forward(self, x):
        xp = xp_of(x)
        self.save_for_backward(x)
        return xp.log10(floating(x))

    def backward(self, g):
        (x,) = self.saved
        return g / (x * LN10)


@register_op(check=unary_check("exp2", lambda a: a.exp2(), np.exp2, ANYWHERE, "bounded"))
class Exp2(Function):
    """f(x) = 2ˣ;  f'(x) = 2ˣ·ln 2"""

    def forward(self, x):
        xp = xp_of(x)
        out = xp.exp2(floating(x)) if xp is np else xp.pow(2.0, floating(x))
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return g * (out * LN2)


@register_op(check=unary_check("reciprocal", lambda a: a.reciprocal(), np.reciprocal, NONZERO, "nonzero"))
class Reciprocal(Function):
    """f(x) = 1/x;  f'(x) = -1/x² = -f(x)²"""

    def forward(self, x):
        out = 1.0 / floating(x)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        return -g * (out * out)
