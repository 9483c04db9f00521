"""The ``fit`` and ``make-data`` commands of ``tinygrad-gd`` (``cli.py`` builds the parser and
dispatches): read the CSV with the command's options, train (on the scaled target where asked),
and print the :class:`~tinygrad_gd._fit_report.FitReport` with its verdict, as text or as one
JSON object; or write a built-in dataset as a CSV file."""

from __future__ import annotations

import argparse
import inspect

from . import _figures, data, nn, train
from ._cli_dask import check_dask_arguments, dask_session
from ._fit_report import FitReport, diverged_json, failure_message
from ._fitting import FitSettings, TargetScale, fit_problem, judge
from ._outputs import save_path, writing_outputs
from ._text import CLIError, out, print_json
from .estimators import _prepare, _Problem, _Settings

__all__ = ["read_table", "cmd_fit", "cmd_make_data"]


def _estimators_tol() -> float | None:
    """The estimators' default ``tol``, ``fit``'s default ``--tol`` (read when ``fit`` runs:
    the estimators module loads scikit-learn, too slow for every command's start)."""
    from . import estimators

    default = getattr(estimators, "DEFAULT_TOL", None)
    if default is None:
        default = inspect.signature(estimators.LinearRegression).parameters["tol"].default
    return None if default is None else float(default)


# --------------------------------------------------------------------------- shared by the commands
def read_table(args: argparse.Namespace, class_names: bool = False) -> data.CSVTable:
    """The CSV file of ``fit``/``lr-sweep``, read with the command's CSV options."""
    if args.target is None:
        raise CLIError("--target COL is required with a CSV file (the column to predict)")
    blocksize = args.blocksize if getattr(args, "dask", False) else None  # --dask: lazily, in blocks
    return data.read_csv(args.csv, args.target, args.features, args.delimiter, header=False if args.no_header else None,
                         drop_missing=args.drop_missing, class_names=class_names, blocksize=blocksize)


# --------------------------------------------------------------------------- fit
def _fit_header(args: argparse.Namespace, table: data.CSVTable, problem: _Problem, scaled: bool) -> None:
    names, n = table.features, len(table.y)
    feats = ", ".join(names) if len(names) <= 8 else f"{', '.join(names[:8])}, ... ({len(names)} in all)"
    out(f"fit {args.csv}: {n} rows, target {table.target!r}, features {feats}")
    for note in table.notes():
        out(f"  ({note})")
    batch = "full batch" if args.batch_size is None or args.batch_size >= n else f"batches of {args.batch_size}"
    budget = f"{args.epochs} epochs" if args.epochs else f"at most {args.max_steps or train.DEFAULT_MAX_STEPS} steps"
    scaling = "features " + ("standardized" if args.standardize else "as given") + (
        ", target standardized" if scaled else "")
    out(f"model {problem.kind}, loss {problem.loss_name}, optimizer {args.optimizer}, lr {args.lr:g}, {batch}, "
        f"{budget}, tol {args.tol:g}, {scaling}")


def cmd_fit(args: argparse.Namespace) -> int:
    """``tinygrad-gd fit``: train on the CSV, print the report and its verdict; returns the exit
    status. With ``--dask`` the CSV is read in blocks and the run uses a dask.distributed
    cluster (``_cli_dask``), closed when the command ends, however it ends."""
    check_dask_arguments(args)
    with dask_session(args) as cluster:
        if cluster is not None and not args.json:
            out(f"{cluster}")
        return _fit(args)


def _fit(args: argparse.Namespace) -> int:
    if args.tol is None:
        args.tol = _estimators_tol() or 0.0
    table = read_table(args, class_names=args.model == "logistic")
    problem = _prepare(table.X, table.y, args.model or "linear", args.loss, args.standardize, table.target)
    scale_target = args.standardize or args.standardize_target
    run_settings = _Settings(optimizer=args.optimizer, lr=args.lr, max_steps=args.max_steps, epochs=args.epochs,
                             batch_size=args.batch_size, tol=args.tol or None, seed=args.seed)
    if not args.json:
        _fit_header(args, table, problem, scale_target and TargetScale.of(problem) is not None)
    run, scale = fit_problem(problem, run_settings, scale_target)
    steps = args.max_steps or (len(run.losses) - 1 if args.epochs else train.DEFAULT_MAX_STEPS)
    mini_batch = args.batch_size is not None and args.batch_size < len(table.y)
    settings = FitSettings(args.optimizer, args.lr, steps, args.epochs, args.tol, args.standardize, scale is not None,
                           mini_batch)
    failed = failure_message(run, settings)
    if failed is not None:
        message, code, verdict = failed
        if args.json and code == 1:
            print_json(diverged_json(args.csv, table.target, table.features, message, verdict, run))
        elif code == 1:
            for line in verdict.lines():
                out(line)
        raise CLIError(message, code)
    evaluation = problem.evaluate(run.weight, run.bias)
    report = FitReport(args.csv, table.target, table.features, args.optimizer, args.lr, args.batch_size,
                       args.standardize, problem, run, evaluation, judge(problem, run, evaluation, settings),
                       scale is not None, table.classes)
    with writing_outputs(args.written) as outputs:
        if args.save:
            saved = nn.Linear(run.weight.shape[1], run.weight.shape[0])
            saved.weight.data = run.weight.copy()
            if saved.bias is not None:
                saved.bias.data = run.bias.copy()
            report.saved = save_path(args.save)
            outputs.write("--save", report.saved, saved.save)
        if args.plot:
            outputs.write("--plot", args.plot, lambda temp: _figures.fit_figure(report, temp), ".png")
            report.plot = args.plot
    if report.plot not in args.written:  # skipped: matplotlib is missing (a note says so)
        report.plot = None
    if args.json:
        return print_json(report.as_json())
    report.print()
    return 0


# --------------------------------------------------------------------------- make-data
def cmd_make_data(args: argparse.Namespace) -> int:
    """``tinygrad-gd make-data``: write a built-in dataset as a CSV file with a header row."""
    entry = data.BUILTIN_DATASETS[args.dataset]
    X, y = data.load_builtin(args.dataset, **({"seed": args.seed} if args.dataset != "line" else {}))
    *features, target = entry.columns
    with writing_outputs(args.written) as outputs:
        outputs.write("FILE.csv", args.out, lambda temp: data.write_csv(temp, X, y, features, target), ".csv")
    out(f"wrote {args.out}: {entry.description}, {len(y)} rows, columns {', '.join(entry.columns)}")
    kind = "" if entry.task == "regression" else " --model logistic"
    scale = " --standardize" if args.dataset == "houses" else ""
    out(f"next: tinygrad-gd fit {args.out} --target {target}{kind}{scale}")
    return 0
