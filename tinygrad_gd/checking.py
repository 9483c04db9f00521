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
"""

from __future__ import annotations

import inspect
import warnings
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import autograd
from .autograd import GraphTensor, enable_grad, no_grad
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


# --------------------------------------------------------------------------- helpers
def _input_tuple(inputs: Any) -> tuple[Any, ...]:
    """A list/tuple is a sequence of inputs; anything else is one input."""
    if isinstance(inputs, (list, tuple)):
        return tuple(inputs)
    return (inputs,)


def _is_float_input(x: Any) -> bool:
    if isinstance(x, GraphTensor):
        return x.data.dtype.kind == "f"
    if isinstance(x, np.ndarray):
        return x.dtype.kind == "f"
    return isinstance(x, (float, np.floating))


def _float64_copy(x: Any) -> np.ndarray:
    return np.array(x.data if isinstance(x, GraphTensor) else x, dtype=np.float64, copy=True)


def _output_array(out: Any, who: str) -> np.ndarray:
    if isinstance(out, (tuple, list)):
        raise TypeError(f"{who} must return one Tensor, got a {type(out).__name__}; check one output at a time")
    data = out.data if isinstance(out, GraphTensor) else out
    try:
        return np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise TypeError(f"{who} must return a Tensor (or numbers), got {type(out).__name__}") from None


def _warn_float32(position: str, dtype: Any, what: str) -> None:
    warnings.warn(
        f"{position} has dtype {dtype}: finite differences with a small step are only reliable in "
        f"float64, so {what} uses a float64 copy of it. Pass float64 values to silence this warning.",
        UserWarning,
        stacklevel=3,
    )


def _central_differences(
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


def _caller(fn: Callable[..., Any], template: Sequence[Any], which: Sequence[int]) -> Callable[[list[Any]], np.ndarray]:
    """A function of the float64 arrays at ``which`` that calls ``fn`` with fresh Tensors
    there and the original arguments elsewhere, recording nothing."""
    name = getattr(fn, "__name__", "fn")

    def call(arrays: list[Any]) -> np.ndarray:
        args = list(template)
        for i in which:
            args[i] = Tensor(np.array(arrays[i]))
        with no_grad():
            out = fn(*args)
        return _output_array(out, name)

    return call


# --------------------------------------------------------------------------- numerical_grad
def numerical_grad(
    fn: Callable[..., Any],
    inputs: Any,
    eps: float = 1e-6,
    grad_output: Any = None,
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
    inputs = _input_tuple(inputs)
    which = [i for i, x in enumerate(inputs) if _is_float_input(x)]
    arrays: list[Any] = list(inputs)
    for i in which:
        arrays[i] = _float64_copy(inputs[i])
    call = _caller(fn, inputs, which)
    weights = None
    if grad_output is not None:
        weights = _float64_copy(grad_output)
        shape = call(arrays).shape
        if weights.shape != shape:
            raise ValueError(f"grad_output has shape {weights.shape} but fn's output has shape {shape}")
    grads = _central_differences(call, arrays, which, eps, weights)
    result: list[np.ndarray | None] = [None] * len(inputs)
    for i, g in zip(which, grads):
        result[i] = g
    return result


# --------------------------------------------------------------------------- gradcheck
def _rng(rng: Any) -> np.random.Generator:
    return rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)


def _checked_inputs(inputs: Any, checker: str) -> tuple[tuple[Any, ...], list[int]]:
    """The inputs as a tuple and the indices of those to check (Tensors that require grad,
    as PyTorch); warns about float32 ones (too coarse for finite differences)."""
    inputs = _input_tuple(inputs)
    which = [i for i, x in enumerate(inputs) if isinstance(x, GraphTensor) and x.requires_grad]
    if not which:
        raise ValueError(
            f"{checker} found no input to check: it checks the Tensors created with "
            f"requires_grad=True (as PyTorch). Pass e.g. tg.Tensor(x, requires_grad=True)."
        )
    for i in which:
        if inputs[i].data.dtype != np.float64:
            _warn_float32(f"{checker} input {i}", inputs[i].data.dtype, checker)
    return inputs, which


def _run_at_float64(
    fn: Callable[..., Any], inputs: tuple[Any, ...], which: list[int], checker: str, what: str
) -> tuple[list[Any], Any, np.ndarray]:
    """Call ``fn`` with float64 leaf copies of the checked inputs; refuse a non-Tensor or a
    non-finite output (no derivative to check there)."""
    leaves = list(inputs)
    for i in which:
        leaves[i] = Tensor(_float64_copy(inputs[i]), requires_grad=True)
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


def gradcheck(
    fn: Callable[..., Any],
    inputs: Any,
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
    inputs, which = _checked_inputs(inputs, "gradcheck")

    # Analytic side: backward through fn at float64 copies of the checked inputs.
    leaves, out, out_data = _run_at_float64(fn, inputs, which, "gradcheck", "gradients")
    scalar = out_data.size == 1
    weights = np.ones(out_data.shape) if scalar else _rng(rng).standard_normal(out_data.shape)
    if out.requires_grad:
        out.backward(gradient=weights.astype(out.data.dtype))
    analytic = [
        np.zeros(inputs[i].shape) if leaves[i].grad is None else np.asarray(leaves[i].grad.data, dtype=np.float64)
        for i in which
    ]

    # Numerical side: the same contraction by central differences.
    arrays: list[Any] = list(inputs)
    for i in which:
        arrays[i] = _float64_copy(inputs[i])
    numeric = _central_differences(_caller(fn, inputs, which), arrays, which, float(eps), weights)

    for i, a, n in zip(which, analytic, numeric):
        allowed = atol + rtol * np.abs(n)
        excess = np.abs(a - n) / allowed
        bad = ~(np.abs(a - n) <= allowed)  # NaN counts as a mismatch
        if not bad.any():
            continue
        if not raise_exception:
            return False
        excess = np.where(np.isnan(excess), np.inf, excess)
        worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
        worst = tuple(int(k) for k in worst)
        a_val, n_val = float(a[worst]), float(n[worst])
        upstream = (
            "the output is a scalar"
            if scalar
            else f"the output has shape {out_data.shape}, so both sides were contracted with the "
            f"same random upstream gradient"
        )
        raise GradcheckError(
            f"gradcheck failed for input {i} (shape {a.shape}): at index {worst} the analytic "
            f"gradient (backward) is {a_val!r} but the numerical gradient (central differences, "
            f"eps={eps}) is {n_val!r}; |difference| = {abs(a_val - n_val):.3g} > atol + rtol·|numeric| "
            f"= {float(allowed[worst]):.3g}. {int(bad.sum())} of {a.size} element(s) disagree ({upstream}). "
            f"Check the backward rules of the ops between input {i} and the output.",
            input_index=i,
            index=worst,
            analytic=a_val,
            numeric=n_val,
        )
    return True


# --------------------------------------------------------------------------- gradgradcheck
def _worst_mismatch(a: np.ndarray, n: np.ndarray, atol: float, rtol: float) -> tuple[tuple[int, ...], float, int] | None:
    """``None`` when every element satisfies ``|a − n| ≤ atol + rtol·|n|``; otherwise the
    worst element's index, its tolerance and how many elements disagree (NaN disagrees)."""
    allowed = atol + rtol * np.abs(n)
    bad = ~(np.abs(a - n) <= allowed)
    if not bad.any():
        return None
    excess = np.where(bad, np.abs(a - n) / allowed, 0.0)
    excess = np.where(np.isnan(excess), np.inf, excess)
    worst = np.unravel_index(int(np.argmax(excess)), a.shape) if a.ndim else ()
    worst = tuple(int(k) for k in worst)
    return worst, float(allowed[worst]), int(bad.sum())


