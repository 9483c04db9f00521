"""Figures with matplotlib (the optional extra ``plot``): loss curves on a log axis, the cost
surface J(w, b) with the gradient-descent path drawn on it, and the learning-rate sweep panel.

matplotlib is imported only when a function here is called, never when the package is
imported; without it every function raises :class:`PlotDependencyError`, whose message says
how to install it (``pip install 'tinygrad_gd[plot]'``). Figures are built with matplotlib's
object-oriented API on the Agg (PNG) canvas, so nothing here opens a window or changes the
pyplot backend of a notebook::

    from tinygrad_gd import plot
    fig = plot.loss_curves({"lr=0.1": history}, file="loss.png")

Each drawing function takes ``ax=`` to draw into an existing matplotlib Axes (see
:func:`new_figure`), and ``file=`` to save the figure as PNG (or any format matplotlib knows
from the file's extension). Each returns the matplotlib ``Figure``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import losses as _losses
from ._typing import TensorLike
from .tensor import Tensor

__all__ = [
    "INSTALL_HINT",
    "PlotDependencyError",
    "require_matplotlib",
    "new_figure",
    "save_figure",
    "loss_curves",
    "cost_surface",
    "fitted_line",
    "lr_sweep",
    "VERDICT_COLORS",
]

INSTALL_HINT = "pip install 'tinygrad_gd[plot]'"
"""The command that installs the optional plotting dependency."""

VERDICT_COLORS = {"converges": "#2e7d32", "crawls": "#ef8f00", "diverges": "#c62828"}
"""Colours of the learning-rate sweep's verdicts."""


class PlotDependencyError(ImportError):
    """matplotlib is not installed; the message says how to install it."""


def require_matplotlib() -> Any:
    """Import matplotlib (the ``matplotlib`` module) or raise :class:`PlotDependencyError`."""
    try:
        import matplotlib
        from matplotlib.figure import Figure  # noqa: F401  (the part this module uses)
    except ImportError:
        raise PlotDependencyError(
            f"plotting needs matplotlib, which is not installed: {INSTALL_HINT}"
        ) from None
    return matplotlib


def new_figure(ncols: int = 1, nrows: int = 1, *, size: tuple[float, float] | None = None) -> tuple[Any, Any]:
    """A matplotlib ``Figure`` (not registered with pyplot) and its axes: one Axes for a
    1×1 grid, else a flat array of Axes."""
    require_matplotlib()
    from matplotlib.figure import Figure

    if size is None:
        size = (5.2 * ncols, 4.2 * nrows)
    fig = Figure(figsize=size, layout="constrained")
    axes = fig.subplots(nrows, ncols, squeeze=False).reshape(-1)
    return fig, (axes[0] if axes.size == 1 else axes)


def save_figure(fig: Any, file: str | os.PathLike[str], dpi: int = 110) -> str:
    """Write ``fig`` to ``file`` (format from the extension, PNG by default); returns the path."""
    path = os.fspath(file)
    ext = os.path.splitext(path)[1].lower()
    fmt = None if ext else "png"
    options = {"pil_kwargs": {"optimize": True}} if ext in ("", ".png") else {}  # smaller PNG files
    fig.savefig(path, dpi=dpi, format=fmt, **options)
    return path


def _axes(ax: Any, size: tuple[float, float] = (6.0, 4.2)) -> tuple[Any, Any]:
    if ax is None:
        fig, ax = new_figure(size=size)
        return fig, ax
    require_matplotlib()
    return ax.figure, ax


def _finish(fig: Any, file: str | os.PathLike[str] | None) -> Any:
    if file is not None:
        save_figure(fig, file)
    return fig


