"""tg.sweep: run classification and the learning-rate sweep (the library side of
`tinygrad-gd lr-sweep`, whose end-to-end runs are in tests/test_cli.py)."""

import math

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import sweep
from tinygrad_gd.data import DataError


def test_classify_run():
    assert sweep.classify_run([10.0 * 0.5**k for k in range(60)]) == "converges"
    assert sweep.classify_run([10.0 - 0.01 * k for k in range(60)]) == "crawls"
    assert sweep.classify_run([1.0, 2.0, float("inf")]) == "diverges"
    assert sweep.classify_run([1.0, 0.5, 3.0]) == "diverges"
    # levelled off, but short of the best possible loss: stuck in a flat valley
    plateau = [1.0 + 10.0 * 0.5**k for k in range(60)]
    assert sweep.classify_run(plateau) == "converges"
    assert sweep.classify_run(plateau, best_loss=0.5) == "crawls"
    assert sweep.classify_run(plateau, best_loss=1.0) == "converges"
    with pytest.raises(ValueError):
        sweep.classify_run([])


def test_classify_run_edges():
    assert sweep.classify_run([2.0, 2.0, 2.0]) == "crawls"  # no progress at all
    assert sweep.classify_run([2.0, 1.0], best_loss=3.0) == "converges"  # started at (below) J*
    assert sweep.classify_run([[3.0], [1.0], [1.0]]) == "converges"  # any shape, flattened
    assert sweep.classify_run([1.0, float("nan")]) == "diverges"


def test_sweep_learning_rates_api():
    X, y = tg.data.make_line()
    results = sweep.sweep_learning_rates(X, y, [0.001, 0.1, 1.0], steps=500)
    assert [r.verdict for r in results] == ["crawls", "converges", "diverges"]
    assert results[2].diverged_at is not None and not np.isfinite(results[2].losses[-1])
    assert np.isfinite(results[2].final_loss)
    assert len(results[1].losses) == 500
    with pytest.raises(ValueError, match="absurdly large"):
        sweep.sweep_learning_rates(X, y, [1e5])


def test_tg_sweep_is_the_module():
    assert tg.sweep is sweep and "sweep" in tg.__all__
    assert tg.sweep.sweep_learning_rates is sweep.sweep_learning_rates


@pytest.mark.parametrize("lr", [0.0, -0.1, float("nan"), float("inf")])
def test_bad_learning_rates_are_value_errors(lr):
    X, y = tg.data.make_line()
    with pytest.raises(ValueError, match="positive finite number"):
        sweep.sweep_learning_rates(X, y, [0.1, lr])


def test_results_keep_the_order_given_and_one_feature_may_be_1d():
    X, y = tg.data.make_line()
    results = sweep.sweep_learning_rates(X[:, 0], y, [0.1, 0.001], steps=50)
    assert [r.lr for r in results] == [0.1, 0.001]
    assert all(len(r.losses) == 50 for r in results)


def test_a_sweep_run_is_the_estimators_run():
    # one gradient-descent core: the sweep at lr 0.1 and LinearRegression at lr 0.1 see the same losses
    X, y = tg.data.load_builtin("noisy_line")
    (result,) = sweep.sweep_learning_rates(X, y, [0.1], steps=200, standardize=True)
    model = tg.LinearRegression(lr=0.1, max_steps=200, tol=None).fit(X, y)
    np.testing.assert_array_equal(result.losses, model.history_.loss)


def test_logistic_sweeps_judge_against_the_best_loss_seen():
    # overlapping classes: a finite optimum, which only the largest rate reaches in 300 steps
    X, y = tg.data.load_builtin("two_blobs", std=2.0)
    results = sweep.sweep_learning_rates(X, y, [1e-4, 10.0], model="logistic", steps=300, standardize=True)
    assert [r.verdict for r in results] == ["crawls", "converges"]
    assert results[1].final_loss < results[0].final_loss


def test_a_loss_that_does_not_fit_the_model_is_a_data_error():
    X, y = tg.data.make_line()
    with pytest.raises(DataError, match="does not fit a linear regression"):
        sweep.sweep_learning_rates(X, y, [0.1], loss="cross_entropy")
    with pytest.raises(DataError, match="not a class label"):
        sweep.sweep_learning_rates(X, y + 0.5, [0.1], model="logistic")


def test_final_loss_is_the_last_finite_loss():
    assert sweep.SweepResult(0.1, "diverges", [3.0, 5.0, math.inf]).final_loss == 5.0
    assert math.isnan(sweep.SweepResult(0.1, "diverges", [math.nan]).final_loss)
