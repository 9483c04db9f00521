"""The test tables of losses and optimizers, built from the package's registries.

A row is what the shared checks need: for a loss, its function, a sampler of valid inputs and
its options; for an optimizer, its class and the keyword arguments of a test run. Rows are
built from ``tinygrad_gd.losses.LOSSES`` and ``tinygrad_gd.optim.OPTIMIZERS`` each time they
are asked for, so a loss registered with ``@register_loss`` or an optimizer registered by
subclassing is in the tables at once, with nothing to add here.

The library declares only what kind of input a loss takes (``input_kind``) and where it
switches formula (``kinks``); the samplers that draw such inputs live here, keyed by kind.

:func:`registries_restored` puts both registries back as they were, for tests that register
throwaway entries.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from tinygrad_gd import losses, ops, optim

Sample = tuple[np.ndarray, np.ndarray]


# --------------------------------------------------------------------------- loss samplers
def _residual_sizes(rng: np.random.Generator, shape: tuple[int, ...], kinks: tuple[float, ...]) -> np.ndarray:
    """Residual magnitudes away from 0 and, on both sides, from each kink (both branches of
    a piecewise loss are exercised, none close to the switch)."""
    if not kinks:
        return rng.uniform(0.2, 1.5, size=shape)
    edges = sorted(kinks)
    bands = [(0.1 * edges[0], 0.8 * edges[0])]
    bands += [(1.2 * lo, 0.8 * hi) for lo, hi in zip(edges, edges[1:])]
    bands.append((1.2 * edges[-1], 2.5 * edges[-1]))
    choice = rng.integers(0, len(bands), size=shape)
    low, high = np.array(bands).T
    return rng.uniform(low[choice], high[choice])


def residual_pair(rng: np.random.Generator, kinks: tuple[float, ...] = ()) -> Sample:
    """A prediction and a target of shape (4, 3) whose differences avoid 0 and the kinks, random sign."""
    pred = rng.normal(size=(4, 3))
    size = _residual_sizes(rng, pred.shape, kinks)
    return pred, pred - size * rng.choice([-1.0, 1.0], size=pred.shape)


def probability_pair(rng: np.random.Generator, kinks: tuple[float, ...] = ()) -> Sample:
    """Probabilities inside (0, 1), away from the clamped edges, and soft labels."""
    return rng.uniform(0.05, 0.95, size=(4, 3)), rng.uniform(0.0, 1.0, size=(4, 3))


def logit_pair(rng: np.random.Generator, kinks: tuple[float, ...] = ()) -> Sample:
    """Logits of a few units and soft labels."""
    return rng.normal(scale=3.0, size=(4, 3)), rng.uniform(0.0, 1.0, size=(4, 3))


def class_pair(rng: np.random.Generator, kinks: tuple[float, ...] = ()) -> Sample:
    """(5, 4) logits and one integer class id per row."""
    return rng.normal(scale=2.0, size=(5, 4)), rng.integers(0, 4, size=5)


SAMPLERS: dict[str, Callable[..., Sample]] = {
    "residual": residual_pair,
    "probability": probability_pair,
    "logit": logit_pair,
    "class": class_pair,
}
"""A sampler for each ``input_kind`` a loss may declare."""


# --------------------------------------------------------------------------- rows
@dataclass(frozen=True)
class LossRow:
    """One loss of the table: ``fn(pred, target, reduction=..., **options)``; ``sample(rng)``
    returns valid float64 ``(pred, target)`` arrays (integer class ids for "class" losses)."""

    name: str
    fn: Callable[..., Any]
    input_kind: str
    options: Mapping[str, Any]
    kinks: tuple[float, ...]
    target_differentiable: bool

    def sample(self, rng: np.random.Generator) -> Sample:
        return SAMPLERS[self.input_kind](rng, self.kinks)


@dataclass(frozen=True)
class OptimizerRow:
    """One optimizer of the table: its class and the keyword arguments of a test run."""

    name: str
    cls: type[optim.Optimizer]
    kwargs: Mapping[str, Any]


def loss_rows() -> dict[str, LossRow]:
    """A row for every registered loss, by name, in registration order."""
    return {
        name: LossRow(name, spec.fn, spec.input_kind, dict(spec.options), spec.kinks, spec.target_differentiable)
        for name, spec in losses.LOSSES.items()
    }


def loss_row(name: str) -> LossRow:
    return loss_rows()[name]


def optimizer_rows() -> dict[str, OptimizerRow]:
    """A row for every registered optimizer, by name."""
    return {name: OptimizerRow(name, spec.cls, dict(spec.test_kwargs)) for name, spec in optim.OPTIMIZERS.items()}


def optimizer_row(name: str) -> OptimizerRow:
    return optimizer_rows()[name]


# --------------------------------------------------------------------------- ops
# The op table is tests/op_table.py (``op_rows()``), built from ``tinygrad_gd.ops.OPS`` and the
# test metadata each op declares at registration; the fuzzer's steps come from the same place.


# --------------------------------------------------------------------------- throwaway registrations
@contextlib.contextmanager
def registries_restored() -> Iterator[None]:
    """Run the block, then put ``losses.LOSSES``, ``optim.OPTIMIZERS`` and ``ops.OPS`` back as
    they were (the same dict objects, so every module that reads them sees the restored entries)."""
    saved = [(registry, dict(registry)) for registry in (losses.LOSSES, optim.OPTIMIZERS, ops.OPS)]
    try:
        yield
    finally:
        for registry, entries in saved:
            registry.clear()
            registry.update(entries)
