"""Beyond first order: gradgradcheck (on op-table rows, and failing on deliberately wrong
second-order rules), the Hessian of the linear-regression MSE against its closed form, the
largest stable learning rate 2/λmax against real SGD runs, Newton's one step, and the
examples/newton_vs_gd.py comparison."""

import importlib.util
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from op_table import OP_TABLE, sample_inputs

import tinygrad_gd as tg
from tinygrad_gd import Tensor, analytic, ops
from tinygrad_gd.ops import cos

ROOT = Path(__file__).resolve().parents[1]
SEED_X = np.array([[1.0], [2.0], [3.0]])  # seed 002's problem: fit y = 2x
SEED_Y = np.array([[2.0], [4.0], [6.0]])


def leaf(values):
    return Tensor(np.asarray(values, dtype=np.float64), requires_grad=True)


# --------------------------------------------------------------------------- gradgradcheck
# test_create_graph.py checks every op-table row's second derivatives with its own harness;
# gradgradcheck must agree on every row and shape set (about a second in all), and then fail
# on rules that are right to first order only.
@pytest.mark.parametrize("row", OP_TABLE, ids=[row.name for row in OP_TABLE])
def test_gradgradcheck_passes_on_every_op_table_row(row):
    rng = np.random.default_rng(sum(map(ord, row.name)))
    for shapes in row.shapes:
        xs = sample_inputs(row, shapes, rng)
        assert tg.gradgradcheck(row.fn, [leaf(x) for x in xs], eps=row.fd_eps, atol=max(10 * row.atol, 1e-5), rtol=1e-4)


def test_gradgradcheck_closed_form_functions():
    x = leaf([0.3, -1.2, 2.0])
    assert tg.gradgradcheck(lambda t: t**3, [x])
    assert tg.gradgradcheck(lambda a, b: (a @ b).softmax(axis=-1), [leaf(np.ones((2, 3)) * 0.1), leaf(np.eye(3))])
    # a linear function: second derivative zero, only the upstream gradient matters
    assert tg.gradgradcheck(lambda t: t * 3.0 + 1.0, [x])
    # explicit upstream gradient; constants and integer labels pass through unchecked
    logits, labels = leaf(np.linspace(-1, 1, 6).reshape(2, 3)), np.array([2, 0])
    assert tg.gradgradcheck(lambda z, k: tg.losses.cross_entropy(z, k), [logits, labels], grad_outputs=np.array(0.7))
    assert tg.gradgradcheck(lambda a, c: (a * c).exp(), [x, np.array([1.0, 2.0, -1.0])])


def _detached_sin_backward(self, g):
    """Sin's rule, but cos is taken of the raw array: correct first order, and under
    create_graph the dependence of cos(x) on x is lost (the classic np.* / .data bug)."""
    (x,) = self.saved
    return g * np.cos(getattr(x, "data", x))


def test_gradgradcheck_catches_a_rule_that_is_right_only_to_first_order(monkeypatch):
    x = leaf([0.3, -1.2, 2.0])
    fn = lambda t: t.sin() * t  # noqa: E731
    monkeypatch.setattr(ops.Sin, "backward", _detached_sin_backward)
    assert tg.gradcheck(fn, [x])  # first order is still right...
    with pytest.raises(tg.GradcheckError) as info:  # ...second order is not
        tg.gradgradcheck(fn, [x])
    err = info.value
    assert isinstance(err, AssertionError)
    assert err.input_index == 0 and err.index is not None and len(err.index) == 1
    assert err.analytic != pytest.approx(err.numeric, rel=1e-3)
    msg = str(err)
    for words in ["input 0", "shape (3,)", "create_graph", "finite differences", repr(err.analytic), repr(err.numeric)]:
        assert words in msg
    assert "np.*" in msg and ".data" in msg  # names the likely cause
    assert tg.gradgradcheck(fn, [x], raise_exception=False) is False
    monkeypatch.undo()
    assert tg.gradgradcheck(fn, [x])


def test_gradgradcheck_finds_the_right_numbers_for_the_broken_rule(monkeypatch):
    # d/dx of <g(x), v> for f = sin, upstream u: g = u cos x, true second derivative -u v sin x;
    # the broken rule loses it entirely (analytic 0), finite differences still see it.
    monkeypatch.setattr(ops.Sin, "backward", _detached_sin_backward)
    u = np.array(1.5)
    with pytest.raises(tg.GradcheckError) as info:
        tg.gradgradcheck(lambda t: t.sin(), [leaf(0.8)], grad_outputs=u, rng=3)
    v = np.random.default_rng(3).standard_normal(())
    assert info.value.analytic == 0.0
    assert info.value.numeric == pytest.approx(float(-u * v * np.sin(0.8)), rel=1e-6)


