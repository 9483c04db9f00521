"""The engine on other array backends (DESIGN.md "Array backends"): the op table run on
array-api-strict arrays (on a non-CPU test device, so any numpy call on them raises), on small
Dask arrays, and on CuPy when a GPU is present; a Dask training step computes the loss and
every gradient in one pass over the chunks.

Each row runs on its first shape set (the numpy table in test_ops covers every shape): value
and gradients (random upstream) must equal the numpy engine's, and stay in the backend. Rows
that the standard cannot express, or that are not ported yet, are listed with the reason and
must raise the clear TypeError naming the op and the backend.
"""

from __future__ import annotations

import numpy as np
import pytest
from op_table import OP_TABLE, OpRow, sample_inputs

import tinygrad_gd as tg
from tinygrad_gd import _backend

xp_strict = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed (test extra)")
pytest.importorskip("array_api_compat", reason="array-api-compat is not installed (test extra)")
da = pytest.importorskip("dask.array", reason="dask[array] is not installed (test extra)")

UNSUPPORTED = "is not available for"  # _backend.unsupported: the op and the backend, by name
MIXES = "mixes arrays of two backends"  # a numpy constant in the row meets the backend's arrays

# Rows whose call puts a numpy array next to the tensor: on strict (as on CuPy) that is a mix.
NUMPY_CONSTANT_ROWS = {
    "add_ndarray_left", "sub_ndarray_left", "div_ndarray_left", "pow_ndarray_exponent",
    "matmul_ndarray_left", "where", "where_scalar_branch", "where_function", "where_function_scalar_branch",
}  # fmt: skip
# Known gaps on array-api-strict, each failing for the reason given (strict xfail: the test
# fails once a gap is closed, so that the row moves to the checked ones). None are left.
STRICT_GAPS: dict[str, str] = {}
# On Dask: what Dask itself cannot do lazily (data-dependent shapes, numpy-only linalg).
DASK_GAPS = {
    "getitem_mask": "a boolean mask gives dask an unknown (nan) shape",
    "getitem_comparison_mask": "a boolean mask gives dask an unknown (nan) shape",
    "matrix_norm_nuc": "tg.linalg.norm's eigh path computes with numpy (dask has no eigh)",
    "matrix_norm_2_keepdims": "tg.linalg.norm's eigh path computes with numpy (dask has no eigh)",
    "matrix_norm_minus_2": "tg.linalg.norm's eigh path computes with numpy (dask has no eigh)",
}
# Rows whose forward needs scipy's erf: the clear TypeError. (The scatter-add gradient of
# integer-array indexing, gather, pad's borders and scatter_add is a one-hot sum on these
# backends: those rows are checked like the others.)
STRICT_ERRORS = {"gelu_exact": "erf is not available for array_api_strict"}
DASK_ERRORS = {"erf": "erf is not available for dask", "gelu_exact": "erf is not available for dask"}
STRICT_DEVICE = xp_strict.Device("device1")  # not the CPU: np.asarray on these arrays raises


def _strict(a: np.ndarray) -> object:
    return xp_strict.asarray(a, device=STRICT_DEVICE)


def _dask(a: np.ndarray) -> object:
    return da.from_array(a, chunks=2) if a.ndim else da.from_array(a)


def _numpy_result(row: OpRow, xs: list[np.ndarray], rng: np.random.Generator):
    ts = [tg.Tensor(x, requires_grad=True) for x in xs]
    out = row.fn(*ts)
    upstream = rng.standard_normal(out.shape)
    out.backward(gradient=upstream)
    return out.numpy(), upstream, [None if t.grad is None else t.grad.numpy() for t in ts]


def _check_row(row: OpRow, convert, backend: str) -> None:
    rng = np.random.default_rng(0)
    xs = sample_inputs(row, row.shapes[0], rng)
    value, upstream, grads = _numpy_result(row, xs, rng)
    ts = [tg.Tensor(convert(x), requires_grad=True) for x in xs]
    out = row.fn(*ts)
    assert _backend.backend_name(out.data) == backend, f"{row.name}: output left {backend}"
    np.testing.assert_allclose(out.numpy(), value, rtol=1e-10, atol=1e-12, err_msg=row.name)
    out.backward(gradient=convert(upstream))
    for i, (t, g) in enumerate(zip(ts, grads)):
        if g is None:
            continue
        assert _backend.backend_name(t.grad.data) == backend, f"{row.name}: gradient {i} left {backend}"
        np.testing.assert_allclose(t.grad.numpy(), g, rtol=1e-10, atol=1e-12, err_msg=f"{row.name}: input {i}")


