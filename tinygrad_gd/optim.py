"""Optimizers (SGD, Adam, AdamW) and learning-rate schedulers, with PyTorch's update equations.

    >>> import tinygrad_gd as tg
    >>> w = tg.Tensor([1.0, -2.0], requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=0.1)
    >>> loss = (w * w).sum()
    >>> loss.backward()
    >>> opt.step()           # w <- w - lr * dloss/dw = w - 0.1 * 2w
    >>> w.data.tolist()
    [0.8, -1.6]
    >>> opt.zero_grad()      # before the next backward: gradients accumulate otherwise

An optimizer holds *parameter groups* (dicts with ``"params"`` and their own hyperparameters)
and per-parameter *state* (momentum buffers, moment estimates), and ``step()`` updates each
parameter's ``.data`` in place from its ``.grad``. Nothing is recorded for backward: the update
works on numpy arrays, and each parameter's version counter is bumped so that a graph that
saved the old values refuses to backward through them.

A new optimizer is one :class:`Optimizer` subclass that validates its hyperparameters in
``_check_group`` and updates one parameter in ``_update``, plus an entry in
:data:`OPTIMIZERS` (the test tables iterate it).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .autograd import GraphTensor, enable_grad
from .tensor import Tensor

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "LRScheduler",
    "StepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "OptimizerSpec",
    "OPTIMIZERS",
]

_NO_GRADIENT_WARNING = (
    "{name}.step() found no gradient on any parameter, so nothing was updated: backward() was "
    "probably not called (or zero_grad() ran between backward() and step()). The usual order "
    "is zero_grad(), loss = ..., loss.backward(), step()."
)


# --------------------------------------------------------------------------- validation
def _number(value: Any, owner: str, name: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(f"{owner}: {name} must be a number, got {type(value).__name__} {value!r}")
    return float(value)


def _check_range(
    value: Any, owner: str, name: str, low: float = 0.0, high: float | None = None, high_open: bool = False
) -> float:
    """``value`` as a float; a ValueError unless it is finite and in [low, high] (or [low, high))."""
    v = _number(value, owner, name)
    bad = not math.isfinite(v) or v < low or (high is not None and (v >= high if high_open else v > high))
    if bad:
        upper = "" if high is None else (f" and < {high}" if high_open else f" and ≤ {high}")
        raise ValueError(f"{owner}: {name} must be a finite number ≥ {low}{upper}, got {value!r}")
    return v


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"a numpy array of shape {x.shape}"
    return f"{type(x).__name__} {x!r}" if isinstance(x, (int, float, str)) else type(x).__name__


def _as_index(key: Any) -> int | None:
    """A parameter index from a state-dict key: an int, or its decimal string (a JSON round
    trip turns dict keys into strings); None for anything else."""
    if isinstance(key, (int, np.integer)) and not isinstance(key, (bool, np.bool_)):
        return int(key)
    if isinstance(key, str) and key.isdecimal():
        return int(key)
    return None


# --------------------------------------------------------------------------- base
class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step``, state dicts.

    ``params`` is an iterable of Tensors, or of dicts ``{"params": [...], "lr": ..., ...}``
    (parameter groups; keys a group leaves out take the constructor's values).
    ``state[p]`` is a dict of arrays and counters for parameter ``p``.
    """

    def __init__(self, params: Any, defaults: dict[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self._check_group(dict(self.defaults))  # bad constructor arguments fail here, before params
        if isinstance(params, GraphTensor):
            raise TypeError(
                f"{type(self).__name__}: params must be an iterable of Tensors (or of parameter-group "
                f"dicts), got a single Tensor of shape {params.shape}. Wrap it in a list: [w]."
            )
        if isinstance(params, (dict, set, str)) or not isinstance(params, Iterable):
            raise TypeError(
                f"{type(self).__name__}: params must be a list (or other ordered iterable) of Tensors "
                f"or of parameter-group dicts, got {_describe(params)}"
            )
        items = list(params)
        if not items:
            raise ValueError(
                f"{type(self).__name__} got an empty parameter list: pass the tensors to optimize, "
                f"e.g. [w, b] or model.parameters()"
            )
        if all(isinstance(item, dict) for item in items):
            groups = items
        elif any(isinstance(item, dict) for item in items):
            raise TypeError(
                f"{type(self).__name__}: params mixes Tensors and parameter-group dicts; pass either "
                f"Tensors only or dicts only"
            )
        else:
            groups = [{"params": items}]
        for group in groups:
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group ``{"params": [...], hyperparameter: value, ...}``; missing
        hyperparameters take the constructor's values. Useful to unfreeze layers mid-training."""
        owner = type(self).__name__
        if not isinstance(param_group, dict):
            raise TypeError(f"{owner}: a parameter group must be a dict, got {_describe(param_group)}")
        if "params" not in param_group:
            raise ValueError(f"{owner}: a parameter group needs a 'params' key, got keys {sorted(param_group)}")
        params = param_group["params"]
        if isinstance(params, GraphTensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError(f"{owner}: parameters must be given in an ordered collection (a list), not a set")
        else:
            params = list(params)
        if not params:
            raise ValueError(f"{owner}: a parameter group has an empty 'params' list")
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        for i, p in enumerate(params):
            if not isinstance(p, GraphTensor):
                raise TypeError(f"{owner}: params must be Tensors, but item {i} is {_describe(p)}")
            if not p.requires_grad:
                raise ValueError(
                    f"{owner}: parameter {i} (shape {p.shape}) does not require grad, so it would never "
                    f"get a gradient. Create it with requires_grad=True (or call .requires_grad_())."
                )
            if p._node is not None:
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
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}}
        self._check_group(group)
        group["params"] = params
        self.param_groups.append(group)

    def _check_group(self, group: dict[str, Any]) -> None:
        """Validate (and normalize in place) one group's hyperparameters. Subclasses extend it."""
        owner = type(self).__name__
        group["lr"] = _check_range(group["lr"], owner, "lr")

    # ------------------------------------------------------------------ the loop
    def zero_grad(self, set_to_none: bool = True) -> None:
        """Forget the gradients: ``p.grad = None`` (default), or zeros with ``set_to_none=False``."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                if set_to_none:
                    p.grad = None
                else:
                    p.grad = Tensor(np.zeros_like(p.grad.data))

    def step(self, closure: Callable[[], Any] | None = None) -> Any:
        """Update every parameter that has a gradient (one optimization step) and return the
        closure's loss if a ``closure`` (zero_grad, forward, backward, return loss) is given.

        Records no graph. Warns when no parameter has a gradient at all.
        """
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        # Check every gradient before updating any parameter, so a bad one changes nothing.
        todo: list[tuple[Tensor, np.ndarray, dict[str, Any]]] = []
        index = 0
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    todo.append((p, self._gradient_of(p, index), group))
                index += 1
        if not todo:
            warnings.warn(_NO_GRADIENT_WARNING.format(name=type(self).__name__), UserWarning, stacklevel=2)
        for p, grad, group in todo:
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = {}
            self._update(p, grad, state, group)
        return loss

    def _gradient_of(self, p: Tensor, index: int) -> np.ndarray:
        """``p.grad`` as an array, or a clear error when it is not a real-valued Tensor of
        ``p``'s shape (``index`` numbers the parameters as ``state_dict`` does)."""
        owner, g = type(self).__name__, p.grad
        if not isinstance(g, GraphTensor):
            what = f"a {type(g).__name__} of length {len(g)}" if isinstance(g, (list, tuple)) else _describe(g)
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

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update one parameter in place from its gradient (subclasses)."""
        raise NotImplementedError

    @staticmethod
    def _write(p: Tensor, new_value: np.ndarray) -> None:
        """Store an updated value in ``p.data`` in place and bump its version counter."""
        if p.data.flags.writeable:
            np.copyto(p.data, new_value, casting="same_kind")
        else:  # e.g. a broadcast view: replace the array instead
            p.data = np.array(new_value, dtype=p.data.dtype)
        p._version += 1

    # ------------------------------------------------------------------ saving
    def state_dict(self) -> dict[str, Any]:
        """``{"state": {index: {name: value}}, "param_groups": [{hyperparameters, "params": [index]}]}``
        with parameters numbered in group order (as PyTorch); arrays are copies."""
        index: dict[int, int] = {}
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            packed["params"] = [index.setdefault(id(p), len(index)) for p in group["params"]]
            groups.append(packed)
        state = {}
        for group in self.param_groups:
            for p in group["params"]:
                if p in self.state:
                    state[index[id(p)]] = {
                        k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in self.state[p].items()
                    }
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (from an optimizer of
        the same kind over parameters of the same shapes, in the same order).

        Everything is checked before anything changes: a saved state with a bogus or repeated
        parameter index, or a parameter whose state lacks an entry this optimizer needs (or has
        the wrong shape), raises a ``ValueError`` naming the index and what was expected, and
        the optimizer is left as it was.
        """
        owner = f"{type(self).__name__}.load_state_dict"
        if not isinstance(state_dict, Mapping) or "state" not in state_dict or "param_groups" not in state_dict:
            raise ValueError(f"{owner}: expected a dict with 'state' and 'param_groups' keys")
        saved_groups, saved_state = state_dict["param_groups"], state_dict["state"]
        if not isinstance(saved_groups, (list, tuple)) or not all(isinstance(g, Mapping) for g in saved_groups):
            raise ValueError(
                f"{owner}: 'param_groups' must be a list of dicts (one per parameter group), got "
                f"{_describe(saved_groups)}"
            )
        if not isinstance(saved_state, Mapping):
            raise ValueError(
                f"{owner}: 'state' must be a dict {{parameter index: state dict}}, got {_describe(saved_state)}"
            )
        if len(saved_groups) != len(self.param_groups):
            raise ValueError(
                f"{owner}: the saved state has {len(saved_groups)} parameter group(s), "
                f"this optimizer has {len(self.param_groups)}"
            )
        by_index: dict[int, tuple[Tensor, dict[str, Any]]] = {}
        new_groups = []
        for i, (saved, group) in enumerate(zip(saved_groups, self.param_groups)):
            indices = saved.get("params")
            if not isinstance(indices, (list, tuple)):
                raise ValueError(
                    f"{owner}: parameter group {i} of the saved state needs 'params', a list of parameter "
                    f"indices, got {_describe(indices)}"
                )
            if len(indices) != len(group["params"]):
                raise ValueError(
                    f"{owner}: parameter group {i} has {len(indices)} parameter(s) "
                    f"in the saved state but {len(group['params'])} here"
                )
            missing = sorted(set(self.defaults) - set(saved))
            if missing:
                raise ValueError(
                    f"{owner}: parameter group {i} of the saved state lacks {missing}: "
                    f"was it saved by a different kind of optimizer?"
                )
            merged = {k: v for k, v in saved.items() if k != "params"}
            self._check_group(merged)
            merged["params"] = group["params"]
            new_groups.append(merged)
            for j, (key, p) in enumerate(zip(indices, group["params"])):
                k = _as_index(key) if not isinstance(key, str) else None
                if k is None:
                    raise ValueError(
                        f"{owner}: item {j} of parameter group {i}'s 'params' is {_describe(key)}; the saved "
                        f"param_groups must list integer parameter indices, as state_dict() writes them"
                    )
                if k in by_index:
                    raise ValueError(
                        f"{owner}: parameter index {k} is listed twice in the saved param_groups (again in "
                        f"group {i}); each index names exactly one parameter"
                    )
                by_index[k] = (p, merged)
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
                raise ValueError(
                    f"{owner}: the state of parameter {k} must be a dict of name -> value, got {_describe(values)}"
                )
            p, group = by_index[k]
            new_state[p] = self._load_parameter_state(k, p, values, group)
        self.param_groups = new_groups
        self.state = new_state

    def _state_spec(self, group: dict[str, Any]) -> dict[str, str] | None:
        """What a parameter's state holds once it has taken a step under ``group``: ``{name:
        "array" | "count"}`` (an array of the parameter's shape, or a whole number ≥ 0), all
        required; ``None`` when the optimizer does not say (then only arrays' shapes are
        checked). Subclasses that keep state override it."""
        return None

    def _load_parameter_state(
        self, k: int, p: Tensor, values: Mapping[str, Any], group: dict[str, Any]
    ) -> dict[str, Any]:
        """Check one parameter's saved state against ``_state_spec`` and return a copy of it."""
        owner = f"{type(self).__name__}.load_state_dict"
        spec = self._state_spec(group)
        if spec is not None and values:  # an empty state is a parameter that has not stepped yet
            missing = sorted(set(spec) - set(values))
            unexpected = sorted(set(values) - set(spec))
            if missing or unexpected:
                problems = ([f"lacks {missing}"] if missing else []) + (
                    [f"has unexpected {unexpected}"] if unexpected else []
                )
                raise ValueError(
                    f"{owner}: the state of parameter {k} " + " and ".join(problems)
                    + f" (it has {sorted(values)}); after a step, {type(self).__name__} keeps "
                    f"{sorted(spec)} for each parameter with these hyperparameters. Pass a state saved by "
                    f"{type(self).__name__}.state_dict()"
                )
        entry: dict[str, Any] = {}
        for name, v in values.items():
            kind = spec.get(name) if spec is not None else ("array" if isinstance(v, np.ndarray) else None)
            if kind == "array":
                try:
                    arr = np.asarray(v.data if isinstance(v, GraphTensor) else v)
                except (TypeError, ValueError):
                    arr = np.asarray(None, dtype=object)
                if arr.dtype.kind not in "iuf":
                    raise ValueError(
                        f"{owner}: state '{name}' of parameter {k} is {_describe(v)} (dtype {arr.dtype}); "
                        f"expected a float array of shape {p.data.shape}"
                    )
                if arr.shape != p.data.shape:
                    raise ValueError(
                        f"{owner}: state '{name}' of parameter {k} has shape {arr.shape}, "
                        f"but the parameter has shape {p.data.shape}"
                    )
                v = np.array(arr, dtype=p.data.dtype, copy=True)
            elif kind == "count":
                whole = isinstance(v, (int, np.integer)) or (isinstance(v, (float, np.floating)) and float(v).is_integer())
                if isinstance(v, (bool, np.bool_)) or not whole or v < 0:
                    raise ValueError(
                        f"{owner}: state '{name}' of parameter {k} must be a whole number ≥ 0 (steps "
                        f"taken), got {_describe(v)}"
                    )
                v = int(v)
            entry[name] = v
        return entry

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# --------------------------------------------------------------------------- SGD
class SGD(Optimizer):
    """Stochastic gradient descent, optionally with momentum, as PyTorch's ``torch.optim.SGD``.

    For each parameter θ with gradient g, at step t::

        g ← -g                    if maximize
        g ← g + weight_decay·θ    if weight_decay ≠ 0
        if momentum ≠ 0:
            b ← g                                   at the first step (no dampening)
            b ← momentum·b + (1 - dampening)·g      afterwards
            g ← g + momentum·b  if nesterov  else  b
        θ ← θ - lr·g

    (``maximize`` negates the gradient first, as PyTorch's implementation and current
    documentation do, so weight decay still shrinks θ when maximizing.) Nesterov needs a
    momentum and zero dampening.
    """

    def __init__(
        self,
        params: Any,
        lr: float,
        momentum: float = 0.0,
        dampening: float = 0.0,
        nesterov: bool = False,
        weight_decay: float = 0.0,
        maximize: bool = False,
    ) -> None:
        defaults = dict(
            lr=lr,
            momentum=momentum,
            dampening=dampening,
            nesterov=nesterov,
            weight_decay=weight_decay,
            maximize=maximize,
        )
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        group["momentum"] = _check_range(group["momentum"], "SGD", "momentum")
        group["dampening"] = _number(group["dampening"], "SGD", "dampening")
        if not math.isfinite(group["dampening"]):
            raise ValueError(f"SGD: dampening must be finite, got {group['dampening']}")
        group["weight_decay"] = _check_range(group["weight_decay"], "SGD", "weight_decay")
        group["nesterov"] = bool(group["nesterov"])
        group["maximize"] = bool(group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def _state_spec(self, group: dict[str, Any]) -> dict[str, str]:
        return {"momentum_buffer": "array"} if group["momentum"] != 0 else {}

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.data
        g = -grad if group["maximize"] else grad
        if group["weight_decay"] != 0:
            g = g + group["weight_decay"] * theta
        momentum = group["momentum"]
        if momentum != 0:
            buf = state.get("momentum_buffer")
            if buf is None:
                buf = state["momentum_buffer"] = np.array(g, dtype=theta.dtype, copy=True)
            else:
                buf *= momentum
                buf += (1.0 - group["dampening"]) * g
            g = g + momentum * buf if group["nesterov"] else buf
        self._write(p, theta - group["lr"] * g)


# --------------------------------------------------------------------------- Adam
class Adam(Optimizer):
    """Adam, as PyTorch's ``torch.optim.Adam`` (L2 ``weight_decay`` added to the gradient).

    For each parameter θ with gradient g, at step t = 1, 2, ...::

        g ← -g                    if maximize
        g ← g + weight_decay·θ    if weight_decay ≠ 0
        m ← β1·m + (1 - β1)·g
        v ← β2·v + (1 - β2)·g²
        m̂ = m / (1 - β1^t),  v̂ = v / (1 - β2^t)
        amsgrad: v_max ← max(v_max, v),  v̂ = v_max / (1 - β2^t)
        θ ← θ - lr·m̂ / (√v̂ + eps)

    (amsgrad keeps the running maximum of the raw v, as PyTorch's implementation and its
    current documentation do.)
    """

    _decoupled = False

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def _check_group(self, group: dict[str, Any]) -> None:
        super()._check_group(group)
        owner = type(self).__name__
        betas = group["betas"]
        if isinstance(betas, (str, bytes)) or not isinstance(betas, Iterable) or len(tuple(betas)) != 2:
            raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = tuple(betas)
        group["betas"] = (
            _check_range(beta1, owner, "betas[0]", 0.0, 1.0, high_open=True),
            _check_range(beta2, owner, "betas[1]", 0.0, 1.0, high_open=True),
        )
        group["eps"] = _check_range(group["eps"], owner, "eps")
        group["weight_decay"] = _check_range(group["weight_decay"], owner, "weight_decay")
        group["amsgrad"] = bool(group["amsgrad"])
        group["maximize"] = bool(group["maximize"])

    def _state_spec(self, group: dict[str, Any]) -> dict[str, str]:
        spec = {"step": "count", "exp_avg": "array", "exp_avg_sq": "array"}
        if group["amsgrad"]:
            spec["max_exp_avg_sq"] = "array"
        return spec

    def _update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.data
        if not state:
            state["step"] = 0
            state["exp_avg"] = np.zeros_like(theta)
            state["exp_avg_sq"] = np.zeros_like(theta)
            if group["amsgrad"]:
                state["max_exp_avg_sq"] = np.zeros_like(theta)
        lr, (beta1, beta2), eps, decay = group["lr"], group["betas"], group["eps"], group["weight_decay"]
        g = -grad if group["maximize"] else grad
        state["step"] += 1
        t = state["step"]
        if decay != 0:
            if self._decoupled:
                theta = theta * (1.0 - lr * decay)
            else:
                g = g + decay * theta
        m, v = state["exp_avg"], state["exp_avg_sq"]
        m *= beta1
        m += (1.0 - beta1) * g
        v *= beta2
        v += (1.0 - beta2) * (g * g)
        bias1 = 1.0 - beta1**t
        bias2_sqrt = math.sqrt(1.0 - beta2**t)
        if group["amsgrad"]:
            v_max = state.setdefault("max_exp_avg_sq", np.zeros_like(v))
            np.maximum(v_max, v, out=v_max)
            v = v_max
        denom = np.sqrt(v) / bias2_sqrt + eps
        self._write(p, theta - (lr / bias1) * (m / denom))


class AdamW(Adam):
    """Adam with decoupled weight decay (PyTorch's ``torch.optim.AdamW``): each step first
    shrinks θ ← θ·(1 - lr·weight_decay), then takes the Adam step *without* adding
    weight_decay·θ to the gradient, so the decay is not rescaled by the moment estimates."""

    _decoupled = True

    def __init__(
        self,
        params: Any,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


# --------------------------------------------------------------------------- schedulers
class LRScheduler:
    """Base of learning-rate schedules: ``step()`` once per epoch (after ``optimizer.step()``)
    sets every group's ``lr`` to ``get_lr()`` at the new epoch count.

    Schedules are computed in closed form from each group's ``initial_lr`` (its lr when the
    scheduler was created); these equal PyTorch's recursive forms whenever the scheduler is
    the only thing changing the learning rate.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        if not isinstance(optimizer, Optimizer):
            raise TypeError(f"{type(self).__name__} needs an Optimizer, got {_describe(optimizer)}")
        if isinstance(last_epoch, bool) or not isinstance(last_epoch, (int, np.integer)) or last_epoch < -1:
            raise ValueError(f"{type(self).__name__}: last_epoch must be an integer ≥ -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        elif any("initial_lr" not in group for group in optimizer.param_groups):
            raise ValueError(
                f"{type(self).__name__}: resuming with last_epoch={last_epoch} needs 'initial_lr' in every "
                f"parameter group (restore the optimizer's state_dict first)"
            )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._last_lr: list[float] = [group["lr"] for group in optimizer.param_groups]
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of each group at epoch ``last_epoch`` (subclasses)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set each group's lr."""
        self.last_epoch += 1
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (save that with its own ``state_dict``)."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a schedule saved by :meth:`state_dict`."""
        self.__dict__.update({k: (list(v) if isinstance(v, list) else v) for k, v in state_dict.items()})


class StepLR(LRScheduler):
    """lr = initial_lr · gamma^⌊epoch / step_size⌋: decay by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        if isinstance(step_size, bool) or not isinstance(step_size, (int, np.integer)) or step_size < 1:
            raise ValueError(f"StepLR: step_size must be a positive integer, got {step_size!r}")
        self.step_size = int(step_size)
        self.gamma = _check_range(gamma, "StepLR", "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = initial_lr · gamma^epoch: decay by ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = _check_range(gamma, "ExponentialLR", "gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min)·(1 + cos(π·epoch / T_max)) / 2.

    Falls from the initial lr to ``eta_min`` over ``T_max`` epochs, then (as PyTorch) rises
    again along the same cosine if stepped further.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:  # noqa: N803
        if isinstance(T_max, bool) or not isinstance(T_max, (int, np.integer)) or T_max < 1:
            raise ValueError(f"CosineAnnealingLR: T_max must be a positive integer, got {T_max!r}")
        self.T_max = int(T_max)
        self.eta_min = _check_range(eta_min, "CosineAnnealingLR", "eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        phase = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * phase for base in self.base_lrs]


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class OptimizerSpec:
    """One optimizer for the test tables: its class and keyword arguments that make a
    reasonable test run (hyperparameters not at their defaults where that exercises more)."""

    cls: type[Optimizer]
    kwargs: dict[str, Any] = field(default_factory=dict)


OPTIMIZERS: dict[str, OptimizerSpec] = {
    "sgd": OptimizerSpec(SGD, {"lr": 0.1, "momentum": 0.9}),
    "adam": OptimizerSpec(Adam, {"lr": 0.05}),
    "adamw": OptimizerSpec(AdamW, {"lr": 0.05, "weight_decay": 0.1}),
}
"""Every optimizer by name; the test-suite runs each entry through its shared checks."""
