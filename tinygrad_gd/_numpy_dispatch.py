"""numpy dispatch: numpy's functions and ufuncs called on Tensors run the Tensor ops (NEP 13
``__array_ufunc__``, NEP 18 ``__array_function__``), so numpy code as the tutorials write it,
``np.sum((X @ w + b - y) ** 2)``, ``np.average(...)``, ``np.exp(-z)``, differentiates as it is.

One table, :data:`DISPATCH`: a :class:`Dispatch` row per numpy function or ufunc, saying what
the Tensor computes for it, what kind of result it gives (``"op"``: a Tensor with gradients;
``"constant"``: a Tensor without grad, as comparisons; ``"value"``: a plain value such as a
shape or an index) and, as plain data for ``tests/test_numpy_dispatch.py``, how to call it on
sample inputs. The tests, the docs' list of supported functions and the dispatch itself read
this table; nothing else lists them. A numpy function without a row raises ``TypeError``
naming it and the way out, never silently detaching.

Where a row's ``call`` is None the result cannot carry a gradient by nature (a sign, a shape,
``np.isfinite``): numpy computes it on the data. ``np.asarray(t)`` and ``np.array(t)`` are not
dispatched (numpy offers no hook): they return the data, the explicit exit from the graph.

Imported at the end of ``tensor.py``: Tensor's two hooks call :func:`array_ufunc` and
:func:`array_function`.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from . import _numpy_functions as F
from ._creation import maximum, minimum, stack
from ._graph_tensor import bump_version
from ._modes import is_grad_enabled
from .ops import Domain
from .ops._metadata import AWAY_FROM_ZERO, NONZERO, POSITIVE
from .tensor import Tensor

__all__ = ["DISPATCH", "Dispatch", "Example", "array_function", "array_ufunc", "display_name", "supported_names", "unsupported"]

Shape = tuple[int, ...]
ANYWHERE = Domain()


# --------------------------------------------------------------------------- the row types
@dataclass(frozen=True)
class Example:
    """How the tests call a row: ``call(*inputs)`` on float64 arrays is numpy's answer, on
    Tensors the dispatched one; one input per shape, drawn from ``domains`` (one Domain for
    all inputs or one per input)."""

    call: Callable[..., Any]
    shapes: tuple[Shape, ...]
    domains: Domain | tuple[Domain, ...] = ANYWHERE


@dataclass(frozen=True)
class Dispatch:
    """One numpy function or ufunc and what a Tensor computes for it.

    ``call`` takes numpy's arguments (a ufunc's inputs; a function's parameters, by numpy's
    names, only those it declares: any other argument must be at numpy's default) and returns
    the result; None: numpy computes it on the data (``kind`` "constant" or "value").
    """

    function: Callable[..., Any]
    call: Callable[..., Any] | None
    examples: tuple[Example, ...]
    kind: str = "op"
    accepts: tuple[str, ...] = field(init=False)  # the parameters ``call`` takes
    signature: inspect.Signature | None = field(init=False)  # numpy's (None for a ufunc)
    positional: tuple[str, ...] = field(init=False)  # numpy's parameters that can be positional

    def __post_init__(self) -> None:
        own = inspect.signature(self.call) if self.call is not None else None
        signature = _signature(self.function) or own
        object.__setattr__(self, "accepts", tuple(own.parameters) if own is not None else ())
        object.__setattr__(self, "signature", None if isinstance(self.function, np.ufunc) else signature)
        positional = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
        names = [p.name for p in signature.parameters.values() if p.kind in positional] if signature else []
        object.__setattr__(self, "positional", tuple(names))

    @property
    def name(self) -> str:
        return display_name(self.function)


def _signature(function: Callable[..., Any]) -> inspect.Signature | None:
    if isinstance(function, np.ufunc):
        return None
    try:
        return inspect.signature(function)
    except (TypeError, ValueError):  # pragma: no cover - C functions of older numpy
        return None


def display_name(function: Any) -> str:
    """``np.sum``, ``np.linalg.norm``: how numpy users write the function."""
    module = "numpy" if isinstance(function, np.ufunc) else getattr(function, "__module__", "numpy") or "numpy"
    module = module if module.startswith("numpy.linalg") else "numpy"
    return f"{module.replace('numpy', 'np', 1)}.{function.__name__}"


# --------------------------------------------------------------------------- Tensor computations
_t = F.as_tensor


def _operator(name: str, reflected: str) -> Callable[[Any, Any], Any]:
    """The ufunc as Tensor's operator: ``a <op> b``, through ``b``'s reflected operator when
    only ``b`` is a Tensor (``ndarray + t``, ``np.float64(2) * t``)."""
    forward, backward = getattr(Tensor, name), getattr(Tensor, reflected)

    def call(a: Any, b: Any) -> Any:
        out = forward(a, b) if isinstance(a, Tensor) else backward(b, a)
        if out is NotImplemented:
            raise TypeError(f"unsupported operand types for a Tensor {name}: {type(a).__name__}, {type(b).__name__}")
        return out

    return call


def _method(name: str, fallback: Callable[[Tensor], Any] | None = None) -> Callable[[Any], Any]:
    """``x.name()``; ``fallback`` composes it from other ops until Tensor has that method."""
    method = getattr(Tensor, name, None)
    if method is None:
        assert fallback is not None, name
        return lambda x: fallback(_t(x))
    return lambda x: method(_t(x))


def _reduction(name: str) -> Callable[..., Any]:
    method = getattr(Tensor, name)

    def call(a: Any, axis: Any = None, keepdims: bool = False) -> Any:
        return method(_t(a), axis, bool(keepdims))

    return call


def _spread(name: str) -> Callable[..., Any]:
    method = getattr(Tensor, name)

    def call(a: Any, axis: Any = None, ddof: int = 0, keepdims: bool = False, correction: Any = None) -> Any:
        return method(_t(a), axis, ddof if correction is None else correction, bool(keepdims))

    return call


# --------------------------------------------------------------------------- the table
ONE: tuple[Shape, ...] = ((2, 3),)
TWO: tuple[Shape, ...] = ((2, 3), (3,))  # a broadcasting pair
MATRICES: tuple[Shape, ...] = ((2, 3), (3, 2))


def _ufunc(function: np.ufunc, call: Callable[..., Any] | None, domains: Any = ANYWHERE, kind: str = "op") -> Dispatch:
    """A ufunc's row; its example is the ufunc itself on one or two (broadcast) inputs."""
    return Dispatch(function, call, (Example(function, ONE if function.nin == 1 else TWO, domains),), kind)


