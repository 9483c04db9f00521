"""Sliding windows: ``Im2Col`` (every kernel-sized window of a padded image, side by side) and
its adjoint ``Col2Im`` (each window's values added back where they were read).

A convolution is ``Im2Col`` followed by one matrix product with the flattened kernels, and a
pooling layer is ``Im2Col`` followed by a max or a mean over the window: ``tg.nn.Conv2d``,
``MaxPool2d`` and ``AvgPool2d`` are built that way, so the only new gradient rule is this
pair. Both are linear and each one's backward is the other, written with the namespace
functions :func:`im2col` / :func:`col2im`, so ``create_graph=True`` (second order through a
convolution) works like any other op.

The windows are a ``numpy.lib.stride_tricks.sliding_window_view`` of the padded input (no
Python loop over pixels); ``col2im`` loops over the kH·kW kernel offsets only, adding one
strided slice of the output per offset.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from .._typing import TensorLike
from ..autograd import Function
from . import _is_array, floating, register_op
from ._metadata import Case, Fuzz, OpCheck

Pair = tuple[int, int]


# --------------------------------------------------------------------------- geometry
def output_size(size: int, kernel: int, stride: int, padding: int, dilation: int) -> int:
    """Windows along one axis: ⌊(size + 2·padding − dilation·(kernel − 1) − 1) / stride⌋ + 1."""
    return (size + 2 * padding - dilation * (kernel - 1) - 1) // stride + 1


def window_geometry(shape: tuple[int, ...], kernel_size: Pair, stride: Pair, padding: Pair, dilation: Pair) -> Pair:
    """``(oH, oW)`` for an ``(N, C, H, W)`` input, or a ``ValueError`` naming the shapes when the
    (dilated) kernel does not fit in the padded input."""
    if len(shape) != 4:
        raise ValueError(f"im2col needs an input of shape (N, C, H, W), got shape {shape}")
    sizes = tuple(output_size(shape[2 + i], kernel_size[i], stride[i], padding[i], dilation[i]) for i in range(2))
    if min(sizes) < 1:
        padded = (shape[2] + 2 * padding[0], shape[3] + 2 * padding[1])
        span = tuple(dilation[i] * (kernel_size[i] - 1) + 1 for i in range(2))
        raise ValueError(
            f"the kernel {kernel_size} (dilation {dilation}, so it spans {span}) does not fit in the "
            f"input of shape {shape} padded to {padded} (padding {padding}): use a smaller kernel or "
            f"dilation, more padding, or a larger input"
        )
    return sizes[0], sizes[1]


# --------------------------------------------------------------------------- numpy kernels
def im2col_array(x: np.ndarray, kernel_size: Pair, stride: Pair, padding: Pair, dilation: Pair,
                 pad_value: float = 0.0) -> np.ndarray:
    """windows[n, i, j, c, a, b] = x_padded[n, c, i·sH + a·dH, j·sW + b·dW], contiguous, of shape
    ``(N, oH, oW, C, kH, kW)`` (so that ``reshape(N·oH·oW, C·kH·kW)`` is the im2col matrix)."""
    window_geometry(x.shape, kernel_size, stride, padding, dilation)
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    x = floating(x)
    if ph or pw:
        x = np.pad(x, ((0, 0), (0, 0), (ph, ph), (pw, pw)), constant_values=pad_value)
    spans = (dh * (kh - 1) + 1, dw * (kw - 1) + 1)
    windows = sliding_window_view(x, spans, axis=(2, 3))[:, :, ::sh, ::sw, ::dh, ::dw]
    return np.ascontiguousarray(windows.transpose(0, 2, 3, 1, 4, 5))


def col2im_array(g: np.ndarray, in_shape: tuple[int, ...], kernel_size: Pair, stride: Pair, padding: Pair,
                 dilation: Pair) -> np.ndarray:
    """The adjoint of :func:`im2col_array`: an ``in_shape`` array in which every entry of the
    windows ``g`` ``(N, oH, oW, C, kH, kW)`` is added at the pixel it was read from."""
    n, c, h, w = in_shape
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    oh, ow = g.shape[1], g.shape[2]
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
    by_offset = g.transpose(0, 3, 4, 5, 1, 2)  # (N, C, kH, kW, oH, oW)
    for a in range(kh):  # one strided slice per kernel offset, not per pixel
        for b in range(kw):
            rows = slice(a * dh, a * dh + sh * (oh - 1) + 1, sh)
            cols = slice(b * dw, b * dw + sw * (ow - 1) + 1, sw)
            out[:, :, rows, cols] += by_offset[:, :, a, b]
    return np.ascontiguousarray(out[:, :, ph : ph + h, pw : pw + w])


# --------------------------------------------------------------------------- namespace
def im2col(x: TensorLike, kernel_size: Pair, stride: Pair, padding: Pair, dilation: Pair,
           pad_value: float = 0.0) -> TensorLike:
    """The windows of ``x`` (numpy in, numpy out; a Tensor in, a recorded ``Im2Col``)."""
    if _is_array(x):
        return im2col_array(np.asarray(x), kernel_size, stride, padding, dilation, pad_value)
    return Im2Col.apply(x, kernel_size=kernel_size, stride=stride, padding=padding, dilation=dilation,
                        pad_value=pad_value)


def col2im(g: TensorLike, in_shape: tuple[int, ...], kernel_size: Pair, stride: Pair, padding: Pair,
           dilation: Pair) -> TensorLike:
    """Windows added back into an ``in_shape`` image (numpy, or a recorded ``Col2Im``)."""
    if _is_array(g):
        return col2im_array(np.asarray(g), in_shape, kernel_size, stride, padding, dilation)
    return Col2Im.apply(g, in_shape=in_shape, kernel_size=kernel_size, stride=stride, padding=padding,
                        dilation=dilation)


# --------------------------------------------------------------------------- test metadata
# Loop-per-pixel references: independent of the strided implementation above.
def reference_im2col(x: np.ndarray, kernel_size: Pair, stride: Pair = (1, 1), padding: Pair = (0, 0),
                     dilation: Pair = (1, 1)) -> np.ndarray:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    n, c, h, w = x.shape
    xp = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=x.dtype)
    xp[:, :, ph : ph + h, pw : pw + w] = x
    oh, ow = output_size(h, kh, sh, ph, dh), output_size(w, kw, sw, pw, dw)
    out = np.zeros((n, oh, ow, c, kh, kw), dtype=x.dtype)
    for i, j, a, b in np.ndindex(oh, ow, kh, kw):
        out[:, i, j, :, a, b] = xp[:, :, i * sh + a * dh, j * sw + b * dw]
    return out


def reference_col2im(g: np.ndarray, in_shape: tuple[int, ...], kernel_size: Pair, stride: Pair = (1, 1),
                     padding: Pair = (0, 0), dilation: Pair = (1, 1)) -> np.ndarray:
    (kh, kw), (sh, sw), (ph, pw), (dh, dw) = kernel_size, stride, padding, dilation
    n, c, h, w = in_shape
    out = np.zeros((n, c, h + 2 * ph, w + 2 * pw), dtype=g.dtype)
    for i, j, a, b in np.ndindex(g.shape[1], g.shape[2], kh, kw):
        out[:, :, i * sh + a * dh, j * sw + b * dw] += g[:, i, j, :, a, b]
    return out[:, :, ph : ph + h, pw : pw + w]


_K2, _ONE, _ZERO = (2, 2), (1, 1), (0, 0)
_STRIDED = dict(kernel_size=(2, 3), stride=(2, 1), padding=(1, 2), dilation=(2, 1))
IMAGES = (((1, 2, 4, 4),), ((2, 1, 3, 5),))


def _as_image(x: Any) -> Any:
    """A fuzz operand (ndim ≥ 2) seen as a batch of one-channel images."""
    return x.reshape((-1, 1) + tuple(x.shape[-2:]))


def _fuzz_windows(xs: Any, s: Any, kernel_size: Pair, padding: Pair) -> Any:
    """x → windows, weighted by a constant, → added back: x's shape again (stride 1)."""
    image = _as_image(xs[0])
    geometry = dict(kernel_size=kernel_size, stride=_ONE, padding=padding, dilation=_ONE)
    windows = Im2Col.apply(image, **geometry)
    back = Col2Im.apply(windows * s.constant(windows.shape), in_shape=image.shape, **geometry)
    return back.reshape(xs[0].shape)


