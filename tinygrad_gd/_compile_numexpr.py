"""``tg.compile(fn, fast=...)``: the optional numexpr pass over the generated lines.

After the numpy passes (:mod:`._compile_passes`), chains of elementwise lines over large
arrays of one float dtype (``+ - * /``, negation, ``** c``, ``exp``, ``log``, ``sqrt``,
``tanh``, and a matmul whose inner dimension is 1, which is a product) become one
``ne.evaluate("...", local_dict={...})``: one pass over memory instead of one per op. A chain
is fused only where a cost model (nanoseconds per element, measured on the development
machine, see docs/performance.md) expects the fused line to be cheaper than the numpy lines:
numexpr's virtual machine costs about half a nanosecond per element and op on one thread,
more than an in-place numpy op over data in cache, so short chains and small arrays stay
numpy. Reductions stay numpy/BLAS (``np.add.reduce`` and ``np.vdot`` are 4-5x faster than
numexpr's ``sum`` on one thread, and sum in numpy's order).

Results equal the numpy lines' to float rounding: the same operations in the same order, on
the same dtype (float32 constants are handed to numexpr as float32 values, since numexpr
would compute ``float32 * 0.5`` in float64); ``x ** 3`` becomes ``x*x*x`` and ``exp``/``tanh``
are libm's, within a few units in the last place of numpy's.
"""

from __future__ import annotations

import ast
import importlib
import math
import re
from collections.abc import Iterable
from typing import Any

import numpy as np

from ._compile_passes import Line, reuse_buffers

__all__ = ["resolve_fast", "array_facts", "fuse_elementwise", "MIN_ELEMENTS"]

# Arrays smaller than this stay numpy: one ne.evaluate call costs ~15 µs, more than the
# passes it could save below ~65,000 elements.
MIN_ELEMENTS = 65_536
_FORCE = False  # tests: fuse every chain, whatever its size and cost

# The cost model, in nanoseconds (float64 on one thread, measured with N = 1e6; see
# docs/performance.md): a byte read or written by a pass; a numpy call; a numexpr call; one
# element of one numexpr op; and the compute of the transcendental ops on each side (numexpr
# has no VML here: libm's exp, a slower tanh).
_NS_PER_BYTE = 0.035
_NS_NUMPY_CALL = 1_000.0
_NS_NUMEXPR_CALL = 15_000.0
_NS_NUMEXPR_OP = 0.47
_NS_NUMPY_FUNCTION = {"exp": 5.5, "log": 6.0, "sqrt": 0.5, "tanh": 19.0}
_NS_NUMEXPR_FUNCTION = {"exp": 5.6, "log": 6.5, "sqrt": 0.6, "tanh": 26.0}

_FUNCTIONS = {"exp", "log", "sqrt", "tanh"}
_IDENTIFIER = re.compile(r"(?<![\w.])[A-Za-z_]\w*")
_BINARY = {ast.Add: "+", ast.Sub: "-", ast.Mult: "*", ast.Div: "/"}
_UFUNC_SYMBOLS = {"add": "+", "subtract": "-", "multiply": "*", "divide": "/"}
_PRECEDENCE = {"+": 1, "-": 1, "*": 2, "/": 2, "neg": 3, "**": 4}


def resolve_fast(fast: Any) -> Any:
    """The numexpr module the generated code uses, or None: ``fast=None`` uses it where it is
    importable, ``True`` requires it, ``False`` never uses it."""
    if fast is not None and not isinstance(fast, bool):
        raise TypeError(f"tg.compile: fast= must be None, True or False, got {fast!r}")
    if fast is False:
        return None
    try:
        return importlib.import_module("numexpr")
    except ImportError as error:
        if fast:
            raise ImportError(
                "tg.compile(fn, fast=True) needs numexpr, which is not installed: "
                "pip install tinygrad-gd[fast] (or pip install numexpr), or pass fast=None to use "
                "it only where it is installed"
            ) from error
        return None


