"""``tg.explain``: the chain rule made visible, op by op.

After ``loss.backward(retain_graph=True)`` (or before any backward), ``tg.explain(loss)``
walks the recorded graph in backward order and shows, per op: its formula (the op class's
docstring), its output shape, the upstream gradient ∂J/∂out arriving, and the gradient it
sends to each input; it ends at each parameter's gradient and the ops it passed through, so
∂J/∂b = 1/m Σ (ŷ − y) is seen being assembled from Mul → Sum → Pow → Sub → Add::

    >>> import numpy as np, tinygrad_gd as tg
    >>> X, y = np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [6.0]])
    >>> w, b = tg.zeros((1, 1), requires_grad=True), tg.zeros((), requires_grad=True)
    >>> loss = (1 / (2 * 3)) * ((X @ w + b - y) ** 2).sum()
    >>> loss.backward(retain_graph=True)
    >>> tg.explain(loss, {"w": w, "b": b}).op_names
    ['Mul', 'Sum', 'Pow', 'Sub', 'Add', 'MatMul']

Explain re-runs the backward rules itself over the retained graph (the same rules as
``backward()``, on arrays), so ordinary backward passes pay nothing for it and no ``.grad``
changes. ``str()`` is a terminal table (at most 100 columns; arrays of more than four values
are summarised by shape, mean, min and max), ``_repr_html_`` the same as an HTML table for
notebooks. ``tinygrad-gd explain`` prints it for the 1/(2m) cost on the built-in data.
"""

from __future__ import annotations

import html
import sys
import textwrap
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from . import autograd, data
from ._typing import TensorLike
from .autograd import Function, GraphTensor, no_grad
from .tensor import Tensor

__all__ = ["explain", "explain_builtin", "Explanation", "ExplainStep", "SentGradient", "ParameterPath"]

WIDTH = 100  # the widest line of str(Explanation)
_SHOWN_VALUES = 4  # arrays with more elements are summarised


# --------------------------------------------------------------------------- the result
@dataclass(frozen=True)
class SentGradient:
    """The gradient one op sends to one of its inputs: ``to`` is the input's label (``"[3] Sub"``
    for an op, the parameter's name for a leaf), ``shape`` its shape, ``gradient`` the array
    (summed back over broadcast axes: ∂J/∂input through this op)."""

    to: str
    shape: tuple[int, ...]
    gradient: np.ndarray


@dataclass(frozen=True)
class ExplainStep:
    """One op of the backward pass: ``index`` (1 = the op that made the loss), ``op`` (its
    name), ``formula`` (its docstring: f and its derivatives), ``out_shape``, ``upstream``
    (∂J/∂out arriving from its consumers) and ``sent`` (one :class:`SentGradient` per input
    that requires grad)."""

    index: int
    op: str
    formula: str
    out_shape: tuple[int, ...]
    upstream: np.ndarray
    sent: tuple[SentGradient, ...]

    @property
    def label(self) -> str:
        return f"[{self.index}] {self.op}"


@dataclass(frozen=True)
class ParameterPath:
    """Where the backward pass ends: a leaf's ``gradient`` as explain computed it, its
    ``.grad`` now (None before a backward), and ``path``: the ops its gradient passed
    through, in backward order."""

    name: str
    shape: tuple[int, ...]
    gradient: np.ndarray
    grad: np.ndarray | None
    path: tuple[str, ...]

    @property
    def matches_grad(self) -> bool:
        """Whether ``.grad`` holds exactly this gradient (False when gradients accumulated
        over several backward calls, or before any)."""
        return self.grad is not None and bool(np.allclose(self.grad, self.gradient, rtol=1e-12, atol=0.0))


