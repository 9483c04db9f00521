"""The broadcast-trap detector: an ``(n, 1)`` column against an ``(n,)`` vector into ``(n, n)``.

``pred - y`` with ``pred`` of shape (n, 1) (``X @ w`` with a column ``w``) and ``y`` of shape
(n,) is legal numpy and builds an (n, n) matrix of every pair ``predᵢ − yⱼ``: the loss is then
wrong without any error. The engine calls :func:`check` from ``Function.apply`` only for a 2-D
square output of an op with several inputs (a length test and two comparisons on the hot
path); everything else here runs only when the shapes are the trap.

The rule (documented in docs/api.md): an op warns when one input has shape (n, 1) and another
shape (n,), n ≥ 2. An explicit outer product, ``a[:, None] * b[None, :]``, has shapes (n, 1)
and (1, n) and does not warn; neither do (n, d) against (d,) (a bias per column) or scalars.
It warns once per line of user code and pair of shapes (``BroadcastWarning``), at the first
stack frame outside this package, and only for an op the user's code asked for: operations
the library makes itself (a loss's internals, a backward rule recorded under
``create_graph=True``) never warn. ``allow_outer_broadcast()`` silences it in a block or a
decorated function, per thread.

Imports nothing from the package but the warning category.
"""

from __future__ import annotations

import functools
import os
import sys
import threading
import types
import warnings
from collections.abc import Callable, Sequence
from typing import Any, TypeVar

from ._warnings import BroadcastWarning

__all__ = ["allow_outer_broadcast", "check", "trap_shapes"]

F = TypeVar("F", bound=Callable[..., Any])

_PACKAGE_DIR = os.path.dirname(os.path.abspath(__file__)) + os.sep
# Files whose frames only pass the user's operation on to an op (operators, methods, the
# module-level joins, numpy dispatch, the ops namespace, the engine). A frame in any other file
# of the package is library code that made the op itself.
_PASS_THROUGH = frozenset(
    os.path.join(_PACKAGE_DIR, name)
    for name in (
        "autograd.py",
        "tensor.py",
        "_tensor_methods.py",
        "_tensor_elementwise.py",
        "_tensor_reductions.py",
        "_tensor_shape.py",
        "_creation.py",
        "_numpy_dispatch.py",
        os.path.join("ops", "__init__.py"),
        "_broadcast_trap.py",
    )
)


class _State(threading.local):
    def __init__(self) -> None:
        self.allowed = 0  # depth of allow_outer_broadcast() blocks in this thread


_state = _State()
_warned: set[tuple[Any, ...]] = set()  # (file, line, column shape, vector shape) already warned


def trap_shapes(shapes: Sequence[tuple[int, ...] | None]) -> tuple[int, int] | None:
    """The positions ``(column, vector)`` of an (n, 1) and an (n,) input, n ≥ 2, or None."""
    column = vector = None
    for i, shape in enumerate(shapes):
        if shape is None or len(shape) > 2 or not shape or shape[0] < 2:
            continue
        if len(shape) == 2 and shape[1] == 1 and column is None:
            column = i
        elif len(shape) == 1 and vector is None:
            vector = i
    if column is None or vector is None or shapes[column][0] != shapes[vector][0]:  # type: ignore[index]
        return None
    return column, vector


def check(name: str, inputs: Sequence[Any], out_shape: tuple[int, ...]) -> None:
    """Warn if an op called ``name`` broadcast an (n, 1) input against an (n,) one into
    ``out_shape`` = (n, n) (see the module docstring for when it stays silent)."""
    if _state.allowed or out_shape[0] < 2:
        return
    shapes = [getattr(x, "shape", None) for x in inputs]
    found = trap_shapes(shapes)
    if found is None:
        return
    site = _user_frame(sys._getframe(1))
    if site is None:
        return  # made by the library itself
    column, vector = (shapes[i] for i in found)
    key = (site.f_code.co_filename, site.f_lineno, column, vector)
    if key in _warned:
        return
    _warned.add(key)
    _warn(_message(name, shapes, out_shape, site), site)


def _user_frame(frame: types.FrameType | None) -> types.FrameType | None:
    """The first frame outside the package, or None when library code made the op."""
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR):
            return frame
        # ``apply`` overrides (Pow.apply) pass the call on too, wherever they are defined.
        if filename not in _PASS_THROUGH and frame.f_code.co_name != "apply":
            return None
        frame = frame.f_back
    return None


def _message(name: str, shapes: list[Any], out_shape: tuple[int, ...], site: types.FrameType) -> str:
    listed = " and ".join(str(tuple(s)) for s in shapes if s is not None)
    n = out_shape[0]
    return (
        f"{name} broadcast shapes {listed} into {out_shape} at {site.f_code.co_filename}:{site.f_lineno}: "
        f"a column of shape ({n}, 1) against a vector of shape ({n},) pairs every element with every other one "
        f"(a residual pred - y of shape ({n}, {n}) instead of ({n},)), so the loss is silently "
        f"wrong. Give both the same shape: y.reshape(-1, 1) for columns, or pred[:, 0] "
        f"(pred.reshape(-1)) for vectors. If an outer product is meant, write a[:, None] and "
        f"b[None, :], or wrap it in `with tg.allow_outer_broadcast():`."
    )


def _warn(message: str, site: types.FrameType) -> None:
    module_globals = site.f_globals
    warnings.warn_explicit(
        message,
        BroadcastWarning,
        site.f_code.co_filename,
        site.f_lineno,
        module=module_globals.get("__name__", "<unknown>"),
        registry=module_globals.setdefault("__warningregistry__", {}),
        module_globals=module_globals,
    )


class allow_outer_broadcast:  # noqa: N801 - used like a function, as no_grad
    """Silence :class:`~tinygrad_gd.BroadcastWarning` where an (n, 1) × (n,) outer product is
    meant: ``with tg.allow_outer_broadcast(): ...`` or as a decorator (``@tg.allow_outer_broadcast()``
    or bare ``@tg.allow_outer_broadcast``). Per thread; blocks nest."""

    def __new__(cls, func: Callable[..., Any] | None = None) -> Any:
        self = super().__new__(cls)
        if func is not None:  # bare decorator: @allow_outer_broadcast
            return self(func)
        return self

    def __enter__(self) -> allow_outer_broadcast:
        _state.allowed += 1
        return self

    def __exit__(self, *exc: object) -> None:
        _state.allowed -= 1

    def __call__(self, func: F) -> F:
        @functools.wraps(func)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with allow_outer_broadcast():
                return func(*args, **kwargs)

        return wrapper  # type: ignore[return-value]
