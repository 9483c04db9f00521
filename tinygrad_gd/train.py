"""The training loop: ``fit`` with the tutorials' stopping rules, a divergence guard, a history,
callbacks and a progress bar.

Two ways to call it::

    # the tutorials' style: parameters and a loss closure over the full batch
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
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _backend
from . import autograd as _autograd
from . import losses as _losses
from . import optim as _optim
from ._history import DivergenceError, History, StepInfo, TrainingInterrupted, _ParamRecorder
from ._stop_rules import _StopRules
from ._validate import as_tensor, is_integer, one_element_loss
from .autograd import GraphTensor, no_grad
from .compile import step as _compile_step
from .data import DataLoader
from .nn import Module
from .tensor import Tensor

__all__ = [
    "fit",
    "History",
    "StepInfo",
    "DivergenceError",
    "TrainingInterrupted",
    "make_optimizer",
    "resolve_loss",
]

DEFAULT_MAX_STEPS = 1000
"""Steps ``fit`` runs when neither ``max_steps`` nor ``epochs`` is given (the update-rule tutorial's count)."""

DEFAULT_LR = 0.01
"""Learning rate of the optimizer ``fit`` builds when given none (the update-rule tutorial's alpha)."""

RECORD_PARAMS_LIMIT = 100
"""``fit`` records parameters per step by default when they hold at most this many numbers."""

PARAMS_HISTORY_LIMIT = 10_000
"""``History.params`` keeps at most this many snapshots by default (plus the last step's):
every step of a run up to this long, evenly spaced steps of a longer one."""


Callback = Callable[[StepInfo], Any]


# --------------------------------------------------------------------------- helpers
def make_optimizer(name: str, params: Sequence[Tensor], lr: float, **options: Any) -> _optim.Optimizer:
    """Build the optimizer called ``name`` (any of ``optim.optimizer_names()``) over ``params``."""
    cls, fixed = _optim.resolve(name)  # a ValueError listing the names for an unknown one
    build: Any = cls  # a registered subclass: its own keywords (lr, betas, ...), not the base's
    return build(list(params), lr=lr, **{**fixed, **options})


def resolve_loss(loss: str | Callable[..., Any]) -> Callable[..., Any]:
    """A loss function from its name in ``losses.LOSSES`` (a callable is returned as is)."""
    if callable(loss):
        return loss
    if isinstance(loss, str) and loss in _losses.LOSSES:
        return _losses.LOSSES[loss].fn
    raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(_losses.LOSSES)} or pass a function")


def _named_params(model: Any) -> tuple[list[str], list[Any]]:
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


def _params_limit(record_params: Any, params: Sequence[Tensor]) -> int | None:
    """How many parameter snapshots ``fit`` keeps (None: it records none)."""
    if record_params is None:
        small = sum(p.data.size for p in params) <= RECORD_PARAMS_LIMIT
        return PARAMS_HISTORY_LIMIT if small else None
    if record_params is True:
        return PARAMS_HISTORY_LIMIT
    if record_params is False:
        return None
    if is_integer(record_params) and record_params >= 1:
        return int(record_params)
    raise ValueError(
        f"record_params must be True, False, None or a positive whole number (the most parameter "
        f"snapshots to keep), got {record_params!r}"
    )


def _batch_loss(model: Any, loss_fn: Callable[..., Any], batch: Any) -> Any:
    parts = batch if isinstance(batch, tuple) else (batch,)
    inputs = as_tensor(parts[0])
    if isinstance(model, Module):
        return loss_fn(model(inputs), *parts[1:])
    return loss_fn(inputs, *parts[1:])


_PARAMETER_LIST_CALL = (
    "fit({params}, loss_fn, (X, y)) with a list of parameters calls loss_fn(X, y) on each batch "
    "(X of shape {x_shape}), so loss_fn must compute the prediction from X with the parameters it "
    "closes over, e.g. fit([w, b], lambda X, y: tg.losses.mse(X @ w + b, y), (X, y)); with a "
    "Module, fit(model, loss_fn, (X, y)) calls loss_fn(model(X), y). For a loss written as "
    "loss(w, b) over all the data, leave the data out: fit([w, b], lambda: loss(w, b))."
)


