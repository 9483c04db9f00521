"""The training loop: ``fit`` with the seeds' stopping rules, a divergence guard, a history,
callbacks and a progress bar.

Two ways to call it::

    # the seeds' style: parameters and a loss closure over the full batch
    w, b = tg.zeros(1, 1, requires_grad=True), tg.zeros((), requires_grad=True)
    history = fit([w, b], lambda: losses.half_mse(X @ w + b, y), lr=0.01, max_steps=1000)

    # a Module, data and mini-batches
    history = fit(model, losses.cross_entropy, (X, labels), optimizer="adam", lr=0.01,
                  epochs=50, batch_size=32, seed=0)

Every step computes the loss at the current parameters, records it, checks the stopping
rules, and only then runs ``backward`` and the optimizer, so when training stops because the
loss reached ``target_loss`` (or stopped changing) the parameters are exactly those whose loss
was recorded last.
"""

from __future__ import annotations

import math
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import losses as _losses
from . import optim as _optim
from .autograd import GraphTensor, no_grad
from .data import DataLoader
from .nn import Module
from .tensor import Tensor

__all__ = [
    "fit",
    "History",
    "StepInfo",
    "DivergenceError",
    "TrainingInterrupted",
    "OPTIMIZER_NAMES",
    "make_optimizer",
    "resolve_loss",
]

DEFAULT_MAX_STEPS = 1000
"""Steps ``fit`` runs when neither ``max_steps`` nor ``epochs`` is given (seed 002's count)."""

DEFAULT_LR = 0.01
"""Learning rate of the optimizer ``fit`` builds when given none (seed 002's alpha)."""

RECORD_PARAMS_LIMIT = 100
"""``fit`` records parameters per step by default when they hold at most this many numbers."""

PARAMS_HISTORY_LIMIT = 10_000
"""``History.params`` keeps at most this many snapshots by default (plus the last step's):
every step of a run up to this long, evenly spaced steps of a longer one."""


class DivergenceError(RuntimeError):
    """The loss became NaN/inf (or kept rising): ``step`` and ``loss`` say where."""

    def __init__(self, message: str, step: int, loss: float) -> None:
        super().__init__(message)
        self.step = step
        self.loss = loss


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
    step ``param_steps[k]`` (a tuple of arrays in ``param_names`` order, like seed 001's
    ``log`` of ``(w, b)``), and ``final_params`` the parameters training ended with. The
    parameter history is bounded: every step while the run is short (``params[i]`` is then
    step ``i``), evenly spaced steps of a long run, and always the last step, so its memory
    does not grow with the number of steps.
    ``epoch_loss`` / ``val_loss`` hold one mean per finished epoch when ``fit`` had data.
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

    def __repr__(self) -> str:
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


Callback = Callable[[StepInfo], Any]


# --------------------------------------------------------------------------- helpers
OPTIMIZER_NAMES: dict[str, tuple[type, dict[str, Any]]] = {
    "sgd": (_optim.SGD, {}),
    "momentum": (_optim.SGD, {"momentum": 0.9}),
    "nesterov": (_optim.SGD, {"momentum": 0.9, "nesterov": True}),
    "adam": (_optim.Adam, {}),
    "adamw": (_optim.AdamW, {}),
}
"""Optimizers ``fit`` (and the estimators) build from a name: class and fixed options."""


def make_optimizer(name: str, params: Sequence[Tensor], lr: float, **options: Any) -> Any:
    """Build the optimizer called ``name`` (see :data:`OPTIMIZER_NAMES`) over ``params``."""
    key = name.lower()
    if key not in OPTIMIZER_NAMES:
        raise ValueError(f"unknown optimizer {name!r}; choose one of {sorted(OPTIMIZER_NAMES)}")
    cls, fixed = OPTIMIZER_NAMES[key]
    return cls(list(params), lr=lr, **{**fixed, **options})


def resolve_loss(loss: str | Callable[..., Any]) -> Callable[..., Any]:
    """A loss function from its name in ``losses.LOSSES`` (a callable is returned as is)."""
    if callable(loss):
        return loss
    if isinstance(loss, str) and loss in _losses.LOSSES:
        return _losses.LOSSES[loss].fn
    raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(_losses.LOSSES)} or pass a function")