class DetachedUpstreamCos(tg.Function):
    """f(x) = sin(x) with a rule that drops the upstream gradient from the graph: right to
    first order, but under create_graph d/du of the gradient is lost."""

    def forward(self, x):
        self.save_for_backward(x)
        return np.sin(x)

    def backward(self, g):
        (x,) = self.saved
        return cos(x) * getattr(g, "data", g)


def test_gradgradcheck_checks_the_derivative_in_the_upstream_gradient():
    x = leaf([0.3, -1.2])
    assert tg.gradcheck(lambda t: DetachedUpstreamCos.apply(t), [x])
    with pytest.raises(tg.GradcheckError, match=r"grad_outputs \(the upstream gradient u\)") as info:
        tg.gradgradcheck(lambda t: DetachedUpstreamCos.apply(t), [x])
    assert info.value.input_index is None
    assert "DetachedUpstreamCos" not in tg.ops.OPS  # not registered: the op table stays clean


def test_gradgradcheck_input_errors():
    x = leaf([1.0, 2.0])
    with pytest.raises(ValueError, match="requires_grad=True"):
        tg.gradgradcheck(lambda t: t * t, [np.array([1.0, 2.0])])
    with pytest.raises(ValueError, match=r"grad_outputs has shape \(3,\) but fn's output has shape \(2,\)"):
        tg.gradgradcheck(lambda t: t * t, [x], grad_outputs=np.ones(3))
    with pytest.raises(ValueError, match="NaN/inf"), np.errstate(divide="ignore"):
        tg.gradgradcheck(lambda t: (t - 1.0).log(), [x])
    with pytest.raises(TypeError, match="must return a Tensor"):
        tg.gradgradcheck(lambda t: 1.0, [x])
    with pytest.warns(UserWarning, match="float32"):
        tg.gradgradcheck(lambda t: t * t, [Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)])


def test_gradgradcheck_is_reproducible_and_a_single_tensor_works():
    x = leaf([0.1, 0.2])
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert tg.gradgradcheck(lambda t: (t * t).sum().exp(), x)  # one input, not in a list
    assert tg.checking.gradgradcheck is tg.gradgradcheck and "gradgradcheck" in tg.__all__


# --------------------------------------------------------------------------- the MSE Hessian
def packed_mse(X, y, half=False):
    """J(θ) as a Tensor function of θ = (w_1..w_d, b) packed in one vector."""
    X = np.asarray(X, dtype=np.float64)
    d = 1 if X.ndim == 1 else X.shape[1]
    loss = tg.losses.half_mse if half else tg.losses.mse

    def J(theta):
        if X.ndim == 1:  # seeds 000/001: one feature, scalar w
            return loss(theta[0] * X + theta[1], y)
        return loss(Tensor(X) @ theta[:d] + theta[d], y)

    return J


def test_linreg_mse_hessian_of_the_seed_problem_by_hand():
    # 2/N [XᵀX, Xᵀ1; 1ᵀX, N] with X = [1, 2, 3]: XᵀX = 14, Xᵀ1 = 6, N = 3
    expected = 2 / 3 * np.array([[14.0, 6.0], [6.0, 3.0]])
    np.testing.assert_allclose(analytic.linreg_mse_hessian(SEED_X), expected)
    np.testing.assert_allclose(analytic.linreg_mse_hessian(SEED_X.ravel()), expected)  # 1-D x form
    np.testing.assert_allclose(analytic.linreg_half_mse_hessian(SEED_X), expected / 2)
    J = packed_mse(SEED_X, SEED_Y.ravel())
    np.testing.assert_allclose(tg.hessian(J)(np.array([0.3, -0.2])), expected, atol=1e-12)


