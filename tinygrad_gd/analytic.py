"""Hand-derived gradient formulas: what a learner derives on paper, written in plain numpy.

Nothing here uses autodiff. These are the formulas of the tutorials this project grew from
(the README's Background), so that autodiff can be checked against them and they against autodiff
(see :func:`tinygrad_gd.compare_gradients`). Each function states its cost function J and
returns ``(dw, db)``: ``dJ/dw`` shaped like ``w`` and ``dJ/db`` shaped like ``b``.

Two conventions for the squared error appear in the tutorials this project grew from and must not be mixed:

* the step-by-step tutorial and the beginner's article: J = 1/N Σ (y − ŷ)²      → dJ/dw = 2/N Σ xᵢ (ŷᵢ − yᵢ)  (a factor 2)
* the update-rule tutorial:      J = 1/(2m) Σ (ŷ − y)²   → dJ/dw = 1/m Σ xᵢ (ŷᵢ − yᵢ)  (no factor 2)

They differ by exactly a factor of 2. The shape forms accepted by every linear-model
function here (ŷ = X w + b):

=====================  ===========  ===========  ==================================
X                      w            y            notes
=====================  ===========  ===========  ==================================
``(N,)``               scalar       ``(N,)``     the step-by-step tutorial and the beginner's article: one feature, ŷ = w x + b
``(N, d)``             ``(d,)``     ``(N,)``     the usual vector form
``(m, n)``             ``(n, 1)``   ``(m, 1)``   the update-rule tutorial's column form (also ``(n, k)``)
=====================  ===========  ===========  ==================================

``b`` is a scalar (or any shape that broadcasts onto ŷ without changing its shape). ``y``
must have exactly the shape of ŷ: a ``(N, 1)`` target against a ``(N,)`` prediction raises
a ``ValueError`` instead of silently broadcasting to ``(N, N)``. Everything is computed in
float64; means are taken over all elements of ŷ (N for a single output).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ._typing import ArrayLike, TensorLike

__all__ = [
    "linreg_mse_grad",
    "linreg_half_mse_grad",
    "linreg_mse_grad_loop",
    "logreg_bce_grad",
    "ridge_mse_grad",
    "gradient_descent",
    "linreg_mse_hessian",
    "linreg_half_mse_hessian",
    "largest_stable_lr",
]

GradFn = Callable[[Any, Any, Any, Any], tuple[Any, Any]]


# --------------------------------------------------------------------------- helpers
def _as_float_array(value: Any, name: str) -> np.ndarray:
    data = getattr(value, "data", value)  # a Tensor: use its array (no autodiff here)
    try:
        arr = np.asarray(data, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be numbers (a number, list or numpy array), got {type(value).__name__}"
        ) from None
    return arr


def _linear_model(X: Any, y: Any, w: Any, b: Any) -> tuple[np.ndarray, ...]:
    """Validate shapes and return float64 ``X, y, w, b`` and the prediction ``ŷ = X w + b``."""
    X = _as_float_array(X, "X")
    y = _as_float_array(y, "y")
    w = _as_float_array(w, "w")
    b = _as_float_array(b, "b")
    if w.ndim == 0:
        # the step-by-step tutorial and the beginner's article: ŷ = w·x + b elementwise, one shared weight.
        linear = X * w
        form = "w * x"
    elif w.ndim in (1, 2):
        if X.ndim != 2:
            raise ValueError(
                f"X has shape {X.shape} but w has shape {w.shape}: a vector or column w needs a "
                f"2-D X of shape (N, {w.shape[0]}) (one row per sample). For one feature use a "
                f"scalar w with 1-D x, or X.reshape(-1, 1)."
            )
        if X.shape[1] != w.shape[0]:
            raise ValueError(
                f"X has shape {X.shape} (d = {X.shape[1]} features) but w has shape {w.shape} "
                f"({w.shape[0]} weights): X @ w needs X.shape[1] == w.shape[0]."
            )
        linear = X @ w
        form = "X @ w"
    else:
        raise ValueError(f"w must be a scalar, a vector (d,) or a column (d, k), got shape {w.shape}")
    if linear.size == 0:
        raise ValueError(f"the dataset is empty (X has shape {X.shape}): the mean over 0 samples is undefined")
    try:
        grown = np.broadcast_shapes(linear.shape, b.shape) != linear.shape
    except ValueError:
        grown = True
    if grown:
        raise ValueError(
            f"b has shape {b.shape}, which does not fit the predictions {form} of shape "
            f"{linear.shape}: b must be a scalar (or broadcast onto {linear.shape} without "
            f"changing it)."
        )
    prediction = linear + b
    if y.shape != prediction.shape:
        raise ValueError(
            f"y has shape {y.shape} but the predictions {form} + b have shape "
            f"{prediction.shape}: they must match exactly (numpy would silently broadcast "
            f"them to {_broadcast_or_none(y.shape, prediction.shape)}). Reshape y, e.g. "
            f"y.reshape({', '.join(str(n) for n in prediction.shape) or '()'}), or pass w "
            f"with a matching shape."
        )
    return X, y, w, b, prediction


def _broadcast_or_none(a: tuple[int, ...], b: tuple[int, ...]) -> str:
    try:
        return str(np.broadcast_shapes(a, b))
    except ValueError:
        return "an error"


def _sum_to_shape(values: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """Sum ``values`` down to ``shape`` (the gradient of broadcasting a parameter)."""
    extra = values.ndim - len(shape)
    axes = tuple(range(extra)) + tuple(i + extra for i, n in enumerate(shape) if n == 1)
    return values.sum(axis=axes, keepdims=True).reshape(shape) if axes else values.reshape(shape)


def _like(value: np.ndarray, reference: np.ndarray) -> Any:
    """``value`` shaped like ``reference``; a 0-d reference gives a numpy float."""
    if reference.ndim == 0:
        return np.float64(value)
    return np.asarray(value, dtype=np.float64).reshape(reference.shape)


def _linear_grads(X: np.ndarray, w: np.ndarray, b: np.ndarray, signal: np.ndarray, scale: float) -> tuple[Any, Any]:
    """``dw = scale · Xᵀ signal`` and ``db = scale · Σ signal`` in the parameters' shapes."""
    if w.ndim == 0:
        dw = scale * np.sum(X * signal)
    else:
        dw = scale * (X.T @ signal)
    db = scale * _sum_to_shape(signal, b.shape)
    return _like(dw, w), _like(db, b)