def _plain_log_axis(ax: Any, axis: str = "y") -> None:
    """Log scale with tick labels as plain numbers (0.001, 0.5, 20), not 5×10⁻¹ powers."""
    from matplotlib import ticker

    current = ax.get_yscale() if axis == "y" else ax.get_xscale()
    if current != "log":
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
    target = ax.yaxis if axis == "y" else ax.xaxis
    target.set_major_formatter(ticker.FuncFormatter(_tick_text))
    lo, hi = ax.get_ylim() if axis == "y" else ax.get_xlim()
    if lo > 0 and hi / lo < 30:  # a short range has too few powers of 10: label ticks between them
        subs = (2.0, 5.0) if hi / lo > 8 else (2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0)
        target.set_minor_locator(ticker.LogLocator(subs=subs))
        target.set_minor_formatter(ticker.FuncFormatter(_tick_text))
    else:
        target.set_minor_formatter(ticker.NullFormatter())


def _tick_text(value: float, _position: Any = None) -> str:
    if value == 0 or not math.isfinite(value):
        return ""
    exponent = math.floor(math.log10(abs(value)) + 1e-9)
    if -3 <= exponent <= 4:
        return f"{value:g}"
    mantissa = value / 10**exponent
    if abs(mantissa - 1) < 1e-6:
        return f"1e{exponent}"
    return f"{mantissa:g}e{exponent}"


def _curve(values: Any) -> np.ndarray:
    """A History (its ``loss``) or a sequence of numbers as a float array."""
    values = getattr(values, "loss", values)
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    return arr


# --------------------------------------------------------------------------- loss curves
def loss_curves(
    curves: Any,
    file: str | os.PathLike[str] | None = None,
    *,
    ax: Any = None,
    title: str = "Loss during training",
    xlabel: str = "step",
    ylabel: str = "loss",
    log: bool = True,
) -> Any:
    """Loss against step, on a log y axis (a falling loss shows every decade).

    curves: a ``History``, a sequence of loss values, or a dict label → either (one line
        each, with a legend). Values ≤ 0 cannot be drawn on a log axis and are left out;
        NaN/inf (a diverged run) end the line, marked with an ×.
    """
    fig, ax = _axes(ax)
    items = curves.items() if isinstance(curves, Mapping) else [(None, curves)]
    drawn = 0
    for label, values in items:
        arr = _curve(values)
        steps = np.arange(arr.size)
        finite = np.isfinite(arr)
        keep = finite & (arr > 0) if log else finite
        (line,) = ax.plot(steps[keep], arr[keep], label=label, linewidth=1.8)
        drawn += 1
        if not finite.all() and keep.any():
            last = np.flatnonzero(keep)[-1]
            ax.plot(steps[last], arr[last], marker="x", color=line.get_color(), markersize=9, mew=2)
    if log:
        _plain_log_axis(ax)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel + (" (log scale)" if log else ""))
    ax.set_title(title)
    ax.grid(True, which="major", alpha=0.35)
    if isinstance(curves, Mapping) and drawn:
        ax.legend(frameon=False)
    return _finish(fig, file)


# --------------------------------------------------------------------------- cost surface
def _loss_function(loss: str | Callable[..., Any]) -> tuple[Callable[..., Any], str]:
    if callable(loss):
        return loss, getattr(loss, "__name__", "loss")
    if loss not in _losses.LOSSES:
        raise ValueError(f"unknown loss {loss!r}; choose one of {sorted(_losses.LOSSES)} or pass a function")
    return _losses.LOSSES[loss].fn, loss


def _short(loss_name: str) -> str:
    """A loss's name as a figure label ("binary_cross_entropy_with_logits" is too long): the
    short name its registration gives, or the name itself for an unregistered one."""
    spec = _losses.LOSSES.get(loss_name)
    return spec.short if spec is not None else loss_name


def _column(a: Any, what: str) -> np.ndarray:
    arr = np.asarray(a.data if isinstance(a, Tensor) else a, dtype=np.float64)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise ValueError(
            f"cost_surface draws J(w, b) for one feature: {what} must be (n,) or (n, 1), got shape {arr.shape}"
        )
    return arr


