"""The engine: graph nodes, the iterative backward pass, grad mode and anomaly mode.

The engine knows no specific operation. Every differentiable primitive is a subclass of
:class:`Function` (see ``ops.py``) with a ``forward`` on numpy arrays and a ``backward``
written with operations that work on numpy arrays *and* on Tensors. A first-order backward
runs the rules on raw arrays; ``create_graph=True`` runs the very same rules on Tensors,
which records them, so higher derivatives need no second set of rules.

The engine walks :class:`GraphTensor` objects (the graph-facing half of ``Tensor``): their
``data``, ``requires_grad``, ``grad``, ``_node`` and ``_version`` fields. It never imports
``tensor.py``; output tensors are created with ``type(input)``.
"""

from __future__ import annotations

import os
import sys
import threading
import weakref
from collections.abc import Callable
from typing import Any, TypeVar

import numpy as np

__all__ = [
    "Function",
    "GraphTensor",
    "backward",
    "grad",
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
    "unbroadcast",
    "register_op",
    "OPS",
]

F = TypeVar("F", bound=Callable[..., Any])

# Python numbers and numpy arrays/scalars are constants in the graph; everything else that
# reaches Function.apply is a GraphTensor.
_CONSTANT_TYPES = (np.ndarray, np.generic, float, int, bool)


