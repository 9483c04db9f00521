"""``LinearRegression`` and ``LogisticRegression`` trained by gradient descent with ``fit``.

scikit-learn's vocabulary (``fit``/``predict``/``score``, ``coef_``, ``intercept_``) on top of
this package's losses, optimizers and training loop, so the seeds' models can be trained in
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
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._typing import ArrayLike, TensorLike
from .data import DataError, Standardizer
from .losses import loss_names
from .tensor import Tensor, zeros
from .train import DivergenceError, History, StepInfo, fit, resolve_loss

__all__ = ["LinearRegression", "LogisticRegression", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """``predict``/``score`` called before ``fit`` (a ValueError and an AttributeError, as
    scikit-learn's)."""


# --------------------------------------------------------------------------- inputs
def _features(X: TensorLike, what: str) -> np.ndarray:
    arr = np.asarray(X.data if isinstance(X, Tensor) else X)
    if arr.dtype.kind not in "biuf":
        raise DataError(f"{what}: X must be numeric, got dtype {arr.dtype}")
    arr = arr.astype(np.float64)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)  # one feature, as the seeds' x
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise DataError(f"{what}: X must be (n_samples, n_features) with n >= 1, got shape {np.shape(X)}")
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what}: X contains NaN or infinite values")
    return arr


def _targets(y: TensorLike, n: int, what: str) -> np.ndarray:
    arr = np.asarray(y.data if isinstance(y, Tensor) else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"{what}: y must be (n,) or (n, 1) (one target), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise DataError(f"{what}: X has {n} rows but y has {arr.shape[0]}")
    return arr


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


def _class_targets(y: np.ndarray) -> _ClassTargets:
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
    w = weight / scaler.scale_[None, :]
    return w, bias - w @ scaler.mean_


def _least_squares(X: np.ndarray, y: np.ndarray, fit_intercept: bool = True) -> tuple[np.ndarray, float]:
    """(coef (k,), intercept) minimising Σ (y − X·coef − intercept)², by ``np.linalg.lstsq``."""
    design = np.c_[X, np.ones(len(X))] if fit_intercept else X
    solution = np.linalg.lstsq(design, y, rcond=None)[0]
    return solution[: X.shape[1]], float(solution[-1]) if fit_intercept else 0.0


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
    # Start at zero, as the seeds do: runs are reproducible and comparable across learning rates.
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

    try:
        history = fit(
            params, batch_loss, (train_X, target), optimizer=settings.optimizer, lr=settings.lr,
            max_steps=settings.max_steps, epochs=settings.epochs, batch_size=settings.batch_size,
            tol=settings.tol, seed=settings.seed, progress=settings.progress, callbacks=[record],
        )
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

    @property
    def loss_fn(self) -> Callable[..., Any]:
        return resolve_loss(self.loss_name)

    def descend(self, settings: _Settings) -> _Descent:
        return _descend(self.train_X, self.target, self.outputs, self.loss_fn, settings, scaler=self.scaler)

    def loss_at(self, weight: np.ndarray, bias: np.ndarray) -> float:
        """The training loss of the original-units model ``X @ weight.T + bias``."""
        return float(self.loss_fn(Tensor(self.X @ weight.T + bias), self.target).data)

    def closed_form(self) -> _ClosedForm:
        coef, intercept = _least_squares(self.X, self.y)
        return _ClosedForm(coef, intercept, self.loss_at(coef.reshape(1, -1), np.array([intercept])))

    def best_possible_loss(self) -> float | None:
        """J* where it is known exactly: a linear model's mse/half_mse at the least-squares solution."""
        if self.kind != "linear" or self.loss_name not in ("mse", "half_mse"):
            return None
        return self.closed_form().loss

    def evaluate(self, weight: np.ndarray, bias: np.ndarray) -> _Evaluation:
        final = self.loss_at(weight, bias)
        if self.classes is None:
            cf = self.closed_form()
            gap = float(max(np.max(np.abs(weight[0] - cf.coef)), abs(bias[0] - cf.intercept)))
            return _Evaluation(final, cf, gap, _r2(self.y, self.X @ weight[0] + bias[0]))
        logits = self.X @ weight.T + bias
        predicted = (logits[:, 0] > 0).astype(int) if self.outputs == 1 else np.argmax(logits, axis=1)
        return _Evaluation(final, accuracy=float(np.mean(self.classes[predicted] == self.y)))


def _prepare(
    X: np.ndarray, y: np.ndarray, kind: str, loss: str | None, standardize: bool, target: str = "y"
) -> _Problem:
    """Check that the target and ``loss`` (None: the model's default) suit ``kind`` ("linear"
    or "logistic", whose labels must be whole numbers), and standardise X if asked. ``target``
    names the target column in the messages."""
    y = np.asarray(y).reshape(-1)
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
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: reported once training starts
        scaler = Standardizer().fit(X) if standardize else None
    train_X = scaler.transform(X) if scaler is not None else X
    return _Problem(kind, X, y, loss_name, train_X, train_y, scaler, outputs, classes)


# --------------------------------------------------------------------------- estimators
@dataclass(eq=False, repr=False, kw_only=True)
class _GradientDescentModel:
    """The settings both estimators take (keyword-only; declared once, here) and the shared
    machinery: standardisation, the gradient-descent run, the checks before predicting."""

    optimizer: str = "sgd"
    lr: float = 0.1
    max_steps: int = 1000
    tol: float | None = 1e-10
    standardize: bool = True
    fit_intercept: bool = True
    batch_size: int | None = None
    seed: int | None = None
    progress: bool | None = None

    def __post_init__(self) -> None:
        self.history_: History | None = None

    def _train(self, X: np.ndarray, target: np.ndarray, outputs: int, loss: Callable[..., Any], l2: float = 0.0) -> _Descent:
        self.n_features_in_ = X.shape[1]
        self.scaler_ = Standardizer().fit(X) if self.standardize else None
        train_X = self.scaler_.transform(X) if self.scaler_ is not None else X
        settings = _Settings(optimizer=self.optimizer, lr=self.lr, max_steps=self.max_steps, batch_size=self.batch_size,
                             tol=self.tol, seed=self.seed, progress=self.progress)
        run = _descend(train_X, target, outputs, loss, settings, scaler=self.scaler_,
                       fit_intercept=self.fit_intercept, l2=l2)
        if run.diverged is not None:
            raise run.diverged
        assert run.history is not None
        self.history_ = run.history
        self.n_iter_ = run.history.steps
        return run

    def _check_fitted(self, X: TensorLike, what: str) -> np.ndarray:
        if self.history_ is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X, y) before {what}")
        arr = _features(X, f"{type(self).__name__}.{what}")
        if arr.shape[1] != self.n_features_in_:
            raise DataError(
                f"{type(self).__name__}.{what}: X has {arr.shape[1]} feature(s) (shape {np.shape(X)}) "
                f"but the model was fitted on {self.n_features_in_}"
            )
        return arr


