"""``tg.compile``: trace a loss (and its gradient) once, then run it as straight-line numpy.

Every step of a gradient-descent loop runs the same graph. ``compile(fn)`` runs ``fn`` once
per *signature* (the arguments' shapes, dtypes and requires-grad flags, and the values of
Python-number arguments) through the ordinary engine while a tracer records every op that
runs, forward and, for ``tg.value_and_grad``/``tg.grad``, the backward as well (recorded with
the same rules, as ``create_graph`` does). The record becomes one Python function of plain
numpy statements; later calls with that signature run only that function: no Tensors, no
graph nodes, no backward pass.

``compiled.source`` is that function's text, one statement a line, named after what it
computes, with each op's formula as a comment, so the gradient a learner derived by hand
can be read beside the one autodiff produced.

What a trace cannot see, it refuses rather than freezes: reading a traced value in Python
(``bool(t)``, ``float(t)``, ``t.item()``, ``t.numpy()``, ``if loss < 1:``) raises
:class:`TracingError`, because that branch would be baked into the code. Arrays the function
closes over (``X``, ``y``) are read by reference at every call, as the eager function reads
them. Values computed from a traced tensor's ``.data`` with plain numpy are invisible to the
tracer and would be frozen: don't, or pass ``check=True``, which re-runs the eager function
now and then and raises :class:`CompileCheckError` on any disagreement.
"""

from __future__ import annotations

import builtins
import inspect
import itertools
import linecache
import threading
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from . import autograd
from ._compile_passes import UFUNCS, Line, optimize, render, uniform_value
from ._graph_tensor import GraphTensor
from ._tensor_methods import to_array
from .autograd import TracingError
from .tensor import Tensor

__all__ = ["compile", "CompiledFunction", "TracingError", "CompileCheckError", "CacheInfo"]


class CompileCheckError(AssertionError):
    """``compile(fn, check=True)``: the compiled function disagreed with the eager one."""


class CacheInfo(NamedTuple):
    traces: int  # how many times fn was traced (one per new signature)
    hits: int  # calls that ran an already compiled function
    size: int  # signatures held now
    maxsize: int


# --------------------------------------------------------------------------- the tracer
class _Step(NamedTuple):
    node: Any  # the Function instance that ran (its class, options and saved values)
    inputs: tuple[Any, ...]  # the arrays/constants its forward received
    options: dict[str, Any]
    out: np.ndarray


class _RuleStep(NamedTuple):
    """A backward rule replayed whole: it computed with values no op records (a mask from
    ``ops.constant``), so the generated code calls the rule itself, on the arrays the
    forward of ``node`` saved at run time, exactly as an ordinary backward does."""

    node: Any
    upstream: np.ndarray
    outs: tuple[np.ndarray | None, ...]
    out_nodes: tuple[Any, ...]  # the graph nodes of the gradients it returned (kept alive)


class _NumpyCall:
    """f(a, b) = a numpy ufunc applied outside the ops (a comparison: no gradient)"""

    saved: tuple[Any, ...] = ()

    def __init__(self, ufunc: Any) -> None:
        self.ufunc = ufunc
        self.name = ufunc.__name__

    def forward(self, *args: Any) -> np.ndarray:
        return np.asarray(self.ufunc(*args))


class _Tracer:
    """Receives every op the tracing thread runs (``autograd`` calls :meth:`record`) and
    marks where each backward rule starts and ends."""

    def __init__(self) -> None:
        self.thread = threading.get_ident()
        self.steps: list[Any] = []
        self.escaped = False  # set by ops.constant while a rule runs
        self._rule_start = 0

    def record(self, node: Any, inputs: list[Any], options: dict[str, Any], out: np.ndarray) -> None:
        if threading.get_ident() == self.thread:
            reason = getattr(node, "untraceable", None)
            if reason:  # an op that says a trace would freeze part of it
                raise TracingError(f"tg.compile cannot see all of {node.name}: {reason}; do not compile this function")
            self.steps.append(_Step(node, tuple(inputs), dict(options), out))

    def record_call(self, ufunc: Any, inputs: tuple[Any, ...], out: np.ndarray) -> None:
        """A numpy call the library makes outside the ops on traced values (comparisons)."""
        self.record(_NumpyCall(ufunc), list(inputs), {}, out)

    def begin_rule(self) -> None:
        self._rule_start, self.escaped = len(self.steps), False

    def end_rule(self, node: Any, g: Any, input_grads: tuple[Any, ...]) -> None:
        if self.escaped and threading.get_ident() == self.thread:
            del self.steps[self._rule_start :]  # the ops it recorded do not tell the whole story
            outs = tuple(None if gi is None else (gi.data if isinstance(gi, GraphTensor) else gi) for gi in input_grads)
            nodes = tuple(gi._node if isinstance(gi, GraphTensor) else None for gi in input_grads)
            self.steps.append(_RuleStep(node, g.data if isinstance(g, GraphTensor) else g, outs, nodes))
        self.escaped = False


