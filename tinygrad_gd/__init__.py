"""tinygrad_gd: a small, fast, trustworthy reverse-mode autodiff framework on numpy.

    >>> import tinygrad_gd as tg
    >>> w = tg.Tensor(0.5, requires_grad=True)
    >>> loss = ((tg.Tensor([1.0, 2.0]) * w - tg.Tensor([2.0, 4.0])) ** 2).mean()
    >>> loss.backward()
    >>> round(float(w.grad), 6)
    -7.5
"""

import importlib
from typing import TYPE_CHECKING, Any

from . import analytic, autograd, checking, data, linalg, losses, nn, ops, optim, sweep, train, viz
from ._broadcast_trap import allow_outer_broadcast
from ._shape_functions import chunk, einsum, one_hot, outer, split, tensordot
from ._validate import manual_seed
from ._warnings import BroadcastWarning, ConvergenceWarning
from .autograd import (
    Function,
    detect_anomaly,
    enable_grad,
    is_anomaly_enabled,
    is_grad_enabled,
    no_grad,
    set_detect_anomaly,
    set_grad_enabled,
)
from .checking import GradcheckError, compare_gradients, gradcheck, gradgradcheck, numerical_grad
from .compile import compile
from .compile import step as compile_step
from .explain import explain
from .functional import checkpoint, grad, hessian, hvp, jacobian, jvp, value_and_grad, vjp
from .minimize import minimize  # the scipy bridge (scipy is imported when it is called)
from .tensor import (
    DtypeError,
    Tensor,
    arange,
    cat,
    concatenate,
    eye,
    full,
    maximum,
    minimum,
    ones,
    ones_like,
    rand,
    randn,
    stack,
    tensor,
    where,
    zeros,
    zeros_like,
)
from .train import DivergenceError, History, fit

__version__ = "0.1.0"

__all__ = [
    "compile",
    "compile_step",
    "data",
    "nn",
    "train",
    "viz",
    "sweep",
    "fit",
    "History",
    "DivergenceError",
    "LinearRegression",
    "LogisticRegression",
    "ConvergenceWarning",
    "BroadcastWarning",
    "allow_outer_broadcast",
    "explain",
    "manual_seed",
    "plot",
    "Function",
    "DtypeError",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "value_and_grad",
    "linalg",
    "einsum",
    "tensordot",
    "outer",
    "one_hot",
    "split",
    "chunk",
    "jvp",
    "vjp",
    "checkpoint",
    "GradcheckError",
    "analytic",
    "checking",
    "compare_gradients",
    "gradcheck",
    "gradgradcheck",
    "numerical_grad",
    "Tensor",
    "arange",
    "autograd",
    "cat",
    "concatenate",
    "detect_anomaly",
    "enable_grad",
    "eye",
    "full",
    "is_anomaly_enabled",
    "is_grad_enabled",
    "maximum",
    "minimum",
    "no_grad",
    "ones",
    "ones_like",
    "losses",
    "ops",
    "optim",
    "rand",
    "randn",
    "set_detect_anomaly",
    "set_grad_enabled",
    "stack",
    "tensor",
    "where",
    "zeros",
    "zeros_like",
    "minimize",
]

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from . import plot
    from .estimators import LinearRegression, LogisticRegression

_LAZY = {"plot": "plot", "LinearRegression": "estimators", "LogisticRegression": "estimators"}
"""Attributes loaded on first use: ``tg.plot`` (it imports matplotlib only when a figure is
drawn, but waits to be asked) and the estimators (which import scikit-learn when present)."""


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        module = importlib.import_module(f".{_LAZY[name]}", __name__)
        return module if name == _LAZY[name] else getattr(module, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_LAZY))
