"""What the estimators and ``tinygrad-gd fit`` need on lazy (Dask) data, each in as few passes
over the chunks as possible: the checks and standardisation statistics of the features and
the target in **one** ``dask.compute``, the class labels in one, and the least-squares answer
from the normal equations in one (``Dᵀ D`` and ``Dᵀ y`` summed chunk by chunk: only a
(k+1, k+1) matrix ever reaches the client).

Numpy inputs never come here (callers test :func:`is_lazy` first), so the numpy path does
not change. Imports nothing above ``data``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import _backend
from ._data_errors import DataError
from .data import Standardizer

__all__ = ["is_lazy", "check_known_shape", "summarize", "unique_labels", "normal_equations"]


def is_lazy(x: Any) -> bool:
    """True for a Dask array (or a Tensor holding one): values that exist only as a task graph."""
    data = getattr(x, "data", x) if not isinstance(x, np.ndarray) else x
    return type(data) is not np.ndarray and _backend.backend_name(data) == "dask"


def check_known_shape(x: Any, what: str, name: str) -> None:
    """Refuse a Dask array whose row count is unknown (``nan``, e.g. from a dataframe's
    ``.values``): the checks and the batching need it."""
    if any(isinstance(s, float) and math.isnan(s) for s in x.shape):
        raise DataError(
            f"{what}: {name} is a Dask array of unknown shape {x.shape} (its chunk sizes are not known, e.g. "
            f"df.values of a dask dataframe); use df.to_dask_array(lengths=True) or {name}.compute_chunk_sizes()"
        )


def summarize(X: Any, y: Any, what: str, standardize: bool) -> Standardizer | None:
    """One pass over ``X`` (n, k) and ``y``: both must be finite, and with ``standardize``
    the column means and standard deviations become a fitted :class:`Standardizer`."""
    xp = _backend.namespace(X)
    parts = [xp.all(xp.isfinite(X)), xp.all(xp.isfinite(y))]
    if standardize:
        parts += [xp.mean(X, axis=0), xp.std(X, axis=0)]
    finite_x, finite_y, *moments = (_backend.to_numpy(v) for v in _backend.compute(*parts))
    if not finite_x:
        raise DataError(f"{what}: X contains NaN or infinite values; drop or fill those rows")
    if not finite_y:
        raise DataError(f"{what}: Input y contains NaN or infinite values; drop or fill those rows")
    return Standardizer.from_moments(*moments) if standardize else None


def unique_labels(y: Any) -> np.ndarray:
    """The distinct values of the lazy 1-D ``y``, sorted (one pass)."""
    da = _dask_array()
    return np.asarray(da.unique(y).compute())


def normal_equations(train_X: Any, targets: Any, fit_intercept: bool) -> tuple[np.ndarray, np.ndarray]:
    """``(G, B)`` with G = Dᵀ D and B = Dᵀ Y for the design D = [train_X, 1] (or train_X),
    computed together in one pass; ``targets`` is (n, t). Solve with ``np.linalg.lstsq(G, B)``."""
    da = _dask_array()
    design = da.concatenate([train_X, da.ones((train_X.shape[0], 1), chunks=(train_X.chunks[0], 1))], axis=1) \
        if fit_intercept else train_X
    gram, cross = _backend.compute(design.T @ design, design.T @ targets)
    return _backend.to_numpy(gram), _backend.to_numpy(cross)


def _dask_array() -> Any:
    import dask.array

    return dask.array
