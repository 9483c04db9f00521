"""Optimizers and schedulers: trajectories against independent numpy implementations of
PyTorch's documented update equations (float64, several steps, random gradients, 1e-12),
validation errors, the no-gradient warning, zero_grad, state_dict round trips, schedules,
and the registry that subclassing fills (the optimizer table of tests/tables.py reads it)."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from tables import optimizer_row, registries_restored

import tinygrad_gd as tg
from tinygrad_gd import optim
from tinygrad_gd.optim import OPTIMIZERS

try:  # torch is NOT a dependency: when it happens to be installed, compare with it as well
    import torch
except ImportError:  # pragma: no cover - depends on the environment
    torch = None

SHAPES = [(), (3,), (2, 3)]
STEPS = 6


# --------------------------------------------------------------------------- references
def reference_sgd(thetas, grad_fn, steps, lr, momentum=0.0, dampening=0.0, nesterov=False, weight_decay=0.0,
                  maximize=False):
    """torch.optim.SGD: g ← ∓∇; g += λθ; b ← g (t=1) or μb + (1-τ)g; g ← g + μb (nesterov) or b; θ -= γg."""
    thetas = [t.copy() for t in thetas]
    buffers = [None] * len(thetas)
    history = []
    for step in range(1, steps + 1):
        grads = grad_fn(thetas, step)
        for i, (theta, g) in enumerate(zip(thetas, grads)):
            if maximize:
                g = -g
            if weight_decay:
                g = g + weight_decay * theta
            if momentum:
                buffers[i] = g if step == 1 else momentum * buffers[i] + (1 - dampening) * g
                g = g + momentum * buffers[i] if nesterov else buffers[i]
            thetas[i] = theta - lr * g
        history.append([t.copy() for t in thetas])
    return history


def reference_adam(thetas, grad_fn, steps, lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0,
                   amsgrad=False, maximize=False, decoupled=False):
    """torch.optim.Adam / AdamW: moments, bias correction, amsgrad on the raw second moment."""
    beta1, beta2 = betas
    thetas = [t.copy() for t in thetas]
    m = [np.zeros_like(t) for t in thetas]
    v = [np.zeros_like(t) for t in thetas]
    v_max = [np.zeros_like(t) for t in thetas]
    history = []
    for step in range(1, steps + 1):
        grads = grad_fn(thetas, step)
        for i, (theta, g) in enumerate(zip(thetas, grads)):
            if maximize:
                g = -g
            if decoupled:
                theta = theta - lr * weight_decay * theta
            elif weight_decay:
                g = g + weight_decay * theta
            m[i] = beta1 * m[i] + (1 - beta1) * g
            v[i] = beta2 * v[i] + (1 - beta2) * g**2
            m_hat = m[i] / (1 - beta1**step)
            if amsgrad:
                v_max[i] = np.maximum(v_max[i], v[i])
                v_hat = v_max[i] / (1 - beta2**step)
            else:
                v_hat = v[i] / (1 - beta2**step)
            thetas[i] = theta - lr * m_hat / (np.sqrt(v_hat) + eps)
        history.append([t.copy() for t in thetas])
    return history


def reference_rmsprop(thetas, grad_fn, steps, lr=0.01, alpha=0.99, eps=1e-8, weight_decay=0.0, momentum=0.0,
                      centered=False, maximize=False):
    """torch.optim.RMSprop: v ← αv + (1-α)g²; centered ṽ = v - ḡ²; b ← μb + g/(√ṽ+ε), θ -= γb (or θ -= γg/(√ṽ+ε))."""
    thetas = [t.copy() for t in thetas]
    v, mean, buf = ([np.zeros_like(t) for t in thetas] for _ in range(3))
    history = []
    for step in range(1, steps + 1):
        grads = grad_fn(thetas, step)
        for i, (theta, g) in enumerate(zip(thetas, grads)):
            g = -g if maximize else g
            g = g + weight_decay * theta
            v[i] = alpha * v[i] + (1 - alpha) * g**2
            mean[i] = alpha * mean[i] + (1 - alpha) * g
            denom = np.sqrt(v[i] - mean[i] ** 2 if centered else v[i]) + eps
            if momentum > 0:
                buf[i] = momentum * buf[i] + g / denom
                thetas[i] = theta - lr * buf[i]
            else:
                thetas[i] = theta - lr * g / denom
        history.append([t.copy() for t in thetas])
    return history


def reference_adagrad(thetas, grad_fn, steps, lr=0.01, lr_decay=0.0, weight_decay=0.0, initial_accumulator_value=0.0,
                      eps=1e-10, maximize=False):
    """torch.optim.Adagrad: γ_t = γ/(1+(t-1)η); g += λθ; s += g²; θ -= γ_t g/(√s+ε)."""
    thetas = [t.copy() for t in thetas]
    sums = [np.full_like(t, initial_accumulator_value) for t in thetas]
    history = []
    for step in range(1, steps + 1):
        grads = grad_fn(thetas, step)
        for i, (theta, g) in enumerate(zip(thetas, grads)):
            g = (-g if maximize else g) + weight_decay * theta
            sums[i] = sums[i] + g**2
            thetas[i] = theta - lr / (1 + (step - 1) * lr_decay) * g / (np.sqrt(sums[i]) + eps)
        history.append([t.copy() for t in thetas])
    return history


REFERENCES = {
    "sgd": reference_sgd,
    "adam": reference_adam,
    "adamw": lambda *args, weight_decay=0.01, **kw: reference_adam(*args, weight_decay=weight_decay, decoupled=True, **kw),
    "rmsprop": reference_rmsprop,
    "adagrad": reference_adagrad,
}

CASES = [
    ("sgd", {"lr": 0.1}),
    ("sgd", {"lr": 0.1, "momentum": 0.9}),
    ("sgd", {"lr": 0.05, "momentum": 0.8, "dampening": 0.3}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True}),
    ("sgd", {"lr": 0.1, "weight_decay": 0.2}),
    ("sgd", {"lr": 0.1, "maximize": True}),
    ("sgd", {"lr": 0.05, "momentum": 0.7, "dampening": 0.1, "weight_decay": 0.3, "maximize": True}),
    ("sgd", {"lr": 0.05, "momentum": 0.9, "nesterov": True, "weight_decay": 0.1, "maximize": True}),
    ("adam", {}),
    ("adam", {"lr": 0.1, "betas": (0.5, 0.8), "eps": 1e-3}),
    ("adam", {"lr": 0.1, "amsgrad": True}),
    ("adam", {"lr": 0.1, "weight_decay": 0.3}),
    ("adam", {"lr": 0.1, "maximize": True}),
    ("adam", {"lr": 0.1, "amsgrad": True, "weight_decay": 0.2, "maximize": True, "betas": (0.8, 0.9)}),
    ("adamw", {}),
    ("adamw", {"lr": 0.1, "weight_decay": 0.5}),
    ("adamw", {"lr": 0.1, "amsgrad": True, "maximize": True}),
    ("adamw", {"lr": 0.1, "weight_decay": 0.2, "amsgrad": True, "betas": (0.7, 0.95)}),
    ("rmsprop", {}),
    ("rmsprop", {"lr": 0.05, "alpha": 0.9, "eps": 1e-3}),
    ("rmsprop", {"lr": 0.05, "centered": True}),
    ("rmsprop", {"lr": 0.05, "momentum": 0.8, "weight_decay": 0.2}),
    ("rmsprop", {"lr": 0.05, "momentum": 0.5, "centered": True, "maximize": True, "alpha": 0.8}),
    ("adagrad", {}),
    ("adagrad", {"lr": 0.3, "lr_decay": 0.1}),
    ("adagrad", {"lr": 0.3, "weight_decay": 0.2, "initial_accumulator_value": 0.5, "eps": 1e-3}),
    ("adagrad", {"lr": 0.3, "lr_decay": 0.05, "maximize": True}),
]


def _random_grads(rng, shapes, steps):
    """Gradients whose scale jumps around, so that amsgrad's running maximum matters."""
    scales = [3.0, 0.1, 2.0, 0.05, 1.0, 0.2, 4.0, 0.01]
    table = [[rng.normal(size=s) * scales[t % len(scales)] for s in shapes] for t in range(steps)]
    return lambda thetas, step: table[step - 1]


