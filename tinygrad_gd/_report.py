"""The report of :func:`tinygrad_gd.checking.compare_gradients`, and its diagnosis in words.

:mod:`tinygrad_gd.checking` computes the three gradients of every parameter (autodiff,
finite differences, hand-derived) and fills one :class:`ParameterCheck` per parameter;
:func:`make_report` then classifies each disagreement (:class:`HandMismatch`), words it,
and wraps the checks in a :class:`GradientReport`, whose ``str()`` is a table. The public
names are exported from :mod:`tinygrad_gd.checking`; this module knows no Tensor.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from enum import Enum

import numpy as np

from ._html import table

_FACTOR_2 = "factor 2: looks like a 1/N vs 1/(2N) mix-up"
_FACTOR_2_NOTE = (
    "About the factor 2: a 1/N vs 1/(2N) mix-up happens when the two squared-error conventions "
    "are mixed: J = 1/N Σ (y − ŷ)² (the step-by-step tutorial and the beginner's article) has gradients with a factor 2, J = 1/(2m) "
    "Σ (ŷ − y)² (the update-rule tutorial) has none. Name the convention and use it in both the loss and the derivation."
)
_SIGN = "sign flipped"
_SIGN_NOTE = (
    "About the flipped sign: a step w -= lr * grad with that gradient climbs instead of "
    "descending. Check (ŷ − y) against (y − ŷ), and the minus sign the chain rule brings out "
    "of (y − ŷ)² (the beginner's article's gradients() has this mistake)."
)
_SEED_001_MSE = (
    " (such as the beginner's article's `Y - pred ** 2`, which squares only the prediction, instead of "
    "`(Y - pred) ** 2`)"
)


class HandMismatch(Enum):
    """How a hand-derived gradient that disagrees relates to the reference gradient.

    The value is the words the diagnosis uses (``CONSTANT_FACTOR`` adds the factor itself).
    """

    SIGN_FLIPPED = _SIGN
    FACTOR_2 = _FACTOR_2
    SIGN_FLIPPED_AND_FACTOR_2 = f"{_SIGN} and {_FACTOR_2}"
    CONSTANT_FACTOR = "off by a factor"
    SAMPLE_COUNT = "a factor of N, the number of samples"
    NO_CONSTANT_FACTOR = "no constant factor"

    @property
    def flips_sign(self) -> bool:
        return self in (HandMismatch.SIGN_FLIPPED, HandMismatch.SIGN_FLIPPED_AND_FACTOR_2)

    @property
    def has_factor_2(self) -> bool:
        return self in (HandMismatch.FACTOR_2, HandMismatch.SIGN_FLIPPED_AND_FACTOR_2)


# --------------------------------------------------------------------------- data
@dataclass(frozen=True)
class Discrepancy:
    """How far two gradients of one parameter are apart.

    ``max_abs`` = max |a − b|; ``max_rel`` = max |a − b| / max(max|a|, max|b|) (0 when both
    are zero); ``agree``: ``max_abs ≤ atol + rtol·max(max|a|, max|b|)``.
    """

    max_abs: float
    max_rel: float
    agree: bool


def discrepancy(a: np.ndarray, b: np.ndarray, atol: float, rtol: float) -> Discrepancy:
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
    hand_shape: tuple[int, ...] | None = None
    """The shape ``hand_grad`` returned (``hand`` itself is reshaped to ``shape`` when it can be)."""
    mismatch: HandMismatch | None = None
    """How the hand-derived gradient disagrees; None when it agrees or cannot be compared."""
    sample_count: int | None = None
    """N when ``mismatch`` is ``SAMPLE_COUNT`` (the ratio is N, N/2, 2N, 1/N, 2/N or 1/(2N))."""
    disagreeing: tuple[tuple[int, ...], ...] = ()
    """With no constant factor: the indices of the elements that disagree, worst first (≤ 3)."""

    @property
    def ok(self) -> bool:
        return not self.diagnosis


_PAIRS = [
    ("autodiff vs numeric", "autodiff_vs_numeric"),
    ("hand vs numeric", "hand_vs_numeric"),
    ("autodiff vs hand", "autodiff_vs_hand"),
]


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
        pairs = _PAIRS if self.has_hand else _PAIRS[:1]
        titles = [title for title, _ in pairs]
        header = ["parameter", "shape"] + ["max abs", "max rel"] * len(pairs) + ["status"]
        rows = [_table_row(p, [attr for _, attr in pairs]) for p in self.parameters]
        widths = _column_widths([header, *rows], titles)
        top = [" " * widths[0], " " * widths[1]]
        top += [title.ljust(_pair_width(widths, k)) for k, title in enumerate(titles)]
        title = f"gradient check (float64; finite differences with eps={self.eps:g})"
        lines = [title, "  ".join(top).rstrip()] + [_table_line(r, widths) for r in [header, *rows]]
        verdict = "OK" if self.ok else "MISMATCH"
        lines.append(f"{verdict}: " + self.diagnosis.replace("\n", "\n  "))
        return "\n".join(lines)

    def __repr__(self) -> str:
        first = self.diagnosis.splitlines()[0]
        return f"<GradientReport ok={self.ok}: {first}>"

    def _repr_html_(self) -> str:
        """Notebooks: the same table and diagnosis as ``str()``, as HTML."""
        pairs = _PAIRS if self.has_hand else _PAIRS[:1]
        header = ["parameter", "shape"] + [f"{title}: {what}" for title, _ in pairs for what in ("max abs", "max rel")]
        rows = [_table_row(p, [attr for _, attr in pairs]) for p in self.parameters]
        verdict = "OK" if self.ok else "MISMATCH"
        lines = "".join(f"<li>{html.escape(line)}</li>" for line in self.diagnosis.splitlines())
        color = "#2e7d32" if self.ok else "#c62828"
        return (
            table(header + ["status"], rows, f"gradient check (float64; finite differences with eps={self.eps:g})")
            + f'<p style="color:{color}"><b>{verdict}</b></p><ul>{lines}</ul>'
        )


# --------------------------------------------------------------------------- the table
def _table_row(p: ParameterCheck, attrs: list[str]) -> list[str]:
    row = [p.name, str(p.shape)]
    for attr in attrs:
        d = getattr(p, attr)
        row += ["-", "-"] if d is None else [f"{d.max_abs:.2e}", f"{d.max_rel:.2e}"]
    row.append("ok" if p.ok else "MISMATCH")
    return row


def _pair_width(widths: list[int], k: int) -> int:
    """Width of the k-th pair's two columns (max abs, max rel) and the gap between them."""
    return widths[2 + 2 * k] + 2 + widths[3 + 2 * k]


