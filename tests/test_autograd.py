"""The backward pass (issue 2 item 4): deep graphs, accumulation, which tensors keep .grad,
reuse and diamonds, releasing the graph, seeds, grad mode (per thread), detach, anomaly mode,
and a failed backward changing nothing."""

import gc
import threading
import weakref

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import Tensor


def _leaf(values):
    return Tensor(values, requires_grad=True)


# --------------------------------------------------------------------------- depth
def test_a_chain_of_a_million_ops_backpropagates():
    # micrograd-style recursive topological sorts die near 1,000 nodes; the pass is a loop.
    x = _leaf(0.5)
    y = x
    n = 1_000_001
    for i in range(n):
        y = -y if i % 1000 else y * 1.001  # every 1000th op a multiplication: its grad shows
    y.backward()
    multiplications = (n + 999) // 1000
    expected = (-1.0) ** (n - multiplications) * 1.001**multiplications
    np.testing.assert_allclose(x.grad.item(), expected, rtol=1e-9)
    np.testing.assert_allclose(y.item(), 0.5 * expected, rtol=1e-9)


# --------------------------------------------------------------------------- accumulation
def test_gradients_accumulate_across_backward_calls_until_zeroed():
    w = _leaf([1.0, -2.0])
    (w * w).sum().backward()
    (3.0 * w).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), 2 * np.array([1.0, -2.0]) + 3.0)
    grad_object = w.grad
    (w * 1.0).sum().backward()
    assert w.grad is grad_object  # accumulated into the existing .grad
    w.grad = None
    (w * 5.0).sum().backward()
    np.testing.assert_allclose(w.grad.numpy(), [5.0, 5.0])


def test_only_leaves_keep_grad_unless_retain_grad():
    x = _leaf([1.0, 2.0])
    hidden = x * 2.0
    kept = hidden.exp()
    kept.retain_grad()
    out = (kept * 3.0).sum()
    out.backward()
    with pytest.warns(UserWarning, match="not a leaf"):  # as PyTorch warns
        assert hidden.grad is None and out.grad is None
    np.testing.assert_allclose(kept.grad.numpy(), [3.0, 3.0])
    np.testing.assert_allclose(x.grad.numpy(), 3.0 * np.exp(2 * x.numpy()) * 2.0)


def test_retained_grads_accumulate_like_leaves():
    x = _leaf([1.0, 2.0])
    y = x * 2.0
    y.retain_grad()
    z = (y * y).sum()
    z.backward(retain_graph=True)
    z.backward()
    np.testing.assert_allclose(y.grad.numpy(), 2 * (2 * y.numpy()))
    np.testing.assert_allclose(x.grad.numpy(), 2 * (8 * x.numpy()))


def test_root_that_retains_grad_gets_the_seed():
    x = _leaf([1.0, 2.0])
    y = (x * x).sum()
    y.retain_grad()
    y.backward()
    assert y.grad.item() == 1.0


def test_backward_on_a_leaf_sets_its_grad_to_the_gradient():
    x = _leaf([1.0, 2.0])
    x.backward(gradient=np.array([0.5, -1.0]))
    np.testing.assert_array_equal(x.grad.numpy(), [0.5, -1.0])


# --------------------------------------------------------------------------- reuse
def test_one_tensor_used_many_times_gets_the_exact_sum():
    x = _leaf([0.5, -1.5])
    xv = x.numpy().copy()
    out = x * x * x + x / x + (x - x) + x + x
    out.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 3 * xv**2 + 0.0 + 0.0 + 2.0)


def test_a_node_reused_by_several_consumers():
    x = _leaf([0.3, 1.2])
    y = x.exp()
    (y + y + y * y + y.sin()).sum().backward()
    e = np.exp(x.numpy())
    np.testing.assert_allclose(x.grad.numpy(), (2 + 2 * e + np.cos(e)) * e)


def test_diamond():
    x = _leaf([0.7, -0.4])
    a = x * 2.0
    b = a.exp()
    c = a.sin()
    d = (b * c).sum()
    d.backward()
    av = 2 * x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), 2 * (np.exp(av) * np.sin(av) + np.exp(av) * np.cos(av)))


def test_nested_diamonds_and_a_deep_shared_prefix():
    x = _leaf(0.1)
    y = x
    for _ in range(50):
        y = y * 0.5 + y.sin() * 0.5  # each layer is a diamond over the previous one
    y.backward()
    v, g = 0.1, 1.0
    for _ in range(50):
        g *= 0.5 + 0.5 * np.cos(v)
        v = 0.5 * v + 0.5 * np.sin(v)
    np.testing.assert_allclose(y.item(), v)
    np.testing.assert_allclose(x.grad.item(), g)


