"""Learning-rate sweeps: train the same model with several learning rates and say which
converge, which crawl (the rate is too small for the budget of steps) and which diverge.

    >>> import tinygrad_gd as tg
    >>> X, y = tg.data.make_line()
    >>> [r.verdict for r in tg.sweep.sweep_learning_rates(X, y, [0.001, 0.1, 1.0])]
    ['crawls', 'converges', 'diverges']

``tinygrad-gd lr-sweep`` prints the same table; ``plot.lr_sweep`` draws it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from ._typing import ArrayLike
from .estimators import _prepare, _Problem, _Settings

__all__ = ["MAX_LR", "FLAT_FRACTION", "NEAR_FRACTION", "SweepResult", "classify_run", "sweep_learning_rates"]

MAX_LR = 1e3
"""Learning rates above this are rejected as absurd (no well-posed problem needs them)."""

FLAT_FRACTION = 1e-3
"""``classify_run``: a run has levelled off when the second half of its steps removed at most
this fraction of its total decrease."""

NEAR_FRACTION = 1e-6
"""``classify_run``: with a known best loss J*, a run has reached it when J − J* is at most this
fraction of where it started (for a quadratic cost: the parameters are within ~0.1 %)."""


@dataclass
class SweepResult:
    """One learning rate of a sweep: its ``verdict`` ("converges", "crawls" or "diverges"),
    the loss per step (ending in NaN/inf when it blew up), and where it diverged."""

    lr: float
    verdict: str
    losses: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    @property
    def final_loss(self) -> float:
        """The last finite loss (NaN if there is none)."""
        finite = [v for v in self.losses if math.isfinite(v)]
        return finite[-1] if finite else math.nan


@dataclass
class _Sweep:
    """A whole sweep: one result per learning rate (in the order given), and the best possible
    loss J* where it is known exactly (else None)."""

    results: list[SweepResult]
    best_possible_loss: float | None


def classify_run(losses_per_step: Sequence[float], best_loss: float | None = None) -> str:
    """"diverges", "converges" or "crawls" for a loss curve (the loss at each step).

    diverges: the loss became NaN/inf, or ended above where it started. converges: the loss
    levelled off (the second half of the run removed at most ``FLAT_FRACTION`` of the total
    decrease) and, when the best possible loss ``best_loss`` (J*) is known, got there:
    J − J* ≤ ``NEAR_FRACTION`` · (J₀ − J*). crawls: anything else: the loss is still falling,
    or stalled along a flat valley short of the minimum: the learning rate is too small for
    this budget of steps.
    """
    arr = np.asarray(losses_per_step, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("classify_run needs at least one loss value")
    if not np.all(np.isfinite(arr)) or arr[-1] > arr[0]:
        return "diverges"
    total = arr[0] - arr[-1]
    if best_loss is not None:
        start = arr[0] - best_loss
        if start <= 0:  # started at the best possible loss
            return "converges"
        if arr[-1] - best_loss > NEAR_FRACTION * start:
            return "crawls"
    if total <= 0:  # not a single bit of progress
        return "crawls"
    late = arr[arr.size // 2] - arr[-1]
    return "converges" if late <= FLAT_FRACTION * total else "crawls"


def _check_learning_rate(value: float, text: str) -> float:
    """``value`` if it is a usable learning rate, else a ``ValueError`` quoting ``text``."""
    if not math.isfinite(value) or value <= 0:
        raise ValueError(f"a learning rate must be a positive finite number, got {text!r} (try 0.01)")
    if value > MAX_LR:
        raise ValueError(
            f"learning rate {text} is absurdly large (above {MAX_LR:g}); gradient descent needs lr "
            f"below 2/curvature, typically 0.001 to 1"
        )
    return value


def sweep_learning_rates(
    X: ArrayLike,
    y: ArrayLike,
    lrs: Sequence[float],
    *,
    model: str = "linear",
    loss: str | None = None,
    optimizer: str = "sgd",
    steps: int = 500,
    standardize: bool = False,
    progress: bool = False,
) -> list[SweepResult]:
    """Train the same model from w = 0 with each learning rate for ``steps`` full-batch
    updates; returns one :class:`SweepResult` per rate (in the order given).

    X: (n, k) features; y: (n,) or (n, 1) targets (class labels for ``model="logistic"``).
    """
    features = np.asarray(X, dtype=np.float64)
    if features.ndim == 1:
        features = features.reshape(-1, 1)
    problem = _prepare(features, np.asarray(y), model, loss, standardize)
    rates = [_check_learning_rate(float(lr), str(lr)) for lr in lrs]
    return _sweep(problem, rates, optimizer, steps, progress).results


def _sweep(problem: _Problem, lrs: Sequence[float], optimizer: str, steps: int, progress: bool) -> _Sweep:
    """Run every learning rate; verdicts against J* when known, else against the lowest loss
    any run reached (so "converges" means: levelled off at the best loss seen)."""
    runs = [problem.descend(_Settings(optimizer=optimizer, lr=lr, max_steps=steps, progress=progress)) for lr in lrs]
    best = problem.best_possible_loss()
    reference = best
    if reference is None:
        finals = [r.losses[-1] for r in runs if r.diverged is None and math.isfinite(r.losses[-1])]
        reference = min(finals) if finals else None
    results = []
    for lr, run in zip(lrs, runs):
        at = run.diverged.step if run.diverged is not None else None
        results.append(SweepResult(lr, classify_run(run.losses, reference), run.losses, at))
    return _Sweep(results, best)
