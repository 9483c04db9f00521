"""The activation layers of ``tinygrad_gd.nn`` (``nn.ReLU``, ``nn.Tanh``, ...): each a Module
whose forward is one Tensor method."""

from __future__ import annotations

from typing import Any

from ._typing import TensorLike
from ._validate import as_tensor
from .nn import Module
from .tensor import Tensor

__all__ = ["ReLU", "Tanh", "Sigmoid", "LeakyReLU", "Softplus", "Identity"]


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x: TensorLike) -> Tensor:
        return as_tensor(x).relu()


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x: TensorLike) -> Tensor:
        return as_tensor(x).tanh()


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x: TensorLike) -> Tensor:
        return as_tensor(x).sigmoid()


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: TensorLike) -> Tensor:
        return as_tensor(x).leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """log(1 + exp(β·x)) / β elementwise (β = 1 by default), stable for large |x|."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"Softplus needs beta > 0, got {beta}")
        self.beta = float(beta)

    def forward(self, x: TensorLike) -> Tensor:
        t = as_tensor(x)
        return t.softplus() if self.beta == 1.0 else (t * self.beta).softplus() / self.beta

    def extra_repr(self) -> str:
        return "" if self.beta == 1.0 else f"beta={self.beta}"


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Any:
        return x
