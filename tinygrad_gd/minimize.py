"""``tg.minimize``: hand a loss over Tensors to ``scipy.optimize.minimize`` (L-BFGS-B, BFGS,
Newton-CG, trust regions, ...), with autodiff supplying the derivatives.

The parameters are flattened into one float64 vector x. Each evaluation writes x into the
parameters, calls ``fn()`` and returns the loss and its gradient (scipy's ``jac``); methods
that use curvature get the Hessian-vector product H·v, two backward passes with
``create_graph=True`` (``hessp``), and the two that need the whole matrix (``dogleg``,
``trust-exact``) get it from one product per column (``hess``). Writing L-BFGS by hand is not the
point: scipy's implementations are the reference ones.

scipy is an optional dependency: ``pip install tinygrad-gd[scipy]``.

    >>> import numpy as np
    >>> import tinygrad_gd as tg
    >>> w = tg.Tensor(np.zeros(2), requires_grad=True)
    >>> result = tg.minimize(lambda: ((w - np.array([1.0, -2.0])) ** 2).sum(), [w])  # doctest: +SKIP
    >>> w.data.round(6).tolist()                                                      # doctest: +SKIP
    [1.0, -2.0]
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from typing import Any

import numpy as np

from . import autograd
from ._graph_tensor import bump_version
from .autograd import enable_grad, no_grad
from .tensor import Tensor

__all__ = ["minimize", "GRADIENT_METHODS", "HESSP_METHODS", "HESS_METHODS"]

GRADIENT_METHODS = frozenset({"cg", "bfgs", "newton-cg", "l-bfgs-b", "tnc", "slsqp", "dogleg", "trust-ncg",
                              "trust-krylov", "trust-exact", "trust-constr"})
"""scipy methods that use the gradient: they get ours as ``jac`` (the others, such as
Nelder-Mead and Powell, only evaluate the loss)."""
HESSP_METHODS = frozenset({"newton-cg", "trust-ncg", "trust-krylov", "trust-constr"})
"""Methods that get our Hessian-vector product as ``hessp``."""
HESS_METHODS = frozenset({"dogleg", "trust-exact"})
"""Methods that need the whole Hessian as ``hess`` (built from one product per column)."""

_SCIPY_KEYWORDS = ("bounds", "constraints", "tol", "callback", "options")


def _scipy_minimize() -> Callable[..., Any]:
    try:
        from scipy.optimize import minimize as scipy_minimize
    except ImportError:
        raise ImportError(
            "tg.minimize hands the problem to scipy.optimize.minimize, but scipy is not installed: "
            "pip install tinygrad-gd[scipy]  (or pip install scipy)"
        ) from None
    return scipy_minimize


def _checked_params(params: Any) -> list[Tensor]:
    if hasattr(params, "parameters") and callable(params.parameters):  # a Module
        params = params.parameters()
    if isinstance(params, Tensor):
        params = [params]
    out: list[Tensor] = []
    for i, p in enumerate(params if isinstance(params, Iterable) else [params]):
        if not isinstance(p, Tensor):
            raise TypeError(f"minimize: parameter {i} must be a Tensor, got {type(p).__name__}")
        if not p.requires_grad or p.dtype.kind != "f":
            raise ValueError(f"minimize: parameter {i} (shape {p.shape}) must be a float Tensor that requires grad")
        if any(q is p for q in out):
            raise ValueError(f"minimize: parameter {i} (shape {p.shape}) is listed more than once")
        out.append(p)
    if not out:
        raise ValueError("minimize: params is empty; pass the Tensors fn() depends on (or a Module)")
    return out


class _Problem:
    """The parameters as one vector, and fn's value, gradient and curvature at a vector."""

    def __init__(self, fn: Callable[[], Any], params: list[Tensor]) -> None:
        self.fn, self.params = fn, params
        self.sizes = [p.size for p in params]

    def vector(self) -> np.ndarray:
        return np.concatenate([p.data.reshape(-1).astype(np.float64) for p in self.params])

    def write(self, x: np.ndarray) -> None:
        """x into the parameters, in place (version counters bumped: old graphs refuse to run)."""
        with no_grad():
            for p, part in zip(self.params, np.split(np.asarray(x, dtype=np.float64), np.cumsum(self.sizes)[:-1])):
                np.copyto(p.data, part.reshape(p.shape), casting="same_kind")
                bump_version(p)

    def loss(self, x: np.ndarray) -> Tensor:
        self.write(x)
        with enable_grad():
            out = self.fn()
        if not isinstance(out, Tensor) or out.size != 1:
            what = f"a Tensor of shape {out.shape}" if isinstance(out, Tensor) else type(out).__name__
            raise TypeError(f"minimize: fn() must return a one-element Tensor (the loss), got {what}")
        return out

    def flat(self, grads: tuple[Any, ...]) -> np.ndarray:
        parts = [np.zeros(n) if g is None else np.asarray(g.data, dtype=np.float64).reshape(-1)
                 for g, n in zip(grads, self.sizes)]
        return np.concatenate(parts)

    def value_and_grad(self, x: np.ndarray) -> tuple[float, np.ndarray]:
        out = self.loss(x)
        if not out.requires_grad:
            return float(out.item()), np.zeros(sum(self.sizes))
        return float(out.item()), self.flat(autograd.grad(out, self.params))

    def value(self, x: np.ndarray) -> float:
        return float(self.loss(x).item())

    def hessp(self, x: np.ndarray, v: np.ndarray) -> np.ndarray:
        """H(x)·v: the gradient with create_graph, then the gradient of ⟨∇f, v⟩."""
        out = self.loss(x)
        if not out.requires_grad:
            return np.zeros(sum(self.sizes))
        with enable_grad():
            grads = autograd.grad(out, self.params, create_graph=True)
            pieces = np.split(np.asarray(v, dtype=np.float64), np.cumsum(self.sizes)[:-1])
            terms = [(g * piece.reshape(g.shape)).sum() for g, piece in zip(grads, pieces)
                     if g is not None and g.requires_grad]
        if not terms:
            return np.zeros(sum(self.sizes))
        total = terms[0]
        for term in terms[1:]:
            total = total + term
        return self.flat(autograd.grad(total, self.params))

    def hess(self, x: np.ndarray) -> np.ndarray:
        n = sum(self.sizes)
        columns = [self.hessp(x, e) for e in np.eye(n)]
        return np.array(columns).T


