"""Contractions: einsum, and through it tensordot and outer.

``Einsum`` takes any subscripts numpy accepts (ellipsis, implicit output, repeated labels,
broadcasting of size-1 axes) and first rewrites them in one explicit form: every ellipsis
replaced by letters of its own, the output spelled out. Its gradient is again an einsum, by
subscript permutation: for operand i, the upstream gradient contracted with the other
operands into operand i's subscripts. Two cases need a constant operand: a label repeated
within operand i (a diagonal, ``'ii->i'``) gets an identity matrix that puts the gradient on
the diagonal, and a label that only operand i has (summed away, ``'ij->i'``) gets a vector of
ones that broadcasts the gradient along it.
"""

from __future__ import annotations

import string
from typing import Any

import numpy as np

from ..autograd import Function
from . import broadcast_to, register_op
from ._metadata import Case, Fuzz, OpCheck

Spec = tuple[tuple[str, ...], str]  # explicit (input subscripts, output subscripts)


def _letters_of(term: str) -> list[str]:
    bad = [c for c in term.replace("...", "") if c not in string.ascii_letters]
    if bad:
        raise ValueError(f"einsum: subscripts may hold only letters, ',', '->' and '...', got {bad[0]!r}")
    return [c for c in term.replace("...", "")]


def parse_subscripts(subscripts: str, shapes: tuple[tuple[int, ...], ...]) -> tuple[Spec, dict[str, int]]:
    """numpy's einsum subscripts as an explicit spec (no ellipsis, the output spelled out)
    and every label's size (size-1 axes broadcast, as numpy does)."""
    text = subscripts.replace(" ", "")
    lhs, arrow, rhs = text.partition("->")
    terms = lhs.split(",")
    if len(terms) != len(shapes):
        raise ValueError(f"einsum: subscripts {subscripts!r} name {len(terms)} operand(s), got {len(shapes)} with shapes {list(shapes)}")
    if not arrow:  # implicit: the ellipsis, then the labels used once, in alphabetical order
        counts = {c: sum(_letters_of(t).count(c) for t in terms) for c in set(lhs) if c.isalpha()}
        rhs = ("..." if "..." in lhs else "") + "".join(sorted(c for c, n in counts.items() if n == 1))
    free = iter(c for c in string.ascii_letters if c not in text)
    extra = max([len(s) - len(_letters_of(t)) for t, s in zip(terms, shapes) if "..." in t] or [0])
    ellipsis = "".join(next(free) for _ in range(extra))
    explicit = []
    for term, shape in zip(terms, shapes):
        n = len(shape) - len(_letters_of(term))
        if ("..." not in term and n != 0) or n < 0:
            raise ValueError(f"einsum: subscripts {term!r} do not fit an operand of shape {shape} ({len(shape)} axes)")
        explicit.append(term.replace("...", ellipsis[extra - n :]))
    out = rhs.replace("...", ellipsis)
    _letters_of(rhs)
    return (tuple(explicit), out), _label_sizes(tuple(explicit), out, shapes, subscripts)


def _label_sizes(terms: tuple[str, ...], out: str, shapes: tuple[tuple[int, ...], ...], subscripts: str) -> dict[str, int]:
    sizes: dict[str, int] = {}
    for term, shape in zip(terms, shapes):
        for c, n in zip(term, shape):
            if sizes.get(c, 1) not in (1, n) and n != 1:
                raise ValueError(f"einsum {subscripts!r}: label {c!r} has sizes {sizes[c]} and {n} (shapes {list(shapes)}); sizes must match or be 1")
            sizes[c] = max(sizes.get(c, 1), n)
    for c in out:
        if c not in sizes or out.count(c) > 1:
            raise ValueError(f"einsum {subscripts!r}: output label {c!r} must appear in an operand, once in the output")
    return sizes


def _expanded(x: Any, term: str, sizes: dict[str, int]) -> Any:
    """x broadcast along its size-1 axes to the labels' full sizes."""
    full = tuple(sizes[c] for c in term)
    return x if tuple(x.shape) == full else broadcast_to(x, full)


def contract(spec: Spec, operands: list[Any]) -> Any:
    """einsum of an explicit spec on arrays (numpy) or Tensors (a recorded Einsum)."""
    terms, out = spec
    if all(isinstance(x, (np.ndarray, np.generic)) for x in operands):
        return np.einsum(",".join(terms) + "->" + out, *operands)
    return Einsum.apply(*operands, spec=spec)


