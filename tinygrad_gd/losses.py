"""Loss functions: a prediction and a target in, a Tensor out (a scalar unless ``reduction="none"``).

Every loss takes ``reduction`` = ``"mean"`` (default) | ``"sum"`` | ``"none"`` and **never
broadcasts** the prediction against the target: shapes ``(n, 1)`` and ``(n,)`` raise a
``ValueError`` instead of silently building an ``(n, n)`` matrix of residuals. Targets may be
Tensors (then they can be differentiated too), numpy arrays or lists.

Most losses are a few Tensor operations. The two whose naive composition overflows or divides
by zero at the edges of their domain (binary cross-entropy on probabilities and on logits) are
fused primitives in ``ops/fused.py`` with their own stable backward.

Adding a loss is one decorated function here: ``@register_loss(label=..., task=..., short=...)``
puts it in :data:`LOSSES`, which ``fit``'s name lookup, the CLI's ``--loss`` choices, the
figures' labels and the test tables read, so every loss is checked against finite differences
automatically.

    >>> import tinygrad_gd as tg
    >>> w = tg.Tensor(0.0, requires_grad=True)
    >>> x, y = tg.Tensor([1.0, 2.0, 3.0]), [2.0, 4.0, 6.0]
    >>> loss = tg.losses.half_mse(x * w, y)    # J = 1/(2m) Σ (ŷ - y)²  (the update-rule tutorial)
    >>> loss.backward()
    >>> round(float(w.grad), 6)                # 1/m Σ (ŷ - y) x = -28/3
    -9.333333
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, TypeVar

import numpy as np

from . import _backend, _deferred_checks
from . import ops as _ops
from ._typing import TensorLike
from .autograd import GraphTensor
from .tensor import Tensor, where

__all__ = [
    "Reduction",
    "Task",
    "InputKind",
    "LossSpec",
    "LOSSES",
    "register_loss",
    "unregister_loss",
    "loss_names",
    "mse",
    "half_mse",
    "mae",
    "huber",
    "binary_cross_entropy",
    "binary_cross_entropy_with_logits",
    "cross_entropy",
    "nll_loss",
    "kl_div",
]

Reduction = Literal["mean", "sum", "none"]
_REDUCTIONS = ("mean", "sum", "none")

Task = Literal["regression", "classification"]
"""What a loss trains: a regression (real targets) or a classification (labels, probabilities)."""
InputKind = Literal["residual", "probability", "logit", "class"]
"""What a loss takes, so that tests and ``tinygrad-gd check`` can make valid inputs: a prediction
and a target of the same shape ("residual"), probabilities in [0, 1] or logits with soft
labels as targets ("probability", "logit"), or (n, C) logits with integer class ids ("class")."""
_TASKS = ("regression", "classification")
_INPUT_KINDS = ("residual", "probability", "logit", "class")


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class LossSpec:
    """A registered loss: the function and what the CLI, the figures and the test tables read.

    Plain data, no sampling code: the test-suite draws valid inputs for ``input_kind``
    (tests/tables.py), passes ``options`` as keyword arguments, and keeps the residuals
    |prediction − target| away from 0 and from each of ``kinks`` (where the loss switches
    formula, as huber at delta), so that central finite differences are meaningful.
    """

    name: str
    fn: Callable[..., Tensor]
    label: str  # "mean squared error": for help texts
    task: Task
    short: str  # "MSE": for figure labels
    input_kind: InputKind = "residual"
    options: Mapping[str, Any] = field(default_factory=dict)
    kinks: tuple[float, ...] = ()

    @property
    def target_differentiable(self) -> bool:
        """Whether the loss has a gradient in its target too (class ids have none)."""
        return self.input_kind != "class"


LOSSES: dict[str, LossSpec] = {}
"""Every loss by name, filled by :func:`register_loss`; the test-suite gradchecks each entry (all
reductions) automatically, ``fit`` accepts these names, and ``tinygrad-gd check`` checks them."""

LossFunction = TypeVar("LossFunction", bound=Callable[..., Tensor])


def register_loss(
    *,
    label: str,
    task: Task,
    short: str | None = None,
    input_kind: InputKind = "residual",
    options: Mapping[str, Any] | None = None,
    kinks: tuple[float, ...] = (),
    name: str | None = None,
) -> Callable[[LossFunction], LossFunction]:
    """Decorator: register a loss ``fn(pred, target, reduction="mean", **options)`` in
    :data:`LOSSES` under ``name`` (default: the function's name) and return it unchanged.

    label: what it is in words ("mean squared error"); task: "regression" or
    "classification"; short: its name in figure labels (default: the label); input_kind,
    options, kinks: what the test tables need to exercise it (see :class:`LossSpec`).
    Registering a name again replaces the entry only for a function of the same qualified
    name (a re-run notebook cell, a reloaded module); otherwise it is a ``ValueError``.
    """
    if task not in _TASKS:
        raise ValueError(f"register_loss: task must be one of {_TASKS}, got {task!r}")
    if input_kind not in _INPUT_KINDS:
        raise ValueError(f"register_loss: input_kind must be one of {_INPUT_KINDS}, got {input_kind!r}")
    if not isinstance(label, str) or not label:
        raise ValueError(f"register_loss: label must be a non-empty string, got {label!r}")

    def register(fn: LossFunction) -> LossFunction:
        key = name or fn.__name__
        old = LOSSES.get(key)
        if old is not None and _qualified(old.fn) != _qualified(fn):
            raise ValueError(f"register_loss: the name {key!r} is taken by {_qualified(old.fn)}; "
                             f"unregister_loss({key!r}) first or pass another name=")
        LOSSES[key] = LossSpec(key, fn, label, task, short or label, input_kind, dict(options or {}),
                               tuple(float(k) for k in kinks))
        return fn

    return register


def _qualified(fn: Callable[..., Any]) -> str:
    return f"{getattr(fn, '__module__', '?')}.{getattr(fn, '__qualname__', repr(fn))}"


def unregister_loss(name: str) -> LossSpec:
    """Remove the loss registered as ``name`` from :data:`LOSSES`; returns its entry."""
    if name not in LOSSES:
        raise ValueError(f"no loss is registered as {name!r}; registered: {sorted(LOSSES)}")
    return LOSSES.pop(name)


def loss_names(task: Task | None = None) -> tuple[str, ...]:
    """The registered losses' names, in registration order; only those of ``task`` when given
    (``loss_names("regression")`` is what a linear model trains on)."""
    return tuple(name for name, spec in LOSSES.items() if task is None or spec.task == task)


# --------------------------------------------------------------------------- helpers
def _check_reduction(reduction: Any, name: str) -> None:
    if not isinstance(reduction, str) or reduction not in _REDUCTIONS:
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")


def _reduce(loss: Tensor, reduction: str) -> Tensor:
    if reduction == "mean":
        return loss.mean()
    if reduction == "sum":
        return loss.sum()
    return loss


def _as_input(x: Any, name: str, what: str) -> Tensor:
    """The differentiated argument as a Tensor (arrays and lists are wrapped, not copied)."""
    if isinstance(x, GraphTensor):
        return x  # type: ignore[return-value]
    try:
        return Tensor(x)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: the {what} must be a Tensor, a numpy array or a list of numbers ({e})") from None


def _shape_hint(pred_shape: tuple[int, ...], target_shape: tuple[int, ...]) -> str:
    if int(np.prod(pred_shape)) == int(np.prod(target_shape)):
        return (
            f"Reshape one to match the other, e.g. target.reshape{pred_shape} "
            f"or prediction.reshape{target_shape}."
        )
    return "Pass a target with exactly one value per prediction (the same shape)."


def _as_target(target: Any, pred: Tensor, name: str, what: str = "prediction") -> Any:
    """A Tensor target stays a Tensor (it may require grad); anything else becomes a numpy
    constant in the prediction's dtype. Shapes must match exactly: losses never broadcast."""
    value: Any
    if isinstance(target, GraphTensor):
        value = target
        if not target.requires_grad and target.data.dtype != pred.data.dtype:
            value = target.data.astype(pred.data.dtype)
    else:
        try:
            value = Tensor(target).data
        except (TypeError, ValueError) as e:
            raise TypeError(f"{name}: the target must be a Tensor, a numpy array or a list of numbers ({e})") from None
        if value.dtype != pred.data.dtype:
            value = value.astype(pred.data.dtype)
    target_shape, pred_shape = tuple(np.shape(value.data if isinstance(value, GraphTensor) else value)), pred.shape
    if target_shape != pred_shape:
        raise ValueError(
            f"{name}: the {what} has shape {pred_shape} but the target has shape {target_shape}. "
            f"Losses never broadcast one against the other: a (n, 1) {what} against a (n,) target "
            f"would silently compare every value with every other, an (n, n) matrix. "
            f"{_shape_hint(pred_shape, target_shape)}"
        )
    return value


def _regression_pair(pred: Any, target: Any, reduction: Any, name: str) -> tuple[Any, Any]:
    if (
        isinstance(pred, GraphTensor)
        and isinstance(target, GraphTensor)
        and reduction in _REDUCTIONS
        and pred.data.shape == target.data.shape
        and pred.data.dtype == target.data.dtype
    ):
        return pred, target  # the common case, already valid: skip the conversions
    _check_reduction(reduction, name)
    p = _as_input(pred, name, "prediction")
    return p, _as_target(target, p, name)


# --------------------------------------------------------------------------- regression
def _squared_error(p: Tensor, t: Any, reduction: str, factor: float) -> Tensor:
    """factor · (p - t)² reduced; "mean" and "sum" square and sum the residual in one op."""
    residual = p - t
    if reduction == "none":
        return residual * residual * factor if factor != 1.0 else residual * residual
    count = p.size if reduction == "mean" else 1
    # One scale applied once to the sum keeps mse and half_mse exactly a factor 2 apart.
    return _ops.SumSquares.apply(residual, scale=factor / count if count else float("nan"))


@register_loss(label="mean squared error", task="regression", short="MSE")
def mse(pred: TensorLike, target: TensorLike, reduction: Reduction = "mean") -> Tensor:
    """Mean squared error: mean((pred - target)²), the J = 1/N Σ (y - ŷ)² of the step-by-step tutorial and the beginner's article.

    Its gradient carries a factor 2: dJ/dŷ = 2/N (ŷ - y). ``reduction="sum"`` gives
    Σ (pred - target)², ``"none"`` the squared residuals.
    """
    p, t = _regression_pair(pred, target, reduction, "mse")
    return _squared_error(p, t, reduction, 1.0)


@register_loss(label="half the mean squared error", task="regression", short="half-MSE")
def half_mse(pred: TensorLike, target: TensorLike, reduction: Reduction = "mean") -> Tensor:
    """Half the mean squared error: 1/(2m) Σ (pred - target)², the convention of the update-rule tutorial.

    The 1/2 cancels the 2 of the derivative: dJ/dŷ = 1/m (ŷ - y). Exactly ``mse / 2`` for
    every reduction.
    """
    p, t = _regression_pair(pred, target, reduction, "half_mse")
    return _squared_error(p, t, reduction, 0.5)


@register_loss(label="mean absolute error", task="regression", short="MAE")
def mae(pred: TensorLike, target: TensorLike, reduction: Reduction = "mean") -> Tensor:
    """Mean absolute error: mean(|pred - target|) (PyTorch's ``l1_loss``; gradient 0 where equal)."""
    p, t = _regression_pair(pred, target, reduction, "mae")
    return _reduce((p - t).abs(), reduction)


@register_loss(label="Huber loss", task="regression", options={"delta": 1.0}, kinks=(1.0,))
def huber(pred: TensorLike, target: TensorLike, delta: float = 1.0, reduction: Reduction = "mean") -> Tensor:
    """Huber loss (PyTorch's ``HuberLoss``): with d = pred - target, each term is
    ½d² where |d| < delta and delta·(|d| - ½delta) elsewhere.

    Quadratic near 0 and linear in the tails, so outliers pull with a bounded force delta.
    """
    p, t = _regression_pair(pred, target, reduction, "huber")
    if isinstance(delta, bool) or not isinstance(delta, (int, float, np.integer, np.floating)):
        raise TypeError(f"huber: delta must be a positive number, got {type(delta).__name__}")
    if not (np.isfinite(delta) and delta > 0):
        raise ValueError(f"huber: delta must be positive and finite, got {delta}")
    delta = float(delta)
    residual = p - t
    size = residual.abs()
    quadratic = residual * residual * 0.5
    linear = (size - 0.5 * delta) * delta
    return _reduce(where(size < delta, quadratic, linear), reduction)


def _outside_unit_interval(values: np.ndarray) -> np.ndarray:
    """The values that are not in [0, 1] (NaN included), as a flat array."""
    return values[~((values >= 0) & (values <= 1))]


# --------------------------------------------------------------------------- classification
@register_loss(label="binary cross-entropy on probabilities", task="classification",
               short="binary cross-entropy", input_kind="probability")
def binary_cross_entropy(prob: TensorLike, target: TensorLike, reduction: Reduction = "mean") -> Tensor:
    """Binary cross-entropy on probabilities: -(t·log p + (1-t)·log(1-p)).

    ``prob`` must lie in [0, 1] (a ``ValueError`` otherwise: pass logits to
    :func:`binary_cross_entropy_with_logits` instead), and so must ``target``. As PyTorch,
    each log is clamped at -100, so p = 0 or 1 gives a large but finite loss, and the gradient
    (p - t) / (p(1-p)) has its denominator floored at 1e-12. The gradient in the target,
    log(1-p) - log p, uses the same clamped logs (finite at p = 0 or 1, where PyTorch's is ±inf).
    """
    name = "binary_cross_entropy"
    _check_reduction(reduction, name)
    p = _as_input(prob, name, "probability")
    t = _check_binary_targets(_as_target(target, p, name, "probability"), name)
    head = f"{name}: every probability must lie in [0, 1], but the input holds"
    tail = (". Apply .sigmoid() to the model output first, or pass the raw outputs to "
            "binary_cross_entropy_with_logits (more stable).")
    if _deferred_checks.is_dask(p):
        p = _deferred_checks.deferred(p, _deferred_checks.unit_interval_block, head=head, tail=tail)
    else:
        bad = _outside_unit_interval(p.data)
        if bad.size:
            raise ValueError(f"{head} {bad.size} value(s) outside it (e.g. {bad.flat[0]!r}){tail}")
    return _reduce(_ops.BinaryCrossEntropy.apply(p, t), reduction)


@register_loss(label="binary cross-entropy on logits", task="classification",
               short="binary cross-entropy", input_kind="logit")
def binary_cross_entropy_with_logits(logits: TensorLike, target: TensorLike, reduction: Reduction = "mean") -> Tensor:
    """Binary cross-entropy on logits x (probability sigmoid(x)): softplus(x) - t·x.

    A fused op, computed as max(x, 0) - t·x + log(1 + exp(-|x|)), with gradient
    sigmoid(x) - t: loss and gradient stay finite and accurate for any |x| (1e3 included),
    where ``binary_cross_entropy(x.sigmoid(), t)`` saturates. ``target`` must lie in [0, 1].
    """
    name = "binary_cross_entropy_with_logits"
    _check_reduction(reduction, name)
    x = _as_input(logits, name, "logits")
    t = _check_binary_targets(_as_target(target, x, name, "logits"), name)
    return _reduce(_ops.BinaryCrossEntropyWithLogits.apply(x, t), reduction)


def _check_binary_targets(target: Any, name: str) -> Any:
    """Binary targets are 0/1 labels or probabilities: anything outside [0, 1] (the ±1 labels
    of other conventions, class ids, NaN) would give a loss that is silently meaningless.
    Returns the target to use: itself, or on Dask itself checked block by block when computed."""
    head = f"{name}: every target must lie in [0, 1] (a 0/1 label or a probability), but the target holds"
    tail = ". For -1/+1 labels pass (y + 1) / 2; for class ids use cross_entropy."
    if _deferred_checks.is_dask(target):
        return _deferred_checks.deferred(target, _deferred_checks.unit_interval_block, head=head, tail=tail)
    values = target.data if isinstance(target, GraphTensor) else target
    if _backend.is_foreign(values):
        # checked in its backend (a device array cannot be read by numpy): only the verdict
        # leaves it, and the values themselves only on the error path, to name one
        outside = ~((values >= 0) & (values <= 1))
        if not _ops.may_be_any(outside):
            return target
        values = _backend.to_numpy(values)  # (the error path only: explicit, to name an offending value)
    bad = _outside_unit_interval(np.asarray(values))
    if bad.size:
        raise ValueError(f"{head} {bad.size} value(s) outside it (e.g. {bad.flat[0]!r}){tail}")
    return target


def _first(arr: np.ndarray, mask: np.ndarray) -> tuple[Any, str]:
    """The first value where ``mask`` holds, and where it is, for error messages."""
    index = tuple(int(i) for i in np.argwhere(mask)[0])
    position = f"index {index[0]}" if len(index) == 1 else "the only position" if not index else f"index {index}"
    return arr[index].item(), position


def _class_labels(labels: Any, n: int, classes: int, shape: tuple[int, ...], name: str,
                  ignore_index: int | None = None) -> np.ndarray:
    """Validate integer class ids: integral values, one per row of logits, each in [0, C) or
    equal to ``ignore_index`` (a row left out of the loss, as PyTorch)."""
    raw = labels.data if isinstance(labels, GraphTensor) else labels
    lazy = _deferred_checks.is_dask(raw)
    try:
        arr = raw if lazy else np.asarray(raw)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{name}: labels must be integer class ids ({e})") from None
    if _ops.kind_of(arr) not in "iuf":
        raise TypeError(
            f"{name}: labels must be integer class ids (an int numpy array or an integral-valued "
            f"Tensor), got dtype {arr.dtype}"
        )
    expected = (n,) if len(shape) == 2 else ()
    if tuple(arr.shape) != expected:
        hint = ""
        if arr.shape == shape:
            hint = " For one-hot or probability targets pass the class ids, labels.argmax(axis=1)."
        elif arr.size == n and expected:
            hint = " Flatten them with labels.reshape(-1)."
        raise ValueError(
            f"{name}: logits of shape {shape} need labels of shape {expected} (one class id per "
            f"row), got labels of shape {arr.shape}.{hint}"
        )
    if lazy:  # checked block by block when computed (whole numbers in [0, C), no ignore_index rows)
        if ignore_index is not None and 0 <= ignore_index < classes:
            raise ValueError(f"{name}: ignore_index={ignore_index} is a class id (0..{classes - 1}); on Dask labels rows cannot be left out: drop them first")
        checked = _deferred_checks.deferred(arr, _deferred_checks.class_id_block, name=name, classes=classes, shape=shape)
        return checked.astype(np.intp)
    if arr.dtype.kind == "f":
        integral = np.isfinite(arr) & (arr == np.round(arr))
        if not bool(np.all(integral)):
            value, position = _first(arr, ~integral)
            raise ValueError(
                f"{name}: labels must be whole numbers (class ids), but label {value} at "
                f"{position} is not. Pass integer class ids, not probabilities or one-hot rows."
            )
    out_of_range = ((arr < 0) | (arr >= classes)) & (arr != ignore_index)
    if bool(np.any(out_of_range)):
        value, position = _first(arr, out_of_range)
        raise ValueError(
            f"{name}: label {value} at {position} is out of range: with {classes} classes "
            f"(logits shape {shape}) labels must lie in [0, {classes - 1}]."
        )
    return arr.astype(np.intp)


@register_loss(label="cross-entropy of class labels", task="classification", short="cross-entropy",
               input_kind="class")
def cross_entropy(logits: TensorLike, labels: TensorLike, reduction: Reduction = "mean", *,
                  weight: TensorLike | None = None, ignore_index: int = -100, label_smoothing: float = 0.0) -> Tensor:
    """Cross-entropy of integer class labels under softmax(logits): -log softmax(logits)[i, labels[i]].

    ``logits`` has shape (n, C) (or (C,) with a single label); ``labels`` are class ids in
    [0, C) as an int numpy array, a list, or an integral-valued Tensor. Computed through the
    shifted ``log_softmax``, so logits of any size (1e3 included) give finite values and the
    gradient softmax(logits) - onehot(labels).

    As PyTorch's ``F.cross_entropy``: ``weight`` (C,) scales each sample's term by the weight of
    its class, and "mean" divides by the sum of those weights; rows whose label is
    ``ignore_index`` count for nothing (neither term nor weight); ``label_smoothing`` ε in
    [0, 1] mixes the target with the uniform distribution: (1 − ε)·nll + ε/C·Σ_c −w_c·log p_c.
    """
    name = "cross_entropy"
    _check_reduction(reduction, name)
    x = _as_input(logits, name, "logits")
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(
            f"{name}: logits must have shape (n, C) with C ≥ 1 classes (or (C,) for one sample), "
            f"got shape {x.shape}"
        )
    n = x.shape[0] if x.ndim == 2 else 1
    ids = _class_labels(labels, n, x.shape[-1], x.shape, name, ignore_index)
    if weight is not None or label_smoothing != 0.0 or not _deferred_checks.is_dask(ids) and bool(np.any(ids == ignore_index)):
        return _weighted_cross_entropy(x, ids, reduction, weight, ignore_index, label_smoothing)
    if x.ndim == 1:
        return _reduce(-x.log_softmax(axis=0)[ids], reduction)
    return _reduce(_ops.SoftmaxCrossEntropy.apply(x, labels=ids), reduction)


# More losses, in their own module: they register themselves in LOSSES (imported last: they use
# the helpers above) and are re-exported here.
from ._class_losses import _weighted_cross_entropy, kl_div, nll_loss  # noqa: E402
