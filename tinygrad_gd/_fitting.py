"""What ``tinygrad-gd fit`` computes around the estimators' gradient descent: training on a
scaled regression target (reported back in the original units), and the verdict on the run
(converged, stopped by its budget, stalled or diverged) with concrete advice.

Why scale the target: Adam moves each weight by about ``lr`` per step, and plain gradient
descent's stopping tolerance is in the target's units squared, so a target in the hundreds of
thousands leaves Adam 1,000 steps short of the answer and makes ``--tol`` meaningless. Trained
on a z-scored target, the weights are O(1) with ``--standardize``, one learning rate suits
every dataset, and the loss, coefficients and history are converted back exactly (mse and
half_mse scale by σ², mae by σ; huber's ``delta`` is in the target's units, so a huber
target is left as it is).
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import numpy as np

from .data import Standardizer
from .estimators import _Descent, _Evaluation, _Problem, _Settings
from .train import History

__all__ = ["TargetScale", "fit_problem", "FitSettings", "Verdict", "judge", "diverged_verdict", "MATCH"]

MATCH = 1e-6
"""A linear fit matches the closed form when its R² is within this of the least-squares R²."""

_NORMALISED_STEPS = ("adam", "adamw", "rmsprop", "adagrad")
"""Optimizers whose step divides by the gradient's size: about ``lr`` per weight, whatever the data's scale."""

_SCALED_LOSSES = {"mse": 2, "half_mse": 2, "mae": 1}  # loss name -> power of σ the loss scales by


@dataclass(frozen=True)
class TargetScale:
    """y = mean + scale · z: the target trained on is z (the loss scales by scale**power)."""

    mean: float
    scale: float
    power: int

    @classmethod
    def of(cls, problem: _Problem) -> TargetScale | None:
        """How to scale ``problem``'s target, or None where it is not scaled (classification,
        huber, a target too large for float64); a constant target is only centred."""
        if problem.cached_target_scale is None:  # asked for twice in a CLI fit: a pass over Dask data each
            problem.cached_target_scale = (cls._of(problem),)
        return problem.cached_target_scale[0]

    @classmethod
    def _of(cls, problem: _Problem) -> TargetScale | None:
        power = _SCALED_LOSSES.get(problem.loss_name)
        if problem.kind != "linear" or power is None:
            return None
        with np.errstate(over="ignore", invalid="ignore"):
            fitted = Standardizer()
            try:
                fitted.fit(problem.y)
            except ValueError:
                return None
        assert fitted.mean_ is not None and fitted.scale_ is not None
        mean, scale = float(fitted.mean_[0]), float(fitted.scale_[0])
        if not (math.isfinite(mean) and math.isfinite(scale) and scale > 0):
            return None
        return cls(mean, scale, power)

    def loss(self, value: float) -> float:
        """A loss on the scaled target, in the original units."""
        return value * self.scale**self.power

    def weights(self, weight: np.ndarray, bias: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(weight, bias) predicting the scaled target, turned into ones predicting the target."""
        return weight * self.scale, bias * self.scale + self.mean

    def history(self, h: History) -> History:
        """A copy of ``h`` with its losses and parameters in the original units."""
        return dataclasses.replace(
            h, loss=[self.loss(v) for v in h.loss], epoch_loss=[self.loss(v) for v in h.epoch_loss],
            val_loss=[self.loss(v) for v in h.val_loss],
            params=[self.weights(w, b) for w, b in h.params],
            final_params=None if h.final_params is None else self.weights(*h.final_params))


def fit_problem(problem: _Problem, settings: _Settings, scale_target: bool) -> tuple[_Descent, TargetScale | None]:
    """Gradient descent on ``problem``, on its z-scored target when ``scale_target`` (and the
    loss allows it); the run comes back in the original units, with the scale used."""
    scale = TargetScale.of(problem) if scale_target else None
    if scale is None:
        return problem.descend(settings), None
    scaled = dataclasses.replace(problem, target=((problem.y - scale.mean) / scale.scale).reshape(-1, 1))
    run = scaled.descend(settings)
    weight, bias = scale.weights(run.weight, run.bias)
    history = None if run.history is None else scale.history(run.history)
    diverged = run.diverged
    if diverged is not None:
        diverged = type(diverged)(str(diverged), diverged.step, scale.loss(diverged.loss))
    return _Descent(weight, bias, [scale.loss(v) for v in run.losses], run.scaler, history, diverged), scale


