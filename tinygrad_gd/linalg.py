"""``tg.linalg``: differentiable linear algebra, as ``numpy.linalg`` / ``torch.linalg`` name it.

Thin calls into the ops in ``tinygrad_gd/ops/linalg.py`` (``Inv``, ``Solve``, ``Det``,
``LogAbsDet``, ``Cholesky``, ``Eigh``) and the vector ``Norm``; the singular-value matrix norms are
built from ``eigh``. Every function
takes batches of matrices (leading axes) where numpy does. Gradients follow PyTorch:
``cholesky`` and ``eigh`` read one triangle but return the symmetric gradient; ``eigh``'s
eigenvector gradient has a 1/(λⱼ − λᵢ) factor, so it is unbounded where eigenvalues (nearly)
coincide, and only meaningful for functions that do not depend on the eigenvectors' signs.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import _backend, _validate
from . import ops as _ops
from ._typing import Axis, TensorLike
from .tensor import Tensor

__all__ = ["inv", "solve", "det", "slogdet", "cholesky", "eigh", "norm"]


def _matrix(a: TensorLike, what: str) -> Tensor:
    t = _validate.as_tensor(a, what)
    _ops.linalg.check_square(t.data, what)
    return t


def inv(a: TensorLike) -> Tensor:
    """A⁻¹ (batched); a singular matrix raises ``LinAlgError``. dA = −A⁻ᵀ G A⁻ᵀ."""
    return _ops.Inv.apply(_matrix(a, "inv"))


def solve(a: TensorLike, b: TensorLike) -> Tensor:
    """X with A X = B: B a vector (n,) or matrices (..., n, k) (numpy 2's rule). Both get
    gradients: dB = A⁻ᵀ G, dA = −dB Xᵀ."""
    a = _matrix(a, "solve")
    return _ops.Solve.apply(a, _validate.as_tensor(b, "solve's b"))


def det(a: TensorLike) -> Tensor:
    """det A (batched). dA = G·det A·A⁻ᵀ, so the gradient needs an invertible A."""
    return _ops.Det.apply(_matrix(a, "det"))


def slogdet(a: TensorLike) -> tuple[Tensor, Tensor]:
    """(sign, log |det A|), numpy's and torch's slogdet: the sign is a constant (no grad);
    d log|det A| = G·A⁻ᵀ."""
    a = _matrix(a, "slogdet")
    sign = Tensor(_ops.linalg.linalg_of(a.data).slogdet(a.data)[0])
    return sign, _ops.LogAbsDet.apply(a)


def cholesky(a: TensorLike) -> Tensor:
    """The lower-triangular L with L Lᵀ = A for a symmetric positive-definite A (only its
    lower triangle is read, as numpy); the gradient is symmetric, as PyTorch's."""
    return _ops.Cholesky.apply(_matrix(a, "cholesky"))


def eigh(a: TensorLike) -> tuple[Tensor, Tensor]:
    """(eigenvalues ascending, eigenvectors as columns) of a symmetric A, torch.linalg.eigh
    (the lower triangle is read). Each eigenvector is signed so that its largest entry is
    positive. Both results are differentiable; the eigenvector gradient carries
    1/(λⱼ − λᵢ): with repeated or nearly equal eigenvalues it is unbounded (as PyTorch's)."""
    packed = _ops.Eigh.apply(_matrix(a, "eigh"))
    return packed[..., 0, :], packed[..., 1:, :]


_MATRIX_ORDS = (None, "fro", "nuc", 1, -1, 2, -2, np.inf, -np.inf)


def norm(x: TensorLike, ord: Any = None, axis: Axis = None, keepdims: bool = False) -> Tensor:  # noqa: A002
    """numpy's np.linalg.norm. Vector norms (a 1-D x, or an int axis): ord None or 2, 1, inf,
    -inf, 0 (the count of nonzeros, no gradient) or any p > 0. Matrix norms (a 2-D x, or a
    2-tuple axis): 'fro' (None), 'nuc' (Σσ), 2 / -2 (largest / smallest singular value),
    1 / -1 (max / min column Σ|x|), inf / -inf (max / min row Σ|x|). With axis None and ord
    None any x gives the 2-norm of all its entries. Gradients at 0 as PyTorch (0)."""
    t = _validate.as_tensor(x, "norm's x")
    if axis is None:
        if ord is None:
            return t.norm(None, axis=None, keepdims=keepdims)
        if t.ndim not in (1, 2):
            raise ValueError(f"norm: ord={ord!r} with axis=None needs a 1-D or 2-D tensor, got shape {t.shape}; pass axis")
        axis = tuple(range(t.ndim))
    axes = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    if len(axes) == 1:
        return _vector_norm(t, ord, axes[0], keepdims)
    if len(axes) != 2:
        raise ValueError(f"norm: axis={axis!r} must be one axis (a vector norm) or two (a matrix norm)")
    return _matrix_norm(t, ord, axes, keepdims)


def _vector_norm(t: Tensor, ord: Any, axis: int, keepdims: bool) -> Tensor:  # noqa: A002
    if ord is None or ord in (1, 2, np.inf, -np.inf) and not isinstance(ord, str):
        return t.norm(ord, axis=axis, keepdims=keepdims)
    if isinstance(ord, str) or not np.isfinite(float(ord)) or float(ord) < 0:
        raise ValueError(f"norm: ord={ord!r} is not a vector norm; use None, 1, 2, inf, -inf, 0 or a p > 0")
    if ord == 0:
        xp = _ops.xp_of(t.data)
        return Tensor(xp.sum(_backend.astype(t.data != 0, t.data.dtype), axis=axis, keepdims=keepdims))
    p = float(ord)
    return (t.abs() ** p).sum(axis=axis, keepdims=keepdims) ** (1.0 / p)


def _matrix_norm(t: Tensor, ord: Any, axes: tuple[int, ...], keepdims: bool) -> Tensor:  # noqa: A002
    if not any(ord is o or (not isinstance(ord, str) and ord == o) for o in _MATRIX_ORDS) and ord not in ("fro", "nuc"):
        raise ValueError(f"norm: ord={ord!r} is not a matrix norm; use 'fro', 'nuc', 1, -1, 2, -2, inf or -inf")
    rows, cols = (_validate.axis(a, t.ndim, "norm axis", t.shape) for a in axes)
    if rows == cols:
        raise ValueError(f"norm: the two axes of a matrix norm must differ, got {axes}")
    if ord is None or ord == "fro":
        return t.norm(None, axis=(rows, cols), keepdims=keepdims)
    if ord in ("nuc", 2, -2):
        return _singular_value_norm(t, ord, rows, cols, keepdims)
    if ord in (np.inf, -np.inf):
        rows, cols = cols, rows
    sums = t.norm(1, axis=rows, keepdims=True)  # Σ|x| down each column (rows summed)
    out = sums.norm(np.inf if ord > 0 else -np.inf, axis=cols, keepdims=True)
    return out if keepdims else out.squeeze((rows, cols))


def _singular_value_norm(t: Tensor, ord: Any, rows: int, cols: int, keepdims: bool) -> Tensor:  # noqa: A002
    """'nuc' (Σσ), 2 (σ_max), -2 (σ_min): the singular values are the square roots of the
    eigenvalues of the smaller Gram matrix (A Aᵀ or Aᵀ A), so the norm is built from ``eigh``
    and differentiates to any order (distinct singular values; like PyTorch's, the gradient
    is unbounded where two coincide or, for 'nuc' and -2, where one is 0)."""
    a = t.moveaxis((rows, cols), (-2, -1))
    m, n = a.shape[-2:]
    gram = a @ a.swapaxes(-1, -2) if m <= n else a.swapaxes(-1, -2) @ a
    sigma = eigh(gram)[0].clip(0.0).sqrt()  # ascending; clip: rounding can give -1e-17
    out = sigma.sum(axis=-1) if ord == "nuc" else sigma[..., -1] if ord == 2 else sigma[..., 0]
    if keepdims:
        out = out.reshape(tuple(1 if i in (rows, cols) else s for i, s in enumerate(t.shape)))
    return out