def gradgradcheck(
    fn: Callable[..., Any],
    inputs: Any,
    grad_outputs: Any = None,
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
    should use the differentiable operations of ``ops.py``) fails here and not in gradcheck.

        >>> import tinygrad_gd as tg
        >>> gradgradcheck(lambda x: x.sin() * x, [tg.randn(3, requires_grad=True, rng=0)])
        True
    """
    inputs, which = _checked_inputs(inputs, "gradgradcheck")
    generator = _rng(rng)

    # Analytic side: G with create_graph, then the gradient of s = Σ <G_i, v_i>.
    leaves, out, out_data = _run_at_float64(fn, inputs, which, "gradgradcheck", "derivatives")
    if grad_outputs is None:
        upstream = generator.standard_normal(out_data.shape)
    else:
        upstream = _float64_copy(grad_outputs)
        if upstream.shape != out_data.shape:
            raise ValueError(
                f"grad_outputs has shape {upstream.shape} but fn's output has shape "
                f"{out_data.shape}; pass one upstream gradient of exactly the output's shape"
            )
    directions = [generator.standard_normal(inputs[i].shape) for i in which]
    upstream_leaf = Tensor(upstream.copy(), requires_grad=True)
    checked = [leaves[i] for i in which] + [upstream_leaf]
    analytic = [np.zeros(t.shape) for t in checked]
    if out.requires_grad:
        with enable_grad():
            # Seed with a recorded copy of u, not the leaf itself: a gradient that reaches an
            # input unchanged (through +, -, reshape) then stays connected to u.
            seed = upstream_leaf * 1.0
        first = autograd.grad(
            out, [leaves[i] for i in which], grad_outputs=seed, create_graph=True, allow_unused=True
        )
        with enable_grad():
            terms = [(g * v).sum() for g, v in zip(first, directions) if g is not None and g.requires_grad]
            s = terms[0] if terms else None
            for term in terms[1:]:
                s = s + term
        if s is not None:
            second = autograd.grad(s, checked, allow_unused=True)
            analytic = [
                np.zeros(t.shape) if g is None else np.asarray(g.data, dtype=np.float64)
                for g, t in zip(second, checked)
            ]

    # Numerical side: central differences of s, with G from the plain first-order backward.
    count = len(inputs)
    arrays: list[Any] = list(inputs) + [upstream.copy()]
    for i in which:
        arrays[i] = _float64_copy(inputs[i])

    def s_value(values: list[Any]) -> np.ndarray:
        args = list(inputs)
        for i in which:
            args[i] = Tensor(np.array(values[i]), requires_grad=True)
        with enable_grad():
            result = fn(*args)
        if not isinstance(result, GraphTensor) or not result.requires_grad:
            return np.zeros(())
        grads = autograd.grad(result, [args[i] for i in which], grad_outputs=values[count], allow_unused=True)
        total = sum(float(np.sum(np.asarray(g.data, dtype=np.float64) * v)) for g, v in zip(grads, directions) if g is not None)
        return np.array(total)

    numeric = _central_differences(s_value, arrays, which + [count], float(eps), None)

    names = [f"input {i}" for i in which] + ["grad_outputs (the upstream gradient u)"]
    for name, a, n in zip(names, analytic, numeric):
        mismatch = _worst_mismatch(a, n, atol, rtol)
        if mismatch is None:
            continue
        if not raise_exception:
            return False
        worst, allowed, bad = mismatch
        a_val, n_val = float(a[worst]), float(n[worst])
        raise GradcheckError(
            f"gradgradcheck failed for {name} (shape {a.shape}): at index {worst} the second "
            f"derivative from create_graph (the gradient of the gradient) is {a_val!r} but finite "
            f"differences of the first-order gradient (eps={eps}) give {n_val!r}; |difference| = "
            f"{abs(a_val - n_val):.3g} > atol + rtol·|numeric| = {allowed:.3g}. {bad} of {a.size} "
            f"element(s) disagree (both sides differentiate Σ⟨∂⟨fn, u⟩/∂x, v⟩ with the same random "
            f"u and v). If gradcheck passes, a backward rule between the inputs and the output is "
            f"right to first order but not differentiable as written: build it from the "
            f"operations in ops.py (operators, methods, ops.exp/log/sin/cos/where/...) on the "
            f"values in self.saved, never from np.* calls or .data.",
            input_index=None if name.startswith("grad_outputs") else which[names.index(name)],
            index=worst,
            analytic=a_val,
            numeric=n_val,
        )
    return True


# --------------------------------------------------------------------------- compare_gradients
@dataclass(frozen=True)
class Discrepancy:
    """How far two gradients of one parameter are apart.

    ``max_abs`` = max |a − b|; ``max_rel`` = max |a − b| / max(max|a|, max|b|) (0 when both
    are zero); ``agree``: ``max_abs ≤ atol + rtol·max(max|a|, max|b|)``.
    """

    max_abs: float
    max_rel: float
    agree: bool


def _discrepancy(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> Discrepancy:
    diff = float(np.max(np.abs(a - b))) if a.size else 0.0
    scale = float(max(np.max(np.abs(a)), np.max(np.abs(b)))) if a.size else 0.0
    rel = diff / scale if scale > 0 else (0.0 if diff == 0 else float("inf"))
    agree = bool(diff <= atol + rtol * scale)  # False for NaN
    return Discrepancy(diff, rel, agree)


@dataclass
class ParameterCheck:
    """One parameter's row of a :class:`GradientReport`."""

    name: str
    shape: tuple[int, ...]
    autodiff: np.ndarray
    numeric: np.ndarray
    hand: np.ndarray | None
    autodiff_vs_numeric: Discrepancy
    hand_vs_numeric: Discrepancy | None = None
    autodiff_vs_hand: Discrepancy | None = None
    ratio: float | None = None
    """hand-derived / autodiff (least squares), when the hand gradient disagrees."""
    diagnosis: str = ""
    """Empty when all gradients of this parameter agree; otherwise what is wrong, in words."""

    @property
    def ok(self) -> bool:
        return not self.diagnosis


