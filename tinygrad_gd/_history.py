"""What ``fit`` reports: the :class:`History` of a run, the :class:`StepInfo` a callback
sees, the two ways training ends early (:class:`DivergenceError`, :class:`TrainingInterrupted`),
and the recorder that keeps ``History.params`` bounded.

All public names are ``train``'s (``tg.train.History``, ...), where users find them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .tensor import Tensor

__all__ = ["DivergenceError", "TrainingInterrupted", "History", "StepInfo"]


class DivergenceError(RuntimeError):
    """The loss became NaN/inf (or kept rising): ``step`` and ``loss`` say where."""

    def __init__(self, message: str, step: int, loss: float) -> None:
        super().__init__(message)
        self.step = step
        self.loss = loss


def _standardized(X: Any) -> bool:
    """Whether every column of ``X`` is already z-scored (mean 0, std 1, or constant 0)."""
    values = np.asarray(X.data if isinstance(X, Tensor) else X)
    if values.ndim != 2 or values.dtype.kind != "f" or len(values) < 2:
        return False
    mean, std = values.mean(axis=0), values.std(axis=0)
    return bool(np.all(np.abs(mean) < 1e-6) and np.all((np.abs(std - 1.0) < 1e-6) | (std < 1e-12)))


def divergence_advice(lr: str, features: Any = None) -> str:
    """The advice a :class:`DivergenceError` gives: a smaller learning rate, and standardized
    features unless ``features`` (the training inputs, when known) already are."""
    if features is not None and _standardized(features):
        return f"Try a smaller learning rate (lr={lr} now); the features are already standardized."
    return f"Try a smaller learning rate (lr={lr} now) or standardize the features (data.Standardizer)."


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C (a ``KeyboardInterrupt``) during ``fit``, re-raised with where training stood:
    ``step`` is the last step whose loss was recorded (-1 if none), ``loss`` that loss (NaN if
    none), and ``history`` the :class:`History` so far (``stop_reason == "interrupted"``). It
    is a ``KeyboardInterrupt``, so ``except KeyboardInterrupt`` still catches it."""

    def __init__(self, history: History) -> None:
        self.history = history
        self.step = len(history.loss) - 1
        self.loss = history.final_loss
        where = (
            f"at step {self.step} (loss {self.loss:.6g})" if history.loss else "before the first loss was computed"
        )
        super().__init__(f"training interrupted {where}; the History so far is in .history")


@dataclass
class History:
    """What happened during ``fit``.

    ``loss[i]`` is the loss at step ``i``, computed at the parameters *before* update ``i``
    (so ``loss[0]`` is the starting loss). When ``fit`` records parameters (by default for
    small models, see its ``record_params``), ``params[k]`` holds copies of the parameters at
    step ``param_steps[k]`` (a tuple of arrays in ``param_names`` order, like the beginner's
    article's ``log`` of ``(w, b)``), and ``final_params`` the parameters training ended with. The
    parameter history is bounded: every step while the run is short (``params[i]`` is then
    step ``i``), evenly spaced steps of a long run, and always the last step, so its memory
    does not grow with the number of steps.
    ``epoch_loss`` / ``val_loss`` hold one mean per finished epoch when ``fit`` had data.
    With mini-batches (``batches_per_epoch > 1``) each ``loss[i]`` is the loss of one batch,
    not of all the data (``final_loss`` is the last batch's), and the ``repr`` says so;
    ``epoch_loss`` is the mean over an epoch's batches.
    ``stop_reason`` is one of "max_steps", "epochs", "target_loss", "tol", "callback"
    (and "interrupted" on the history a :class:`TrainingInterrupted` carries).
    """

    loss: list[float] = field(default_factory=list)
    params: list[tuple[np.ndarray, ...]] = field(default_factory=list)
    param_steps: list[int] = field(default_factory=list)
    param_names: list[str] = field(default_factory=list)
    final_params: tuple[np.ndarray, ...] | None = None
    epoch_loss: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    steps: int = 0
    epochs: int = 0
    stop_reason: str | None = None
    batches_per_epoch: int = 1

    @property
    def final_loss(self) -> float:
        """The last recorded loss (NaN if nothing was recorded)."""
        return self.loss[-1] if self.loss else math.nan

    @property
    def best_loss(self) -> float:
        """The smallest recorded loss (NaN if nothing was recorded)."""
        return min(self.loss) if self.loss else math.nan

    @property
    def converged(self) -> bool:
        """True when training stopped on ``target_loss`` or ``tol`` rather than a budget."""
        return self.stop_reason in ("target_loss", "tol")

    def __len__(self) -> int:
        return len(self.loss)

    def _repr_html_(self) -> str:
        """Notebooks: the summary as a table and the loss curve as an inline PNG (a table of
        losses without matplotlib)."""
        from ._html import history_html

        return history_html(self)

    @property
    def mini_batches(self) -> bool:
        """True when each step saw one mini-batch: ``loss`` then holds single-batch losses."""
        return self.batches_per_epoch > 1

    def __repr__(self) -> str:
        if self.mini_batches:  # a batch's loss is not the loss on all the data: say which is which
            epoch = f"{self.epoch_loss[-1]:.6g}" if self.epoch_loss else "nan"
            return (
                f"History(steps={self.steps}, epochs={self.epochs}, batches_per_epoch={self.batches_per_epoch}, "
                f"last_batch_loss={self.final_loss:.6g}, last_epoch_mean_batch_loss={epoch}, "
                f"stop_reason={self.stop_reason!r})"
            )
        return (
            f"History(steps={self.steps}, epochs={self.epochs}, final_loss={self.final_loss:.6g}, "
            f"best_loss={self.best_loss:.6g}, stop_reason={self.stop_reason!r})"
        )


@dataclass
class StepInfo:
    """What a callback sees after each update: ``step`` updates done so far, the current
    ``epoch`` (0-based), the step's ``loss``, the ``history``, the ``model`` (Module or
    parameter list) and the ``optimizer``. ``end_of_epoch`` is True on an epoch's last step."""

    step: int
    epoch: int
    loss: float
    history: History
    model: Any
    optimizer: Any
    end_of_epoch: bool


class _ParamRecorder:
    """Keeps ``History.params`` bounded: snapshots of every ``stride``-th step, at most ``limit``
    of them. When one more would not fit, every other snapshot is dropped and the stride
    doubles, so the kept steps stay evenly spaced (0, s, 2s, ...) and their count stays between
    limit/2 and limit however long training runs. The last step is added at the end."""

    def __init__(self, history: History, params: Sequence[Tensor], limit: int) -> None:
        self.history, self.params, self.limit = history, params, limit
        self.stride = 1
        self.pending: tuple[int, tuple[np.ndarray, ...]] | None = None  # the latest step not kept

    def snapshot(self) -> tuple[np.ndarray, ...]:
        return tuple(p.data.copy() for p in self.params)

    def record(self, step: int) -> None:
        h = self.history
        if step % self.stride == 0 and len(h.params) >= self.limit:
            del h.params[1::2], h.param_steps[1::2]
            self.stride *= 2
        if step % self.stride == 0:
            h.params.append(self.snapshot())
            h.param_steps.append(step)
            self.pending = None
        else:
            self.pending = (step, self.snapshot())

    def finish(self) -> None:
        """Add the last recorded step when the stride skipped it."""
        if self.pending is not None:
            step, snap = self.pending
            self.history.params.append(snap)
            self.history.param_steps.append(step)
            self.pending = None


for _public in (DivergenceError, TrainingInterrupted, History, StepInfo):
    _public.__module__ = "tinygrad_gd.train"  # public as train.<name>: reprs and pickles say so
