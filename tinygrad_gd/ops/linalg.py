"""Linear algebra ops (``tg.linalg`` is their public face): inv, solve, det, log|det|,
cholesky, eigh, and the singular-value matrix norms (the vector norms are ``Norm``). All work on batches (leading axes)
as numpy's ``linalg`` does.

The rules are the classic matrix-calculus results (Giles 2008, "Collected matrix derivative
results"; Murray 2016 for the Cholesky factor), written with ``@``, ``swap_last`` and the two
dispatchers below, which call numpy on arrays and record the op on Tensors: the rules of
inv, solve, det, slogdet, cholesky and eigh are twice differentiable through
``create_graph``. The singular-value norms (nuclear, spectral) keep their SVD factors as
constants, so their second derivatives are not recorded.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .._graph_tensor import GraphTensor
from ..autograd import Function
from . import register_op, select, swap_last
from ._metadata import Case, Domain, Fuzz, OpCheck

SMALL = Domain(-1.0, 1.0)
SQUARES = (((2, 2),), ((3, 3),), ((2, 3, 3),))


def inv(a: Any) -> Any:
    """A⁻¹ of arrays (numpy) or of a Tensor (a recorded Inv)."""
    return Inv.apply(a) if isinstance(a, GraphTensor) else np.linalg.inv(a)


def solve(a: Any, b: Any) -> Any:
    """A⁻¹B of arrays (numpy) or with a Tensor among them (a recorded Solve)."""
    if isinstance(a, GraphTensor) or isinstance(b, GraphTensor):
        return Solve.apply(a, b)
    return np.linalg.solve(a, b)


def check_square(a: np.ndarray, what: str) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{what} needs square matrices (shape (..., n, n)), got shape {a.shape}")


def _linalg_error(what: str, a: np.ndarray, why: str) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"{what}: {why} (shape {a.shape}); {_FIXES[why]}")


_FIXES = {
    "the matrix is singular": "check for dependent rows, or add λI (ridge) to make it invertible",
    "the matrix is not positive definite": "cholesky needs a symmetric positive-definite matrix, e.g. XᵀX + λI",
}


# Well-conditioned sample matrices for the table: diagonally dominant, SPD, separated spectrum.
def _dominant(a: Any) -> Any:
    return a + 4.0 * np.eye(a.shape[-1], dtype=a.dtype)


def _spd(a: Any) -> Any:
    return a @ swap_last(a) + np.eye(a.shape[-1], dtype=a.dtype)


def _separated(a: Any) -> Any:
    """Symmetric, eigenvalues at least 1 apart (Gershgorin: entries in [-0.5, 0.5], diagonal 0, 4, 8, ...)."""
    n = a.shape[-1]
    return (a + swap_last(a)) * 0.25 + np.diag(4.0 * np.arange(n)).astype(a.dtype)


def _fuzz_matrix(x: Any) -> tuple[Any, Any]:
    """An SPD matrix I + 0.05·vvᵀ from the operand's values v (eigenvalues 1 and 1 + 0.05|v|²)."""
    v = x.reshape(-1)
    return v.reshape(-1, 1) * v.reshape(1, -1) * 0.05 + np.eye(v.shape[0]), v


def _fuzz_solve(a: Any, b: Any) -> Any:
    return Solve.apply(_fuzz_matrix(a)[0], b.reshape(-1)).reshape(a.shape)


# --------------------------------------------------------------------------- inverse, solve
@register_op(check=OpCheck(
    cases=(Case("inv", lambda a: Inv.apply(_dominant(a)), lambda a: np.linalg.inv(_dominant(a)), SQUARES, SMALL),),
    fuzz=(Fuzz("inv", lambda xs, s: (Inv.apply(_fuzz_matrix(xs[0])[0]) @ _fuzz_matrix(xs[0])[1]).reshape(xs[0].shape), ("bounded",)),),
))
class Inv(Function):
    """f(A) = A⁻¹;  dA = -A⁻ᵀ G A⁻ᵀ"""

    unsupported_backends = {
        "array_api_strict": 'not yet ported to the Array API namespace (the linalg extension exists in the standard; numpy, Dask and CuPy run it)',
        "dask": "numpy's linalg would compute a Dask array eagerly (dask.array.linalg needs square chunks)",
    }

    def forward(self, a):
        check_square(a, "inv")
        try:
            out = np.linalg.inv(a)
        except np.linalg.LinAlgError:
            raise _linalg_error("inv", a, "the matrix is singular") from None
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (y,) = self.saved
        yt = swap_last(y)
        return -(yt @ g @ yt)