def _column_widths(rows: list[list[str]], titles: list[str]) -> list[int]:
    widths = [max(len(r[c]) for r in rows) for c in range(len(rows[0]))]
    # Each pair title spans its two columns: widen the second when the title is longer.
    for k, title in enumerate(titles):
        widths[3 + 2 * k] += max(0, len(title) - _pair_width(widths, k))
    return widths


def _table_line(cells: list[str], widths: list[int]) -> str:
    return "  ".join(cell.ljust(w) for cell, w in zip(cells, widths)).rstrip()


# --------------------------------------------------------------------------- the diagnosis
def make_report(
    checks: list[ParameterCheck], eps: float, atol: float, rtol: float, fn_name: str,
    sample_counts: Sequence[int] = (),
) -> GradientReport:
    """Classify and word every check's disagreements, and wrap them in a report.
    ``sample_counts``: the values N may have (a ratio N, 1/N, ... is named "forgot the 1/N?")."""
    _classify(checks, atol, rtol, sample_counts)
    for c in checks:
        c.diagnosis = _describe(c, eps)
    return GradientReport(parameters=checks, eps=float(eps), notes=_notes(checks, fn_name))


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


def _special_factor(k: float) -> HandMismatch | None:
    """The named mistake behind a ratio hand/reference, or None."""
    if _close(k, -1.0):
        return HandMismatch.SIGN_FLIPPED
    if _close(k, 2.0) or _close(k, 0.5):
        return HandMismatch.FACTOR_2
    if _close(k, -2.0) or _close(k, -0.5):
        return HandMismatch.SIGN_FLIPPED_AND_FACTOR_2
    return None


def _reference(c: ParameterCheck) -> tuple[str, np.ndarray]:
    """The gradient to hold the hand-derived one against: autodiff when it matches finite
    differences, finite differences otherwise."""
    if c.autodiff_vs_numeric.agree:
        return "autodiff", c.autodiff
    return "finite-difference", c.numeric


