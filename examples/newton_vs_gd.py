"""Gradient descent, momentum and Newton's method on the line y = 2x, side by side.

The update-rule tutorial's problem: X = [1, 2, 3], y = [2, 4, 6], w = b = 0, cost J = 1/(2m) Σ (Xw + b − y)².
J is quadratic in θ = (w, b), so its Hessian H is a constant matrix and everything about
gradient descent on it follows from H's eigenvalues λmin ≤ λmax:

* a learning rate above 2/λmax diverges; the tutorial's 0.01 is stable but crawls along the flat
  direction (the step shrinks the error there by only 1 − 0.01·λmin per step);
* the best fixed learning rate, 2/(λmin + λmax), converges at (κ − 1)/(κ + 1) per step,
  κ = λmax/λmin;
* heavy-ball momentum tuned from λmin and λmax converges at (√κ − 1)/(√κ + 1) per step;
* Newton's method, θ ← θ − H⁻¹∇J, lands on the minimum in one step (the quadratic model of a
  quadratic is exact).

Gradients and the Hessian come from autodiff (tg.grad, tg.hessian); the Hessian is checked
against the hand-derived analytic.linreg_half_mse_hessian. Prints a table (steps until
J ≤ 1e-10, final J); with matplotlib installed it also saves the loss curves.

Run: python examples/newton_vs_gd.py [--plot newton_vs_gd.png | --no-plot]   (about a second)
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass

import numpy as np

import tinygrad_gd as tg
from tinygrad_gd import analytic

X = np.array([[1.0], [2.0], [3.0]])  # the update-rule tutorial: m x n features, no bias column
Y = np.array([[2.0], [4.0], [6.0]])  # m x 1 targets
TARGET = 1e-10  # "converged": the cost is at most this (the minimum is 0: y = 2x exactly)
MAX_STEPS = 20_000


def cost(theta: tg.Tensor) -> tg.Tensor:
    """J(θ) = 1/(2m) Σ (X w + b − y)² with θ = (w, b) packed in one vector."""
    w, b = theta[:1].reshape(1, 1), theta[1]
    return tg.losses.half_mse(tg.Tensor(X) @ w + b, Y)


@dataclass
class Run:
    """One method's trajectory: the cost before each step, and when it reached TARGET."""

    name: str
    lr: float | None
    momentum: float | None
    losses: list[float]
    steps: int | None  # updates until J <= TARGET; None if it never got there

    @property
    def final_loss(self) -> float:
        return self.losses[-1]


def descend(name: str, lr: float, momentum: float = 0.0, max_steps: int = MAX_STEPS) -> Run:
    """(Heavy-ball) gradient descent from θ = 0 with tg.optim.SGD until J <= TARGET."""
    theta = tg.zeros(2, requires_grad=True)
    optimizer = tg.optim.SGD([theta], lr=lr, momentum=momentum)
    losses: list[float] = []
    steps = None
    for step in range(max_steps + 1):
        loss = cost(theta)
        losses.append(loss.item())
        if losses[-1] <= TARGET:
            steps = step
            break
        if not np.isfinite(losses[-1]) or losses[-1] > 1e12:
            break  # diverged: no point going on
        if step < max_steps:
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    return Run(name, lr, momentum, losses, steps)


def newton() -> Run:
    """One Newton step θ₁ = θ₀ − H⁻¹ ∇J(θ₀), gradient and Hessian by autodiff."""
    theta = np.zeros(2)
    gradient = tg.grad(cost)(theta)
    hessian = tg.hessian(cost)(theta)
    theta = theta - np.linalg.solve(hessian, gradient)
    losses = [cost(tg.Tensor(np.zeros(2))).item(), cost(tg.Tensor(theta)).item()]
    return Run("Newton's method", None, None, losses, 1 if losses[-1] <= TARGET else None)


