"""Containers for the function transforms: a nested dict/list/tuple of arrays, flattened to a
list of leaves and rebuilt from one, so every transform differentiates plain lists of tensors.

A *leaf* is a Tensor, a numpy array or scalar, a Python number, or a (nested) list/tuple of
Python numbers only — that is one array, as ``Tensor([1.0, 2.0])`` reads it. A dict, or a
list/tuple that holds anything else (arrays, Tensors, dicts), is a *container*: its entries
are visited in order (dicts in insertion order, as ``dict(model.named_parameters())``).
Nothing is copied: the leaves are the objects found, and rebuilding puts the new leaves into
new containers of the same kinds (a namedtuple stays that namedtuple, an OrderedDict stays one).
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._graph_tensor import GraphTensor

__all__ = ["LEAF", "Flat", "Node", "describe", "flatten", "tuple_tree", "unflatten"]

LEAF = "<leaf>"
"""Where a leaf sits in a tree (a tree is ``LEAF`` or a :class:`Node`)."""

_NUMBERS = (int, float, complex, np.number, np.bool_)
_LEAF_TYPES = (GraphTensor, np.ndarray, *_NUMBERS)


@dataclass(frozen=True)
class Node:
    """One container of a tree: its kind, the class to rebuild, dict keys, and children."""

    kind: str  # "dict", "list", "tuple" or "namedtuple"
    cls: type
    keys: tuple[Any, ...]
    children: tuple[Any, ...]  # each LEAF or a Node


@dataclass(frozen=True)
class Flat:
    """A flattened value: its leaves in order, each leaf's name for messages, and its tree."""

    leaves: list[Any]
    paths: list[str]
    tree: Any


def _is_number_list(value: Any) -> bool:
    return isinstance(value, (list, tuple)) and all(
        isinstance(v, _NUMBERS) or _is_number_list(v) for v in value
    )


def _node(value: Any, children: tuple[Any, ...]) -> Node:
    if isinstance(value, dict):
        cls = OrderedDict if isinstance(value, OrderedDict) else dict
        return Node("dict", cls, tuple(value.keys()), children)
    if isinstance(value, tuple) and hasattr(type(value), "_fields"):
        return Node("namedtuple", type(value), (), children)
    return Node(
        "list" if isinstance(value, list) else "tuple",
        list if isinstance(value, list) else tuple,
        (),
        children,
    )


def flatten(value: Any, name: str) -> Flat:
    """The leaves of ``value`` (a leaf itself, or a nested dict/list/tuple of leaves) and its
    tree; ``name`` ("argument 0") starts each leaf's path (``argument 0['0.weight']``)."""
    leaves: list[Any] = []
    paths: list[str] = []

    def visit(v: Any, path: str) -> Any:
        if isinstance(v, _LEAF_TYPES) or _is_number_list(v):
            leaves.append(v)
            paths.append(path)
            return LEAF
        if isinstance(v, dict):
            return _node(v, tuple(visit(child, f"{path}[{key!r}]") for key, child in v.items()))
        if isinstance(v, (list, tuple)):
            return _node(v, tuple(visit(child, f"{path}[{i}]") for i, child in enumerate(v)))
        raise TypeError(
            f"{path} is a {type(v).__name__}: what is differentiated must be a Tensor, a numpy "
            f"array or a number, or a dict/list/tuple (nested) of them. Pass other values as "
            f"arguments that argnums does not name, or as keyword arguments."
        )

    tree = visit(value, name)
    return Flat(leaves, paths, tree)


def unflatten(tree: Any, leaves: list[Any]) -> Any:
    """``tree`` with its leaves, in order, replaced by ``leaves`` (new containers, same kinds)."""
    it: Iterator[Any] = iter(leaves)

    def build(t: Any) -> Any:
        if not isinstance(t, Node):
            return next(it)
        values = [build(c) for c in t.children]
        if t.kind == "dict":
            return t.cls(zip(t.keys, values))
        if t.kind == "namedtuple":
            return t.cls(*values)
        return t.cls(values)

    return build(tree)


def tuple_tree(trees: list[Any]) -> Node:
    """The tree of a tuple whose entries have the given trees (a tuple-argnums result)."""
    return Node("tuple", tuple, (), tuple(trees))


def describe(tree: Any) -> str:
    """A short picture of a tree for messages: ``{'w': array, 'b': array}``, ``(array, [array])``."""
    if not isinstance(tree, Node):
        return "array"
    inner = [describe(c) for c in tree.children]
    if tree.kind == "dict":
        return "{" + ", ".join(f"{k!r}: {v}" for k, v in zip(tree.keys, inner)) + "}"
    if tree.kind == "list":
        return "[" + ", ".join(inner) + "]"
    return "(" + ", ".join(inner) + ("," if len(inner) == 1 else "") + ")"