def _run(cls, params, grad_fn, steps, **kwargs):
    opt = cls(params, **kwargs)
    history = []
    for step in range(1, steps + 1):
        opt.zero_grad()
        for p, g in zip(params, grad_fn([p.data for p in params], step)):
            p.grad = tg.Tensor(np.array(g, dtype=p.data.dtype))
        opt.step()
        history.append([p.data.copy() for p in params])
    return history, opt


def _assert_trajectories_equal(ours, reference, rtol=1e-12, atol=1e-12):
    assert len(ours) == len(reference)
    for step, (a, b) in enumerate(zip(ours, reference), 1):
        for i, (x, y) in enumerate(zip(a, b)):
            np.testing.assert_allclose(x, y, rtol=rtol, atol=atol, err_msg=f"step {step}, parameter {i}")


def test_every_optimizer_is_registered_and_has_a_reference():
    classes = {
        obj for obj in vars(optim).values()
        if isinstance(obj, type) and issubclass(obj, optim.Optimizer) and obj is not optim.Optimizer
    }
    assert classes == {spec.cls for spec in OPTIMIZERS.values()}
    assert set(REFERENCES) == set(OPTIMIZERS)
    assert {name for name, _ in CASES} == set(OPTIMIZERS)


# --------------------------------------------------------------------------- trajectories
@pytest.mark.parametrize("name, kwargs", CASES, ids=[f"{n}-{'-'.join(k) or 'defaults'}" for n, k in CASES])
def test_trajectory_matches_reference_equations(name, kwargs):
    rng = np.random.default_rng(0)
    starts = [rng.normal(size=s) for s in SHAPES]
    grad_fn = _random_grads(rng, SHAPES, STEPS)
    params = [tg.Tensor(s.copy(), requires_grad=True) for s in starts]
    ours, _ = _run(optimizer_row(name).cls, params, grad_fn, STEPS, **kwargs)
    _assert_trajectories_equal(ours, REFERENCES[name](starts, grad_fn, STEPS, **kwargs))
    if torch is not None:
        _assert_trajectories_equal(ours, _torch_trajectory(name, starts, grad_fn, STEPS, kwargs))


