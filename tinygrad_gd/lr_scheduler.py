"""Learning-rate schedules (PyTorch's ``torch.optim.lr_scheduler``), re-exported by ``optim``.

    >>> import tinygrad_gd as tg
    >>> w = tg.Tensor([1.0], requires_grad=True)
    >>> opt = tg.optim.SGD([w], lr=1.0)
    >>> sched = tg.optim.StepLR(opt, step_size=2, gamma=0.5)
    >>> for epoch in range(4):
    ...     # ... one epoch of zero_grad(), backward(), opt.step() ...
    ...     sched.step()
    >>> sched.get_last_lr()
    [0.25]

A schedule is one :class:`LRScheduler` subclass whose ``get_lr()`` gives every group's rate at
epoch ``last_epoch``, in closed form from the rate the group had when the scheduler was made.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

from ._validate import bounded, describe, is_integer

if TYPE_CHECKING:  # pragma: no cover - only for type checkers
    from .optim import Optimizer

__all__ = ["LRScheduler", "StepLR", "ExponentialLR", "CosineAnnealingLR"]


def _positive_integer(value: Any, owner: str, name: str) -> int:
    if not is_integer(value) or value < 1:
        raise ValueError(f"{owner}: {name} must be a positive integer, got {value!r}")
    return int(value)


class LRScheduler:
    """Base of learning-rate schedules: ``step()`` once per epoch (after ``optimizer.step()``)
    sets every group's ``lr`` to ``get_lr()`` at the new epoch count.

    Schedules are computed in closed form from each group's ``initial_lr`` (its lr when the
    scheduler was created); these equal PyTorch's recursive forms whenever the scheduler is
    the only thing changing the learning rate.
    """

    def __init__(self, optimizer: Optimizer, last_epoch: int = -1) -> None:
        owner = type(self).__name__
        # Duck-typed, so that this module sits below optim (which re-exports it) and imports nothing of it.
        groups = getattr(optimizer, "param_groups", None)
        if not isinstance(groups, list) or not all(isinstance(group, dict) and "lr" in group for group in groups):
            raise TypeError(f"{owner} needs an Optimizer (with param_groups), got {describe(optimizer)}")
        if not is_integer(last_epoch) or last_epoch < -1:
            raise ValueError(f"{owner}: last_epoch must be an integer ≥ -1, got {last_epoch!r}")
        self.optimizer = optimizer
        if last_epoch == -1:
            for group in optimizer.param_groups:
                group.setdefault("initial_lr", group["lr"])
        elif any("initial_lr" not in group for group in optimizer.param_groups):
            raise ValueError(
                f"{owner}: resuming with last_epoch={last_epoch} needs 'initial_lr' in every "
                f"parameter group (restore the optimizer's state_dict first)"
            )
        self.base_lrs: list[float] = [group["initial_lr"] for group in optimizer.param_groups]
        self.last_epoch = int(last_epoch)
        self._last_lr: list[float] = [group["lr"] for group in optimizer.param_groups]
        self.step()

    def get_lr(self) -> list[float]:
        """The learning rate of each group at epoch ``last_epoch`` (subclasses)."""
        raise NotImplementedError

    def step(self) -> None:
        """Advance one epoch and set each group's lr."""
        self.last_epoch += 1
        lrs = self.get_lr()
        for group, lr in zip(self.optimizer.param_groups, lrs):
            group["lr"] = lr
        self._last_lr = list(lrs)

    def get_last_lr(self) -> list[float]:
        """The learning rates the last ``step()`` set, one per parameter group."""
        return list(self._last_lr)

    def state_dict(self) -> dict[str, Any]:
        """Everything but the optimizer (save that with its own ``state_dict``)."""
        return {k: (list(v) if isinstance(v, list) else v) for k, v in self.__dict__.items() if k != "optimizer"}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore a schedule saved by :meth:`state_dict`."""
        self.__dict__.update({k: (list(v) if isinstance(v, list) else v) for k, v in state_dict.items()})


class StepLR(LRScheduler):
    """lr = initial_lr · gamma^⌊epoch / step_size⌋: decay by ``gamma`` every ``step_size`` epochs."""

    def __init__(self, optimizer: Optimizer, step_size: int, gamma: float = 0.1, last_epoch: int = -1) -> None:
        self.step_size = _positive_integer(step_size, "StepLR", "step_size")
        self.gamma = bounded(gamma, "StepLR: gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma ** (self.last_epoch // self.step_size) for base in self.base_lrs]


class ExponentialLR(LRScheduler):
    """lr = initial_lr · gamma^epoch: decay by ``gamma`` every epoch."""

    def __init__(self, optimizer: Optimizer, gamma: float, last_epoch: int = -1) -> None:
        self.gamma = bounded(gamma, "ExponentialLR: gamma")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        return [base * self.gamma**self.last_epoch for base in self.base_lrs]


class CosineAnnealingLR(LRScheduler):
    """lr = eta_min + (initial_lr - eta_min)·(1 + cos(π·epoch / T_max)) / 2.

    Falls from the initial lr to ``eta_min`` over ``T_max`` epochs, then (as PyTorch) rises
    again along the same cosine if stepped further.
    """

    def __init__(self, optimizer: Optimizer, T_max: int, eta_min: float = 0.0, last_epoch: int = -1) -> None:  # noqa: N803
        self.T_max = _positive_integer(T_max, "CosineAnnealingLR", "T_max")
        self.eta_min = bounded(eta_min, "CosineAnnealingLR: eta_min")
        super().__init__(optimizer, last_epoch)

    def get_lr(self) -> list[float]:
        phase = (1.0 + math.cos(math.pi * self.last_epoch / self.T_max)) / 2.0
        return [self.eta_min + (base - self.eta_min) * phase for base in self.base_lrs]
