"""The tensor side of the engine: :class:`GraphTensor` (the part of a Tensor the engine reads
and writes), the in-place version counters that views share, and the tensors the engine
makes itself (results, seeds, returned gradients).

The engine never imports ``tensor.py``: it creates tensors with ``type(input)`` and
duck-types the rest. This module imports nothing from the package but the modes.
"""

from __future__ import annotations

import warnings
import weakref
from typing import Any

import numpy as np

from . import _backend
from ._modes import set_grad_enabled

__all__ = [
    "GraphTensor",
    "new_tensor",
    "view_version_box",
    "share_version_box",
    "bump_version",
    "memory_sharers",
    "track_saved",
    "saved_as_tensors",
    "check_versions",
    "require_differentiable",
    "as_grad",
    "seed_gradient",
]

# Python numbers and numpy arrays/scalars are constants in the graph; everything else that
# reaches Function.apply is a GraphTensor.
_CONSTANT_TYPES = (np.ndarray, np.generic, float, int, bool)


_NON_LEAF_GRAD = (
    "reading .grad of a tensor of shape {shape} that is not a leaf (it is the result of {op}): "
    "only leaves keep gradients, so it is None. If this is a parameter you rebound with "
    "`w = w - lr * w.grad`, it stopped being a leaf: update it in place instead, "
    "`with tg.no_grad(): w -= lr * w.grad`, then `w.grad = None` (or use an optimizer). To keep "
    "the gradient of an intermediate result, call .retain_grad() before backward."
)


class GraphTensor:
    """The graph-facing state of a Tensor, the only part the engine reads and writes.

    ``_node`` is the :class:`Function` that produced the tensor (``None`` for leaves);
    ``_version`` counts in-place modifications so that a backward never uses stale data.
    """

    __slots__ = ("data", "requires_grad", "_grad", "_node", "_version_box", "_retains_grad", "__weakref__")

    data: np.ndarray
    requires_grad: bool
    _grad: Any
    _node: Any
    _version_box: list[int]
    _retains_grad: bool

    # The array's attributes, here so that every layer above the engine can read them.
    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def ndim(self) -> int:
        return self.data.ndim

    @property
    def size(self) -> int:
        return self.data.size

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def grad(self) -> Any:
        """The gradient backward accumulated here (None before any backward). Only leaves
        keep one: reading it on a non-leaf warns, as PyTorch does, because the usual cause is
        a parameter rebound to a result (``w = w - lr * w.grad``) that is no longer a leaf."""
        g = self._grad
        if g is None and self._node is not None and not self._retains_grad:
            warnings.warn(_NON_LEAF_GRAD.format(op=self._node.name, shape=self.data.shape), UserWarning, stacklevel=2)
        return g

    @grad.setter
    def grad(self, value: Any) -> None:
        self._grad = value

    @property
    def is_leaf(self) -> bool:
        """True for tensors the user created (not the result of a recorded op)."""
        return self._node is None

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


def new_tensor(
    cls: type,
    data: np.ndarray,
    requires_grad: bool,
    node: Any,
    version_box: list[int] | None = None,
) -> Any:
    """A tensor of type ``cls`` made without ``__init__`` (no dtype rules, no copy): how the
    engine makes results and gradients of whatever Tensor class it was handed."""
    out: Any = object.__new__(cls)
    out.data = data
    out.requires_grad = requires_grad
    out._grad = None
    out._node = node
    out._version_box = [0] if version_box is None else version_box
    out._retains_grad = False
    return out


def view_version_box(out: np.ndarray, args: tuple[Any, ...], result: Any) -> list[int] | None:
    """The version counter of the input whose memory ``out`` is a view of, if any (then
    ``result``, the tensor holding ``out``, is recorded as one more tensor sharing it)."""
    for a in args:
        if not isinstance(a, _CONSTANT_TYPES) and _backend.may_share_memory(out, a.data):
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


def bump_version(t: GraphTensor) -> None:
    """Record an in-place write into ``t``'s memory (``t += 1``, ``t[i] = v``, an optimizer
    step): a backward that saved ``t``'s old values then raises instead of using them. The
    counter is shared with ``t``'s views and aliases, which see the write too."""
    t._version_box[0] += 1


def memory_sharers(t: Any) -> list[Any]:
    """The other live tensors that see (part of) ``t``'s memory: its base, its views, its
    aliases. Empty for a tensor whose memory nothing else sees."""
    box = t._version_box
    if len(box) == 1:
        return []
    out = []
    for ref in box[1:]:
        other = ref()
        if other is not None and other is not t and _backend.may_share_memory(other.data, t.data):
            out.append(other)
    return out


