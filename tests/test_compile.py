"""tg.compile: the traced, straight-line numpy version of a loss and its gradient equals the
eager one, retraces when the signature changes, and refuses what it cannot see."""

import numpy as np
import pytest
from hypothesis import given, settings
from op_table import OP_TABLE, sample_inputs
from strategies import programs

import tinygrad_gd as tg
from tinygrad_gd.compile import CompileCheckError, TracingError

RNG = np.random.default_rng(0)
X = RNG.normal(size=(40, 3))
Y = RNG.normal(size=(40, 1))


def half_mse_cost(w, b):
    """J = 1/(2m) Σ (Xw + b − y)², the vectorised linear-regression cost."""
    m = X.shape[0]
    return (1 / (2 * m)) * ((X @ w + b - Y) ** 2).sum()


def _flat(result):
    value, grads = result
    return [value, *grads]


def test_compiled_value_and_grad_equals_eager_to_rounding_and_matches_the_hand_formula():
    vg = tg.value_and_grad(half_mse_cost, argnums=(0, 1))
    compiled = tg.compile(vg)
    for scale in (1.0, -2.0, 0.5):
        w, b = RNG.normal(size=(3, 1)) * scale, np.array(scale)
        eager, fast = _flat(vg(w, b)), _flat(compiled(w, b))
        for e, c in zip(eager, fast):
            assert e.shape == c.shape and e.dtype == c.dtype
        # the loss's Σ r² is one np.vdot (another summation order) and the gradients' 1/m is
        # applied after Xᵀr and Σr (one pass less): equal within rounding, as the contract allows
        np.testing.assert_allclose(fast[0], eager[0], rtol=1e-14)
        for e, c in zip(eager[1:], fast[1:]):
            np.testing.assert_allclose(c, e, rtol=1e-13, atol=1e-16)
        dw, db = tg.analytic.linreg_half_mse_grad(X, Y, w, b)
        np.testing.assert_allclose(fast[1], dw, rtol=1e-12)
        np.testing.assert_allclose(fast[2], db, rtol=1e-12, atol=1e-15)
    assert compiled.cache_info().traces == 1 and compiled.cache_info().hits == 2


def test_source_is_numpy_named_after_what_it_computes():
    compiled = tg.compile(tg.value_and_grad(half_mse_cost, argnums=(0, 1)))
    compiled(np.zeros((3, 1)), np.array(0.0))
    source = compiled.source
    assert source.startswith("def compiled(w, b):")
    for name in ("loss = ", "d_w = ", "d_b = ", "# MatMul:", "(fused: Σ x²)", "out="):
        assert name in source, name
    assert "@ w" in source  # X @ w, as the learner wrote it
    compile(source, "<check>", "exec")  # valid Python


def test_source_runs_standalone_with_numpy_and_the_arrays_it_names():
    compiled = tg.compile(tg.value_and_grad(half_mse_cost, argnums=(0, 1)))
    w, b = RNG.normal(size=(3, 1)), np.array(0.2)
    expected = compiled(w, b)
    assert "X @ w" in compiled.source and "X.T @" in compiled.source  # as the hand derivation reads
    namespace = {"np": np, "X": X, "Y": Y}  # only numpy and the arrays the cost closes over
    exec(compiled.source, namespace)
    loss, (d_w, d_b) = namespace["compiled"](w, b)  # as value_and_grad returns them
    np.testing.assert_array_equal(loss, expected[0])
    np.testing.assert_array_equal(d_w, expected[1][0])
    np.testing.assert_array_equal(d_b, expected[1][1])


def test_grad_transform_and_plain_tensor_functions():
    g = tg.compile(tg.grad(half_mse_cost, argnums=1))
    w, b = RNG.normal(size=(3, 1)), np.array(0.3)
    np.testing.assert_allclose(g(w, b), tg.grad(half_mse_cost, argnums=1)(w, b), rtol=1e-13)

    def forward(w, b):
        pred = X @ w + b
        return pred, (pred - Y).abs().mean()

    compiled = tg.compile(forward)
    pred, mae = compiled(tg.Tensor(w), b)
    assert isinstance(pred, tg.Tensor) and not pred.requires_grad
    e_pred, e_mae = forward(tg.Tensor(w), tg.Tensor(b))
    np.testing.assert_array_equal(pred.numpy(), e_pred.numpy())
    np.testing.assert_array_equal(mae.numpy(), e_mae.numpy())


