"""Data for training: batching with seeded shuffling, splits, standardisation, CSV loading
and small built-in datasets.

Shapes follow what a model produces, because a loss never broadcasts prediction against
target: built-in regression and two-class targets are columns ``(n, 1)``, like the output of
``nn.Linear(k, 1)`` (and the three-point line's ``y``); multi-class labels are integer ids ``(n,)`` for
``losses.cross_entropy``. ``load_csv`` returns its target as ``(n,)``; use ``y.reshape(-1, 1)``
to line it up with a ``Linear(k, 1)`` output.

Every error raised here is a :class:`DataError` (a ``ValueError``) with a one-line message a
command-line tool can print as is; a missing file raises :class:`DataFileNotFoundError`, which
is also a ``FileNotFoundError``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import _backend
from ._csv import CSVTable, load_csv, read_csv, write_csv
from ._data_errors import DataError, DataFileNotFoundError
from ._typing import TensorLike
from ._validate import generator, is_integer
from .tensor import Tensor

__all__ = [
    "DataError",
    "DataFileNotFoundError",
    "DataLoader",
    "train_test_split",
    "Standardizer",
    "load_csv",
    "read_csv",
    "CSVTable",
    "write_csv",
    "make_line",
    "make_noisy_line",
    "make_blobs",
    "make_moons",
    "make_houses",
    "BuiltinDataset",
    "BUILTIN_DATASETS",
    "load_builtin",
]

Seed = int | np.random.Generator | None


def _as_array(a: Any, what: str) -> Any:
    """Tensors stay Tensors (batches come back as Tensors), arrays of other backends stay in
    their library (a Dask array stays lazy: nothing is computed here); everything else becomes
    a numpy array."""
    if isinstance(a, Tensor):
        if a.ndim == 0:
            raise DataError(f"{what} must have at least one axis (one row per sample), got a 0-d tensor")
        return a
    arr = a if _backend.is_foreign(a) else np.asarray(a)
    if arr.ndim == 0:
        raise DataError(f"{what} must have at least one axis (one row per sample), got a scalar")
    return arr


def _take(a: Any, index: Any) -> Any:
    if isinstance(a, Tensor):
        return Tensor(a.data[index])
    return a[index]


def _is_dask(a: Any) -> bool:
    data = a.data if isinstance(a, Tensor) else a
    return type(data) is not np.ndarray and _backend.backend_name(data) == "dask"


def _same_length(arrays: Sequence[Any], what: str) -> int:
    for a in arrays:
        if any(isinstance(s, float) and math.isnan(s) for s in a.shape):
            raise DataError(f"{what}: a Dask array of unknown shape {tuple(a.shape)}; use "
                            f"df.to_dask_array(lengths=True) or x.compute_chunk_sizes()")
    lengths = [int(a.shape[0]) for a in arrays]
    if len(set(lengths)) > 1:
        shapes = ", ".join(str(tuple(a.shape)) for a in arrays)
        raise DataError(f"{what}: all arrays need the same number of rows (first axis), got shapes {shapes}")
    return lengths[0]


# --------------------------------------------------------------------------- batching
class DataLoader:
    """Iterate over ``arrays`` (features, targets, ...) in batches of rows.

    ``batch_size=None`` gives one full batch per epoch (plain gradient descent), ``1`` gives
    stochastic gradient descent, anything else mini-batches (a batch size above the number
    of rows gives one full batch). Each ``for`` loop over the loader is one epoch. With
    ``shuffle=True`` every epoch draws a fresh order from a generator seeded once by
    ``seed``, so two loaders built with the same seed yield the same batches, epoch after
    epoch. A batch is a tuple with one entry per array (just the array when
    there is one); Tensors come back as Tensors, anything else as numpy arrays.

    Dask arrays stay lazy: the full batch is the array itself (one step = one pass over its
    chunks), and in data order a mini-batch is a lazy slice, so a step reads only the chunks
    that the batch overlaps. Shuffled mini-batches over Dask are refused with a ``DataError``:
    rows drawn at random lie in every chunk, so each step would read all the data for one
    batch; shuffle the rows once beforehand and pass ``shuffle=False``.
    """

    def __init__(
        self,
        *arrays: TensorLike,
        batch_size: int | None = None,
        shuffle: bool = False,
        seed: Seed = None,
        drop_last: bool = False,
    ) -> None:
        if not arrays:
            raise DataError("DataLoader needs at least one array, e.g. DataLoader(X, y, batch_size=32)")
        self.arrays = tuple(_as_array(a, f"array {i}") for i, a in enumerate(arrays))
        self.n_samples = _same_length(self.arrays, "DataLoader")
        if self.n_samples == 0:
            raise DataError("DataLoader got arrays with no rows")
        if batch_size is not None and not (is_integer(batch_size) and batch_size >= 1):
            raise DataError(f"batch_size must be a positive integer or None (full batch), got {batch_size!r}")
        self.batch_size = self.n_samples if batch_size is None else min(int(batch_size), self.n_samples)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self._lazy = any(_is_dask(a) for a in self.arrays)
        if self.shuffle and self._lazy and self.batch_size < self.n_samples:
            raise DataError(
                "DataLoader: shuffle=True over Dask arrays would read every chunk for each mini-batch (random "
                "rows lie in all chunks); pass shuffle=False (batches in data order: lazy slices, each reads the "
                "chunks it overlaps), after shuffling the rows once, e.g. X[perm], y[perm] with "
                "perm = dask.array.random.default_rng(0).permutation(n); or train on the full batch"
            )
        self._rng = generator(seed, "seed")

    @property
    def mode(self) -> str:
        """"full batch", "stochastic" or "mini-batch"."""
        if self.batch_size >= self.n_samples:
            return "full batch"
        return "stochastic" if self.batch_size == 1 else "mini-batch"

    def __len__(self) -> int:
        """Number of batches per epoch."""
        if self.drop_last:
            return self.n_samples // self.batch_size
        return math.ceil(self.n_samples / self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        n, size = self.n_samples, self.batch_size
        single = len(self.arrays) == 1
        if size >= n and (not self.shuffle or self._lazy):  # full batch in order: no copies (Dask: no gather)
            yield self.arrays[0] if single else self.arrays
            return
        order = self._rng.permutation(n) if self.shuffle else None
        for k in range(len(self)):
            # in data order a batch is a slice (a view, no copy)
            index = slice(k * size, (k + 1) * size) if order is None else order[k * size : (k + 1) * size]
            batch = tuple(_take(a, index) for a in self.arrays)
            yield batch[0] if single else batch

    def __repr__(self) -> str:
        return (
            f"DataLoader({self.n_samples} rows, batch_size={self.batch_size} ({self.mode}), "
            f"shuffle={self.shuffle}, batches={len(self)})"
        )


def train_test_split(
    *arrays: TensorLike, test_size: float | int = 0.25, seed: Seed = None, shuffle: bool = True
) -> list[Any]:
    """Split rows into a training and a held-out (test/validation) part.

    Returns ``[a_train, a_test, b_train, b_test, ...]`` as scikit-learn does. ``test_size`` is
    a fraction in (0, 1) or a row count; ``seed`` makes the shuffle reproducible.
    """
    if not arrays:
        raise DataError("train_test_split needs at least one array")
    arrs = [_as_array(a, f"array {i}") for i, a in enumerate(arrays)]
    n = _same_length(arrs, "train_test_split")
    if not (is_integer(test_size) or isinstance(test_size, (float, np.floating))):
        raise DataError(f"test_size must be a fraction in (0, 1) or a row count, got {test_size!r}")
    if isinstance(test_size, (float, np.floating)):
        if not 0.0 < test_size < 1.0:
            raise DataError(f"test_size as a fraction must be in (0, 1), got {test_size}")
        n_test = math.ceil(test_size * n)
    else:
        n_test = int(test_size)
    if not 1 <= n_test <= n - 1:
        raise DataError(
            f"test_size={test_size} leaves {n_test} test and {n - n_test} training rows out of {n}; "
            f"both parts need at least one row"
        )
    # Without shuffling the last rows are held out, as scikit-learn does.
    order = generator(seed, "seed").permutation(n) if shuffle else np.arange(n)
    train_idx, test_idx = order[: n - n_test], order[n - n_test :]
    out: list[Any] = []
    for a in arrs:
        out.extend([_take(a, train_idx), _take(a, test_idx)])
    return out


# --------------------------------------------------------------------------- scaling
class Standardizer:
    """Per-column z-scores: ``(x - mean_) / scale_`` with ``scale_`` the population std.

    Unscaled features are the commonest reason gradient descent diverges; standardising makes
    one learning rate suit every feature. A constant column gets ``scale_ = 1`` (it is only
    centred), so nothing is divided by zero. 1-D input is treated as one column.
    """

    def __init__(self) -> None:
        self.mean_: np.ndarray | None = None
        self.scale_: np.ndarray | None = None

    @staticmethod
    def _matrix(X: Any, what: str) -> np.ndarray:
        data = X.data if isinstance(X, Tensor) else X
        # a Dask (or other backend's) array stays in its library: lazily float64
        arr = _backend.astype(data, np.float64) if _backend.is_foreign(data) else np.asarray(data, dtype=np.float64)
        if arr.ndim == 1:
            arr = arr.reshape(-1, 1)
        if arr.ndim != 2:
            raise DataError(f"{what} needs a 1-D or 2-D array (rows = samples), got shape {arr.shape}")
        return arr

    def fit(self, X: TensorLike) -> Standardizer:
        """Learn each column's mean and standard deviation; returns self. On a Dask array the
        means, deviations and the finiteness check are one ``dask.compute`` (one pass)."""
        arr = self._matrix(X, "Standardizer.fit")
        if arr.shape[0] == 0:
            raise DataError("Standardizer.fit got no rows")
        finite: Any
        if type(arr) is np.ndarray:
            finite, mean, std = np.all(np.isfinite(arr)), arr.mean(axis=0), arr.std(axis=0)
        else:
            xp = _backend.namespace(arr)
            lazy = _backend.compute(xp.all(xp.isfinite(arr)), xp.mean(arr, axis=0), xp.std(arr, axis=0))
            finite, mean, std = (_backend.to_numpy(v) for v in lazy)
        if not finite:
            raise DataError("Standardizer.fit got NaN or infinite values; clean the data first")
        fitted = self.from_moments(mean, std)
        self.mean_, self.scale_ = fitted.mean_, fitted.scale_
        return self

    @classmethod
    def from_moments(cls, mean: np.ndarray, std: np.ndarray) -> Standardizer:
        """A fitted Standardizer from column means and (population) standard deviations
        computed elsewhere (e.g. chunk by chunk): a constant column gets ``scale_ = 1``."""
        mean, std = np.asarray(mean, dtype=np.float64), np.asarray(std, dtype=np.float64)
        tiny = 10 * np.finfo(np.float64).eps * np.maximum(1.0, np.abs(mean))
        fitted = cls()
        fitted.mean_ = mean
        fitted.scale_ = np.where(std <= tiny, 1.0, std)
        return fitted

    def _check(self, X: Any, what: str) -> tuple[np.ndarray, tuple[int, ...]]:
        if self.mean_ is None or self.scale_ is None:
            raise DataError(f"Standardizer.{what} called before fit(X)")
        shape = np.shape(X.data if isinstance(X, Tensor) else X)
        arr = self._matrix(X, f"Standardizer.{what}")
        if arr.shape[1] != self.mean_.shape[0]:
            raise DataError(
                f"Standardizer was fitted on {self.mean_.shape[0]} column(s) but {what} got shape {shape}"
            )
        return arr, shape

    def transform(self, X: TensorLike) -> np.ndarray:
        """(X - mean_) / scale_, shaped like X."""
        arr, shape = self._check(X, "transform")
        return ((arr - self.mean_) / self.scale_).reshape(shape)

    def fit_transform(self, X: TensorLike) -> np.ndarray:
        """``fit(X)`` then ``transform(X)``."""
        return self.fit(X).transform(X)

    def inverse_transform(self, Z: TensorLike) -> np.ndarray:
        """Z * scale_ + mean_: back to the original units."""
        arr, shape = self._check(Z, "inverse_transform")
        return (arr * self.scale_ + self.mean_).reshape(shape)

    def __repr__(self) -> str:
        if self.mean_ is None:
            return "Standardizer(unfitted)"
        return f"Standardizer(mean_={self.mean_}, scale_={self.scale_})"


# --------------------------------------------------------------------------- datasets
def make_line() -> tuple[np.ndarray, np.ndarray]:
    """The three points on the line y = 2x: ``X = [[1], [2], [3]]``, ``y = [[2], [4], [6]]``."""
    return np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [6.0]])


def make_noisy_line(
    n: int = 50, slope: float = 2.0, intercept: float = 1.0, noise: float = 0.5, seed: Seed = 0,
    x_range: tuple[float, float] = (0.0, 5.0),
) -> tuple[np.ndarray, np.ndarray]:
    """``n`` points y = slope·x + intercept + N(0, noise²), x uniform in ``x_range``;
    ``X`` (n, 1), ``y`` (n, 1)."""
    _check_count(n)
    if noise < 0:
        raise DataError(f"noise must be >= 0, got {noise}")
    rng = generator(seed, "seed")
    x = rng.uniform(x_range[0], x_range[1], size=(n, 1))
    y = slope * x + intercept + noise * rng.standard_normal((n, 1))
    return x, y


def make_houses(n: int = 200, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """House prices: ``X`` (n, 2) holds the floor area in m² (50 to 250) and the age in years
    (0 to 60), ``y`` (n, 1) the price: 50,000 + 3,000 per m² − 1,700 per year + N(0, 20,000²).
    Features of different scales and a target in the hundreds of thousands: the data on which
    unscaled gradient descent goes wrong (see ``tinygrad-gd make-data``)."""
    _check_count(n)
    rng = generator(seed, "seed")
    X = np.stack([rng.uniform(50.0, 250.0, n), rng.uniform(0.0, 60.0, n)], axis=1).round(1)
    price = 50_000.0 + 3_000.0 * X[:, 0] - 1_700.0 * X[:, 1] + 20_000.0 * rng.standard_normal(n)
    return X, price.round(-2).reshape(-1, 1)


def make_blobs(
    n: int = 200, centers: int = 2, std: float = 1.0, seed: Seed = 0, radius: float = 3.0
) -> tuple[np.ndarray, np.ndarray]:
    """Gaussian blobs in 2-D, one per class, centres evenly spaced on a circle of ``radius``.

    Two classes: ``y`` is a float column (n, 1) of 0/1 (for binary cross-entropy); more
    classes: integer ids (n,) (for ``cross_entropy``).
    """
    _check_count(n)
    if not (is_integer(centers) and centers >= 2):
        raise DataError(f"make_blobs needs centers >= 2 classes, got {centers!r}")
    rng = generator(seed, "seed")
    labels = np.arange(n) % centers
    rng.shuffle(labels)
    angles = np.pi / 4 + 2 * np.pi * np.arange(centers) / centers
    means = radius * np.stack([np.cos(angles), np.sin(angles)], axis=1)
    X = means[labels] + std * rng.standard_normal((n, 2))
    if centers == 2:
        return X, labels.astype(np.float64).reshape(-1, 1)
    return X, labels.astype(np.int64)


def make_moons(n: int = 200, noise: float = 0.1, seed: Seed = 0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles (not linearly separable): ``X`` (n, 2), ``y`` (n, 1) of 0/1."""
    _check_count(n)
    rng = generator(seed, "seed")
    labels = np.arange(n) % 2
    rng.shuffle(labels)
    t = rng.uniform(0.0, np.pi, size=n)
    outer = np.stack([np.cos(t), np.sin(t)], axis=1)
    inner = np.stack([1.0 - np.cos(t), 0.5 - np.sin(t)], axis=1)
    X = np.where(labels[:, None] == 0, outer, inner) + noise * rng.standard_normal((n, 2))
    return X, labels.astype(np.float64).reshape(-1, 1)


