"""Shape and indexing ops that move, repeat or pick values: flip, roll, tile, repeat, pad,
tril/triu, diagonal/trace, masked_fill and scatter_add along an axis.

Nothing is computed, so every gradient is the inverse move: flipped or rolled back, summed
over the copies (tile, repeat, the reflected border of pad), sliced out, or scattered back
onto the diagonal. The rules use indexing, reshapes, sums and the namespace's
``scatter_add``/``select``, so they record under ``create_graph`` like any other.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .. import _backend, _validate
from ..autograd import Function
from . import (
    constant,
    constant_like,
    kind_of,
    one_hot_matmul,
    permute,
    register_op,
    reshape,
    roll,
    scatter_add,
    select,
    sum_axes,
    xp_of,
)
from ._metadata import MASK, MATRIX, UNARY, Case, Fuzz, OpCheck
from ._scatter import along_axis_index, check_along_axis, take

NOT_0D = UNARY[1:]
SQUARE = (((3, 3),), ((2, 3),), ((2, 3, 3),))
PICKS = np.array([[0, 2, 1], [1, 1, 0]])  # repeated picks along an axis: gradients accumulate


def _every(ndim: int, axis: int, part: Any) -> tuple[Any, ...]:
    """The index tuple that applies ``part`` along ``axis`` and takes everything elsewhere."""
    return (slice(None),) * axis + (part,) + (slice(None),) * (ndim - axis - 1)


def _axes_or_all(axis: Any, ndim: int, name: str, shape: tuple[int, ...]) -> tuple[int, ...]:
    if axis is None:
        return tuple(range(ndim))
    items = tuple(axis) if isinstance(axis, (tuple, list)) else (axis,)
    return tuple(_validate.axis(a, ndim, f"{name} axis", shape) for a in items)


# --------------------------------------------------------------------------- flip, roll
@register_op(check=OpCheck(
    cases=(
        Case("flip", lambda a: a.flip(), lambda a: np.flip(a), UNARY),
        Case("flip_axis", lambda a: a.flip(-1), lambda a: np.flip(a, -1), NOT_0D),
        Case("flip_axes", lambda a: a.flip((0, 2)), lambda a: np.flip(a, (0, 2)), (((2, 3, 2),),)),
    ),
    fuzz=(Fuzz("flip", lambda xs, s: xs[0].flip(s.axis(xs[0].ndim)) * s.constant(xs[0].shape), min_ndim=1),),
))
class Flip(Function):
    """f(x) = x reversed along axes;  gradient reversed back"""

    def forward(self, x, axis=None):
        self.axes = _axes_or_all(axis, x.ndim, "flip", x.shape)
        if type(x) is np.ndarray:
            return np.flip(x, self.axes).copy()
        return xp_of(x).flip(x, axis=self.axes)

    def backward(self, g):
        index = [slice(None)] * g.ndim
        for a in self.axes:
            index[a] = slice(None, None, -1)
        return g[tuple(index)]


def _roll_pairs(shift: Any, axis: Any, shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """(axis, shift) pairs, numpy's broadcasting of ``shift`` against ``axis``."""
    axes = _axes_or_all(axis, len(shape), "roll", shape)
    shifts = tuple(shift) if isinstance(shift, (tuple, list)) else (shift,)
    shifts = tuple(_validate.integer(s, "roll shift") for s in shifts)
    if len(shifts) != len(axes) and len(shifts) != 1 and len(axes) != 1:
        raise ValueError(f"roll: {len(shifts)} shifts {shifts} for {len(axes)} axes {axes}: give one shift per axis")
    n = max(len(shifts), len(axes))
    return tuple(zip(axes * n if len(axes) == 1 else axes, shifts * n if len(shifts) == 1 else shifts))


