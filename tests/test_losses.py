"""Losses: values against numpy formulas (every reduction), gradients against central finite
differences (via the loss table built from the LOSSES registry, random upstream gradient) and
hand-derived formulas, stability at huge logits, the input errors (shape mismatch, BCE domain,
class labels), and the registry itself (register_loss, its metadata, unregister_loss)."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp
from tables import loss_row, registries_restored

import tinygrad_gd as tg
from tinygrad_gd import losses
from tinygrad_gd.losses import LOSSES

try:  # torch is NOT a dependency: when it happens to be installed, compare with it as well
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

REDUCTIONS = ("mean", "sum", "none")


# --------------------------------------------------------------------------- references
def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _ref_bce(p, t):
    return -(t * np.maximum(np.log(p), -100.0) + (1 - t) * np.maximum(np.log(1 - p), -100.0))


def _ref_huber(x, t, delta=1.0):
    d = x - t
    return np.where(np.abs(d) < delta, 0.5 * d**2, delta * (np.abs(d) - 0.5 * delta))


def _ref_cross_entropy(z, labels):
    z = z - z.max(axis=1, keepdims=True)
    log_softmax = z - np.log(np.exp(z).sum(axis=1, keepdims=True))
    return -log_softmax[np.arange(len(labels)), labels]


# Elementwise (per-sample) loss terms written directly from each definition, in plain numpy.
REFERENCE = {
    "mse": lambda x, t: (x - t) ** 2,
    "half_mse": lambda x, t: (x - t) ** 2 / 2,
    "mae": lambda x, t: np.abs(x - t),
    "huber": _ref_huber,
    "binary_cross_entropy": _ref_bce,
    "binary_cross_entropy_with_logits": lambda x, t: -(t * np.log(_sigmoid(x)) + (1 - t) * np.log(1 - _sigmoid(x))),
    "cross_entropy": _ref_cross_entropy,
    "nll_loss": lambda x, labels: -x[np.arange(len(labels)), labels],
    "kl_div": lambda x, t: t * (np.log(t) - x),
}


def _reduce(values, reduction):
    return {"mean": np.mean, "sum": np.sum, "none": lambda v: v}[reduction](values)


REGISTRY_API = {"register_loss", "unregister_loss", "loss_names"}


def test_every_public_loss_is_registered_and_has_a_reference():
    public = {
        name
        for name in losses.__all__
        if callable(getattr(losses, name)) and not isinstance(getattr(losses, name), type) and name.islower()
    } - REGISTRY_API
    assert public == set(LOSSES)
    assert set(REFERENCE) == set(LOSSES)
    for name, spec in LOSSES.items():
        assert spec.fn is getattr(losses, name)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_value_matches_numpy_formula(name, reduction):
    spec = loss_row(name)
    x, t = spec.sample(np.random.default_rng(1))
    out = spec.fn(tg.Tensor(x), t, reduction=reduction, **spec.options)
    expected = _reduce(REFERENCE[name](x, t, **spec.options), reduction)
    assert out.shape == np.shape(expected)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-12)


# torch.nn.functional equivalents (a loss without one is simply not compared with torch)
TORCH_EQUIVALENTS = {
    "mse": lambda F, x, t, r, o: F.mse_loss(x, t, reduction=r),
    "half_mse": lambda F, x, t, r, o: F.mse_loss(x, t, reduction=r) / 2,
    "mae": lambda F, x, t, r, o: F.l1_loss(x, t, reduction=r),
    "huber": lambda F, x, t, r, o: F.huber_loss(x, t, reduction=r, **o),
    "binary_cross_entropy": lambda F, x, t, r, o: F.binary_cross_entropy(x, t, reduction=r),
    "binary_cross_entropy_with_logits": lambda F, x, t, r, o: F.binary_cross_entropy_with_logits(x, t, reduction=r),
    "cross_entropy": lambda F, x, t, r, o: F.cross_entropy(x, t, reduction=r),
    "nll_loss": lambda F, x, t, r, o: F.nll_loss(x, t, reduction=r),
    "kl_div": lambda F, x, t, r, o: F.kl_div(x, t, reduction=r),
}


@pytest.mark.filterwarnings("ignore:reduction. .mean. divides:UserWarning")  # torch's note on kl_div's "mean"
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_value_and_gradients_match_torch_when_available(name, reduction):
    spec = loss_row(name)
    rng = np.random.default_rng(9)
    x, t = spec.sample(rng)
    xt = tg.Tensor(x, requires_grad=True)
    tt = tg.Tensor(t, requires_grad=True) if spec.target_differentiable else t
    out = spec.fn(xt, tt, reduction=reduction, **spec.options)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    if torch is None or name not in TORCH_EQUIVALENTS:
        return
    xs = torch.tensor(x, requires_grad=True)
    ts = torch.tensor(t, requires_grad=spec.target_differentiable)
    expected = TORCH_EQUIVALENTS[name](torch.nn.functional, xs, ts, reduction, spec.options)
    expected.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, expected.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(xt.grad.data, xs.grad.numpy(), rtol=1e-10, atol=1e-14)
    if spec.target_differentiable:
        np.testing.assert_allclose(tt.grad.data, ts.grad.numpy(), rtol=1e-10, atol=1e-14)


# --------------------------------------------------------------------------- gradients
def _central_difference_check(fn, arrays, wrt, rng, eps=1e-6, rtol=1e-6, atol=1e-8):
    """Compare backward() with central differences of Σ v·fn for a random upstream v
    (a random number for a scalar output too: a rule off by a constant factor cannot hide)."""
    tensors = [tg.Tensor(a.copy(), requires_grad=True) if i in wrt else a for i, a in enumerate(arrays)]
    out = fn(*tensors)
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    for i in wrt:
        numeric = np.zeros_like(arrays[i])
        for index in np.ndindex(arrays[i].shape):
            shifted = [a.copy() for a in arrays]
            shifted[i][index] += eps
            up = np.sum(upstream * fn(*shifted).data)
            shifted[i][index] -= 2 * eps
            down = np.sum(upstream * fn(*shifted).data)
            numeric[index] = (up - down) / (2 * eps)
        np.testing.assert_allclose(tensors[i].grad.data, numeric, rtol=rtol, atol=atol)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradcheck_every_registered_loss(name, reduction):
    spec = loss_row(name)
    rng = np.random.default_rng(7)
    x, t = spec.sample(rng)
    wrt = (0, 1) if spec.target_differentiable else (0,)

    def fn(a, b):
        return spec.fn(a, b, reduction=reduction, **spec.options)

    _central_difference_check(fn, [x, t], wrt, rng)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_registry_entries_pass_the_package_gradcheck(name):
    spec = loss_row(name)
    x, t = spec.sample(np.random.default_rng(3))
    xt = tg.Tensor(x, requires_grad=True)
    tt = tg.Tensor(t, requires_grad=True) if spec.target_differentiable else t
    assert tg.gradcheck(lambda a, b: spec.fn(a, b, reduction="none", **spec.options), [xt, tt])


def _grads(fn, x, t, reduction="mean"):
    xt = tg.Tensor(x, requires_grad=True)
    fn(xt, t, reduction=reduction).backward()
    return xt.grad.data


def test_hand_derived_gradients():
    rng = np.random.default_rng(11)
    x, t = rng.normal(size=(6, 2)), rng.normal(size=(6, 2))
    n = x.size
    np.testing.assert_allclose(_grads(losses.mse, x, t), 2 * (x - t) / n, rtol=1e-12)  # factor 2 (seeds 000/001)
    np.testing.assert_allclose(_grads(losses.half_mse, x, t), (x - t) / n, rtol=1e-12)  # no factor (seed 002)
    np.testing.assert_allclose(_grads(losses.mse, x, t, "sum"), 2 * (x - t), rtol=1e-12)
    np.testing.assert_allclose(_grads(losses.mae, x, t), np.sign(x - t) / n, rtol=1e-12)
    clipped = np.clip(x - t, -0.5, 0.5)
    np.testing.assert_allclose(
        _grads(lambda a, b, reduction: losses.huber(a, b, delta=0.5, reduction=reduction), x, t), clipped / n, rtol=1e-12
    )
    labels = (rng.random(size=(6, 2)) < 0.5).astype(float)
    np.testing.assert_allclose(
        _grads(losses.binary_cross_entropy_with_logits, x, labels), (_sigmoid(x) - labels) / n, rtol=1e-10, atol=1e-15
    )
    p = _sigmoid(x)
    np.testing.assert_allclose(
        _grads(losses.binary_cross_entropy, p, labels), (p - labels) / (p * (1 - p)) / n, rtol=1e-10
    )
    logits, ids = rng.normal(size=(5, 3)), np.array([0, 2, 1, 1, 0])
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(
        _grads(losses.cross_entropy, logits, ids), (softmax - np.eye(3)[ids]) / 5, rtol=1e-10, atol=1e-15
    )


def test_target_tensor_gets_gradient_and_target_types_agree():
    rng = np.random.default_rng(5)
    x, t = rng.normal(size=4), rng.normal(size=4)
    target = tg.Tensor(t, requires_grad=True)
    losses.mse(tg.Tensor(x), target).backward()
    np.testing.assert_allclose(target.grad.data, -2 * (x - t) / 4, rtol=1e-12)
    values = [losses.mse(tg.Tensor(x), form).item() for form in (t, t.tolist(), tg.Tensor(t))]
    assert values[0] == values[1] == values[2]
    # the prediction may also be a plain array or list (no gradient then, but the same value)
    assert losses.mse(x.tolist(), t).item() == values[0]


def test_second_order_through_fused_losses():
    x = tg.Tensor([-3.0, -0.5, 0.2, 2.5], requires_grad=True)
    t = np.array([1.0, 0.0, 0.3, 1.0])
    out = losses.binary_cross_entropy_with_logits(x, t, reduction="sum")
    out.backward(create_graph=True)
    g = x.grad
    x.grad = None
    g.sum().backward()
    s = _sigmoid(x.data)
    np.testing.assert_allclose(x.grad.data, s * (1 - s), rtol=1e-10)

    p = tg.Tensor([0.2, 0.5, 0.7], requires_grad=True)
    q = np.array([1.0, 0.0, 0.4])
    losses.binary_cross_entropy(p, q, reduction="sum").backward(create_graph=True)
    g = p.grad
    p.grad = None
    g.sum().backward()
    pv = p.data  # d/dp (p - t)/(p(1-p)) = [p(1-p) - (p - t)(1 - 2p)] / (p(1-p))²
    expected = (pv * (1 - pv) - (pv - q) * (1 - 2 * pv)) / (pv * (1 - pv)) ** 2
    np.testing.assert_allclose(p.grad.data, expected, rtol=1e-8)


# --------------------------------------------------------------------------- stability
def test_logit_losses_are_stable_at_huge_logits():
    x = tg.Tensor([-1e3, -1e3, 1e3, 1e3, 0.0], requires_grad=True)
    t = np.array([0.0, 1.0, 0.0, 1.0, 0.5])
    out = losses.binary_cross_entropy_with_logits(x, t, reduction="none")
    np.testing.assert_allclose(out.data, [0.0, 1e3, 1e3, 0.0, np.log(2)], rtol=1e-12, atol=1e-300)
    out.sum().backward()
    assert np.all(np.isfinite(x.grad.data))
    np.testing.assert_allclose(x.grad.data, [0.0, -1.0, 1.0, 0.0, 0.0], atol=1e-15)
    # accurate, not just finite, where the loss is tiny: log(1 + e^-30) ≈ 9.36e-14
    tiny = losses.binary_cross_entropy_with_logits(tg.Tensor([30.0, -30.0]), [1.0, 0.0], reduction="none")
    np.testing.assert_allclose(tiny.data, np.log1p(np.exp(-30.0)), rtol=1e-13)

    logits = tg.Tensor([[1e3, -1e3, 0.0], [-1e3, 1e3, 999.0]], requires_grad=True)
    loss = losses.cross_entropy(logits, np.array([1, 2]), reduction="none")
    np.testing.assert_allclose(loss.data, [2e3, 1 + np.log1p(np.exp(-1.0))], rtol=1e-12)
    loss.sum().backward()
    assert np.all(np.isfinite(logits.grad.data))
    softmax_row2 = np.array([0.0, 1.0, np.exp(-1.0)]) / (1 + np.exp(-1.0))
    np.testing.assert_allclose(logits.grad.data, [[1.0, -1.0, 0.0], softmax_row2 - [0, 0, 1]], atol=1e-12)


def test_bce_clamps_logs_at_minus_100_like_pytorch():
    p = tg.Tensor([0.0, 1.0, 0.0, 1.0], requires_grad=True)
    t = np.array([1.0, 0.0, 0.0, 1.0])
    out = losses.binary_cross_entropy(p, t, reduction="none")
    np.testing.assert_array_equal(out.data, [100.0, 100.0, 0.0, 0.0])
    out.sum().backward()
    # (p - t) / max(p(1-p), 1e-12): finite, huge where the prediction is confidently wrong
    np.testing.assert_allclose(p.grad.data, [-1e12, 1e12, 0.0, 0.0])
    target = tg.Tensor([0.5], requires_grad=True)
    losses.binary_cross_entropy(tg.Tensor([0.0]), target).backward()
    np.testing.assert_allclose(target.grad.data, [0.0 - (-100.0)])  # log(1-p) - log(p), clamped


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_float32_in_float32_out(name):
    spec = loss_row(name)
    x, t = spec.sample(np.random.default_rng(2))
    xt = tg.Tensor(x.astype(np.float32), requires_grad=True)
    target = t if name == "cross_entropy" else t.astype(np.float64)  # a float64 target is cast down
    out = spec.fn(xt, target, **spec.options)
    out.backward()
    assert out.dtype == np.float32 and xt.grad.dtype == np.float32


@given(hnp.arrays(np.float64, st.integers(1, 6), elements=st.floats(-1e3, 1e3)), st.data())
def test_half_mse_is_exactly_half_of_mse(x, data):
    t = data.draw(hnp.arrays(np.float64, x.shape, elements=st.floats(-1e3, 1e3)))
    for reduction in REDUCTIONS:
        np.testing.assert_allclose(
            losses.half_mse(x, t, reduction=reduction).data * 2, losses.mse(x, t, reduction=reduction).data,
            rtol=1e-15, atol=1e-300,  # halving a subnormal square may round it to 0
        )


# --------------------------------------------------------------------------- input errors
@pytest.mark.parametrize("name", sorted(name for name, spec in LOSSES.items() if spec.input_kind != "class"))
def test_no_broadcasting_between_prediction_and_target(name):
    spec = loss_row(name)
    x, t = spec.sample(np.random.default_rng(4))
    column, flat = tg.Tensor(x[:, :1]), t[:, 0]
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\).*[Rr]eshape"):
        spec.fn(column, flat, **spec.options)
    with pytest.raises(ValueError, match=r"\(4,\).*\(4, 1\)"):
        spec.fn(tg.Tensor(x[:, 0]), t[:, :1], **spec.options)
    with pytest.raises(ValueError, match=r"\(4, 3\).*\(3,\)"):
        spec.fn(tg.Tensor(x), t[0], **spec.options)  # row-broadcasting is refused too


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_unknown_reduction_raises(name):
    spec = loss_row(name)
    x, t = spec.sample(np.random.default_rng(4))
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        spec.fn(tg.Tensor(x), t, reduction="average", **spec.options)


@pytest.mark.parametrize("bad", [1.2, -0.1, np.nan])
def test_bce_rejects_values_outside_0_1(bad):
    with pytest.raises(ValueError, match=r"\[0, 1\].*with_logits"):
        losses.binary_cross_entropy(tg.Tensor([0.5, bad]), [1.0, 0.0])


def test_huber_delta_validation_and_other_delta():
    x, t = np.array([0.1, -0.4, 2.0, -3.0]), np.zeros(4)
    np.testing.assert_allclose(losses.huber(x, t, delta=0.3, reduction="none").data, _ref_huber(x, t, 0.3))
    near = np.array([0.95, -0.95, 1.05, -1.05, 1.0]) * 0.3  # just inside, just outside, at the switch
    np.testing.assert_allclose(
        losses.huber(near, np.zeros(5), delta=0.3, reduction="none").data,
        [0.5 * 0.285**2, 0.5 * 0.285**2, 0.3 * (0.315 - 0.15), 0.3 * (0.315 - 0.15), 0.5 * 0.3**2],
        rtol=1e-12,
    )
    for bad in (0.0, -1.0, np.inf):
        with pytest.raises(ValueError, match="delta"):
            losses.huber(x, t, delta=bad)


def test_cross_entropy_label_forms():
    logits = np.random.default_rng(8).normal(size=(3, 4))
    ids = np.array([3, 0, 2])
    expected = _ref_cross_entropy(logits, ids).mean()
    for labels in (ids, ids.tolist(), tg.Tensor(ids.astype(float)), ids.astype(np.int32), ids.astype(float)):
        assert losses.cross_entropy(tg.Tensor(logits), labels).item() == pytest.approx(expected, rel=1e-12)
    one = losses.cross_entropy(tg.Tensor(logits[1]), 0)  # a single sample: (C,) logits, scalar label
    assert one.shape == () and one.item() == pytest.approx(_ref_cross_entropy(logits[1:2], [0])[0], rel=1e-12)


@pytest.mark.parametrize(
    "labels, match",
    [
        (np.array([0, 1, 4]), r"label 4 at index 2 is out of range.*4 classes.*\[0, 3\]"),
        (np.array([0, -1, 1]), r"label -1 at index 1 is out of range"),
        (np.array([[0], [1], [2]]), r"shape \(3,\).*got labels of shape \(3, 1\).*reshape\(-1\)"),
        (np.array([0, 1]), r"shape \(3,\).*got labels of shape \(2,\)"),
        (np.eye(4)[[0, 1, 2]], r"shape \(3, 4\).*argmax"),
        (tg.Tensor([0.0, 1.5, 2.0]), r"whole numbers.*1.5 at index 1"),
        (np.array([0.0, np.nan, 1.0]), r"whole numbers.*nan at index 1"),
    ],
)
def test_cross_entropy_label_errors(labels, match):
    with pytest.raises(ValueError, match=match):
        losses.cross_entropy(tg.Tensor(np.zeros((3, 4))), labels)


def test_cross_entropy_label_and_logit_type_errors():
    with pytest.raises(TypeError, match="integer class ids"):
        losses.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.array(["a", "b"]))
    with pytest.raises(TypeError, match="integer class ids"):
        losses.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.array([True, False]))
    with pytest.raises(ValueError, match=r"\(n, C\).*\(2, 3, 4\)"):
        losses.cross_entropy(tg.Tensor(np.zeros((2, 3, 4))), [0, 1])


# --------------------------------------------------------------------------- PyTorch's options
def _ref_class_loss(z, labels, reduction, weight=None, ignore_index=-100, label_smoothing=0.0, log_softmax=True):
    """cross_entropy / nll_loss with weight, ignore_index and label smoothing, from PyTorch's docs."""
    logp = z - z.max(axis=1, keepdims=True) if log_softmax else z
    logp = logp - np.log(np.exp(logp).sum(axis=1, keepdims=True)) if log_softmax else logp
    w = np.ones(z.shape[1]) if weight is None else weight
    valid = labels != ignore_index
    y = np.where(valid, labels, 0)
    nll = -w[y] * logp[np.arange(len(y)), y] * valid
    smooth = -(logp * w).sum(axis=1) * valid
    if reduction == "mean":
        nll, smooth = nll.sum() / (w[y] * valid).sum(), smooth.sum() / (w[y] * valid).sum()
    elif reduction == "sum":
        nll, smooth = nll.sum(), smooth.sum()
    return (1 - label_smoothing) * nll + label_smoothing / z.shape[1] * smooth