def compare() -> tuple[list[Run], np.ndarray]:
    """Every method on the tutorial's problem; returns the runs and the Hessian."""
    H = tg.hessian(cost)(np.zeros(2))
    np.testing.assert_allclose(H, analytic.linreg_half_mse_hessian(X), atol=1e-12)
    lam_min, lam_max = np.linalg.eigvalsh(H)
    limit = analytic.largest_stable_lr(H)  # 2 / λmax
    best_lr = 2.0 / (lam_min + lam_max)
    root_kappa = np.sqrt(lam_max / lam_min)
    heavy_ball_momentum = ((root_kappa - 1) / (root_kappa + 1)) ** 2
    heavy_ball_lr = 4.0 / (np.sqrt(lam_max) + np.sqrt(lam_min)) ** 2
    runs = [
        descend("gradient descent, the tutorial's lr", 0.01),
        descend("gradient descent + momentum 0.9", 0.01, momentum=0.9),
        descend("gradient descent, best fixed lr", best_lr),
        descend("momentum tuned from λmin, λmax", heavy_ball_lr, momentum=heavy_ball_momentum),
        descend("gradient descent, lr 1% above 2/λmax", 1.01 * limit, max_steps=2000),
        newton(),
    ]
    return runs, H


def report(runs: list[Run], H: np.ndarray) -> None:
    lam_min, lam_max = np.linalg.eigvalsh(H)
    print("the update-rule tutorial: X = [1, 2, 3], y = [2, 4, 6], J = 1/(2m) Σ (Xw + b − y)², start w = b = 0")
    print(f"Hessian of J (autodiff = hand-derived): {H.round(4).tolist()}")
    print(
        f"eigenvalues λmin = {lam_min:.4f}, λmax = {lam_max:.4f}; condition number κ = {lam_max / lam_min:.1f}; "
        f"largest stable lr 2/λmax = {analytic.largest_stable_lr(H):.4f}"
    )
    print()
    header = f"{'method':<38} {'lr':>8} {'momentum':>9} {'steps to J <= 1e-10':>20} {'final J':>10}"
    print(header)
    print("-" * len(header))
    for run in runs:
        lr = "-" if run.lr is None else f"{run.lr:.4f}"
        momentum = "-" if run.momentum is None else f"{run.momentum:.3f}"
        if run.steps is not None:
            steps = str(run.steps)
        elif run.final_loss > run.losses[0]:
            steps = f"diverged ({len(run.losses) - 1})"
        else:
            steps = f"> {len(run.losses) - 1}"
        print(f"{run.name:<38} {lr:>8} {momentum:>9} {steps:>20} {run.final_loss:>10.2e}")


def plot(runs: list[Run], path: str) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")  # files only: works without a display
        import matplotlib.pyplot as plt
    except ImportError:
        print("\n(matplotlib is not installed: no figure. pip install 'tinygrad_gd[plot]' to get one.)")
        return
    fig, ax = plt.subplots(figsize=(7, 4))
    for run in runs:
        steps = np.arange(len(run.losses))
        style = "o-" if len(run.losses) <= 2 else "-"
        ax.semilogy(steps, np.maximum(run.losses, 1e-30), style, label=run.name, linewidth=1.2)
    ax.axhline(TARGET, color="grey", linestyle=":", linewidth=1)
    ax.set_xscale("symlog", linthresh=10)  # linear for the first 10 steps, then logarithmic
    ax.set_xlim(0, max(len(run.losses) for run in runs))
    ax.set_ylim(1e-33, 1e13)
    ax.set_xlabel("step")
    ax.set_ylabel("cost J")
    ax.set_title("the line fit of y = 2x: gradient descent, momentum, Newton")
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    print(f"\nloss curves saved to {path}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--plot", default="newton_vs_gd.png", help="where to save the figure")
    parser.add_argument("--no-plot", action="store_true", help="print the table only")
    args = parser.parse_args(argv)
    runs, H = compare()
    report(runs, H)
    if not args.no_plot:
        plot(runs, args.plot)


if __name__ == "__main__":
    main()