def array_facts(steps: Iterable[Any], names: dict[int, str], constants: dict[int, str]) -> dict[str, tuple[tuple[int, ...], Any]]:
    """Variable name -> (shape, dtype) of every array the traced steps read or made."""
    facts: dict[str, tuple[tuple[int, ...], Any]] = {}
    for step in steps:
        node = getattr(step, "node", None)
        values = [*getattr(step, "inputs", ()), getattr(step, "out", None), getattr(step, "upstream", None)]
        values += [*getattr(step, "outs", ()), *getattr(node, "saved", ())]
        for value in values:
            if isinstance(value, np.ndarray):
                name = names.get(id(value)) or constants.get(id(value))
                if name is not None and name.isidentifier():
                    facts.setdefault(name, (value.shape, value.dtype))
    return facts


# --------------------------------------------------------------------------- expressions
# A tree is ("leaf", name) | ("num", text) | ("neg", tree) | ("bin", symbol, tree, tree) |
# ("pow", tree, exponent) | ("call", function, tree) | ("column", name): an (n, 1) matrix's
# column, from a matmul with inner dimension 1.
Tree = tuple[Any, ...]


def _number(text: str) -> bool:
    try:
        return math.isfinite(float(text))
    except ValueError:
        return False


def _operand(text: str, facts: dict[str, Any]) -> Tree | None:
    if _number(text):
        return ("num", text)
    return ("leaf", text) if text in facts else None


def _constant(node: ast.expr) -> float | None:
    """The value of a finite number literal (``-1.0`` too), or None."""
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _constant(node.operand)
        return None if inner is None else -inner
    if isinstance(node, ast.Constant) and isinstance(node.value, (int, float)) and not isinstance(node.value, bool):
        return float(node.value) if math.isfinite(node.value) else None
    return None


def _from_ast(node: ast.expr, facts: dict[str, Any]) -> Tree | None:
    if isinstance(node, ast.Name):
        return ("leaf", node.id) if node.id in facts else None
    value = _constant(node)
    if value is not None:
        return ("num", repr(value))
    if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
        inner = _from_ast(node.operand, facts)
        return None if inner is None else ("neg", inner)
    if isinstance(node, ast.BinOp):
        exponent = _constant(node.right)
        if isinstance(node.op, ast.Pow):
            base = _from_ast(node.left, facts)
            return None if base is None or exponent is None else ("pow", base, exponent)
        if isinstance(node.op, ast.MatMult):
            return _matmul_product(node, facts)
        symbol = _BINARY.get(type(node.op))
        left, right = _from_ast(node.left, facts), _from_ast(node.right, facts)
        return None if symbol is None or left is None or right is None else ("bin", symbol, left, right)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and len(node.args) == 1 and not node.keywords:
        if isinstance(node.func.value, ast.Name) and node.func.value.id == "np" and node.func.attr in _FUNCTIONS:
            inner = _from_ast(node.args[0], facts)
            return None if inner is None else ("call", node.func.attr, inner)
    return None


def _matmul_product(node: ast.BinOp, facts: dict[str, Any]) -> Tree | None:
    """``A @ B`` with A of shape (n, 1): the product ``A[:, 0] * B`` (B of shape (1,)) or
    ``A * B`` (B of shape (1, m)), elementwise and exact (a sum of one product)."""
    if not (isinstance(node.left, ast.Name) and isinstance(node.right, ast.Name)):
        return None
    a, b = facts.get(node.left.id), facts.get(node.right.id)
    if a is None or b is None or len(a[0]) != 2 or a[0][1] != 1:
        return None
    if b[0] == (1,):
        return ("bin", "*", ("column", node.left.id), ("leaf", node.right.id))
    if len(b[0]) == 2 and b[0][0] == 1:
        return ("bin", "*", ("leaf", node.left.id), ("leaf", node.right.id))
    return None


def _tree(line: Line, facts: dict[str, Any]) -> Tree | None:
    """The line's value as an expression tree, where it is elementwise."""
    if line.ufunc is not None:
        operands = [_operand(o, facts) for o in line.operands]
        if any(o is None for o in operands):
            return None
        if line.ufunc == "negative" and len(operands) == 1:
            return ("neg", operands[0])
        symbol = _UFUNC_SYMBOLS.get(line.ufunc)
        return ("bin", symbol, operands[0], operands[1]) if symbol and len(operands) == 2 else None
    if not line.pure or line.inplace is not None or " = " not in line.text:
        return None
    try:
        statement = ast.parse(line.text).body
    except SyntaxError:
        return None
    if len(statement) != 1 or not isinstance(statement[0], ast.Assign) or len(statement[0].targets) != 1:
        return None
    return _from_ast(statement[0].value, facts)


