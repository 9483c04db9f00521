"""The ``tinygrad-gd`` command (also ``python -m tinygrad_gd``).

Subcommands::

    tinygrad-gd demo [--plot FILE.png]          gradient descent on two lines, gradients checked
    tinygrad-gd fit DATA.csv --target COL ...   gradient descent on your CSV
    tinygrad-gd check                           verify every built-in gradient
    tinygrad-gd lr-sweep (DATA.csv --target COL | --builtin NAME) [--lrs 0.001,0.01,0.1,1]

Exit codes: 0 success; 1 a failed gradient check or a diverged training run; 2 a usage or
input error (missing file or column, a cell that is not a number, a bad option value, an
output file that cannot be written); 130 interrupted by Ctrl-C. Errors are one line on
stderr, never a traceback. Output files (``--plot``, ``--save``) are checked before any
training and written only at the end, each under a temporary name first, so a failed or
interrupted run leaves none behind, whole or partial.
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import math
import os
import secrets
import shutil
import stat
import sys
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import analytic, data, losses, nn, train
from .checking import GradcheckError, compare_gradients, gradcheck
from .tensor import Tensor
from .viz import sparkline

__all__ = [
    "main",
    "build_parser",
    "CLIError",
    "MAX_LR",
    "REGRESSION_LOSSES",
    "SweepResult",
    "classify_run",
    "sweep_learning_rates",
]

PROG = "tinygrad-gd"

MAX_LR = 1e3
"""Learning rates above this are rejected as absurd (no well-posed problem needs them)."""

REGRESSION_LOSSES = ("mse", "half_mse", "mae", "huber")
"""Losses ``fit --model linear`` accepts (names in ``losses.LOSSES``)."""

_CLASSIFICATION_LOSSES = ("binary_cross_entropy_with_logits", "cross_entropy")


class CLIError(Exception):
    """A problem the command reports as one line on stderr; ``code`` is the exit status
    (2: usage or input error, 1: a failed check or a diverged run)."""

    def __init__(self, message: str, code: int = 2) -> None:
        super().__init__(message)
        self.code = code


# --------------------------------------------------------------------------- argument types
class _Parser(argparse.ArgumentParser):
    """argparse, but a usage error is one line (no usage dump) and exits with status 2."""

    def error(self, message: str) -> Any:  # type: ignore[override]
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive whole number, got {text!r}")
    return value


def _seed(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 0 such as 0 or 42, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"a seed must be a whole number >= 0 (such as 0 or 42), got {text!r}")
    return value


def _check_lr(value: float, text: str) -> float:
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(
            f"a learning rate must be a positive finite number, got {text!r} (try 0.01)"
        )
    if value > MAX_LR:
        raise argparse.ArgumentTypeError(
            f"learning rate {text} is absurdly large (above {MAX_LR:g}); gradient descent needs lr "
            f"below 2/curvature, typically 0.001 to 1"
        )
    return value


def _learning_rate(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a learning rate such as 0.01, got {text!r}") from None
    return _check_lr(value, text)


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

    demo = sub.add_parser(
        "demo",
        help="fit seed 002's y = 2x line and a noisy 200-point line, with gradients checked",
        description="Fits seed 002's line y = 2x and a noisy 200-point line by gradient descent: "
        "checks autodiff against the hand-derived gradient and finite differences at the start, "
        "trains with SGD, and compares the result with the closed-form least-squares answer.",
    )
    demo.add_argument("--plot", metavar="FILE.png", help="also write the figures (data and fits, loss "
                      "curves, cost surface with the descent path) to this image file")
    demo.add_argument("--seed", type=_seed, default=0, help="seed of the noisy line's noise (default 0)")

    fit = sub.add_parser(
        "fit",
        help="gradient descent on your CSV file",
        description="Trains a linear (regression) or logistic (classification) model on a CSV file "
        "with a header row, by gradient descent. Linear models are compared with the closed-form "
        "least-squares solution.",
    )
    fit.add_argument("csv", metavar="DATA.csv", help="CSV file with a header row naming the columns")
    fit.add_argument("--target", required=True, metavar="COL", help="the column to predict")
    _add_training_options(fit)
    fit.add_argument("--lr", type=_learning_rate, default=train.DEFAULT_LR,
                     help=f"learning rate (default {train.DEFAULT_LR:g}, seed 002's alpha)")
    budget = fit.add_mutually_exclusive_group()
    budget.add_argument("--epochs", type=_positive_int, metavar="N", help="passes over the data")
    budget.add_argument("--max-steps", type=_positive_int, metavar="N",
                        help=f"updates to run (default {train.DEFAULT_MAX_STEPS} when --epochs is not given)")
    fit.add_argument("--batch-size", type=_positive_int, metavar="N",
                     help="rows per update: 1 = stochastic, default = all rows (full batch)")
    fit.add_argument("--tol", type=_tolerance, metavar="TOL",
                     help="stop once the loss changes by less than this between checks")
    fit.add_argument("--seed", type=_seed, default=0, help="seed of the mini-batch shuffling (default 0)")
    fit.add_argument("--save", metavar="model.npz", help="save the trained nn.Linear weights (original "
                     "units) to this .npz file")
    fit.add_argument("--json", action="store_true", help="print one JSON object (nothing else) on stdout")

    check = sub.add_parser(
        "check",
        help="verify the gradients of the built-in models and of every registered loss",
        description="Compares autodiff with hand-derived gradients and central finite differences "
        "for the built-in models, and gradchecks every loss in losses.LOSSES. Exit status 1 on "
        "any mismatch.",
    )
    check.add_argument("--seed", type=_seed, default=0, help="seed of the random test inputs (default 0)")

    sweep = sub.add_parser(
        "lr-sweep",
        help="train with several learning rates: which converge, crawl or diverge",
        description="Trains the same model with each learning rate for a fixed number of steps "
        "and reports whether the loss converged, crawled (still falling) or diverged.",
    )
    sweep.add_argument("csv", nargs="?", metavar="DATA.csv", help="CSV file (with --target)")
    sweep.add_argument("--target", metavar="COL", help="the column to predict (with DATA.csv)")
    sweep.add_argument("--builtin", metavar="NAME",
                       help=f"a built-in dataset instead of a CSV: {', '.join(data.BUILTIN_DATASETS)}")
    sweep.add_argument("--lrs", type=_learning_rates, default=[0.001, 0.01, 0.1, 1.0], metavar="LR,LR,...",
                       help="comma-separated learning rates (default 0.001,0.01,0.1,1)")
    sweep.add_argument("--steps", type=_positive_int, default=500, help="updates per learning rate (default 500)")
    _add_training_options(sweep)
    sweep.add_argument("--json", action="store_true", help="print one JSON object (nothing else) on stdout")
    return parser


def _add_training_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--features", type=_column_list, metavar="A,B",
                   help="comma-separated feature columns (default: every column but the target)")
    p.add_argument("--model", choices=("linear", "logistic"), default=None,
                   help="linear regression or logistic classification (default: linear for a CSV)")
    p.add_argument("--loss", choices=sorted(losses.LOSSES), metavar="LOSS",
                   help=f"loss of a linear model: {', '.join(REGRESSION_LOSSES)} (default mse); logistic "
                   "models use the cross-entropy")
    p.add_argument("--optimizer", choices=sorted(train.OPTIMIZER_NAMES), default="sgd",
                   help="sgd (default), momentum, nesterov, adam or adamw")
    p.add_argument("--standardize", action="store_true",
                   help="train on z-scored features (one lr then suits every feature); results are "
                   "reported in the original units")
    p.add_argument("--plot", metavar="FILE.png", help="write the figures to this image file")


# --------------------------------------------------------------------------- shared training
@dataclass
class _Problem:
    """A dataset prepared for one model: what ``_train`` needs, in training units."""

    kind: str  # "linear" or "logistic"
    X: np.ndarray  # (n, k), original units
    y: np.ndarray  # (n,), original values
    features: list[str]
    target: str
    source: str
    loss_name: str
    train_X: np.ndarray
    train_y: np.ndarray  # (n, 1) floats, or (n,) class ids for cross_entropy
    scaler: data.Standardizer | None
    classes: np.ndarray | None
    outputs: int

    @property
    def loss_fn(self) -> Callable[..., Any]:
        return losses.LOSSES[self.loss_name].fn


@dataclass
class _Run:
    """One training run: the model (training units) and its History, or where it diverged."""

    model: nn.Linear
    losses: list[float]
    history: train.History | None = None
    diverged: train.DivergenceError | None = None


def _prepare(
    X: np.ndarray,
    y: np.ndarray,
    features: list[str],
    target: str,
    source: str,
    kind: str,
    loss: str | None,
    standardize: bool,
) -> _Problem:
    y = np.asarray(y).reshape(-1)
    classes = None
    if kind == "linear":
        loss_name = loss or "mse"
        if loss_name not in REGRESSION_LOSSES:
            raise CLIError(
                f"--loss {loss_name} does not fit a linear regression; choose one of "
                f"{', '.join(REGRESSION_LOSSES)} (or use --model logistic for class labels)"
            )
        train_y = y.astype(np.float64).reshape(-1, 1)
        outputs = 1
    else:
        classes = np.unique(y)
        if classes.size < 2:
            raise CLIError(
                f"target column {target!r} has the single value {classes[0]:g}; logistic regression "
                f"needs at least two classes"
            )
        if not np.all(classes == np.round(classes)):
            odd = classes[classes != np.round(classes)][0]
            raise CLIError(
                f"target column {target!r} holds {odd:g}, not a class label; --model logistic needs "
                f"whole-number labels (use --model linear for a continuous target)"
            )
        ids = np.searchsorted(classes, y)
        if classes.size == 2:
            loss_name, train_y, outputs = "binary_cross_entropy_with_logits", ids.astype(np.float64).reshape(-1, 1), 1
        else:
            loss_name, train_y, outputs = "cross_entropy", ids.astype(np.int64), int(classes.size)
        if loss is not None and loss != loss_name:
            raise CLIError(
                f"--loss {loss} does not fit this logistic model; with {classes.size} classes it "
                f"trains on {loss_name} (leave --loss out)"
            )
    with np.errstate(over="ignore", invalid="ignore"):  # huge values: reported once training starts
        scaler = data.Standardizer().fit(X) if standardize else None
    train_X = scaler.transform(X) if scaler is not None else X
    return _Problem(kind, X, y, features, target, source, loss_name, train_X, train_y, scaler, classes, outputs)


def _train(
    problem: _Problem,
    *,
    optimizer: str,
    lr: float,
    max_steps: int | None = None,
    epochs: int | None = None,
    batch_size: int | None = None,
    tol: float | None = None,
    seed: int | None = 0,
    progress: bool = True,
) -> _Run:
    k = problem.X.shape[1]
    model = nn.Linear(k, problem.outputs)
    # Start at zero, as the seeds do: runs are reproducible and comparable across learning rates.
    model.weight.data = np.zeros_like(model.weight.data)
    model.bias.data = np.zeros_like(model.bias.data)
    seen: list[float] = []

    def record(info: train.StepInfo) -> None:
        seen.append(info.loss)

    try:
        history = train.fit(
            model,
            problem.loss_fn,
            (problem.train_X, problem.train_y),
            optimizer=optimizer,
            lr=lr,
            max_steps=max_steps,
            epochs=epochs,
            batch_size=batch_size,
            tol=tol,
            seed=seed,
            progress=progress,
            callbacks=[record],
        )
    except train.DivergenceError as e:
        return _Run(model, seen + [e.loss], diverged=e)
    return _Run(model, list(history.loss), history=history)


def _original_units(model: nn.Linear, scaler: data.Standardizer | None) -> tuple[np.ndarray, np.ndarray]:
    """(weight (out, k), bias (out,)) for the raw features: w·(x − m)/s + b = (w/s)·x + (b − Σ w·m/s)."""
    return _unscale(model.weight.data, model.bias.data, scaler)


def _unscale(
    weight: np.ndarray, bias: np.ndarray, scaler: data.Standardizer | None
) -> tuple[np.ndarray, np.ndarray]:
    weight = np.asarray(weight, dtype=np.float64)
    bias = np.asarray(bias, dtype=np.float64)
    if scaler is None:
        return weight.copy(), bias.copy()
    w = weight / scaler.scale_[None, :]
    return w, bias - w @ scaler.mean_


def _least_squares(X: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, float]:
    solution = np.linalg.lstsq(np.c_[X, np.ones(len(X))], y, rcond=None)[0]
    return solution[:-1], float(solution[-1])


def _loss_at(problem: _Problem, weight: np.ndarray, bias: np.ndarray) -> float:
    """The training loss of the original-units model ``X @ weight.T + bias``."""
    pred = Tensor(problem.X @ weight.T + bias)
    return float(problem.loss_fn(pred, problem.train_y).data)


def _diverged_message(run: _Run, lr: float, standardized: bool) -> tuple[str, int] | None:
    """What went wrong and the exit status: 1 for a diverged run, 2 when the data cannot even
    be evaluated at the start (an input error); None when training went fine."""
    advice = f"try a smaller --lr (now {lr:g})" + ("" if standardized else " or --standardize")
    if run.diverged is not None:
        e = run.diverged
        if e.step == 0:  # no update has happened: the learning rate is not the cause
            return (
                f"the loss is {e.loss} at the start (all weights 0), before any update: the data holds "
                f"values too large for float64 arithmetic" + ("" if standardized else "; try --standardize"),
                2,
            )
        before = f" (it was {run.losses[-2]:.4g} at step {e.step - 1})" if len(run.losses) > 1 else ""
        return f"training diverged at step {e.step}: the loss became {e.loss}{before}; {advice}", 1
    if len(run.losses) > 1 and run.losses[-1] > run.losses[0]:
        return (
            f"training diverged: the loss rose from {run.losses[0]:.4g} at step 0 to {run.losses[-1]:.4g} "
            f"at step {len(run.losses) - 1}; {advice}",
            1,
        )
    return None


# --------------------------------------------------------------------------- helpers
def _out(*parts: Any) -> None:
    print(*parts)


# --------------------------------------------------------------------------- output files
# One mechanism for every output file of every command: ``_check_outputs`` runs before any
# work (so a bad path fails in a second, not after a long training run), and
# ``_writing_outputs`` writes each file under a temporary name beside its target, then renames
# them all into place, so a failed or interrupted run leaves no file behind, whole or partial.

_FILE_KINDS = (
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
)

_PILLOW_FORMATS = frozenset({"jpg", "jpeg", "tif", "tiff", "webp", "gif", "avif"})
"""Figure formats matplotlib writes through Pillow, which may lack some of them."""


def _kind_of(mode: int) -> str:
    return next((what for test, what in _FILE_KINDS if test(mode)), "not a regular file")


def _check_output_file(path: str, option: str, written: str | None = None) -> None:
    """Raise a :class:`CLIError` naming ``path`` and the problem unless ``option``'s file can be
    written: its folder exists and accepts new files, and the name is not a folder, a device or
    a read-only file. ``written``: the name actually written, when it differs (``--save``
    appends ``.npz``)."""

    def fail(problem: str) -> None:
        raise CLIError(f"{option} {path}: {problem}")

    if not path.strip():
        raise CLIError(f"{option}: expected a file name, got {path!r}")
    written = written or path
    target = os.path.realpath(written)
    folder = os.path.dirname(target)
    if not os.path.isdir(folder):
        shown = os.path.dirname(os.path.abspath(written))
        fail(f"{shown!r} is not a folder" if os.path.exists(folder) else f"the folder {shown!r} does not exist")
    for name in dict.fromkeys([path, written]):  # what the user named, and what gets written
        try:
            mode = os.stat(name).st_mode
        except OSError:  # not there yet
            continue
        if stat.S_ISDIR(mode):
            fail("that is a folder; give a file name")
        if not stat.S_ISREG(mode):
            fail(f"that is {_kind_of(mode)}, not a regular file; give a file name")
        if not os.access(name, os.W_OK):
            fail("the file is read-only")
    probe = os.path.join(folder, f".tinygrad-gd-probe-{secrets.token_hex(6)}")
    try:
        fd = os.open(probe, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    except OSError as e:
        reason = "it does not accept new files" if e.errno == errno.ENOENT else (e.strerror or str(e))
        fail(f"cannot create files in the folder {folder!r} ({reason})")
    else:
        os.close(fd)
        os.unlink(probe)


def _figure_formats() -> list[str]:
    """The figure file extensions matplotlib can write here (asked only when --plot is given)."""
    from matplotlib import rcParams
    from matplotlib.backend_bases import FigureCanvasBase

    formats = set(FigureCanvasBase.get_supported_filetypes())
    if shutil.which(str(rcParams["pgf.texsystem"])) is None:
        formats.discard("pgf")  # PGF output runs a TeX installation
    if formats & _PILLOW_FORMATS:
        try:
            from PIL import Image

            known = Image.registered_extensions()
            formats -= {f for f in _PILLOW_FORMATS if known.get(f".{f}") not in Image.SAVE}
        except ImportError:
            formats -= _PILLOW_FORMATS
    return sorted(formats)


def _check_plot(path: str | None) -> None:
    """``--plot``: a writable file, matplotlib installed, and a format it can write."""
    if path is None:
        return
    _check_output_file(path, "--plot")
    from . import plot

    try:
        plot.require_matplotlib()
    except plot.PlotDependencyError as e:
        raise CLIError(f"--plot: {e}") from None
    ext = os.path.splitext(path)[1].lower().lstrip(".")
    if ext:  # no extension: PNG
        formats = _figure_formats()
        if ext not in formats:
            raise CLIError(
                f"--plot {path}: cannot write a .{ext} figure; use one of "
                f"{', '.join('.' + f for f in formats)} (no extension: PNG)"
            )


def _save_path(path: str) -> str:
    """The file ``nn.Module.save`` writes for ``path`` (it appends ``.npz`` when missing)."""
    p = Path(path)
    return str(p if p.suffix == ".npz" else p.with_name(p.name + ".npz"))


def _check_outputs(args: argparse.Namespace) -> None:
    """Every output file a command will write, checked before it starts working."""
    _check_plot(getattr(args, "plot", None))
    save = getattr(args, "save", None)
    if save is not None:
        _check_output_file(save, "--save", written=_save_path(save) if save.strip() else None)


class _Outputs:
    """Output files written under temporary names beside their targets (see
    :func:`_writing_outputs`)."""

    def __init__(self, written: list[str]) -> None:
        self._staged: list[tuple[str, str, str, str]] = []
        self._written = written

    def write(self, option: str, path: str, writer: Callable[[str], Any], default_suffix: str = "") -> None:
        """Call ``writer(temporary_name)``; the file moves to ``path`` when all went well.
        The temporary name ends like ``path`` (or in ``default_suffix``), so writers that go
        by the extension write the right format."""
        target = os.path.realpath(path)
        folder, name = os.path.split(target)
        suffix = os.path.splitext(name)[1] or default_suffix
        temp = os.path.join(folder, f".{name}.{secrets.token_hex(4)}.partial{suffix}")
        self._staged.append((temp, target, option, path))
        try:
            writer(temp)
        except OSError as e:
            raise CLIError(f"{option} {path}: could not write it ({e.strerror or e})") from None

    def commit(self) -> None:
        for temp, target, option, path in self._staged:
            try:
                os.replace(temp, target)
            except OSError as e:
                raise CLIError(f"{option} {path}: could not write it ({e.strerror or e})") from None
            self._written.append(path)

    def discard(self) -> None:
        for temp, *_ in self._staged:
            with contextlib.suppress(OSError):
                os.unlink(temp)


@contextlib.contextmanager
def _writing_outputs(args: argparse.Namespace) -> Iterator[_Outputs]:
    """Stage output files; rename them into place at the end of the block, or remove them when
    it fails or is interrupted (Ctrl-C): never a partial file."""
    outputs = _Outputs(getattr(args, "written", []))
    try:
        yield outputs
        outputs.commit()
    finally:
        outputs.discard()


def _curve_line(values: Sequence[float], width: int = 40) -> str:
    arr = [v for v in values]
    if not arr:
        return "(no steps)"
    return f"{arr[0]:.3g} {sparkline(arr, width=width)} {arr[-1]:.3g}"


def _table(header: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [max(len(r[c]) for r in [header, *rows]) for c in range(len(header))]

    def fmt(cells: list[str]) -> str:
        first = cells[0].ljust(widths[0])
        rest = [cell.rjust(w) for cell, w in zip(cells[1:], widths[1:])]
        return (indent + "  ".join([first, *rest])).rstrip()

    return [fmt(header)] + [fmt(r) for r in rows]


def _num(x: float, digits: int = 6) -> str:
    return f"{x:.{digits}g}"


def _load_csv(path: str, target: str | None, features: list[str] | None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    if target is None:
        raise CLIError("--target COL is required with a CSV file (the column to predict)")
    X, y, names = data.load_csv(path, target, features)
    return X, y, names


# --------------------------------------------------------------------------- demo
def _demo_problem(
    title: str,
    X: np.ndarray,
    y: np.ndarray,
    loss_name: str,
    cost_text: str,
    hand: Callable[..., Any],
    lr: float,
    max_steps: int,
) -> dict[str, Any]:
    """Check the gradients at w = b = 0, train with SGD, compare with least squares; print it all."""
    loss_fn = losses.LOSSES[loss_name].fn
    _out(title)
    _out(f"  cost  {cost_text}")

    def cost(w: Tensor, b: Tensor) -> Tensor:
        return loss_fn(Tensor(X) @ w + b, y)

    w0, b0 = np.zeros((1, 1)), np.zeros(())
    report = compare_gradients(cost, {"w": w0, "b": b0}, hand_grad=lambda w, b: hand(X, y, w, b))
    _out("  gradients at the start, w = 0 and b = 0:")
    rows = []
    for p in report.parameters:
        trio = [float(p.autodiff.reshape(-1)[0]), float(p.hand.reshape(-1)[0]), float(p.numeric.reshape(-1)[0])]
        rows.append([p.name, *[f"{v:.8f}" for v in trio], f"{max(trio) - min(trio):.1e}"])
    for line in _table(["parameter", "autodiff", "hand-derived", "finite diff.", "largest gap"], rows, "    "):
        _out(line)
    _out(f"    {'OK' if report.ok else 'MISMATCH'}: {report.diagnosis.splitlines()[0]}")

    w = Tensor(w0.copy(), requires_grad=True)
    b = Tensor(b0.copy(), requires_grad=True)
    _out(f"  training: optim.SGD on the full batch, lr = {lr:g}, at most {max_steps} steps")
    _out("  (each step computes both partial derivatives before either parameter moves)")
    history = train.fit({"w": w, "b": b}, lambda: cost(w, b), optimizer="sgd", lr=lr,
                        max_steps=max_steps, tol=1e-15, progress=True)
    reason = {"tol": "the loss stopped changing (by < 1e-15 per step)", "max_steps": "step budget used up"}
    _out(f"  stopped after {history.steps} steps: {reason.get(history.stop_reason or '', history.stop_reason)}")
    coef, intercept = _least_squares(X, y.reshape(-1))
    w_gd, b_gd = float(w.data.reshape(-1)[0]), float(b.data)
    best = float(cost(Tensor(coef.reshape(1, 1)), Tensor(intercept)).data)
    rows = [
        ["gradient descent", f"{w_gd:.6f}", f"{b_gd:.6f}", f"{history.final_loss:.4g}"],
        ["closed form (least squares)", f"{coef[0]:.6f}", f"{intercept:.6f}", f"{best:.4g}"],
        ["|difference|", f"{abs(w_gd - coef[0]):.1e}", f"{abs(b_gd - intercept):.1e}", ""],
    ]
    for line in _table(["", "w", "b", "loss J"], rows, "    "):
        _out(line)
    _out(f"  {'loss per step (log scale):':<39} {_curve_line(history.loss)}")
    excess = [v - best for v in history.loss]
    if best > 1e-12 * history.loss[0]:  # the minimum is not 0: show the approach to it too
        _out(f"  {'loss − least-squares loss (log scale):':<39} {_curve_line(excess)}")
    _out("")
    path = [(float(p[0].reshape(-1)[0]), float(p[1])) for p in history.params]
    return {
        "X": X, "y": y, "history": history, "w": w_gd, "b": b_gd, "coef": float(coef[0]),
        "intercept": intercept, "loss": loss_name, "path": path, "ok": report.ok, "excess": excess,
        "gap": max(abs(w_gd - coef[0]), abs(b_gd - intercept)),
    }


def _cmd_demo(args: argparse.Namespace) -> int:
    _out("tinygrad-gd demo: gradient descent on two lines, with autodiff checked against the "
         "hand-derived gradient")
    _out("")
    X1, y1 = data.make_line()
    line = _demo_problem(
        "[1/2] seed 002's line: y = 2x at x = 1, 2, 3",
        X1, y1, "half_mse",
        "J(w, b) = 1/(2m) Σ (w·x + b − y)²  (seed 002's half-MSE: its gradients carry no factor 2)",
        analytic.linreg_half_mse_grad, lr=0.1, max_steps=3000,
    )
    X2, y2 = data.make_noisy_line(n=200, slope=2.0, intercept=1.0, noise=0.5, seed=args.seed)
    noisy = _demo_problem(
        "[2/2] a noisy line: 200 points near y = 2x + 1 (noise 0.5)",
        X2, y2, "mse",
        "J(w, b) = 1/N Σ (y − (w·x + b))²  (seeds 000/001's MSE: its gradients carry a factor 2)",
        analytic.linreg_mse_grad, lr=0.05, max_steps=3000,
    )
    ok = line["ok"] and noisy["ok"]
    if ok:
        _out("Autodiff agreed with the hand-derived gradients and finite differences, and gradient "
             f"descent reached the least-squares answer (largest gap {max(line['gap'], noisy['gap']):.1e}).")
    else:
        _out("The gradients DISAGREE (see the tables above): something in the engine is broken.")
    if args.plot:
        with _writing_outputs(args) as outputs:
            outputs.write("--plot", args.plot, lambda temp: _demo_figure(line, noisy, temp), ".png")
        _out(f"wrote {args.plot}")
    _out("Next: tinygrad-gd fit DATA.csv --target COL  |  tinygrad-gd check  |  "
         "tinygrad-gd lr-sweep --builtin noisy_line")
    return 0 if ok else 1


def _demo_figure(line: dict[str, Any], noisy: dict[str, Any], path: str) -> str:
    from . import plot

    fig, axes = plot.new_figure(3, size=(17.0, 4.8))
    plot.fitted_line(noisy["X"], noisy["y"], {"gradient descent": (noisy["w"], noisy["b"]),
                                             "closed form": (noisy["coef"], noisy["intercept"])},
                     ax=axes[0], title="Noisy line: data and fitted lines", label="200 noisy points")
    axes[0].scatter(line["X"][:, 0], line["y"][:, 0], s=60, marker="D", color="#d81b60", zorder=4,
                    label="seed 002's points (y = 2x)")
    axes[0].legend(fontsize=8, frameon=False)
    plot.loss_curves({"seed 002's line: half-MSE (minimum 0)": line["history"],
                      "noisy line: MSE": noisy["history"],
                      "noisy line: MSE − least-squares MSE": noisy["excess"]},
                     ax=axes[1], title="Loss during gradient descent")
    plot.cost_surface(noisy["X"], noisy["y"], noisy["path"], loss=noisy["loss"],
                      optimum=(noisy["coef"], noisy["intercept"]), ax=axes[2],
                      title="Noisy line: cost surface J(w, b) and the descent path")
    return plot.save_figure(fig, path, dpi=100)


# --------------------------------------------------------------------------- fit
def _cmd_fit(args: argparse.Namespace) -> int:
    X, y, names = _load_csv(args.csv, args.target, args.features)
    kind = args.model or "linear"
    problem = _prepare(X, y, names, args.target, args.csv, kind, args.loss, args.standardize)
    quiet = args.json
    if not quiet:
        feats = ", ".join(names) if len(names) <= 8 else f"{', '.join(names[:8])}, ... ({len(names)} in all)"
        _out(f"fit {args.csv}: {len(y)} rows, target {args.target!r}, features {feats}")
        batch = "full batch" if args.batch_size is None or args.batch_size >= len(y) else f"batches of {args.batch_size}"
        budget = f"{args.epochs} epochs" if args.epochs else f"at most {args.max_steps or train.DEFAULT_MAX_STEPS} steps"
        _out(f"model {kind}, loss {problem.loss_name}, optimizer {args.optimizer}, lr {args.lr:g}, {batch}, "
             f"{budget}, features {'standardized' if args.standardize else 'as given'}")
    run = _train(problem, optimizer=args.optimizer, lr=args.lr, max_steps=args.max_steps, epochs=args.epochs,
                 batch_size=args.batch_size, tol=args.tol, seed=args.seed, progress=True)
    problem_found = _diverged_message(run, args.lr, args.standardize)
    if problem_found is not None:
        raise CLIError(*problem_found)
    history = run.history
    assert history is not None
    weight, bias = _original_units(run.model, problem.scaler)
    result: dict[str, Any] = {
        "command": "fit",
        "data": args.csv,
        "target": args.target,
        "features": names,
        "rows": int(len(y)),
        "model": kind,
        "loss": problem.loss_name,
        "optimizer": args.optimizer,
        "lr": args.lr,
        "batch_size": args.batch_size,
        "full_batch": args.batch_size is None or args.batch_size >= len(y),
        "standardize": bool(args.standardize),
        "steps": history.steps,
        "epochs": history.epochs,
        "stop_reason": history.stop_reason,
        "initial_loss": history.loss[0],
        "final_loss": _loss_at(problem, weight, bias),
    }
    if kind == "linear":
        coef, intercept = _least_squares(problem.X, problem.y)
        gap = float(max(np.max(np.abs(weight[0] - coef)), abs(bias[0] - intercept)))
        pred = problem.X @ weight[0] + bias[0]
        total = float(np.sum((problem.y - problem.y.mean()) ** 2))
        r2 = 1.0 - float(np.sum((problem.y - pred) ** 2)) / total if total > 0 else float("nan")
        result.update(
            coef=weight[0].tolist(), intercept=float(bias[0]),
            closed_form={"coef": coef.tolist(), "intercept": intercept,
                         "loss": _loss_at(problem, coef.reshape(1, -1), np.array([intercept]))},
            closed_form_gap=gap, r2=r2 if math.isfinite(r2) else None,
        )
    else:
        assert problem.classes is not None
        logits = problem.X @ weight.T + bias
        predicted = (logits[:, 0] > 0).astype(int) if problem.outputs == 1 else np.argmax(logits, axis=1)
        accuracy = float(np.mean(problem.classes[predicted] == problem.y))
        result.update(coef=weight.tolist(), intercept=bias.tolist(), classes=problem.classes.tolist(),
                      accuracy=accuracy)
    with _writing_outputs(args) as outputs:
        if args.save:
            saved = nn.Linear(weight.shape[1], weight.shape[0])
            saved.weight.data, saved.bias.data = weight.copy(), bias.copy()
            result["saved"] = _save_path(args.save)
            outputs.write("--save", result["saved"], saved.save)
        if args.plot:
            outputs.write("--plot", args.plot, lambda temp: _fit_figure(problem, run, weight, bias, result, temp),
                          ".png")
            result["plot"] = args.plot
    if quiet:
        print(json.dumps(_json_safe(result)))
        return 0
    _print_fit(problem, history, weight, bias, result)
    return 0


def _excess_reference(problem: _Problem, result: dict[str, Any]) -> float | None:
    """The least-squares loss J*, to show J − J* per step: only for full-batch mse/half_mse runs
    (a mini-batch's loss is not the full-data loss, so J − J* would mean nothing)."""
    if problem.loss_name not in ("mse", "half_mse") or not result["full_batch"]:
        return None
    return result["closed_form"]["loss"]


def _print_fit(
    problem: _Problem, history: train.History, weight: np.ndarray, bias: np.ndarray, result: dict[str, Any]
) -> None:
    reasons = {"max_steps": "step budget used up", "epochs": "epochs done", "tol": "the loss stopped changing (--tol)"}
    epochs = f" ({history.epochs} epochs)" if history.epochs != history.steps else ""
    _out(f"stopped after {history.steps} steps{epochs}: {reasons.get(history.stop_reason or '', history.stop_reason)}")
    best = _excess_reference(problem, result)
    _out(f"  {'loss per step (log scale):':<39} {_curve_line(history.loss)}")
    if best is not None and best > 1e-12 * history.loss[0]:
        _out(f"  {'loss − least-squares loss (log scale):':<39} {_curve_line([v - best for v in history.loss])}")
    if problem.kind == "linear":
        cf = result["closed_form"]
        rows = [[name, _num(weight[0][i]), _num(cf["coef"][i]), f"{abs(weight[0][i] - cf['coef'][i]):.2e}"]
                for i, name in enumerate(problem.features)]
        rows.append(["intercept", _num(bias[0]), _num(cf["intercept"]), f"{abs(bias[0] - cf['intercept']):.2e}"])
        rows.append([f"loss ({problem.loss_name})", _num(result["final_loss"]), _num(cf["loss"]), ""])
        for line in _table(["", "gradient descent", "closed form", "|gap|"], rows):
            _out(line)
        note = ""
        if problem.loss_name not in ("mse", "half_mse"):
            note = f" (least squares minimises mse, not {problem.loss_name}: a gap is expected)"
        _out(f"largest gap to the closed-form least-squares solution: {result['closed_form_gap']:.3g}{note}")
        if result.get("r2") is not None:
            _out(f"R² on the training data: {result['r2']:.6g}")
    else:
        assert problem.classes is not None
        labels = [f"{c:g}" for c in problem.classes]
        if problem.outputs == 1:
            header = ["", f"logit of class {labels[1]}"]
            rows = [[name, _num(weight[0][i])] for i, name in enumerate(problem.features)]
            rows.append(["intercept", _num(bias[0])])
        else:
            header = ["", *[f"class {c}" for c in labels]]
            rows = [[name, *[_num(weight[c][i]) for c in range(problem.outputs)]]
                    for i, name in enumerate(problem.features)]
            rows.append(["intercept", *[_num(bias[c]) for c in range(problem.outputs)]])
        for line in _table(header, rows):
            _out(line)
        _out(f"classes {', '.join(labels)}; accuracy on the training data: {result['accuracy']:.4f}")
    if "saved" in result:
        k, out = weight.shape[1], weight.shape[0]
        _out(f"saved the weights to {result['saved']} (load with tg.nn.Linear({k}, {out}).load(...); "
             f"inputs in the order {', '.join(problem.features)})")
    if "plot" in result:
        _out(f"wrote {result['plot']}")


def _fit_figure(
    problem: _Problem, run: _Run, weight: np.ndarray, bias: np.ndarray, result: dict[str, Any], path: str
) -> str:
    from . import plot

    one_feature = problem.X.shape[1] == 1 and problem.outputs == 1
    history = run.history
    assert history is not None
    panels = 3 if one_feature else (2 if problem.kind == "linear" else 1)
    fig, axes = plot.new_figure(panels, size=(5.6 * panels, 4.6))
    axes = np.atleast_1d(axes)
    name = plot._short(problem.loss_name)
    curves: dict[str, Any] = {f"{name} per step": history}
    best = _excess_reference(problem, result)
    if best is not None and best > 1e-12 * history.loss[0]:
        curves[f"{name} − least-squares {name}"] = [v - best for v in history.loss]
    plot.loss_curves(curves, ax=axes[0], title="Loss during gradient descent")
    if one_feature:
        xname = problem.features[0]
        lines = {"gradient descent": (weight[0][0], bias[0])}
        if problem.kind == "linear":
            cf = result["closed_form"]
            lines["closed form"] = (cf["coef"][0], cf["intercept"])
            target = problem.y
        else:
            target = problem.train_y[:, 0]
        plot.fitted_line(problem.X, target, lines, ax=axes[1], xlabel=xname, ylabel=problem.target,
                         title="Data and fitted model", sigmoid=problem.kind == "logistic")
        path_wb = None
        if history.params:
            pairs = [_unscale(w, b, problem.scaler) for w, b in history.params]
            path_wb = [(float(w[0][0]), float(b[0])) for w, b in pairs]
        optimum = (result["closed_form"]["coef"][0], result["closed_form"]["intercept"]) if problem.kind == "linear" else None
        plot.cost_surface(problem.X, problem.train_y, path_wb, loss=problem.loss_name, optimum=optimum, ax=axes[2],
                          title=f"Cost surface J(w, b) ({name}) and the descent path")
    elif problem.kind == "linear":
        pred = problem.X @ weight[0] + bias[0]
        ax = axes[1]
        ax.scatter(problem.y, pred, s=12, alpha=0.6, color="#455a64")
        lo, hi = float(min(problem.y.min(), pred.min())), float(max(problem.y.max(), pred.max()))
        ax.plot([lo, hi], [lo, hi], "--", color="#c62828", linewidth=1, label="perfect prediction")
        ax.set_xlabel(f"actual {problem.target}")
        ax.set_ylabel(f"predicted {problem.target}")
        ax.set_title("Predicted against actual")
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=8, frameon=False)
    return plot.save_figure(fig, path)