CLASS_WEIGHT = np.array([0.5, 2.0, 1.0, 3.0])
CLASS_OPTIONS = [
    {"weight": CLASS_WEIGHT},
    {"ignore_index": 2},
    {"label_smoothing": 0.2},
    {"weight": CLASS_WEIGHT, "ignore_index": 0, "label_smoothing": 0.3},
]


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("options", CLASS_OPTIONS, ids=["weight", "ignore_index", "label_smoothing", "all"])
@pytest.mark.parametrize("name", ["cross_entropy", "nll_loss"])
def test_class_loss_options_match_numpy_and_torch(name, options, reduction):
    if name == "nll_loss" and "label_smoothing" in options:
        options = {k: v for k, v in options.items() if k != "label_smoothing"}  # cross_entropy's only
    rng = np.random.default_rng(12)
    z, labels = rng.normal(size=(6, 4)), np.array([0, 2, 3, 1, 2, options.get("ignore_index", -100)])  # (-100 by default)
    x = tg.Tensor(z, requires_grad=True)
    out = getattr(losses, name)(x, labels, reduction=reduction, **options)
    expected = _ref_class_loss(z, labels, reduction, log_softmax=name == "cross_entropy", **options)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12, atol=1e-14)
    _central_difference_check(lambda a, b: getattr(losses, name)(a, b, reduction=reduction, **options), [z, labels], (0,), rng)
    if torch is None:
        return
    upstream = rng.normal(size=out.shape)
    out.backward(upstream)
    zs = torch.tensor(z, requires_grad=True)
    torch_options = {k: torch.tensor(v) if k == "weight" else v for k, v in options.items()}
    theirs = getattr(torch.nn.functional, name)(zs, torch.tensor(labels), reduction=reduction, **torch_options)
    theirs.backward(torch.tensor(upstream))
    np.testing.assert_allclose(out.data, theirs.detach().numpy(), rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(x.grad.data, zs.grad.numpy(), rtol=1e-10, atol=1e-14)


def test_class_loss_option_errors_and_defaults():
    z = tg.Tensor(np.zeros((2, 3)))
    with pytest.raises(ValueError, match=r"weight must have one entry per class, shape \(3,\), got \(2,\)"):
        losses.nll_loss(z, [0, 1], weight=[1.0, 2.0])
    with pytest.raises(ValueError, match=r"label_smoothing must be a number in \[0, 1\], got 1.5"):
        losses.cross_entropy(z, [0, 1], label_smoothing=1.5)
    with pytest.raises(ValueError, match="label 5 at index 1 is out of range"):
        losses.nll_loss(z, [0, 5])
    # an ignored row gives 0 for reduction="none"; a (C,) input with one label gives a scalar
    np.testing.assert_array_equal(losses.cross_entropy(z, [1, -100], reduction="none").data, [np.log(3.0), 0.0])
    assert losses.nll_loss(tg.Tensor([-1.0, -2.0]), 1, reduction="none").item() == 2.0
    assert losses.cross_entropy(tg.Tensor([0.0, 0.0]), 1, label_smoothing=0.5, reduction="none").shape == ()


@pytest.mark.parametrize("reduction", [*REDUCTIONS, "batchmean"])
@pytest.mark.parametrize("log_target", [False, True])
def test_kl_div_reductions_and_log_target(reduction, log_target):
    rng = np.random.default_rng(13)
    log_p = np.log(rng.dirichlet(np.ones(4), size=3))
    q = rng.dirichlet(np.ones(4), size=3)
    target = np.log(q) if log_target else q
    terms = q * (np.log(q) - log_p)
    expected = {"mean": terms.mean(), "sum": terms.sum(), "none": terms, "batchmean": terms.sum() / 3}[reduction]
    out = losses.kl_div(tg.Tensor(log_p), target, reduction=reduction, log_target=log_target)
    np.testing.assert_allclose(out.data, expected, rtol=1e-12)
    _central_difference_check(lambda a, b: losses.kl_div(a, b, reduction=reduction, log_target=log_target),
                              [log_p, target], (0, 1), rng)
    if torch is not None and reduction != "mean":  # (torch warns about its own "mean")
        theirs = torch.nn.functional.kl_div(torch.tensor(log_p), torch.tensor(target), reduction=reduction,
                                            log_target=log_target)
        np.testing.assert_allclose(out.data, theirs.numpy(), rtol=1e-12)


def test_kl_div_is_zero_where_the_target_is_zero():
    out = losses.kl_div(tg.Tensor([[-1.0, -0.5]]), np.array([[0.0, 1.0]]), reduction="none")
    np.testing.assert_allclose(out.data, [[0.0, 0.5]])  # 0·log 0 = 0, as xlogy
    with pytest.raises(ValueError, match="reduction must be 'mean', 'sum' or 'none'"):
        losses.kl_div(tg.Tensor([0.0]), [1.0], reduction="average")


# --------------------------------------------------------------------------- the registry
def test_every_loss_declares_its_label_task_and_short_name():
    for name, spec in LOSSES.items():
        assert spec.name == name and spec.label and spec.short
        assert spec.task in ("regression", "classification")
        assert spec.input_kind in ("residual", "probability", "logit", "class")
    assert losses.loss_names("regression") == ("mse", "half_mse", "mae", "huber")
    assert set(losses.loss_names("classification")) == {
        "binary_cross_entropy", "binary_cross_entropy_with_logits", "cross_entropy", "nll_loss", "kl_div"
    }
    assert losses.loss_names() == tuple(LOSSES)
    assert LOSSES["huber"].options == {"delta": 1.0} and LOSSES["huber"].kinks == (1.0,)
    assert not LOSSES["cross_entropy"].target_differentiable and LOSSES["mse"].target_differentiable


def test_register_loss_and_unregister_loss():
    def squared_log_error(pred, target, reduction="mean"):
        d = (pred + 1.0).log() - np.log1p(target)
        return {"mean": (d * d).mean, "sum": (d * d).sum, "none": lambda: d * d}[reduction]()

    with registries_restored():
        same = losses.register_loss(label="squared log error", task="regression", short="SLE")(squared_log_error)
        assert same is squared_log_error and LOSSES["squared_log_error"].short == "SLE"
        assert "squared_log_error" in losses.loss_names("regression")
        assert loss_row("squared_log_error").target_differentiable
        losses.register_loss(label="again", task="regression")(squared_log_error)  # same function: replaced
        assert LOSSES["squared_log_error"].short == "again"  # short defaults to the label
        with pytest.raises(ValueError, match="taken by"):
            losses.register_loss(label="other", task="regression", name="squared_log_error")(lambda p, t: p)
        assert losses.unregister_loss("squared_log_error").fn is squared_log_error
        assert "squared_log_error" not in LOSSES
        with pytest.raises(ValueError, match="no loss is registered"):
            losses.unregister_loss("squared_log_error")
    assert set(REFERENCE) == set(LOSSES)


@pytest.mark.parametrize(
    "options, match",
    [
        ({"label": "x", "task": "ranking"}, "task must be one of"),
        ({"label": "x", "task": "regression", "input_kind": "image"}, "input_kind must be one of"),
        ({"label": "", "task": "regression"}, "label must be a non-empty string"),
    ],
)
def test_register_loss_rejects_bad_metadata(options, match):
    with pytest.raises(ValueError, match=match):
        losses.register_loss(**options)
