"""Binary ops: arithmetic, powers, elementwise choice, and the binary special functions
(arctan2, hypot, logaddexp, remainder/fmod). The matrix product is in ``matmul``."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import _backend
from ..autograd import Function
from . import (
    constant,
    constant_like,
    exp,
    floor,
    isfinite,
    log,
    may_be_any,
    register_op,
    same_backend,
    select,
    surely_all,
    trunc,
    where,
    xp_of,
)
from ._metadata import (
    BINARY,
    CONSTANT,
    MASK,
    NONZERO,
    POSITIVE,
    UNARY,
    WIDE,
    Case,
    Domain,
    Fuzz,
    OpCheck,
)

TWO = ("any", "any")  # two operands of any value (the fuzzer's default domain)


def _repeated_value(g: Any) -> Any:
    """The one value of a numpy gradient that repeats a single element (every stride 0: what
    a full sum's or mean's rule sends back), as a numpy scalar; None for any other gradient."""
    if type(g) is np.ndarray and g.ndim and g.size and not any(g.strides):
        return g[(0,) * g.ndim]
    return None


# --------------------------------------------------------------------------- + - * /
@register_op(check=OpCheck(
    cases=(
        Case("add", lambda a, b: a + b, np.add, BINARY),
        Case("add_python_number", lambda a: 2.5 + a, lambda a: 2.5 + a, UNARY),
        Case("add_ndarray_left", lambda a: CONSTANT + a, lambda a: CONSTANT + a, (((2, 3),), ((3,),), ((),)), float32_out=False),
    ),
    fuzz=(Fuzz("add", operands=TWO), Fuzz("radd", lambda xs, s: s.constant(s.base) + xs[0])),
))
class Add(Function):
    """f(a, b) = a + b;  df/da = 1, df/db = 1"""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, g


@register_op(check=OpCheck(
    cases=(
        Case("sub", lambda a, b: a - b, np.subtract, BINARY),
        Case("sub_reflected", lambda a: 2.0 - a, lambda a: 2.0 - a, UNARY),
        Case("sub_ndarray_left", lambda a: CONSTANT - a, lambda a: CONSTANT - a, (((2, 3),), ((1, 3),)), float32_out=False),
    ),
    fuzz=(Fuzz("sub", operands=TWO), Fuzz("rsub", lambda xs, s: 1.5 - xs[0])),
))
class Sub(Function):
    """f(a, b) = a - b;  df/da = 1, df/db = -1"""

    def forward(self, a, b):
        return a - b

    def backward(self, g):
        return g, (-g if self.needs_input_grad[1] else None)


@register_op(check=OpCheck(
    cases=(
        Case("mul", lambda a, b: a * b, np.multiply, BINARY),
        Case("mul_numpy_scalar", lambda a: np.float64(2.0) * a, lambda a: 2.0 * a, UNARY),
        Case("mul_self", lambda a: a * a, lambda a: a * a, UNARY),
        Case("square", lambda a: a.square(), np.square, UNARY),
    ),
    fuzz=(
        Fuzz("mul", operands=TWO),
        Fuzz("rmul", lambda xs, s: xs[0] * s.constant(s.base)),
        Fuzz("square", lambda xs, s: xs[0].square()),
    ),
))
class Mul(Function):
    """f(a, b) = a * b;  df/da = b, df/db = a"""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a * b

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (g * b if need_a else None), (g * a if need_b else None)


@register_op(check=OpCheck(
    cases=(
        Case("div", lambda a, b: a / b, np.divide, BINARY, (Domain(), NONZERO)),
        Case("div_reflected", lambda a: 2.0 / a, lambda a: 2.0 / a, UNARY, NONZERO),
        Case("div_ndarray_left", lambda a: CONSTANT / a, lambda a: CONSTANT / a, (((2, 3),), ((3,),)), NONZERO, float32_out=False),
    ),
    fuzz=(
        Fuzz("div", operands=("any", "nonzero")),
        Fuzz("rdiv", lambda xs, s: s.constant(s.base) / xs[0], ("nonzero",)),
    ),
))
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


# --------------------------------------------------------------------------- powers
@register_op(check=OpCheck(
    cases=(
        Case("pow_int_negative_base", lambda a: a**3, lambda a: a**3, UNARY),
        Case("pow_two", lambda a: a**2, lambda a: a**2, UNARY),
        Case("pow_half", lambda a: a**0.5, np.sqrt, UNARY, POSITIVE),
        Case("pow_negative", lambda a: a**-1.5, lambda a: a**-1.5, UNARY, POSITIVE),
        Case("pow_zero", lambda a: a**0, lambda a: a**0.0, UNARY),
    ),
    fuzz=(
        # Non-negative integer powers only on "bounded" (it holds 0, the pole of x**-1 and
        # x**-2, where central differences fail); pow_int_negative covers those on "nonzero".
        Fuzz("pow_int", lambda xs, s: xs[0] ** s.pick((2, 3, 0, 1)), ("bounded",)),
        Fuzz("pow_int_negative", lambda xs, s: xs[0] ** s.pick((-1, -2)), ("nonzero",)),
        Fuzz("pow_float", lambda xs, s: xs[0] ** s.pick((0.5, 1.5, -0.5)), ("positive",)),
    ),
))
class PowScalar(Function):
    """f(a) = a ** e for a Python-number exponent e;  df/da = e·a^(e-1), exactly 0 for e = 0
    (at a = 0 and a = ±inf too)"""

    @property
    def name(self) -> str:
        # Users wrote `x ** 2`: graphs, explanations and errors call it Pow either way.
        return "Pow"

    def forward(self, a, exponent=1.0):
        self.exponent = exponent
        if exponent != 0:
            self.save_for_backward(a)
        if exponent == 2 and type(a) is np.ndarray and a.dtype.kind == "f":
            # x·x correctly rounded, as `x ** 2` on an ndarray (and tg.compile's code) gives,
            # in one ufunc call without np.power's general loop (half its time on small arrays)
            return np.square(a)
        return xp_of(a).pow(a, exponent)

    def backward(self, g):
        e = self.exponent
        if e == 0:
            # a**0 = 1 for every a: the derivative is exactly 0 (selected: no 0·inf at a = 0 or
            # a = ±inf, nor from an inf upstream gradient)
            return select(False, g)
        (a,) = self.saved
        one = _repeated_value(g)
        if one is not None:
            # g is one number repeated (a full mean's or sum's gradient): scale that number
            # and make one pass over a, not two (for e = 2 the same values: doubling is exact,
            # short of overflow and subnormals)
            return a * (one * 2.0) if e == 2 else (one * e) * a ** (e - 1)
        if e == 2:
            return g * a * 2.0
        return g * e * a ** (e - 1)


@register_op(check=OpCheck(
    cases=(
        Case("pow", lambda a, b: a**b, np.power, BINARY, (POSITIVE, Domain(-2.0, 2.0))),
        Case("pow_ndarray_exponent", lambda a: a ** np.array([2.0, 0.0, -1.0]), lambda a: a ** np.array([2.0, 0.0, -1.0]), (((3,),), ((2, 3),)), NONZERO, float32_out=False),
        Case("pow_reflected", lambda a: 2.0**a, lambda a: 2.0**a, UNARY),
    ),
    fuzz=(
        Fuzz("pow", operands=("positive", "bounded")),
        # b ** a with a's first entry exactly 0: an exponent of 0 with a nonzero derivative,
        # whose second-order terms are easy to get wrong
        Fuzz("pow_zero_exponent", lambda xs, s: xs[1] ** xs[0], ("bounded", "positive"), shift="zero"),
        Fuzz("rpow", lambda xs, s: 2.0 ** xs[0], ("bounded",)),
    ),
))
class Pow(Function):
    """f(a, b) = a ** b;  df/da = b a^(b-1) (exactly 0 where b = 0, a = 0 and ±inf included),
    df/db = a^b log(a) (0 where a = 0, NaN where a < 0)"""

    @classmethod
    def apply(cls, a: Any, b: Any) -> Any:
        """``a ** b``; a Python-number exponent goes to :class:`PowScalar`, whose rule needs
        neither the exponent's gradient nor a mask (``x ** 2`` is the hot case)."""
        if type(b) is float or type(b) is int:
            return PowScalar.apply(a, exponent=b)
        return super().apply(a, b)

    def forward(self, a, b):
        a, b = same_backend(a, b)  # a may be a number (2.0 ** t): saved as an array
        out = xp_of(a).pow(a, b)
        self.save_for_backward(a, b, out)
        return out

    def backward(self, g):
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        ga = gb = None
        if need_a:
            # b·a^(b-1) is right everywhere, its derivative in b too (a^(b-1)·(1 + b log a),
            # which is 1/a at b = 0: create_graph needs it), except where b = 0 meets a = 0
            # (0·inf) or a non-finite upstream gradient. Only there the 0 is selected, with
            # safe operands inside (a double where: no NaN in the branch not taken either).
            stuck = (constant(b) == 0) & ((constant(a) == 0) | ~isfinite(g))
            if may_be_any(stuck):
                ga = select(~stuck, select(~stuck, g) * b * where(stuck, 1.0, a) ** (b - 1))
            else:
                ga = g * b * a ** (b - 1)
        if need_b:
            # Only computed when the exponent requires grad: log of a negative base is NaN.
            base = constant(a)
            positive = base > 0
            if surely_all(positive):
                gb = g * out * log(a)
            else:  # select (a double where: no 0·inf from an inf upstream where a ≤ 0)
                inside = select(positive, g) * out * log(where(positive, a, 1.0))
                gb = where(positive, inside, where(base < 0, math.nan, 0.0))
        return ga, gb