def test_a_new_signature_traces_again_and_the_cache_is_bounded():
    compiled = tg.compile(tg.value_and_grad(lambda w: (w * w).sum()), maxsize=2)
    for n in (2, 3, 4, 2):
        value, grad = compiled(np.arange(n, dtype=float))
        np.testing.assert_array_equal(grad, 2 * np.arange(n))
    info = compiled.cache_info()
    assert info.traces == 4 and info.size == 2 and info.maxsize == 2  # n=2 was evicted by n=4
    compiled(np.arange(3, dtype=np.float32))  # a dtype change traces too
    assert compiled.cache_info().traces == 5


def test_python_number_arguments_are_part_of_the_signature():
    compiled = tg.compile(tg.grad(lambda w, lam: (w * w).sum() * lam))
    np.testing.assert_array_equal(compiled(np.ones(2), 3.0), [6.0, 6.0])
    np.testing.assert_array_equal(compiled(np.ones(2), 5.0), [10.0, 10.0])
    assert compiled.cache_info().traces == 2


def test_returned_arrays_are_fresh_on_every_call():
    compiled = tg.compile(tg.value_and_grad(half_mse_cost, argnums=(0, 1)))
    w, b = np.ones((3, 1)), np.array(0.0)
    loss1, (dw1, db1) = compiled(w, b)
    dw1 *= 100.0  # the caller owns what it got
    loss2, (dw2, db2) = compiled(w, b)
    assert not np.shares_memory(dw1, dw2) and loss1 is not loss2
    np.testing.assert_allclose(dw2, tg.grad(half_mse_cost)(w, b), rtol=1e-13)
    # an output that is a constant of the trace (d/dw of a linear function) is copied too
    lin = tg.compile(tg.grad(lambda w: (w * 3.0).sum()))
    first = lin(np.ones(2))
    first[:] = 0.0
    np.testing.assert_array_equal(lin(np.ones(2)), [3.0, 3.0])


def test_closed_over_arrays_are_read_at_every_call_as_the_eager_function_reads_them():
    data = np.ones((4, 1))
    compiled = tg.compile(tg.grad(lambda w: ((data @ w) ** 2).sum()))
    w = np.array([[2.0]])
    np.testing.assert_array_equal(compiled(w), [[16.0]])  # 2·Σ x²·w = 2·4·2
    data *= 2.0  # changed in place, between calls
    np.testing.assert_array_equal(compiled(w), tg.grad(lambda w: ((data @ w) ** 2).sum())(w))


def test_reading_a_traced_value_in_python_raises_naming_the_line():
    def branchy(w):
        s = (w * w).sum()
        if s > 1.0:  # frozen control flow
            return s
        return -s

    with pytest.raises(TracingError, match=r"test_compile\.py:\d+: bool\(t\)"):
        tg.compile(tg.value_and_grad(branchy))(np.ones(3))
    for reader in (lambda t: t.item(), lambda t: float(t), lambda t: t.numpy()):
        with pytest.raises(TracingError, match="Pass the value as an argument"):
            tg.compile(tg.grad(lambda w, r=reader: w.sum() * r(w.sum())))(np.ones(2))


def test_a_dependency_the_trace_cannot_see_is_refused_not_frozen():
    def hidden(w):
        scale = np.exp(w.data).sum()  # numpy on .data: invisible to the tracer
        return (w * scale).sum()

    with pytest.raises(TracingError, match="cannot see"):
        tg.compile(tg.value_and_grad(hidden))(np.ones(3))


def test_check_mode_catches_a_divergence():
    settings = {"scale": 1.0}

    def cost(w):
        return (w * settings["scale"]).sum()  # a Python value read at trace time: baked in

    compiled = tg.compile(tg.grad(cost), check=True, check_every=2)
    compiled(np.ones(2))  # call 1: checked, agrees
    settings["scale"] = 2.0
    with pytest.raises(CompileCheckError, match="call 2, output 0"):
        compiled(np.ones(2))


def test_bad_arguments_are_clear():
    with pytest.raises(TypeError, match="needs a function"):
        tg.compile(3)
    with pytest.raises(ValueError, match="check_every"):
        tg.compile(lambda: None, check_every=0)
    compiled = tg.compile(tg.grad(lambda w, scale: (w * scale).sum()))
    with pytest.raises(TypeError, match="pass arrays positionally"):
        compiled(np.ones(2), scale=np.ones(2))
    with pytest.raises(TypeError, match="cannot be part of a compiled signature"):
        compiled({"w": np.ones(2)}, 1.0)


