"""The benchmark's implementations compute the same step (no timing is asserted here).

A benchmark that compared different work would report meaningless ratios: the hand-written
numpy baseline and tinygrad_gd must reach the same parameters, and a missing peer must be
reported as "not installed", never an error.
"""

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import run  # noqa: E402

NUMPY, OURS = "numpy (hand-written)", "tinygrad_gd"


@pytest.mark.parametrize(("n", "d", "dtype", "rtol"), [(50, 1, np.float64, 1e-12), (40, 3, np.float64, 1e-12), (40, 3, np.float32, 1e-5)])
def test_linear_regression_steps_agree_with_the_numpy_baseline(n, d, dtype, rtol):
    steps = run.linreg_steps(n, d, dtype, peers={})
    for _ in range(5):
        expected = steps[NUMPY]()
        got = steps[OURS]()
    for e, g in zip(expected, got):
        assert g.dtype == np.dtype(dtype)
        np.testing.assert_allclose(g, e, rtol=rtol, atol=rtol)
    assert np.any(got[0] != 0)  # five steps moved the weights


def test_mlp_steps_agree_with_the_numpy_baseline():
    steps = run.mlp_steps(8, (4, 6, 5, 3), peers={})
    for _ in range(3):
        expected = steps[NUMPY]()
        got = steps[OURS]()
    for (we, ce), (wg, cg) in zip(expected, got):
        np.testing.assert_allclose(wg, we, rtol=1e-12, atol=1e-12)
        np.testing.assert_allclose(cg, ce, rtol=1e-12, atol=1e-12)


def test_scalar_chain_gradients_agree_with_the_hand_written_chain_rule():
    steps = run.scalar_chain_steps(20, peers={})
    assert steps[OURS]() == pytest.approx(steps[NUMPY](), rel=1e-12)


def test_missing_peers_are_reported_as_not_installed(monkeypatch):
    for name in run.PEERS:
        monkeypatch.setitem(sys.modules, name, None)  # `import name` now fails
        monkeypatch.setitem(sys.modules, "micrograd.engine", None)
        monkeypatch.setitem(sys.modules, "autograd.numpy", None)
        monkeypatch.setitem(sys.modules, "jax.numpy", None)
        assert run._import_peer(name) is None
    impls = run.linreg_steps(20, 1, np.float64, peers={})
    assert impls["torch"] == run.NOT_INSTALLED and impls["micrograd"] == run.NOT_INSTALLED
    rows = run._run_case("case", impls, repeats=1, min_sample=0.0)
    assert {r.impl for r in rows if r.note == run.NOT_INSTALLED} == {"torch", "autograd", "jax (no jit)", "micrograd"}
    table = run.to_markdown(rows)
    assert "| case | torch | — | — | not installed |" in table
    assert "| case | numpy (hand-written) |" in table and "1.00×" in table


def test_deep_chain_backward_completes_and_is_timed():
    assert run.deep_chain_backward(2_000) > 0
