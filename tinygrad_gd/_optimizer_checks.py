"""What a user hands an optimizer, checked: its parameters, their gradients, a saved state.

Every message names the optimizer, the parameter (by its index in group order, as
``state_dict`` numbers them) and what was expected, so ``optim.py`` can read as the update
equations. ``Optimizer.load_state_dict`` promises that a bad saved state (a bogus or repeated parameter index, a
group saved by another kind of optimizer, a state entry of the wrong shape) raises a
``ValueError`` naming the index and what was expected, and leaves the optimizer as it was. So
everything is checked and copied here first, into new groups and a new state, which the
optimizer swaps in only when all of it passed. Each check is one small function.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from ._validate import describe, is_integer, is_whole_number
from .autograd import GraphTensor

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from .optim import Optimizer
    from .tensor import Tensor

__all__ = ["param_groups", "checked_params", "gradient", "checked_state_dict"]

Group = dict[str, Any]


# --------------------------------------------------------------------------- parameters and gradients
def param_groups(owner: str, params: Any) -> list[dict[str, Any]]:
    """An optimizer's ``params`` argument as a list of group dicts: Tensors become one group."""
    if isinstance(params, GraphTensor):
        raise TypeError(
            f"{owner}: params must be an iterable of Tensors (or of parameter-group "
            f"dicts), got a single Tensor of shape {params.shape}. Wrap it in a list: [w]."
        )
    if isinstance(params, (dict, set, str)) or not isinstance(params, Iterable):
        raise TypeError(
            f"{owner}: params must be a list (or other ordered iterable) of Tensors "
            f"or of parameter-group dicts, got {describe(params)}"
        )
    items = list(params)
    if not items:
        raise ValueError(
            f"{owner} got an empty parameter list: pass the tensors to optimize, "
            f"e.g. [w, b] or model.parameters()"
        )
    if all(isinstance(item, dict) for item in items):
        return items
    if any(isinstance(item, dict) for item in items):
        raise TypeError(
            f"{owner}: params mixes Tensors and parameter-group dicts; pass either "
            f"Tensors only or dicts only"
        )
    return [{"params": items}]


def checked_params(owner: str, param_group: Any, seen: set[int]) -> list[Tensor]:
    """A group's parameters: leaf Tensors that require grad, none of them in ``seen`` (the ids
    of the parameters already optimized; the new ones are added to it)."""
    if not isinstance(param_group, dict):
        raise TypeError(f"{owner}: a parameter group must be a dict, got {describe(param_group)}")
    if "params" not in param_group:
        raise ValueError(f"{owner}: a parameter group needs a 'params' key, got keys {sorted(param_group)}")
    params = param_group["params"]
    if isinstance(params, set):
        raise TypeError(f"{owner}: parameters must be given in an ordered collection (a list), not a set")
    params = [params] if isinstance(params, GraphTensor) else list(params)
    if not params:
        raise ValueError(f"{owner}: a parameter group has an empty 'params' list")
    for i, p in enumerate(params):
        if not isinstance(p, GraphTensor):
            raise TypeError(f"{owner}: params must be Tensors, but item {i} is {describe(p)}")
        if not p.requires_grad:
            raise ValueError(
                f"{owner}: parameter {i} (shape {p.shape}) does not require grad, so it would never "
                f"get a gradient. Create it with requires_grad=True (or call .requires_grad_())."
            )
        if not p.is_leaf:
            raise ValueError(
                f"{owner}: parameter {i} (shape {p.shape}) is not a leaf tensor (it was computed by "
                f"an operation), so it never keeps a .grad. Optimize the tensor it was computed from."
            )
        if id(p) in seen:
            raise ValueError(
                f"{owner}: parameter {i} (shape {p.shape}) appears more than once (in this group or "
                f"an earlier one); each tensor must be optimized exactly once"
            )
        seen.add(id(p))
    return params


