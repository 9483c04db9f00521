"""Neural-network building blocks: ``Module``, ``Linear``, ``Sequential``, activations.

A :class:`Module` registers what is assigned to it, as PyTorch does with ``Parameter`` and
``register_buffer``: a Tensor that requires grad becomes a *parameter*, any other Tensor a
*buffer* (frozen weights, running statistics, constants), a Module becomes a *child*, all in
assignment order. A name keeps its kind when it is assigned again or when its tensor's
``requires_grad`` changes later, so freezing a weight never drops it from ``state_dict()``.
That is all ``parameters()``, ``state_dict()`` (parameters and buffers) and ``save``/``load``
need::

    class TwoLayer(nn.Module):
        def __init__(self):
            super().__init__()
            self.hidden = nn.Linear(2, 16, rng=0)
            self.out = nn.Linear(16, 1, rng=1)

        def forward(self, x):
            return self.out(self.hidden(x).relu())

    model = TwoLayer()
    [name for name, _ in model.named_parameters()]
    # ['hidden.weight', 'hidden.bias', 'out.weight', 'out.bias']
"""

from __future__ import annotations

import math
import os
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any

import numpy as np

from . import _checkpoint
from ._checkpoint import LoadResult, StateDictError
from ._typing import TensorLike
from ._validate import as_tensor, generator, is_integer
from .tensor import Tensor

__all__ = [
    "Module",
    "Linear",
    "Sequential",
    "ReLU",
    "Tanh",
    "Sigmoid",
    "LeakyReLU",
    "Softplus",
    "Identity",
    "StateDictError",
    "LoadResult",
    # image and normalization layers (defined in _layers_conv.py and _layers.py)
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
    "Dropout",
    "LayerNorm",
    "BatchNorm1d",
    "Embedding",
    "conv2d",
    "max_pool2d",
    "avg_pool2d",
    "cosine_similarity",
]