# --------------------------------------------------------------------------- saved values
_OUTPUT = object()  # marks a saved array that is the node's own output


def track_saved(node: Any, args: tuple[Any, ...], out: np.ndarray, result: Any) -> None:
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
        elif type(value) is np.ndarray or (value is not None and not isinstance(value, _CONSTANT_TYPES)):
            for a in args:
                if isinstance(a, GraphTensor) and a.data is value:
                    source = a
                    box = a._version_box
                    checks.append((box, box[0]))
                    break
        sources.append(source)
    node.saved_from = tuple(sources)
    node.checks = tuple(checks)


def saved_as_tensors(node: Any) -> tuple[Any, ...]:
    """Saved arrays as the tensors they came from, so rules record under create_graph.
    Arrays of constants and intermediates stay arrays (constants of the new graph)."""
    from . import autograd  # (late: autograd imports this module)

    # While tg.compile traces, float inputs that need no gradient (a batch X passed as an
    # argument) stay tensors too: what a rule computes from them must be recorded, not frozen.
    # (Masks and indices stay arrays: rules read them through ops.constant, which the tracer
    # sees, and then replays the whole rule.)
    tracing = autograd._tracer is not None
    resolved = []
    for value, source in zip(node.saved, node.saved_from):
        if source is _OUTPUT:
            value = new_tensor(node.out_type, value, True, node)
        elif source is not None and (source.requires_grad or tracing and source.data.dtype.kind == "f"):
            value = source
        resolved.append(value)
    return tuple(resolved)


def check_versions(node: Any) -> None:
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


# --------------------------------------------------------------------------- seeds and results
def require_differentiable(root: Any) -> None:
    """Refuse a backward from a tensor that no recorded op connects to a leaf."""
    if not root.requires_grad:
        raise RuntimeError(
            "this tensor does not require grad and was not computed from one that does: "
            "nothing to differentiate. Create the inputs with requires_grad=True (or call "
            ".requires_grad_()) before computing the output, outside no_grad()."
        )


def as_grad(t: Any, g: Any, create_graph: bool) -> Any:
    """The gradient ``g`` computed for ``t`` as the new Tensor that ``.grad`` or ``grad()``
    hands the user: its own array, ``t``'s dtype, and a graph only under create_graph."""
    if isinstance(g, np.ndarray):
        # Own the array: rule outputs may be broadcast views or shared between inputs.
        return new_tensor(type(t), np.array(g, dtype=t.data.dtype, copy=True), False, None)
    if _backend.is_foreign(g):  # an array of another backend
        return new_tensor(type(t), _backend.copy(g, t.data.dtype), False, None)
    if create_graph:
        # A new tensor object (rules may hand one gradient to several inputs), still
        # connected to the graph: through g's node, or, when g is itself a leaf that requires
        # grad (a grad_outputs tensor passed through unchanged), through a recorded copy.
        if g.requires_grad and g._node is None:
            with set_grad_enabled(True):
                return g * 1.0
        return new_tensor(type(t), _backend.copy(g.data), g.requires_grad, g._node)
    return new_tensor(type(t), _backend.copy(g.data, t.data.dtype), False, None)


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


def seed_gradient(root: Any, gradient: Any, create_graph: bool) -> Any:
    """The gradient a pass starts from at ``root``: ones for a one-element output, else the
    ``gradient=`` argument checked against the root's shape (a Tensor under create_graph)."""
    shape = root.data.shape
    if gradient is None:
        if root.data.size != 1:
            raise RuntimeError(
                f"grad can be implicitly created only for one-element outputs, but this output "
                f"has shape {shape}. Reduce it first (e.g. loss.sum() or loss.mean()), or pass "
                f"gradient= an array of shape {shape}."
            )
        data = root.data
        seed = _ones(shape, data.dtype) if type(data) is np.ndarray else _backend.ones(shape, data.dtype, data)
        return new_tensor(type(root), seed, False, None) if create_graph else seed
    if not isinstance(gradient, GraphTensor):  # numbers, lists, arrays of any backend
        garr = _backend.asarray(gradient, root.data, dtype=root.data.dtype)
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
        return gtensor if gtensor is not None else new_tensor(type(root), garr, False, None)
    return _backend.astype(garr, root.data.dtype)