def _expect_error(row: OpRow, convert, match: str) -> None:
    xs = sample_inputs(row, row.shapes[0], np.random.default_rng(0))
    with pytest.raises(TypeError, match=match):
        out = row.fn(*[tg.Tensor(convert(x), requires_grad=True) for x in xs])
        out.backward(gradient=convert(np.ones(out.shape)))


def _refused_on(row: OpRow, backend: str) -> bool:
    op = tg.ops.OPS.get(row.op) if row.op else None
    return op is not None and backend in op.unsupported_backends


def _strict_params():
    for row in OP_TABLE:
        marks = [pytest.mark.xfail(strict=True, reason=STRICT_GAPS[row.name])] if row.name in STRICT_GAPS else []
        yield pytest.param(row, marks=marks, id=row.name)


@pytest.mark.parametrize("row", _strict_params())
def test_op_table_on_array_api_strict(row):
    if row.name in NUMPY_CONSTANT_ROWS:
        _expect_error(row, _strict, MIXES)
    elif row.name in STRICT_ERRORS:
        _expect_error(row, _strict, STRICT_ERRORS[row.name])
    elif _refused_on(row, "array_api_strict"):
        _expect_error(row, _strict, f"{row.op} {UNSUPPORTED} array_api_strict")
    else:
        _check_row(row, _strict, "array_api_strict")


def _dask_params():
    for row in OP_TABLE:
        marks = [pytest.mark.xfail(strict=True, reason=DASK_GAPS[row.name])] if row.name in DASK_GAPS else []
        yield pytest.param(row, marks=marks, id=row.name)


@pytest.mark.filterwarnings("ignore::FutureWarning")  # dask: numpy functions it runs eagerly
@pytest.mark.parametrize("row", _dask_params())
def test_op_table_on_dask(row):
    if _refused_on(row, "dask"):
        _expect_error(row, _dask, f"{row.op} {UNSUPPORTED} dask")
    elif row.name in DASK_ERRORS:
        _expect_error(row, _dask, DASK_ERRORS[row.name])
    else:
        _check_row(row, _dask, "dask")


def _cupy_or_skip():
    cupy = pytest.importorskip("cupy", reason="CuPy is not installed (the gpu extra)")
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:  # pragma: no cover - needs a GPU
            pytest.skip("CuPy is installed but no GPU is visible")
    except Exception as error:  # CUDA missing entirely  # pragma: no cover - needs a GPU
        pytest.skip(f"CuPy is installed but CUDA is not usable: {error}")
    return cupy


@pytest.mark.parametrize("row", [pytest.param(r, id=r.name) for r in OP_TABLE if r.name not in NUMPY_CONSTANT_ROWS][:60])
def test_op_table_on_cupy(row):  # pragma: no cover - needs a GPU
    cupy = _cupy_or_skip()
    if _refused_on(row, "cupy"):
        _expect_error(row, cupy.asarray, f"{row.op} {UNSUPPORTED} cupy")
    else:
        _check_row(row, cupy.asarray, "cupy")


# --------------------------------------------------------------------------- engine rules
def test_mixing_backends_in_one_op_names_both():
    a = tg.Tensor(_strict(np.ones(3)))
    with pytest.raises(TypeError, match=r"Add: mixes arrays of two backends, array_api_strict .* and numpy"):
        a + np.ones(3)


def test_dask_takes_numpy_parameters_and_numpy_takes_nothing_foreign():
    X = tg.Tensor(_dask(np.ones((4, 2))))
    w = tg.Tensor(np.ones(2), requires_grad=True)
    out = (X @ w).sum()
    assert _backend.backend_name(out.data) == "dask"
    out.backward()
    assert _backend.backend_name(w.grad.data) == "dask"  # lazy until computed
    np.testing.assert_allclose(w.grad.numpy(), [4.0, 4.0])


def test_unsupported_op_is_a_type_error_naming_op_and_backend():
    t = tg.Tensor(_strict(np.ones((2, 2))), requires_grad=True)
    with pytest.raises(TypeError, match="Einsum is not available for array_api_strict arrays: the Array API standard has no einsum"):
        tg.einsum("ij,jk->ik", t, t)


def test_tensor_of_a_foreign_array_follows_the_dtype_rules():
    t = tg.Tensor(xp_strict.asarray([1, 2, 3], device=STRICT_DEVICE))
    assert t.dtype == xp_strict.float64 and _backend.backend_name(t.data) == "array_api_strict"
    with pytest.raises(tg.DtypeError):
        tg.Tensor(xp_strict.asarray([1, 2]), dtype=np.int64, requires_grad=True)
    assert tg.Tensor(_dask(np.arange(3))).dtype == np.float64
    assert tg.Tensor(_dask(np.arange(4.0))).sum().item() == 6.0
    assert "dask array" in repr(tg.Tensor(_dask(np.ones(2))))  # repr never computes