def test_constants_and_tensors_without_grad_get_nothing():
    x, c = _leaf([1.0, 2.0]), Tensor([3.0, 4.0])
    (x * c + c).sum().backward()
    assert c.grad is None
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 4.0])


# --------------------------------------------------------------------------- release
def test_second_backward_raises_and_says_retain_graph():
    x = _leaf([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward()
    first = x.grad.numpy().copy()
    with pytest.raises(RuntimeError, match=r"retain_graph=True"):
        loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), first)


def test_saved_arrays_are_released_after_backward():
    x = _leaf([1.0, 2.0])
    e = x.exp()
    node = e.grad_fn
    assert node.saved  # exp saved its output
    data = weakref.ref(e.data)
    loss = e.sin().sum()  # sin saves its input: e's array
    del e
    gc.collect()
    assert data() is not None
    loss.backward()
    assert node.saved == ()
    gc.collect()
    assert data() is None  # nothing keeps the intermediate array alive any more


def test_retain_graph_allows_another_backward():
    x = _leaf([1.0, 2.0])
    loss = (x.exp() * x).sum()
    loss.backward(retain_graph=True)
    loss.backward(retain_graph=True)
    loss.backward()
    xv = x.numpy()
    np.testing.assert_allclose(x.grad.numpy(), 3 * (np.exp(xv) * xv + np.exp(xv)))
    with pytest.raises(RuntimeError, match="retain_graph"):
        loss.backward()


def test_a_graph_that_shares_released_nodes_raises():
    x = _leaf([1.0, 2.0])
    shared = x.exp()
    shared.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        (shared * 2.0).sum().backward()


# --------------------------------------------------------------------------- seeds
def test_backward_on_a_non_scalar_needs_gradient():
    x = _leaf([[1.0, 2.0], [3.0, 4.0]])
    y = x * 2.0
    with pytest.raises(RuntimeError, match=r"one-element.*\(2, 2\)") as info:
        y.backward()
    assert "gradient=" in str(info.value) and "sum()" in str(info.value)
    assert x.grad is None


@pytest.mark.parametrize("bad", [np.ones(2), np.ones((2, 2, 1)), [1.0, 2.0, 3.0, 4.0], np.ones((1, 4))])
def test_backward_with_a_wrongly_shaped_gradient_names_both_shapes(bad):
    x = _leaf([[1.0, 2.0], [3.0, 4.0]])
    with pytest.raises(RuntimeError, match=r"\(2, 2\)") as info:
        (x * 2.0).backward(gradient=bad)
    assert str(np.shape(bad)) in str(info.value)


@pytest.mark.parametrize("gradient", [np.array([[1.0, -1.0]]), [[1.0, -1.0]], Tensor([[1.0, -1.0]])], ids=["array", "list", "tensor"])
def test_backward_accepts_arrays_lists_and_tensors_as_gradient(gradient):
    x = _leaf([[2.0, 3.0]])
    (x * x).backward(gradient=gradient)
    np.testing.assert_array_equal(x.grad.numpy(), [[4.0, -6.0]])


def test_one_element_outputs_of_any_rank_need_no_gradient():
    x = _leaf([[2.0]])
    (x * 3.0).backward()
    np.testing.assert_array_equal(x.grad.numpy(), [[3.0]])


def test_float32_root_with_a_float64_gradient():
    x = Tensor(np.array([1.0, 2.0], dtype=np.float32), requires_grad=True)
    (x * 2.0).backward(gradient=np.array([1.0, 0.5]))
    assert x.grad.dtype == np.float32
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 1.0])


def test_backward_of_something_that_needs_no_grad_raises():
    with pytest.raises(RuntimeError, match="requires_grad=True"):
        (Tensor([1.0]) * 2.0).sum().backward()
    x = _leaf([1.0])
    with tg.no_grad():
        y = (x * 2.0).sum()
    with pytest.raises(RuntimeError, match="does not require grad"):
        y.backward()


# --------------------------------------------------------------------------- grad mode
def test_no_grad_context_manager_stops_recording():
    x = _leaf([1.0])
    assert tg.is_grad_enabled()
    with tg.no_grad():
        assert not tg.is_grad_enabled()
        y = x * 2.0
        assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    assert tg.is_grad_enabled()
    assert (x * 2.0).requires_grad