# Rows tg.compile refuses (TracingError) instead of compiling, because a trace would freeze
# part of them: ops that say so (`untraceable`; none does today: sort and topk compute their
# order in an op, ArgSort, which the trace replays) and a boolean-mask index (the mask fixes
# the output's shape).
REFUSED = {"getitem_comparison_mask"}
REFUSED |= {row.name for row in OP_TABLE if row.op and getattr(tg.ops.OPS[row.op], "untraceable", None)}


@pytest.mark.parametrize("row", OP_TABLE, ids=[row.name for row in OP_TABLE])
def test_every_op_table_row_compiles_to_the_eager_values_and_gradients(row):
    rng = np.random.default_rng(3)
    xs = sample_inputs(row, row.shapes[0], rng)
    upstream = rng.standard_normal(np.shape(row.fn(*[tg.Tensor(x) for x in xs]).data))

    def contracted(*ts):
        return (row.fn(*ts) * upstream).sum()

    argnums = tuple(range(len(xs)))
    eager = tg.value_and_grad(contracted, argnums=argnums)
    compiled = tg.compile(eager)
    if row.name in REFUSED:
        with pytest.raises(TracingError, match="cannot see"):  # refused at trace time
            compiled(*xs)
        return
    for attempt in range(2):  # the trace, then the compiled code on new values
        args = xs if attempt == 0 else sample_inputs(row, row.shapes[0], rng)
        for e, c in zip(_flat(eager(*args)), _flat(compiled(*args))):
            np.testing.assert_allclose(c, e, rtol=1e-12, atol=1e-14, err_msg=row.name)


# --------------------------------------------------------------------------- fit(compile=True)
def _mlp(seed):
    return tg.nn.Sequential(tg.nn.Linear(3, 8, rng=seed), tg.nn.ReLU(), tg.nn.Linear(8, 1, rng=seed + 1))


def test_fit_compiled_follows_the_eager_trajectory_step_for_step():
    # the closure style, parameters w and b, full batch
    runs = []
    for flag in (False, True):
        w, b = tg.zeros((3, 1), requires_grad=True), tg.zeros((), requires_grad=True)
        history = tg.fit([w, b], lambda w=w, b=b: half_mse_cost(w, b), lr=0.1, max_steps=30, compile=flag)
        runs.append((history.loss, w.numpy().copy(), b.numpy().copy()))
    np.testing.assert_allclose(runs[1][0], runs[0][0], rtol=1e-12)
    np.testing.assert_allclose(runs[1][1], runs[0][1], rtol=1e-12)
    # a Module on shuffled mini-batches (a new batch array every step: arguments, not constants)
    rng = np.random.default_rng(1)
    data = (rng.normal(size=(64, 3)), rng.normal(size=(64, 1)))
    losses = []
    for flag in (False, True):
        model = _mlp(0)
        h = tg.fit(model, "mse", data, optimizer="adam", lr=0.01, epochs=3, batch_size=16, seed=0, compile=flag)
        losses.append((h.loss, [p.numpy().copy() for p in model.parameters()]))
    np.testing.assert_allclose(losses[1][0], losses[0][0], rtol=1e-10)
    for a, e in zip(losses[1][1], losses[0][1]):
        np.testing.assert_allclose(a, e, rtol=1e-10, atol=1e-14)


def test_compiled_step_reads_the_batch_it_is_given():
    model = _mlp(3)
    params = list(model.parameters())
    step = tg.compile_step(lambda X, y: tg.losses.mse(model(X), y), params)
    rng = np.random.default_rng(2)
    for _ in range(3):
        X, y = rng.normal(size=(10, 3)), rng.normal(size=(10, 1))
        loss, grads = step(X, y)
        eager_loss, eager_grads = step.fn(X, y)
        np.testing.assert_allclose(loss, eager_loss, rtol=1e-13)
        for g, e in zip(grads, eager_grads):
            np.testing.assert_array_equal(g, e)
    assert step.cache_info().traces == 1


@pytest.mark.parametrize("layer", [tg.nn.Dropout(0.5, rng=0), tg.nn.BatchNorm1d(8)], ids=["dropout", "batchnorm"])
def test_layers_a_trace_cannot_follow_are_refused_in_training_mode(layer):
    model = tg.nn.Sequential(tg.nn.Linear(3, 8, rng=0), layer, tg.nn.Linear(8, 1, rng=1))
    data = (np.ones((6, 3)), np.ones((6, 1)))
    with pytest.raises(TracingError, match=f"cannot trace {type(layer).__name__}"):
        tg.fit(model, "mse", data, max_steps=2, compile=True)
    model.eval()  # in eval mode both are plain functions of the input
    step = tg.compile_step(lambda X, y: tg.losses.mse(model(X), y), list(model.parameters()))
    loss, _ = step(*data)
    assert np.isfinite(loss)


