"""What makes the estimators scikit-learn estimators: their base classes, ``NotFittedError``,
and the checks of ``X`` and ``y`` (shapes, dtypes, feature counts and names).

With scikit-learn installed the bases are its own ``BaseEstimator``/``RegressorMixin``/
``ClassifierMixin`` (so ``clone``, ``Pipeline``, ``GridSearchCV`` and ``check_estimator`` see
real estimators) and ``NotFittedError`` subclasses ``sklearn.exceptions.NotFittedError``.
Without it a small fallback gives the same ``get_params``/``set_params``/``repr``. This module
is imported on first use of an estimator (``estimators.py`` loads it lazily), because
importing scikit-learn takes about a second.

The input checks are this package's own, whichever base is in use, so the messages are the
same with and without scikit-learn; they contain the phrases scikit-learn's checks look for.
"""

from __future__ import annotations

import inspect
import warnings
from typing import Any

import numpy as np

from . import _backend
from ._lazy_data import check_known_shape, is_lazy
from ._typing import TensorLike
from .data import DataError
from .tensor import Tensor

try:
    from sklearn.base import BaseEstimator, ClassifierMixin, RegressorMixin
    from sklearn.exceptions import DataConversionWarning
    from sklearn.exceptions import NotFittedError as _NotFittedBase

    HAVE_SKLEARN = True
except ImportError:  # the fallback: the part of scikit-learn's API the estimators need
    HAVE_SKLEARN = False

    class _NotFittedBase(ValueError, AttributeError):  # type: ignore[no-redef]
        """scikit-learn's NotFittedError is both a ValueError and an AttributeError."""

    class DataConversionWarning(UserWarning):  # type: ignore[no-redef]
        """The input had to be converted (as scikit-learn's warning of that name)."""

    class BaseEstimator:  # type: ignore[no-redef]
        """``get_params``/``set_params`` read from the constructor's signature, and a repr of
        the parameters that differ from their defaults (scikit-learn's conventions)."""

        @classmethod
        def _param_defaults(cls) -> dict[str, Any]:
            parameters = inspect.signature(cls.__init__).parameters.values()
            return {p.name: p.default for p in parameters if p.name != "self"}

        def get_params(self, deep: bool = True) -> dict[str, Any]:
            """The constructor arguments, by name."""
            return {name: getattr(self, name) for name in self._param_defaults()}

        def set_params(self, **params: Any) -> Any:
            """Set constructor arguments by name; returns self."""
            valid = self._param_defaults()
            for name, value in params.items():
                if name not in valid:
                    raise ValueError(
                        f"Invalid parameter {name!r} for estimator {type(self).__name__}. "
                        f"Valid parameters are: {sorted(valid)!r}."
                    )
                setattr(self, name, value)
            return self

        def __repr__(self) -> str:
            defaults = self._param_defaults()
            changed = [f"{k}={v!r}" for k, v in self.get_params().items() if not _same(v, defaults[k])]
            return f"{type(self).__name__}({', '.join(changed)})"

    def _same(value: Any, default: Any) -> bool:
        return value is default or (type(value) is type(default) and bool(value == default))

    class RegressorMixin:  # type: ignore[no-redef]
        _estimator_type = "regressor"

    class ClassifierMixin:  # type: ignore[no-redef]
        _estimator_type = "classifier"


__all__ = ["BaseEstimator", "RegressorMixin", "ClassifierMixin", "NotFittedError", "DataConversionWarning",
           "HAVE_SKLEARN", "check_X", "regression_targets", "class_labels", "check_labels"]


class NotFittedError(_NotFittedBase):
    """``predict``/``score`` called before ``fit``: a ValueError and an AttributeError, and
    scikit-learn's ``NotFittedError`` when scikit-learn is installed."""


NotFittedError.__module__ = "tinygrad_gd.estimators"


# --------------------------------------------------------------------------- X
def _is_sparse(X: Any) -> bool:
    return type(X).__module__.startswith("scipy.sparse")