@register_op(check=OpCheck(
    cases=(
        Case("roll_flat", lambda a: a.roll(2), lambda a: np.roll(a, 2), NOT_0D),
        Case("roll_axis", lambda a: a.roll(-1, axis=1), lambda a: np.roll(a, -1, axis=1), MATRIX),
        Case("roll_axes", lambda a: a.roll((1, 4), axis=(0, 2)), lambda a: np.roll(a, (1, 4), axis=(0, 2)), (((2, 3, 2),),)),
    ),
    fuzz=(Fuzz("roll", lambda xs, s: xs[0].roll(s.param % 5 - 2, axis=s.axis(xs[0].ndim)) * s.constant(xs[0].shape), min_ndim=1),),
))
class Roll(Function):
    """f(x) = x shifted cyclically (numpy's roll; axis None: the flattened x);  gradient rolled back"""

    def forward(self, x, shift=0, axis=None):
        self.in_shape, self.flat = x.shape, axis is None
        if axis is None:
            self.pairs = ((0, _validate.integer(shift, "roll shift")),)
            return reshape(roll(reshape(x, (-1,)), (self.pairs[0][1],), (0,)), x.shape)
        self.pairs = _roll_pairs(shift, axis, x.shape)
        return roll(x, tuple(s for _, s in self.pairs), tuple(a for a, _ in self.pairs))

    def backward(self, g):
        g = reshape(g, (-1,)) if self.flat else g
        if type(g) is np.ndarray:
            for axis, shift in self.pairs:  # out[i] = x[i - shift]: the gradient reads g[i + shift]
                n = g.shape[axis]
                g = g[_every(g.ndim, axis, (np.arange(n) + shift) % n)]
        else:  # rolled back (by -shift): no integer-array indexing, and it records on Tensors
            g = roll(g, tuple(-s for _, s in self.pairs), tuple(a for a, _ in self.pairs))
        return reshape(g, self.in_shape)


# --------------------------------------------------------------------------- tile, repeat
@register_op(check=OpCheck(
    cases=(
        Case("tile", lambda a: a.tile(2), lambda a: np.tile(a, 2), UNARY),
        Case("tile_reps", lambda a: a.tile((2, 1, 3)), lambda a: np.tile(a, (2, 1, 3)), (((3,),), ((2, 3),), ((2, 1, 2),))),
    ),
    fuzz=(Fuzz("tile", lambda xs, s: xs[0].tile(2).reshape(xs[0].shape[:-1] + (2, xs[0].shape[-1])).sum(axis=-2), min_ndim=1),),
))
class Tile(Function):
    """f(x) = x repeated reps times as whole blocks (numpy's tile);  gradient: the sum over the blocks"""

    def forward(self, x, reps=()):
        reps = tuple(_validate.integer(r, "tile reps") for r in (reps if isinstance(reps, (tuple, list)) else (reps,)))
        if any(r < 0 for r in reps):
            raise ValueError(f"tile reps {reps} must be ≥ 0")
        d = max(len(reps), x.ndim)
        self.in_shape = x.shape
        self.reps, self.sizes = (1,) * (d - len(reps)) + reps, (1,) * (d - x.ndim) + x.shape
        return np.tile(x, reps) if type(x) is np.ndarray else xp_of(x).tile(x, reps)

    def backward(self, g):
        blocks = tuple(n for pair in zip(self.reps, self.sizes) for n in pair)
        summed = sum_axes(reshape(g, blocks), axis=tuple(range(0, 2 * len(self.reps), 2)))
        return reshape(summed, self.in_shape)


def _repeats(repeats: Any, n: int) -> np.ndarray:
    counts = np.asarray(repeats.data if hasattr(repeats, "data") else repeats)
    if counts.dtype.kind == "f" and np.all(np.mod(counts, 1) == 0):
        counts = counts.astype(np.intp)
    if counts.dtype.kind not in "iu" or counts.ndim > 1 or np.any(counts < 0):
        raise ValueError(f"repeat: repeats must be a non-negative integer or a 1-D sequence of them, got {repeats!r}")
    if counts.ndim == 1 and counts.size not in (1, n):
        raise ValueError(f"repeat: {counts.size} repeats for an axis of length {n}: give one per element (or one for all)")
    return np.broadcast_to(counts.reshape(-1), (n,))


