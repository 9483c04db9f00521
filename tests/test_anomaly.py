"""Anomaly mode: the first op whose forward or backward makes NaN/inf raises a RuntimeError that
names the op, its input shapes and the user's file:line of the forward call. Off by default and
free when off; nested, decorator and switch forms restore the previous mode."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import _anomaly
from tinygrad_gd import losses as L

HERE = __file__


@pytest.fixture(autouse=True)
def _quiet_numpy():
    with np.errstate(all="ignore"):
        yield


def _next_line() -> int:
    """The line number just after the caller's line (where the op under test is written)."""
    return sys._getframe(1).f_lineno + 1


def _leaf(values, dtype=np.float64):
    return tg.Tensor(np.asarray(values, dtype=dtype), requires_grad=True)


# --------------------------------------------------------------------------- off by default
def test_off_by_default_nan_passes_silently():
    assert not tg.is_anomaly_enabled()
    x = _leaf([-1.0, 4.0])
    y = x.log()
    assert np.isnan(y.data[0])
    y.sum().backward()
    assert np.isfinite(x.grad.data).all()  # 1/x is finite: NaN only in the value


def test_free_when_off_no_stack_walk_and_no_location(monkeypatch):
    def boom() -> str:
        raise AssertionError("user_frame must not run outside anomaly mode")

    monkeypatch.setattr(_anomaly, "user_frame", boom)
    x = _leaf([1.0, 2.0])
    y = (x * 3.0).exp().sum()
    assert y._node.created_at is None
    y.backward()
    np.testing.assert_allclose(x.grad.data, 3.0 * np.exp(3.0 * x.data))


def test_the_engine_tells_anomaly_mode_which_rule_runs_and_clears_it_after():
    from tinygrad_gd import _modes

    seen = []

    class Spy(tg.Function):
        def forward(self, x):
            return x * 1.0

        def backward(self, g):
            seen.append(_modes.state.backward_node)
            return g * np.nan if self.poison else g

    x = _leaf([1.0])
    with tg.detect_anomaly():
        Spy.poison = False
        y = Spy.apply(x)
        y.sum().backward()
        assert seen == [y.grad_fn] and _modes.state.backward_node is None
        Spy.poison = True
        with pytest.raises(RuntimeError, match="Spy"):
            Spy.apply(x).sum().backward()
        assert _modes.state.backward_node is None  # cleared when a rule fails too
    Spy.poison = False
    Spy.apply(x).sum().backward()
    assert seen[-1] is None  # off: the engine does not even set it


# --------------------------------------------------------------------------- forward
def test_forward_names_op_shapes_and_line():
    x = _leaf(np.array([[1.0, -2.0, 3.0]]))
    with tg.detect_anomaly():
        y = x * 2.0
        line = _next_line()
        with pytest.raises(RuntimeError) as info:
            y.log()
    message = str(info.value)
    assert message.startswith("anomaly detected: Log")
    assert "forward" in message and "NaN" in message
    assert "(1, 3)" in message
    assert f"{HERE}:{line + 1}" in message  # the `y.log()` line (inside the with block)


def test_forward_inf_is_caught_too_and_names_both_input_shapes():
    a, b = _leaf([[1.0], [2.0]]), tg.Tensor([0.0, 1.0, 2.0])
    with tg.detect_anomaly(), pytest.raises(RuntimeError, match=r"Div.*\(2, 1\), \(3,\).*inf"):
        _ = a / b


def test_forward_the_first_bad_op_is_blamed_not_a_later_one():
    x = _leaf([-1.0, 1.0])
    with tg.detect_anomaly(), pytest.raises(RuntimeError, match=r"^anomaly detected: Sqrt"):
        ((x.sqrt() + 1.0).exp() * 2.0).sum()


def test_forward_input_already_nan_says_the_problem_is_upstream():
    data = tg.Tensor([np.nan, 1.0])  # bad data, not a bad op
    w = _leaf([2.0, 2.0])
    with tg.detect_anomaly(), pytest.raises(RuntimeError, match="upstream") as info:
        _ = data * w
    assert "Mul" in str(info.value)


def test_forward_through_a_library_function_names_the_users_line():
    pred = _leaf([1.0, 2.0])
    with tg.detect_anomaly():
        line = _next_line()
        with pytest.raises(RuntimeError) as info:
            L.mse(pred / 0.0, [1.0, 2.0])
    assert f"{HERE}:{line + 1}" in str(info.value)
    assert "Div" in str(info.value)


def test_float32_and_integer_results():
    x = _leaf([0.0, 1.0], dtype=np.float32)
    with tg.detect_anomaly():
        mask = x > 0.5  # bool result: never an anomaly
        assert mask.dtype == np.bool_
        with pytest.raises(RuntimeError, match="Log"):
            x.log()


