"""Benchmarks: tinygrad_gd against a hand-written numpy step and the peers, in one process.

    python -m benchmarks            # full run, markdown table
    python -m benchmarks --quick    # seconds-long smoke run (used by CI; no timing asserted)
    python -m benchmarks --json     # machine-readable results

Every row reports the median of several repeats after a warm-up, and its ratio to the
hand-written numpy implementation of the same step (the analytic gradient: the practical
limit for eager numpy). Peers (PyTorch CPU with one thread, HIPS autograd, micrograd, JAX
without jit) run when installed and are reported as "not installed" otherwise.
"""

from __future__ import annotations

import os

if __name__ == "__main__":  # pin BLAS to one thread before numpy loads (see __main__.py)
    for _var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
        os.environ.setdefault(_var, "1")

import argparse
import gc
import json
import math
import platform
import statistics
import sys
import time
import tracemalloc
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

import tinygrad_gd as tg

try:
    from benchmarks.dask_rows import dask_rows
except ImportError:  # run as a script, python benchmarks/run.py: this folder is on sys.path
    from dask_rows import dask_rows  # type: ignore[no-redef]

NOT_INSTALLED = "not installed"


# --------------------------------------------------------------------------- peers
def _import_peer(name: str) -> Any:
    try:
        if name == "torch":
            import torch

            torch.set_num_threads(1)
            return torch
        if name == "autograd":
            import autograd
            import autograd.numpy as anp

            return (autograd, anp)
        if name == "micrograd":
            from micrograd.engine import Value

            return Value
        if name == "jax":
            os.environ.setdefault("JAX_PLATFORMS", "cpu")
            import jax
            import jax.numpy as jnp

            jax.config.update("jax_enable_x64", True)
            return (jax, jnp)
    except Exception:  # noqa: BLE001 - any import failure means "not available"
        return None
    return None


PEERS = ("torch", "autograd", "micrograd", "jax")


@dataclass
class Row:
    case: str
    impl: str
    seconds: float | None = None  # median seconds per step (or per op where stated)
    ratio: float | None = None  # to the numpy baseline of the same case
    note: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


def _median_time(step: Callable[[], Any], repeats: int, warmup: int = 1, min_sample: float = 0.02) -> float:
    """Median over ``repeats`` samples of the mean time per call; each sample loops the step
    enough times to last ``min_sample`` seconds (single fast calls are dominated by timer
    noise and cold caches)."""
    for _ in range(warmup):
        step()
    start = time.perf_counter()
    step()
    once = time.perf_counter() - start
    loops = max(1, int(min_sample / max(once, 1e-9)))
    times = []
    for _ in range(repeats):
        gc.collect()
        start = time.perf_counter()
        for _ in range(loops):
            step()
        times.append((time.perf_counter() - start) / loops)
    return statistics.median(times)


# --------------------------------------------------------------------------- linear regression
def _linreg_data(n: int, d: int, dtype: Any) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(0)
    X = rng.standard_normal((n, d)).astype(dtype)
    y = (X @ rng.standard_normal(d) + 0.5 + 0.1 * rng.standard_normal(n)).astype(dtype)
    return X, y


