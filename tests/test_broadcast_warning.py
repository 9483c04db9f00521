"""The broadcast-trap detector: an (n, 1) column against an (n,) vector into (n, n) warns once
per line of user code (tg.BroadcastWarning), naming the op, the shapes, the line and the fix;
explicit outer products, other broadcasts and the library's own ops never warn."""

from __future__ import annotations

import threading
import warnings

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import _broadcast_trap


@pytest.fixture(autouse=True)
def _fresh_sites():
    """Each test starts with no line already warned about (the detector warns once per line)."""
    _broadcast_trap._warned.clear()
    yield
    _broadcast_trap._warned.clear()


def _trap_warnings(fn, *args):
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        fn(*args)
    return [w for w in caught if issubclass(w.category, tg.BroadcastWarning)]


def _leaf(shape, seed=0):
    return tg.Tensor(np.random.default_rng(seed).normal(size=shape), requires_grad=True)


# One row per op that broadcasts: each call on its own line (the detector warns once per line).
OPS = {
    "Sub": lambda a, b: a - b,
    "Add": lambda a, b: a + b,
    "Mul": lambda a, b: a * b,
    "Div": lambda a, b: a / (b * b + 1.0),
    "Maximum": lambda a, b: tg.maximum(a, b),
}
# (shape of a, shape of b, warns?): the rule of docs/api.md.
SHAPES = [
    ((4, 1), (4,), True),  # the trap: pred (n, 1) - y (n,)
    ((3,), (3, 1), True),  # either order
    ((4, 1), (1, 4), False),  # an explicit outer product, a[:, None] with b[None, :]
    ((4, 3), (3,), False),  # a bias per column
    ((1, 4), (4,), False),  # stays (1, 4)
    ((4, 1), (), False),  # a scalar
    ((1, 1), (1,), False),  # n = 1: nothing is paired up
    ((4, 1), (3,), False),  # (4, 3) is not square: a different mistake, not this one
]


@pytest.mark.parametrize("op", list(OPS))
@pytest.mark.parametrize(("shape_a", "shape_b", "warns"), SHAPES)
def test_which_shape_pairs_warn(op, shape_a, shape_b, warns):
    if op == "Maximum" and not warns and shape_b == ():
        shape_b = (1,)  # maximum with a 0-d Tensor is the same broadcast
    a, b = _leaf(shape_a, 0), tg.Tensor(np.random.default_rng(1).normal(size=shape_b))
    caught = _trap_warnings(OPS[op], a, b)
    assert len(caught) == (1 if warns else 0)
    if warns:
        n = max(shape_a + shape_b)
        message = str(caught[0].message)
        assert message.startswith(f"{op} broadcast shapes {shape_a} and {shape_b} into ({n}, {n})")
        assert f"({n}, 1)" in message and f"({n},)" in message


def test_the_message_names_op_shapes_the_users_line_and_the_fix():
    X, y = np.arange(5.0).reshape(-1, 1), np.arange(5.0)
    w = tg.Tensor([[0.5]], requires_grad=True)

    def cost():
        return ((X @ w - y) ** 2).mean()  # the line the warning points at

    caught = _trap_warnings(cost)
    assert len(caught) == 1
    record, line = caught[0], cost.__code__.co_firstlineno + 1
    assert record.filename == __file__ and record.lineno == line
    message = str(record.message)
    for piece in ("Sub broadcast shapes (5, 1) and (5,) into (5, 5)", f"{__file__}:{line}",
                  "y.reshape(-1, 1)", "pred[:, 0]", "tg.allow_outer_broadcast()"):
        assert piece in message


def test_warns_once_per_line_in_forward_and_backward():
    X, y = np.ones((3, 1)), np.ones(3)
    w = tg.Tensor([[2.0]], requires_grad=True)

    def steps():
        for _ in range(4):
            ((X @ w - y) ** 2).mean().backward()

    assert len(_trap_warnings(steps)) == 1
    assert w.grad.shape == (1, 1)  # the warning changes nothing else


