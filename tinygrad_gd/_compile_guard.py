"""The fast path of a compiled function's call: a check, written for one signature, that the
arguments of this call still have it, and the call of its code when they do.

A training loop calls a compiled step with arrays of the same shapes and dtypes every time.
Building the signature key of every call (a tuple per argument) and comparing it with the
last one cost about as much as the generated code of a small step, so for the last
signature :func:`build_guard` writes a few lines of Python that test each argument directly
(``type(w) is ndarray and w.dtype is float64 and w.shape == (1,)``) and run the code, or say
:data:`MISS`, and the caller takes the general path (the signature key, the cache, a new
trace). The guard accepts exactly the calls whose key equals the traced one, or fewer: a
changed shape, dtype, argument type or count (a Tensor, a Python number, a keyword argument)
is a miss, never a stale hit.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

__all__ = ["MISS", "build_guard"]

MISS: Any = object()  # what a guard returns when the arguments have another signature


def build_guard(args: tuple[Any, ...], run: Callable[..., Any], pack: Callable[[Any], Any] | None) -> Callable[[tuple[Any, ...]], Any] | None:
    """``guard(args)`` -> the result of ``run`` on ``args`` when they have the signature that
    ``args`` has now, else :data:`MISS`; None where a guard would not pay (an argument that is
    neither a float ndarray nor a numpy float scalar: those take the general path)."""
    namespace: dict[str, Any] = {"ndarray": np.ndarray, "asarray": np.asarray, "MISS": MISS, "run": run, "pack": pack}
    names = [f"a{i}" for i in range(len(args))]
    checks = []
    for i, (name, value) in enumerate(zip(names, args)):
        if type(value) is np.ndarray and value.dtype.kind == "f":
            dtype, shape = value.dtype, value.shape
        elif type(value) is np.float64 or type(value) is np.float32:  # the general path's 0-d array
            dtype, shape = value.dtype, ()
        else:
            return None
        namespace[f"d{i}"], namespace[f"s{i}"] = dtype, shape
        array_test = f"type({name}) is not ndarray or {name}.dtype is not d{i} or {name}.shape != s{i}"
        if shape == ():  # a 0-d float argument: its numpy scalar (what 0-d arithmetic returns) too
            namespace[f"t{i}"] = dtype.type
            checks.append(f"    if type({name}) is t{i}:\n        {name} = asarray({name})\n    elif {array_test}:\n        return MISS")
        else:
            checks.append(f"    if {array_test}:\n        return MISS")
    call = f"run({', '.join(names)})"
    unpack = f"    {', '.join(names)}, = args\n" if names else ""
    source = (
        f"def guard(args):\n    if len(args) != {len(args)}:\n        return MISS\n{unpack}"
        + "".join(check + "\n" for check in checks)
        + f"    return {call if pack is None else f'pack({call})'}\n"
    )
    exec(compile(source, "<tg.compile guard>", "exec"), namespace)  # noqa: S102 - our own generated code
    guard: Callable[[tuple[Any, ...]], Any] = namespace["guard"]
    return guard