def _ex(call: Callable[..., Any], shapes: tuple[Shape, ...] = ONE, domains: Any = ANYWHERE) -> Example:
    return Example(call, shapes, domains)


DISPATCH: tuple[Dispatch, ...] = (
    # ---- arithmetic ufuncs, through Tensor's operators (reflected when only the right side is a Tensor)
    _ufunc(np.add, _operator("__add__", "__radd__")),
    _ufunc(np.subtract, _operator("__sub__", "__rsub__")),
    _ufunc(np.multiply, _operator("__mul__", "__rmul__")),
    _ufunc(np.true_divide, _operator("__truediv__", "__rtruediv__"), (ANYWHERE, NONZERO)),
    _ufunc(np.power, _operator("__pow__", "__rpow__"), (POSITIVE, ANYWHERE)),
    Dispatch(np.matmul, _operator("__matmul__", "__rmatmul__"), (_ex(np.matmul, MATRICES),)),
    _ufunc(np.negative, lambda x: -_t(x)),
    _ufunc(np.positive, _t),
    _ufunc(np.reciprocal, lambda x: 1.0 / _t(x), NONZERO),
    # ---- elementwise functions
    _ufunc(np.square, _method("square")),
    _ufunc(np.sqrt, _method("sqrt"), POSITIVE),
    _ufunc(np.exp, _method("exp")),
    _ufunc(np.expm1, _method("expm1", lambda x: x.exp() - 1.0)),
    _ufunc(np.log, _method("log"), POSITIVE),
    _ufunc(np.log1p, _method("log1p", lambda x: (1.0 + x).log()), POSITIVE),
    _ufunc(np.log2, lambda x: _t(x).log() / float(np.log(2.0)), POSITIVE),
    _ufunc(np.log10, lambda x: _t(x).log() / float(np.log(10.0)), POSITIVE),
    _ufunc(np.absolute, _method("abs"), AWAY_FROM_ZERO),
    _ufunc(np.sin, _method("sin")),
    _ufunc(np.cos, _method("cos")),
    _ufunc(np.tan, _method("tan", lambda x: x.sin() / x.cos()), Domain(-1.2, 1.2)),
    _ufunc(np.tanh, _method("tanh")),
    _ufunc(np.maximum, maximum),
    _ufunc(np.minimum, minimum),
    # ---- constants: comparisons (bool Tensors, as the operators give), sign, tests of values
    _ufunc(np.less, _operator("__lt__", "__gt__"), kind="constant"),
    _ufunc(np.less_equal, _operator("__le__", "__ge__"), kind="constant"),
    _ufunc(np.greater, _operator("__gt__", "__lt__"), kind="constant"),
    _ufunc(np.greater_equal, _operator("__ge__", "__le__"), kind="constant"),
    _ufunc(np.equal, _operator("__eq__", "__eq__"), kind="constant"),
    _ufunc(np.not_equal, _operator("__ne__", "__ne__"), kind="constant"),
    _ufunc(np.sign, None, kind="constant"),
    _ufunc(np.isfinite, None, kind="constant"),
    _ufunc(np.isnan, None, kind="constant"),
    _ufunc(np.isinf, None, kind="constant"),
    Dispatch(np.isclose, None, (_ex(np.isclose, TWO),), "constant"),
    # ---- reductions
    Dispatch(np.sum, _reduction("sum"), (_ex(np.sum), _ex(lambda a: np.sum(a, axis=0, keepdims=True)))),
    Dispatch(np.mean, _reduction("mean"), (_ex(np.mean), _ex(lambda a: np.mean(a, axis=1)))),
    Dispatch(np.max, _reduction("max"), (_ex(lambda a: np.max(a, axis=1)),)),
    Dispatch(np.amax, _reduction("max"), (_ex(np.amax),)),
    Dispatch(np.min, _reduction("min"), (_ex(lambda a: np.min(a, axis=0)),)),
    Dispatch(np.amin, _reduction("min"), (_ex(np.amin),)),
    Dispatch(np.var, _spread("var"), (_ex(np.var), _ex(lambda a: np.var(a, axis=0, ddof=1)))),
    Dispatch(np.std, _spread("std"), (_ex(lambda a: np.std(a, axis=1)),)),
    Dispatch(np.average, F.average, (
        _ex(np.average),
        _ex(lambda a, w: np.average(a, axis=1, weights=w), TWO, (ANYWHERE, POSITIVE)),
        _ex(lambda a, w: np.average(a, weights=w), ((2, 3), (2, 3)), (ANYWHERE, POSITIVE)),
    )),
    Dispatch(np.linalg.norm, F.norm, (
        _ex(np.linalg.norm),
        _ex(lambda a: np.linalg.norm(a, ord=1, axis=1), ONE, AWAY_FROM_ZERO),
        _ex(lambda a: np.linalg.norm(a, np.inf), ONE, AWAY_FROM_ZERO),
    )),
    # ---- products
    Dispatch(np.dot, F.dot, (_ex(np.dot, MATRICES), _ex(np.dot, ((2, 3), (3,))))),
    Dispatch(np.vdot, lambda a, b: _t(a).reshape(-1) @ _t(b).reshape(-1), (_ex(np.vdot, MATRICES),)),
    Dispatch(np.inner, F.inner, (_ex(np.inner, ((2, 3), (4, 3))),)),
    Dispatch(np.outer, lambda a, b: _t(a).reshape(-1, 1) * _t(b).reshape(1, -1), (_ex(np.outer, ((3,), (2,))),)),
    # ---- choices
    Dispatch(np.where, F.where_or_indices, (_ex(lambda a, b: np.where(a > 0, a, b), TWO, (AWAY_FROM_ZERO, ANYWHERE)),)),
    Dispatch(np.clip, F.clip, (
        _ex(lambda a: np.clip(a, -0.5, 0.5), ONE, Domain(avoid=(-0.5, 0.5))),
        _ex(lambda a, lo: np.clip(a, lo, 1.5), ((2, 3), (3,)), (Domain(avoid=(1.5,)), Domain(-3.0, -2.5))),
    )),
    # ---- shapes
    Dispatch(np.reshape, F.reshape, (_ex(lambda a: np.reshape(a, (3, 2))),)),
    Dispatch(np.ravel, lambda a: _t(a).reshape(-1), (_ex(np.ravel),)),
    Dispatch(np.transpose, F.transpose, (_ex(np.transpose), _ex(lambda a: np.transpose(a, (1, 0, 2)), ((2, 3, 2),)))),
    Dispatch(np.squeeze, lambda a, axis=None: _t(a).squeeze(axis), (_ex(lambda a: np.squeeze(a, 0), ((1, 3),)),)),
    Dispatch(np.expand_dims, F.expand_dims, (_ex(lambda a: np.expand_dims(a, (0, 2))),)),
    Dispatch(np.broadcast_to, lambda array, shape: _t(array).broadcast_to(shape), (
        _ex(lambda a: np.broadcast_to(a, (2, 3)), ((3,),)),
    )),
    Dispatch(np.concatenate, F.concatenate_or_flat, (_ex(lambda a, b: np.concatenate([a, b]), ((2, 3), (1, 3))),)),
    Dispatch(np.stack, lambda arrays, axis=0: stack(arrays, axis), (_ex(lambda a, b: np.stack([a, b], axis=1), ((3,), (3,))),)),
    # ---- values: what numpy answers about the data (no gradient exists)
    Dispatch(np.shape, None, (_ex(np.shape),), "value"),
    Dispatch(np.ndim, None, (_ex(np.ndim),), "value"),
    Dispatch(np.size, None, (_ex(np.size),), "value"),
    Dispatch(np.argmax, None, (_ex(lambda a: np.argmax(a, axis=1)),), "value"),
    Dispatch(np.argmin, None, (_ex(np.argmin),), "value"),
    Dispatch(np.nonzero, None, (_ex(lambda a: np.nonzero(a > 0)),), "value"),
    Dispatch(np.all, None, (_ex(lambda a: np.all(a > -5)),), "value"),
    Dispatch(np.any, None, (_ex(lambda a: np.any(a > 0, axis=0)),), "value"),
    Dispatch(np.allclose, None, (_ex(np.allclose, TWO),), "value"),
    Dispatch(np.array_equal, None, (_ex(np.array_equal, ((2, 3), (2, 3))),), "value"),
)

