"""Issue 13, items 3–4: the shape/indexing ops, einsum and tg.linalg against PyTorch (values
and gradients, float64) and finite differences; the ridge closed form differentiated in λ.
(The op table already checks every registered row against numpy and finite differences.)"""

from __future__ import annotations

import numpy as np
import pytest
from op_table import numerical_vjp

import tinygrad_gd as tg

ITEM_3 = ["flip", "roll", "tile", "repeat", "repeat_interleave", "split", "chunk", "pad", "tril", "triu",
          "diagonal", "trace", "swapaxes", "moveaxis", "take_along_axis", "gather", "scatter_add", "masked_fill",
          "permute", "view", "clamp", "square", "astype", "float", "double"]  # fmt: skip
TOP_LEVEL = ["one_hot", "outer", "tensordot", "einsum", "split", "chunk", "linalg"]
LINALG = ["inv", "solve", "det", "slogdet", "cholesky", "eigh", "norm"]
RNG = np.random.default_rng(0)


def test_every_name_of_items_3_and_4_exists():
    assert [n for n in ITEM_3 if not callable(getattr(tg.Tensor, n, None))] == []
    assert [n for n in TOP_LEVEL if not hasattr(tg, n)] == []
    assert [n for n in LINALG if not callable(getattr(tg.linalg, n, None))] == []


def _vjp(fn, arrays, upstream):
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    fn(*xs).backward(gradient=upstream)
    return [x.grad.numpy() for x in xs]


# --------------------------------------------------------------------------- against torch
SPD = RNG.normal(size=(3, 3))
SPD = SPD @ SPD.T + 3 * np.eye(3)
TORCH_CASES = [
    ("flip", lambda t: t.flip(1), lambda t: t.flip(1), (2, 3)),
    ("roll", lambda t: t.roll(1, axis=0), lambda t: t.roll(1, 0), (3, 2)),
    ("tile_is_torch_repeat", lambda t: t.tile((2, 1)), lambda t: t.repeat(2, 1), (2, 3)),
    ("repeat_is_repeat_interleave", lambda t: t.repeat(2, axis=1), lambda t: t.repeat_interleave(2, dim=1), (2, 3)),
    ("pad_reflect", lambda t: t.pad(((0, 0), (2, 1)), mode="reflect"), lambda t: __import__("torch").nn.functional.pad(t[None], (2, 1), mode="reflect")[0], (2, 4)),
    ("pad_edge", lambda t: t.pad(((0, 0), (1, 2)), mode="edge"), lambda t: __import__("torch").nn.functional.pad(t[None], (1, 2), mode="replicate")[0], (2, 3)),
    ("tril", lambda t: t.tril(-1), lambda t: t.tril(-1), (3, 3)),
    ("triu", lambda t: t.triu(1), lambda t: t.triu(1), (3, 4)),
    ("diagonal", lambda t: t.diagonal(1, 1, 2), lambda t: t.diagonal(1, 1, 2), (2, 3, 3)),
    ("trace", lambda t: t.trace(), lambda t: t.trace(), (3, 3)),
    ("moveaxis", lambda t: t.moveaxis(0, -1), lambda t: t.movedim(0, -1), (2, 3, 4)),
    ("gather", lambda t: t.gather(1, np.array([[0, 0], [2, 1]])), lambda t: t.gather(1, __import__("torch").tensor([[0, 0], [2, 1]])), (2, 3)),
    ("masked_fill", lambda t: t.masked_fill(np.array([True, False, True]), 2.0), lambda t: t.masked_fill(__import__("torch").tensor([True, False, True]), 2.0), (2, 3)),
    ("inv", lambda t: tg.linalg.inv(t + 4 * np.eye(3)), lambda t: __import__("torch").linalg.inv(t + 4 * __import__("torch").eye(3, dtype=t.dtype)), (3, 3)),
    ("det", lambda t: tg.linalg.det(t + 4 * np.eye(3)), lambda t: __import__("torch").linalg.det(t + 4 * __import__("torch").eye(3, dtype=t.dtype)), (2, 3, 3)),
    ("slogdet", lambda t: tg.linalg.slogdet(t - 4 * np.eye(3))[1], lambda t: __import__("torch").linalg.slogdet(t - 4 * __import__("torch").eye(3, dtype=t.dtype))[1], (3, 3)),
    ("cholesky", lambda t: tg.linalg.cholesky(t @ t.T + np.eye(3)), lambda t: __import__("torch").linalg.cholesky(t @ t.T + __import__("torch").eye(3, dtype=t.dtype)), (3, 3)),
    ("norm_nuc", lambda t: tg.linalg.norm(t, "nuc"), lambda t: __import__("torch").linalg.norm(t, "nuc"), (3, 2)),
    ("norm_2", lambda t: tg.linalg.norm(t, 2), lambda t: __import__("torch").linalg.norm(t, 2), (2, 3)),
    ("norm_inf_matrix", lambda t: tg.linalg.norm(t, np.inf), lambda t: __import__("torch").linalg.norm(t, float("inf")), (2, 3)),
    ("norm_1_matrix", lambda t: tg.linalg.norm(t, 1, axis=(1, 0)), lambda t: __import__("torch").linalg.norm(t, 1, dim=(1, 0)), (2, 3)),
    ("norm_p3_vector", lambda t: tg.linalg.norm(t, 3, axis=1), lambda t: __import__("torch").linalg.vector_norm(t, 3, dim=1), (2, 3)),
]