def _cost_grid(
    x: np.ndarray, y: np.ndarray, ws: np.ndarray, bs: np.ndarray, loss_fn: Callable[..., Any]
) -> np.ndarray:
    """J(w, b) on the grid, shape (len(bs), len(ws)): the loss of predictions w·x + b."""
    target = np.broadcast_to(y, (len(ws), len(y)))
    rows = []
    for b in bs:  # one grid row at a time keeps memory at len(ws)·n
        pred = ws[:, None] * x[None, :] + b
        per_sample = loss_fn(Tensor(pred), target, reduction="none")
        rows.append(np.asarray(per_sample.data, dtype=np.float64).mean(axis=1))
    return np.array(rows)


def _span(values: list[float], pad: float, minimum: float) -> tuple[float, float]:
    lo, hi = min(values), max(values)
    width = max(hi - lo, minimum)
    mid = (lo + hi) / 2
    return mid - width * (0.5 + pad), mid + width * (0.5 + pad)


def cost_surface(
    X: TensorLike,
    y: TensorLike,
    path: Sequence[tuple[float, float]] | np.ndarray | None = None,
    file: str | os.PathLike[str] | None = None,
    *,
    loss: str | Callable[..., Any] = "mse",
    optimum: tuple[float, float] | None = None,
    w_range: tuple[float, float] | None = None,
    b_range: tuple[float, float] | None = None,
    resolution: int = 120,
    ax: Any = None,
    title: str | None = None,
    path_label: str = "gradient descent",
) -> Any:
    """Contours of the cost J(w, b) of the one-feature model ŷ = w·x + b, with a path on it.

    X: one feature, (n,) or (n, 1); y: (n,) or (n, 1).
    path: the (w, b) pairs gradient descent visited, in order, e.g. ``History.params`` of
        ``[w, b]`` or of an ``nn.Linear(1, 1)`` model (weight (1, 1), bias (1,)); drawn as a
        line from a circle (start) to a square (end).
    loss: a name from ``losses.LOSSES`` ("mse", "half_mse", "binary_cross_entropy_with_logits",
        ...) or a function ``loss(pred, target, reduction="none")``; J is the mean of the
        per-sample losses, exactly what training minimised.
    optimum: a point to mark with a star (e.g. the closed-form least-squares answer).
    w_range, b_range: the window; by default it fits the path and the optimum.

    Contour levels are spaced evenly in log J, so both the steep walls and the flat valley
    floor show; a long, narrow valley is the picture of a badly conditioned problem (what
    ``--standardize`` fixes).
    """
    x = _column(X, "X")
    t = _column(y, "y")
    if x.shape != t.shape:
        raise ValueError(f"X has {x.shape[0]} rows but y has {t.shape[0]}")
    if x.size == 0:
        raise ValueError("cost_surface needs at least one sample")
    loss_fn, loss_name = _loss_function(loss)
    pts = _path_points(path)
    pts = pts[np.all(np.isfinite(pts), axis=1)]
    w_default, b_default = _surface_window(x, t, pts, optimum)
    w_lo, w_hi = w_range if w_range is not None else w_default
    b_lo, b_hi = b_range if b_range is not None else b_default
    ws = np.linspace(w_lo, w_hi, int(resolution))
    bs = np.linspace(b_lo, b_hi, int(resolution))
    J = _cost_grid(x, t, ws, bs, loss_fn)

    fig, ax = _axes(ax, size=(6.0, 4.8))
    _draw_cost(fig, ax, ws, bs, J, f"J(w, b), mean {_short(loss_name)} (log scale)")
    _draw_path(ax, pts, optimum, path_label)
    ax.set_xlim(ws[0], ws[-1])
    ax.set_ylim(bs[0], bs[-1])
    ax.set_xlabel("w (slope)")
    ax.set_ylabel("b (intercept)")
    ax.set_title(title or "Cost surface J(w, b) and the descent path")
    if len(pts) or optimum is not None:
        ax.legend(loc="best", fontsize=8, framealpha=0.85)
    return _finish(fig, file)