def _check_count(n: Any) -> None:
    if not (is_integer(n) and n >= 1):
        raise DataError(f"the number of samples n must be a positive integer, got {n!r}")


@dataclass(frozen=True)
class BuiltinDataset:
    """A registry entry: how to make the data, what kind of task it is, and what it is."""

    make: Callable[..., tuple[np.ndarray, np.ndarray]]
    task: str  # "regression", "binary" or "multiclass"
    description: str
    columns: tuple[str, ...] = ()  # feature names, then the target's, as ``make-data`` writes them


BUILTIN_DATASETS: dict[str, BuiltinDataset] = {
    "line": BuiltinDataset(make_line, "regression", "the three points on y = 2x", ("x", "y")),
    "noisy_line": BuiltinDataset(make_noisy_line, "regression", "50 points near y = 2x + 1 (noise 0.5)", ("x", "y")),
    "houses": BuiltinDataset(make_houses, "regression", "200 house prices from floor area (m²) and age (years)",
                             ("size", "age", "price")),
    "two_blobs": BuiltinDataset(
        lambda **kw: make_blobs(**{"centers": 2, **kw}),
        "binary",
        "two Gaussian blobs in 2-D (200 points)",
        ("x1", "x2", "label"),
    ),
    "moons": BuiltinDataset(make_moons, "binary", "two interleaving half circles in 2-D (200 points)",
                            ("x1", "x2", "label")),
    "three_blobs": BuiltinDataset(
        lambda **kw: make_blobs(**{"centers": 3, **kw}),
        "multiclass",
        "three Gaussian blobs in 2-D (200 points)",
        ("x1", "x2", "label"),
    ),
}
"""Built-in datasets by name; :func:`load_builtin` makes one."""


def load_builtin(name: str, **kwargs: Any) -> tuple[np.ndarray, np.ndarray]:
    """``(X, y)`` of the built-in dataset ``name`` (see :data:`BUILTIN_DATASETS`); keyword
    arguments go to its generator (e.g. ``n=``, ``noise=``, ``seed=``)."""
    if name not in BUILTIN_DATASETS:
        raise DataError(f"unknown dataset {name!r}; built-in datasets: {sorted(BUILTIN_DATASETS)}")
    try:
        return BUILTIN_DATASETS[name].make(**kwargs)
    except TypeError as e:
        raise DataError(f"dataset {name!r}: {e}") from None
