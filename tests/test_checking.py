"""Gradient checking (tinygrad_gd.checking): numerical_grad, gradcheck over every op and loss
in the registries, and compare_gradients catching the seeds' real mistakes in words."""

import re
import warnings

import numpy as np
import pytest
from op_table import OP_TABLE, sample_inputs
from tables import loss_row

import tinygrad_gd as tg
from tinygrad_gd import analytic, losses
from tinygrad_gd.checking import GradientReport


# --------------------------------------------------------------------------- deliberately wrong ops
# Not registered (no @register_op): they must not enter ops.OPS.
class WrongSin(tg.Function):
    """f(x) = sin(x) with the derivative of cos instead (a wrong sign and function)."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, g):
        (x,) = self.saved
        return -g * np.sin(x)


class ReversedIdentity(tg.Function):
    """f(x) = x, but the gradient comes back reversed: right for an all-ones upstream only."""

    def forward(self, x):
        return x.copy()

    def backward(self, g):
        return g[::-1]


class WrongSecondInput(tg.Function):
    """f(a, b) = a + b with a gradient of 2 for b."""

    def forward(self, a, b):
        return a + b

    def backward(self, g):
        return g, 2 * g


def leaf(values, dtype=np.float64):
    return tg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# --------------------------------------------------------------------------- numerical_grad
def test_numerical_grad_matches_derivatives_for_each_input():
    x = np.array([0.3, -1.2, 2.0])
    y = tg.Tensor([[1.5], [-0.5]])
    gx, gy = tg.numerical_grad(lambda x, y: (x.sin() * y).sum(), [x, y])
    np.testing.assert_allclose(gx, np.cos(x) * 1.0, rtol=1e-8)
    np.testing.assert_allclose(gy, np.full((2, 1), np.sin(x).sum()), rtol=1e-8)
    assert gx.dtype == np.float64 and gy.shape == (2, 1)


def test_numerical_grad_contracts_non_scalar_outputs():
    x = np.array([0.5, 1.0, 2.0])
    [g] = tg.numerical_grad(lambda x: x**2, [x])  # default: gradient of the sum
    np.testing.assert_allclose(g, 2 * x, rtol=1e-8)
    v = np.array([1.0, -2.0, 0.5])
    [g] = tg.numerical_grad(lambda x: x**2, x, grad_output=v)  # a single input is fine too
    np.testing.assert_allclose(g, 2 * x * v, rtol=1e-8)
    with pytest.raises(ValueError, match=r"grad_output has shape \(2,\)"):
        tg.numerical_grad(lambda x: x**2, [x], grad_output=np.ones(2))


def test_numerical_grad_passes_integer_inputs_through():
    labels = np.array([2, 0])
    logits = np.random.default_rng(0).normal(size=(2, 3))
    g, none = tg.numerical_grad(lambda z, t: losses.cross_entropy(z, t), [logits, labels])
    assert none is None
    softmax = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(g, (softmax - np.eye(3)[labels]) / 2, rtol=1e-7, atol=1e-10)


def test_numerical_grad_works_in_float64_even_for_float32_inputs():
    x = np.array([1.1, 2.3], dtype=np.float32)
    [g] = tg.numerical_grad(lambda x: (x**3).sum(), [x])
    assert g.dtype == np.float64
    # float32 evaluations with eps = 1e-6 would be off by ~10%; float64 ones are within 1e-8.
    np.testing.assert_allclose(g, 3 * x.astype(np.float64) ** 2, rtol=1e-8)
    with pytest.raises(ValueError, match="eps"):
        tg.numerical_grad(lambda x: x.sum(), [x], eps=0.0)


# --------------------------------------------------------------------------- gradcheck
def test_gradcheck_passes_a_correct_function():
    x = leaf([0.3, -1.2, 2.0])
    w = leaf([[0.5, 1.0, -1.0]])
    assert tg.gradcheck(lambda x, w: (w * x.tanh()).sum(axis=1), [x, w]) is True


def test_gradcheck_error_names_input_index_and_values():
    x = leaf([0.3, 1.2])
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradcheck(lambda a, x: a * WrongSin.apply(x), [2.0, x])
    err = info.value
    assert isinstance(err, AssertionError)
    assert err.input_index == 1
    assert err.index in {(0,), (1,)}
    upstream = np.random.default_rng(0).standard_normal(2)  # gradcheck's default upstream
    k = err.index[0]
    assert err.analytic == pytest.approx(-2 * np.sin(1.2 if k else 0.3) * upstream[k], rel=1e-12)
    assert err.numeric == pytest.approx(2 * np.cos(1.2 if k else 0.3) * upstream[k], rel=1e-6)
    message = str(err)
    assert "input 1" in message and f"index {err.index}" in message
    assert repr(err.analytic) in message and repr(err.numeric) in message


def test_gradcheck_uses_a_random_upstream_gradient():
    x = leaf([0.5, -1.0, 2.0])
    # An all-ones upstream gradient cannot see the reversal (ones reversed are ones)...
    ones = tg.Tensor(x.data, requires_grad=True)
    ReversedIdentity.apply(ones).backward(gradient=np.ones(3))
    np.testing.assert_array_equal(ones.grad.numpy(), np.ones(3))
    # ...gradcheck's random one does.
    with pytest.raises(tg.GradcheckError, match="random upstream gradient"):
        tg.gradcheck(lambda x: ReversedIdentity.apply(x), [x])
    assert tg.gradcheck(lambda x: ReversedIdentity.apply(x), [x], raise_exception=False) is False


def test_gradcheck_checks_only_inputs_that_require_grad():
    a, b = leaf([1.0, 2.0]), tg.Tensor([0.5, 0.5])
    assert tg.gradcheck(lambda a, b: WrongSecondInput.apply(a, b), [a, b])  # b is a constant
    b.requires_grad_()
    with pytest.raises(tg.GradcheckError, match="input 1"):
        tg.gradcheck(lambda a, b: WrongSecondInput.apply(a, b), [a, b])
    with pytest.raises(ValueError, match="requires_grad=True"):
        tg.gradcheck(lambda a: a * 2, [tg.Tensor([1.0])])


def test_gradcheck_warns_on_float32_and_checks_in_float64():
    x = leaf([0.3, 1.7, -0.4], dtype=np.float32)
    with pytest.warns(UserWarning, match="float32"):
        assert tg.gradcheck(lambda x: (x**3).sum(), [x])
    assert x.grad is None and x.dtype == np.float32  # the caller's tensor is untouched
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.gradcheck(lambda x: (x**3).sum(), [leaf([0.3, 1.7])])


def test_gradcheck_rejects_non_finite_outputs():
    with pytest.raises(ValueError, match="NaN/inf"), np.errstate(invalid="ignore"):
        tg.gradcheck(lambda x: x.log(), [leaf([-1.0, 2.0])])


def test_gradcheck_tolerances_are_used():
    # d/dx of x³ at 1 is 3; a step of 1e-2 has truncation error eps² = 1e-4.
    x = leaf([1.0])
    with pytest.raises(tg.GradcheckError):
        tg.gradcheck(lambda x: x**3, [x], eps=1e-2, atol=1e-6, rtol=1e-6)
    assert tg.gradcheck(lambda x: x**3, [x], eps=1e-2, atol=2e-4, rtol=0)


@pytest.mark.parametrize("row", OP_TABLE, ids=lambda row: row.name)
def test_every_op_in_the_table_passes_gradcheck(row):
    rng = np.random.default_rng(7)
    for shapes in row.shapes:
        inputs = [leaf(a) for a in sample_inputs(row, shapes, rng)]
        assert tg.gradcheck(row.fn, inputs, eps=row.fd_eps, atol=row.atol, rtol=row.rtol)


def test_the_op_table_covers_every_registered_op():
    assert set(tg.ops.OPS) <= {row.op for row in OP_TABLE}


@pytest.mark.parametrize("name", sorted(losses.LOSSES))
@pytest.mark.parametrize("reduction", ["mean", "sum", "none"])
def test_every_loss_in_the_registry_passes_gradcheck(name, reduction):
    spec = loss_row(name)
    rng = np.random.default_rng(3)
    for _ in range(2):
        pred, target = spec.sample(rng)
        target = leaf(target) if spec.target_differentiable else target

        def fn(p, t):
            return spec.fn(p, t, reduction=reduction, **spec.options)

        assert tg.gradcheck(fn, [leaf(pred), target])


# --------------------------------------------------------------------------- compare_gradients
RNG = np.random.default_rng(11)
X = RNG.normal(size=(8, 3))
Y = X @ np.array([1.0, -2.0, 0.5]) + 0.7 + 0.1 * RNG.normal(size=8)
W0, B0 = np.array([0.2, 0.1, -0.3]), 0.4
x1 = np.array([1.0, 2.0, 3.0, 4.0, 5.0])  # seed 001's 1-D data, y ≈ 2x + 1
y1 = np.array([3.1, 4.9, 7.2, 8.8, 11.1])


def mse_loss(w, b):
    return losses.mse(tg.Tensor(X) @ w + b, Y)


def hand_mse(w, b):
    return analytic.linreg_mse_grad(X, Y, w, b)


def test_agreeing_gradients_give_an_ok_report():
    report = tg.compare_gradients(mse_loss, [W0, B0], hand_mse)
    assert isinstance(report, GradientReport) and report.ok
    assert [p.name for p in report.parameters] == ["w", "b"]  # from mse_loss's signature
    w = report["w"]
    assert w.shape == (3,) and w.ok and w.autodiff_vs_numeric.agree and w.autodiff_vs_hand.agree
    assert w.autodiff_vs_hand.max_abs < 1e-12 and w.autodiff_vs_numeric.max_rel < 1e-6
    np.testing.assert_allclose(w.autodiff, hand_mse(W0, B0)[0], rtol=1e-12)
    assert "all gradients agree" in report.diagnosis and "OK" in str(report)
    assert repr(report).startswith("<GradientReport ok=True")


def table_lines(report):
    return [line for line in str(report).splitlines()[2:] if not line.startswith(("OK", "MISMATCH", "  "))]


def test_report_is_an_aligned_table():
    report = tg.compare_gradients(mse_loss, {"weights": W0, "bias": B0}, hand_mse)
    text = str(report)
    for title in ("autodiff vs numeric", "hand vs numeric", "autodiff vs hand", "max abs", "max rel"):
        assert title in text
    header, *rows = table_lines(report)
    assert header.startswith("parameter") and [r.split()[0] for r in rows] == ["weights", "bias"]
    status = header.index("status")
    assert all(r[status:] in ("ok", "MISMATCH") for r in rows)
    for column in re.finditer(r"max (abs|rel)", header):  # every number starts under its title
        assert all(re.match(r"\d\.\d\de[+-]\d\d", r[column.start() :]) for r in rows)
    no_hand = str(tg.compare_gradients(mse_loss, [W0, B0]))
    assert "autodiff vs numeric" in no_hand and "hand vs numeric" not in no_hand


def test_seed_001_sign_error_is_flagged():
    def seed_001_gradients(w, b):  # the seed's formulas: −2·mean(x·(ŷ − y)), −2·mean(ŷ − y)
        prediction = x1 * w + b
        return -2 * np.mean(x1 * (prediction - y1)), -2 * np.mean(prediction - y1)

    report = tg.compare_gradients(lambda w, b: losses.mse(x1 * w + b, y1), [0.5, 0.1], seed_001_gradients)
    assert not report.ok
    for name in ("w", "b"):
        check = report[name]
        assert not check.ok and check.autodiff_vs_numeric.agree
        assert check.ratio == pytest.approx(-1.0, rel=1e-9)
        assert check.diagnosis.startswith(f"{name}: sign flipped")
    assert "MISMATCH" in str(report) and "sign flipped" in str(report)


def test_seed_001_precedence_error_in_the_loss_is_flagged():
    def seed_001_mse(w, b):  # squares only the prediction: mean(Y − ŷ²)
        return (y1 - (x1 * w + b) ** 2).mean()

    report = tg.compare_gradients(seed_001_mse, [0.5, 0.1], lambda w, b: analytic.linreg_mse_grad(x1, y1, w, b))
    assert not report.ok
    assert all(p.autodiff_vs_numeric.agree and not p.autodiff_vs_hand.agree for p in report.parameters)
    assert (
        "the autodiff gradient matches finite differences, so the loss function and the "
        "hand-derived gradient describe different costs"
    ) in report.diagnosis.lower()
    assert "disagrees" in report["w"].diagnosis and "off by a factor" not in report["w"].diagnosis
    # The fixed loss agrees with the same hand-derived gradient.
    fixed = tg.compare_gradients(lambda w, b: ((y1 - (x1 * w + b)) ** 2).mean(), [0.5, 0.1],
                                 lambda w, b: analytic.linreg_mse_grad(x1, y1, w, b))
    assert fixed.ok


@pytest.mark.parametrize(
    "loss, hand, ratio",
    [
        (losses.half_mse, analytic.linreg_mse_grad, 2.0),  # derived 1/N, coded 1/(2N)
        (losses.mse, analytic.linreg_half_mse_grad, 0.5),  # derived 1/(2N), coded 1/N
    ],
)
def test_one_over_n_vs_one_over_2n_mix_up_is_flagged(loss, hand, ratio):
    report = tg.compare_gradients(
        lambda w, b: loss(tg.Tensor(X) @ w + b, Y), [W0, B0], lambda w, b: hand(X, Y, w, b)
    )
    assert not report.ok
    for check in report.parameters:
        assert check.ratio == pytest.approx(ratio, rel=1e-9)
        assert "factor 2: looks like a 1/N vs 1/(2N) mix-up" in check.diagnosis
    assert "factor 2: a 1/N vs 1/(2N) mix-up" in report.diagnosis
    assert "sign flipped" not in report.diagnosis


def test_other_constant_factors_and_no_factor():
    def hand_times_3(w, b):
        dw, db = hand_mse(w, b)
        return 3 * dw, db

    report = tg.compare_gradients(mse_loss, [W0, B0], hand_times_3)
    assert report["w"].diagnosis.startswith("w: off by a factor of 3") and report["b"].ok

    def hand_negative_half(w, b):
        dw, db = hand_mse(w, b)
        return -0.5 * dw, -0.5 * db

    report = tg.compare_gradients(mse_loss, [W0, B0], hand_negative_half)
    assert all("sign flipped and factor 2" in p.diagnosis for p in report.parameters)

    def hand_scrambled(w, b):
        dw, db = hand_mse(w, b)
        return dw[::-1], db

    report = tg.compare_gradients(mse_loss, [W0, B0], hand_scrambled)
    assert "w: the hand-derived gradient disagrees" in report["w"].diagnosis and report["b"].ok


def test_a_wrong_backward_rule_is_blamed_on_autodiff():
    report = tg.compare_gradients(
        lambda w: WrongSin.apply(w).sum(), [np.array([0.3, 1.0])], lambda w: (np.cos(w),)
    )
    check = report["w"]
    assert not check.autodiff_vs_numeric.agree and check.hand_vs_numeric.agree
    assert "autodiff disagrees with finite differences" in check.diagnosis
    assert "the hand-derived gradient does match finite differences" in check.diagnosis
    assert "describe different costs" not in report.diagnosis


def test_hand_gradient_with_the_wrong_shape_is_flagged():
    def column_hand(w, b):
        dw, db = hand_mse(w, b)
        return dw.reshape(3, 1), db

    report = tg.compare_gradients(mse_loss, [W0, B0], column_hand)
    assert not report["w"].ok and report["b"].ok
    assert "shape (3, 1)" in report["w"].diagnosis and "(3, 3)" in report["w"].diagnosis
    report = tg.compare_gradients(mse_loss, [W0, B0], lambda w, b: (hand_mse(w, b)[0][:2], 0.0))
    assert "cannot be compared" in report["w"].diagnosis


def test_params_may_be_tensors_arrays_or_numbers_and_are_not_modified():
    w = tg.Tensor(W0.copy(), requires_grad=True)
    w_array = W0.copy()
    for params in ([w, B0], [w_array, tg.Tensor(B0)], (W0.copy(), 0.4)):
        assert tg.compare_gradients(mse_loss, params, hand_mse).ok
    assert w.grad is None and np.array_equal(w.data, W0) and np.array_equal(w_array, W0)
    report = tg.compare_gradients(lambda *p: mse_loss(*p), [W0, B0], names=["slope", "intercept"])
    assert [p.name for p in report.parameters] == ["slope", "intercept"]
    assert [p.name for p in tg.compare_gradients(lambda *p: mse_loss(*p), [W0, B0]).parameters] == [
        "params[0]",
        "params[1]",
    ]
    with pytest.warns(UserWarning, match="float32"):
        tg.compare_gradients(mse_loss, [W0.astype(np.float32), B0])


def test_compare_gradients_errors():
    with pytest.raises(ValueError, match=r"scalar.*shape \(8,\)"):
        tg.compare_gradients(lambda w, b: tg.Tensor(X) @ w + b, [W0, B0])
    with pytest.raises(TypeError, match="not a Tensor"):
        tg.compare_gradients(lambda w, b: float(np.sum(X @ w.data + b.data)), [W0, B0])
    with pytest.raises(ValueError, match=r"1 gradient\(s\) for 2 parameter\(s\) \(w, b\)"):
        tg.compare_gradients(mse_loss, [W0, B0], lambda w, b: hand_mse(w, b)[0])
    with pytest.raises(ValueError, match="2 names for 1"):
        tg.compare_gradients(lambda w: (w * w).sum(), [W0], names=["a", "b"])
