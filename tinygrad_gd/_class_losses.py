"""Losses on distributions over classes, registered in ``losses.LOSSES`` and re-exported by
``tg.losses``: ``nll_loss`` (log-probabilities and class ids) and ``kl_div`` (log-probabilities
and target probabilities), plus the weighted / ignored / label-smoothed form of
``cross_entropy``. All follow PyTorch's ``torch.nn.functional`` conventions exactly.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np

from . import _deferred_checks
from ._typing import TensorLike
from .losses import Reduction, _as_input, _as_target, _check_reduction, _class_labels, _reduce, register_loss
from .tensor import Tensor, where

__all__ = ["nll_loss", "kl_div"]


def _class_inputs(scores: TensorLike, labels: TensorLike, weight: TensorLike | None, ignore_index: int,
                  name: str) -> tuple[Tensor, np.ndarray, np.ndarray, np.ndarray]:
    """``(x (n, C), safe ids, per-sample weights, class weights)``: a (C,) input becomes one row;
    ignored rows get weight 0 (and the safe id 0, so that indexing stays in range)."""
    x = _as_input(scores, name, "input")
    if x.ndim not in (1, 2) or x.shape[-1] == 0:
        raise ValueError(f"{name}: the input must have shape (n, C) with C ≥ 1 classes (or (C,)), got shape {x.shape}")
    n, classes = (x.shape[0] if x.ndim == 2 else 1), x.shape[-1]
    ids = _class_labels(labels, n, classes, x.shape, name, ignore_index).reshape(-1)
    if _deferred_checks.is_dask(ids):
        raise TypeError(
            f"{name} with class weights, label smoothing or ignored rows picks one entry per row by "
            f"integer-array indexing with the labels, which Dask cannot do with Dask labels; use "
            f"cross_entropy(logits, labels) without those options (a one-hot form, lazy), or compute the labels"
        )
    class_weight = np.ones(classes, dtype=x.dtype)
    if weight is not None:
        class_weight = np.asarray(weight.data if isinstance(weight, Tensor) else weight, dtype=x.dtype)
        if class_weight.shape != (classes,):
            raise ValueError(f"{name}: weight must have one entry per class, shape ({classes},), got {class_weight.shape}")
    valid = ids != ignore_index
    safe = np.where(valid, ids, 0)
    return x.reshape(n, classes), safe, class_weight[safe] * valid, class_weight


def _weighted_nll(log_probs: Tensor, safe: np.ndarray, sample_weight: np.ndarray, reduction: str) -> Tensor:
    """−w_i·log_probs[i, y_i], reduced; "mean" divides by Σ w_i (PyTorch's weighted mean)."""
    terms = -log_probs[np.arange(len(safe)), safe] * sample_weight
    if reduction == "mean":
        return terms.sum() / sample_weight.sum()
    return _reduce(terms, reduction)


def _unbatched(loss: Tensor, x: Any, reduction: str) -> Tensor:
    """A (C,) input with one label gives a scalar term for ``reduction="none"``, as PyTorch."""
    return loss.reshape(()) if reduction == "none" and np.ndim(getattr(x, "data", x)) == 1 else loss


@register_loss(label="negative log-likelihood of class labels", task="classification", short="NLL",
               input_kind="class")
def nll_loss(log_probs: TensorLike, labels: TensorLike, reduction: Reduction = "mean", *,
             weight: TensorLike | None = None, ignore_index: int = -100) -> Tensor:
    """Negative log-likelihood: −weight[y_i]·log_probs[i, y_i] for log-probabilities (n, C) (a
    ``log_softmax`` output) and integer class ids y (PyTorch's ``F.nll_loss``).

    "mean" divides by Σ weight[y_i] over the rows that count; rows labelled ``ignore_index``
    count for nothing. ``cross_entropy(x, y)`` is ``nll_loss(x.log_softmax(axis=1), y)``."""
    name = "nll_loss"
    _check_reduction(reduction, name)
    x, safe, sample_weight, _ = _class_inputs(log_probs, labels, weight, ignore_index, name)
    return _unbatched(_weighted_nll(x, safe, sample_weight, reduction), log_probs, reduction)


def _weighted_cross_entropy(logits: Tensor, labels: np.ndarray, reduction: str, weight: TensorLike | None,
                            ignore_index: int, label_smoothing: float) -> Tensor:
    """cross_entropy with class weights, ignored rows and label smoothing ε, as PyTorch computes
    it: (1 − ε)·nll + ε/C·smooth, smooth_i = −Σ_c w_c·log p_ic (0 on ignored rows), both "mean"s
    divided by the same Σ w_{y_i}."""
    name = "cross_entropy"
    if isinstance(label_smoothing, bool) or not (0.0 <= label_smoothing <= 1.0):
        raise ValueError(f"{name}: label_smoothing must be a number in [0, 1], got {label_smoothing!r}")
    x, safe, sample_weight, class_weight = _class_inputs(logits, labels, weight, ignore_index, name)
    log_probs = x.log_softmax(axis=1)
    loss = _weighted_nll(log_probs, safe, sample_weight, reduction)
    if label_smoothing:
        smooth = -(log_probs * class_weight).sum(axis=1) * (sample_weight != 0)
        if reduction == "mean":
            smooth = smooth.sum() / sample_weight.sum()
        else:
            smooth = _reduce(smooth, reduction)
        loss = loss * (1.0 - label_smoothing) + smooth * (label_smoothing / x.shape[1])
    return _unbatched(loss, logits, reduction)


KLReduction = Literal["mean", "sum", "none", "batchmean"]


@register_loss(label="Kullback-Leibler divergence", task="classification", short="KL divergence",
               input_kind="logit")
def kl_div(input: TensorLike, target: TensorLike, reduction: KLReduction = "mean", log_target: bool = False) -> Tensor:
    """KL(target ‖ input) per element, for log-probabilities ``input`` and probabilities ``target``
    (PyTorch's ``F.kl_div``): target·(log target − input), 0 where target = 0.

    ``log_target=True``: the target is given as log-probabilities too, exp(t)·(t − input).
    ``reduction="batchmean"`` divides the sum by the batch size (``input.shape[0]``): the
    mathematical KL divergence of each row, averaged; "mean" divides by the number of
    elements, as PyTorch's "mean" does. Shapes must match (no broadcasting)."""
    name = "kl_div"
    if reduction not in ("mean", "sum", "none", "batchmean"):
        raise ValueError(f"{name}: reduction must be 'mean', 'sum' or 'none', or 'batchmean' (the sum divided by "
                         f"the batch size: the KL divergence of each row, averaged), got {reduction!r}")
    x = _as_input(input, name, "input")
    t = _as_target(target, x, name, "input")
    if log_target:
        terms = (t - x) * (t.exp() if isinstance(t, Tensor) else np.exp(t))
    else:
        positive = (t.data if isinstance(t, Tensor) else t) > 0
        terms = t * where(positive, t, 1.0).log() - t * x  # xlogy(t, t): 0 log 0 = 0
    if reduction == "batchmean":
        return terms.sum() / (x.shape[0] if x.ndim else 1)
    return _reduce(terms, reduction)