# --------------------------------------------------------------------------- the verdict
@dataclass
class Verdict:
    """How a run ended, in one line, with what to try next.

    ``status``: "converged" (a linear mse/half_mse fit matches the closed form; other fits:
    the loss stopped changing), "stalled" (the loss stopped changing by more than ``--tol``
    but the fit is short of the closed form), "stopped_by_budget" (the steps or epochs ran
    out first) or "diverged"."""

    status: str
    summary: str
    advice: list[str] = field(default_factory=list)
    r2_gap: float | None = None  # least-squares R² minus the fit's

    @property
    def line(self) -> str:
        """``verdict: <status in words>: <summary>``."""
        words = {"converged": "converged", "stalled": "stalled", "stopped_by_budget": "stopped by budget",
                 "diverged": "diverged"}[self.status]
        return f"verdict: {words}: {self.summary}"

    def lines(self) -> list[str]:
        """The verdict line, then one line per suggestion."""
        return [self.line, *[f"  {'try' if k == 0 else 'or'} {a}" for k, a in enumerate(self.advice)]]


@dataclass(frozen=True)
class FitSettings:
    """The choices of one ``fit`` run that the advice refers to."""

    optimizer: str
    lr: float
    steps: int
    epochs: int | None
    tol: float | None
    standardized: bool
    target_scaled: bool
    mini_batch: bool = False


def _still_falling(losses: list[float]) -> bool:
    """The loss fell over the last tenth of the run, without going up and down on the way."""
    tail = losses[-max(3, len(losses) // 10):]
    return len(tail) >= 2 and tail[-1] < tail[0] and all(b <= a for a, b in zip(tail, tail[1:]))


def _advice(status: str, s: FitSettings, losses: list[float], linear: bool) -> list[str]:
    """What to try when a run fell short, most likely cure first."""
    advice = []
    adam_on_raw_target = s.optimizer in _NORMALISED_STEPS and linear and not s.target_scaled
    if adam_on_raw_target:
        advice.append("scaling the target (--standardize-target, or --standardize, which scales the features too): "
                      f"{s.optimizer} moves each weight by about --lr (now {s.lr:g}) per step")
    if status == "stalled":
        advice.append(f"a smaller --tol (now {s.tol:g}; --tol 0 runs the whole budget)")
    falling = _still_falling(losses)
    if s.mini_batch and status != "stalled":
        advice.append(f"a larger --batch-size or a smaller --lr (now {s.lr:g}) with more epochs: each step sees one "
                      "mini-batch, so the fit jitters around the answer")
        falling = False
    if status == "stopped_by_budget" and falling:
        advice.append(f"more epochs (--epochs {4 * s.epochs})" if s.epochs else f"more steps (--max-steps {4 * s.steps})")
    if not adam_on_raw_target and (falling or status == "stalled"):
        advice.append(f"a larger --lr (now {s.lr:g}; 'tinygrad-gd lr-sweep' shows which rates converge)")
    if not s.standardized:
        advice.append("--standardize (z-scored features suit one learning rate)")
    if not advice:  # neither crawling nor badly scaled: the loss goes up and down
        advice.append(f"a smaller --lr (now {s.lr:g}) with more steps: the loss is not falling steadily")
    return advice


def judge(problem: _Problem, run: _Descent, evaluation: _Evaluation, s: FitSettings) -> Verdict:
    """The verdict on a finished (not diverged) run."""
    assert run.history is not None
    h = run.history
    cf = evaluation.closed_form
    least_squares = cf is not None and problem.loss_name in ("mse", "half_mse")
    if least_squares and evaluation.r2 is not None and cf is not None:
        best = evaluation.closed_form_r2
        gap = max(0.0, (best or 0.0) - evaluation.r2)
        matched = gap <= MATCH
        summary = f"R² {evaluation.r2:.6g} on the training data, closed form {best:.6g} (gap {gap:.2g})"
        if matched and _relative_gap(evaluation, cf.coef, cf.intercept) > 1e-2:
            summary += " (the loss matches but the coefficients do not: the features are nearly collinear)"
    else:
        gap, matched = None, h.converged
        summary = f"final loss {evaluation.final_loss:.6g} after {h.steps} steps"
        if evaluation.accuracy is not None:
            summary += f", accuracy {evaluation.accuracy:.4f}"
    if matched:
        status = "converged"
    elif h.converged:
        status = "stalled"
    else:
        status = "stopped_by_budget"
    curve = h.epoch_loss if s.mini_batch else h.loss
    advice = [] if status == "converged" else _advice(status, s, list(curve), problem.kind == "linear")
    return Verdict(status, summary, advice, gap)


def _relative_gap(evaluation: _Evaluation, coef: np.ndarray, intercept: float) -> float:
    size = max(float(np.max(np.abs(coef))), abs(intercept), 1e-300)
    return float(evaluation.closed_form_gap or 0.0) / size


def diverged_verdict(run: _Descent, s: FitSettings) -> Verdict:
    """The verdict on a run whose loss became NaN/inf or rose: where, and what to change."""
    step = run.diverged.step if run.diverged is not None else len(run.losses) - 1
    advice = [f"a smaller --lr (now {s.lr:g})"]
    if not s.standardized:
        advice.append("--standardize")
    return Verdict("diverged", f"the loss became {run.losses[-1]:.6g} at step {step}", advice)