def _operand_gradient(i: int, g: Any, spec: Spec, operands: tuple[Any, ...], sizes: dict[str, int]) -> Any:
    terms, out = spec
    target = terms[i]
    free = iter(c for c in string.ascii_letters if c not in "".join(terms) + out)
    subs, args, wanted = [out], [g], ""
    for c in target:  # a repeated label gets a fresh one, tied to the first by an identity
        if c in wanted:
            fresh = next(free)
            subs.append(c + fresh)
            args.append(np.eye(sizes[c], dtype=g.dtype))
            c = fresh
        wanted += c
    for j, (term, x) in enumerate(zip(terms, operands)):
        if j != i:
            subs.append(term)
            args.append(_expanded(x, term, sizes))
    present = "".join(subs)
    for c in set(wanted) - set(present):  # only operand i has it: broadcast along it
        subs.append(c)
        args.append(np.ones(sizes[c], dtype=g.dtype))
    return contract((tuple(subs), wanted), args)


def _reference(subscripts: str) -> Any:
    return lambda *xs: np.einsum(subscripts, *xs)


def _einsum(subscripts: str) -> Any:
    return lambda *xs: Einsum.apply(*xs, subscripts=subscripts)


EINSUM_CASES = (
    ("matmul", "ij,jk->ik", (((2, 3), (3, 4)),)),
    ("implicit_matmul", "ij,jk", (((2, 3), (3, 2)),)),
    ("trace", "ii->", (((3, 3),),)),
    ("diagonal", "ii->i", (((3, 3),),)),
    ("batched", "bij,bjk->bik", (((2, 2, 3), (2, 3, 2)),)),
    ("ellipsis_broadcast", "...ij,...jk", (((2, 2, 3), (3, 2)), ((1, 2, 3), (2, 3, 2)))),
    ("dot", "i,i->", (((3,), (3,)),)),
    ("transpose", "ij->ji", (((2, 3),),)),
    ("sum_axis", "ij->i", (((2, 3),),)),
    ("outer", "i,j->ij", (((2,), (3,)),)),
    ("repeated_three_operands", "ij,jj,jk->ik", (((2, 3), (3, 3), (3, 2)),)),
    ("size_one_broadcast", "ij,jk->ik", (((2, 1), (3, 2)),)),
    ("diagonal_kept", "iij->ij", (((2, 2, 3),),)),
)


@register_op(check=OpCheck(
    cases=tuple(Case(f"einsum_{name}", _einsum(subs), _reference(subs), shapes) for name, subs, shapes in EINSUM_CASES),
    fuzz=(
        Fuzz("einsum_dot", lambda xs, s: Einsum.apply(*s.common(*xs), subscripts="...i,...i->...").unsqueeze(-1), ("bounded", "bounded"), min_ndim=1),
        Fuzz("einsum_outer_sum", lambda xs, s: Einsum.apply(*s.common(*xs), subscripts="...i,...j->...ij").sum(axis=-1), ("bounded", "bounded"), min_ndim=1),
        Fuzz("einsum_product", lambda xs, s: Einsum.apply(*s.common(*xs), subscripts="...i,...i->...i"), ("any", "any"), min_ndim=1),
    ),
))
class Einsum(Function):
    """f(x₁, …, xₖ) = einsum(subscripts, x₁, …, xₖ);  dxᵢ = einsum of g with the other operands
    into xᵢ's subscripts (an identity on repeated labels, ones on labels only xᵢ has)"""

    unsupported_backends = {
        "array_api_strict": 'the Array API standard has no einsum',
        "dask": "numpy's einsum would compute a Dask array eagerly (dask's own einsum is not wired in yet)",
    }

    def forward(self, *operands, subscripts="", spec=None):
        shapes = tuple(np.shape(x) for x in operands)
        if spec is None:
            spec, sizes = parse_subscripts(subscripts, shapes)
        else:
            sizes = _label_sizes(spec[0], spec[1], shapes, ",".join(spec[0]) + "->" + spec[1])
        self.spec, self.sizes = spec, sizes
        self.save_for_backward(*operands)
        expanded = [_expanded(x, t, sizes) for x, t in zip(operands, spec[0])]
        return np.asarray(np.einsum(",".join(spec[0]) + "->" + spec[1], *expanded))

    def backward(self, g):
        operands = self.saved
        return tuple(
            _operand_gradient(i, g, self.spec, operands, self.sizes) if need else None
            for i, need in enumerate(self.needs_input_grad)
        )