@register_op(check=OpCheck(
    cases=(
        Case("repeat_flat", lambda a: a.repeat(2), lambda a: np.repeat(a, 2), UNARY),
        Case("repeat_axis_counts", lambda a: a.repeat([1, 0, 3], axis=-1), lambda a: np.repeat(a, [1, 0, 3], axis=-1), (((3,),), ((2, 3),))),
        Case("repeat_interleave", lambda a: a.repeat_interleave(2, axis=0), lambda a: np.repeat(a, 2, axis=0), MATRIX),
    ),
    fuzz=(Fuzz("repeat", lambda xs, s: xs[0].repeat(2, axis=-1).reshape(xs[0].shape + (2,)).sum(axis=-1), min_ndim=1),),
))
class Repeat(Function):
    """f(x) = each element repeated (numpy's repeat, torch's repeat_interleave);  gradient: the sum over each element's copies"""

    def forward(self, x, repeats=1, axis=None):
        self.in_shape = x.shape
        if axis is None:
            x, self.axis = reshape(x, (-1,)), 0
        else:
            self.axis = _validate.axis(axis, x.ndim, "repeat axis", x.shape)
        self.counts = tuple(int(c) for c in _repeats(repeats, x.shape[self.axis]))
        self.flat_shape = x.shape
        if type(x) is np.ndarray:
            return np.repeat(x, self.counts, axis=self.axis)
        if _backend.backend_name(x) == "dask":  # (dask repeats by one count only: take each element's copies)
            return take(x, _every(x.ndim, self.axis, np.repeat(np.arange(len(self.counts)), self.counts)))
        counts = constant_like(np.asarray(self.counts, dtype=np.int64), x)
        return xp_of(x).repeat(x, counts, axis=self.axis)

    def backward(self, g):
        picks = np.repeat(np.arange(len(self.counts)), self.counts)  # the element each copy is of
        if type(constant(g)) is np.ndarray:
            return scatter_add(g, _every(g.ndim, self.axis, picks), self.flat_shape, True).reshape(self.in_shape)
        copies = picks[:, None] == np.arange(len(self.counts))  # (copies, elements), one 1 a row
        return reshape(one_hot_matmul(g, self.axis, copies), self.in_shape)


# --------------------------------------------------------------------------- pad
PAD_MODES = ("constant", "reflect", "edge")


def pad_pairs(pad_width: Any, shape: tuple[int, ...]) -> tuple[tuple[int, int], ...]:
    """numpy's ``pad_width`` forms (``n``, ``(before, after)``, ``((b0, a0), (b1, a1), ...)``)
    as one (before, after) pair of non-negative integers per axis."""
    try:
        widths = np.asarray(pad_width)
        if widths.dtype.kind == "f" and np.all(np.mod(widths, 1) == 0):
            widths = widths.astype(np.intp)
        if widths.dtype.kind not in "iu":
            raise ValueError
        pairs = np.broadcast_to(widths, (len(shape), 2))
    except ValueError:
        raise ValueError(
            f"pad: pad_width {pad_width!r} does not fit a tensor of shape {shape}: give an integer, "
            f"(before, after), or one (before, after) pair per axis ({len(shape)} axes)"
        ) from None
    if np.any(pairs < 0):
        raise ValueError(f"pad: pad_width {pad_width!r} has a negative width; widths must be ≥ 0")
    return tuple((int(b), int(a)) for b, a in pairs)


@register_op(check=OpCheck(
    cases=(
        Case("pad_constant", lambda a: a.pad(1, value=0.5), lambda a: np.pad(a, 1, constant_values=0.5), NOT_0D),
        Case("pad_reflect", lambda a: a.pad(((1, 2), (0, 2)), mode="reflect"), lambda a: np.pad(a, ((1, 2), (0, 2)), mode="reflect"), (((3, 3),), ((4, 3),))),
        Case("pad_edge", lambda a: a.pad((2, 1), mode="edge"), lambda a: np.pad(a, (2, 1), mode="edge"), NOT_0D),
    ),
    fuzz=(
        Fuzz("pad", lambda xs, s: xs[0].pad(1, mode=s.pick(PAD_MODES))[tuple(slice(0, n) for n in xs[0].shape)] * 1.5, min_ndim=1),
    ),
))
class Pad(Function):
    """f(x) = x padded (mode constant, reflect or edge, numpy's pad);  gradient: the middle
    slice plus, for reflect and edge, each border value's copies summed back to it"""

    def forward(self, x, pad_width=0, mode="constant", value=0.0):
        if mode not in PAD_MODES:
            raise ValueError(f"pad: mode {mode!r} is not one of {PAD_MODES}")
        self.pairs, self.mode, self.in_shape = pad_pairs(pad_width, x.shape), mode, x.shape
        if mode != "constant" and any(n == 0 and p != (0, 0) for n, p in zip(x.shape, self.pairs)):
            raise ValueError(f"pad: mode {mode!r} cannot pad an empty axis (shape {x.shape}); use mode='constant'")
        if type(x) is not np.ndarray and _backend.backend_name(x) == "array_api_strict":
            return _pad_by_axis(x, self.pairs, mode, value)
        if mode == "constant":
            return np.pad(x, self.pairs, mode="constant", constant_values=value)
        return np.pad(x, self.pairs, mode=mode)

    def backward(self, g):
        for axis in reversed(range(g.ndim)):
            before, after = self.pairs[axis]
            n = self.in_shape[axis]
            if before == after == 0:
                continue
            if self.mode == "constant":
                g = g[_every(g.ndim, axis, slice(before, before + n))]
            else:  # where each output position along the axis reads from
                source = np.pad(np.arange(n), (before, after), mode=self.mode)
                g = scatter_add(g, _every(g.ndim, axis, source), g.shape[:axis] + (n,) + g.shape[axis + 1 :], True)
        return g