@dataclass(frozen=True)
class Explanation:
    """What :func:`explain` found: ``steps`` in backward order and ``parameters``; ``str()``
    is the terminal table, ``_repr_html_()`` the notebook one."""

    loss: float
    steps: tuple[ExplainStep, ...]
    parameters: tuple[ParameterPath, ...]

    @property
    def op_names(self) -> list[str]:
        """The ops' names in backward order."""
        return [s.op for s in self.steps]

    def __getitem__(self, name: str) -> ParameterPath:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter named {name!r}; the parameters are {[p.name for p in self.parameters]}")

    def __str__(self) -> str:
        return "\n".join(_text_lines(self))

    def __repr__(self) -> str:
        return f"<Explanation of a loss {self.loss:.6g}: {' → '.join(self.op_names)}>"

    def _repr_html_(self) -> str:
        return _html(self)


# --------------------------------------------------------------------------- explain
def explain(loss: GraphTensor, params: Any = None) -> Explanation:
    """The backward pass of ``loss`` op by op (see the module docstring).

    ``loss``: a one-element Tensor whose graph is still there: call
    ``loss.backward(retain_graph=True)`` first, or explain before ``backward()``.
    ``params``: the leaves to end at — a dict name → Tensor, a list of Tensors (named after
    the caller's variables that hold them), a Module (its named parameters), or None for
    every leaf that requires grad. No ``.grad`` is changed.
    """
    _check_loss(loss)
    given = _named_leaves(params, sys._getframe(1))
    names = {id(t): name for name, t in given}
    order = autograd._topological_order([loss._node])
    _check_retained(order)
    labels: dict[int, str] = {id(node): f"[{i}] {node.name}" for i, node in enumerate(order, 1)}
    grads: dict[int, Any] = {id(loss._node): np.ones(loss.shape, dtype=loss.dtype)}
    leaves: dict[int, GraphTensor] = {}
    steps = []
    with no_grad():
        for i, node in enumerate(order, 1):
            upstream = grads.pop(id(node), None)
            if upstream is None:
                continue
            input_grads = autograd._node_gradients(node, upstream, False, False, [])
            sent = _send(node, input_grads, grads, labels, names, leaves)
            steps.append(ExplainStep(i, node.name, _formula(node), tuple(node.out_shape), np.asarray(upstream), sent))
    wanted = [t for _, t in given] if params is not None else list(leaves.values())
    reach = _reaching(order, leaves)
    parameters = tuple(_parameter(t, names, grads, reach, order) for t in wanted)
    return Explanation(float(loss.data.reshape(())), tuple(steps), parameters)


def _check_loss(loss: Any) -> None:
    if not isinstance(loss, GraphTensor):
        raise TypeError(f"tg.explain expects the loss Tensor, got {type(loss).__name__}")
    if loss._node is None:
        raise ValueError(
            "tg.explain: this tensor was not computed by any recorded op (a leaf, or computed "
            "under no_grad() or from tensors that need no grad): there is no graph to explain"
        )
    if loss.data.size != 1:
        raise ValueError(
            f"tg.explain needs a one-element loss, got shape {loss.shape}; reduce it first "
            f"(.mean() or .sum())"
        )


def _check_retained(order: list[Function]) -> None:
    for node in order:
        if node.released:
            raise RuntimeError(
                f"tg.explain needs the values the graph saved for backward, but a backward() "
                f"without retain_graph=True already freed them ({node.name} was released). Call "
                f"loss.backward(retain_graph=True) before tg.explain(loss), or call "
                f"tg.explain(loss) before loss.backward() (it does not change .grad)."
            )


def _send(
    node: Function,
    input_grads: tuple[Any, ...],
    grads: dict[int, Any],
    labels: dict[int, str],
    names: dict[int, str],
    leaves: dict[int, GraphTensor],
) -> tuple[SentGradient, ...]:
    """Accumulate each input's gradient (summed back to its shape, as the engine does) and
    return what this node sent."""
    sent = []
    for edge, g in zip(node.edges or (), input_grads):
        if edge is None or g is None:
            continue
        if isinstance(edge, Function):
            shape, dtype, label = tuple(edge.out_shape), edge.out_dtype, labels[id(edge)]
        else:
            shape, dtype = edge.data.shape, edge.data.dtype
            leaves.setdefault(id(edge), edge)
            label = names.get(id(edge)) or f"leaf {shape}"
        g = np.asarray(autograd.unbroadcast(g, shape), dtype=dtype)
        previous = grads.get(id(edge))
        grads[id(edge)] = g if previous is None else previous + g
        sent.append(SentGradient(label, shape, g))
    return tuple(sent)