# --------------------------------------------------------------------------- choice
class _Choose(Function):
    """Shared rule of elementwise maximum/minimum: the gradient goes to the chosen input,
    split evenly on ties. It is *selected* (never multiplied by a 0/1 mask): where an input
    lost, its gradient is exactly 0 even when the upstream one is inf (maximum(x, 0).sqrt()
    at x < 0). A NaN operand passes the gradient to both inputs, as PyTorch."""

    pick: Callable[..., Any] = staticmethod(np.maximum)
    loses: Callable[..., Any] = staticmethod(np.less)  # a loses to b where loses(a, b)

    def forward(self, a, b):
        if type(a) is np.ndarray and type(b) is np.ndarray or not (_backend.is_foreign(a) or _backend.is_foreign(b)):
            xp, pick, loses = np, self.pick, self.loses
            a_arr, b_arr = np.asarray(a), np.asarray(b)
        else:  # the namespace's functions of the same names; a number stays a number
            xp = _backend.namespace(a, b)
            pick, loses = getattr(xp, self.pick.__name__), getattr(xp, self.loses.__name__)
            a_arr, b_arr = a, b
        tie = a_arr == b_arr
        half = xp.where(tie, 0.5, 1.0) if may_be_any(tie) else None
        self.save_for_backward(~loses(a_arr, b_arr), ~loses(b_arr, a_arr), half)
        return pick(a, b)

    def backward(self, g):
        keep_a, keep_b, half = self.saved
        need_a, need_b = self.needs_input_grad
        if half is not None:
            g = g * half
        return (select(keep_a, g) if need_a else None), (select(keep_b, g) if need_b else None)


