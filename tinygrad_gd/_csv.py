"""Reading CSV files as they come: the delimiter and the header row detected with the ``csv``
module's ``Sniffer``, a UTF-8 byte-order mark, CRLF line ends, blank lines, quoted names,
missing cells, and text columns. Public through ``data`` (``read_csv``, ``load_csv``,
``CSVTable``, ``write_csv``); every error is a one-line :class:`DataError` that names the line,
the column and the fix."""

from __future__ import annotations

import csv
import io
import math
import os
import stat
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ._data_errors import DataError, DataFileNotFoundError

__all__ = ["CSVTable", "read_csv", "load_csv", "write_csv", "MISSING"]

MISSING = frozenset({"", "na", "n/a", "nan", "null", "none", "?"})
"""Cells that mean "no value" (compared after stripping spaces, in lower case)."""

_DELIMITERS = ",;\t|"
_SAMPLE_ROWS = 50  # rows the delimiter and header detection look at
Column = str | int


@dataclass
class CSVTable:
    """What :func:`read_csv` read: ``X`` float64 ``(n, k)``, ``y`` float64 ``(n,)``, the
    feature names, and how the file was understood: its ``delimiter``, whether it had a
    ``header`` row (without one the columns are named ``x0``, ``x1``, ...), the line numbers of
    rows ``dropped`` for a missing cell, and ``classes`` when a text target was turned into
    class ids (``classes[i]`` is the name of id ``i``). Read with ``blocksize=``, ``X`` and ``y``
    are Dask arrays over ``blocks`` blocks of the file (None when it was read into memory)."""

    X: np.ndarray
    y: np.ndarray
    features: list[str]
    target: str
    delimiter: str
    header: bool
    dropped: list[int] = field(default_factory=list)
    classes: list[str] | None = None
    blocks: int | None = None

    def notes(self) -> list[str]:
        """One line per thing a user should know about how the file was read."""
        notes = []
        if self.blocks is not None:
            notes.append(f"read lazily with dask.dataframe in {self.blocks} block(s): each pass reads the file again")
        if self.delimiter != ",":
            notes.append(f"columns separated by {_delimiter_name(self.delimiter)}")
        if not self.header:
            notes.append(f"no header row detected (the first row holds data): columns named x0..x{len(self.features)}"
                         f" by position, target {self.target}")
        if self.dropped:
            shown = ", ".join(map(str, self.dropped[:5])) + (", ..." if len(self.dropped) > 5 else "")
            notes.append(f"dropped {len(self.dropped)} row(s) with missing cells (line {shown})")
        if self.classes is not None:
            notes.append(f"target {self.target!r} holds class names, trained as ids: "
                         + ", ".join(f"{name} = {i}" for i, name in enumerate(self.classes)))
        return notes


def _delimiter_name(delimiter: str) -> str:
    return {"\t": "tabs", ";": "semicolons", "|": "bars", ",": "commas"}.get(delimiter, repr(delimiter))


# --------------------------------------------------------------------------- the file
_NOT_REGULAR = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)


def _check_csv_path(path: Path) -> None:
    """Raise unless ``path`` names something to read rows from: a regular file or a pipe."""
    try:
        mode = os.stat(path).st_mode
    except (FileNotFoundError, NotADirectoryError):
        raise DataFileNotFoundError(f"cannot read CSV {str(path)!r}: no such file") from None
    except OSError as e:
        raise DataError(f"cannot read CSV {str(path)!r}: {(e.strerror or str(e)).lower()}") from None
    if stat.S_ISDIR(mode):
        raise DataFileNotFoundError(f"cannot read CSV {str(path)!r}: a directory")
    if stat.S_ISREG(mode) or stat.S_ISFIFO(mode):  # a FIFO is read to its end, like `cat` does
        return
    kind = next((what for test, what in _NOT_REGULAR if test(mode)), "a special file")
    raise DataError(f"cannot read CSV {str(path)!r}: it is {kind}, not a regular file; give a CSV file")


def _read_text(path: Path) -> str:
    """The whole file, once (a pipe cannot be read twice); a byte-order mark is dropped."""
    try:
        with open(path, newline="", encoding="utf-8-sig") as f:
            return f.read()
    except UnicodeDecodeError as e:
        raise DataError(f"CSV {str(path)!r} is not UTF-8 text: {e.reason} at byte {e.start}") from None
    except OSError as e:  # e.g. no permission to read it
        raise DataError(f"cannot read CSV {str(path)!r}: {(e.strerror or str(e)).lower()}") from None