def _parameter_list_loss(model: Any, loss_fn: Callable[..., Any], batch: Any) -> Any:
    """``loss_fn(X, y)`` for a parameter list with data, with what fit calls and what to pass
    when the loss function was written for something else (its parameters, a prediction)."""
    parts = batch if isinstance(batch, tuple) else (batch,)
    params = "[w, b]" if isinstance(model, (list, tuple)) else "params"
    hint = _PARAMETER_LIST_CALL.format(params=params, x_shape=tuple(np.shape(parts[0])))
    try:
        loss = _batch_loss(model, loss_fn, batch)
    except (TypeError, ValueError) as error:
        if type(error) not in (TypeError, ValueError):
            raise
        raise type(error)(f"{str(error).rstrip('.')}. {hint}") from error
    if isinstance(loss, GraphTensor) and not loss.requires_grad:
        raise RuntimeError(f"the loss does not depend on any parameter that requires grad: {hint}")
    return loss


def _loss_value(loss: Any, step: int) -> float:
    one_element_loss(
        loss,
        f"the loss function must return a Tensor, got {{type}} at step {step}; build it from Tensor "
        f"operations (e.g. losses.mse(pred, y)), not from .numpy() or floats",
        f"the loss must be a single number, got shape {{shape}} at step {step}; reduce it "
        f"(reduction='mean' or .mean())",
    )
    if not loss.requires_grad:
        raise RuntimeError(
            "the loss does not depend on any parameter that requires grad (was it computed under "
            "no_grad(), from .data, or from detached tensors?)"
        )
    return float(loss.data.reshape(()))


def _progress_bar(progress: bool | None, total: int | None) -> Any:
    """A tqdm bar on a terminal: ``progress=None`` shows it only for runs longer than a second."""
    if progress is False or not sys.stderr.isatty():
        return None
    from tqdm.auto import tqdm

    delay = 0.0 if progress else 1.0
    return tqdm(total=total, desc="fit", unit="step", file=sys.stderr, delay=delay, leave=False)


def _show_progress(bar: Any, step: int, loss: float) -> None:
    if bar is not None:
        bar.update(1)
        if step % 50 == 1:
            bar.set_postfix_str(f"loss={loss:.4g}", refresh=False)


# --------------------------------------------------------------------------- validation
def _check_stopping_arguments(max_steps: Any, epochs: Any, max_rising: Any, target_loss: Any, tol: Any) -> None:
    for what, value in (("max_steps", max_steps), ("epochs", epochs), ("max_rising", max_rising)):
        if value is not None and not (is_integer(value) and value >= 1):
            raise ValueError(f"{what} must be a positive integer or None, got {value!r}")
    for what, value in (("target_loss", target_loss), ("tol", tol)):
        if value is not None and not (isinstance(value, (int, float, np.number)) and math.isfinite(value)):
            raise ValueError(f"{what} must be a finite number or None, got {value!r}")
    if tol is not None and tol < 0:
        raise ValueError(f"tol must be >= 0, got {tol}")


def _data_loader(
    data: Any, epochs: int | None, batch_size: int | None, shuffle: bool | None, seed: Any, validation_data: Any
) -> DataLoader | None:
    """The loader over ``data``; None for the closure style (no data), which has no epochs."""
    if data is None:
        if epochs is not None or batch_size is not None or validation_data is not None:
            raise ValueError(
                "epochs, batch_size and validation_data need data=(X, y); with a loss closure use max_steps"
            )
        return None
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


def _optimizer(optimizer: Any, lr: float | None, trainable: list[Tensor]) -> Any:
    """``optimizer`` itself, or the one its name (default "sgd") builds over ``trainable``."""
    if optimizer is None or isinstance(optimizer, str):
        return make_optimizer(optimizer or "sgd", trainable, DEFAULT_LR if lr is None else lr)
    if lr is not None:
        raise ValueError("fit got both an optimizer and lr; set the learning rate on the optimizer")
    return optimizer


@dataclass
class _Plan:
    """What ``fit`` trains, on what, with what and for how long, every argument checked."""

    model: Any
    loss_fn: Callable[..., Any]
    loader: DataLoader | None
    optimizer: Any
    callbacks: list[Callback]
    max_steps: int | None
    epochs: int | None
    validation_data: Any
    scheduler: Any
    compiled: Any = None  # tg.compile.step of the loss, with fit(compile=True)

    @property
    def batches_per_epoch(self) -> int:
        return 1 if self.loader is None else len(self.loader)

    @property
    def per_step(self) -> bool:
        """True when one step covers all the data (a closure or a full batch): the loss rules
        then watch every step's loss; with mini-batches they watch each epoch's mean."""
        return self.batches_per_epoch == 1

    @property
    def total_steps(self) -> int | None:
        """The step budget (for the progress bar), None when there is none."""
        per_epochs = None if self.epochs is None else self.epochs * self.batches_per_epoch
        return min((b for b in (self.max_steps, per_epochs) if b is not None), default=None)

    def batches(self) -> Iterable[Any]:
        return [None] if self.loader is None else self.loader

    def loss(self, batch: Any) -> Any:
        if self.loader is None:
            return self.loss_fn()
        if isinstance(self.model, Module):
            return _batch_loss(self.model, self.loss_fn, batch)
        return _parameter_list_loss(self.model, self.loss_fn, batch)