def test_modes_nest_and_restore_even_after_exceptions():
    with tg.no_grad():
        with tg.enable_grad():
            assert tg.is_grad_enabled()
            assert (_leaf([1.0]) * 2.0).requires_grad
            with tg.no_grad():
                assert not tg.is_grad_enabled()
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
        with tg.set_grad_enabled(True):
            assert tg.is_grad_enabled()
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()
    with pytest.raises(ValueError), tg.no_grad():
        raise ValueError
    assert tg.is_grad_enabled()
    with tg.set_grad_enabled(False):
        assert not tg.is_grad_enabled()
    assert tg.is_grad_enabled()


def test_modes_as_decorators():
    @tg.no_grad()
    def evaluate(x):
        """evaluate docstring"""
        return x * 2.0, tg.is_grad_enabled()

    @tg.enable_grad()
    def train_step(x):
        return x * 2.0

    @tg.set_grad_enabled(False)
    def frozen(x):
        return x * 2.0

    assert tg.is_grad_enabled()  # building the decorators changed nothing
    x = _leaf([1.0])
    y, enabled = evaluate(x)
    assert not enabled and not y.requires_grad
    assert evaluate.__name__ == "evaluate" and evaluate.__doc__ == "evaluate docstring"
    with tg.no_grad():
        assert train_step(x).requires_grad
        assert not tg.is_grad_enabled()
    assert not frozen(x).requires_grad
    assert tg.is_grad_enabled()
    # a decorator is reusable and reentrant
    assert not evaluate(evaluate(x)[0])[0].requires_grad


def test_set_grad_enabled_as_a_plain_call_switches_until_switched_back():
    try:
        tg.set_grad_enabled(False)
        assert not tg.is_grad_enabled()
        assert not (_leaf([1.0]) * 2.0).requires_grad
        tg.set_grad_enabled(True)
        assert tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)


def test_one_set_grad_enabled_switch_reused_as_a_context_restores_each_time():
    switch = tg.set_grad_enabled(False)  # a plain call switches at once
    try:
        assert not tg.is_grad_enabled()
        with switch:  # restores what was there before the call
            assert not tg.is_grad_enabled()
        assert tg.is_grad_enabled()
        with switch:
            assert not tg.is_grad_enabled()
        assert tg.is_grad_enabled()
    finally:
        tg.set_grad_enabled(True)


def test_bump_version_is_what_every_in_place_writer_calls():
    # The engine's one function for "this tensor's memory was written in place" (the
    # optimizers' step uses it): a backward that saved the old values then raises.
    x = _leaf([1.0, 2.0])
    y = (x * x).sum()
    assert x.is_leaf and not y.is_leaf
    tg.autograd.bump_version(x)
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        y.backward()


def test_backward_works_inside_no_grad():
    x = _leaf([1.0, 2.0])
    loss = (x * x).sum()
    with tg.no_grad():
        loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [2.0, 4.0])


def test_grad_mode_is_per_thread():
    inside = threading.Event()
    checked = threading.Event()
    seen = {}

    def worker_in_no_grad():
        with tg.no_grad():
            inside.set()
            checked.wait(5)
            seen["worker"] = tg.is_grad_enabled()
            seen["worker_records"] = (_leaf([1.0]) * 2.0).requires_grad

    thread = threading.Thread(target=worker_in_no_grad)
    thread.start()
    inside.wait(5)
    seen["main"] = tg.is_grad_enabled()  # another thread's no_grad does not reach us
    seen["main_records"] = (_leaf([1.0]) * 2.0).requires_grad
    checked.set()
    thread.join(5)
    assert seen == {"main": True, "main_records": True, "worker": False, "worker_records": False}

    # and a thread started from inside no_grad begins with grad mode on, as PyTorch
    result = {}
    with tg.no_grad():
        t = threading.Thread(target=lambda: result.setdefault("enabled", tg.is_grad_enabled()))
        t.start()
        t.join(5)
    assert result == {"enabled": True}


def test_detach_stops_the_gradient():
    x = _leaf([1.0, 3.0])
    (x * x.detach()).sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), [1.0, 3.0])  # not 2x


