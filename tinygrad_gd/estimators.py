"""``LinearRegression`` and ``LogisticRegression`` trained by gradient descent with ``fit``.

scikit-learn's vocabulary (``fit``/``predict``/``score``, ``coef_``, ``intercept_``) on top of
this package's losses, optimizers and training loop, so the tutorials' models can be trained in
one line and compared with the closed-form answer::

    model = LinearRegression(lr=0.1).fit(X, y)
    model.coef_, model.intercept_, model.closed_form_gap_

With ``standardize=True`` (the default) the features are standardised before training, so
one learning rate suits every feature, and ``coef_``/``intercept_`` are converted back to the
original units.

This module is the one place for what every linear model trained here needs: standardising
the features and converting the weights back to the original units (:func:`_unscale`), the
closed-form least-squares answer (:func:`_least_squares`), R² (:func:`_r2`), class labels
turned into the targets a loss takes (:func:`_class_targets`), and the gradient-descent run
itself (:func:`_descend`). The estimators, the learning-rate sweep (``sweep.py``) and the
command line (``cli.py``, through :func:`_prepare`) all train through these.

The estimator classes live in ``_estimator_models`` (their scikit-learn base classes and input
checks in ``_estimator_base``) and are loaded on first access (``estimators.LinearRegression``,
``tg.LinearRegression``): with scikit-learn installed they are real scikit-learn estimators,
and importing scikit-learn takes about a second that ``import tinygrad_gd`` should not pay.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from . import _backend, _lazy_data
from ._typing import ArrayLike
from .autograd import TracingError
from .data import DataError, Standardizer
from .losses import loss_names
from .tensor import Tensor, zeros
from .train import DivergenceError, History, StepInfo, fit, resolve_loss

__all__ = ["LinearRegression", "LogisticRegression", "NotFittedError"]

_MODELS = frozenset(__all__)
"""Loaded on first use from ``_estimator_models`` (which imports scikit-learn when present:
about a second, too long for ``import tinygrad_gd``)."""

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from ._estimator_models import LinearRegression, LogisticRegression, NotFittedError


def __getattr__(name: str) -> Any:
    if name in _MODELS:
        from . import _estimator_models

        return getattr(_estimator_models, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | _MODELS)


# --------------------------------------------------------------------------- class labels
@dataclass
class _ClassTargets:
    """Class labels as a loss takes them: two classes train binary cross-entropy on logits
    against ids 0/1 as an (n, 1) float column; more train ``cross_entropy`` on (n,) int ids."""

    classes: np.ndarray  # the distinct labels, sorted
    loss_name: str
    target: np.ndarray

    @property
    def outputs(self) -> int:
        return 1 if self.classes.size <= 2 else int(self.classes.size)


def _class_targets(y: np.ndarray, classes: np.ndarray | None = None) -> _ClassTargets:
    """The targets of the labels ``y``; a Dask ``y`` (whose sorted distinct values ``classes``
    were computed already) gets lazy targets, the class ids by a ``searchsorted`` on each block
    (``cross_entropy`` compares them with the class range: a one-hot form, lazy too)."""
    if _lazy_data.is_lazy(y):
        classes = _lazy_data.unique_labels(y) if classes is None else classes
        if classes.size > 2:
            lazy: Any = y  # (a Dask array)
            ids = lazy.map_blocks(functools.partial(np.searchsorted, classes), dtype=np.intp)
            return _ClassTargets(classes, "cross_entropy", ids.reshape(-1))
        ids = y == classes[-1]
        return _ClassTargets(classes, "binary_cross_entropy_with_logits", ids.astype(np.float64).reshape(-1, 1))
    classes, ids = np.unique(y, return_inverse=True)
    ids = ids.reshape(-1)
    if classes.size <= 2:
        return _ClassTargets(classes, "binary_cross_entropy_with_logits", ids.astype(np.float64).reshape(-1, 1))
    return _ClassTargets(classes, "cross_entropy", ids.astype(np.int64))


# --------------------------------------------------------------------------- closed forms
def _unscale(weight: ArrayLike, bias: ArrayLike, scaler: Standardizer | None) -> tuple[np.ndarray, np.ndarray]:
    """(weight (outputs, k), bias (outputs,)) of a model trained on standardised features,
    for the raw ones: w·(x − m)/s + b = (w/s)·x + (b − Σ w·m/s)."""
    weight = np.asarray(weight, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    if scaler is None:
        return weight.copy(), bias.copy()
    assert scaler.scale_ is not None and scaler.mean_ is not None, "the Standardizer is fitted"
    w = weight / scaler.scale_[None, :]
    return w, bias - w @ scaler.mean_


def _least_squares(X: np.ndarray, y: np.ndarray, fit_intercept: bool = True) -> tuple[np.ndarray, float]:
    """(coef (k,), intercept) minimising Σ (y − X·coef − intercept)², by ``np.linalg.lstsq``
    (on Dask data: of the normal equations, :func:`_lazy_least_squares`)."""
    if _lazy_data.is_lazy(X):
        coef, intercept = _lazy_least_squares(X, y.reshape(-1, 1), None, fit_intercept)
        return coef[0], float(intercept[0])
    design = np.c_[X, np.ones(len(X))] if fit_intercept else X
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    return solution[: X.shape[1]], float(solution[-1]) if fit_intercept else 0.0


def _lazy_least_squares(
    train_X: Any, targets: Any, scaler: Standardizer | None, fit_intercept: bool = True
) -> tuple[np.ndarray, np.ndarray]:
    """(coef (t, k), intercept (t,)) of least squares on the Dask ``train_X`` (standardised by
    ``scaler`` when given, which keeps the normal equations well conditioned) and ``targets``
    (n, t), in the original units: Dᵀ D and Dᵀ Y in one pass, then ``np.linalg.lstsq``."""
    gram, cross = _lazy_data.normal_equations(train_X, targets, fit_intercept)
    solution = np.linalg.lstsq(gram, cross, rcond=None)[0]  # (k [+1], t)
    k = train_X.shape[1]
    bias = solution[k] if fit_intercept else np.zeros(solution.shape[1])
    return _unscale(solution[:k].T, bias, scaler)


def _r2(y: np.ndarray, pred: np.ndarray) -> float | None:
    """R² = 1 − Σ(y − ŷ)² / Σ(y − ȳ)²; None for a constant y (the ratio is undefined)."""
    total = float(np.sum((y - y.mean()) ** 2))
    if total <= 0:
        return None
    return 1.0 - float(np.sum((y - pred) ** 2)) / total


# --------------------------------------------------------------------------- gradient descent
@dataclass(frozen=True)
class _Settings:
    """How to run gradient descent: the arguments of ``fit`` every caller here chooses."""

    optimizer: str = "sgd"
    lr: float = 0.1
    max_steps: int | None = None
    epochs: int | None = None
    batch_size: int | None = None
    tol: float | None = None
    seed: int | None = 0
    progress: bool | None = True


@dataclass
class _Descent:
    """One gradient-descent run of a linear model from w = b = 0, in the original units.

    ``losses`` is the loss per step; a run that diverged ends in the loss that stopped it and
    has ``diverged`` set (then ``history`` is None)."""

    weight: np.ndarray  # (outputs, k)
    bias: np.ndarray  # (outputs,)
    losses: list[float]
    scaler: Standardizer | None
    history: History | None = None
    diverged: DivergenceError | None = None

    def path(self) -> list[tuple[float, float]] | None:
        """The (w, b) of a one-feature model at each recorded step, in the original units."""
        if self.history is None or not self.history.params:
            return None
        pairs = [_unscale(w, b, self.scaler) for w, b in self.history.params]
        return [(float(w[0][0]), float(b[0])) for w, b in pairs]


def _descend(
    train_X: np.ndarray,
    target: np.ndarray,
    outputs: int,
    loss: Callable[..., Any],
    settings: _Settings,
    *,
    scaler: Standardizer | None = None,
    fit_intercept: bool = True,
    l2: float = 0.0,
) -> _Descent:
    """Train ŷ = X·weightᵀ + bias on ``train_X`` (features already standardised by ``scaler``
    when given) with ``loss(ŷ, target)`` (+ l2·‖weight‖²); a divergence is returned, not raised."""
    # Start at zero, as the tutorials do: runs are reproducible and comparable across learning rates.
    weight = zeros(outputs, train_X.shape[1], requires_grad=True)
    bias = zeros(outputs, requires_grad=True) if fit_intercept else None
    params = {"weight": weight} if bias is None else {"weight": weight, "bias": bias}

    def batch_loss(Xb: Tensor, tb: Any) -> Tensor:
        out = Xb @ weight.T if bias is None else Xb @ weight.T + bias
        value = loss(out, tb)
        return value + l2 * (weight * weight).sum() if l2 else value

    seen: list[float] = []

    def record(info: StepInfo) -> None:
        seen.append(info.loss)

    def result(**outcome: Any) -> _Descent:
        bias_data = bias.data if bias is not None else np.zeros(outputs)
        return _Descent(*_unscale(weight.data, bias_data, scaler), scaler=scaler, **outcome)

    def run(compiled: bool) -> History:
        return fit(
            params, batch_loss, (train_X, target), optimizer=settings.optimizer, lr=settings.lr,
            max_steps=settings.max_steps, epochs=settings.epochs, batch_size=settings.batch_size,
            tol=settings.tol, seed=settings.seed, progress=settings.progress, callbacks=[record],
            compile=compiled,
        )

    try:
        # The graph of a linear model is the same at every step: compile it (tg.compile). A
        # loss the trace cannot follow (one that reads .data) is refused on the first step,
        # before any update, and then trains eagerly.
        try:
            history = run(type(train_X) is np.ndarray)
        except TracingError as e:
            warnings.warn(f"the loss could not be compiled, training without tg.compile: {e}", UserWarning, stacklevel=3)
            history = run(False)
    except DivergenceError as e:
        return result(losses=seen + [e.loss], diverged=e)
    return result(losses=list(history.loss), history=history)


# --------------------------------------------------------------------------- prepared problems
def _regression_losses() -> tuple[str, ...]:
    """The registered losses a linear regression trains on (their registration says so)."""
    return loss_names("regression")


@dataclass
class _ClosedForm:
    """The least-squares solution and the training loss there."""

    coef: np.ndarray  # (k,)
    intercept: float
    loss: float


@dataclass
class _Evaluation:
    """How a trained model does on its training data (original units)."""

    final_loss: float
    closed_form: _ClosedForm | None = None  # linear models
    closed_form_gap: float | None = None
    r2: float | None = None
    accuracy: float | None = None  # logistic models
    closed_form_r2: float | None = None  # linear models: the R² of the least-squares solution


@dataclass
class _Problem:
    """A dataset prepared for a linear (regression) or logistic (classification) model, by a
    loss from ``losses.LOSSES``: what training and its report need (see :func:`_prepare`)."""

    kind: str  # "linear" or "logistic"
    X: np.ndarray  # (n, k), original units
    y: np.ndarray  # (n,), original values
    loss_name: str
    train_X: np.ndarray  # X, standardised when ``scaler`` is set
    target: np.ndarray  # (n, 1) floats, or (n,) class ids for cross_entropy
    scaler: Standardizer | None
    outputs: int = 1  # columns of ŷ: 1, or one per class beyond two
    classes: np.ndarray | None = None  # logistic models: the labels, sorted
    cached_closed_form: _ClosedForm | None = None  # computed once (on Dask data each costs passes)
    cached_target_scale: Any = None  # _fitting.TargetScale.of's answer, once (a pass on Dask data)

    @property
    def loss_fn(self) -> Callable[..., Any]:
        return resolve_loss(self.loss_name)

    def descend(self, settings: _Settings) -> _Descent:
        return _descend(self.train_X, self.target, self.outputs, self.loss_fn, settings, scaler=self.scaler)

    def loss_at(self, weight: np.ndarray, bias: np.ndarray) -> float:
        """The training loss of the original-units model ``X @ weight.T + bias``."""
        return float(self.loss_fn(Tensor(self.X @ weight.T + bias), self.target).data)

    def closed_form(self) -> _ClosedForm:
        if self.cached_closed_form is None:
            coef, intercept = self._closed_form_coefficients()
            loss = self.loss_at(coef.reshape(1, -1), np.array([intercept]))
            self.cached_closed_form = _ClosedForm(coef, intercept, loss)
        return self.cached_closed_form

    def _closed_form_coefficients(self) -> tuple[np.ndarray, float]:
        if self.cached_closed_form is not None:
            return self.cached_closed_form.coef, self.cached_closed_form.intercept
        if _lazy_data.is_lazy(self.X):  # the normal equations of the standardised design: one pass
            weight, bias = _lazy_least_squares(self.train_X, self.y.reshape(-1, 1), self.scaler)
            return weight[0], float(bias[0])
        return _least_squares(self.X, self.y)

    def _evaluate_lazy(self, weight: np.ndarray, bias: np.ndarray) -> _Evaluation:
        """:meth:`evaluate` of a linear model on Dask data: after the normal equations' pass
        (once), the trained model's loss and R² and the closed form's, in one more pass (one
        ``dask.compute`` of all five sums, where each alone would read the data again)."""
        coef, intercept = self._closed_form_coefficients()
        y = self.y.astype(np.float64)
        pred, cf_pred = self.X @ weight[0] + bias[0], self.X @ coef + intercept
        models = ((weight, bias), (coef.reshape(1, -1), np.array([intercept])))
        losses = [self.loss_fn(Tensor(self.X @ w.T + b), self.target).data for w, b in models]  # as loss_at
        final, cf_loss, residual, cf_residual, total = (float(v) for v in _backend.compute(
            *losses, ((y - pred) ** 2).sum(), ((y - cf_pred) ** 2).sum(), ((y - y.mean()) ** 2).sum()))
        cf = self.cached_closed_form = _ClosedForm(coef, intercept, cf_loss)
        gap = float(max(np.max(np.abs(weight[0] - coef)), abs(bias[0] - intercept)))
        r2, cf_r2 = (None, None) if total <= 0 else (1.0 - residual / total, 1.0 - cf_residual / total)
        return _Evaluation(final, cf, gap, r2, closed_form_r2=cf_r2)

    def best_possible_loss(self) -> float | None:
        """J* where it is known exactly: a linear model's mse/half_mse at the least-squares solution."""
        if self.kind != "linear" or self.loss_name not in ("mse", "half_mse"):
            return None
        return self.closed_form().loss

    def evaluate(self, weight: np.ndarray, bias: np.ndarray) -> _Evaluation:
        if self.classes is None and _lazy_data.is_lazy(self.X):
            return self._evaluate_lazy(weight, bias)
        final = self.loss_at(weight, bias)
        if self.classes is None:
            cf = self.closed_form()
            gap = float(max(np.max(np.abs(weight[0] - cf.coef)), abs(bias[0] - cf.intercept)))
            cf_r2 = _r2(self.y, self.X @ cf.coef + cf.intercept)
            return _Evaluation(final, cf, gap, _r2(self.y, self.X @ weight[0] + bias[0]), closed_form_r2=cf_r2)
        logits = self.X @ weight.T + bias
        if _lazy_data.is_lazy(logits):  # two classes (as on Dask): right where the sign says the class
            accuracy = ((logits[:, 0] > 0) == (self.y == self.classes[-1])).mean()
            return _Evaluation(final, accuracy=float(accuracy))
        predicted = (logits[:, 0] > 0).astype(int) if self.outputs == 1 else np.argmax(logits, axis=1)
        return _Evaluation(final, accuracy=float(np.mean(self.classes[predicted] == self.y)))