@register_op(check=OpCheck(
    cases=(
        Case("im2col", lambda x: Im2Col.apply(x, kernel_size=_K2), lambda x: reference_im2col(x, _K2), IMAGES),
        Case("im2col_stride_padding_dilation", lambda x: Im2Col.apply(x, **_STRIDED), lambda x: reference_im2col(x, **_STRIDED), IMAGES),
    ),
    fuzz=(Fuzz("im2col_round_trip", lambda xs, s: _fuzz_windows(xs, s, _ONE, _ONE), min_ndim=2),),
))
class Im2Col(Function):
    """f(x)[n, i, j, c, a, b] = x_padded[n, c, i·sH + a·dH, j·sW + b·dW]: the (kH, kW) windows of
    an (N, C, H, W) input (padded with ``pad_value``) as an (N, oH, oW, C, kH, kW) array;
    gradient: col2im, each window's gradient added back where it was read (padding dropped)"""

    unsupported_backends = {
        "array_api_strict": 'the Array API standard has no sliding_window_view',
        "dask": 'sliding_window_view would compute a Dask array eagerly',
    }

    def forward(self, x, kernel_size=_ONE, stride=_ONE, padding=_ZERO, dilation=_ONE, pad_value=0.0):
        self.in_shape = x.shape
        self.geometry = (kernel_size, stride, padding, dilation)
        return im2col_array(x, kernel_size, stride, padding, dilation, pad_value)

    def backward(self, g):
        return col2im(g, self.in_shape, *self.geometry)