def _rows(text: str, delimiter: str, path: Path) -> list[tuple[int, list[str]]]:
    """(line number, cells) of every row that is not blank."""
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, skipinitialspace=True)
    try:
        return [(reader.line_num, row) for row in reader if any(cell.strip() for cell in row)]
    except csv.Error as e:
        raise DataError(f"CSV {str(path)!r} is malformed: {e}") from None


def _sniff_delimiter(text: str) -> str:
    sample = "\n".join(line for line in text.splitlines()[: 2 * _SAMPLE_ROWS] if line.strip())
    try:
        return csv.Sniffer().sniff(sample, delimiters=_DELIMITERS).delimiter
    except csv.Error:  # one column, or nothing to tell the delimiters apart
        return ","


def _check_delimiter(delimiter: str) -> str:
    delimiter = {"\\t": "\t", "tab": "\t"}.get(delimiter, delimiter)
    if len(delimiter) != 1 or delimiter in "\"\r\n":
        raise DataError(f"the delimiter must be one character such as ',' ';' or '\\t', got {delimiter!r}")
    return delimiter


# --------------------------------------------------------------------------- cells
def _is_number(cell: str) -> bool:
    try:
        float(cell)
    except ValueError:
        return False
    return True


def _is_missing(cell: str) -> bool:
    return cell.strip().lower() in MISSING


def _has_header(rows: list[tuple[int, list[str]]], text: str) -> bool:
    """A header row names the columns: its cells are text where the rows below hold numbers.
    When no column tells (every column is text), ``csv.Sniffer.has_header`` decides."""
    first = rows[0][1]
    below = [cells for _, cells in rows[1:_SAMPLE_ROWS]]
    if not any(not _is_number(c) and not _is_missing(c) for c in first):
        return False  # all numbers: that is data
    for j, cell in enumerate(first):
        column = [cells[j] for cells in below if j < len(cells) and not _is_missing(cells[j])]
        if column and all(_is_number(c) for c in column):
            return not _is_number(cell)
    if any(_is_number(c) for c in first):
        return False
    try:
        return csv.Sniffer().has_header(text[:20_000])
    except csv.Error:
        return True


def _clean_name(cell: str) -> str:
    name = cell.strip()
    if len(name) >= 2 and name[0] == name[-1] and name[0] in "\"'":
        name = name[1:-1].strip()  # quoted names lose their quotes
    return name


# --------------------------------------------------------------------------- columns
@dataclass
class _Layout:
    """The columns of a file: their names, and whether a header row gave them."""

    names: list[str]
    header: bool
    header_line: int
    path: Path

    def index(self, column: Column) -> int | None:
        if isinstance(column, str) and column in self.names:
            return self.names.index(column)
        if not self.header and (isinstance(column, int) or (isinstance(column, str) and column.isdigit())):
            k = int(column)
            return k if 0 <= k < len(self.names) else None
        return None

    def unknown(self, columns: list[Column]) -> DataError:
        where = f"CSV {str(self.path)!r}"
        if not self.header:
            last = len(self.names) - 1
            return DataError(
                f"{where} has no column(s) {columns}: it has no header row (its first row holds data), so its "
                f"columns are x0..x{last} by position; give them as x0..x{last} or 0..{last} (or add a header row)"
            )
        other = [d for d in _DELIMITERS if len(self.names) == 1 and d in self.names[0]]
        hint = f"; the header looks {other[0]!r}-separated: pass --delimiter {other[0]!r} (delimiter=)" if other else ""
        return DataError(f"{where} has no column(s) {columns}; available columns: {self.names}{hint}")


def _layout(rows: list[tuple[int, list[str]]], header: bool | None, text: str, path: Path) -> _Layout:
    if header is None:
        header = _has_header(rows, text)
    if not header:
        return _Layout([f"x{j}" for j in range(len(rows[0][1]))], False, 0, path)
    names = [_clean_name(c) for c in rows[0][1]]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise DataError(f"CSV {str(path)!r} has duplicate column names {dupes} in its header")
    return _Layout(names, True, rows[0][0], path)