def _prepare(
    X: np.ndarray, y: np.ndarray, kind: str, loss: str | None, standardize: bool, target: str = "y"
) -> _Problem:
    """Check that the target and ``loss`` (None: the model's default) suit ``kind`` ("linear"
    or "logistic", whose labels must be whole numbers), and standardise X if asked. ``target``
    names the target column in the messages. Dask ``X`` and ``y`` stay lazy: one pass checks
    them and computes the standardisation statistics (two for logistic: the labels first)."""
    lazy = _lazy_data.is_lazy(X)
    y = y.reshape(-1) if lazy else np.asarray(y).reshape(-1)
    classes, outputs = None, 1
    if kind == "linear":
        loss_name = loss or "mse"
        if loss_name not in _regression_losses():
            raise DataError(
                f"--loss {loss_name} does not fit a linear regression; choose one of "
                f"{', '.join(_regression_losses())} (or use --model logistic for class labels)"
            )
        train_y = y.astype(np.float64).reshape(-1, 1)
    else:
        labels = _class_targets(y)
        classes, loss_name, train_y, outputs = labels.classes, labels.loss_name, labels.target, labels.outputs
        if classes.size < 2:
            raise DataError(
                f"target column {target!r} has the single value {classes[0]:g}; logistic regression "
                f"needs at least two classes"
            )
        if not np.all(classes == np.round(classes)):
            odd = classes[classes != np.round(classes)][0]
            raise DataError(
                f"target column {target!r} holds {odd:g}, not a class label; --model logistic needs "
                f"whole-number labels (use --model linear for a continuous target)"
            )
        if loss is not None and loss != loss_name:
            raise DataError(
                f"--loss {loss} does not fit this logistic model; with {classes.size} classes it "
                f"trains on {loss_name} (leave --loss out)"
            )
    if lazy:
        scaler = _lazy_data.summarize(X, y, f"the data (target {target!r}; --drop-missing skips rows with missing cells)",
                                      standardize)
    else:
        with np.errstate(over="ignore", invalid="ignore"):  # huge values: reported once training starts
            scaler = Standardizer().fit(X) if standardize else None
    train_X = scaler.transform(X) if scaler is not None else X
    return _Problem(kind, X, y, loss_name, train_X, train_y, scaler, outputs, classes)
