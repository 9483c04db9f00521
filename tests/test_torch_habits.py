"""PyTorch habits: Tensor.numel(), dim(), clone(), and tg.manual_seed seeding every draw
that has no rng= (randn, rand, nn.Linear)."""

import subprocess
import sys

import numpy as np
import pytest

import tinygrad_gd as tg


def test_numel_and_dim():
    t = tg.zeros(2, 3, 4)
    assert t.numel() == 24 == t.size and t.dim() == 3 == t.ndim
    assert tg.Tensor(5.0).numel() == 1 and tg.Tensor(5.0).dim() == 0
    assert type(t.numel()) is int and type(t.dim()) is int


def test_clone_copies_and_records_so_the_gradient_flows_back():
    x = tg.Tensor([1.0, -2.0, 3.0], requires_grad=True)
    c = x.clone()
    assert c.data is not x.data and np.shares_memory(c.data, x.data) is False
    assert c.grad_fn is not None and not c.is_leaf and c.dtype == x.dtype
    with tg.no_grad():
        c += 1.0  # changing the clone leaves x alone
    np.testing.assert_array_equal(x.data, [1.0, -2.0, 3.0])
    y = x.clone()
    ((y * y).sum() + y.sum()).backward()
    np.testing.assert_array_equal(x.grad.data, 2 * x.data + 1)
    assert tg.gradcheck(lambda a: a.clone() * a, [tg.Tensor(np.random.default_rng(0).normal(size=(2, 3)), requires_grad=True)])
    ids = tg.Tensor(np.array([1, 2]), dtype=np.int64).clone()
    assert ids.dtype == np.int64 and ids.grad_fn is None
    f32 = tg.Tensor(np.ones(2, dtype=np.float32), requires_grad=True).clone()
    assert f32.dtype == np.float32


def test_clone_matches_torch():
    torch = pytest.importorskip("torch", reason="PyTorch is not installed (it is only a reference)")
    data = np.random.default_rng(1).normal(size=(3, 2))
    upstream = np.random.default_rng(2).normal(size=(3, 2))
    x = tg.Tensor(data, requires_grad=True)
    (x.clone().exp() * tg.Tensor(upstream)).sum().backward()
    xt = torch.tensor(data, requires_grad=True)
    (xt.clone().exp() * torch.tensor(upstream)).sum().backward()
    np.testing.assert_allclose(x.grad.data, xt.grad.numpy(), rtol=1e-12)


def test_manual_seed_makes_every_unseeded_draw_reproducible():
    def draws():
        return (tg.randn(3).data, tg.rand(2).data, tg.nn.Linear(2, 2).weight.data, tg.nn.Linear(2, 1).bias.data)

    tg.manual_seed(7)
    first = draws()
    tg.manual_seed(7)
    second = draws()
    for a, b in zip(first, second):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(first[0], draws()[0])  # the stream moves on
    generator = tg.manual_seed(7)
    assert isinstance(generator, np.random.Generator)
    np.testing.assert_array_equal(generator.standard_normal(3), first[0])
    np.testing.assert_array_equal(tg.randn(3, rng=7).data, first[0])  # an explicit seed still wins


def test_numpy_global_seed_does_not_seed_the_package_generator():
    code = (
        "import numpy as np, tinygrad_gd as tg\n"
        "np.random.seed(0)\n"
        "print(tg.randn(2).data.tolist())\n"
    )
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60) for _ in range(2)]
    assert all(r.returncode == 0 for r in runs), runs[0].stderr
    assert runs[0].stdout != runs[1].stdout  # fresh entropy each process: np.random.seed is not ours


def test_manual_seed_rejects_what_is_not_a_seed():
    with pytest.raises(TypeError, match=r"manual_seed needs a whole number >= 0, got float 1.5"):
        tg.manual_seed(1.5)
    with pytest.raises(TypeError, match="bool"):
        tg.manual_seed(True)
    with pytest.raises(ValueError, match="got -1"):
        tg.manual_seed(-1)
