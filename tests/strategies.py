"""Hypothesis strategies for random Tensor programs (the gradient fuzzer, ``test_fuzz.py``).

A *program* is a list of steps over 1–3 input tensors. Each step applies one *fuzz op* (a
row of :data:`FUZZ_OPS`) to earlier nodes, chosen so that nodes are reused and graphs have
diamonds. All node shapes broadcast to one *base shape*, so any binary op applies to any
pair of nodes.

The fuzz ops are built from the registry: every registered op declares its fuzz steps at
registration (``ops.Fuzz``: the call, each operand's domain, the kinks and ties to keep away
from), so a new op is fuzzed with nothing to add here. :data:`SCENARIOS` adds steps that are
not one op: compositions through functions above the ops layer (in-place operators,
indexing forms, stack, the losses with their reductions) and regression scenarios.

Every op runs inside its safe domain, decided while the program is built, from the actual
values (as ``tests/op_table.py`` does with its ``Domain`` rows):

* an operand outside the op's domain is first mapped into it by a smooth *adapter*
  (``0.2 + softplus(x)`` for log/sqrt, ``3·tanh(x/3)`` for exp, ``0.05 + 0.9·sigmoid(x)``
  for probabilities, ...);
* ops with kinks or ties (relu, abs, clip, maximum, max, where on a data-dependent
  condition, ...) get a constant shift, searched so that every value is at least
  :data:`KINK_MARGIN` away from the kink: central differences are then valid;
* a step whose values grow beyond :data:`VALUE_LIMIT` is rebuilt with its operands squashed
  into (-3, 3) first.

The chosen adapters and shifts are recorded in the :class:`Step`, so replaying the program on
perturbed inputs (finite differences) runs exactly the same expression. ``repr(program)``
prints it as readable pseudo-code.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from hypothesis import strategies as st

import tinygrad_gd as tg
from tinygrad_gd import autograd, ops
from tinygrad_gd import losses as L

Shape = tuple[int, ...]

KINK_MARGIN = 0.05  # every value at least this far from a kink, a tie or a branch switch
VALUE_LIMIT = 1e3  # intermediate values stay below this in magnitude (finite differences stay accurate)
SHIFTS = (0.0, 0.37, -0.53, 0.71, -0.89, 1.13, -1.31)  # tried in turn to move values off a kink


# --------------------------------------------------------------------------- domains
def _squash(x: Any) -> Any:
    return (x * (1.0 / 3.0)).tanh() * 3.0


def _positive(x: Any, param: int) -> Any:
    return x.softplus() + 0.2


def _nonzero(x: Any, param: int) -> Any:
    return x.softplus() + 0.3 if param % 2 else -(x.softplus() + 0.3)


DOMAINS: dict[str, tuple[Callable[[np.ndarray], bool], Callable[[Any, int], Any], str]] = {
    # name: (values already inside?, adapter into it, adapter as text)
    "any": (lambda v: True, lambda x, p: x, "{}"),
    "bounded": (lambda v: bool(np.all(np.abs(v) <= 3.0)), lambda x, p: _squash(x), "3·tanh({}/3)"),
    "positive": (lambda v: bool(np.all(v >= 0.2)), _positive, "0.2 + softplus({})"),
    "nonzero": (lambda v: bool(np.all(np.abs(v) >= 0.3)), _nonzero, "±(0.3 + softplus({}))"),
    "prob": (lambda v: bool(np.all((v >= 0.05) & (v <= 0.95))), lambda x, p: x.sigmoid() * 0.9 + 0.05, "0.05 + 0.9·sigmoid({})"),
    # (strictly inside: a value of exactly 1, e.g. x ** 0, leaves [0, 1] when perturbed)
    "unit": (lambda v: bool(np.all((v >= 1e-3) & (v <= 1.0 - 1e-3))), lambda x, p: x.sigmoid(), "sigmoid({})"),
}


# --------------------------------------------------------------------------- step choices
@dataclass(frozen=True)
class Choices:
    """A step's random choices, all drawn from its ``param`` (so a replay makes the same ones):
    what an ``ops.Fuzz`` call receives as ``step``."""

    base: Shape
    param: int

    def _rng(self) -> np.random.Generator:
        return np.random.default_rng(self.param)

    def constant(self, shape: Shape) -> np.ndarray:
        return self._rng().uniform(-1.5, 1.5, size=shape)

    def mask(self, shape: Shape) -> np.ndarray:
        return self._rng().random(shape) < 0.5

    def integers(self, high: int, size: int) -> np.ndarray:
        """``size`` integers in [0, high), with repeats (gradients must accumulate)."""
        return self._rng().integers(0, high, size=size)

    def pick(self, options: Sequence[Any]) -> Any:
        return options[self.param % len(options)]

    def axis(self, ndim: int) -> int:
        return self.param % ndim

    def axis_or_all(self, ndim: int) -> int | None:
        """The axis a reduction step reduces over; None (all axes) for 0-d or every third param."""
        return None if ndim == 0 or self.param % 3 == 0 else self.param % ndim

    def spread_axis(self, shape: Shape) -> int:
        """An axis with more than one element (var/std over it are not trivially 0)."""
        axes = [i for i, n in enumerate(shape) if n > 1]
        return axes[self.param % len(axes)]

    @staticmethod
    def common(*xs: Any) -> list[Any]:
        """Every operand broadcast to their common shape (losses and cat never broadcast)."""
        shape = np.broadcast_shapes(*(x.shape for x in xs))
        return [x if x.shape == shape else x.broadcast_to(shape) for x in xs]


# --------------------------------------------------------------------------- kink gaps
def _min_abs(v: np.ndarray) -> float:
    return float(np.min(np.abs(v))) if v.size else np.inf


def _top_gap(v: np.ndarray, axis: int | None) -> float:
    """Smallest distance between the largest and second-largest value of any reduced slice."""
    if axis is None:
        v = v.reshape(1, -1)
        axis = 1
    if v.shape[axis] < 2:
        return np.inf
    s = np.sort(v, axis=axis)
    top = np.take(s, -1, axis=axis) - np.take(s, -2, axis=axis)
    bottom = np.take(s, 1, axis=axis) - np.take(s, 0, axis=axis)
    return float(min(top.min(), bottom.min()))


def _has_spread(shapes: list[Shape]) -> bool:
    return any(n > 1 for n in shapes[0])


def _kink_gap(kinks: tuple[float, ...], ties: str | None) -> Callable[[list[np.ndarray], int], float] | None:
    """The distance to the nearest kink or tie that an ``ops.Fuzz`` declares (None: smooth)."""
    if not kinks and ties is None:
        return None

    def gap(v: list[np.ndarray], param: int) -> float:
        x, choices = v[0], Choices((), param)
        distances = [_min_abs(x - k) for k in kinks]
        if ties == "operands":
            distances.append(_min_abs(np.subtract(*np.broadcast_arrays(x, v[1]))))
        elif ties == "reduced":
            distances.append(_top_gap(x, choices.axis_or_all(x.ndim)))
        elif ties == "spread":
            distances.append(float(np.min(np.std(x, axis=choices.spread_axis(x.shape)))))
        return min(distances)

    return gap


# --------------------------------------------------------------------------- the vocabulary
@dataclass(frozen=True)
class FuzzOp:
    """One kind of step. ``fn(operands, param, base_shape)`` builds it with the public API;
    ``domains`` name each operand's safe domain; ``gap(arrays, param)`` is the distance to the
    nearest kink (None: smooth); ``shift`` is "scalar" (add a constant to operand 0) or
    "ramp" (add constant·arange, to break ties of a reduction) or "zero" (subtract operand
    0's first value, so that entry is exactly 0: an exponent of 0 with a nonzero derivative,
    whose second-order terms are easy to get wrong); ``applicable(shapes)`` says whether it
    applies to operands of these shapes; ``second_order``: drawn in second-derivative
    programs; ``op``: the registered op that declared it (None for a scenario)."""

    name: str
    arity: int
    fn: Callable[[list[Any], int, Shape], Any]
    domains: tuple[str, ...] = ()
    gap: Callable[[list[np.ndarray], int], float] | None = None
    shift: str = "scalar"
    applicable: Callable[[list[Shape]], bool] = field(default=lambda shapes: True)
    second_order: bool = True
    op: str | None = None

    def domain(self, i: int) -> str:
        return self.domains[i] if i < len(self.domains) else "any"


def _registered(op_name: str, fuzz: ops.Fuzz, first_case: ops.Case) -> FuzzOp:
    """The fuzz op an ``ops.Fuzz`` declaration describes."""
    if fuzz.call is None:  # a shape-preserving op: its first table row, on the operands

        def call(xs: Sequence[Any], choices: Choices) -> Any:
            return first_case.call(*xs)
    else:
        call = fuzz.call

    def applicable(shapes: list[Shape]) -> bool:
        if len(np.broadcast_shapes(*shapes)) < fuzz.min_ndim:
            return False
        return fuzz.ties != "spread" or _has_spread(shapes)

    return FuzzOp(
        fuzz.name, len(fuzz.operands), lambda xs, p, base: call(xs, Choices(base, p)), fuzz.operands,
        _kink_gap(fuzz.kinks, fuzz.ties), fuzz.shift, applicable, fuzz.second_order, op_name,
    )


def registered_fuzz_ops() -> dict[str, FuzzOp]:
    """A fuzz op for every ``ops.Fuzz`` that a registered op declares."""
    found: dict[str, FuzzOp] = {}
    for name, op in ops.OPS.items():
        check = getattr(op, "test_metadata", None)
        for fuzz in check.fuzz if check is not None else ():
            assert fuzz.name not in found, f"fuzz step {fuzz.name!r} declared twice ({name})"
            found[fuzz.name] = _registered(name, fuzz, check.cases[0])
    return found


# --------------------------------------------------------------------------- scenarios
def _stack(a: Any, b: Any, param: int) -> Any:
    a, b = Choices.common(a, b)
    axis = param % (a.ndim + 1)
    return tg.stack([a, b], axis=axis).mean(axis=axis)


def _in_place(a: Any, b: Any, param: int) -> Any:
    y = a * 1.5  # a non-leaf: += is recorded (out of place), never a wrong gradient
    if param % 3 == 0:
        y += b
    elif param % 3 == 1:
        y -= b
    else:
        y *= b
    return y


def _cross_entropy(x: Any, param: int) -> Any:
    logits = x.reshape(1, 1) if x.ndim == 0 else x.reshape(-1, x.shape[-1])
    labels = Choices((), param).integers(logits.shape[1], logits.shape[0])
    return L.cross_entropy(logits, labels, reduction=("sum", "mean")[param % 2])


def _transpose_permutation(x: Any, param: int) -> Any:
    choices = Choices((), param)
    if x.ndim == 2 and param % 2 == 0:
        perm, moved = (1, 0), x.T
    else:
        perm = tuple(int(i) for i in np.random.default_rng(param).permutation(x.ndim))
        moved = x.transpose(perm)
    return (moved * choices.constant(moved.shape)).transpose(tuple(int(i) for i in np.argsort(perm)))


def _transpose_pair(x: Any, param: int) -> Any:
    """``transpose(i, j)`` with two integer axes swaps them, on 2-D as on 3-D (PyTorch), and
    swapping again undoes it. Checked against numpy's swapaxes here: a wrong meaning that is
    consistent with itself would pass the finite differences."""
    rng = np.random.default_rng(param)
    i = int(rng.integers(0, x.ndim))
    j = (i + 1 + int(rng.integers(0, x.ndim - 1))) % x.ndim
    i, j = (a - x.ndim if rng.random() < 0.3 else a for a in (i, j))  # negative axes too
    moved = x.transpose(i, j)
    expected = np.swapaxes(np.asarray(x.data), i, j)
    if moved.shape != expected.shape or not np.array_equal(np.asarray(moved.data), expected):
        raise AssertionError(f"transpose({i}, {j}) on shape {x.shape} is not np.swapaxes: shape {moved.shape}")
    return (moved * Choices((), param).constant(moved.shape)).transpose(i, j)


def _repeats(n: int, rng: np.random.Generator) -> list[int]:
    """2n Python ints indexing an axis of length n, negative ones among them (i and i - n are
    the same element): some element is always taken twice, so gradients must accumulate."""
    return [int(i) - n if rng.random() < 0.3 else int(i) for i in rng.integers(0, n, size=2 * n)]


def _index_forms(x: Any, param: int) -> Any:
    """Indexing with plain Python tuples and lists (and nested ones, inside index tuples, with
    None, Ellipsis and numpy integers): each is an integer-array index, as numpy reads it.
    The 2n picks along an axis are folded back to n (summing the two halves), so the result
    broadcasts to x's shape."""
    rng = np.random.default_rng(param)
    n, rest = x.shape[0], x.shape[1:]
    rows = _repeats(n, rng)
    forms = ["tuple_in_tuple", "list", "nested_list", "none_tuple", "ellipsis_last"]
    if x.ndim >= 2:
        forms += ["slice_then_tuple", "tuple_pairs", "integer_then_tuple"]
    form = forms[param % len(forms)]
    if form == "tuple_in_tuple":
        return x[tuple(rows),].reshape((2, n) + rest).sum(axis=0)
    if form == "list":
        return x[rows].reshape((2, n) + rest).sum(axis=0)
    if form == "nested_list":
        return x[[rows[:n], rows[n:]]].sum(axis=0)
    if form == "none_tuple":
        return x[None, tuple(rows)].reshape((2, n) + rest).sum(axis=0)
    k = x.shape[-1]
    if form == "ellipsis_last":
        return x[..., tuple(_repeats(k, rng))].reshape(x.shape[:-1] + (2, k)).sum(axis=-2)
    m = x.shape[1]
    cols = _repeats(m, rng)
    if form == "slice_then_tuple":
        return x[:, tuple(cols)].reshape((n, 2, m) + x.shape[2:]).sum(axis=1)
    if form == "tuple_pairs":  # (rows[k], pairs[k]) pairs: (2n,) + x.shape[2:]
        pairs = [int(c) for c in rng.integers(-m, m, size=2 * n)]
        return x[tuple(rows), tuple(pairs)].reshape((2, n) + x.shape[2:]).sum(axis=0).unsqueeze(1)
    return x[np.int64(rows[0]), tuple(cols)].reshape((2, m) + x.shape[2:]).sum(axis=0).unsqueeze(0)