# --------------------------------------------------------------------------- linear regression
def linreg_mse_grad(X: TensorLike, y: TensorLike, w: TensorLike, b: TensorLike) -> tuple[Any, Any]:
    """Gradient of the mean squared error of a linear model (the step-by-step tutorial and the beginner's article).

    Cost: J(w, b) = 1/N Σᵢ (yᵢ − (xᵢ·w + b))²

        dJ/dw = −2/N Σᵢ xᵢ (yᵢ − ŷᵢ) = 2/N Xᵀ(ŷ − y)
        dJ/db = −2/N Σᵢ (yᵢ − ŷᵢ)    = 2/N Σᵢ (ŷᵢ − yᵢ)

    Accepts 1-D ``x`` with scalar ``w``, ``X`` (N, d) with ``w`` (d,), and the update-rule tutorial's
    column shapes (``w`` (d, 1), ``y`` (N, 1)). Returns ``(dw, db)`` shaped like ``w``
    and ``b``. Raises ``ValueError`` naming the shapes when they do not fit together.

        >>> dw, db = linreg_mse_grad([1.0, 2.0], [2.0, 4.0], 0.0, 0.0)
        >>> float(dw), float(db)
        (-10.0, -6.0)
    """
    X, y, w, b, prediction = _linear_model(X, y, w, b)
    return _linear_grads(X, w, b, prediction - y, 2.0 / prediction.size)