def _choice_cases(name: str, reference: Callable[..., Any]) -> tuple[Case, ...]:
    return (
        Case(name, lambda a, b: getattr(a, name)(b), reference, BINARY, WIDE, distinct=True),
        Case(f"{name}_number", lambda a: getattr(a, name)(0.3), lambda a: reference(a, 0.3), UNARY, Domain(avoid=(0.3,))),
    )


@register_op(check=OpCheck(_choice_cases("maximum", np.maximum), fuzz=(Fuzz("maximum", operands=TWO, ties="operands"),)))
class Maximum(_Choose):
    """f(a, b) = max(a, b);  gradient to the larger input, split evenly on ties"""

    pick = staticmethod(np.maximum)
    loses = staticmethod(np.less)


@register_op(check=OpCheck(_choice_cases("minimum", np.minimum), fuzz=(Fuzz("minimum", operands=TWO, ties="operands"),)))
class Minimum(_Choose):
    """f(a, b) = min(a, b);  gradient to the smaller input, split evenly on ties"""

    pick = staticmethod(np.minimum)
    loses = staticmethod(np.greater)


def _where_by_data(xs: Sequence[Any], s: Any) -> Any:
    return Where.apply(xs[0] > 0.0, xs[1], xs[2])  # a condition computed from the data