# --------------------------------------------------------------------------- modes
class _ThreadState(threading.local):
    """Per-thread switches: a thread inside ``no_grad`` does not change another's recording."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False


_state = _ThreadState()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are being recorded (this thread)."""
    return _state.grad_enabled


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()`` (this thread)."""
    return _state.anomaly


_UNSET = object()


class _ModeSwitch:
    """Context manager *and* decorator that sets a per-thread flag and restores it after.

    The ``set_*`` forms (``_immediate``) also work as plain calls, as in PyTorch:
    ``set_grad_enabled(False)`` switches recording off at once, until switched back.
    """

    _field = ""
    _immediate = False

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []
        self._before_init: Any = _UNSET
        if self._immediate:
            self._before_init = getattr(_state, self._field)
            setattr(_state, self._field, self.mode)

    def __enter__(self) -> _ModeSwitch:
        previous, self._before_init = self._before_init, _UNSET
        if previous is _UNSET:
            previous = getattr(_state, self._field)
        self._previous.append(previous)
        setattr(_state, self._field, self.mode)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(_state, self._field, self._previous.pop())

    def __call__(self, fn: F) -> F:
        import functools

        if self._before_init is not _UNSET:
            # Used as a decorator: undo the switch the constructor made (PyTorch does the same).
            setattr(_state, self._field, self._before_init)
            self._before_init = _UNSET
        mode, cls = self.mode, type(self)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with cls._make(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    @classmethod
    def _make(cls, mode: bool) -> _ModeSwitch:
        return cls(mode)


class set_grad_enabled(_ModeSwitch):
    """``set_grad_enabled(mode)``: a context manager, a decorator, or (as a plain call) a
    switch that stays until changed: ``set_grad_enabled(False)`` turns recording off."""

    _field = "grad_enabled"
    _immediate = True


class no_grad(set_grad_enabled):
    """Context manager and decorator: operations inside are not recorded for backward.

    Use it for parameter updates (``with no_grad(): w -= lr * w.grad``) and evaluation.
    """

    _immediate = False

    def __new__(cls, func: Any = None) -> Any:
        # `@no_grad` without parentheses decorates too, as in PyTorch.
        return super().__new__(cls) if func is None else cls()(func)

    def __init__(self) -> None:
        super().__init__(False)

    @classmethod
    def _make(cls, mode: bool) -> _ModeSwitch:
        return cls()


class enable_grad(set_grad_enabled):
    """Context manager and decorator: turn recording back on inside a ``no_grad`` block."""

    _immediate = False

    def __new__(cls, func: Any = None) -> Any:
        # `@enable_grad` without parentheses decorates too, as in PyTorch.
        return super().__new__(cls) if func is None else cls()(func)

    def __init__(self) -> None:
        super().__init__(True)

    @classmethod
    def _make(cls, mode: bool) -> _ModeSwitch:
        return cls()


class set_detect_anomaly(_ModeSwitch):
    """``set_detect_anomaly(mode)``: a context manager, a decorator, or (as a plain call) a
    switch that stays until changed, like ``set_grad_enabled``."""

    _field = "anomaly"
    _immediate = True


class detect_anomaly(set_detect_anomaly):
    """Context manager and decorator: the first op whose forward or backward produces NaN/inf
    raises a ``RuntimeError`` naming the op, its input shapes and where it was created.

    Off by default; when off it costs one flag test per op.
    """

    _immediate = False

    def __init__(self) -> None:
        super().__init__(True)

    @classmethod
    def _make(cls, mode: bool) -> _ModeSwitch:
        return cls()


# --------------------------------------------------------------------------- tensors
class GraphTensor:
    """The graph-facing state of a Tensor, the only part the engine reads and writes.

    ``_node`` is the :class:`Function` that produced the tensor (``None`` for leaves);
    ``_version`` counts in-place modifications so that a backward never uses stale data.
    """

    __slots__ = ("data", "requires_grad", "grad", "_node", "_version_box", "_retains_grad", "__weakref__")

    data: np.ndarray
    requires_grad: bool
    grad: Any
    _node: Function | None
    _version_box: list[int]
    _retains_grad: bool

    @property
    def _version(self) -> int:
        """In-place modifications so far. Views (reshape, slices, detach, ...) share one counter
        with the tensor whose memory they see, as in PyTorch: writing through either bumps both."""
        return self._version_box[0]

    @_version.setter
    def _version(self, value: int) -> None:
        try:
            self._version_box[0] = value
        except AttributeError:
            self._version_box = [value]


def _new_tensor(
    cls: type,
    data: np.ndarray,
    requires_grad: bool,
    node: Function | None,
    version_box: list[int] | None = None,
) -> Any:
    out = object.__new__(cls)
    out.data = data
    out.requires_grad = requires_grad
    out.grad = None
    out._node = node
    out._version_box = [0] if version_box is None else version_box
    out._retains_grad = False
    return out


def _shared_version_box(out: np.ndarray, args: tuple[Any, ...], result: Any) -> list[int] | None:
    """The version counter of the input whose memory ``out`` is a view of, if any (then
    ``result``, the tensor holding ``out``, is recorded as one more tensor sharing it)."""
    for a in args:
        if not isinstance(a, _CONSTANT_TYPES) and np.may_share_memory(out, a.data):
            return share_version_box(a, result)
    return None


def share_version_box(owner: Any, sharer: Any) -> list[Any]:
    """Make ``sharer`` (a view of ``owner``'s memory, or an alias of it: ``detach``,
    ``Tensor(t)``) share ``owner``'s version counter, and return that counter.

    The counter is a list: ``box[0]`` is the version; ``box[1:]`` are weak references to the
    tensors sharing it (the first one the owner), so that an in-place operation can ask
    which *other live* tensors would see its write (:func:`memory_sharers`). Dead references
    are dropped as the list doubles (at 16, 32, ... entries): slicing one tensor in a loop
    does not grow it without bound.
    """
    box = owner._version_box
    n = len(box)
    if n == 1:
        box.append(weakref.ref(owner))
    elif n >= 16 and not n & (n - 1):
        box[1:] = [r for r in box[1:] if r() is not None]
    box.append(weakref.ref(sharer))
    return box


def memory_sharers(t: Any) -> list[Any]:
    """The other live tensors that see (part of) ``t``'s memory: its base, its views, its
    aliases. Empty for a tensor whose memory nothing else sees."""
    box = t._version_box
    if len(box) == 1:
        return []
    out = []
    for ref in box[1:]:
        other = ref()
        if other is not None and other is not t and np.may_share_memory(other.data, t.data):
            out.append(other)
    return out


# --------------------------------------------------------------------------- functions
OPS: dict[str, type[Function]] = {}
"""Every registered primitive by name; the test-suite's op table must cover all of them."""


