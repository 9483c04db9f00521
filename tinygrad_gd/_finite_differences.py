"""The machinery the gradient checks share: float64 copies, fresh Tensors, central differences.

:mod:`tinygrad_gd.checking` builds :func:`~tinygrad_gd.checking.numerical_grad`,
:func:`~tinygrad_gd.checking.gradcheck`, :func:`~tinygrad_gd.checking.gradgradcheck` and
:func:`~tinygrad_gd.checking.compare_gradients` from these pieces. Checked values are always
copied to float64 first: finite differences with a small step are unreliable in float32.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from .autograd import GraphTensor, enable_grad, no_grad
from .tensor import Tensor

__all__ = [
    "input_tuple",
    "is_float_input",
    "float64_copy",
    "float64_arrays",
    "fresh_args",
    "grad_array",
    "output_array",
    "warn_float32",
    "central_differences",
    "caller",
    "random_generator",
    "checked_inputs",
    "run_at_float64",
    "Mismatch",
    "find_mismatch",
]


# --------------------------------------------------------------------------- arrays and Tensors
def input_tuple(inputs: Any) -> tuple[Any, ...]:
    """A list/tuple is a sequence of inputs; anything else is one input."""
    if isinstance(inputs, (list, tuple)):
        return tuple(inputs)
    return (inputs,)


def is_float_input(x: Any) -> bool:
    if isinstance(x, GraphTensor):
        return x.data.dtype.kind == "f"
    if isinstance(x, np.ndarray):
        return x.dtype.kind == "f"
    return isinstance(x, (float, np.floating))


def float64_copy(x: Any) -> np.ndarray:
    return np.array(x.data if isinstance(x, GraphTensor) else x, dtype=np.float64, copy=True)


def output_array(out: Any, who: str) -> np.ndarray:
    if isinstance(out, (tuple, list)):
        raise TypeError(
            f"{who} must return one Tensor, got a {type(out).__name__}; check one output at a time"
        )
    data = out.data if isinstance(out, GraphTensor) else out
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{who} must return a Tensor (or numbers), got {type(out).__name__}") from None


def warn_float32(position: str, dtype: Any, what: str, stacklevel: int = 3) -> None:
    warnings.warn(
        f"{position} has dtype {dtype}: finite differences with a small step are only reliable in "
        f"float64, so {what} uses a float64 copy of it. Pass float64 values to silence this warning.",
        UserWarning,
        stacklevel=stacklevel,
    )


def central_differences(
    call: Callable[[list[Any]], np.ndarray],
    arrays: list[Any],
    which: Sequence[int],
    eps: float,
    weights: np.ndarray | None,
) -> list[np.ndarray]:
    """d(Σ weights·call(arrays))/d(arrays[i]) for i in ``which``, by central differences.

    ``arrays[i]`` (float64, contiguous) are perturbed in place one element at a time and
    restored exactly afterwards.
    """
    value = _contraction(call, arrays, weights)
    grads = []
    for i in which:
        x = arrays[i]
        flat = x.reshape(-1)
        grad = np.zeros(x.shape, dtype=np.float64)
        grad_flat = grad.reshape(-1)
        for k in range(flat.size):
            original = flat[k]
            up, down = original + eps, original - eps
            flat[k] = up
            f_up = value()
            flat[k] = down
            f_down = value()
            flat[k] = original
            # Divide by the step actually taken (up - down is not exactly 2·eps in floats).
            grad_flat[k] = (f_up - f_down) / (up - down)
        grads.append(grad)
    return grads


def _contraction(
    call: Callable[[list[Any]], np.ndarray], arrays: list[Any], weights: np.ndarray | None
) -> Callable[[], float]:
    """Σ weights·call(arrays) at the arrays' current values (the plain sum without weights)."""

    def value() -> float:
        out = call(arrays)
        if weights is None:
            return float(np.sum(out))
        if out.shape != weights.shape:
            raise ValueError(
                f"the function's output changed shape from {weights.shape} to {out.shape} when an "
                f"input was perturbed; gradients need an output of fixed shape"
            )
        return float(np.sum(out * weights))

    return value


def caller(
    fn: Callable[..., Any], template: Sequence[Any], which: Sequence[int]
) -> Callable[[list[Any]], np.ndarray]:
    """A function of the float64 arrays at ``which`` that calls ``fn`` with fresh Tensors
    there and the original arguments elsewhere, recording nothing."""
    name = getattr(fn, "__name__", "fn")

    def call(arrays: list[Any]) -> np.ndarray:
        with no_grad():
            out = fn(*fresh_args(template, arrays, which))
        return output_array(out, name)

    return call


