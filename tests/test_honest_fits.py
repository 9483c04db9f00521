"""Honest fits (issue 14): the verdict on a run, training on a scaled target reported in the
original units, mini-batch histories that say what their losses are, divergence advice that
fits the data, and a Linear shape error that suggests the transpose."""

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd._fitting import FitSettings, TargetScale, fit_problem, judge
from tinygrad_gd.estimators import _prepare, _Settings


def _houses(loss="mse"):
    X, y = tg.data.make_houses(n=60, seed=2)
    return _prepare(X, y, "linear", loss, standardize=True)


def _settings(**kw):
    base = dict(optimizer="sgd", lr=0.1, steps=1000, epochs=None, tol=1e-10, standardized=True, target_scaled=True)
    return FitSettings(**{**base, **kw})


@pytest.mark.parametrize("loss", ["mse", "half_mse", "mae"])
def test_a_scaled_target_run_is_reported_in_the_original_units(loss):
    problem = _houses(loss)
    run, scale = fit_problem(problem, _Settings(lr=0.1, max_steps=40, tol=None, progress=False), scale_target=True)
    assert scale is not None and scale.power == (1 if loss == "mae" else 2) and scale.scale > 1e4
    h = run.history
    # every recorded loss is the original-units loss of the original-units parameters of its step
    for (w, b), step in zip(h.params[::10], h.param_steps[::10]):
        weight, bias = tg.estimators._unscale(w, b, run.scaler)
        assert problem.loss_at(weight, bias) == pytest.approx(h.loss[step], rel=1e-9)
    assert problem.loss_at(run.weight, run.bias) == pytest.approx(h.final_loss, rel=0.5)  # one update later
    assert run.losses == h.loss


def test_huber_and_classification_targets_are_not_scaled_and_a_constant_one_only_centred():
    assert TargetScale.of(_houses("huber")) is None  # delta is in the target's units
    X, y = tg.data.make_blobs(n=40, seed=0)
    assert TargetScale.of(_prepare(X, y, "logistic", None, True)) is None
    assert TargetScale.of(_prepare(X, np.full(40, 3.0), "linear", None, True)) == TargetScale(3.0, 1.0, 2)  # centred


def _verdict(settings, **run):
    problem = _houses()
    descent, scale = fit_problem(problem, _Settings(progress=False, **run), scale_target=True)
    evaluation = problem.evaluate(descent.weight, descent.bias)
    return judge(problem, descent, evaluation, settings)


def test_verdicts_say_how_the_run_ended():
    converged = _verdict(_settings(), lr=0.3, max_steps=1000, tol=1e-12)
    assert converged.status == "converged" and converged.advice == [] and converged.r2_gap <= 1e-6
    budget = _verdict(_settings(steps=5), lr=0.01, max_steps=5)
    assert budget.status == "stopped_by_budget" and budget.advice[0] == "more steps (--max-steps 20)"
    stalled = _verdict(_settings(tol=1e-3, lr=0.001), lr=0.001, max_steps=1000, tol=1e-3)
    assert stalled.status == "stalled" and stalled.advice[0].startswith("a smaller --tol (now 0.001")
    assert stalled.line.startswith("verdict: stalled: R²") and stalled.lines()[1].startswith("  try a smaller --tol")


def test_adam_on_a_raw_target_is_told_to_scale_it():
    problem = _houses()
    run = problem.descend(_Settings(optimizer="adam", lr=0.5, max_steps=50, progress=False))
    verdict = judge(problem, run, problem.evaluate(run.weight, run.bias),
                    _settings(optimizer="adam", lr=0.5, steps=50, target_scaled=False))
    assert verdict.status == "stopped_by_budget" and "--standardize-target" in verdict.advice[0]
    assert not any("--standardize (" in a for a in verdict.advice)  # the features already are


def test_mini_batch_history_says_its_losses_are_single_batches():
    X, y = tg.data.make_noisy_line(n=40, seed=0)
    model = tg.nn.Linear(1, 1, rng=0)
    history = tg.fit(model, tg.losses.mse, (X, y), lr=0.05, epochs=3, batch_size=10, seed=0)
    assert history.batches_per_epoch == 4 and history.mini_batches
    text = repr(history)
    assert "last_batch_loss=" in text and "last_epoch_mean_batch_loss=" in text and "final_loss" not in text
    full = tg.fit(tg.nn.Linear(1, 1, rng=0), tg.losses.mse, (X, y), lr=0.05, max_steps=3)
    assert not full.mini_batches and "final_loss=" in repr(full)


@pytest.mark.parametrize("standardized", [True, False])
def test_divergence_advice_fits_the_features(standardized):
    X, y = tg.data.make_noisy_line(n=30, seed=1)
    if standardized:
        X = tg.data.Standardizer().fit_transform(X)
    w, b = tg.zeros(1, 1, requires_grad=True), tg.zeros(1, requires_grad=True)
    with pytest.raises(tg.train.DivergenceError) as info:
        tg.fit([w, b], lambda Xb, yb: tg.losses.mse(Xb @ w + b, yb), (X, y), lr=50.0, max_steps=500)
    message = str(info.value)
    assert "smaller learning rate (lr=50 now)" in message
    assert ("standardize the features" in message) is not standardized
    assert ("already standardized" in message) is standardized


@pytest.mark.parametrize("shape, layer, fix", [
    ((20,), (1, 1), "20 samples of one feature are a column: pass x.reshape(-1, 1)"),
    ((1, 20), (1, 1), "pass the transpose x.T, of shape (20, 1)"),
    ((3, 20), (3, 2), "pass the transpose x.T, of shape (20, 3)"),
    ((20, 5), (3, 1), "or build Linear(5, 1) for 5 features per sample"),
])
def test_linear_shape_error_suggests_the_transpose_for_samples_on_the_wrong_axis(shape, layer, fix):
    with pytest.raises(ValueError) as info:
        tg.nn.Linear(*layer, rng=0)(np.zeros(shape))
    assert fix in str(info.value) and "Linear(20," not in str(info.value)