def _reduce_extremum(x: Any, param: int, which: str) -> Any:
    axis = Choices((), param).axis_or_all(x.ndim)
    return getattr(x, which)(axis=axis, keepdims=True)


def _std_of_one(x: Any, param: int) -> Any:
    """x + std over an axis of length 1 (a batch of one): the std is exactly 0 and its
    gradient 0 (as PyTorch), not NaN (sqrt'(0) = inf times a zero spread)."""
    ones = [i for i, n in enumerate(x.shape) if n == 1]
    if ones and param % 2:
        return x + x.std(axis=ones[param % len(ones)], keepdims=True)
    return x + x.unsqueeze(0).std(axis=0)


# sqrt after an op that masks its gradient: where the mask is off its output is exactly 0, and
# sqrt'(0) = inf, so the mask must *select* the gradient (0, as PyTorch), never multiply it
# (inf·0 = NaN). Finite differences there are 0 (the program is flat in those entries).
MASKED_SQRT = ("relu", "clip", "clip_both", "maximum", "minimum", "leaky_relu_0", "where", "abs_of_zero", "min", "max")


def _masked_sqrt(x: Any, param: int) -> Any:
    kind = MASKED_SQRT[param % len(MASKED_SQRT)]
    if kind == "relu":
        y = x.relu()
    elif kind == "clip":
        y = x.clip(0.0)
    elif kind == "clip_both":
        y = x.clip(0.0, 1.0)
    elif kind == "maximum":
        y = tg.maximum(x, 0.0)
    elif kind == "minimum":
        y = -tg.minimum(x, 0.0)
    elif kind == "leaky_relu_0":
        y = x.leaky_relu(0.0)
    elif kind == "where":
        y = tg.where(x > 0.0, x, 0.0)
    elif kind == "abs_of_zero":
        y = abs(x * 0.0) + x.relu()  # abs at exactly 0 with an inf upstream where x < 0
    elif kind == "min":  # slices with a negative entry: min 0, the positive entries not chosen
        y = _reduce_extremum(x.clip(0.0), param, "min")
    else:  # "max", mirrored
        y = -_reduce_extremum(x.clip(hi=0.0), param, "max")
    return y.sqrt()


