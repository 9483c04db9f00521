"""Function transforms: ``grad``, ``value_and_grad``, ``jacobian``, ``hessian``, ``hvp``,
``vjp``, ``jvp`` (and ``checkpoint``, from ``_checkpoint_fn``).

Each takes a function ``f`` of Tensors returning a Tensor and gives numpy arrays back.
Arguments may be numpy arrays, Python numbers/lists or Tensors, or dicts/lists/tuples (nested)
of them, such as ``dict(model.named_parameters())``: a gradient comes back in the same
container. Each differentiated leaf is copied into a fresh leaf tensor, so ``f``'s other
tensors keep their ``.grad`` untouched. ``argnums`` is an int, or a tuple or list of ints (the
result is then a tuple); keyword arguments of the call go to ``f`` unchanged and are not
differentiated. Higher derivatives come from ``create_graph=True``: the same backward rules,
recorded.

    >>> import numpy as np, tinygrad_gd as tg
    >>> tg.grad(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([ 3., 12.])
    >>> tg.hessian(lambda x: (x ** 3).sum())(np.array([1.0, 2.0]))
    array([[ 6.,  0.],
           [ 0., 12.]])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _validate, autograd
from ._checkpoint_fn import checkpoint
from ._containers import LEAF, Flat, describe, flatten, tuple_tree, unflatten
from ._typing import TensorLike
from .autograd import GraphTensor, enable_grad
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "hvp", "vjp", "jvp", "checkpoint"]

Argnums = int | Sequence[int]
_JACOBIAN_HINT = "; use tg.jacobian(f) for vector outputs (or reduce the output)"


# --------------------------------------------------------------------------- arguments
def _leaf(value: Any, what: str) -> Tensor:
    """A fresh float leaf requiring grad, holding a copy of ``value``'s numbers."""
    data = value.data if isinstance(value, GraphTensor) else value
    arr = np.asarray(_validate.plain_array(data, what))  # a masked array raises, np.matrix is plain
    if arr.dtype.kind not in "fiub":
        raise TypeError(f"{what} must hold real numbers, got dtype {arr.dtype}")
    if arr.dtype.kind in "iub":
        raise TypeError(
            f"{what} has integer dtype {arr.dtype}: gradients are only defined for float "
            f"inputs. Pass np.asarray(x, dtype=float) (or a float Tensor)."
        )
    return Tensor(arr.copy(), requires_grad=True)


def _normalize_argnums(argnums: Argnums, nargs: int) -> tuple[tuple[int, ...], bool]:
    """``argnums`` as a tuple of indices in ``range(nargs)``, and whether it was a single int."""
    nums: tuple[int, ...]
    if isinstance(argnums, (int, np.integer)):
        nums, single = (int(argnums),), True
    elif isinstance(argnums, (tuple, list)) and all(isinstance(a, (int, np.integer)) for a in argnums):
        nums, single = tuple(int(a) for a in argnums), False
    else:
        raise TypeError(f"argnums must be an int or a tuple/list of ints, got {argnums!r}")
    if not nums:
        raise ValueError("argnums must name at least one argument")
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"argnums={argnums} is out of range for a call with {nargs} argument(s)")
    return tuple(a % nargs for a in nums), single


def _prepare(args: Sequence[Any], argnums: Argnums) -> tuple[list[Any], Flat]:
    """The call's arguments with each differentiated one rebuilt from fresh leaves, and those
    leaves flat in ``argnums`` order with the tree of the result (one argument's tree for an
    int ``argnums``, a tuple of them otherwise). An argument named twice gets one set of leaves."""
    nums, single = _normalize_argnums(argnums, len(args))
    call_args = list(args)
    per_arg: dict[int, Flat] = {}
    for a in dict.fromkeys(nums):
        flat = flatten(args[a], f"argument {a}")
        fresh = [_leaf(v, path) for v, path in zip(flat.leaves, flat.paths)]
        call_args[a] = unflatten(flat.tree, fresh)
        per_arg[a] = Flat(fresh, flat.paths, flat.tree)
    return call_args, per_arg[nums[0]] if single else _joined([per_arg[a] for a in nums])


def _joined(flats: list[Flat]) -> Flat:
    """Several flattened values as one tuple of them (the result of a tuple ``argnums``)."""
    return Flat(
        [leaf for fl in flats for leaf in fl.leaves],
        [path for fl in flats for path in fl.paths],
        tuple_tree([fl.tree for fl in flats]),
    )


