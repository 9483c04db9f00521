"""Memory and lifetime: a long training run leaves no growth in live Tensors, graph nodes or
traced memory (graphs and saved arrays are released every step, without waiting for the
cycle collector); a backward that fails leaves every ``.grad`` exactly as it was."""

from __future__ import annotations

import gc
import tracemalloc
import weakref
from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import autograd
from tinygrad_gd import losses as L

TOTAL_STEPS = 10_000
WARM_UP = 1_000  # caches, optimizer state and allocator pools settle
TRACED = 1_000  # steps measured under tracemalloc (it slows allocation ~7x, so not all of them)
MEMORY_SLACK = 32 * 1024  # bytes: noise from interpreter caches; one leaked array per step is far more


def _live_graph_objects() -> tuple[int, int]:
    gc.collect()
    tensors = functions = 0
    for o in gc.get_objects():
        kind = type(o)  # not isinstance: some objects (in other libraries) warn on __class__
        if issubclass(kind, tg.Tensor):
            tensors += 1
        elif issubclass(kind, autograd.Function):
            functions += 1
    return tensors, functions


def _small_model_step(seed: int = 0) -> Callable[[], float]:
    rng = np.random.default_rng(seed)
    X = tg.Tensor(rng.normal(size=(16, 3)))
    y = rng.normal(size=(16, 1))
    model = tg.nn.Sequential(tg.nn.Linear(3, 8, rng=0), tg.nn.Tanh(), tg.nn.Linear(8, 1, rng=1))
    optimizer = tg.optim.Adam(model.parameters(), lr=1e-3)

    def step() -> float:
        optimizer.zero_grad()
        loss = L.mse(model(X), y)
        loss.backward()
        optimizer.step()
        return loss.item()

    step.model = model  # type: ignore[attr-defined]
    return step


def _measure(step: Callable[[], object], warm_up: int, traced: int, untraced: int) -> tuple[tuple[int, int], int]:
    """(growth in live (tensors, functions) after warm-up, traced memory growth in bytes)."""
    for _ in range(warm_up):
        step()
    before = _live_graph_objects()
    tracemalloc.start()
    try:
        for _ in range(50):  # let tracemalloc's own bookkeeping settle
            step()
        gc.collect()
        start_bytes = tracemalloc.get_traced_memory()[0]
        for _ in range(traced):
            step()
        gc.collect()
        grown_bytes = tracemalloc.get_traced_memory()[0] - start_bytes
    finally:
        tracemalloc.stop()
    for _ in range(untraced):
        step()
    after = _live_graph_objects()
    return (after[0] - before[0], after[1] - before[1]), grown_bytes


def test_ten_thousand_training_steps_leave_no_growth():
    step = _small_model_step()
    untraced = TOTAL_STEPS - WARM_UP - 50 - TRACED
    (tensors, functions), grown = _measure(step, WARM_UP, TRACED, untraced)
    assert tensors == 0 and functions == 0, f"{tensors} Tensors and {functions} graph nodes leaked"
    assert grown < MEMORY_SLACK, f"traced memory grew by {grown} bytes over {TRACED} steps"
    for p in step.model.parameters():  # type: ignore[attr-defined]
        assert p.grad is not None and p.grad._node is None and not p.grad.requires_grad


def test_the_measurement_sees_a_leak():
    """The check above can fail: a loop that keeps each step's loss (and so its graph) leaks."""
    inner = _small_model_step()
    kept = []

    def leaky() -> None:
        inner()
        kept.append(tg.Tensor(np.zeros(4), requires_grad=True) * 2.0)  # a tensor and its node

    (tensors, functions), grown = _measure(leaky, 10, 200, 100)
    assert tensors >= 300 and functions >= 300
    assert grown > MEMORY_SLACK


def test_create_graph_steps_leave_no_growth_once_grads_are_cleared():
    w = tg.Tensor(np.linspace(-1.0, 1.0, 5), requires_grad=True)

    def step() -> None:
        (g,) = tg.autograd.grad((w**3).sum(), [w], create_graph=True)
        penalty = (g * g).sum()  # a gradient penalty: differentiate through the gradient
        penalty.backward()
        w.grad = None

    (tensors, functions), grown = _measure(step, 100, 300, 0)
    assert (tensors, functions) == (0, 0)
    assert grown < MEMORY_SLACK


