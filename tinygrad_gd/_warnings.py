"""The package's warning classes, in one place (exported at the top level); imports nothing
from the package, so any layer can use them.

``BroadcastWarning``: an op broadcast an (n, 1) column against an (n,) vector into (n, n)
(see ``_broadcast_trap.py``). ``ConvergenceWarning``: a fit that stopped without converging
(a budget ran out before the loss settled, or the answer is still far from the closed form).
Both are ``UserWarning``s (``ConvergenceWarning`` as scikit-learn's warning of that name), so
``warnings.simplefilter("error", tg.ConvergenceWarning)`` turns one into an error and
``"ignore"`` silences it.
"""

from __future__ import annotations

__all__ = ["BroadcastWarning", "ConvergenceWarning"]


class BroadcastWarning(UserWarning):
    """An (n, 1) operand met an (n,) one and broadcast to (n, n): almost always a shape bug."""


class ConvergenceWarning(UserWarning):
    """Training stopped without converging; the message says why and what to change."""


for _public in (BroadcastWarning, ConvergenceWarning):
    _public.__module__ = "tinygrad_gd"  # public as tg.<name>