def _formula(node: Function) -> str:
    """The first paragraph of the op's docstring, on one line."""
    doc = type(node).__doc__ or ""
    paragraph = doc.strip().split("\n\n")[0]
    return " ".join(paragraph.split()) or "(no docstring)"


def _named_leaves(params: Any, caller: Any) -> list[tuple[str, GraphTensor]]:
    """(name, tensor) pairs: a dict's, a Module's, or a list's named after the caller's
    variables holding them; for None, the caller's variables holding leaves that require grad."""
    if params is None:
        return [(name, t) for t, name in _variable_names(caller, None).values()]
    if hasattr(params, "named_parameters"):
        params = dict(params.named_parameters())
    if isinstance(params, GraphTensor):
        params = [params]
    if isinstance(params, Mapping):
        pairs = list(params.items())
    else:
        tensors = list(params)
        found = _variable_names(caller, tensors)
        pairs = [(found[id(t)][1] if id(t) in found else f"params[{k}]", t) for k, t in enumerate(tensors)]
    for name, t in pairs:
        if not isinstance(t, GraphTensor):
            raise TypeError(f"tg.explain: parameter {name!r} is a {type(t).__name__}, not a Tensor")
    return [(str(name), t) for name, t in pairs]


def _variable_names(frame: Any, tensors: list[Any] | None) -> dict[int, tuple[Any, str]]:
    """id → (tensor, name) for the caller's local (then global) variables that hold tensors
    (those of ``tensors``, or any leaf that requires grad when None)."""
    wanted = None if tensors is None else {id(t) for t in tensors}
    found: dict[int, tuple[Any, str]] = {}
    for scope in (frame.f_locals, frame.f_globals):
        for name, value in scope.items():
            if not isinstance(value, GraphTensor) or name.startswith("_") or id(value) in found:
                continue
            if (wanted is None and value._node is None and value.requires_grad) or (wanted and id(value) in wanted):
                found[id(value)] = (value, name)
    return found


def _reaching(order: list[Function], leaves: dict[int, GraphTensor]) -> dict[int, set[int]]:
    """id(leaf) → the ids of the nodes from which that leaf is reached (its gradient's path)."""
    reach: dict[int, set[int]] = {leaf: set() for leaf in leaves}
    below: dict[int, set[int]] = {}  # id(node) → ids of the leaves it reaches
    for node in reversed(order):  # inputs before their consumers
        mine: set[int] = set()
        for edge in node.edges or ():
            if edge is None:
                continue
            mine |= below.get(id(edge), set()) if isinstance(edge, Function) else {id(edge)}
        below[id(node)] = mine
        for leaf in mine:
            reach[leaf].add(id(node))
    return reach


def _parameter(
    t: GraphTensor, names: dict[int, str], grads: dict[int, Any], reach: dict[int, set[int]], order: list[Function]
) -> ParameterPath:
    path = tuple(node.name for node in order if id(node) in reach.get(id(t), ()))
    grad = None if t.grad is None else np.array(t.grad.data)
    name = names.get(id(t)) or f"leaf {t.shape}"
    gradient = grads.get(id(t), np.zeros(t.shape, dtype=t.data.dtype))  # zeros: not used by the loss
    return ParameterPath(name, tuple(t.shape), gradient, grad, path)


# --------------------------------------------------------------------------- the update-rule tutorial on the built-in data
def explain_builtin(name: str = "line", w: TensorLike = 0.0, b: TensorLike = 0.0) -> Explanation:
    """:func:`explain` of the 1/(2m) cost J = (1/(2m)) Σ (X w + b − y)² on the built-in
    regression dataset ``name`` (``tg.data.BUILTIN_DATASETS``), at ``w`` (every weight) and
    ``b``: what ``tinygrad-gd explain`` prints."""
    X, y = data.load_builtin(name)
    if data.BUILTIN_DATASETS[name].task != "regression":
        raise data.DataError(f"explain uses a regression dataset (the 1/(2m) cost), not {name!r}")
    m = X.shape[0]
    weights = Tensor(np.full((X.shape[1], 1), float(np.asarray(w))), requires_grad=True)
    bias = Tensor(float(np.asarray(b)), requires_grad=True)
    loss = (1 / (2 * m)) * ((X @ weights + bias - y) ** 2).sum()
    loss.backward(retain_graph=True)
    return explain(loss, {"w": weights, "b": bias})