def _renamed(flat: Flat, old: str, new: str) -> Flat:
    """``flat`` with its paths' leading name changed (``argument 0`` -> ``primal 0``)."""
    return Flat(flat.leaves, [new + p[len(old) :] if p.startswith(old) else p for p in flat.paths], flat.tree)


def _like(flat: Flat, ref: Flat, who: str, names: tuple[str, str]) -> list[np.ndarray]:
    """``flat``'s leaves as arrays, checked to have ``ref``'s structure and leaf shapes (a
    tangent against its primal, a cotangent against the output): errors name both."""
    if flat.tree != ref.tree:
        raise ValueError(
            f"{who}{names[0]} must have the structure of {names[1]}: expected {describe(ref.tree)}, "
            f"got {describe(flat.tree)}"
        )
    arrays = []
    for v, path, like, ref_path in zip(flat.leaves, flat.paths, ref.leaves, ref.paths):
        arr = np.asarray(v.data if isinstance(v, GraphTensor) else v, dtype=like.dtype)
        if arr.shape != like.shape:
            raise ValueError(
                f"{who}{path} has shape {arr.shape} but {ref_path} has shape {like.shape}; they must match"
            )
        arrays.append(arr)
    return arrays


# --------------------------------------------------------------------------- calling f
def _call(f: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any]) -> Flat:
    """``f(*args, **kwargs)`` under grad mode: a Tensor, or a dict/list/tuple of Tensors."""
    with enable_grad():
        out = f(*args, **kwargs)
    try:
        flat = flatten(out, "output")
    except TypeError:  # a container holding something else: reported as a whole below
        flat = Flat([out], ["output"], LEAF)
    bad = [(path, v) for path, v in zip(flat.paths, flat.leaves) if not isinstance(v, GraphTensor)]
    if bad:
        path, v = bad[0]
        got = type(out).__name__ if path == "output" else f"{type(v).__name__} at {path}"
        raise TypeError(
            f"the function must return a Tensor, it returned {got} (jacobian, vjp and jvp also "
            f"take a tuple/list/dict of Tensors)"
        )
    return flat


def _scalar_output(
    f: Callable[..., Any], args: Sequence[Any], kwargs: dict[str, Any], who: str, hint: str = ""
) -> GraphTensor:
    """``f(*args, **kwargs)``, which must be a one-element Tensor (``who``, ``hint``: the error)."""
    flat = _call(f, args, kwargs)
    if flat.tree != LEAF:
        raise TypeError(
            f"{who} needs a function that returns one Tensor, this one returned {describe(flat.tree)}"
        )
    out = flat.leaves[0]
    if out.size != 1:
        raise ValueError(
            f"{who} needs a function with a one-element output, this one returned shape {out.shape}{hint}"
        )
    return out


def _grads(
    outs: list[GraphTensor],
    leaves: list[Tensor],
    seeds: list[Any] | None = None,
    create_graph: bool = False,
    retain_graph: bool = True,
) -> list[Any]:
    """d(Σ ⟨seed, out⟩)/d leaf for each leaf: a Tensor, or None where no out depends on it.
    Outputs that record no graph (constants) contribute nothing. ``retain_graph=False`` for
    a last pass: the graph's saved arrays are then freed as the pass goes."""
    seeds = [None] * len(outs) if seeds is None else seeds
    live = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
    if not live:
        return [None] * len(leaves)
    return list(
        autograd.grad(
            [o for o, _ in live],
            leaves,
            grad_outputs=[s for _, s in live],
            retain_graph=retain_graph or create_graph,
            create_graph=create_graph,
        )
    )


def _arrays(grads: list[Any], leaves: list[Any]) -> list[np.ndarray]:
    """Gradients as arrays of their leaves' shapes and dtypes (zeros for None)."""
    return [
        np.zeros(leaf.shape, dtype=leaf.dtype) if g is None else np.array(g.data, copy=True)
        for g, leaf in zip(grads, leaves)
    ]


def _recorded_grads(
    outs: list[GraphTensor], leaves: list[Tensor], seeds: list[Any] | None = None
) -> list[Any]:
    """:func:`_grads` recorded (``create_graph``) to be differentiated again; None for a leaf
    the result cannot depend on (its derivatives are 0)."""
    return [
        g if g is not None and g.requires_grad else None
        for g in _grads(outs, leaves, seeds, create_graph=True)
    ]


