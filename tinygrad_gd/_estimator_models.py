"""``LinearRegression`` and ``LogisticRegression``: scikit-learn estimators trained by gradient
descent (public as ``tinygrad_gd.estimators.<name>``; see that module for the shared helpers).

Constructor arguments are only stored (scikit-learn's rule); ``fit`` checks them and the data.
A fit that stops without converging warns with :class:`~tinygrad_gd.ConvergenceWarning`, and a
linear fit whose answer is far from the closed form (nearly collinear features) warns too.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _lazy_data
from ._estimator_base import (
    BaseEstimator,
    ClassifierMixin,
    NotFittedError,
    RegressorMixin,
    check_labels,
    check_X,
    class_labels,
    regression_targets,
)
from ._typing import TensorLike
from ._warnings import ConvergenceWarning
from .data import DataError, Standardizer
from .estimators import (
    _class_targets,
    _descend,
    _Descent,
    _lazy_least_squares,
    _least_squares,
    _r2,
    _Settings,
)
from .train import DivergenceError, History, resolve_loss

__all__ = ["LinearRegression", "LogisticRegression", "NotFittedError", "GAP_RTOL"]

GAP_RTOL = 1e-2
"""``LinearRegression`` warns when ``closed_form_gap_`` exceeds this fraction of the largest
closed-form coefficient or intercept (for the losses whose minimiser that is: mse, half_mse)."""


@dataclass(eq=False, repr=False, kw_only=True)
class _GradientDescentModel(BaseEstimator):
    """The settings both estimators take (keyword-only; declared once, here) and the shared
    machinery: standardisation, the gradient-descent run, its warnings, the checks before
    predicting."""

    optimizer: str = "sgd"
    lr: float = 0.1
    max_steps: int = 1000
    tol: float | None = 1e-10
    standardize: bool = True
    fit_intercept: bool = True
    batch_size: int | None = None
    seed: int | None = None
    progress: bool | None = None

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "history_")

    def _train(self, X: np.ndarray, target: np.ndarray, outputs: int, loss: Callable[..., Any], l2: float = 0.0) -> _Descent:
        if _lazy_data.is_lazy(X):  # one pass: X and y finite, and the statistics to standardise with
            self.scaler_ = _lazy_data.summarize(X, target, f"{type(self).__name__}.fit", self.standardize)
        else:
            self.scaler_ = Standardizer().fit(X) if self.standardize else None
        train_X = self.scaler_.transform(X) if self.scaler_ is not None else X
        settings = _Settings(optimizer=self.optimizer, lr=self.lr, max_steps=self.max_steps, batch_size=self.batch_size,
                             tol=self.tol, seed=self.seed, progress=self.progress)
        run = _descend(train_X, target, outputs, loss, settings, scaler=self.scaler_,
                       fit_intercept=self.fit_intercept, l2=l2)
        if run.diverged is not None:
            raise self._divergence(run.diverged) from None
        assert run.history is not None
        self.history_: History = run.history
        self.n_iter_ = run.history.steps
        return run

    def _divergence(self, error: DivergenceError) -> DivergenceError:
        """The error with advice that fits this estimator: with standardize=True the features
        already are, so only the learning rate is left to change."""
        where = f"{type(self).__name__}.fit diverged at step {error.step} (the loss became {error.loss})"
        if self.standardize:
            advice = (f"the features are already standardized (standardize=True), so the learning rate "
                      f"is too large: try lr={self.lr / 10:g} (lr={self.lr:g} now)")
        else:
            advice = (f"try a smaller learning rate (lr={self.lr:g} now) or standardize=True, which "
                      f"standardizes the features so one learning rate suits them all")
        return DivergenceError(f"{where}: {advice}", error.step, error.loss)

    def _budget_warning(self, extra: str = "") -> bool:
        """Warn when the run stopped on its budget although ``tol`` asked for convergence."""
        history = self.history_
        if self.tol is None or history.converged or history.stop_reason == "callback":
            return False
        change = abs(history.loss[-1] - history.loss[-2]) if len(history.loss) >= 2 else float("nan")
        warnings.warn(ConvergenceWarning(
            f"{type(self).__name__} stopped by its budget (max_steps={self.max_steps}) before converging: "
            f"the loss still changed by {change:.3g} per step (tol={self.tol:g}), final loss "
            f"{history.final_loss:.6g}{extra}. Raise max_steps, or try a larger lr (lr={self.lr:g} now)"
        ), stacklevel=3)
        return True

    def _check_fitted(self, X: TensorLike, what: str) -> np.ndarray:
        if not self.__sklearn_is_fitted__():
            raise NotFittedError(f"{type(self).__name__} is not fitted yet; call fit(X, y) before {what}")
        return check_X(self, X, f"{type(self).__name__}.{what}", reset=False)


@dataclass(eq=False, repr=False)
class LinearRegression(RegressorMixin, _GradientDescentModel):
    """y ≈ X·coef_ + intercept_, fitted by gradient descent on ``loss``.

    loss: "mse" (the step-by-step tutorial and the beginner's article), "half_mse" (the update-rule tutorial), "mae", "huber", or any
        ``loss(pred, target)`` function. optimizer: "sgd", "momentum", "nesterov", "adam",
        "adamw". ``tol`` stops once the loss changes by less than that between steps; when
        the ``max_steps`` budget runs out first, ``fit`` warns (``tg.ConvergenceWarning``).

    X is (n_samples, n_features); y is (n,), (n, 1) (one target) or (n, n_targets).
    After ``fit``: ``coef_`` ((n_features,) for one target, else (n_targets, n_features)),
    ``intercept_`` (a float, or (n_targets,)), ``history_`` (a ``History``), ``n_iter_``,
    ``n_features_in_`` (and ``feature_names_in_`` for a dataframe), and the least-squares
    answer from ``np.linalg.lstsq`` for comparison: ``closed_form_coef_``,
    ``closed_form_intercept_`` and ``closed_form_gap_`` (the largest absolute difference from
    ``coef_``/``intercept_``; it tends to 0 for "mse"/"half_mse", whose minimiser that is, but
    not for "mae"/"huber"). For those two losses ``fit`` warns when the gap exceeds
    ``GAP_RTOL`` (1%) of the largest closed-form coefficient: nearly collinear features, or
    a run stopped early.
    """

    loss: str | Callable[..., Any] = "mse"

    def __sklearn_tags__(self) -> Any:
        tags = super().__sklearn_tags__()
        tags.target_tags.multi_output = True  # y may have several columns
        return tags

    def fit(self, X: TensorLike, y: TensorLike) -> LinearRegression:
        """Train on features ``X`` (n, k) and targets ``y``; returns self."""
        Xa = check_X(self, X, "LinearRegression.fit", reset=True)
        ya = regression_targets(y, Xa.shape[0], "LinearRegression.fit", "LinearRegression")
        self._y_ndim = ya.ndim
        targets = ya.reshape(len(ya), -1)
        run = self._train(Xa, targets, targets.shape[1], resolve_loss(self.loss))
        cf_coef, cf_intercept = self._closed_form(Xa, targets)
        gap = max(float(np.max(np.abs(run.weight - cf_coef))), float(np.max(np.abs(run.bias - cf_intercept))))
        self.closed_form_gap_ = gap
        self.intercept_: float | np.ndarray
        self.closed_form_intercept_: float | np.ndarray
        if targets.shape[1] == 1:
            self.coef_, self.intercept_ = run.weight[0], float(run.bias[0])
            self.closed_form_coef_, self.closed_form_intercept_ = cf_coef[0], float(cf_intercept[0])
        else:
            self.coef_, self.intercept_ = run.weight, run.bias
            self.closed_form_coef_, self.closed_form_intercept_ = cf_coef, cf_intercept
        self._gap_warning(Xa, max(float(np.max(np.abs(cf_coef))), float(np.max(np.abs(cf_intercept)))))
        return self

    def _closed_form(self, X: np.ndarray, targets: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(coef (t, k), intercept (t,)) of least squares, one target column at a time (on
        Dask data: every column from one pass over the normal equations)."""
        if _lazy_data.is_lazy(X):
            train_X = self.scaler_.transform(X) if self.scaler_ is not None else X
            return _lazy_least_squares(train_X, targets, self.scaler_, self.fit_intercept)
        cf = [_least_squares(X, targets[:, j], self.fit_intercept) for j in range(targets.shape[1])]
        return np.array([c for c, _ in cf]), np.array([i for _, i in cf])

    def _condition(self, X: np.ndarray) -> float:
        """The condition number of the (standardised) design that gradient descent ran on."""
        train_X = self.scaler_.transform(X) if self.scaler_ is not None else X
        if _lazy_data.is_lazy(X):  # cond(D) = sqrt(cond(Dᵀ D)), from one pass
            gram, _ = _lazy_data.normal_equations(train_X, train_X[:, :1], self.fit_intercept)
            return float(np.sqrt(np.linalg.cond(gram)))
        return float(np.linalg.cond(np.c_[train_X, np.ones(len(X))] if self.fit_intercept else train_X))

    def _gap_warning(self, X: np.ndarray, scale: float) -> None:
        """One ConvergenceWarning at most: the budget ran out, or the answer is far from the
        closed form although the loss settled."""
        gap = self.closed_form_gap_
        exact = isinstance(self.loss, str) and self.loss in ("mse", "half_mse")
        far = exact and gap > GAP_RTOL * scale + 1e-12
        if self._budget_warning(f", {gap:.3g} from the closed form (closed_form_gap_)" if exact else "") or not far:
            return
        condition = self._condition(X)
        why = (
            f"the features are nearly collinear (condition number {condition:.3g} of the "
            f"{'standardized ' if self.standardize else ''}design): many coefficient vectors fit almost "
            f"equally well and gradient descent crawls along that valley. Drop or combine redundant "
            f"features, or lower tol and raise max_steps"
            if condition > 1e3 else (
                "the loss settled before the minimum: lower tol or raise max_steps" if self.history_.converged
                else f"training stopped after max_steps={self.max_steps} steps: raise max_steps"
            )
        )
        warnings.warn(ConvergenceWarning(
            f"LinearRegression: coef_/intercept_ are {gap:.3g} from the closed-form least-squares answer "
            f"(closed_form_gap_), large next to the coefficients themselves (largest {scale:.3g}): {why}"
        ), stacklevel=3)

    @property
    def closed_form_(self) -> tuple[np.ndarray, Any]:
        """``(coef, intercept)`` of the least-squares solution (``np.linalg.lstsq``)."""
        if not self.__sklearn_is_fitted__():
            raise NotFittedError("LinearRegression is not fitted yet; call fit(X, y) first")
        return self.closed_form_coef_, self.closed_form_intercept_

    def predict(self, X: TensorLike) -> np.ndarray:
        """X·coef_ + intercept_, shaped like the ``y`` given to ``fit`` ((n,) or (n, n_targets))."""
        Xa = self._check_fitted(X, "predict")
        pred = Xa @ np.atleast_2d(self.coef_).T + self.intercept_
        return pred.ravel() if self._y_ndim == 1 else pred

    def score(self, X: TensorLike, y: TensorLike, sample_weight: None = None) -> float:
        """R² = 1 - Σ(y - ŷ)² / Σ(y - ȳ)² (1 is a perfect fit), averaged over targets."""
        if sample_weight is not None:
            raise TypeError("LinearRegression.score does not support sample_weight")
        pred = self.predict(X)
        ya = regression_targets(y, len(pred), "LinearRegression.score", "LinearRegression")
        pred, ya = pred.reshape(len(pred), -1), ya.reshape(len(ya), -1)
        scores = [_r2(ya[:, j], pred[:, j]) for j in range(ya.shape[1])]
        # a constant target: exact or not (scikit-learn's r2_score does the same)
        return float(np.mean([s if s is not None else float(np.all(ya[:, j] == pred[:, j]))
                              for j, s in enumerate(scores)]))


@dataclass(eq=False, repr=False, kw_only=True)
class LogisticRegression(ClassifierMixin, _GradientDescentModel):
    """Classification by gradient descent on the cross-entropy.

    Two classes: p = σ(X·wᵀ + b) with binary cross-entropy on logits; more classes: softmax
    with ``cross_entropy``. Labels may be any values (``classes_`` holds them, sorted), but
    not continuous numbers. ``l2`` adds l2·‖w‖² to the loss (the weights of separable data
    otherwise grow forever). A budget stop warns (``tg.ConvergenceWarning``).

    After ``fit``: ``coef_`` (1, k) for two classes or (n_classes, k), ``intercept_`` (1,) or
    (n_classes,), ``classes_``, ``history_``, ``n_iter_``, ``n_features_in_``.
    """

    lr: float = 0.5
    l2: float = 0.0

    def fit(self, X: TensorLike, y: TensorLike) -> LogisticRegression:
        """Train on features ``X`` and labels ``y`` (at least two distinct values); returns self."""
        if not (isinstance(self.l2, (int, float)) and self.l2 >= 0):
            raise ValueError(f"LogisticRegression: l2 must be a number >= 0, got {self.l2!r}")
        Xa = check_X(self, X, "LogisticRegression.fit", reset=True)
        ya = class_labels(y, Xa.shape[0], "LogisticRegression.fit", "LogisticRegression")
        classes = None
        if _lazy_data.is_lazy(ya):  # one pass for the distinct labels, checked as numpy's are
            classes = _lazy_data.unique_labels(ya)
            check_labels(classes, "LogisticRegression.fit", "LogisticRegression")
        labels = _class_targets(ya, classes)
        if len(labels.classes) < 2:
            raise DataError(
                f"LogisticRegression.fit needs at least two classes in y, got one class: {labels.classes.tolist()}"
            )
        self.classes_ = labels.classes
        run = self._train(Xa, labels.target, labels.outputs, resolve_loss(labels.loss_name), self.l2)
        self.coef_ = run.weight.copy()
        self.intercept_ = run.bias.copy()
        self._budget_warning()
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

    def predict_log_proba(self, X: TensorLike) -> np.ndarray:
        """log of ``predict_proba`` (n, n_classes)."""
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def predict(self, X: TensorLike) -> np.ndarray:
        """The most probable class for each row (values from ``classes_``)."""
        ids = np.argmax(self.predict_proba(X), axis=1)
        if _lazy_data.is_lazy(ids):  # a Dask X: the predictions stay lazy too
            classes = self.classes_
            return ids.map_blocks(lambda i: classes[i], dtype=classes.dtype)
        return self.classes_[ids]

    def score(self, X: TensorLike, y: TensorLike, sample_weight: None = None) -> float:
        """Accuracy: the fraction of rows whose predicted class equals ``y``."""
        if sample_weight is not None:
            raise TypeError("LogisticRegression.score does not support sample_weight")
        pred = self.predict(X)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # a column y was already warned about in fit
            ya = class_labels(y, len(pred), "LogisticRegression.score", "LogisticRegression")
        return float(np.mean(pred == ya))


for _public in (LinearRegression, LogisticRegression):
    _public.__module__ = "tinygrad_gd.estimators"  # public as estimators.<name>: reprs and pickles say so
