"""nn: registration, Linear (values, initialisation, gradients), Sequential, activations,
modes, state_dict / save / load / pickle."""

import pickle

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import nn


def numeric_grad(f, arrays, eps=1e-6):
    """Central differences of the scalar f(*arrays) with respect to each array."""
    grads = []
    for a in arrays:
        g = np.zeros_like(a)
        for i in np.ndindex(a.shape):
            old = a[i]
            a[i] = old + eps
            hi = f(*arrays)
            a[i] = old - eps
            lo = f(*arrays)
            a[i] = old
            g[i] = (hi - lo) / (2 * eps)
        grads.append(g)
    return grads


class TwoLayer(nn.Module):
    def __init__(self):
        super().__init__()
        self.hidden = nn.Linear(2, 3, rng=0)
        self.scale = tg.Tensor([1.5], requires_grad=True)
        self.constant = tg.Tensor([2.0])  # no grad: a buffer (saved, never optimized)
        self.out = nn.Linear(3, 1, rng=1)

    def forward(self, x):
        return self.out(self.hidden(x).tanh() * self.scale) + self.constant


# --------------------------------------------------------------------------- registration
def test_parameters_registered_in_assignment_order_with_dotted_names():
    m = TwoLayer()
    names = [n for n, _ in m.named_parameters()]
    # as PyTorch: a module's own parameters first, then its children's, in assignment order
    assert names == ["scale", "hidden.weight", "hidden.bias", "out.weight", "out.bias"]
    assert [p is q for p, q in zip(m.parameters(), [m.scale, m.hidden.weight])] == [True, True]
    assert [n for n, _ in m.named_children()] == ["hidden", "out"]
    assert list(m.children()) == [m.hidden, m.out]
    assert [n for n, _ in m.named_modules()] == ["", "hidden", "out"]
    assert m.num_parameters() == 1 + 6 + 3 + 3 + 1


