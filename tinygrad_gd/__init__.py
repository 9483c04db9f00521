"""tinygrad_gd: a small, fast, trustworthy reverse-mode autodiff framework on numpy.

    >>> import tinygrad_gd as tg
    >>> w = tg.Tensor(0.5, requires_grad=True)
    >>> loss = ((tg.Tensor([1.0, 2.0]) * w - tg.Tensor([2.0, 4.0])) ** 2).mean()
    >>> loss.backward()
    >>> round(float(w.grad), 6)
    -7.5
"""

from . import analytic, autograd, checking, data, losses, nn, ops, optim, sweep, train, viz
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
from .estimators import LinearRegression, LogisticRegression
from .functional import grad, hessian, hvp, jacobian, value_and_grad
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
    "Function",
    "DtypeError",
    "grad",
    "hessian",
    "hvp",
    "jacobian",
    "value_and_grad",
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
]
