"""The matrix product: ``a @ b`` with numpy's promotion of 1-D operands and broadcasting of
batch axes, and the clear error for shapes that do not fit."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..autograd import Function
from . import register_op, reshape, swap_last
from ._metadata import CONSTANT, Case, Fuzz, OpCheck, ShapeSets

MATMUL: ShapeSets = (
    ((2, 3), (3, 4)),
    ((3,), (3,)),
    ((3,), (3, 2)),
    ((2, 3), (3,)),
    ((4, 1), (1,)),  # one column: the product path
    ((4, 1), (1, 3)),
    ((2, 2, 3), (3, 4)),
    ((2, 2, 3), (2, 3, 2)),
    ((1, 2, 3), (2, 3, 2)),
    ((3,), (2, 3, 4)),
    ((2, 2, 3), (3,)),
)


def _matmul_error(a: Any, b: Any) -> ValueError:
    a_shape, b_shape = np.shape(a), np.shape(b)
    if not a_shape or not b_shape:
        return ValueError(
            f"matmul needs at least 1-D operands, got shapes {a_shape} and {b_shape}; "
            f"use * to multiply by a scalar"
        )
    inner_a = a_shape[-1]
    inner_b = b_shape[-2] if len(b_shape) > 1 else b_shape[0]
    if inner_a != inner_b:
        return ValueError(
            f"matmul shape mismatch: {a_shape} @ {b_shape} — the last axis of the left "
            f"operand ({inner_a}) must equal the "
            f"{'second-to-last' if len(b_shape) > 1 else 'only'} axis of the right "
            f"operand ({inner_b}). Transpose one operand (e.g. X @ w.T) or fix the shapes."
        )
    return ValueError(
        f"matmul: the batch axes of shapes {a_shape} and {b_shape} cannot be broadcast together"
    )


def _one_column(a: Any, b: Any) -> bool:
    """numpy float ``A @ B`` with A of shape (n, 1) and B of shape (1,) or (1, m): each entry a
    sum of one product, so ``A[:, 0] * B`` (``A * B``) has the same values (up to the sign of a
    zero: +0.0 from matmul, -0.0 from a product of opposite signs), and numpy computes it
    several times faster (0.5 ms against 2.9 ms at n = 1e6), which a one-feature linear
    regression meets at every step."""
    return (
        type(a) is np.ndarray and type(b) is np.ndarray and a.ndim == 2 and a.shape[1] == 1
        and 1 <= b.ndim <= 2 and b.shape[0] == 1 and a.dtype.kind == "f" and b.dtype.kind == "f"
    )


def _shape_preserving_matmul(a: Any, b: Any) -> Any:
    """a @ b for vectors, (a @ bᵀ) @ b for (batches of) square matrices: the fuzzer's use,
    whose result keeps the operands' common shape."""
    return a @ b if a.ndim == 1 else (a @ swap_last(b)) @ b


@register_op(check=OpCheck(
    cases=(
        Case("matmul", lambda a, b: a @ b, np.matmul, MATMUL),
        Case("matmul_method", lambda a, b: a.matmul(b), np.matmul, MATMUL[:2]),
        Case("matmul_ndarray_left", lambda a: CONSTANT @ a, lambda a: CONSTANT @ a, (((3,),), ((3, 2),)), float32_out=False),
    ),
    fuzz=(Fuzz("matmul", lambda xs, s: _shape_preserving_matmul(*s.common(*xs)), ("bounded", "bounded"), min_ndim=1),),
))
class MatMul(Function):
    """f(A, B) = A @ B;  dA = G Bᵀ, dB = Aᵀ G (1-D operands promoted as numpy does)"""

    def forward(self, a, b):
        if _one_column(a, b):  # X (n, 1) @ w: the product it is, ~5x faster than numpy's matmul there
            out = a[:, 0] * b if b.ndim == 1 else a * b
            self.save_for_backward(a, b)
            return out
        try:
            out = a @ b
        except (ValueError, TypeError):
            raise _matmul_error(a, b) from None
        self.save_for_backward(a, b)
        return out

    def backward(self, g):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        if a.ndim == 2 and b.ndim == 2:  # the common case, without the general reshaping
            return (g @ b.T if need_a else None), (a.T @ g if need_b else None)
        if a.ndim == 2 and b.ndim == 1:  # X @ w
            return (reshape(g, (-1, 1)) * b if need_a else None), (a.T @ g if need_b else None)
        a_vec, b_vec = a.ndim == 1, b.ndim == 1
        a2 = reshape(a, (1, a.shape[0])) if a_vec else a
        b2 = reshape(b, (b.shape[0], 1)) if b_vec else b
        g2 = g
        if a_vec:
            g2 = reshape(g2, g2.shape[:-1] + (1,) + g2.shape[-1:]) if not b_vec else g2
        if b_vec:
            g2 = reshape(g2, g2.shape + (1,)) if not a_vec else reshape(g2, (1, 1))
        ga = gb = None
        if need_a:
            ga = g2 @ swap_last(b2)
            if a_vec:
                ga = reshape(ga, ga.shape[:-2] + ga.shape[-1:])
        if need_b:
            gb = swap_last(a2) @ g2
            if b_vec:
                gb = reshape(gb, gb.shape[:-1])
        return ga, gb