# --------------------------------------------------------------------------- one pass per step
def _counted_chunks(X: np.ndarray, counter: list[int]) -> object:
    def read(block: np.ndarray) -> np.ndarray:
        counter[0] += 1
        return block

    meta = np.empty((0, 0), dtype=X.dtype)  # given, so that dask does not call read to infer it
    return da.from_array(X, chunks=(10, X.shape[1])).map_blocks(read, dtype=X.dtype, meta=meta)


def _fit(X, y, steps: int):
    w = tg.zeros(3, requires_grad=True)
    b = tg.zeros(1, requires_grad=True)
    tg.fit([w, b], lambda Xb, yb: tg.losses.mse(Xb @ w + b, yb), (tg.Tensor(X), tg.Tensor(y)), lr=0.1, max_steps=steps)
    return np.concatenate([w.numpy(), b.numpy()])


def test_a_dask_fit_reads_each_chunk_once_per_step_and_matches_numpy():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, 3))
    y = X @ np.array([1.0, -2.0, 0.5]) + 0.3
    reads = [0]
    lazy = _fit(_counted_chunks(X, reads), da.from_array(y, chunks=10), steps=5)
    assert reads[0] == 4 * 5  # 4 chunks, 5 steps: loss and all gradients in one compute
    np.testing.assert_allclose(lazy, _fit(X, y, steps=5), rtol=1e-8)


def test_integer_array_indexing_on_strict_takes_along_an_axis_or_refuses_clearly():
    x = np.arange(12.0).reshape(3, 4)
    t = tg.Tensor(_strict(x))
    for index in ([2, 0, 2], (slice(None), np.array([[3, 0], [1, 1]])), (np.array([0, 2]), np.array([1, 3])), (1, slice(1, 9))):
        out = t[index]
        assert _backend.backend_name(out.data) == "array_api_strict"
        np.testing.assert_array_equal(out.numpy(), x[index])
    with pytest.raises(TypeError, match=r"integer arrays next to slices, None or \.\.\. is not available for array_api_strict .*x\[rows, cols\]"):
        t[None, [0, 1]]


def test_masks_of_the_backend_and_numpy_masks_select_on_strict():
    x = np.arange(6.0).reshape(2, 3)
    mask = x > 2.0
    t = tg.Tensor(_strict(x), requires_grad=True)
    out = t.masked_fill(mask, -1.0)  # a numpy mask is a constant, like an index: it joins the backend
    np.testing.assert_array_equal(out.numpy(), np.where(mask, -1.0, x))
    out.sum().backward()
    np.testing.assert_array_equal(t.grad.numpy(), (~mask).astype(float))
    picked = tg.where(tg.Tensor(_strict(x)) > 2.0, t, 0.5)
    np.testing.assert_array_equal(picked.numpy(), np.where(mask, x, 0.5))
    with pytest.raises(TypeError, match="the mask must be boolean"):
        t.masked_fill(x, 0.0)
    own = t.masked_fill(_strict(mask), -1.0)  # the backend's own mask (numpy cannot read it: device1)
    np.testing.assert_array_equal(own.numpy(), np.where(mask, -1.0, x))


def test_a_strict_array_left_of_a_tensor_is_strict_s_own_error_and_the_tensor_first_works():
    # array-api-strict's operators raise for any other type instead of returning NotImplemented,
    # so Tensor.__radd__ never runs (docs/scaling.md's backend notes say so and give the fix)
    a, t = _strict(np.ones(3)), tg.Tensor(_strict(np.arange(3.0)))
    with pytest.raises(TypeError, match="Expected Array or Python scalar"):
        a + t
    np.testing.assert_array_equal((t + a).numpy(), [1.0, 2.0, 3.0])
    np.testing.assert_array_equal((tg.Tensor(a) + t).numpy(), [1.0, 2.0, 3.0])


def test_only_the_standard_gaps_are_refused_on_strict():
    # (a refusal added back would turn its rows into expected errors: this pins the list, as docs/api.md has it)
    refused = {name for name, op in tg.ops.OPS.items() if "array_api_strict" in op.unsupported_backends}
    assert refused == {"Einsum", "Im2Col", "Col2Im", "Erf"}


