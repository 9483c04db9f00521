"""tg.checkpoint: identical gradients with a clearly lower peak memory (tracemalloc), gradients
for the parameters a segment closes over, exact second and third derivatives through it
(create_graph), no node outside grad mode, and the version check on what it saved."""

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import Tensor

RNG = np.random.default_rng(20240614)
X3, V3 = RNG.standard_normal(3), RNG.standard_normal(3)


def chain(t, k=8):
    """k elementwise ops, each saving its input for backward."""
    for _ in range(k):
        t = t.sin()
    return t


def peak_and_grad(segment, n=100_000, segments=4):
    import tracemalloc

    x = Tensor(np.random.default_rng(0).uniform(-1.0, 1.0, n), requires_grad=True)
    tracemalloc.start()
    try:
        h = x
        for _ in range(segments):
            h = segment(h)
        h.sum().backward()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    return peak, x.grad.data


def test_checkpoint_gives_identical_gradients_with_a_lower_peak_memory():
    # 4 segments of 8 ops on 0.8 MB arrays: without checkpoint all 32 saved inputs are alive
    # at the start of backward; with it, the 4 boundaries plus one segment being recomputed.
    plain_peak, plain_grad = peak_and_grad(chain)
    checkpointed_peak, checkpointed_grad = peak_and_grad(lambda h: tg.checkpoint(chain, h))
    np.testing.assert_array_equal(checkpointed_grad, plain_grad)
    assert checkpointed_peak < 0.6 * plain_peak, (checkpointed_peak, plain_peak)


def test_checkpoint_reaches_closed_over_parameters_and_works_with_autograd_grad():
    layer, head = tg.nn.Linear(3, 4, rng=0), tg.nn.Linear(1, 1, rng=1)
    X = Tensor(RNG.standard_normal((5, 3)), requires_grad=True)
    labels = np.array([0, 1, 0, 1, 1])

    def block(x, labels, *, slope):  # closes over layer's parameters; an int array passes through
        return (layer(x).tanh() * slope).sum(axis=1) + Tensor(labels * 1.0)

    def loss(segment):
        return head(segment(X, labels, slope=0.5).reshape(5, 1).tanh()).sum()

    params = [X, layer.weight, layer.bias, head.weight]
    with_checkpoint = tg.autograd.grad(loss(lambda *a, **k: tg.checkpoint(block, *a, **k)), params)
    for ours, plain in zip(with_checkpoint, tg.autograd.grad(loss(block), params)):
        np.testing.assert_allclose(ours.data, plain.data, rtol=1e-12, atol=1e-15)
    assert layer.weight.grad is None  # autograd.grad returns, never accumulates
    # only the closed-over parameters need grad; .backward() accumulates into them
    tg.checkpoint(block, Tensor(X.data), labels, slope=0.5).sum().backward()
    (expected,) = tg.autograd.grad(block(Tensor(X.data), labels, slope=0.5).sum(), [layer.weight])
    np.testing.assert_allclose(layer.weight.grad.data, expected.data, rtol=1e-12, atol=1e-15)


def test_checkpoint_second_and_third_derivatives_are_exact():
    W = Tensor(RNG.standard_normal((3, 3)), requires_grad=True)

    def f(t):
        return ((W @ t).tanh() * t).sum()

    H = tg.hessian(lambda t: tg.checkpoint(f, t))(X3)
    np.testing.assert_allclose(H, tg.hessian(f)(X3), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(tg.hvp(lambda t: tg.checkpoint(f, t), X3, V3), H @ V3, atol=1e-12)
    _, jv = tg.jvp(lambda t: tg.checkpoint(lambda u: (W @ u).sin(), t), X3, V3)
    np.testing.assert_allclose(jv, tg.jacobian(lambda u: (W @ u).sin())(X3) @ V3, atol=1e-12)

    def derivatives(fn, x):  # d³/dx³ along ones, and d²/dx dW of a closed-over parameter
        (g1,) = tg.autograd.grad(fn(x), [x], create_graph=True)
        (g2,) = tg.autograd.grad(g1.sum(), [x], create_graph=True)
        g3, gw = tg.autograd.grad(g2.sum(), [x, W])
        return g3.data, gw.data

    x = Tensor(X3, requires_grad=True)
    for ours, plain in zip(derivatives(lambda t: tg.checkpoint(f, t), x), derivatives(f, x)):
        np.testing.assert_allclose(ours, plain, rtol=1e-11, atol=1e-13)


def test_checkpoint_outside_grad_mode_and_its_errors():
    x = Tensor(X3, requires_grad=True)
    with tg.no_grad():
        out = tg.checkpoint(chain, x)
    assert not out.requires_grad and out.grad_fn is None
    assert tg.checkpoint(chain, Tensor(X3)).grad_fn is None  # nothing requires grad: no node
    assert type(tg.checkpoint(chain, x).grad_fn).__name__ == "_Checkpoint"
    with pytest.raises(TypeError, match="checkpoint: fn must return one Tensor, it returned tuple"):
        tg.checkpoint(lambda t: (t, t), x)
    h = x * 1.0
    out = tg.checkpoint(chain, h).sum()
    with tg.no_grad():
        h += 1.0  # the node saved h: its backward must refuse the new values
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        out.backward()
