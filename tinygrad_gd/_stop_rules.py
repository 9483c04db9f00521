"""The rules that stop ``fit`` (target loss, tolerance, a rising loss) and its divergence guard,
with the advice a divergence error gives."""

from __future__ import annotations

import math
from typing import Any

from . import _backend, _history
from ._history import DivergenceError, History
from .data import DataLoader

__all__ = ["_StopRules"]


def _current_lr(optimizer: Any) -> str:
    try:
        return f"{optimizer.param_groups[0]['lr']:g}"
    except (AttributeError, LookupError, TypeError, ValueError):
        return "?"


def _advice(optimizer: Any, loader: DataLoader | None) -> str:
    features = None if loader is None else loader.arrays[0]
    if features is not None and _backend.is_foreign(features):
        features = None  # (whether Dask data are standardized is not worth a pass over them)
    return _history.divergence_advice(_current_lr(optimizer), features)



class _StopRules:
    """The rules that watch the loss, in the order they are checked: stop once it is <=
    ``target_loss``, stop once it changes by less than ``tol`` between two checks, raise
    :class:`DivergenceError` when it rose on ``max_rising`` checks in a row (each off when
    None); and the divergence guard, always on, for a loss that is NaN or infinite."""

    def __init__(self, target_loss: float | None, tol: float | None, max_rising: int | None, optimizer: Any,
                 loader: DataLoader | None = None) -> None:
        self.target_loss, self.tol, self.max_rising, self.optimizer = target_loss, tol, max_rising, optimizer
        self.loader = loader  # its features decide whether the advice says "standardize"
        self.previous: float | None = None
        self.rising = 0

    def check(self, loss: float, step: int) -> str | None:
        """The ``History.stop_reason`` when a rule fires on this checked loss, else None."""
        previous, self.previous = self.previous, loss
        if self.target_loss is not None and loss <= self.target_loss:
            return "target_loss"
        if previous is None:
            return None
        if self.tol is not None and abs(loss - previous) < self.tol:
            return "tol"
        self.rising = self.rising + 1 if loss > previous else 0
        if self.max_rising is not None and self.rising >= self.max_rising:
            raise DivergenceError(
                f"training diverged: the loss rose on {self.rising} consecutive checks, to {loss:.6g} at "
                f"step {step}. " + _advice(self.optimizer, self.loader),
                step,
                loss,
            )
        return None

    def check_finite(self, loss: float, step: int, history: History) -> None:
        """The divergence guard: a NaN or infinite loss at any step raises DivergenceError."""
        if math.isfinite(loss):
            return
        if step == 0:
            # Nothing was updated yet: the learning rate cannot be the cause.
            raise DivergenceError(
                f"training diverged at step 0: the loss became {loss} before any update, so the learning "
                f"rate is not the cause: the data or the initial parameters hold NaN/inf (or the loss is "
                f"undefined there). Check np.isfinite(X).all() and np.isfinite(y).all().",
                step,
                loss,
            )
        before = f" (it was {history.loss[-1]:.6g} at step {step - 1})" if history.loss else ""
        raise DivergenceError(
            f"training diverged at step {step}: the loss became {loss}{before}. "
            + _advice(self.optimizer, self.loader),
            step,
            loss,
        )