_WINDOWS = ((1, 3, 3, 2, 2, 2),)  # the windows of a (1, 2, 4, 4) image under a 2x2 kernel
_STRIDED_WINDOWS = ((1, 2, 6, 2, 2, 3),)  # ... of the same image under _STRIDED


@register_op(check=OpCheck(
    cases=(
        Case("col2im", lambda g: Col2Im.apply(g, in_shape=(1, 2, 4, 4), kernel_size=_K2),
             lambda g: reference_col2im(g, (1, 2, 4, 4), _K2), (_WINDOWS,)),
        Case("col2im_stride_padding_dilation", lambda g: Col2Im.apply(g, in_shape=(1, 2, 4, 4), **_STRIDED),
             lambda g: reference_col2im(g, (1, 2, 4, 4), **_STRIDED), (_STRIDED_WINDOWS,)),
    ),
    fuzz=(Fuzz("col2im_round_trip", lambda xs, s: _fuzz_windows(xs, s, (1, 2), (0, 1)), min_ndim=2),),
))
class Col2Im(Function):
    """f(g) = Σ over windows of g added into an ``in_shape`` (N, C, H, W) image at the pixels the
    windows cover (the adjoint of Im2Col);  gradient: im2col of the upstream gradient"""

    unsupported_backends = {
        "array_api_strict": 'the Array API standard has no scatter-add (np.add.at)',
        "dask": 'np.add.at cannot write into a Dask array',
    }

    def forward(self, g, in_shape=(), kernel_size=_ONE, stride=_ONE, padding=_ZERO, dilation=_ONE):
        self.geometry = (kernel_size, stride, padding, dilation)
        expected = (in_shape[0],) + window_geometry(in_shape, *self.geometry) + (in_shape[1],) + tuple(kernel_size)
        if g.shape != expected:
            raise ValueError(f"col2im into shape {tuple(in_shape)} needs windows of shape {expected}, got {g.shape}")
        return col2im_array(floating(g), in_shape, *self.geometry)

    def backward(self, g):
        return im2col(g, *self.geometry)


__all__ = ["Im2Col", "Col2Im", "im2col", "col2im", "im2col_array", "col2im_array", "output_size", "window_geometry"]
