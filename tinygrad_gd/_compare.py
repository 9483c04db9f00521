"""``compare_gradients``: autodiff, a hand-derived gradient and finite differences side by
side, as a :class:`~tinygrad_gd.checking.GradientReport` that names a disagreement in words.
Public as ``tg.compare_gradients`` and ``tinygrad_gd.checking.compare_gradients``."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from . import _validate
from ._finite_differences import (
    caller,
    central_differences,
    float64_copy,
    grad_array,
    input_tuple,
    warn_float32,
)
from ._report import GradientReport, ParameterCheck, discrepancy, make_report
from ._typing import TensorLike
from .autograd import GraphTensor, enable_grad
from .tensor import Tensor

__all__ = ["compare_gradients"]


# --------------------------------------------------------------------------- compare_gradients
def compare_gradients(
    loss_fn: Callable[..., Any],
    params: TensorLike | Sequence[TensorLike],
    hand_grad: Callable[..., Any] | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    names: Sequence[str] | None = None,
    n: int | None = None,
) -> GradientReport:
    """Put autodiff, your hand-derived gradient and finite differences side by side.

    ``loss_fn(*params)`` returns a one-element Tensor built from Tensor ops; ``params`` are
    Tensors, numpy arrays or numbers (a sequence, or a dict name → value). Each is copied
    to a float64 leaf that requires grad, so nothing you pass is modified.
    ``hand_grad(*param_arrays)`` (optional) returns one array per parameter, in order —
    e.g. ``lambda w, b: analytic.linreg_mse_grad(X, y, w, b)`` — or, for scalar
    parameters, one stacked array ``np.array([dw, db])``.

    Three gradients are computed per parameter: autodiff (``backward``), finite
    differences (central, float64, step ``eps``) and the hand-derived one. Two agree when
    ``max|a − b| ≤ atol + rtol·max(max|a|, max|b|)``. The report's ``str()`` is a table of
    max absolute and relative errors per pair; ``report.ok`` says whether everything
    agrees and ``report.diagnosis`` says in words what does not:

    * hand-derived = 2× or ½× autodiff: "factor 2: looks like a 1/N vs 1/(2N) mix-up";
    * hand-derived = −autodiff: "sign flipped";
    * hand-derived = N× (or N/2×, 2N×, 1/N×, ...) autodiff, N the number of samples:
      "factor N = 50 ... forgot the 1/N?". N is ``n=`` when given, else each number of
      elements a reduction in the loss's graph (a Sum or Mean) reduced over;
    * another constant ratio: "off by a factor of k"; no constant ratio: "disagrees", naming
      the elements that disagree most;
    * when autodiff matches finite differences but not your gradient, the loss function
      and the hand-derived gradient describe different costs (a wrong derivation, or a
      wrong loss such as the beginner's article's ``Y - pred ** 2``);
    * when autodiff does not match finite differences, a backward rule is wrong or the
      loss is not differentiable at these parameter values.

    Names come from ``names=``, the dict's keys, or ``loss_fn``'s parameter names.
    """
    names, arrays = _named_arrays(loss_fn, params, names)
    fn_name = getattr(loss_fn, "__name__", "loss_fn")
    autodiff, counts = _loss_gradients(loss_fn, arrays, fn_name)
    if n is not None:
        counts = [int(n)]
    every = range(len(arrays))
    perturbed = [a.copy() for a in arrays]
    numeric = central_differences(caller(loss_fn, arrays, every), perturbed, every, float(eps), None)
    hands: list[Any] = [None] * len(arrays)
    hand_shapes: list[Any] = [None] * len(arrays)
    if hand_grad is not None:
        hands, hand_shapes = _hand_gradients(hand_grad, arrays, names)
    checks = [
        _parameter_check(*row, atol=atol, rtol=rtol)
        for row in zip(names, arrays, autodiff, numeric, hands, hand_shapes)
    ]
    return make_report(checks, eps, atol, rtol, fn_name, sample_counts=counts)


def _named_arrays(
    loss_fn: Callable[..., Any], params: Any, names: Sequence[str] | None
) -> tuple[list[str], list[np.ndarray]]:
    """The parameters' names and float64 copies (warning about float32 ones)."""
    if isinstance(params, Mapping):
        keys = [str(k) for k in params]
        values = list(params.values())
    else:
        values = list(input_tuple(params))
        keys = None
    if not values:
        raise ValueError("compare_gradients needs at least one parameter")
    if names is not None:
        names = [str(n) for n in names]
        if len(names) != len(values):
            raise ValueError(f"got {len(names)} names for {len(values)} parameters")
    else:
        names = keys or _param_names(loss_fn, len(values))
    for name, v in zip(names, values):
        dtype = v.data.dtype if isinstance(v, GraphTensor) else getattr(v, "dtype", None)
        if dtype is not None and np.dtype(dtype) == np.float32:
            # stacklevel 4: the warning points at the caller of compare_gradients.
            warn_float32(f"parameter {name}", dtype, "compare_gradients", stacklevel=4)
    return list(names), [float64_copy(v) for v in values]