def _masked_sqrt_gap(v: list[np.ndarray], param: int) -> float:
    kind = MASKED_SQRT[param % len(MASKED_SQRT)]
    x = v[0]
    gap = _min_abs(x)
    if kind == "clip_both":
        gap = min(gap, _min_abs(x - 1.0))
    if kind in ("min", "max"):
        # where every entry of a slice is on the live side, its two extremes must not tie
        y = x if kind == "min" else -x
        axis = Choices((), param).axis_or_all(y.ndim)
        if axis is None:
            y, axis = y.reshape(1, -1), 1
        if y.shape[axis] > 1:
            s = np.sort(y, axis=axis)
            live = np.take(s, 0, axis=axis) > 0
            ties = np.take(s, 1, axis=axis) - np.take(s, 0, axis=axis)
            gap = min(gap, float(ties[live].min()) if live.any() else np.inf)
    return gap


def _nd(k: int) -> Callable[[list[Shape]], bool]:
    return lambda shapes: len(shapes[0]) >= k


def _reductions(loss: Callable[..., Any]) -> Callable[[list[Any], int, Shape], Any]:
    return lambda xs, p, base: loss(*Choices.common(xs[0], xs[1]), reduction=("mean", "sum", "none")[p % 3])


SCENARIOS: tuple[FuzzOp, ...] = (
    FuzzOp("in_place", 2, lambda xs, p, base: _in_place(xs[0], xs[1], p), applicable=lambda s: np.broadcast_shapes(*s) == s[0]),
    FuzzOp("transpose_permutation", 1, lambda xs, p, base: _transpose_permutation(xs[0], p), applicable=_nd(2)),
    FuzzOp("transpose_pair", 1, lambda xs, p, base: _transpose_pair(xs[0], p), applicable=_nd(2)),
    FuzzOp("index_forms", 1, lambda xs, p, base: _index_forms(xs[0], p), applicable=_nd(1)),
    FuzzOp("var", 1, lambda xs, p, base: xs[0].var(axis=Choices(base, p).spread_axis(xs[0].shape), ddof=p % 2, keepdims=True), applicable=_has_spread),
    FuzzOp("std_zero_spread", 1, lambda xs, p, base: _std_of_one(xs[0], p)),
    # first-order only: sqrt's recorded backward g / (2·sqrt(x)) has the derivative
    # 1/(2·sqrt(x)) = inf in g at 0, and the 0 that the mask selects meets it as 0·inf = NaN
    # wherever g itself depends on x (PyTorch and JAX give the same NaN); the first-order
    # gradient, and its create_graph replay, are exact.
    FuzzOp("masked_sqrt", 1, lambda xs, p, base: _masked_sqrt(xs[0], p), gap=_masked_sqrt_gap, second_order=False),
    FuzzOp("stack", 2, lambda xs, p, base: _stack(xs[0], xs[1], p)),
    FuzzOp("mse", 2, _reductions(L.mse)),
    FuzzOp("half_mse", 2, _reductions(L.half_mse)),
    FuzzOp("bce_loss", 2, lambda xs, p, base: L.binary_cross_entropy(*Choices.common(xs[0], xs[1]), reduction="none"), ("prob", "unit")),
    FuzzOp("cross_entropy", 1, lambda xs, p, base: _cross_entropy(xs[0], p)),
)
"""Steps that are not one op: compositions through functions above the ops layer, and
regression scenarios (std over a batch of one, masks in front of sqrt)."""