def _json_safe(value: Any) -> Any:
    """Floats that JSON cannot hold (NaN, inf) become null; numpy scalars become Python numbers."""
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    if isinstance(value, (np.floating, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, np.integer):
        return int(value)
    return value


# --------------------------------------------------------------------------- check
def _model_checks(rng: np.random.Generator) -> list[tuple[str, Any]]:
    """(title, GradientReport) for each built-in model."""
    X = rng.normal(size=(20, 3))
    y = rng.normal(size=(20, 1))
    labels = (rng.random((20, 1)) < 0.5).astype(np.float64)
    w = rng.normal(size=(3, 1))
    b = np.array(rng.normal())
    x1 = rng.uniform(0.0, 5.0, size=12)
    y1 = 2.0 * x1 + 1.0 + rng.normal(scale=0.5, size=12)
    lam = 0.3
    reports = [
        ("linear regression, J = 1/N Σ (y − ŷ)²  (seeds 000/001; analytic.linreg_mse_grad)",
         compare_gradients(lambda w, b: losses.mse(Tensor(X) @ w + b, y), {"w": w, "b": b},
                           lambda w, b: analytic.linreg_mse_grad(X, y, w, b))),
        ("linear regression, J = 1/(2m) Σ (ŷ − y)²  (seed 002; analytic.linreg_half_mse_grad)",
         compare_gradients(lambda w, b: losses.half_mse(Tensor(X) @ w + b, y), {"w": w, "b": b},
                           lambda w, b: analytic.linreg_half_mse_grad(X, y, w, b))),
        ("seed 000's per-sample loop, one feature  (analytic.linreg_mse_grad_loop)",
         compare_gradients(lambda w, b: losses.mse(Tensor(x1) * w + b, y1), {"w": 0.3, "b": -0.2},
                           lambda w, b: analytic.linreg_mse_grad_loop(x1, y1, float(w), float(b)))),
        ("logistic regression, mean binary cross-entropy  (analytic.logreg_bce_grad)",
         compare_gradients(lambda w, b: losses.binary_cross_entropy_with_logits(Tensor(X) @ w + b, labels),
                           {"w": w, "b": b}, lambda w, b: analytic.logreg_bce_grad(X, labels, w, b))),
        (f"ridge regression, MSE + λ‖w‖², λ = {lam}  (analytic.ridge_mse_grad)",
         compare_gradients(lambda w, b: losses.mse(Tensor(X) @ w + b, y) + lam * (w * w).sum(), {"w": w, "b": b},
                           lambda w, b: analytic.ridge_mse_grad(X, y, w, b, lam))),
    ]
    ids = rng.integers(0, 3, size=20)
    W1, b1 = rng.normal(size=(4, 3)) * 0.5, rng.normal(size=4) * 0.1
    W2, b2 = rng.normal(size=(3, 4)) * 0.5, rng.normal(size=3) * 0.1

    def network(W1: Tensor, b1: Tensor, W2: Tensor, b2: Tensor) -> Tensor:
        hidden = (Tensor(X) @ W1.T + b1).tanh()
        return losses.cross_entropy(hidden @ W2.T + b2, ids)

    reports.append((
        "two-layer network Linear-Tanh-Linear, cross-entropy  (autodiff vs finite differences)",
        compare_gradients(network, {"W1": W1, "b1": b1, "W2": W2, "b2": b2}),
    ))
    return reports


def _loss_checks(rng: np.random.Generator) -> list[tuple[str, list[tuple[str, str | None]]]]:
    """For every registered loss: (name, [(reduction, None if ok else the failure)])."""
    results = []
    for name, spec in losses.LOSSES.items():
        outcomes: list[tuple[str, str | None]] = []
        for reduction in ("mean", "sum", "none"):
            inp, tgt = spec.sample(rng)
            target: Any = Tensor(tgt, requires_grad=True) if spec.target_differentiable else tgt

            def fn(p: Any, t: Any, spec: Any = spec, reduction: str = reduction) -> Any:
                return spec.fn(p, t, reduction=reduction, **spec.options)

            try:
                gradcheck(fn, [Tensor(inp, requires_grad=True), target], rng=rng)
                outcomes.append((reduction, None))
            except GradcheckError as e:
                outcomes.append((reduction, str(e)))
            except Exception as e:  # a loss that crashes is a failed check, reported like one
                outcomes.append((reduction, f"{type(e).__name__}: {e}"))
        results.append((name, outcomes))
    return results


def _cmd_check(args: argparse.Namespace) -> int:
    rng = np.random.default_rng(args.seed)
    failures: list[str] = []
    _out("tinygrad-gd check: autodiff against hand-derived gradients and central finite differences (float64)")
    _out("")
    models = _model_checks(rng)
    for k, (title, report) in enumerate(models, 1):
        _out(f"[model {k}/{len(models)}] {title}")
        _out("  " + str(report).replace("\n", "\n  "))
        _out("")
        if not report.ok:
            failures.append(f"model: {title.split('  (')[0]}")
    loss_results = _loss_checks(rng)
    _out(f"[losses] gradcheck of every loss in losses.LOSSES ({len(loss_results)}), each reduction "
         "(reduction='none' with a random upstream gradient)")
    rows = []
    details = []
    for name, outcomes in loss_results:
        rows.append([name, *["ok" if err is None else "MISMATCH" for _, err in outcomes]])
        for reduction, err in outcomes:
            if err is not None:
                failures.append(f"loss {name} (reduction={reduction!r})")
                details.append(f"  {name}, reduction={reduction!r}: {err}")
    for line in _table(["loss", "mean", "sum", "none"], rows):
        _out(line)
    for line in details:
        _out(line)
    _out("")
    checks = len(models) + sum(len(o) for _, o in loss_results)
    if failures:
        _out(f"check FAILED: {len(failures)} of {checks} checks disagree: {'; '.join(failures)}")
        return 1
    _out(f"check passed: all {checks} checks agree ({len(models)} models, {len(loss_results)} losses × 3 reductions)")
    return 0


# --------------------------------------------------------------------------- lr sweep
@dataclass
class SweepResult:
    """One learning rate of a sweep: its ``verdict`` ("converges", "crawls" or "diverges"),
    the loss per step (ending in NaN/inf when it blew up), and where it diverged."""

    lr: float
    verdict: str
    losses: list[float] = field(default_factory=list)
    diverged_at: int | None = None

    @property
    def final_loss(self) -> float:
        """The last finite loss (NaN if there is none)."""
        finite = [v for v in self.losses if math.isfinite(v)]
        return finite[-1] if finite else math.nan


FLAT_FRACTION = 1e-3
"""``classify_run``: a run has levelled off when the second half of its steps removed at most
this fraction of its total decrease."""

NEAR_FRACTION = 1e-6
"""``classify_run``: with a known best loss J*, a run has reached it when J − J* is at most this
fraction of where it started (for a quadratic cost: the parameters are within ~0.1 %)."""


def classify_run(losses_per_step: Sequence[float], best_loss: float | None = None) -> str:
    """"diverges", "converges" or "crawls" for a loss curve (the loss at each step).

    diverges: the loss became NaN/inf, or ended above where it started. converges: the loss
    levelled off (the second half of the run removed at most ``FLAT_FRACTION`` of the total
    decrease) and, when the best possible loss ``best_loss`` (J*) is known, got there:
    J − J* ≤ ``NEAR_FRACTION`` · (J₀ − J*). crawls: anything else: the loss is still falling,
    or stalled along a flat valley short of the minimum: the learning rate is too small for
    this budget of steps.
    """
    arr = np.asarray(losses_per_step, dtype=np.float64).reshape(-1)
    if arr.size == 0:
        raise ValueError("classify_run needs at least one loss value")
    if not np.all(np.isfinite(arr)) or arr[-1] > arr[0]:
        return "diverges"
    total = arr[0] - arr[-1]
    if best_loss is not None:
        start = arr[0] - best_loss
        if start <= 0:  # started at the best possible loss
            return "converges"
        if arr[-1] - best_loss > NEAR_FRACTION * start:
            return "crawls"
    if total <= 0:  # not a single bit of progress
        return "crawls"
    late = arr[arr.size // 2] - arr[-1]
    return "converges" if late <= FLAT_FRACTION * total else "crawls"


def sweep_learning_rates(
    X: Any,
    y: Any,
    lrs: Sequence[float],
    *,
    model: str = "linear",
    loss: str | None = None,
    optimizer: str = "sgd",
    steps: int = 500,
    standardize: bool = False,
    progress: bool = False,
) -> list[SweepResult]:
    """Train the same model from w = 0 with each learning rate for ``steps`` full-batch
    updates; returns one :class:`SweepResult` per rate (in the order given).

    X: (n, k) features; y: (n,) or (n, 1) targets (class labels for ``model="logistic"``).
    """
    X = np.asarray(X, dtype=np.float64)
    if X.ndim == 1:
        X = X.reshape(-1, 1)
    k = X.shape[1]
    problem = _prepare(X, np.asarray(y), [f"x{i + 1}" for i in range(k)], "y", "arrays", model, loss, standardize)
    for lr in lrs:
        try:
            _check_lr(float(lr), str(lr))
        except argparse.ArgumentTypeError as e:
            raise ValueError(str(e)) from None
    results, _ = _sweep(problem, [float(lr) for lr in lrs], optimizer, steps, progress)
    return results


def _best_possible_loss(problem: _Problem) -> float | None:
    """J* where it is known exactly: a linear model's mse/half_mse at the least-squares solution."""
    if problem.kind != "linear" or problem.loss_name not in ("mse", "half_mse"):
        return None
    coef, intercept = _least_squares(problem.X, problem.y)
    return _loss_at(problem, coef.reshape(1, -1), np.array([intercept]))


def _sweep(
    problem: _Problem, lrs: Sequence[float], optimizer: str, steps: int, progress: bool
) -> tuple[list[SweepResult], float | None]:
    """Run every learning rate; verdicts against J* when known, else against the lowest loss
    any run reached (so "converges" means: levelled off at the best loss seen)."""
    runs = [_train(problem, optimizer=optimizer, lr=lr, max_steps=steps, progress=progress) for lr in lrs]
    best = _best_possible_loss(problem)
    reference = best
    if reference is None:
        finals = [r.losses[-1] for r in runs if r.diverged is None and math.isfinite(r.losses[-1])]
        reference = min(finals) if finals else None
    results = []
    for lr, run in zip(lrs, runs):
        at = run.diverged.step if run.diverged is not None else None
        results.append(SweepResult(lr, classify_run(run.losses, reference), run.losses, at))
    return results, best


def _cmd_lr_sweep(args: argparse.Namespace) -> int:
    if (args.csv is None) == (args.builtin is None):
        raise CLIError("give either DATA.csv --target COL or --builtin NAME "
                       f"(built-in datasets: {', '.join(data.BUILTIN_DATASETS)})")
    if args.builtin is not None:
        if args.target or args.features:
            raise CLIError("--target and --features go with a CSV file, not with --builtin")
        X, y = data.load_builtin(args.builtin)
        task = data.BUILTIN_DATASETS[args.builtin].task
        kind = args.model or ("linear" if task == "regression" else "logistic")
        names = ["x"] if X.shape[1] == 1 else [f"x{i + 1}" for i in range(X.shape[1])]
        source = f"built-in dataset {args.builtin!r}"
        target = "y"
    else:
        X, y, names = _load_csv(args.csv, args.target, args.features)
        kind = args.model or "linear"
        source, target = args.csv, args.target
    problem = _prepare(X, np.asarray(y), names, target, source, kind, args.loss, args.standardize)
    if not args.json:
        _out(f"lr-sweep on {source}: {len(problem.y)} rows, {len(names)} feature(s), {kind} model, loss "
             f"{problem.loss_name}, {args.optimizer}, {args.steps} full-batch steps per learning rate, "
             f"features {'standardized' if args.standardize else 'as given'}")
    results, best_loss = _sweep(problem, args.lrs, args.optimizer, args.steps, progress=True)
    plot_path = None
    if args.plot:
        from . import plot

        fig = plot.lr_sweep(results, title=f"Learning-rate sweep: {source}, {kind} model, {plot._short(problem.loss_name)}",
                            optimum_loss=best_loss)
        with _writing_outputs(args) as outputs:
            outputs.write("--plot", args.plot, lambda temp: plot.save_figure(fig, temp), ".png")
        plot_path = args.plot
    if args.json:
        print(json.dumps(_json_safe({
            "command": "lr-sweep", "data": source, "model": kind, "loss": problem.loss_name,
            "optimizer": args.optimizer, "steps": args.steps, "best_possible_loss": best_loss,
            "results": [{"lr": r.lr, "verdict": r.verdict, "initial_loss": r.losses[0],
                         "final_loss": r.final_loss, "diverged_at": r.diverged_at} for r in results],
            "plot": plot_path,
        })))
        return 0
    rows = []
    for r in results:
        if r.diverged_at is not None:
            end = f"became {r.losses[-1]} at step {r.diverged_at}"
        else:
            end = f"{r.losses[-1]:.4g}"
        curve = r.losses if best_loss is None else [v - best_loss for v in r.losses]
        rows.append([f"{r.lr:g}", r.verdict, f"{r.losses[0]:.4g}", end, sparkline(curve, width=30)])
    what = "loss" if best_loss is None else "loss − best"
    for line in _table(["lr", "verdict", "start loss", "final loss", f"{what} per step (log scale)"], rows):
        _out(line)
    if best_loss is not None:
        _out(f"best possible loss (closed-form least squares): {best_loss:.6g}")
    converged = [r for r in results if r.verdict == "converges"]
    crawled = [r for r in results if r.verdict == "crawls"]
    diverged = [r for r in results if r.verdict == "diverges"]
    summary = []
    if crawled:
        summary.append(f"too small crawls ({', '.join(f'{r.lr:g}' for r in crawled)})")
    if diverged:
        summary.append(f"too large diverges ({', '.join(f'{r.lr:g}' for r in diverged)})")
    if converged:
        summary.append(f"converged: {', '.join(f'{r.lr:g}' for r in converged)}")
    else:
        summary.append(f"none converged in {args.steps} steps: try more --steps"
                       + ("" if args.standardize else " or --standardize"))
    _out("; ".join(summary) + ".")
    if plot_path:
        _out(f"wrote {plot_path}")
    return 0


# --------------------------------------------------------------------------- main
_COMMANDS = {"demo": _cmd_demo, "fit": _cmd_fit, "check": _cmd_check, "lr-sweep": _cmd_lr_sweep}


def _tolerant_streams() -> None:
    """On a terminal that cannot show ▁▂▃ or Σ, print '?' instead of failing."""
    for stream in (sys.stdout, sys.stderr):
        encoding = getattr(stream, "encoding", None) or "utf-8"
        try:
            "▁█Σŷ²‖".encode(encoding)
        except (UnicodeEncodeError, LookupError):
            reconfigure = getattr(stream, "reconfigure", None)
            if reconfigure is not None:
                reconfigure(errors="replace")


def main(argv: Sequence[str] | None = None) -> int:
    """Run the ``tinygrad-gd`` command with ``argv`` (default ``sys.argv[1:]``); returns the
    exit status: 0 success, 1 a failed check or divergence, 2 a usage or input error, 130
    interrupted (Ctrl-C)."""
    _tolerant_streams()
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        print(f"{PROG}: error: choose a command: {', '.join(_COMMANDS)} (see '{PROG} --help'; "
              f"start with '{PROG} demo')", file=sys.stderr)
        return 2
    prog = f"{PROG} {args.command}"
    args.written = []  # output files moved into place (see _writing_outputs)
    try:
        _check_outputs(args)
        return _COMMANDS[args.command](args)
    except CLIError as e:
        print(f"{prog}: error: {e}", file=sys.stderr)
        return e.code
    except data.DataError as e:  # missing file, missing column, a cell that is not a number, ...
        print(f"{prog}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:  # Ctrl-C: 130, the shell's code for SIGINT (128 + 2)
        where = ""
        if isinstance(e, train.TrainingInterrupted):
            where = f" at step {e.step} (loss {e.loss:.6g})" if e.step >= 0 else " before the first step"
        requested = [getattr(args, option, None) for option in ("plot", "save")]
        note = ""
        if any(requested):
            note = f"; wrote {', '.join(args.written)}" if args.written else "; no output file was written"
        print(f"{prog}: interrupted{where}{note}", file=sys.stderr)
        return 130
    except BrokenPipeError:  # e.g. piped into `head`
        try:
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115 - silence the flush at exit
        except OSError:
            pass
        return 0
