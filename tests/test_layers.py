"""The layers of tg.nn beyond Linear: Conv2d, MaxPool2d, AvgPool2d, Flatten, Dropout, LayerNorm,
BatchNorm1d, Embedding and cosine_similarity.

Each layer against torch.nn when torch is importable (the same weights copied in; outputs and
the gradients of the input and of every parameter for a random upstream gradient, float64),
and, without torch, against finite differences, numpy formulas and hand-computed values: conv
output shapes under stride/padding/dilation, Dropout's modes and seeds, BatchNorm's running
statistics, and the errors for bad input.
"""

from __future__ import annotations

import numpy as np
import pytest
from op_table import autodiff_vjp, numerical_vjp

import tinygrad_gd as tg
from tinygrad_gd import nn


def _torch():
    return pytest.importorskip("torch", reason="the comparison with PyTorch needs torch (not a dependency)")


def _against_torch(ours, theirs, x, rng, index_input=False):
    """Same parameters in both, one forward and backward each: outputs and gradients agree."""
    torch = _torch()
    with torch.no_grad():
        for name, p in ours.named_parameters():
            dict(theirs.named_parameters())[name].copy_(torch.tensor(p.data))
    xt = x if index_input else tg.Tensor(x, requires_grad=True)
    xs = torch.tensor(x) if index_input else torch.tensor(x, requires_grad=True)
    out, expected = ours(xt), theirs(xs)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-10, atol=1e-12)
    if not index_input:
        np.testing.assert_allclose(xt.grad.data, xs.grad.numpy(), rtol=1e-10, atol=1e-12)
    for name, p in theirs.named_parameters():
        np.testing.assert_allclose(dict(ours.named_parameters())[name].grad.data, p.grad.numpy(), rtol=1e-10, atol=1e-12)
    return out


# --------------------------------------------------------------------------- convolution
# in, out, kernel, options, input shape, expected output shape (oH = ⌊(H + 2p − d(k−1) − 1)/s⌋ + 1)
CONV_CASES = [
    (2, 3, 3, {}, (2, 2, 6, 5), (2, 3, 4, 3)),
    (2, 3, (3, 2), {"stride": 2}, (1, 2, 7, 6), (1, 3, 3, 3)),
    (1, 2, 3, {"padding": 1}, (2, 1, 5, 5), (2, 2, 5, 5)),
    (2, 2, 2, {"dilation": 2}, (1, 2, 6, 6), (1, 2, 4, 4)),
    (3, 2, (2, 3), {"stride": (2, 1), "padding": (1, 2), "dilation": (2, 1)}, (2, 3, 5, 4), (2, 2, 3, 6)),
    (2, 4, 3, {"padding": 2, "bias": False}, (2, 4, 4), (4, 6, 6)),  # one (C, H, W) image
]
CONV_IDS = ["plain", "stride", "padding", "dilation", "all", "unbatched-no-bias"]


@pytest.mark.parametrize("cin, cout, kernel, options, shape, out_shape", CONV_CASES, ids=CONV_IDS)
def test_conv2d_output_shapes(cin, cout, kernel, options, shape, out_shape):
    layer = nn.Conv2d(cin, cout, kernel, rng=0, **options)
    k = (kernel, kernel) if isinstance(kernel, int) else kernel
    assert layer.weight.shape == (cout, cin) + k
    assert (layer.bias is None) == (options.get("bias") is False)
    assert layer(np.zeros(shape)).shape == out_shape


@pytest.mark.parametrize("cin, cout, kernel, options, shape, out_shape", CONV_CASES, ids=CONV_IDS)
def test_conv2d_matches_torch(cin, cout, kernel, options, shape, out_shape):
    torch = _torch()
    rng = np.random.default_rng(1)
    ours = nn.Conv2d(cin, cout, kernel, rng=2, **options)
    theirs = torch.nn.Conv2d(cin, cout, kernel, **options).double()
    _against_torch(ours, theirs, rng.normal(size=shape), rng)


@pytest.mark.parametrize("options", [{}, {"stride": 2, "padding": 1}, {"dilation": 2, "padding": (0, 1)}])
def test_conv2d_gradients_match_finite_differences(options):
    rng = np.random.default_rng(3)
    arrays = [rng.normal(size=(2, 2, 5, 4)), rng.normal(size=(3, 2, 2, 2)), rng.normal(size=(3,))]

    def fn(x, w, b):
        return nn.conv2d(x, w, b, **options)

    with tg.no_grad():
        upstream = rng.normal(size=fn(*[tg.Tensor(a) for a in arrays]).shape)
    for analytic, numeric in zip(autodiff_vjp(fn, arrays, upstream), numerical_vjp(fn, arrays, upstream)):
        np.testing.assert_allclose(analytic, numeric, rtol=1e-6, atol=1e-8)