def _leaves(tree: Tree) -> list[Tree]:
    if tree[0] in ("leaf", "column"):
        return [tree]
    return [leaf for child in tree[1:] if isinstance(child, tuple) for leaf in _leaves(child)]


def _substitute(tree: Tree, trees: dict[str, Tree]) -> Tree:
    if tree[0] == "leaf":
        return trees.get(tree[1], tree)
    return tuple(_substitute(c, trees) if isinstance(c, tuple) else c for c in tree)


def _ops(tree: Tree) -> list[str]:
    """The numexpr ops the tree costs (a small integer power is that many products)."""
    kind = tree[0]
    children = [c for c in tree[1:] if isinstance(c, tuple)]
    own: list[str] = []
    if kind in ("bin", "neg"):
        own = ["arith"]
    elif kind == "call":
        own = [tree[1]]
    elif kind == "pow":
        exponent = tree[2]
        own = ["arith"] * max(1, int(abs(exponent)) - 1) if float(exponent).is_integer() and abs(exponent) <= 8 else ["exp", "log"]
    return own + [op for child in children for op in _ops(child)]


# --------------------------------------------------------------------------- the pass
def _candidate(line: Line, facts: dict[str, Any]) -> tuple[Tree, Any, tuple[int, ...]] | None:
    """(tree, dtype, shape) of a line the pass may fuse: elementwise, one float dtype
    throughout, at least one dimension, large enough to be worth it."""
    if line.target is None or line.target not in facts:
        return None
    shape, dtype = facts[line.target]
    if dtype not in (np.float64, np.float32) or not shape or (math.prod(shape) < MIN_ELEMENTS and not _FORCE):
        return None
    tree = _tree(line, facts)
    if tree is None or tree[0] in ("leaf", "num"):
        return None
    for leaf in _leaves(tree):
        if facts[leaf[1]][1] != dtype:  # a mixed-dtype line: numpy's promotion, not numexpr's
            return None
    if dtype == np.float32 and not _exact(tree):
        return None
    return tree, dtype, shape


def _exact(tree: Tree) -> bool:
    """Only operations numexpr rounds as numpy does (IEEE arithmetic, sqrt, the powers numpy
    computes as products or a reciprocal): float32 keeps numpy's exp/log/tanh, whose last bits
    differ from libm's by enough, at float32's precision, to fail the trace check where values
    cancel later."""
    if tree[0] == "call" and tree[1] != "sqrt":
        return False
    if tree[0] == "pow" and tree[2] not in (0.5, 1.0, 2.0, -1.0):
        return False
    return all(_exact(child) for child in tree[1:] if isinstance(child, tuple))


def _occurrences(tree: Tree, name: str) -> int:
    return sum(1 for leaf in _leaves(tree) if leaf == ("leaf", name))


def fuse_elementwise(lines: list[Line], pinned: set[str], facts: dict[str, Any], numexpr: Any) -> list[Line]:
    """Chains of elementwise lines as one ``ne.evaluate`` each, where the cost model says so;
    a matmul with inner dimension 1 becomes a product either way (numpy's matrix-vector
    product over an (n, 1) matrix is several times slower than the product)."""
    for line in lines:
        line.out = None  # the buffers are chosen again, for the lines this pass leaves
    candidates = {i: c for i, line in enumerate(lines) if (c := _candidate(line, facts)) is not None}
    readers: dict[str, list[int]] = {}  # the lines that name a variable (other than defining it)
    for i, line in enumerate(lines):
        named = set(line.reads) | set(_IDENTIFIER.findall(f"{line.text} {' '.join(line.operands)} {line.inplace or ''}"))
        for name in named - {line.target}:
            readers.setdefault(name, []).append(i)
    # a candidate folds into the one line that reads it, if that is a candidate of its dtype and shape
    absorbed_by: dict[int, int] = {}
    for i, (_, dtype, shape) in candidates.items():
        target = lines[i].target
        assert target is not None
        reading = readers.get(target, [])
        if target in pinned or len(reading) != 1 or reading[0] not in candidates:
            continue
        j = reading[0]
        if candidates[j][1:] == (dtype, shape) and _occurrences(candidates[j][0], target) == 1:
            absorbed_by[i] = j
    members: dict[int, list[int]] = {}
    for i in sorted(candidates):
        root = i
        while root in absorbed_by:
            root = absorbed_by[root]
        members.setdefault(root, []).append(i)
    replaced: dict[int, list[Line]] = {}
    dropped: set[int] = set()
    for root, group in members.items():
        trees: dict[str, Tree] = {}
        for i in group:
            trees[lines[i].target or ""] = _substitute(candidates[i][0], trees)
        fused = trees[lines[root].target or ""]
        _, dtype, shape = candidates[root]
        if _FORCE or _profitable(group, candidates, fused, facts, shape, np.dtype(dtype).itemsize):
            replaced[root] = _fused_lines(lines, group, fused, dtype, shape)
            dropped.update(i for i in group if i != root)
        else:
            for i in group:
                if _has_column(candidates[i][0]):
                    replaced[i] = [_product_line(lines[i], candidates[i][0], dtype, shape)]
    out: list[Line] = []
    for i, line in enumerate(lines):
        if i not in dropped:
            out.extend(replaced.get(i, [line]))
    return reuse_buffers(out, pinned)