@dataclass
class GradientReport:
    """What :func:`compare_gradients` found: ``str(report)`` is a table plus diagnosis.

    ``parameters`` holds one :class:`ParameterCheck` per parameter (also reachable as
    ``report["w"]``); ``ok`` is True when every gradient agrees; ``diagnosis`` says what
    disagrees, in words.
    """

    parameters: list[ParameterCheck]
    eps: float
    notes: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return all(p.ok for p in self.parameters)

    @property
    def has_hand(self) -> bool:
        return any(p.hand is not None for p in self.parameters)

    @property
    def diagnosis(self) -> str:
        lines = [p.diagnosis for p in self.parameters if p.diagnosis] + list(self.notes)
        if not lines:
            what = "autodiff, the hand-derived gradient and finite differences" if self.has_hand else (
                "autodiff and finite differences"
            )
            return f"all gradients agree: {what} match for every parameter."
        return "\n".join(lines)

    def __getitem__(self, name: str) -> ParameterCheck:
        for p in self.parameters:
            if p.name == name:
                return p
        raise KeyError(f"no parameter named {name!r}; the parameters are {[p.name for p in self.parameters]}")

    def __str__(self) -> str:
        pairs = [("autodiff vs numeric", "autodiff_vs_numeric")]
        if self.has_hand:
            pairs += [("hand vs numeric", "hand_vs_numeric"), ("autodiff vs hand", "autodiff_vs_hand")]
        header = ["parameter", "shape"]
        for _ in pairs:
            header += ["max abs", "max rel"]
        header.append("status")
        rows = []
        for p in self.parameters:
            row = [p.name, str(p.shape)]
            for _, attr in pairs:
                d = getattr(p, attr)
                row += ["-", "-"] if d is None else [f"{d.max_abs:.2e}", f"{d.max_rel:.2e}"]
            row.append("ok" if p.ok else "MISMATCH")
            rows.append(row)
        widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]
        # Each pair title spans its two columns.
        for k, (title, _) in enumerate(pairs):
            c = 2 + 2 * k
            span = widths[c] + 2 + widths[c + 1]
            if len(title) > span:
                widths[c + 1] += len(title) - span

        def fmt(cells: list[str]) -> str:
            return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()

        top_cells = [" " * widths[0], " " * widths[1]]
        for k, (title, _) in enumerate(pairs):
            c = 2 + 2 * k
            top_cells.append(title.ljust(widths[c] + 2 + widths[c + 1]))
        top = "  ".join(top_cells).rstrip()
        title = f"gradient check (float64; finite differences with eps={self.eps:g})"
        lines = [title, top, fmt(header)] + [fmt(r) for r in rows]
        verdict = "OK" if self.ok else "MISMATCH"
        lines.append(f"{verdict}: " + self.diagnosis.replace("\n", "\n  "))
        return "\n".join(lines)

    def __repr__(self) -> str:
        first = self.diagnosis.splitlines()[0]
        return f"<GradientReport ok={self.ok}: {first}>"