def test_conv2d_is_twice_differentiable():
    rng = np.random.default_rng(4)
    x = tg.Tensor(rng.normal(size=(1, 1, 4, 4)), requires_grad=True)
    w = tg.Tensor(rng.normal(size=(2, 1, 2, 2)), requires_grad=True)
    assert tg.gradgradcheck(lambda a, b: nn.conv2d(a, b, stride=2, padding=1).tanh(), [x, w])


def test_conv2d_initialisation_is_pytorchs():
    layer = nn.Conv2d(4, 8, 3, rng=0)
    bound = 1 / np.sqrt(4 * 3 * 3)
    for p in (layer.weight, layer.bias):
        assert p.requires_grad and np.abs(p.data).max() <= bound and np.abs(p.data).max() > 0.8 * bound
    np.testing.assert_array_equal(nn.Conv2d(4, 8, 3, rng=0).weight.data, layer.weight.data)  # seeded
    assert [name for name, _ in layer.named_parameters()] == ["weight", "bias"]
    assert "kernel_size=(3, 3)" in repr(layer)


@pytest.mark.parametrize(
    "make, x_shape, error, words",
    [
        (lambda: nn.Conv2d(3, 2, 3), (1, 2, 5, 5), ValueError, "(N, 3, H, W) or (3, H, W), got shape (1, 2, 5, 5)"),
        (lambda: nn.Conv2d(1, 2, 3), (1, 5), ValueError, "got shape (1, 5)"),
        (lambda: nn.Conv2d(1, 1, 4, dilation=2), (1, 1, 5, 5), ValueError, "spans (7, 7)) does not fit in the input of shape (1, 1, 5, 5)"),
        (lambda: nn.Conv2d(1, 1, 0), None, ValueError, "kernel_size must be an integer ≥ 1"),
        (lambda: nn.Conv2d(1, 1, 2, padding=-1), None, ValueError, "padding must be an integer ≥ 0"),
        (lambda: nn.Conv2d(0, 1, 2), None, ValueError, "positive integer in_channels"),
        (lambda: nn.MaxPool2d(2, padding=2), None, None, None),
        (lambda: nn.MaxPool2d(3, padding=2), (1, 1, 6, 6), ValueError, "at most half the kernel size"),
    ],
    ids=["channels", "rank", "too-small", "kernel", "padding", "in-channels", "pool-ok-until-called", "pool-padding"],
)
def test_image_layer_errors_name_the_shapes(make, x_shape, error, words):
    if x_shape is None and error is None:
        make()  # constructing is fine; the padding is checked against the kernel when called
        return
    with pytest.raises(error) as info:
        make()(np.zeros(x_shape))
    assert words in str(info.value)


# --------------------------------------------------------------------------- pooling, flatten
POOL_CASES = [
    ({"kernel_size": 2}, (2, 3, 6, 6)),
    ({"kernel_size": 3, "stride": 2, "padding": 1}, (1, 2, 7, 5)),
    ({"kernel_size": (2, 3), "stride": 1}, (2, 1, 4, 5)),
    ({"kernel_size": 2, "stride": (1, 2)}, (3, 5, 4)),  # one (C, H, W) image
]


@pytest.mark.parametrize("kind", ["MaxPool2d", "AvgPool2d"])
@pytest.mark.parametrize("options, shape", POOL_CASES, ids=["2x2", "padded", "rectangular", "unbatched"])
def test_pooling_matches_torch(kind, options, shape):
    torch = _torch()
    rng = np.random.default_rng(5)
    _against_torch(getattr(nn, kind)(**options), getattr(torch.nn, kind)(**options), rng.normal(size=shape), rng)


def test_pooling_values_by_hand():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(nn.MaxPool2d(2)(x).data, [[[[5.0, 7.0], [13.0, 15.0]]]])
    np.testing.assert_array_equal(nn.AvgPool2d(2)(x).data, [[[[2.5, 4.5], [10.5, 12.5]]]])
    # max padding is -inf (never chosen); average padding counts as zeros (count_include_pad)
    np.testing.assert_array_equal(nn.MaxPool2d(2, stride=2, padding=1)(-x - 1).data[0, 0, 0], [-1.0, -2.0, -4.0])
    np.testing.assert_array_equal(nn.AvgPool2d(2, stride=2, padding=1)(x + 4).data[0, 0, 0], [1.0, 2.75, 1.75])
    t = tg.Tensor(x, requires_grad=True)
    nn.max_pool2d(t, 2).sum().backward()
    np.testing.assert_array_equal(t.grad.data[0, 0], [[0, 0, 0, 0], [0, 1, 0, 1], [0, 0, 0, 0], [0, 1, 0, 1]])