def _named_params(model: Any) -> tuple[list[str], list[Tensor]]:
    if isinstance(model, Module):
        pairs = [(n, p) for n, p in model.named_parameters() if p.requires_grad]
        if not pairs:
            raise ValueError(f"{type(model).__name__} has no parameters that require grad; nothing to train")
        return [n for n, _ in pairs], [p for _, p in pairs]
    if isinstance(model, GraphTensor):
        return ["0"], [model]
    if isinstance(model, Mapping):
        names, params = [str(k) for k in model], list(model.values())
    elif isinstance(model, Iterable) and not isinstance(model, (str, bytes)):
        params = list(model)
        names = [str(i) for i in range(len(params))]
    else:
        raise TypeError(
            f"fit trains a Module, a Tensor, or a list (or dict) of Tensors; got {type(model).__name__}"
        )
    for name, p in zip(names, params):
        if not isinstance(p, GraphTensor):
            raise TypeError(f"fit: parameter {name} is a {type(p).__name__}, not a Tensor")
    if not params:
        raise ValueError("fit got an empty parameter list: pass the tensors to train, e.g. [w, b]")
    return names, params


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


def _params_limit(record_params: Any, params: Sequence[Tensor]) -> int | None:
    """How many parameter snapshots ``fit`` keeps (None: it records none)."""
    if record_params is None:
        small = sum(p.data.size for p in params) <= RECORD_PARAMS_LIMIT
        return PARAMS_HISTORY_LIMIT if small else None
    if record_params is True:
        return PARAMS_HISTORY_LIMIT
    if record_params is False:
        return None
    if isinstance(record_params, (int, np.integer)) and record_params >= 1:
        return int(record_params)
    raise ValueError(
        f"record_params must be True, False, None or a positive whole number (the most parameter "
        f"snapshots to keep), got {record_params!r}"
    )


def _loader(data: Any, batch_size: int | None, shuffle: bool | None, seed: Any) -> DataLoader:
    if isinstance(data, DataLoader):
        if batch_size is not None or shuffle is not None:
            raise ValueError(
                "fit got a DataLoader and also batch_size/shuffle; set those on the DataLoader instead"
            )
        return data
    if isinstance(data, (tuple, list)) and data:
        # mini-batches are shuffled by default; a full batch is kept in order (it makes no difference)
        shuffle = batch_size is not None if shuffle is None else shuffle
        return DataLoader(*data, batch_size=batch_size, shuffle=shuffle, seed=seed)
    raise TypeError(
        f"fit's data must be a tuple (X, y) of arrays or a DataLoader, got {type(data).__name__}"
    )


def _as_model_input(x: Any) -> Any:
    return x if isinstance(x, GraphTensor) else Tensor(x)


def _batch_loss(model: Any, loss_fn: Callable[..., Any], batch: Any) -> Any:
    parts = batch if isinstance(batch, tuple) else (batch,)
    inputs = _as_model_input(parts[0])
    if isinstance(model, Module):
        return loss_fn(model(inputs), *parts[1:])
    return loss_fn(inputs, *parts[1:])


def _loss_value(loss: Any, step: int) -> float:
    if not isinstance(loss, GraphTensor):
        raise TypeError(
            f"the loss function must return a Tensor, got {type(loss).__name__} at step {step}; build "
            f"it from Tensor operations (e.g. losses.mse(pred, y)), not from .numpy() or floats"
        )
    if loss.data.size != 1:
        raise ValueError(
            f"the loss must be a single number, got shape {loss.shape} at step {step}; reduce it "
            f"(reduction='mean' or .mean())"
        )
    if not loss.requires_grad:
        raise RuntimeError(
            "the loss does not depend on any parameter that requires grad (was it computed under "
            "no_grad(), from .data, or from detached tensors?)"
        )
    return float(loss.data.reshape(()))


def _current_lr(optimizer: Any) -> str:
    try:
        return f"{optimizer.param_groups[0]['lr']:g}"
    except (AttributeError, LookupError, TypeError, ValueError):
        return "?"


_ADVICE = "Try a smaller learning rate (lr={lr} now) or standardize the features (data.Standardizer)."


def _progress_bar(progress: bool | None, total: int | None) -> Any:
    """A tqdm bar on a terminal: ``progress=None`` shows it only for runs longer than a second."""
    if progress is False or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    delay = 0.0 if progress else 1.0
    return tqdm(total=total, desc="fit", unit="step", file=sys.stderr, delay=delay, leave=False)


