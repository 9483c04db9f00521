"""Reading a CSV file lazily, in blocks, with ``dask.dataframe.read_csv``: ``read_csv(...,
blocksize=)`` and ``load_csv(..., blocksize=)`` of ``data`` come here. Only the head of the
file is read up front (to detect the delimiter and the header row and to name the columns,
with the same rules as the in-memory reader); the rest stays on disk until a computation
reads it, block by block, so the file never has to fit in memory.

What differs from the in-memory reader, because it would need a pass over the whole file:
missing cells become NaN (refused by the estimators' first pass unless ``drop_missing`` drops
their rows, lazily), the dropped line numbers are not listed, and a text target (class names)
is refused. Building the arrays reads the file once, to count the rows of each block (Dask
arrays of known shape: ``to_dask_array(lengths=True)``).
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ._csv import (
    MISSING,
    Column,
    CSVTable,
    _check_csv_path,
    _select_columns,
    read_layout,
)
from ._data_errors import DataError

__all__ = ["read_csv_lazily", "HEAD_BYTES"]

HEAD_BYTES = 1 << 16
"""Bytes of the file read up front to detect its delimiter, header row and column names."""


def _head(path: Path) -> str:
    """The first whole lines of the file (up to ``HEAD_BYTES``), without a byte-order mark."""
    try:
        with open(path, "rb") as f:
            raw = f.read(HEAD_BYTES)
            more = bool(f.read(1))
    except OSError as e:
        raise DataError(f"cannot read CSV {str(path)!r}: {(e.strerror or str(e)).lower()}") from None
    if more and b"\n" in raw:
        raw = raw[: raw.rindex(b"\n") + 1]  # a row cut at the end of the sample is left out
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as e:
        raise DataError(f"CSV {str(path)!r} is not UTF-8 text: {e.reason} at byte {e.start}") from None


def _dask_dataframe() -> Any:
    try:
        import dask.dataframe
    except ImportError as e:
        raise DataError(
            f"reading a CSV in blocks needs dask.dataframe ({e}): pip install 'tinygrad-gd[dask]'"
        ) from None
    return dask.dataframe


def read_csv_lazily(
    path: str | os.PathLike[str],
    target: Column,
    features: Sequence[Column] | None,
    delimiter: str | None,
    *,
    header: bool | None,
    drop_missing: bool,
    class_names: bool,
    blocksize: int | str,
) -> CSVTable:
    """A :class:`CSVTable` whose ``X`` (n, k) and ``y`` (n,) are float64 Dask arrays over
    blocks of about ``blocksize`` bytes of the file (``"64MB"`` or a byte count)."""
    path = Path(path)
    _check_csv_path(path)
    head = _head(path)
    delimiter, rows, layout = read_layout(path, head, delimiter, header)
    columns = _select_columns(layout, target, features)
    frame = _dask_dataframe().read_csv(
        str(path), sep=delimiter, header=0 if layout.header else None, names=layout.names, blocksize=blocksize,
        skipinitialspace=True, na_values=sorted(MISSING), encoding="utf-8-sig", skip_blank_lines=True,
    )
    selected = [layout.names[j] for j in columns]
    _check_numeric(frame, selected, path, class_names)
    frame = frame[selected]
    if drop_missing:
        frame = frame.dropna()
    values = frame.to_dask_array(lengths=True).astype(np.float64)  # one pass: the rows of each block
    if values.shape[0] == 0:
        raise DataError(f"CSV {str(path)!r} has {'a header but ' if layout.header else ''}no data rows")
    table = CSVTable(values[:, :-1], values[:, -1], selected[:-1], selected[-1], delimiter, layout.header)
    table.blocks = int(frame.npartitions)
    return table


def _check_numeric(frame: Any, selected: list[str], path: Path, class_names: bool) -> None:
    """Refuse text columns (as Dask inferred them from the first block), with the fix."""
    text = [name for name in selected if frame[name].dtype.kind not in "biuf"]
    if not text:
        return
    target, rest = selected[-1], [n for n in selected[:-1] if n not in text]
    if target in text:
        why = "class names need the in-memory reader (leave --dask / blocksize= out)" if class_names else \
            "a text target holds class names: leave --dask / blocksize= out and use --model logistic"
        raise DataError(f"CSV {str(path)!r}: target column {target!r} holds text; {why}")
    fix = f"exclude {'it' if len(text) == 1 else 'them'} with --features {','.join(rest)}" if rest else \
        "give numeric feature columns with --features"
    raise DataError(f"CSV {str(path)!r}: column(s) {text} hold text, not numbers; {fix}")