def _torch_trajectory(name, starts, grad_fn, steps, kwargs):
    cls = {"sgd": torch.optim.SGD, "adam": torch.optim.Adam, "adamw": torch.optim.AdamW,
           "rmsprop": torch.optim.RMSprop, "adagrad": torch.optim.Adagrad}[name]
    params = [torch.tensor(s, dtype=torch.float64, requires_grad=True) for s in starts]
    opt = cls(params, **kwargs)
    history = []
    for step in range(1, steps + 1):
        for p, g in zip(params, grad_fn([p.detach().numpy() for p in params], step)):
            p.grad = torch.tensor(g, dtype=torch.float64)
        opt.step()
        history.append([p.detach().numpy().copy() for p in params])
    return history


def test_amsgrad_changes_the_trajectory():
    """Guard for the test above: with these gradients amsgrad's maximum is really used."""
    rng = np.random.default_rng(0)
    starts = [rng.normal(size=s) for s in SHAPES]
    grad_fn = _random_grads(rng, SHAPES, STEPS)
    plain = reference_adam(starts, grad_fn, STEPS, lr=0.1)
    ams = reference_adam(starts, grad_fn, STEPS, lr=0.1, amsgrad=True)
    assert not np.allclose(plain[-1][2], ams[-1][2])


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_trajectory_with_gradients_from_backward(name):
    """Gradients from a real loss (they depend on θ), two parameter groups with their own lr."""
    spec = optimizer_row(name)
    rng = np.random.default_rng(1)
    a, c = rng.normal(size=(3,)), rng.uniform(0.5, 2.0, size=(3,))
    starts = [rng.normal(size=(3,)), rng.normal(size=())]
    w, b = (tg.Tensor(s.copy(), requires_grad=True) for s in starts)
    lrs = (0.05, 0.2)
    opt = spec.cls([{"params": [w], "lr": lrs[0]}, {"params": [b], "lr": lrs[1]}], **spec.kwargs)
    ours = []
    for _ in range(STEPS):
        opt.zero_grad()
        loss = (c * (w - a) ** 2).sum() + (b - 1.0) ** 4
        loss.backward()
        opt.step()
        ours.append([w.data.copy(), b.data.copy()])

    # the two groups update independently: compare each with the reference at its own lr
    hand_grads = [lambda thetas, step: [2 * c * (thetas[0] - a)], lambda thetas, step: [4 * (thetas[0] - 1.0) ** 3]]
    kwargs = {k: v for k, v in spec.kwargs.items() if k != "lr"}
    for i, lr in enumerate(lrs):
        reference = REFERENCES[name]([starts[i]], hand_grads[i], STEPS, lr=lr, **kwargs)
        _assert_trajectories_equal([[step[i]] for step in ours], reference)


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_each_optimizer_minimizes_a_quadratic(name):
    spec = optimizer_row(name)
    target = np.array([1.0, -2.0, 3.0])
    w = tg.Tensor(np.zeros(3), requires_grad=True)
    opt = spec.cls([w], **spec.kwargs)
    for _ in range(300):
        opt.zero_grad()
        ((w - target) ** 2).sum().backward()
        opt.step()
    assert np.abs(w.data - target).max() < 0.1 * np.abs(target).max()


def test_maximize_climbs():
    w = tg.Tensor(0.0, requires_grad=True)
    opt = optim.SGD([w], lr=0.1, maximize=True)
    for _ in range(100):
        opt.zero_grad()
        (-(w - 2.0) ** 2).backward()
        opt.step()
    assert w.item() == pytest.approx(2.0, abs=1e-6)


# --------------------------------------------------------------------------- the update itself
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_records_no_graph_and_updates_in_place(name):
    spec = optimizer_row(name)
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    array = w.data
    opt = spec.cls([w], **spec.kwargs)
    (w * w).sum().backward()
    version = w._version
    opt.step()
    assert w.is_leaf and w.grad_fn is None and w.requires_grad
    assert w.data is array  # updated in place: other holders of the array see the new values
    assert w._version > version
    assert not np.allclose(w.data, [1.0, 2.0])


def test_step_invalidates_graphs_that_saved_the_old_values():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    stale = (w * w).sum()  # saved w before the step
    opt.step()
    with pytest.raises(RuntimeError, match="in-place"):
        stale.backward()


def test_step_accepts_a_gradient_that_requires_grad():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    (w**3).sum().backward(create_graph=True)
    assert w.grad.requires_grad
    optim.SGD([w], lr=0.1).step()
    np.testing.assert_allclose(w.data, [1.0 - 0.3, 2.0 - 1.2])
    assert w.is_leaf