def linreg_steps(n: int, d: int, dtype: Any, peers: dict[str, Any]) -> dict[str, Callable[[], Any] | str]:
    """One full gradient-descent step (forward, backward, update) of MSE linear regression."""
    X, y = _linreg_data(n, d, dtype)
    lr = dtype(0.01) if dtype is np.float32 else 0.01
    impls: dict[str, Callable[[], Any] | str] = {}

    w_np, b_np = np.zeros(d, dtype=dtype), np.zeros((), dtype=dtype)

    def numpy_step() -> tuple[np.ndarray, np.ndarray]:
        nonlocal w_np, b_np
        err = X @ w_np + b_np - y
        loss = np.dot(err, err) / n  # noqa: F841 - the forward value, as every peer computes it
        scale = dtype(2.0 / n)
        w_np -= lr * (scale * (X.T @ err))
        b_np = b_np - lr * (scale * err.sum())
        return w_np, b_np

    impls["numpy (hand-written)"] = numpy_step
    if d == 1:  # the same step with X @ w written as the product it is (what tg's MatMul does)
        x0, w1, b1 = X[:, 0], np.zeros(1, dtype=dtype), np.zeros((), dtype=dtype)

        def numpy_product_step() -> tuple[np.ndarray, np.ndarray]:
            nonlocal w1, b1
            err = x0 * w1 + b1 - y
            loss = np.dot(err, err) / n  # noqa: F841 - as above
            scale = dtype(2.0 / n)
            w1 -= lr * (scale * (X.T @ err))
            b1 = b1 - lr * (scale * err.sum())
            return w1, b1

        impls["numpy (hand-written, X[:, 0] * w)"] = numpy_product_step

    Xt, yt = tg.Tensor(X), tg.Tensor(y)
    w = tg.zeros(d, requires_grad=True, dtype=dtype)
    b = tg.zeros((), requires_grad=True, dtype=dtype)

    def tg_step() -> tuple[np.ndarray, np.ndarray]:
        nonlocal w, b
        loss = tg.losses.mse(Xt @ w + b, yt)
        loss.backward()
        with tg.no_grad():
            w -= lr * w.grad
            b -= lr * b.grad
        w.grad = None
        b.grad = None
        return w.data, b.data

    impls["tinygrad_gd"] = tg_step
    impls.update(natural_form_steps(X, y, lr))

    torch = peers.get("torch")
    if torch is None:
        impls["torch"] = NOT_INSTALLED
    else:
        Xtt, ytt = torch.from_numpy(X), torch.from_numpy(y)
        wt = torch.zeros(d, dtype=Xtt.dtype, requires_grad=True)
        bt = torch.zeros((), dtype=Xtt.dtype, requires_grad=True)

        def torch_step() -> None:
            nonlocal wt, bt
            loss = torch.nn.functional.mse_loss(Xtt @ wt + bt, ytt)
            loss.backward()
            with torch.no_grad():
                wt -= lr * wt.grad
                bt -= lr * bt.grad
            wt.grad = None
            bt.grad = None

        impls["torch"] = torch_step

    ag = peers.get("autograd")
    if ag is None:
        impls["autograd"] = NOT_INSTALLED
    else:
        autograd, anp = ag
        grad_fn = autograd.grad(lambda p: anp.mean((anp.dot(X, p[0]) + p[1] - y) ** 2))
        params = [np.zeros(d, dtype=dtype), np.zeros((), dtype=dtype)]

        def autograd_step() -> None:
            gw, gb = grad_fn(params)
            params[0] = params[0] - lr * gw
            params[1] = params[1] - lr * gb

        impls["autograd"] = autograd_step

    jx = peers.get("jax")
    if jx is None:
        impls["jax (no jit)"] = NOT_INSTALLED
    else:
        jax, jnp = jx
        Xj, yj = jnp.asarray(X), jnp.asarray(y)
        grad_fn_j = jax.grad(lambda w, b: jnp.mean((Xj @ w + b - yj) ** 2), argnums=(0, 1))
        pj = [jnp.zeros(d, dtype=X.dtype), jnp.zeros((), dtype=X.dtype)]

        def jax_step() -> None:
            gw, gb = grad_fn_j(pj[0], pj[1])
            pj[0] = pj[0] - lr * gw
            pj[1] = (pj[1] - lr * gb).block_until_ready()

        impls["jax (no jit)"] = jax_step

    Value = peers.get("micrograd")
    if n * d <= 1000:
        if Value is None:
            impls["micrograd"] = NOT_INSTALLED
        else:
            xs, ys = X.tolist(), y.tolist()
            mw = [Value(0.0) for _ in range(d)]
            mb = Value(0.0)

            def micrograd_step() -> None:
                total = Value(0.0)
                for row, target in zip(xs, ys):
                    pred = mb
                    for wi, xi in zip(mw, row):
                        pred = pred + wi * xi
                    total = total + (pred - target) ** 2
                loss = total * (1.0 / n)
                for p in (*mw, mb):
                    p.grad = 0.0
                loss.backward()
                for p in (*mw, mb):
                    p.data -= lr * p.grad

            impls["micrograd"] = micrograd_step
    return impls


