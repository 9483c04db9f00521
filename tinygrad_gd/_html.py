"""What notebooks show: the HTML behind ``Tensor._repr_html_``, ``History._repr_html_`` and
the gradient report's ``_repr_html_``.

Imports nothing from the package (the objects are duck-typed), and matplotlib only when a
History is shown and matplotlib is installed: the loss curve is then an inline PNG (base64);
without matplotlib the same History shows as a table.
"""

from __future__ import annotations

import base64
import html
import io
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

__all__ = ["table", "tensor_html", "history_html", "loss_curve_png", "LARGE_TENSOR"]

LARGE_TENSOR = 1000
"""A tensor with more elements than this shows as a summary (shape, dtype, grad_fn, statistics)."""

_STYLE = "border-collapse:collapse;font-family:monospace;font-size:90%"
_CELL = "padding:2px 8px;border-bottom:1px solid #ddd;text-align:left"


def table(header: Sequence[str], rows: Sequence[Sequence[Any]], caption: str | None = None) -> str:
    """An HTML table (every cell escaped); ``caption`` above it."""
    head = "".join(f'<th style="{_CELL}">{html.escape(str(h))}</th>' for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td style="{_CELL}">{html.escape(str(c))}</td>' for c in row) + "</tr>" for row in rows
    )
    top = f"<caption style='text-align:left'>{html.escape(caption)}</caption>" if caption else ""
    return f'<table style="{_STYLE}">{top}<tr>{head}</tr>{body}</table>'


# --------------------------------------------------------------------------- Tensor
def _graph_words(t: Any) -> str:
    node = t.grad_fn
    if node is not None:
        return f"grad_fn=<{node.name}>"
    return "requires_grad=True (a leaf)" if t.requires_grad else "no grad"


def tensor_html(t: Any) -> str:
    """A small tensor: its repr in a ``<pre>``. A large one (more than ``LARGE_TENSOR``
    elements): shape, dtype, grad_fn and min/mean/max, never a wall of numbers."""
    if t.data.size <= LARGE_TENSOR:
        return f"<pre>{html.escape(repr(t))}</pre>"
    data = np.asarray(t.data)
    rows: list[tuple[str, Any]] = [("shape", tuple(data.shape)), ("dtype", data.dtype), ("graph", _graph_words(t))]
    if data.dtype.kind in "biuf":
        with np.errstate(all="ignore"):
            finite = data[np.isfinite(data)] if data.dtype.kind == "f" else data
            if finite.size:
                rows.append(("min / mean / max", f"{finite.min():.6g} / {finite.mean():.6g} / {finite.max():.6g}"))
            rows.append(("non-finite", int(data.size - finite.size)))
    if t._grad is not None:  # (not .grad: a non-leaf's would warn)
        rows.append(("grad", f"shape {tuple(t._grad.shape)}"))
    return table(["Tensor", f"{data.size:,} elements"], rows)


# --------------------------------------------------------------------------- History
def loss_curve_png(loss: Sequence[float]) -> str | None:
    """The loss curve (log axis when all values are positive) as a base64 PNG, or None
    without matplotlib."""
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    values = np.asarray(loss, dtype=np.float64)
    fig = Figure(figsize=(4.8, 2.6), layout="constrained")
    ax = fig.subplots()
    finite = np.isfinite(values)
    ax.plot(np.flatnonzero(finite), values[finite], linewidth=1.6)
    if finite.any() and np.all(values[finite] > 0):
        ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss")
    ax.grid(True, alpha=0.35)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=80)
    return base64.b64encode(buffer.getvalue()).decode("ascii")


def _number(value: float) -> str:
    return f"{value:.6g}" if math.isfinite(value) else str(value)


def history_html(history: Any) -> str:
    """The run's numbers as a table, and its loss curve as an inline image when matplotlib
    is installed (else a table of the loss at a few evenly spaced steps)."""
    summary = table(["History", ""], [
        ("steps", history.steps), ("epochs", history.epochs), ("stop reason", history.stop_reason),
        ("first loss", _number(history.loss[0]) if history.loss else "-"),
        ("final loss", _number(history.final_loss)), ("best loss", _number(history.best_loss)),
    ])
    if not history.loss:
        return summary
    png = loss_curve_png(history.loss)
    if png is not None:
        curve = f'<img alt="loss curve" src="data:image/png;base64,{png}"/>'
    else:
        picks = np.unique(np.linspace(0, len(history.loss) - 1, min(len(history.loss), 8)).astype(int))
        curve = table(["step", "loss"], [(int(i), _number(history.loss[i])) for i in picks])
    return f'<div style="display:flex;gap:16px;align-items:flex-start">{summary}{curve}</div>'