def test_float32_parameters_stay_float32():
    w = tg.Tensor(np.array([1.0, -1.0], dtype=np.float32), requires_grad=True)
    opt = optim.Adam([w], lr=0.1, amsgrad=True)
    for _ in range(3):
        opt.zero_grad()
        (w * w).sum().backward()
        opt.step()
    assert w.dtype == np.float32
    assert all(v.dtype == np.float32 for v in opt.state[w].values() if isinstance(v, np.ndarray))


def test_parameters_without_gradient_are_skipped():
    w, b = tg.Tensor([1.0], requires_grad=True), tg.Tensor([5.0], requires_grad=True)
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9)
    (w * 2.0).sum().backward()
    opt.step()
    assert b.data.tolist() == [5.0] and b not in opt.state
    assert w.data.tolist() == [pytest.approx(0.8)]


def test_closure_is_evaluated_with_grad_enabled_and_its_loss_returned():
    w = tg.Tensor([3.0], requires_grad=True)
    opt = optim.SGD([w], lr=0.25)

    def closure():
        opt.zero_grad()
        loss = (w * w).sum()
        loss.backward()
        return loss

    with tg.no_grad():
        loss = opt.step(closure)
    assert loss.item() == 9.0 and w.data.tolist() == [1.5]


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_without_any_gradient_warns(name):
    spec = optimizer_row(name)
    w = tg.Tensor([1.0], requires_grad=True)
    opt = spec.cls([w], **spec.kwargs)
    with pytest.warns(UserWarning, match=r"backward\(\) was probably not called"):
        opt.step()
    assert w.data.tolist() == [1.0]
    (w * w).sum().backward()
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        opt.step()  # a gradient exists now: no warning


def test_gradient_of_the_wrong_shape_is_reported():
    w = tg.Tensor([1.0, 2.0], requires_grad=True)
    w.grad = tg.Tensor([1.0, 2.0, 3.0])
    with pytest.raises(ValueError, match=r"\(2,\).*\(3,\)"):
        optim.SGD([w], lr=0.1).step()


def test_zero_grad():
    w = tg.Tensor(np.ones((2, 2), dtype=np.float32), requires_grad=True)
    opt = optim.SGD([w], lr=0.1)
    (w * w).sum().backward()
    (w * w).sum().backward()
    np.testing.assert_allclose(w.grad.data, 4 * np.ones((2, 2)))  # accumulated until zeroed
    opt.zero_grad(set_to_none=False)
    assert w.grad is not None and w.grad.dtype == np.float32 and w.grad.shape == (2, 2)
    assert not w.grad.data.any()
    opt.zero_grad()
    assert w.grad is None
    opt.zero_grad()  # no gradient: nothing to do, no error


# --------------------------------------------------------------------------- validation
def _w():
    return tg.Tensor([1.0], requires_grad=True)


@pytest.mark.parametrize(
    "make, error, match",
    [
        (lambda: optim.SGD([_w()], lr=-0.1), ValueError, "lr"),
        (lambda: optim.SGD([_w()], lr=float("inf")), ValueError, "lr.*inf"),
        (lambda: optim.SGD([_w()], lr=float("nan")), ValueError, "lr"),
        (lambda: optim.SGD([_w()], lr="0.1"), TypeError, "lr must be a number"),
        (lambda: optim.SGD([_w()], lr=0.1, momentum=-0.5), ValueError, "momentum"),
        (lambda: optim.SGD([_w()], lr=0.1, weight_decay=-1.0), ValueError, "weight_decay"),
        (lambda: optim.SGD([_w()], lr=0.1, dampening=float("nan")), ValueError, "dampening"),
        (lambda: optim.SGD([_w()], lr=0.1, nesterov=True), ValueError, "Nesterov.*momentum"),
        (lambda: optim.SGD([_w()], lr=0.1, momentum=0.9, dampening=0.1, nesterov=True), ValueError, "dampening"),
        (lambda: optim.Adam([_w()], lr=-1e-3), ValueError, "lr"),
        (lambda: optim.Adam([_w()], betas=(1.0, 0.999)), ValueError, r"betas\[0\]"),
        (lambda: optim.Adam([_w()], betas=(0.9, -0.1)), ValueError, r"betas\[1\]"),
        (lambda: optim.Adam([_w()], betas=(0.9,)), TypeError, "pair"),
        (lambda: optim.Adam([_w()], eps=-1e-8), ValueError, "eps"),
        (lambda: optim.AdamW([_w()], weight_decay=-0.01), ValueError, "weight_decay"),
        (lambda: optim.SGD([], lr=0.1), ValueError, "empty parameter list"),
        (lambda: optim.SGD((w for w in []), lr=0.1), ValueError, "empty parameter list"),
        (lambda: optim.SGD([np.zeros(3)], lr=0.1), TypeError, "item 0 is a numpy array of shape"),
        (lambda: optim.SGD([_w(), 1.5], lr=0.1), TypeError, "item 1 is float 1.5"),
        (lambda: optim.SGD(_w(), lr=0.1), TypeError, r"single Tensor.*\[w\]"),
        (lambda: optim.SGD(3, lr=0.1), TypeError, "int"),
        (lambda: optim.SGD([tg.Tensor([1.0])], lr=0.1), ValueError, "does not require grad"),
        (lambda: optim.SGD([_w() * 2], lr=0.1), ValueError, "not a leaf"),
        (lambda: optim.SGD([{"lr": 0.1}], lr=0.1), ValueError, "'params'"),
        (lambda: optim.SGD([{"params": [_w()], "lr": -1.0}], lr=0.1), ValueError, "lr"),
        (lambda: optim.SGD([{"params": [_w()]}, _w()], lr=0.1), TypeError, "mixes"),
        (lambda: optim.SGD({_w()}, lr=0.1), TypeError, "list"),
    ],
)
def test_construction_errors(make, error, match):
    with pytest.raises(error, match=match):
        make()


