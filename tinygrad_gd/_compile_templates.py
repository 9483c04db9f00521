"""The numpy text ``tg.compile`` writes for each op: one expression of its inputs and options
where the op's forward is exactly that (``Add`` is ``a + b``), the facts the passes need of
that line (a view of which variable, a fresh array), and the ops whose forward also saves
values for a rule the generated code spells out itself (``Relu``'s mask)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._compile_passes import Line


# Ops whose forward is exactly one numpy expression of its inputs and options, so that the
# generated line can say it (None where it is not, e.g. an integer input the op promotes);
# every other op runs its own ``forward``, which is always right.
def _floats(step: Any) -> bool:
    return all(not isinstance(v, np.ndarray) or v.dtype.kind == "f" for v in step.inputs)


def _sum(a: list[str], o: dict[str, Any], s: Any) -> str:
    # np.add.reduce is what np.sum runs, without its Python wrapper
    keepdims = ", keepdims=True" if o.get("keepdims") else ""
    axis = o.get("axis")
    axis = axis[0] if isinstance(axis, tuple) and len(axis) == 1 else axis  # the same reduction, parsed faster
    return f"np.add.reduce({a[0]}, axis={axis!r}{keepdims})"


def _mean(a: list[str], o: dict[str, Any], s: Any) -> str | None:
    if not _floats(s) or s.out.size == 0:
        return None
    count = s.inputs[0].size // s.out.size  # what np.mean divides by
    return f"{_sum(a, o, s)} / {count}"


def _matmul(a: list[str], o: dict[str, Any], s: Any) -> str:
    """``A @ B``; with A of shape (n, 1) and B of shape (1,) or (1, m) the product it is (a sum
    of one term, so the same values), which numpy computes several times faster than its
    matrix-vector product over one column (3.1 ms against 0.7 ms at n = 1e6)."""
    x, y = s.inputs[0], s.inputs[1]
    if _floats(s) and getattr(x, "ndim", 0) == 2 and x.shape[1] == 1 and getattr(y, "ndim", 0) in (1, 2) and y.shape[0] == 1:
        return f"{a[0]}[:, 0] * {a[1]}" if y.ndim == 1 else f"{a[0]} * {a[1]}"
    return f"{a[0]} @ {a[1]}"


def _unary(fn: str) -> Callable[[list[str], dict[str, Any], Any], str | None]:
    return lambda a, o, s: f"np.{fn}({a[0]})" if _floats(s) else None


def _operator(symbol: str) -> Callable[[list[str], dict[str, Any], Any], str]:
    return lambda a, o, s: f"{a[0]} {symbol} {a[1]}"


# the same text for arrays and for Python floats
_ARITHMETIC: dict[str, Callable[[list[str], dict[str, Any], Any], str]] = {
    **{name: _operator(symbol) for name, symbol in (("Add", "+"), ("Sub", "-"), ("Mul", "*"), ("Div", "/"))},
    "Neg": lambda a, o, s: f"-{a[0]}",
}


_TEMPLATES: dict[str, Callable[[list[str], dict[str, Any], Any], str | None]] = {
    "_NumpyCall": lambda a, o, s: f"np.{s.node.ufunc.__name__}({', '.join(a)})",
    **_ARITHMETIC,
    "MatMul": _matmul,
    "PowScalar": lambda a, o, s: f"{a[0]} ** {o.get('exponent', 1.0)!r}",
    "Sum": _sum,
    "Mean": _mean,
    "Exp": _unary("exp"),
    "Log": _unary("log"),
    "Sqrt": _unary("sqrt"),
    "Tanh": _unary("tanh"),
    "Transpose": lambda a, o, s: f"{a[0]}.T" if o.get("axes") is None else f"np.transpose({a[0]}, {tuple(o['axes'])!r})",
    "Reshape": lambda a, o, s: f"{a[0]}.reshape({tuple(o.get('shape', ()))!r})",
    "BroadcastTo": lambda a, o, s: f"np.broadcast_to({a[0]}, {tuple(o.get('shape', ()))!r})",
    "Cast": lambda a, o, s: f"{a[0]}.astype(np.{np.dtype(o['dtype']).name})",
}


_VIEWS = {"Reshape", "BroadcastTo", "Transpose"}


def _shape_facts(step: Any, args: list[str], variables: set[str]) -> dict[str, Any]:
    """What the passes need to know of a template line: a view of which variable, a fresh
    array, a square or a full reduction of one."""
    name = type(step.node).__name__
    facts: dict[str, Any] = {"shape": step.out.shape, "dtype": step.out.dtype}
    first = args[0] if args else None
    if name in _VIEWS and first in variables:
        facts["view_of"] = first
    elif name == "MatMul":
        facts["fresh"], facts["linear"] = True, True
    elif name == "PowScalar" and step.options.get("exponent") == 2 and first in variables and _floats(step):
        facts["square_of"], facts["fresh"] = first, True
    elif name in ("Sum", "Mean") and step.options.get("axis") is None and not step.options.get("keepdims") and first in variables:
        facts["reduce_of_square"] = (first, name.lower(), step.inputs[0].size)
    if name in ("Sum", "Mean"):
        facts["linear"] = True
    return facts


def _literal(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_literal(v) for v in value)
    if isinstance(value, float):
        return bool(np.isfinite(value))  # repr(inf) is not Python
    return value is None or isinstance(value, (bool, int, str))


# --------------------------------------------------------------------------- ops that save
class Expansion(NamedTuple):
    """An op's forward as several named lines (the last one computes its output) and which
    of them hold what the forward saved for its rule (``node.saved`` index -> variable)."""

    lines: list[tuple[str, str] | Line]  # (target, expression), or a Line the passes may rewrite
    saved: dict[int, str]


def _relu(a: list[str], o: dict[str, Any], s: Any, name: str, program: Any) -> Expansion | None:
    if not _floats(s):
        return None
    out = Line(name, f"{name} = np.maximum({a[0]}, 0)", "", (a[0],), "maximum", [a[0], "0"], fresh=True, shape=s.out.shape, dtype=s.out.dtype, pure=True)
    return Expansion([(f"{name}_mask", f"{a[0]} > 0"), out], {0: f"{name}_mask"})


def _softmax_lines(x: str, axis: Any, name: str) -> list[tuple[str, str]]:
    """exp(x - max) and its sum along ``axis``: what Softmax's forward and the fused
    cross-entropy's both compute first (the same text, so the second is not computed again)."""
    return [
        (f"{name}_max", f"np.max({x}, axis={axis!r}, keepdims=True)"),
        (f"{name}_shifted", f"{x} - {name}_max"),
        (f"{name}_exp", f"np.exp({name}_shifted)"),
        (f"{name}_total", f"np.add.reduce({name}_exp, axis={axis!r}, keepdims=True)"),
    ]