def _feature_names(X: Any) -> np.ndarray | None:
    """The column names of a dataframe-like ``X`` when they are all strings, else None."""
    columns = getattr(X, "columns", None)
    if columns is None or isinstance(X, np.ndarray):
        return None
    names = np.asarray([c for c in columns], dtype=object)
    kinds = {isinstance(c, str) for c in names}
    if kinds == {True}:
        return names
    if kinds == {True, False}:
        raise TypeError(
            "Feature names are only supported if all input features have string names, but X has "
            f"column names of types {sorted({type(c).__name__ for c in names})}; convert them with "
            "X.columns = X.columns.astype(str)"
        )
    return None


def _lazy_input(X: Any) -> Any:
    """The Dask array of a Dask array, a Tensor holding one, or a Dask dataframe (None for
    anything else): it stays lazy; its values are checked in the estimators' first pass."""
    data: Any = X.data if isinstance(X, Tensor) else X
    if type(data).__module__.startswith("dask.dataframe"):
        return data.to_dask_array(lengths=True)
    return data if is_lazy(data) else None


def _numeric_2d(X: TensorLike, what: str) -> np.ndarray:
    """``X`` as a finite float64 (n_samples >= 1, n_features >= 1) array (a copy). A Dask
    array stays lazy (float64, its shape checked); NaN/inf are looked for in the first pass
    over it, with the standardisation statistics (``_lazy_data.summarize``)."""
    if _is_sparse(X):
        raise TypeError(f"{what}: sparse input is not supported; pass a dense array (X.toarray())")
    lazy = _lazy_input(X)
    arr = lazy if lazy is not None else np.asarray(X.data if isinstance(X, Tensor) else X)
    if arr.dtype.kind == "c":
        raise ValueError(f"{what}: Complex data not supported (X has dtype {arr.dtype}); pass real features")
    if arr.dtype.kind == "O":
        try:
            arr = arr.astype(np.float64)
        except (TypeError, ValueError) as e:
            raise type(e)(f"{what}: X holds values that are not numbers: {e}") from None
    elif arr.dtype.kind not in "biuf":
        raise DataError(f"{what}: X must be numeric, got dtype {arr.dtype}")
    if lazy is not None:
        check_known_shape(arr, what, "X")
    if arr.ndim == 1:
        raise DataError(
            f"{what}: X must be 2-D (n_samples, n_features), got a 1-D array of shape {arr.shape}. "
            f"Reshape your data: X.reshape(-1, 1) if it holds one feature, X.reshape(1, -1) if one sample"
        )
    if arr.ndim != 2:
        raise DataError(f"{what}: X must be 2-D (n_samples, n_features), got shape {arr.shape}")
    for axis, kind in ((0, "sample(s)"), (1, "feature(s)")):
        if arr.shape[axis] == 0:
            raise DataError(f"{what}: X has 0 {kind} (shape={arr.shape}) while a minimum of 1 is required.")
    if lazy is not None:
        return _backend.astype(arr, np.float64)
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what}: X contains NaN or infinite values; drop or fill those rows")
    return arr


def _check_names(estimator: Any, names: np.ndarray | None, what: str) -> None:
    """scikit-learn's rule for feature names seen at fit and at predict."""
    fitted = getattr(estimator, "feature_names_in_", None)
    name = type(estimator).__name__
    if fitted is None and names is not None:
        warnings.warn(f"X has feature names, but {name} was fitted without feature names", UserWarning,
                      stacklevel=4)
    elif fitted is not None and names is None:
        warnings.warn(f"X does not have valid feature names, but {name} was fitted with feature names",
                      UserWarning, stacklevel=4)
    elif fitted is not None and names is not None and list(fitted) != list(names):
        raise DataError(
            f"{what}: The feature names should match those that were passed during fit: fitted on "
            f"{list(fitted)}, got {list(names)} (same names, same order)"
        )


