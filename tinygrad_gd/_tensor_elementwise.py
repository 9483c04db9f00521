"""Tensor's elementwise methods (``t.exp()``, ``t.relu()``, ...): each a thin call into one op of
``tinygrad_gd.ops``. A new elementwise op's method goes here."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import ops as _ops
from ._graph_tensor import GraphTensor, new_tensor
from ._tensor_methods import binary, operand
from ._typing import TensorLike

__all__ = ["ElementwiseMethods"]


class ElementwiseMethods(GraphTensor):
    """The elementwise methods of :class:`~tinygrad_gd.Tensor`."""

    __slots__ = ()

    # ------------------------------------------------------------------ elementwise
    def exp(self) -> Any:
        """exp(x)"""
        return _ops.Exp.apply(self)

    def log(self) -> Any:
        """natural log(x)"""
        return _ops.Log.apply(self)

    def sqrt(self) -> Any:
        """√x"""
        return _ops.Sqrt.apply(self)

    def abs(self) -> Any:
        """|x| (gradient 0 at 0)"""
        return _ops.Abs.apply(self)

    def sin(self) -> Any:
        return _ops.Sin.apply(self)

    def cos(self) -> Any:
        return _ops.Cos.apply(self)

    def tanh(self) -> Any:
        return _ops.Tanh.apply(self)

    def sigmoid(self) -> Any:
        """1 / (1 + exp(-x)), stable for large |x|"""
        return _ops.Sigmoid.apply(self)

    def relu(self) -> Any:
        """max(x, 0) (gradient 0 at 0)"""
        return _ops.Relu.apply(self)

    def leaky_relu(self, slope: float = 0.01) -> Any:
        """x for x > 0, slope·x otherwise"""
        return _ops.LeakyRelu.apply(self, slope=float(slope))

    def softplus(self) -> Any:
        """log(1 + exp(x)), stable for large |x|"""
        return _ops.Softplus.apply(self)

    def clip(self, lo: float | None = None, hi: float | None = None) -> Any:
        """min(max(x, lo), hi); either bound may be None"""
        if lo is None and hi is None:
            raise ValueError("clip needs at least one of lo and hi")
        if lo is not None and hi is not None and lo > hi:
            raise ValueError(f"clip bounds are reversed: lo={lo} > hi={hi}")
        return _ops.Clip.apply(self, lo=lo, hi=hi)

    def clamp(self, min: float | None = None, max: float | None = None) -> Any:  # noqa: A002
        """PyTorch's name for :meth:`clip`."""
        return self.clip(min, max)

    def maximum(self, other: TensorLike) -> Any:
        """Elementwise max(self, other); ties share the gradient evenly."""
        return binary(_ops.Maximum, self, operand(other), "maximum")

    def minimum(self, other: TensorLike) -> Any:
        """Elementwise min(self, other); ties share the gradient evenly."""
        return binary(_ops.Minimum, self, operand(other), "minimum")

    def square(self) -> Any:
        """x² (the product x·x)"""
        return _ops.Mul.apply(self, self)

    # ------------------------------------------------------------------ special functions
    def tan(self) -> Any:
        """tan(x)"""
        return _ops.Tan.apply(self)

    def arcsin(self) -> Any:
        """arcsin(x), for -1 ≤ x ≤ 1"""
        return _ops.Arcsin.apply(self)

    def arccos(self) -> Any:
        """arccos(x), for -1 ≤ x ≤ 1"""
        return _ops.Arccos.apply(self)

    def arctan(self) -> Any:
        """arctan(x)"""
        return _ops.Arctan.apply(self)

    def sinh(self) -> Any:
        """sinh(x)"""
        return _ops.Sinh.apply(self)

    def cosh(self) -> Any:
        """cosh(x)"""
        return _ops.Cosh.apply(self)

    def arcsinh(self) -> Any:
        """arcsinh(x)"""
        return _ops.Arcsinh.apply(self)

    def arccosh(self) -> Any:
        """arccosh(x), for x ≥ 1"""
        return _ops.Arccosh.apply(self)

    def arctanh(self) -> Any:
        """arctanh(x), for -1 < x < 1"""
        return _ops.Arctanh.apply(self)

    def log1p(self) -> Any:
        """log(1 + x), accurate for small x"""
        return _ops.Log1p.apply(self)

    def expm1(self) -> Any:
        """eˣ - 1, accurate for small x"""
        return _ops.Expm1.apply(self)

    def log2(self) -> Any:
        """log₂(x)"""
        return _ops.Log2.apply(self)

    def log10(self) -> Any:
        """log₁₀(x)"""
        return _ops.Log10.apply(self)

    def exp2(self) -> Any:
        """2ˣ"""
        return _ops.Exp2.apply(self)

    def reciprocal(self) -> Any:
        """1/x"""
        return _ops.Reciprocal.apply(self)

    def erf(self) -> Any:
        """the error function erf(x) (needs scipy)"""
        return _ops.Erf.apply(self)

    def arctan2(self, other: TensorLike) -> Any:
        """The angle of the point (other, self) in (-π, π], elementwise (numpy's arctan2(self, other))."""
        return binary(_ops.Arctan2, self, operand(other), "arctan2")

    def hypot(self, other: TensorLike) -> Any:
        """√(self² + other²) without overflow; gradient 0 where both are 0."""
        return binary(_ops.Hypot, self, operand(other), "hypot")

    def logaddexp(self, other: TensorLike) -> Any:
        """log(eˢᵉˡᶠ + eᵒᵗʰᵉʳ), stable for large inputs."""
        return binary(_ops.LogAddExp, self, operand(other), "logaddexp")

    def remainder(self, other: TensorLike) -> Any:
        """self mod other with the sign of other (Python's %, torch.remainder); d/d(other) = -⌊self/other⌋."""
        return binary(_ops.Remainder, self, operand(other), "%")

    def fmod(self, other: TensorLike) -> Any:
        """self mod other with the sign of self (C's fmod, torch.fmod); d/d(other) = -trunc(self/other)."""
        return binary(_ops.Fmod, self, operand(other), "fmod")

    # ------------------------------------------------------------------ activations
    def silu(self) -> Any:
        """x·sigmoid(x) (also called swish)"""
        return _ops.Silu.apply(self)

    def elu(self, alpha: float = 1.0) -> Any:
        """x for x > 0, alpha·(eˣ - 1) otherwise"""
        return _ops.Elu.apply(self, alpha=float(alpha))

    def gelu(self, approximate: str = "tanh") -> Any:
        """x·Φ(x). approximate="tanh" (the default here): x/2·(1 + tanh(√(2/π)(x + 0.044715x³)));
        approximate="none": the exact x/2·(1 + erf(x/√2)), which needs scipy (as torch's
        F.gelu(x, approximate=...), whose default is "none")."""
        if approximate not in ("tanh", "none"):
            raise ValueError(f"gelu(approximate={approximate!r}): use 'tanh' (the default) or 'none' (the exact erf form)")
        if approximate == "none":
            _ops.erf_array(0.0)  # without scipy: a clear ImportError now, not deep in a backward
        return _ops.Gelu.apply(self, approximate=approximate)

    def softsign(self) -> Any:
        """x / (1 + |x|)"""
        return _ops.Softsign.apply(self)

    def hardtanh(self, min_val: float = -1.0, max_val: float = 1.0) -> Any:
        """x clipped to [min_val, max_val]; gradient 1 strictly inside, 0 at and beyond the
        bounds (as torch's hardtanh)"""
        if min_val > max_val:
            raise ValueError(f"hardtanh bounds are reversed: min_val={min_val} > max_val={max_val}")
        return _ops.Hardtanh.apply(self, min_val=float(min_val), max_val=float(max_val))

    # ------------------------------------------------------------------ rounding and tests
    def floor(self) -> Any:
        """⌊x⌋ (gradient 0, as PyTorch)"""
        return _ops.Floor.apply(self)

    def ceil(self) -> Any:
        """⌈x⌉ (gradient 0, as PyTorch)"""
        return _ops.Ceil.apply(self)

    def round(self) -> Any:
        """x rounded to the nearest integer, halves to even (gradient 0, as PyTorch)"""
        return _ops.Round.apply(self)

    def sign(self) -> Any:
        """-1, 0 or 1 (gradient 0, as PyTorch)"""
        return _ops.Sign.apply(self)

    def isnan(self) -> Any:
        """Where x is NaN: a bool tensor without grad."""
        return new_tensor(type(self), np.isnan(self.data), False, None)

    def isinf(self) -> Any:
        """Where x is +inf or -inf: a bool tensor without grad."""
        return new_tensor(type(self), np.isinf(self.data), False, None)

    def isfinite(self) -> Any:
        """Where x is neither inf nor NaN: a bool tensor without grad."""
        return new_tensor(type(self), np.isfinite(self.data), False, None)