def test_duplicate_parameters_are_rejected():
    w, b = _w(), _w()
    with pytest.raises(ValueError, match="more than once"):
        optim.SGD([w, b, w], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        optim.Adam([{"params": [w]}, {"params": [b, w]}])
    opt = optim.SGD([w], lr=0.1)
    with pytest.raises(ValueError, match="more than once"):
        opt.add_param_group({"params": [w]})


@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_common_validation_for_every_optimizer(name):
    spec = optimizer_row(name)
    kwargs = {k: v for k, v in spec.kwargs.items() if k != "lr"}
    with pytest.raises(ValueError, match="lr"):
        spec.cls([_w()], lr=-1.0, **kwargs)
    with pytest.raises(ValueError, match="empty"):
        spec.cls([], **spec.kwargs)
    with pytest.raises(TypeError, match="Tensor"):
        spec.cls(["w"], **spec.kwargs)
    w = _w()
    with pytest.raises(ValueError, match="more than once"):
        spec.cls([w, w], **spec.kwargs)


def test_param_groups_and_add_param_group():
    w, b, extra = _w(), _w(), _w()
    opt = optim.SGD([{"params": [w]}, {"params": b, "lr": 0.5, "momentum": 0.9}], lr=0.1)
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.5]
    assert opt.param_groups[0]["momentum"] == 0.0 and opt.param_groups[1]["momentum"] == 0.9
    opt.add_param_group({"params": [extra], "weight_decay": 0.01})
    assert opt.param_groups[2]["lr"] == 0.1 and opt.param_groups[2]["weight_decay"] == 0.01
    for p in (w, b, extra):
        p.grad = tg.Tensor([1.0])
    opt.step()
    assert [w.item(), b.item(), extra.item()] == pytest.approx([0.9, 0.5, 1.0 - 0.1 * 1.01])
    assert "Parameter Group 1" in repr(opt) and "lr: 0.5" in repr(opt)


# --------------------------------------------------------------------------- saving
CHECKPOINT_CASES = [
    ("sgd", {"lr": 0.1, "momentum": 0.9, "nesterov": True}),
    ("adam", {"lr": 0.1, "amsgrad": True, "weight_decay": 0.1}),
    ("adamw", {"lr": 0.1}),
    ("rmsprop", {"lr": 0.05, "momentum": 0.5, "centered": True}),
    ("adagrad", {"lr": 0.3, "lr_decay": 0.1}),
]


@pytest.mark.parametrize("name, kwargs", CHECKPOINT_CASES)
def test_state_dict_round_trip_resumes_identically(name, kwargs):
    cls = optimizer_row(name).cls
    rng = np.random.default_rng(2)
    grad_fn = _random_grads(rng, SHAPES, 2 * STEPS)
    params = [tg.Tensor(rng.normal(size=s), requires_grad=True) for s in SHAPES]
    opt = cls(params, **kwargs)

    def advance(opt, params, steps):
        for step in steps:
            opt.zero_grad()
            for p, g in zip(params, grad_fn(None, step)):
                p.grad = tg.Tensor(g)
            opt.step()

    advance(opt, params, range(1, STEPS + 1))
    saved = opt.state_dict()
    snapshot = [p.data.copy() for p in params]
    assert set(saved["state"]) == {0, 1, 2}
    assert saved["param_groups"][0]["params"] == [0, 1, 2]

    clones = [tg.Tensor(s.copy(), requires_grad=True) for s in snapshot]
    other = cls(clones, **{**kwargs, "lr": 123.0})
    other.load_state_dict(saved)
    assert other.param_groups[0]["lr"] == kwargs["lr"]

    advance(opt, params, range(STEPS + 1, 2 * STEPS + 1))
    advance(other, clones, range(STEPS + 1, 2 * STEPS + 1))
    for p, q in zip(params, clones):
        np.testing.assert_array_equal(p.data, q.data)
    # the saved dict is a copy: the steps taken since did not change it
    state0 = saved["state"][0]
    for key, value in opt.state_dict()["state"][0].items():
        if isinstance(value, np.ndarray):
            assert not np.array_equal(value, state0[key])