def test_fires_in_fit_compare_gradients_and_gradcheck():
    X, y = np.linspace(0, 1, 6).reshape(-1, 1), np.linspace(0, 2, 6)

    def bad_loss(w):
        return ((X @ w - y) ** 2).mean()

    w = _leaf((1, 1))
    assert len(_trap_warnings(lambda: tg.fit([w], lambda: bad_loss(w), lr=0.1, max_steps=3))) == 1
    _broadcast_trap._warned.clear()
    assert len(_trap_warnings(lambda: tg.compare_gradients(bad_loss, [np.zeros((1, 1))]))) == 1
    _broadcast_trap._warned.clear()
    assert len(_trap_warnings(lambda: tg.gradcheck(bad_loss, [_leaf((1, 1))]))) == 1


def test_allow_outer_broadcast_as_context_and_decorator():
    a, b = _leaf((3, 1)), _leaf((3,), 1)
    with tg.allow_outer_broadcast():
        with tg.allow_outer_broadcast():  # blocks nest
            pass
        assert _trap_warnings(OPS["Mul"], a, b) == []

    @tg.allow_outer_broadcast()
    def outer(u, v):
        return u * v

    @tg.allow_outer_broadcast
    def outer_bare(u, v):
        return u * v

    assert _trap_warnings(outer, a, b) == [] and _trap_warnings(outer_bare, a, b) == []
    assert outer(a, b).shape == (3, 3) and outer_bare.__name__ == "outer_bare"
    assert len(_trap_warnings(OPS["Mul"], a, b)) == 1  # and on again after


def test_silencing_is_per_thread():
    a, b = _leaf((3, 1)), _leaf((3,), 1)
    caught = []
    with tg.allow_outer_broadcast():
        thread = threading.Thread(target=lambda: caught.extend(_trap_warnings(OPS["Sub"], a, b)))
        thread.start()
        thread.join()
    assert len(caught) == 1


def test_a_warnings_filter_on_the_category():
    assert issubclass(tg.BroadcastWarning, UserWarning)
    a, b = _leaf((3, 1)), _leaf((3,), 1)
    with warnings.catch_warnings():
        warnings.simplefilter("error", tg.BroadcastWarning)
        with pytest.raises(tg.BroadcastWarning, match=r"\(3, 1\) and \(3,\)"):
            OPS["Sub"](a, b)
    _broadcast_trap._warned.clear()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        warnings.filterwarnings("ignore", category=tg.BroadcastWarning)
        OPS["Sub"](a, b)
    assert caught == []


def test_explicit_outer_products_do_not_warn():
    u, v = _leaf((4,)), _leaf((4,), 1)
    assert _trap_warnings(lambda: u[:, None] * v[None, :]) == []
    assert _trap_warnings(lambda: u.reshape(-1, 1) - v.reshape(1, -1)) == []


def test_the_librarys_own_ops_do_not_warn():
    # MatMul's backward under create_graph multiplies an (n, 1) by an (n,) for a square X.
    X, v = _leaf((3, 3)), _leaf((3,), 1)
    assert _trap_warnings(lambda: (X @ v).sum().backward(create_graph=True)) == []
    assert X.grad.shape == (3, 3)
    # a built-in loss refuses the trap with an error instead
    with pytest.raises(ValueError, match=r"\(4, 1\).*\(4,\)"):
        tg.losses.mse(_leaf((4, 1)), np.zeros(4))


def test_a_users_backward_rule_under_create_graph_warns():
    class Outer(tg.Function):
        """f(a) = a (identity), with a backward that makes an (n, n) by mistake"""

        def forward(self, a):
            return a.copy()

        def backward(self, g):
            return (g.reshape(-1, 1) * g).sum(axis=1)  # the user's own (n, 1) * (n,)

    a = _leaf((3,))
    assert len(_trap_warnings(lambda: Outer.apply(a).sum().backward(create_graph=True))) == 1