@register_op(check=OpCheck(
    cases=(
        Case("where", lambda a, b: Where.apply(MASK, a, b), lambda a, b: np.where(MASK, a, b), (((2, 3), (2, 3)), ((2, 3), ()), ((1, 3), (2, 1)), ((3,), (2, 3)))),
        Case("where_scalar_branch", lambda a: Where.apply(MASK, a, 0.0), lambda a: np.where(MASK, a, 0.0), (((2, 3),), ((3,),))),
        Case("where_tensor_condition", lambda a, b: Where.apply(a > b, a * b, a - b), lambda a, b: np.where(a > b, a * b, a - b), BINARY[:6], WIDE, distinct=True),
    ),
    fuzz=(
        Fuzz("where_mask", lambda xs, s: Where.apply(s.mask(s.base), xs[0], xs[1]), TWO),
        Fuzz("where_data", _where_by_data, ("any", "any", "any"), kinks=(0.0,)),
    ),
))
class Where(Function):
    """f(c, a, b) = a where c else b;  da = g where c else 0, db = g where not c else 0
    (c is a constant mask; selected, so an inf on the side not taken never leaks)"""

    def forward(self, cond, a, b):
        cond = constant(cond)
        like = next((v for v in (cond, a, b) if type(v) is not np.ndarray and _backend.is_foreign(v)), None)
        if like is None:
            cond = np.asarray(cond).astype(bool, copy=False)
            self.save_for_backward(cond)
            return np.where(cond, a, b)
        xp = xp_of(like)
        cond = constant_like(np.asarray(cond), like) if not _backend.is_foreign(cond) else cond  # a numpy scalar mask
        cond = xp.astype(cond, xp.bool)
        self.save_for_backward(cond)
        return xp.where(cond, a, b)

    def backward(self, g):
        (cond,) = self.saved
        _, need_a, need_b = self.needs_input_grad
        return None, (select(cond, g) if need_a else None), (select(~cond, g) if need_b else None)


# --------------------------------------------------------------------------- special
@register_op(check=OpCheck(
    cases=(Case("arctan2", lambda a, b: a.arctan2(b), np.arctan2, BINARY, (NONZERO, Domain())),),
    fuzz=(Fuzz("arctan2", operands=("nonzero", "any")),),
))
class Arctan2(Function):
    """f(a, b) = the angle of the point (b, a), in (-π, π];  df/da = b/(a² + b²),
    df/db = -a/(a² + b²) (a jump of 2π across a = 0 for b < 0)"""

    def forward(self, a, b):
        xp = xp_of(a)
        self.save_for_backward(a, b)
        return xp.atan2(a, b)

    def backward(self, g):
        a, b = self.saved
        scale = g / (a * a + b * b)
        return scale * b, -scale * a


def _saving_output(node: Function, function: Any, a: Any, b: Any) -> Any:
    """``function(a, b)``, with both inputs and the output saved for the rule."""
    out = function(a, b)
    node.save_for_backward(a, b, out)
    return out


