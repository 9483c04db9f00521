"""The ``tinygrad-gd`` command (also ``python -m tinygrad_gd``).

Subcommands::

    tinygrad-gd demo [--plot FILE.png]          gradient descent on two lines, gradients checked
    tinygrad-gd fit DATA.csv --target COL ...   gradient descent on your CSV
    tinygrad-gd check                           verify every built-in gradient
    tinygrad-gd lr-sweep (DATA.csv --target COL | --builtin NAME) [--lrs 0.001,0.01,0.1,1]
    tinygrad-gd explain [--builtin line] [--w 0 --b 0]   the half-MSE's gradient, op by op (tg.explain)
    tinygrad-gd make-data houses.csv [--dataset houses]   write a built-in dataset as a CSV file

Every ``fit`` ends with a verdict line: converged, stalled, stopped by budget or diverged, with
the gap to the closed form and what to try next. Exit codes: 0 success (whatever the verdict
short of a divergence); 1 a failed gradient check or a diverged training run; 2 a usage or
input error (missing file or column, a cell that is not a number, a bad option value, an
output file that cannot be written); 130 interrupted by Ctrl-C. Errors are one line on
stderr, never a traceback. Output files (``--plot``, ``--save``) are checked before any
training and written only at the end, each under a temporary name first, so a failed or
interrupted run leaves none behind, whole or partial.

This module is argparse and printing only. What each command computes lives with the library:
``fit`` trains through ``estimators`` (standardising, least squares, R², class ids) and reports
a ``_fit_report.FitReport``; ``lr-sweep`` runs ``sweep``; ``check`` runs ``_checks``; ``demo``
runs ``_demo``. The verdict and the scaled target are ``_fitting``'s, CSV reading is
``data.read_csv``'s. Output files go through ``_outputs``, figures through ``_figures``, text
through ``_text``.
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from . import _checks, _demo, _figures, analytic, data, losses, optim, sweep, train
from ._cli_dask import add_dask_options
from ._cli_fit import cmd_fit, cmd_make_data, read_table
from ._outputs import OutputFileError, check_output_file, check_outputs, writing_outputs
from ._text import CLIError, curve_line, out, print_json, print_table, tolerant_streams
from .estimators import _prepare, _Problem
from .explain import explain_builtin
from .sweep import MAX_LR, SweepResult, classify_run, sweep_learning_rates  # re-exported (docs/api.md)
from .viz import sparkline

__all__ = ["main", "build_parser", "CLIError", "MAX_LR", "SweepResult", "classify_run",
           "sweep_learning_rates"]

PROG = "tinygrad-gd"



# --------------------------------------------------------------------------- argument types
class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exits with status 2."""

    def error(self, message: str) -> Any:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _whole_number(text: str, minimum: int, malformed: str, too_small: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{malformed}, got {text!r}") from None
    if value < minimum:
        raise argparse.ArgumentTypeError(f"{too_small}, got {text!r}")
    return value


def _positive_int(text: str) -> int:
    return _whole_number(text, 1, "expected a positive whole number", "expected a positive whole number")


def _seed(text: str) -> int:
    return _whole_number(text, 0, "expected a whole number >= 0 such as 0 or 42",
                         "a seed must be a whole number >= 0 (such as 0 or 42)")


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a learning rate such as 0.01, got {text!r}") from None
    try:
        return sweep._check_learning_rate(value, text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def _learning_rates(text: str) -> list[float]:
    parts = [p.strip() for p in text.split(",") if p.strip()]
    if not parts:
        raise argparse.ArgumentTypeError(f"expected comma-separated learning rates such as 0.01,0.1,1, got {text!r}")
    return sorted({_learning_rate(p) for p in parts})


def _tolerance(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number such as 1e-9, got {text!r}") from None
    if not math.isfinite(value) or value < 0:
        raise argparse.ArgumentTypeError(f"the tolerance must be a finite number >= 0, got {text!r}")
    return value


def _column_list(text: str) -> list[str]:
    names = [c.strip() for c in text.split(",")]
    if not all(names):
        raise argparse.ArgumentTypeError(f"expected comma-separated column names such as x1,x2, got {text!r}")
    return names


# --------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the ``tinygrad-gd`` command."""
    from . import __version__

    parser = _Parser(
        prog=PROG,
        description="Gradient descent you can check: fit lines and models by gradient descent, and "
        "compare autodiff with hand-derived gradients and finite differences.",
        epilog="Start with: tinygrad-gd demo",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    for name, (summary, description, add_options) in _SUBCOMMANDS.items():
        add_options(sub.add_parser(name, help=summary, description=description))
    return parser


def _add_demo(demo: argparse.ArgumentParser) -> None:
    demo.add_argument("--plot", metavar="FILE.png", help="also write the figures (data and fits, loss "
                      "curves, cost surface with the descent path) to this image file")
    demo.add_argument("--seed", type=_seed, default=0, help="random seed of the noisy line's noise (default 0)")


def _add_fit(fit: argparse.ArgumentParser) -> None:
    fit.add_argument("csv", metavar="DATA.csv", help="CSV file (the delimiter and a header row are detected); "
                     "'tinygrad-gd make-data houses.csv' writes one to try")
    fit.add_argument("--target", required=True, metavar="COL", help="the column to predict (by position, 0, 1, ..., "
                     "in a file without a header row)")
    _add_training_options(fit)
    fit.add_argument("--standardize-target", action="store_true",
                     help="train a linear model (mse, half_mse, mae) on the z-scored target, reported in the "
                     "original units; --standardize does this too")
    fit.add_argument("--lr", type=_learning_rate, default=train.DEFAULT_LR,
                     help=f"learning rate (default {train.DEFAULT_LR:g})")
    budget = fit.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=_positive_int, metavar="N", help="passes over the data")
    budget.add_argument("--max-steps", type=_positive_int, metavar="N",
                        help=f"updates to run (default {train.DEFAULT_MAX_STEPS} when --epochs is not given)")
    fit.add_argument("--batch-size", type=_positive_int, metavar="N",
                     help="rows per update: 1 = stochastic, default = all rows (full batch)")
    fit.add_argument("--tol", type=_tolerance, metavar="TOL",
                     help="stop once the loss changes by less than this between checks (default: the estimators' "
                     "tol, shown in the run's header; 0 runs the whole budget)")
    fit.add_argument("--seed", type=_seed, default=0, help="random seed of the mini-batch shuffling (default 0)")
    fit.add_argument("--save", metavar="model.npz", help="save the trained nn.Linear weights (original "
                     "units) to this .npz file")
    fit.add_argument("--json", action="store_true", help="print one JSON object (nothing else) on stdout, also for a "
                     "run that diverged (\"status\": \"diverged\") or an input error (\"status\": \"error\")")
    add_dask_options(fit)


def _add_check(check: argparse.ArgumentParser) -> None:
    check.add_argument("--seed", type=_seed, default=0, help="random seed of the test inputs (default 0)")


def _add_make_data(make_data: argparse.ArgumentParser) -> None:
    make_data.add_argument("out", metavar="FILE.csv", help="the CSV file to write (with a header row)")
    make_data.add_argument("--dataset", choices=sorted(data.BUILTIN_DATASETS), default="houses",
                           help="which built-in dataset (default houses: " + data.BUILTIN_DATASETS["houses"].description
                           + "); " + "; ".join(f"{k}: {v.description}" for k, v in data.BUILTIN_DATASETS.items()
                                               if k != "houses"))
    make_data.add_argument("--seed", type=_seed, default=0, help="random seed of the data (default 0)")


def _add_lr_sweep(lr_sweep: argparse.ArgumentParser) -> None:
    lr_sweep.add_argument("csv", nargs="?", metavar="DATA.csv", help="CSV file (with --target)")
    lr_sweep.add_argument("--target", metavar="COL", help="the column to predict (with DATA.csv)")
    lr_sweep.add_argument("--builtin", metavar="NAME",
                          help=f"a built-in dataset instead of a CSV: {', '.join(data.BUILTIN_DATASETS)}")
    lr_sweep.add_argument("--lrs", type=_learning_rates, default=[0.001, 0.01, 0.1, 1.0], metavar="LR,LR,...",
                          help="comma-separated learning rates (default 0.001,0.01,0.1,1)")
    lr_sweep.add_argument("--steps", type=_positive_int, default=500, help="updates per learning rate (default 500)")
    _add_training_options(lr_sweep)
    lr_sweep.add_argument("--json", action="store_true", help="print one JSON object (nothing else) on stdout")


def _add_explain(explain: argparse.ArgumentParser) -> None:
    names = [n for n, d in data.BUILTIN_DATASETS.items() if d.task == "regression"]
    explain.add_argument("--builtin", choices=names, default="line", metavar="NAME",
                         help=f"a built-in regression dataset: {', '.join(names)} (default line: the three points on y = 2x)")
    explain.add_argument("--w", type=float, default=0.0, help="the weight(s) to explain at (default 0)")
    explain.add_argument("--b", type=float, default=0.0, help="the bias to explain at (default 0)")


_SUBCOMMANDS: dict[str, tuple[str, str, Callable[[argparse.ArgumentParser], None]]] = {
    "demo": (
        "fit the three points on y = 2x and a noisy 200-point line, with gradients checked",
        "Fits the three points on the line y = 2x and a noisy 200-point line by gradient descent: checks autodiff "
        "against "
        "the hand-derived gradient and finite differences at the start, trains with SGD, and compares the "
        "result with the closed-form least-squares answer.",
        _add_demo,
    ),
    "fit": (
        "gradient descent on your CSV file",
        "Trains a linear (regression) or logistic (classification) model on a CSV file by gradient descent. "
        "Linear models are compared with the closed-form least-squares solution. Every run ends with a verdict: "
        "converged, stalled, stopped by budget or diverged, and what to try next. With --standardize the "
        "features and a linear model's target are z-scored for training (one learning rate then suits any "
        "data); coefficients and losses are reported in the original units.",
        _add_fit,
    ),
    "check": (
        "verify the gradients of the built-in models and of every registered loss",
        "Compares autodiff with hand-derived gradients and central finite differences for the built-in "
        "models, and gradchecks every loss in losses.LOSSES. Exit status 1 on any mismatch.",
        _add_check,
    ),
    "lr-sweep": (
        "train with several learning rates: which converge, crawl or diverge",
        "Trains the same model with each learning rate for a fixed number of steps and reports whether the "
        "loss converged, crawled (still falling) or diverged.",
        _add_lr_sweep,
    ),
    "make-data": (
        "write a built-in dataset as a CSV file to try 'fit' on",
        "Writes a built-in dataset as a CSV file with a header row, e.g. house prices: "
        "tinygrad-gd make-data houses.csv && tinygrad-gd fit houses.csv --target price --standardize",
        _add_make_data,
    ),
    "explain": (
        "the half-MSE cost on built-in data: the chain rule op by op (tg.explain)",
        "Builds the half-MSE cost J = 1/(2m) sum((X w + b - y)^2) on a built-in dataset, runs backward, and "
        "prints tg.explain: each op in backward order with its formula, the upstream gradient and the "
        "gradient it sends to each input, ending at dJ/dw and dJ/db.",
        _add_explain,
    ),
}
"""Each subcommand: (one-line help, description, the function adding its options)."""


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", type=_column_list, metavar="A,B",
                   help="comma-separated feature columns (default: every column but the target)")
    p.add_argument("--model", choices=("linear", "logistic"), default=None,
                   help="linear regression or logistic classification (default: linear for a CSV)")
    p.add_argument("--loss", choices=sorted(losses.LOSSES), metavar="LOSS",
                   help=f"loss of a linear model: {', '.join(losses.loss_names('regression'))} (default mse); logistic "
                   "models use the cross-entropy")
    p.add_argument("--optimizer", choices=optim.optimizer_names(), default="sgd",
                   help=f"{', '.join(optim.optimizer_names())} (default sgd)")
    p.add_argument("--standardize", action="store_true",
                   help="train on z-scored features (one lr then suits every feature) and, in fit, a linear model's "
                   "z-scored target; results are reported in the original units")
    p.add_argument("--delimiter", metavar="CHAR", help="the CSV's column separator (default: detected among , ; tab |)")
    p.add_argument("--no-header", action="store_true", help="the CSV has no header row (detected when not given): "
                   "columns are x0, x1, ... and --target/--features may give positions")
    p.add_argument("--drop-missing", action="store_true", help="skip CSV rows with a missing cell (empty, NA, NaN, "
                   "null, ?) instead of stopping at the first")
    p.add_argument("--plot", metavar="FILE.png", help="write the figures to this image file")


# --------------------------------------------------------------------------- demo
def _demo_line(title: str, X: np.ndarray, y: np.ndarray, loss_name: str, cost_text: str,
               hand: Callable[..., Any], lr: float) -> tuple[_demo.DemoLine, bool]:
    """Check the gradients at w = b = 0, train with SGD, compare with least squares; print it all.
    Returns the trained line and whether the gradients agreed."""
    out(title)
    out(f"  cost  {cost_text}")
    report = _demo.check_gradients(X, y, loss_name, hand)
    out("  gradients at the start, w = 0 and b = 0:")
    rows = []
    for p in report.parameters:
        trio = [float(p.autodiff.reshape(-1)[0]), float(p.hand.reshape(-1)[0]), float(p.numeric.reshape(-1)[0])]
        rows.append([p.name, *[f"{v:.8f}" for v in trio], f"{max(trio) - min(trio):.1e}"])
    print_table(["parameter", "autodiff", "hand-derived", "finite diff.", "largest gap"], rows, "    ")
    out(f"    {'OK' if report.ok else 'MISMATCH'}: {report.diagnosis.splitlines()[0]}")
    out(f"  training: optim.SGD on the full batch, lr = {lr:g}, at most {_demo.MAX_STEPS} steps")
    out("  (each step computes both partial derivatives before either parameter moves)")
    line = _demo.train_line(X, y, loss_name, lr)
    history = line.history
    reason = {"tol": f"the loss stopped changing (by < {_demo.TOL:g} per step)", "max_steps": "step budget used up"}
    out(f"  stopped after {history.steps} steps: {reason.get(history.stop_reason or '', history.stop_reason)}")
    print_table(["", "w", "b", "loss J"], [
        ["gradient descent", f"{line.w:.6f}", f"{line.b:.6f}", f"{history.final_loss:.4g}"],
        ["closed form (least squares)", f"{line.coef:.6f}", f"{line.intercept:.6f}", f"{line.best_loss:.4g}"],
        ["|difference|", f"{abs(line.w - line.coef):.1e}", f"{abs(line.b - line.intercept):.1e}", ""],
    ], "    ")
    out(f"  {'loss per step (log scale):':<39} {curve_line(history.loss)}")
    if line.best_loss > 1e-12 * history.loss[0]:  # the minimum is not 0: show the approach to it too
        out(f"  {'loss − least-squares loss (log scale):':<39} {curve_line(line.excess)}")
    out("")
    return line, bool(report.ok)


def _cmd_demo(args: argparse.Namespace) -> int:
    out("tinygrad-gd demo: gradient descent on two lines, with autodiff checked against the "
        "hand-derived gradient")
    out("")
    line, line_ok = _demo_line(
        "[1/2] the three points on y = 2x: x = 1, 2, 3", *data.make_line(), "half_mse",
        "J(w, b) = 1/(2m) Σ (w·x + b − y)²  (the half-MSE: its gradients carry no factor 2)",
        analytic.linreg_half_mse_grad, lr=0.1,
    )
    noisy, noisy_ok = _demo_line(
        "[2/2] a noisy line: 200 points near y = 2x + 1 (noise 0.5)",
        *data.make_noisy_line(n=200, slope=2.0, intercept=1.0, noise=0.5, seed=args.seed), "mse",
        "J(w, b) = 1/N Σ (y − (w·x + b))²  (the MSE: its gradients carry a factor 2)",
        analytic.linreg_mse_grad, lr=0.05,
    )
    ok = line_ok and noisy_ok
    if ok:
        out("Autodiff agreed with the hand-derived gradients and finite differences, and gradient "
            f"descent reached the least-squares answer (largest gap {max(line.gap, noisy.gap):.1e}).")
    else:
        out("The gradients DISAGREE (see the tables above): something in the engine is broken.")
    if args.plot:
        with writing_outputs(args.written) as outputs:
            outputs.write("--plot", args.plot, lambda temp: _figures.demo_figure(line, noisy, temp), ".png")
        if args.plot in args.written:  # not when matplotlib is missing (a note says so)
            out(f"wrote {args.plot}")
    out("Next: tinygrad-gd fit DATA.csv --target COL  |  tinygrad-gd check  |  "
        "tinygrad-gd lr-sweep --builtin noisy_line")
    return 0 if ok else 1


# --------------------------------------------------------------------------- check
def _cmd_check(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    check_data = _checks.CheckData.draw(rng)
    failures: list[str] = []
    out("tinygrad-gd check: autodiff against hand-derived gradients and central finite differences (float64)")
    out("")
    models = _checks.model_checks(check_data)
    for k, model in enumerate(models, 1):
        out(f"[model {k}/{len(models)}] {model.title}")
        out("  " + str(model.report).replace("\n", "\n  "))
        out("")
        if not model.report.ok:
            failures.append(f"model: {model.name}")
    loss_results = _checks.loss_checks(check_data, rng)
    out(f"[losses] gradcheck of every loss in losses.LOSSES ({len(loss_results)}), each reduction "
        "(reduction='none' with a random upstream gradient)")
    rows = [[c.name, *["ok" if c.errors[r] is None else "MISMATCH" for r in _checks.REDUCTIONS]] for c in loss_results]
    print_table(["loss", *_checks.REDUCTIONS], rows)
    for c in loss_results:
        for reduction in c.failed:
            failures.append(f"loss {c.name} (reduction={reduction!r})")
            out(f"  {c.name}, reduction={reduction!r}: {c.errors[reduction]}")
    out("")
    checks = len(models) + len(loss_results) * len(_checks.REDUCTIONS)
    if failures:
        out(f"check FAILED: {len(failures)} of {checks} checks disagree: {'; '.join(failures)}")
        return 1
    out(f"check passed: all {checks} checks agree ({len(models)} models, {len(loss_results)} losses × 3 reductions)")
    return 0


# --------------------------------------------------------------------------- lr sweep
def _sweep_problem(args: argparse.Namespace) -> tuple[_Problem, list[str], str]:
    """The dataset ``lr-sweep`` trains on: (problem, feature names, where it came from)."""
    if (args.csv is None) == (args.builtin is None):
        raise CLIError("give either DATA.csv --target COL or --builtin NAME "
                       f"(built-in datasets: {', '.join(data.BUILTIN_DATASETS)})")
    if args.builtin is None:
        table = read_table(args)
        problem = _prepare(table.X, table.y, args.model or "linear", args.loss, args.standardize, table.target)
        return problem, table.features, args.csv
    if args.target or args.features:
        raise CLIError("--target and --features go with a CSV file, not with --builtin")
    X, y = data.load_builtin(args.builtin)
    task = data.BUILTIN_DATASETS[args.builtin].task
    kind = args.model or ("linear" if task == "regression" else "logistic")
    names = ["x"] if X.shape[1] == 1 else [f"x{i + 1}" for i in range(X.shape[1])]
    return _prepare(X, np.asarray(y), kind, args.loss, args.standardize), names, f"built-in dataset {args.builtin!r}"


def _cmd_lr_sweep(args: argparse.Namespace) -> int:
    problem, names, source = _sweep_problem(args)
    if not args.json:
        out(f"lr-sweep on {source}: {len(problem.y)} rows, {len(names)} feature(s), {problem.kind} model, loss "
            f"{problem.loss_name}, {args.optimizer}, {args.steps} full-batch steps per learning rate, "
            f"features {'standardized' if args.standardize else 'as given'}")
    swept = sweep._sweep(problem, args.lrs, args.optimizer, args.steps, progress=True)
    if args.plot:
        with writing_outputs(args.written) as outputs:
            outputs.write("--plot", args.plot, lambda temp: _figures.sweep_figure(swept, problem, source, temp), ".png")
    if args.json:
        return print_json({
            "command": "lr-sweep", "data": source, "model": problem.kind, "loss": problem.loss_name,
            "optimizer": args.optimizer, "steps": args.steps, "best_possible_loss": swept.best_possible_loss,
            "results": [{"lr": r.lr, "verdict": r.verdict, "initial_loss": r.losses[0], "final_loss": r.final_loss,
                         "diverged_at": r.diverged_at} for r in swept.results],
            "plot": args.plot or None,
        })
    _print_sweep(swept, args)
    return 0


def _print_sweep(swept: sweep._Sweep, args: argparse.Namespace) -> None:
    best_loss, rows = swept.best_possible_loss, []
    for r in swept.results:
        end = f"became {r.losses[-1]} at step {r.diverged_at}" if r.diverged_at is not None else f"{r.losses[-1]:.4g}"
        curve = r.losses if best_loss is None else [v - best_loss for v in r.losses]
        rows.append([f"{r.lr:g}", r.verdict, f"{r.losses[0]:.4g}", end, sparkline(curve, width=30)])
    what = "loss" if best_loss is None else "loss − best"
    print_table(["lr", "verdict", "start loss", "final loss", f"{what} per step (log scale)"], rows)
    if best_loss is not None:
        out(f"best possible loss (closed-form least squares): {best_loss:.6g}")
    rates = {v: ", ".join(f"{r.lr:g}" for r in swept.results if r.verdict == v)
             for v in ("converges", "crawls", "diverges")}
    summary = []
    if rates["crawls"]:
        summary.append(f"too small crawls ({rates['crawls']})")
    if rates["diverges"]:
        summary.append(f"too large diverges ({rates['diverges']})")
    if rates["converges"]:
        summary.append(f"converged: {rates['converges']}")
    else:
        summary.append(f"none converged in {args.steps} steps: try more --steps"
                       + ("" if args.standardize else " or --standardize"))
    out("; ".join(summary) + ".")
    if args.plot and args.plot in args.written:
        out(f"wrote {args.plot}")


# --------------------------------------------------------------------------- main
def _cmd_explain(args: argparse.Namespace) -> int:
    out(str(explain_builtin(args.builtin, w=args.w, b=args.b)))
    return 0


_COMMANDS = {"demo": _cmd_demo, "fit": cmd_fit, "check": _cmd_check, "lr-sweep": _cmd_lr_sweep,
             "make-data": cmd_make_data, "explain": _cmd_explain}


def _interrupted(e: KeyboardInterrupt, args: argparse.Namespace) -> str:
    """The one line Ctrl-C prints: where training stood, and which output files exist."""
    where = ""
    if isinstance(e, train.TrainingInterrupted):
        where = f" at step {e.step} (loss {e.loss:.6g})" if e.step >= 0 else " before the first step"
    note = ""
    if any(getattr(args, option, None) for option in ("plot", "save")):
        note = f"; wrote {', '.join(args.written)}" if args.written else "; no output file was written"
    return f"{where}{note}"


def _failed(prog: str, e: Exception, args: argparse.Namespace) -> int:
    """One line on stderr and the exit status; with ``--json`` also one JSON object on stdout
    (unless the command printed its own, as a diverged fit does)."""
    code = e.code if isinstance(e, CLIError) else 2
    print(f"{prog}: error: {e}", file=sys.stderr)
    if getattr(args, "json", False) and not (isinstance(e, CLIError) and e.code == 1):
        print_json({"command": args.command, "status": "error", "error": str(e), "exit_code": code})
    return code


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tinygrad-gd`` command with ``argv`` (default ``sys.argv[1:]``); returns the
    exit status: 0 success, 1 a failed check or divergence, 2 a usage or input error, 130
    interrupted (Ctrl-C)."""
    tolerant_streams()
    args = build_parser().parse_args(argv)
    if args.command is None:
        print(f"{PROG}: error: choose a command: {', '.join(_COMMANDS)} (see '{PROG} --help'; "
              f"start with '{PROG} demo')", file=sys.stderr)
        return 2
    prog = f"{PROG} {args.command}"
    args.written = []  # output files moved into place (see _outputs.writing_outputs)
    try:
        check_outputs(getattr(args, "plot", None), getattr(args, "save", None))
        if args.command == "make-data":
            check_output_file(args.out, "FILE.csv")
        return _COMMANDS[args.command](args)
    except (CLIError, data.DataError, OutputFileError) as e:  # a missing file or column, a cell that is not a number
        return _failed(prog, e, args)
    except KeyboardInterrupt as e:  # Ctrl-C: 130, the shell's code for SIGINT (128 + 2)
        print(f"{prog}: interrupted{_interrupted(e, args)}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
