"""Tensor's elementwise methods (``t.exp()``, ``t.relu()``, ...): each a thin call into one op of
``tinygrad_gd.ops``. A new elementwise op's method goes here."""

from __future__ import annotations

from typing import Any

from . import ops as _ops
from ._graph_tensor import GraphTensor
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
        return _ops.Mul.apply(self, self)