def _path_points(path: Any) -> np.ndarray:
    """The path as (k, 2) (w, b) rows: each entry a pair of numbers, or of one-element arrays
    (``History.params`` of an ``nn.Linear(1, 1)``: weight (1, 1), bias (1,))."""
    if path is None:
        return np.zeros((0, 2))
    rows = []
    for k, point in enumerate(path):
        parts = point if isinstance(point, (tuple, list, np.ndarray)) else (point,)
        numbers = np.concatenate([np.ravel(np.asarray(getattr(c, "data", c), dtype=np.float64)) for c in parts])
        if numbers.size != 2:
            shapes = [np.asarray(getattr(c, "data", c)).shape for c in parts]
            raise ValueError(
                f"cost_surface draws a path of (w, b) pairs: entry {k} holds {numbers.size} number(s) "
                f"(shapes {shapes}); pass History.params of a one-feature model with a bias "
                f"(nn.Linear(1, 1), or [w, b] of one number each)"
            )
        rows.append(numbers)
    return np.array(rows).reshape(-1, 2)


def _surface_window(
    x: np.ndarray, t: np.ndarray, pts: np.ndarray, optimum: tuple[float, float] | None
) -> tuple[tuple[float, float], tuple[float, float]]:
    """The default (w, b) window: around the path and the optimum, else the least-squares line."""
    anchor_w = [float(v) for v in pts[:, 0]] + ([float(optimum[0])] if optimum is not None else [])
    anchor_b = [float(v) for v in pts[:, 1]] + ([float(optimum[1])] if optimum is not None else [])
    if not anchor_w:  # nothing to frame: centre on the least-squares line
        design = np.c_[x, np.ones_like(x)]
        w0, b0 = np.linalg.lstsq(design, t, rcond=None)[0]
        anchor_w, anchor_b = [float(w0)], [float(b0)]
    return _span(anchor_w, 0.2, 1.0), _span(anchor_b, 0.2, 1.0)


def _draw_cost(fig: Any, ax: Any, ws: np.ndarray, bs: np.ndarray, J: np.ndarray, bar_label: str) -> None:
    """Filled contours of J, levels spaced evenly in log J, with a log colour bar."""
    from matplotlib import colors, ticker

    positive = J[np.isfinite(J) & (J > 0)]
    if not (positive.size and positive.max() > positive.min() * 1.0001):
        ax.contourf(ws, bs, J, cmap="viridis")  # a flat window (e.g. zoomed far in): plain contours
        return
    lo, hi = float(positive.min()), float(positive.max())
    levels = np.geomspace(lo, hi, 18)
    clipped = np.clip(J, lo, hi)
    filled = ax.contourf(ws, bs, clipped, levels=levels, norm=colors.LogNorm(lo, hi), cmap="viridis")
    ax.contour(ws, bs, clipped, levels=levels, colors="white", linewidths=0.4, alpha=0.6)
    bar = fig.colorbar(filled, ax=ax, shrink=0.9, ticks=ticker.LogLocator(subs=(1.0, 2.0, 5.0)))
    bar.ax.yaxis.set_major_formatter(_formatter())
    bar.ax.yaxis.set_minor_formatter(ticker.NullFormatter())
    bar.set_label(bar_label)


def _draw_path(ax: Any, pts: np.ndarray, optimum: tuple[float, float] | None, path_label: str) -> None:
    """The descent path (circle at the start, square at the end) and the optimum's star."""
    if len(pts):
        ax.plot(pts[:, 0], pts[:, 1], color="#ff5722", linewidth=1.6, label=path_label, zorder=3)
        marks = np.unique(np.geomspace(1, len(pts), num=min(len(pts), 12)).astype(int) - 1)
        ax.plot(pts[marks, 0], pts[marks, 1], "o", color="#ff5722", markersize=3.5, zorder=3)
        ax.plot(*pts[0], "o", color="white", mec="#ff5722", mew=2, markersize=9, label="start", zorder=4)
        ax.plot(*pts[-1], "s", color="#ff5722", mec="white", markersize=8,
                label=f"end (step {len(pts) - 1})", zorder=4)
    if optimum is not None:
        ax.plot(optimum[0], optimum[1], "*", color="white", mec="black", markersize=15,
                label="closed form", zorder=5)