def test_estimators_compile_their_step_and_train_eagerly_when_a_loss_cannot_be_traced():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(40, 2))
    y = X @ np.array([1.5, -2.0]) + 0.3
    fast = tg.LinearRegression(lr=0.1, max_steps=300).fit(X, y)

    def mse_reading_data(pred, target):  # a Python float from .data: the trace cannot see it
        return tg.losses.mse(pred, target) * (1.0 + 1e-3 * float(np.tanh(pred.data.mean())))

    with pytest.warns(UserWarning, match="could not be compiled"):
        slow = tg.LinearRegression(lr=0.1, max_steps=300, loss=mse_reading_data).fit(X, y)
    np.testing.assert_allclose(fast.coef_, [1.5, -2.0], rtol=1e-3)
    np.testing.assert_allclose(slow.coef_, fast.coef_, rtol=1e-2)  # nearly the same loss, trained eagerly


def test_the_source_shown_in_the_docs_is_what_compile_generates():
    import pathlib
    import re

    page = (pathlib.Path(__file__).parent.parent / "docs" / "checking-gradients.md").read_text()
    section = page[page.index("## The gradient as numpy source") :]
    shown = re.search(r"```text\n(.*?)```", section, re.S).group(1)
    X3, y3 = np.array([[1.0], [2.0], [3.0]]), np.array([[2.0], [4.0], [6.0]])

    def cost(w, b):
        m = X3.shape[0]
        return (1 / (2 * m)) * ((X3 @ w + b - y3) ** 2).sum()

    step = tg.compile(tg.value_and_grad(cost, argnums=(0, 1)))
    step(np.array([[0.5]]), np.array(0.0))
    generated = [line.split("  #")[0].strip() for line in step.source.replace("X3", "X").replace("y3", "y").splitlines()]
    for line in shown.splitlines():
        code = line.split("#")[0].strip()
        assert code in generated, f"docs show {code!r}, compile generates:\n" + "\n".join(generated)


# --------------------------------------------------------------------------- random programs
@settings(max_examples=max(1, settings.default.max_examples * 10))
@given(programs())
def test_random_programs_compile_to_the_eager_values_and_gradients(program):
    """Every fuzzed program (3-15 random ops): compiled == eager, on the traced inputs and on
    new ones, or a TracingError (never a silently different value)."""
    upstream = program.upstream

    def contracted(*ts):
        return (program(*ts) * upstream).sum()

    eager = tg.value_and_grad(contracted, argnums=tuple(range(len(program.inputs))))
    compiled = tg.compile(eager)
    rng = np.random.default_rng(0)
    with np.errstate(all="ignore"):
        try:
            fast = _flat(compiled(*program.inputs))
        except TracingError:
            return  # refused (an op that says a trace would freeze it, e.g. sort): never wrong
        for e, c in zip(_flat(eager(*program.inputs)), fast):
            np.testing.assert_allclose(c, e, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=repr(program))
        moved = [a * (1.0 + 0.05 * rng.uniform(-1, 1, np.shape(a))) for a in program.inputs]
        for e, c in zip(_flat(eager(*moved)), _flat(compiled(*moved))):
            np.testing.assert_allclose(c, e, rtol=1e-9, atol=1e-12, equal_nan=True, err_msg=repr(program))


# --------------------------------------------------------------------------- what the code is made of
def _mlp_step(batch=8, width=600):
    """A two-layer ReLU network with softmax cross-entropy (width × batch ≥ 4096: the bits path
    of the ReLU rule)."""
    rng = np.random.default_rng(5)
    X = rng.normal(size=(batch, 4))
    labels = rng.integers(0, 3, size=batch)
    params = [tg.Tensor(rng.normal(size=s) * 0.5, requires_grad=True) for s in ((4, width), (width,), (width, 3), (3,))]

    def loss():
        h = (tg.Tensor(X) @ params[0] + params[1]).relu()
        return tg.losses.cross_entropy(h @ params[2] + params[3], labels)

    return tg.compile_step(loss, params), params


