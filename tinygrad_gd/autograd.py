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

import threading
import traceback
from typing import Any, Callable, TypeVar

import numpy as np

__all__ = [
    "Function",
    "GraphTensor",
    "backward",
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


class _ModeSwitch:
    """Context manager *and* decorator that sets a per-thread flag and restores it after."""

    _field = ""

    def __init__(self, mode: bool = True) -> None:
        self.mode = bool(mode)
        self._previous: list[bool] = []

    def __enter__(self) -> "_ModeSwitch":
        self._previous.append(getattr(_state, self._field))
        setattr(_state, self._field, self.mode)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(_state, self._field, self._previous.pop())

    def __call__(self, fn: F) -> F:
        import functools

        mode, cls = self.mode, type(self)

        @functools.wraps(fn)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with cls._make(mode):
                return fn(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    @classmethod
    def _make(cls, mode: bool) -> "_ModeSwitch":
        return cls(mode)


class set_grad_enabled(_ModeSwitch):
    """``set_grad_enabled(False)`` as a context manager or decorator turns recording off."""

    _field = "grad_enabled"


class no_grad(set_grad_enabled):
    """Context manager and decorator: operations inside are not recorded for backward.

    Use it for parameter updates (``with no_grad(): w -= lr * w.grad``) and evaluation.
    """

    def __init__(self) -> None:
        super().__init__(False)

    @classmethod
    def _make(cls, mode: bool) -> "_ModeSwitch":
        return cls()


class enable_grad(set_grad_enabled):
    """Context manager and decorator: turn recording back on inside a ``no_grad`` block."""

    def __init__(self) -> None:
        super().__init__(True)

    @classmethod
    def _make(cls, mode: bool) -> "_ModeSwitch":
        return cls()


class set_detect_anomaly(_ModeSwitch):
    """``set_detect_anomaly(True)`` as a context manager or decorator enables anomaly mode."""

    _field = "anomaly"


class detect_anomaly(set_detect_anomaly):
    """Context manager and decorator: the first op whose forward or backward produces NaN/inf
    raises a ``RuntimeError`` naming the op, its input shapes and where it was created.

    Off by default; when off it costs one flag test per op.
    """

    def __init__(self) -> None:
        super().__init__(True)

    @classmethod
    def _make(cls, mode: bool) -> "_ModeSwitch":
        return cls()


# --------------------------------------------------------------------------- tensors
class GraphTensor:
    """The graph-facing state of a Tensor, the only part the engine reads and writes.

    ``_node`` is the :class:`Function` that produced the tensor (``None`` for leaves);
    ``_version`` counts in-place modifications so that a backward never uses stale data.
    """

    __slots__ = ("data", "requires_grad", "grad", "_node", "_version", "_retains_grad", "__weakref__")

    data: np.ndarray
    requires_grad: bool
    grad: Any
    _node: "Function | None"
    _version: int
    _retains_grad: bool


def _new_tensor(cls: type, data: np.ndarray, requires_grad: bool, node: "Function | None") -> Any:
    out = object.__new__(cls)
    out.data = data
    out.requires_grad = requires_grad
    out.grad = None
    out._node = node
    out._version = 0
    out._retains_grad = False
    return out


# --------------------------------------------------------------------------- functions
OPS: dict[str, type["Function"]] = {}
"""Every registered primitive by name; the test-suite's op table must cover all of them."""


def register_op(cls: type["Function"]) -> type["Function"]:
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
    """

    __slots__ = ("inputs", "needs_input_grad", "saved", "versions", "released", "created_at")

    inputs: tuple[Any, ...]
    needs_input_grad: tuple[bool, ...]
    saved: tuple[Any, ...]

    def __init__(self) -> None:
        self.saved = ()
        self.released = False
        self.created_at = None

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
        state = _state
        node = cls()
        tensor_type = None
        requires = False
        datas = []
        for a in args:
            if isinstance(a, _CONSTANT_TYPES):
                datas.append(a)
            else:
                datas.append(a.data)
                if tensor_type is None:
                    tensor_type = type(a)
                if a.requires_grad:
                    requires = True
        if tensor_type is None:
            raise TypeError(f"{cls.__name__}.apply needs at least one Tensor argument")
        record = requires and state.grad_enabled
        if state.anomaly:
            node.created_at = _user_frame()
        out = node.forward(*datas, **kwargs)
        if type(out) is not np.ndarray:
            out = np.asarray(out)
        if state.anomaly:
            _check_finite(out, node, args, "forward")
        if not record:
            return _new_tensor(tensor_type, out, False, None)
        node.inputs = args
        node.needs_input_grad = tuple(
            False if isinstance(a, _CONSTANT_TYPES) else a.requires_grad for a in args
        )
        if node.saved:
            node.versions = tuple(
                -1 if isinstance(a, _CONSTANT_TYPES) else a._version for a in args
            )
        return _new_tensor(tensor_type, out, True, node)

    def __repr__(self) -> str:
        return f"<{self.name} node>"


# --------------------------------------------------------------------------- anomaly helpers
def _user_frame() -> str:
    """file:line of the first stack frame outside this package (where the user made the op)."""
    import os

    package_dir = os.path.dirname(os.path.abspath(__file__))
    for frame in reversed(traceback.extract_stack()[:-2]):
        if not os.path.abspath(frame.filename).startswith(package_dir):
            return f"{frame.filename}:{frame.lineno}"
    return "<unknown>"


def _shapes(values: Any) -> str:
    parts = []
    for v in values:
        shape = getattr(v, "shape", None)
        parts.append(str(tuple(shape)) if shape is not None else type(v).__name__)
    return ", ".join(parts)


def _is_finite_array(a: Any) -> bool:
    data = getattr(a, "data", a) if not isinstance(a, np.ndarray) else a
    arr = np.asarray(data)
    if not np.issubdtype(arr.dtype, np.inexact):
        return True
    return bool(np.isfinite(arr).all())


def _check_finite(out: Any, node: Function, inputs: Any, phase: str) -> None:
    if _is_finite_array(out):
        return
    where = f" created at {node.created_at}" if node.created_at else ""
    raise RuntimeError(
        f"anomaly detected: {node.name} produced NaN/inf in its {phase} pass{where} "
        f"(input shapes: {_shapes(inputs)}). Look at the inputs of this op at that line."
    )


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


def _resolve_saved(node: Function, out: Any) -> tuple[Any, ...]:
    """Swap saved arrays for the tensors they came from, so that rules record under
    create_graph. Arrays that are neither an input's nor the output's data stay constants."""
    resolved = []
    for value in node.saved:
        if isinstance(value, np.ndarray):
            if value is out.data:
                value = out
            else:
                for a in node.inputs:
                    if not isinstance(a, _CONSTANT_TYPES) and a.data is value:
                        value = a
                        break
        resolved.append(value)
    return tuple(resolved)


def _check_versions(node: Function, out: Any) -> None:
    if out._version != 0:
        raise RuntimeError(
            f"one of the tensors needed for gradient computation has been modified by an "
            f"in-place operation: the output of {node.name} (shape {out.shape}) is at version "
            f"{out._version}, expected 0. Do the in-place change on a copy, or after backward()."
        )
    for i, (a, v) in enumerate(zip(node.inputs, node.versions)):
        if v >= 0 and a._version != v:
            raise RuntimeError(
                f"one of the tensors needed for gradient computation has been modified by an "
                f"in-place operation: input {i} of {node.name} (shape {a.shape}) is at version "
                f"{a._version}, expected {v}. Do the in-place change on a copy "
                f"(x = x + 1 instead of x += 1), or after backward()."
            )


def backward(
    root: Any,
    gradient: Any = None,
    retain_graph: bool | None = None,
    create_graph: bool = False,
) -> None:
    """Accumulate d(root)/d(leaf) into every leaf's ``.grad`` (see ``Tensor.backward``)."""
    if retain_graph is None:
        retain_graph = create_graph
    if not root.requires_grad:
        raise RuntimeError(
            "element 0 of tensors does not require grad and does not have a grad_fn: nothing "
            "to differentiate. Create the inputs with requires_grad=True (or call "
            ".requires_grad_()) before computing the output."
        )
    seed = _seed_gradient(root, gradient, create_graph)

    # Count, for every tensor reachable from the root, how many graph edges consume it.
    consumers: dict[int, int] = {}
    stack = [root]
    seen = {id(root)}
    while stack:
        t = stack.pop()
        node = t._node
        if node is None:
            continue
        for a, needed in zip(node.inputs, node.needs_input_grad):
            if needed:
                k = id(a)
                consumers[k] = consumers.get(k, 0) + 1
                if k not in seen:
                    seen.add(k)
                    stack.append(a)

    grads: dict[int, Any] = {id(root): seed}
    leaf_grads: list[tuple[Any, Any]] = []
    retained: list[tuple[Any, Any]] = []
    processed: list[Function] = []
    anomaly = _state.anomaly
    ready = [root]
    with set_grad_enabled(create_graph):
        while ready:
            t = ready.pop()
            g = grads.pop(id(t), None)
            node = t._node
            if node is None:
                if g is not None:
                    leaf_grads.append((t, g))
                continue
            if g is not None and t._retains_grad:
                retained.append((t, g))
            if node.released:
                raise RuntimeError(_SECOND_BACKWARD.format(op=node.name))
            if g is not None:
                if node.saved:
                    _check_versions(node, t)
                if create_graph:
                    raw = node.saved
                    node.saved = _resolve_saved(node, t)
                    try:
                        input_grads = node.backward(g)
                    finally:
                        node.saved = raw
                else:
                    input_grads = node.backward(g)
                if type(input_grads) is not tuple:
                    input_grads = (input_grads,)
                if anomaly:
                    for gi in input_grads:
                        if gi is not None:
                            _check_finite(gi, node, node.inputs, "backward")
            else:
                input_grads = (None,) * len(node.inputs)
            processed.append(node)
            for a, needed, gi in zip(node.inputs, node.needs_input_grad, input_grads):
                if not needed:
                    continue
                k = id(a)
                if gi is not None:
                    if gi.shape != a.data.shape:
                        gi = unbroadcast(gi, a.data.shape)
                    if gi.dtype != a.data.dtype:
                        gi = gi.astype(a.data.dtype)
                    previous = grads.get(k)
                    grads[k] = gi if previous is None else previous + gi
                left = consumers[k] - 1
                consumers[k] = left
                if left == 0:
                    ready.append(a)

    # Only now, with the whole pass done, touch user-visible state: a backward that fails
    # half-way leaves every .grad as it was.
    if not retain_graph:
        for node in processed:
            node.saved = ()
            node.released = True
    for t, g in retained:
        t.grad = _as_grad(t, g, create_graph)
    for t, g in leaf_grads:
        if not t.requires_grad:
            continue
        if t.grad is None:
            t.grad = _as_grad(t, g, create_graph)
        elif create_graph or t.grad.requires_grad:
            t.grad = t.grad + g
        else:
            t.grad.data = t.grad.data + (g.data if not isinstance(g, np.ndarray) else g)


def _as_grad(t: Any, g: Any, create_graph: bool) -> Any:
    if isinstance(g, np.ndarray):
        # Own the array: rule outputs may be broadcast views or shared between inputs.
        return _new_tensor(type(t), np.array(g, dtype=t.data.dtype, copy=True), False, None)
    if create_graph:
        return g
    return _new_tensor(type(t), np.array(g.data, dtype=t.data.dtype, copy=True), False, None)


def _seed_gradient(root: Any, gradient: Any, create_graph: bool) -> Any:
    shape = root.data.shape
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for one-element outputs, but this output "
                f"has shape {shape}. Reduce it first (e.g. loss.sum() or loss.mean()), or pass "
                f"gradient= an array of shape {shape}."
            )
        seed = np.ones(shape, dtype=root.data.dtype)
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