def _axis(axis: Any, ndim: int) -> Any:
    return axis % ndim if isinstance(axis, int) and not isinstance(axis, bool) and ndim else axis


def _softmax(a: list[str], o: dict[str, Any], s: Any, name: str, program: Any) -> Expansion | None:
    if not _floats(s) or s.inputs[0].size == 0:
        return None
    lines = _softmax_lines(a[0], _axis(o.get("axis", -1), s.inputs[0].ndim), name)
    return Expansion([*lines, (name, f"{name}_exp / {name}_total")], {})


def _softmax_cross_entropy(a: list[str], o: dict[str, Any], s: Any, name: str, program: Any) -> Expansion | None:
    x, labels = s.inputs[0], o.get("labels")
    if not _floats(s) or x.ndim != 2 or x.size == 0 or type(labels) is not np.ndarray or id(labels) in program.names:
        return None
    rows, picked = program.constant(np.arange(x.shape[0]), "rows"), program.constant(labels, "labels")
    onehot = program.constant(s.node.saved[1], "onehot")  # fixed by the labels, as they are
    lines = _softmax_lines(a[0], 1, name)
    return Expansion([*lines, (name, f"np.log({name}_total[:, 0]) - {name}_shifted[{rows}, {picked}]")], {1: onehot})


# name -> the op's forward as lines, where it saves arrays (or is written as several steps)
EXPANSIONS: dict[str, Callable[[list[str], dict[str, Any], Any, str, Any], Expansion | None]] = {
    "Relu": _relu,
    "Softmax": _softmax,
    "SoftmaxCrossEntropy": _softmax_cross_entropy,
}