def test_load_state_dict_errors():
    w, b = _w(), tg.Tensor([1.0, 2.0], requires_grad=True)
    opt = optim.SGD([w, b], lr=0.1, momentum=0.9)
    for p in (w, b):
        p.grad = tg.Tensor(np.ones(p.shape))
    opt.step()
    saved = opt.state_dict()
    with pytest.raises(ValueError, match="2 parameter\\(s\\) in the saved state but 1 here"):
        optim.SGD([_w()], lr=0.1, momentum=0.9).load_state_dict(saved)
    with pytest.raises(ValueError, match="1 parameter group"):
        optim.SGD([{"params": [_w()]}, {"params": [_w()]}], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match=r"shape \(2,\).*shape \(3,\)"):
        optim.SGD([_w(), tg.Tensor([1.0, 2.0, 3.0], requires_grad=True)], lr=0.1).load_state_dict(saved)
    with pytest.raises(ValueError, match="different kind of optimizer"):
        optim.Adam([_w(), tg.Tensor([1.0, 2.0], requires_grad=True)]).load_state_dict(saved)
    with pytest.raises(ValueError, match="'state' and 'param_groups'"):
        opt.load_state_dict({"state": {}})


# --------------------------------------------------------------------------- schedulers
def _pytorch_recursive_lrs(kind, base, epochs, **kw):
    """The recursive forms in PyTorch's get_lr(), each step from the previous lr."""
    lrs, lr = [base], base
    for epoch in range(1, epochs):
        if kind == "step":
            lr = lr * kw["gamma"] if epoch % kw["step_size"] == 0 else lr
        elif kind == "exp":
            lr = lr * kw["gamma"]
        else:
            t_max, eta_min = kw["T_max"], kw["eta_min"]
            if (epoch - 1 - t_max) % (2 * t_max) == 0:
                lr = lr + (base - eta_min) * (1 - math.cos(math.pi / t_max)) / 2
            else:
                lr = (1 + math.cos(math.pi * epoch / t_max)) / (1 + math.cos(math.pi * (epoch - 1) / t_max)) * (
                    lr - eta_min
                ) + eta_min
        lrs.append(lr)
    return lrs


