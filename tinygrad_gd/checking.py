"""Is my gradient right? Finite-difference checking and autodiff-vs-hand-derived reports.

* :func:`numerical_grad` — central differences in float64, one array per input.
* :func:`gradcheck` — autodiff (``backward``) against central differences; ``True`` or a
  :class:`GradcheckError` naming the input, the worst element and both values. For a
  non-scalar output it contracts the output with a *random* upstream gradient ``v`` and
  checks d(Σ v·f)/dx, which tests every element of the vector-Jacobian product at once
  (an all-ones ``v`` would hide errors that cancel in a sum).
* :func:`compare_gradients` — a :class:`GradientReport` that puts autodiff, your
  hand-derived gradient and finite differences side by side and says in words which
  parameter disagrees and by what factor ("sign flipped", "factor 2: looks like a 1/N vs
  1/(2N) mix-up", ...).

The shared machinery (float64 copies, central differences, the worst mismatch) is in
``_finite_differences.py``; the report object, its table and its words are in ``_report.py``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any, NamedTuple

import numpy as np

from . import autograd
from ._finite_differences import (
    Mismatch,
    caller,
    central_differences,
    checked_inputs,
    find_mismatch,
    float64_arrays,
    float64_copy,
    fresh_args,
    grad_array,
    input_tuple,
    is_float_input,
    random_generator,
    run_at_float64,
)
from ._report import Discrepancy, GradientReport, ParameterCheck
from ._typing import TensorLike
from .autograd import GraphTensor, enable_grad
from .tensor import Tensor

__all__ = [
    "GradcheckError",
    "numerical_grad",
    "gradcheck",
    "gradgradcheck",
    "compare_gradients",
    "GradientReport",
    "ParameterCheck",
    "Discrepancy",
]


class GradcheckError(AssertionError):
    """Autodiff and finite differences disagree (raised by :func:`gradcheck`).

    An ``AssertionError``, so a failing check inside a test reads as a failed assertion.
    Attributes: ``input_index``, ``index`` (the worst element), ``analytic``, ``numeric``.
    """

    def __init__(
        self,
        message: str,
        input_index: int | None = None,
        index: tuple[int, ...] | None = None,
        analytic: float | None = None,
        numeric: float | None = None,
    ) -> None:
        super().__init__(message)
        self.input_index = input_index
        self.index = index
        self.analytic = analytic
        self.numeric = numeric


# --------------------------------------------------------------------------- numerical_grad
def numerical_grad(
    fn: Callable[..., Any],
    inputs: TensorLike | Sequence[TensorLike],
    eps: float = 1e-6,
    grad_output: TensorLike | None = None,
) -> list[np.ndarray | None]:
    """Gradients of ``fn`` by central differences in float64: one array per input.

    ``fn(*inputs)`` returns a Tensor (or numbers). Each element of each floating-point input
    (float Tensors, whether or not they require grad, float numpy arrays, Python floats) is
    moved by ±``eps`` and ``(f(x+eps) − f(x−eps)) / 2eps`` is recorded; ``fn`` receives
    float64 Tensors there. Other inputs (integer arrays such as class labels, ints, options)
    are passed through unchanged and get ``None``.

    For a non-scalar output the result is the gradient of ``Σ grad_output · fn(...)``
    (``grad_output`` defaults to all ones, i.e. the gradient of the sum of the outputs).
    ``inputs`` is a list/tuple of inputs or a single input; the result is always a list.

        >>> import tinygrad_gd as tg
        >>> [g] = numerical_grad(lambda x: (x ** 2).sum(), [tg.Tensor([1.0, -3.0])])
        >>> np.round(g, 6).tolist()
        [2.0, -6.0]
    """
    eps = float(eps)
    if not eps > 0 or not np.isfinite(eps):
        raise ValueError(f"eps must be a small positive number (e.g. 1e-6), got {eps}")
    inputs = input_tuple(inputs)
    which = [i for i, x in enumerate(inputs) if is_float_input(x)]
    arrays = float64_arrays(inputs, which)
    call = caller(fn, inputs, which)
    weights = None
    if grad_output is not None:
        weights = float64_copy(grad_output)
        shape = call(arrays).shape
        if weights.shape != shape:
            raise ValueError(f"grad_output has shape {weights.shape} but fn's output has shape {shape}")
    grads = central_differences(call, arrays, which, eps, weights)
    result: list[np.ndarray | None] = [None] * len(inputs)
    for i, g in zip(which, grads):
        result[i] = g
    return result


# --------------------------------------------------------------------------- gradcheck
def gradcheck(
    fn: Callable[..., Any],
    inputs: TensorLike | Sequence[TensorLike],
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    raise_exception: bool = True,
    rng: Any = 0,
) -> bool:
    """Check the gradients ``backward`` computes for ``fn`` against central differences.

    ``fn(*inputs)`` maps the inputs to a Tensor. As in PyTorch, the inputs checked are the
    Tensors with ``requires_grad=True``; every other input (constants, integer labels,
    options) is passed through unchanged. Checked inputs are copied to float64 first (a
    ``UserWarning`` says so for float32 inputs). Every element must satisfy
    ``|analytic − numeric| ≤ atol + rtol·|numeric|``.

    A one-element output is differentiated directly. For any other output both sides
    compute the gradient of ``Σ v·fn(...)`` with a random upstream gradient ``v``
    (standard normal, drawn from ``rng``: a seed or a ``np.random.Generator``; fixed by
    default so a failure reproduces), which checks the whole vector-Jacobian product.

    Returns ``True``; on a mismatch raises :class:`GradcheckError` naming the input, the
    worst element, and the analytic and numerical values (or returns ``False`` when
    ``raise_exception=False``).

        >>> import tinygrad_gd as tg
        >>> gradcheck(lambda x: x.sin() * x, [tg.randn(3, requires_grad=True, rng=0)])
        True
    """
    inputs, which = checked_inputs(inputs, "gradcheck")
    # Analytic side: backward through fn at float64 copies of the checked inputs.
    leaves, out, out_data = run_at_float64(fn, inputs, which, "gradcheck", "gradients")
    scalar = out_data.size == 1
    weights = np.ones(out_data.shape) if scalar else random_generator(rng).standard_normal(out_data.shape)
    if out.requires_grad:
        out.backward(gradient=weights.astype(out.data.dtype))
    analytic = [grad_array(leaves[i].grad, inputs[i].shape) for i in which]
    # Numerical side: the same contraction by central differences.
    arrays = float64_arrays(inputs, which)
    numeric = central_differences(caller(fn, inputs, which), arrays, which, float(eps), weights)

    mismatch = find_mismatch(analytic, numeric, atol, rtol)
    if mismatch is None or not raise_exception:
        return mismatch is None
    i = which[mismatch.position]
    raise _failure(mismatch, _gradcheck_message(mismatch, i, eps, out_data.shape, scalar), input_index=i)


def _failure(m: Mismatch, message: str, input_index: int | None) -> GradcheckError:
    return GradcheckError(
        message, input_index=input_index, index=m.index, analytic=m.analytic, numeric=m.numeric
    )


def _difference_words(m: Mismatch) -> str:
    """The part of both checks' messages that weighs the difference against the tolerance."""
    return (
        f"|difference| = {abs(m.analytic - m.numeric):.3g} > atol + rtol·|numeric| = "
        f"{m.allowed:.3g}. {m.count} of {m.size} element(s) disagree"
    )