_SAME_SIZE_INT = {2: "np.int16", 4: "np.int32", 8: "np.int64"}


def _relu_rule(saved: dict[int, str], g: str, step: Any, name: str) -> list[tuple[str, str] | Line] | None:
    """``select(x > 0, g)``, as the rule computes it: for large arrays by ANDing the float's
    bits with all ones or zeros (every kept value exactly, inf and NaN too; +0.0 elsewhere)."""
    upstream, mask = step.upstream, step.node.saved[0]
    if type(upstream) is not np.ndarray or upstream.dtype.kind != "f" or upstream.shape != mask.shape:
        return None
    as_int = _SAME_SIZE_INT.get(upstream.dtype.itemsize)
    if as_int is None or upstream.size < 4096:  # below that np.where is faster (ops.select)
        return [(name, f"np.where({saved[0]}, {g}, 0.0)")]
    # -True as int8 is -1, all ones once widened: g's bits where x > 0, zero bits elsewhere
    text = f"np.bitwise_and({g}.view({as_int}), np.negative({saved[0]}.view(np.int8)){{out}}).view(np.{upstream.dtype.name})"
    line = Line(name, f"{name} = " + text.format(out=""), "", (g, saved[0]), operands=[g], shape=upstream.shape, dtype=upstream.dtype, pure=True)
    line.inplace = text.replace("{out}", ", out={out}.view(" + as_int + ")")
    return [line]


# name -> its backward rule on the variables its expansion saved (one gradient per input)
RULES: dict[str, Callable[[dict[int, str], str, Any, str], list[tuple[str, str] | Line] | None]] = {"Relu": _relu_rule}


# --------------------------------------------------------------------------- 0-d graphs
def _power(a: list[str], o: dict[str, Any], s: Any) -> str:
    exponent = o.get("exponent", 1.0)
    # numpy's own shortcuts for these exponents, so that the values are the same
    special = {2: f"{a[0]} * {a[0]}", 1: a[0], 0.5: f"math.sqrt({a[0]})", -1: f"1.0 / {a[0]}"}
    return special.get(exponent, f"math.pow({a[0]}, {exponent!r})")


def _same(a: list[str], o: dict[str, Any], s: Any) -> str:
    return a[0]


# Python-float versions of the templates, for graphs of 0-d float64 values only (math
# raises where numpy would give inf or NaN; the generated code then falls back to numpy)
SCALAR_TEMPLATES: dict[str, Callable[[list[str], dict[str, Any], Any], str]] = {
    **_ARITHMETIC,
    "PowScalar": _power,
    "Exp": lambda a, o, s: f"math.exp({a[0]})",
    "Log": lambda a, o, s: f"math.log({a[0]})",
    "Sqrt": lambda a, o, s: f"math.sqrt({a[0]})",
    "Tanh": lambda a, o, s: f"math.tanh({a[0]})",
    "Sin": lambda a, o, s: f"math.sin({a[0]})",
    "Cos": lambda a, o, s: f"math.cos({a[0]})",
    "Sum": _same,  # of a 0-d value: the value
    "Mean": _same,
    "Reshape": _same,
    "BroadcastTo": _same,
    "Cast": _same,
}