# --------------------------------------------------------------------------- signatures
def _signature(args: tuple[Any, ...], kwargs: dict[str, Any]) -> tuple[tuple[Any, ...], list[Any]]:
    """What a trace depends on (array shapes/dtypes/flags, Python-number values) and the
    arguments as the generated code takes them: arrays by Tensor's dtype rules (float arrays
    as they are, the rest as float64). Keyword arguments are baked into the code, so they may
    only be Python values. (Runs on every call: plain loops, the ndarray case first.)"""
    key: list[Any] = []
    inputs: list[Any] = []
    for value in args:
        if type(value) is np.ndarray and value.dtype.kind == "f":
            key.append((value.shape, value.dtype.char))
        elif isinstance(value, GraphTensor):
            key.append((value.data.shape, value.data.dtype.char, value.requires_grad))
            value = value.data
        elif isinstance(value, (np.ndarray, np.generic)):  # a numpy scalar is a 0-d array
            key.append((np.shape(value), value.dtype.char))
            value = to_array(value, None)
        elif value is None or isinstance(value, (bool, int, float, str)):
            key.append((type(value), value))
        else:
            raise TypeError(
                f"tg.compile: an argument of type {type(value).__name__} cannot be part of a compiled "
                f"signature; pass numpy arrays, Tensors or Python numbers (close over anything else)"
            )
        inputs.append(value)
    if kwargs:
        for name, value in sorted(kwargs.items()):
            if isinstance(value, (GraphTensor, np.ndarray)):
                raise TypeError(
                    f"tg.compile: the keyword argument {name}= is an array; pass arrays positionally "
                    f"(keyword arguments are baked into the compiled code, as constants)"
                )
            key.append((name, type(value), value))
    return tuple(key), inputs


# --------------------------------------------------------------------------- code generation
# Ops whose forward is exactly one numpy expression of its inputs and options, so that the
# generated line can say it (None where it is not, e.g. an integer input the op promotes);
# every other op runs its own ``forward``, which is always right.
def _floats(step: Any) -> bool:
    return all(not isinstance(v, np.ndarray) or v.dtype.kind == "f" for v in step.inputs)


def _sum(a: list[str], o: dict[str, Any], s: Any) -> str:
    # np.add.reduce is what np.sum runs, without its Python wrapper
    return f"np.add.reduce({a[0]}, axis={o.get('axis')!r}, keepdims={o.get('keepdims', False)!r})"


def _mean(a: list[str], o: dict[str, Any], s: Any) -> str | None:
    if not _floats(s) or s.out.size == 0:
        return None
    count = s.inputs[0].size // s.out.size  # what np.mean divides by
    return f"{_sum(a, o, s)} / {count}"


def _unary(fn: str) -> Callable[[list[str], dict[str, Any], Any], str | None]:
    return lambda a, o, s: f"np.{fn}({a[0]})" if _floats(s) else None


