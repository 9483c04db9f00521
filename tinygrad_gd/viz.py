"""Pictures without dependencies: the recorded graph as Graphviz DOT text, and a loss curve as
a one-line terminal sparkline.

``to_dot`` returns text only; render it with any Graphviz tool (``dot -Tpng graph.dot -o
graph.png``) or an online viewer. In a notebook, ``draw(loss)`` returns a ``graphviz.Source``
that displays itself (the way micrograd users draw graphs); it needs the ``graphviz`` Python
package (the optional extra ``graph``) and imports it only when called. Nothing here imports
matplotlib::

    >>> import tinygrad_gd as tg
    >>> w = tg.Tensor([[0.5]], requires_grad=True)
    >>> loss = ((tg.Tensor([[1.0], [2.0]]) @ w - 2.0) ** 2).mean()
    >>> print(tg.viz.to_dot(loss, params={"w": w}).splitlines()[0])
    digraph tinygrad_gd {
    >>> tg.viz.sparkline([100.0, 10.0, 1.0, 0.1], width=4)
    '█▆▃▁'
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from ._validate import is_integer
from .autograd import Function, GraphTensor

__all__ = ["to_dot", "draw", "sparkline", "SPARK_CHARS", "GRAPH_INSTALL_HINT"]

GRAPH_INSTALL_HINT = "pip install 'tinygrad_gd[graph]'"
"""The command that installs the optional ``graphviz`` Python package that :func:`draw` uses."""

SPARK_CHARS = "▁▂▃▄▅▆▇█"
"""The eight block characters of a sparkline, lowest to highest."""

_LEAF_STYLE = 'shape=box, style="rounded,filled", fillcolor="#cfe2f3", color="#3d85c6"'
_OP_STYLE = 'shape=ellipse, style=filled, fillcolor="#eeeeee", color="#666666"'
_ROOT_STYLE = 'shape=ellipse, style=filled, fillcolor="#fce5cd", color="#e69138", penwidth=2'
_ROOT_LEAF_STYLE = 'shape=box, style="rounded,filled", fillcolor="#fce5cd", color="#e69138", penwidth=2'


def _quote(text: str) -> str:
    """A DOT double-quoted string: backslashes and quotes escaped, newlines as DOT's ``\\n``."""
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'


def _shape(shape: tuple[int, ...]) -> str:
    return "(" + ", ".join(str(s) for s in shape) + ("," if len(shape) == 1 else "") + ")"


def _values(a: np.ndarray, limit: int) -> str:
    """The array's values when it has at most ``limit`` elements, else ''."""
    if a.size == 0 or a.size > limit:
        return ""
    flat = ", ".join(f"{float(v):.4g}" for v in np.asarray(a, dtype=np.float64).reshape(-1))
    return flat if a.size == 1 else f"[{flat}]"


def _grad_line(grad: Any, limit: int) -> str:
    if grad is None:
        return ""
    g = np.asarray(grad.data if isinstance(grad, GraphTensor) else grad)
    shown = _values(g, limit)
    return f"grad {_shape(g.shape)}" + (f" = {shown}" if shown else "")