# --------------------------------------------------------------------------- backward
def test_backward_names_op_input_index_shapes_and_forward_line():
    x = _leaf([[0.0, 4.0]])
    w = _leaf([3.0])
    with tg.detect_anomaly():
        line = _next_line()
        y = w * x.sqrt()  # sqrt(0) = 0 is fine; its derivative 1/(2·0) is not
        loss = y.sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward()
    message = str(info.value)
    assert message.startswith("anomaly detected: Sqrt")
    assert "backward" in message and "inf" in message
    assert "input 0" in message and "(1, 2)" in message
    assert f"{HERE}:{line}" in message


def test_backward_when_forward_ran_outside_anomaly_mode_explains_how_to_get_the_line():
    x = _leaf([0.0, 4.0])
    loss = x.sqrt().sum()
    with tg.detect_anomaly(), pytest.raises(RuntimeError) as info:
        loss.backward()
    message = str(info.value)
    assert "Sqrt" in message and "(2,)" in message  # shapes read from the graph
    assert "run the forward pass inside detect_anomaly()" in message


def test_backward_nan_upstream_gradient_is_reported_as_such():
    x = _leaf([1.0, 2.0])
    with tg.detect_anomaly():
        y = x * 2.0
        with pytest.raises(RuntimeError, match="upstream gradient"):
            y.backward(gradient=np.array([np.nan, 1.0]))
    assert x.grad is None


def test_backward_names_which_input_gradient_broke():
    c, d = _leaf([1.0]), _leaf([1e-300])
    with tg.detect_anomaly():
        q = c / d  # 1e300: finite
        with pytest.raises(RuntimeError, match=r"Div.*input 1"):
            q.sum().backward()  # dq/dc = 1/d is finite, dq/dd = -c/d² overflows


def test_create_graph_blames_the_backward_rule_not_the_backward_call():
    x = _leaf([0.0, 1.0])
    with tg.detect_anomaly():
        line = _next_line()
        loss = x.sqrt().sum()
        with pytest.raises(RuntimeError) as info:
            loss.backward(create_graph=True)
    message = str(info.value)
    assert "the backward pass of Sqrt" in message and "create_graph=True" in message
    assert f"{HERE}:{line}" in message


def test_anomaly_mode_gives_the_same_gradients_when_nothing_is_wrong():
    rng = np.random.default_rng(0)
    X, y = rng.normal(size=(8, 3)), rng.normal(size=(8, 1))
    grads = []
    for on in (False, True):
        model = tg.nn.Sequential(tg.nn.Linear(3, 4, rng=1), tg.nn.Tanh(), tg.nn.Linear(4, 1, rng=2))
        with tg.set_detect_anomaly(on):
            L.mse(model(X), y).backward()
        grads.append([p.grad.data.copy() for p in model.parameters()])
    for g_off, g_on in zip(*grads):
        np.testing.assert_array_equal(g_off, g_on)


# --------------------------------------------------------------------------- forms of the switch
def test_nested_contexts_restore_each_level_even_on_errors():
    assert not tg.is_anomaly_enabled()
    with tg.detect_anomaly():
        assert tg.is_anomaly_enabled()
        with tg.set_detect_anomaly(False):
            assert not tg.is_anomaly_enabled()
            _ = _leaf([-1.0]).log()  # off here: no error
            with tg.detect_anomaly():
                assert tg.is_anomaly_enabled()
            assert not tg.is_anomaly_enabled()
        assert tg.is_anomaly_enabled()
        with pytest.raises(RuntimeError):
            with tg.detect_anomaly():
                _leaf([-1.0]).log()
        assert tg.is_anomaly_enabled()
    assert not tg.is_anomaly_enabled()


def test_one_instance_reused_and_nested():
    mode = tg.detect_anomaly()
    with mode:
        with mode:
            assert tg.is_anomaly_enabled()
        assert tg.is_anomaly_enabled()
    assert not tg.is_anomaly_enabled()


def test_decorator_forms():
    @tg.detect_anomaly()
    def bad(x):
        assert tg.is_anomaly_enabled()
        return x.log()

    @tg.set_detect_anomaly(False)
    def quiet(x):
        assert not tg.is_anomaly_enabled()
        return x.log()

    assert not tg.is_anomaly_enabled()  # decorating switches nothing on
    with pytest.raises(RuntimeError, match="Log"):
        bad(_leaf([-1.0]))
    assert not tg.is_anomaly_enabled()
    with tg.detect_anomaly():
        assert np.isnan(quiet(_leaf([-1.0])).data[0])
        assert tg.is_anomaly_enabled()


def test_plain_call_switch_stays_until_switched_back():
    try:
        tg.set_detect_anomaly(True)
        assert tg.is_anomaly_enabled()
        with pytest.raises(RuntimeError, match="Log"):
            _leaf([-1.0]).log()
    finally:
        tg.set_detect_anomaly(False)
    assert not tg.is_anomaly_enabled()
    assert np.isnan(_leaf([-1.0]).log().data[0])