class Module:
    """Base class of every layer and model.

    Assigning ``self.name = value`` in ``__init__`` registers ``value``: a Tensor that requires
    grad becomes a parameter, any other Tensor a buffer, a Module a child; everything else is
    an ordinary attribute. Re-assigning a registered name keeps its kind (a frozen tensor
    assigned to a parameter stays a parameter; a tensor assigned to a buffer stays a buffer).
    Subclasses define ``forward``; calling the module calls ``forward``.
    """

    _parameters: dict[str, Tensor]
    _buffers: dict[str, Tensor]
    _non_persistent_buffers: set[str]
    _modules: dict[str, Module]
    training: bool

    def __new__(cls, *args: Any, **kwargs: Any) -> Module:
        # Set up the registries here, so a subclass that forgets super().__init__() still works.
        self = super().__new__(cls)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "_non_persistent_buffers", set())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        return self

    def __init__(self) -> None:
        pass

    def __setstate__(self, state: dict[str, Any]) -> None:
        # Modules pickled before buffers existed have no buffer registry: give them an empty one.
        self.__dict__.update(state)
        self.__dict__.setdefault("_buffers", OrderedDict())
        self.__dict__.setdefault("_non_persistent_buffers", set())

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        d = self.__dict__
        params, buffers, modules = d["_parameters"], d["_buffers"], d["_modules"]
        if isinstance(value, Tensor):
            # The registry is decided by the name once: re-assigning a parameter keeps it a
            # parameter even when the new tensor is frozen (so state_dict keys never silently
            # disappear), and re-assigning a buffer keeps it a buffer even when the new value
            # was computed from tensors that require grad (a running statistic).
            if name in params:
                registry = params
            elif name in buffers:
                registry = buffers
            else:
                registry = params if value.requires_grad else buffers
            self._forget(name, keep=registry)
            registry[name] = value
        elif isinstance(value, Module):
            self._forget(name, keep=modules)
            modules[name] = value
        else:
            if value is not None and (name in params or name in buffers or name in modules):
                kind = "parameter" if name in params else "buffer" if name in buffers else "sub-module"
                raise TypeError(
                    f"cannot assign {type(value).__name__} to {kind} {name!r}: assign a "
                    f"{'Module' if name in modules else 'Tensor'} or None (or `del` it first)"
                )
            self._forget(name)
            object.__setattr__(self, name, value)

    def _forget(self, name: str, keep: dict[str, Any] | None = None) -> None:
        """Drop ``name`` from every registry but ``keep`` (where it keeps its place, and a
        buffer its persistence) and from the plain attributes."""
        d = self.__dict__
        for registry in (d["_parameters"], d["_buffers"], d["_modules"]):
            if registry is not keep:
                registry.pop(name, None)
        if keep is not d["_buffers"]:
            d["_non_persistent_buffers"].discard(name)
        d.pop(name, None)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        for registry in ("_parameters", "_buffers", "_modules"):
            if registry in d and name in d[registry]:
                return d[registry][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._buffers:
            del self._buffers[name]
            self._non_persistent_buffers.discard(name)
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._buffers) | set(self._modules))

    def register_parameter(self, name: str, value: Tensor | None) -> None:
        """Register ``value`` as a parameter even if it does not (yet) require grad."""
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"parameter {name!r} must be a Tensor or None, got {type(value).__name__}")
        self._forget(name, keep=None if value is None else self._parameters)
        if value is None:
            object.__setattr__(self, name, None)
        else:
            self._parameters[name] = value

    def register_buffer(self, name: str, tensor: Tensor | None, persistent: bool = True) -> None:
        """Register ``tensor`` as a buffer: saved in ``state_dict()`` (unless ``persistent=False``)
        and restored by ``load_state_dict``, but not a parameter (no optimizer updates it), even
        if it requires grad. Assigning a Tensor that needs no grad does the same."""
        if not isinstance(name, str) or not name or "." in name:
            raise KeyError(f"a buffer name must be a non-empty string without '.', got {name!r}")
        if tensor is not None and not isinstance(tensor, Tensor):
            raise TypeError(f"buffer {name!r} must be a Tensor or None, got {type(tensor).__name__}")
        if name in self._parameters or name in self._modules:
            kind = "parameter" if name in self._parameters else "sub-module"
            raise KeyError(f"{name!r} is already a {kind} of this {type(self).__name__} (`del` it first)")
        self._forget(name, keep=None if tensor is None else self._buffers)
        if tensor is None:
            object.__setattr__(self, name, None)
            return
        self._buffers[name] = tensor
        if persistent:
            self._non_persistent_buffers.discard(name)
        else:
            self._non_persistent_buffers.add(name)

    def add_module(self, name: str, module: Module) -> None:
        """Register ``module`` as a child called ``name`` (names may be digits, as in Sequential)."""
        if not isinstance(module, Module):
            raise TypeError(f"add_module needs a Module, got {type(module).__name__} for {name!r}")
        self._modules[name] = module

    # ------------------------------------------------------------------ calling
    def forward(self, *args: Any, **kwargs: Any) -> Any:
        """The computation; subclasses override it."""
        raise NotImplementedError(f"{type(self).__name__} must define forward(self, ...)")

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return self.forward(*args, **kwargs)

    # ------------------------------------------------------------------ traversal
    def _named_tensors(
        self, registries: tuple[str, ...], prefix: str = "", recurse: bool = True, persistent_only: bool = False
    ) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, tensor)`` from ``registries`` of each module in turn (pre-order),
        each tensor once, under its first name; ``persistent_only`` skips non-persistent buffers."""
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for registry in registries:
                for name, t in getattr(module, registry).items():
                    skip = persistent_only and registry == "_buffers" and name in module._non_persistent_buffers
                    if id(t) in seen or skip:
                        continue
                    seen.add(id(t))
                    yield (f"{module_name}.{name}" if module_name else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, tensor)`` pairs in registration order, e.g. ``("0.weight", W)``.

        A tensor shared by several modules is listed once, under its first name.
        """
        return self._named_tensors(("_parameters",), prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every parameter tensor, in registration order (pass them to an optimizer)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, tensor)`` for every buffer (a registered Tensor that is not a
        parameter), in registration order, each tensor once."""
        return self._named_tensors(("_buffers",), prefix, recurse)

    def buffers(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every buffer tensor, in registration order."""
        for _, b in self.named_buffers(recurse=recurse):
            yield b

    def named_children(self) -> Iterator[tuple[str, Module]]:
        """Direct sub-modules with their attribute names."""
        yield from self._modules.items()

    def children(self) -> Iterator[Module]:
        """Direct sub-modules."""
        yield from self._modules.values()

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant (pre-order, each once) with dotted names."""
        seen: set[int] = set()
        stack: list[tuple[str, Module]] = [(prefix, self)]
        while stack:
            name, module = stack.pop()
            if id(module) in seen:
                continue
            seen.add(id(module))
            yield name, module
            kids = [(f"{name}.{k}" if name else k, m) for k, m in module._modules.items()]
            stack.extend(reversed(kids))

    def modules(self) -> Iterator[Module]:
        """This module and every descendant."""
        for _, m in self.named_modules():
            yield m

    # ------------------------------------------------------------------ modes and grads
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``.training``) here and in every descendant; returns self."""
        for m in self.modules():
            object.__setattr__(m, "training", bool(mode))
        return self

    def eval(self) -> Module:
        """Same as ``train(False)``."""
        return self.train(False)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Clear every parameter's gradient (``None``, or zeros when ``set_to_none=False``)."""
        for p in self.parameters():
            if p.grad is not None:
                p.grad = None if set_to_none else Tensor(np.zeros_like(p.grad.data))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter; returns self. Frozen parameters
        stay parameters: ``state_dict()`` and ``save`` keep them."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.parameters())

    # ------------------------------------------------------------------ state
    def _state_tensors(self) -> OrderedDict[str, Tensor]:
        """What ``state_dict`` saves, as PyTorch orders it: each module's parameters, then its
        persistent buffers, then its children's; a tensor shared by several names once."""
        return OrderedDict(self._named_tensors(("_parameters", "_buffers"), persistent_only=True))

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """``{dotted name: copy of the array}`` for every parameter (frozen ones included) and
        every persistent buffer, in registration order."""
        return OrderedDict((name, t.data.copy()) for name, t in self._state_tensors().items())

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy arrays from ``state_dict`` into the parameters and buffers with the same names.

        Every entry is checked before anything is written, so on failure the module is left
        unchanged and a :class:`StateDictError` lists the missing, unexpected and mismatched
        (shape or dtype) keys. ``strict=False`` tolerates missing and unexpected keys (and
        reports them in the returned ``LoadResult``), never shape or dtype mismatches. A
        value's dtype must cast to the tensor's without changing kind (float and int
        arrays load into float parameters; complex, string or object arrays do not).
        """
        return _checkpoint.load_state(self._state_tensors(), state_dict, strict, type(self).__name__)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``state_dict()`` to an ``.npz`` file (``.npz`` is appended if missing);
        returns the path written.

        Atomic: the archive is written to a temporary file in the same folder, flushed to disk,
        then renamed over ``path``, so a failed or interrupted save (disk full, Ctrl-C) leaves
        the previous file as it was and no temporary file behind. Any name is safe, including
        ``file`` or ``allow_pickle``: entries are written one by one, never as keywords.
        """
        return _checkpoint.save(path, self.state_dict())

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> Module:
        """Load parameters and buffers saved by :meth:`save` into this module (same
        architecture); returns self. Never unpickles.

        Every entry's declared shape and dtype (its ``.npy`` header) is checked against the
        module before any data is read, so a damaged file or one from another architecture
        raises a :class:`StateDictError` naming the path, and the module is left unchanged.
        """
        _checkpoint.load(path, self._state_tensors(), strict, type(self).__name__)
        return self

    # ------------------------------------------------------------------ display
    def extra_repr(self) -> str:
        """The text inside this module's parentheses in ``repr`` (subclasses override)."""
        return ""

    def __repr__(self) -> str:
        lines = []
        for name, m in self._modules.items():
            child = repr(m).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child}")
        if not lines:
            return f"{type(self).__name__}({self.extra_repr()})"
        head = f"{type(self).__name__}({self.extra_repr()}"
        return head + "\n" + "\n".join(lines) + "\n)"


