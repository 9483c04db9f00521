"""From a trace to the text of one function: ``tg.compile``'s code generator. Each recorded op
becomes one named numpy statement (a template where the op has one, a call of its own
``forward`` otherwise), backward rules that computed with values no op records are replayed
whole, and the lines go through the passes of :mod:`._compile_passes` before they become text.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Callable
from typing import Any, NamedTuple

import numpy as np

from ._compile_numexpr import array_facts, fuse_elementwise
from ._compile_passes import UFUNCS, Line, optimize, render, uniform_value
from ._compile_templates import (
    _TEMPLATES,
    EXPANSIONS,
    RULES,
    SCALAR_TEMPLATES,
    _floats,
    _literal,
    _shape_facts,
)
from ._graph_tensor import GraphTensor


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


class _Program:
    """Turns a trace into the text of one function and the namespace it runs in."""

    def __init__(self, arg_names: list[str], arg_ids: dict[int, str]) -> None:
        self.names: dict[int, str] = dict(arg_ids)  # id(array) -> variable
        self.arg_names = arg_names
        self.namespace: dict[str, Any] = {"np": np, "math": math, "_run": _run, "_rule": _rule}
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
        self.exprs: dict[str, str] = {}  # pure expression -> the variable holding it
        self.const_names: dict[int, str] = {}
        # a keepdims reduction -> (itself without keepdims, its shape, what it reads, comment)
        self.unkept: dict[str, tuple[str, tuple[int, ...], tuple[str, ...], str]] = {}
        self.saved_names: dict[int, dict[int, str]] = {}  # node -> its saved values' variables
        self.scalar = False  # 0-d float64 values as Python floats (SCALAR_TEMPLATES)
        self.numexpr: Any = None  # tg.compile(fast=...): the numexpr module, for _compile_numexpr's pass

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

    def reads_of(self, expression: str) -> tuple[str, ...]:
        """The variables an expression of several names reads."""
        return tuple(n for n in re.findall(r"[A-Za-z_]\w*", expression) if n in self.variables)

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
        if stem == "const" and id(value) in self.const_names:  # the same array, the same name
            return self.const_names[id(value)]
        name = self.closure_name(value) if stem == "const" else None
        if name is None:
            name = f"_{stem}_{next(self.constants)}"
        if stem == "const":
            self.const_names[id(value)] = name
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

    def define(self, target: str, key: str) -> str | None:
        """Common subexpressions: the variable that already holds ``key`` (a pure expression
        of variables, each assigned once), or None after noting that ``target`` does."""
        earlier = self.exprs.get(key)
        if earlier is None:
            self.exprs[key] = target
        return earlier

    def emit(self, step: _Step, out_name: str) -> None:
        op = type(step.node)
        args = [self.operand(v) for v in step.inputs]
        formula = (op.__doc__ or op.__name__).strip().splitlines()[0]
        comment = f"  # {step.node.name}: {formula}"
        if self.scalar:
            self.emit_scalar(step, args, out_name, comment)
            return
        saved = [v for v in step.node.saved if isinstance(v, np.ndarray) and id(v) not in self.names]
        saved = [v for v in saved if v is not step.out and not any(v is x for x in step.inputs)]
        keep_node = id(step.node) in self.replayed
        if (not keep_node or op.__name__ in RULES) and self.emit_expansion(step, args, out_name, comment):
            return
        template = _TEMPLATES.get(op.__name__)
        plain = not saved and not keep_node
        if plain and op.__name__ in UFUNCS and _floats(step) and step.out.dtype.kind == "f":
            args = self.scalar_operands(step, args)
            name = self.define(out_name, f"{UFUNCS[op.__name__]}({', '.join(args)})") or out_name
            if name == out_name:
                self.lines.append(Line(out_name, "", comment, self.reads(args), UFUNCS[op.__name__], args, fresh=True, shape=step.out.shape, dtype=step.out.dtype, pure=True))
                self.variables.add(out_name)
            self.names[id(step.out)] = name
            self.keep.append(step.out)
            return
        expression = template(args, step.options, step) if template is not None and plain else None
        if expression is not None:
            self.emit_template(step, args, out_name, expression, comment)
        else:
            self.emit_forward(step, args, out_name, comment, saved, keep_node)
            self.names[id(step.out)] = out_name
        self.keep.append(step.out)

    def emit_template(self, step: _Step, args: list[str], out_name: str, expression: str, comment: str) -> None:
        facts = _shape_facts(step, args, self.variables)
        name = type(step.node).__name__
        reads = self.reads(args)
        unkept = self.unkept.get(args[0]) if name == "Reshape" and args else None
        if unkept is not None and unkept[1] == step.out.shape:  # reduce(keepdims) then reshape: one reduce
            expression, reads, comment = unkept[0], unkept[2], unkept[3]
            facts = {"shape": step.out.shape, "dtype": step.out.dtype, "linear": True}  # (a sum)
        if step.out.ndim == 0:  # numpy gives scalars for 0-d results; ops hand on arrays
            expression = f"np.asarray({expression})"
        earlier = self.define(out_name, expression)
        if earlier is not None:
            self.names[id(step.out)] = earlier
            return
        self.text(out_name, f"{out_name} = {expression}", comment, reads, pure=True, **facts)
        self.names[id(step.out)] = out_name
        if name in ("Sum", "Mean") and step.options.get("keepdims") and args[0] in self.variables:
            kept = _TEMPLATES[name](args, {**step.options, "keepdims": False}, step)
            if kept is not None:
                shape = _reduced_shape(step.inputs[0].shape, step.options.get("axis"))
                self.unkept[out_name] = (kept, shape, reads, comment + " (then reshaped: one reduction)")

    def emit_expansion(self, step: _Step, args: list[str], out_name: str, comment: str) -> bool:
        """An op written as several lines (``EXPANSIONS``); False where it has none."""
        expand = EXPANSIONS.get(type(step.node).__name__)
        expansion = expand(args, step.options, step, out_name, self) if expand is not None else None
        if expansion is None:
            return False
        renamed: dict[str, str] = {}
        for entry in expansion.lines:
            if isinstance(entry, Line):  # written by the template itself (the passes may rewrite it)
                entry.comment = comment if entry.target == out_name else ""
                self.lines.append(entry)
                self.variables.add(entry.target or "")
                continue
            target, expression = entry
            for old, new in renamed.items():
                expression = re.sub(rf"\b{old}\b", new, expression)
            earlier = self.define(target, expression)
            if earlier is not None:
                renamed[target] = earlier
                continue
            self.text(target, f"{target} = {expression}", comment if target == out_name else "", self.reads_of(expression), pure=True)
        saved = {k: renamed.get(v, v) for k, v in expansion.saved.items()}
        for k, name in saved.items():
            self.names[id(step.node.saved[k])] = name
        self.saved_names[id(step.node)] = saved
        self.names[id(step.out)] = renamed.get(out_name, out_name)
        self.keep.append(step.out)
        return True

    def emit_forward(self, step: _Step, args: list[str], out_name: str, comment: str, saved: list[Any], keep_node: bool) -> None:
        """An op without a template: its own forward, on a node of its own where the forward
        saves values its backward (or a replayed rule) reads."""
        op = type(step.node)
        runner = self.constant(op, op.__name__)
        options = [f"{k}={v!r}" if _literal(v) else f"{k}={self.constant(v, 'option')}" for k, v in step.options.items()]
        reads = self.reads(args)
        if not saved and not keep_node:
            self.text(out_name, f"{out_name} = _run({', '.join([runner, *args, *options])})", comment, reads)
            return
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

    def emit_scalar(self, step: _Step, args: list[str], out_name: str, comment: str) -> None:
        """A 0-d op on Python floats (``SCALAR_TEMPLATES``; the program is scalar only where
        every op has one)."""
        for k, value in enumerate(step.inputs):
            if isinstance(value, np.ndarray) and id(value) not in self.names:
                uniform = uniform_value(value) if id(value) in self.folded else None
                args[k] = repr(uniform) if uniform is not None else f"float({args[k]})"
        expression = SCALAR_TEMPLATES[type(step.node).__name__](args, step.options, step)
        self.text(out_name, f"{out_name} = {expression}", comment, self.reads(args), pure=True)
        self.names[id(step.out)] = out_name
        self.keep.append(step.out)

    def emit_rule(self, step: _RuleStep, out_name: str) -> None:
        formula = (type(step.node).__doc__ or "").strip().splitlines()[0]
        comment = f"  # {step.node.name}'s rule: {formula}"
        upstream = self.operand(step.upstream)
        rule = RULES.get(type(step.node).__name__)
        saved = self.saved_names.get(id(step.node))
        lines = rule(saved, upstream, step, f"{out_name}_0") if rule is not None and saved is not None else None
        if lines is not None and len(step.outs) == 1 and step.outs[0] is not None:
            for entry in lines:
                if isinstance(entry, Line):
                    entry.comment = comment
                    self.lines.append(entry)
                else:
                    self.text(entry[0], f"{entry[0]} = {entry[1]}", comment, self.reads_of(entry[1]), pure=True)
            target = lines[-1].target if isinstance(lines[-1], Line) else lines[-1][0]
            assert target is not None
            self.variables.add(target)
            self.names[id(step.outs[0])] = target
            self.keep.append(step.outs[0])
            return
        node_name = self.node_names[id(step.node)]
        targets = [f"{out_name}_{i}" if out is not None else "_" for i, out in enumerate(step.outs)]
        needs = [out is not None for out in step.outs]
        self.text(None, f"{node_name}.needs_input_grad = {needs!r}")
        self.text(None, f"{', '.join(targets)}, = _rule({node_name}, {upstream})", comment, self.reads([upstream]))
        for target, out in zip(targets, step.outs):
            if out is not None:
                self.names[id(out)] = target
                self.variables.add(target)
                self.pinned.add(target)  # a rule may hand back its upstream or a view of it
                self.keep.append(out)


def _reduced_shape(shape: tuple[int, ...], axis: Any) -> tuple[int, ...]:
    """The shape a reduction over ``axis`` leaves without keepdims."""
    if axis is None:
        return ()
    axes = {a % len(shape) for a in (axis if isinstance(axis, tuple) else (axis,))}
    return tuple(n for i, n in enumerate(shape) if i not in axes)


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


def _scalar_graph(live: list[Any], outputs: list[tuple[str, Any]]) -> bool:
    """Every op a 0-d float64 one with a Python-float template: the graph of a scalar chain,
    where a Python float and ``math`` cost a tenth of numpy's 0-d dispatch."""

    def scalar(value: Any) -> bool:
        return not isinstance(value, np.ndarray) or (value.shape == () and value.dtype == np.float64)

    for step in live:
        if not isinstance(step, _Step) or type(step.node).__name__ not in SCALAR_TEMPLATES:
            return False
        if not (isinstance(step.out, np.ndarray) and scalar(step.out) and all(scalar(v) for v in step.inputs)):
            return False
    return bool(live) and all(isinstance(a, np.ndarray) and scalar(a) for _, a in outputs)