UFUNCS: dict[Any, Dispatch] = {row.function: row for row in DISPATCH if isinstance(row.function, np.ufunc)}
FUNCTIONS: dict[Any, Dispatch] = {row.function: row for row in DISPATCH if not isinstance(row.function, np.ufunc)}
_REDUCE: dict[Any, str] = {np.add: "sum", np.maximum: "max", np.minimum: "min"}  # np.add.reduce(t, axis) is t.sum(axis)


def supported_names() -> list[str]:
    """Every name under which numpy (and ``np.linalg``) exposes a function of the table
    (aliases included: ``np.abs`` and ``np.absolute``), as ``np.sum``, ``np.linalg.norm``."""
    names = []
    for prefix, module in (("np", np), ("np.linalg", np.linalg)):
        # numpy's public names only: other libraries may add their own (scikit-learn puts an
        # `expm1x` alias into numpy's namespace); vars(), not dir(): no lazy submodule imports
        public = set(getattr(module, "__all__", ())) or {n for n in vars(module) if not n.startswith("_")}
        for name, value in vars(module).items():
            if name in public and callable(value) and not isinstance(value, type) and (value in UFUNCS or value in FUNCTIONS):
                names.append(f"{prefix}.{name}")
    return sorted(names)


# --------------------------------------------------------------------------- the two hooks
_UFUNC_CALLS = {ufunc: row.call for ufunc, row in UFUNCS.items() if row.call is not None}
# What a ufunc keyword means when left out: a value equal to it changes nothing.
_UFUNC_DEFAULTS: dict[str, Any] = {
    "where": True, "casting": "same_kind", "order": "K", "dtype": None, "subok": True, "signature": None,
    "keepdims": False,
}  # fmt: skip
# numpy functions whose defaults are "no value" (np.sum's keepdims, where): the value meaning the same.
_UNSET_MEANS: dict[str, Any] = {"keepdims": False, "where": True}
_HINTS = {
    "dtype": "Cast the Tensor first (t.astype(np.float32)), or",
    "where": "Choose the elements first (tg.where(mask, t, 0.0)), or",
    "initial": "Combine afterwards (tg.maximum(np.max(t), initial)), or",
}


