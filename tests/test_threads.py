"""Grad mode and anomaly mode are per thread: a thread inside ``no_grad`` (or
``detect_anomaly``) does not change what another thread records (or checks). Barriers force
the two threads to interleave inside each other's blocks. Backwards from several threads
into one shared leaf accumulate every contribution into its ``.grad`` (none is lost)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import losses as L

TIMEOUT = 20.0  # seconds; a barrier that times out fails the test instead of hanging it


def run_in_threads(*targets: Callable[[], object]) -> list[object]:
    """Run each target in its own thread; re-raise the first error; return their results."""
    results: list[object] = [None] * len(targets)
    errors: list[BaseException] = []

    def wrap(i: int, target: Callable[[], object]) -> None:
        try:
            results[i] = target()
        except BaseException as e:  # handed to the main thread, re-raised there
            errors.append(e)

    threads = [threading.Thread(target=wrap, args=(i, t)) for i, t in enumerate(targets)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(TIMEOUT)
        assert not t.is_alive(), "a thread hung"
    if errors:
        raise errors[0]
    return results


def test_no_grad_in_one_thread_does_not_stop_recording_in_another():
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    x = tg.Tensor([1.0, 2.0], requires_grad=True)

    def quiet():
        with tg.no_grad():
            barrier.wait()  # 1: inside no_grad while the other thread records
            y = x * 2.0
            barrier.wait()  # 2
            assert not tg.is_grad_enabled()
            return y.requires_grad

    def recording():
        barrier.wait()  # 1
        assert tg.is_grad_enabled()
        y = (x * 3.0).sum()
        barrier.wait()  # 2
        return y.requires_grad, y

    quiet_result, (records, y) = run_in_threads(quiet, recording)
    assert quiet_result is False
    assert records is True
    y.backward()
    np.testing.assert_array_equal(x.grad.numpy(), [3.0, 3.0])


def test_enable_grad_in_one_thread_does_not_start_recording_in_another():
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    x = tg.Tensor([1.0], requires_grad=True)

    def off():
        with tg.no_grad():
            barrier.wait()
            barrier.wait()  # the other thread switches on meanwhile
            return (x * 2.0).requires_grad

    def on():
        barrier.wait()
        with tg.no_grad(), tg.enable_grad():
            barrier.wait()
            return (x * 2.0).requires_grad

    assert run_in_threads(off, on) == [False, True]


def test_plain_call_switch_is_per_thread_and_new_threads_start_with_defaults():
    try:
        tg.set_grad_enabled(False)
        tg.set_detect_anomaly(True)

        def fresh():
            return tg.is_grad_enabled(), tg.is_anomaly_enabled()

        assert run_in_threads(fresh) == [(True, False)]
        assert not tg.is_grad_enabled() and tg.is_anomaly_enabled()
    finally:
        tg.set_grad_enabled(True)
        tg.set_detect_anomaly(False)


def test_anomaly_mode_is_per_thread():
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    bad = tg.Tensor([-1.0], requires_grad=True)

    def checking():
        with tg.detect_anomaly(), np.errstate(all="ignore"):
            barrier.wait()  # 1: anomaly on here while the other thread computes
            with pytest.raises(RuntimeError, match="Log"):
                bad.log()
            barrier.wait()  # 2
        return "raised"

    def relaxed():
        barrier.wait()  # 1
        assert not tg.is_anomaly_enabled()
        with np.errstate(all="ignore"):
            y = bad.log()  # NaN, no error in this thread
        barrier.wait()  # 2
        return bool(np.isnan(y.numpy()[0]))

    assert run_in_threads(checking, relaxed) == ["raised", True]


def test_decorated_no_grad_function_used_from_two_threads():
    barrier = threading.Barrier(2, timeout=TIMEOUT)
    x = tg.Tensor([2.0], requires_grad=True)

    @tg.no_grad()
    def evaluate():
        barrier.wait()
        out = x * x
        barrier.wait()
        return out.requires_grad

    def train():
        barrier.wait()
        out = x * x
        barrier.wait()
        return out.requires_grad

    assert run_in_threads(evaluate, train) == [False, True]


def _train(seed: int) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    X, y = rng.normal(size=(20, 3)), rng.normal(size=(20, 1))
    model = tg.nn.Sequential(tg.nn.Linear(3, 5, rng=seed), tg.nn.Tanh(), tg.nn.Linear(5, 1, rng=seed + 1))
    optimizer = tg.optim.SGD(model.parameters(), lr=0.05, momentum=0.9)
    for i in range(200):
        optimizer.zero_grad()
        L.mse(model(X), y).backward()
        optimizer.step()
        if i % 20 == 0:
            with tg.no_grad():  # evaluation inside the loop toggles this thread's mode
                model(X)
    return [p.numpy().copy() for p in model.parameters()]


def test_two_threads_training_get_the_sequential_results():
    expected = [_train(0), _train(7)]
    got = run_in_threads(lambda: _train(0), lambda: _train(7))
    for seq, par in zip(expected, got):
        for a, b in zip(seq, par):
            np.testing.assert_array_equal(a, b)


def test_concurrent_backward_into_a_shared_leaf_loses_no_update():
    # Issue 11 item 2: `grad = grad + g` on a large array releases the GIL inside numpy, so
    # without a lock two threads read the same old .grad and one update is lost (≈205 of 400).
    threads, calls, n = 4, 100, 100_000
    x = tg.Tensor(np.zeros(n), requires_grad=True)
    barrier = threading.Barrier(threads, timeout=TIMEOUT)

    def work() -> None:
        barrier.wait()  # all threads start accumulating together
        for _ in range(calls):
            (x * 1.0).sum().backward()

    run_in_threads(*[work] * threads)
    expected = np.full(n, float(threads * calls))
    np.testing.assert_array_equal(x.grad.numpy(), expected)


def test_concurrent_first_backward_into_a_fresh_leaf_keeps_every_contribution():
    # The `.grad is None` branch is a check-then-set: two first backwards must not both
    # install their own gradient (the other's would be lost).
    threads, rounds, n = 4, 30, 100_000
    barrier = threading.Barrier(threads, timeout=TIMEOUT)
    leaves = [tg.Tensor(np.zeros(n), requires_grad=True) for _ in range(rounds)]

    def work() -> None:
        for x in leaves:
            y = (x * 1.0).sum()
            barrier.wait()  # every thread's first backward into this fresh leaf at once
            y.backward()

    run_in_threads(*[work] * threads)
    for x in leaves:
        np.testing.assert_array_equal(x.grad.numpy(), np.full(n, float(threads)))