@register_op(check=OpCheck(
    cases=(
        Case("solve", lambda a, b: Solve.apply(_dominant(a), b), lambda a, b: np.linalg.solve(_dominant(a), b), (((3, 3), (3, 2)), ((2, 2, 2), (2, 2, 1))), SMALL),
        Case("solve_vector", lambda a, b: Solve.apply(_dominant(a), b), lambda a, b: np.linalg.solve(_dominant(a), b), (((3, 3), (3,)), ((2, 3, 3), (3,))), SMALL),
    ),
    fuzz=(Fuzz("solve", lambda xs, s: _fuzz_solve(*s.common(*xs)), ("bounded", "bounded")),),
))
class Solve(Function):
    """f(A, B) = A⁻¹B (B a vector (n,) or matrices (..., n, k), numpy's rule);  dB = A⁻ᵀG, dA = -dB Xᵀ"""

    unsupported_backends = {
        "array_api_strict": 'not yet ported to the Array API namespace (the linalg extension exists in the standard; numpy, Dask and CuPy run it)',
        "dask": "numpy's linalg would compute a Dask array eagerly (dask.array.linalg needs square chunks)",
    }

    def forward(self, a, b):
        check_square(a, "solve")
        self.vector = np.ndim(b) == 1
        rows = np.shape(b)[0] if self.vector else np.shape(b)[-2] if np.ndim(b) >= 2 else None
        if rows != a.shape[-1]:
            raise ValueError(
                f"solve: A has shape {a.shape} but B has shape {np.shape(b)}; B must be (n,) or "
                f"(..., n, k) with n = {a.shape[-1]} (a batch of vectors needs a trailing axis: b[..., None])"
            )
        try:
            out = np.linalg.solve(a, b)
        except np.linalg.LinAlgError:
            raise _linalg_error("solve", a, "the matrix is singular") from None
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, x = self.saved
        if self.vector:
            g, x = g.reshape(g.shape + (1,)), x.reshape(x.shape + (1,))
        gb = solve(swap_last(a), g)
        ga = -(gb @ swap_last(x)) if self.needs_input_grad[0] else None
        return ga, (gb.reshape(gb.shape[:-1]) if self.vector else gb)


# --------------------------------------------------------------------------- determinants
@register_op(check=OpCheck(
    cases=(Case("det", lambda a: Det.apply(_dominant(a)), lambda a: np.linalg.det(_dominant(a)), SQUARES, SMALL),),
    fuzz=(Fuzz("det", lambda xs, s: Det.apply(_fuzz_matrix(xs[0])[0]), ("bounded",)),),
))
class Det(Function):
    """f(A) = det A;  dA = G·det(A)·A⁻ᵀ (A must be invertible)"""

    unsupported_backends = {
        "array_api_strict": 'not yet ported to the Array API namespace (the linalg extension exists in the standard; numpy, Dask and CuPy run it)',
        "dask": "numpy's linalg would compute a Dask array eagerly (dask.array.linalg needs square chunks)",
    }

    def forward(self, a):
        check_square(a, "det")
        out = np.asarray(np.linalg.det(a))
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, d = self.saved
        return (g * d).reshape(d.shape + (1, 1)) * swap_last(inv(a))


@register_op(check=OpCheck(
    cases=(Case("slogdet", lambda a: LogAbsDet.apply(_dominant(a) * -1.0), lambda a: np.linalg.slogdet(-_dominant(a))[1], SQUARES, SMALL),),
    fuzz=(Fuzz("slogdet", lambda xs, s: LogAbsDet.apply(_fuzz_matrix(xs[0])[0]), ("bounded",)),),
))
class LogAbsDet(Function):
    """f(A) = log |det A| (slogdet's second result);  dA = G·A⁻ᵀ"""

    unsupported_backends = {
        "array_api_strict": 'not yet ported to the Array API namespace (the linalg extension exists in the standard; numpy, Dask and CuPy run it)',
        "dask": "numpy's linalg would compute a Dask array eagerly (dask.array.linalg needs square chunks)",
    }

    def forward(self, a):
        check_square(a, "slogdet")
        self.save_for_backward(a)
        return np.asarray(np.linalg.slogdet(a)[1])

    def backward(self, g):
        (a,) = self.saved
        return g.reshape(g.shape + (1, 1)) * swap_last(inv(a))