def _jacobian_blocks(
    outs: list[Any], shapes: list[tuple[int, ...]], leaves: list[Tensor]
) -> list[list[np.ndarray]]:
    """``blocks[i][j]`` = d outs[i] / d leaves[j], shaped ``shapes[i] + leaves[j].shape``: one
    backward per output element (an out that is None, or records no graph, gives zeros)."""
    blocks = []
    for out, shape in zip(outs, shapes):
        size = int(np.prod(shape, dtype=int))
        rows = [np.zeros((size, *leaf.shape), dtype=leaf.dtype) for leaf in leaves]
        if out is not None and out.requires_grad:
            for k in range(size):
                seed = np.zeros(size, dtype=out.dtype)
                seed[k] = 1.0
                for row, g in zip(rows, _grads([out], leaves, [seed.reshape(shape)])):
                    if g is not None:
                        row[k] = g.data
        blocks.append([row.reshape(shape + leaf.shape) for row, leaf in zip(rows, leaves)])
    return blocks


def _nest(outer: Any, inner: Any, blocks: list[list[np.ndarray]]) -> Any:
    """Blocks rebuilt as ``outer``'s structure of ``inner``'s structures (torch's and jax's
    nesting: outputs outside, inputs inside)."""
    return unflatten(outer, [unflatten(inner, row) for row in blocks])


# --------------------------------------------------------------------------- transforms
def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., tuple[np.ndarray, Any]]:
    """``value_and_grad(f, argnums)(*args, **kwargs)`` -> ``(f(...) as an array, gradient(s))``.

    ``f`` must return a one-element Tensor (use :func:`jacobian` otherwise). The gradient is
    an array shaped like the argument (the same container of arrays for a container
    argument), or a tuple of them when ``argnums`` is a tuple or list.
    """

    def wrapped(*args: Any, **kwargs: Any) -> tuple[np.ndarray, Any]:
        call_args, inputs = _prepare(args, argnums)
        out = _scalar_output(f, call_args, kwargs, "grad", _JACOBIAN_HINT)
        grads = _arrays(_grads([out], inputs.leaves, retain_graph=False), inputs.leaves)
        return np.array(out.data, copy=True), unflatten(inputs.tree, grads)

    wrapped.__tg_transform__ = ("value_and_grad", f, argnums)  # type: ignore[attr-defined]  # what tg.compile traces
    return wrapped


def grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """``grad(f, argnums)(*args, **kwargs)`` -> the gradient of a scalar-valued ``f`` as numpy
    array(s), in the structure of the differentiated argument(s) (see :func:`value_and_grad`)."""
    value_and_grad_f = value_and_grad(f, argnums)

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        return value_and_grad_f(*args, **kwargs)[1]

    wrapped.__tg_transform__ = ("grad", f, argnums)  # type: ignore[attr-defined]  # what tg.compile traces
    return wrapped


