"""The engine: graph nodes, the iterative backward pass, and its entry points.

The engine knows no specific operation. Every differentiable primitive is a subclass of
:class:`Function` (see ``ops``) with a ``forward`` on numpy arrays and a ``backward``
written with operations that work on numpy arrays *and* on Tensors. A first-order backward
runs the rules on raw arrays; ``create_graph=True`` runs the very same rules on Tensors,
which records them, so higher derivatives need no second set of rules.

Read in this order: ``Function.apply`` records one op (forward); ``backward``/``grad``
seed a pass; ``_run_backward`` walks ``_topological_order`` calling ``_node_gradients``
and ``_send`` per node. Around it, in their own modules: grad and anomaly mode
(``_modes``), the tensor side the engine reads and writes (``_graph_tensor``:
``GraphTensor``, version counters, seeds) and anomaly mode's checks (``_anomaly``).
The engine never imports ``tensor.py``; output tensors are created with ``type(input)``.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

import numpy as np

from . import _anomaly, _backend, _broadcast_trap, _modes
from ._graph_tensor import (
    GraphTensor,
    as_grad,
    check_versions,
    require_differentiable,
    saved_as_tensors,
    seed_gradient,
    track_saved,
    view_version_box,
)

# Re-exported for tensor.py's in-place checks and the optimizers' updates (not in __all__).
from ._graph_tensor import bump_version as bump_version
from ._graph_tensor import memory_sharers as memory_sharers
from ._graph_tensor import share_version_box as share_version_box
from ._modes import *  # noqa: F403 (re-exported: no_grad, enable_grad, set_grad_enabled, detect_anomaly, ...)
from ._modes import state as _state

# tg.compile's hooks and unbroadcast, re-exported (importable from here, as before).
from ._tracing import TracingError as TracingError
from ._tracing import check_not_tracing as check_not_tracing
from ._tracing import refuse_in_trace as refuse_in_trace
from ._tracing import tracer as tracer
from ._tracing import tracing as tracing
from ._typing import TensorLike
from ._unbroadcast import unbroadcast

__all__ = ["Function", "GraphTensor", "backward", "grad", "unbroadcast", *_modes.__all__]


# --------------------------------------------------------------------------- functions
# (The registry of primitives, ``ops.OPS`` and ``ops.register_op``, lives in the ops package.)
# --------------------------------------------------------------------------- tracing (tg.compile)
_tracer: Any = None
"""While ``tg.compile`` traces, the object that receives every op that runs (``record``);
None otherwise. One global read per op (here, where ``Function.apply`` reads it); the hooks
that set and check it are in ``_tracing``."""


class Function:
    """Base of every differentiable primitive; an instance is one node of the graph.

    Subclasses define ``forward(self, *arrays, **options) -> ndarray`` on numpy arrays and
    ``backward(self, grad)`` returning one gradient (or ``None``) per input. ``self`` is the
    context: ``save_for_backward`` keeps what ``backward`` needs, ``needs_input_grad`` says
    which gradients are wanted. The engine undoes broadcasting and casts gradients to each
    input's dtype, so rules may return gradients in the broadcast output shape.

    A node links to its *parents' nodes* (or to leaf tensors), not to intermediate tensors:
    an intermediate result the user dropped is freed unless a node saved it for backward.
    """

    __slots__ = (
        "edges",
        "needs_input_grad",
        "saved",
        "saved_from",
        "checks",
        "released",
        "created_at",
        "out_shape",
        "out_dtype",
        "out_type",
        "retain_ref",
        "input_shapes",
    )

    # The engine sets these in ``apply`` and reads them in backward; the
    # declarations are for readers and the type checker. ``edges`` is None on a node that was
    # not recorded (no input requires grad); the backward pass only meets recorded nodes.
    edges: list[Any]
    needs_input_grad: list[bool]
    saved: tuple[Any, ...]
    saved_from: tuple[Any, ...]
    checks: tuple[tuple[list[int], int], ...]
    released: bool
    created_at: str | None
    out_shape: tuple[int, ...]
    out_dtype: np.dtype
    out_type: type
    retain_ref: Any
    input_shapes: Any

    returns_view = False  # True for ops whose output may be a view of an input's memory
    # Backends (``_backend.backend_name``) this op cannot run on, each with the reason (what
    # the Array API standard lacks): apply raises a TypeError naming the op and the backend.
    unsupported_backends: dict[str, str] = {}

    def save_for_backward(self, *values: Any) -> None:
        """Keep arrays (inputs, the output or intermediates) for ``backward``."""
        self.saved = values

    def forward(self, *args: Any, **kwargs: Any) -> np.ndarray:  # pragma: no cover - abstract
        raise NotImplementedError

    def backward(self, grad: Any) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    @property
    def name(self) -> str:
        return type(self).__name__

    @classmethod
    def apply(cls, *args: Any, **kwargs: Any) -> Any:
        """Run the forward on the inputs' arrays and, when recording, link the result into
        the graph. ``args`` are tensors or constants (Python numbers, numpy arrays)."""
        # The hot path of every operation: one helper call, plain loops and attribute writes.
        state = _state
        node = cls.__new__(cls)
        node.saved = ()
        datas = _read_inputs(node, args)  # also sets node.out_type, and node.edges (or None)
        anomaly = state.anomaly
        if anomaly:
            node.created_at = _anomaly.user_frame()
            node.input_shapes = _anomaly.shapes(datas)
        out = node.forward(*datas, **kwargs)
        if type(out) is not np.ndarray and isinstance(out, _NUMPY_SCALARS):
            # numpy returns scalars from 0-d operations; the tensor holds an array, and what
            # forward saved must be that same array (saved-output tracking is by identity).
            scalar, out = out, np.asarray(out)
            if node.saved:
                node.saved = tuple(out if v is scalar else v for v in node.saved)
        if anomaly:
            _anomaly.check_forward(out, node, datas, state.backward_node)
        if _tracer is not None:  # tg.compile is tracing: hand it the op that ran
            _tracer.record(node, datas, kwargs, out)
        # The broadcast trap, (n, 1) against (n,) into (n, n)? Only a square output that
        # neither the first nor the last input already has can be one (a few comparisons).
        shape = out.shape
        if len(shape) == 2 and shape[0] == shape[1] and len(datas) > 1:
            if getattr(datas[0], "shape", None) != shape and getattr(datas[-1], "shape", None) != shape:
                _broadcast_trap.check(node.name, datas, shape)
        result: Any = object.__new__(node.out_type)
        result.data = out
        result._grad = None
        result._retains_grad = False
        # A view of an input's memory shares that input's version counter (as PyTorch).
        result._version_box = (view_version_box(out, args, result) or [0]) if cls.returns_view else [0]
        if node.edges is not None and state.grad_enabled:
            # Link the node in as the result's producer (here, not in a helper: every op runs it).
            node.released = False
            node.retain_ref = None
            if not anomaly:
                node.created_at = None
            node.out_shape = shape
            node.out_dtype = out.dtype
            result.requires_grad = True
            result._node = node
            if node.saved:
                track_saved(node, args, out, result)
        else:
            result.requires_grad = False
            result._node = None
        return result

    def __repr__(self) -> str:
        return f"<{self.name} node>"


_NUMPY_SCALARS = (np.generic, float, int, bool)
# Inputs (constants, or a tensor's data) that are numpy for sure: no backend check. A numpy
# float scalar is one: `b.data = b.data - lr * g` on a 0-d tensor stores one.
_PLAIN = frozenset({float, int, bool, np.ndarray, np.float64, np.float32})


def _read_inputs(node: Function, args: tuple[Any, ...]) -> list[Any]:
    """The arrays the forward runs on. On the way it sets ``node.out_type`` (the first tensor
    input's type: a Tensor subclass stays itself) and, when an input requires grad,
    ``node.edges``: one per input, the input's own node, the leaf tensor itself, or None for
    an input that needs no gradient (``node.edges`` is None when none requires grad).
    (Attributes, not a returned tuple: this runs for every op.)"""
    datas = []
    edges = []
    needs = []
    tensor_type = None
    requires = False
    foreign = False  # a non-numpy array among the inputs (then checked once, below)
    for a in args:
        if isinstance(a, GraphTensor):
            d = a.data
            datas.append(d)
            if type(d) not in _PLAIN:
                foreign = True
            if tensor_type is None:
                tensor_type = type(a)
            if a.requires_grad:
                requires = True
                edges.append(a if a._node is None else a._node)
                needs.append(True)
                continue
        else:
            datas.append(a)
            if type(a) not in _PLAIN:
                foreign = True
        edges.append(None)
        needs.append(False)
    if tensor_type is None:
        raise TypeError(f"{type(node).__name__}.apply needs at least one Tensor argument")
    if foreign:
        _check_backend(node, datas)
    node.out_type = tensor_type
    if requires:
        node.edges = edges
        node.needs_input_grad = needs
    else:
        node.edges = None  # type: ignore[assignment]  # not recorded: never reached by backward
    return datas


def _check_backend(node: Function, datas: list[Any]) -> None:
    """Inputs of one backend only, and one the op can run on (a TypeError naming them)."""
    backend = _backend.check_backends(node.name, datas)
    reason = node.unsupported_backends.get(backend)
    if reason is not None:
        raise _backend.unsupported(node.name, backend, reason)


# --------------------------------------------------------------------------- backward
_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or to use values it saved after "
    "they were freed): {op} was already used by a backward pass. Pass retain_graph=True to "
    "the first backward() if you need to backward through the same graph again, or recompute "
    "the forward."
)


class _BackwardResult:
    """What one backward pass computed, before any of it touches user-visible state.
    (A plain slotted class: made once per pass, where a dataclass's factories cost more.)"""

    __slots__ = ("leaf_grads", "retained", "captured")

    def __init__(self) -> None:
        self.leaf_grads: list[tuple[Any, Any]] = []  # (leaf tensor, gradient)
        self.retained: list[tuple[Any, Any]] = []  # (retain_grad() tensor, gradient)
        self.captured: dict[int, Any] = {}  # id(target's edge) -> gradient


def _topological_order(start_edges: list[Any]) -> list[Function]:
    """Every node reachable from ``start_edges``, each after all of its consumers: Kahn's
    algorithm, iterative, so a chain of a million ops needs no recursion.

    First count, for every edge, how many graph edges consume it; then take a node once its
    count reaches zero. Leaf tensors are counted but not listed: their gradients are what
    the pass has left once every node ran. Nodes and leaves are dict keys by identity.
    (A list, not a generator: resuming a generator per node costs more than the list.)
    """
    function_type = Function
    consumers: dict[Any, int] = {}
    stack = [e for e in start_edges if isinstance(e, function_type)]
    while stack:
        for e in stack.pop().edges:
            if e is not None:
                if e in consumers:
                    consumers[e] += 1
                else:
                    consumers[e] = 1
                    if isinstance(e, function_type):
                        stack.append(e)
    ready: list[Function] = []
    for e in start_edges:
        if isinstance(e, function_type) and e not in consumers and (not ready or all(x is not e for x in ready)):
            ready.append(e)
    order = []
    while ready:
        node = ready.pop()
        order.append(node)
        for e in node.edges:
            if e is not None:
                left = consumers[e] - 1
                consumers[e] = left
                if not left and isinstance(e, function_type):
                    ready.append(e)
    return order


def _run_backward(
    roots: list[Any],
    seeds: list[Any],
    retain_graph: bool,
    create_graph: bool,
    targets: list[Any] | None = None,
) -> _BackwardResult:
    """Propagate ``seeds`` from ``roots`` through the graph in topological order.

    Touches no user-visible state, so a failure half-way leaves every ``.grad`` unchanged.
    The gradients of ``targets`` (leaves or not) are captured for :func:`grad`.
    """
    start_edges = [r if r._node is None else r._node for r in roots]
    # edge (node or leaf tensor) -> the sum of the gradients its consumers sent so far; nodes
    # and leaf tensors are keys by identity (Tensor.__eq__ is never consulted).
    grads: dict[Any, Any] = {}
    for e, seed in zip(start_edges, seeds):
        grads[e] = seed if e not in grads else grads[e] + seed
    target_ids = {id(t if t._node is None else t._node) for t in targets} if targets else None
    result = _BackwardResult()
    state = _state
    anomaly = state.anomaly
    outer_mode, outer_node = state.grad_enabled, state.backward_node
    state.grad_enabled = create_graph  # rules record only under create_graph
    try:
        for node in _topological_order(start_edges):
            g = grads.pop(node, None)
            if target_ids is not None and g is not None and id(node) in target_ids:
                result.captured[id(node)] = g
            if anomaly:
                state.backward_node = node  # what anomaly mode blames for ops recorded now
            if _tracer is None:
                input_grads = _node_gradients(node, g, create_graph, anomaly, result.retained)
            else:  # tg.compile sees each rule as a unit, so that it can replay it whole
                _tracer.begin_rule()
                input_grads = _node_gradients(node, g, create_graph, anomaly, result.retained)
                _tracer.end_rule(node, g, input_grads)
            if not retain_graph:
                # Free what the node saved as soon as its rule has run: the peak memory of a
                # backward pass is then one layer's worth, not the whole graph's.
                node.saved = node.saved_from = ()
                node.released = True
            _send(node, input_grads, grads)
    finally:
        state.grad_enabled, state.backward_node = outer_mode, outer_node
    # Every node has run and taken its gradient out: what is left went to leaf tensors.
    result.leaf_grads = list(grads.items())
    if target_ids is not None:
        result.captured.update((id(t), g) for t, g in result.leaf_grads if id(t) in target_ids)
    return result


def _node_gradients(
    node: Function, g: Any, create_graph: bool, anomaly: bool, retained: list[tuple[Any, Any]]
) -> tuple[Any, ...]:
    """One gradient (or None) per input of ``node``, from its rule on the upstream ``g``.

    Refuses a released graph and saved values modified in place since the forward; under
    ``create_graph`` the rule sees its saved values as tensors, so that it records.
    """
    if node.released:
        raise RuntimeError(_SECOND_BACKWARD.format(op=node.name))
    if g is None:
        return (None,) * len(node.edges)
    if node.retain_ref is not None:
        t = node.retain_ref()
        if t is not None:
            retained.append((t, g))
    if not node.saved:
        input_grads = node.backward(g)
    else:
        for box, expected in node.checks:
            if box[0] != expected:
                check_versions(node)  # raises, naming the modified tensor
        if create_graph:
            raw = node.saved
            node.saved = saved_as_tensors(node)
            try:
                input_grads = node.backward(g)
            finally:
                node.saved = raw
        else:
            input_grads = node.backward(g)
    if type(input_grads) is not tuple:
        input_grads = (input_grads,)
    if anomaly:
        for index, gi in enumerate(input_grads):
            if gi is not None:
                _anomaly.check_backward(gi, node, g, index)
    return input_grads


def _send(node: Function, input_grads: tuple[Any, ...], grads: dict[Any, Any]) -> None:
    """Add each input gradient to what its edge has received so far, summed back to the
    input's shape (broadcasting undone) and cast to its dtype: once here, for every op."""
    for e, gi in zip(node.edges, input_grads):
        if e is None or gi is None:
            continue
        if isinstance(e, Function):
            shape, dtype = e.out_shape, e.out_dtype
        else:
            data = e.data
            shape, dtype = data.shape, data.dtype
        if gi.shape != shape:
            gi = unbroadcast(gi, shape)
        if gi.dtype is not dtype and gi.dtype != dtype:
            gi = gi.astype(dtype) if type(gi) is np.ndarray or isinstance(gi, GraphTensor) else _backend.astype(gi, dtype)  # type: ignore[union-attr]
        previous = grads.get(e)
        grads[e] = gi if previous is None else previous + gi


_grad_lock = threading.RLock()
"""Serializes accumulation into ``.grad`` across threads. Re-entrant, so a backward() started
from inside an accumulation (say, by a Tensor subclass's ``__add__``) cannot deadlock."""


def backward(
    root: GraphTensor,
    gradient: TensorLike | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    if retain_graph is None:
        retain_graph = create_graph
    require_differentiable(root)
    seed = seed_gradient(root, gradient, create_graph)
    result = _run_backward([root], [seed], retain_graph, create_graph)
    # Only now, with the whole pass done, touch user-visible state: a backward that fails
    # half-way leaves every .grad as it was. Reading .grad and writing the sum back is not
    # atomic (numpy releases the GIL while it adds), so threads that backward into a shared
    # leaf take turns here; the lock is taken once per backward() and only around this loop.
    with _grad_lock:
        for t, g in result.retained + result.leaf_grads if result.retained else result.leaf_grads:
            if not t.requires_grad:
                continue
            previous = t._grad  # (the engine's slot: .grad's getter warns on non-leaves)
            if previous is None:
                t.grad = as_grad(t, g, create_graph)
            elif create_graph or previous.requires_grad or not isinstance(g, np.ndarray):
                t.grad = previous + g
            else:
                previous.data = previous.data + g


def grad(
    outputs: GraphTensor | Sequence[GraphTensor],
    inputs: GraphTensor | Sequence[GraphTensor],
    grad_outputs: TensorLike | Sequence[TensorLike | None] | None = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
    allow_unused: bool = True,
) -> tuple[Any, ...]:
    """Gradients of ``outputs`` with respect to ``inputs``, returned (not accumulated).

    As ``torch.autograd.grad``: ``outputs`` is a tensor or a sequence of tensors,
    ``grad_outputs`` their upstream gradients (optional for one-element outputs); returns a
    tuple with one Tensor per input (``None`` for an input the outputs do not depend on, or
    a ``RuntimeError`` when ``allow_unused=False``). No ``.grad`` attribute is changed.
    """
    if retain_graph is None:
        retain_graph = create_graph
    single_out = not isinstance(outputs, (list, tuple))
    outs: list[Any] = list(outputs) if isinstance(outputs, (list, tuple)) else [outputs]
    gouts: list[Any]
    if single_out:
        gouts = [grad_outputs]
    elif isinstance(grad_outputs, (list, tuple)):
        gouts = list(grad_outputs)
    else:
        gouts = [grad_outputs] * len(outs) if grad_outputs is None else [grad_outputs]
    if len(gouts) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(gouts)} grad_outputs")
    ins: list[Any] = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError(
                f"grad: an input of shape {t.shape} does not require grad; create it with "
                f"requires_grad=True"
            )
    for o in outs:
        require_differentiable(o)
    seeds = [seed_gradient(o, go, create_graph) for o, go in zip(outs, gouts)]
    captured = _run_backward(outs, seeds, retain_graph, create_graph, targets=ins).captured
    results: list[Any] = []
    for t in ins:
        g = captured.get(id(t if t._node is None else t._node))
        if g is None:
            if not allow_unused:
                raise RuntimeError(
                    f"grad: an input of shape {t.shape} was not used to compute the outputs "
                    f"(pass allow_unused=True to get None for it)"
                )
            results.append(None)
        else:
            results.append(as_grad(t, g, create_graph))
    return tuple(results)


