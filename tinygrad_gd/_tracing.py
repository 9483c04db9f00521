"""The hooks of ``tg.compile``'s tracing: the context that routes every op to a tracer, and
the checks that refuse what a trace would freeze (reading a traced value in Python, layers
that compute with hidden state).

The active tracer itself stays a global of ``autograd`` (``autograd._tracer``), because
``Function.apply`` reads it for every op: one global read, nothing more. These hooks read and
set it there (``autograd`` is imported as a module, its attribute read at call time).
All names are re-exported by ``autograd``.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import Any

from . import _anomaly
from . import autograd as _engine

__all__ = ["TracingError", "tracer", "tracing", "refuse_in_trace", "check_not_tracing"]


class TracingError(RuntimeError):
    """A traced value was read in Python while ``tg.compile`` was tracing: the control flow
    that depends on it would be frozen into the compiled code."""

    __module__ = "tinygrad_gd.compile"


def tracer() -> Any:
    """The active ``tg.compile`` tracer, or None."""
    return _engine._tracer


@contextlib.contextmanager
def tracing(new: Any) -> Iterator[None]:
    """Route every op to ``new.record`` for the ``with`` block (``tg.compile``'s trace)."""
    if _engine._tracer is not None:
        raise RuntimeError("tg.compile: already tracing (a compiled function traced inside another trace)")
    _engine._tracer = new
    try:
        yield
    finally:
        _engine._tracer = None


def refuse_in_trace(what: str, why: str) -> None:
    """Raise :class:`TracingError` if ``tg.compile`` is tracing this thread: ``what`` (a
    layer, a call) does something a trace would freeze (``why``)."""
    active = _engine._tracer
    if active is not None and active.thread == threading.get_ident():
        raise TracingError(f"tg.compile cannot trace {what}: {why}. Do not compile this function (or call model.eval() first).")


def check_not_tracing(what: str) -> None:
    """Called by Tensor's value readers (``item``, ``float``, ``bool``, ``numpy``): reading a
    traced value in Python while tracing would freeze the branch that depends on it."""
    active = _engine._tracer
    if active is not None and active.thread == threading.get_ident():
        raise TracingError(
            f"{_anomaly.user_frame()}: {what} reads the value of a tensor while tg.compile is "
            f"tracing; the compiled code would freeze whatever Python does with it (an `if`, a "
            f"loop bound, a float). Pass the value as an argument, compute with Tensor "
            f"operations, or do not compile this function."
        )
