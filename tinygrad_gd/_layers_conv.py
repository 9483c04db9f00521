"""Image layers, re-exported by ``tg.nn``: ``Conv2d``, ``MaxPool2d``, ``AvgPool2d``, ``Flatten``,
and the functions they call, ``conv2d``, ``max_pool2d`` and ``avg_pool2d``.

Every one of them is the registered op ``ops.Im2Col`` (the kernel-sized windows of the padded
image, from ``numpy.lib.stride_tricks.sliding_window_view``) followed by ordinary Tensor ops:
one matrix product with the flattened kernels for a convolution, a max or a mean over each
window for pooling. Inputs are ``(N, C, H, W)``, or ``(C, H, W)`` for one image, as PyTorch.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import ops
from ._typing import TensorLike
from ._validate import as_tensor, generator, is_integer
from .nn import Module
from .tensor import Tensor

__all__ = ["conv2d", "max_pool2d", "avg_pool2d", "Conv2d", "MaxPool2d", "AvgPool2d", "Flatten"]

IntPair = int | tuple[int, int]


def _pair(value: Any, what: str, low: int) -> tuple[int, int]:
    """An int or a pair of ints, each ≥ ``low``, as a pair (PyTorch's ``_pair``)."""
    pair = (value, value) if is_integer(value) else tuple(value) if isinstance(value, (tuple, list)) else None
    if pair is None or len(pair) != 2 or not all(is_integer(v) and v >= low for v in pair):
        raise ValueError(f"{what} must be an integer ≥ {low} or a pair of them, got {value!r}")
    return int(pair[0]), int(pair[1])


def _batched(inputs: TensorLike, owner: str, channels: int | None = None) -> tuple[Tensor, bool]:
    """``inputs`` as an (N, C, H, W) Tensor, and whether it was a single (C, H, W) image."""
    x: Tensor = as_tensor(inputs)
    if x.ndim not in (3, 4) or (channels is not None and x.shape[-3] != channels):
        wanted = "C" if channels is None else str(channels)
        raise ValueError(
            f"{owner} expects an input of shape (N, {wanted}, H, W) or ({wanted}, H, W), got shape {x.shape}"
            + ("" if x.ndim not in (3, 4) else f": {x.shape[-3]} channels where the layer has {channels}")
        )
    return (x.unsqueeze(0), True) if x.ndim == 3 else (x, False)


def _windows(x: Tensor, kernel_size: IntPair, stride: IntPair, padding: IntPair, dilation: IntPair,
             pad_value: float = 0.0) -> Tensor:
    geometry = dict(
        kernel_size=_pair(kernel_size, "kernel_size", 1), stride=_pair(stride, "stride", 1),
        padding=_pair(padding, "padding", 0), dilation=_pair(dilation, "dilation", 1),
    )
    return ops.Im2Col.apply(x, pad_value=pad_value, **geometry)


def conv2d(x: TensorLike, weight: TensorLike, bias: TensorLike | None = None, stride: IntPair = 1,
           padding: IntPair = 0, dilation: IntPair = 1) -> Tensor:
    """2-D cross-correlation, as PyTorch's ``F.conv2d``: out[n, o, i, j] = b[o] +
    Σ_{c,a,b} W[o, c, a, b] · x_padded[n, c, i·sH + a·dH, j·sW + b·dW].

    ``x``: (N, C, H, W) or (C, H, W); ``weight``: (O, C, kH, kW); ``bias``: (O,) or None. The
    output has oH = ⌊(H + 2·pH − dH·(kH − 1) − 1) / sH⌋ + 1 rows (and likewise columns)."""
    kernels: Tensor = as_tensor(weight)
    if kernels.ndim != 4:
        raise ValueError(f"conv2d needs a weight of shape (out_channels, in_channels, kH, kW), got {kernels.shape}")
    images, single = _batched(x, "conv2d", kernels.shape[1])
    out_channels, _, kh, kw = kernels.shape
    cols = _windows(images, (kh, kw), stride, padding, dilation)
    n, oh, ow = cols.shape[:3]
    out = cols.reshape(n * oh * ow, -1) @ kernels.reshape(out_channels, -1).T
    out = out.reshape(n, oh, ow, out_channels)
    if bias is not None:
        out = out + bias
    out = out.transpose(0, 3, 1, 2)
    return out[0] if single else out


def _pool(x: TensorLike, kernel_size: IntPair, stride: IntPair | None, padding: IntPair, owner: str,
          reduce: str) -> Tensor:
    kernel = _pair(kernel_size, f"{owner}: kernel_size", 1)
    pad = _pair(padding, f"{owner}: padding", 0)
    if pad[0] > kernel[0] // 2 or pad[1] > kernel[1] // 2:
        raise ValueError(f"{owner}: padding {pad} must be at most half the kernel size {kernel}, as PyTorch requires")
    images, single = _batched(x, owner)
    fill = -math.inf if reduce == "max" else 0.0
    cols = _windows(images, kernel, kernel if stride is None else stride, pad, 1, pad_value=fill)
    n, oh, ow, c = cols.shape[:4]
    flat = cols.reshape(n, oh, ow, c, kernel[0] * kernel[1])
    pooled = (flat.max(axis=-1) if reduce == "max" else flat.mean(axis=-1)).transpose(0, 3, 1, 2)
    return pooled[0] if single else pooled


def max_pool2d(x: TensorLike, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> Tensor:
    """The maximum of each (kH, kW) window (``stride`` defaults to the kernel size; padding
    counts as -inf), as PyTorch's ``F.max_pool2d``. Ties in a window share the gradient evenly
    (the package's max convention; PyTorch gives it all to one of them)."""
    return _pool(x, kernel_size, stride, padding, "max_pool2d", "max")


def avg_pool2d(x: TensorLike, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> Tensor:
    """The mean of each (kH, kW) window (``stride`` defaults to the kernel size), zero padding
    counted in the mean (PyTorch's default ``count_include_pad=True``)."""
    return _pool(x, kernel_size, stride, padding, "avg_pool2d", "mean")


class Conv2d(Module):
    """2-D convolution layer (PyTorch's ``nn.Conv2d`` without groups): :func:`conv2d` with
    ``weight`` of shape (out_channels, in_channels, kH, kW) and ``bias`` (out_channels,).

    Both start as U(−1/√fan_in, 1/√fan_in) with fan_in = in_channels·kH·kW (PyTorch's default
    initialisation); ``rng`` (a Generator or an int seed) makes it reproducible."""

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair, stride: IntPair = 1,
                 padding: IntPair = 0, dilation: IntPair = 1, bias: bool = True,
                 rng: np.random.Generator | int | None = None, dtype: Any = None) -> None:
        super().__init__()
        for what, n in (("in_channels", in_channels), ("out_channels", out_channels)):
            if not (is_integer(n) and n >= 1):
                raise ValueError(f"Conv2d needs a positive integer {what}, got {n!r}")
        self.in_channels, self.out_channels = int(in_channels), int(out_channels)
        self.kernel_size = _pair(kernel_size, "Conv2d: kernel_size", 1)
        self.stride = _pair(stride, "Conv2d: stride", 1)
        self.padding = _pair(padding, "Conv2d: padding", 0)
        self.dilation = _pair(dilation, "Conv2d: dilation", 1)
        dtype = np.dtype(np.float64 if dtype is None else dtype)
        gen = generator(rng)
        bound = 1.0 / math.sqrt(self.in_channels * self.kernel_size[0] * self.kernel_size[1])
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Tensor(gen.uniform(-bound, bound, size=shape).astype(dtype), requires_grad=True)
        self.bias = Tensor(gen.uniform(-bound, bound, size=self.out_channels).astype(dtype), requires_grad=True) if bias else None

    def forward(self, x: TensorLike) -> Tensor:
        """(N, in_channels, H, W) → (N, out_channels, oH, oW) (or without the N axis)."""
        return conv2d(x, self.weight, self.bias, self.stride, self.padding, self.dilation)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}, "
                f"padding={self.padding}, dilation={self.dilation}, bias={self.bias is not None}")