def fitted_line(
    X: TensorLike,
    y: TensorLike,
    lines: Mapping[str, tuple[float, float]],
    file: str | os.PathLike[str] | None = None,
    *,
    ax: Any = None,
    title: str = "Data and fitted lines",
    label: str = "data",
    xlabel: str = "x",
    ylabel: str = "y",
    sigmoid: bool = False,
) -> Any:
    """Scatter the one-feature data and draw each line ŷ = w·x + b of ``lines`` (label →
    (w, b)); the first solid, the rest dashed. ``sigmoid=True`` draws σ(w·x + b) instead (a
    logistic model's probability)."""
    x, t = _column(X, "X"), _column(y, "y")
    fig, ax = _axes(ax)
    ax.scatter(x, t, s=14, alpha=0.6, color="#455a64", label=label, zorder=2)
    grid = np.linspace(float(x.min()), float(x.max()), 200) if x.size else np.zeros(0)
    styles = ["-", "--", ":", "-."]
    for k, (name, (w, b)) in enumerate(lines.items()):
        z = float(w) * grid + float(b)
        values = 0.5 * (1.0 + np.tanh(0.5 * z)) if sigmoid else z
        ax.plot(grid, values, styles[k % len(styles)], linewidth=2, label=f"{name}: w={float(w):.4g}, b={float(b):.4g}")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, frameon=False, loc="upper left" if sigmoid else "best")
    return _finish(fig, file)


# --------------------------------------------------------------------------- lr sweep
def lr_sweep(
    results: Sequence[Any],
    file: str | os.PathLike[str] | None = None,
    *,
    title: str = "Learning-rate sweep",
    optimum_loss: float | None = None,
) -> Any:
    """Two panels for a learning-rate sweep: every run's loss curve (log axis, coloured by
    verdict) and where each learning rate ended (log-log).

    results: one entry per learning rate with attributes ``lr``, ``losses`` (the loss per
        step, ending in NaN/inf if the run blew up) and ``verdict`` ("converges", "crawls"
        or "diverges"), e.g. the ``SweepResult``s of ``tinygrad_gd.sweep.sweep_learning_rates``.
    optimum_loss: the best possible loss J* (e.g. at the least-squares solution); when given,
        both panels show the excess J − J*, so a run that stalls short of the minimum
        stands apart from one that reached it.

    A diverging loss grows without bound, so the y axes stop at 100× the largest starting
    loss: a diverged run's curve leaves the top of the panel, where an × marks it.
    """
    if not results:
        raise ValueError("lr_sweep needs at least one result")
    runs = sorted(results, key=lambda r: r.lr)
    curves = [_curve(r.losses) for r in runs]
    excess = optimum_loss is not None and math.isfinite(optimum_loss)
    if optimum_loss is not None and excess:
        curves = _excess_curves(curves, optimum_loss)
    what = "loss − best possible" if excess else "loss"
    starts = [c[0] for c in curves if c.size and np.isfinite(c[0]) and c[0] > 0]
    cap = 100.0 * max(starts) if starts else 1e6
    fig, (left, right) = new_figure(2, size=(12.0, 4.6))
    _draw_sweep_curves(left, runs, curves, cap, what)
    _draw_sweep_finals(right, runs, curves, cap, what)
    if excess:
        title += f"  (best possible loss {optimum_loss:.4g})"
    fig.suptitle(title)
    return _finish(fig, file)


