"""Argument checks shared by the whole package: axes and shapes, in one place.

Every axis or shape a user passes (reductions, softmax, transpose, flatten, squeeze,
unsqueeze, reshape, broadcast_to, cat, stack, the constructors) goes through these
functions, so the rules and the messages are the same everywhere:

* an axis or a shape entry is an integer: a Python ``int``, a numpy integer, or anything
  else with ``__index__`` (as numpy accepts), but never a ``bool``, a float or a string:
  ``TypeError`` naming the argument and the value (numpy would truncate ``2.5`` to 2, read
  ``"0"`` as axis 0, or ``True`` as 1 — all silently);
* an array argument is a plain ``np.ndarray``: ``np.matrix`` (what ``scipy.sparse``'s
  ``.todense()`` returns, whose ``*`` is a matrix product) becomes one, keeping its 2-D
  shape; a masked array raises ``TypeError`` (its mask would be ignored silently);
* an axis out of range raises numpy's ``AxisError`` (both an ``IndexError``, as PyTorch
  raises, and a ``ValueError``, as numpy users catch), naming the axis, the tensor's number
  of dimensions and its shape, never wrapping around silently.

This module imports nothing from the package (the ops package and tensor.py both use it).
"""

from __future__ import annotations

import functools
import operator
from typing import Any

import numpy as np

__all__ = ["AxisError", "integer", "axis", "axes", "permutation", "shape", "plain_array",
           "generator", "manual_seed", "is_integer", "as_tensor"]

AxisError = np.exceptions.AxisError


def integer(value: Any, argument: str) -> int:
    """``value`` as a Python int; ``TypeError`` for bools, floats, strings, ..."""
    if type(value) is int:  # the common case, first
        return value
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{argument} must be an integer, got the bool {value!r}")
    try:
        return operator.index(value)
    except TypeError:
        raise TypeError(f"{argument} must be an integer, got {type(value).__name__} {value!r}") from None


def _where(ndim: int, shape: tuple[int, ...] | None) -> str:
    return f"a tensor with {ndim} dimension(s)" + (f" (shape {tuple(shape)})" if shape is not None else "")


def axis(value: Any, ndim: int, argument: str = "axis", shape: tuple[int, ...] | None = None, insert: bool = False) -> int:
    """One axis of a tensor with ``ndim`` dimensions, as a non-negative int.

    Axes run from ``-ndim`` to ``ndim - 1``. With ``insert`` (``unsqueeze``, ``stack``) it
    is the position of a new axis, from ``-(ndim + 1)`` to ``ndim``.
    """
    a = integer(value, argument)
    n = ndim + 1 if insert else ndim
    if not -n <= a < n:
        if insert:
            raise AxisError(
                f"{argument} {a} is out of range for inserting an axis into {_where(ndim, shape)}: "
                f"positions run from {-n} to {n - 1}"
            )
        valid = f"axes run from {-n} to {n - 1}" if n else "it has no axes"
        raise AxisError(f"{argument} {a} is out of range for {_where(ndim, shape)}: {valid}")
    return a + n if a < 0 else a


def axes(value: Any, ndim: int, argument: str = "axis", shape: tuple[int, ...] | None = None) -> tuple[int, ...] | None:
    """A reduction's ``axis``: ``None``, an integer or a tuple/list of integers, as ``None``
    or a sorted tuple of distinct non-negative axes.

    A 0-d tensor accepts axis 0 or -1, as PyTorch (reducing it leaves it unchanged): pass
    ``ndim=0`` and the result is ``()``.
    """
    if value is None:
        return None
    if type(value) is int and 0 <= value < ndim:  # the common case, first
        return (value,)
    items = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if ndim == 0:
        for item in items:
            if integer(item, argument) not in (0, -1):
                raise AxisError(
                    f"{argument} {item} is out of range for {_where(0, shape)}: a 0-d tensor "
                    f"accepts only axis 0 or -1"
                )
        return ()
    out = [axis(item, ndim, argument, shape) for item in items]
    if len(set(out)) != len(out):
        raise ValueError(f"repeated axis in {value!r}: {argument} must name each axis once")
    return tuple(sorted(out))


