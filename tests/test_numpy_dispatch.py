"""numpy dispatch: numpy functions on Tensors run the Tensor ops, with gradients.

Every row of the dispatch table (``tinygrad_gd._numpy_dispatch.DISPATCH``) is checked from the
table itself, so a new row is tested with nothing else to edit: its example call on Tensors
against the same call on arrays (numpy's answer), and its gradient against float64 central
differences with a random upstream gradient (``tg.gradcheck``), with every input a Tensor and
with the first one a plain array (the reflected paths: ``ndarray + t``). Then the tutorials'
cost functions, written in numpy as the tutorials write them, differentiate unchanged, and
the edges: ``out=``, keyword arguments, ufunc methods, unsupported functions, ``np.asarray``.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
from op_table import OpRow, sample_inputs

import tinygrad_gd as tg
from tinygrad_gd import analytic
from tinygrad_gd._numpy_dispatch import DISPATCH, Dispatch, Example, supported_names

API = Path(__file__).resolve().parents[1] / "docs" / "api.md"
EXAMPLES = [(row, example) for row in DISPATCH for example in row.examples]
IDS = [f"{row.name}-{i}" for row in DISPATCH for i in range(len(row.examples))]


def _inputs(row: Dispatch, example: Example) -> list[np.ndarray]:
    index = next(i for i, e in enumerate(row.examples) if e is example)
    sampler = OpRow(row.name, example.call, example.call, (example.shapes,), example.domains)
    return sample_inputs(sampler, example.shapes, np.random.default_rng([DISPATCH.index(row), index]))


# --------------------------------------------------------------------------- the table
@pytest.mark.parametrize("row, example", EXAMPLES, ids=IDS)
def test_row_matches_numpy_and_finite_differences(row, example):
    arrays = _inputs(row, example)
    expected = example.call(*arrays)
    tensors = [tg.Tensor(a, requires_grad=True) for a in arrays]
    got = example.call(*tensors)
    if row.kind == "value":
        assert not isinstance(got, tg.Tensor)
        np.testing.assert_equal(got, expected)
        return
    assert isinstance(got, tg.Tensor), f"{row.name} returned {type(got).__name__}: not dispatched"
    assert got.shape == np.shape(expected)
    if row.kind == "constant":
        assert not got.requires_grad and got.grad_fn is None
        assert got.dtype == np.asarray(expected).dtype
        np.testing.assert_array_equal(got.data, expected)
        return
    assert got.requires_grad
    np.testing.assert_allclose(got.data, expected, rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(example.call, tensors)


MIXED = [(row, e) for row, e in EXAMPLES if row.kind == "op" and len(e.shapes) > 1]


@pytest.mark.parametrize("row, example", MIXED, ids=[f"{row.name}-{row.examples.index(e)}" for row, e in MIXED])
def test_an_array_first_operand_reaches_the_tensor_op(row, example):
    first, *rest = _inputs(row, example)
    tensors = [tg.Tensor(a, requires_grad=True) for a in rest]
    got = example.call(first, *tensors)
    assert isinstance(got, tg.Tensor) and got.requires_grad
    np.testing.assert_allclose(got.data, example.call(first, *rest), rtol=1e-12, atol=1e-12)
    assert tg.gradcheck(lambda *ts: example.call(first, *ts), tensors)


def test_the_table_covers_the_issue_list_and_each_function_once():
    required = (
        "add subtract multiply divide true_divide power negative square sqrt exp log log1p expm1 abs "
        "absolute sin cos tan tanh maximum minimum clip where sum mean average dot matmul vdot inner "
        "outer var std max amax min amin reshape transpose squeeze expand_dims concatenate stack "
        "broadcast_to sign less less_equal greater greater_equal equal not_equal"
    ).split()
    names = set(supported_names())
    assert {f"np.{n}" for n in required} | {"np.linalg.norm"} <= names
    functions = [row.function for row in DISPATCH]
    assert len(functions) == len(set(functions))
    assert all(row.kind in ("op", "constant", "value") and row.examples for row in DISPATCH)


def test_api_md_lists_exactly_the_supported_functions():
    text = API.read_text(encoding="utf-8")
    section = re.search(r"^## numpy dispatch.*?(?=^## )", text, flags=re.S | re.M)
    assert section, "docs/api.md needs a '## numpy dispatch' section"
    rows = [line for line in section.group(0).splitlines() if line.startswith("| `np.")]
    documented = {name for line in rows for name in re.findall(r"`(np\.[a-z_.0-9]+)[`(]", line.split(" | ")[0])}
    supported = set(supported_names())
    assert sorted(supported - documented) == [], "supported but not in docs/api.md"
    stale = [n for n in documented - supported if _exists(n)]  # names absent from this numpy are fine
    assert stale == [], "documented but not dispatched"


def _exists(name: str) -> bool:
    value = np
    for part in name.split(".")[1:]:
        value = getattr(value, part, None)
    return value is not None


# --------------------------------------------------------------------------- the tutorials' costs
RNG = np.random.default_rng(17)
x = RNG.uniform(0.0, 3.0, size=8)  # one feature, the per-point layout
y = 2.0 * x + 0.5 + RNG.normal(0.0, 0.1, size=8)


def loop_cost(m, b, X, Y):
    """The per-point loop cost, as the tutorial writes it: 1/N Σ (yᵢ − (m·xᵢ + b))²."""
    total = 0
    N = len(X)
    for i in range(N):
        total += (Y[i] - (m * X[i] + b)) ** 2
    return total / N


def predict(X, w, b):
    return X * w + b


def averaged_cost(X, Y, w, b):
    """The averaged cost with its precedence bug fixed (the square covers the residual)."""
    return np.average((Y - predict(X, w, b)) ** 2)


def half_cost(X, y, w, b):
    """The 1/(2m) vectorised cost: X (m, n), w (n, 1), y (m, 1)."""
    m = X.shape[0]
    return (1 / (2 * m)) * np.sum((X @ w + b - y) ** 2)


def sigmoid(z):
    return 1 / (1 + np.exp(-z))


def logistic_cost(X, y, w, b):
    """Mean binary cross-entropy, written with np.dot, np.exp, np.log and np.mean."""
    p = sigmoid(np.dot(X, w) + b)
    return -np.mean(y * np.log(p) + (1 - y) * np.log(1 - p))


X_COL = RNG.normal(size=(6, 2))  # the vectorised layout: X (m, n), y (m, 1)
Y_COL = X_COL @ np.array([[1.5], [-0.5]]) + 0.3
X_LOG = RNG.normal(size=(10, 3))
Y_LOG = (X_LOG @ np.array([1.0, -2.0, 0.5]) > 0).astype(float)

COSTS = {
    # name: (cost(w, b), w0, b0, the hand-derived gradient at (w0, b0))
    "per-point loop": (lambda w, b: loop_cost(w, b, x, y), 0.5, -0.2, analytic.linreg_mse_grad(x, y, 0.5, -0.2)),
    "averaged": (lambda w, b: averaged_cost(x, y, w, b), 0.5, -0.2, analytic.linreg_mse_grad(x, y, 0.5, -0.2)),
    "1/(2m) vectorised": (lambda w, b: half_cost(X_COL, Y_COL, w, b), np.array([[0.2], [0.1]]), 0.0,
                          analytic.linreg_half_mse_grad(X_COL, Y_COL, np.array([[0.2], [0.1]]), 0.0)),
    "logistic": (lambda w, b: logistic_cost(X_LOG, Y_LOG, w, b), np.array([0.1, -0.3, 0.2]), 0.05,
                 analytic.logreg_bce_grad(X_LOG, Y_LOG, np.array([0.1, -0.3, 0.2]), 0.05)),
}


@pytest.mark.parametrize("name", list(COSTS))
def test_tutorial_costs_differentiate_unchanged(name):
    cost, w0, b0, (dw, db) = COSTS[name]
    w, b = tg.Tensor(w0, requires_grad=True), tg.Tensor(b0, requires_grad=True)
    loss = cost(w, b)
    assert isinstance(loss, tg.Tensor) and loss.shape == ()
    loss.backward()
    np.testing.assert_allclose(w.grad.data, dw, rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(b.grad.data, db, rtol=1e-10, atol=1e-12)
    assert tg.gradcheck(cost, [tg.Tensor(w0, requires_grad=True), tg.Tensor(b0, requires_grad=True)])


def test_tutorial_costs_match_pytorch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (reference comparison only; pip install torch==2.13.0)")

    def leaves(w0, b0):
        return [torch.tensor(v, dtype=torch.float64, requires_grad=True) for v in (w0, b0)]

    for name, torch_cost in (
        ("1/(2m) vectorised", lambda w, b: ((torch.tensor(X_COL) @ w + b - torch.tensor(Y_COL)) ** 2).sum() / 12),
        ("logistic", lambda w, b: torch.nn.functional.binary_cross_entropy_with_logits(torch.tensor(X_LOG) @ w + b, torch.tensor(Y_LOG))),
    ):
        cost, w0, b0, _ = COSTS[name]
        expected = leaves(w0, b0)
        torch_cost(*expected).backward()
        w, b = tg.Tensor(w0, requires_grad=True), tg.Tensor(b0, requires_grad=True)
        cost(w, b).backward()
        np.testing.assert_allclose(w.grad.data, expected[0].grad.numpy(), rtol=1e-10)
        np.testing.assert_allclose(b.grad.data, expected[1].grad.numpy(), rtol=1e-10)


# --------------------------------------------------------------------------- edges
def _leaf(*values: float) -> tg.Tensor:
    return tg.Tensor(np.array(values), requires_grad=True)


def test_out_is_refused_while_recording_and_written_under_no_grad():
    t = _leaf(1.0, 2.0, 3.0)
    with pytest.raises(RuntimeError, match=r"np\.sum\(\.\.\., out=\.\.\.\) does not support autodiff.*no_grad"):
        np.sum(t, out=np.zeros(()))
    with pytest.raises(RuntimeError, match=r"np\.exp.*no_grad"):
        np.exp(t, out=np.zeros(3))
    out = np.zeros(3)
    with tg.no_grad():
        assert np.exp(t, out=out) is out
    np.testing.assert_allclose(out, np.exp([1.0, 2.0, 3.0]))
    constant, total = tg.Tensor([1.0, 2.0]), np.zeros(())
    assert np.sum(constant, out=total) is total and total == 3.0  # nothing requires grad: written
    with pytest.raises(ValueError, match=r"out= must be an array of the result's shape \(3,\), got \(2,\)"):
        with tg.no_grad():
            np.exp(t, out=np.zeros(2))


def test_out_into_a_parameter_is_a_no_grad_update():
    w = _leaf(1.0, 2.0)
    (w * w).sum().backward()
    with pytest.raises(RuntimeError, match=r"in place into a Tensor that requires grad.*no_grad"):
        np.subtract(w, 0.1 * w.grad.data, out=w)
    version = w._version_box[0]
    with tg.no_grad():
        assert np.subtract(w, 0.1 * w.grad, out=w) is w
    np.testing.assert_allclose(w.data, [0.8, 1.6])
    assert w._version_box[0] > version  # graphs that saved the old values refuse to backward
    plain = tg.Tensor(np.zeros(2))  # a Tensor only in out=: numpy computes, the Tensor receives
    assert np.add(np.ones(2), np.ones(2), out=plain) is plain and plain.tolist() == [2.0, 2.0]


def test_ndarray_in_place_operators_with_a_tensor():
    a = np.ones(2)
    a += tg.Tensor([1.0, 2.0])  # no grad anywhere: numpy writes into a, as with arrays
    np.testing.assert_array_equal(a, [2.0, 3.0])
    with pytest.raises(RuntimeError, match="does not support autodiff"):
        a += _leaf(1.0, 2.0)


def test_numpy_default_keywords_are_accepted_and_others_refused():
    t = _leaf(1.0, 2.0, 3.0)
    assert np.sum(t, axis=None, dtype=None, out=None, keepdims=False, where=True).item() == 6.0
    assert np.exp(t, where=True, casting="same_kind", dtype=None).shape == (3,)
    assert np.mean(t, axis=0, keepdims=True).shape == (1,)
    with pytest.raises(TypeError, match=r"np\.mean\(\.\.\., dtype=np\.float32\).*t\.astype"):
        np.mean(t, dtype=np.float32)
    with pytest.raises(TypeError, match=r"np\.sum\(\.\.\., where=.*tg\.where"):
        np.sum(t, where=np.array([True, False, True]))
    with pytest.raises(TypeError, match=r"np\.max\(\.\.\., initial=0\).*tg\.maximum"):
        np.max(t, initial=0)
    with pytest.raises(TypeError, match=r"np\.exp\(\.\.\., casting='unsafe'\)"):
        np.exp(t, casting="unsafe")
    with pytest.raises(TypeError, match=r"np\.reshape\(\.\.\., order='F'\)"):
        np.reshape(t, (3, 1), order="F")


def test_ufunc_methods():
    t = tg.Tensor(np.arange(6.0).reshape(2, 3), requires_grad=True)
    reduced = np.add.reduce(t)  # axis 0, numpy's default for reduce
    np.testing.assert_array_equal(reduced.data, [3.0, 5.0, 7.0])
    np.testing.assert_array_equal(np.maximum.reduce(t, axis=None).data, 5.0)
    np.testing.assert_array_equal(np.minimum.reduce(t, axis=1, keepdims=True).data, [[0.0], [3.0]])
    outer = np.multiply.outer(t[0], t[1])
    np.testing.assert_array_equal(outer.data, np.multiply.outer([0.0, 1, 2], [3.0, 4, 5]))
    (reduced.sum() + outer.sum()).backward()
    np.testing.assert_array_equal(t.grad.data, [[1 + 12, 1 + 12, 1 + 12], [1 + 3, 1 + 3, 1 + 3]])
    for call, name in ((lambda: np.add.accumulate(t), "np.add.accumulate"), (lambda: np.multiply.reduce(t), "np.multiply.reduce")):
        with pytest.raises(TypeError, match=re.escape(name) + r" \(the ufunc method"):
            call()


def test_unsupported_functions_raise_naming_the_function_and_the_fix():
    t = _leaf(1.0, 2.0, 3.0)
    with pytest.raises(TypeError, match=r"np\.median has no Tensor equivalent.*np\.median\(t\.detach\(\)\.numpy\(\)\)"):
        np.median(t)
    with pytest.raises(TypeError, match=r"np\.heaviside has no Tensor equivalent.*t\.numpy\(\) when t needs no grad"):
        np.heaviside(t, 0.5)
    with pytest.raises(TypeError, match=r"np\.linalg\.det has no Tensor equivalent"):
        np.linalg.det(tg.Tensor(np.eye(2)))
    assert np.median(t.detach().numpy()) == 2.0  # the way out, on purpose


def test_asarray_and_array_return_the_data():
    t = _leaf(1.0, 2.0)
    arr = np.asarray(t)
    assert type(arr) is np.ndarray and np.shares_memory(arr, t.data)
    copy = np.array(t)
    assert type(copy) is np.ndarray and not np.shares_memory(copy, t.data)


def test_other_libraries_arrays_are_left_to_numpy():
    t = tg.Tensor([1.0])
    assert t.__array_function__(np.sum, (tg.Tensor, object), (t,), {}) is NotImplemented


def test_masked_arrays_still_meet_the_reflected_operator():
    m = np.ma.masked_array([1.0, 2.0], mask=[0, 1])
    with pytest.raises(TypeError, match="masked array"):
        m + tg.Tensor([1.0, 2.0])
    assert tg.Tensor([1.0]).__array_ufunc__ is None  # read from an instance (numpy.ma does): defer


def test_average_returned_and_weights_errors():
    a = tg.Tensor([[1.0, 2.0], [3.0, 5.0]], requires_grad=True)
    avg, total = np.average(a, axis=0, weights=np.array([1.0, 3.0]), returned=True)
    np.testing.assert_allclose(avg.data, [2.5, 4.25])
    np.testing.assert_array_equal(total.data, [4.0, 4.0])
    mean, count = np.average(a, returned=True)
    assert mean.item() == 2.75 and count.item() == 4.0
    with pytest.raises(ZeroDivisionError, match="weights sum to zero"):
        np.average(a, weights=np.zeros((2, 2)))
    with pytest.raises(TypeError, match=r"weights of shape \(2,\) differ from a's \(2, 2\): pass axis="):
        np.average(a, weights=np.ones(2))
    with pytest.raises(ValueError, match=r"3 weights for axis 1 of length 2"):
        np.average(a, axis=1, weights=np.ones(3))


def test_products_and_norms_refuse_what_no_op_computes():
    with pytest.raises(TypeError, match=r"np\.dot with a 3-D right operand.*np\.matmul"):
        np.dot(tg.Tensor(np.ones((2, 3))), np.ones((4, 3, 2)))
    with pytest.raises(TypeError, match=r"ord='nuc'.*singular values"):
        np.linalg.norm(tg.Tensor(np.eye(2)), "nuc")
    with pytest.raises(ValueError, match=r"np\.inner: the last axes"):
        np.inner(tg.Tensor(np.ones(2)), np.ones(3))


def test_names_other_libraries_add_to_numpy_are_not_listed(monkeypatch):
    # scikit-learn adds an `expm1x` alias to numpy's namespace when imported: not numpy's API
    monkeypatch.setattr(np, "expm1_added_by_a_library", np.expm1, raising=False)
    names = supported_names()
    assert "np.expm1_added_by_a_library" not in names and "np.expm1" in names