def _excess_curves(curves: list[np.ndarray], optimum_loss: float) -> list[np.ndarray]:
    """J − J* per curve, floored just above 0: on a log axis a linear convergence rate is a
    straight line, and a run that stalls short of the minimum (a crawl) is told apart from
    one that reached it."""
    starts = [c[0] - optimum_loss for c in curves if c.size and np.isfinite(c[0])]
    floor = 1e-16 * max(max(starts, default=1.0), abs(optimum_loss), 1e-300)
    return [np.where(np.isfinite(c), np.maximum(c - optimum_loss, floor), c) for c in curves]


def _draw_sweep_curves(ax: Any, runs: list[Any], curves: list[np.ndarray], cap: float, what: str) -> None:
    """Each run's loss per step, cut (with an ×) where it leaves the top of the panel."""
    dashes = ["-", "--", "-.", ":"]
    for k, (r, arr) in enumerate(zip(runs, curves)):
        color = VERDICT_COLORS.get(r.verdict, "#555555")
        steps = np.arange(arr.size)
        shown = np.where(np.isfinite(arr) & (arr > 0), np.minimum(arr, cap), np.nan)
        above = np.flatnonzero(~(np.isfinite(arr) & (arr <= cap)))
        if above.size:  # stop the line where it leaves the panel, and mark that step
            end = above[0]
            shown = shown[: end + 1]
            shown[end] = cap
        # the line style changes with lr, so runs with the same verdict (colour) stay apart
        ax.plot(steps[: shown.size], shown, dashes[k % len(dashes)], color=color, linewidth=1.7,
                label=f"lr={r.lr:g} ({r.verdict})")
        if above.size:
            ax.plot(above[0], cap, "x", color=color, markersize=10, mew=2.5, clip_on=False)
    ax.set_yscale("log")
    drawn = [c[np.isfinite(c) & (c > 0) & (c <= cap)] for c in curves]
    lowest = min((float(d.min()) for d in drawn if d.size), default=cap / 1e3)
    ax.set_ylim(lowest / 2, cap * 2)
    _plain_log_axis(ax)
    ax.set_xlabel("step")
    ax.set_ylabel(f"{what} (log scale)")
    ax.set_title("Loss per step (× = diverged)")
    ax.grid(True, alpha=0.35)
    ax.legend(fontsize=8, frameon=False)


def _draw_sweep_finals(ax: Any, runs: list[Any], curves: list[np.ndarray], cap: float, what: str) -> None:
    """Where each learning rate ended, on log-log axes, labelled with its verdict."""
    lrs = np.array([r.lr for r in runs], dtype=np.float64)
    finals = []
    for r, arr in zip(runs, curves):
        ok = arr[np.isfinite(arr) & (arr <= cap)]
        finals.append(cap if r.verdict == "diverges" or not ok.size else float(ok[-1]))
    finals_arr = np.array(finals)
    ax.plot(lrs, np.where(finals_arr > 0, finals_arr, np.nan), color="#9e9e9e", linewidth=1, zorder=1)
    for lr, final, r in zip(lrs, finals_arr, runs):
        color = VERDICT_COLORS.get(r.verdict, "#555555")
        diverged = r.verdict == "diverges"
        y = final if final > 0 else np.nan
        ax.plot(lr, y, "X" if diverged else "o", color=color, markersize=11, mec="black", mew=0.6, zorder=3)
        ax.annotate(r.verdict, (lr, y), textcoords="offset points", xytext=(0, -16 if diverged else 10),
                    ha="center", fontsize=9, color=color)
    ax.set_xscale("log")
    ax.margins(x=0.15, y=0.15)
    _plain_log_axis(ax)
    ax.xaxis.set_major_formatter(_formatter())
    ax.set_xlabel("learning rate (log scale)")
    ax.set_ylabel(f"final {what} (log scale)")
    ax.set_title("Where each learning rate ended")
    ax.grid(True, which="major", alpha=0.3)


def _formatter() -> Any:
    from matplotlib import ticker

    return ticker.FuncFormatter(_tick_text)