def gradient(owner: str, p: Tensor, index: int) -> np.ndarray:
    """``p.grad`` as an array, or a clear error when it is not a real-valued Tensor of
    ``p``'s shape (``index`` numbers the parameters as ``state_dict`` does)."""
    g = p.grad
    if not isinstance(g, GraphTensor):
        what = f"a {type(g).__name__} of length {len(g)}" if isinstance(g, (list, tuple)) else describe(g)
        raise TypeError(
            f"{owner}.step(): parameter {index} (shape {p.shape}) has a .grad that is {what}; "
            f".grad must be a Tensor (or None) with the parameter's shape. backward() sets it; to "
            f"set it by hand, wrap the values: p.grad = tg.Tensor(values)"
        )
    grad = np.asarray(g.data)
    if grad.dtype.kind not in "iuf":
        raise TypeError(
            f"{owner}.step(): parameter {index} (shape {p.shape}) has a .grad of dtype {grad.dtype}; "
            f"a gradient must hold real numbers (a float Tensor)"
        )
    if grad.shape != p.data.shape:
        raise ValueError(
            f"{owner}.step(): parameter {index} (shape {p.data.shape}) has a .grad of shape "
            f"{grad.shape}; a gradient must have its parameter's shape"
        )
    return grad


# --------------------------------------------------------------------------- saved state


def _as_index(key: Any) -> int | None:
    """A parameter index from a state-dict key: an int, or its decimal string (a JSON round
    trip turns dict keys into strings); None for anything else."""
    if is_integer(key):
        return int(key)
    if isinstance(key, str) and key.isdecimal():
        return int(key)
    return None


def checked_state_dict(optimizer: Optimizer, state_dict: Any) -> tuple[list[Group], dict[Tensor, dict[str, Any]]]:
    """The parameter groups and the per-parameter state that ``state_dict`` restores into
    ``optimizer``, checked and copied; ``ValueError`` (and nothing changed) when it does not fit."""
    owner = f"{type(optimizer).__name__}.load_state_dict"
    saved_groups, saved_state = _layout(optimizer, state_dict, owner)
    by_index: dict[int, tuple[Tensor, Group]] = {}
    new_groups = []
    for i, (saved, group) in enumerate(zip(saved_groups, optimizer.param_groups)):
        merged = _merged_group(optimizer, i, saved, group, owner)
        new_groups.append(merged)
        for j, (key, p) in enumerate(zip(saved["params"], group["params"])):
            by_index[_group_index(key, i, j, by_index, owner)] = (p, merged)
    return new_groups, _loaded_state(optimizer, saved_state, by_index, owner)


def _layout(optimizer: Optimizer, state_dict: Any, owner: str) -> tuple[list[Mapping[str, Any]], Mapping[Any, Any]]:
    """The saved groups and state, once the dict has the shape ``state_dict()`` writes."""
    if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
        raise ValueError(f"{owner}: expected a dict with 'state' and 'param_groups' keys")
    saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
    if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, Mapping) for g in saved_groups):
        raise ValueError(
            f"{owner}: 'param_groups' must be a list of dicts (one per parameter group), got "
            f"{describe(saved_groups)}"
        )
    if not isinstance(saved_state, Mapping):
        raise ValueError(f"{owner}: 'state' must be a dict {{parameter index: state dict}}, got {describe(saved_state)}")
    if len(saved_groups) != len(optimizer.param_groups):
        raise ValueError(
            f"{owner}: the saved state has {len(saved_groups)} parameter group(s), "
            f"this optimizer has {len(optimizer.param_groups)}"
        )
    return list(saved_groups), saved_state


def _merged_group(optimizer: Optimizer, i: int, saved: Mapping[str, Any], group: Group, owner: str) -> Group:
    """Saved group ``i``'s hyperparameters, checked by the optimizer, over this group's parameters."""
    indices = saved.get("params")
    if not isinstance(indices, (list, tuple)):
        raise ValueError(
            f"{owner}: parameter group {i} of the saved state needs 'params', a list of parameter "
            f"indices, got {describe(indices)}"
        )
    if len(indices) != len(group["params"]):
        raise ValueError(
            f"{owner}: parameter group {i} has {len(indices)} parameter(s) "
            f"in the saved state but {len(group['params'])} here"
        )
    missing = sorted(set(optimizer.defaults) - set(saved))
    if missing:
        raise ValueError(
            f"{owner}: parameter group {i} of the saved state lacks {missing}: "
            f"was it saved by a different kind of optimizer?"
        )
    merged = {k: v for k, v in saved.items() if k != "params"}
    optimizer.check_group(merged)
    merged["params"] = group["params"]
    return merged


