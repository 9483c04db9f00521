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

import contextlib
import math
import os
import secrets
import stat
import zipfile
import zlib
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


# --------------------------------------------------------------------------- .npz files
def _open_temporary(target: Path) -> tuple[Path, Any]:
    """A new, empty file next to ``target`` (same folder, so the final rename stays atomic),
    opened for writing; created with the usual permissions (0o666 less the umask)."""
    for _ in range(100):
        tmp = target.with_name(f".{target.name}.{secrets.token_hex(6)}.tmp")
        try:
            return tmp, open(tmp, "xb")  # noqa: SIM115 - closed by the caller
        except FileExistsError:
            continue
    raise FileExistsError(f"could not create a temporary file next to {str(target)!r}")


def _fsync_folder(folder: Path) -> None:
    """Flush the folder entry of a rename to disk where the platform allows it (POSIX)."""
    if not hasattr(os, "O_DIRECTORY"):
        return
    with contextlib.suppress(OSError):
        fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def _write_npz(file: Any, arrays: Mapping[str, np.ndarray]) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` (what ``np.savez`` writes) without passing
    names as keyword arguments, so a name such as ``file`` or ``allow_pickle`` is just a name."""
    with zipfile.ZipFile(file, mode="w", compression=zipfile.ZIP_STORED, allowZip64=True) as archive:
        for name, array in arrays.items():
            with archive.open(f"{name}.npy", mode="w", force_zip64=True) as member:
                np.lib.format.write_array(member, np.asanyarray(array), allow_pickle=False)


class _NpyEntry(NamedTuple):
    """One array of an ``.npz`` as its ``.npy`` header declares it (no data read yet)."""

    info: zipfile.ZipInfo
    shape: tuple[int, ...]
    fortran_order: bool
    dtype: np.dtype
    data_offset: int
    nbytes: int


def _npz_headers(archive: zipfile.ZipFile, where: str) -> dict[str, _NpyEntry]:
    """Read only the ``.npy`` header of every member: the declared shapes and dtypes are checked
    before any array data is read, so a small file that declares a huge array allocates
    nothing."""
    entries: dict[str, _NpyEntry] = {}
    for info in archive.infolist():
        if info.is_dir() or not info.filename.endswith(".npy"):
            raise StateDictError(
                f"{where} is not a parameter file written by Module.save: it holds {info.filename!r}, "
                f"which is not an .npy array"
            )
        key = info.filename[: -len(".npy")]
        if key in entries:
            raise StateDictError(
                f"{where} is not a parameter file written by Module.save: it holds {info.filename!r} twice"
            )
        with archive.open(info) as member:
            version = np.lib.format.read_magic(member)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(member)
            elif version == (2, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(member)
            else:
                raise ValueError(f"member {info.filename!r} uses .npy format version {version}, which is not read")
            data_offset = member.tell()
        if dtype.hasobject:
            raise StateDictError(
                f"{where} is not a parameter file written by Module.save: {info.filename!r} holds Python "
                f"objects (dtype {dtype}), and load never unpickles"
            )
        nbytes = math.prod(shape) * dtype.itemsize
        entries[key] = _NpyEntry(info, tuple(shape), bool(fortran_order), dtype, data_offset, nbytes)
    return entries


def _read_npz_entry(archive: zipfile.ZipFile, entry: _NpyEntry, dtype: np.dtype) -> np.ndarray:
    """The array of one member (whose header already matched the model), as a new array of
    ``dtype``. The zip's CRC is checked (the member is read to its end)."""
    name = entry.info.filename
    if entry.info.file_size != entry.data_offset + entry.nbytes:
        raise ValueError(
            f"member {name!r} declares {entry.nbytes} bytes of data for shape {entry.shape} "
            f"({entry.dtype}) but holds {entry.info.file_size - entry.data_offset}: the file is truncated "
            f"or damaged"
        )
    with archive.open(entry.info) as member:
        member.read(entry.data_offset)
        raw = member.read(entry.nbytes)
        if len(raw) != entry.nbytes or member.read(1):
            raise ValueError(f"member {name!r} does not hold the {entry.nbytes} bytes its header declares")
    flat = np.frombuffer(raw, dtype=entry.dtype, count=math.prod(entry.shape))
    values = flat.reshape(entry.shape, order="F" if entry.fortran_order else "C")
    return np.array(values, dtype=dtype, copy=True)


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
            modules.pop(name, None)
            d.pop(name, None)
            (buffers if registry is params else params).pop(name, None)
            if registry is params:
                d["_non_persistent_buffers"].discard(name)
            registry[name] = value
        elif isinstance(value, Module):
            params.pop(name, None)
            buffers.pop(name, None)
            d["_non_persistent_buffers"].discard(name)
            d.pop(name, None)
            modules[name] = value
        else:
            if name in params or name in buffers or name in modules:
                if value is not None:
                    kind = "parameter" if name in params else "buffer" if name in buffers else "sub-module"
                    raise TypeError(
                        f"cannot assign {type(value).__name__} to {kind} {name!r}: assign a "
                        f"{'Module' if name in modules else 'Tensor'} or None (or `del` it first)"
                    )
                params.pop(name, None)
                buffers.pop(name, None)
                d["_non_persistent_buffers"].discard(name)
                modules.pop(name, None)
            object.__setattr__(self, name, value)

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
        self._buffers.pop(name, None)
        self._non_persistent_buffers.discard(name)
        if value is None:
            self._parameters.pop(name, None)
            object.__setattr__(self, name, None)
            return
        self.__dict__.pop(name, None)
        self._modules.pop(name, None)
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
        if tensor is None:
            self._buffers.pop(name, None)
            self._non_persistent_buffers.discard(name)
            object.__setattr__(self, name, None)
            return
        self.__dict__.pop(name, None)
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
    def _named_tensors(self, registry: str, prefix: str, recurse: bool) -> Iterator[tuple[str, Tensor]]:
        seen: set[int] = set()
        modules = self.named_modules(prefix) if recurse else iter([(prefix, self)])
        for module_name, module in modules:
            for name, t in getattr(module, registry).items():
                if id(t) in seen:
                    continue
                seen.add(id(t))
                yield (f"{module_name}.{name}" if module_name else name), t

    def named_parameters(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, tensor)`` pairs in registration order, e.g. ``("0.weight", W)``.

        A tensor shared by several modules is listed once, under its first name.
        """
        return self._named_tensors("_parameters", prefix, recurse)

    def parameters(self, recurse: bool = True) -> Iterator[Tensor]:
        """Every parameter tensor, in registration order (pass them to an optimizer)."""
        for _, p in self.named_parameters(recurse=recurse):
            yield p

    def named_buffers(self, prefix: str = "", recurse: bool = True) -> Iterator[tuple[str, Tensor]]:
        """``(dotted name, tensor)`` for every buffer (a registered Tensor that is not a
        parameter), in registration order, each tensor once."""
        return self._named_tensors("_buffers", prefix, recurse)

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
            if p.grad is None:
                continue
            if set_to_none:
                p.grad = None
            else:
                p.grad = Tensor(np.zeros_like(p.grad.data))

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
        seen: set[int] = set()
        out: OrderedDict[str, Tensor] = OrderedDict()
        for module_name, module in self.named_modules():
            skip = module._non_persistent_buffers
            for registry in (module._parameters, module._buffers):
                for name, t in registry.items():
                    if id(t) in seen or (registry is module._buffers and name in skip):
                        continue
                    seen.add(id(t))
                    out[f"{module_name}.{name}" if module_name else name] = t
        return out

    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """``{dotted name: copy of the array}`` for every parameter (frozen ones included) and
        every persistent buffer, in registration order."""
        return OrderedDict((name, t.data.copy()) for name, t in self._state_tensors().items())

    def _check_entries(
        self,
        keys: Iterable[str],
        specs: Mapping[str, tuple[tuple[int, ...], np.dtype]],
        strict: bool,
        source: str,
    ) -> tuple[OrderedDict[str, Tensor], list[str], list[str]]:
        """Compare the keys of a state and the ``(shape, dtype)`` of its entries that the module
        owns with the module; raise a StateDictError listing every problem, or return
        ``(own tensors, missing keys, unexpected keys)``."""
        own = self._state_tensors()
        keys = list(keys)
        present = set(keys)
        missing = [k for k in own if k not in present]
        unexpected = [k for k in keys if k not in own]
        mismatched: list[str] = []
        for name, t in own.items():
            if name not in specs:
                continue
            shape, dtype = specs[name]
            if tuple(shape) != tuple(t.shape):
                mismatched.append(f"{name}: shape {tuple(shape)} in the state, {t.shape} in the model")
            elif dtype.kind not in "biuf" or not np.can_cast(dtype, t.dtype, casting="same_kind"):
                mismatched.append(f"{name}: dtype {dtype} in the state cannot load into {t.dtype}")
        problems = []
        if strict and missing:
            problems.append(f"missing keys {missing}")
        if strict and unexpected:
            problems.append(f"unexpected keys {unexpected}")
        if mismatched:
            problems.append("mismatched: " + "; ".join(mismatched))
        if problems:
            raise StateDictError(
                f"cannot load {source} into {type(self).__name__} (nothing was changed): "
                + "; ".join(problems)
                + f". The model has keys {list(own)}; check that the state was saved from the "
                "same architecture (layer sizes and order)."
            )
        return own, missing, unexpected

    def load_state_dict(self, state_dict: Mapping[str, Any], strict: bool = True) -> LoadResult:
        """Copy arrays from ``state_dict`` into the parameters and buffers with the same names.

        Every entry is checked before anything is written, so on failure the module is left
        unchanged and a :class:`StateDictError` lists the missing, unexpected and mismatched
        (shape or dtype) keys. ``strict=False`` tolerates missing and unexpected keys (and
        reports them in the returned ``LoadResult``), never shape or dtype mismatches. A
        value's dtype must cast to the tensor's without changing kind (float and int
        arrays load into float parameters; complex, string or object arrays do not).
        """
        if not isinstance(state_dict, Mapping):
            raise TypeError(
                f"load_state_dict expects a mapping of name -> array (e.g. model.state_dict()), "
                f"got {type(state_dict).__name__}"
            )
        own_names = self._state_tensors()
        arrays: dict[str, np.ndarray] = {}
        for name in own_names:
            if name in state_dict:
                value = state_dict[name]
                arrays[name] = value.data if isinstance(value, Tensor) else np.asarray(value)
        specs = {name: (arr.shape, arr.dtype) for name, arr in arrays.items()}
        own, missing, unexpected = self._check_entries(state_dict.keys(), specs, strict, "state")
        self._assign({name: np.array(arr, dtype=own[name].dtype, copy=True) for name, arr in arrays.items()})
        return LoadResult(missing, unexpected)

    def _assign(self, arrays: Mapping[str, np.ndarray]) -> None:
        own = self._state_tensors()
        for name, arr in arrays.items():
            # Replace the array (not write into it) so a graph that saved the old one stays valid.
            own[name].data = arr

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write ``state_dict()`` to an ``.npz`` file (``.npz`` is appended if missing);
        returns the path written.

        Atomic: the archive is written to a temporary file in the same folder, flushed to disk,
        then renamed over ``path``, so a failed or interrupted save (disk full, Ctrl-C) leaves
        the previous file as it was and no temporary file behind. Any name is safe, including
        ``file`` or ``allow_pickle``: entries are written one by one, never as keywords.
        """
        path = Path(path)
        if path.suffix != ".npz":
            path = path.with_name(path.name + ".npz")
        state = self.state_dict()
        target = Path(os.path.realpath(path)) if path.is_symlink() else path
        folder = target.parent
        if not folder.is_dir():
            raise FileNotFoundError(
                f"cannot save to {str(path)!r}: the folder {str(folder)!r} does not exist (create it first)"
            )
        if target.is_dir():
            raise IsADirectoryError(f"cannot save to {str(path)!r}: it is a directory; pass a file name")
        tmp, f = _open_temporary(target)
        try:
            with f:
                _write_npz(f, state)
                f.flush()
                os.fsync(f.fileno())
            with contextlib.suppress(OSError):  # keep the old file's permissions
                os.chmod(tmp, stat.S_IMODE(os.stat(target).st_mode))
            os.replace(tmp, target)
        except BaseException:  # including KeyboardInterrupt: never leave the temporary file
            with contextlib.suppress(OSError):
                os.unlink(tmp)
            raise
        _fsync_folder(folder)
        return path

    def load(self, path: str | os.PathLike[str], strict: bool = True) -> Module:
        """Load parameters and buffers saved by :meth:`save` into this module (same
        architecture); returns self. Never unpickles.

        Every entry's declared shape and dtype (its ``.npy`` header) is checked against the
        module before any data is read, so a damaged file or one from another architecture
        raises a :class:`StateDictError` naming the path, and the module is left unchanged.
        """
        path = Path(path)
        if not path.exists() and path.suffix != ".npz" and path.with_name(path.name + ".npz").exists():
            path = path.with_name(path.name + ".npz")
        if not path.exists():
            raise FileNotFoundError(f"no saved model at {str(path)!r} (Module.save writes a .npz file)")
        where = repr(str(path))
        if path.is_dir():
            raise StateDictError(
                f"{where} is a directory, not a parameter file written by Module.save. Pass the path "
                f"that Module.save returned."
            )
        if not zipfile.is_zipfile(path):
            # np.load would guess "pickled data" and suggest allow_pickle: never the right advice.
            try:
                with open(path, "rb") as f:
                    empty = not f.read(1)
            except OSError:
                empty = False
            raise StateDictError(
                f"{where} is not a parameter file written by Module.save: it is not an .npz "
                f"archive{' (it is empty)' if empty else ''}. Pass the path that Module.save returned."
            )
        try:
            with zipfile.ZipFile(path) as archive:
                entries = _npz_headers(archive, where)
                specs = {key: (e.shape, e.dtype) for key, e in entries.items()}
                own, _, _ = self._check_entries(entries, specs, strict, where)
                arrays = {
                    key: _read_npz_entry(archive, entries[key], own[key].dtype) for key in own if key in entries
                }
        except StateDictError:
            raise
        except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
                NotImplementedError, RuntimeError) as e:
            raise StateDictError(
                f"{where} is not a parameter file written by Module.save, or it is damaged: "
                f"{type(e).__name__}: {e}"
            ) from None
        self._assign(arrays)
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
