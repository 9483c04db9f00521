"""Function transforms: ``grad``, ``value_and_grad``, ``jacobian``, ``hessian``, ``hvp``.

Each takes a function ``f`` of Tensors returning a Tensor and gives numpy arrays back.
Arguments may be numpy arrays, Python numbers/lists or Tensors; each differentiated argument
is copied into a fresh leaf, so ``f``'s other tensors keep their ``.grad`` untouched.
Higher derivatives come from ``create_graph=True``: the same backward rules, recorded.

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
from ._typing import TensorLike
from .autograd import GraphTensor, enable_grad
from .tensor import Tensor

__all__ = ["grad", "value_and_grad", "jacobian", "hessian", "hvp"]

Argnums = int | Sequence[int]


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
    single = isinstance(argnums, (int, np.integer))
    nums = (int(argnums),) if single else tuple(int(a) for a in argnums)  # type: ignore[union-attr]
    if not nums:
        raise ValueError("argnums must name at least one argument")
    for a in nums:
        if not -nargs <= a < nargs:
            raise ValueError(f"argnums={argnums} is out of range for a call with {nargs} argument(s)")
    return tuple(a % nargs for a in nums), single


def _call(f: Callable[..., Any], args: list[Any]) -> Tensor:
    with enable_grad():
        out = f(*args)
    if not isinstance(out, GraphTensor):
        raise TypeError(f"the function must return a Tensor, it returned {type(out).__name__}")
    return out


def _scalar_output(f: Callable[..., Any], args: list[Any], who: str, hint: str = "") -> Tensor:
    """``f(*args)``, which must be a one-element Tensor (``who`` and ``hint`` shape the error)."""
    out = _call(f, args)
    if out.size != 1:
        raise ValueError(f"{who} needs a function with a one-element output, this one returned shape {out.shape}{hint}")
    return out


def _recorded_gradient(f: Callable[[Tensor], Tensor], leaf: Tensor, who: str) -> Tensor | None:
    """The gradient of a scalar-valued ``f`` at ``leaf``, recorded (``create_graph``) to be
    differentiated again; None when it cannot depend on ``leaf`` (second derivatives are 0)."""
    out = _scalar_output(f, [leaf], who)
    if not out.requires_grad:
        return None
    (g,) = autograd.grad(out, [leaf], create_graph=True, allow_unused=True)
    return g if g is not None and g.requires_grad else None


def value_and_grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., tuple[np.ndarray, Any]]:
    """``value_and_grad(f, argnums)(*args)`` -> ``(f(*args) as an array, gradient(s))``.

    ``f`` must return a one-element Tensor (use :func:`jacobian` otherwise). The gradient is
    an array shaped like the argument, or a tuple of arrays when ``argnums`` is a tuple.
    """

    def wrapped(*args: Any) -> tuple[np.ndarray, Any]:
        nums, single = _normalize_argnums(argnums, len(args))
        call_args = list(args)
        for a in set(nums):  # one leaf per argument, even when argnums repeats it
            call_args[a] = _leaf(args[a], f"argument {a}")
        leaves = [call_args[a] for a in nums]
        hint = "; use tg.jacobian(f) for vector outputs (or reduce the output)"
        out = _scalar_output(f, call_args, "grad", hint)
        if not out.requires_grad:
            grads = [np.zeros_like(leaf.data) for leaf in leaves]
        else:
            results = autograd.grad(out, leaves, allow_unused=True)
            grads = [np.zeros_like(leaf.data) if g is None else g.data for g, leaf in zip(results, leaves)]
        value = np.array(out.data, copy=True)
        return value, (grads[0] if single else tuple(grads))

    return wrapped


def grad(f: Callable[..., Any], argnums: Argnums = 0) -> Callable[..., Any]:
    """``grad(f, argnums)(*args)`` -> the gradient of a scalar-valued ``f`` as numpy array(s)."""
    value_and_grad_f = value_and_grad(f, argnums)

    def wrapped(*args: Any) -> Any:
        return value_and_grad_f(*args)[1]

    return wrapped


def _jacobian_tensor(f: Callable[[Tensor], Tensor], x: Tensor, create_graph: bool) -> tuple[Tensor, list[Any]]:
    """Rows of the Jacobian of ``f`` at leaf ``x``: one backward per output element."""
    out = _call(f, [x])
    rows = []
    flat_size = out.size
    for i in range(flat_size):
        seed = np.zeros(flat_size, dtype=out.dtype)
        seed[i] = 1.0
        if not out.requires_grad:
            rows.append(None)
            continue
        (g,) = autograd.grad(
            out,
            [x],
            grad_outputs=seed.reshape(out.shape),
            retain_graph=True,
            create_graph=create_graph,
            allow_unused=True,
        )
        rows.append(g)
    return out, rows


def jacobian(f: Callable[[Tensor], Tensor]) -> Callable[[TensorLike], np.ndarray]:
    """``jacobian(f)(x)`` -> array of shape ``f(x).shape + x.shape``: d out[i] / d x[j]."""

    def wrapped(x: Any) -> np.ndarray:
        leaf = _leaf(x, "the argument")
        out, rows = _jacobian_tensor(f, leaf, create_graph=False)
        flat = [np.zeros(leaf.shape) if g is None else g.data for g in rows]
        if not flat:
            return np.zeros(out.shape + leaf.shape)
        return np.stack(flat).reshape(out.shape + leaf.shape)

    return wrapped


def hessian(f: Callable[[Tensor], Tensor]) -> Callable[[TensorLike], np.ndarray]:
    """``hessian(f)(x)`` -> array of shape ``x.shape + x.shape`` of a scalar-valued ``f``."""

    def wrapped(x: Any) -> np.ndarray:
        leaf = _leaf(x, "the argument")
        g = _recorded_gradient(f, leaf, "hessian")
        if g is None:
            return np.zeros(leaf.shape + leaf.shape)
        rows = []
        flat_g = g.reshape(-1)
        for i in range(leaf.size):
            (h,) = autograd.grad(flat_g[i], [leaf], retain_graph=True, allow_unused=True)
            rows.append(np.zeros(leaf.shape) if h is None else h.data)
        return np.stack(rows).reshape(leaf.shape + leaf.shape)

    return wrapped


def hvp(f: Callable[[Tensor], Tensor], x: TensorLike, v: TensorLike) -> np.ndarray:
    """Hessian-vector product H(x) @ v of a scalar-valued ``f``, shaped like ``x``.

    Two backward passes (gradient with ``create_graph``, then the gradient of ⟨∇f, v⟩), never
    the full Hessian.
    """
    leaf = _leaf(x, "x")
    v_arr = np.asarray(v.data if isinstance(v, GraphTensor) else v, dtype=leaf.dtype)
    if v_arr.shape != leaf.shape:
        raise ValueError(f"hvp: v has shape {v_arr.shape} but x has shape {leaf.shape}; they must match")
    g = _recorded_gradient(f, leaf, "hvp")
    if g is None:
        return np.zeros(leaf.shape)
    with enable_grad():
        directional = (g * Tensor(v_arr)).sum()
    (h,) = autograd.grad(directional, [leaf], allow_unused=True)
    return np.zeros(leaf.shape) if h is None else np.array(h.data, copy=True)