class Linear(Module):
    """y = x Wᵀ + b with ``weight`` of shape (out_features, in_features), ``bias`` (out_features,).

    Both start as U(-1/√in_features, 1/√in_features), PyTorch's default; ``rng`` (a
    ``np.random.Generator`` or an int seed) makes that reproducible. ``dtype`` defaults to
    float64.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        rng: np.random.Generator | int | None = None,
        dtype: Any = None,
    ) -> None:
        super().__init__()
        for what, n in (("in_features", in_features), ("out_features", out_features)):
            if not (is_integer(n) and n >= 1):
                raise ValueError(f"Linear needs a positive integer {what}, got {n!r}")
        gen = generator(rng)
        dtype = np.dtype(np.float64 if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear parameters need a float dtype, got {dtype}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        bound = 1.0 / math.sqrt(self.in_features)
        w = gen.uniform(-bound, bound, size=(self.out_features, self.in_features))
        self.weight = Tensor(w.astype(dtype), requires_grad=True)
        self.bias: Tensor | None
        if bias:
            b = gen.uniform(-bound, bound, size=(self.out_features,))
            self.bias = Tensor(b.astype(dtype), requires_grad=True)
        else:
            self.bias = None

    def forward(self, x: TensorLike) -> Tensor:
        """x: (..., in_features) → (..., out_features)."""
        t = as_tensor(x)
        if t.ndim == 0 or t.shape[-1] != self.in_features:
            # Rows are samples and columns features: a mismatch is almost always samples on the wrong axis.
            if t.ndim <= 1 and self.in_features == 1:
                fix = f"{t.size} samples of one feature are a column: pass x.reshape(-1, 1)"
            elif t.ndim >= 2 and t.shape[-2] == self.in_features:
                fix = (f"the features run along axis {t.ndim - 2} (one column per sample): pass the transpose "
                       f"x.T, of shape {t.shape[::-1]}")
            else:
                width = t.shape[-1] if t.ndim else 1
                fix = (f"give each sample (row) {self.in_features} feature columns, or build "
                       f"Linear({width}, {self.out_features}) for {width} features per sample")
            raise ValueError(
                f"{self!r} expects inputs whose last axis has {self.in_features} features, got an "
                f"input of shape {t.shape} (weight shape {self.weight.shape}): {fix}."
            )
        out = t @ self.weight.T
        return out if self.bias is None else out + self.bias

    def extra_repr(self) -> str:
        bias = self.bias is not None
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={bias}"


class Sequential(Module):
    """Modules applied one after another; children are named "0", "1", ...

    Supports ``len``, iteration, ``model[i]`` (a module) and ``model[i:j]`` (a Sequential).
    """

    def __init__(self, *modules: Module) -> None:
        super().__init__()
        if len(modules) == 1 and isinstance(modules[0], Mapping):
            items: Iterable[tuple[str, Any]] = modules[0].items()
        else:
            items = ((str(i), m) for i, m in enumerate(modules))
        for name, m in items:
            if not isinstance(m, Module):
                raise TypeError(
                    f"Sequential takes Modules, got {type(m).__name__} at position {name}; wrap "
                    f"plain functions in a Module subclass (or use nn.ReLU(), nn.Tanh(), ...)"
                )
            self.add_module(str(name), m)

    def forward(self, x: Any) -> Any:
        for m in self._modules.values():
            x = m(x)
        return x

    def append(self, module: Module) -> Sequential:
        """Add ``module`` at the end; returns self."""
        self.add_module(str(len(self)), module)
        return self

    def __len__(self) -> int:
        return len(self._modules)

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def __getitem__(self, index: int | slice) -> Any:
        mods = list(self._modules.values())
        if isinstance(index, slice):
            return Sequential(*mods[index])
        if not -len(mods) <= index < len(mods):
            raise IndexError(f"index {index} is out of range for a Sequential of {len(mods)} modules")
        return mods[index]


# The activations and more layers, in their own modules (they subclass Module, so they are
# imported last).
from ._activations import Identity, LeakyReLU, ReLU, Sigmoid, Softplus, Tanh  # noqa: E402
from ._layers import BatchNorm1d, Dropout, Embedding, LayerNorm, cosine_similarity  # noqa: E402
from ._layers_conv import AvgPool2d, Conv2d, Flatten, MaxPool2d, avg_pool2d, conv2d, max_pool2d  # noqa: E402