def _has_column(tree: Tree) -> bool:
    return any(leaf[0] == "column" for leaf in _leaves(tree))


def _size(leaf: Tree, facts: dict[str, Any]) -> int:
    return math.prod(facts[leaf[1]][0][:1]) if leaf[0] == "column" else math.prod(facts[leaf[1]][0])


def _profitable(
    group: list[int], candidates: dict[int, Any], fused: Tree, facts: dict[str, Any], shape: tuple[int, ...], itemsize: int
) -> bool:
    """Fewer nanoseconds fused than as numpy lines (each reads its operands and writes its
    output), on one numexpr thread: more threads only make the fused lines faster where the
    cores are free, and on a shared machine they are not (at N = 1e6 the fused residual on
    two threads measured 0.72x the numpy step against 0.56x for the numpy lines). The code
    generated is then the same whatever numexpr's thread setting."""
    size = math.prod(shape)
    numpy_ns = 0.0
    for i in group:
        tree = candidates[i][0]
        touched = sum(_size(leaf, facts) for leaf in _leaves(tree)) + size
        numpy_ns += touched * itemsize * _NS_PER_BYTE + _NS_NUMPY_CALL
        numpy_ns += size * sum(_NS_NUMPY_FUNCTION.get(op, 0.0) for op in _ops(tree))
    distinct = {leaf for leaf in _leaves(fused)}
    numexpr_ns = (sum(_size(leaf, facts) for leaf in distinct) + size) * itemsize * _NS_PER_BYTE + _NS_NUMEXPR_CALL
    numexpr_ns += size * sum(_NS_NUMEXPR_FUNCTION.get(op, _NS_NUMEXPR_OP) for op in _ops(fused))
    return len(group) > 1 and numexpr_ns < numpy_ns


# --------------------------------------------------------------------------- text
def _render(tree: Tree, names: dict[Tree, str], constants: list[str], float32: bool, prefix: str = "c") -> tuple[str, int]:
    """numexpr text of a tree and its precedence (float32 constants become float32 values,
    named ``prefix`` and a number)."""
    kind = tree[0]
    if kind in ("leaf", "column"):
        return names[tree], 9
    if kind == "num":
        value = float(tree[1])
        small_integer = value.is_integer() and abs(value) < 2**31  # numexpr's int constants keep float32
        if float32 and not small_integer:
            constants.append(f"np.float32({value!r})")
            return f"{prefix}{len(constants) - 1}", 9
        return (repr(int(value)) if small_integer else repr(value)), (9 if value >= 0 else 3)
    if kind == "neg":
        inner, p = _render(tree[1], names, constants, float32, prefix)
        return f"-{inner if p > 3 else f'({inner})'}", 3
    if kind == "call":
        return f"{tree[1]}({_render(tree[2], names, constants, float32, prefix)[0]})", 9
    if kind == "pow":
        base, p = _render(tree[1], names, constants, float32, prefix)
        base = base if p > 4 else f"({base})"
        exponent = tree[2]
        if exponent == 0.5:
            return f"sqrt({_render(tree[1], names, constants, float32, prefix)[0]})", 9
        if float(exponent).is_integer() and abs(exponent) < 2**31:
            return f"{base}**{int(exponent)}", 4
        return f"{base}**{_render(('num', repr(exponent)), names, constants, float32, prefix)[0]}", 4
    symbol = tree[1]
    left, lp = _render(tree[2], names, constants, float32, prefix)
    right, rp = _render(tree[3], names, constants, float32, prefix)
    prec = _PRECEDENCE[symbol]
    left = left if lp >= prec else f"({left})"
    right = right if rp > prec or (rp == prec and symbol in "+*") else f"({right})"
    return f"{left} {symbol} {right}", prec