def _body(program: _Program, live: list[Any], outputs: list[tuple[str, Any]]) -> tuple[str, list[str]]:
    """The statements of one function (indented) and the names it returns."""
    out_names = {id(a): name for name, a in outputs}
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
            copy = (ref if ref in program.variables else f"float({ref})") if program.scalar else f"np.array({ref}, copy=True)"
            program.text(name, f"{name} = {copy}", reads=program.reads([ref]))
        returned.append(name)
    program.text(None, "", reads=tuple(returned))  # the return reads them: keep them to the end
    lines = optimize(program.lines, program.pinned | set(returned))
    if program.numexpr is not None and not program.scalar:  # elementwise chains as one ne.evaluate
        facts = array_facts(live, program.names, program.const_names)
        lines = fuse_elementwise(lines, program.pinned | set(returned), facts, program.numexpr)
        if any("ne.evaluate(" in line.text for line in lines):
            program.namespace["ne"] = program.numexpr
    if program.scalar:  # the arguments it reads, as Python floats (the others are not arrays)
        read = {name for line in lines for name in line.reads}
        arrays = set(program.names.values()) & set(program.arg_names)
        lines = [Line(a, f"{a} = float({a})") for a in program.arg_names if a in read and a in arrays] + lines
    return "\n".join("    " + render(line) for line in lines if line.text or line.ufunc) or "    pass", returned