def _pad_by_axis(x: Any, pairs: tuple[tuple[int, int], ...], mode: Any, value: float) -> Any:
    """numpy's pad in the standard's terms (it has no pad), one axis at a time: constant
    blocks concatenated on both sides, or the positions reflect/edge read (np.pad of arange)
    taken along the axis."""
    xp = xp_of(x)
    for axis, (before, after) in enumerate(pairs):
        if before == after == 0:
            continue
        if mode == "constant":
            side = [tuple(x.shape[:axis]) + (w,) + tuple(x.shape[axis + 1 :]) for w in (before, after)]
            blocks = [xp.full(s, value, dtype=x.dtype, device=_backend.compat().device(x)) for s in side]
            x = xp.concat([blocks[0], x, blocks[1]], axis=axis)
        else:
            source = np.pad(np.arange(x.shape[axis]), (before, after), mode=mode)
            x = take(x, _every(x.ndim, axis, source))
    return x


# --------------------------------------------------------------------------- triangles
@register_op(check=OpCheck(
    cases=(
        Case("tril", lambda a: a.tril(), np.tril, SQUARE),
        Case("tril_k", lambda a: a.tril(-1), lambda a: np.tril(a, -1), SQUARE),
    ),
    fuzz=(Fuzz("tril", lambda xs, s: xs[0].tril(s.param % 3 - 1), min_ndim=2),),
))
class Tril(Function):
    """f(x) = x below diagonal k (the rest 0);  gradient: g selected by the same mask
    (off numpy, which the standard has no tril for, the forward is that select too)"""

    part = staticmethod(np.tril)

    def forward(self, x, k=0):
        if x.ndim < 2:
            raise ValueError(f"{type(self).__name__.lower()} needs a matrix (or a batch of them), got shape {x.shape}")
        self.k, self.matrix_shape = _validate.integer(k, "k"), x.shape[-2:]
        if type(x) is np.ndarray:
            return self.part(x, self.k)
        return select(self._mask(x), x)

    def backward(self, g):
        return select(self._mask(g), g)

    def _mask(self, like: Any) -> Any:
        """The constant triangle (k) of one matrix, in ``like``'s backend."""
        return constant_like(self.part(np.ones(self.matrix_shape, dtype=bool), self.k), like)


@register_op(check=OpCheck(
    cases=(
        Case("triu", lambda a: a.triu(), np.triu, SQUARE),
        Case("triu_k", lambda a: a.triu(1), lambda a: np.triu(a, 1), SQUARE),
    ),
    fuzz=(Fuzz("triu", lambda xs, s: xs[0].triu(s.param % 3 - 1), min_ndim=2),),
))
class Triu(Tril):
    """f(x) = x above diagonal k (the rest 0);  gradient: g selected by the same mask"""

    part = staticmethod(np.triu)


# --------------------------------------------------------------------------- diagonals
def _diagonal_layout(shape: tuple[int, ...], offset: int, axis1: int, axis2: int) -> tuple[tuple[int, ...], np.ndarray, np.ndarray, tuple[int, ...]]:
    """For numpy's diagonal: the shape with axis1, axis2 moved last, the (row, column) indices
    of the diagonal there, and the permutation that moves the axes back."""
    a1 = _validate.axis(axis1, len(shape), "diagonal axis1", shape)
    a2 = _validate.axis(axis2, len(shape), "diagonal axis2", shape)
    if a1 == a2:
        raise ValueError(f"diagonal: axis1 and axis2 must differ, both are {a1} (shape {shape})")
    rest = tuple(i for i in range(len(shape)) if i not in (a1, a2))
    n1, n2 = shape[a1], shape[a2]
    length = max(0, min(n1 - max(-offset, 0), n2 - max(offset, 0)))
    rows, cols = np.arange(length) + max(-offset, 0), np.arange(length) + max(offset, 0)
    moved = tuple(shape[i] for i in rest) + (n1, n2)
    return moved, rows, cols, tuple(int(i) for i in np.argsort(rest + (a1, a2)))


