"""The Dask rows of the benchmarks: seconds per full-batch gradient-descent step of a linear
regression on N x d data chunked over a 2-worker ``distributed.LocalCluster`` (data generated
on the workers and persisted there, so the rows time the step, not the generation), and the
ratio to dask-ml's ``LinearRegression(solver="gradient_descent")`` on the same data ("not
installed" when dask-ml is missing).

What is compared, so that the ratio is fair:

- **Marginal seconds per step**: each library fits twice, with ``FEW`` and ``MANY`` steps, and
  a row is ``(t(MANY) - t(FEW)) / (MANY - FEW)``: the per-fit costs (dask-ml's intercept column
  and standardisation pass, our checks) cancel out. Samples of the two libraries alternate;
  the best of ``REPEATS`` is kept.
- **The same steps**: dask-glm's ``gradient_descent`` (which dask-ml calls) stops early when its
  line search stalls, whatever ``tol``; the steps it really ran are counted (calls of its
  ``Normal.gradient``, once per iteration) and used instead of ``max_iter``.
- **Passes over X per step**, counted by reading X through a chunk counter on a small copy:
  ours 1 (the loss and both gradients in one ``dask.compute``), dask-glm's 2 (``Xᵀ r`` for the
  gradient, then ``X g`` for its line search, which also re-reads the persisted n-vectors
  ``Xβ``, ``Xg`` and ``y`` once per trial). A step of each is a step of full-batch gradient
  descent; dask-glm's also picks its step size (Armijo backtracking), ours uses a fixed lr.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

import numpy as np

import tinygrad_gd as tg

NOT_INSTALLED = "not installed"
FEW, MANY = 3, 8  # steps of the two fits whose difference is timed
REPEATS = 2


def _tg_fit(X: Any, y: Any, steps: int) -> int:
    w, b = tg.zeros(X.shape[1], requires_grad=True), tg.zeros(1, requires_grad=True)

    def loss(Xb: Any, yb: Any) -> Any:
        return tg.losses.mse(Xb @ w + b, yb)

    history = tg.fit([w, b], loss, (tg.Tensor(X), tg.Tensor(y)), lr=0.1, max_steps=steps, tol=None, progress=False)
    return int(history.steps)


def _dask_ml() -> Any:
    try:
        from dask_glm import families
        from dask_ml.linear_model import LinearRegression
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None
    return LinearRegression, families


def _dask_ml_fit(X: Any, y: Any, steps: int) -> int:
    """dask-ml's gradient descent for at most ``steps`` iterations; returns the iterations run."""
    LinearRegression, families = _dask_ml()
    real = families.Normal.gradient
    calls = [0]

    def counted(Xbeta: Any, X: Any, y: Any) -> Any:
        calls[0] += 1
        return real(Xbeta, X, y)

    families.Normal.gradient = staticmethod(counted)
    try:
        LinearRegression(solver="gradient_descent", max_iter=steps, tol=0.0, fit_intercept=True).fit(X, y)
    finally:
        families.Normal.gradient = staticmethod(real)
    return calls[0]


def _timed(fit: Callable[[Any, Any, int], int], X: Any, y: Any, steps: int) -> tuple[float, int]:
    start = time.perf_counter()
    ran = fit(X, y, steps)
    return time.perf_counter() - start, ran


def _marginal_seconds_per_step(fits: dict[str, Callable[[Any, Any, int], int]], X: Any, y: Any) -> dict[str, float]:
    """Best of REPEATS of (t(MANY) - t(FEW)) / (steps run in between), the libraries interleaved."""
    best = {name: float("inf") for name in fits}
    for _ in range(REPEATS):
        for name, fit in fits.items():
            few, ran_few = _timed(fit, X, y, FEW)
            many, ran_many = _timed(fit, X, y, MANY)
            if ran_many > ran_few:
                best[name] = min(best[name], (many - few) / (ran_many - ran_few))
    return best


def passes_over_X_per_step(n: int = 40_000, d: int = 10, chunk: int = 5_000) -> dict[str, float]:
    """Chunk reads of X per step / chunks of X, counted on a small copy with the local threaded
    scheduler: 1.0 for tinygrad_gd, and dask-glm's when dask-ml is installed."""
    import dask.array as da

    rng = np.random.default_rng(0)
    X_np = rng.random((n, d))
    y_np = X_np @ np.linspace(-1.0, 1.0, d) + 0.5 + 0.1 * rng.standard_normal(n)
    reads = [0]

    def read(block: np.ndarray) -> np.ndarray:
        reads[0] += 1
        return block

    X = da.from_array(X_np, chunks=(chunk, d)).map_blocks(read, dtype=X_np.dtype)
    y = da.from_array(y_np, chunks=chunk)
    fits: dict[str, Callable[[Any, Any, int], int]] = {"tinygrad_gd": _tg_fit}
    if _dask_ml() is not None:
        fits["dask-ml"] = _dask_ml_fit
    passes = {}
    import dask

    with dask.config.set(scheduler="threads"):
        for name, fit in fits.items():
            reads[0] = 0
            ran_few = fit(X, y, FEW)
            few = reads[0]
            reads[0] = 0
            ran_many = fit(X, y, MANY)
            passes[name] = (reads[0] - few) / (ran_many - ran_few) / (n // chunk)
    return passes


def dask_rows(row: Any, quick: bool) -> list[Any]:
    """Rows (of the ``row`` class of run.py) for the Dask path."""
    n, d = (200_000 if quick else 10_000_000), 10
    case = f"Dask linreg GD step N={n:,} d={d}, 2-worker LocalCluster (marginal seconds per step)"
    try:
        import dask.array as da
        import distributed
    except ImportError:
        return [row(case, "tinygrad_gd (dask)", note=NOT_INSTALLED)]
    passes = passes_over_X_per_step()
    fits: dict[str, Callable[[Any, Any, int], int]] = {"tinygrad_gd": _tg_fit}
    if _dask_ml() is not None:
        fits["dask-ml"] = _dask_ml_fit
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster):
        rng = da.random.default_rng(0)
        X = rng.random((n, d), chunks=(n // 20, d))
        y = X @ np.linspace(-1.0, 1.0, d) + 0.5 + 0.1 * rng.standard_normal(n, chunks=n // 20)
        X, y = X.persist(), y.persist()
        distributed.wait([X, y])
        seconds = _marginal_seconds_per_step(fits, X, y)
    ours = seconds["tinygrad_gd"]
    rows = [row(case, "tinygrad_gd (dask)", ours, 1.0,
                f"one dask.compute per step, {passes['tinygrad_gd']:.0f} pass over X")]
    peer = "dask-ml LinearRegression(solver='gradient_descent')"
    if "dask-ml" not in seconds:
        rows.append(row(case, peer, note=NOT_INSTALLED))
    else:
        rows.append(row(case, peer, seconds["dask-ml"], seconds["dask-ml"] / ours,
                        f"ratio to tinygrad_gd (dask); {passes['dask-ml']:.0f} passes over X per step + line search"))
    return rows