def _shape_problem(c: ParameterCheck) -> str | None:
    """Words for a hand-derived gradient returned in the wrong shape, or None."""
    hand_shape, name, shape = c.hand_shape, c.name, c.shape
    if hand_shape is None or hand_shape == shape:
        return None
    if math.prod(hand_shape) != math.prod(shape):
        return (
            f"{name}: the hand-derived gradient has shape {hand_shape} but {name} has shape "
            f"{shape}; they cannot be compared — a gradient must have its parameter's shape"
        )
    if math.prod(hand_shape) > 1:  # (n,) against (n, 1): an update would broadcast to (n, n)
        return (
            f"{name}: the hand-derived gradient has shape {hand_shape} but {name} has "
            f"shape {shape}; {name} -= lr * grad would broadcast to "
            f"{_broadcast_shape(shape, hand_shape)}. Values were compared after "
            f"reshaping; return it as {shape}"
        )
    return None


def _broadcast_shape(a: tuple[int, ...], b: tuple[int, ...]) -> str:
    try:
        return str(np.broadcast_shapes(a, b))
    except ValueError:
        return "an error"


def _needs_ratio(c: ParameterCheck) -> bool:
    """Whether the hand-derived gradient is there, comparable, and disagrees with autodiff."""
    if c.hand is None or (_shape_problem(c) is not None and np.isnan(c.hand).any()):
        return False
    return not _hand_check(c).agree


def _hand(c: ParameterCheck) -> np.ndarray:
    """The hand-derived gradient of a check that has one (the callers made sure)."""
    assert c.hand is not None
    return c.hand


def _hand_check(c: ParameterCheck) -> Discrepancy:
    """autodiff vs the hand-derived gradient, of a check that has one."""
    assert c.autodiff_vs_hand is not None
    return c.autodiff_vs_hand


# A ratio hand/reference of k·N (k > 1) or 1/(k·N), as a learner would write the factor.
_SAMPLE_FACTORS = {1.0: "N", 0.5: "N/2", 2.0: "2N"}


def _sample_count(k: float, counts: Sequence[int]) -> int | None:
    """The N (≥ 3) with k = N, N/2, 2N, 1/N, 2/N or 1/(2N), or None."""
    for n in counts:
        if n >= 3 and any(_close(k, n * f, 1e-6) or _close(k, 1.0 / (n * f), 1e-6) for f in _SAMPLE_FACTORS):
            return n
    return None


def _disagreeing(c: ParameterCheck, atol: float, rtol: float) -> tuple[tuple[int, ...], ...]:
    """Indices of the (at most 3) elements where hand and reference disagree most."""
    reference, hand = _reference(c)[1], c.hand
    if hand is None:
        return ()
    diff = np.abs(hand - reference)
    scale = float(max(np.max(np.abs(hand)), np.max(np.abs(reference))))
    worst = np.argsort(-diff, axis=None, kind="stable")[:3]
    return tuple(
        tuple(int(i) for i in np.unravel_index(j, diff.shape)) for j in worst if diff.flat[j] > atol + rtol * scale
    )


def _classify(checks: list[ParameterCheck], atol: float, rtol: float, counts: Sequence[int] = ()) -> None:
    """Fill in ``ratio`` and ``mismatch`` of every check whose hand-derived gradient disagrees."""
    fits = {i: _ratio(_hand(c), _reference(c)[1], atol, rtol) for i, c in enumerate(checks) if _needs_ratio(c)}
    # Ratios fitted exactly; a one-element parameter's factor counts only when another shares it.
    shared = [k for k, exact in fits.values() if k is not None and exact]
    for i, (k, exact) in fits.items():
        c = checks[i]
        c.ratio = k
        if k is None or not exact:
            c.mismatch = HandMismatch.NO_CONSTANT_FACTOR
            c.disagreeing = _disagreeing(c, atol, rtol)
        elif (special := _special_factor(k)) is not None:
            c.mismatch = special
        elif (n := _sample_count(k, counts)) is not None:
            c.mismatch, c.sample_count = HandMismatch.SAMPLE_COUNT, n
        elif _hand(c).size > 1 or sum(_close(k, other, 1e-6) for other in shared) > 1:
            c.mismatch = HandMismatch.CONSTANT_FACTOR
        else:
            c.mismatch = HandMismatch.NO_CONSTANT_FACTOR


def _describe(c: ParameterCheck, eps: float) -> str:
    """Everything that is wrong with one parameter's gradients, in words (empty if nothing)."""
    parts: list[str] = []
    if not c.autodiff_vs_numeric.agree:
        parts.append(_autodiff_words(c, eps))
    problem = _shape_problem(c)
    if problem is not None:
        parts.append(problem)
    if c.mismatch is not None:
        parts.append(_hand_words(c))
    return "\n".join(parts)