_FACTOR_2 = "factor 2: looks like a 1/N vs 1/(2N) mix-up"
_FACTOR_2_NOTE = (
    "About the factor 2: a 1/N vs 1/(2N) mix-up happens when the two squared-error conventions "
    "are mixed: J = 1/N Σ (y − ŷ)² (seeds 000/001) has gradients with a factor 2, J = 1/(2m) "
    "Σ (ŷ − y)² (seed 002) has none. Name the convention and use it in both the loss and the derivation."
)
_SIGN = "sign flipped"
_SIGN_NOTE = (
    "About the flipped sign: a step w -= lr * grad with that gradient climbs instead of "
    "descending. Check (ŷ − y) against (y − ŷ), and the minus sign the chain rule brings out "
    "of (y − ŷ)² (seed 001's gradients() has this mistake)."
)


def _close(x: float, target: float, tol: float = 1e-3) -> bool:
    return abs(x - target) <= tol * abs(target)


def _ratio(hand: np.ndarray, reference: np.ndarray, atol: float, rtol: float) -> tuple[float | None, bool]:
    """Least-squares k with hand ≈ k·reference, and whether the fit is exact (to tolerance)."""
    denom = float(np.sum(reference * reference))
    if denom == 0 or not np.isfinite(denom):
        return None, False
    k = float(np.sum(hand * reference)) / denom
    residual = float(np.max(np.abs(hand - k * reference)))
    return k, residual <= atol + rtol * float(np.max(np.abs(hand)))