def test_sequential_names_are_indices():
    m = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Linear(4, 1, rng=1))
    assert list(m.state_dict()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert m[0].weight.shape == (4, 2) and m[2].bias.shape == (1,)


def test_non_grad_tensor_is_a_buffer_and_shared_parameter_listed_once():
    m = TwoLayer()
    assert "constant" not in dict(m.named_parameters())
    assert [n for n, _ in m.named_buffers()] == ["constant"] and list(m.buffers()) == [m.constant]
    assert list(m.state_dict())[:2] == ["scale", "constant"]
    shared = nn.Linear(2, 2, rng=0)
    model = nn.Sequential(shared, nn.Tanh(), shared)
    assert [n for n, _ in model.named_parameters()] == ["0.weight", "0.bias"]


def test_reassignment_rules():
    lin = nn.Linear(2, 2, rng=0)
    lin.weight = tg.zeros(2, 2)  # frozen replacement keeps its registration
    assert "weight" in dict(lin.named_parameters())
    with pytest.raises(TypeError, match="weight"):
        lin.weight = np.zeros((2, 2))
    lin.bias = None
    assert list(dict(lin.named_parameters())) == ["weight"]
    del lin.weight
    assert list(lin.parameters()) == []
    with pytest.raises(AttributeError, match="weight"):
        _ = lin.weight


def test_parameters_frozen_after_construction_stay_parameters_and_are_saved(tmp_path):
    lin = nn.Linear(2, 1, rng=0)
    lin.weight.requires_grad_(False)
    assert [n for n, _ in lin.named_parameters()] == ["weight", "bias"] and list(lin.buffers()) == []
    assert list(lin.state_dict()) == ["weight", "bias"]
    other = nn.Linear(2, 1, rng=1).requires_grad_(False)
    other.load(lin.save(tmp_path / "frozen"))
    np.testing.assert_array_equal(other.weight.numpy(), lin.weight.numpy())
    assert not other.weight.requires_grad and not other.bias.requires_grad


def test_module_without_super_init_still_registers():
    class Lazy(nn.Module):
        def __init__(self):
            self.w = tg.ones(3, requires_grad=True)

        def forward(self, x):
            return x * self.w

    m = Lazy()
    assert [n for n, _ in m.named_parameters()] == ["w"] and m.training


def test_forward_must_be_defined():
    with pytest.raises(NotImplementedError, match="forward"):
        nn.Module()(1.0)


# --------------------------------------------------------------------------- Linear
def test_linear_forward_matches_numpy_and_handles_1d_and_no_bias():
    rng = np.random.default_rng(0)
    lin = nn.Linear(3, 2, rng=5)
    x = rng.standard_normal((4, 3))
    np.testing.assert_allclose(lin(x).numpy(), x @ lin.weight.numpy().T + lin.bias.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lin(x[0]).numpy(), x[0] @ lin.weight.numpy().T + lin.bias.numpy())
    nb = nn.Linear(3, 2, bias=False, rng=5)
    assert nb.bias is None and len(list(nb.parameters())) == 1
    np.testing.assert_allclose(nb(tg.Tensor(x)).numpy(), x @ nb.weight.numpy().T)


def test_linear_initialisation_is_pytorch_uniform_and_seedable():
    lin = nn.Linear(100, 50, rng=0)
    bound = 1 / np.sqrt(100)
    for p in (lin.weight.numpy(), lin.bias.numpy()):
        assert np.all(np.abs(p) <= bound)
    w = lin.weight.numpy()
    assert w.max() > 0.95 * bound and w.min() < -0.95 * bound  # spans the whole interval
    assert abs(w.mean()) < 0.02 and abs(w.var() - bound**2 / 3) < 0.1 * bound**2 / 3
    same = nn.Linear(100, 50, rng=0)
    np.testing.assert_array_equal(same.weight.numpy(), w)
    np.testing.assert_array_equal(nn.Linear(100, 50, rng=np.random.default_rng(0)).weight.numpy(), w)
    assert not np.array_equal(nn.Linear(100, 50, rng=1).weight.numpy(), w)
    assert lin.weight.requires_grad and lin.bias.requires_grad and lin.weight.dtype == np.float64
    assert nn.Linear(2, 2, dtype=np.float32).weight.dtype == np.float32


def test_linear_gradients_match_hand_formulas_and_finite_differences():
    rng = np.random.default_rng(1)
    lin = nn.Linear(3, 2, rng=2)
    x = tg.Tensor(rng.standard_normal((5, 3)), requires_grad=True)
    upstream = rng.standard_normal((5, 2))  # random, never all-ones
    out = lin(x)
    out.backward(upstream)
    W = lin.weight.numpy()
    # y = x Wᵀ + b:  dL/dW = Gᵀ x,  dL/db = Σ_rows G,  dL/dx = G W
    np.testing.assert_allclose(lin.weight.grad.numpy(), upstream.T @ x.numpy(), rtol=1e-12)
    np.testing.assert_allclose(lin.bias.grad.numpy(), upstream.sum(axis=0), rtol=1e-12)
    np.testing.assert_allclose(x.grad.numpy(), upstream @ W, rtol=1e-12)

    def f(xa, wa, ba):
        return float(np.sum((xa @ wa.T + ba) * upstream))

    arrays = [x.numpy().copy(), W.copy(), lin.bias.numpy().copy()]
    num = numeric_grad(f, arrays)
    for analytic, numeric in zip([x.grad, lin.weight.grad, lin.bias.grad], num):
        np.testing.assert_allclose(analytic.numpy(), numeric, rtol=1e-6, atol=1e-8)


def test_linear_wrong_input_width_names_both_shapes():
    lin = nn.Linear(3, 2)
    with pytest.raises(ValueError) as info:
        lin(np.ones((5, 4)))
    msg = str(info.value)
    assert "(5, 4)" in msg and "(2, 3)" in msg and "3 features" in msg


@pytest.mark.parametrize("bad", [0, -1, 2.5, True])
def test_linear_rejects_bad_sizes(bad):
    with pytest.raises(ValueError, match="in_features"):
        nn.Linear(bad, 2)


def test_linear_takes_numpy_integer_sizes_and_seeds():
    lin = nn.Linear(np.int64(3), np.int32(2), rng=np.int64(4))
    assert lin.weight.shape == (2, 3)
    np.testing.assert_array_equal(lin.weight.numpy(), nn.Linear(3, 2, rng=4).weight.numpy())


def test_linear_rejects_bad_rng_and_dtype():
    with pytest.raises(TypeError, match="rng"):
        nn.Linear(2, 2, rng="seed")
    with pytest.raises(TypeError, match="rng must be a numpy Generator, an int seed or None, got bool"):
        nn.Linear(2, 2, rng=True)  # not seed 1: a bool is a typo
    with pytest.raises(TypeError, match="float dtype"):
        nn.Linear(2, 2, dtype=np.int64)


# --------------------------------------------------------------------------- Sequential / activations
def test_sequential_container_protocol():
    a, b, c = nn.Linear(2, 3, rng=0), nn.ReLU(), nn.Linear(3, 1, rng=1)
    m = nn.Sequential(a, b, c)
    assert len(m) == 3 and list(m) == [a, b, c] and m[-1] is c and m[1] is b
    head = m[:2]
    assert isinstance(head, nn.Sequential) and list(head) == [a, b]
    x = np.random.default_rng(0).standard_normal((4, 2))
    np.testing.assert_allclose(m(x).numpy(), c(b(a(x))).numpy())
    with pytest.raises(IndexError, match="out of range"):
        m[3]
    with pytest.raises(TypeError, match="Module"):
        nn.Sequential(nn.ReLU(), np.tanh)
    m.append(nn.Sigmoid())
    assert len(m) == 4 and "(3): Sigmoid()" in repr(m)


def test_activations_match_numpy():
    x = np.array([-3.0, -0.5, 0.0, 0.5, 3.0])
    np.testing.assert_allclose(nn.ReLU()(x).numpy(), np.maximum(x, 0))
    np.testing.assert_allclose(nn.Tanh()(x).numpy(), np.tanh(x))
    np.testing.assert_allclose(nn.Sigmoid()(x).numpy(), 1 / (1 + np.exp(-x)))
    np.testing.assert_allclose(nn.LeakyReLU(0.1)(x).numpy(), np.where(x > 0, x, 0.1 * x))
    np.testing.assert_allclose(nn.Softplus()(x).numpy(), np.log1p(np.exp(x)))
    np.testing.assert_allclose(nn.Softplus(beta=2.0)(x).numpy(), np.log1p(np.exp(2 * x)) / 2)
    assert nn.Identity()(x) is x


# --------------------------------------------------------------------------- modes / grads
def test_train_eval_recursive_and_zero_grad():
    m = TwoLayer()
    assert m.eval() is m and not m.training and not m.hidden.training
    assert m.train() is m and m.out.training
    loss = m(np.ones((2, 2))).sum()
    loss.backward()
    assert all(p.grad is not None for p in m.parameters())
    m.zero_grad(set_to_none=False)
    assert all(p.grad is not None and not np.any(p.grad.numpy()) for p in m.parameters())
    m.zero_grad()
    assert all(p.grad is None for p in m.parameters())
    m.requires_grad_(False)
    assert not any(p.requires_grad for p in m.parameters())


# --------------------------------------------------------------------------- state
def test_state_dict_is_a_copy_and_round_trips():
    src, dst = TwoLayer(), TwoLayer()
    dst.hidden = nn.Linear(2, 3, rng=7)
    state = src.state_dict()
    state["scale"][...] = 9.0  # editing the copy leaves the model alone
    assert src.scale.item() == 1.5
    state = src.state_dict()
    result = dst.load_state_dict(state)
    assert result.missing_keys == [] and result.unexpected_keys == []
    x = np.random.default_rng(0).standard_normal((4, 2))
    np.testing.assert_array_equal(dst(x).numpy(), src(x).numpy())
    state["out.bias"][...] = 123.0  # the loaded arrays are copies too
    assert dst.out.bias.item() != 123.0


def _snapshot(m):
    return {k: v.copy() for k, v in m.state_dict().items()}


@pytest.mark.parametrize(
    "edit, words",
    [
        (lambda s: s.pop("out.bias"), ["missing", "out.bias"]),
        (lambda s: s.__setitem__("extra.weight", np.zeros(2)), ["unexpected", "extra.weight"]),
        (lambda s: s.__setitem__("hidden.weight", np.zeros((2, 3))), ["hidden.weight", "(2, 3)", "(3, 2)"]),
        (lambda s: s.__setitem__("scale", np.array(["a"])), ["scale", "dtype"]),
        (lambda s: s.__setitem__("scale", np.array([1 + 2j])), ["scale", "complex"]),
    ],
)
def test_load_state_dict_rejects_bad_state_and_leaves_module_unchanged(edit, words):
    m = TwoLayer()
    before = _snapshot(m)
    state = {k: np.full_like(v, 0.25) for k, v in before.items()}
    edit(state)
    with pytest.raises(nn.StateDictError) as info:
        m.load_state_dict(state)
    for w in words:
        assert w in str(info.value)
    after = _snapshot(m)
    assert all(np.array_equal(before[k], after[k]) for k in before)


def test_load_state_dict_lists_all_problems_at_once():
    m = TwoLayer()
    state = m.state_dict()
    state.pop("scale")
    state["bogus"] = np.zeros(1)
    state["out.weight"] = np.zeros((3, 1))
    with pytest.raises(ValueError) as info:
        m.load_state_dict(state)
    msg = str(info.value)
    assert "missing keys ['scale']" in msg and "unexpected keys ['bogus']" in msg and "out.weight" in msg


def test_load_state_dict_non_strict_reports_but_never_accepts_bad_shapes():
    m = TwoLayer()
    state = {"scale": np.array([4.0]), "bogus": np.zeros(1)}
    result = m.load_state_dict(state, strict=False)
    assert m.scale.item() == 4.0
    assert result.unexpected_keys == ["bogus"] and "out.bias" in result.missing_keys
    with pytest.raises(nn.StateDictError, match="shape"):
        m.load_state_dict({"scale": np.zeros(2)}, strict=False)
    with pytest.raises(TypeError, match="mapping"):
        m.load_state_dict([("scale", np.ones(1))])


def test_load_state_dict_casts_within_kind():
    m = nn.Linear(2, 1, dtype=np.float32, rng=0)
    m.load_state_dict({"weight": np.array([[1.0, 2.0]]), "bias": np.array([3])})
    assert m.weight.dtype == np.float32 and m.bias.dtype == np.float32 and m.bias.item() == 3.0


def test_save_load_npz_round_trip(tmp_path):
    src = nn.Sequential(nn.Linear(2, 4, rng=0), nn.ReLU(), nn.Linear(4, 1, rng=1))
    written = src.save(tmp_path / "model")
    assert written == tmp_path / "model.npz" and written.exists()
    with np.load(written, allow_pickle=False) as archive:
        assert sorted(archive.files) == sorted(src.state_dict())
    dst = nn.Sequential(nn.Linear(2, 4, rng=5), nn.ReLU(), nn.Linear(4, 1, rng=6))
    assert dst.load(tmp_path / "model") is dst  # finds model.npz
    x = np.random.default_rng(0).standard_normal((3, 2))
    np.testing.assert_array_equal(dst(x).numpy(), src(x).numpy())
    other = nn.Sequential(nn.Linear(2, 5, rng=0), nn.ReLU(), nn.Linear(5, 1, rng=1))
    before = _snapshot(other)
    with pytest.raises(nn.StateDictError, match="0.weight"):
        other.load(written)
    assert all(np.array_equal(v, other.state_dict()[k]) for k, v in before.items())


def test_load_errors(tmp_path):
    with pytest.raises(FileNotFoundError, match="no saved model"):
        nn.Linear(2, 1).load(tmp_path / "absent.npz")
    junk = tmp_path / "junk.npz"
    junk.write_text("not an archive")
    with pytest.raises(nn.StateDictError, match="not a parameter file"):
        nn.Linear(2, 1).load(junk)


def test_pickle_round_trip():
    m = TwoLayer().eval()
    clone = pickle.loads(pickle.dumps(m))
    x = np.random.default_rng(3).standard_normal((4, 2))
    np.testing.assert_array_equal(clone(x).numpy(), m(x).numpy())
    assert [n for n, _ in clone.named_parameters()] == [n for n, _ in m.named_parameters()]
    assert all(p.requires_grad for p in clone.parameters()) and not clone.training
    assert clone.hidden.weight is not m.hidden.weight


def test_repr_shows_structure():
    m = nn.Sequential(nn.Linear(2, 3), nn.LeakyReLU(0.2))
    assert repr(m) == (
        "Sequential(\n  (0): Linear(in_features=2, out_features=3, bias=True)\n"
        "  (1): LeakyReLU(negative_slope=0.2)\n)"
    )