# --------------------------------------------------------------------------- one-hot scatter-add
# Integer-array indexing's gradient off numpy is a sum over a one-hot matrix (ops/_scatter.py),
# by one of three layouts; each case here must equal numpy's np.add.at (repeats accumulate).
ROWS_REPEATED = np.array([2, -1, 0, 2])  # -1 and 2 are the same row of 3
SCATTER_CASES = {
    "one_axis_repeats_negative": (lambda t: t[ROWS_REPEATED], "both"),
    "one_axis_columns_2d_picks": (lambda t: t[:, np.array([[3, 0], [3, 3]])], "both"),
    "one_axis_partial_slice": (lambda t: t[1:, np.array([3, 3, 0])], "dask"),
    "one_axis_new_axis": (lambda t: t[None, ..., np.array([1, 1])], "dask"),
    "per_slice_gather_smaller": (lambda t: t.gather(1, np.array([[1, 1, 0], [3, 3, 3]])), "both"),
    "per_slice_take_along_broadcast": (lambda t: t.take_along_axis(np.array([[0, 2, 2, 1]]), 0), "both"),
    "flat_pairs_repeated": (lambda t: t[np.array([0, 2, 2, -3]), np.array([3, 1, 1, 3])], "both"),
    "flat_int_and_array": (lambda t: t[2, np.array([0, 0, 3])], "both"),
}  # fmt: skip
_BACKENDS = {"array_api_strict": _strict, "dask": _dask}


def _scatter_params():
    for name, (fn, where) in SCATTER_CASES.items():
        for backend in _BACKENDS:
            if where in ("both", backend):
                yield pytest.param(fn, backend, id=f"{name}-{backend}")


@pytest.mark.parametrize(("fn", "backend"), _scatter_params())
def test_integer_array_indexing_gradients_off_numpy_equal_np_add_at(fn, backend):
    rng = np.random.default_rng(1)
    x = rng.standard_normal((3, 4))
    t = tg.Tensor(x, requires_grad=True)
    out = fn(t)
    upstream = rng.standard_normal(out.shape)
    out.backward(gradient=upstream)
    convert = _BACKENDS[backend]
    u = tg.Tensor(convert(x), requires_grad=True)
    lazy = fn(u)
    np.testing.assert_array_equal(lazy.numpy(), out.numpy())
    lazy.backward(gradient=convert(upstream))
    assert _backend.backend_name(u.grad.data) == backend
    np.testing.assert_allclose(u.grad.numpy(), t.grad.numpy(), rtol=1e-13, atol=1e-15)


def test_an_index_array_of_the_backend_and_second_derivatives_through_the_one_hot_scatter():
    x = np.array([0.5, -1.0, 2.0])
    picks = np.array([2, 0, 2, 2])
    t = tg.Tensor(_strict(x), requires_grad=True)
    (t[xp_strict.asarray(picks, device=STRICT_DEVICE)] ** 2).sum().backward()  # the user's own index array
    np.testing.assert_allclose(t.grad.numpy(), 2 * x * np.bincount(picks, minlength=3))
    (g,) = tg.autograd.grad((t[picks] ** 3).sum(), [t], create_graph=True)  # 3 c x², recorded
    (h,) = tg.autograd.grad(g.sum(), [t])
    assert _backend.backend_name(h.data) == "array_api_strict"
    np.testing.assert_allclose(h.numpy(), 6 * x * np.bincount(picks, minlength=3))


def test_a_dask_gather_gradient_stays_lazy_and_reads_each_chunk_once():
    rng = np.random.default_rng(2)
    X = rng.standard_normal((40, 3))
    labels = rng.integers(0, 4, size=(40, 1))
    reads = [0]
    W = tg.Tensor(rng.standard_normal((3, 4)), requires_grad=True)
    logits = tg.Tensor(_counted_chunks(X, reads)) @ W
    picked = logits.gather(1, labels)
    (g_logits, g_w) = tg.autograd.grad(picked.sum(), [logits, W])
    assert _backend.backend_name(g_logits.data) == "dask" and not np.isnan(g_logits.data.shape).any()
    assert reads[0] == 0  # nothing computed yet
    expected = X.T @ (labels == np.arange(4))
    np.testing.assert_allclose(g_w.numpy(), expected, rtol=1e-12)
    assert reads[0] == 4


def test_only_dask_s_real_gaps_are_refused_on_dask():
    # repeat (by take), diagonal/trace (a one-hot matmul back) and scatter_add (a one-hot sum) run lazily
    refused = {name for name, op in tg.ops.OPS.items() if "dask" in op.unsupported_backends}
    assert refused == {"Einsum", "Im2Col", "Col2Im", "Sort", "TopK", "Inv", "Solve", "Det", "LogAbsDet", "Cholesky", "Eigh"}
