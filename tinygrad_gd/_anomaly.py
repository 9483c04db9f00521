"""Anomaly mode's checks and messages: which op made NaN/inf, where, and from what.

The engine calls in here only in anomaly mode (``detect_anomaly()``), and most of this runs
only once an anomaly is found. The engine tells these functions everything they need,
including the node whose backward rule is running when an op is recorded inside it
(``create_graph=True``): nothing here inspects the engine's stack frames.

Nodes are duck-typed (``name``, ``created_at``, ``input_shapes``, ``edges``, ``out_shape``),
so this module imports nothing from the package.
"""

from __future__ import annotations

import os
import sys
import types
from collections.abc import Iterable
from typing import Any

import numpy as np

__all__ = ["user_frame", "shapes", "check_forward", "check_backward"]

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def user_frame() -> str:
    """file:line of the innermost stack frame outside this package (where the user made the op)."""
    frame: types.FrameType | None = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def shapes(values: Iterable[Any]) -> str:
    """The shapes of an op's inputs as text: ``(2, 3), (3,), float`` (constants by type)."""
    parts = []
    for v in values:
        shape = getattr(v, "shape", None)
        parts.append(str(tuple(shape)) if shape is not None else type(v).__name__)
    return ", ".join(parts)


def check_forward(out: Any, node: Any, inputs: Iterable[Any], backward_node: Any = None) -> None:
    """Raise the anomaly ``RuntimeError`` if ``node``'s forward result ``out`` holds NaN/inf.

    ``inputs`` are the arrays the op was handed, so that the message can tell an op that
    *made* NaN/inf from one that was given them. ``backward_node`` is the node whose backward
    rule recorded this op (under ``create_graph=True``), if any: then that rule is blamed.
    """
    if _is_finite_array(out):
        return
    kind = _kind(out)
    if backward_node is not None:
        message = (
            f"anomaly detected: the backward pass of {_describe_node(backward_node)} produced "
            f"{kind} (in its {node.name} step, recorded because create_graph=True)."
        )
    else:
        message = f"anomaly detected: {_describe_node(node)} produced {kind} in its forward pass."
    if not all(_is_finite_array(a) for a in inputs if a is not None):
        message += (
            " Its inputs already held NaN/inf, so the problem is upstream: check the data, or "
            "an operation done outside detect_anomaly() or on .data."
        )
    raise RuntimeError(message + _line_hint(backward_node if backward_node is not None else node))


def check_backward(grad: Any, node: Any, upstream: Any, index: int) -> None:
    """Raise the anomaly ``RuntimeError`` if the gradient ``node``'s rule computed for its input
    ``index`` holds NaN/inf; ``upstream`` is the gradient the rule received (it may be the
    culprit: a ``gradient=`` argument with NaN/inf)."""
    if _is_finite_array(grad):
        return
    message = (
        f"anomaly detected: {_describe_node(node)} produced {_kind(grad)} in its backward pass "
        f"(in the gradient for its input {index})."
    )
    if upstream is not None and not _is_finite_array(upstream):
        message += (
            " The upstream gradient it received already held NaN/inf (e.g. a gradient= "
            "argument with NaN/inf)."
        )
    raise RuntimeError(message + _line_hint(node))


def _is_finite_array(a: Any) -> bool:
    arr = np.asarray(a if isinstance(a, np.ndarray) else getattr(a, "data", a))
    if not np.issubdtype(arr.dtype, np.inexact):
        return True
    return bool(np.isfinite(arr).all())


def _kind(values: Any) -> str:
    return "NaN" if np.isnan(np.asarray(getattr(values, "data", values))).any() else "inf"


def _line_hint(blamed: Any) -> str:
    return " Look at the inputs of this op at that line." if blamed.created_at else ""


def _edge_shapes(node: Any) -> str:
    """Input shapes read from the graph, for nodes recorded outside anomaly mode."""
    parts = []
    for e in getattr(node, "edges", None) or ():
        if e is None:
            parts.append("? (no grad needed)")
        elif hasattr(e, "out_shape"):  # a node: the shape of the tensor it produced
            parts.append(str(tuple(e.out_shape)))
        else:  # a leaf tensor
            parts.append(str(tuple(e.data.shape)))
    return ", ".join(parts) or "unknown"


def _describe_node(node: Any) -> str:
    """'Sqrt created at file:line (input shapes: ...)', with a hint when the line is unknown."""
    input_shapes = getattr(node, "input_shapes", None) or _edge_shapes(node)
    if node.created_at:
        return f"{node.name} created at {node.created_at} (input shapes: {input_shapes})"
    return (
        f"{node.name} (input shapes: {input_shapes}; its forward ran outside detect_anomaly(), "
        f"so the line that created it is unknown: run the forward pass inside detect_anomaly() too)"
    )