def permutation(value: Any, ndim: int, argument: str = "axes", shape: tuple[int, ...] | None = None) -> tuple[int, ...]:
    """A full permutation of the ``ndim`` axes (each named once), as non-negative ints."""
    items = tuple(value)
    if len(items) == ndim and len(set(items)) == ndim and all(type(a) is int and 0 <= a < ndim for a in items):
        return items  # the common case, first
    if len(items) != ndim:
        raise ValueError(
            f"{argument} {items} must name each of the {ndim} axes of {_where(ndim, shape)} "
            f"exactly once (a permutation), got {len(items)} axis(es)"
        )
    out = tuple(axis(item, ndim, argument, shape) for item in items)
    if sorted(out) != list(range(ndim)):
        raise ValueError(
            f"{argument} {items} are not a permutation of the {ndim} axes of {_where(ndim, shape)}: "
            f"name each axis once"
        )
    return out


def shape(value: Any, argument: str = "shape", allow_unknown: bool = False) -> tuple[int, ...]:
    """A shape: an integer, or a tuple/list of them (``(2, 3)``, ``[2, 3]``, ``()``).

    Entries must be ≥ 0; with ``allow_unknown`` (reshape) one entry may be -1.
    """
    if type(value) is tuple and all(type(n) is int and n >= 0 for n in value):
        return value  # the common cases, first
    if allow_unknown and type(value) is tuple and value.count(-1) == 1 and all(type(n) is int and n >= -1 for n in value):
        return value
    if isinstance(value, (tuple, list)):
        items = tuple(value)
    elif isinstance(value, np.ndarray) and value.ndim == 1:
        items = tuple(value.tolist())
    else:
        items = (value,)
    out = tuple(integer(n, f"{argument} entry") for n in items)
    unknown = out.count(-1) if allow_unknown else 0
    if unknown > 1:
        raise ValueError(f"{argument} {out} has {unknown} entries of -1; at most one size can be inferred")
    bad = [n for n in out if n < 0 and not (allow_unknown and n == -1)]
    if bad:
        extra = " (only -1, once, to infer a size)" if allow_unknown else ""
        raise ValueError(f"{argument} {out} has a negative size {bad[0]}: sizes must be ≥ 0{extra}")
    return out


def plain_array(value: Any, what: str = "Tensor data") -> Any:
    """``value`` with any ndarray subclass turned into a plain ``np.ndarray`` (not copied).

    ``np.matrix`` keeps its 2-D shape but loses its matrix-product ``*``; a masked array
    (``numpy.ma``) is refused: neither its raw values nor dropping the masked ones is what
    every caller means, so the caller says which. Anything that is not an array passes.
    """
    if type(value) is np.ndarray or not isinstance(value, np.ndarray):
        return value
    if isinstance(value, np.ma.MaskedArray):
        raise TypeError(
            f"{what} cannot be a masked array (numpy.ma, shape {value.shape}, "
            f"{int(np.ma.count_masked(value))} masked value(s)): the mask would be ignored "
            f"silently. Say what the masked entries mean first: m.filled(value) (e.g. "
            f"m.filled(0.0) or m.filled(np.nan)), np.asarray(m) for the raw data under the "
            f"mask, or m.compressed() for the unmasked values only"
        )
    return np.asarray(value)


# --------------------------------------------------------------------------- rng, whole numbers, tensors
_default_generator = [np.random.default_rng()]
"""The package's default generator (one-element list: replaced by :func:`manual_seed`)."""


def manual_seed(seed: int) -> np.random.Generator:
    """Seed the package's default generator, which ``randn``, ``rand``, ``nn.Linear`` and
    every other draw without an explicit ``rng=``/``seed=`` use (as ``torch.manual_seed``);
    returns it. ``np.random.seed`` does not seed it: numpy's legacy global state is not used."""
    if not is_integer(seed):
        raise TypeError(f"manual_seed needs a whole number >= 0, got {describe(seed)}; e.g. tg.manual_seed(0)")
    if seed < 0:
        raise ValueError(f"manual_seed needs a whole number >= 0, got {seed}; e.g. tg.manual_seed(0)")
    _default_generator[0] = np.random.default_rng(int(seed))
    return _default_generator[0]