def fuzz_ops() -> dict[str, FuzzOp]:
    """Every kind of step, by name: the registered ops' steps, then the scenarios."""
    found = registered_fuzz_ops()
    for scenario in SCENARIOS:
        assert scenario.name not in found, f"scenario {scenario.name!r} shadows a registered fuzz step"
        found[scenario.name] = scenario
    return found


FUZZ_OPS: dict[str, FuzzOp] = fuzz_ops()
"""Every kind of step, by name. ``test_fuzz.py`` checks that together they reach every
primitive registered in ``tinygrad_gd.ops.OPS``."""

FALLBACK = "tanh"  # used when an op cannot be placed safely on the drawn operands

SECOND_ORDER_OPS = tuple(sorted(name for name, op in FUZZ_OPS.items() if op.second_order))
"""The fuzz ops of second-derivative programs (``FuzzOp.second_order``)."""


# --------------------------------------------------------------------------- programs
@dataclass(frozen=True)
class Step:
    """One recorded step: the op, its operands (node indices), its parameter, and the safety
    decisions taken when it was built (squash, per-operand adapters, kink shift)."""

    op: str
    args: tuple[int, ...]
    param: int
    squash: bool = False
    adapt: tuple[bool, ...] = ()
    shift: float = 0.0


@dataclass(frozen=True, repr=False)
class Program:
    """Inputs (float64 arrays), the base shape every node broadcasts to, and the steps."""

    inputs: tuple[np.ndarray, ...]
    base: Shape
    steps: tuple[Step, ...]
    upstream: np.ndarray = field(default_factory=lambda: np.zeros(()))

    def __call__(self, *xs: Any) -> Any:
        """Replay on tensors ``xs`` (one per input); the last node is the output."""
        nodes = list(xs)
        for step in self.steps:
            nodes.append(apply_step(step, nodes, self.base)[0])
        return nodes[-1]

    @property
    def shapes(self) -> tuple[Shape, ...]:
        return tuple(a.shape for a in self.inputs)

    def __repr__(self) -> str:
        lines = [f"# base shape {self.base}"]
        lines += [f"x{i} = array of shape {a.shape}" for i, a in enumerate(self.inputs)]
        n = len(self.inputs)
        for k, step in enumerate(self.steps):
            lines.append(f"x{n + k} = {describe_step(step)}")
        return "Program(\n  " + "\n  ".join(lines) + "\n)"


