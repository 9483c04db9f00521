"""Type aliases for public signatures (imports nothing from the package).

``TensorLike`` is what every public function accepts where a Tensor is meant: a Tensor, a
numpy array, a Python number or a nested list of numbers. Functions convert it with
``Tensor(value)`` (or keep a Tensor as it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Union

import numpy as np

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from .tensor import Tensor

ArrayLike = Union[np.ndarray, np.generic, float, int, bool, Sequence[Any]]  # noqa: UP007 (a runtime alias)
TensorLike = Union["Tensor", ArrayLike]  # noqa: UP007 ("Tensor" is a forward reference)
Axis = Union[int, Sequence[int], None]  # noqa: UP007
# What a backward rule computes with: an ndarray in an ordinary backward, a Tensor under
# create_graph. The ops namespace branches on which at run time, so for the type checker it
# is either (Any), named so that signatures say what is meant.
Operand = Any

__all__ = ["ArrayLike", "Axis", "Operand", "TensorLike"]