def to_dot(
    tensor: GraphTensor,
    params: Mapping[str, Any] | None = None,
    *,
    title: str | None = None,
    rankdir: str = "BT",
    max_values: int = 4,
) -> str:
    """The graph recorded behind ``tensor`` as Graphviz DOT text (no graphviz needed).

    Every op node shows its name and output shape; every leaf tensor that requires grad
    shows its shape and dtype. A gradient is shown where one is present: a leaf's ``.grad``
    after ``backward()``, and a non-leaf's after ``retain_grad()`` (its value too when it has
    at most ``max_values`` elements). Leaves are blue rounded boxes, ops grey ellipses, and
    ``tensor`` itself is outlined in orange. Constants (numbers, arrays, tensors that need
    no grad) are not part of the recorded graph and are not drawn.

    params: optional names for leaf tensors, e.g. ``{"w": w, "b": b}`` (as torchviz's
        ``make_dot``); unnamed leaves are labelled "leaf".
    title: a graph label drawn at the top.
    rankdir: Graphviz layout direction: "BT" (inputs at the bottom, the default), "TB",
        "LR" or "RL".

    Edges point from each input to the op that consumed it, so reading along the arrows is
    the forward pass and against them the backward pass. An input used twice (``x * x``)
    gets two edges.
    """
    if not isinstance(tensor, GraphTensor):
        raise TypeError(f"to_dot expects a Tensor, got {type(tensor).__name__}")
    if rankdir not in ("BT", "TB", "LR", "RL"):
        raise ValueError(f"rankdir must be one of 'BT', 'TB', 'LR', 'RL', got {rankdir!r}")
    leaf_names: dict[int, str] = {}
    for name, t in (params or {}).items():
        if not isinstance(t, GraphTensor):
            raise TypeError(f"params[{name!r}] is a {type(t).__name__}, not a Tensor")
        leaf_names[id(t)] = str(name)

    graph = _walk(tensor._node if tensor._node is not None else tensor)
    lines = [
        "digraph tinygrad_gd {",
        f"  rankdir={rankdir};",
        '  node [fontname="Helvetica", fontsize=11];',
        '  edge [color="#555555", arrowsize=0.7];',
    ]
    if title:
        lines.append(f"  labelloc=t; fontname=\"Helvetica\"; label={_quote(title)};")
    for item in graph.nodes:
        label, style = _node_label(item, tensor, graph.nodes[0], leaf_names, max_values)
        lines.append(f"  {graph.ids[id(item)]} [label={_quote(label)}, {style}];")
    for src, dst in graph.edges:
        lines.append(f"  {src} -> {dst};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(tensor: GraphTensor, params: Mapping[str, Any] | None = None, **options: Any) -> Any:
    """The graph behind ``tensor`` as a ``graphviz.Source`` (shown as a picture in a notebook;
    ``.render("graph", format="png")`` writes a file). Arguments as :func:`to_dot`.

    Needs the ``graphviz`` Python package (``pip install 'tinygrad_gd[graph]'``; rendering
    also needs Graphviz's ``dot`` program); without it an ``ImportError`` says so and points
    to ``to_dot``, which needs nothing.
    """
    dot = to_dot(tensor, params, **options)
    try:
        import graphviz
    except ImportError:
        raise ImportError(
            f"tg.viz.draw needs the graphviz Python package, which is not installed: {GRAPH_INSTALL_HINT} "
            f"(tg.viz.to_dot(loss) gives the same graph as DOT text without it)"
        ) from None
    return graphviz.Source(dot)


@dataclass
class _Graph:
    """The recorded graph behind a tensor: its nodes (Functions and leaf Tensors, the root
    first, in discovery order), their DOT ids, and one edge per input use, input to consumer."""

    nodes: list[Any] = field(default_factory=list)
    ids: dict[int, str] = field(default_factory=dict)
    edges: list[tuple[str, str]] = field(default_factory=list)

    def add(self, node: Any) -> bool:
        """Give ``node`` the next id; False when it already has one."""
        if id(node) in self.ids:
            return False
        self.ids[id(node)] = f"n{len(self.ids)}"
        self.nodes.append(node)
        return True


def _walk(root: Any) -> _Graph:
    graph = _Graph()
    graph.add(root)
    stack = [root]
    while stack:  # iterative: deep graphs are fine
        item = stack.pop()
        if not isinstance(item, Function):
            continue
        for parent in item.edges:
            if parent is None:
                continue
            if graph.add(parent):
                stack.append(parent)
            graph.edges.append((graph.ids[id(parent)], graph.ids[id(item)]))
    return graph


def _node_label(item: Any, tensor: Any, root: Any, leaf_names: Mapping[int, str], max_values: int) -> tuple[str, str]:
    """The DOT label and style of one node: an op's name, shape and (retained) gradient, or a
    leaf's name, shape, dtype and ``.grad``; the root also shows ``tensor``'s value."""
    is_root = item is root
    if isinstance(item, Function):
        parts = [item.name, _shape(item.out_shape)]
        if is_root:
            parts.append(_grad_line(tensor._grad, max_values))  # (.grad of a non-leaf warns)
            if tensor.data.size <= max_values:
                parts.append(f"value {_values(tensor.data, max_values)}")
        elif item.retain_ref is not None:
            retained = item.retain_ref()
            if retained is not None:
                parts.append(_grad_line(retained.grad, max_values))
        style = _ROOT_STYLE if is_root else _OP_STYLE
    else:
        name = leaf_names.get(id(item), "leaf")
        parts = [f"{name} {_shape(item.shape)} {item.data.dtype}", _grad_line(item.grad, max_values)]
        style = _ROOT_LEAF_STYLE if is_root else _LEAF_STYLE
    return "\n".join(p for p in parts if p), style


def sparkline(values: Sequence[float] | np.ndarray, width: int = 40, log: bool = True) -> str:
    """A one-line picture of ``values`` (e.g. a loss curve) in the block characters ▁▂▃▄▅▆▇█.

    The curve is resampled to at most ``width`` characters (each the value at evenly spaced
    steps, first and last included). With ``log=True`` heights follow log10 of the values,
    so a loss falling from 10 to 1e-6 shows every decade, not one cliff; values ≤ 0 are drawn
    at the smallest positive value. NaN or infinite values are drawn as ``!`` (a diverged
    run). An empty input gives ''. A constant curve is a flat line of ▁.
    """
    if not (is_integer(width) and width >= 1):
        raise ValueError(f"width must be a positive integer, got {width!r}")
    arr = np.asarray(values, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        return ""
    if arr.size > width:
        arr = arr[np.round(np.linspace(0, arr.size - 1, int(width))).astype(int)]
    finite = np.isfinite(arr)
    heights = arr.copy()
    if log:
        positive = heights[finite & (heights > 0)]
        floor = positive.min() if positive.size else 1.0
        heights = np.where(finite, np.log10(np.maximum(heights, floor)), np.nan)
    lo = np.nanmin(np.where(finite, heights, np.nan)) if finite.any() else 0.0
    hi = np.nanmax(np.where(finite, heights, np.nan)) if finite.any() else 0.0
    span = hi - lo
    chars = []
    for h, ok in zip(heights, finite):
        if not ok:
            chars.append("!")
            continue
        level = 0 if span <= 0 or not math.isfinite(span) else int(round((h - lo) / span * 7))
        chars.append(SPARK_CHARS[min(max(level, 0), 7)])
    return "".join(chars)