# --------------------------------------------------------------------------- fit
def fit(
    model: Any,
    loss_fn: str | Callable[..., Any],
    data: Any = None,
    *,
    optimizer: Any = None,
    lr: float | None = None,
    max_steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    shuffle: bool | None = None,
    seed: Any = None,
    target_loss: float | None = None,
    tol: float | None = None,
    max_rising: int | None = None,
    validation_data: Any = None,
    scheduler: Any = None,
    callbacks: Callback | Sequence[Callback] = (),
    progress: bool | None = None,
    record_params: bool | int | None = None,
) -> History:
    """Train by gradient descent until a stopping rule fires; returns a :class:`History`.

    model: a ``Module``, a Tensor, or a list/dict of Tensors (the parameters).
    loss_fn: a function or a loss name from ``losses.LOSSES``. Without ``data`` it is called
        with no arguments and returns the loss (a closure over the full batch, the seeds'
        style). With ``data`` it is called per batch as ``loss_fn(model(X), y)`` for a Module
        and ``loss_fn(X, y)`` for a parameter list.
    data: ``(X, y)`` (batched by ``batch_size``: None = full batch, 1 = stochastic; shuffled
        with ``seed`` when mini-batched unless ``shuffle`` says otherwise) or a ``DataLoader``.
    optimizer: an optimizer over the parameters, or a name from :data:`OPTIMIZER_NAMES`
        ("sgd", "momentum", "adam", ...) built with ``lr`` (default 0.01). Default: "sgd".
    max_steps / epochs: budgets (updates / passes over the data); with neither, 1000 steps.
    target_loss: stop once the loss is <= this value.
    tol: stop once the loss changes by less than this between two checks.
    max_rising: raise :class:`DivergenceError` when the loss rises on this many consecutive
        checks (off by default). A NaN or infinite loss always raises it.
    validation_data: ``(X, y)`` scored with ``loss_fn`` after each epoch (``History.val_loss``).
    scheduler: a learning-rate scheduler stepped after each epoch.
    callbacks: functions called with a :class:`StepInfo` after every update; a truthy return
        value stops training (``stop_reason == "callback"``).
    progress: tqdm bar on stderr when it is a terminal: None = only for runs longer than a
        second, True = always, False = never. Never when stderr is not a terminal.
    record_params: keep copies of the parameters in ``History.params`` (their steps in
        ``History.param_steps``): every step for runs up to ``PARAMS_HISTORY_LIMIT`` (10,000)
        steps, evenly spaced steps (at most that many, plus the last step) for longer ones, so
        the memory stays bounded. None (default) records them for small models (at most 100
        numbers, e.g. the seeds' w and b), True for any model, False never; a whole number N
        keeps at most N snapshots (N >= the number of steps keeps every step).

    Checks (target, tol, rising) apply to every step's loss when one step covers all the
    data (a closure or a full batch) and to each epoch's mean loss with mini-batches.
    """
    loss_fn = resolve_loss(loss_fn)
    names, params = _named_params(model)
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("none of the parameters requires grad; create them with requires_grad=True")
    for what, value in (("max_steps", max_steps), ("epochs", epochs), ("max_rising", max_rising)):
        whole = isinstance(value, (int, np.integer)) and not isinstance(value, bool)
        if value is not None and not (whole and value >= 1):
            raise ValueError(f"{what} must be a positive integer or None, got {value!r}")
    for what, value in (("target_loss", target_loss), ("tol", tol)):
        if value is not None and not (isinstance(value, (int, float, np.number)) and math.isfinite(value)):
            raise ValueError(f"{what} must be a finite number or None, got {value!r}")
    if tol is not None and tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")
    if data is None:
        if epochs is not None or batch_size is not None or validation_data is not None:
            raise ValueError(
                "epochs, batch_size and validation_data need data=(X, y); with a loss closure use max_steps"
            )
        loader = None
    else:
        loader = _loader(data, batch_size, shuffle, seed)
    if optimizer is None or isinstance(optimizer, str):
        optimizer = make_optimizer(optimizer or "sgd", trainable, DEFAULT_LR if lr is None else lr)
    elif lr is not None:
        raise ValueError("fit got both an optimizer and lr; set the learning rate on the optimizer")
    if callable(callbacks):
        callbacks = [callbacks]
    callbacks = list(callbacks)
    if max_steps is None and epochs is None:
        max_steps = DEFAULT_MAX_STEPS
    limit = _params_limit(record_params, params)

    per_step = loader is None or len(loader) == 1  # which loss the stopping rules watch
    batches_per_epoch = 1 if loader is None else len(loader)
    totals = [t for t in (max_steps, None if epochs is None else epochs * batches_per_epoch) if t is not None]
    history = History(param_names=names)
    recorder = None if limit is None else _ParamRecorder(history, params, limit)
    bar = _progress_bar(progress, min(totals) if totals else None)
    if isinstance(model, Module):
        model.train()

    watched: list[float] = []
    rising = 0

    def check(value: float, step: int) -> str | None:
        """Apply the stopping and rising rules to the next watched loss."""
        nonlocal rising
        previous = watched[-1] if watched else None
        watched.append(value)
        if target_loss is not None and value <= target_loss:
            return "target_loss"
        if previous is None:
            return None
        if tol is not None and abs(value - previous) < tol:
            return "tol"
        rising = rising + 1 if value > previous else 0
        if max_rising is not None and rising >= max_rising:
            raise DivergenceError(
                f"training diverged: the loss rose on {rising} consecutive checks, to {value:.6g} at "
                f"step {step}. " + _ADVICE.format(lr=_current_lr(optimizer)),
                step,
                value,
            )
        return None

    step = 0
    stop: str | None = None
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            while stop is None:
                epoch_losses: list[float] = []
                updates = 0
                batches = [None] if loader is None else loader
                n_batches = 1 if loader is None else len(loader)
                for k, batch in enumerate(batches):
                    loss = loss_fn() if loader is None else _batch_loss(model, loss_fn, batch)
                    value = _loss_value(loss, step)
                    if not math.isfinite(value):
                        if step == 0:
                            # Nothing was updated yet: the learning rate cannot be the cause.
                            raise DivergenceError(
                                f"training diverged at step 0: the loss became {value} before any "
                                f"update, so the learning rate is not the cause: the data or the initial "
                                f"parameters hold NaN/inf (or the loss is undefined there). Check "
                                f"np.isfinite(X).all() and np.isfinite(y).all().",
                                step,
                                value,
                            )
                        before = ""
                        if history.loss:
                            before = f" (it was {history.loss[-1]:.6g} at step {step - 1})"
                        raise DivergenceError(
                            f"training diverged at step {step}: the loss became {value}{before}. "
                            + _ADVICE.format(lr=_current_lr(optimizer)),
                            step,
                            value,
                        )
                    history.loss.append(value)
                    epoch_losses.append(value)
                    if recorder is not None:
                        recorder.record(step)
                    if per_step:
                        stop = check(value, step)
                        if stop is not None:
                            break
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    step += 1
                    updates += 1
                    history.steps = step
                    if bar is not None:
                        bar.update(1)
                        if step % 50 == 1:
                            bar.set_postfix_str(f"loss={value:.4g}", refresh=False)
                    if callbacks:
                        last = k == n_batches - 1
                        info = StepInfo(step, history.epochs, value, history, model, optimizer, last)
                        if any([bool(cb(info)) for cb in callbacks]):  # a list: every callback runs
                            stop = "callback"
                            break
                    if max_steps is not None and step >= max_steps:
                        stop = "max_steps"
                        break
                if loader is None or updates < n_batches:
                    continue  # the closure style has no epochs; an interrupted epoch does not count
                history.epochs += 1
                history.epoch_loss.append(float(np.mean(epoch_losses)))
                if validation_data is not None:
                    history.val_loss.append(_validation_loss(model, loss_fn, validation_data))
                if scheduler is not None:
                    scheduler.step()
                if stop is None and not per_step:
                    stop = check(history.epoch_loss[-1], step)
                if stop is None and epochs is not None and history.epochs >= epochs:
                    stop = "epochs"
    except KeyboardInterrupt as interrupt:
        # Ctrl-C: say where training stood, and hand over what it recorded.
        history.stop_reason = "interrupted"
        if recorder is not None:
            recorder.finish()
            history.final_params = recorder.snapshot()
        raise TrainingInterrupted(history) from interrupt
    finally:
        if bar is not None:
            bar.close()
    history.stop_reason = stop
    if recorder is not None:
        recorder.finish()
        history.final_params = recorder.snapshot()
    return history


def _validation_loss(model: Any, loss_fn: Callable[..., Any], validation_data: Any) -> float:
    if not isinstance(validation_data, (tuple, list)) or len(validation_data) < 1:
        raise TypeError("validation_data must be a tuple (X, y) of arrays")
    was_training = getattr(model, "training", None)
    if isinstance(model, Module):
        model.eval()
    try:
        with no_grad():
            loss = _batch_loss(model, loss_fn, tuple(validation_data))
    finally:
        if isinstance(model, Module) and was_training:
            model.train()
    return float(np.asarray(loss.data).reshape(()))