@dataclass(eq=False, repr=False)
class LinearRegression(_GradientDescentModel):
    """y ≈ X·coef_ + intercept_, fitted by gradient descent on ``loss``.

    loss: "mse" (seeds 000/001), "half_mse" (seed 002), "mae", "huber", or any
        ``loss(pred, target)`` function. optimizer: "sgd", "momentum", "nesterov", "adam",
        "adamw". ``tol`` stops once the loss changes by less than that between steps.

    After ``fit``: ``coef_`` (n_features,), ``intercept_``, ``history_`` (a ``History``),
    ``n_iter_``, and the least-squares answer from ``np.linalg.lstsq`` for comparison:
    ``closed_form_coef_``, ``closed_form_intercept_`` and ``closed_form_gap_`` (the largest
    absolute difference from ``coef_``/``intercept_``; it tends to 0 for "mse"/"half_mse",
    whose minimiser that is, but not for "mae"/"huber", which minimise something else).
    """

    loss: str | Callable[..., Any] = "mse"

    def fit(self, X: TensorLike, y: TensorLike) -> LinearRegression:
        """Train on features ``X`` ((n, k), or (n,) for one feature) and targets ``y``; returns self."""
        Xa = _features(X, "LinearRegression.fit")
        ya = _targets(y, Xa.shape[0], "LinearRegression.fit").astype(np.float64)
        if not np.all(np.isfinite(ya)):
            raise DataError("LinearRegression.fit: y contains NaN or infinite values")
        self._y_ndim = np.ndim(y.data if isinstance(y, Tensor) else y)
        run = self._train(Xa, ya.reshape(-1, 1), 1, resolve_loss(self.loss))
        self.coef_ = run.weight[0]
        self.intercept_ = float(run.bias[0])
        self.closed_form_coef_, self.closed_form_intercept_ = _least_squares(Xa, ya, self.fit_intercept)
        coef_gap = np.max(np.abs(self.coef_ - self.closed_form_coef_))
        self.closed_form_gap_ = float(max(coef_gap, abs(self.intercept_ - self.closed_form_intercept_)))
        return self

    @property
    def closed_form_(self) -> tuple[np.ndarray, float]:
        """``(coef, intercept)`` of the least-squares solution (``np.linalg.lstsq``)."""
        if self.history_ is None:
            raise NotFittedError("LinearRegression is not fitted yet; call fit(X, y) first")
        return self.closed_form_coef_, self.closed_form_intercept_

    def predict(self, X: TensorLike) -> np.ndarray:
        """X·coef_ + intercept_, shaped like the ``y`` given to ``fit`` ((n,) or (n, 1))."""
        Xa = self._check_fitted(X, "predict")
        pred = Xa @ self.coef_ + self.intercept_
        return pred.reshape(-1, 1) if self._y_ndim == 2 else pred

    def score(self, X: TensorLike, y: TensorLike) -> float:
        """R² = 1 - Σ(y - ŷ)² / Σ(y - ȳ)² (1 is a perfect fit)."""
        pred = self.predict(X).ravel()
        ya = _targets(y, len(pred), "LinearRegression.score").astype(np.float64)
        r2 = _r2(ya, pred)
        return r2 if r2 is not None else float(np.all(ya == pred))  # constant y: exact or not

    def __repr__(self) -> str:
        return (
            f"LinearRegression(loss={self.loss!r}, optimizer={self.optimizer!r}, lr={self.lr}, "
            f"max_steps={self.max_steps})"
        )