def _factor_words(k: float) -> str | None:
    """Words for a special ratio hand/autodiff, or None."""
    if _close(k, -1.0):
        return _SIGN
    if _close(k, 2.0) or _close(k, 0.5):
        return _FACTOR_2
    if _close(k, -2.0) or _close(k, -0.5):
        return f"{_SIGN} and {_FACTOR_2}"
    return None


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


def compare_gradients(
    loss_fn: Callable[..., Any],
    params: Any,
    hand_grad: Callable[..., Any] | None = None,
    *,
    eps: float = 1e-6,
    atol: float = 1e-6,
    rtol: float = 1e-4,
    names: Sequence[str] | None = None,
) -> GradientReport:
    """Put autodiff, your hand-derived gradient and finite differences side by side.

    ``loss_fn(*params)`` returns a one-element Tensor built from Tensor ops; ``params`` are
    Tensors, numpy arrays or numbers (a sequence, or a dict name → value). Each is copied
    to a float64 leaf that requires grad, so nothing you pass is modified.
    ``hand_grad(*param_arrays)`` (optional) returns one array per parameter, in order —
    e.g. ``lambda w, b: analytic.linreg_mse_grad(X, y, w, b)``.

    Three gradients are computed per parameter: autodiff (``backward``), finite
    differences (central, float64, step ``eps``) and the hand-derived one. Two agree when
    ``max|a − b| ≤ atol + rtol·max(max|a|, max|b|)``. The report's ``str()`` is a table of
    max absolute and relative errors per pair; ``report.ok`` says whether everything
    agrees and ``report.diagnosis`` says in words what does not:

    * hand-derived = 2× or ½× autodiff: "factor 2: looks like a 1/N vs 1/(2N) mix-up";
    * hand-derived = −autodiff: "sign flipped";
    * another constant ratio: "off by a factor of k"; no constant ratio: "disagrees";
    * when autodiff matches finite differences but not your gradient, the loss function
      and the hand-derived gradient describe different costs (a wrong derivation, or a
      wrong loss such as seed 001's ``Y - pred ** 2``);
    * when autodiff does not match finite differences, a backward rule is wrong or the
      loss is not differentiable at these parameter values.

    Names come from ``names=``, the dict's keys, or ``loss_fn``'s parameter names.
    """
    if isinstance(params, Mapping):
        keys = [str(k) for k in params]
        values = list(params.values())
    else:
        values = list(_input_tuple(params))
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
            _warn_float32(f"parameter {name}", dtype, "compare_gradients")
    arrays = [_float64_copy(v) for v in values]
    fn_name = getattr(loss_fn, "__name__", "loss_fn")

    # Autodiff.
    leaves = [Tensor(a.copy(), requires_grad=True) for a in arrays]
    with enable_grad():
        loss = loss_fn(*leaves)
    if not isinstance(loss, GraphTensor):
        raise TypeError(
            f"{fn_name} returned {type(loss).__name__}, not a Tensor: build the loss from Tensor "
            f"operations on its arguments so that autodiff can follow it"
        )
    if loss.data.size != 1:
        raise ValueError(
            f"{fn_name} must return a scalar (one-element) loss, got shape {loss.shape}; reduce it "
            f"with .mean() or .sum()"
        )
    if loss.requires_grad:
        loss.backward()
    autodiff = [
        np.zeros(a.shape) if t.grad is None else np.asarray(t.grad.data, dtype=np.float64)
        for a, t in zip(arrays, leaves)
    ]

    # Finite differences.
    perturbed = [a.copy() for a in arrays]
    numeric = _central_differences(
        _caller(loss_fn, leaves, range(len(arrays))), perturbed, range(len(arrays)), float(eps), None
    )

    # Hand-derived.
    hands: list[np.ndarray | None] = [None] * len(arrays)
    shape_problems: dict[int, str] = {}
    if hand_grad is not None:
        hands, shape_problems = _hand_gradients(hand_grad, arrays, names)

    checks = []
    for i, name in enumerate(names):
        check = ParameterCheck(
            name=name,
            shape=tuple(arrays[i].shape),
            autodiff=autodiff[i],
            numeric=numeric[i],
            hand=hands[i],
            autodiff_vs_numeric=_discrepancy(autodiff[i], numeric[i], atol, rtol),
        )
        if hands[i] is not None:
            check.hand_vs_numeric = _discrepancy(hands[i], numeric[i], atol, rtol)
            check.autodiff_vs_hand = _discrepancy(autodiff[i], hands[i], atol, rtol)
        checks.append(check)

    _diagnose(checks, shape_problems, atol, rtol, eps)
    notes: list[str] = []
    autodiff_right = all(c.autodiff_vs_numeric.agree for c in checks)
    hand_wrong = [c.name for c in checks if c.hand is not None and not c.autodiff_vs_hand.agree]
    if hand_wrong and autodiff_right:
        no_factor = any("no constant factor" in c.diagnosis for c in checks)
        example = (
            " (such as seed 001's `Y - pred ** 2`, which squares only the prediction, instead of "
            "`(Y - pred) ** 2`)"
            if no_factor
            else ""
        )
        notes.append(
            "The autodiff gradient matches finite differences, so the loss function and the "
            "hand-derived gradient describe different costs: either the derivation is wrong, or "
            f"{fn_name} does not compute the cost you derived{example}."
        )
    diagnoses = "\n".join(c.diagnosis for c in checks)
    if _FACTOR_2 in diagnoses:
        notes.append(_FACTOR_2_NOTE)
    if _SIGN in diagnoses:
        notes.append(_SIGN_NOTE)
    return GradientReport(parameters=checks, eps=float(eps), notes=notes)


