"""The function transforms beyond DESIGN.md's first forms: argnums as lists, keyword arguments
passed through, jacobian and hessian over several arguments (and outputs), vjp and jvp, and
gradients with respect to containers (dicts/lists/tuples such as dict(model.named_parameters())),
against closed forms, finite differences and, when it is installed, PyTorch; and their errors."""

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import Tensor

RNG = np.random.default_rng(20240613)


def f_xy(x, y):
    """Σ x² y: d/dx = 2xy, d/dy = x²."""
    return (x * x * y).sum()


# --------------------------------------------------------------------------- argnums lists, kwargs
def f_scaled(x, y, *, scale, offset=0.0):
    """scale · Σ x² y + offset: keyword arguments reach f unchanged and are not differentiated."""
    return (x * x * y).sum() * scale + offset


X3, Y3, V3 = RNG.standard_normal(3), RNG.standard_normal(3), RNG.standard_normal(3)


def test_argnums_may_be_a_list_everywhere():
    gx, gy = tg.grad(f_xy, argnums=[0, 1])(X3, Y3)
    np.testing.assert_allclose(gx, 2 * X3 * Y3)
    np.testing.assert_allclose(gy, X3 * X3)
    value, grads = tg.value_and_grad(f_xy, argnums=[1])(X3, Y3)
    assert isinstance(grads, tuple) and len(grads) == 1
    np.testing.assert_allclose(grads[0], X3 * X3)
    jx, jy = tg.jacobian(lambda x, y: x * y, argnums=[0, 1])(X3, Y3)
    np.testing.assert_allclose(jx, np.diag(Y3))
    np.testing.assert_allclose(jy, np.diag(X3))
    (hxx, hxy), (hyx, hyy) = tg.hessian(f_xy, argnums=[0, 1])(X3, Y3)
    np.testing.assert_allclose(hxy, np.diag(2 * X3))
    np.testing.assert_allclose(hyy, np.zeros((3, 3)))


def test_keyword_arguments_are_passed_through_unchanged():
    kw = dict(scale=3.0, offset=np.float64(1.5))
    value, g = tg.value_and_grad(f_scaled)(X3, Y3, **kw)
    assert float(value) == pytest.approx(3.0 * np.sum(X3 * X3 * Y3) + 1.5)
    np.testing.assert_allclose(g, 6.0 * X3 * Y3)
    np.testing.assert_allclose(tg.grad(f_scaled, argnums=1)(X3, Y3, **kw), 3.0 * X3 * X3)
    np.testing.assert_allclose(tg.jacobian(lambda x, *, scale: x * scale)(X3, scale=2.0), 2.0 * np.eye(3))
    np.testing.assert_allclose(tg.hessian(f_scaled)(X3, Y3, **kw), np.diag(6.0 * Y3))
    np.testing.assert_allclose(tg.hvp(lambda x, *, w: (x**3 * w).sum(), X3, V3, w=Y3), 6.0 * X3 * Y3 * V3)
    _, vjp_fn = tg.vjp(lambda x, *, scale: x * scale, X3, scale=-2.0)
    np.testing.assert_allclose(vjp_fn(V3)[0], -2.0 * V3)
    np.testing.assert_allclose(tg.jvp(lambda x, *, scale: x * scale, X3, V3, scale=-2.0)[1], -2.0 * V3)
    np.testing.assert_allclose(tg.checkpoint(lambda x, *, scale: x * scale, Tensor(X3), scale=4.0).data, 4.0 * X3)
    seen = []
    tg.grad(lambda x, *, log: (log.append(type(x)) or x).sum())(X3, log=seen)  # any object, as given
    assert seen == [Tensor]


# --------------------------------------------------------------------------- several arguments
def f_two(x, W):
    """tanh(W x) * Σ x: a vector output of two arguments."""
    return (W @ x).tanh() * x.sum()


def test_jacobian_over_several_arguments_matches_finite_differences():
    x, W = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    jx, jw = tg.jacobian(f_two, argnums=(0, 1))(x, W)
    assert jx.shape == (2, 3) and jw.shape == (2, 2, 3)
    for k in range(2):
        nx, nw = tg.numerical_grad(lambda a, b, k=k: f_two(a, b)[k], [x, W])
        np.testing.assert_allclose(jx[k], nx, rtol=1e-6, atol=1e-9)
        np.testing.assert_allclose(jw[k], nw, rtol=1e-6, atol=1e-9)
    # several outputs: a tuple over outputs, each a tuple over argnums (outputs outside)
    (a, b), (c, d) = tg.jacobian(lambda x, W: (W @ x, x * 2.0), argnums=(0, 1))(x, W)
    np.testing.assert_allclose(a, W)
    np.testing.assert_allclose(b, np.einsum("ij,k->ijk", np.eye(2), x))
    np.testing.assert_allclose(c, 2.0 * np.eye(3))
    np.testing.assert_array_equal(d, np.zeros((3, 2, 3)))


