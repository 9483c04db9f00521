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
from ._compile_codegen import _generate, _NumpyCall, _RuleStep, _Step
from ._compile_guard import MISS, build_guard
from ._compile_numexpr import resolve_fast
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
        elif type(value) is np.float64 or type(value) is np.float32:  # what 0-d arithmetic returns
            key.append(((), value.dtype.char))
            value = np.asarray(value)
        elif isinstance(value, (np.ndarray, np.generic)):  # a numpy scalar is a 0-d array
            key.append((np.shape(value), value.dtype.char))
            value = to_array(value, None)
        elif type(value) is float:  # by its bits: 0.0 and -0.0 (1/x: inf, -inf) are two signatures
            key.append((float, value.hex()))
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
    pack: Callable[[tuple[np.ndarray, ...]], Any] | None  # None: the code returns the result as it is


def _trace(fn: Callable[..., Any], args: tuple[Any, ...], kwargs: dict[str, Any], numexpr: Any = None) -> _Trace:
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
        layout = None
        pack: Callable[[tuple[np.ndarray, ...]], Any] | None = None
        if transform is not None:
            outputs, layout, seeds = _transform_outputs(transform[0], result, differentiated, diff_names, single)
        else:
            (outputs, pack), seeds = _plain_outputs(result), ()
    source, namespace = _generate(tracer.steps, names, arg_ids, outputs, seeds, _closure_names(target), layout, numexpr)
    filename = f"<tg.compile {getattr(target, '__qualname__', 'fn')} #{next(_counter)}>"
    linecache.cache[filename] = (len(source), None, source.splitlines(True), filename)  # tracebacks show it
    exec(_builtin_compile(source, filename, "exec"), namespace)  # noqa: S102 - our own generated code
    return _Trace(namespace["compiled"], source, len(args), pack)


_counter = itertools.count(1)
_builtin_compile = builtins.compile  # this module's `compile` is tg.compile