def _gradcheck_message(m: Mismatch, i: int, eps: float, out_shape: tuple[int, ...], scalar: bool) -> str:
    upstream = (
        "the output is a scalar"
        if scalar
        else f"the output has shape {out_shape}, so both sides were contracted with the "
        f"same random upstream gradient"
    )
    return (
        f"gradcheck failed for input {i} (shape {m.shape}): at index {m.index} the analytic "
        f"gradient (backward) is {m.analytic!r} but the numerical gradient (central differences, "
        f"eps={eps}) is {m.numeric!r}; {_difference_words(m)} ({upstream}). "
        f"Check the backward rules of the ops between input {i} and the output."
    )


# --------------------------------------------------------------------------- gradgradcheck
class _Target(NamedTuple):
    """One array gradgradcheck differentiates with respect to."""

    label: str
    input_index: int | None  # None: grad_outputs, the upstream gradient u (not an input of fn)


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: TensorLike | Sequence[TensorLike],
    grad_outputs: TensorLike | Sequence[TensorLike] | None = None,
    eps: float = 1e-6,
    atol: float = 1e-5,
    rtol: float = 1e-3,
    *,
    raise_exception: bool = True,
    rng: Any = 0,
) -> bool:
    """Check second derivatives: the gradient of the gradient against finite differences.

    As PyTorch's ``gradgradcheck``: the function under test is the first-order
    vector-Jacobian product ``G(x, u) = ∂⟨fn(x), u⟩/∂x`` for the checked inputs ``x`` (the
    Tensors with ``requires_grad=True``, copied to float64) and the upstream gradient ``u``
    (``grad_outputs``: an array shaped like ``fn``'s output; standard normal from ``rng``
    when None). Both sides then differentiate ``s = Σᵢ ⟨Gᵢ(x, u), vᵢ⟩`` with random vectors
    ``vᵢ`` (never all ones, so errors cannot cancel in a sum):

    * analytic: ``G`` computed with ``create_graph=True``, then a second backward from ``s``;
    * numeric: central differences of ``s``, where ``G`` is the plain first-order backward.

    ``s`` is differentiated with respect to every checked input and to ``u`` itself. Every
    element must satisfy ``|analytic − numeric| ≤ atol + rtol·|numeric|``. First derivatives
    are not checked here: run :func:`gradcheck` for those.

    Returns ``True``; on a mismatch raises :class:`GradcheckError` naming the input (or
    ``grad_outputs``), the worst element and both values (or returns ``False`` when
    ``raise_exception=False``). A backward rule that is right to first order but wrong under
    ``create_graph`` (typically one that reads raw arrays, ``.data`` or ``np.*`` where it
    should use the differentiable operations of ``tinygrad_gd.ops``) fails here and not in gradcheck.

        >>> import tinygrad_gd as tg
        >>> gradgradcheck(lambda x: x.sin() * x, [tg.randn(3, requires_grad=True, rng=0)])
        True
    """
    inputs, which = checked_inputs(inputs, "gradgradcheck")
    generator = random_generator(rng)
    leaves, out, out_data = run_at_float64(fn, inputs, which, "gradgradcheck", "derivatives")
    upstream = _upstream(grad_outputs, out_data.shape, generator)
    directions = [generator.standard_normal(inputs[i].shape) for i in which]
    analytic = _second_derivatives(out, [leaves[i] for i in which], upstream, directions)
    # Numerical side: central differences of s in the checked inputs and u (appended last).
    arrays = float64_arrays(inputs, which) + [upstream.copy()]
    s_value = _first_order_s(fn, inputs, which, directions)
    numeric = central_differences(s_value, arrays, which + [len(inputs)], float(eps), None)

    mismatch = find_mismatch(analytic, numeric, atol, rtol)
    if mismatch is None or not raise_exception:
        return mismatch is None
    targets = [_Target(f"input {i}", i) for i in which]
    targets.append(_Target("grad_outputs (the upstream gradient u)", input_index=None))
    target = targets[mismatch.position]
    raise _failure(mismatch, _gradgradcheck_message(mismatch, target.label, eps), target.input_index)