# --------------------------------------------------------------------------- factorizations
@register_op(check=OpCheck(
    cases=(Case("cholesky", lambda a: Cholesky.apply(_spd(a)), lambda a: np.linalg.cholesky(_spd(a)), SQUARES),),
    fuzz=(Fuzz("cholesky", lambda xs, s: (Cholesky.apply(_fuzz_matrix(xs[0])[0]) @ _fuzz_matrix(xs[0])[1]).reshape(xs[0].shape), ("bounded",)),),
))
class Cholesky(Function):
    """f(A) = L, lower triangular with L Lᵀ = A;  dA = L⁻ᵀ Φ(Lᵀ G) L⁻¹, Φ(P) = the symmetric
    matrix with P's lower triangle and half its diagonal (torch's symmetric gradient)"""

    unsupported_backends = {
        "array_api_strict": 'not yet ported to the Array API namespace (the linalg extension exists in the standard; numpy, Dask and CuPy run it)',
        "dask": "numpy's linalg would compute a Dask array eagerly (dask.array.linalg needs square chunks)",
    }

    def forward(self, a):
        check_square(a, "cholesky")
        try:
            out = np.linalg.cholesky(a)
        except np.linalg.LinAlgError:
            raise _linalg_error("cholesky", a, "the matrix is not positive definite") from None
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (lower,) = self.saved
        n = lower.shape[-1]
        p = select(np.tril(np.ones((n, n), dtype=bool)), swap_last(lower) @ g)
        p = (p + swap_last(select(np.tril(np.ones((n, n), dtype=bool), -1), p))) * 0.5
        lower_inv = inv(lower)
        return swap_last(lower_inv) @ p @ lower_inv


def _eigh_packed(a: Any) -> Any:
    return Eigh.apply(_separated(a))


def _eigh_reference(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(_separated(a))
    return np.concatenate([w[..., None, :], v * _column_signs(v)], axis=-2)


def _column_signs(v: np.ndarray) -> np.ndarray:
    """+1 or -1 per eigenvector so that its entry of largest magnitude is positive."""
    biggest = np.take_along_axis(v, np.argmax(np.abs(v), axis=-2)[..., None, :], axis=-2)
    return np.where(biggest < 0, -1.0, 1.0).astype(v.dtype)


def _fuzz_eigh(x: Any, s: Any) -> Any:
    v = x.reshape(-1)[:3]
    n = v.shape[0]
    a = v.reshape(-1, 1) * v.reshape(1, -1) * 0.05 + np.diag(4.0 * np.arange(n))
    return (Eigh.apply(a) * s.constant((n + 1, n))).sum()


@register_op(check=OpCheck(
    cases=(Case("eigh", _eigh_packed, _eigh_reference, SQUARES, Domain(-0.5, 0.5)),),
    fuzz=(Fuzz("eigh", lambda xs, s: _fuzz_eigh(xs[0], s), ("bounded",)),),
))
class Eigh(Function):
    """f(A) = (w, V) of a symmetric A = V diag(w) Vᵀ (ascending w; each column of V signed so
    its largest entry is positive), packed as one (..., n + 1, n) array [w; V];
    dA = V (diag(g_w) + F ∘ ½(VᵀG_V − G_Vᵀ V)) Vᵀ with F_ij = 1/(w_j − w_i), i ≠ j:
    unbounded where eigenvalues (nearly) coincide"""

    unsupported_backends = {
        "array_api_strict": 'not yet ported to the Array API namespace (the linalg extension exists in the standard; numpy, Dask and CuPy run it)',
        "dask": "numpy's linalg would compute a Dask array eagerly (dask.array.linalg needs square chunks)",
    }

    def forward(self, a):
        check_square(a, "eigh")
        w, v = np.linalg.eigh(a)
        out = np.concatenate([w[..., None, :], v * _column_signs(v)], axis=-2)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        n = out.shape[-1]
        w, v, gw, gv = out[..., 0, :], out[..., 1:, :], g[..., 0, :], g[..., 1:, :]
        vtg = swap_last(v) @ gv
        skew = (vtg - swap_last(vtg)) * 0.5
        gap = w.reshape(w.shape[:-1] + (1, n)) - w.reshape(w.shape + (1,)) + np.eye(n)  # w_j - w_i, 1 on the diagonal
        off = ~np.eye(n, dtype=bool)
        inner = select(off, skew / gap) + gw.reshape(gw.shape[:-1] + (1, n)) * np.eye(n, dtype=g.dtype)
        return v @ inner @ swap_last(v)