def _transform_outputs(
    kind: str, loss: Any, leaves: list[Tensor], names: list[str], single: bool
) -> tuple[list[tuple[str, Any]], Callable[[list[str]], str], tuple[np.ndarray, ...]]:
    """The loss and the gradients as outputs, and how the generated code returns them (as
    ``value_and_grad``/``grad`` do: ``(loss, (d_w, d_b))``, nothing to repack per call)."""
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

    def layout(values: list[str]) -> str:
        grads_out = values[1] if single else f"({', '.join(values[1:])},)"
        return grads_out if kind == "grad" else f"({values[0]}, {grads_out})"

    return outputs, layout, (seed.data if isinstance(seed, GraphTensor) else seed,)


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

    def __init__(self, fn: Callable[..., Any], check: bool, check_every: int, maxsize: int, numexpr: Any = None) -> None:
        self.fn = fn
        self._numexpr = numexpr  # fast=: the numexpr module the generated code may use, or None
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
        # the last signature's own check-and-run (_compile_guard), where its arguments allow one
        self._guard: Callable[[tuple[Any, ...]], Any] | None = None
        self._guards: dict[tuple[Any, ...], Callable[[tuple[Any, ...]], Any]] = {}  # one per cached signature
        self.__wrapped__ = fn
        self.__doc__ = getattr(fn, "__doc__", None)

    @property
    def source(self) -> str:
        """The generated Python of the last signature that ran (plain numpy, runs standalone
        with ``import numpy as np``, and ``import numexpr as ne`` where it fused lines)."""
        if self._last is None:
            raise RuntimeError("nothing compiled yet: call the compiled function once first")
        return self._last.source

    def cache_info(self) -> CacheInfo:
        return CacheInfo(self._traces, self._hits, len(self._cache), self.maxsize)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        guard = self._guard  # the loop's case: the last signature's arrays again, no key built
        if guard is not None and not kwargs and autograd._tracer is None:
            result = guard(args)
            if result is not MISS:
                self._hits += 1
                return result
        return self._call(args, kwargs)

    def _call(self, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
        """The general path: the signature key, the cache (or a new trace), the check."""
        if autograd._tracer is not None:  # inside another trace: run eagerly, so it is traced
            return self.fn(*args, **kwargs)
        key, inputs = _signature(args, kwargs)
        if self._extra is not None:  # step(): the parameters' current arrays come last
            extra = self._extra()
            key += tuple([(a.shape, a.dtype.char) for a in extra])
            inputs += extra
        entry = self._last
        if entry is None or key != self._last_key:  # not the common case of a loop: look it up
            entry = self._lookup(key, args, kwargs)
        self._hits += 1
        result = entry.run(*inputs)
        if entry.pack is not None:
            result = entry.pack(result)
        if self.check:
            self._calls += 1
            if self._calls == 1 or self._calls % self.check_every == 0:
                _compare(self.fn(*args, **kwargs), result, self._calls)
        return result

    def _lookup(self, key: tuple[Any, ...], args: tuple[Any, ...], kwargs: dict[str, Any]) -> _Trace:
        """The compiled function of a signature other than the last call's: from the cache,
        or traced now (which the call after this one does not count as a hit)."""
        entry = self._cache.get(key)
        if entry is None:
            entry = _trace(self.fn, args, kwargs, self._numexpr)
            _validate_trace(entry, self.fn, args, kwargs)
            self._traces += 1
            self._hits -= 1  # the call that traced is not a hit
            self._cache[key] = entry
            if len(self._cache) > self.maxsize:
                self._guards.pop(self._cache.popitem(last=False)[0], None)
        else:
            self._cache.move_to_end(key)
        self._last, self._last_key = entry, key
        guard = self._guards.get(key)
        if guard is None and not kwargs and not self.check and self._extra is None:  # what a guard does not do
            guard = build_guard(args, entry.run, entry.pack)  # None where an argument is not a float array
            if guard is not None:
                self._guards[key] = guard
        self._guard = guard
        return entry


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
    for i, (e, c) in enumerate(zip(_leaves(eager), _leaves(values if entry.pack is None else entry.pack(values)))):
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
        # rounding: 1e-9 relative, or 8 units of the output's own precision where that is coarser
        # (float32: 9.5e-7, for the blocked Σ x²; float64 stays at 1e-9)
        rtol = max(1e-9, 8 * float(np.finfo(e.dtype).eps)) if e.dtype.kind == "f" else 1e-9
        if e.shape != c.shape or not np.allclose(e, c, rtol=rtol, atol=1e-12, equal_nan=True):
            diff = np.max(np.abs(e - c)) if e.shape == c.shape else f"shapes {e.shape} vs {c.shape}"
            raise CompileCheckError(
                f"tg.compile(check=True): call {call}, output {i}: the compiled function disagrees "
                f"with the eager one (max difference {diff}). Something the trace could not see "
                f"changed: a value computed from .data with numpy, or Python control flow."
            )


def compile(  # noqa: A001 - the public name (tg.compile), as torch.compile
    fn: Callable[..., Any], *, check: bool = False, check_every: int = 100, maxsize: int = 8, fast: bool | None = None
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

    ``fast`` (the ``fast`` extra, numexpr): ``None`` fuses chains of elementwise lines over
    large arrays into one ``ne.evaluate`` each where numexpr is importable, ``True`` requires
    numexpr (``ImportError`` naming ``pip install tinygrad-gd[fast]`` without it), ``False``
    generates plain numpy. A chain is fused only where a cost model expects it to be faster
    on one thread (at least 65,536 elements, and passes saved worth more than numexpr's cost
    per op); numexpr then runs on its own thread setting (``NUMEXPR_NUM_THREADS``,
    ``ne.set_num_threads``), which tg.compile leaves as it is.
    """
    if not callable(fn):
        raise TypeError(f"tg.compile needs a function, got {type(fn).__name__}")
    if not (isinstance(check_every, int) and check_every >= 1):
        raise ValueError(f"check_every must be a positive integer, got {check_every!r}")
    if not (isinstance(maxsize, int) and maxsize >= 1):
        raise ValueError(f"maxsize must be a positive integer, got {maxsize!r}")
    return CompiledFunction(fn, check, check_every, maxsize, resolve_fast(fast))


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
    loss_fn: Callable[..., Any], params: list[Any], names: list[str] | None = None, *, check: bool = False,
    fast: bool | None = None,
) -> CompiledFunction:
    """Compile ``loss_fn(*batch)`` (a scalar Tensor computed from ``params``, Tensors it
    closes over) into ``step(*batch) -> (loss, (grad of each param, ...))``: what
    ``tg.fit(..., compile=True)`` runs each step. The parameters are read at every call
    (update them in place, as the optimizers do, or assign new arrays: both are seen).
    ``fast`` as in :func:`compile`."""
    if not params:
        raise ValueError("tg.compile.step needs at least one parameter")
    labels = [n if n.isidentifier() else f"p{k}" for k, n in enumerate(names)] if names else [f"p{k}" for k in range(len(params))]
    return CompiledFunction(_ParamStep(loss_fn, list(params), labels), check, 100, 8, resolve_fast(fast))