def linreg_half_mse_grad(X: TensorLike, y: TensorLike, w: TensorLike, b: TensorLike) -> tuple[Any, Any]:
    """Gradient of half the mean squared error of a linear model (the update-rule tutorial's convention).

    Cost: J(w, b) = 1/(2m) Σᵢ (xᵢ·w + b − yᵢ)²

        dJ/dw = 1/m Xᵀ(ŷ − y)       (the 2 from the square cancels the 1/2)
        dJ/db = 1/m Σᵢ (ŷᵢ − yᵢ)

    Exactly half of :func:`linreg_mse_grad`. Same shape forms: 1-D ``x`` with scalar ``w``,
    ``X`` (m, n) with ``w`` (n,), or the update-rule tutorial's ``w`` (n, 1) with ``y`` (m, 1).

        >>> dw, db = linreg_half_mse_grad([[1.0], [2.0]], [[2.0], [4.0]], [[0.0]], 0.0)
        >>> dw.shape, float(dw[0, 0]), float(db)
        ((1, 1), -5.0, -3.0)
    """
    X, y, w, b, prediction = _linear_model(X, y, w, b)
    return _linear_grads(X, w, b, prediction - y, 1.0 / prediction.size)


def linreg_mse_grad_loop(x: Sequence[float], y: Sequence[float], w: float, b: float) -> tuple[float, float]:
    """The step-by-step tutorial's ``update_weights`` loop, returning the gradient instead of updating.

    Cost: J(w, b) = 1/N Σᵢ (yᵢ − (w xᵢ + b))²  (one feature: ``x`` and ``y`` are 1-D,
    ``w`` and ``b`` are numbers). Written one sample at a time, to be read next to the
    maths; :func:`linreg_mse_grad` computes the same thing vectorised.

        >>> linreg_mse_grad_loop([1.0, 2.0], [2.0, 4.0], 0.0, 0.0)
        (-10.0, -6.0)
    """
    if np.ndim(w) != 0 or np.ndim(b) != 0:
        raise ValueError(
            f"the loop form takes a number w and b (one feature), got shapes {np.shape(w)} and "
            f"{np.shape(b)}; use linreg_mse_grad for vector or column weights"
        )
    if np.ndim(x) != 1 or np.ndim(y) != 1 or len(x) != len(y):
        raise ValueError(
            f"x and y must be 1-D and of the same length, got shapes {np.shape(x)} and {np.shape(y)}"
        )
    n = len(x)
    if n == 0:
        raise ValueError("x is empty: the mean over 0 samples is undefined")
    w, b = float(w), float(b)
    w_deriv = 0.0
    b_deriv = 0.0
    for i in range(n):
        residual = float(y[i]) - (w * float(x[i]) + b)  # yᵢ − (w xᵢ + b)
        w_deriv += -2.0 * float(x[i]) * residual  # d/dw of the squared residual
        b_deriv += -2.0 * residual  # d/db of the squared residual
    return w_deriv / n, b_deriv / n


# --------------------------------------------------------------------------- logistic, ridge
def _stable_sigmoid(z: np.ndarray) -> np.ndarray:
    e = np.exp(-np.abs(z))  # never exponentiates a large positive number
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e))


def logreg_bce_grad(X: TensorLike, y: TensorLike, w: TensorLike, b: TensorLike) -> tuple[Any, Any]:
    """Gradient of the mean binary cross-entropy of logistic regression.

    Cost: J(w, b) = −1/m Σᵢ [yᵢ log σ(zᵢ) + (1 − yᵢ) log(1 − σ(zᵢ))],  zᵢ = xᵢ·w + b,
    σ(z) = 1/(1 + e⁻ᶻ).

        dJ/dw = 1/m Xᵀ(σ(z) − y)
        dJ/db = 1/m Σᵢ (σ(zᵢ) − yᵢ)

    (σ'(z) = σ(1 − σ) cancels the denominators of the log terms.) Targets lie in [0, 1];
    same shape forms as :func:`linreg_mse_grad`.
    """
    X, y, w, b, logits = _linear_model(X, y, w, b)
    if np.any((y < 0) | (y > 1)) or not np.all(np.isfinite(y)):
        raise ValueError(
            f"binary cross-entropy targets must lie in [0, 1], got values from {np.min(y)} to {np.max(y)}"
        )
    return _linear_grads(X, w, b, _stable_sigmoid(logits) - y, 1.0 / logits.size)


