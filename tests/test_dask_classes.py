"""Classification on Dask without computing the data to build the step: multi-class
LogisticRegression trains lazily (class ids by a searchsorted per block, cross_entropy's
one-hot form) and reaches the numpy fit's coefficients; the losses' input checks on Dask arrays
(probabilities, binary targets, class ids) run block by block inside the step's compute and
raise the same ValueError as on numpy."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

import tinygrad_gd as tg

da = pytest.importorskip("dask.array", reason="dask[array] is not installed (the test extra)")

pytestmark = [pytest.mark.filterwarnings("ignore::FutureWarning"), pytest.mark.xdist_group("dask")]

RTOL = 1e-8  # the bar: the same coefficients as the in-memory numpy fit


def _counted(a: np.ndarray, reads: list[int], rows: int = 50) -> object:
    """``a`` as a Dask array whose every chunk read adds one to ``reads[0]``."""

    def read(block: np.ndarray) -> np.ndarray:
        reads[0] += 1
        return block

    chunks = (rows,) + a.shape[1:]
    return da.from_array(a, chunks=chunks).map_blocks(read, dtype=a.dtype, meta=np.empty((0,) * a.ndim, dtype=a.dtype))


def _three_classes(n: int = 200, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, 3)) * [1.0, 2.0, 0.5] + [0.0, 1.0, -1.0]
    scores = X @ rng.standard_normal((3, 3)) + 0.7 * rng.standard_normal((n, 3))
    return X, np.array(["cat", "dog", "emu"])[np.argmax(scores, axis=1)]


def test_multi_class_logistic_regression_on_dask_matches_numpy_with_one_pass_per_step():
    X, y = _three_classes()
    settings = dict(max_steps=30, tol=None, l2=0.01)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", tg.ConvergenceWarning)
        eager = tg.LogisticRegression(**settings).fit(X, y)
        reads = [0]
        lazy = tg.LogisticRegression(**settings).fit(_counted(X, reads), da.from_array(y, chunks=50))
    assert list(lazy.classes_) == ["cat", "dog", "emu"] and lazy.coef_.shape == (3, 3)
    assert reads[0] == 4 * (1 + 30)  # 4 chunks of X: one pass to check and standardise, one per step
    np.testing.assert_allclose(lazy.coef_, eager.coef_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(lazy.intercept_, eager.intercept_, rtol=RTOL, atol=1e-12)
    np.testing.assert_allclose(lazy.history_.loss, eager.history_.loss, rtol=1e-12)
    predicted = lazy.predict(da.from_array(X, chunks=50))
    assert tg._backend.backend_name(predicted) == "dask"
    np.testing.assert_array_equal(predicted.compute(), eager.predict(X))


def test_cross_entropy_of_dask_labels_equals_numpy_in_value_and_gradient():
    rng = np.random.default_rng(1)
    logits, labels = rng.standard_normal((12, 4)), rng.integers(0, 4, 12)
    t = tg.Tensor(logits, requires_grad=True)
    tg.losses.cross_entropy(t, labels).backward()
    u = tg.Tensor(da.from_array(logits, chunks=(3, 4)), requires_grad=True)
    loss = tg.losses.cross_entropy(u, da.from_array(labels, chunks=3))
    assert tg._backend.backend_name(loss.data) == "dask"
    loss.backward()
    np.testing.assert_allclose(loss.item(), tg.losses.cross_entropy(logits, labels).item(), rtol=1e-14)
    np.testing.assert_allclose(u.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=1e-15)
    with pytest.raises(TypeError, match="nll_loss .* Dask labels"):
        tg.losses.nll_loss(u, da.from_array(labels, chunks=3))


@pytest.mark.parametrize(
    ("loss", "prob", "target", "match"),
    [
        (tg.losses.binary_cross_entropy, 0.5, 2.0, r"every target must lie in \[0, 1\].*1 value\(s\) outside it .*For -1/\+1 labels"),
        (tg.losses.binary_cross_entropy, 1.5, 1.0, r"every probability must lie in \[0, 1\].*Apply .sigmoid\(\)"),
        (tg.losses.binary_cross_entropy_with_logits, 3.0, -1.0, r"every target must lie in \[0, 1\]"),
    ],
)
def test_a_dask_loss_input_is_checked_in_the_compute_not_before(loss, prob, target, match):
    p, t = np.full(8, 0.25), np.ones(8)
    p[5], t[6] = prob, target
    reads = [0]
    value = loss(tg.Tensor(_counted(p, reads, rows=2)), tg.Tensor(_counted(t, reads, rows=2)))
    assert reads[0] == 0  # building the loss computed nothing
    with pytest.raises(ValueError, match=match + r".*one block of the Dask array"):
        value.item()


def test_dask_class_ids_are_checked_in_the_compute():
    logits = da.from_array(np.zeros((6, 3)), chunks=(2, 3))
    loss = tg.losses.cross_entropy(logits, da.from_array(np.array([0, 1, 2, 3, 0, 1]), chunks=2))
    with pytest.raises(ValueError, match=r"label 3 is out of range: with 3 classes .* one block"):
        loss.item()
    halves = tg.losses.cross_entropy(logits, da.from_array(np.array([0, 1, 2, 1.5, 0, 1]), chunks=2))
    with pytest.raises(ValueError, match=r"labels must be whole numbers \(class ids\), but label 1.5"):
        halves.item()
    with pytest.raises(ValueError, match="ignore_index=1 is a class id"):
        tg.losses.cross_entropy(logits, da.from_array(np.zeros(6, dtype=int), chunks=2), ignore_index=1)