def natural_form_steps(X: np.ndarray, y: np.ndarray, lr: Any) -> dict[str, Callable[[], Any] | str]:
    """The cost as users write it, ((X @ w + b - y) ** 2).mean(), eager, tg.compile'd as plain
    numpy, and with the ``fast`` extra (numexpr, on NUMEXPR_NUM_THREADS threads) where installed."""
    n, d = X.shape
    dtype = X.dtype.type

    def cost(w: Any, b: Any) -> Any:
        return ((X @ w + b - y) ** 2).mean()

    w_e, b_e = tg.zeros(d, requires_grad=True, dtype=dtype), tg.zeros((), requires_grad=True, dtype=dtype)

    def eager_step() -> None:
        loss = cost(w_e, b_e)
        loss.backward()
        with tg.no_grad():
            w_e.data -= lr * w_e.grad.data
            b_e.data = b_e.data - lr * b_e.grad.data
        w_e.grad = b_e.grad = None

    def compiled(fast: bool) -> Callable[[], None]:
        step = tg.compile(tg.value_and_grad(cost, argnums=(0, 1)), fast=fast)
        params = [np.zeros(d, dtype=dtype), np.zeros((), dtype=dtype)]
        step(*params)  # traced here, outside the timing (its cost is the compile-time row)

        def compiled_step() -> None:
            _, (gw, gb) = step(*params)
            params[0] -= lr * gw
            params[1] = params[1] - lr * gb

        return compiled_step

    try:
        import numexpr  # noqa: F401 - the fast extra
    except ImportError:
        fast: Callable[[], None] | str = NOT_INSTALLED
    else:
        fast = compiled(True)
    return {
        "tinygrad_gd natural form": eager_step,
        "tinygrad_gd natural form, tg.compile": compiled(False),
        "tinygrad_gd natural form, tg.compile(fast)": fast,
    }


def compile_time_mlp_ms(sizes: tuple[int, ...] = (64, 256, 256, 10), batch: int = 128) -> float:
    """Milliseconds to trace and generate the MLP step of :func:`mlp_steps` (one signature)."""
    rng = np.random.default_rng(0)
    X, labels = tg.Tensor(rng.standard_normal((batch, sizes[0]))), rng.integers(0, sizes[-1], size=batch)
    params = [tg.Tensor(rng.standard_normal(s) * 0.1, requires_grad=True) for i, o in zip(sizes[:-1], sizes[1:]) for s in ((i, o), (o,))]

    def loss() -> Any:
        h = X
        for k in range(0, len(params), 2):
            h = h @ params[k] + params[k + 1]
            h = h.relu() if k < len(params) - 2 else h
        return tg.losses.cross_entropy(h, labels)

    step = tg.compile_step(loss, params)
    start = time.perf_counter()
    step()
    return (time.perf_counter() - start) * 1e3


def compile_time_ms(n: int, d: int) -> float:
    """Milliseconds to trace and generate the natural-form step (one new signature)."""
    X, y = _linreg_data(n, d, np.float64)
    step = tg.compile(tg.value_and_grad(lambda w, b: ((X @ w + b - y) ** 2).mean(), argnums=(0, 1)))
    start = time.perf_counter()
    step(np.zeros(d), np.zeros(()))
    return (time.perf_counter() - start) * 1e3