def ridge_mse_grad(X: TensorLike, y: TensorLike, w: TensorLike, b: TensorLike, lam: float) -> tuple[Any, Any]:
    """Gradient of the mean squared error plus an L2 penalty on the weights (ridge).

    Cost: J(w, b) = 1/N Σᵢ (yᵢ − (xᵢ·w + b))² + λ ‖w‖²   (the bias is not penalised)

        dJ/dw = 2/N Xᵀ(ŷ − y) + 2 λ w
        dJ/db = 2/N Σᵢ (ŷᵢ − yᵢ)

    ``lam`` (λ ≥ 0) is the penalty strength; same shape forms as :func:`linreg_mse_grad`.
    """
    lam = float(lam)
    if not np.isfinite(lam) or lam < 0:
        raise ValueError(f"lam must be a finite number >= 0 (the L2 penalty strength), got {lam}")
    X, y, w, b, prediction = _linear_model(X, y, w, b)
    dw, db = _linear_grads(X, w, b, prediction - y, 2.0 / prediction.size)
    return _like(dw + 2.0 * lam * w, w), db


# --------------------------------------------------------------------------- descent
def gradient_descent(
    X: TensorLike,
    y: TensorLike,
    w: TensorLike,
    b: TensorLike,
    grad: GradFn = linreg_half_mse_grad,
    lr: float = 0.01,
    iterations: int = 1000,
) -> tuple[Any, Any]:
    """Plain gradient descent with a hand-derived gradient, as in the update-rule tutorial.

    Repeats ``dw, db = grad(X, y, w, b)`` then ``w = w − lr·dw``, ``b = b − lr·db``:
    both partial derivatives are computed from the *current* w and b before either
    changes (the simultaneous update). Returns the final ``(w, b)`` (new arrays; the
    arguments are not modified). ``grad`` may be any function of this module with the
    ``(X, y, w, b)`` signature, e.g. ``linreg_mse_grad`` for the step-by-step tutorial's convention.

        >>> w, b = gradient_descent([[1.0], [2.0], [3.0]], [[2.0], [4.0], [6.0]], [[0.0]], 0.0)
        >>> round(float(w[0, 0]), 4), round(float(b), 4)
        (1.9026, 0.2214)
    """
    lr = float(lr)
    if not np.isfinite(lr) or lr < 0:
        raise ValueError(f"lr must be a finite number >= 0, got {lr}")
    if int(iterations) != iterations or iterations < 0:
        raise ValueError(f"iterations must be a whole number >= 0, got {iterations}")
    w = _like(_as_float_array(w, "w"), _as_float_array(w, "w"))
    b = _like(_as_float_array(b, "b"), _as_float_array(b, "b"))
    for _ in range(int(iterations)):
        dw, db = grad(X, y, w, b)
        w, b = w - lr * dw, b - lr * db
    return w, b


# --------------------------------------------------------------------------- curvature
def _design_matrix(X: Any) -> np.ndarray:
    """``X`` as a float64 (N, d) matrix: 1-D ``x`` is one feature (the form of the step-by-step tutorial and the beginner's article)."""
    X = _as_float_array(X, "X")
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    if X.ndim != 2:
        raise ValueError(
            f"X must be 1-D (one feature, scalar w) or 2-D (N, d) (one row per sample), got shape {X.shape}"
        )
    if X.shape[0] == 0:
        raise ValueError(f"the dataset is empty (X has shape {X.shape}): the mean over 0 samples is undefined")
    if not np.all(np.isfinite(X)):
        raise ValueError("X contains NaN or inf: the Hessian is undefined")
    return X


