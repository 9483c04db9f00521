"""Neural-network building blocks: ``Module``, ``Linear``, ``Sequential``, activations.

A :class:`Module` registers what is assigned to it, as PyTorch does with ``Parameter``:
a Tensor that requires grad becomes a *parameter*, a Module becomes a *child*, both in
assignment order. That is all ``parameters()``, ``state_dict()`` and ``save``/``load``
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
import zipfile
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

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
]


class StateDictError(ValueError):
    """``load_state_dict`` found missing, unexpected or mismatched entries (nothing was loaded)."""


class LoadResult(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped: keys the module has but the state lacks,
    and keys the state has but the module lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


def _as_input(x: Any) -> Tensor:
    return x if isinstance(x, Tensor) else Tensor(x)


class Module:
    """Base class of every layer and model.

    Assigning ``self.name = value`` in ``__init__`` registers ``value`` when it is a Tensor
    that requires grad (a parameter) or a Module (a child); everything else is an ordinary
    attribute. Subclasses define ``forward``; calling the module calls ``forward``.
    """

    _parameters: dict[str, Tensor]
    _modules: dict[str, Module]
    training: bool

    def __new__(cls, *args: Any, **kwargs: Any) -> Module:
        # Set up the registries here, so a subclass that forgets super().__init__() still works.
        self = super().__new__(cls)
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "training", True)
        return self

    def __init__(self) -> None:
        pass

    # ------------------------------------------------------------------ registration
    def __setattr__(self, name: str, value: Any) -> None:
        params, modules = self.__dict__["_parameters"], self.__dict__["_modules"]
        if isinstance(value, Tensor) and (value.requires_grad or name in params):
            # Re-assigning a registered parameter keeps it registered even when the new
            # tensor is frozen, so state_dict keys do not silently disappear.
            modules.pop(name, None)
            self.__dict__.pop(name, None)
            params[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            self.__dict__.pop(name, None)
            modules[name] = value
        else:
            if name in params or name in modules:
                if value is not None:
                    kind = "parameter" if name in params else "sub-module"
                    raise TypeError(
                        f"cannot assign {type(value).__name__} to {kind} {name!r}: assign a "
                        f"{'Tensor' if name in params else 'Module'} or None (or `del` it first)"
                    )
                params.pop(name, None)
                modules.pop(name, None)
            object.__setattr__(self, name, value)

    def __getattr__(self, name: str) -> Any:
        # Only called when normal lookup fails: look in the registries.
        d = self.__dict__
        if "_parameters" in d and name in d["_parameters"]:
            return d["_parameters"][name]
        if "_modules" in d and name in d["_modules"]:
            return d["_modules"][name]
        raise AttributeError(f"{type(self).__name__!r} object has no attribute {name!r}")

    def __delattr__(self, name: str) -> None:
        if name in self._parameters:
            del self._parameters[name]
        elif name in self._modules:
            del self._modules[name]
        else:
            object.__delattr__(self, name)

    def __dir__(self) -> list[str]:
        return sorted(set(super().__dir__()) | set(self._parameters) | set(self._modules))

    def register_parameter(self, name: str, value: Tensor | None) -> None:
        """Register ``value`` as a parameter even if it does not (yet) require grad."""
        if value is not None and not isinstance(value, Tensor):
            raise TypeError(f"parameter {name!r} must be a Tensor or None, got {type(value).__name__}")
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
            return
        self.__dict__.pop(name, None)
        self._modules.pop(name, None)
        self._parameters[name] = value

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
    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, tensor)`` pairs in registration order, e.g. ``("0.weight", W)``.

        A tensor shared by several modules is listed once, under its first name.
        """
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, p in module._parameters.items():
                if id(p) in seen:
                    continue
                seen.add(id(p))
                yield (f"{module_name}.{name}" if module_name else name), p

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every parameter tensor, in registration order (pass them to an optimizer)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

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
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor(np.zeros_like(p.grad.data))

    def requires_grad_(self, requires_grad: bool = True) -> Module:
        """Freeze (False) or unfreeze (True) every parameter; returns self."""
        for p in self.parameters():
            p.requires_grad_(requires_grad)
        return self

    def num_parameters(self) -> int:
        """Total number of scalar parameters."""
        return sum(p.size for p in self.parameters())

    # ------------------------------------------------------------------ state
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """``{dotted name: copy of the parameter's array}`` in registration order."""
        return OrderedDict((name, p.data.copy()) for name, p in self.named_parameters())

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy arrays from ``state_dict`` into the parameters with the same names.

        Every entry is checked before anything is written, so on failure the module is left
        unchanged and a :class:`StateDictError` lists the missing, unexpected and mismatched
        (shape or dtype) keys. ``strict=False`` tolerates missing and unexpected keys (and
        reports them in the returned ``LoadResult``), never shape or dtype mismatches. A
        value's dtype must cast to the parameter's without changing kind (float and int
        arrays load into float parameters; complex, string or object arrays do not).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict expects a mapping of name -> array (e.g. model.state_dict()), "
                f"got {type(state_dict).__name__}"
            )
        own = dict(self.named_parameters())
        missing = [k for k in own if k not in state_dict]
        unexpected = [k for k in state_dict if k not in own]
        mismatched: list[str] = []
        new_arrays: dict[str, np.ndarray] = {}
        for name, p in own.items():
            if name not in state_dict:
                continue
            value = state_dict[name]
            arr = value.data if isinstance(value, Tensor) else np.asarray(value)
            if arr.shape != p.shape:
                mismatched.append(f"{name}: shape {arr.shape} in the state, {p.shape} in the model")
            elif arr.dtype.kind not in "biuf" or not np.can_cast(arr.dtype, p.dtype, casting="same_kind"):
                mismatched.append(f"{name}: dtype {arr.dtype} in the state cannot load into {p.dtype}")
            else:
                new_arrays[name] = np.array(arr, dtype=p.dtype, copy=True)
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if mismatched:
            problems.append("mismatched: " + "; ".join(mismatched))
        if problems:
            raise StateDictError(
                f"cannot load state into {type(self).__name__} (nothing was changed): "
                + "; ".join(problems)
                + f". The model has keys {list(own)}; check that the state was saved from the "
                "same architecture (layer sizes and order)."
            )
        for name, arr in new_arrays.items():
            # Replace the array (not write into it) so a graph that saved the old one stays valid.
            own[name].data = arr
        return LoadResult(missing, unexpected)

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``state_dict()`` to an ``.npz`` file (``.npz`` is appended if missing);
        returns the path written."""
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        with open(path, "wb") as f:
            np.savez(f, **self.state_dict())
        return path

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> Module:
        """Load parameters saved by :meth:`save` into this module (same architecture);
        returns self. Never unpickles (``allow_pickle=False``)."""
        path = Path(path)
        if not path.exists() and path.suffix != ".npz" and path.with_name(path.name + ".npz").exists():
            path = path.with_name(path.name + ".npz")
        if not path.exists():
            raise FileNotFoundError(f"no saved model at {str(path)!r} (Module.save writes a .npz file)")
        if path.is_file() and not zipfile.is_zipfile(path):
            # np.load would guess "pickled data" and suggest allow_pickle: never the right advice.
            raise StateDictError(
                f"{str(path)!r} is not a parameter file written by Module.save: it is not an .npz "
                f"archive. Pass the path that Module.save returned."
            )
        try:
            with np.load(path, allow_pickle=False) as archive:
                state = {k: archive[k] for k in archive.files}
        except (ValueError, OSError) as e:
            raise StateDictError(
                f"{str(path)!r} is not a parameter file written by Module.save: {e}"
            ) from None
        self.load_state_dict(state, strict=strict)
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
            if isinstance(n, bool) or not isinstance(n, (int, np.integer)) or n < 1:
                raise ValueError(f"Linear needs a positive integer {what}, got {n!r}")
        if rng is not None and not isinstance(rng, (int, np.integer, np.random.Generator)):
            raise TypeError(f"rng must be a numpy Generator, an int seed or None, got {type(rng).__name__}")
        dtype = np.dtype(np.float64 if dtype is None else dtype)
        if dtype.kind != "f":
            raise TypeError(f"Linear parameters need a float dtype, got {dtype}")
        self.in_features, self.out_features = int(in_features), int(out_features)
        gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        bound = 1.0 / math.sqrt(self.in_features)
        w = gen.uniform(-bound, bound, size=(self.out_features, self.in_features))
        self.weight = Tensor(w.astype(dtype), requires_grad=True)
        if bias:
            b = gen.uniform(-bound, bound, size=(self.out_features,))
            self.bias = Tensor(b.astype(dtype), requires_grad=True)
        else:
            self.bias = None

    def forward(self, x: Any) -> Tensor:
        """x: (..., in_features) → (..., out_features)."""
        x = _as_input(x)
        if x.ndim == 0 or x.shape[-1] != self.in_features:
            width = x.shape[-1] if x.ndim else 1
            raise ValueError(
                f"{self!r} expects inputs whose last axis has {self.in_features} features, got an "
                f"input of shape {x.shape} (weight shape {self.weight.shape}). Reshape the input "
                f"(a single feature column is x.reshape(-1, 1)) or build "
                f"Linear({width}, {self.out_features})."
            )
        out = x @ self.weight.T
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


class ReLU(Module):
    """max(x, 0) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_input(x).relu()


class Tanh(Module):
    """tanh(x) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_input(x).tanh()


class Sigmoid(Module):
    """1 / (1 + exp(-x)) elementwise."""

    def forward(self, x: Any) -> Tensor:
        return _as_input(x).sigmoid()


class LeakyReLU(Module):
    """x for x > 0, negative_slope·x otherwise."""

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)

    def forward(self, x: Any) -> Tensor:
        return _as_input(x).leaky_relu(self.negative_slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


class Softplus(Module):
    """log(1 + exp(β·x)) / β elementwise (β = 1 by default), stable for large |x|."""

    def __init__(self, beta: float = 1.0) -> None:
        super().__init__()
        if not beta > 0:
            raise ValueError(f"Softplus needs beta > 0, got {beta}")
        self.beta = float(beta)

    def forward(self, x: Any) -> Tensor:
        x = _as_input(x)
        return x.softplus() if self.beta == 1.0 else (x * self.beta).softplus() / self.beta

    def extra_repr(self) -> str:
        return "" if self.beta == 1.0 else f"beta={self.beta}"


class Identity(Module):
    """Returns its input unchanged."""

    def forward(self, x: Any) -> Any:
        return x