_TEMPLATES: dict[str, Callable[[list[str], dict[str, Any], Any], str | None]] = {
    "_NumpyCall": lambda a, o, s: f"np.{s.node.ufunc.__name__}({', '.join(a)})",
    "Add": lambda a, o, s: f"{a[0]} + {a[1]}",
    "Sub": lambda a, o, s: f"{a[0]} - {a[1]}",
    "Mul": lambda a, o, s: f"{a[0]} * {a[1]}",
    "Div": lambda a, o, s: f"{a[0]} / {a[1]}",
    "MatMul": lambda a, o, s: f"{a[0]} @ {a[1]}",
    "Neg": lambda a, o, s: f"-{a[0]}",
    "PowScalar": lambda a, o, s: f"{a[0]} ** {o.get('exponent', 1.0)!r}",
    "Sum": _sum,
    "Mean": _mean,
    "Exp": _unary("exp"),
    "Log": _unary("log"),
    "Sqrt": _unary("sqrt"),
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
        facts["fresh"] = True
    elif name == "PowScalar" and step.options.get("exponent") == 2 and first in variables and _floats(step):
        facts["square_of"], facts["fresh"] = first, True
    elif name in ("Sum", "Mean") and step.options.get("axis") is None and not step.options.get("keepdims") and first in variables:
        facts["reduce_of_square"] = (first, name.lower(), step.inputs[0].size)
    return facts


def _run(op: type, *args: Any, **options: Any) -> np.ndarray:
    """Run one op's forward outside the engine (what the generated code calls for the ops
    without a template)."""
    node: Any = object.__new__(op)
    node.saved = ()
    return np.asarray(node.forward(*args, **options))


def _rule(node: Any, g: np.ndarray) -> tuple[Any, ...]:
    """A node's backward rule on arrays, as the engine calls it (one gradient per input)."""
    grads = node.backward(g)
    return grads if type(grads) is tuple else (grads,)


def _literal(value: Any) -> bool:
    if isinstance(value, (tuple, list)):
        return all(_literal(v) for v in value)
    if isinstance(value, float):
        return bool(np.isfinite(value))  # repr(inf) is not Python
    return value is None or isinstance(value, (bool, int, str))


class _Program:
    """Turns a trace into the text of one function and the namespace it runs in."""

    def __init__(self, arg_names: list[str], arg_ids: dict[int, str]) -> None:
        self.names: dict[int, str] = dict(arg_ids)  # id(array) -> variable
        self.arg_names = arg_names
        self.namespace: dict[str, Any] = {"np": np, "_run": _run, "_rule": _rule}
        self.lines: list[Line] = []
        self.variables: set[str] = set(arg_names)
        self.pinned: set[str] = set()  # variables a kept node holds (its saved values)
        self.constants = itertools.count()
        self.temps = itertools.count(1)
        self.keep: list[Any] = []  # keeps traced arrays alive so that ids stay unique
        self.replayed: set[int] = set()  # nodes whose rule runs whole: their forward keeps its node
        # Arrays the trace itself made (the backward's seed) and what is computed from them
        # alone: the same at every call, so computed once here (closed-over arrays are not:
        # they are read at every call).
        self.folded: set[int] = set()
        self.node_names: dict[int, str] = {}
        self.closure: dict[int, str] = {}  # id(array) -> its name in the traced function

    def operand(self, value: Any) -> str:
        if isinstance(value, np.ndarray):
            name = self.names.get(id(value))
            if name is not None:
                return name
            return self.constant(value, "const")
        if _literal(value):
            return repr(value)
        return self.constant(value, "const")

    def text(self, target: str | None, text: str, comment: str = "", reads: tuple[str, ...] = (), **kw: Any) -> None:
        self.lines.append(Line(target, text, comment, reads, **kw))
        if target:
            self.variables.add(target)

    def reads(self, args: list[str]) -> tuple[str, ...]:
        return tuple(a for a in args if a in self.variables)

    def scalar_operands(self, step: _Step, args: list[str]) -> list[str]:
        """Folded constants whose elements are all one value (a broadcast seed) become that
        number, where the output's shape does not depend on them: one array less to read."""
        others = [np.shape(v) for v in step.inputs]
        for k, value in enumerate(step.inputs):
            if isinstance(value, np.ndarray) and id(value) in self.folded:
                uniform = uniform_value(value)
                rest = others[:k] + others[k + 1 :]
                if uniform is not None and rest and np.broadcast_shapes(*rest) == step.out.shape:
                    args[k] = repr(uniform)
        return args

    def constant(self, value: Any, stem: str) -> str:
        name = self.closure_name(value) if stem == "const" else None
        if name is None:
            name = f"_{stem}_{next(self.constants)}"
        self.namespace[name] = value
        self.keep.append(value)
        return name

    def closure_name(self, value: Any) -> str | None:
        """An array the function closes over, by the name it has there (``X``, ``y``), or its
        transpose (``X.T``), so that the code reads as it was written."""
        if not isinstance(value, np.ndarray):
            return None
        name = self.closure.get(id(value))
        if name is None and value.base is not None and value.ndim == 2:
            base = self.closure.get(id(value.base))
            if base is not None and value.base.ndim == 2 and value.shape == value.base.shape[::-1] and np.shares_memory(value, value.base):
                if np.array_equal(value, value.base.T):
                    self.namespace[base] = value.base
                    return f"{base}.T"
        if name is None or name in self.variables or name in self.namespace and self.namespace[name] is not value:
            return None
        return name

    def fold(self, step: _Step) -> bool:
        arrays = [v for v in step.inputs if isinstance(v, np.ndarray)]
        if not arrays or not all(id(v) in self.folded for v in arrays):
            return False
        self.folded.add(id(step.out))
        self.folded.update(id(v) for v in step.node.saved if isinstance(v, np.ndarray))
        self.keep.append(step.out)
        return True

    def emit(self, step: _Step, out_name: str) -> None:
        op = type(step.node)
        args = [self.operand(v) for v in step.inputs]
        formula = (op.__doc__ or op.__name__).strip().splitlines()[0]
        comment = f"  # {step.node.name}: {formula}"
        saved = [v for v in step.node.saved if isinstance(v, np.ndarray) and id(v) not in self.names]
        saved = [v for v in saved if v is not step.out and not any(v is x for x in step.inputs)]
        template = _TEMPLATES.get(op.__name__)
        keep_node = id(step.node) in self.replayed
        plain = not saved and not keep_node
        if plain and op.__name__ in UFUNCS and _floats(step) and step.out.dtype.kind == "f":
            args = self.scalar_operands(step, args)
            self.lines.append(Line(out_name, "", comment, self.reads(args), UFUNCS[op.__name__], args, fresh=True, shape=step.out.shape, dtype=step.out.dtype))
            self.variables.add(out_name)
            self.names[id(step.out)] = out_name
            self.keep.append(step.out)
            return
        expression = template(args, step.options, step) if template is not None and plain else None
        if expression is not None:
            if step.out.ndim == 0:  # numpy gives scalars for 0-d results; ops hand on arrays
                expression = f"np.asarray({expression})"
            self.text(out_name, f"{out_name} = {expression}", comment, self.reads(args), **_shape_facts(step, args, self.variables))
        else:
            runner = self.constant(op, op.__name__)
            options = [
                f"{k}={v!r}" if _literal(v) else f"{k}={self.constant(v, 'option')}" for k, v in step.options.items()
            ]
            reads = self.reads(args)
            if plain:
                self.text(out_name, f"{out_name} = _run({', '.join([runner, *args, *options])})", comment, reads)
            else:  # forward also computes values the backward reads: keep them (or its node)
                node_name = f"_node_{out_name}" if keep_node else "_node"
                self.node_names[id(step.node)] = node_name
                if keep_node:  # the node holds its inputs until its rule runs: never reuse them
                    self.pinned.update(reads)
                self.text(None, f"{node_name} = object.__new__({runner}); {node_name}.saved = ()")
                self.text(out_name, f"{out_name} = np.asarray({node_name}.forward({', '.join(args + options)}))", comment, reads)
            for k, value in enumerate(step.node.saved):
                if any(value is s for s in saved):
                    saved_name = f"{out_name}_saved{k}"
                    self.names[id(value)] = saved_name
                    self.text(saved_name, f"{saved_name} = {node_name}.saved[{k}]")
                    self.pinned.add(saved_name)
        self.names[id(step.out)] = out_name
        self.keep.append(step.out)


    def emit_rule(self, step: _RuleStep, out_name: str) -> None:
        node_name = self.node_names[id(step.node)]
        targets = [f"{out_name}_{i}" if out is not None else "_" for i, out in enumerate(step.outs)]
        needs = [out is not None for out in step.outs]
        formula = (type(step.node).__doc__ or "").strip().splitlines()[0]
        upstream = self.operand(step.upstream)
        self.text(None, f"{node_name}.needs_input_grad = {needs!r}")
        self.text(None, f"{', '.join(targets)}, = _rule({node_name}, {upstream})", f"  # {step.node.name}'s rule: {formula}", self.reads([upstream]))
        for target, out in zip(targets, step.outs):
            if out is not None:
                self.names[id(out)] = target
                self.variables.add(target)
                self.pinned.add(target)  # a rule may hand back its upstream or a view of it
                self.keep.append(out)


def _stem(op_name: str) -> str:
    stem = "".join(c for c in op_name.lower() if c.isalnum())
    return stem if stem and not stem[0].isdigit() and stem not in ("np", "loss") else "t"


def _live_steps(steps: list[Any], outputs: list[np.ndarray]) -> list[Any]:
    """The steps the outputs depend on (dead code, e.g. forward values only backward needed
    through saved arrays it no longer reads, is dropped). A replayed rule needs its node's
    forward step."""
    needed = {id(o) for o in outputs}
    needed_nodes: set[int] = set()
    live: list[Any] = []
    for step in reversed(steps):
        if isinstance(step, _RuleStep):
            if {id(o) for o in step.outs if o is not None} & needed:
                live.append(step)
                needed.add(id(step.upstream))
                needed_nodes.add(id(step.node))
            continue
        produced = {id(step.out)} | {id(v) for v in step.node.saved if isinstance(v, np.ndarray)}
        if produced & needed or id(step.node) in needed_nodes:
            live.append(step)
            needed |= {id(v) for v in step.inputs if isinstance(v, np.ndarray)}
    live.reverse()
    return live


def _resolve(outputs: list[tuple[str, Any]], steps: list[_Step]) -> list[tuple[str, np.ndarray]]:
    """Each output tensor as the array its producing op returned (found through its graph
    node: the engine hands out gradients as copies of that array)."""
    by_node: dict[int, Any] = {}
    for step in steps:
        if isinstance(step, _Step):
            by_node[id(step.node)] = step.out
        else:
            by_node.update((id(n), o) for n, o in zip(step.out_nodes, step.outs) if n is not None)
    resolved = []
    for name, value in outputs:
        if isinstance(value, GraphTensor):
            node = value._node
            value = by_node.get(id(node), value.data) if node is not None else value.data
        resolved.append((name, value))
    return resolved


def _generate(
    steps: list[_Step],
    arg_names: list[str],
    arg_ids: dict[int, str],
    outputs: list[tuple[str, Any]],
    foldable: tuple[np.ndarray, ...] = (),
    closure: dict[int, str] | None = None,
) -> tuple[str, dict[str, Any]]:
    program = _Program(arg_names, arg_ids)
    program.closure = closure or {}
    program.folded = {id(a) for a in foldable}
    program.keep.extend(foldable)
    outputs = _resolve(outputs, steps)
    out_names = {id(a): name for name, a in outputs}
    live = _live_steps(steps, [a for _, a in outputs])
    program.replayed = {id(s.node) for s in live if isinstance(s, _RuleStep)}
    for step in live:
        if isinstance(step, _RuleStep):
            program.emit_rule(step, f"grad{next(program.temps)}")
        elif not program.fold(step):  # named after the op that computes it: matmul1, sub3, ...
            program.emit(step, out_names.get(id(step.out)) or f"{_stem(step.node.name)}{next(program.temps)}")
    returned = []
    for name, array in outputs:
        ref = program.operand(array)
        if ref != name:  # an argument, a constant or an earlier value: never hand out an alias
            program.text(name, f"{name} = np.array({ref}, copy=True)", reads=program.reads([ref]))
        returned.append(name)
    program.text(None, "", reads=tuple(returned))  # the return reads them: keep them to the end
    lines = optimize(program.lines, program.pinned | set(returned))
    body = "\n".join("    " + render(line) for line in lines if line.text or line.ufunc) or "    pass"
    source = f"def compiled({', '.join(arg_names)}):\n{body}\n    return ({', '.join(returned)},)\n"
    return source, program.namespace


# --------------------------------------------------------------------------- tracing
def _closure_names(fn: Any) -> dict[int, str]:
    """id -> name of the arrays ``fn`` reads from its closure or its module's globals."""
    code = getattr(fn, "__code__", None)
    if code is None:
        return {}
    found: dict[int, str] = {}
    cells = getattr(fn, "__closure__", None) or ()
    for name, cell in zip(code.co_freevars, cells):
        try:
            value = cell.cell_contents
        except ValueError:  # an empty cell
            continue
        if isinstance(value, np.ndarray) and name.isidentifier():
            found.setdefault(id(value), name)
    for name in code.co_names:
        value = getattr(fn, "__globals__", {}).get(name)
        if isinstance(value, np.ndarray):
            found.setdefault(id(value), name)
    return found


def _arg_names(fn: Callable[..., Any], count: int) -> list[str]:
    try:
        params = [
            p.name
            for p in inspect.signature(fn).parameters.values()
            if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        ]
    except (TypeError, ValueError):
        params = []
    names = [n for n in params[:count] if n.isidentifier() and n != "np" and not n.startswith("_")]
    return names if len(names) == count else [f"arg{i}" for i in range(count)]


class _Trace(NamedTuple):
    run: Callable[..., tuple[np.ndarray, ...]]
    source: str
    arg_count: int
    pack: Callable[[tuple[np.ndarray, ...]], Any]


def _trace(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Trace:
    transform = getattr(fn, "__tg_transform__", None)
    target = transform[1] if transform is not None else fn
    names = _arg_names(target, len(args))
    nums: tuple[int, ...] = ()
    single = True
    if transform is not None and transform[0] != "params":
        kind, _, argnums = transform
        single = isinstance(argnums, int)
        nums = tuple(a % len(args) for a in ((argnums,) if single else argnums))
    params: list[Any] = []
    if transform is not None and transform[0] == "params":  # step(): parameters it closes over
        params, param_names = transform[2]
        names = names + list(param_names)
        nums, single = (), False
    leaves = []
    for i, a in enumerate(args):
        data = a.data if isinstance(a, GraphTensor) else to_array(a, None) if isinstance(a, (np.ndarray, np.generic)) else a
        if isinstance(data, np.ndarray):
            leaves.append(Tensor(data, requires_grad=i in nums or (isinstance(a, GraphTensor) and a.requires_grad)))
        else:
            leaves.append(a)
    arg_ids = {id(leaf.data): names[i] for i, leaf in enumerate(leaves) if isinstance(leaf, GraphTensor)}
    arg_ids.update((id(p.data), names[len(args) + k]) for k, p in enumerate(params))
    differentiated = params or [leaves[i] for i in nums]
    diff_names = names[len(args):] if params else [names[i] for i in nums]
    tracer = _Tracer()
    with autograd.tracing(tracer), autograd.enable_grad():
        result = target(*leaves, **kwargs)
        if transform is not None:
            outputs, pack, seeds = _transform_outputs(transform[0], result, differentiated, diff_names, single)
        else:
            (outputs, pack), seeds = _plain_outputs(result), ()
    source, namespace = _generate(tracer.steps, names, arg_ids, outputs, seeds, _closure_names(target))
    filename = f"<tg.compile {getattr(target, '__qualname__', 'fn')} #{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show it
    exec(_builtin_compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    return _Trace(namespace["compiled"], source, len(args), pack)


_counter = itertools.count(1)
_builtin_compile = builtins.compile  # this module's `compile` is tg.compile


def _transform_outputs(
    kind: str, loss: Any, leaves: list[Tensor], names: list[str], single: bool
) -> tuple[list[tuple[str, Any]], Callable[[tuple[np.ndarray, ...]], Any], tuple[np.ndarray, ...]]:
    if not isinstance(loss, GraphTensor) or loss.data.size != 1:
        raise TypeError(f"tg.compile({kind}(f)): f must return a one-element Tensor, got {type(loss).__name__}")
    # The engine's own backward, recorded (create_graph), with the gradients as the rules
    # produced them (tg.grad would hand out copies, which the trace could not follow).
    seed = autograd.seed_gradient(loss, None, True)
    captured = autograd._run_backward([loss], [seed], True, True, targets=leaves).captured
    outputs: list[tuple[str, Any]] = [("loss", loss)]
    for name, leaf in zip(names, leaves):
        g = captured.get(id(leaf))
        outputs.append((f"d_{name}", np.zeros_like(leaf.data) if g is None else g))

    def pack(values: tuple[np.ndarray, ...]) -> Any:
        grads_out = values[1:] if not single else values[1]
        return grads_out if kind == "grad" else (values[0], grads_out)

    return outputs, pack, (seed.data if isinstance(seed, GraphTensor) else seed,)


def _plain_outputs(result: Any) -> tuple[list[tuple[str, Any]], Callable[[tuple[np.ndarray, ...]], Any]]:
    single = isinstance(result, GraphTensor)
    items = [result] if single else list(result) if isinstance(result, (tuple, list)) else None
    if items is None or not all(isinstance(r, GraphTensor) for r in items):
        raise TypeError(
            f"tg.compile: fn must return a Tensor or a tuple of Tensors (or be tg.value_and_grad/"
            f"tg.grad of such a function), it returned {type(result).__name__}"
        )
    outputs: list[tuple[str, Any]] = [(f"out{i}" if not single else "out", r) for i, r in enumerate(items)]

    def pack(values: tuple[np.ndarray, ...]) -> Any:
        tensors = tuple(Tensor(v) for v in values)
        return tensors[0] if single else tensors

    return outputs, pack


# --------------------------------------------------------------------------- public
class CompiledFunction:
    """What :func:`compile` returns: call it like ``fn``. ``.source`` is the generated code of
    the last signature, ``.cache_info()`` says how many signatures were traced."""

    def __init__(self, fn: Callable[..., Any], check: bool, check_every: int, maxsize: int) -> None:
        self.fn = fn
        self.check = check
        self.check_every = check_every
        self.maxsize = maxsize
        self._cache: OrderedDict[tuple[Any, ...], _Trace] = OrderedDict()
        self._traces = 0
        self._hits = 0
        self._calls = 0
        self._last: _Trace | None = None
        self._last_key: tuple[Any, ...] | None = None
        self._extra: Callable[[], list[np.ndarray]] | None = getattr(fn, "__tg_extra__", None)
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def source(self) -> str:
        """The generated Python of the last signature that ran (plain numpy, runs standalone
        with ``import numpy as np``)."""
        if self._last is None:
            raise RuntimeError("nothing compiled yet: call the compiled function once first")
        return self._last.source

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._traces, self._hits, len(self._cache), self.maxsize)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        if autograd._tracer is not None:  # inside another trace: run eagerly, so it is traced
            return self.fn(*args, **kwargs)
        key, inputs = _signature(args, kwargs)
        if self._extra is not None:  # step(): the parameters' current arrays come last
            extra = self._extra()
            key += tuple((a.shape, a.dtype.char) for a in extra)
            inputs += extra
        entry = self._last if key == self._last_key else self._cache.get(key)
        if entry is self._last and entry is not None:
            self._hits += 1  # the same signature as the last call: the common case of a loop
        elif entry is None:
            entry = _trace(self.fn, args, kwargs)
            _validate_trace(entry, self.fn, args, kwargs)
            self._traces += 1
            self._cache[key] = entry
            if len(self._cache) > self.maxsize:
                self._cache.popitem(last=False)
        else:
            self._hits += 1
            self._cache.move_to_end(key)
        self._last, self._last_key = entry, key
        values = entry.run(*inputs)
        result = entry.pack(values)
        self._calls += 1
        if self.check and (self._calls == 1 or self._calls % self.check_every == 0):
            _compare(self.fn(*args, **kwargs), result, self._calls)
        return result


def _perturbed(value: Any, rng: np.random.Generator) -> Any:
    """A float argument moved by up to 10% of itself (and exact zeros by up to 0.1): far
    enough that a frozen dependency shows, near enough to stay in most functions' domain."""
    data = value.data if isinstance(value, GraphTensor) else value
    if not isinstance(data, (np.ndarray, np.generic)) or np.asarray(data).dtype.kind != "f":
        return value
    data = np.asarray(data)
    u = rng.uniform(-1.0, 1.0, size=data.shape)
    moved = np.asarray(data * (1.0 + 0.1 * u) + 0.1 * u * (data == 0)).astype(data.dtype)
    return Tensor(moved, requires_grad=value.requires_grad) if isinstance(value, GraphTensor) else moved


def _validate_trace(entry: _Trace, fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    """Never silently wrong: run the new code and the eager function on slightly moved
    arguments. Where they disagree, the function computed something from the arguments that
    the trace could not see (plain numpy on ``.data``), which the code would have frozen."""
    rng = np.random.default_rng(0)
    params = getattr(fn, "params", [])  # step(): the parameters move too
    for move in (_perturbed, _permuted):  # smooth dependencies, then orders and masks
        kept = [p.data for p in params]
        try:
            for p in params:
                p.data = move(p.data, rng)
            _compare_at(entry, fn, tuple(move(a, rng) for a in args), kwargs)
        finally:
            for p, data in zip(params, kept):
                p.data = data


def _permuted(value: Any, rng: np.random.Generator) -> Any:
    """The same values in another order: inside the function's domain, but every mask, sort
    order and argmax the trace might have frozen changes."""
    data = value.data if isinstance(value, GraphTensor) else value
    if not isinstance(data, (np.ndarray, np.generic)) or np.asarray(data).dtype.kind != "f":
        return value
    data = np.asarray(data)
    moved = rng.permutation(data.reshape(-1)).reshape(data.shape)
    return Tensor(moved, requires_grad=value.requires_grad) if isinstance(value, GraphTensor) else moved


def _compare_at(entry: _Trace, fn: Callable[..., Any], moved: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    try:
        with np.errstate(all="ignore"):
            eager = fn(*moved, **kwargs)
    except Exception:  # noqa: BLE001 - the moved point is outside fn's domain: nothing to compare
        return
    extra = getattr(fn, "__tg_extra__", None)
    inputs = _signature(moved, kwargs)[1] + (extra() if extra is not None else [])
    with np.errstate(all="ignore"):
        values = entry.run(*inputs)
    for i, (e, c) in enumerate(zip(_leaves(eager), _leaves(entry.pack(values)))):
        if e.shape != c.shape or not np.allclose(e, c, rtol=1e-6, atol=1e-12, equal_nan=True):
            raise TracingError(
                f"tg.compile: output {i} of {getattr(fn, '__qualname__', fn)} depends on its arguments "
                f"through something the trace cannot see (numpy applied to a tensor's .data or "
                f".numpy(), or a value kept from an earlier call), so compiled code would freeze "
                f"it. Write that part with Tensor operations, or do not compile this function."
            )


def _leaves(value: Any) -> list[np.ndarray]:
    if isinstance(value, GraphTensor):
        return [value.data]
    if isinstance(value, (tuple, list)):
        return [x for v in value for x in _leaves(v)]
    return [np.asarray(value)]


def _compare(eager: Any, compiled: Any, call: int) -> None:
    for i, (e, c) in enumerate(zip(_leaves(eager), _leaves(compiled))):
        if e.shape != c.shape or not np.allclose(e, c, rtol=1e-9, atol=1e-12, equal_nan=True):
            diff = np.max(np.abs(e - c)) if e.shape == c.shape else f"shapes {e.shape} vs {c.shape}"
            raise CompileCheckError(
                f"tg.compile(check=True): call {call}, output {i}: the compiled function disagrees "
                f"with the eager one (max difference {diff}). Something the trace could not see "
                f"changed: a value computed from .data with numpy, or Python control flow."
            )


def compile(  # noqa: A001 - the public name (tg.compile), as torch.compile
    fn: Callable[..., Any], *, check: bool = False, check_every: int = 100, maxsize: int = 8
) -> CompiledFunction:
    """Trace ``fn`` once per signature and run it as straight-line numpy afterwards.

    ``fn`` takes arrays/Tensors (and Python numbers) and returns a Tensor or a tuple of them,
    or is ``tg.value_and_grad(f, argnums)`` / ``tg.grad(f, argnums)`` of such an ``f``:
    ``vg = tg.compile(tg.value_and_grad(cost, argnums=(0, 1)))`` then ``loss, (dw, db) =
    vg(w, b)`` is a fast training step. Results equal the eager function's to float
    rounding; returned arrays are fresh on every call. ``check=True`` re-runs the eager
    function on the first call and every ``check_every`` calls and raises
    :class:`CompileCheckError` on disagreement. At most ``maxsize`` signatures are kept
    (least recently used dropped).
    """
    if not callable(fn):
        raise TypeError(f"tg.compile needs a function, got {type(fn).__name__}")
    if not (isinstance(check_every, int) and check_every >= 1):
        raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
    if not (isinstance(maxsize, int) and maxsize >= 1):
        raise ValueError(f"maxsize must be a positive integer, got {maxsize!r}")
    return CompiledFunction(fn, check, check_every, maxsize)


class _ParamStep:
    """``loss_fn(*batch)`` -> (loss, gradients of ``params``): what :func:`step` compiles.
    Called directly it is the eager reference (for ``check=True`` and the trace check)."""

    def __init__(self, loss_fn: Callable[..., Any], params: list[Any], names: list[str]) -> None:
        self.__tg_transform__ = ("params", loss_fn, (params, names))
        self.__tg_extra__ = lambda: [p.data for p in params]
        self.__qualname__ = getattr(loss_fn, "__qualname__", "loss")
        self.loss_fn, self.params = loss_fn, params

    def __call__(self, *batch: Any) -> tuple[np.ndarray, tuple[np.ndarray, ...]]:
        with autograd.enable_grad():
            loss = self.loss_fn(*batch)
            grads = autograd.grad(loss, self.params, allow_unused=True)
        return np.array(loss.data, copy=True), tuple(
            np.zeros_like(p.data) if g is None else g.data for p, g in zip(self.params, grads)
        )


def step(
    loss_fn: Callable[..., Any], params: list[Any], names: list[str] | None = None, *, check: bool = False
) -> CompiledFunction:
    """Compile ``loss_fn(*batch)`` (a scalar Tensor computed from ``params``, Tensors it
    closes over) into ``step(*batch) -> (loss, (grad of each param, ...))``: what
    ``tg.fit(..., compile=True)`` runs each step. The parameters are read at every call
    (update them in place, as the optimizers do, or assign new arrays: both are seen)."""
    if not params:
        raise ValueError("tg.compile.step needs at least one parameter")
    labels = [n if n.isidentifier() else f"p{k}" for k, n in enumerate(names)] if names else [f"p{k}" for k in range(len(params))]
    return CompiledFunction(_ParamStep(loss_fn, list(params), labels), check, 100, 8)