def _onto_diagonal(g: Any, shape: tuple[int, ...], offset: int, axis1: int, axis2: int) -> Any:
    """zeros(shape) with g (diagonal last, as numpy's diagonal returns it) on the diagonal:
    assigned on numpy; elsewhere (no integer-array assignment in the standard) g times the
    constant one-hot map from diagonal positions to matrix entries."""
    moved, rows, cols, back = _diagonal_layout(shape, offset, axis1, axis2)
    if type(constant(g)) is np.ndarray:
        return scatter_add(g, (Ellipsis, rows, cols), moved, False).transpose(back)
    n1, n2 = moved[-2:]
    entries = np.arange(n1 * n2) == (rows * n2 + cols)[:, None]  # (diagonal, n1·n2)
    return permute(reshape(one_hot_matmul(g, -1, entries), moved), back)


def _diagonal_last(x: Any, offset: int, axis1: int, axis2: int) -> Any:
    """numpy's diagonal of a non-numpy array: the two axes moved last, the standard's
    linalg.diagonal there."""
    a1, a2 = axis1 % x.ndim, axis2 % x.ndim
    rest = tuple(i for i in range(x.ndim) if i not in (a1, a2))
    return xp_of(x).linalg.diagonal(permute(x, rest + (a1, a2)), offset=offset)


@register_op(check=OpCheck(
    cases=(
        Case("diagonal", lambda a: a.diagonal(), np.diagonal, SQUARE),
        Case("diagonal_offset_axes", lambda a: a.diagonal(1, -1, 0), lambda a: np.diagonal(a, 1, -1, 0), (((3, 3),), ((3, 2, 4),))),
    ),
    fuzz=(Fuzz("diagonal", lambda xs, s: xs[0].diagonal(0, -2, -1).sum(axis=-1, keepdims=True).unsqueeze(-1), min_ndim=2),),
))
class Diagonal(Function):
    """f(x) = the diagonal (offset, axis1, axis2: numpy's diagonal, as a new array);  gradient scattered onto the diagonal"""

    def forward(self, x, offset=0, axis1=0, axis2=1):
        self.offset = _validate.integer(offset, "diagonal offset")
        self.axis1, self.axis2, self.in_shape = axis1, axis2, x.shape
        _diagonal_layout(x.shape, self.offset, axis1, axis2)  # checks the axes
        if type(x) is np.ndarray:
            return np.diagonal(x, self.offset, axis1, axis2).copy()
        return _diagonal_last(x, self.offset, axis1, axis2)

    def backward(self, g):
        return _onto_diagonal(g, self.in_shape, self.offset, self.axis1, self.axis2)


@register_op(check=OpCheck(
    cases=(
        Case("trace", lambda a: a.trace(), np.trace, SQUARE),
        Case("trace_offset_axes", lambda a: a.trace(-1, 1, 2), lambda a: np.trace(a, -1, 1, 2), (((2, 3, 3),),)),
    ),
    fuzz=(Fuzz("trace", lambda xs, s: xs[0].trace(0, -2, -1).unsqueeze(-1).unsqueeze(-1), min_ndim=2),),
))
class Trace(Function):
    """f(x) = Σᵢ x[i, i + offset] (numpy's trace);  gradient: g on the diagonal, 0 elsewhere"""

    def forward(self, x, offset=0, axis1=0, axis2=1):
        self.offset = _validate.integer(offset, "trace offset")
        self.axis1, self.axis2, self.in_shape = axis1, axis2, x.shape
        self.length = len(_diagonal_layout(x.shape, self.offset, axis1, axis2)[1])
        if type(x) is np.ndarray:
            return np.trace(x, self.offset, axis1, axis2)
        return sum_axes(_diagonal_last(x, self.offset, axis1, axis2), axis=-1)

    def backward(self, g):
        if type(constant(g)) is np.ndarray:
            spread = g.reshape(g.shape + (1,)) + np.zeros(self.length, dtype=g.dtype)  # g on each diagonal entry
        else:  # (g times ones: a broadcast the standard spells with a same-backend constant)
            spread = reshape(g, g.shape + (1,)) * _backend.ones((self.length,), constant(g).dtype, constant(g))
        return _onto_diagonal(spread, self.in_shape, self.offset, self.axis1, self.axis2)