@settings(max_examples=40)
@given(
    n=st.integers(1, 8),
    d=st.integers(1, 4),
    seed=st.integers(0, 2**32 - 1),
    half=st.booleans(),
    one_d=st.booleans(),
)
def test_autodiff_hessian_of_the_mse_equals_the_closed_form(n, d, seed, half, one_d):
    rng = np.random.default_rng(seed)
    X = rng.uniform(-3, 3, size=n if one_d else (n, d))
    y = rng.normal(size=n)
    theta = rng.normal(size=(1 if one_d else d) + 1)  # any point: J is quadratic
    H = tg.hessian(packed_mse(X, y, half))(theta)
    closed = analytic.linreg_half_mse_hessian(X) if half else analytic.linreg_mse_hessian(X)
    assert closed.shape == H.shape == (theta.size, theta.size)
    np.testing.assert_allclose(H, closed, rtol=1e-10, atol=1e-10)
    assert np.linalg.eigvalsh(closed).min() > -1e-9 * max(1.0, np.abs(closed).max())  # PSD


def test_linreg_mse_hessian_input_errors():
    with pytest.raises(ValueError, match=r"1-D .* or 2-D .*shape \(2, 2, 2\)"):
        analytic.linreg_mse_hessian(np.ones((2, 2, 2)))
    with pytest.raises(ValueError, match="empty"):
        analytic.linreg_mse_hessian(np.ones((0, 2)))
    with pytest.raises(ValueError, match="NaN"):
        analytic.linreg_mse_hessian([1.0, np.nan])
    with pytest.raises(ValueError, match="numbers"):
        analytic.linreg_mse_hessian(["a", "b"])


# --------------------------------------------------------------------------- largest stable lr
def test_largest_stable_lr_closed_form():
    # half-MSE Hessian of the seed problem: 1/3 [[14, 6], [6, 3]], λmax = (17 + √265)/6
    H = analytic.linreg_half_mse_hessian(SEED_X)
    lam_max = (17 + np.sqrt(265)) / 6
    assert analytic.largest_stable_lr(H) == pytest.approx(2 / lam_max, rel=1e-12)
    assert analytic.largest_stable_lr(H, momentum=0.5) == pytest.approx(3 / lam_max, rel=1e-12)
    # the 1/N convention has twice the curvature, so half the largest stable lr
    assert analytic.largest_stable_lr(analytic.linreg_mse_hessian(SEED_X)) == pytest.approx(1 / lam_max, rel=1e-12)
    assert analytic.largest_stable_lr(4.0) == 0.5  # one parameter: J = 2θ², H = 4
    assert analytic.largest_stable_lr(np.diag([1.0, -3.0, 0.5])) == 2.0  # negative curvature ignored
    assert analytic.largest_stable_lr(tg.Tensor(np.diag([2.0, 8.0]))) == 0.25


def test_largest_stable_lr_input_errors():
    with pytest.raises(ValueError, match=r"square .*shape \(2, 3\)"):
        analytic.largest_stable_lr(np.ones((2, 3)))
    with pytest.raises(ValueError, match="not symmetric"):
        analytic.largest_stable_lr(np.array([[1.0, 2.0], [0.0, 1.0]]))
    with pytest.raises(ValueError, match="no positive curvature"):
        analytic.largest_stable_lr(-np.eye(2))
    with pytest.raises(ValueError, match="momentum"):
        analytic.largest_stable_lr(np.eye(2), momentum=1.0)
    with pytest.raises(ValueError, match="NaN"):
        analytic.largest_stable_lr(np.array([[np.inf]]))


def sgd_final_loss(J, lr, momentum=0.0, steps=1500):
    """Full-batch tg.optim.SGD from θ = 0 for `steps` updates; returns the last cost."""
    theta = tg.zeros(2, requires_grad=True)
    optimizer = tg.optim.SGD([theta], lr=lr, momentum=momentum)
    for _ in range(steps):
        optimizer.zero_grad()
        J(theta).backward()
        optimizer.step()
    return J(theta).item()


@pytest.mark.parametrize(
    "half, momentum",
    [(True, 0.0), (False, 0.0), (True, 0.5)],
    ids=["half_mse", "mse", "half_mse_momentum"],
)
def test_sgd_diverges_just_above_2_over_lambda_max_and_converges_just_below(half, momentum):
    J = packed_mse(SEED_X, SEED_Y.ravel(), half)
    H = tg.hessian(J)(np.zeros(2))  # from autodiff; equal to the hand-derived one
    np.testing.assert_allclose(H, analytic.linreg_half_mse_hessian(SEED_X) * (1 if half else 2), atol=1e-12)
    limit = analytic.largest_stable_lr(H, momentum=momentum)
    start = J(tg.zeros(2)).item()
    below = sgd_final_loss(J, 0.99 * limit, momentum)
    above = sgd_final_loss(J, 1.01 * limit, momentum)
    assert below < 1e-12 * start  # converges to the exact fit (minimum 0)
    assert above > 1e6 * start  # the steepest direction overshoots and grows geometrically