def _hand_gradients(
    hand_grad: Callable[..., Any], arrays: list[np.ndarray], names: Sequence[str]
) -> tuple[list[np.ndarray | None], dict[int, str]]:
    """Call ``hand_grad`` on copies of the parameters; its arrays in the parameters' shapes,
    and a description of every shape that does not match (by parameter index)."""
    returned = hand_grad(*[a.copy() for a in arrays])
    if len(arrays) == 1 and not isinstance(returned, (tuple, list)):
        returned = (returned,)
    if not isinstance(returned, (tuple, list)) or len(returned) != len(arrays):
        count = len(returned) if isinstance(returned, (tuple, list)) else 1
        raise ValueError(
            f"hand_grad returned {count} gradient(s) for {len(arrays)} parameter(s) "
            f"({', '.join(names)}): return one array per parameter, in the same order"
        )
    hands: list[np.ndarray | None] = []
    problems: dict[int, str] = {}
    for i, (name, a, h) in enumerate(zip(names, arrays, returned)):
        h = _float64_copy(h)
        if h.shape != a.shape and h.size != a.size:
            problems[i] = (
                f"{name}: the hand-derived gradient has shape {h.shape} but {name} has shape "
                f"{a.shape}; they cannot be compared — a gradient must have its parameter's shape"
            )
            h = np.full(a.shape, np.nan)
        elif h.shape != a.shape:
            if h.size > 1:  # (n,) against (n, 1): an update would broadcast to (n, n)
                problems[i] = (
                    f"{name}: the hand-derived gradient has shape {h.shape} but {name} has "
                    f"shape {a.shape}; {name} -= lr * grad would broadcast to "
                    f"{_broadcast_shape(a.shape, h.shape)}. Values were compared after "
                    f"reshaping; return it as {a.shape}"
                )
            h = h.reshape(a.shape)
        hands.append(h)
    return hands, problems


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> str:
    try:
        return str(np.broadcast_shapes(a, b))
    except ValueError:
        return "an error"