def _upstream(grad_outputs: Any, shape: tuple[int, ...], generator: np.random.Generator) -> np.ndarray:
    """The upstream gradient u: ``grad_outputs`` as float64, or standard normal when None."""
    if grad_outputs is None:
        return generator.standard_normal(shape)
    upstream = float64_copy(grad_outputs)
    if upstream.shape != shape:
        raise ValueError(
            f"grad_outputs has shape {upstream.shape} but fn's output has shape "
            f"{shape}; pass one upstream gradient of exactly the output's shape"
        )
    return upstream


def _second_derivatives(
    out: Any, leaves: list[Tensor], upstream: np.ndarray, directions: list[np.ndarray]
) -> list[np.ndarray]:
    """Analytic side: G = ∂⟨out, u⟩/∂x recorded with create_graph, then the gradient of
    s = Σᵢ ⟨Gᵢ, vᵢ⟩ with respect to each leaf and to u (last)."""
    upstream_leaf = Tensor(upstream.copy(), requires_grad=True)
    checked = leaves + [upstream_leaf]
    s = None
    if out.requires_grad:
        with enable_grad():
            # Seed with a recorded copy of u, not the leaf itself: a gradient that reaches an
            # input unchanged (through +, -, reshape) then stays connected to u.
            seed = upstream_leaf * 1.0
        first = autograd.grad(out, leaves, grad_outputs=seed, create_graph=True, allow_unused=True)
        with enable_grad():
            terms = [(g * v).sum() for g, v in zip(first, directions) if g is not None and g.requires_grad]
            s = sum(terms[1:], terms[0]) if terms else None
    if s is None:
        return [np.zeros(t.shape) for t in checked]
    second = autograd.grad(s, checked, allow_unused=True)
    return [grad_array(g, t.shape) for g, t in zip(second, checked)]


def _first_order_s(
    fn: Callable[..., Any], inputs: tuple[Any, ...], which: list[int], directions: list[np.ndarray]
) -> Callable[[list[Any]], np.ndarray]:
    """s = Σᵢ ⟨Gᵢ(x, u), vᵢ⟩ as a function of the float64 arrays (the checked inputs at
    ``which``, u last), with G from the plain first-order backward."""
    count = len(inputs)

    def s_value(values: list[Any]) -> np.ndarray:
        args = fresh_args(inputs, values, which, requires_grad=True)
        with enable_grad():
            result = fn(*args)
        if not isinstance(result, GraphTensor) or not result.requires_grad:
            return np.zeros(())
        grads = autograd.grad(result, [args[i] for i in which], grad_outputs=values[count], allow_unused=True)
        return np.array(
            sum(float(np.sum(grad_array(g, v.shape) * v)) for g, v in zip(grads, directions) if g is not None)
        )

    return s_value


def _gradgradcheck_message(m: Mismatch, label: str, eps: float) -> str:
    return (
        f"gradgradcheck failed for {label} (shape {m.shape}): at index {m.index} the second "
        f"derivative from create_graph (the gradient of the gradient) is {m.analytic!r} but finite "
        f"differences of the first-order gradient (eps={eps}) give {m.numeric!r}; {_difference_words(m)} "
        f"(both sides differentiate Σ⟨∂⟨fn, u⟩/∂x, v⟩ with the same random "
        f"u and v). If gradcheck passes, a backward rule between the inputs and the output is "
        f"right to first order but not differentiable as written: build it from the "
        f"operations of tinygrad_gd.ops (operators, methods, ops.exp/log/sin/cos/where/select/...) on the "
        f"values in self.saved, never from np.* calls or .data."
    )


# compare_gradients lives in _compare.py (it needs only the shared machinery); re-exported here.
from ._compare import compare_gradients  # noqa: E402