# --------------------------------------------------------------------------- the loop
def _run_epoch(
    plan: _Plan, rules: _StopRules, history: History, recorder: _ParamRecorder | None, bar: Any
) -> str | None:
    """One pass over the data (one step for a closure). Each step computes the loss, records
    it, checks it (when it covers all the data), and only then updates the parameters.
    Returns the stop reason when a rule fired, else None."""
    last = plan.batches_per_epoch - 1
    for k, batch in enumerate(plan.batches()):
        step = history.steps
        value, backward = _evaluate(plan, batch, step)
        rules.check_finite(value, step, history)
        history.loss.append(value)
        if recorder is not None:
            recorder.record(step)
        stop = rules.check(value, step) if plan.per_step else None
        if stop is not None:
            return stop
        plan.optimizer.zero_grad()
        backward()
        plan.optimizer.step()
        history.steps = step + 1
        _show_progress(bar, history.steps, value)
        if plan.callbacks:
            info = StepInfo(history.steps, history.epochs, value, history, plan.model, plan.optimizer, k == last)
            if any([bool(cb(info)) for cb in plan.callbacks]):  # a list: every callback runs
                return "callback"
        if plan.max_steps is not None and history.steps >= plan.max_steps:
            return "max_steps"
    return None


def _evaluate(plan: _Plan, batch: Any, step: int) -> tuple[float, Callable[[], None]]:
    """The loss of one step as a number, and what puts its gradients into ``.grad``: the
    recorded graph's backward, or with ``compile=True`` the compiled step's gradients."""
    if plan.compiled is None:
        loss = plan.loss(batch)
        data = getattr(loss, "data", None)  # (a loss that is no Tensor is refused by _loss_value)
        if type(data) is not np.ndarray and data is not None and _backend.backend_name(data) == "dask":
            return _lazy_step(plan, loss, step)
        return _loss_value(loss, step), loss.backward
    parts = () if batch is None else batch if isinstance(batch, tuple) else (batch,)
    value, grads = plan.compiled(*parts)

    def backward() -> None:
        for p, g in zip(plan.compiled.fn.params, grads):
            p.grad = Tensor(g)

    return float(value), backward


def _lazy_step(plan: _Plan, loss: Any, step: int) -> tuple[float, Callable[[], None]]:
    """A step on Dask data: the backward builds every gradient as a Dask graph too, and the
    loss and all gradients are computed together, in one ``dask.compute`` (one pass over the
    chunks); the small numpy parameters then get numpy gradients."""
    one_element_loss(loss, "the loss function must return a Tensor, got {type}", "the loss must be a single number, got shape {shape}")
    params = [p for group in plan.optimizer.param_groups for p in group["params"]]
    grads = _autograd.grad(loss, params, allow_unused=True)
    used = [(p, g) for p, g in zip(params, grads) if g is not None]
    value, *arrays = _backend.compute(loss.data, *(g.data for _, g in used))

    def backward() -> None:
        for (p, _), g in zip(used, arrays):
            p.grad = Tensor(_backend.to_numpy(g))

    return float(_backend.to_numpy(value).reshape(())), backward


def _compiled_step(plan: _Plan, names: list[str], params: list[Tensor]) -> Any:
    """fit(compile=True): the loss of a batch (or of the closure) and its gradients as one
    compiled function (tg.compile), traced on the first step."""

    def batch_loss(*parts: Any) -> Any:
        return plan.loss(parts if parts else None)

    return _compile_step(batch_loss, params, [n.replace(".", "_") for n in names])


