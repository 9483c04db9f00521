"""The test metadata an op declares at registration: plain data that the test-suite's op table
(``tests/op_table.py``) and gradient fuzzer (``tests/strategies.py``) are built from.

``@register_op(check=OpCheck(cases=..., fuzz=...))``: each :class:`Case` is one row of the op
table (a call through the public API, its numpy reference, sample shapes, an input domain
away from kinks and poles); each :class:`Fuzz` is one kind of step of the random programs
(which operand domains, which kinks or ties to keep away from). Nothing here runs a test.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

Shape = tuple[int, ...]
ShapeSets = tuple[tuple[Shape, ...], ...]
"""Sample shape sets: each entry is one shape per input (broadcasting pairs included)."""


@dataclass(frozen=True)
class Domain:
    """Where one input's sample values are drawn: uniform in [low, high], redrawn while
    closer than ``margin`` to any point in ``avoid`` (kinks such as 0 for relu)."""

    low: float = -2.0
    high: float = 2.0
    avoid: tuple[float, ...] = ()
    margin: float = 0.1


@dataclass(frozen=True)
class Case:
    """One row of the op table.

    name: the row's id.  call: Tensors -> Tensor through the public API (a Tensor method,
    an operator, or ``Op.apply``).  reference: numpy arrays -> the expected forward value.
    shapes: sample shape sets.  domains: one Domain for all inputs or one per input.
    distinct: all values of all inputs pairwise at least ``Domain.margin`` apart (no ties).
    float32_out: float32 inputs give a float32 output (False when float64 constants or a
    cast mix in).  fd_eps/atol/rtol: finite-difference step and tolerances.
    second_order: the create_graph checks apply (the rule is twice differentiable there).
    """

    name: str
    call: Callable[..., Any]
    reference: Callable[..., Any]
    shapes: ShapeSets
    domains: Domain | tuple[Domain, ...] = Domain()
    distinct: bool = False
    float32_out: bool = True
    fd_eps: float = 1e-6
    atol: float = 1e-6
    rtol: float = 1e-5
    second_order: bool = True


@dataclass(frozen=True)
class Fuzz:
    """One kind of step of the gradient fuzzer's random programs.

    call(operands, step) -> a Tensor whose shape broadcasts to ``step.base`` (every operand
    does). ``step`` carries the step's random choices, made by the fuzzer from a seed:
    ``base``, ``constant(shape)``, ``mask(shape)``, ``integers(high, size)``, ``axis(ndim)``,
    ``axis_or_all(ndim)``, ``spread_axis(shape)``, ``pick(options)``, ``common(*xs)``.
    ``None`` calls the op's first :class:`Case` on the operands (shape-preserving ops).

    operands: one domain per operand ("any", "bounded" |x| ≤ 3, "positive" ≥ 0.2,
    "nonzero" |x| ≥ 0.3, "prob" in [0.05, 0.95], "unit" in (0, 1)); the fuzzer maps values
    outside into it smoothly. kinks: values operand 0 stays away from. ties: "operands"
    (operands 0 and 1 must differ), "reduced" (the two extremes of each slice reduced over
    ``step.axis_or_all`` must differ) or "spread" (the std over ``step.spread_axis`` must not
    be 0). shift: how operand 0 is moved off a kink: "scalar" (a constant), "ramp"
    (constant·arange, breaks ties) or "zero" (its first entry made exactly 0). min_ndim: the
    operands' broadcast shape needs this many axes. second_order: used in the fuzzer's
    second-derivative programs.
    """

    name: str
    call: Callable[[Sequence[Any], Any], Any] | None = None
    operands: tuple[str, ...] = ("any",)
    kinks: tuple[float, ...] = ()
    ties: str | None = None
    shift: str = "scalar"
    min_ndim: int = 0
    second_order: bool = True


@dataclass(frozen=True)
class OpCheck:
    """Everything the test tables need to check one op: its rows and its fuzz steps."""

    cases: tuple[Case, ...]
    fuzz: tuple[Fuzz, ...] = ()


# --------------------------------------------------------------------------- vocabulary
UNARY: ShapeSets = (((),), ((3,),), ((2, 3),), ((1, 3),), ((2, 1),), ((2, 3, 2),))
BINARY: ShapeSets = (
    ((2, 3), (2, 3)),
    ((), (3,)),
    ((3,), ()),
    ((2, 3), (3,)),
    ((3,), (2, 3)),
    ((2, 3), (1, 3)),
    ((2, 1), (1, 3)),
    ((2, 3), (2, 1)),
    ((1,), (2, 1)),
    ((), ()),
    ((2, 1, 3), (4, 1)),
)
MATRIX: ShapeSets = (((2, 3),), ((3, 4),), ((2, 3, 2),))

ANYWHERE = Domain()  # the default: uniform in [-2, 2]
POSITIVE = Domain(0.2, 3.0)
NONZERO = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.3)
AWAY_FROM_ZERO = Domain(-2.0, 2.0, avoid=(0.0,), margin=0.05)
WIDE = Domain(-1.0, 1.0, margin=0.05)  # for `distinct` rows: 40 grid points

MASK = np.array([[True, False, True], [False, True, True]])
CONSTANT = np.array([[0.5, -1.0, 2.0], [1.5, 0.25, -0.75]])
