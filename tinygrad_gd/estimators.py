"""``LinearRegression`` and ``LogisticRegression`` trained by gradient descent with ``fit``.

scikit-learn's vocabulary (``fit``/``predict``/``score``, ``coef_``, ``intercept_``) on top of
this package's losses, optimizers and training loop, so the seeds' models can be trained in
one line and compared with the closed-form answer::

    model = LinearRegression(lr=0.1).fit(X, y)
    model.coef_, model.intercept_, model.closed_form_gap_

With ``standardize=True`` (the default) the features are standardised before training, so
one learning rate suits every feature, and ``coef_``/``intercept_`` are converted back to the
original units.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from . import losses
from .data import DataError, Standardizer
from .tensor import Tensor, zeros
from .train import History, fit, make_optimizer, resolve_loss

__all__ = ["LinearRegression", "LogisticRegression", "NotFittedError"]


class NotFittedError(ValueError, AttributeError):
    """``predict``/``score`` called before ``fit`` (a ValueError and an AttributeError, as
    scikit-learn's)."""


def _features(X: Any, what: str) -> np.ndarray:
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


def _targets(y: Any, n: int, what: str) -> np.ndarray:
    arr = np.asarray(y.data if isinstance(y, Tensor) else y)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise DataError(f"{what}: y must be (n,) or (n, 1) (one target), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise DataError(f"{what}: X has {n} rows but y has {arr.shape[0]}")
    return arr


class _GradientDescentModel:
    """Shared machinery: standardisation, parameters, the call to ``fit``, unit conversion."""

    def __init__(
        self,
        *,
        optimizer: str = "sgd",
        lr: float = 0.1,
        max_steps: int = 1000,
        tol: float | None = 1e-10,
        standardize: bool = True,
        fit_intercept: bool = True,
        batch_size: int | None = None,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> None:
        self.optimizer = optimizer
        self.lr = lr
        self.max_steps = max_steps
        self.tol = tol
        self.standardize = standardize
        self.fit_intercept = fit_intercept
        self.batch_size = batch_size
        self.seed = seed
        self.progress = progress
        self.history_: History | None = None

    def _train(
        self, X: np.ndarray, target: Any, n_outputs: int, loss: Callable[..., Any], l2: float = 0.0
    ) -> None:
        self.n_features_in_ = X.shape[1]
        self.scaler_ = Standardizer().fit(X) if self.standardize else None
        Z = self.scaler_.transform(X) if self.scaler_ is not None else X
        w = zeros(X.shape[1], n_outputs, requires_grad=True)
        params = {"weight": w}
        b = None
        if self.fit_intercept:
            b = zeros(n_outputs, requires_grad=True)
            params["bias"] = b

        def batch_loss(Xb: Tensor, tb: Any) -> Tensor:
            out = Xb @ w if b is None else Xb @ w + b
            value = loss(out, tb)
            return value + l2 * (w * w).sum() if l2 else value

        optimizer = make_optimizer(self.optimizer, list(params.values()), self.lr)
        self.history_ = fit(
            params,
            batch_loss,
            (Z, target),
            optimizer=optimizer,
            max_steps=self.max_steps,
            batch_size=self.batch_size,
            seed=self.seed,
            tol=self.tol,
            progress=self.progress,
        )
        self.n_iter_ = self.history_.steps
        weight = w.numpy().copy()  # (k, outputs) in standardised units
        bias = b.numpy().copy() if b is not None else np.zeros(n_outputs)
        if self.scaler_ is not None:
            # w·(x - m)/s + b  =  (w/s)·x + (b - Σ w·m/s)
            weight = weight / self.scaler_.scale_[:, None]
            bias = bias - self.scaler_.mean_ @ weight
        self._weight, self._bias = weight, bias

    def _check_fitted(self, X: Any, what: str) -> np.ndarray:
        if self.history_ is None:
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X, y) before {what}")
        arr = _features(X, f"{type(self).__name__}.{what}")
        if arr.shape[1] != self.n_features_in_:
            raise DataError(
                f"{type(self).__name__}.{what}: X has {arr.shape[1]} feature(s) (shape {np.shape(X)}) "
                f"but the model was fitted on {self.n_features_in_}"
            )
        return arr


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

    def __init__(
        self,
        loss: str | Callable[..., Any] = "mse",
        *,
        optimizer: str = "sgd",
        lr: float = 0.1,
        max_steps: int = 1000,
        tol: float | None = 1e-10,
        standardize: bool = True,
        fit_intercept: bool = True,
        batch_size: int | None = None,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> None:
        super().__init__(
            optimizer=optimizer, lr=lr, max_steps=max_steps, tol=tol, standardize=standardize,
            fit_intercept=fit_intercept, batch_size=batch_size, seed=seed, progress=progress,
        )
        self.loss = loss

    def fit(self, X: Any, y: Any) -> LinearRegression:
        """Train on features ``X`` ((n, k), or (n,) for one feature) and targets ``y``; returns self."""
        Xa = _features(X, "LinearRegression.fit")
        ya = _targets(y, Xa.shape[0], "LinearRegression.fit").astype(np.float64)
        if not np.all(np.isfinite(ya)):
            raise DataError("LinearRegression.fit: y contains NaN or infinite values")
        self._y_ndim = np.ndim(y.data if isinstance(y, Tensor) else y)
        self._train(Xa, ya.reshape(-1, 1), 1, resolve_loss(self.loss))
        self.coef_ = self._weight[:, 0]
        self.intercept_ = float(self._bias[0])
        design = np.c_[Xa, np.ones(len(Xa))] if self.fit_intercept else Xa
        solution = np.linalg.lstsq(design, ya, rcond=None)[0]
        self.closed_form_coef_ = solution[: Xa.shape[1]]
        self.closed_form_intercept_ = float(solution[-1]) if self.fit_intercept else 0.0
        coef_gap = np.max(np.abs(self.coef_ - self.closed_form_coef_))
        self.closed_form_gap_ = float(max(coef_gap, abs(self.intercept_ - self.closed_form_intercept_)))
        return self

    @property
    def closed_form_(self) -> tuple[np.ndarray, float]:
        """``(coef, intercept)`` of the least-squares solution (``np.linalg.lstsq``)."""
        if self.history_ is None:
            raise NotFittedError("LinearRegression is not fitted yet; call fit(X, y) first")
        return self.closed_form_coef_, self.closed_form_intercept_

    def predict(self, X: Any) -> np.ndarray:
        """X·coef_ + intercept_, shaped like the ``y`` given to ``fit`` ((n,) or (n, 1))."""
        Xa = self._check_fitted(X, "predict")
        pred = Xa @ self.coef_ + self.intercept_
        return pred.reshape(-1, 1) if self._y_ndim == 2 else pred

    def score(self, X: Any, y: Any) -> float:
        """R² = 1 - Σ(y - ŷ)² / Σ(y - ȳ)² (1 is a perfect fit)."""
        pred = self.predict(X).ravel()
        ya = _targets(y, len(pred), "LinearRegression.score").astype(np.float64)
        total = np.sum((ya - ya.mean()) ** 2)
        residual = np.sum((ya - pred) ** 2)
        return float(1.0 - residual / total) if total > 0 else float(residual == 0)

    def __repr__(self) -> str:
        return (
            f"LinearRegression(loss={self.loss!r}, optimizer={self.optimizer!r}, lr={self.lr}, "
            f"max_steps={self.max_steps})"
        )


class LogisticRegression(_GradientDescentModel):
    """Classification by gradient descent on the cross-entropy.

    Two classes: p = σ(X·wᵀ + b) with binary cross-entropy on logits; more classes: softmax
    with ``cross_entropy``. Labels may be any values (``classes_`` holds them, sorted).
    ``l2`` adds l2·‖w‖² to the loss (the weights of separable data otherwise grow forever).

    After ``fit``: ``coef_`` (1, k) for two classes or (n_classes, k), ``intercept_`` (1,) or
    (n_classes,), ``classes_``, ``history_``, ``n_iter_``.
    """

    def __init__(
        self,
        *,
        optimizer: str = "sgd",
        lr: float = 0.5,
        max_steps: int = 1000,
        tol: float | None = 1e-10,
        l2: float = 0.0,
        standardize: bool = True,
        fit_intercept: bool = True,
        batch_size: int | None = None,
        seed: int | None = None,
        progress: bool | None = None,
    ) -> None:
        super().__init__(
            optimizer=optimizer, lr=lr, max_steps=max_steps, tol=tol, standardize=standardize,
            fit_intercept=fit_intercept, batch_size=batch_size, seed=seed, progress=progress,
        )
        if not l2 >= 0:
            raise ValueError(f"l2 must be >= 0, got {l2}")
        self.l2 = l2

    def fit(self, X: Any, y: Any) -> LogisticRegression:
        """Train on features ``X`` and labels ``y`` (at least two distinct values); returns self."""
        Xa = _features(X, "LogisticRegression.fit")
        ya = _targets(y, Xa.shape[0], "LogisticRegression.fit")
        self.classes_, ids = np.unique(ya, return_inverse=True)
        ids = ids.reshape(-1)
        if len(self.classes_) < 2:
            raise DataError(
                f"LogisticRegression.fit needs at least two classes in y, got only {self.classes_.tolist()}"
            )
        if len(self.classes_) == 2:
            target: Any = ids.astype(np.float64).reshape(-1, 1)
            self._train(Xa, target, 1, losses.binary_cross_entropy_with_logits, self.l2)
        else:
            self._train(Xa, ids.astype(np.int64), len(self.classes_), losses.cross_entropy, self.l2)
        self.coef_ = self._weight.T.copy()
        self.intercept_ = self._bias.copy()
        return self

    def decision_function(self, X: Any) -> np.ndarray:
        """Logits: (n,) for two classes (positive means ``classes_[1]``), else (n, n_classes)."""
        Xa = self._check_fitted(X, "decision_function")
        logits = Xa @ self.coef_.T + self.intercept_
        return logits[:, 0] if len(self.classes_) == 2 else logits

    def predict_proba(self, X: Any) -> np.ndarray:
        """Class probabilities (n, n_classes), columns in ``classes_`` order."""
        logits = self.decision_function(X)
        if len(self.classes_) == 2:
            p = 0.5 * (1.0 + np.tanh(0.5 * logits))  # σ(z), overflow-free
            return np.stack([1.0 - p, p], axis=1)
        shifted = logits - logits.max(axis=1, keepdims=True)
        e = np.exp(shifted)
        return e / e.sum(axis=1, keepdims=True)

    def predict(self, X: Any) -> np.ndarray:
        """The most probable class for each row (values from ``classes_``)."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def score(self, X: Any, y: Any) -> float:
        """Accuracy: the fraction of rows whose predicted class equals ``y``."""
        pred = self.predict(X)
        ya = _targets(y, len(pred), "LogisticRegression.score")
        return float(np.mean(pred == ya))

    def __repr__(self) -> str:
        return (
            f"LogisticRegression(optimizer={self.optimizer!r}, lr={self.lr}, max_steps={self.max_steps}, "
            f"l2={self.l2})"
        )