def jacobian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """``jacobian(f, argnums)(*args, **kwargs)`` -> d out[i] / d x[j] as an array of shape
    ``f(x).shape + x.shape``. A tuple/list ``argnums`` gives a tuple (one per argument); a
    tuple of outputs gives a tuple of those (outputs outside, as ``torch.autograd.functional``)."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        call_args, inputs = _prepare(args, argnums)
        outs = _call(f, call_args, kwargs)
        blocks = _jacobian_blocks(outs.leaves, [o.shape for o in outs.leaves], inputs.leaves)
        return _nest(outs.tree, inputs.tree, blocks)

    return wrapped


def hessian(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """``hessian(f, argnums)(*args, **kwargs)`` -> array of shape ``x.shape + x.shape`` of a
    scalar-valued ``f``; for a tuple/list ``argnums`` the blocks ``H[i][j]`` of shape
    ``x_i.shape + x_j.shape`` as nested tuples."""

    def wrapped(*args: Any, **kwargs: Any) -> Any:
        call_args, inputs = _prepare(args, argnums)
        out = _scalar_output(f, call_args, kwargs, "hessian")
        g = _recorded_grads([out], inputs.leaves)
        blocks = _jacobian_blocks(g, [leaf.shape for leaf in inputs.leaves], inputs.leaves)
        return _nest(inputs.tree, inputs.tree, blocks)

    return wrapped


def hvp(f: Callable[..., Any], x: TensorLike, v: TensorLike, **kwargs: Any) -> Any:
    """Hessian-vector product H(x) @ v of a scalar-valued ``f``, shaped like ``x``.

    Two backward passes (gradient with ``create_graph``, then the gradient of ⟨∇f, v⟩), never
    the full Hessian. ``x`` may be a container; ``v`` then has the same structure.
    ``kwargs`` go to ``f``.
    """
    (call_x,), inputs = _prepare([x], 0)
    v_arrays = _like(flatten(v, "v"), _renamed(inputs, "argument 0", "x"), "hvp: ", ("v", "x"))
    out = _scalar_output(f, [call_x], kwargs, "hvp")
    g = _recorded_grads([out], inputs.leaves)
    live = [(gi, vi) for gi, vi in zip(g, v_arrays) if gi is not None]
    h = (
        _grads([gi for gi, _ in live], inputs.leaves, [vi for _, vi in live], retain_graph=False)
        if live
        else g
    )
    return unflatten(inputs.tree, _arrays(h, inputs.leaves))


def vjp(
    f: Callable[..., Any], /, *primals: Any, **kwargs: Any
) -> tuple[Any, Callable[[Any], tuple[Any, ...]]]:
    """``vjp(f, *primals, **kwargs)`` -> ``(value, vjp_fn)``, as ``torch.func.vjp``/``jax.vjp``.

    ``value`` is ``f(*primals)`` as array(s); ``vjp_fn(cotangent)`` (shaped like the output,
    the same tuple/dict of arrays for a container output) returns a tuple with one gradient
    uᵀJ per primal, each shaped like it. ``vjp_fn`` may be called again with other cotangents.
    """
    if not primals:
        raise TypeError("vjp needs at least one primal argument: vjp(f, x) or vjp(f, x, y, ...)")
    call_args, inputs = _prepare(primals, tuple(range(len(primals))))
    outs = _call(f, call_args, kwargs)
    value = unflatten(outs.tree, [np.array(o.data, copy=True) for o in outs.leaves])
    named_outs = _renamed(outs, "output", "the output")

    def vjp_fn(cotangent: Any) -> tuple[Any, ...]:
        seeds: list[Any] = _like(
            flatten(cotangent, "cotangent"), named_outs, "vjp: ", ("the cotangent", "the output")
        )
        grads = _arrays(_grads(outs.leaves, inputs.leaves, seeds), inputs.leaves)
        result: tuple[Any, ...] = unflatten(inputs.tree, grads)
        return result

    return value, vjp_fn


def jvp(f: Callable[..., Any], primals: Any, tangents: Any, **kwargs: Any) -> tuple[Any, Any]:
    """``jvp(f, primals, tangents, **kwargs)`` -> ``(f(*primals), J·tangents)``, as ``torch.func.jvp``.

    ``primals`` and ``tangents`` are tuples with one entry per argument of ``f`` (each tangent
    shaped like its primal, or the same container); anything that is not a tuple is the one
    argument: ``jvp(f, x, v)``. The forward-mode product comes from two reverse passes (the
    double-vjp construction): u ↦ Jᵀu recorded, then differentiated in u along the tangents.
    """
    primals = primals if isinstance(primals, tuple) else (primals,)
    tangents = tangents if isinstance(tangents, tuple) else (tangents,)
    if len(tangents) != len(primals):
        raise ValueError(
            f"jvp: {len(primals)} primal(s) but {len(tangents)} tangent(s); give one tangent per primal"
        )
    if not primals:
        raise TypeError("jvp needs at least one primal: jvp(f, (x,), (v,)) or jvp(f, x, v)")
    call_args, inputs = _prepare(primals, tuple(range(len(primals))))
    names = ("the tangents", "the primals")
    flat_tangents = _joined([flatten(t, f"tangent {i}") for i, t in enumerate(tangents)])  # one per primal
    v = _like(flat_tangents, _renamed(inputs, "argument", "primal"), "jvp: ", names)
    outs = _call(f, call_args, kwargs)
    value = unflatten(outs.tree, [np.array(o.data, copy=True) for o in outs.leaves])
    live_outs = [o for o in outs.leaves if o.requires_grad]
    us = [Tensor(np.zeros(o.shape, dtype=o.dtype), requires_grad=True) for o in live_outs]
    transposed = _recorded_grads(live_outs, inputs.leaves, list(us))  # Jᵀu, linear in u
    pairs = [(g, vi) for g, vi in zip(transposed, v) if g is not None]
    along = _grads([g for g, _ in pairs], us, [vi for _, vi in pairs], retain_graph=False) if pairs else []
    by_output = dict(zip(map(id, live_outs), along))  # empty: J·v is 0 (f ignores its inputs)
    jv = [by_output.get(id(o)) for o in outs.leaves]
    return value, unflatten(outs.tree, _arrays(jv, outs.leaves))