def _prepare(step: Step, nodes: Sequence[Any]) -> list[Any]:
    op = FUZZ_OPS[step.op]
    xs = [nodes[i] for i in step.args]
    if step.squash:
        xs = [_squash(x) for x in xs]
    adapt = step.adapt or (False,) * len(xs)
    xs = [DOMAINS[op.domain(i)][1](x, step.param) if a else x for i, (x, a) in enumerate(zip(xs, adapt))]
    if step.shift:
        x = xs[0]
        if op.shift == "ramp":
            xs[0] = x + step.shift * np.arange(x.size, dtype=np.float64).reshape(x.shape)
        else:
            xs[0] = x + step.shift
    return xs


def apply_step(step: Step, nodes: Sequence[Any], base: Shape) -> tuple[Any, list[Any]]:
    """The step's output and its prepared operands (adapted, shifted)."""
    xs = _prepare(step, nodes)
    return FUZZ_OPS[step.op].fn(xs, step.param, base), xs


def describe_step(step: Step) -> str:
    op = FUZZ_OPS[step.op]
    parts = []
    for i, k in enumerate(step.args):
        text = f"x{k}"
        if step.squash:
            text = f"3·tanh({text}/3)"
        if step.adapt and step.adapt[i]:
            text = DOMAINS[op.domain(i)][2].format(text)
        if i == 0 and step.shift:
            text = f"({text} + {step.shift}{'·arange' if op.shift == 'ramp' else ''})"
        parts.append(text)
    return f"{step.op}({', '.join(parts)}; param={step.param})"


