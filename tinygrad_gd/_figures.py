"""The command line's figures (``--plot``), composed from ``plot``'s panels.

Each function draws one command's figure and writes it to ``path`` (matplotlib is imported
only here and in ``plot``, and only when a figure is asked for).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import numpy as np

from . import losses

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from ._demo import DemoLine
    from ._fit_report import FitReport
    from .estimators import _Problem
    from .sweep import _Sweep

__all__ = ["demo_figure", "fit_figure", "sweep_figure"]


def _short(loss_name: str) -> str:
    """The loss's name in figure labels, as its registration gives it."""
    return losses.LOSSES[loss_name].short


def demo_figure(line: DemoLine, noisy: DemoLine, path: str) -> str:
    """Three panels: the noisy line's data and fits, both loss curves, the cost surface."""
    from . import plot

    fig, axes = plot.new_figure(3, size=(17.0, 4.8))
    plot.fitted_line(noisy.X, noisy.y, {"gradient descent": (noisy.w, noisy.b),
                                        "closed form": (noisy.coef, noisy.intercept)},
                     ax=axes[0], title="Noisy line: data and fitted lines", label="200 noisy points")
    axes[0].scatter(line.X[:, 0], line.y[:, 0], s=60, marker="D", color="#d81b60", zorder=4,
                    label="the three points on y = 2x")
    axes[0].legend(fontsize=8, frameon=False)
    plot.loss_curves({"the line y = 2x: half-MSE (minimum 0)": line.history,
                      "noisy line: MSE": noisy.history,
                      "noisy line: MSE − least-squares MSE": noisy.excess},
                     ax=axes[1], title="Loss during gradient descent")
    plot.cost_surface(noisy.X, noisy.y, noisy.path, loss=noisy.loss_name,
                      optimum=(noisy.coef, noisy.intercept), ax=axes[2],
                      title="Noisy line: cost surface J(w, b) and the descent path")
    return plot.save_figure(fig, path, dpi=100)


def _predicted_against_actual(ax: Any, problem: _Problem, pred: np.ndarray, target: str) -> None:
    ax.scatter(problem.y, pred, s=12, alpha=0.6, color="#455a64")
    lo, hi = float(min(problem.y.min(), pred.min())), float(max(problem.y.max(), pred.max()))
    ax.plot([lo, hi], [lo, hi], "--", color="#c62828", linewidth=1, label="perfect prediction")
    ax.set_xlabel(f"actual {target}")
    ax.set_ylabel(f"predicted {target}")
    ax.set_title("Predicted against actual")
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, frameon=False)


def fit_figure(report: FitReport, path: str) -> str:
    """The loss curve; with one feature also the data with the fitted model and the cost
    surface with the descent path; with several (linear) predicted against actual."""
    from . import plot

    problem, run, history = report.problem, report.run, report.history
    one_feature = problem.X.shape[1] == 1 and problem.outputs == 1
    panels = 3 if one_feature else (2 if problem.kind == "linear" else 1)
    fig, axes = plot.new_figure(panels, size=(5.6 * panels, 4.6))
    axes = np.atleast_1d(axes)
    name = _short(problem.loss_name)
    curves: dict[str, Any] = {f"{name} per step": history}
    best = report.excess_reference
    if best is not None and best > 1e-12 * history.loss[0]:
        curves[f"{name} − least-squares {name}"] = [v - best for v in history.loss]
    plot.loss_curves(curves, ax=axes[0], title="Loss during gradient descent")
    cf = report.evaluation.closed_form
    if one_feature:
        lines = {"gradient descent": (run.weight[0][0], run.bias[0])}
        if cf is not None:
            lines["closed form"] = (cf.coef[0], cf.intercept)
        target = problem.y if problem.kind == "linear" else problem.target[:, 0]
        plot.fitted_line(problem.X, target, lines, ax=axes[1], xlabel=report.features[0], ylabel=report.target,
                         title="Data and fitted model", sigmoid=problem.kind == "logistic")
        optimum = (cf.coef[0], cf.intercept) if cf is not None else None
        plot.cost_surface(problem.X, problem.target, run.path(), loss=problem.loss_name, optimum=optimum, ax=axes[2],
                          title=f"Cost surface J(w, b) ({name}) and the descent path")
    elif problem.kind == "linear":
        _predicted_against_actual(axes[1], problem, problem.X @ run.weight[0] + run.bias[0], report.target)
    return plot.save_figure(fig, path)


def sweep_figure(sweep: _Sweep, problem: _Problem, source: str, path: str) -> str:
    """Every learning rate's loss curve, and where each ended."""
    from . import plot

    fig = plot.lr_sweep(sweep.results, title=f"Learning-rate sweep: {source}, {problem.kind} model, "
                        f"{_short(problem.loss_name)}", optimum_loss=sweep.best_possible_loss)
    return plot.save_figure(fig, path)
