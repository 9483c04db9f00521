"""The errors of ``data`` (and of the CSV reader behind it), in a module of their own so that
both import them from one place. Public as ``tg.data.DataError`` and
``tg.data.DataFileNotFoundError``."""

from __future__ import annotations

__all__ = ["DataError", "DataFileNotFoundError"]


class DataError(ValueError):
    """Bad data or data settings; the message is one line, ready to print."""


class DataFileNotFoundError(DataError, FileNotFoundError):
    """A data file that does not exist (both a :class:`DataError` and a ``FileNotFoundError``)."""


for _public in (DataError, DataFileNotFoundError):
    _public.__module__ = "tinygrad_gd.data"  # public as data.<name>: reprs and pickles say so
