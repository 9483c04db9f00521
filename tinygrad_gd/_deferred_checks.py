"""The losses' input checks on Dask arrays, deferred to the compute.

A loss checks its inputs (probabilities and binary targets in [0, 1], class ids whole numbers
in range) before it builds anything. A Dask array is not computed just to be checked (that
would be a pass over the data each step): its check is a task on each block, in the same graph
as the loss, so it runs in the step's one ``dask.compute`` and its ``ValueError`` (the same
message as numpy's, naming one block) comes from that compute. The checked array is the input
itself to the loss (an identity op on Tensors, whose gradient passes through).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

import numpy as np

from . import _backend
from .autograd import Function, GraphTensor

IN_ONE_BLOCK = " (found in one block of the Dask array, when it was computed: the check is deferred to the compute)"


def is_dask(values: Any) -> bool:
    """True for a Dask array (or a Tensor holding one)."""
    data = values.data if isinstance(values, GraphTensor) else values
    return type(data) is not np.ndarray and _backend.backend_name(data) == "dask"


class _CheckedBlocks(Function):
    """f(x) = x, each block of the Dask array x passed through ``check`` (which raises or
    returns it) when computed;  gradient g. Not registered: the losses' Dask tests check it."""

    def forward(self, x, check=None):
        return x.map_blocks(check, dtype=x.dtype, meta=x._meta)

    def backward(self, g):
        return g


def deferred(values: Any, check: Callable[..., np.ndarray], **options: Any) -> Any:
    """``values`` (a Tensor or a Dask array) with ``check(block, **options)`` run on each of
    its blocks when computed: a Tensor stays in its graph, an array stays an array. ``check``
    and ``options`` must pickle (a distributed cluster runs them on the workers)."""
    check_block = functools.partial(check, **options)
    if isinstance(values, GraphTensor):
        return _CheckedBlocks.apply(values, check=check_block)
    return values.map_blocks(check_block, dtype=values.dtype, meta=values._meta)


def unit_interval_block(block: np.ndarray, head: str, tail: str) -> np.ndarray:
    """``block`` when every value lies in [0, 1]; else the loss's ValueError, ``head`` then
    how many values and one of them, then ``tail``."""
    bad = block[~((block >= 0) & (block <= 1))]
    if bad.size:
        raise ValueError(f"{head} {bad.size} value(s) outside it (e.g. {bad.flat[0]!r}){tail}{IN_ONE_BLOCK}")
    return block


def class_id_block(block: np.ndarray, name: str, classes: int, shape: tuple[int, ...]) -> np.ndarray:
    """``block`` of class ids when each is a whole number in [0, classes); else the ValueError
    cross_entropy raises on numpy labels (rows left out with ``ignore_index`` included: on Dask
    the loss's form is chosen before the labels are read, so there are none)."""
    whole = np.isfinite(block) & (block == np.round(block)) if block.dtype.kind == "f" else np.ones(block.shape, bool)
    if not bool(np.all(whole)):
        value = block[~whole].flat[0].item()
        raise ValueError(
            f"{name}: labels must be whole numbers (class ids), but label {value} is not. Pass integer "
            f"class ids, not probabilities or one-hot rows.{IN_ONE_BLOCK}"
        )
    outside = (block < 0) | (block >= classes)
    if bool(np.any(outside)):
        raise ValueError(
            f"{name}: label {block[outside].flat[0].item()} is out of range: with {classes} classes (logits shape "
            f"{shape}) labels must lie in [0, {classes - 1}] (Dask labels cannot leave rows out with "
            f"ignore_index: drop those rows first).{IN_ONE_BLOCK}"
        )
    return block