def generator(value: Any, argument: str = "rng") -> np.random.Generator:
    """A ``np.random.Generator``: ``value`` itself when it is one, a new one seeded with
    ``value`` when it is an int seed, and the package's default generator (see
    :func:`manual_seed`) for None. A bool is refused: ``True`` as seed 1 is a typo, not a seed."""
    if isinstance(value, np.random.Generator):
        return value
    if value is None:
        return _default_generator[0]
    if is_integer(value):
        return np.random.default_rng(value)
    raise TypeError(f"{argument} must be a numpy Generator, an int seed or None, got {type(value).__name__}")


def is_integer(value: Any) -> bool:
    """True for a Python or numpy integer, False for everything else, bools included (a count
    or a seed written ``True`` is a mistake numpy would silently read as 1)."""
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


@functools.cache
def _tensor_class() -> type:
    # Imported on first use, not at the top: tensor.py imports this module.
    from .tensor import Tensor

    return Tensor


def as_tensor(value: Any, what: str | None = None) -> Any:
    """``value`` itself when it is a Tensor, else ``Tensor(value)`` (arrays are wrapped, not
    copied). With ``what``, a value no Tensor can hold raises ``TypeError`` naming it."""
    tensor = _tensor_class()
    if isinstance(value, tensor):
        return value
    if what is None:
        return tensor(value)
    try:
        return tensor(value)
    except (TypeError, ValueError) as e:
        raise TypeError(f"{what} must be a Tensor, a numpy array or a list of numbers ({e})") from None


# --------------------------------------------------------------------------- numbers, descriptions
def number(value: Any, argument: str) -> float:
    """``value`` as a float; ``TypeError`` for bools, strings, arrays, ... (``argument`` names it
    in the message, e.g. ``"SGD: lr"``)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{argument} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def bounded(value: Any, argument: str, low: float = 0.0, high: float | None = None, high_open: bool = False) -> float:
    """``value`` as a float; a ``ValueError`` unless it is finite and in [low, high] (or [low, high))."""
    v = number(value, argument)
    too_high = high is not None and (v >= high if high_open else v > high)
    if not np.isfinite(v) or v < low or too_high:
        upper = "" if high is None else (f" and < {high}" if high_open else f" and ≤ {high}")
        raise ValueError(f"{argument} must be a finite number ≥ {low}{upper}, got {value!r}")
    return v


def is_whole_number(value: Any) -> bool:
    """True for an integer or an integral float (``3.0``: what a JSON round trip makes of a
    count), False for bools, fractions, NaN and everything else."""
    if isinstance(value, (bool, np.bool_)):
        return False
    if isinstance(value, (int, np.integer)):
        return True
    return isinstance(value, (float, np.floating)) and float(value).is_integer()


def describe(value: Any) -> str:
    """A short description of a value a user passed by mistake, for error messages."""
    if isinstance(value, np.ndarray):
        return f"a numpy array of shape {value.shape}"
    return f"{type(value).__name__} {value!r}" if isinstance(value, (int, float, str)) else type(value).__name__


def one_element_loss(loss: Any, not_a_tensor: str, not_one_element: str) -> None:
    """Raise unless ``loss`` is a one-element Tensor: ``TypeError(not_a_tensor)`` for anything
    else, ``ValueError(not_one_element)`` for other shapes. The messages may name the loss's
    ``{type}`` and ``{shape}``; each caller says where the loss came from and the fix."""
    from ._graph_tensor import GraphTensor  # the engine's tensor type; imported late (layering)

    if not isinstance(loss, GraphTensor):
        raise TypeError(not_a_tensor.format(type=type(loss).__name__))
    if loss.data.size != 1:
        raise ValueError(not_one_element.format(shape=loss.shape))