def _select_columns(layout: _Layout, target: Column, features: Sequence[Column] | None) -> list[int]:
    """Column indices of the features, then the target (last)."""
    if isinstance(features, (str, int)):
        features = [features]
    wanted = [target] + (list(features) if features is not None else [])
    unknown = [c for c in wanted if layout.index(c) is None]
    if unknown:
        raise layout.unknown(unknown)
    t = layout.index(target)
    assert t is not None
    chosen = [j for j in range(len(layout.names)) if j != t] if features is None else [
        layout.index(c) for c in features]
    if t in chosen:
        raise DataError(f"target column {layout.names[t]!r} is also listed as a feature; remove it from features")
    if not chosen:
        raise DataError(f"CSV {str(layout.path)!r} has no feature columns besides the target {layout.names[t]!r}")
    return [int(j) for j in chosen if j is not None] + [t]


# --------------------------------------------------------------------------- values
@dataclass
class _Cells:
    """Turns the cells of one file into numbers, with errors that say where and what to do."""

    layout: _Layout
    columns: list[int]  # features, then the target

    def fail(self, line: int, j: int, problem: str) -> DataError:
        return DataError(f"CSV {str(self.layout.path)!r} line {line}, column {self.layout.names[j]!r}: {problem}")

    def missing(self, line: int, j: int, cell: str) -> DataError:
        what = "an empty cell" if not cell.strip() else repr(cell.strip())
        return self.fail(line, j, f"{what} is a missing value; fill it in, or skip the rows with missing cells "
                                  "with --drop-missing (drop_missing=True)")

    def number(self, cell: str, line: int, j: int) -> float:
        try:
            value = float(cell)
        except ValueError:
            raise self._text_cell(cell, line, j) from None
        if not math.isfinite(value):
            raise self.fail(line, j, f"{cell.strip()!r} is not a finite number; fix or drop that row")
        return value

    def _text_cell(self, cell: str, line: int, j: int) -> DataError:
        names = self.layout.names
        if j == self.columns[-1]:
            return self.fail(line, j, f"{cell.strip()!r} is not a number; a text target holds class names: "
                                      "use --model logistic to train a classifier on them")
        rest = [names[k] for k in self.columns[:-1] if k != j]
        fix = (f"exclude it with --features {','.join(rest)}" if rest
               else "it is the only feature: give numeric feature columns with --features")
        return self.fail(line, j, f"{cell.strip()!r} is not a number; {fix}")


def _check_width(cells: list[str], line: int, layout: _Layout) -> None:
    if len(cells) != len(layout.names):
        first = f"the header (line {layout.header_line})" if layout.header else "the first row"
        raise DataError(f"CSV {str(layout.path)!r} line {line}: {len(cells)} field(s) but {first} has "
                        f"{len(layout.names)}")


def _class_ids(labels: list[str]) -> tuple[np.ndarray, list[str] | None]:
    """Numbers stay numbers; text labels become ids 0..k-1 in sorted order of their names."""
    if all(_is_number(v) for v in labels):
        return np.array([float(v) for v in labels]), None
    classes = sorted(set(labels))
    lookup = {name: i for i, name in enumerate(classes)}
    return np.array([float(lookup[v]) for v in labels]), classes


# --------------------------------------------------------------------------- reading
def read_layout(
    path: Path, text: str, delimiter: str | None, header: bool | None
) -> tuple[str, list[tuple[int, list[str]]], _Layout]:
    """The delimiter (sniffed unless given), the rows of ``text`` and the file's layout
    (header, names): what the in-memory and the block-wise readers both start from."""
    delimiter = _sniff_delimiter(text) if delimiter is None else _check_delimiter(delimiter)
    rows = _rows(text, delimiter, path)
    if not rows:
        raise DataError(f"CSV {str(path)!r} is empty: expected a header row naming the columns")
    return delimiter, rows, _layout(rows, header, text, path)


