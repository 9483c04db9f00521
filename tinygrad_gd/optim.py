"""Optimizers (SGD, Adam, AdamW) with PyTorch's update equations, and their registry.

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

A new optimizer is one :class:`Optimizer` subclass, registered by its class keywords::

    class SignSGD(Optimizer, name="signsgd", test_kwargs={"lr": 0.05}):
        def update(self, p, grad, state, group): ...

It overrides ``update`` (one parameter's step), and where it needs to, ``check_group`` (validate
its hyperparameters) and ``state_spec`` (what ``load_state_dict`` checks). The class keywords
fill :data:`OPTIMIZERS`, which ``fit``'s name lookup, the CLI's ``--optimizer`` choices and the
test tables read. The learning-rate schedules live in ``lr_scheduler`` and are re-exported here.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from ._optimizer_checks import checked_params, checked_state_dict, gradient, param_groups
from ._validate import bounded, describe, number
from .autograd import bump_version, enable_grad
from .lr_scheduler import CosineAnnealingLR, ExponentialLR, LRScheduler, StepLR
from .tensor import Tensor

__all__ = [
    "Optimizer",
    "SGD",
    "Adam",
    "AdamW",
    "RMSprop",
    "Adagrad",
    "LRScheduler",
    "StepLR",
    "ExponentialLR",
    "CosineAnnealingLR",
    "OptimizerSpec",
    "OPTIMIZERS",
    "optimizer_names",
    "resolve",
    "unregister_optimizer",
]

Params = Iterable[Tensor] | Iterable[dict[str, Any]]
"""What an optimizer optimizes: Tensors, or parameter-group dicts ``{"params": [...], ...}``."""

_NO_GRADIENT_WARNING = (
    "{name}.step() found no gradient on any parameter, so nothing was updated: backward() was "
    "probably not called (or zero_grad() ran between backward() and step()). The usual order "
    "is zero_grad(), loss = ..., loss.backward(), step()."
)


# --------------------------------------------------------------------------- registry
@dataclass(frozen=True)
class OptimizerSpec:
    """A registered optimizer, made by subclassing :class:`Optimizer` with ``name=``.

    ``test_kwargs`` are the keyword arguments of a test run (hyperparameters off their defaults
    where that exercises more); ``variants`` are further names ``fit`` and the CLI accept for
    the class, each with the options it fixes (``"momentum"``: SGD with ``momentum=0.9``).
    """

    name: str
    cls: type[Optimizer]
    test_kwargs: Mapping[str, Any]
    variants: Mapping[str, Mapping[str, Any]]


OPTIMIZERS: dict[str, OptimizerSpec] = {}
"""Every optimizer by name, filled by subclassing; the test tables run each through the shared checks."""


def optimizer_names() -> list[str]:
    """Every name ``fit``, the estimators and the CLI accept: each optimizer and its variants, sorted."""
    return sorted(name for spec in OPTIMIZERS.values() for name in (spec.name, *spec.variants))


def resolve(name: str) -> tuple[type[Optimizer], dict[str, Any]]:
    """The class an optimizer name (any case) stands for and the options the name fixes."""
    key = name.lower() if isinstance(name, str) else None
    for spec in OPTIMIZERS.values():
        if key == spec.name:
            return spec.cls, {}
        if key in spec.variants:
            return spec.cls, dict(spec.variants[key])
    raise ValueError(f"unknown optimizer {name!r}; choose one of {optimizer_names()}")


def unregister_optimizer(name: str) -> OptimizerSpec:
    """Remove the optimizer registered as ``name`` (and its variants); returns its entry."""
    if name not in OPTIMIZERS:
        raise ValueError(f"no optimizer is registered as {name!r}; registered: {sorted(OPTIMIZERS)}")
    return OPTIMIZERS.pop(name)


def _same_class(a: type, b: type) -> bool:
    # A class defined again under the same name (a re-run notebook cell, a reloaded module)
    # replaces its old registration instead of clashing with it.
    return (a.__module__, a.__qualname__) == (b.__module__, b.__qualname__)


def _register(cls: type[Optimizer], name: str, test_kwargs: Mapping[str, Any] | None,
              variants: Mapping[str, Mapping[str, Any]] | None) -> None:
    if not isinstance(name, str) or not name or name != name.lower():
        raise ValueError(f"{cls.__name__}: name= must be a non-empty lower-case string (names are "
                         f"looked up in any case), got {name!r}")
    if not isinstance(test_kwargs, Mapping):
        raise TypeError(f"{cls.__name__}: registering name={name!r} needs test_kwargs=, the keyword "
                        f"arguments of a test run (e.g. {{'lr': 0.1}}), got {describe(test_kwargs)}")
    variants = {str(k): dict(v) for k, v in (variants or {}).items()}
    for other in OPTIMIZERS.values():
        clash = {name, *variants} & {other.name, *other.variants}
        if clash and not _same_class(other.cls, cls):
            raise ValueError(f"{cls.__name__}: the optimizer name(s) {sorted(clash)} are taken by "
                             f"{other.cls.__name__}; unregister_optimizer({other.name!r}) first")
    for old in [n for n, spec in OPTIMIZERS.items() if _same_class(spec.cls, cls)]:
        del OPTIMIZERS[old]
    OPTIMIZERS[name] = OptimizerSpec(name, cls, dict(test_kwargs), variants)


# --------------------------------------------------------------------------- base
class Optimizer:
    """Base class: parameter groups, per-parameter state, ``zero_grad``, ``step``, state dicts.

    ``params`` is an iterable of Tensors, or of dicts ``{"params": [...], "lr": ..., ...}``
    (parameter groups; keys a group leaves out take the constructor's values).
    ``state[p]`` is a dict of arrays and counters for parameter ``p``.

    A subclass registers itself with class keywords: ``name=`` (how ``fit`` and the CLI call
    it), ``test_kwargs=`` (a test run's keyword arguments) and optionally ``variants=``
    (further names with fixed options); a subclass without ``name=`` is not registered.
    """

    def __init_subclass__(
        cls,
        *,
        name: str | None = None,
        test_kwargs: Mapping[str, Any] | None = None,
        variants: Mapping[str, Mapping[str, Any]] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init_subclass__(**kwargs)
        if name is not None:
            _register(cls, name, test_kwargs, variants)
        elif test_kwargs is not None or variants is not None:
            raise TypeError(f"{cls.__name__}: test_kwargs= and variants= need a name= to register under")

    def __init__(self, params: Params, defaults: dict[str, Any]) -> None:
        self.defaults: dict[str, Any] = dict(defaults)
        self.param_groups: list[dict[str, Any]] = []
        self.state: dict[Tensor, dict[str, Any]] = {}
        self.check_group(dict(self.defaults))  # bad constructor arguments fail here, before params
        for group in param_groups(type(self).__name__, params):
            self.add_param_group(group)

    # ------------------------------------------------------------------ groups
    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group ``{"params": [...], hyperparameter: value, ...}``; missing
        hyperparameters take the constructor's values. Useful to unfreeze layers mid-training."""
        seen = {id(p) for group in self.param_groups for p in group["params"]}
        params = checked_params(type(self).__name__, param_group, seen)
        group = {**self.defaults, **{k: v for k, v in param_group.items() if k != "params"}}
        self.check_group(group)
        group["params"] = params
        self.param_groups.append(group)

    def check_group(self, group: dict[str, Any]) -> None:
        """Validate (and normalize in place) one group's hyperparameters. Subclasses extend it."""
        owner = type(self).__name__
        group["lr"] = bounded(group["lr"], f"{owner}: lr")

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
                    todo.append((p, gradient(type(self).__name__, p, index), group))
                index += 1
        if not todo:
            warnings.warn(_NO_GRADIENT_WARNING.format(name=type(self).__name__), UserWarning, stacklevel=2)
        for p, grad, group in todo:
            state = self.state.get(p)
            if state is None:
                state = self.state[p] = self.initial_state(p, group)
            self.update(p, grad, state, group)
        return loss

    def update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        """Update one parameter in place from its gradient (subclasses)."""
        raise NotImplementedError

    @staticmethod
    def write_parameter(p: Tensor, new_value: np.ndarray) -> None:
        """Store an updated value in ``p.data`` in place and bump its version counter."""
        if p.data.flags.writeable:
            np.copyto(p.data, new_value, casting="same_kind")
        else:  # e.g. a broadcast view: replace the array instead
            p.data = np.array(new_value, dtype=p.data.dtype)
        bump_version(p)

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

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        """Restore hyperparameters and state saved by :meth:`state_dict` (from an optimizer of
        the same kind over parameters of the same shapes, in the same order).

        Everything is checked before anything changes: a saved state with a bogus or repeated
        parameter index, or a parameter whose state lacks an entry this optimizer needs (or has
        the wrong shape), raises a ``ValueError`` naming the index and what was expected, and
        the optimizer is left as it was.
        """
        self.param_groups, self.state = checked_state_dict(self, state_dict)

    def initial_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        """A parameter's state before its first step: each ``"count"`` of :meth:`state_spec` at
        0 and each ``"array"`` zeros shaped like the parameter. Override it for other starting
        values, or return ``{}`` to build the state in :meth:`update` (SGD's momentum buffer
        starts as the first gradient, as PyTorch's)."""
        spec = self.state_spec(group) or {}
        return {name: 0 if kind == "count" else np.zeros_like(p.data) for name, kind in spec.items()}

    def state_spec(self, group: dict[str, Any]) -> dict[str, str] | None:
        """What a parameter's state holds once it has taken a step under ``group``: ``{name:
        "array" | "count"}`` (an array of the parameter's shape, or a whole number ≥ 0), all
        required; ``None`` when the optimizer does not say (then only arrays' shapes are
        checked). Subclasses that keep state override it."""
        return None

    def __repr__(self) -> str:
        lines = [f"{type(self).__name__} ("]
        for i, group in enumerate(self.param_groups):
            lines.append(f"Parameter Group {i}")
            for key in sorted(k for k in group if k != "params"):
                lines.append(f"    {key}: {group[key]}")
        lines.append(")")
        return "\n".join(lines)


# --------------------------------------------------------------------------- SGD
class SGD(
    Optimizer,
    name="sgd",
    test_kwargs={"lr": 0.1, "momentum": 0.9},
    variants={"momentum": {"momentum": 0.9}, "nesterov": {"momentum": 0.9, "nesterov": True}},
):
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
        params: Params,
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

    def check_group(self, group: dict[str, Any]) -> None:
        super().check_group(group)
        group["momentum"] = bounded(group["momentum"], "SGD: momentum")
        group["dampening"] = number(group["dampening"], "SGD: dampening")
        if not math.isfinite(group["dampening"]):
            raise ValueError(f"SGD: dampening must be finite, got {group['dampening']}")
        group["weight_decay"] = bounded(group["weight_decay"], "SGD: weight_decay")
        group["nesterov"] = bool(group["nesterov"])
        group["maximize"] = bool(group["maximize"])
        if group["nesterov"] and (group["momentum"] <= 0 or group["dampening"] != 0):
            raise ValueError(
                f"SGD: Nesterov momentum requires a momentum > 0 and zero dampening, got "
                f"momentum={group['momentum']}, dampening={group['dampening']}"
            )

    def state_spec(self, group: dict[str, Any]) -> dict[str, str]:
        return {"momentum_buffer": "array"} if group["momentum"] != 0 else {}

    def initial_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Any]:
        return {}  # the momentum buffer starts as the first gradient (update makes it)

    def update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
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
        self.write_parameter(p, theta - group["lr"] * g)


# --------------------------------------------------------------------------- Adam
class Adam(Optimizer, name="adam", test_kwargs={"lr": 0.05}):
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
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        defaults = dict(lr=lr, betas=betas, eps=eps, weight_decay=weight_decay, amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def check_group(self, group: dict[str, Any]) -> None:
        super().check_group(group)
        owner = type(self).__name__
        betas = group["betas"]
        if isinstance(betas, (str, bytes)) or not isinstance(betas, Iterable) or len(tuple(betas)) != 2:
            raise TypeError(f"{owner}: betas must be a pair (beta1, beta2), got {betas!r}")
        beta1, beta2 = tuple(betas)
        group["betas"] = (
            bounded(beta1, f"{owner}: betas[0]", 0.0, 1.0, high_open=True),
            bounded(beta2, f"{owner}: betas[1]", 0.0, 1.0, high_open=True),
        )
        group["eps"] = bounded(group["eps"], f"{owner}: eps")
        group["weight_decay"] = bounded(group["weight_decay"], f"{owner}: weight_decay")
        group["amsgrad"] = bool(group["amsgrad"])
        group["maximize"] = bool(group["maximize"])

    def state_spec(self, group: dict[str, Any]) -> dict[str, str]:
        spec = {"step": "count", "exp_avg": "array", "exp_avg_sq": "array"}
        if group["amsgrad"]:
            spec["max_exp_avg_sq"] = "array"
        return spec

    def update(self, p: Tensor, grad: np.ndarray, state: dict[str, Any], group: dict[str, Any]) -> None:
        theta = p.data
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
        self.write_parameter(p, theta - (lr / bias1) * (m / denom))


class AdamW(Adam, name="adamw", test_kwargs={"lr": 0.05, "weight_decay": 0.1}):
    """Adam with decoupled weight decay (PyTorch's ``torch.optim.AdamW``): each step first
    shrinks θ ← θ·(1 - lr·weight_decay), then takes the Adam step *without* adding
    weight_decay·θ to the gradient, so the decay is not rescaled by the moment estimates."""

    _decoupled = True

    # Adam's signature with weight_decay=0.01, written out so that help() and editors show the default.
    def __init__(
        self,
        params: Params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        eps: float = 1e-8,
        weight_decay: float = 0.01,
        amsgrad: bool = False,
        maximize: bool = False,
    ) -> None:
        super().__init__(params, lr, betas, eps, weight_decay, amsgrad, maximize)


# More optimizers, in their own module: they subclass Optimizer (so they are imported last) and
# register themselves like the ones above.
from ._optimizers_extra import Adagrad, RMSprop  # noqa: E402