def _autodiff_words(c: ParameterCheck, eps: float) -> str:
    d = c.autodiff_vs_numeric
    text = (
        f"{c.name}: autodiff disagrees with finite differences (max abs error {d.max_abs:.3g}, "
        f"max rel {d.max_rel:.3g}): a backward rule may be wrong, or the loss is not "
        f"differentiable at these values (a kink of relu/abs/max), or too badly scaled for eps={eps:g}"
    )
    if c.hand_vs_numeric is not None and c.hand_vs_numeric.agree:
        text += "; the hand-derived gradient does match finite differences"
    return text


def _hand_words(c: ParameterCheck) -> str:
    reference, values = _reference(c)
    if c.mismatch is HandMismatch.NO_CONSTANT_FACTOR:
        d = _hand_check(c)
        return (
            f"{c.name}: the hand-derived gradient disagrees with the {reference} gradient "
            f"(max abs error {d.max_abs:.3g}, max rel {d.max_rel:.3g}; no constant factor)"
            + _values_hint(_hand(c), values, reference)
            + _element_words(c, values, reference)
        )
    assert c.mismatch is not None  # (only checks with a mismatch are described)
    words = c.mismatch.value
    if c.mismatch is HandMismatch.SAMPLE_COUNT:
        return _sample_words(c, reference)
    if c.mismatch is HandMismatch.CONSTANT_FACTOR:
        words = f"off by a factor of {c.ratio:.6g}"
    return f"{c.name}: {words} — the hand-derived gradient is {c.ratio:.6g} × the {reference} gradient"


def _sample_words(c: ParameterCheck, reference: str) -> str:
    n, k = c.sample_count, c.ratio
    assert n is not None and k is not None
    if k > 1:
        factor = next(w for f, w in _SAMPLE_FACTORS.items() if _close(k, n * f, 1e-6))
        advice = "forgot the 1/N?" if factor == "N" else "forgot the 1/N (and a 1/N vs 1/(2N) mix-up)?"
    else:
        factor = next(f"1/{w}" if w == "N" else f"1/({w})" for f, w in _SAMPLE_FACTORS.items() if _close(k, 1 / (n * f), 1e-6))
        advice = "divided by N once too often, or the loss sums where the derivation takes a mean?"
    return (
        f"{c.name}: factor {factor} with N = {n} (the number of samples the loss averages or sums "
        f"over): the hand-derived gradient is {k:.6g} × the {reference} gradient — {advice}"
    )


def _element_words(c: ParameterCheck, reference_values: np.ndarray, reference_name: str) -> str:
    """The elements that disagree most, by index, with both values ('' for one element:
    :func:`_values_hint` shows it)."""
    if c.hand is None or c.hand.size == 1:
        return ""
    parts = [
        f"{c.name}[{', '.join(map(str, i))}]: hand-derived {float(c.hand[i]):.6g}, {reference_name} "
        f"{float(reference_values[i]):.6g}"
        for i in c.disagreeing
    ]
    return "; elements that disagree most: " + "; ".join(parts) if parts else ""


def _values_hint(hand: np.ndarray, reference: np.ndarray, reference_name: str) -> str:
    if hand.size != 1:
        return ""
    hand_value, reference_value = float(hand.reshape(-1)[0]), float(reference.reshape(-1)[0])
    return f": hand-derived {hand_value:.6g}, {reference_name} {reference_value:.6g}"


def _notes(checks: list[ParameterCheck], fn_name: str) -> list[str]:
    """The explanations that follow the per-parameter diagnoses."""
    notes: list[str] = []
    autodiff_right = all(c.autodiff_vs_numeric.agree for c in checks)
    hand_wrong = any(c.hand is not None and not _hand_check(c).agree for c in checks)
    mismatches = [c.mismatch for c in checks if c.mismatch is not None]
    if hand_wrong and autodiff_right:
        example = _SEED_001_MSE if HandMismatch.NO_CONSTANT_FACTOR in mismatches else ""
        notes.append(
            "The autodiff gradient matches finite differences, so the loss function and the "
            "hand-derived gradient describe different costs: either the derivation is wrong, or "
            f"{fn_name} does not compute the cost you derived{example}."
        )
    if any(m.has_factor_2 for m in mismatches):
        notes.append(_FACTOR_2_NOTE)
    if any(m.flips_sign for m in mismatches):
        notes.append(_SIGN_NOTE)
    return notes