def read_csv(
    path: str | os.PathLike[str],
    target: Column,
    features: Sequence[Column] | None = None,
    delimiter: str | None = None,
    *,
    header: bool | None = None,
    drop_missing: bool = False,
    class_names: bool = False,
    blocksize: int | str | None = None,
) -> CSVTable:
    """Read a CSV file into a :class:`CSVTable`.

    ``delimiter=None`` detects it (``,`` ``;`` tab or ``|``, by ``csv.Sniffer``); ``header=None``
    detects whether the first row names the columns (without a header they are ``x0``, ``x1``,
    ... and ``target``/``features`` may also be positions). ``features`` picks columns (default:
    every column but the target). Blank lines are skipped, a UTF-8 byte-order mark and CRLF
    line ends are fine, quoted names lose their quotes. A missing cell (empty, NA, NaN, null,
    ?) raises a :class:`DataError` naming its line and column unless ``drop_missing`` skips its
    row; a text feature raises one that says how to exclude it; a text target raises one
    unless ``class_names`` maps the names to class ids (sorted; ``CSVTable.classes``).

    ``blocksize`` (bytes, or text such as ``"64MB"``) reads the file lazily instead, with
    ``dask.dataframe.read_csv`` in blocks of about that size (never all in memory): ``X`` and
    ``y`` are then float64 Dask arrays (see ``_csv_dask`` for what that reader cannot check).
    """
    if blocksize is not None:
        from ._csv_dask import read_csv_lazily

        return read_csv_lazily(path, target, features, delimiter, header=header, drop_missing=drop_missing,
                               class_names=class_names, blocksize=blocksize)
    path = Path(path)
    _check_csv_path(path)
    text = _read_text(path)
    delimiter, rows, layout = read_layout(path, text, delimiter, header)
    cells = _Cells(layout, _select_columns(layout, target, features))
    values, labels, dropped = _values(rows[1:] if layout.header else rows, cells, drop_missing)
    if not values:
        left = f" left after dropping {len(dropped)} row(s) with missing cells" if dropped else ""
        raise DataError(f"CSV {str(path)!r} has {'a header but ' if layout.header else ''}no data rows{left}")
    target_cells = [cell for _, cell in labels]
    if class_names:
        y, classes = _class_ids(target_cells)
    else:
        y, classes = np.array([cells.number(cell, line, cells.columns[-1]) for line, cell in labels]), None
    names = [layout.names[j] for j in cells.columns]
    return CSVTable(np.array(values, dtype=np.float64).reshape(len(values), -1), y.astype(np.float64), names[:-1],
                    names[-1], delimiter, layout.header, dropped, classes)


def _values(rows: list[tuple[int, list[str]]], cells: _Cells, drop_missing: bool
            ) -> tuple[list[list[float]], list[tuple[int, str]], list[int]]:
    """Feature values and (line, target cell) of each row, and the lines of the rows dropped."""
    values: list[list[float]] = []
    labels: list[tuple[int, str]] = []
    dropped: list[int] = []
    for line, row in rows:
        _check_width(row, line, cells.layout)
        gap = next((j for j in cells.columns if _is_missing(row[j])), None)
        if gap is not None:
            if not drop_missing:
                raise cells.missing(line, gap, row[gap])
            dropped.append(line)
            continue
        values.append([cells.number(row[j], line, j) for j in cells.columns[:-1]])
        labels.append((line, row[cells.columns[-1]].strip()))
    return values, labels, dropped


def load_csv(
    path: str | os.PathLike[str],
    target: Column,
    features: Sequence[Column] | None = None,
    delimiter: str | None = None,
    *,
    header: bool | None = None,
    drop_missing: bool = False,
    blocksize: int | str | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """``(X, y, feature_names)`` of a CSV file: :func:`read_csv` with numbers only. With
    ``blocksize`` (e.g. ``"64MB"``) ``X`` and ``y`` are Dask arrays read in blocks of about
    that size by ``dask.dataframe.read_csv``: out of core, for ``tg.fit`` and the estimators."""
    table = read_csv(path, target, features, delimiter, header=header, drop_missing=drop_missing,
                     blocksize=blocksize)
    return table.X, table.y, table.features


def write_csv(path: str | os.PathLike[str], X: np.ndarray, y: np.ndarray, features: Sequence[str], target: str) -> None:
    """Write ``X`` (n, k) and ``y`` (n,) or (n, 1) as a CSV file with a header row."""
    X, y = np.asarray(X, dtype=np.float64), np.asarray(y).reshape(-1)
    if X.ndim != 2 or X.shape != (len(y), len(features)):
        raise DataError(f"write_csv: X must be (n, {len(features)}) for {len(features)} feature name(s) and y (n,), "
                        f"got shapes {X.shape} and {y.shape}")
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow([*features, target])
        for row, value in zip(X, y):
            writer.writerow([f"{v:.10g}" for v in row] + [f"{value:.10g}" if y.dtype.kind == "f" else str(value)])