def _group_index(key: Any, i: int, j: int, seen: Mapping[int, Any], owner: str) -> int:
    """Item ``j`` of saved group ``i``'s 'params': an integer index not listed before."""
    k = _as_index(key) if not isinstance(key, str) else None
    if k is None:
        raise ValueError(
            f"{owner}: item {j} of parameter group {i}'s 'params' is {describe(key)}; the saved "
            f"param_groups must list integer parameter indices, as state_dict() writes them"
        )
    if k in seen:
        raise ValueError(
            f"{owner}: parameter index {k} is listed twice in the saved param_groups (again in "
            f"group {i}); each index names exactly one parameter"
        )
    return k


def _loaded_state(
    optimizer: Optimizer, saved_state: Mapping[Any, Any], by_index: Mapping[int, tuple[Tensor, Group]], owner: str
) -> dict[Tensor, dict[str, Any]]:
    """Each saved parameter state, keyed by its parameter, checked against its group."""
    new_state: dict[Tensor, dict[str, Any]] = {}
    loaded: set[int] = set()
    for key, values in saved_state.items():
        k = _as_index(key)
        if k is None or k not in by_index:
            raise ValueError(
                f"{owner}: the saved state has an entry for parameter index {key!r}, but the saved "
                f"param_groups list the indices {sorted(by_index)}; a state_dict() keys its state by "
                f"those indices"
            )
        if k in loaded:
            raise ValueError(f"{owner}: the saved state has two entries for parameter index {k}")
        loaded.add(k)
        if not isinstance(values, Mapping):
            raise ValueError(f"{owner}: the state of parameter {k} must be a dict of name -> value, got {describe(values)}")
        p, group = by_index[k]
        new_state[p] = _parameter_state(optimizer, k, p, values, group, owner)
    return new_state


def _parameter_state(
    optimizer: Optimizer, k: int, p: Tensor, values: Mapping[str, Any], group: Group, owner: str
) -> dict[str, Any]:
    """One parameter's saved state checked against ``optimizer.state_spec(group)``, copied."""
    spec = optimizer.state_spec(group)
    if spec is not None and values:  # an empty state is a parameter that has not stepped yet
        _check_names(type(optimizer).__name__, k, values, spec, owner)
    entry: dict[str, Any] = {}
    for name, v in values.items():
        kind = spec.get(name) if spec is not None else ("array" if isinstance(v, np.ndarray) else None)
        if kind == "array":
            v = _state_array(v, name, k, p, owner)
        elif kind == "count":
            v = _state_count(v, name, k, owner)
        entry[name] = v
    return entry


def _check_names(kind: str, k: int, values: Mapping[str, Any], spec: Mapping[str, str], owner: str) -> None:
    missing = sorted(set(spec) - set(values))
    unexpected = sorted(set(values) - set(spec))
    if missing or unexpected:
        problems = ([f"lacks {missing}"] if missing else []) + ([f"has unexpected {unexpected}"] if unexpected else [])
        raise ValueError(
            f"{owner}: the state of parameter {k} " + " and ".join(problems)
            + f" (it has {sorted(values)}); after a step, {kind} keeps "
            f"{sorted(spec)} for each parameter with these hyperparameters. Pass a state saved by "
            f"{kind}.state_dict()"
        )


def _state_array(v: Any, name: str, k: int, p: Tensor, owner: str) -> np.ndarray:
    """A saved array entry as a copy in the parameter's dtype, once it is real and shaped like ``p``."""
    try:
        arr = np.asarray(v.data if isinstance(v, GraphTensor) else v)
    except (TypeError, ValueError):
        arr = np.asarray(None, dtype=object)
    real = arr.dtype.kind in "iuf"
    if not real or arr.shape != p.data.shape:
        found = f"has shape {arr.shape}" if real else f"is {describe(v)} (dtype {arr.dtype})"
        raise ValueError(
            f"{owner}: state '{name}' of parameter {k} {found}; expected a float array of shape "
            f"{p.data.shape}, the parameter's"
        )
    return np.array(arr, dtype=p.data.dtype, copy=True)


def _state_count(v: Any, name: str, k: int, owner: str) -> int:
    """A saved counter (steps taken) as an int ≥ 0."""
    if not is_whole_number(v) or v < 0:
        raise ValueError(
            f"{owner}: state '{name}' of parameter {k} must be a whole number ≥ 0 (steps taken), got {describe(v)}"
        )
    return int(v)