# --------------------------------------------------------------------------- per-op overhead
def scalar_chain_steps(links: int, peers: dict[str, Any]) -> dict[str, Callable[[], Any] | str]:
    """``links`` repetitions of tanh(x * 1.0001 + 0.1): 3 ops each, forward and backward."""
    impls: dict[str, Callable[[], Any] | str] = {}

    def numpy_step() -> float:
        # Hand-written: forward keeps each tanh output, backward applies the chain rule.
        x = np.float64(0.3)
        outs = []
        for _ in range(links):
            x = np.tanh(x * 1.0001 + 0.1)
            outs.append(x)
        g = np.float64(1.0)
        for t in reversed(outs):
            g = g * (1.0 - t * t) * 1.0001
        return float(g)

    impls["numpy (hand-written)"] = numpy_step

    def tg_step() -> float:
        x0 = tg.Tensor(0.3, requires_grad=True)
        x = x0
        for _ in range(links):
            x = (x * 1.0001 + 0.1).tanh()
        x.backward()
        return float(x0.grad.data)

    impls["tinygrad_gd"] = tg_step

    def chain(x: Any) -> Any:
        for _ in range(links):
            x = (x * 1.0001 + 0.1).tanh()
        return x

    compiled_chain = tg.compile(tg.grad(chain))  # a 0-d graph: Python floats and math
    x_start = np.array(0.3)
    compiled_chain(x_start)  # traced here, outside the timing
    impls["tinygrad_gd, tg.compile"] = lambda: float(compiled_chain(x_start))

    torch = peers.get("torch")
    if torch is None:
        impls["torch"] = NOT_INSTALLED
    else:

        def torch_step() -> float:
            x0 = torch.tensor(0.3, dtype=torch.float64, requires_grad=True)
            x = x0
            for _ in range(links):
                x = torch.tanh(x * 1.0001 + 0.1)
            x.backward()
            return float(x0.grad)

        impls["torch"] = torch_step

    ag = peers.get("autograd")
    if ag is None:
        impls["autograd"] = NOT_INSTALLED
    else:
        autograd, anp = ag

        def chain(x: Any) -> Any:
            for _ in range(links):
                x = anp.tanh(x * 1.0001 + 0.1)
            return x

        grad_chain = autograd.grad(chain)
        impls["autograd"] = lambda: float(grad_chain(0.3))

    Value = peers.get("micrograd")
    if Value is None:
        impls["micrograd"] = NOT_INSTALLED
    else:

        def tanh(v: Any) -> Any:
            # PyPI's micrograd has no tanh; this is the op as micrograd writes its others.
            t = math.tanh(v.data)
            out = Value(t, (v,), "tanh")

            def _backward() -> None:
                v.grad += (1 - t * t) * out.grad

            out._backward = _backward
            return out

        def micrograd_step() -> float:
            x0 = Value(0.3)
            x = x0
            for _ in range(links):
                x = tanh(x * 1.0001 + 0.1)
            x.backward()
            return x0.grad

        impls["micrograd"] = micrograd_step

    jx = peers.get("jax")
    if jx is None:
        impls["jax (no jit)"] = NOT_INSTALLED
    else:
        jax, jnp = jx

        def chain_j(x: Any) -> Any:
            for _ in range(links):
                x = jnp.tanh(x * 1.0001 + 0.1)
            return x

        grad_j = jax.grad(chain_j)
        impls["jax (no jit)"] = lambda: float(grad_j(0.3))
    return impls


# --------------------------------------------------------------------------- broadcasting binary ops
def broadcast_ops_steps(n: int) -> dict[str, Callable[[], Any] | str]:
    """``((A + b) * C).sum()`` forward and backward, A and C (n, n), b (n,): the binary-op path
    with broadcasting and square outputs, where the broadcast-trap check (an (n, 1) against an
    (n,) into (n, n)?) looks at shapes. 3 ops."""
    rng = np.random.default_rng(0)
    A, C = rng.standard_normal((n, n)), rng.standard_normal((n, n))
    b = rng.standard_normal(n)

    def numpy_step() -> tuple[np.ndarray, np.ndarray]:
        total = ((A + b) * C).sum()  # noqa: F841 - the forward value, as tinygrad_gd computes it
        grad_sum = C  # d/d(A + b) of sum((A + b) * C)
        return grad_sum, grad_sum.sum(axis=0)

    At, bt, Ct = tg.Tensor(A, requires_grad=True), tg.Tensor(b, requires_grad=True), tg.Tensor(C)

    def tg_step() -> tuple[np.ndarray, np.ndarray]:
        ((At + bt) * Ct).sum().backward()
        grads = At.grad.data, bt.grad.data
        At.grad = bt.grad = None
        return grads

    return {"numpy (hand-written)": numpy_step, "tinygrad_gd": tg_step}