def _param_names(loss_fn: Callable[..., Any], count: int) -> list[str]:
    """Names of loss_fn's positional parameters when they match the parameters one to one."""
    try:
        sig = inspect.signature(loss_fn)
    except (TypeError, ValueError):
        sig = None
    if sig is not None:
        positional = [
            p.name
            for p in sig.parameters.values()
            if p.kind in (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        ]
        if len(positional) == count and not any(p.kind == p.VAR_POSITIONAL for p in sig.parameters.values()):
            return positional
    return [f"params[{i}]" for i in range(count)]


def _loss_gradients(
    loss_fn: Callable[..., Any], arrays: list[np.ndarray], fn_name: str
) -> tuple[list[np.ndarray], list[int]]:
    """Autodiff: one backward from ``loss_fn`` at float64 leaf copies of the parameters; and
    the candidate sample counts N of the loss's reductions (:func:`_reduction_sizes`)."""
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    with enable_grad():
        loss = loss_fn(*leaves)
    _validate.one_element_loss(
        loss,
        f"{fn_name} returned {{type}}, not a Tensor: build the loss from Tensor operations on its "
        f"arguments so that autodiff can follow it",
        f"{fn_name} must return a scalar (one-element) loss, got shape {{shape}}; reduce it with "
        f".mean() or .sum()",
    )
    counts = _reduction_sizes(loss)
    if loss.requires_grad:
        loss.backward()
    return [grad_array(t.grad, a.shape) for a, t in zip(arrays, leaves)], counts


def _reduction_sizes(loss: Any) -> list[int]:
    """How many elements each reduction in the loss's graph reduced over (a Sum or Mean of
    an (n, 1) residual: n): the candidates for N when a hand gradient is off by N."""
    sizes: set[int] = set()
    stack, seen = [loss._node] if loss._node is not None else [], set()
    while stack:
        node = stack.pop()
        if id(node) in seen:
            continue
        seen.add(id(node))
        inputs = [e for e in node.edges if e is not None]
        if len(inputs) == 1:
            edge = inputs[0]
            in_size = int(np.prod(edge.out_shape)) if hasattr(edge, "out_shape") else edge.data.size
            out_size = int(np.prod(node.out_shape))
            if out_size and in_size > out_size and in_size % out_size == 0:
                sizes.add(in_size // out_size)
        stack.extend(e for e in inputs if hasattr(e, "edges"))
    return sorted(sizes)


def _hand_gradients(
    hand_grad: Callable[..., Any], arrays: list[np.ndarray], names: Sequence[str]
) -> tuple[list[np.ndarray], list[tuple[int, ...]]]:
    """Call ``hand_grad`` on copies of the parameters: its arrays in the parameters' shapes
    (NaN where the sizes differ, so nothing compares equal) and the shapes it returned."""
    returned = hand_grad(*[a.copy() for a in arrays])
    if len(arrays) == 1 and not isinstance(returned, (tuple, list)):
        returned = (returned,)
    if isinstance(returned, np.ndarray) and returned.ndim and returned.shape[0] == len(arrays) > 1:
        row_size = int(np.prod(returned.shape[1:]))
        if all(a.size == row_size for a in arrays):  # np.array([dm, db]) for scalar m, b
            returned = list(returned)
    if not isinstance(returned, (tuple, list)) or len(returned) != len(arrays):
        count = len(returned) if isinstance(returned, (tuple, list)) else 1
        raise ValueError(
            f"hand_grad returned {count} gradient(s) for {len(arrays)} parameter(s) "
            f"({', '.join(names)}): return one array per parameter, in the same order"
        )
    hands = [float64_copy(h) for h in returned]
    shapes = [tuple(h.shape) for h in hands]
    # A gradient of another size cannot be compared: NaN, so that nothing agrees with it.
    hands = [h.reshape(a.shape) if h.size == a.size else np.full(a.shape, np.nan) for a, h in zip(arrays, hands)]
    return hands, shapes


def _parameter_check(
    name: str,
    value: np.ndarray,
    autodiff: np.ndarray,
    numeric: np.ndarray,
    hand: np.ndarray | None,
    hand_shape: tuple[int, ...] | None,
    *,
    atol: float,
    rtol: float,
) -> ParameterCheck:
    """One parameter's three gradients and how far each pair is apart."""
    check = ParameterCheck(
        name=name,
        shape=tuple(value.shape),
        autodiff=autodiff,
        numeric=numeric,
        hand=hand,
        hand_shape=hand_shape,
        autodiff_vs_numeric=discrepancy(autodiff, numeric, atol, rtol),
    )
    if hand is not None:
        check.hand_vs_numeric = discrepancy(hand, numeric, atol, rtol)
        check.autodiff_vs_hand = discrepancy(autodiff, hand, atol, rtol)
    return check