def test_hessian_over_several_arguments_is_nested_blocks():
    x, W = RNG.standard_normal(3), RNG.standard_normal((2, 3))

    def f(x, W):
        return (f_two(x, W) ** 2).sum()

    H = tg.hessian(f, argnums=(0, 1))(x, W)
    assert [[b.shape for b in row] for row in H] == [[(3, 3), (3, 2, 3)], [(2, 3, 3), (2, 3, 2, 3)]]
    full = np.block([[H[0][0], H[0][1].reshape(3, 6)], [H[1][0].reshape(6, 3), H[1][1].reshape(6, 6)]])
    np.testing.assert_allclose(full, full.T, atol=1e-12)
    np.testing.assert_allclose(H[0][0], tg.hessian(f)(x, W))
    np.testing.assert_allclose(H[1][1], tg.hessian(f, argnums=1)(x, W))
    eps, step = 1e-6, np.zeros((2, 3))  # d/dW of grad_x, by central differences
    for i, j in np.ndindex(2, 3):
        step[i, j] = eps
        diff = tg.grad(f)(x, W + step) - tg.grad(f)(x, W - step)
        step[i, j] = 0.0
        np.testing.assert_allclose(H[0][1][:, i, j], diff / (2 * eps), rtol=1e-5, atol=1e-7)


def test_several_arguments_match_torch_autograd_functional():
    torch = pytest.importorskip("torch")
    x, W = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    tx, tW = torch.tensor(x), torch.tensor(W)
    ours = tg.jacobian(f_two, argnums=(0, 1))(x, W)
    theirs = torch.autograd.functional.jacobian(lambda a, b: torch.tanh(b @ a) * a.sum(), (tx, tW))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t.numpy(), rtol=1e-12, atol=1e-14)
    ours = tg.hessian(lambda a, b: (f_two(a, b) ** 2).sum(), argnums=(0, 1))(x, W)
    theirs = torch.autograd.functional.hessian(lambda a, b: ((torch.tanh(b @ a) * a.sum()) ** 2).sum(), (tx, tW))
    for o_row, t_row in zip(ours, theirs):
        for o, t in zip(o_row, t_row):
            np.testing.assert_allclose(o, t.numpy(), rtol=1e-10, atol=1e-12)


# --------------------------------------------------------------------------- vjp / jvp
def test_vjp_is_u_transpose_jacobian_for_each_primal_and_can_be_called_again():
    x, W = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    value, vjp_fn = tg.vjp(f_two, x, W)
    np.testing.assert_allclose(value, np.tanh(W @ x) * x.sum())
    jx, jw = tg.jacobian(f_two, argnums=(0, 1))(x, W)
    for u in (np.array([1.0, -2.0]), RNG.standard_normal(2)):
        gx, gw = vjp_fn(u)
        np.testing.assert_allclose(gx, u @ jx, atol=1e-12)
        np.testing.assert_allclose(gw, np.tensordot(u, jw, axes=1), atol=1e-12)
    (g,) = tg.vjp(lambda t: t.sum(), Tensor(x))[1](np.float64(2.0))  # a scalar output
    np.testing.assert_array_equal(g, np.full(3, 2.0))
    value, vjp_fn = tg.vjp(lambda t: {"double": t * 2.0, "sin": t.sin()}, x)  # a container output
    assert set(value) == {"double", "sin"}
    (g,) = vjp_fn({"double": np.ones(3), "sin": V3})
    np.testing.assert_allclose(g, 2.0 + np.cos(x) * V3)