@pytest.mark.parametrize("name, ours, theirs, shape", TORCH_CASES, ids=[c[0] for c in TORCH_CASES])
def test_values_and_gradients_match_torch(name, ours, theirs, shape):
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (reference comparison only; pip install torch==2.13.0)")
    rng = np.random.default_rng(1)
    x = rng.uniform(-1, 1, size=shape)
    mine = ours(tg.Tensor(x, requires_grad=True))
    upstream = rng.normal(size=mine.shape)
    (grad,) = _vjp(ours, [x], upstream)
    tx = torch.tensor(x, requires_grad=True)
    out = theirs(tx)
    out.backward(torch.tensor(upstream))
    np.testing.assert_allclose(mine.numpy(), out.detach().numpy(), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(grad, tx.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_scatter_add_and_solve_match_torch_in_both_inputs():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (reference comparison only; pip install torch==2.13.0)")
    base, src, index = RNG.normal(size=(3, 4)), RNG.normal(size=(2, 4)), np.array([[0, 2, 2, 1], [2, 2, 0, 0]])
    a, b = RNG.uniform(-1, 1, size=(2, 3, 3)) + 4 * np.eye(3), RNG.normal(size=(2, 3, 2))
    for ours, theirs, arrays in [
        (lambda p, q: p.scatter_add(0, index, q), lambda p, q: p.scatter_add(0, torch.tensor(index), q), (base, src)),
        (tg.linalg.solve, torch.linalg.solve, (a, b)),
    ]:
        out = ours(*[tg.Tensor(v) for v in arrays])
        upstream = RNG.normal(size=out.shape)
        mine = _vjp(ours, arrays, upstream)
        ts = [torch.tensor(v, requires_grad=True) for v in arrays]
        expected = theirs(*ts)
        expected.backward(torch.tensor(upstream))
        np.testing.assert_allclose(out.numpy(), expected.detach().numpy(), rtol=1e-10, atol=1e-12)
        for g, t in zip(mine, ts):
            np.testing.assert_allclose(g, t.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_eigh_values_and_gradients_match_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (reference comparison only; pip install torch==2.13.0)")
    a = RNG.normal(size=(2, 3, 3))
    a = a + np.swapaxes(a, 1, 2)
    gw, gv = RNG.normal(size=(2, 3)), RNG.normal(size=(2, 3, 3))
    x = tg.Tensor(a, requires_grad=True)
    w, v = tg.linalg.eigh(x)
    ta = torch.tensor(a, requires_grad=True)
    tw, tv = torch.linalg.eigh(ta)
    signs = np.sign(np.sum(v.numpy() * tv.detach().numpy(), axis=-2, keepdims=True))  # torch's own signs
    np.testing.assert_allclose(w.numpy(), tw.detach().numpy(), rtol=1e-10)
    np.testing.assert_allclose(v.numpy(), tv.detach().numpy() * signs, atol=1e-10)
    ((w * gw).sum() + (v * gv).sum()).backward()
    ((tw * torch.tensor(gw)).sum() + (tv * torch.tensor(gv * signs)).sum()).backward()
    np.testing.assert_allclose(x.grad.numpy(), ta.grad.numpy(), rtol=1e-8, atol=1e-10)


def test_split_and_chunk_return_pieces_that_each_carry_gradient():
    x = tg.Tensor(np.arange(6.0), requires_grad=True)
    a, b, c = tg.split(x, 3)
    (a * 1.0 + b * 2.0 + c * 3.0).sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), [1, 1, 2, 2, 3, 3])
    assert [p.shape for p in tg.chunk(x, 4)] == [(2,), (2,), (2,)]  # torch: ceil(6/4) = 2 per piece
    assert [p.shape for p in x.split([1, 4])] == [(1,), (3,), (2,)]
    with pytest.raises(ValueError, match="equal pieces"):
        x.split(4)


def test_one_hot_is_torchs_and_has_no_gradient():
    out = tg.one_hot(np.array([[0, 2], [1, 1]]), 3)
    assert out.shape == (2, 2, 3) and not out.requires_grad and out.dtype == np.float64
    np.testing.assert_array_equal(out.numpy()[0], [[1, 0, 0], [0, 0, 1]])
    assert tg.one_hot(tg.Tensor([0.0, 3.0])).shape == (2, 4)  # num_classes=-1: max + 1
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        tg.one_hot([0, 2], 2)


# --------------------------------------------------------------------------- einsum
EINSUM = [
    ("ij,jk->ik", [(2, 3), (3, 2)]),
    ("ii->", [(3, 3)]),
    ("ii->i", [(3, 3)]),
    ("bij,bjk->bik", [(2, 2, 3), (2, 3, 2)]),
    ("...ij,...jk", [(2, 2, 3), (3, 2)]),
    ("i,i->", [(3,), (3,)]),
    ("ij->ji", [(2, 3)]),
    ("ij,jk", [(2, 3), (3, 4)]),
    ("i...i", [(3, 2, 3)]),
    ("ba,ca", [(2, 3), (4, 3)]),
]


@pytest.mark.parametrize("subscripts, shapes", EINSUM, ids=[s for s, _ in EINSUM])
def test_einsum_matches_numpy_and_finite_differences(subscripts, shapes):
    arrays = [RNG.normal(size=s) for s in shapes]
    fn = lambda *xs: tg.einsum(subscripts, *xs)  # noqa: E731
    out = fn(*[tg.Tensor(a) for a in arrays])
    np.testing.assert_allclose(out.numpy(), np.einsum(subscripts, *arrays), rtol=1e-12, atol=1e-12)
    upstream = RNG.normal(size=out.shape)
    for a, n in zip(_vjp(fn, arrays, upstream), numerical_vjp(fn, arrays, upstream)):
        np.testing.assert_allclose(a, n, rtol=1e-6, atol=1e-8)


def test_tensordot_and_outer_follow_numpy():
    a, b = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(4, 3, 2))
    for axes in (1, ([1, 2], [1, 0]), 0):
        np.testing.assert_allclose(tg.tensordot(a, b, axes).numpy(), np.tensordot(a, b, axes), rtol=1e-12)
    np.testing.assert_allclose(tg.outer(a[0, 0], b[0, 0]).numpy(), np.outer(a[0, 0], b[0, 0]))