# --------------------------------------------------------------------------- Newton
@settings(max_examples=30)
@given(n=st.integers(5, 8), d=st.integers(1, 3), seed=st.integers(0, 2**32 - 1))
def test_one_newton_step_solves_linear_regression(n, d, seed):
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(n, d)), rng.normal(size=n)
    design = np.c_[X, np.ones(n)]  # full column rank: n >= d + 2 normal draws
    J = packed_mse(X, y)
    theta0 = rng.normal(size=d + 1) * 3
    theta1 = theta0 - np.linalg.solve(tg.hessian(J)(theta0), tg.grad(J)(theta0))
    expected = np.linalg.lstsq(design, y, rcond=None)[0]
    np.testing.assert_allclose(theta1, expected, rtol=1e-7, atol=1e-8)
    np.testing.assert_allclose(tg.grad(J)(theta1), np.zeros(d + 1), atol=1e-9)


def test_newton_direction_by_hvp_conjugate_gradient_matches_the_solve():
    # H never formed: conjugate gradient on H p = -∇J with Hessian-vector products only
    rng = np.random.default_rng(7)
    X, y = rng.normal(size=(10, 3)), rng.normal(size=10)
    J = packed_mse(X, y)
    theta = np.zeros(4)
    g = tg.grad(J)(theta)
    p, r = np.zeros(4), -g
    direction = r.copy()
    for _ in range(4):  # exact in 4 iterations for a 4x4 SPD system
        Hd = tg.hvp(J, theta, direction)
        alpha = (r @ r) / (direction @ Hd)
        p, r_new = p + alpha * direction, r - alpha * Hd
        direction = r_new + (r_new @ r_new) / (r @ r) * direction
        r = r_new
    np.testing.assert_allclose(p, -np.linalg.solve(analytic.linreg_mse_hessian(X), g), atol=1e-9)


# --------------------------------------------------------------------------- the example
def load_example():
    spec = importlib.util.spec_from_file_location("newton_vs_gd", ROOT / "examples" / "newton_vs_gd.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up while the class is built
    spec.loader.exec_module(module)
    return module


def test_newton_vs_gd_example_ranks_the_methods():
    example = load_example()
    runs, H = example.compare()
    np.testing.assert_allclose(H, analytic.linreg_half_mse_hessian(SEED_X), atol=1e-12)
    by_name = {run.name: run for run in runs}
    seed_lr = by_name["gradient descent, the tutorial's lr"]
    best = by_name["gradient descent, best fixed lr"]
    tuned = by_name["momentum tuned from λmin, λmax"]
    newton = by_name["Newton's method"]
    diverged = by_name["gradient descent, lr 1% above 2/λmax"]
    assert newton.steps == 1 and newton.final_loss < 1e-20
    assert 1 < tuned.steps < best.steps < by_name["gradient descent + momentum 0.9"].steps < seed_lr.steps
    assert all(run.final_loss <= example.TARGET for run in runs if run is not diverged)
    assert diverged.steps is None and diverged.final_loss > 1e6 * diverged.losses[0]


def test_newton_vs_gd_example_without_matplotlib(monkeypatch, capsys, tmp_path):
    example = load_example()
    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib -> ImportError
    runs = [example.newton()]
    example.plot(runs, str(tmp_path / "figure.png"))
    assert "matplotlib is not installed" in capsys.readouterr().out
    assert not (tmp_path / "figure.png").exists()


def test_newton_vs_gd_example_plots_when_matplotlib_is_installed(tmp_path, capsys):
    example = load_example()
    example.plot([example.newton(), example.descend("gd", 0.3, max_steps=50)], str(tmp_path / "figure.png"))
    out = capsys.readouterr().out
    if importlib.util.find_spec("matplotlib") is None:  # the test extra does not need matplotlib
        assert "matplotlib is not installed" in out and not (tmp_path / "figure.png").exists()
    else:
        assert (tmp_path / "figure.png").stat().st_size > 1000
        assert "saved to" in out
