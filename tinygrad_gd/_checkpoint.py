"""Checkpoint files: ``Module.save`` / ``Module.load`` as ``.npz`` archives, written
atomically and read without trusting the file.

Writing: the archive goes to a temporary file in the target's folder, is flushed to disk and
renamed over the target, so an interrupted save leaves the previous file as it was. Entries
are written one by one (never as keyword arguments), so any parameter name is safe.

Reading: only the ``.npy`` headers are read first; the caller compares the declared shapes
and dtypes with the model, and only then is any array data read (a small file that declares
a huge array allocates nothing; a damaged one raises :class:`StateDictError`). Nothing is
ever unpickled.

``nn`` re-exports :class:`StateDictError` and :class:`LoadResult`; users find them there.
"""

from __future__ import annotations

import contextlib
import math
import os
import secrets
import stat
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np

from .tensor import Tensor

__all__ = ["StateDictError", "LoadResult", "check_entries", "load_state", "save", "load"]


class StateDictError(ValueError):
    """``load_state_dict`` found missing, unexpected or mismatched entries (nothing was loaded)."""

    __module__ = "tinygrad_gd.nn"  # public as nn.StateDictError: reprs and pickles name that


class LoadResult(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped: keys the module has but the state lacks,
    and keys the state has but the module lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


LoadResult.__module__ = "tinygrad_gd.nn"  # public as nn.LoadResult (set after: NamedTuple sets its own)


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


# --------------------------------------------------------------------------- checking a state
def check_entries(
    own: Mapping[str, Tensor],
    keys: Iterable[str],
    specs: Mapping[str, tuple[tuple[int, ...], np.dtype]],
    strict: bool,
    source: str,
    owner: str,
) -> LoadResult:
    """Compare the keys of a state and the ``(shape, dtype)`` of the entries that the module
    ``owner`` owns (``own``: its state tensors by name) with the module; raise a StateDictError
    listing every problem, or return the missing and unexpected keys."""
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
            f"cannot load {source} into {owner} (nothing was changed): "
            + "; ".join(problems)
            + f". The model has keys {list(own)}; check that the state was saved from the "
            "same architecture (layer sizes and order)."
        )
    return LoadResult(missing, unexpected)


def load_state(own: Mapping[str, Tensor], state_dict: Mapping[str, Any], strict: bool, owner: str) -> LoadResult:
    """Copy the arrays of ``state_dict`` into the tensors ``own`` with the same names, once
    :func:`check_entries` has passed them all. See :meth:`Module.load_state_dict`."""
    if not isinstance(state_dict, Mapping):
        raise TypeError(
            f"load_state_dict expects a mapping of name -> array (e.g. model.state_dict()), "
            f"got {type(state_dict).__name__}"
        )
    arrays: dict[str, np.ndarray] = {}
    for name in own:
        if name in state_dict:
            value = state_dict[name]
            arrays[name] = value.data if isinstance(value, Tensor) else np.asarray(value)
    specs = {name: (arr.shape, arr.dtype) for name, arr in arrays.items()}
    result = check_entries(own, state_dict.keys(), specs, strict, "state", owner)
    _assign(own, {name: np.array(arr, dtype=own[name].dtype, copy=True) for name, arr in arrays.items()})
    return result


def _assign(own: Mapping[str, Tensor], arrays: Mapping[str, np.ndarray]) -> None:
    for name, arr in arrays.items():
        # Replace the array (not write into it) so a graph that saved the old one stays valid.
        own[name].data = arr


# --------------------------------------------------------------------------- save and load
def save(path: str | os.PathLike[str], state: Mapping[str, np.ndarray]) -> Path:
    """Write ``state`` to an ``.npz`` file atomically (``.npz`` is appended if missing);
    returns the path written. See :meth:`Module.save`."""
    path = Path(path)
    if path.suffix != ".npz":
        path = path.with_name(path.name + ".npz")
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


def load(path: str | os.PathLike[str], own: Mapping[str, Tensor], strict: bool, owner: str) -> None:
    """Load a file written by :func:`save` into the tensors ``own`` of the module ``owner``.
    Every entry's declared shape and dtype is checked before any data is read; any problem
    raises :class:`StateDictError` naming the path, with nothing changed. See :meth:`Module.load`."""
    path = _existing_checkpoint(path)
    where = repr(str(path))
    try:
        with zipfile.ZipFile(path) as archive:
            entries = _npz_headers(archive, where)
            specs = {key: (e.shape, e.dtype) for key, e in entries.items()}
            check_entries(own, entries, specs, strict, where, owner)
            arrays = {key: _read_npz_entry(archive, entries[key], t.dtype) for key, t in own.items() if key in entries}
    except StateDictError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, zlib.error, EOFError, OSError, ValueError,
            NotImplementedError, RuntimeError) as e:
        raise StateDictError(
            f"{where} is not a parameter file written by Module.save, or it is damaged: "
            f"{type(e).__name__}: {e}"
        ) from None
    _assign(own, arrays)


def _existing_checkpoint(path: str | os.PathLike[str]) -> Path:
    """``path`` (or ``path.npz``) when it names a zip archive; else the error that says why not."""
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
    return path