class _Pool2d(Module):
    def __init__(self, kernel_size: IntPair, stride: IntPair | None = None, padding: IntPair = 0) -> None:
        super().__init__()
        name = type(self).__name__
        self.kernel_size = _pair(kernel_size, f"{name}: kernel_size", 1)
        self.stride = self.kernel_size if stride is None else _pair(stride, f"{name}: stride", 1)
        self.padding = _pair(padding, f"{name}: padding", 0)

    def extra_repr(self) -> str:
        return f"kernel_size={self.kernel_size}, stride={self.stride}, padding={self.padding}"


class MaxPool2d(_Pool2d):
    """:func:`max_pool2d` as a layer: (N, C, H, W) → (N, C, oH, oW); ``stride`` defaults to
    ``kernel_size``."""

    def forward(self, x: TensorLike) -> Tensor:
        return max_pool2d(x, self.kernel_size, self.stride, self.padding)


class AvgPool2d(_Pool2d):
    """:func:`avg_pool2d` as a layer: (N, C, H, W) → (N, C, oH, oW); ``stride`` defaults to
    ``kernel_size``."""

    def forward(self, x: TensorLike) -> Tensor:
        return avg_pool2d(x, self.kernel_size, self.stride, self.padding)


class Flatten(Module):
    """Merge axes ``start_dim``..``end_dim`` into one (PyTorch's ``nn.Flatten``: the batch axis
    0 is kept by default)."""

    def __init__(self, start_dim: int = 1, end_dim: int = -1) -> None:
        super().__init__()
        self.start_dim, self.end_dim = int(start_dim), int(end_dim)

    def forward(self, x: TensorLike) -> Tensor:
        return as_tensor(x).flatten(self.start_dim, self.end_dim)

    def extra_repr(self) -> str:
        return f"start_dim={self.start_dim}, end_dim={self.end_dim}"