def _generate(
    steps: list[_Step],
    arg_names: list[str],
    arg_ids: dict[int, str],
    outputs: list[tuple[str, Any]],
    foldable: tuple[np.ndarray, ...] = (),
    closure: dict[int, str] | None = None,
    layout: Callable[[list[str]], str] | None = None,
    numexpr: Any = None,
) -> tuple[str, dict[str, Any]]:
    """The source of ``compiled(*args)`` and the namespace it runs in; ``layout`` turns the
    output variables into the returned expression (a flat tuple without it); ``numexpr``
    (the module, or None) fuses elementwise chains (:mod:`._compile_numexpr`)."""
    outputs = _resolve(outputs, steps)
    live = _live_steps(steps, [a for _, a in outputs])
    namespace: dict[str, Any] | None = None
    constants = itertools.count()
    sources = []
    for scalar in (False, True) if _scalar_graph(live, outputs) else (False,):
        program = _Program(arg_names, arg_ids)
        program.closure, program.scalar, program.constants = closure or {}, scalar, constants
        program.numexpr = numexpr
        program.namespace = namespace if namespace is not None else program.namespace
        namespace = program.namespace
        program.folded = {id(a) for a in foldable}
        program.keep.extend(foldable)
        body, returned = _body(program, live, outputs)
        values = [f"np.asarray({r})" for r in returned] if scalar else returned
        sources.append(f"{body}\n    return {layout(values) if layout else '(' + ', '.join(values) + ',)'}\n")
    assert namespace is not None
    args = ", ".join(arg_names)
    if len(sources) == 1:
        return f"def compiled({args}):\n{sources[0]}", namespace
    wrapper = (
        f"def compiled({args}):\n    try:\n        return compiled_floats({args})\n"
        f"    except (ArithmeticError, ValueError):  # math refuses what numpy answers with inf or nan\n"
        f"        return compiled_arrays({args})\n"
    )
    return f"{wrapper}\n\ndef compiled_floats({args}):\n{sources[1]}\n\ndef compiled_arrays({args}):\n{sources[0]}", namespace
