"""What ``tinygrad-gd fit`` reports: one dataclass, printed as text or as one JSON object
(``cli.py`` builds it from the arguments and the run), ending in the run's verdict; or what a
run that diverged reports (one line on stderr, or one JSON object)."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from ._fitting import FitSettings, Verdict, diverged_verdict
from ._text import curve_line, num, out, print_table
from .estimators import _Descent, _Evaluation, _Problem
from .train import History

__all__ = ["FitReport", "failure_message", "diverged_json"]

_STOP_REASONS = {"max_steps": "step budget used up", "epochs": "epochs done", "tol": "the loss stopped changing (--tol)"}


@dataclass
class FitReport:
    """A finished ``fit``: the settings it ran with, the run (original units), and how the
    model does on the training data."""

    data: str  # the CSV file
    target: str
    features: list[str]
    optimizer: str
    lr: float
    batch_size: int | None
    standardize: bool
    problem: _Problem
    run: _Descent
    evaluation: _Evaluation
    verdict: Verdict
    target_scaled: bool = False
    class_names: list[str] | None = None  # a text target's classes, by id
    saved: str | None = None
    plot: str | None = None

    @property
    def history(self) -> History:
        assert self.run.history is not None
        return self.run.history

    @property
    def full_batch(self) -> bool:
        return self.batch_size is None or self.batch_size >= len(self.problem.y)

    @property
    def excess_reference(self) -> float | None:
        """The least-squares loss J*, to show J − J* per step: only for full-batch mse/half_mse runs
        (a mini-batch's loss is not the full-data loss, so J − J* would mean nothing)."""
        cf = self.evaluation.closed_form
        if self.problem.loss_name not in ("mse", "half_mse") or not self.full_batch or cf is None:
            return None
        return cf.loss

    def as_json(self) -> dict[str, Any]:
        """The JSON object of ``fit --json`` (keys in this order)."""
        h, e, weight, bias = self.history, self.evaluation, self.run.weight, self.run.bias
        result: dict[str, Any] = {
            "command": "fit", "data": self.data, "target": self.target, "features": self.features,
            "rows": int(len(self.problem.y)), "model": self.problem.kind, "loss": self.problem.loss_name,
            "optimizer": self.optimizer, "lr": self.lr, "batch_size": self.batch_size, "full_batch": self.full_batch,
            "standardize": bool(self.standardize), "steps": h.steps, "epochs": h.epochs, "stop_reason": h.stop_reason,
            "target_standardized": self.target_scaled, "status": self.verdict.status,
            "verdict": self.verdict.line, "advice": self.verdict.advice,
            "initial_loss": h.loss[0], "final_loss": e.final_loss,
        }
        if e.closed_form is not None:
            cf, r2 = e.closed_form, e.r2 if e.r2 is not None and math.isfinite(e.r2) else None
            result.update(coef=weight[0].tolist(), intercept=float(bias[0]),
                          closed_form={"coef": cf.coef.tolist(), "intercept": cf.intercept, "loss": cf.loss},
                          closed_form_gap=e.closed_form_gap, r2=r2)
        else:
            assert self.problem.classes is not None
            classes = self.class_names or self.problem.classes.tolist()
            result.update(coef=weight.tolist(), intercept=bias.tolist(), classes=classes, accuracy=e.accuracy)
        result.update({k: v for k, v in (("saved", self.saved), ("plot", self.plot)) if v is not None})
        return result

    def print(self) -> None:
        """The text report: how training stopped, the loss curve, the coefficients, the files."""
        history = self.history
        epochs = f" ({history.epochs} epochs)" if history.epochs != history.steps else ""
        reason = _STOP_REASONS.get(history.stop_reason or "", history.stop_reason)
        out(f"stopped after {history.steps} steps{epochs}: {reason}")
        best = self.excess_reference
        label = "loss per step (log scale):" if self.full_batch else f"loss of each batch of {self.batch_size} rows:"
        out(f"  {label:<39} {curve_line(history.loss)}")
        if not self.full_batch and history.epoch_loss:
            out(f"  {'mean batch loss per epoch:':<39} {curve_line(history.epoch_loss)}")
        if best is not None and best > 1e-12 * history.loss[0]:
            out(f"  {'loss − least-squares loss (log scale):':<39} {curve_line([v - best for v in history.loss])}")
        if self.evaluation.closed_form is not None:
            self._print_linear()
        else:
            self._print_logistic()
        if self.saved is not None:
            k, outputs = self.run.weight.shape[1], self.run.weight.shape[0]
            out(f"saved the weights to {self.saved} (load with tg.nn.Linear({k}, {outputs}).load(...); "
                f"inputs in the order {', '.join(self.features)})")
        if self.plot is not None:
            out(f"wrote {self.plot}")
        for line in self.verdict.lines():
            out(line)

    def _print_linear(self) -> None:
        e, weight, bias, loss_name = self.evaluation, self.run.weight, self.run.bias, self.problem.loss_name
        assert e.closed_form is not None
        cf = e.closed_form
        rows = [[name, num(weight[0][i]), num(cf.coef[i]), f"{abs(weight[0][i] - cf.coef[i]):.2e}"]
                for i, name in enumerate(self.features)]
        rows.append(["intercept", num(bias[0]), num(cf.intercept), f"{abs(bias[0] - cf.intercept):.2e}"])
        rows.append([f"loss ({loss_name}, all rows)", num(e.final_loss), num(cf.loss), ""])
        print_table(["", "gradient descent", "closed form", "|gap|"], rows)
        note = ""
        if loss_name not in ("mse", "half_mse"):
            note = f" (least squares minimises mse, not {loss_name}: a gap is expected)"
        out(f"largest gap to the closed-form least-squares solution: {e.closed_form_gap:.3g}{note}")
        if e.r2 is not None:
            out(f"R² on the training data: {e.r2:.6g}")

    def _print_logistic(self) -> None:
        problem, weight, bias = self.problem, self.run.weight, self.run.bias
        assert problem.classes is not None
        labels = self.class_names or [f"{c:g}" for c in problem.classes]
        columns = range(problem.outputs)
        header = [f"logit of class {labels[1]}"] if problem.outputs == 1 else [f"class {c}" for c in labels]
        rows = [[name, *[num(weight[c][i]) for c in columns]] for i, name in enumerate(self.features)]
        rows.append(["intercept", *[num(bias[c]) for c in columns]])
        print_table(["", *header], rows)
        out(f"classes {', '.join(labels)}; loss on all rows {num(self.evaluation.final_loss)}; accuracy on the "
            f"training data: {self.evaluation.accuracy:.4f}")


def failure_message(run: _Descent, settings: FitSettings) -> tuple[str, int, Verdict] | None:
    """What went wrong, the exit status and the verdict: 1 for a diverged run, 2 when the data
    cannot even be evaluated at the start (an input error); None when training went fine."""
    standardized = settings.standardized
    if run.diverged is not None and run.diverged.step == 0:  # no update has happened: not the learning rate
        e = run.diverged
        return (
            f"the loss is {e.loss} at the start (all weights 0), before any update: the data holds "
            f"values too large for float64 arithmetic" + ("" if standardized else "; try --standardize"),
            2, diverged_verdict(run, settings),
        )
    if run.diverged is None and not (len(run.losses) > 1 and run.losses[-1] > run.losses[0]):
        return None
    verdict = diverged_verdict(run, settings)
    advice = "try " + " or ".join(verdict.advice)
    if run.diverged is not None:
        e = run.diverged
        finite_before = len(run.losses) > 1 and math.isfinite(run.losses[-2])
        before = f" (it was {run.losses[-2]:.4g} at step {e.step - 1})" if finite_before else ""
        return f"training diverged at step {e.step}: the loss became {e.loss}{before}; {advice}", 1, verdict
    return (
        f"training diverged: the loss rose from {run.losses[0]:.4g} at step 0 to {run.losses[-1]:.4g} "
        f"at step {len(run.losses) - 1}; {advice}",
        1, verdict,
    )


def diverged_json(data: str, target: str, features: list[str], message: str, verdict: Verdict,
                  run: _Descent) -> dict[str, Any]:
    """The one JSON object ``fit --json`` prints for a run that diverged."""
    step = run.diverged.step if run.diverged is not None else len(run.losses) - 1
    return {"command": "fit", "data": data, "target": target, "features": features, "status": verdict.status,
            "step": step, "loss": run.losses[-1], "initial_loss": run.losses[0], "error": message,
            "advice": verdict.advice, "verdict": verdict.line}