def check_X(estimator: Any, X: TensorLike, what: str, reset: bool) -> np.ndarray:
    """``X`` checked and as float64. ``reset`` (in ``fit``) records ``n_features_in_`` and
    ``feature_names_in_``; otherwise ``X`` must match them."""
    names = _feature_names(X)
    arr = _numeric_2d(X, what)
    if reset:
        estimator.n_features_in_ = arr.shape[1]
        if names is not None:
            estimator.feature_names_in_ = names
        elif hasattr(estimator, "feature_names_in_"):
            del estimator.feature_names_in_
        return arr
    _check_names(estimator, names, what)
    if arr.shape[1] != estimator.n_features_in_:
        raise DataError(
            f"{what}: X has {arr.shape[1]} features, but {type(estimator).__name__} is expecting "
            f"{estimator.n_features_in_} features as input (X has shape {arr.shape}; the model was fitted "
            f"on {estimator.n_features_in_} feature(s))"
        )
    return arr


# --------------------------------------------------------------------------- y
def _target_array(y: Any, n: int, what: str, name: str) -> np.ndarray:
    if y is None:
        raise DataError(f"{what}: {name} requires y to be passed, but the target y is None")
    lazy = _lazy_input(y)
    arr = lazy if lazy is not None else np.asarray(y.data if isinstance(y, Tensor) else y)
    if lazy is not None:
        check_known_shape(arr, what, "y")
    if arr.ndim == 0 or arr.ndim > 2:
        raise DataError(f"{what}: y must be (n,) or (n, n_targets), got shape {arr.shape}")
    if arr.shape[0] != n:
        raise DataError(f"{what}: X has {n} rows but y has {arr.shape[0]}")
    return arr


def regression_targets(y: Any, n: int, what: str, name: str) -> np.ndarray:
    """Regression targets as finite float64, (n,) or (n, n_targets) as given (a Dask ``y``
    stays lazy; its values are checked in the first pass, ``_lazy_data.summarize``)."""
    arr = _target_array(y, n, what, name)
    if arr.dtype.kind not in "biufO":
        raise DataError(f"{what}: y must be numeric, got dtype {arr.dtype}")
    if is_lazy(arr):
        return _backend.astype(arr, np.float64)
    arr = arr.astype(np.float64)
    if not np.all(np.isfinite(arr)):
        raise DataError(f"{what}: Input y contains NaN or infinite values; drop or fill those rows")
    return arr


def class_labels(y: Any, n: int, what: str, name: str) -> np.ndarray:
    """Class labels as a 1-D array: a column (n, 1) is flattened with scikit-learn's
    ``DataConversionWarning``; continuous or non-finite labels are refused."""
    arr = _target_array(y, n, what, name)
    if arr.ndim == 2:
        if arr.shape[1] != 1:
            raise DataError(f"{what}: y must be (n,) class labels (one per sample), got shape {arr.shape}")
        warnings.warn(
            "A column-vector y was passed when a 1d array was expected. Please change the shape of y to "
            "(n_samples,), for example using ravel().", DataConversionWarning, stacklevel=3,
        )
        arr = arr[:, 0]
    if not is_lazy(arr):  # a Dask y: its distinct values are checked (check_labels) once computed
        check_labels(arr, what, name)
    return arr


def check_labels(arr: np.ndarray, what: str, name: str) -> None:
    """Refuse non-finite or continuous class labels (``arr``: the labels, or their distinct values)."""
    if arr.dtype.kind == "f":
        if not np.all(np.isfinite(arr)):
            raise DataError(f"{what}: Input y contains NaN or infinite values; class labels must be finite")
        if not np.all(arr == np.round(arr)):
            odd = arr[arr != np.round(arr)][0]
            raise DataError(
                f"{what}: Unknown label type: continuous (y holds {odd:g}); {name} needs class labels "
                f"(whole numbers or strings); use LinearRegression for a continuous target"
            )