@dataclass(eq=False, repr=False, kw_only=True)
class LogisticRegression(_GradientDescentModel):
    """Classification by gradient descent on the cross-entropy.

    Two classes: p = σ(X·wᵀ + b) with binary cross-entropy on logits; more classes: softmax
    with ``cross_entropy``. Labels may be any values (``classes_`` holds them, sorted).
    ``l2`` adds l2·‖w‖² to the loss (the weights of separable data otherwise grow forever).

    After ``fit``: ``coef_`` (1, k) for two classes or (n_classes, k), ``intercept_`` (1,) or
    (n_classes,), ``classes_``, ``history_``, ``n_iter_``.
    """

    lr: float = 0.5
    l2: float = 0.0

    def __post_init__(self) -> None:
        super().__post_init__()
        if not self.l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {self.l2}")

    def fit(self, X: TensorLike, y: TensorLike) -> LogisticRegression:
        """Train on features ``X`` and labels ``y`` (at least two distinct values); returns self."""
        Xa = _features(X, "LogisticRegression.fit")
        labels = _class_targets(_targets(y, Xa.shape[0], "LogisticRegression.fit"))
        self.classes_ = labels.classes
        if len(self.classes_) < 2:
            raise DataError(
                f"LogisticRegression.fit needs at least two classes in y, got only {self.classes_.tolist()}"
            )
        run = self._train(Xa, labels.target, labels.outputs, resolve_loss(labels.loss_name), self.l2)
        self.coef_ = run.weight.copy()
        self.intercept_ = run.bias.copy()
        return self

    def decision_function(self, X: TensorLike) -> np.ndarray:
        """Logits: (n,) for two classes (positive means ``classes_[1]``), else (n, n_classes)."""
        Xa = self._check_fitted(X, "decision_function")
        logits = Xa @ self.coef_.T + self.intercept_
        return logits[:, 0] if len(self.classes_) == 2 else logits

    def predict_proba(self, X: TensorLike) -> np.ndarray:
        """Class probabilities (n, n_classes), columns in ``classes_`` order."""
        logits = self.decision_function(X)
        if len(self.classes_) == 2:
            p = 0.5 * (1.0 + np.tanh(0.5 * logits))  # σ(z), overflow-free
            return np.stack([1.0 - p, p], axis=1)
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: TensorLike) -> np.ndarray:
        """The most probable class for each row (values from ``classes_``)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X: TensorLike, y: TensorLike) -> float:
        """Accuracy: the fraction of rows whose predicted class equals ``y``."""
        pred = self.predict(X)
        ya = _targets(y, len(pred), "LogisticRegression.score")
        return float(np.mean(pred == ya))

    def __repr__(self) -> str:
        return (
            f"LogisticRegression(optimizer={self.optimizer!r}, lr={self.lr}, max_steps={self.max_steps}, "
            f"l2={self.l2})"
        )