def _acceptable(out: Any, xs: list[Any], op: FuzzOp, param: int) -> bool:
    values = np.asarray(out.data, dtype=np.float64)
    if not np.all(np.isfinite(values)) or (values.size and np.max(np.abs(values)) > VALUE_LIMIT):
        return False
    if op.gap is not None:
        return op.gap([np.asarray(x.data, dtype=np.float64) for x in xs], param) >= KINK_MARGIN
    return True


def build_step(name: str, args: tuple[int, ...], param: int, nodes: list[Any], base: Shape) -> tuple[Step, Any]:
    """Place op ``name`` on ``args`` safely (see the module docstring), or fall back to tanh."""
    op = FUZZ_OPS[name]
    if not op.applicable([tuple(nodes[i].shape) for i in args]):
        # Keep the op, on the newest node it applies to (reductions often leave 0-d nodes).
        for k in range(len(nodes) - 1, -1, -1):
            if op.applicable([tuple(nodes[k].shape)] + [tuple(nodes[i].shape) for i in args[1:]]):
                args = (k,) + args[1:]
                break
    if op.applicable([tuple(nodes[i].shape) for i in args]):
        with tg.no_grad(), np.errstate(all="ignore"):
            for squash in (False, True):
                xs = [nodes[i] for i in args]
                if squash:
                    xs = [_squash(x) for x in xs]
                adapt = tuple(not DOMAINS[op.domain(i)][0](x.data) for i, x in enumerate(xs))
                shifts = SHIFTS if op.gap is not None else (0.0,)
                if op.shift == "zero":  # the one shift that makes operand 0's first entry 0
                    first = _prepare(Step(name, args, param, squash, adapt), nodes)[0]
                    shifts = (-float(first.data.flat[0]),) if first.size else (0.0,)
                for shift in shifts:
                    step = Step(name, args, param, squash, adapt, shift)
                    out, prepared = apply_step(step, nodes, base)
                    if _acceptable(out, prepared, op, param):
                        return step, out
    step = Step(FALLBACK, args[:1], param)
    with tg.no_grad():
        return step, apply_step(step, nodes, base)[0]