def test_jvp_is_the_jacobian_times_the_tangents():
    x, W = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    vx, vw = RNG.standard_normal(3), RNG.standard_normal((2, 3))
    value, jv = tg.jvp(f_two, (x, W), (vx, vw))
    np.testing.assert_allclose(value, np.tanh(W @ x) * x.sum())
    jx, jw = tg.jacobian(f_two, argnums=(0, 1))(x, W)
    np.testing.assert_allclose(jv, jx @ vx + np.tensordot(jw, vw, axes=2), atol=1e-12)
    # one argument: a single array (or a Tensor) for primals and tangents
    value, jv = tg.jvp(lambda t: (t**2).sum() * t, Tensor(x), vx)
    np.testing.assert_allclose(jv, tg.jacobian(lambda t: (t**2).sum() * t)(x) @ vx, atol=1e-12)
    assert tg.jvp(lambda t: t.sum(), 2.0, 3.0)[1].shape == ()
    np.testing.assert_array_equal(tg.jvp(lambda t: Tensor([1.0, 2.0]), x, vx)[1], np.zeros(2))  # constant f
    np.testing.assert_allclose(tg.jvp(lambda t: t, x, vx)[1], vx)  # f returns its input
    _, (a, b) = tg.jvp(lambda t: (t * 3.0, t.sum()), (x,), (vx,))  # several outputs
    np.testing.assert_allclose(a, 3.0 * vx)
    assert float(b) == pytest.approx(vx.sum())


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # torch.func's forward mode scripts its rules
def test_jvp_and_vjp_match_torch_func():
    torch = pytest.importorskip("torch")
    x, W, vx, vw = RNG.standard_normal(3), RNG.standard_normal((2, 3)), RNG.standard_normal(3), RNG.standard_normal((2, 3))
    t_args = (torch.tensor(x), torch.tensor(W))

    def torch_f(a, b):
        return torch.tanh(b @ a) * a.sum()

    value, jv = tg.jvp(f_two, (x, W), (vx, vw))
    t_value, t_jv = torch.func.jvp(torch_f, t_args, (torch.tensor(vx), torch.tensor(vw)))
    np.testing.assert_allclose(value, t_value.numpy(), rtol=1e-14)
    np.testing.assert_allclose(jv, t_jv.numpy(), rtol=1e-12, atol=1e-14)
    u = RNG.standard_normal(2)
    ours = tg.vjp(f_two, x, W)[1](u)
    theirs = torch.func.vjp(torch_f, *t_args)[1](torch.tensor(u))
    for o, t in zip(ours, theirs):
        np.testing.assert_allclose(o, t.numpy(), rtol=1e-12, atol=1e-14)


# --------------------------------------------------------------------------- containers
def test_grad_of_a_dict_returns_the_same_dict_of_arrays():
    params = {"w": RNG.standard_normal(3), "b": Tensor(0.5)}
    g = tg.grad(lambda p, x: ((x @ p["w"] + p["b"]) ** 2).sum())(params, Tensor(np.eye(3)))
    assert type(g) is dict and list(g) == ["w", "b"]
    residual = params["w"] + 0.5
    np.testing.assert_allclose(g["w"], 2 * residual)
    assert g["b"].shape == () and float(g["b"]) == pytest.approx(2 * residual.sum())


def test_grad_of_lists_tuples_and_nested_containers():
    from collections import OrderedDict, namedtuple

    Pair = namedtuple("Pair", "a b")
    value = {"layers": [Pair(X3, Y3), (np.array(2.0),)], "scale": OrderedDict(s=[1.0, 2.0, 3.0])}

    def f(p):
        (first, (c,)), s = p["layers"], p["scale"]["s"]
        return (first.a * first.b * s).sum() * c

    g = tg.grad(f)(value)
    assert isinstance(g["layers"][0], Pair) and isinstance(g["layers"][1], tuple)
    assert type(g["scale"]) is OrderedDict and isinstance(g["scale"]["s"], np.ndarray)  # numbers: one array
    s = np.array([1.0, 2.0, 3.0])
    np.testing.assert_allclose(g["layers"][0].a, 2.0 * Y3 * s)
    np.testing.assert_allclose(g["layers"][0].b, 2.0 * X3 * s)
    assert float(g["layers"][1][0]) == pytest.approx(np.sum(X3 * Y3 * s))
    np.testing.assert_allclose(g["scale"]["s"], 2.0 * X3 * Y3)
    gl, gy = tg.grad(lambda xs, y: (xs[0] * xs[1] * y).sum(), argnums=(0, 1))([X3, Tensor(Y3)], Y3)
    assert isinstance(gl, list) and len(gl) == 2
    np.testing.assert_allclose(gl[0], Y3 * Y3)
    np.testing.assert_allclose(gy, X3 * Y3)


def test_grad_of_a_models_named_parameters_matches_backward():
    model = tg.nn.Sequential(tg.nn.Linear(3, 4, rng=0), tg.nn.Tanh(), tg.nn.Linear(4, 1, rng=1))
    params = dict(model.named_parameters())
    X = RNG.standard_normal((5, 3))

    def loss(p, X):
        hidden = (Tensor(X) @ p["0.weight"].T + p["0.bias"]).tanh()
        return ((hidden @ p["2.weight"].T + p["2.bias"]) ** 2).mean()

    g = tg.grad(loss)(params, X)
    assert list(g) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert all(p.grad is None for p in params.values())  # the model's tensors are untouched
    (model(Tensor(X)) ** 2).mean().backward()
    for name, p in params.items():
        assert type(g[name]) is np.ndarray and g[name].shape == p.shape
        np.testing.assert_allclose(g[name], p.grad.data, rtol=1e-12, atol=1e-15)