# --------------------------------------------------------------------------- anomaly mode
def test_anomaly_mode_names_the_op_that_made_nan_in_forward():
    x = _leaf([-1.0, 2.0])
    with np.errstate(all="ignore"):
        with tg.detect_anomaly():
            assert tg.is_anomaly_enabled()
            y = x * 2.0  # fine
            with pytest.raises(RuntimeError, match=r"Log.*forward") as info:
                y.log()
        assert not tg.is_anomaly_enabled()
        assert np.isnan(y.log().numpy()[0])  # outside anomaly mode: plain NaN, no error
    assert "test_autograd.py" in str(info.value)  # where the op was created
    assert "(2,)" in str(info.value)


def test_anomaly_mode_names_the_op_that_made_nan_in_backward():
    x = _leaf([0.0, 4.0])
    with np.errstate(all="ignore"):
        with tg.detect_anomaly():
            y = x.sqrt()  # sqrt(0) = 0 is fine; its derivative 1/(2·0) is not
            loss = (y * 3.0).sum()
            with pytest.raises(RuntimeError, match=r"Sqrt.*backward"):
                loss.backward()
    assert x.grad is None
    with np.errstate(all="ignore"):
        z = x.sqrt().sum()
        z.backward()  # without anomaly mode: inf, as PyTorch
    assert x.grad.numpy()[0] == np.inf


def test_anomaly_mode_as_decorator_and_switch():
    @tg.detect_anomaly()
    def divide(a, b):
        return a / b

    with np.errstate(all="ignore"):
        with pytest.raises(RuntimeError, match="Div"):
            divide(_leaf([1.0]), Tensor([0.0]))
        assert not tg.is_anomaly_enabled()
        with tg.set_detect_anomaly(True):
            assert tg.is_anomaly_enabled()
        with tg.set_detect_anomaly(False):
            assert not tg.is_anomaly_enabled()
    try:
        tg.set_detect_anomaly(True)
        assert tg.is_anomaly_enabled()
    finally:
        tg.set_detect_anomaly(False)
    assert not tg.is_anomaly_enabled()


# --------------------------------------------------------------------------- extension
class Cube(tg.Function):
    """f(x) = x³;  f'(x) = 3x² — a user-defined primitive (deliberately not registered)."""

    def forward(self, x, scale=1.0):
        self.scale = scale
        self.save_for_backward(x)
        return scale * x**3

    def backward(self, g):
        (x,) = self.saved
        assert list(self.needs_input_grad) == [True]
        return g * 3.0 * self.scale * x * x  # operators only: also runs on Tensors


def test_a_user_defined_function_gets_first_and_second_derivatives():
    x = _leaf([0.5, -2.0])
    y = Cube.apply(x, scale=2.0)
    assert type(y) is Tensor and y.grad_fn.name == "Cube"
    np.testing.assert_allclose(y.numpy(), 2 * np.array([0.125, -8.0]))
    y.sum().backward(create_graph=True)
    g = x.grad
    np.testing.assert_allclose(g.numpy(), 6 * np.array([0.25, 4.0]))
    x.grad = None
    g.sum().backward()
    np.testing.assert_allclose(x.grad.numpy(), 12 * np.array([0.5, -2.0]))
    with tg.no_grad():
        assert not Cube.apply(x).requires_grad
    with pytest.raises(TypeError, match="Tensor"):
        Cube.apply(np.array([1.0]))


# --------------------------------------------------------------------------- failure
def test_a_failed_backward_leaves_every_grad_unchanged():
    x, w = _leaf([1.0, 2.0]), _leaf([0.5, 0.5])
    (x * w).sum().backward()
    x_before, w_before = x.grad.numpy().copy(), w.grad.numpy().copy()
    c = Tensor([3.0, 4.0])
    hidden = x.exp()
    hidden.retain_grad()
    # The exp/w branch is processed before the bad node is reached, or after: either way no
    # leaf may have been touched when the error surfaces.
    loss = (hidden * w).sum() + (x * c).sum() + (w * w).sum()
    c += 1.0  # invalidates the value mul saved
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), x_before)
    np.testing.assert_array_equal(w.grad.numpy(), w_before)
    assert hidden.grad is None


def test_a_failed_backward_in_anomaly_mode_leaves_grads_unchanged():
    x = _leaf([0.0, 1.0])
    x.grad = Tensor([7.0, 7.0])
    with np.errstate(all="ignore"), tg.detect_anomaly():
        loss = x.sqrt().sum() + (x * 2.0).sum()
        with pytest.raises(RuntimeError, match="Sqrt"):
            loss.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [7.0, 7.0])