def register_op(cls: type[Function]) -> type[Function]:
    """Class decorator: record a primitive in :data:`OPS` (the test tables read it)."""
    OPS[cls.__name__] = cls
    return cls


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

    edges: list[Any]
    needs_input_grad: list[bool]
    saved: tuple[Any, ...]

    returns_view = False  # True for ops whose output may be a view of an input's memory

    def __init__(self) -> None:
        self.saved = ()
        self.released = False
        self.created_at = None
        self.retain_ref = None

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
        # This is the hot path of every operation: plain loops and attribute writes only.
        state = _state
        node = cls.__new__(cls)
        node.saved = ()
        tensor_type = None
        requires = False
        datas = []
        edges = []
        needs = []
        for a in args:
            if isinstance(a, GraphTensor):
                datas.append(a.data)
                if tensor_type is None:
                    tensor_type = type(a)
                if a.requires_grad:
                    requires = True
                    edges.append(a if a._node is None else a._node)
                    needs.append(True)
                    continue
            else:
                datas.append(a)
            edges.append(None)
            needs.append(False)
        if tensor_type is None:
            raise TypeError(f"{cls.__name__}.apply needs at least one Tensor argument")
        anomaly = state.anomaly
        if anomaly:
            node.created_at = _user_frame()
            node.input_shapes = _shapes(datas)
        out = node.forward(*datas, **kwargs)
        if type(out) is not np.ndarray:
            # numpy returns scalars from 0-d operations; the tensor holds an array, and what
            # forward saved must be that same array (saved-output tracking is by identity).
            scalar = out
            out = np.asarray(out)
            if node.saved:
                node.saved = tuple(out if v is scalar else v for v in node.saved)
        if anomaly:
            _check_finite(out, node, "forward", datas)
        result = object.__new__(tensor_type)
        result.data = out
        result.grad = None
        result._retains_grad = False
        # A view of an input's memory shares that input's version counter (as PyTorch).
        box = _shared_version_box(out, args, result) if cls.returns_view else None
        result._version_box = [0] if box is None else box
        if not (requires and state.grad_enabled):
            result.requires_grad = False
            result._node = None
            return result
        node.edges = edges
        node.needs_input_grad = needs
        node.released = False
        node.retain_ref = None
        if not anomaly:
            node.created_at = None
        node.out_shape = out.shape
        node.out_dtype = out.dtype
        node.out_type = tensor_type
        result.requires_grad = True
        result._node = node
        if node.saved:
            _track_saved(node, args, out, result)
        return result

    def __repr__(self) -> str:
        return f"<{self.name} node>"


_OUTPUT = object()  # marks a saved array that is the node's own output


def _track_saved(node: Function, args: tuple[Any, ...], out: np.ndarray, result: Any) -> None:
    """Remember which tensor each saved array belongs to, and the version counters to check,
    so that backward refuses stale data and create_graph differentiates through saved values."""
    sources = []
    checks = []
    for value in node.saved:
        source = None
        if value is out:
            source = _OUTPUT
            box = result._version_box  # shared with an input when the output is a view
            checks.append((box, box[0]))
        elif type(value) is np.ndarray:
            for a in args:
                if isinstance(a, GraphTensor) and a.data is value:
                    source = a
                    box = a._version_box
                    checks.append((box, box[0]))
                    break
        sources.append(source)
    node.saved_from = tuple(sources)
    node.checks = tuple(checks)


# --------------------------------------------------------------------------- anomaly helpers
# Everything here runs only in anomaly mode (and most of it only once an anomaly is found).
_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep


