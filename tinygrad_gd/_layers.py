"""Layers beyond the linear ones, re-exported by ``tg.nn``: ``Dropout``, ``LayerNorm``,
``BatchNorm1d``, ``Embedding``, and the function ``cosine_similarity``.

Each is a few Tensor operations, so its gradient comes from the ops it is made of. Modes follow
PyTorch: ``Dropout`` drops only in training mode and ``BatchNorm1d`` normalizes with the batch's
statistics in training mode (updating its running statistics) and with the running ones after
``model.eval()``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from . import autograd
from ._graph_tensor import bump_version
from ._typing import TensorLike
from ._validate import as_tensor, bounded, generator, is_integer
from .nn import Module
from .tensor import Tensor, maximum

__all__ = ["Dropout", "LayerNorm", "BatchNorm1d", "Embedding", "cosine_similarity"]


def _positive_int(value: Any, what: str) -> int:
    if not (is_integer(value) and value >= 1):
        raise ValueError(f"{what} must be a positive integer, got {value!r}")
    return int(value)


def _float_dtype(dtype: Any, owner: str) -> np.dtype:
    dtype = np.dtype(np.float64 if dtype is None else dtype)
    if dtype.kind != "f":
        raise TypeError(f"{owner} parameters need a float dtype, got {dtype}")
    return dtype


def cosine_similarity(x1: TensorLike, x2: TensorLike, axis: int = 1, eps: float = 1e-8, *,
                      dim: int | None = None) -> Tensor:
    """x1·x2 / (max(‖x1‖, eps) · max(‖x2‖, eps)) along ``axis`` (``dim`` is PyTorch's name for
    it), as PyTorch's ``F.cosine_similarity``; ``x1`` and ``x2`` broadcast against each other.

    A similarity in [-1, 1], not a loss (``1 - cosine_similarity(...)`` is one). The norms are
    clamped at ``eps`` before dividing, so a zero vector gives 0 with a finite gradient."""
    a, b = as_tensor(x1), as_tensor(x2)
    axis = axis if dim is None else dim
    floor = float(eps) ** 2

    def clamped_norm(t: Tensor) -> Tensor:
        return maximum((t * t).sum(axis=axis), floor).sqrt()  # max(‖t‖, eps), never sqrt(0)

    return (a * b).sum(axis=axis) / (clamped_norm(a) * clamped_norm(b))


class Dropout(Module):
    """In training mode, zero each element with probability ``p`` and scale the others by
    1/(1 − p), so the expected output is the input (PyTorch's ``nn.Dropout``); in eval mode
    (``model.eval()``) the identity. ``rng`` (a Generator or an int seed) makes the masks
    reproducible."""

    def __init__(self, p: float = 0.5, rng: np.random.Generator | int | None = None) -> None:
        super().__init__()
        self.p = bounded(p, "Dropout: p", 0.0, 1.0)
        self.rng = generator(rng)

    def forward(self, inputs: TensorLike) -> Tensor:
        x: Tensor = as_tensor(inputs)
        if not self.training or self.p == 0.0:
            return x
        if self.p == 1.0:
            return x * 0.0
        autograd.refuse_in_trace("Dropout in training mode", "it draws a new random mask at every call, a trace would keep one")
        keep = self.rng.random(x.shape) >= self.p
        return x * (keep * (1.0 / (1.0 - self.p))).astype(x.dtype)

    def extra_repr(self) -> str:
        return f"p={self.p}"


class LayerNorm(Module):
    """(x − mean) / √(var + eps) · weight + bias, with mean and (biased) var over the last
    ``len(normalized_shape)`` axes of each sample (PyTorch's ``nn.LayerNorm``); ``weight``
    starts at ones and ``bias`` at zeros, both of shape ``normalized_shape``
    (``elementwise_affine=False``: neither)."""

    def __init__(self, normalized_shape: int | Sequence[int], eps: float = 1e-5, elementwise_affine: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        shape = (normalized_shape,) if is_integer(normalized_shape) else tuple(normalized_shape)  # type: ignore[arg-type]
        self.normalized_shape = tuple(_positive_int(n, "LayerNorm: normalized_shape entries") for n in shape)
        self.eps = bounded(eps, "LayerNorm: eps")
        dtype = _float_dtype(dtype, "LayerNorm")
        self.elementwise_affine = bool(elementwise_affine)
        self.weight = Tensor(np.ones(self.normalized_shape, dtype), requires_grad=True) if elementwise_affine else None
        self.bias = Tensor(np.zeros(self.normalized_shape, dtype), requires_grad=True) if elementwise_affine else None

    def forward(self, inputs: TensorLike) -> Tensor:
        x: Tensor = as_tensor(inputs)
        k = len(self.normalized_shape)
        if x.ndim < k or x.shape[x.ndim - k :] != self.normalized_shape:
            raise ValueError(
                f"LayerNorm({self.normalized_shape}) normalizes over the last {k} axes, which must have "
                f"shape {self.normalized_shape}, got an input of shape {x.shape}"
            )
        axes = tuple(range(x.ndim - k, x.ndim))
        centered = x - x.mean(axis=axes, keepdims=True)
        out = centered / ((centered * centered).mean(axis=axes, keepdims=True) + self.eps).sqrt()
        return out if self.weight is None else out * self.weight + self.bias

    def extra_repr(self) -> str:
        return f"{self.normalized_shape}, eps={self.eps}, elementwise_affine={self.elementwise_affine}"


class BatchNorm1d(Module):
    """Batch normalization of (N, C) or (N, C, L) inputs per channel (PyTorch's
    ``nn.BatchNorm1d``): (x − mean) / √(var + eps) · weight + bias.

    In training mode mean and var are the batch's (biased var, over N and L), and the buffers
    ``running_mean``/``running_var`` move towards them: r ← (1 − momentum)·r + momentum·stat, with
    the *unbiased* batch variance for ``running_var``, as PyTorch (``momentum=None``: the
    cumulative average over ``num_batches_tracked`` batches). After ``eval()`` the running
    statistics are used instead. ``affine=False``: no ``weight``/``bias``."""

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float | None = 0.1, affine: bool = True,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_features = _positive_int(num_features, "BatchNorm1d: num_features")
        self.eps = bounded(eps, "BatchNorm1d: eps")
        self.momentum = None if momentum is None else bounded(momentum, "BatchNorm1d: momentum", 0.0, 1.0)
        dtype = _float_dtype(dtype, "BatchNorm1d")
        c = self.num_features
        self.affine = bool(affine)
        self.weight = Tensor(np.ones(c, dtype), requires_grad=True) if affine else None
        self.bias = Tensor(np.zeros(c, dtype), requires_grad=True) if affine else None
        self.register_buffer("running_mean", Tensor(np.zeros(c, dtype)))
        self.register_buffer("running_var", Tensor(np.ones(c, dtype)))
        self.register_buffer("num_batches_tracked", Tensor(np.zeros((), np.int64), dtype=np.int64))

    def forward(self, inputs: TensorLike) -> Tensor:
        x: Tensor = as_tensor(inputs)
        if x.ndim not in (2, 3) or x.shape[1] != self.num_features:
            raise ValueError(
                f"BatchNorm1d({self.num_features}) expects an input of shape (N, {self.num_features}) or "
                f"(N, {self.num_features}, L), got shape {x.shape}"
            )
        axes = (0,) if x.ndim == 2 else (0, 2)
        per_channel = (1, self.num_features) + (1,) * (x.ndim - 2)
        if self.training:
            autograd.refuse_in_trace("BatchNorm1d in training mode", "it updates its running statistics at every call, outside the ops")
            count = x.size // self.num_features
            if count < 2:
                raise ValueError(
                    f"BatchNorm1d needs more than 1 value per channel in training mode, got an input of "
                    f"shape {x.shape}: use a batch of 2 or more, or call model.eval() first"
                )
            centered = x - x.mean(axis=axes, keepdims=True)
            var = (centered * centered).mean(axis=axes, keepdims=True)
            self._track(x.data.mean(axis=axes), var.data.reshape(-1) * (count / (count - 1)))
            out = centered / (var + self.eps).sqrt()
        else:
            mean, var = (b.data.reshape(per_channel) for b in (self.running_mean, self.running_var))
            out = (x - mean) / np.sqrt(var + self.eps)
        if self.weight is None or self.bias is None:
            return out
        return out * self.weight.reshape(per_channel) + self.bias.reshape(per_channel)

    def _track(self, mean: np.ndarray, unbiased_var: np.ndarray) -> None:
        """Move the running statistics towards this batch's (in place: no graph, versions bumped)."""
        self.num_batches_tracked.data[...] += 1
        factor = 1.0 / float(self.num_batches_tracked.data) if self.momentum is None else self.momentum
        for buffer, stat in ((self.running_mean, mean), (self.running_var, unbiased_var)):
            buffer.data *= 1.0 - factor
            buffer.data += factor * stat
            bump_version(buffer)
        bump_version(self.num_batches_tracked)

    def extra_repr(self) -> str:
        return f"{self.num_features}, eps={self.eps}, momentum={self.momentum}, affine={self.affine}"


class Embedding(Module):
    """A lookup table: ``forward(indices)`` is ``weight[indices]``, of shape ``indices.shape +
    (embedding_dim,)`` (PyTorch's ``nn.Embedding``). ``weight`` (num_embeddings, embedding_dim)
    starts as N(0, 1), as PyTorch's; repeated indices accumulate their gradients."""

    def __init__(self, num_embeddings: int, embedding_dim: int, rng: np.random.Generator | int | None = None,
                 dtype: Any = None) -> None:
        super().__init__()
        self.num_embeddings = _positive_int(num_embeddings, "Embedding: num_embeddings")
        self.embedding_dim = _positive_int(embedding_dim, "Embedding: embedding_dim")
        dtype = _float_dtype(dtype, "Embedding")
        values = generator(rng).standard_normal((self.num_embeddings, self.embedding_dim)).astype(dtype)
        self.weight = Tensor(values, requires_grad=True)

    def forward(self, indices: Any) -> Tensor:
        """indices: integer ids (an int array, a list, or a Tensor of whole numbers) in
        [0, num_embeddings)."""
        ids = np.asarray(indices.data if isinstance(indices, Tensor) else indices)
        if ids.dtype.kind not in "iuf" or (ids.dtype.kind == "f" and not np.all(np.mod(ids, 1) == 0)):
            raise TypeError(f"Embedding needs integer indices, got an array of dtype {ids.dtype}: pass integer ids")
        bad = ids[(ids < 0) | (ids >= self.num_embeddings)]
        if bad.size:
            raise IndexError(
                f"Embedding({self.num_embeddings}, {self.embedding_dim}): index {bad.flat[0].item()!r} is out of "
                f"range; indices must lie in [0, {self.num_embeddings - 1}]"
            )
        return self.weight[ids.astype(np.intp)]

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