# --------------------------------------------------------------------------- text
def _values(a: np.ndarray) -> str:
    """A small array's values, or a summary by shape, mean, min and max."""
    a = np.asarray(a, dtype=np.float64)
    if a.size <= _SHOWN_VALUES:
        flat = ", ".join(f"{v:.4g}" for v in a.reshape(-1))
        return flat if a.ndim == 0 else f"[{flat}]"
    return f"mean {a.mean():.4g}, min {a.min():.4g}, max {a.max():.4g}"


def _shape(shape: tuple[int, ...]) -> str:
    return str(tuple(shape))


def _wrapped(prefix: str, text: str) -> list[str]:
    return textwrap.wrap(text, WIDTH, initial_indent=prefix, subsequent_indent=" " * len(prefix)) or [prefix]


def _text_lines(e: Explanation) -> list[str]:
    lines = [
        f"tg.explain: the backward pass of J = {e.loss:.6g}, {len(e.steps)} ops in backward order",
        "  upstream: ∂J/∂out arriving at the op; → input: the gradient it sends on (∂J/∂input)",
    ]
    for s in e.steps:
        lines.append("")
        lines += _wrapped(f"{s.label}  out {_shape(s.out_shape)}  ", s.formula)
        lines += _wrapped("    upstream  ", _values(s.upstream))
        for g in s.sent:
            lines += _wrapped(f"    → {g.to} {_shape(g.shape)}  ", _values(g.gradient))
    lines += ["", "parameters (∂J/∂parameter, and the ops its gradient passed through):"]
    for p in e.parameters:
        lines += _wrapped(f"  {p.name} {_shape(p.shape)}  ", f"∂J/∂{p.name} = {_values(p.gradient)}; {_grad_words(p)}")
        lines += _wrapped("      path  ", " → ".join(("J", *p.path, p.name)))
    return lines


def _grad_words(p: ParameterPath) -> str:
    if p.grad is None:
        return f"{p.name}.grad is None (no backward() yet: it would put this there)"
    if p.matches_grad:
        return f"{p.name}.grad holds exactly this"
    return (
        f"{p.name}.grad holds {_values(p.grad)}: gradients accumulate over backward() calls; "
        f"set {p.name}.grad = None (or optimizer.zero_grad()) before each backward"
    )


# --------------------------------------------------------------------------- HTML
def _html(e: Explanation) -> str:
    esc = html.escape
    rows = []
    for s in e.steps:
        sent = "<br>".join(f"→ {esc(g.to)} {esc(_shape(g.shape))}: {esc(_values(g.gradient))}" for g in s.sent)
        cells = (s.label, s.formula, _shape(s.out_shape), _values(s.upstream))
        rows.append("<tr>" + "".join(f"<td>{esc(c)}</td>" for c in cells) + f"<td>{sent}</td></tr>")
    params = "".join(
        f"<tr><td>{esc(p.name)}</td><td>{esc(_shape(p.shape))}</td><td>{esc(_values(p.gradient))}</td>"
        f"<td>{esc(_grad_words(p))}</td><td>{esc(' → '.join(('J', *p.path, p.name)))}</td></tr>"
        for p in e.parameters
    )
    return (
        f"<p><b>tg.explain</b>: the backward pass of J = {e.loss:.6g}, in backward order</p>"
        "<table><tr><th>op</th><th>formula</th><th>out shape</th><th>upstream ∂J/∂out</th>"
        f"<th>sent to each input</th></tr>{''.join(rows)}</table>"
        "<table><tr><th>parameter</th><th>shape</th><th>∂J/∂parameter</th><th>.grad</th>"
        f"<th>path</th></tr>{params}</table>"
    )
