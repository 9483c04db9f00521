"""The lines ``tg.compile`` generates, and the passes that make them cheaper before they
become text: a sum of squares as one ``np.vdot`` (float32: a dot per block, the blocks'
sums in float64), scalar factors that are powers of two merged, and temporaries reused in
place (``np.multiply(a, b, out=a)``) once nothing reads them any more. Each pass keeps the
results equal to the eager ones: the same operations in the same order, or (the sum of
squares) the same sum in another order, within rounding.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

__all__ = ["Line", "drop_dead", "optimize", "render"]

# elementwise ops whose generated line is one ufunc call (and so can write in place)
UFUNCS = {"Add": "add", "Sub": "subtract", "Mul": "multiply", "Div": "divide", "Neg": "negative"}
_SYMBOLS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}


@dataclass
class Line:
    """One generated statement. ``ufunc`` lines keep their parts so that passes can rewrite
    them; every other line is ``text`` as it is."""

    target: str | None
    text: str = ""
    comment: str = ""
    reads: tuple[str, ...] = ()
    ufunc: str | None = None  # numpy ufunc name, for elementwise lines
    operands: list[str] = field(default_factory=list)
    out: str | None = None  # write into this variable (np.<ufunc>(..., out=out))
    view_of: str | None = None  # the target is a view of this variable
    fresh: bool = False  # the target is a new array only this function holds
    shape: tuple[int, ...] = ()
    dtype: Any = None
    reduce_of_square: tuple[str, str, int] | None = None  # (source variable, "sum"|"mean", count)
    square_of: str | None = None  # the target is source ** 2
    pure: bool = False  # computes its target and nothing else (dropped when nothing reads it)
    inplace: str | None = None  # the text with ``{out}``, where it may write into operands[0]
    linear: bool = False  # a text line linear in its operands (a matmul, a sum): scalars commute


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _is_power_of_two(text: str) -> bool:
    try:
        value = float(text)
    except ValueError:
        return False
    if value == 0.0 or not math.isfinite(value):
        return False
    mantissa, _ = math.frexp(abs(value))
    return mantissa == 0.5


def _reads(lines: list[Line], name: str, after: int) -> int:
    return sum(name in line.reads for line in lines[after:])


# float32 Σ x² is summed in blocks of this many elements, one BLAS dot each, and the block
# sums added in float64: a dot over a million float32 squares in one call drifts ~1e-5 from the
# eager pairwise sum; over 512 it stays within ~2e-7 of the exact sum (eager: ~2e-7 too).
FLOAT32_DOT_BLOCK = 512


def _float32_sum_of_squares(source: str, shape: tuple[int, ...], count: int) -> tuple[list[Line], str]:
    """Lines that name the views a blocked float32 Σ x² reads, and its float32 value."""
    flat = source if len(shape) == 1 else f"{source}.reshape(-1)"
    if count <= FLOAT32_DOT_BLOCK or not hasattr(np, "vecdot"):  # one short dot (vecdot: numpy ≥ 2)
        return [], f"np.vdot({source}, {source})"
    cut = count - count % FLOAT32_DOT_BLOCK
    blocks, tail = f"{source}_blocks", f"{source}_tail"
    comment = f"  # float32 Σ x²: a BLAS dot per block of {FLOAT32_DOT_BLOCK}, the blocks' sums in float64"
    lines = [Line(blocks, f"{blocks} = {flat}[:{cut}].reshape(-1, {FLOAT32_DOT_BLOCK})", comment, (source,), view_of=source)]
    total = f"np.vecdot({blocks}, {blocks}).sum(dtype=np.float64)"
    if cut < count:
        lines.append(Line(tail, f"{tail} = {flat}[{cut}:]", reads=(source,), view_of=source))
        total += f" + np.vdot({tail}, {tail})"
    return lines, f"np.float32({total})"


def fuse_sum_of_squares(lines: list[Line]) -> list[Line]:
    """Σ x² (or its mean) of a float ``x ** 2`` nothing else reads, without the squared array:
    one ``np.vdot(x, x)`` in float64; in float32 a dot per block of 512 whose sums add in
    float64 (as accurate as the eager pairwise sum: a sum of squares cannot cancel, so the two
    agree to a few units of float32 rounding, relative)."""
    out = list(lines)
    views_before: dict[int, list[Line]] = {}
    for i, line in enumerate(out):
        if line.reduce_of_square is None:
            continue
        square, kind, count = line.reduce_of_square
        j = next((k for k in range(i) if out[k].target == square and out[k].square_of), None)
        if j is None or _reads(out, square, 0) != 1 or out[j].dtype not in (np.float64, np.float32):
            continue
        source = out[j].square_of
        assert source is not None
        views: list[Line] = []
        if out[j].dtype == np.float64:
            value = f"np.vdot({source}, {source})"
        else:
            views, value = _float32_sum_of_squares(source, out[j].shape, count)
        value += f" / {count}" if kind == "mean" else ""
        reads = (source, *(view.target for view in views if view.target))
        out[i] = Line(line.target, f"{line.target} = np.asarray({value})", line.comment + " (fused: Σ x²)", reads)
        out[j] = Line(None)  # the square: dropped
        views_before[i] = views
    fused = [entry for i, line in enumerate(out) for entry in (*views_before.get(i, ()), line)]
    return [line for line in fused if line.target is not None or line.text]


def merge_exact_scalars(lines: list[Line]) -> list[Line]:
    """``t = a * s1; u = t * s2`` with t read only there and s2 a power of two (so the
    product is exact): ``u = a * (s1·s2)``, one pass less."""
    out = list(lines)
    for i, line in enumerate(out):
        if line.ufunc != "multiply" or len(line.operands) != 2:
            continue
        first, scalar = line.operands if _is_number(line.operands[1]) else line.operands[::-1]
        if not _is_power_of_two(scalar) or _reads(out, first, 0) != 1:
            continue
        j = next((k for k in range(i) if out[k].target == first), None)
        if j is None or out[j].ufunc != "multiply" or out[j].shape != line.shape:
            continue
        a, s1 = out[j].operands if _is_number(out[j].operands[1]) else out[j].operands[::-1]
        if not _is_number(s1) or _is_number(a):
            continue
        line.operands = [a, repr(float(s1) * float(scalar))]
        line.reads = (a,)
        line.comment += " (scalar factors merged)"
        out[j] = Line(None)
    return [line for line in out if line.target is not None or line.text]


def reuse_buffers(lines: list[Line], pinned: set[str]) -> list[Line]:
    """Write an elementwise result into an operand that is a fresh temporary of the same
    shape and dtype that nothing reads afterwards (through a view either), instead of a new
    array. ``pinned``: variables that must keep their values (outputs, what a kept node saved)."""
    root: dict[str, str] = {}
    for line in lines:
        if line.target and line.view_of:
            root[line.target] = root.get(line.view_of, line.view_of)
    last: dict[str, int] = {}
    for i, line in enumerate(lines):
        for name in line.reads:
            last[root.get(name, name)] = i
    fresh = {line.target for line in lines if line.fresh and line.target}
    shapes = {line.target: (line.shape, line.dtype) for line in lines if line.target}
    for i, line in enumerate(lines):
        if (line.ufunc is None and line.inplace is None) or line.target in pinned:
            continue
        for name in line.operands:
            if name in fresh and name not in pinned and last.get(name) == i and shapes.get(name) == (line.shape, line.dtype):
                line.out = name
                if line.target is not None:
                    fresh.add(line.target)  # the same buffer, under its new name
                # what reads the new name later reads the old buffer: keep it alive to there
                break
    return lines


def drop_dead(lines: list[Line], keep: set[str]) -> list[Line]:
    """Pure lines whose value nothing reads (a mask only a rule that is not needed reads,
    a keepdims reduction whose reshape became the reduction itself)."""
    read: set[str] = set(keep)
    kept: list[Line] = []
    for line in reversed(lines):
        if line.pure and line.target is not None and line.target not in read:
            continue
        read.update(line.reads)
        kept.append(line)
    return kept[::-1]


def _token(name: str) -> re.Pattern[str]:
    return re.compile(rf"(?<![\w.]){re.escape(name)}(?!\w)")


def _unwrapped(expression: str) -> str:
    """``expression`` without one outer ``np.asarray(...)`` (the caller wraps again)."""
    prefix = "np.asarray("
    if not (expression.startswith(prefix) and expression.endswith(")")):
        return expression
    depth = 0
    for k, char in enumerate(expression[len(prefix) - 1 :], len(prefix) - 1):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return expression[len(prefix) : -1] if k == len(expression) - 1 else expression
    return expression


def scale_after_reductions(lines: list[Line], pinned: set[str]) -> list[Line]:
    """``t = x * s`` (s a number) read only by sums and matmuls whose results are no larger
    than ``t``: scale those results instead (``Xᵀ(s·r)`` → ``s·(Xᵀr)``), one pass over ``x``
    less. The same value within rounding (the product is formed in another order); float64
    only: a float32 sum that nearly cancels (Σr at a fitted intercept) moves by its own
    rounding noise, far past any relative tolerance."""
    out = list(lines)
    for i, line in enumerate(out):
        if line.ufunc != "multiply" or len(line.operands) != 2 or line.target is None or line.target in pinned:
            continue
        if np.dtype(line.dtype) != np.float64:  # float32 sums that nearly cancel would drift
            continue
        x, s = line.operands if _is_number(line.operands[1]) else line.operands[::-1]
        if not _is_number(s) or _is_number(x):
            continue
        size = math.prod(line.shape)
        readers = [k for k in range(i + 1, len(out)) if line.target in out[k].reads]
        pattern = _token(line.target)
        if not readers or not all(
            out[k].linear and out[k].target and len(pattern.findall(out[k].text)) == 1 and math.prod(out[k].shape) <= size
            for k in readers
        ):
            continue
        for k in readers:
            reader = out[k]
            target, expression = reader.text.split(" = ", 1)
            expression = _unwrapped(pattern.sub(x, expression))
            scaled = f"{expression} * {s}" if expression.endswith(")") else f"({expression}) * {s}"
            reader.text = f"{target} = np.asarray({scaled})" if reader.shape == () else f"{target} = {scaled}"
            reader.reads = tuple(x if r == line.target else r for r in reader.reads)
            reader.comment += " (scaled after: one pass less)"
        out[i] = Line(None)
    return [line for line in out if line.target is not None or line.text]


def optimize(lines: list[Line], pinned: set[str]) -> list[Line]:
    lines = drop_dead(lines, pinned)
    lines = scale_after_reductions(merge_exact_scalars(fuse_sum_of_squares(lines)), pinned)
    return reuse_buffers(lines, pinned)


def render(line: Line) -> str:
    if line.inplace is not None and line.out is not None:
        return f"{line.target} = {line.inplace.format(out=line.out)}{line.comment}"
    if line.ufunc is None:
        return line.text + line.comment
    ops = line.operands
    if line.out is not None:
        expression = f"np.{line.ufunc}({', '.join(ops)}, out={line.out})"
    elif line.ufunc == "negative":
        expression = f"-{ops[0]}"
    elif line.ufunc in _SYMBOLS:
        expression = f"{ops[0]} {_SYMBOLS[line.ufunc]} {ops[1]}"
    else:
        expression = f"np.{line.ufunc}({', '.join(ops)})"
    if line.shape == () and line.out is None:
        expression = f"np.asarray({expression})"  # numpy gives scalars for 0-d results
    return f"{line.target} = {expression}{line.comment}"


def uniform_value(value: np.ndarray) -> float | None:
    """The one value every element of a (folded, constant) array has, or None."""
    if value.size == 0 or value.dtype.kind != "f":
        return None
    first = value.flat[0]
    return float(first) if bool(np.all(value == first)) and math.isfinite(float(first)) else None