def fresh_args(
    template: Sequence[Any], arrays: list[Any], which: Sequence[int], requires_grad: bool = False
) -> list[Any]:
    """``template`` with new Tensors on copies of ``arrays[i]`` at the positions ``which``."""
    args = list(template)
    for i in which:
        args[i] = Tensor(np.array(arrays[i]), requires_grad=requires_grad)
    return args


def float64_arrays(inputs: Sequence[Any], which: Sequence[int]) -> list[Any]:
    """The inputs, with float64 copies (what central differences perturb) at ``which``."""
    arrays = list(inputs)
    for i in which:
        arrays[i] = float64_copy(inputs[i])
    return arrays


def grad_array(grad: Any, shape: tuple[int, ...]) -> np.ndarray:
    """A gradient as a float64 array; zeros where none arrived (an input fn does not use)."""
    return np.zeros(shape) if grad is None else np.asarray(grad.data, dtype=np.float64)


# --------------------------------------------------------------------------- inputs and verdicts
def random_generator(seed: Any) -> np.random.Generator:
    """``seed`` itself when it is a ``np.random.Generator``, else a new one seeded with it."""
    return seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)


def checked_inputs(inputs: Any, checker: str) -> tuple[tuple[Any, ...], list[int]]:
    """The inputs as a tuple and the indices of those to check (Tensors that require grad,
    as PyTorch); warns about float32 ones (too coarse for finite differences)."""
    inputs = input_tuple(inputs)
    which = [i for i, x in enumerate(inputs) if isinstance(x, GraphTensor) and x.requires_grad]
    if not which:
        raise ValueError(
            f"{checker} found no input to check: it checks the Tensors created with "
            f"requires_grad=True (as PyTorch). Pass e.g. tg.Tensor(x, requires_grad=True)."
        )
    for i in which:
        if inputs[i].data.dtype != np.float64:
            warn_float32(f"{checker} input {i}", inputs[i].data.dtype, checker)
    return inputs, which


def run_at_float64(
    fn: Callable[..., Any], inputs: tuple[Any, ...], which: list[int], checker: str, what: str
) -> tuple[list[Any], Any, np.ndarray]:
    """Call ``fn`` with float64 leaf copies of the checked inputs; refuse a non-Tensor or a
    non-finite output (no derivative to check there)."""
    leaves = fresh_args(inputs, float64_arrays(inputs, which), which, requires_grad=True)
    with enable_grad():
        out = fn(*leaves)
    if not isinstance(out, GraphTensor):
        raise TypeError(f"{checker}'s fn must return a Tensor, got {type(out).__name__}")
    out_data = np.asarray(out.data, dtype=np.float64)
    if not np.all(np.isfinite(out_data)):
        raise ValueError(
            f"fn returned NaN/inf at these inputs (output shape {out_data.shape}): {what} are "
            f"undefined there; choose inputs inside the function's domain"
        )
    return leaves, out, out_data


@dataclass(frozen=True)
class Mismatch:
    """The worst element of the first checked array whose analytic and numeric sides disagree."""

    position: int  # which checked array
    shape: tuple[int, ...]
    index: tuple[int, ...]
    analytic: float
    numeric: float
    allowed: float  # atol + rtol·|numeric| there
    count: int  # how many elements disagree

    @property
    def size(self) -> int:
        return int(np.prod(self.shape))


def find_mismatch(
    analytic: list[np.ndarray], numeric: list[np.ndarray], atol: float, rtol: float
) -> Mismatch | None:
    """``None`` when every element satisfies ``|a − n| ≤ atol + rtol·|n|``; otherwise the
    first array that does not, and its worst element (NaN disagrees, and is worst)."""
    for position, (a, n) in enumerate(zip(analytic, numeric)):
        allowed = atol + rtol * np.abs(n)
        bad = ~(np.abs(a - n) <= allowed)
        if not bad.any():
            continue
        with np.errstate(divide="ignore", invalid="ignore"):
            excess = np.where(bad, np.abs(a - n) / allowed, 0.0)
        excess = np.where(np.isnan(excess), np.inf, excess)
        worst = tuple(int(k) for k in np.unravel_index(int(np.argmax(excess)), a.shape)) if a.ndim else ()
        return Mismatch(
            position, a.shape, worst, float(a[worst]), float(n[worst]), float(allowed[worst]), int(bad.sum())
        )
    return None
