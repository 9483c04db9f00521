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

from .. import _backend
from .._graph_tensor import GraphTensor
from ..autograd import Function
from . import constant_like, register_op, reshape, select, swap_last, xp_of
from ._metadata import Case, Domain, Fuzz, OpCheck

SMALL = Domain(-1.0, 1.0)
SQUARES = (((2, 2),), ((3, 3),), ((2, 3, 3),))


DASK_LINALG = "numpy's linalg would compute a Dask array eagerly (dask.array.linalg needs square chunks)"


def linalg_of(a: Any) -> Any:
    """numpy.linalg for an ndarray, else the namespace's linalg extension (``xp.linalg``)."""
    return np.linalg if type(a) is np.ndarray else xp_of(a).linalg


def inv(a: Any) -> Any:
    """A⁻¹ of arrays (in their backend) or of a Tensor (a recorded Inv)."""
    return Inv.apply(a) if isinstance(a, GraphTensor) else linalg_of(a).inv(a)


def solve(a: Any, b: Any) -> Any:
    """A⁻¹B of arrays (in their backend) or with a Tensor among them (a recorded Solve)."""
    if isinstance(a, GraphTensor) or isinstance(b, GraphTensor):
        return Solve.apply(a, b)
    return linalg_of(a).solve(a, b)


def float_like(value: np.ndarray, like: Any) -> Any:
    """A float constant (an identity, a diagonal) in ``like``'s backend and dtype (``like`` an
    array or a Tensor)."""
    data = like.data if isinstance(like, GraphTensor) else like
    if type(data) is np.ndarray:
        return value.astype(data.dtype, copy=False)
    return _backend.astype(constant_like(value, data), data.dtype)


def eye_like(n: int, like: Any) -> Any:
    """The n×n identity as a constant of ``like``'s backend and dtype."""
    return float_like(np.eye(n), like)


def check_square(a: np.ndarray, what: str) -> None:
    if a.ndim < 2 or a.shape[-1] != a.shape[-2]:
        raise ValueError(f"{what} needs square matrices (shape (..., n, n)), got shape {a.shape}")


def _linalg_error(what: str, a: np.ndarray, why: str) -> np.linalg.LinAlgError:
    return np.linalg.LinAlgError(f"{what}: {why} (shape {a.shape}); {_FIXES[why]}")


def _factor(a: Any, name: str, why: str) -> Any:
    """``xp.linalg.<name>(a)`` of a square (batch of) matrix, numpy's LinAlgError reworded
    as ``why`` with the fix."""
    check_square(a, name)
    try:
        return getattr(linalg_of(a), name)(a)
    except np.linalg.LinAlgError:
        raise _linalg_error(name, a, why) from None


_FIXES = {
    "the matrix is singular": "check for dependent rows, or add λI (ridge) to make it invertible",
    "the matrix is not positive definite": "cholesky needs a symmetric positive-definite matrix, e.g. XᵀX + λI",
}


# Well-conditioned sample matrices for the table: diagonally dominant, SPD, separated spectrum.
def _dominant(a: Any) -> Any:
    return a + 4.0 * eye_like(a.shape[-1], a)


def _spd(a: Any) -> Any:
    return a @ swap_last(a) + eye_like(a.shape[-1], a)


def _separated(a: Any) -> Any:
    """Symmetric, eigenvalues at least 1 apart (Gershgorin: entries in [-0.5, 0.5], diagonal 0, 4, 8, ...)."""
    n = a.shape[-1]
    return (a + swap_last(a)) * 0.25 + float_like(np.diag(4.0 * np.arange(n)), a)


def _fuzz_matrix(x: Any) -> tuple[Any, Any]:
    """An SPD matrix I + 0.05·vvᵀ from the operand's values v (eigenvalues 1 and 1 + 0.05|v|²)."""
    v = x.reshape(-1)
    return v.reshape(-1, 1) * v.reshape(1, -1) * 0.05 + eye_like(v.shape[0], v), v


