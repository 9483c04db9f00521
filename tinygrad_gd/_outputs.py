"""The command line's output files (``--plot``, ``--save``): checked before any work, written
atomically at the end.

:func:`check_outputs` runs before a command starts (so a bad path fails in a second, not after
a long training run), and :func:`writing_outputs` writes each file under a temporary name beside
its target, then renames them all into place, so a failed or interrupted run leaves no file
behind, whole or partial.
"""

from __future__ import annotations

import contextlib
import errno
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from . import plot

__all__ = ["OutputFileError", "check_outputs", "check_output_file", "save_path", "writing_outputs", "Outputs"]


class OutputFileError(Exception):
    """An output file that cannot be written; the message is one line, ready to print."""


_FILE_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)

_PILLOW_FORMATS = frozenset({"jpg", "jpeg", "tif", "tiff", "webp", "gif", "avif"})
"""Figure formats matplotlib writes through Pillow, which may lack some of them."""


def _kind_of(mode: int) -> str:
    return next((what for test, what in _FILE_KINDS if test(mode)), "not a regular file")


def _check_existing(path: str, written: str, fail: Callable[[str], None]) -> None:
    """What the user named, and what gets written, may already exist: as regular, writable files."""
    for name in dict.fromkeys([path, written]):
        try:
            mode = os.stat(name).st_mode
        except OSError:  # not there yet
            continue
        if stat.S_ISDIR(mode):
            fail("that is a folder; give a file name")
        if not stat.S_ISREG(mode):
            fail(f"that is {_kind_of(mode)}, not a regular file; give a file name")
        if not os.access(name, os.W_OK):
            fail("the file is read-only")


def check_output_file(path: str, option: str, written: str | None = None) -> None:
    """Raise an :class:`OutputFileError` naming ``path`` and the problem unless ``option``'s
    file can be written: its folder exists and accepts new files, and the name is not a folder,
    a device or a read-only file. ``written``: the name actually written, when it differs
    (``--save`` appends ``.npz``)."""

    def fail(problem: str) -> None:
        raise OutputFileError(f"{option} {path}: {problem}")

    if not path.strip():
        raise OutputFileError(f"{option}: expected a file name, got {path!r}")
    written = written or path
    target = os.path.realpath(written)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        shown = os.path.dirname(os.path.abspath(written))
        fail(f"{shown!r} is not a folder" if os.path.exists(folder) else f"the folder {shown!r} does not exist")
    _check_existing(path, written, fail)
    probe = os.path.join(folder, f".tinygrad-gd-probe-{secrets.token_hex(6)}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        reason = "it does not accept new files" if e.errno == errno.ENOENT else (e.strerror or str(e))
        fail(f"cannot create files in the folder {folder!r} ({reason})")
    else:
        os.close(fd)
        os.unlink(probe)


def _figure_formats() -> list[str]:
    """The figure file extensions matplotlib can write here (asked only when --plot is given)."""
    from matplotlib import rcParams
    from matplotlib.backend_bases import FigureCanvasBase

    formats = set(FigureCanvasBase.get_supported_filetypes())
    if shutil.which(str(rcParams["pgf.texsystem"])) is None:
        formats.discard("pgf")  # PGF output runs a TeX installation
    if formats & _PILLOW_FORMATS:
        try:
            from PIL import Image

            known = Image.registered_extensions()
            formats -= {f for f in _PILLOW_FORMATS if known.get(f".{f}") not in Image.SAVE}
        except ImportError:
            formats -= _PILLOW_FORMATS
    return sorted(formats)


def _check_plot(path: str | None) -> None:
    """``--plot``: a writable file and, when matplotlib is installed, a format it can write.
    Without matplotlib the command still runs; the figure is skipped with a note at the end
    (see :meth:`Outputs.write`)."""
    if path is None:
        return
    check_output_file(path, "--plot")
    try:
        plot.require_matplotlib()
    except plot.PlotDependencyError:
        return
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext:  # no extension: PNG
        formats = _figure_formats()
        if ext not in formats:
            raise OutputFileError(
                f"--plot {path}: cannot write a .{ext} figure; use one of "
                f"{', '.join('.' + f for f in formats)} (no extension: PNG)"
            )


def save_path(path: str) -> str:
    """The file ``nn.Module.save`` writes for ``path`` (it appends ``.npz`` when missing)."""
    p = Path(path)
    return str(p if p.suffix == ".npz" else p.with_name(p.name + ".npz"))


def check_outputs(plot: str | None, save: str | None) -> None:
    """Every output file a command will write, checked before it starts working."""
    _check_plot(plot)
    if save is not None:
        check_output_file(save, "--save", written=save_path(save) if save.strip() else None)


class Outputs:
    """Output files written under temporary names beside their targets (see
    :func:`writing_outputs`)."""

    def __init__(self, written: list[str]) -> None:
        self._staged: list[tuple[str, str, str, str]] = []
        self._written = written
        self.skipped: list[str] = []
        """One note per figure skipped because matplotlib is missing (printed at the end)."""

    def write(self, option: str, path: str, writer: Callable[[str], Any], default_suffix: str = "") -> None:
        """Call ``writer(temporary_name)``; the file moves to ``path`` when all went well.
        The temporary name ends like ``path`` (or in ``default_suffix``), so writers that go
        by the extension write the right format."""
        target = os.path.realpath(path)
        folder, name = os.path.split(target)
        suffix = os.path.splitext(name)[1] or default_suffix
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.partial{suffix}")
        self._staged.append((temp, target, option, path))
        try:
            writer(temp)
        except OSError as e:
            raise OutputFileError(f"{option} {path}: could not write it ({e.strerror or e})") from None
        except plot.PlotDependencyError as e:  # no matplotlib: the run's results still stand
            self._staged.pop()
            self.skipped.append(f"note: {option} {path} was not written: {e}")

    def commit(self) -> None:
        for temp, target, option, path in self._staged:
            try:
                os.replace(temp, target)
            except OSError as e:
                raise OutputFileError(f"{option} {path}: could not write it ({e.strerror or e})") from None
            self._written.append(path)

    def discard(self) -> None:
        for temp, *_ in self._staged:
            with contextlib.suppress(OSError):
                os.unlink(temp)


@contextlib.contextmanager
def writing_outputs(written: list[str]) -> Iterator[Outputs]:
    """Stage output files; rename them into place at the end of the block (appending each
    path to ``written``), or remove them when it fails or is interrupted (Ctrl-C): never a
    partial file."""
    outputs = Outputs(written)
    try:
        yield outputs
        outputs.commit()
    finally:
        outputs.discard()
    for note in outputs.skipped:  # after the results, so the install hint is the last word
        print(note, file=sys.stderr)
