"""What ``tinygrad-gd check`` verifies, on one small random dataset drawn from its seed.

The built-in models: autodiff against the hand-derived gradient (``analytic``) and central
finite differences. Every registered loss: ``gradcheck`` in each reduction, on predictions and
targets of that same dataset (a linear model's outputs, their sigmoid, a small network's
logits), chosen by the kind of input its registration declares (``LossSpec.input_kind``): no
test sampler runs here.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import analytic, losses
from .checking import GradcheckError, compare_gradients, gradcheck
from .tensor import Tensor

__all__ = ["CheckData", "ModelCheck", "LossCheck", "model_checks", "loss_checks", "REDUCTIONS"]

REDUCTIONS = ("mean", "sum", "none")


def _sigmoid(z: np.ndarray) -> np.ndarray:
    return 0.5 * (1.0 + np.tanh(0.5 * z))  # overflow-free


@dataclass
class CheckData:
    """The random inputs of every check: features, targets and parameters of each model."""

    X: np.ndarray  # (20, 3) features
    y: np.ndarray  # (20, 1) regression targets
    labels: np.ndarray  # (20, 1) 0/1 labels
    w: np.ndarray  # (3, 1)
    b: np.ndarray  # ()
    x1: np.ndarray  # (12,) one feature, for the per-sample loop
    y1: np.ndarray
    ids: np.ndarray  # (20,) class ids 0..2
    network: dict[str, np.ndarray]  # W1, b1, W2, b2 of Linear(3, 4)-Tanh-Linear(4, 3)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> CheckData:
        X = rng.normal(size=(20, 3))
        y = rng.normal(size=(20, 1))
        labels = (rng.random((20, 1)) < 0.5).astype(np.float64)
        w = rng.normal(size=(3, 1))
        b = np.array(rng.normal())
        x1 = rng.uniform(0.0, 5.0, size=12)
        y1 = 2.0 * x1 + 1.0 + rng.normal(scale=0.5, size=12)
        ids = rng.integers(0, 3, size=20)
        network = {
            "W1": rng.normal(size=(4, 3)) * 0.5, "b1": rng.normal(size=4) * 0.1,
            "W2": rng.normal(size=(3, 4)) * 0.5, "b2": rng.normal(size=3) * 0.1,
        }
        return cls(X, y, labels, w, b, x1, y1, ids, network)

    def network_logits(self, W1: Any, b1: Any, W2: Any, b2: Any) -> Any:
        """(20, 3) logits of the network (arrays in, arrays out; Tensors in, Tensors out)."""
        hidden = (Tensor(self.X) @ W1.T + b1).tanh() if isinstance(W1, Tensor) else np.tanh(self.X @ W1.T + b1)
        return hidden @ W2.T + b2

    def loss_inputs(self, kind: str) -> tuple[np.ndarray, np.ndarray]:
        """(prediction, target) for a loss whose ``LossSpec.input_kind`` is ``kind``: "residual"
        (a prediction and a target of the same shape), "probability", "logit" (soft labels as
        targets, so the target can be differentiated) or "class" (logits and class ids)."""
        linear = self.X @ self.w + self.b
        soft = _sigmoid(self.y)
        if kind == "probability":
            return _sigmoid(linear), soft
        if kind == "logit":
            return linear, soft
        if kind == "class":
            return self.network_logits(**self.network), self.ids
        if kind == "residual":
            return linear, self.y
        raise ValueError(f"unknown kind of loss input {kind!r}")


@dataclass
class ModelCheck:
    """One built-in model's gradient report: ``name`` says the model and its cost, ``source``
    where its hand-derived gradient comes from."""

    name: str
    source: str
    report: Any  # checking.GradientReport

    @property
    def title(self) -> str:
        return f"{self.name}  ({self.source})"


@dataclass
class LossCheck:
    """A loss's gradcheck per reduction: None where it passed, else what went wrong."""

    name: str
    errors: dict[str, str | None]

    @property
    def failed(self) -> list[str]:
        return [reduction for reduction, error in self.errors.items() if error is not None]


