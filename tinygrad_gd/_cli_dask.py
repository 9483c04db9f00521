"""``tinygrad-gd fit --dask``: the CSV read in blocks by ``dask.dataframe.read_csv`` and the
training run on a ``dask.distributed`` cluster: the one at ``--scheduler ADDRESS``, or a
``LocalCluster`` started for the run and closed when it ends, however it ends (an error,
Ctrl-C): both are context managers, entered with ``with``. Its worker processes ignore Ctrl-C
(SIGINT, which a terminal sends to every process of the command): the command alone handles it,
stops (exit status 130) and closes the cluster, which stops the workers, without a traceback
from each of them.

``cli.py`` adds the options (:func:`add_dask_options`); ``_cli_fit.cmd_fit`` runs inside
:func:`dask_session`. Nothing here is imported by the other commands, and ``distributed`` is
imported only when ``--dask`` is given.
"""

from __future__ import annotations

import argparse
import logging
import signal
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from ._text import CLIError

__all__ = ["add_dask_options", "dask_session", "check_dask_arguments", "DEFAULT_BLOCKSIZE", "DEFAULT_WORKERS"]

DEFAULT_BLOCKSIZE = "64MB"
"""Bytes of CSV per block (one Dask partition) with ``--dask``."""

DEFAULT_WORKERS = 2
"""Worker processes of the ``LocalCluster`` that ``--dask`` starts without ``--scheduler``."""


def add_dask_options(fit: argparse.ArgumentParser) -> None:
    """The ``--dask`` options of ``tinygrad-gd fit``."""
    group = fit.add_argument_group("out of core (Dask)")
    group.add_argument("--dask", action="store_true",
                       help="read the CSV in blocks with dask.dataframe (never all in memory) and train on a "
                       "dask.distributed cluster: one pass over the file per step")
    group.add_argument("--scheduler", metavar="ADDRESS",
                       help="with --dask: connect to this running dask scheduler (e.g. tcp://10.0.0.5:8786) "
                       "instead of starting a LocalCluster")
    group.add_argument("--blocksize", default=DEFAULT_BLOCKSIZE, metavar="SIZE",
                       help=f"with --dask: bytes of CSV per block, e.g. 16MB (default {DEFAULT_BLOCKSIZE})")
    group.add_argument("--workers", type=int, default=DEFAULT_WORKERS, metavar="N",
                       help=f"with --dask and no --scheduler: worker processes of the LocalCluster "
                       f"(default {DEFAULT_WORKERS})")
    group.add_argument("--memory-limit", default="auto", metavar="SIZE",
                       help="with --dask and no --scheduler: memory limit per worker, e.g. 500MB (default: "
                       "the machine's memory shared among the workers)")


def check_dask_arguments(args: argparse.Namespace) -> None:
    """Refuse the combinations ``--dask`` cannot honour, with the fix."""
    if args.scheduler and not args.dask:
        args.dask = True  # --scheduler only makes sense with Dask: it implies --dask
    if not args.dask:
        return
    if args.batch_size is not None:
        raise CLIError("--dask trains on the full batch (one pass over the file per step); leave --batch-size out")
    if getattr(args, "plot", None):
        raise CLIError("--plot draws every row in memory; leave it out with --dask")
    if args.workers < 1:
        raise CLIError(f"--workers must be at least 1, got {args.workers}")


def _distributed() -> Any:
    try:
        import distributed
    except ImportError as e:
        raise CLIError(f"--dask needs dask.distributed ({e}): pip install 'tinygrad-gd[dask]'") from None
    return distributed


@contextmanager
def _connected(distributed: Any, address: str) -> Iterator[Any]:
    try:
        client = distributed.Client(address, timeout="10s")
    except (OSError, TimeoutError, ValueError) as e:
        raise CLIError(
            f"--scheduler {address}: cannot connect ({e}); start one with 'dask scheduler' (and workers with "
            f"'dask worker {address}'), or leave --scheduler out to start a LocalCluster"
        ) from None
    with client:
        yield client


class _CancelledGathers(logging.Filter):
    """Drops asyncio's "Task exception was never retrieved" for the Client's gathers that Ctrl-C
    cancelled (``distributed.client.AllExit``): three tracebacks after the command's own line."""

    def filter(self, record: logging.LogRecord) -> bool:
        error = record.exc_info[1] if record.exc_info else None
        return type(error).__name__ != "AllExit"


def _quiet_cancelled_gathers() -> None:
    """Installs :class:`_CancelledGathers` on the asyncio logger (once per process)."""
    asyncio_log = logging.getLogger("asyncio")
    if not any(isinstance(f, _CancelledGathers) for f in asyncio_log.filters):
        asyncio_log.addFilter(_CancelledGathers())


@contextmanager
def _started_ignoring_ctrl_c() -> Iterator[None]:
    """Processes started inside inherit SIGINT ignored (Python then installs no KeyboardInterrupt
    handler in them). Ctrl-C pressed meanwhile (while the cluster starts) is ignored too."""
    if threading.current_thread() is not threading.main_thread():
        yield  # signal handlers can only be changed from the main thread
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def dask_session(args: argparse.Namespace) -> Iterator[str | None]:
    """Inside: the Dask client of the run is the default scheduler of every ``compute``.
    Yields a description of the cluster in words (None without ``--dask``)."""
    if not args.dask:
        yield None
        return
    distributed = _distributed()
    _quiet_cancelled_gathers()
    if args.scheduler:
        with _connected(distributed, args.scheduler) as client:
            workers = len(client.scheduler_info().get("workers", {}))
            yield f"dask scheduler {args.scheduler} ({workers} worker(s))"
        return
    with _local_cluster(distributed, args):
        yield f"dask LocalCluster: {args.workers} worker process(es), memory limit {args.memory_limit} each"


@contextmanager
def _local_cluster(distributed: Any, args: argparse.Namespace) -> Iterator[None]:
    """A LocalCluster for the run and a Client on it; both closed on the way out, however it goes."""
    try:
        with _started_ignoring_ctrl_c():
            # no dashboard; the scheduler's HTTP server on a free port (8787 may be another cluster's)
            cluster = distributed.LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                                               memory_limit=args.memory_limit, dashboard_address=None,
                                               scheduler_kwargs={"dashboard_address": ":0"},
                                               silence_logs=logging.ERROR)
    except (TypeError, ValueError) as e:  # e.g. --memory-limit 12 apples
        raise CLIError(f"cannot start a dask LocalCluster: {e} (check --workers and --memory-limit)") from None
    with cluster, distributed.Client(cluster):
        yield