def test_mlp_step_is_numpy_templates_with_one_softmax_and_no_reshape():
    step, params = _mlp_step()
    for _ in range(2):  # the trace, then the compiled code on moved parameters
        loss, grads = step()
        eager_loss, eager_grads = step.fn()
        np.testing.assert_allclose(loss, eager_loss, rtol=1e-13)
        for g, e in zip(grads, eager_grads):
            np.testing.assert_array_equal(g, e)
        for p in params:
            p.data -= 0.1 * p.data
    source = step.source
    assert "_run(" not in source and "_rule(" not in source, source  # Relu, Transpose, the fused loss: templates
    assert source.count("np.exp(") == 1, source  # the loss's softmax is the backward's (common subexpression)
    assert ".reshape(" not in source, source  # a bias gradient is one reduction, not reduce-then-reshape
    assert "np.maximum(" in source and "out=" in source.split("Relu's rule")[0].rsplit("\n", 1)[-1], source


@pytest.mark.parametrize("size", [6, 4096], ids=["where", "bits"])
def test_relu_rule_passes_inf_and_nan_where_x_is_positive_and_zero_elsewhere(size):
    rng = np.random.default_rng(6)
    x = rng.normal(size=size)
    upstream = rng.normal(size=size)
    upstream[:6] = [np.inf, -np.inf, np.nan, np.inf, np.nan, -0.0]
    x[:6] = [1.0, -1.0, -1.0, -2.0, 3.0, 2.0]
    vg = tg.value_and_grad(lambda x: (x.relu() * upstream).sum())
    compiled = tg.compile(vg)
    with np.errstate(invalid="ignore"):
        fast, eager = compiled(x), vg(x)
    np.testing.assert_array_equal(fast[1], eager[1])
    np.testing.assert_array_equal(fast[1][:6], [np.inf, 0.0, 0.0, 0.0, np.nan, -0.0])
    assert "_rule(" not in compiled.source


def _chain(x):
    for _ in range(20):
        x = (x * 1.0001 + 0.1).tanh() * 2.0 - (x ** 2) / 3.0
    return x.exp().log()


def test_a_graph_of_0d_values_runs_on_python_floats_and_falls_back_to_numpy_where_math_raises():
    vg = tg.value_and_grad(_chain)
    compiled = tg.compile(vg)
    for x in (0.3, -1.7):
        fast, eager = compiled(np.float64(x)), vg(np.float64(x))
        for c, e in zip(fast, eager):
            assert type(c) is np.ndarray and c.shape == () and c.dtype == np.float64
            np.testing.assert_allclose(c, e, rtol=1e-13)
    assert "math.tanh(" in compiled.source and "compiled_arrays" in compiled.source
    log_at = tg.compile(tg.value_and_grad(lambda x: x.log() * 2.0))
    log_at(np.float64(1.0))
    with np.errstate(divide="ignore"):  # math.log(0) raises; numpy's -inf and inf are the answer
        np.testing.assert_array_equal(log_at(np.float64(0.0)), (-np.inf, np.inf))
    float32 = tg.compile(tg.value_and_grad(_chain))
    float32(np.float32(0.3))  # float32 would round differently on Python floats: numpy code
    assert "math." not in float32.source and float32(np.float32(0.3))[0].dtype == np.float32


@pytest.mark.parametrize("shape", [(300,), (1024,), (200_000,), (200_000, 1)], ids=["one-dot", "blocks", "blocks+tail", "column"])
def test_float32_sum_of_squares_is_blocked_and_as_accurate_as_the_eager_pairwise_sum(shape):
    """float32 Σ r² without the squared array: a BLAS dot per block of 512 (one dot over all
    of it drifts ~1e-5 from the pairwise sum), the block sums added in float64. A sum of
    squares cannot cancel, so compiled and eager agree relatively, to a few float32 roundings
    (the trace check's 1e-6); the gradient's Σ r can cancel, so it keeps the eager order."""
    x = np.random.default_rng(7).normal(3.0, 1.0, size=shape).astype(np.float32)
    vg = tg.value_and_grad(lambda c: ((x - c) ** 2).mean())
    compiled = tg.compile(vg, fast=False)
    for c in (np.float32(0.5), np.float32(x.mean())):  # at x.mean(), Σ (x - c) nearly cancels
        fast, eager = compiled(c), vg(c)
        r = (x - c).astype(np.float64)  # the float32 residuals, exactly
        exact = np.dot(r.ravel(), r.ravel()) / x.size
        assert fast[0].dtype == np.float32 and fast[0].shape == ()
        np.testing.assert_allclose(fast[0], eager[0], rtol=1e-6)
        np.testing.assert_allclose(fast[0], exact, rtol=4e-7)  # eager's pairwise sum: within ~2e-7 as well
        np.testing.assert_array_equal(fast[1], eager[1])  # the gradient: the same operations in the same order
    source = compiled.source
    assert "** 2" not in source and "(fused: Σ x²)" in source, source  # no N-element square
    assert ("np.vecdot(" in source) == (x.size > 512), source
    assert ("_tail" in source) == (x.size % 512 != 0 and x.size > 512), source
    checked = tg.compile(vg, check=True, check_every=1, fast=False)  # check=True: float32's rounding, not float64's
    for c in (np.float32(0.5), np.float32(x.mean()), np.float32(0.5)):
        checked(c)


