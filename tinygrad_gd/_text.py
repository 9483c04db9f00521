"""Plain-text output of the command line: aligned tables, sparkline curves, numbers, JSON, and
streams that survive terminals without ▁▂▃."""

from __future__ import annotations

import json
import math
import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from .viz import sparkline

__all__ = ["CLIError", "out", "table", "print_table", "curve_line", "num", "print_json", "tolerant_streams"]


class CLIError(Exception):
    """A problem the command reports as one line on stderr; ``code`` is the exit status
    (2: usage or input error, 1: a failed check or a diverged run)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


def out(*parts: Any) -> None:
    print(*parts)


def table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    """Lines of a table: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def fmt(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(w) for cell, w in zip(cells[1:], widths[1:])]
        return (indent + "  ".join([first, *rest])).rstrip()

    return [fmt(header)] + [fmt(r) for r in rows]


def print_table(header: list[str], rows: list[list[str]], indent: str = "  ") -> None:
    for line in table(header, rows, indent):
        out(line)


def curve_line(values: Sequence[float], width: int = 40) -> str:
    """``first ▇▅▃▂▁ last``: a loss curve on a log scale, in one line."""
    if not values:
        return "(no steps)"
    return f"{values[0]:.3g} {sparkline(values, width=width)} {values[-1]:.3g}"


def num(x: float, digits: int = 6) -> str:
    return f"{x:.{digits}g}"


def _json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, inf) become null; numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


def print_json(value: dict[str, Any]) -> int:
    """Print ``value`` as one line of JSON (NaN/inf as null); returns exit status 0."""
    print(json.dumps(_json_safe(value)))
    return 0


def tolerant_streams() -> None:
    """On a terminal that cannot show ▁▂▃ or Σ, print '?' instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            "▁█Σŷ²‖".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(errors="replace")