# --------------------------------------------------------------------------- fill and scatter
@register_op(check=OpCheck(
    cases=(
        Case("masked_fill", lambda a: a.masked_fill(MASK, -1.5), lambda a: np.where(MASK, -1.5, a), (((2, 3),), ((4, 2, 3),))),
        Case("masked_fill_broadcast_mask", lambda a: a.masked_fill(MASK[0], 0.0), lambda a: np.where(MASK[0], 0.0, a), (((3,),), ((2, 3),))),
    ),
    fuzz=(Fuzz("masked_fill", lambda xs, s: xs[0].masked_fill(s.mask(xs[0].shape), 0.25)),),
))
class MaskedFill(Function):
    """f(x) = value where mask, else x (torch's masked_fill);  gradient: g where the mask is off, 0 where it is on"""

    def forward(self, x, mask=None, value=0.0):
        mask = np.asarray(mask) if type(x) is np.ndarray or not _backend.is_foreign(mask) else mask
        if kind_of(mask) != "b":
            raise TypeError(f"masked_fill: the mask must be boolean (e.g. x > 0), got dtype {mask.dtype}")
        try:
            fits = np.broadcast_shapes(tuple(mask.shape), tuple(x.shape)) == tuple(x.shape)
        except ValueError:
            fits = False
        if not fits:
            raise ValueError(f"masked_fill: a mask of shape {tuple(mask.shape)} does not broadcast to the tensor's shape {tuple(x.shape)}")
        if type(x) is np.ndarray:
            self.save_for_backward(mask)
            return np.where(mask, np.asarray(value, dtype=x.dtype), x)
        mask = constant_like(mask, x) if type(mask) is np.ndarray else mask  # a numpy mask joins x's backend
        self.save_for_backward(mask)
        xp = xp_of(x)
        return xp.where(mask, xp.asarray(value, dtype=x.dtype, device=_backend.compat().device(x)), x)

    def backward(self, g):
        (mask,) = self.saved
        return select(~mask, g)


@register_op(check=OpCheck(
    cases=(
        Case("scatter_add_along", lambda a, b: a.scatter_add(0, PICKS, b), lambda a, b: _reference_scatter_add(a, 0, PICKS, b), (((3, 3), (2, 3)), ((3, 4), (2, 3)))),
        Case("scatter_add_along_last", lambda a, b: a.scatter_add(-1, PICKS, b), lambda a, b: _reference_scatter_add(a, 1, PICKS, b), (((2, 3), (2, 3)), ((3, 3), (2, 4)))),
    ),
    fuzz=(Fuzz("scatter_add_along", lambda xs, s: _fuzz_scatter_add(s.common(*xs), s), ("any", "any"), min_ndim=1),),
))
class ScatterAddAlong(Function):
    """f(base, src) = base with src[j] added at base[index[j] along axis] (torch's out-of-place
    scatter_add; repeats accumulate);  d base = g, d src = g[index] (zero where src is unused)"""

    def forward(self, base, src, axis=0, index=None):
        index, a = check_along_axis(base.shape, index, axis, "scatter_add", bigger=src.shape)
        picks = along_axis_index(index, a, index.shape)
        used = tuple(slice(0, n) for n in index.shape)
        self.src_shape = src.shape
        self.save_for_backward(picks)
        if type(base) is not np.ndarray or type(src) is not np.ndarray:  # no np.add.at: a one-hot sum
            return base + scatter_add(src[used], picks, tuple(base.shape), True)
        out = np.array(base, dtype=np.result_type(base, src), copy=True)
        np.add.at(out, picks, src[used])
        return out

    def backward(self, g):
        (picks,) = self.saved
        need_base, need_src = self.needs_input_grad
        picked = take(g, picks) if need_src else None
        if picked is not None and picked.shape != self.src_shape:
            picked = scatter_add(picked, tuple(slice(0, n) for n in picked.shape), self.src_shape, False)
        return (g if need_base else None), picked


def _reference_scatter_add(base: np.ndarray, axis: int, index: np.ndarray, src: np.ndarray) -> np.ndarray:
    out = base.copy()
    for j in np.ndindex(*index.shape):
        target = list(j)
        target[axis] = index[j]
        out[tuple(target)] += src[j]
    return out


def _fuzz_scatter_add(operands: list[Any], s: Any) -> Any:
    base, src = operands
    axis = s.axis(base.ndim)
    index = s.integers(base.shape[axis], base.size).reshape(base.shape)
    return base.scatter_add(axis, index, src)