def test_a_numpy_scalar_argument_is_its_0d_array():
    compiled = tg.compile(tg.value_and_grad(half_mse_cost, argnums=(0, 1)))
    w = np.zeros((3, 1))
    first = compiled(w, np.array(0.25))
    second = compiled(w, np.float64(0.25))  # what `b - lr * db` on a 0-d array gives
    assert compiled.cache_info().traces == 1
    for a, b in zip(_flat(first), _flat(second)):
        np.testing.assert_array_equal(a, b)


def test_the_fast_path_of_a_call_retraces_on_a_changed_shape_dtype_or_argument(monkeypatch):
    """A loop's calls skip the signature key (a check written for the last signature); any
    other shape, dtype or kind of argument still traces anew, and the values stay right."""
    import importlib

    compile_module = importlib.import_module("tinygrad_gd.compile")  # (tg.compile is the function)
    vg = tg.value_and_grad(half_mse_cost, argnums=(0, 1))
    compiled = tg.compile(vg)
    keys = []
    signature = compile_module._signature
    monkeypatch.setattr(compile_module, "_signature", lambda args, kwargs: keys.append(args) or signature(args, kwargs))
    w = RNG.normal(size=(3, 1))
    compiled(w, np.array(0.2))  # traced: the general path
    keys.clear()
    for b in (np.array(0.3), np.float64(0.4), np.array(0.5)):  # a 0-d array or its numpy scalar: one signature
        for c, e in zip(_flat(compiled(w * b, b)), _flat(vg(w * b, b))):
            np.testing.assert_allclose(c, e, rtol=1e-13, atol=1e-16)
    assert keys == [] and compiled.cache_info()[:2] == (1, 3)  # no key built, three hits
    others = [
        (RNG.normal(size=(3,)), np.array(0.2)),  # another shape (X @ w is (40,): broadcast against Y)
        (w.astype(np.float32), np.array(0.2, dtype=np.float32)),  # another dtype
        (w, np.float32(0.2)),  # a float32 numpy scalar where a float64 0-d array was
        (tg.Tensor(w), np.array(0.2)),  # a Tensor, then one that requires grad: two more signatures
        (tg.Tensor(w, requires_grad=True), np.array(0.2)),
    ]
    for k, args in enumerate(others, start=2):
        for c, e in zip(_flat(compiled(*args)), _flat(vg(*args))):
            assert c.shape == e.shape and c.dtype == e.dtype
            np.testing.assert_allclose(c, e, rtol=1e-5 if e.dtype == np.float32 else 1e-13, atol=1e-12)
        assert compiled.cache_info().traces == k, args
    # back to the first signature; a big-endian float64 array has its key too (no trace: the general path)
    same = [(w, np.array(0.2)), (w.astype(">f8"), np.array(0.2))]
    for args in same:
        for c, e in zip(_flat(compiled(*args)), _flat(vg(*args))):
            np.testing.assert_allclose(c, e, rtol=1e-13, atol=1e-16)
    assert compiled.cache_info().traces == len(others) + 1


def test_python_float_arguments_are_told_apart_by_their_bits():
    compiled = tg.compile(tg.grad(lambda w, s: (w / s).sum()))
    with np.errstate(divide="ignore", invalid="ignore"):
        np.testing.assert_array_equal(compiled(np.ones(2), 0.0), [np.inf, np.inf])
        np.testing.assert_array_equal(compiled(np.ones(2), -0.0), [-np.inf, -np.inf])  # 1/-0.0, as eager
        for _ in range(2):
            np.testing.assert_array_equal(compiled(np.ones(2), float("nan")), [np.nan, np.nan])
    assert compiled.cache_info().traces == 3  # 0.0, -0.0, and one NaN
