"""What ``tinygrad-gd demo`` computes for each of its lines (``cli.py`` prints it): the
gradients at the start, a gradient-descent run in the tutorials' style (a loss closure over w and
b), and the closed-form least-squares answer to compare with."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import losses, train
from .checking import compare_gradients
from .estimators import _least_squares
from .tensor import Tensor

__all__ = ["DemoLine", "MAX_STEPS", "TOL", "check_gradients", "train_line"]

MAX_STEPS = 3000
TOL = 1e-15
"""Stop once the loss changes by less than this per step: the run has reached the minimum."""


def _cost(X: np.ndarray, y: np.ndarray, loss_name: str) -> Callable[[Any, Any], Tensor]:
    loss_fn = losses.LOSSES[loss_name].fn

    def cost(w: Any, b: Any) -> Tensor:
        return loss_fn(Tensor(X) @ w + b, y)

    return cost


@dataclass
class DemoLine:
    """One line of the demo after training: the data, the History, w and b, and the
    least-squares answer with its loss J*."""

    X: np.ndarray
    y: np.ndarray
    loss_name: str
    history: train.History
    w: float
    b: float
    coef: float
    intercept: float
    best_loss: float

    @property
    def gap(self) -> float:
        return max(abs(self.w - self.coef), abs(self.b - self.intercept))

    @property
    def excess(self) -> list[float]:
        return [v - self.best_loss for v in self.history.loss]

    @property
    def path(self) -> list[tuple[float, float]]:
        return [(float(p[0].reshape(-1)[0]), float(p[1])) for p in self.history.params]


def check_gradients(X: np.ndarray, y: np.ndarray, loss_name: str, hand: Callable[..., Any]) -> Any:
    """Autodiff against ``hand(X, y, w, b)`` and finite differences at w = b = 0 (a report)."""
    params: Any = {"w": np.zeros((1, 1)), "b": np.zeros(())}  # named, for the report
    return compare_gradients(_cost(X, y, loss_name), params, hand_grad=lambda w, b: hand(X, y, w, b))


def train_line(X: np.ndarray, y: np.ndarray, loss_name: str, lr: float) -> DemoLine:
    """Full-batch SGD from w = b = 0 on ``loss_name``, and least squares to compare with."""
    cost = _cost(X, y, loss_name)
    w, b = Tensor(np.zeros((1, 1)), requires_grad=True), Tensor(np.zeros(()), requires_grad=True)
    history = train.fit({"w": w, "b": b}, lambda: cost(w, b), optimizer="sgd", lr=lr,
                        max_steps=MAX_STEPS, tol=TOL, progress=True)
    coef, intercept = _least_squares(X, y.reshape(-1))
    best = float(cost(Tensor(coef.reshape(1, 1)), Tensor(intercept)).data)
    return DemoLine(X, y, loss_name, history, float(w.data.reshape(-1)[0]), float(b.data), float(coef[0]),
                    intercept, best)