def linreg_mse_hessian(X: TensorLike) -> np.ndarray:
    """Hessian of the mean squared error of a linear model, parameters ordered ``(w, b)``.

    Cost: J(w, b) = 1/N Σᵢ (yᵢ − (xᵢ·w + b))²  (the step-by-step tutorial and the beginner's article). J is quadratic in (w, b), so
    its Hessian is a constant that depends on ``X`` only (not on y, w or b):

        H = 2/N [ XᵀX   Xᵀ1 ]
                [ 1ᵀX    N  ]

    a (d+1, d+1) matrix for ``X`` of shape (N, d) (1-D ``x`` counts as one feature; the
    update-rule tutorial's column ``w`` (d, 1) flattens to the same order). It is positive semi-definite;
    its largest eigenvalue λmax sets the largest stable learning rate 2/λmax
    (:func:`largest_stable_lr`), and one Newton step ``θ − H⁻¹∇J`` lands on the minimum.

        >>> linreg_mse_hessian([1.0, 2.0, 3.0]).round(4).tolist()
        [[9.3333, 4.0], [4.0, 2.0]]
    """
    X = _design_matrix(X)
    n, d = X.shape
    H = np.empty((d + 1, d + 1))
    H[:d, :d] = X.T @ X
    H[:d, d] = H[d, :d] = X.sum(axis=0)
    H[d, d] = n
    return 2.0 / n * H


def linreg_half_mse_hessian(X: TensorLike) -> np.ndarray:
    """Hessian of half the mean squared error (the update-rule tutorial's J = 1/(2m) Σ (ŷ − y)²), order ``(w, b)``.

        H = 1/m [ XᵀX   Xᵀ1 ]
                [ 1ᵀX    m  ]

    Exactly half of :func:`linreg_mse_hessian` (so its stable learning rates are twice as
    large: the factor 2 between the two conventions shows up in the step size too).

        >>> linreg_half_mse_hessian([[1.0], [2.0], [3.0]]).round(4).tolist()
        [[4.6667, 2.0], [2.0, 1.0]]
    """
    return 0.5 * linreg_mse_hessian(X)


def largest_stable_lr(hessian: ArrayLike, momentum: float = 0.0) -> float:
    """The learning rate above which gradient descent diverges on a quadratic with this Hessian.

    Gradient descent on J(θ) = ½ θᵀHθ + ... moves each eigen-direction of H by the factor
    (1 − lr·λ) per step: it shrinks for every direction exactly when lr < 2/λmax, and for
    lr > 2/λmax the steepest direction overshoots by more than it started with and grows
    geometrically. With heavy-ball momentum μ (PyTorch's SGD: v ← μv + g, θ ← θ − lr·v,
    0 ≤ μ < 1) the bound is 2(1 + μ)/λmax.

    ``hessian``: a symmetric (n, n) matrix (e.g. from :func:`linreg_mse_hessian` or
    ``tg.hessian``) with at least one positive eigenvalue. For a non-quadratic loss this is
    the bound near the point where the Hessian was taken.

        >>> round(largest_stable_lr(linreg_half_mse_hessian([[1.0], [2.0], [3.0]])), 4)
        0.3606
    """
    H = _as_float_array(hessian, "hessian")
    if H.ndim == 0:
        H = H.reshape(1, 1)
    if H.ndim != 2 or H.shape[0] != H.shape[1]:
        raise ValueError(f"hessian must be a square (n, n) matrix, got shape {H.shape}")
    if not np.all(np.isfinite(H)):
        raise ValueError("hessian contains NaN or inf")
    scale = float(np.max(np.abs(H))) if H.size else 0.0
    if not np.allclose(H, H.T, rtol=1e-8, atol=1e-12 * max(scale, 1.0)):
        raise ValueError(
            "hessian is not symmetric: a Hessian of a twice-differentiable function always is. "
            "Pass the full (n, n) matrix of second derivatives (tg.hessian(f)(theta) reshaped to "
            "(n, n) when theta is not a vector)."
        )
    momentum = float(momentum)
    if not 0.0 <= momentum < 1.0:
        raise ValueError(f"momentum must satisfy 0 <= momentum < 1, got {momentum}")
    lam_max = float(np.linalg.eigvalsh(H)[-1]) if H.size else 0.0
    if not lam_max > 0:
        raise ValueError(
            f"the largest eigenvalue of the Hessian is {lam_max:.3g} <= 0: there is no positive "
            f"curvature, so no learning rate bound follows from it (the loss is flat or concave there)"
        )
    return 2.0 * (1.0 + momentum) / lam_max
