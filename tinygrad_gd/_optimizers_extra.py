"""RMSprop and Adagrad, with PyTorch's documented update equations; registered in
``optim.OPTIMIZERS`` by subclassing and re-exported as ``tg.optim.RMSprop`` / ``tg.optim.Adagrad``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ._validate import bounded
from .optim import Optimizer, Params
from .tensor import Tensor

__all__ = ["RMSprop", "Adagrad"]


def _signed(grad: np.ndarray, theta: np.ndarray, group: dict[str, Any]) -> np.ndarray:
    """The gradient after ``maximize`` (negated first, as PyTorch) and L2 ``weight_decay``."""
    g = -grad if group["maximize"] else grad
    return g + group["weight_decay"] * theta if group["weight_decay"] != 0 else g


class RMSprop(Optimizer, name="rmsprop", test_kwargs={"lr": 0.01, "momentum": 0.5, "centered": True}):
    """RMSprop, as PyTorch's ``torch.optim.RMSprop``. For each parameter θ with gradient g::

        g ← -g                    if maximize
        g ← g + weight_decay·θ    if weight_decay ≠ 0
        v ← α·v + (1 - α)·g²                         (v starts at 0)
        ṽ ← v;  centered: ḡ ← α·ḡ + (1 - α)·g,  ṽ ← v - ḡ²
        momentum μ > 0:  b ← μ·b + g / (√ṽ + eps),  θ ← θ - lr·b
        otherwise:       θ ← θ - lr·g / (√ṽ + eps)
    """

    def __init__(self, params: Params, lr: float = 0.01, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0.0, momentum: float = 0.0, centered: bool = False,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, alpha=alpha, eps=eps, weight_decay=weight_decay, momentum=momentum,
                        centered=centered, maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        super().check_group(group)
        group["alpha"] = bounded(group["alpha"], "RMSprop: alpha", 0.0, 1.0)
        for key in ("eps", "weight_decay", "momentum"):
            group[key] = bounded(group[key], f"RMSprop: {key}")
        group["centered"] = bool(group["centered"])
        group["maximize"] = bool(group["maximize"])

    def state_spec(self, group: dict[str, Any]) -> dict[str, str]:
        spec = {"step": "count", "square_avg": "array"}
        if group["momentum"] > 0:
            spec["momentum_buffer"] = "array"
        if group["centered"]:
            spec["grad_avg"] = "array"
        return spec

    def update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.data
        state["step"] += 1
        g = _signed(grad, theta, group)
        alpha = group["alpha"]
        v = state["square_avg"]
        v *= alpha
        v += (1.0 - alpha) * (g * g)
        if group["centered"]:
            mean = state.setdefault("grad_avg", np.zeros_like(theta))
            mean *= alpha
            mean += (1.0 - alpha) * g
            denom = np.sqrt(v - mean * mean) + group["eps"]
        else:
            denom = np.sqrt(v) + group["eps"]
        if group["momentum"] > 0:
            buf = state.setdefault("momentum_buffer", np.zeros_like(theta))
            buf *= group["momentum"]
            buf += g / denom
            self.write_parameter(p, theta - group["lr"] * buf)
        else:
            self.write_parameter(p, theta - group["lr"] * (g / denom))


class Adagrad(Optimizer, name="adagrad", test_kwargs={"lr": 0.5, "lr_decay": 0.01}):
    """Adagrad, as PyTorch's ``torch.optim.Adagrad``. For each parameter θ with gradient g, at
    step t = 1, 2, ...::

        g ← -g                    if maximize
        lr_t = lr / (1 + (t - 1)·lr_decay)
        g ← g + weight_decay·θ    if weight_decay ≠ 0
        s ← s + g²                (s starts at initial_accumulator_value)
        θ ← θ - lr_t·g / (√s + eps)
    """

    def __init__(self, params: Params, lr: float = 0.01, lr_decay: float = 0.0, weight_decay: float = 0.0,
                 initial_accumulator_value: float = 0.0, eps: float = 1e-10, maximize: bool = False) -> None:
        defaults = dict(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                        initial_accumulator_value=initial_accumulator_value, eps=eps, maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        super().check_group(group)
        for key in ("lr_decay", "weight_decay", "initial_accumulator_value", "eps"):
            group[key] = bounded(group[key], f"Adagrad: {key}")
        group["maximize"] = bool(group["maximize"])

    def state_spec(self, group: dict[str, Any]) -> dict[str, str]:
        return {"step": "count", "sum": "array"}

    def initial_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {"step": 0, "sum": np.full_like(p.data, group["initial_accumulator_value"])}

    def update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.data
        state["step"] += 1
        g = _signed(grad, theta, group)
        lr = group["lr"] / (1.0 + (state["step"] - 1) * group["lr_decay"])
        total = state["sum"]
        total += g * g
        self.write_parameter(p, theta - lr * (g / (np.sqrt(total) + group["eps"])))