def _end_epoch(plan: _Plan, rules: _StopRules, history: History, stop: str | None) -> str | None:
    """Count a finished epoch: its mean loss, the validation loss, the scheduler, and the
    epoch rules (the loss rules on the mean with mini-batches, then the epochs budget)."""
    history.epochs += 1
    history.epoch_loss.append(float(np.mean(history.loss[-plan.batches_per_epoch :])))
    if plan.validation_data is not None:
        history.val_loss.append(_validation_loss(plan.model, plan.loss_fn, plan.validation_data))
    if plan.scheduler is not None:
        plan.scheduler.step()
    if stop is None and not plan.per_step:
        stop = rules.check(history.epoch_loss[-1], history.steps)
    if stop is None and plan.epochs is not None and history.epochs >= plan.epochs:
        stop = "epochs"
    return stop


def _train(plan: _Plan, rules: _StopRules, history: History, recorder: _ParamRecorder | None, bar: Any) -> str:
    """Epochs until a rule fires; returns the stop reason."""
    while True:
        steps_before = history.steps
        stop = _run_epoch(plan, rules, history, recorder, bar)
        # The closure style has no epochs; an epoch cut short by a rule does not count.
        finished = history.steps - steps_before == plan.batches_per_epoch
        if plan.loader is not None and finished:
            stop = _end_epoch(plan, rules, history, stop)
        if stop is not None:
            return stop


def _finish(history: History, recorder: _ParamRecorder | None, stop: str) -> None:
    history.stop_reason = stop
    if recorder is not None:
        recorder.finish()
        history.final_params = recorder.snapshot()


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
    compile: bool = False,  # noqa: A002 - the name users expect (as torch.compile)
) -> History:
    """Train by gradient descent until a stopping rule fires; returns a :class:`History`.

    model: a ``Module``, a Tensor, or a list/dict of Tensors (the parameters).
    loss_fn: a function or a loss name from ``losses.LOSSES``. Without ``data`` it is called
        with no arguments and returns the loss (a closure over the full batch, the tutorials'
        style). With ``data`` it is called per batch as ``loss_fn(model(X), y)`` for a Module
        and ``loss_fn(X, y)`` for a parameter list.
    data: ``(X, y)`` (batched by ``batch_size``: None = full batch, 1 = stochastic; shuffled
        with ``seed`` when mini-batched unless ``shuffle`` says otherwise) or a ``DataLoader``.
    optimizer: an optimizer over the parameters, or a name from ``optim.optimizer_names()``
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
        numbers, e.g. the tutorials' w and b), True for any model, False never; a whole number N
        keeps at most N snapshots (N >= the number of steps keeps every step).

    compile: run each step as :func:`tg.compile` code (traced on the first step; the same
        trajectory, faster). A layer that a trace cannot follow (Dropout or BatchNorm1d in
        training mode) raises ``TracingError``.

    Checks (target, tol, rising) apply to every step's loss when one step covers all the
    data (a closure or a full batch) and to each epoch's mean loss with mini-batches.
    """
    # Long only for its keywords and their documentation: the body checks every argument,
    # builds the stopping rules, and runs the loop (_train), in that order.
    loss_fn = resolve_loss(loss_fn)
    names, params = _named_params(model)
    trainable = [p for p in params if p.requires_grad]
    if not trainable:
        raise ValueError("none of the parameters requires grad; create them with requires_grad=True")
    _check_stopping_arguments(max_steps, epochs, max_rising, target_loss, tol)
    loader = _data_loader(data, epochs, batch_size, shuffle, seed, validation_data)
    optimizer = _optimizer(optimizer, lr, trainable)
    callbacks = [callbacks] if callable(callbacks) else list(callbacks)
    if max_steps is None and epochs is None:
        max_steps = DEFAULT_MAX_STEPS
    limit = _params_limit(record_params, params)
    plan = _Plan(model, loss_fn, loader, optimizer, callbacks, max_steps, epochs, validation_data, scheduler)
    rules = _StopRules(target_loss, tol, max_rising, optimizer, loader)
    if compile:
        plan.compiled = _compiled_step(plan, [n for n, p in zip(names, params) if p.requires_grad], trainable)

    history = History(param_names=names, batches_per_epoch=plan.batches_per_epoch)
    recorder = None if limit is None else _ParamRecorder(history, params, limit)
    bar = _progress_bar(progress, plan.total_steps)
    if isinstance(model, Module):
        model.train()
    try:
        with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
            stop = _train(plan, rules, history, recorder, bar)
    except KeyboardInterrupt as interrupt:
        # Ctrl-C: say where training stood, and hand over what it recorded.
        _finish(history, recorder, "interrupted")
        raise TrainingInterrupted(history) from interrupt
    finally:
        if bar is not None:
            bar.close()
    _finish(history, recorder, stop)
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