def test_a_step_graph_is_freed_by_reference_counting_alone():
    """No reference cycles: dropping the loss frees its graph at once, even with gc disabled."""
    step = _small_model_step()
    model = step.model  # type: ignore[attr-defined]
    X = tg.Tensor(np.ones((4, 3)))
    gc.disable()
    try:
        hidden = model[0](X)
        loss = L.mse(model[2](model[1](hidden)), np.zeros((4, 1)))
        nodes = []
        stack = [loss._node]
        while stack:
            node = stack.pop()
            if isinstance(node, autograd.Function):
                nodes.append(weakref.ref(node))
                stack.extend(node.edges)
        out_ref = weakref.ref(hidden)
        loss.backward()
        for ref in nodes:
            assert ref().saved == ()  # saved arrays released by backward
        del loss, hidden, node, stack
        assert out_ref() is None
        assert all(ref() is None for ref in nodes)
    finally:
        gc.enable()


def test_backward_releases_saved_arrays_immediately():
    x = tg.Tensor(np.ones(1000), requires_grad=True)
    y = x.exp()
    node = y._node
    assert node.saved and node.saved[0].nbytes == 8000
    y.sum().backward()
    assert node.saved == ()


# --------------------------------------------------------------------------- what a node keeps
def _graph_nodes(out: tg.Tensor) -> list[autograd.Function]:
    nodes, seen, stack = [], set(), [out._node]
    while stack:
        node = stack.pop()
        if isinstance(node, autograd.Function) and id(node) not in seen:
            seen.add(id(node))
            nodes.append(node)
            stack.extend(node.edges)
    return nodes


def _arrays_in(value: object, path: str) -> list[str]:
    """Where ``value`` holds numpy arrays (looking into tuples, lists and dicts; not into
    tensors, which the graph reaches only as leaves or saved inputs)."""
    if isinstance(value, np.ndarray):
        return [f"{path}: array of shape {value.shape}"]
    if isinstance(value, (tuple, list)):
        return [hit for i, v in enumerate(value) for hit in _arrays_in(v, f"{path}[{i}]")]
    if isinstance(value, dict):
        return [hit for k, v in value.items() for hit in _arrays_in(v, f"{path}[{k!r}]")]
    return []


def _node_state(node: autograd.Function, with_saved: bool) -> dict[str, object]:
    """A node's own state: its attributes and slots, without its edges to other nodes."""
    state = dict(getattr(node, "__dict__", {}))
    for slot in autograd.Function.__slots__:
        if slot not in ("edges", "saved", "saved_from") and hasattr(node, slot):
            state[slot] = getattr(node, slot)
    if with_saved:
        state["saved"] = node.saved
    return state


def _op_rows():
    from op_table import OP_TABLE

    return [row for row in OP_TABLE if row.op is not None]


@pytest.mark.parametrize("row", _op_rows(), ids=lambda row: row.name)
def test_no_array_of_the_forward_outlives_backward(row):
    """Every array a rule needs goes through save_for_backward: plain attributes hold only
    options (axes, shapes, Python scalars), and backward releases what was saved."""
    from op_table import sample_inputs

    xs = [tg.Tensor(a, requires_grad=True) for a in sample_inputs(row, row.shapes[-1], np.random.default_rng(0))]
    out = row.fn(*xs)
    nodes = _graph_nodes(out)
    assert nodes, row.name
    for node in nodes:  # before backward: arrays only in saved
        assert not _arrays_in(_node_state(node, with_saved=False), node.name), f"{row.name}: {_arrays_in(_node_state(node, False), node.name)}"
    out.backward(gradient=np.ones(out.shape))
    for node in nodes:
        assert node.saved == () and not _arrays_in(_node_state(node, with_saved=True), node.name)