def minimize(fn: Callable[[], Any], params: Any, method: str = "L-BFGS-B", **options: Any) -> Any:
    """Minimize ``fn()`` over ``params`` with ``scipy.optimize.minimize``; returns scipy's
    ``OptimizeResult`` and leaves the solution ``result.x`` in the parameters (written in place,
    their version counters bumped).

    fn: a function of no arguments that computes the loss (a one-element Tensor) from the
    parameters, as a closure for ``optimizer.step``. params: the Tensors (float, requiring
    grad) it depends on, or a Module. method: any method scipy accepts ("L-BFGS-B",
    "BFGS", "CG", "Newton-CG", "trust-ncg", "trust-krylov", "Nelder-Mead", ...): those that use
    derivatives get autodiff's gradient as ``jac``, Hessian-vector products as ``hessp``
    (:data:`HESSP_METHODS`) or the Hessian as ``hess`` (:data:`HESS_METHODS`). options:
    ``bounds``, ``constraints``, ``tol``, ``callback`` and ``options`` go to scipy as they are
    (bounds per element of the flattened parameters, in order); any other keyword
    (``maxiter=100``, ``gtol=1e-10``) goes into scipy's ``options`` dict. The parameters'
    ``.grad`` are left as they were. Raises ``ImportError`` (``pip install tinygrad-gd[scipy]``)
    without scipy.
    """
    scipy_minimize = _scipy_minimize()
    if not callable(fn):
        raise TypeError(f"minimize: fn must be a function of no arguments returning the loss, got {type(fn).__name__}")
    if not isinstance(method, str):
        raise TypeError(f"minimize: method must be a scipy method name such as 'L-BFGS-B', got {method!r}")
    problem = _Problem(fn, _checked_params(params))
    kwargs = {k: options.pop(k) for k in _SCIPY_KEYWORDS if k in options}
    if options:
        kwargs["options"] = {**kwargs.get("options", {}), **options}
    key = method.lower()
    call: Callable[[np.ndarray], Any]
    if key in GRADIENT_METHODS:
        call, kwargs["jac"] = problem.value_and_grad, True
    else:
        call = problem.value
    if key in HESSP_METHODS:
        kwargs["hessp"] = problem.hessp
    elif key in HESS_METHODS:
        kwargs["hess"] = problem.hess
    start = problem.vector()
    try:
        result = scipy_minimize(call, start, method=method, **kwargs)
    except BaseException:
        problem.write(start)  # an error (or Ctrl-C) leaves the parameters as they were
        raise
    problem.write(result.x)
    return result