def test_jacobian_hessian_hvp_jvp_with_container_arguments():
    p = {"a": X3, "b": Y3}

    def f(p):
        return (p["a"] ** 2 * p["b"]).sum()

    J = tg.jacobian(lambda p: p["a"] * p["b"])(p)
    np.testing.assert_allclose(J["a"], np.diag(Y3))
    H = tg.hessian(f)(p)
    np.testing.assert_allclose(H["a"]["a"], np.diag(2 * Y3))
    np.testing.assert_allclose(H["a"]["b"], np.diag(2 * X3))
    np.testing.assert_array_equal(H["b"]["b"], np.zeros((3, 3)))
    v = {"a": V3, "b": np.ones(3)}
    Hv = tg.hvp(f, p, v)
    np.testing.assert_allclose(Hv["a"], 2 * Y3 * V3 + 2 * X3)
    np.testing.assert_allclose(Hv["b"], 2 * X3 * V3)
    _, jv = tg.jvp(f, p, v)
    assert float(jv) == pytest.approx(np.sum(2 * X3 * Y3 * V3 + X3**2))
    _, vjp_fn = tg.vjp(f, p)
    np.testing.assert_allclose(vjp_fn(1.0)[0]["b"], X3**2)


# --------------------------------------------------------------------------- errors of the new forms
def test_errors_name_the_argument_count_the_shapes_and_the_leaf():
    with pytest.raises(ValueError, match=r"argnums=\[0, 2\] is out of range for a call with 2 argument\(s\)"):
        tg.grad(f_xy, argnums=[0, 2])(X3, Y3)
    with pytest.raises(ValueError, match=r"argnums=\(5,\) is out of range for a call with 1 argument"):
        tg.hessian(lambda t: t.sum(), argnums=(5,))(X3)
    with pytest.raises(TypeError, match="argnums must be an int or a tuple/list of ints, got 0.5"):
        tg.jacobian(lambda t: t, argnums=0.5)(X3)
    with pytest.raises(ValueError, match=r"one-element output, this one returned shape \(3,\)"):
        tg.grad(lambda p: p["w"] * 2.0)({"w": X3})
    with pytest.raises(TypeError, match=r"grad needs a function that returns one Tensor, this one returned \(array, array\)"):
        tg.grad(lambda t: (t.sum(), t.sum()))(X3)
    with pytest.raises(TypeError, match=r"argument 0\['b'\]\[1\] is a str: .*Tensor, a numpy array or a number"):
        tg.grad(lambda p: p["w"].sum())({"w": X3, "b": [Y3, "bias"]})
    with pytest.raises(TypeError, match=r"argument 1\[0\] is a NoneType"):
        tg.grad(f_xy, argnums=1)(X3, [None])
    with pytest.raises(TypeError, match=r"argument 0\['n'\] has integer dtype int64"):
        tg.grad(lambda p: p["w"].sum())({"w": X3, "n": np.array([1, 2])})
    with pytest.raises(TypeError, match=r"must return a Tensor, it returned float at output\[1\]"):
        tg.jacobian(lambda t: (t, 1.0))(X3)


def test_errors_of_tangents_cotangents_and_v_name_both_shapes():
    with pytest.raises(ValueError, match=r"jvp: tangent 1 has shape \(2,\) but primal 1 has shape \(3,\)"):
        tg.jvp(f_xy, (X3, Y3), (V3, np.ones(2)))
    with pytest.raises(ValueError, match=r"jvp: 2 primal\(s\) but 1 tangent\(s\)"):
        tg.jvp(f_xy, (X3, Y3), (V3,))
    with pytest.raises(ValueError, match=r"the tangents must have the structure of the primals: expected \(\{'a': array\},\), got \(array,\)"):
        tg.jvp(lambda p: p["a"], {"a": X3}, V3)
    _, vjp_fn = tg.vjp(lambda t: t * 2.0, X3)
    with pytest.raises(ValueError, match=r"vjp: cotangent has shape \(2,\) but the output has shape \(3,\)"):
        vjp_fn(np.ones(2))
    with pytest.raises(ValueError, match=r"hvp: v\['b'\] has shape \(1,\) but x\['b'\] has shape \(3,\)"):
        tg.hvp(lambda p: (p["a"] * p["b"]).sum(), {"a": X3, "b": Y3}, {"a": V3, "b": np.ones(1)})
    with pytest.raises(TypeError, match="vjp needs at least one primal"):
        tg.vjp(lambda: Tensor(1.0))
