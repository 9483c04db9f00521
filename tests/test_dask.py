"""Dask for real (issue 16, items 3-5): the estimators and ``tg.fit`` on Dask arrays reach the
numpy fit's coefficients with one pass over the chunks per step; ``load_csv(blocksize=)`` and
``tinygrad-gd fit --dask`` read a CSV in blocks; and on a real ``distributed.LocalCluster`` (two
worker processes) a dataset several times larger than one worker's memory limit trains to the
closed-form answer, and a worker killed mid-fit costs time, never a wrong result. From the
command line, ``tinygrad-gd fit big.csv --dask`` trains a CSV larger than a worker's memory
limit to ``np.linalg.lstsq`` of the same data, and Ctrl-C stops it and every worker process.

One cluster serves the module (starting one takes a few seconds). The data on the cluster is
generated on the workers by ``dask.array.random`` (never built in the client), so the
reference is computed chunk-wise too: the normal equations Dᵀ D, Dᵀ y summed by Dask. The
CSV runs start the command's own LocalCluster (see ``CSV_WORKER_MEMORY``).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import cli

da = pytest.importorskip("dask.array", reason="dask[array] is not installed (the test extra)")
dd = pytest.importorskip("dask.dataframe", reason="dask[dataframe] is not installed (the test extra)")
distributed = pytest.importorskip("distributed", reason="distributed is not installed (the test extra)")

# One xdist worker runs this whole module (--dist loadgroup): one cluster, not one per worker.
pytestmark = [
    pytest.mark.filterwarnings("ignore::FutureWarning", "ignore:Port .* is already in use"),
    pytest.mark.xdist_group("dask"),
]

RTOL = 1e-8  # the bar: the same coefficients as the in-memory numpy fit


def _data(n: int = 400, d: int = 3, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)) * np.arange(1, d + 1) + np.arange(d)
    return X, X @ np.linspace(-1.0, 2.0, d) + 0.5 + 0.1 * rng.standard_normal(n)


def _counted(a: np.ndarray, reads: list[int], rows: int = 100) -> object:
    """``a`` as a Dask array whose every chunk read adds one to ``reads[0]``."""

    def read(block: np.ndarray) -> np.ndarray:
        reads[0] += 1
        return block

    chunks = (rows,) + a.shape[1:]
    return da.from_array(a, chunks=chunks).map_blocks(read, dtype=a.dtype, meta=np.empty((0,) * a.ndim))


def _relative(a: np.ndarray, b: np.ndarray) -> float:
    """max |a - b| / max |b|: the relative error of a coefficient vector."""
    return float(np.max(np.abs(np.asarray(a) - b)) / max(float(np.max(np.abs(b))), 1e-300))


# --------------------------------------------------------------------------- estimators, no cluster
@pytest.mark.parametrize("standardize", [True, False])
def test_linear_regression_on_dask_matches_numpy_with_one_pass_per_step(standardize):
    X, y = _data()
    settings = dict(lr=0.3 if standardize else 0.02, max_steps=40, tol=None, standardize=standardize)
    with warnings.catch_warnings(record=True) as warned:
        warnings.simplefilter("always", tg.ConvergenceWarning)
        eager = tg.LinearRegression(**settings).fit(X, y)
        reads = [0]
        lazy = tg.LinearRegression(**settings).fit(_counted(X, reads), da.from_array(y, chunks=100))
    gap_warnings = [w for w in warned if "from the closed-form" in str(w.message)]
    assert len(gap_warnings) in (0, 2)  # the same run: both warn or neither
    # 4 chunks: one pass to check (and standardise), one per step, one for the closed form, and
    # the gap warning's one for the condition number
    assert reads[0] == 4 * (1 + 40 + 1 + len(gap_warnings) // 2)
    assert _relative(lazy.coef_, eager.coef_) <= RTOL and _relative(lazy.intercept_, eager.intercept_) <= RTOL
    assert _relative(lazy.closed_form_coef_, eager.closed_form_coef_) <= 1e-10
    assert [round(v, 12) for v in lazy.history_.loss] == [round(v, 12) for v in eager.history_.loss]


def test_logistic_regression_on_dask_matches_numpy_and_predicts_lazily():
    X, y = _data()
    labels = np.where(y > np.median(y), "yes", "no")
    eager = tg.LogisticRegression(max_steps=50, tol=None).fit(X, labels)
    Xd = da.from_array(X, chunks=100)
    lazy = tg.LogisticRegression(max_steps=50, tol=None).fit(Xd, da.from_array(labels, chunks=100))
    assert list(lazy.classes_) == ["no", "yes"]
    assert _relative(lazy.coef_, eager.coef_) <= RTOL and _relative(lazy.intercept_, eager.intercept_) <= RTOL
    predicted = lazy.predict(Xd)
    assert tg._backend.backend_name(predicted) == "dask"  # lazy until computed
    np.testing.assert_array_equal(predicted.compute(), eager.predict(X))
    assert lazy.score(Xd, labels) == eager.score(X, labels)


def test_dask_inputs_are_checked_with_clear_errors():
    X, y = _data()
    bad = X.copy()
    bad[123, 1] = np.nan
    with pytest.raises(tg.data.DataError, match="X contains NaN or infinite values"):
        tg.LinearRegression().fit(da.from_array(bad, chunks=100), y)
    with pytest.raises(tg.data.DataError, match="y contains NaN"):
        tg.LinearRegression().fit(da.from_array(X, chunks=100), da.from_array(np.r_[y[:-1], np.inf], chunks=100))
    unknown = da.from_array(X, chunks=100)[da.from_array(y, chunks=100) > 0]  # a mask: nan row count
    with pytest.raises(tg.data.DataError, match=r"unknown shape \(nan, 3\).*compute_chunk_sizes"):
        tg.LinearRegression().fit(unknown, y[y > 0])
    with pytest.raises(tg.data.DataError, match="continuous"):
        tg.LogisticRegression().fit(da.from_array(X, chunks=100), da.from_array(y, chunks=100))


def test_data_loader_keeps_dask_lazy_and_refuses_shuffled_mini_batches():
    X, y = _data()
    reads = [0]
    loader = tg.data.DataLoader(_counted(X, reads), y, batch_size=150)
    batches = list(loader)
    assert reads[0] == 0 and tg._backend.backend_name(batches[0][0]) == "dask"  # nothing computed
    assert [b[0].shape[0] for b in batches] == [150, 150, 100]
    batches[1][0].compute()
    assert reads[0] == 2  # rows 150..299 lie in chunks 1 and 2 only
    with pytest.raises(tg.data.DataError, match="shuffle=True over Dask arrays would read every chunk"):
        tg.data.DataLoader(da.from_array(X, chunks=100), y, batch_size=10, shuffle=True)


def test_tg_fit_on_dask_mini_batches_in_data_order_matches_numpy():
    X, y = _data()
    y = y.reshape(-1, 1)

    def train(Xs, ys):
        model = tg.nn.Linear(3, 1)
        for p in model.parameters():
            p.data = np.zeros_like(p.data)
        tg.fit(model, tg.losses.mse, (Xs, ys), lr=0.05, epochs=3, batch_size=100, shuffle=False)
        return np.r_[model.weight.numpy().ravel(), model.bias.numpy()]

    lazy = train(da.from_array(X, chunks=100), da.from_array(y, chunks=100))
    assert _relative(lazy, train(X, y)) <= RTOL


# --------------------------------------------------------------------------- CSV in blocks
@pytest.fixture(scope="module")
def csv_file(tmp_path_factory):
    X, y = _data(n=2000)
    path = tmp_path_factory.mktemp("dask") / "data.csv"
    tg.data.write_csv(path, X, y, ["a", "b", "c"], "y")
    return path


def test_load_csv_in_blocks_gives_the_in_memory_values(csv_file):
    X, y, names = tg.data.load_csv(csv_file, "y", blocksize=20_000)
    assert tg._backend.backend_name(X) == "dask" and X.numblocks[0] > 1 and names == ["a", "b", "c"]
    eager_X, eager_y, _ = tg.data.load_csv(csv_file, "y")
    np.testing.assert_array_equal(X.compute(), eager_X)
    np.testing.assert_array_equal(y.compute(), eager_y)


def test_load_csv_in_blocks_refuses_text_and_drops_missing_rows(tmp_path):
    path = tmp_path / "mixed.csv"
    path.write_text("x;name;y\n1;a;2\n2;b;4\n3;c;NA\n4;d;8\n")
    with pytest.raises(tg.data.DataError, match=r"column\(s\) \['name'\] hold text.*--features x"):
        tg.data.load_csv(path, "y", blocksize="1MB")
    X, y, _ = tg.data.load_csv(path, "y", features=["x"], drop_missing=True, blocksize="1MB")
    np.testing.assert_array_equal(y.compute(), [2.0, 4.0, 8.0])


# --------------------------------------------------------------------------- a real cluster
@pytest.fixture(scope="module")
def cluster():
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, memory_limit="250MB", dashboard_address=None,
        silence_logs=50,
    ) as local, distributed.Client(local) as client:
        yield local, client


def _generated(n: int, d: int, rows: int, seed: int = 0) -> tuple[object, object]:
    """X (n, d) and y, generated chunk by chunk on the workers (never in the client)."""
    rng = da.random.default_rng(seed)
    X = rng.random((n, d), chunks=(rows, d)) * np.arange(1, d + 1) + 1.0
    return X, X @ np.linspace(-1.0, 1.0, d) + 0.5 + rng.random(n, chunks=rows)


def _normal_equations_answer(X, y) -> np.ndarray:
    """Least squares by the normal equations, summed chunk-wise by Dask: [coef..., intercept]."""
    import dask

    design = da.concatenate([X, da.ones((X.shape[0], 1), chunks=(X.chunks[0], 1))], axis=1)
    gram, cross = dask.compute(design.T @ design, design.T @ y)
    return np.linalg.lstsq(gram, cross, rcond=None)[0]


def _out_of_core_fit(client, n: int, d: int, steps: int, kill_after_s: float | None = None) -> None:
    limit = min(w["memory_limit"] for w in client.scheduler_info()["workers"].values())
    X, y = _generated(n, d, rows=200_000)
    assert X.nbytes > 2.5 * limit  # several times larger than one worker's memory
    if kill_after_s is not None:  # SIGKILL one worker while a step is being computed
        pid = next(iter(client.run(os.getpid).values()))
        threading.Timer(kill_after_s, os.kill, (pid, signal.SIGKILL)).start()
    # standardised, the Hessian is nearly 2·I: with lr=0.5 each step divides the error by ~d/sqrt(n)
    model = tg.LinearRegression(lr=0.5, max_steps=steps, tol=None).fit(X, y)
    assert _relative(model.coef_, model.closed_form_coef_) <= RTOL  # the estimator's chunk-wise lstsq
    assert _relative(model.intercept_, model.closed_form_intercept_) <= RTOL
    if kill_after_s is not None:  # and an independent reference: Dᵀ D summed on the raw features
        answer = _normal_equations_answer(X, y)
        assert _relative(model.coef_, answer[:d]) <= RTOL and _relative(model.intercept_, answer[d]) <= RTOL


def test_out_of_core_fit_on_a_local_cluster_reaches_the_closed_form(cluster):
    _, client = cluster
    _out_of_core_fit(client, 16_000_000, 5, steps=3)  # 0.64 GB of features, 250 MB per worker


def test_a_worker_killed_mid_fit_is_survived_with_the_right_answer(cluster):
    _, client = cluster
    X, y = _data(n=200_000, d=3)
    Xd, yd = da.from_array(X, chunks=20_000), da.from_array(y, chunks=20_000)
    pid = next(iter(client.run(os.getpid).values()))

    def kill_once(info):
        if info.step == 2:
            os.kill(pid, signal.SIGKILL)  # the nanny restarts it; Dask reruns what it held

    history = tg.fit([w := tg.zeros(3, requires_grad=True), b := tg.zeros(1, requires_grad=True)],
                     lambda Xb, yb: tg.losses.mse(Xb @ w + b, yb), (tg.Tensor(Xd), tg.Tensor(yd)), lr=0.05,
                     max_steps=6, callbacks=[kill_once])
    w0, b0 = tg.zeros(3, requires_grad=True), tg.zeros(1, requires_grad=True)
    eager = tg.fit([w0, b0], lambda Xb, yb: tg.losses.mse(Xb @ w0 + b0, yb), (X, y), lr=0.05, max_steps=6)
    assert history.steps == 6
    assert _relative(w.numpy(), w0.numpy()) <= RTOL and _relative(b.numpy(), b0.numpy()) <= RTOL
    assert np.allclose(history.loss, eager.loss, rtol=1e-12)


@pytest.mark.slow
def test_out_of_core_fit_survives_a_worker_killed_during_a_step(cluster):
    _, client = cluster
    _out_of_core_fit(client, 13_000_000, 10, steps=4, kill_after_s=8.0)  # 1.04 GB; a pass takes a few seconds


# --------------------------------------------------------------------------- the command line
def test_cli_fit_dask_on_the_clusters_scheduler_gives_the_in_memory_verdict(cluster, csv_file, capsys):
    local, _ = cluster
    options = ["fit", str(csv_file), "--target", "y", "--standardize", "--max-steps", "20", "--json"]
    assert cli.main(options) == 0
    eager = json.loads(capsys.readouterr().out)
    assert cli.main([*options, "--dask", "--scheduler", local.scheduler_address, "--blocksize", "40KB"]) == 0
    lazy = json.loads(capsys.readouterr().out)
    assert lazy["status"] == eager["status"] and lazy["steps"] == eager["steps"]
    assert _relative(np.array(lazy["coef"]), np.array(eager["coef"])) <= RTOL


def test_cli_fit_dask_starts_and_closes_a_local_cluster(csv_file, capsys, monkeypatch):
    started = []
    real = distributed.LocalCluster

    def recording(*args, **kwargs):
        started.append(real(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(distributed, "LocalCluster", recording)
    assert cli.main(["fit", str(csv_file), "--target", "y", "--dask", "--workers", "1", "--max-steps", "5",
                     "--tol", "0"]) == 0
    printed = capsys.readouterr().out
    assert "dask LocalCluster: 1 worker process(es)" in printed and "verdict:" in printed
    assert started and started[0].status.name == "closed"


def test_cli_fit_dask_closes_its_cluster_on_an_error_and_on_ctrl_c(csv_file, capsys, monkeypatch):
    started = []
    real = distributed.LocalCluster
    monkeypatch.setattr(distributed, "LocalCluster", lambda *a, **k: started.append(real(*a, **k)) or started[-1])
    assert cli.main(["fit", str(csv_file), "--target", "nope", "--dask", "--workers", "1"]) == 2
    assert "has no column(s) ['nope']" in capsys.readouterr().err
    assert started and started[0].status.name == "closed"
    assert cli.main(["fit", str(csv_file), "--target", "y", "--dask", "--batch-size", "10"]) == 2
    assert "--dask trains on the full batch" in capsys.readouterr().err
    def interrupted(args):
        raise KeyboardInterrupt

    monkeypatch.setattr(tg._cli_fit, "_fit", interrupted)  # Ctrl-C during training
    assert cli.main(["fit", str(csv_file), "--target", "y", "--dask", "--workers", "1"]) == 130
    assert len(started) == 2 and started[1].status.name == "closed"


def _tinygrad_gd() -> list[str]:
    """The installed ``tinygrad-gd`` command (``python -m tinygrad_gd`` where it is not on PATH)."""
    found = shutil.which("tinygrad-gd")
    return [found] if found else [sys.executable, "-m", "tinygrad_gd"]


def test_ctrl_c_in_a_terminal_stops_tinygrad_gd_fit_dask_and_every_worker_process(csv_file):
    psutil = pytest.importorskip("psutil", reason="psutil (a dependency of distributed) lists the worker processes")
    command = _tinygrad_gd() + ["fit", str(csv_file), "--target", "y", "--standardize", "--dask", "--workers", "2",
                                "--max-steps", "1000000", "--tol", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               start_new_session=True, env={**os.environ, "PYTHONUNBUFFERED": "1"})
    try:
        assert process.stdout is not None
        for line in process.stdout:  # the header: the cluster is up, training starts
            if line.startswith("model "):
                break
        workers = psutil.Process(process.pid).children(recursive=True)
        assert len(workers) >= 2  # the LocalCluster's worker processes
        # a terminal's Ctrl-C: SIGINT to the whole foreground process group, the workers included
        os.killpg(process.pid, signal.SIGINT)
        _, err = process.communicate(timeout=120)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    assert process.returncode == 130, err
    assert "tinygrad-gd fit: interrupted" in err and "Traceback" not in err
    _, alive = psutil.wait_procs(workers, timeout=30)
    assert not alive, f"left running after Ctrl-C: {alive}"


# --------------------------------------------------------------------------- a CSV larger than a worker's memory
# A Dask worker that parses CSV holds about 190 MB of its own (pandas, pyarrow, scipy, this package; 250 MB
# with the sparse package installed; measured with psutil): at the module cluster's 250 MB it pauses at 80 %
# over and over and is killed at 95 % on 16 MB blocks, so these runs start their own LocalCluster through the
# command line, with room for 8 MB blocks whether sparse is installed or not.
CSV_WORKER_MEMORY = "400MB"
_DIGITS = (np.arange(100_000)[:, None] // 10 ** np.arange(4, -1, -1) % 10 + ord("0")).astype(np.uint8)


def _write_csv(path: Path, size: int, d: int = 4, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """A CSV of at least ``size`` bytes: columns x0..x{d-1}, y, each value ``ddd.dddddddddddd`` (k / 1e12,
    k < 1e15, so the float64 the parser returns is exactly k / 1e12); returns (X, y) as the file holds them.
    Written by numpy in blocks (digits by table look-up): seconds for hundreds of MB."""
    rng = np.random.default_rng(seed)
    coef, rows = np.linspace(-0.3, 0.3, d), size // (17 * (d + 1)) + 1
    Xs, ys = [], []
    with open(path, "wb") as f:
        f.write((",".join([f"x{j}" for j in range(d)] + ["y"]) + "\n").encode())
        for start in range(0, rows, 500_000):
            m = min(500_000, rows - start)
            k = rng.integers(0, 10**15, size=(m, d + 1), dtype=np.int64)
            X = k[:, :d] / 1e12  # uniform on [0, 1000): independent features, standardised by --standardize
            y = np.rint(np.clip(X @ coef + 500.0 + rng.normal(0.0, 10.0, m), 0.0, 999.0) * 1e12)
            k[:, d] = y.astype(np.int64)
            text = np.empty((m, d + 1, 17), dtype=np.uint8)  # 'ddd' '.' 12 digits ',' per value
            text[:, :, [0, 1, 2, 4, 5]] = _DIGITS[k // 10**10]
            text[:, :, 6:11], text[:, :, 11:16] = _DIGITS[k // 10**5 % 10**5], _DIGITS[k % 10**5]
            text[:, :, 3], text[:, :, 16], text[:, -1, 16] = ord("."), ord(","), ord("\n")
            f.write(text.tobytes())
            Xs.append(X)
            ys.append(y / 1e12)
    return np.concatenate(Xs), np.concatenate(ys)


def _least_squares(X: np.ndarray, y: np.ndarray) -> np.ndarray:
    """The in-memory closed form: [coef..., intercept] by np.linalg.lstsq."""
    return np.linalg.lstsq(np.c_[X, np.ones(len(y))], y, rcond=None)[0]


def _big_csv_options(path: Path, saved: Path) -> list[str]:
    """What a user types: z-scored features (uncorrelated here, so the Hessian is nearly 2·I and lr=0.5 divides
    the error by ~1e3 per step: 3 steps reach 1e-10), the step budget, and a worker memory limit."""
    return ["fit", str(path), "--target", "y", "--standardize", "--lr", "0.5", "--max-steps", "3", "--tol", "0",
            "--dask", "--workers", "2", "--memory-limit", CSV_WORKER_MEMORY, "--blocksize", "16MB", "--json",
            "--save", str(saved)]


def _check_big_csv_fit(report: dict, saved: Path, X: np.ndarray, y: np.ndarray) -> None:
    answer = _least_squares(X, y)
    assert report["status"] == "converged" and report["rows"] == len(y) and report["steps"] == 3
    assert _relative(np.r_[report["coef"], report["intercept"]], answer) <= RTOL
    closed = report["closed_form"]
    assert _relative(np.r_[closed["coef"], closed["intercept"]], answer) <= 1e-10
    with np.load(saved) as model:
        assert _relative(np.r_[model["weight"].ravel(), model["bias"]], answer) <= RTOL


def test_cli_fit_dask_trains_a_csv_larger_than_a_workers_memory_to_the_least_squares_answer(
        tmp_path, capsys, monkeypatch):
    from dask.utils import parse_bytes

    limit = parse_bytes(CSV_WORKER_MEMORY)
    path, saved = tmp_path / "big.csv", tmp_path / "model.npz"
    X, y = _write_csv(path, int(1.05 * limit))
    assert path.stat().st_size > limit  # the file does not fit in one worker's memory
    limits, clusters = [], []
    real = distributed.LocalCluster

    def recording(*args, **kwargs):  # the CLI's own cluster: its workers' limits, and closed at the end
        clusters.append(real(*args, **kwargs))
        limits.extend(w["memory_limit"] for w in clusters[-1].scheduler_info["workers"].values())
        return clusters[-1]

    monkeypatch.setattr(distributed, "LocalCluster", recording)
    assert cli.main(_big_csv_options(path, saved)) == 0
    _check_big_csv_fit(json.loads(capsys.readouterr().out), saved, X, y)
    assert limits == [limit, limit] and clusters[0].status.name == "closed"


@pytest.mark.slow
def test_tinygrad_gd_fit_dask_trains_a_csv_several_times_a_workers_memory(tmp_path):
    from dask.utils import parse_bytes

    limit = parse_bytes(CSV_WORKER_MEMORY)
    path, saved = tmp_path / "big.csv", tmp_path / "model.npz"
    X, y = _write_csv(path, 3 * limit)
    assert path.stat().st_size > 3 * limit and X.nbytes + y.nbytes > limit  # even parsed, more than a worker holds
    done = subprocess.run(_tinygrad_gd() + _big_csv_options(path, saved), capture_output=True, text=True,
                          timeout=1800)
    assert done.returncode == 0, done.stderr
    _check_big_csv_fit(json.loads(done.stdout), saved, X, y)