# numexpr's own names: a variable called so is renamed in the expression
_RESERVED = {
    "where", "sum", "prod", "min", "max", "abs", "exp", "expm1", "log", "log1p", "log10", "sqrt", "sin", "cos",
    "tan", "arcsin", "arccos", "arctan", "arctan2", "sinh", "cosh", "tanh", "arcsinh", "arccosh", "arctanh",
    "real", "imag", "complex", "conj", "contains", "fmod", "ceil", "floor", "round", "isnan", "isinf",
    "isfinite", "maximum", "minimum", "copy", "ones_like", "True", "False", "None",
}


def _leaf_names(tree: Tree) -> dict[Tree, str]:
    """The name of each leaf in the expression: its variable's, unless numexpr has that name
    or another leaf took it (an (n, 1) matrix's column is ``X_col0``)."""
    names: dict[Tree, str] = {}
    for leaf in _leaves(tree):
        if leaf not in names:
            name = f"{leaf[1]}_col0" if leaf[0] == "column" else leaf[1]
            while name in _RESERVED or name in names.values():
                name += "_"
            names[leaf] = name
    return names


def _leaf_value(leaf: Tree) -> str:
    return f"{leaf[1]}[:, 0]" if leaf[0] == "column" else leaf[1]


def _fused_lines(lines: list[Line], group: list[int], fused: Tree, dtype: Any, shape: tuple[int, ...]) -> list[Line]:
    """The fused line (at the chain's last line), after comment lines that show the numpy
    lines it stands for."""
    root = lines[group[-1]]
    target = root.target
    assert target is not None
    names = _leaf_names(fused)
    constants: list[str] = []
    prefix = "c"
    while any(name.startswith(prefix) for name in names.values()):
        prefix = "_" + prefix
    expression, _ = _render(fused, names, constants, np.dtype(dtype) == np.float32, prefix)
    entries = [f'"{name}": {_leaf_value(leaf)}' for leaf, name in names.items()]
    entries += [f'"{prefix}{k}": {value}' for k, value in enumerate(constants)]
    call = f'ne.evaluate("{expression}", local_dict={{{", ".join(entries)}}}'
    comments = [Line(None, "# numexpr, one pass over memory:")]
    comments += [Line(None, f"#   {_plain_text(lines[i])}") for i in group]
    fused_line = Line(
        target, f"{target} = {call})", root.comment + " (fused by numexpr)", tuple(leaf[1] for leaf in names),
        operands=[leaf[1] for leaf in names if leaf[0] == "leaf"], fresh=True, shape=shape, dtype=dtype, pure=True,
    )
    # reuse_buffers may write the result into an operand nothing reads afterwards
    fused_line.inplace = call.replace("{", "{{").replace("}", "}}") + ", out={out})"
    return [*comments, fused_line]


def _plain_text(line: Line) -> str:
    """The numpy statement a line stood for (without its comment)."""
    if line.ufunc is None:
        return line.text
    ops = line.operands
    if line.ufunc == "negative":
        return f"{line.target} = -{ops[0]}"
    symbol = _UFUNC_SYMBOLS.get(line.ufunc)
    return f"{line.target} = {ops[0]} {symbol} {ops[1]}" if symbol else f"{line.target} = np.{line.ufunc}({', '.join(ops)})"


def _product_line(line: Line, tree: Tree, dtype: Any, shape: tuple[int, ...]) -> Line:
    """A matmul with inner dimension 1 as the numpy product it is."""
    names = {leaf: _leaf_value(leaf) for leaf in _leaves(tree)}
    expression, _ = _render(tree, names, [], False, "c")
    reads = tuple(leaf[1] for leaf in names)
    return Line(line.target, f"{line.target} = {expression}", line.comment + " (inner dimension 1: a product)",
                reads, fresh=True, shape=shape, dtype=dtype, pure=True, linear=line.linear)
