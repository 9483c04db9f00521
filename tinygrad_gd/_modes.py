"""Grad mode and anomaly mode: per-thread switches, and the one class behind every form of
them (context manager, decorator, plain call).

A thread inside ``no_grad`` does not change what another thread records, and a new thread
starts with the defaults (recording on, anomaly mode off), as in PyTorch. The engine reads
:data:`state` directly on its hot path; everything else goes through the functions here.
"""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable
from typing import Any, TypeVar, overload

__all__ = [
    "no_grad",
    "enable_grad",
    "set_grad_enabled",
    "is_grad_enabled",
    "detect_anomaly",
    "set_detect_anomaly",
    "is_anomaly_enabled",
]

F = TypeVar("F", bound=Callable[..., Any])


class _ThreadState(threading.local):
    """Per-thread switches: a thread inside ``no_grad`` does not change another's recording."""

    def __init__(self) -> None:
        self.grad_enabled = True
        self.anomaly = False
        # The node whose backward rule is running, so that anomaly mode can blame the rule for
        # an op it records under create_graph. Set only in anomaly mode: free otherwise.
        self.backward_node: Any = None  # a Function


state = _ThreadState()


def is_grad_enabled() -> bool:
    """True when operations on tensors that require grad are being recorded (this thread)."""
    return state.grad_enabled


def is_anomaly_enabled() -> bool:
    """True inside ``detect_anomaly()`` (this thread)."""
    return state.anomaly


class _ModeSwitch:
    """Sets one per-thread flag (``grad_enabled`` or ``anomaly``) for a ``with`` block, or for
    every call of a decorated function, and restores the previous value after.

    ``now=True`` (the ``set_*`` forms) also switches at construction, so that
    ``set_grad_enabled(False)`` works as a plain call, as in PyTorch; ``with`` then restores
    the value from before that call, and decorating undoes it (PyTorch does the same).
    """

    def __init__(self, flag: str, mode: bool, now: bool = False) -> None:
        self.flag = flag
        self.mode = bool(mode)
        self._restore: list[bool] = []  # one entry per open `with` of this instance
        self._before_now: bool | None = None
        if now:
            self._before_now = getattr(state, flag)
            setattr(state, flag, self.mode)

    def __enter__(self) -> _ModeSwitch:
        previous = getattr(state, self.flag) if self._before_now is None else self._before_now
        self._before_now = None
        self._restore.append(previous)
        setattr(state, self.flag, self.mode)
        return self

    def __exit__(self, *exc: object) -> None:
        setattr(state, self.flag, self._restore.pop())

    def __call__(self, fn: F) -> F:
        if self._before_now is not None:
            setattr(state, self.flag, self._before_now)
            self._before_now = None
        flag, mode = self.flag, self.mode

        @functools.wraps(fn)
        def in_mode(*args: Any, **kwargs: Any) -> Any:
            with _ModeSwitch(flag, mode):  # one switch per call: reentrant and thread-safe
                return fn(*args, **kwargs)

        return in_mode  # type: ignore[return-value]


@overload
def no_grad(func: None = None) -> _ModeSwitch: ...
@overload
def no_grad(func: F) -> F: ...
def no_grad(func: F | None = None) -> _ModeSwitch | F:
    """Context manager and decorator (``@no_grad`` or ``@no_grad()``): operations inside are
    not recorded for backward.

    Use it for parameter updates (``with no_grad(): w -= lr * w.grad``) and evaluation.
    """
    switch = _ModeSwitch("grad_enabled", False)
    return switch if func is None else switch(func)


@overload
def enable_grad(func: None = None) -> _ModeSwitch: ...
@overload
def enable_grad(func: F) -> F: ...
def enable_grad(func: F | None = None) -> _ModeSwitch | F:
    """Context manager and decorator (``@enable_grad`` or ``@enable_grad()``): turn
    recording back on inside a ``no_grad`` block."""
    switch = _ModeSwitch("grad_enabled", True)
    return switch if func is None else switch(func)


def set_grad_enabled(mode: bool = True) -> _ModeSwitch:
    """``set_grad_enabled(mode)``: a context manager, a decorator, or (as a plain call) a
    switch that stays until changed: ``set_grad_enabled(False)`` turns recording off."""
    return _ModeSwitch("grad_enabled", mode, now=True)


def detect_anomaly() -> _ModeSwitch:
    """Context manager and decorator: the first op whose forward or backward produces NaN/inf
    raises a ``RuntimeError`` naming the op, its input shapes and where it was created.

    Off by default; when off it costs one flag test per op.
    """
    return _ModeSwitch("anomaly", True)


def set_detect_anomaly(mode: bool = True) -> _ModeSwitch:
    """``set_detect_anomaly(mode)``: a context manager, a decorator, or (as a plain call) a
    switch that stays until changed, like ``set_grad_enabled``."""
    return _ModeSwitch("anomaly", mode, now=True)