def _fuzz_solve(a: Any, b: Any) -> Any:
    return Solve.apply(_fuzz_matrix(a)[0], b.reshape(-1)).reshape(a.shape)


# --------------------------------------------------------------------------- inverse, solve
@register_op(check=OpCheck(
    cases=(Case("inv", lambda a: Inv.apply(_dominant(a)), lambda a: np.linalg.inv(_dominant(a)), SQUARES, SMALL),),
    fuzz=(Fuzz("inv", lambda xs, s: (Inv.apply(_fuzz_matrix(xs[0])[0]) @ _fuzz_matrix(xs[0])[1]).reshape(xs[0].shape), ("bounded",)),),
))
class Inv(Function):
    """f(A) = A⁻¹;  dA = -A⁻ᵀ G A⁻ᵀ"""

    unsupported_backends = {"dask": DASK_LINALG}

    def forward(self, a):
        out = _factor(a, "inv", "the matrix is singular")
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

    unsupported_backends = {"dask": DASK_LINALG}

    def forward(self, a, b):
        check_square(a, "solve")
        b_shape = tuple(b.shape) if hasattr(b, "shape") else np.shape(b)
        self.vector = len(b_shape) == 1
        rows = b_shape[0] if self.vector else b_shape[-2] if len(b_shape) >= 2 else None
        if rows != a.shape[-1]:
            raise ValueError(
                f"solve: A has shape {a.shape} but B has shape {b_shape}; B must be (n,) or "
                f"(..., n, k) with n = {a.shape[-1]} (a batch of vectors needs a trailing axis: b[..., None])"
            )
        try:
            out = _solve_forward(a, b, self.vector)
        except np.linalg.LinAlgError:
            raise _linalg_error("solve", a, "the matrix is singular") from None
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, x = self.saved
        if self.vector:
            g, x = reshape(g, tuple(g.shape) + (1,)), reshape(x, tuple(x.shape) + (1,))
        gb = solve(swap_last(a), g)
        ga = -(gb @ swap_last(x)) if self.needs_input_grad[0] else None
        return ga, (reshape(gb, tuple(gb.shape[:-1])) if self.vector else gb)


# --------------------------------------------------------------------------- determinants
@register_op(check=OpCheck(
    cases=(Case("det", lambda a: Det.apply(_dominant(a)), lambda a: np.linalg.det(_dominant(a)), SQUARES, SMALL),),
    fuzz=(Fuzz("det", lambda xs, s: Det.apply(_fuzz_matrix(xs[0])[0]), ("bounded",)),),
))
class Det(Function):
    """f(A) = det A;  dA = G·det(A)·A⁻ᵀ (A must be invertible)"""

    unsupported_backends = {"dask": DASK_LINALG}

    def forward(self, a):
        check_square(a, "det")
        out = linalg_of(a).det(a)
        out = np.asarray(out) if type(a) is np.ndarray else out
        self.save_for_backward(a, out)
        return out

    def backward(self, g):
        a, d = self.saved
        return reshape(g * d, tuple(d.shape) + (1, 1)) * swap_last(inv(a))


@register_op(check=OpCheck(
    cases=(Case("slogdet", lambda a: LogAbsDet.apply(_dominant(a) * -1.0), lambda a: np.linalg.slogdet(-_dominant(a))[1], SQUARES, SMALL),),
    fuzz=(Fuzz("slogdet", lambda xs, s: LogAbsDet.apply(_fuzz_matrix(xs[0])[0]), ("bounded",)),),
))
class LogAbsDet(Function):
    """f(A) = log |det A| (slogdet's second result);  dA = G·A⁻ᵀ"""

    unsupported_backends = {"dask": DASK_LINALG}

    def forward(self, a):
        check_square(a, "slogdet")
        self.save_for_backward(a)
        logabsdet = linalg_of(a).slogdet(a)[1]
        return np.asarray(logabsdet) if type(a) is np.ndarray else logabsdet

    def backward(self, g):
        (a,) = self.saved
        return reshape(g, tuple(g.shape) + (1, 1)) * swap_last(inv(a))


