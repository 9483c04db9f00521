"""The Dask rows of the benchmarks: seconds per full-batch gradient-descent step of a linear
regression on N x d data chunked over a 2-worker ``distributed.LocalCluster`` (data generated
on the workers and persisted there, so the rows time the step, not the generation), and the
ratio to dask-ml's ``LinearRegression(solver="gradient_descent")`` on the same data ("not
installed" when dask-ml is missing)."""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np

import tinygrad_gd as tg

NOT_INSTALLED = "not installed"
STEPS = 5


def _tg_seconds_per_step(X: Any, y: Any, steps: int) -> float:
    w, b = tg.zeros(X.shape[1], requires_grad=True), tg.zeros(1, requires_grad=True)

    def loss(Xb: Any, yb: Any) -> Any:
        return tg.losses.mse(Xb @ w + b, yb)

    start = time.perf_counter()
    tg.fit([w, b], loss, (tg.Tensor(X), tg.Tensor(y)), lr=0.1, max_steps=steps, progress=False)
    return (time.perf_counter() - start) / steps


def _dask_ml_seconds_per_step(X: Any, y: Any, steps: int) -> float | str:
    try:
        from dask_ml.linear_model import LinearRegression
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return NOT_INSTALLED
    start = time.perf_counter()
    LinearRegression(solver="gradient_descent", max_iter=steps, tol=0.0, fit_intercept=True).fit(X, y)
    return (time.perf_counter() - start) / steps


def dask_rows(row: Any, quick: bool) -> list[Any]:
    """Rows (of the ``row`` class of run.py) for the Dask path."""
    n, d = (200_000 if quick else 10_000_000), 10
    case = f"Dask linreg GD step N={n:,} d={d}, 2-worker LocalCluster (seconds per step)"
    try:
        import dask.array as da
        import distributed
    except ImportError:
        return [row(case, "tinygrad_gd (dask)", note=NOT_INSTALLED)]
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  silence_logs=logging.ERROR) as cluster, distributed.Client(cluster):
        rng = da.random.default_rng(0)
        X = rng.random((n, d), chunks=(n // 20, d))
        y = X @ np.linspace(-1.0, 1.0, d) + 0.5 + 0.1 * rng.standard_normal(n, chunks=n // 20)
        X, y = X.persist(), y.persist()
        distributed.wait([X, y])
        ours = _tg_seconds_per_step(X, y, STEPS)
        peer = _dask_ml_seconds_per_step(X, y, STEPS)
    rows = [row(case, "tinygrad_gd (dask)", ours, 1.0, "one dask.compute per step")]
    if isinstance(peer, str):
        rows.append(row(case, "dask-ml LinearRegression(solver='gradient_descent')", note=peer))
    else:
        rows.append(row(case, "dask-ml LinearRegression(solver='gradient_descent')", peer, peer / ours,
                        "ratio to tinygrad_gd (dask)"))
    return rows
