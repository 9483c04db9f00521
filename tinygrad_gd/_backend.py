"""Array backends: which library an array belongs to, its Array API namespace, and the few
operations the engine needs that the standard spells differently from numpy's methods.

numpy is the default and the fast path: :func:`xp_of` returns the numpy module for an
``ndarray`` before any lookup. Every other array (CuPy, Dask, ``array-api-strict``; torch or
JAX arrays may work, unpromised) is recognised by ``array-api-compat``, imported only when
such an array first shows up (it is an optional dependency: ``pip install array-api-compat``).

Nothing here converts a non-numpy array to numpy silently: :func:`to_numpy` is the one
explicit exit (Dask computes, CuPy copies to host) and is what ``Tensor.numpy()`` calls.
Imports nothing from the package.
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

__all__ = [
    "NUMPY",
    "xp_of",
    "namespace",
    "is_foreign",
    "backend_name",
    "check_backends",
    "unsupported",
    "to_numpy",
    "is_floating",
    "is_float_dtype",
    "astype",
    "may_share_memory",
    "compute",
    "zeros",
    "ones",
    "asarray",
    "copy",
]

_NUMPY_SCALARS = (np.generic, float, int, bool)


def _numpy_namespace() -> Any:
    # numpy >= 2 has the standard's names itself (concat, permute_dims, pow, atan2, astype,
    # isdtype): the module is the namespace, no wrapper between a rule and numpy.
    if int(np.__version__.split(".")[0]) >= 2:
        return np
    return compat().numpy  # pragma: no cover - numpy 1.x


def compat() -> Any:
    try:
        return importlib.import_module("array_api_compat")
    except ImportError:
        raise TypeError(
            "a non-numpy array (CuPy, Dask, array-api-strict) needs array-api-compat, which is "
            "not installed: pip install array-api-compat (or pass a numpy array)"
        ) from None


NUMPY: Any = _numpy_namespace()
"""The namespace numpy arrays compute in (the numpy module itself on numpy >= 2)."""


def xp_of(x: Any) -> Any:
    """The Array API namespace of the array ``x``: numpy for an ``ndarray`` (no lookup: the
    fast path), else :func:`namespace`."""
    if type(x) is np.ndarray:
        return NUMPY
    return namespace(x)


def namespace(*xs: Any) -> Any:
    """The namespace of the first non-numpy array among ``xs`` (numpy when there is none;
    Python numbers and numpy scalars belong to any backend)."""
    for x in xs:
        if type(x) is np.ndarray or isinstance(x, _NUMPY_SCALARS) or x is None:
            continue
        return compat().array_namespace(x)
    return NUMPY


def is_foreign(x: Any) -> bool:
    """True for an array of a backend other than numpy that array-api-compat recognises."""
    if type(x) is np.ndarray or isinstance(x, (*_NUMPY_SCALARS, np.ndarray, list, tuple, str, bytes)) or x is None:
        return False
    try:
        library = compat()
    except TypeError:
        return False
    return bool(library.is_array_api_obj(x))


def backend_name(x: Any) -> str:
    """The library an array belongs to, in words (``numpy``, ``dask``, ``cupy``,
    ``array_api_strict``, or the top-level module of its type)."""
    if isinstance(x, (np.ndarray, *_NUMPY_SCALARS)):
        return "numpy"
    return type(x).__module__.split(".")[0]


# Backends whose arrays combine with numpy arrays by design: Dask wraps a numpy operand as
# one chunk (small numpy parameters against chunked Dask data is the whole point).
_TAKES_NUMPY = frozenset({"dask"})


def check_backends(op: str, datas: Any) -> str:
    """The one backend of an op's array inputs; a ``TypeError`` naming both when two
    libraries meet in one op (Python numbers and numpy scalars go with any backend, numpy
    arrays with Dask, which wraps them)."""
    found: str | None = None
    first: Any = None
    for d in datas:
        if isinstance(d, _NUMPY_SCALARS) or d is None:
            continue
        name = backend_name(d)
        if found is None or found == "numpy" and name in _TAKES_NUMPY:
            found, first = name, d
        elif name != found and not (name == "numpy" and found in _TAKES_NUMPY):
            raise TypeError(
                f"{op}: mixes arrays of two backends, {found} (shape {tuple(first.shape)}) and "
                f"{name} (shape {tuple(d.shape)}); convert one first, e.g. "
                f"tg.Tensor({name}_namespace.asarray(...)) or .numpy() (which computes/copies to host)"
            )
    return found or "numpy"


def unsupported(op: str, backend: str, reason: str) -> TypeError:
    """The error for an op that the Array API standard cannot express on ``backend``."""
    return TypeError(
        f"{op} is not available for {backend} arrays: {reason}. Convert with t.numpy() "
        f"(explicitly: Dask computes, CuPy copies to host) and use a numpy Tensor for it"
    )


def to_numpy(x: Any) -> np.ndarray:
    """``x`` as a numpy array, explicitly: Dask computes, CuPy copies to host, other devices
    (array-api-strict's test devices) are moved to the CPU."""
    if type(x) is np.ndarray:
        return x
    if isinstance(x, _NUMPY_SCALARS):
        return np.asarray(x)
    name = backend_name(x)
    if name == "dask":
        return to_numpy(x.compute())
    if name == "cupy":
        return x.get()
    to_device = getattr(x, "to_device", None)
    if name == "array_api_strict" and to_device is not None:
        xp = namespace(x)
        return np.asarray(to_device(xp.Device("CPU_DEVICE")))
    return np.asarray(x)


def is_float_dtype(dtype: Any, xp: Any = None) -> bool:
    """True for a real floating dtype (numpy dtype or a namespace's dtype object)."""
    if isinstance(dtype, np.dtype):
        return dtype.kind == "f"
    return bool((xp or NUMPY).isdtype(dtype, "real floating"))


def is_floating(x: Any) -> bool:
    """True when the array ``x`` holds real floats."""
    if type(x) is np.ndarray:
        return x.dtype.kind == "f"
    return is_float_dtype(x.dtype, namespace(x))


def astype(x: Any, dtype: Any) -> Any:
    """``x`` as ``dtype`` (not copied when it already is): the standard's ``xp.astype``."""
    if type(x) is np.ndarray:
        return x.astype(dtype, copy=False)
    return namespace(x).astype(x, dtype, copy=False)


def zeros(shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
    """zeros of ``shape`` in ``like``'s backend and on its device."""
    if type(like) is np.ndarray:
        return np.zeros(shape, dtype=dtype)
    return namespace(like).zeros(shape, dtype=dtype, device=compat().device(like))


def ones(shape: tuple[int, ...], dtype: Any, like: Any) -> Any:
    """ones of ``shape`` in ``like``'s backend and on its device."""
    if type(like) is np.ndarray:
        return np.ones(shape, dtype=dtype)
    return namespace(like).ones(shape, dtype=dtype, device=compat().device(like))


def asarray(value: Any, like: Any, dtype: Any = None) -> Any:
    """``value`` (numbers, a numpy array) as an array of ``like``'s backend, on its device:
    the explicit way in (a host-to-device copy for CuPy)."""
    if type(like) is np.ndarray or isinstance(like, _NUMPY_SCALARS):
        return np.asarray(value, dtype=dtype)
    xp = namespace(like)
    if dtype is None and isinstance(value, (np.ndarray, np.generic)):
        value = value.tolist() if backend_name(like) == "array_api_strict" else value
        dtype = like.dtype if isinstance(value, (int, float, list)) else None
    return xp.asarray(value, dtype=dtype, device=compat().device(like))


def copy(x: Any, dtype: Any = None) -> Any:
    """A copy of the array ``x`` (as ``dtype``) that nothing else sees."""
    if type(x) is np.ndarray or not is_foreign(x):
        return np.array(x, dtype=dtype, copy=True)
    xp = namespace(x)
    return xp.asarray(x if dtype is None else xp.astype(x, dtype), copy=True)


def may_share_memory(a: Any, b: Any) -> bool:
    """Whether two arrays may see the same memory (numpy and CuPy know; for other backends
    assume they may, the safe answer for version counters: a backward raises, never stale)."""
    if type(a) is np.ndarray and type(b) is np.ndarray:
        return bool(np.may_share_memory(a, b))
    if backend_name(a) != backend_name(b):
        return False
    if backend_name(a) == "cupy":  # pragma: no cover - needs a GPU
        return bool(importlib.import_module("cupy").may_share_memory(a, b))
    return True


def compute(*values: Any) -> tuple[Any, ...]:
    """Evaluate Dask arrays among ``values`` together, in one ``dask.compute`` (one pass over
    the chunks that they share); other values are returned as they are."""
    lazy = [i for i, v in enumerate(values) if backend_name(v) == "dask"]
    if not lazy:
        return values
    dask = importlib.import_module("dask")
    results = dask.compute(*(values[i] for i in lazy))
    out = list(values)
    for i, r in zip(lazy, results):
        out[i] = r
    return tuple(out)