SCHEDULES = [
    ("step", optim.StepLR, {"step_size": 3, "gamma": 0.5}, lambda e: 0.5 ** (e // 3)),
    ("exp", optim.ExponentialLR, {"gamma": 0.9}, lambda e: 0.9**e),
    ("cos", optim.CosineAnnealingLR, {"T_max": 5, "eta_min": 0.0}, lambda e: (1 + math.cos(math.pi * e / 5)) / 2),
]


@pytest.mark.parametrize("kind, cls, kwargs, closed", SCHEDULES, ids=[s[0] for s in SCHEDULES])
def test_scheduler_lr_sequence(kind, cls, kwargs, closed):
    w, b = _w(), _w()
    opt = optim.SGD([{"params": [w]}, {"params": [b], "lr": 0.4}], lr=0.1)
    sched = cls(opt, **kwargs)
    seen = [sched.get_last_lr()]
    for _ in range(14):
        w.grad, b.grad = tg.Tensor([0.0]), tg.Tensor([0.0])
        opt.step()
        sched.step()
        seen.append(sched.get_last_lr())
        assert [g["lr"] for g in opt.param_groups] == seen[-1]
    for group, base in enumerate((0.1, 0.4)):
        ours = [lrs[group] for lrs in seen]
        np.testing.assert_allclose(ours, [base * closed(e) for e in range(15)], rtol=1e-12, atol=1e-15)
        recursive = _pytorch_recursive_lrs(kind, base, 15, **{"eta_min": 0.0, **kwargs})
        np.testing.assert_allclose(ours, recursive, rtol=1e-9, atol=1e-15)
    if torch is not None:
        groups = [{"params": [torch.zeros(1, requires_grad=True)]}, {"params": [torch.zeros(1)], "lr": 0.4}]
        torch_opt = torch.optim.SGD(groups, lr=0.1)
        torch_cls = {"step": torch.optim.lr_scheduler.StepLR, "exp": torch.optim.lr_scheduler.ExponentialLR,
                     "cos": torch.optim.lr_scheduler.CosineAnnealingLR}[kind]
        torch_sched = torch_cls(torch_opt, **kwargs)
        theirs = [torch_sched.get_last_lr()]
        for _ in range(14):
            torch_opt.step()
            torch_sched.step()
            theirs.append(torch_sched.get_last_lr())
        np.testing.assert_allclose(seen, theirs, rtol=1e-9, atol=1e-15)


def test_cosine_with_eta_min_and_the_optimizer_uses_the_scheduled_lr():
    w = tg.Tensor([0.0], requires_grad=True)
    opt = optim.SGD([w], lr=1.0)
    sched = optim.CosineAnnealingLR(opt, T_max=4, eta_min=0.2)
    lrs = []
    for _ in range(5):
        lrs.append(opt.param_groups[0]["lr"])
        w.grad = tg.Tensor([-1.0])
        opt.step()
        sched.step()
    expected = [0.2 + 0.8 * (1 + math.cos(math.pi * e / 4)) / 2 for e in range(5)]
    np.testing.assert_allclose(lrs, expected, rtol=1e-12)
    assert lrs[-1] == pytest.approx(0.2)
    assert w.item() == pytest.approx(sum(expected))


def test_scheduler_state_dict_round_trip():
    opt = optim.SGD([_w()], lr=0.3)
    sched = optim.StepLR(opt, step_size=2, gamma=0.1)
    for _ in range(3):
        sched.step()
    saved = sched.state_dict()
    assert "optimizer" not in saved and saved["last_epoch"] == 3
    opt2 = optim.SGD([_w()], lr=0.3)
    sched2 = optim.StepLR(opt2, step_size=5, gamma=0.5)
    sched2.load_state_dict(saved)
    sched.step()
    sched2.step()
    assert sched2.get_last_lr() == sched.get_last_lr() == [pytest.approx(0.3 * 0.01)]


@pytest.mark.parametrize(
    "make, error",
    [
        (lambda o: optim.StepLR(o, step_size=0), ValueError),
        (lambda o: optim.StepLR(o, step_size=2, gamma=-0.1), ValueError),
        (lambda o: optim.ExponentialLR(o, gamma=float("nan")), ValueError),
        (lambda o: optim.CosineAnnealingLR(o, T_max=0), ValueError),
        (lambda o: optim.CosineAnnealingLR(o, T_max=3, eta_min=-1.0), ValueError),
        (lambda o: optim.StepLR(o, step_size=2, last_epoch=4), ValueError),
        (lambda o: optim.StepLR("not an optimizer", step_size=2), TypeError),
    ],
)
def test_scheduler_validation(make, error):
    with pytest.raises(error):
        make(optim.SGD([_w()], lr=0.1))


# --------------------------------------------------------------------------- bad gradients and bad saved state
@pytest.mark.parametrize(
    "bad, error, words",
    [
        ([1.0, 2.0], TypeError, "has a .grad that is a list of length 2"),
        (0.5, TypeError, "has a .grad that is float 0.5"),
        (np.array([1.0, 2.0]), TypeError, "has a .grad that is a numpy array of shape (2,)"),
        (tg.Tensor([1.0, 2.0, 3.0]), ValueError, "has a .grad of shape (3,)"),
    ],
    ids=["list", "float", "ndarray", "shape"],
)
@pytest.mark.parametrize("name", sorted(OPTIMIZERS))
def test_step_rejects_a_bad_gradient_by_parameter_and_updates_nothing(name, bad, error, words):
    spec = optimizer_row(name)
    w, b = tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([3.0, 4.0], requires_grad=True)
    opt = spec.cls([w, b], **spec.kwargs)
    w.grad = tg.Tensor([1.0, 1.0])
    b.grad = bad
    with pytest.raises(error) as info:
        opt.step()
    message = str(info.value)
    assert f"{spec.cls.__name__}.step(): parameter 1 (shape (2,))" in message and words in message
    if error is TypeError:
        assert "must be a Tensor (or None)" in message and "p.grad = tg.Tensor(values)" in message
    assert w.data.tolist() == [1.0, 2.0] and opt.state == {}  # checked before any update


def _stepped_adam(amsgrad=False):
    params = [tg.Tensor([1.0, 2.0], requires_grad=True), tg.Tensor([[1.0]], requires_grad=True)]
    opt = optim.Adam(params, lr=0.1, amsgrad=amsgrad)
    for p in params:
        p.grad = tg.Tensor(np.ones(p.shape))
    opt.step()
    return params, opt


def _without(mapping, key):
    return {k: v for k, v in mapping.items() if k != key}


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda s: s["state"][0].pop("exp_avg"), "the state of parameter 0 lacks ['exp_avg']"),
        (lambda s: s["state"][1].pop("step"), "the state of parameter 1 lacks ['step']"),
        (lambda s: s["state"][0].update(extra=1), "has unexpected ['extra']"),
        (lambda s: s["state"][0].update(step=-1), "state 'step' of parameter 0 must be a whole number ≥ 0"),
        (lambda s: s["state"][0].update(exp_avg=[1.0, 2.0, 3.0]), "state 'exp_avg' of parameter 0 has shape (3,)"),
        (lambda s: s["state"][0].update(exp_avg=np.array(["a", "b"])), "expected a float array of shape (2,)"),
        (lambda s: s["state"].update({5: {}}), "an entry for parameter index 5, but the saved param_groups list the indices [0, 1]"),
        (lambda s: s["state"].update({"w": {}}), "an entry for parameter index 'w'"),
        (lambda s: s["param_groups"][0].update(params=[0, 0]), "parameter index 0 is listed twice"),
        (lambda s: s["param_groups"][0].update(params=[0, "b"]), "item 1 of parameter group 0's 'params' is str 'b'"),
        (lambda s: s["param_groups"][0].update(params=7), "needs 'params', a list of parameter indices"),
        (lambda s: s.update(state=[]), "'state' must be a dict"),
        (lambda s: s["state"].update({0: None}), "the state of parameter 0 must be a dict"),
    ],
    ids=["missing-array", "missing-step", "unexpected", "negative-step", "wrong-shape", "strings",
         "bogus-index", "non-integer-key", "repeated-index", "string-index", "params-not-list",
         "state-not-dict", "entry-not-dict"],
)
def test_load_state_dict_validates_indices_and_state_and_changes_nothing(edit, words):
    _, source = _stepped_adam()
    saved = source.state_dict()
    edit(saved)
    params, opt = _stepped_adam()
    opt.param_groups[0]["lr"] = 0.5
    before = opt.state_dict()
    with pytest.raises(ValueError) as info:
        opt.load_state_dict(saved)
    assert words in str(info.value) and "Adam.load_state_dict" in str(info.value)
    after = opt.state_dict()
    assert after["param_groups"] == before["param_groups"]
    for k, entry in before["state"].items():
        for key, value in entry.items():
            np.testing.assert_array_equal(after["state"][k][key], value)
    for p in params:  # still usable
        p.grad = tg.Tensor(np.ones(p.shape))
    opt.step()