def test_a_max_over_rows_keeps_no_memory_after_backward():
    """The node of x.max(axis=1) on a 1000×1000 input keeps its 1 MB mask only until backward."""
    x = tg.Tensor(np.random.default_rng(0).normal(size=(1000, 1000)), requires_grad=True)
    gc.collect()
    tracemalloc.start()
    try:
        out = x.max(axis=1)
        node = out._node
        held = tracemalloc.get_traced_memory()[0]
        assert held > 1_000_000  # the mask of the chosen entries (bool) at least
        out.backward(gradient=np.ones(1000))
        x.grad = None
        gc.collect()
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert node.saved == () and not _arrays_in(_node_state(node, with_saved=True), node.name)
    assert after < 100_000, f"the graph of x.max(axis=1) still holds {after} bytes after backward"
    del out


def test_retain_graph_keeps_what_was_saved_and_a_second_backward_agrees():
    x = tg.Tensor(np.random.default_rng(1).normal(size=(4, 5)), requires_grad=True)
    out = x.max(axis=1)
    out.backward(gradient=np.ones(4), retain_graph=True)
    first = x.grad.numpy().copy()
    assert out._node.saved  # kept for the second pass
    out.backward(gradient=np.ones(4))
    np.testing.assert_array_equal(x.grad.numpy(), 2 * first)
    assert out._node.saved == ()


# --------------------------------------------------------------------------- failed backward
def _model_with_grads():
    model = tg.nn.Sequential(tg.nn.Linear(3, 4, rng=0), tg.nn.Tanh(), tg.nn.Linear(4, 2, rng=1))
    X = np.random.default_rng(3).normal(size=(5, 3))
    L.mse(model(X), np.zeros((5, 2))).backward()
    model[2].bias.grad = None  # one parameter without a gradient yet
    before = {name: (None if p.grad is None else p.grad.numpy().copy()) for name, p in model.named_parameters()}
    return model, X, before


def _assert_grads_unchanged(model, before):
    for name, p in model.named_parameters():
        if before[name] is None:
            assert p.grad is None, f"{name} got a half-accumulated gradient"
        else:
            np.testing.assert_array_equal(p.grad.numpy(), before[name], err_msg=name)


def test_version_counter_error_mid_graph_leaves_grads_unchanged():
    model, X, before = _model_with_grads()
    hidden = model[0](X)
    activated = model[1](hidden)  # tanh saved its output for backward
    loss = L.mse(model[2](activated), np.zeros((5, 2))) + (hidden * hidden).sum()
    with tg.no_grad():
        activated += 1.0  # changes a value the graph saved
    with pytest.raises(RuntimeError, match="modified by an in-place operation"):
        loss.backward()
    _assert_grads_unchanged(model, before)


def test_anomaly_error_mid_graph_leaves_grads_unchanged():
    model, X, before = _model_with_grads()
    with tg.detect_anomaly(), np.errstate(all="ignore"):
        out = model(X)
        loss = L.mse(out, np.zeros((5, 2))) + (model[0].weight.abs() * 0.0).sqrt().sum()
        with pytest.raises(RuntimeError, match="Sqrt"):
            loss.backward()
    _assert_grads_unchanged(model, before)


def test_second_backward_error_leaves_grads_unchanged_and_training_continues():
    model, X, before = _model_with_grads()
    loss = L.mse(model(X), np.zeros((5, 2)))
    loss.backward()
    after_first = {name: (None if p.grad is None else p.grad.numpy().copy()) for name, p in model.named_parameters()}
    with pytest.raises(RuntimeError, match="retain_graph=True"):
        loss.backward()
    _assert_grads_unchanged(model, after_first)
    optimizer = tg.optim.SGD(model.parameters(), lr=0.1)
    optimizer.zero_grad()
    first = L.mse(model(X), np.zeros((5, 2)))
    first.backward()
    optimizer.step()
    assert L.mse(model(X), np.zeros((5, 2))).item() < first.item()


def test_failed_backward_leaves_retained_grads_and_grad_api_untouched():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    c = tg.Tensor([3.0, 4.0])
    h = x * 2.0
    h.retain_grad()
    loss = (h * c).sum()
    c += 1.0  # c was saved by the multiplication
    with pytest.raises(RuntimeError, match="in-place"):
        loss.backward()
    assert h.grad is None and x.grad is None
    c2 = tg.Tensor([3.0, 4.0])
    loss2 = (x * c2).sum()
    c2 *= 2.0
    with pytest.raises(RuntimeError, match="in-place"):
        tg.autograd.grad(loss2, [x])
    assert x.grad is None