def array_ufunc(ufunc: np.ufunc, method: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """NEP 13: ``np.exp(t)``, ``ndarray + t`` (numpy calls ``np.add``), ``np.add.reduce(t)``."""
    if method == "__call__" and not kwargs:
        call = _UFUNC_CALLS.get(ufunc)
        if call is not None:  # the common case, kept short: ndarray + t pays one lookup
            return call(*inputs)
    out = kwargs.pop("out", None)
    name = display_name(ufunc) + ("" if method == "__call__" else f".{method}")
    if not any(isinstance(x, Tensor) for x in inputs):  # a Tensor only in out=: numpy computes
        result = getattr(ufunc, method)(*inputs, **kwargs)
    elif method == "__call__":
        row = UFUNCS.get(ufunc)
        if row is None:
            raise unsupported(name)
        if row.call is None:
            result = _on_data(ufunc, inputs, kwargs, row.kind)
        else:
            _check_defaults(name, kwargs, _UFUNC_DEFAULTS)
            result = row.call(*inputs)
    elif method == "reduce" and ufunc in _REDUCE:
        result = _reduce(ufunc, name, inputs, kwargs)
    elif method == "outer" and ufunc in _UFUNC_CALLS and ufunc.nin == 2:
        _check_defaults(name, kwargs, _UFUNC_DEFAULTS)
        result = F.ufunc_outer(_UFUNC_CALLS[ufunc], *inputs)
    else:
        raise unsupported(name, method)
    return result if out is None else _write_out(name, result, out)


def array_function(func: Callable[..., Any], types: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """NEP 18: ``np.sum(t)``, ``np.dot(X, w)``, ``np.concatenate([a, t])``, ..."""
    if not all(issubclass(kind, (Tensor, np.ndarray)) for kind in types):
        return NotImplemented  # another library's arrays: let numpy say no implementation exists
    row = FUNCTIONS.get(func)
    if row is None:
        raise unsupported(display_name(func))
    if row.call is None:
        out = kwargs.pop("out", None)
        result = _on_data(func, args, kwargs, row.kind)
    else:
        arguments = _bind(row, args, kwargs)
        out = arguments.pop("out", None)
        result = row.call(**arguments)
    return result if out is None else _write_out(row.name, result, out)


# --------------------------------------------------------------------------- arguments
def _bind(row: Dispatch, args: tuple[Any, ...], kwargs: dict[str, Any]) -> dict[str, Any]:
    """numpy's arguments by name: those ``row.call`` takes (and ``out``); every other one
    must be at numpy's default, or a ``TypeError`` names it."""
    named = row.positional[: len(args)]
    if len(args) == len(named) and all(n in row.accepts for n in (*named, *kwargs) if n != "out"):
        if not kwargs.keys() & set(named):  # the common case: only arguments the call takes
            return {**dict(zip(named, args)), **kwargs}
    assert row.signature is not None, row.name
    try:
        bound = row.signature.bind(*args, **kwargs)
    except TypeError as error:
        raise TypeError(f"{row.name}(...) on a Tensor: {error}") from None
    taken, others = {}, {}
    for name, value in bound.arguments.items():
        parameter = row.signature.parameters[name]
        if parameter.kind is inspect.Parameter.VAR_KEYWORD:
            others.update(value)  # np.clip's **kwargs: ufunc keywords
        elif name in row.accepts or name == "out":
            taken[name] = value
        elif not _is_default(value, parameter.default, _UNSET_MEANS.get(name, parameter.default)):
            raise _not_default(row.name, name, value, parameter.default)
    _check_defaults(row.name, others, _UFUNC_DEFAULTS)
    return taken


def _is_default(value: Any, default: Any, meaning: Any) -> bool:
    if value is default or value is meaning:
        return True
    plain = (bool, int, float, str, type(None))
    return type(value) in plain and type(meaning) in plain and value == meaning


def _check_defaults(name: str, kwargs: dict[str, Any], defaults: dict[str, Any]) -> None:
    for key, value in kwargs.items():
        if key not in defaults or not _is_default(value, defaults[key], defaults[key]):
            raise _not_default(name, key, value, defaults.get(key, inspect.Parameter.empty))


def _not_default(name: str, key: str, value: Any, default: Any) -> TypeError:
    shown = "not passing it" if default is inspect.Parameter.empty or "NoValue" in repr(default) else f"{key}={default!r}"
    given = f"np.{value.__name__}" if isinstance(value, type) and value.__module__ == "numpy" else repr(value)
    return TypeError(
        f"{name}(..., {key}={given}) on a Tensor: {key}= is not supported with autodiff, only "
        f"numpy's default ({shown}). {_HINTS.get(key, 'Use the Tensor methods instead, or')} leave "
        f"autodiff on purpose: {name}(t.detach().numpy(), ..., {key}=...)"
    )


def _on_data(function: Any, args: tuple[Any, ...], kwargs: dict[str, Any], kind: str) -> Any:
    """numpy's own answer on the data: a constant Tensor (no grad) or a plain value."""
    result = function(*F.data_of(args), **{k: F.data_of(v) for k, v in kwargs.items()})
    if kind == "constant":
        values = np.asarray(result)
        return Tensor(values, dtype=values.dtype)
    return result


def _reduce(ufunc: np.ufunc, name: str, inputs: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    axis = kwargs.pop("axis", 0)  # ufunc.reduce's default axis is 0, not None
    keepdims = kwargs.pop("keepdims", False)
    _check_defaults(name, kwargs, {"dtype": None, "where": True})
    (a,) = inputs
    return getattr(_t(a), _REDUCE[ufunc])(axis=axis, keepdims=bool(keepdims))


def _write_out(name: str, result: Any, out: Any) -> Any:
    """``out=``: write the result into ``out`` and return it, as numpy does, where no gradient
    is lost (inside ``no_grad()``, or when no input requires grad); otherwise refuse."""
    target = out[0] if isinstance(out, tuple) and len(out) == 1 else out
    if isinstance(target, Tensor) and target.requires_grad and is_grad_enabled():
        raise RuntimeError(
            f"{name}(..., out=t) writes in place into a Tensor that requires grad, which would "
            f"change a value the graph depends on: do it inside `with tg.no_grad():` (e.g. "
            f"np.subtract(w, lr * w.grad, out=w)), or write t = {name}(...) for a new tensor."
        )
    if isinstance(result, Tensor) and result.requires_grad:
        raise RuntimeError(
            f"{name}(..., out=...) does not support autodiff: an input requires grad, and writing "
            f"the result into an out= array would cut it off from the graph (PyTorch refuses "
            f"out= there too). Use the returned Tensor, y = {name}(...), or write into out inside "
            f"`with tg.no_grad():` (e.g. a parameter update)."
        )
    array = target.data if isinstance(target, Tensor) else target
    values = result.data if isinstance(result, Tensor) else np.asarray(result)
    if not isinstance(array, np.ndarray) or array.shape != values.shape:
        raise ValueError(f"{name}: out= must be an array of the result's shape {values.shape}, got {np.shape(array)}")
    np.copyto(array, values, casting="same_kind")
    if isinstance(target, Tensor):
        bump_version(target)
    return target


def unsupported(name: str, method: str | None = None) -> TypeError:
    """The error for a numpy function (or ufunc method) without a Tensor equivalent."""
    if method is not None:
        what = f"{name} (the ufunc method .{method}) has no Tensor equivalent"
    else:
        what = f"{name} has no Tensor equivalent"
    short = name.rsplit(".", 1)[-1]
    tensor_method = f"the Tensor method t.{short}(...), or " if method is None and callable(getattr(Tensor, short, None)) else ""
    return TypeError(
        f"{what}, so it cannot be differentiated (tinygrad_gd never drops a gradient silently). "
        f"Use {tensor_method}Tensor operations that compute it, or leave autodiff on purpose: "
        f"{name}(t.detach().numpy()) (t.numpy() when t needs no grad). The numpy functions "
        f"that work on Tensors are listed in docs/api.md, 'numpy dispatch'."
    )