def test_load_state_dict_requires_amsgrad_state_and_accepts_json_style_keys():
    _, source = _stepped_adam(amsgrad=True)
    saved = source.state_dict()
    saved["state"][1] = _without(saved["state"][1], "max_exp_avg_sq")
    with pytest.raises(ValueError, match=r"parameter 1 lacks \['max_exp_avg_sq'\]"):
        _stepped_adam(amsgrad=True)[1].load_state_dict(saved)
    saved = source.state_dict()
    saved["state"] = {str(k): v for k, v in saved["state"].items()}  # as after a JSON round trip
    params, opt = _stepped_adam(amsgrad=True)
    opt.load_state_dict(saved)
    assert opt.state[params[0]]["step"] == 1 and isinstance(opt.state[params[0]]["step"], int)
    sgd = optim.SGD([tg.Tensor([1.0], requires_grad=True)], lr=0.1, momentum=0.9)
    sgd_saved = {"state": {0: {}}, "param_groups": sgd.state_dict()["param_groups"]}
    sgd.load_state_dict(sgd_saved)  # a parameter that has not stepped yet has an empty state
    with pytest.raises(ValueError, match=r"lacks \['momentum_buffer'\]"):
        sgd.load_state_dict({**sgd_saved, "state": {0: {"step": 1}}})


# --------------------------------------------------------------------------- the registry
def test_subclassing_fills_the_registry_with_names_presets_and_variants():
    assert {name: spec.cls for name, spec in OPTIMIZERS.items()} == {
        "sgd": optim.SGD, "adam": optim.Adam, "adamw": optim.AdamW, "rmsprop": optim.RMSprop, "adagrad": optim.Adagrad
    }
    assert optim.optimizer_names() == ["adagrad", "adam", "adamw", "momentum", "nesterov", "rmsprop", "sgd"]
    assert optim.resolve("SGD") == (optim.SGD, {})
    assert optim.resolve("nesterov") == (optim.SGD, {"momentum": 0.9, "nesterov": True})
    assert optim.resolve("adamw") == (optim.AdamW, {})
    for bad in ("adadelta", 3, None):
        with pytest.raises(ValueError, match=r"unknown optimizer .*; choose one of \['adagrad', 'adam', 'adamw', 'momentum'"):
            optim.resolve(bad)


def test_a_subclass_registers_itself_and_unregisters():
    with registries_restored():
        class Halving(optim.Optimizer, name="halving", test_kwargs={"lr": 0.5}, variants={"quarter": {"lr": 0.25}}):
            def __init__(self, params, lr=0.5):
                super().__init__(params, dict(lr=lr))

            def update(self, p, grad, state, group):
                self.write_parameter(p, p.data - group["lr"] * grad)

        class Unnamed(Halving):  # a subclass without name= is not registered
            pass

        assert OPTIMIZERS["halving"].cls is Halving and optimizer_row("halving").kwargs == {"lr": 0.5}
        assert Unnamed not in {spec.cls for spec in OPTIMIZERS.values()}
        assert optim.resolve("quarter") == (Halving, {"lr": 0.25})
        w = tg.Tensor([1.0], requires_grad=True)
        w.grad = tg.Tensor([1.0])
        Halving([w]).step()
        assert w.item() == 0.5
        with pytest.raises(ValueError, match="taken by Halving"):
            class Clash(optim.Optimizer, name="quarter", test_kwargs={}):
                pass
        with pytest.raises(TypeError, match="needs test_kwargs="):
            class NoPreset(optim.Optimizer, name="nopreset"):
                pass
        with pytest.raises(TypeError, match="need a name="):
            class NoName(optim.Optimizer, test_kwargs={"lr": 0.1}):
                pass
        with pytest.raises(ValueError, match="lower-case"):
            class Shouting(optim.Optimizer, name="LOUD", test_kwargs={}):
                pass
        assert optim.unregister_optimizer("halving").cls is Halving
        assert "quarter" not in optim.optimizer_names()
        with pytest.raises(ValueError, match="no optimizer is registered"):
            optim.unregister_optimizer("halving")
    assert set(OPTIMIZERS) == {"sgd", "adam", "adamw", "rmsprop", "adagrad"}


def test_the_extension_hooks_are_public():
    for hook in ("update", "check_group", "state_spec", "write_parameter"):
        assert hasattr(optim.Optimizer, hook)
    assert optim.SGD.update is not optim.Optimizer.update and optim.Adam.state_spec is not optim.Optimizer.state_spec