@register_op(check=OpCheck(
    cases=(Case("hypot", lambda a, b: a.hypot(b), np.hypot, BINARY, (NONZERO, Domain())),),
    fuzz=(Fuzz("hypot", operands=("nonzero", "any")),),
))
class Hypot(Function):
    """f(a, b) = √(a² + b²) (no overflow);  df/da = a/f, df/db = b/f (0 at a = b = 0: the
    subgradient, as the 2-norm)"""

    def forward(self, a, b):
        return _saving_output(self, xp_of(a).hypot, a, b)

    def backward(self, g):
        a, b, out = self.saved
        nonzero = constant(out) != 0
        scale = select(nonzero, g / where(nonzero, out, 1.0))
        return scale * a, scale * b


@register_op(check=OpCheck(
    cases=(Case("logaddexp", lambda a, b: a.logaddexp(b), np.logaddexp, BINARY, Domain(-4.0, 4.0)),),
    fuzz=(Fuzz("logaddexp", operands=TWO),),
))
class LogAddExp(Function):
    """f(a, b) = log(eᵃ + eᵇ) (stable);  df/da = e^(a - f), df/db = e^(b - f)"""

    def forward(self, a, b):
        return _saving_output(self, xp_of(a).logaddexp, a, b)

    def backward(self, g):
        a, b, out = self.saved
        need_a, need_b = self.needs_input_grad
        return (g * exp(a - out) if need_a else None), (g * exp(b - out) if need_b else None)


class _Modulo(Function):
    """Shared rule of remainder and fmod: f(a, b) = a - b·q(a/b) with q piecewise constant;
    df/da = 1, df/db = -q(a/b) (as PyTorch; jumps where a/b crosses an integer)"""

    quotient = staticmethod(floor)

    @staticmethod
    def modulo(xp: Any, a: Any, b: Any) -> Any:
        return xp.remainder(a, b)

    def forward(self, a, b):
        a, b = same_backend(a, b)  # 2.5 % t: the number saved as an array of t's backend
        self.save_for_backward(a, b)
        return self.modulo(_backend.namespace(a, b), a, b)

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return (g if need_a else None), (-g * self.quotient(constant(a) / constant(b)) if need_b else None)


@register_op(check=OpCheck(
    cases=(
        Case("remainder", lambda a, b: a % b, np.remainder, BINARY, (Domain(), NONZERO)),
        Case("remainder_method", lambda a, b: a.remainder(b), np.remainder, BINARY[:3], (Domain(), NONZERO)),
        Case("remainder_reflected", lambda a: 2.5 % a, lambda a: 2.5 % a, UNARY, NONZERO),
        Case("remainder_number", lambda a: a % 0.75, lambda a: a % 0.75, UNARY),
    ),
    fuzz=(Fuzz("remainder", operands=("bounded", "nonzero")), Fuzz("rmod", lambda xs, s: 1.3 % xs[0], ("nonzero",))),
))
class Remainder(_Modulo):
    """f(a, b) = a mod b with the sign of b (Python's %, numpy's remainder, torch.remainder):
    a - b·⌊a/b⌋;  df/da = 1, df/db = -⌊a/b⌋"""

    quotient = staticmethod(floor)


@register_op(check=OpCheck(
    cases=(Case("fmod", lambda a, b: a.fmod(b), np.fmod, BINARY, (Domain(), NONZERO)),),
    fuzz=(Fuzz("fmod", operands=("bounded", "nonzero")),),
))
class Fmod(_Modulo):
    """f(a, b) = a mod b with the sign of a (C's fmod, numpy's and torch's fmod):
    a - b·trunc(a/b);  df/da = 1, df/db = -trunc(a/b)"""

    quotient = staticmethod(trunc)

    @staticmethod
    def modulo(xp: Any, a: Any, b: Any) -> Any:
        if xp is np:
            return np.fmod(a, b)
        # The standard has no fmod: |a| mod |b| (remainder and fmod agree, exactly, on
        # non-negative operands) with the sign of a (copysign: fmod(-4, 2) is -0.0 too).
        return xp.copysign(xp.remainder(xp.abs(a), xp.abs(b)), a)