def _diagnose(checks: list[ParameterCheck], shape_problems: dict[int, str], atol: float, rtol: float, eps: float) -> None:
    """Fill in each check's ``ratio`` and ``diagnosis``."""
    # Ratios of hand-derived to the best reference (autodiff when it matches finite differences).
    fits: dict[int, tuple[float | None, bool]] = {}
    for i, c in enumerate(checks):
        if c.hand is None or (i in shape_problems and np.isnan(c.hand).any()):
            continue
        if not c.autodiff_vs_hand.agree:
            reference = c.autodiff if c.autodiff_vs_numeric.agree else c.numeric
            fits[i] = _ratio(c.hand, reference, atol, rtol)
            c.ratio = fits[i][0]
    shared = [k for k, exact in fits.values() if k is not None and exact]

    for i, c in enumerate(checks):
        parts: list[str] = []
        if not c.autodiff_vs_numeric.agree:
            d = c.autodiff_vs_numeric
            text = (
                f"{c.name}: autodiff disagrees with finite differences (max abs error {d.max_abs:.3g}, "
                f"max rel {d.max_rel:.3g}): a backward rule may be wrong, or the loss is not "
                f"differentiable at these values (a kink of relu/abs/max), or too badly scaled for eps={eps:g}"
            )
            if c.hand_vs_numeric is not None and c.hand_vs_numeric.agree:
                text += "; the hand-derived gradient does match finite differences"
            parts.append(text)
        if i in shape_problems:
            parts.append(shape_problems[i])
        if i in fits:
            k, exact = fits[i]
            reference = "autodiff" if c.autodiff_vs_numeric.agree else "finite-difference"
            words = _factor_words(k) if (k is not None and exact) else None
            consistent = exact and k is not None and (
                c.hand.size > 1 or sum(_close(k, other, 1e-6) for other in shared) > 1
            )
            if words is not None:
                parts.append(f"{c.name}: {words} — the hand-derived gradient is {k:.6g} × the {reference} gradient")
            elif consistent:
                parts.append(
                    f"{c.name}: off by a factor of {k:.6g} — the hand-derived gradient is {k:.6g} × the "
                    f"{reference} gradient"
                )
            else:
                d = c.autodiff_vs_hand
                parts.append(
                    f"{c.name}: the hand-derived gradient disagrees with the {reference} gradient "
                    f"(max abs error {d.max_abs:.3g}, max rel {d.max_rel:.3g}; no constant factor)"
                    + _values_hint(c.hand, c.autodiff if c.autodiff_vs_numeric.agree else c.numeric, reference)
                )
        c.diagnosis = "\n".join(parts)


def _values_hint(hand: np.ndarray, reference: np.ndarray, reference_name: str) -> str:
    if hand.size != 1:
        return ""
    return f": hand-derived {float(hand.reshape(-1)[0]):.6g}, {reference_name} {float(reference.reshape(-1)[0]):.6g}"