def _user_frame() -> str:
    """file:line of the innermost stack frame outside this package (where the user made the op)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = frame.f_code.co_filename
        if not os.path.abspath(filename).startswith(_PACKAGE_DIR):
            return f"{filename}:{frame.f_lineno}"
        frame = frame.f_back
    return "<unknown>"


def _shapes(values: Any) -> str:
    parts = []
    for v in values:
        shape = getattr(v, "shape", None)
        parts.append(str(tuple(shape)) if shape is not None else type(v).__name__)
    return ", ".join(parts)


def _edge_shapes(node: Function) -> str:
    """Input shapes read from the graph, for nodes recorded outside anomaly mode."""
    parts = []
    for e in getattr(node, "edges", ()):
        if isinstance(e, Function):
            parts.append(str(tuple(e.out_shape)))
        elif e is not None:
            parts.append(str(tuple(e.data.shape)))
        else:
            parts.append("? (no grad needed)")
    return ", ".join(parts) or "unknown"


def _is_finite_array(a: Any) -> bool:
    data = getattr(a, "data", a) if not isinstance(a, np.ndarray) else a
    arr = np.asarray(data)
    if not np.issubdtype(arr.dtype, np.inexact):
        return True
    return bool(np.isfinite(arr).all())


def _describe_node(node: Function) -> str:
    """'Sqrt created at file:line (input shapes: ...)', with a hint when the line is unknown."""
    shapes = getattr(node, "input_shapes", None) or _edge_shapes(node)
    if node.created_at:
        return f"{node.name} created at {node.created_at} (input shapes: {shapes})"
    return (
        f"{node.name} (input shapes: {shapes}; its forward ran outside detect_anomaly(), so the "
        f"line that created it is unknown: run the forward pass inside detect_anomaly() too)"
    )


def _running_backward() -> Function | None:
    """The node whose backward rule is running, when an op is recorded inside it (create_graph)."""
    frame = sys._getframe(2)
    while frame is not None:
        if frame.f_code is _run_backward.__code__:
            node = frame.f_locals.get("node")
            return node if isinstance(node, Function) else None
        frame = frame.f_back
    return None


def _check_finite(
    out: Any, node: Function, phase: str, received: Any = (), index: int | None = None
) -> None:
    """Raise the anomaly ``RuntimeError`` if ``out`` holds NaN or inf.

    ``received`` is what the op was handed (its input arrays in the forward pass, the upstream
    gradient in the backward pass), so that the message can tell an op that *made* NaN/inf
    from one that was given them; ``index`` is the input whose gradient is being checked.
    """
    if _is_finite_array(out):
        return
    values = np.asarray(getattr(out, "data", out))
    kind = "NaN" if np.isnan(values).any() else "inf"
    handed = [r for r in received if r is not None and not _is_finite_array(r)]
    owner = _running_backward() if phase == "forward" else None
    if phase == "forward":
        if owner is not None:
            # An op recorded by a backward rule under create_graph=True: blame the rule.
            message = (
                f"anomaly detected: the backward pass of {_describe_node(owner)} produced {kind} "
                f"(in its {node.name} step, recorded because create_graph=True)."
            )
        else:
            message = f"anomaly detected: {_describe_node(node)} produced {kind} in its forward pass."
        if handed:
            message += (
                " Its inputs already held NaN/inf, so the problem is upstream: check the data, or "
                "an operation done outside detect_anomaly() or on .data."
            )
    else:
        which = f" (in the gradient for its input {index})" if index is not None else ""
        message = f"anomaly detected: {_describe_node(node)} produced {kind} in its backward pass{which}."
        if handed:
            message += (
                " The upstream gradient it received already held NaN/inf (e.g. a gradient= "
                "argument with NaN/inf)."
            )
    blamed = owner if phase == "forward" and owner is not None else node
    if blamed.created_at:
        message += " Look at the inputs of this op at that line."
    raise RuntimeError(message)


# --------------------------------------------------------------------------- broadcasting
def unbroadcast(grad: Any, shape: tuple[int, ...]) -> Any:
    """Sum ``grad`` back to ``shape``: the gradient of broadcasting an input to the output.

    Handles different ranks (``()`` vs ``(1,)`` vs ``(n, 1)``). Written with methods that
    numpy arrays and Tensors share, so it also records under ``create_graph``.
    """
    gshape = grad.shape
    if gshape == shape:
        return grad
    extra = len(gshape) - len(shape)
    if extra < 0:
        # A gradient with fewer dimensions than its input: broadcast it up (e.g. a scalar rule).
        return grad.reshape((1,) * -extra + tuple(gshape)) + np.zeros(shape, dtype=grad.dtype)
    axes = tuple(range(extra)) + tuple(
        i + extra for i, n in enumerate(shape) if n == 1 and gshape[i + extra] != 1
    )
    if axes:
        grad = grad.sum(axis=axes, keepdims=True)
    return grad.reshape(shape)


# --------------------------------------------------------------------------- backward
_SECOND_BACKWARD = (
    "Trying to backward through the graph a second time (or to use values it saved after "
    "they were freed): {op} was already used by a backward pass. Pass retain_graph=True to "
    "the first backward() if you need to backward through the same graph again, or recompute "
    "the forward."
)


def _resolve_saved(node: Function) -> tuple[Any, ...]:
    """Saved arrays as the tensors they came from, so rules record under create_graph.
    Arrays of constants and intermediates stay arrays (constants of the new graph)."""
    resolved = []
    for value, source in zip(node.saved, node.saved_from):
        if source is _OUTPUT:
            value = _new_tensor(node.out_type, value, True, node)
        elif source is not None and source.requires_grad:
            value = source
        resolved.append(value)
    return tuple(resolved)


def _check_versions(node: Function) -> None:
    """Raise if a tensor this node saved was modified in place since (its version moved)."""
    for i, (box, expected) in enumerate(node.checks):
        if box[0] != expected:
            source = [src for src in node.saved_from if src is not None][i]
            if source is _OUTPUT:
                what = f"the output of {node.name} (shape {node.out_shape})"
            else:
                what = f"an input of {node.name} (shape {source.shape})"
            raise RuntimeError(
                f"one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: {what} is at version {box[0]}, expected {expected}. Do "
                f"the in-place change on a copy (x = x + 1 instead of x += 1), or after "
                f"backward()."
            )


def _run_backward(
    roots: list[Any],
    seeds: list[Any],
    retain_graph: bool,
    create_graph: bool,
    targets: list[Any] | None = None,
) -> tuple[list[tuple[Any, Any]], list[tuple[Any, Any]], dict[int, Any]]:
    """Propagate ``seeds`` from ``roots`` through the graph in topological order.

    Returns (leaf gradients, retained non-leaf gradients, gradients of ``targets`` by id).
    Touches no user-visible state, so a failure half-way leaves every ``.grad`` unchanged.
    The order is Kahn's: a node runs once every consumer has sent its gradient, so the loop
    needs no recursion (a chain of a million ops works) and each node runs exactly once.
    """
    function_type = Function
    start_edges = [r if r._node is None else r._node for r in roots]
    # Count, for every edge reachable from the roots, how many graph edges consume it.
    # Nodes and leaf tensors are dict keys by identity (their hash is the object's; distinct
    # live objects never share one, so Tensor.__eq__ is never consulted).
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

    grads: dict[Any, Any] = {}
    for e, seed in zip(start_edges, seeds):
        grads[e] = seed if e not in grads else grads[e] + seed
    target_ids = {id(t if t._node is None else t._node) for t in targets} if targets else None
    captured: dict[int, Any] = {}
    leaf_grads: list[tuple[Any, Any]] = []
    retained: list[tuple[Any, Any]] = []
    state = _state
    anomaly = state.anomaly
    ready = []
    for e in start_edges:
        if e not in consumers and all(x is not e for x in ready):
            ready.append(e)
    previous_mode = state.grad_enabled
    state.grad_enabled = create_graph  # rules record only under create_graph
    try:
        while ready:
            edge = ready.pop()
            g = grads.pop(edge, None)
            if target_ids is not None and id(edge) in target_ids and g is not None:
                captured[id(edge)] = g
            if not isinstance(edge, function_type):
                if g is not None:
                    leaf_grads.append((edge, g))
                continue
            node = edge
            if node.released:
                raise RuntimeError(_SECOND_BACKWARD.format(op=node.name))
            if g is None:
                input_grads: Any = (None,) * len(node.edges)
            else:
                if node.retain_ref is not None:
                    t = node.retain_ref()
                    if t is not None:
                        retained.append((t, g))
                if node.saved:
                    for box, expected in node.checks:
                        if box[0] != expected:
                            _check_versions(node)  # raises, naming the modified tensor
                    if create_graph:
                        raw = node.saved
                        node.saved = _resolve_saved(node)
                        try:
                            input_grads = node.backward(g)
                        finally:
                            node.saved = raw
                    else:
                        input_grads = node.backward(g)
                else:
                    input_grads = node.backward(g)
                if type(input_grads) is not tuple:
                    input_grads = (input_grads,)
                if anomaly:
                    for index, gi in enumerate(input_grads):
                        if gi is not None:
                            _check_finite(gi, node, "backward", received=(g,), index=index)
            if not retain_graph:
                # Free what this node saved as soon as its rule has run: the peak memory of a
                # backward pass is then one layer's worth, not the whole graph's.
                node.saved = ()
                node.saved_from = ()
                node.released = True
            for e, gi in zip(node.edges, input_grads):
                if e is None:
                    continue
                if gi is not None:
                    if isinstance(e, function_type):
                        shape, dtype = e.out_shape, e.out_dtype
                    else:
                        data = e.data
                        shape, dtype = data.shape, data.dtype
                    if gi.shape != shape:
                        gi = unbroadcast(gi, shape)
                    if gi.dtype is not dtype and gi.dtype != dtype:
                        gi = gi.astype(dtype)
                    previous = grads.get(e)
                    grads[e] = gi if previous is None else previous + gi
                left = consumers[e] - 1
                consumers[e] = left
                if not left:
                    ready.append(e)
    finally:
        state.grad_enabled = previous_mode
    return leaf_grads, retained, captured


_grad_lock = threading.RLock()
"""Serializes accumulation into ``.grad`` across threads. Re-entrant, so a backward() started
from inside an accumulation (say, by a Tensor subclass's ``__add__``) cannot deadlock."""


def backward(
    root: Any,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    if retain_graph is None:
        retain_graph = create_graph
    _require_grad(root)
    seed = _seed_gradient(root, gradient, create_graph)
    leaf_grads, retained, _ = _run_backward([root], [seed], retain_graph, create_graph)
    # Only now, with the whole pass done, touch user-visible state: a backward that fails
    # half-way leaves every .grad as it was. Reading .grad and writing the sum back is not
    # atomic (numpy releases the GIL while it adds), so threads that backward into a shared
    # leaf take turns here; the lock is taken once per backward() and only around this loop.
    with _grad_lock:
        for t, g in retained + leaf_grads:
            if not t.requires_grad:
                continue
            if t.grad is None:
                t.grad = _as_grad(t, g, create_graph)
            elif create_graph or t.grad.requires_grad or not isinstance(g, np.ndarray):
                t.grad = t.grad + g
            else:
                t.grad.data = t.grad.data + g


def grad(
    outputs: Any,
    inputs: Any,
    grad_outputs: Any = None,
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
    outs = [outputs] if single_out else list(outputs)
    if grad_outputs is None or single_out:
        gouts = [grad_outputs] if single_out else [None] * len(outs)
    else:
        gouts = list(grad_outputs)
    if len(gouts) != len(outs):
        raise ValueError(f"grad: {len(outs)} outputs but {len(gouts)} grad_outputs")
    ins = [inputs] if not isinstance(inputs, (list, tuple)) else list(inputs)
    for t in ins:
        if not t.requires_grad:
            raise RuntimeError(
                f"grad: an input of shape {t.shape} does not require grad; create it with "
                f"requires_grad=True"
            )
    for o in outs:
        _require_grad(o)
    seeds = [_seed_gradient(o, go, create_graph) for o, go in zip(outs, gouts)]
    _, _, captured = _run_backward(outs, seeds, retain_graph, create_graph, targets=ins)
    results = []
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
            results.append(_as_grad(t, g, create_graph))
    return tuple(results)


def _require_grad(root: Any) -> None:
    if not root.requires_grad:
        raise RuntimeError(
            "this tensor does not require grad and was not computed from one that does: "
            "nothing to differentiate. Create the inputs with requires_grad=True (or call "
            ".requires_grad_()) before computing the output, outside no_grad()."
        )


def _as_grad(t: Any, g: Any, create_graph: bool) -> Any:
    if isinstance(g, np.ndarray):
        # Own the array: rule outputs may be broadcast views or shared between inputs.
        return _new_tensor(type(t), np.array(g, dtype=t.data.dtype, copy=True), False, None)
    if create_graph:
        # A new tensor object (rules may hand one gradient to several inputs), still
        # connected to the graph: through g's node, or, when g is itself a leaf that requires
        # grad (a grad_outputs tensor passed through unchanged), through a recorded copy.
        if g.requires_grad and g._node is None:
            with set_grad_enabled(True):
                return g * 1.0
        return _new_tensor(type(t), np.array(g.data, copy=True), g.requires_grad, g._node)
    return _new_tensor(type(t), np.array(g.data, dtype=t.data.dtype, copy=True), False, None)


_ONES: dict[tuple[tuple[int, ...], np.dtype], np.ndarray] = {}


def _ones(shape: tuple[int, ...], dtype: np.dtype) -> np.ndarray:
    """A read-only one-element array of ones, allocated once per (shape, dtype): the seed of
    every ``loss.backward()``. Rules never write into their gradient argument."""
    key = (shape, dtype)
    seed = _ONES.get(key)
    if seed is None:
        seed = np.ones(shape, dtype=dtype)
        seed.flags.writeable = False
        _ONES[key] = seed
    return seed


def _seed_gradient(root: Any, gradient: Any, create_graph: bool) -> Any:
    shape = root.data.shape
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for one-element outputs, but this output "
                f"has shape {shape}. Reduce it first (e.g. loss.sum() or loss.mean()), or pass "
                f"gradient= an array of shape {shape}."
            )
        seed = _ones(shape, root.data.dtype)
        return _new_tensor(type(root), seed, False, None) if create_graph else seed
    if isinstance(gradient, _CONSTANT_TYPES) or isinstance(gradient, (list, tuple)):
        garr = np.asarray(gradient, dtype=root.data.dtype)
        gtensor = None
    else:
        garr = gradient.data
        gtensor = gradient
    if garr.shape != shape:
        raise RuntimeError(
            f"gradient has shape {garr.shape} but the output has shape {shape}: "
            f"backward(gradient=...) needs an array of exactly the output's shape."
        )
    if create_graph:
        return gtensor if gtensor is not None else _new_tensor(type(root), garr, False, None)
    return garr.astype(root.data.dtype, copy=False)