# --------------------------------------------------------------------------- strategies
# Strategies are built once: constructing them inside a draw loop costs more than the draw.
_NDIM = st.sampled_from((2, 1, 3, 2, 0))  # shrinks towards a matrix, the most telling case
_SIZE = st.sampled_from((2, 3, 1))
_INPUT_KIND = st.integers(0, 3)
_SEED = st.integers(0, 2**32 - 1)
_OP_NAMES = st.sampled_from(sorted(FUZZ_OPS))
_INDEX: dict[int, st.SearchStrategy[int]] = {}


def _index(n: int) -> st.SearchStrategy[int]:
    """0 means the newest of ``n`` nodes (chains); k > 0 the k-th oldest (reuse, diamonds)."""
    if n not in _INDEX:
        _INDEX[n] = st.integers(0, n)
    return _INDEX[n]


@st.composite
def base_shapes(draw: st.DrawFn, max_size: int = 12) -> Shape:
    """A shape with 0–3 axes of sizes 1–3 and at most ``max_size`` elements."""
    shape = tuple(draw(_SIZE) for _ in range(draw(_NDIM)))
    while int(np.prod(shape)) > max_size:
        shape = shape[1:]
    return shape


@st.composite
def broadcastable_to(draw: st.DrawFn, base: Shape) -> Shape:
    """A shape that broadcasts to ``base``: itself, some axes set to 1, or leading axes dropped."""
    kind = draw(_INPUT_KIND)
    if kind <= 1 or not base:
        return base
    rng = np.random.default_rng(draw(_SEED))
    if kind == 2:
        return tuple(1 if rng.random() < 0.5 else n for n in base)
    return base[rng.integers(1, len(base) + 1) :]


@st.composite
def programs(
    draw: st.DrawFn,
    min_ops: int = 3,
    max_ops: int = 15,
    max_inputs: int = 3,
    op_names: Sequence[str] | None = None,
) -> Program:
    """A random program of ``min_ops``..``max_ops`` steps over 1..``max_inputs`` inputs."""
    names = _OP_NAMES if op_names is None else st.sampled_from(list(op_names))
    base = draw(base_shapes())
    n_inputs = draw(st.integers(1, max_inputs))
    shapes = [draw(broadcastable_to(base)) for _ in range(n_inputs)]
    rng = np.random.default_rng(draw(_SEED))
    inputs = tuple(rng.uniform(-2.0, 2.0, size=s) for s in shapes)
    nodes: list[Any] = [tg.Tensor(a) for a in inputs]
    steps = []
    for _ in range(draw(st.integers(min_ops, max_ops))):
        name = draw(names)
        args = []
        for _ in range(FUZZ_OPS[name].arity):
            k = draw(_index(len(nodes)))
            args.append(len(nodes) - 1 if k == 0 else k - 1)
        param = int(rng.integers(0, 2**16))  # from the seed: no draw needed
        step, out = build_step(name, tuple(args), param, nodes, base)
        steps.append(step)
        nodes.append(out)
    upstream = rng.normal(size=nodes[-1].shape)
    return Program(inputs, base, tuple(steps), upstream)


def single_op_program(name: str, base: Shape, seed: int = 0, param: int = 1) -> Program:
    """A deterministic program applying op ``name`` once to fresh inputs (per-op checks)."""
    rng = np.random.default_rng(seed)
    op = FUZZ_OPS[name]
    inputs = tuple(rng.uniform(-2.0, 2.0, size=base) for _ in range(op.arity))
    nodes: list[Any] = [tg.Tensor(a) for a in inputs]
    step, out = build_step(name, tuple(range(op.arity)), param, nodes, base)
    return Program(inputs, base, (step,), rng.normal(size=out.shape))


def node_types(out: Any) -> set[str]:
    """The op class names of every node ``out`` was computed through (the registry's keys:
    PowScalar displays as Pow)."""
    seen, names, stack = set(), set(), [out._node]
    while stack:
        node = stack.pop()
        if node is None or id(node) in seen or not isinstance(node, autograd.Function):
            continue
        seen.add(id(node))
        names.add(type(node).__name__)
        stack.extend(node.edges)
    return names