# --------------------------------------------------------------------------- MLP
def mlp_steps(batch: int, sizes: tuple[int, ...], peers: dict[str, Any]) -> dict[str, Callable[[], Any] | str]:
    """One SGD step of a ReLU MLP with softmax cross-entropy."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((batch, sizes[0]))
    labels = rng.integers(0, sizes[-1], size=batch)
    onehot = np.eye(sizes[-1])[labels]
    init = [
        (rng.uniform(-1, 1, (i, o)) / math.sqrt(i), rng.uniform(-1, 1, o) / math.sqrt(i))
        for i, o in zip(sizes[:-1], sizes[1:])
    ]
    lr = 0.01
    impls: dict[str, Callable[[], Any] | str] = {}

    params_np = [(W.copy(), c.copy()) for W, c in init]

    def numpy_step() -> list[tuple[np.ndarray, np.ndarray]]:
        acts = [X]
        h = X
        for k, (W, c) in enumerate(params_np):
            h = h @ W + c
            if k < len(params_np) - 1:
                h = np.maximum(h, 0.0)
            acts.append(h)
        shifted = h - h.max(axis=1, keepdims=True)
        exp = np.exp(shifted)
        probs = exp / exp.sum(axis=1, keepdims=True)
        loss = -np.mean(np.log(probs[np.arange(batch), labels]))  # noqa: F841
        g = (probs - onehot) / batch
        for k in range(len(params_np) - 1, -1, -1):
            W, c = params_np[k]
            gW, gc = acts[k].T @ g, g.sum(axis=0)
            if k > 0:
                g = (g @ W.T) * (acts[k] > 0)
            W -= lr * gW
            c -= lr * gc
        return params_np

    impls["numpy (hand-written)"] = numpy_step

    params_tg = [(tg.Tensor(W.copy(), requires_grad=True), tg.Tensor(c.copy(), requires_grad=True)) for W, c in init]
    Xt = tg.Tensor(X)

    def tg_step() -> list[tuple[np.ndarray, np.ndarray]]:
        h = Xt
        for k, (W, c) in enumerate(params_tg):
            h = h @ W + c
            if k < len(params_tg) - 1:
                h = h.relu()
        loss = tg.losses.cross_entropy(h, labels)
        loss.backward()
        with tg.no_grad():
            for W, c in params_tg:
                W -= lr * W.grad
                c -= lr * c.grad
                W.grad = None
                c.grad = None
        return [(W.data, c.data) for W, c in params_tg]

    impls["tinygrad_gd"] = tg_step

    params_c = [tg.Tensor(a.copy(), requires_grad=True) for pair in init for a in pair]

    def mlp_loss() -> Any:
        h = Xt
        for k in range(0, len(params_c), 2):
            h = h @ params_c[k] + params_c[k + 1]
            if k < len(params_c) - 2:
                h = h.relu()
        return tg.losses.cross_entropy(h, labels)

    compiled = tg.compile_step(mlp_loss, params_c)
    compiled()  # traced here, outside the timing

    def compiled_step() -> None:
        _, grads = compiled()
        for p, g in zip(params_c, grads):
            p.data -= lr * g

    impls["tinygrad_gd, tg.compile"] = compiled_step

    torch = peers.get("torch")
    if torch is None:
        impls["torch"] = NOT_INSTALLED
    else:
        params_t = [
            (torch.tensor(W, requires_grad=True), torch.tensor(c, requires_grad=True)) for W, c in init
        ]
        Xtt, lt = torch.from_numpy(X), torch.from_numpy(labels)

        def torch_step() -> None:
            h = Xtt
            for k, (W, c) in enumerate(params_t):
                h = h @ W + c
                if k < len(params_t) - 1:
                    h = torch.relu(h)
            loss = torch.nn.functional.cross_entropy(h, lt)
            loss.backward()
            with torch.no_grad():
                for W, c in params_t:
                    W -= lr * W.grad
                    c -= lr * c.grad
                    W.grad = None
                    c.grad = None

        impls["torch"] = torch_step

    ag = peers.get("autograd")
    if ag is None:
        impls["autograd"] = NOT_INSTALLED
    else:
        autograd, anp = ag

        def loss_fn(params: list[Any]) -> Any:
            h = X
            for k, (W, c) in enumerate(params):
                h = anp.dot(h, W) + c
                if k < len(params) - 1:
                    h = anp.maximum(h, 0.0)
            h = h - anp.max(h, axis=1, keepdims=True)
            logp = h - anp.log(anp.sum(anp.exp(h), axis=1, keepdims=True))
            return -anp.mean(anp.sum(logp * onehot, axis=1))

        grad_fn = autograd.grad(loss_fn)
        params_a = [(W.copy(), c.copy()) for W, c in init]

        def autograd_step() -> None:
            grads = grad_fn(params_a)
            for k, (gW, gc) in enumerate(grads):
                W, c = params_a[k]
                params_a[k] = (W - lr * gW, c - lr * gc)

        impls["autograd"] = autograd_step

    jx = peers.get("jax")
    if jx is None:
        impls["jax (no jit)"] = NOT_INSTALLED
    else:
        jax, jnp = jx
        Xj, onehot_j = jnp.asarray(X), jnp.asarray(onehot)

        def loss_j(params: list[Any]) -> Any:
            h = Xj
            for k, (W, c) in enumerate(params):
                h = h @ W + c
                if k < len(params) - 1:
                    h = jnp.maximum(h, 0.0)
            logp = jax.nn.log_softmax(h, axis=1)
            return -jnp.mean(jnp.sum(logp * onehot_j, axis=1))

        grad_j = jax.grad(loss_j)
        params_j = [(jnp.asarray(W), jnp.asarray(c)) for W, c in init]

        def jax_step() -> None:
            grads = grad_j(params_j)
            for k, (gW, gc) in enumerate(grads):
                W, c = params_j[k]
                params_j[k] = (W - lr * gW, (c - lr * gc).block_until_ready())

        impls["jax (no jit)"] = jax_step
    impls["micrograd"] = "not run (scalar engine; a 64-256-256-10 MLP is ~90k scalar weights)"
    return impls


# --------------------------------------------------------------------------- deep chain
def deep_chain_backward(n_ops: int) -> float:
    """Seconds for backward() through a chain of ``n_ops`` recorded ops (forward not timed)."""
    x0 = tg.Tensor(1.0, requires_grad=True)
    x = x0
    for _ in range(n_ops):
        x = x * 1.0
    gc.collect()
    start = time.perf_counter()
    x.backward()
    elapsed = time.perf_counter() - start
    assert float(x0.grad.data) == 1.0
    del x
    return elapsed


def micrograd_deep_chain(Value: Any, n_ops: int) -> str:
    x = Value(1.0)
    y = x
    for _ in range(n_ops):
        y = y * 1.0
    try:
        y.backward()
    except RecursionError:
        return f"RecursionError at {n_ops:,} ops"
    return "ok"


# --------------------------------------------------------------------------- memory
def peak_memory(step: Callable[[], Any]) -> int:
    step()  # warm-up: allocate parameters' gradients etc.
    gc.collect()
    tracemalloc.start()
    tracemalloc.reset_peak()
    base = tracemalloc.get_traced_memory()[0]
    step()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak - base


# --------------------------------------------------------------------------- runner
def _run_case(
    case: str, impls: dict[str, Any], repeats: int, per: int = 1, unit_note: str = "", min_sample: float = 0.02
) -> list[Row]:
    rows = []
    baseline = None
    for impl, step in impls.items():
        if isinstance(step, str):
            rows.append(Row(case, impl, note=step))
            continue
        try:
            seconds = _median_time(step, repeats, min_sample=min_sample) / per
        except RecursionError:
            rows.append(Row(case, impl, note="RecursionError"))
            continue
        if baseline is None:
            baseline = seconds
        rows.append(Row(case, impl, seconds, seconds / baseline, unit_note))
        print(f"  {case:<40} {impl:<22} {seconds * 1e3:10.4f} ms", file=sys.stderr)
    return rows


def run(quick: bool = False) -> list[Row]:
    peers = {name: _import_peer(name) for name in PEERS}
    rows: list[Row] = []
    repeats = 3 if quick else 11
    sample = 0.005 if quick else 0.05  # seconds of looping per timing sample
    sizes = [(200, 1, np.float64)]
    if quick:
        sizes += [(20_000, 1, np.float64), (2_000, 50, np.float64), (2_000, 50, np.float32)]
    else:
        sizes += [(1_000_000, 1, np.float64), (1_000_000, 1, np.float32), (200_000, 50, np.float64),
                  (200_000, 50, np.float32)]
    for n, d, dtype in sizes:
        case = f"linreg step N={n:,} d={d} {np.dtype(dtype).name}"
        rows += _run_case(case, linreg_steps(n, d, dtype, peers), repeats, min_sample=sample)

    for n, d in [(200, 1), (2_000 if quick else 200_000, 50)]:
        ms = compile_time_ms(n, d)
        rows.append(Row(f"tg.compile: trace + generate the natural-form step N={n:,} d={d}", "tinygrad_gd", ms / 1e3, None, "once per signature", {"ms": ms}))
    ms = compile_time_mlp_ms()
    rows.append(Row("tg.compile: trace + generate the MLP 64-256-256-10 step", "tinygrad_gd", ms / 1e3, None, "once per signature", {"ms": ms}))

    links = 100
    rows += _run_case(
        f"scalar chain {3 * links} ops, per op",
        scalar_chain_steps(links, peers),
        repeats,
        per=3 * links,
        unit_note="seconds per op (forward + backward)",
        min_sample=sample,
    )
    rows += _run_case(
        "broadcast binary ops (64, 64) + (64,), * (64, 64), sum: per op",
        broadcast_ops_steps(64),
        repeats,
        per=3,
        unit_note="seconds per op (forward + backward)",
        min_sample=sample,
    )
    mlp_sizes = (64, 256, 256, 10)
    rows += _run_case("MLP 64-256-256-10 batch 128 SGD step", mlp_steps(128, mlp_sizes, peers), repeats, min_sample=sample)

    n_ops = 20_000 if quick else 1_000_000
    # Best of three for each size, alternating, so that one slow run (another process, the
    # allocator) does not decide the scaling ratio.
    halves, fulls = [], []
    for _ in range(1 if quick else 3):
        halves.append(deep_chain_backward(n_ops // 2))
        fulls.append(deep_chain_backward(n_ops))
    half, full = min(halves), min(fulls)
    rows.append(
        Row(
            f"backward of a {n_ops:,}-op chain",
            "tinygrad_gd",
            full,
            None,
            f"completed; {n_ops // 2:,} ops took {half:.3f} s, time ratio {full / half:.2f} for 2x ops",
            {"half_seconds": half, "scaling_ratio": full / half},
        )
    )
    Value = peers.get("micrograd")
    rows.append(
        Row(
            f"backward of a {n_ops:,}-op chain",
            "micrograd",
            note=NOT_INSTALLED if Value is None else micrograd_deep_chain(Value, min(n_ops, 5_000)),
        )
    )

    n_mem = 20_000 if quick else 1_000_000
    for dtype in (np.float64, np.float32):
        mem_impls = linreg_steps(n_mem, 1, dtype, {})
        numpy_peak = peak_memory(mem_impls["numpy (hand-written)"])
        case = f"peak memory, linreg step N={n_mem:,} d=1 {np.dtype(dtype).name}"
        rows.append(Row(case, "numpy (hand-written)", None, 1.0, f"{numpy_peak / 1e6:.1f} MB", {"bytes": numpy_peak}))
        for impl in ("tinygrad_gd", "tinygrad_gd natural form", "tinygrad_gd natural form, tg.compile",
                     "tinygrad_gd natural form, tg.compile(fast)"):
            if isinstance(mem_impls[impl], str):
                rows.append(Row(case, impl, note=str(mem_impls[impl])))
                continue
            peak = peak_memory(mem_impls[impl])
            rows.append(Row(case, impl, None, peak / numpy_peak, f"{peak / 1e6:.1f} MB", {"bytes": peak}))
    rows += dask_rows(Row, quick)  # out of core: benchmarks/dask_rows.py
    return rows


def _format_seconds(s: float | None) -> str:
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{s * 1e6:.2f} µs"
    if s < 1:
        return f"{s * 1e3:.3f} ms"
    return f"{s:.3f} s"


def to_markdown(rows: list[Row]) -> str:
    lines = [
        f"Machine: {platform.machine()}, {os.cpu_count()} cores, Python {platform.python_version()}, "
        f"numpy {np.__version__}, tinygrad_gd {tg.__version__}",
        "",
        "| case | implementation | time | ratio to numpy | note |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        ratio = "—" if r.ratio is None else f"{r.ratio:.2f}×"
        lines.append(f"| {r.case} | {r.impl} | {_format_seconds(r.seconds)} | {ratio} | {r.note} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="small sizes and few repeats (seconds)")
    parser.add_argument("--json", action="store_true", help="print results as JSON")
    args = parser.parse_args(argv)
    rows = run(quick=args.quick)
    if args.json:
        print(json.dumps([asdict(r) for r in rows], indent=2))
    else:
        print(to_markdown(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