# --------------------------------------------------------------------------- factorizations
@register_op(check=OpCheck(
    cases=(Case("cholesky", lambda a: Cholesky.apply(_spd(a)), lambda a: np.linalg.cholesky(_spd(a)), SQUARES),),
    fuzz=(Fuzz("cholesky", lambda xs, s: (Cholesky.apply(_fuzz_matrix(xs[0])[0]) @ _fuzz_matrix(xs[0])[1]).reshape(xs[0].shape), ("bounded",)),),
))
class Cholesky(Function):
    """f(A) = L, lower triangular with L Lᵀ = A;  dA = L⁻ᵀ Φ(Lᵀ G) L⁻¹, Φ(P) = the symmetric
    matrix with P's lower triangle and half its diagonal (torch's symmetric gradient)"""

    unsupported_backends = {"dask": DASK_LINALG}

    def forward(self, a):
        out = _factor(a, "cholesky", "the matrix is not positive definite")
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (lower,) = self.saved
        n = lower.shape[-1]
        p = select(constant_like(np.tril(np.ones((n, n), dtype=bool)), g), swap_last(lower) @ g)
        p = (p + swap_last(select(constant_like(np.tril(np.ones((n, n), dtype=bool), -1), g), p))) * 0.5
        lower_inv = inv(lower)
        return swap_last(lower_inv) @ p @ lower_inv


def _eigh_packed(a: Any) -> Any:
    return Eigh.apply(_separated(a))


def _eigh_reference(a: np.ndarray) -> np.ndarray:
    w, v = np.linalg.eigh(_separated(a))
    return np.concatenate([w[..., None, :], v * _column_signs(v)], axis=-2)


def _column_signs(v: Any) -> Any:
    """+1 or -1 per eigenvector so that its entry of largest magnitude is positive."""
    xp = xp_of(v)
    biggest = xp.take_along_axis(v, xp.argmax(xp.abs(v), axis=-2, keepdims=True), axis=-2)
    return 1.0 - 2.0 * _backend.astype(biggest < 0, v.dtype)


def _fuzz_eigh(x: Any, s: Any) -> Any:
    v = x.reshape(-1)[:3]
    n = v.shape[0]
    a = v.reshape(-1, 1) * v.reshape(1, -1) * 0.05 + float_like(np.diag(4.0 * np.arange(n)), x)
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

    unsupported_backends = {"dask": DASK_LINALG}

    def forward(self, a):
        check_square(a, "eigh")
        w, v = linalg_of(a).eigh(a)
        xp = xp_of(a)
        out = xp.concat([xp.reshape(w, w.shape[:-1] + (1, w.shape[-1])), v * _column_signs(v)], axis=-2)
        self.save_for_backward(out)
        return out

    def backward(self, g):
        (out,) = self.saved
        n = out.shape[-1]
        w, v, gw, gv = out[..., 0, :], out[..., 1:, :], g[..., 0, :], g[..., 1:, :]
        vtg = swap_last(v) @ gv
        skew = (vtg - swap_last(vtg)) * 0.5
        eye = eye_like(n, g)
        gap = reshape(w, tuple(w.shape[:-1]) + (1, n)) - reshape(w, tuple(w.shape) + (1,)) + eye  # w_j - w_i, 1 on the diagonal
        off = constant_like(~np.eye(n, dtype=bool), g)
        inner = select(off, skew / gap) + reshape(gw, tuple(gw.shape[:-1]) + (1, n)) * eye
        return v @ inner @ swap_last(v)




def _solve_forward(a: Any, b: Any, vector: bool) -> Any:
    """numpy's solve (b a vector (n,) or matrices (..., n, k)); the standard's linalg.solve
    reads a 1-D b the same way only unbatched, so a batched vector goes through b[..., None]."""
    if type(a) is np.ndarray or not vector:
        return linalg_of(a).solve(a, b)
    xp = xp_of(a)
    column = xp.reshape(b, b.shape + (1,))
    return xp.reshape(linalg_of(a).solve(a, column), a.shape[:-1])