def test_flatten_matches_torch():
    torch = _torch()
    x = np.arange(24.0).reshape(2, 3, 4)
    for args in [(), (0,), (1, -1), (0, 1)]:
        assert nn.Flatten(*args)(x).shape == tuple(torch.nn.Flatten(*args)(torch.tensor(x)).shape)
    np.testing.assert_array_equal(nn.Flatten()(x).data, x.reshape(2, 12))


# --------------------------------------------------------------------------- dropout
def test_dropout_drops_and_rescales_in_training_and_is_the_identity_in_eval():
    x = tg.Tensor(np.ones((200, 50)), requires_grad=True)
    layer = nn.Dropout(0.3, rng=0)
    assert layer.training
    out = layer(x)
    kept = out.data != 0
    assert 0.65 < kept.mean() < 0.75 and np.allclose(out.data[kept], 1 / 0.7)
    out.sum().backward()
    np.testing.assert_allclose(x.grad.data, kept / 0.7)  # the gradient flows through the kept ones
    model = nn.Sequential(nn.Linear(50, 50, rng=0), layer)
    assert model.eval() is model and not layer.training  # eval() reaches the children
    assert layer(x) is x
    model.train()
    assert layer.training and (layer(x).data == 0).any()


def test_dropout_is_seedable_and_handles_p_0_and_1():
    x = np.ones((4, 5))
    first, again = nn.Dropout(0.5, rng=7)(x), nn.Dropout(0.5, rng=7)(x)
    np.testing.assert_array_equal(first.data, again.data)
    assert not np.array_equal(first.data, nn.Dropout(0.5, rng=8)(x).data)
    np.testing.assert_array_equal(nn.Dropout(0.0)(x).data, x)
    np.testing.assert_array_equal(nn.Dropout(1.0)(x).data, np.zeros_like(x))
    for bad in (-0.1, 1.5):
        with pytest.raises(ValueError, match="Dropout: p"):
            nn.Dropout(bad)


# --------------------------------------------------------------------------- normalization
@pytest.mark.parametrize("shape, normalized, affine", [((4, 5), 5, True), ((2, 3, 4), (3, 4), True), ((3, 4), (4,), False)])
def test_layer_norm_matches_torch(shape, normalized, affine):
    torch = _torch()
    rng = np.random.default_rng(6)
    ours = nn.LayerNorm(normalized, elementwise_affine=affine)
    for p in ours.parameters():  # off their initial ones/zeros, so that a mix-up shows
        p.data[...] = rng.normal(size=p.shape)
    theirs = torch.nn.LayerNorm(normalized, elementwise_affine=affine).double()
    _against_torch(ours, theirs, rng.normal(size=shape), rng)


def test_layer_norm_shape_error():
    with pytest.raises(ValueError, match=r"last 2 axes, which must have shape \(3, 4\), got an input of shape \(3, 5\)"):
        nn.LayerNorm((3, 4))(np.zeros((3, 5)))


def _numpy_batch_norm_run(batches, momentum):
    """Running statistics as PyTorch documents them: r ← (1-m)·r + m·stat, unbiased variance."""
    mean, var = np.zeros(batches[0].shape[1]), np.ones(batches[0].shape[1])
    for i, b in enumerate(batches, 1):
        axes = (0,) if b.ndim == 2 else (0, 2)
        factor = 1 / i if momentum is None else momentum
        n = b.size // b.shape[1]
        mean = (1 - factor) * mean + factor * b.mean(axis=axes)
        var = (1 - factor) * var + factor * b.var(axis=axes) * n / (n - 1)
    return mean, var


@pytest.mark.parametrize("shape, momentum", [((8, 3), 0.1), ((4, 3, 5), 0.3), ((6, 3), None)])
def test_batch_norm_running_statistics_in_training_and_their_use_in_eval(shape, momentum):
    rng = np.random.default_rng(7)
    layer = nn.BatchNorm1d(3, momentum=momentum)
    batches = [rng.normal(2.0, 3.0, size=shape) for _ in range(3)]
    for b in batches:
        out = layer(b)
        axes = (0,) if b.ndim == 2 else (0, 2)
        np.testing.assert_allclose(out.data.mean(axis=axes), 0.0, atol=1e-12)  # batch statistics in training
    mean, var = _numpy_batch_norm_run(batches, momentum)
    np.testing.assert_allclose(layer.running_mean.data, mean, rtol=1e-12)
    np.testing.assert_allclose(layer.running_var.data, var, rtol=1e-12)
    assert int(layer.num_batches_tracked.data) == 3
    assert {name for name, _ in layer.named_buffers()} == {"running_mean", "running_var", "num_batches_tracked"}
    assert set(layer.state_dict()) == {"weight", "bias", "running_mean", "running_var", "num_batches_tracked"}
    layer.eval()
    probe = rng.normal(size=shape)
    per_channel = (1, 3) + (1,) * (len(shape) - 2)
    expected = (probe - mean.reshape(per_channel)) / np.sqrt(var.reshape(per_channel) + 1e-5)
    np.testing.assert_allclose(layer(probe).data, expected, rtol=1e-12)
    np.testing.assert_array_equal(layer.running_mean.data, mean)  # eval does not update them