def test_einsum_errors_name_the_problem():
    with pytest.raises(ValueError, match="2 operand"):
        tg.einsum("ij,jk", tg.ones(2, 2))
    with pytest.raises(ValueError, match="sizes 3 and 2"):
        tg.einsum("ij,jk", tg.ones(2, 3), tg.ones(2, 2))


# --------------------------------------------------------------------------- linalg
def _ridge(X, y, lam):
    d = X.shape[1]
    return tg.linalg.solve(X.T @ X + lam * np.eye(d), X.T @ y)


def test_ridge_closed_form_gradient_in_lambda_and_x_matches_finite_differences():
    X, y, v = RNG.normal(size=(6, 3)), RNG.normal(size=6), RNG.normal(size=3)
    lam = tg.Tensor(0.7, requires_grad=True)
    Xt = tg.Tensor(X, requires_grad=True)
    (_ridge(Xt, y, lam) * v).sum().backward()
    eps = 1e-6
    numeric = [(_ridge(tg.Tensor(X), y, 0.7 + s * eps).numpy() @ v) for s in (1, -1)]
    np.testing.assert_allclose(lam.grad.item(), (numeric[0] - numeric[1]) / (2 * eps), rtol=1e-6)
    # closed form: dw/dλ = -(XᵀX + λI)⁻¹ w
    A = X.T @ X + 0.7 * np.eye(3)
    np.testing.assert_allclose(lam.grad.item(), -np.linalg.solve(A, np.linalg.solve(A, X.T @ y)) @ v, rtol=1e-10)
    (fd_x,) = numerical_vjp(lambda x: _ridge(x, y, 0.7), [X], v)
    np.testing.assert_allclose(Xt.grad.numpy(), fd_x, rtol=1e-6, atol=1e-8)


def test_linalg_second_derivatives_through_create_graph():
    a0 = RNG.uniform(-1, 1, size=(3, 3)) + 4 * np.eye(3)
    for fn in (lambda a: tg.linalg.det(a), lambda a: tg.linalg.inv(a).sum() ** 2, lambda a: tg.linalg.slogdet(a)[1]):
        assert tg.gradgradcheck(fn, [tg.Tensor(a0, requires_grad=True)])


def test_linalg_errors_name_the_shape_and_the_fix():
    with pytest.raises(ValueError, match=r"square.*\(2, 3\)"):
        tg.linalg.inv(tg.ones(2, 3))
    with pytest.raises(np.linalg.LinAlgError, match="singular.*ridge"):
        tg.linalg.solve(tg.ones(2, 2), tg.ones(2))
    with pytest.raises(np.linalg.LinAlgError, match="positive definite"):
        tg.linalg.cholesky(-tg.eye(2))
    with pytest.raises(ValueError, match=r"b\[\.\.\., None\]"):
        tg.linalg.solve(tg.eye(3), tg.ones(2, 3))
    with pytest.raises(ValueError, match="not a matrix norm"):
        tg.linalg.norm(tg.ones(2, 2), "bad")


def test_norm_gradient_at_zero_is_zero_as_torch():
    x = tg.zeros(3, requires_grad=True)
    (tg.linalg.norm(x) + tg.linalg.norm(x, 1)).backward()
    np.testing.assert_array_equal(x.grad.numpy(), 0.0)