def _compare(loss_fn: Callable[..., Any], params: Mapping[str, Any], hand: Callable[..., Any] | None = None) -> Any:
    """``compare_gradients`` over named parameters (a mapping it accepts, named in its report)."""
    named: Any = params
    return compare_gradients(loss_fn, named, hand)


def model_checks(d: CheckData) -> list[ModelCheck]:
    """Autodiff against the hand-derived gradient and finite differences, for each built-in model."""
    X, y, labels, w, b, lam = d.X, d.y, d.labels, d.w, d.b, 0.3
    params = {"w": w, "b": b}
    return [
        ModelCheck("linear regression, J = 1/N Σ (y − ŷ)²", "the mean squared error; analytic.linreg_mse_grad",
                   _compare(lambda w, b: losses.mse(Tensor(X) @ w + b, y), params,
                            lambda w, b: analytic.linreg_mse_grad(X, y, w, b))),
        ModelCheck("linear regression, J = 1/(2m) Σ (ŷ − y)²", "half the mean squared error; "
                   "analytic.linreg_half_mse_grad",
                   _compare(lambda w, b: losses.half_mse(Tensor(X) @ w + b, y), params,
                            lambda w, b: analytic.linreg_half_mse_grad(X, y, w, b))),
        ModelCheck("the mean squared error summed one sample at a time, one feature", "analytic.linreg_mse_grad_loop",
                   _compare(lambda w, b: losses.mse(Tensor(d.x1) * w + b, d.y1), {"w": 0.3, "b": -0.2},
                            lambda w, b: analytic.linreg_mse_grad_loop(d.x1.tolist(), d.y1.tolist(), float(w),
                                                                       float(b)))),
        ModelCheck("logistic regression, mean binary cross-entropy", "analytic.logreg_bce_grad",
                   _compare(lambda w, b: losses.binary_cross_entropy_with_logits(Tensor(X) @ w + b, labels),
                            params, lambda w, b: analytic.logreg_bce_grad(X, labels, w, b))),
        ModelCheck(f"ridge regression, MSE + λ‖w‖², λ = {lam}", "analytic.ridge_mse_grad",
                   _compare(lambda w, b: losses.mse(Tensor(X) @ w + b, y) + lam * (w * w).sum(), params,
                            lambda w, b: analytic.ridge_mse_grad(X, y, w, b, lam))),
        ModelCheck("two-layer network Linear-Tanh-Linear, cross-entropy", "autodiff vs finite differences",
                   _compare(lambda W1, b1, W2, b2: losses.cross_entropy(d.network_logits(W1, b1, W2, b2), d.ids),
                            d.network)),
    ]


def _gradcheck_error(fn: Callable[..., Any], inputs: list[Any], rng: np.random.Generator) -> str | None:
    try:
        gradcheck(fn, inputs, rng=rng)
    except GradcheckError as e:
        return str(e)
    except Exception as e:  # a loss that crashes is a failed check, reported like one
        return f"{type(e).__name__}: {e}"
    return None


def _check_loss(spec: losses.LossSpec, d: CheckData, rng: np.random.Generator) -> LossCheck:
    errors: dict[str, str | None] = {}
    for reduction in REDUCTIONS:
        pred, target = d.loss_inputs(spec.input_kind)
        inputs = [Tensor(pred, requires_grad=True), Tensor(target, requires_grad=True) if spec.target_differentiable
                  else target]
        errors[reduction] = _gradcheck_error(
            lambda p, t, reduction=reduction: spec.fn(p, t, reduction=reduction, **spec.options), inputs, rng
        )
    return LossCheck(spec.name, errors)


def loss_checks(d: CheckData, rng: np.random.Generator) -> list[LossCheck]:
    """gradcheck of every loss in ``losses.LOSSES``, each reduction ("none" with a random
    upstream gradient drawn from ``rng``), in the prediction and, where it is differentiable,
    the target."""
    return [_check_loss(spec, d, rng) for spec in losses.LOSSES.values()]