@pytest.mark.parametrize("shape", [(6, 3), (4, 3, 5)])
def test_batch_norm_matches_torch_in_training_and_eval(shape):
    torch = _torch()
    rng = np.random.default_rng(8)
    ours, theirs = nn.BatchNorm1d(3, momentum=0.2), torch.nn.BatchNorm1d(3, momentum=0.2).double()
    for p in ours.parameters():
        p.data[...] = rng.normal(size=p.shape)
    for _ in range(2):
        _against_torch(ours, theirs, rng.normal(size=shape), rng)
        ours.zero_grad()
        theirs.zero_grad()
    for name, buffer in theirs.named_buffers():
        np.testing.assert_allclose(dict(ours.named_buffers())[name].data, buffer.numpy(), rtol=1e-12)
    ours.eval()
    theirs.eval()
    _against_torch(ours, theirs, rng.normal(size=shape), rng)


def test_batch_norm_errors():
    with pytest.raises(ValueError, match=r"more than 1 value per channel.*model.eval\(\)"):
        nn.BatchNorm1d(3)(np.zeros((1, 3)))
    with pytest.raises(ValueError, match=r"\(N, 3\) or \(N, 3, L\), got shape \(4, 2\)"):
        nn.BatchNorm1d(3)(np.zeros((4, 2)))
    assert nn.BatchNorm1d(3).eval()(np.zeros((1, 3))).shape == (1, 3)  # one sample is fine in eval


# --------------------------------------------------------------------------- embedding, similarity
def test_embedding_matches_torch_and_accumulates_repeated_ids():
    torch = _torch()
    rng = np.random.default_rng(9)
    ids = np.array([[0, 3, 3], [1, 0, 3]])
    out = _against_torch(nn.Embedding(5, 4, rng=0), torch.nn.Embedding(5, 4).double(), ids, rng, index_input=True)
    assert out.shape == (2, 3, 4)


def test_embedding_lookup_and_errors():
    layer = nn.Embedding(4, 2, rng=0)
    assert layer.weight.shape == (4, 2) and layer.weight.requires_grad
    ids = tg.Tensor([2.0, 2.0, 0.0])  # a Tensor of whole numbers works too
    layer(ids).sum().backward()
    np.testing.assert_array_equal(layer.weight.grad.data, [[1, 1], [0, 0], [2, 2], [0, 0]])
    with pytest.raises(IndexError, match=r"index 4 is out of range; indices must lie in \[0, 3\]"):
        layer(np.array([0, 4]))
    with pytest.raises(TypeError, match="integer indices"):
        layer(np.array([0.5]))


@pytest.mark.parametrize("shapes, axis", [(((4, 5), (4, 5)), 1), (((2, 3, 4), (2, 3, 4)), -1), (((3, 4), (1, 4)), 1)])
def test_cosine_similarity_matches_torch(shapes, axis):
    torch = _torch()
    rng = np.random.default_rng(10)
    a, b = (rng.normal(size=s) for s in shapes)
    ta, tb = tg.Tensor(a, requires_grad=True), tg.Tensor(b, requires_grad=True)
    out = nn.cosine_similarity(ta, tb, axis=axis)
    sa, sb = torch.tensor(a, requires_grad=True), torch.tensor(b, requires_grad=True)
    expected = torch.nn.functional.cosine_similarity(sa, sb, dim=axis)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12)
    np.testing.assert_allclose(ta.grad.data, sa.grad.numpy(), rtol=1e-10, atol=1e-14)
    np.testing.assert_allclose(tb.grad.data, sb.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_cosine_similarity_values_and_the_zero_vector():
    a = np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 0.0]])
    b = np.array([[0.0, 2.0], [-3.0, -3.0], [1.0, 2.0]])
    np.testing.assert_allclose(nn.cosine_similarity(a, b).data, [0.0, -1.0, 0.0], atol=1e-15)
    zero = tg.Tensor(np.zeros((1, 3)), requires_grad=True)
    nn.cosine_similarity(zero, np.ones((1, 3)), dim=1).sum().backward()
    assert np.isfinite(zero.grad.data).all()
    np.testing.assert_allclose(nn.cosine_similarity(np.ones(3), 2 * np.ones(3), axis=0).item(), 1.0)
