"""tg.compile(fn, fast=...): the numexpr pass (the ``fast`` extra) gives the eager values and
gradients, shows its expression in ``.source`` (which runs standalone), never hands out a
buffer it reuses, and says how to install numexpr where it is required and missing."""

import functools
import sys

import numpy as np
import pytest
import test_compile as plain
from hypothesis import HealthCheck, given, settings
from op_table import OP_TABLE, sample_inputs
from strategies import programs
from test_compile import _flat, half_mse_cost

import tinygrad_gd as tg
from tinygrad_gd import _compile_numexpr

ne = pytest.importorskip("numexpr", reason="the fast extra (numexpr) is not installed: pip install tinygrad-gd[fast]")


def _code(source):
    """The generated source without its comments (which show the numpy lines a fused one replaced)."""
    return "\n".join(line.split("#")[0] for line in source.splitlines())


@pytest.fixture
def fused(monkeypatch):
    """Every tg.compile with fast=True, and every chain fused whatever its size and cost (the
    op-table and fuzzed arrays are small, below the pass's size limit)."""
    monkeypatch.setattr(_compile_numexpr, "_FORCE", True)
    monkeypatch.setattr(tg, "compile", functools.partial(tg.compile, fast=True))


@pytest.mark.parametrize("row", OP_TABLE, ids=[row.name for row in OP_TABLE])
def test_every_op_table_row_compiled_fast_equals_eager(row, fused):
    plain.test_every_op_table_row_compiles_to_the_eager_values_and_gradients(row)


# a third of the plain test's programs: the fused path shares its tracing and passes with the
# plain one, which runs the full count
@settings(max_examples=max(1, settings.default.max_examples * 10 // 3),
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(programs())
def test_random_programs_compiled_fast_equal_eager(fused, program):
    plain.test_random_programs_compile_to_the_eager_values_and_gradients.hypothesis.inner_test(program)


# the op-table rows whose generated code is elementwise lines the pass fuses (forward and backward)
FUSED_ROWS = ["add", "sub_reflected", "mul", "div", "div_reflected", "neg", "exp", "log", "sqrt", "tanh",
              "pow_two", "pow_half", "pow_negative", "pow_int_negative_base"]


@pytest.mark.parametrize("name", FUSED_ROWS)
def test_elementwise_rows_are_fused_into_ne_evaluate(name, fused):
    row = next(r for r in OP_TABLE if r.name == name)
    rng = np.random.default_rng(3)
    xs = sample_inputs(row, row.shapes[0], rng)
    xs = [np.broadcast_to(x, (4, 3) if np.ndim(x) == 0 else np.shape(x)).copy() for x in xs]  # arrays, not 0-d
    upstream = rng.standard_normal(np.shape(row.fn(*[tg.Tensor(x) for x in xs]).data))
    compiled = tg.compile(tg.value_and_grad(lambda *ts: (row.fn(*ts) * upstream).sum(), argnums=tuple(range(len(xs)))))
    compiled(*xs)
    assert "ne.evaluate(" in compiled.source, compiled.source


def _chain_cost(x, y):
    """An elementwise chain long enough that one numexpr pass beats the numpy lines."""
    return (((x * 0.5 + y) * x - y / 3.0) * (y - 1.0)).exp().sum()


def test_source_shows_the_expression_and_the_lines_it_replaces_and_runs_standalone(fused):
    compiled = tg.compile(tg.value_and_grad(half_mse_cost, argnums=(0, 1)))
    w, b = plain.RNG.normal(size=(3, 1)), np.array(0.2)
    expected = compiled(w, b)
    source = compiled.source
    assert 'ne.evaluate("' in source and "local_dict={" in source and "(fused by numexpr)" in source, source
    assert "# numexpr, one pass over memory:" in source and "#   add" in source, source  # the numpy lines it stands for
    assert "# Sub: f(a, b) = a - b" in source  # the op's formula stays
    namespace = {"np": np, "ne": ne, "X": plain.X, "Y": plain.Y}  # numpy, numexpr and the arrays it names
    exec(source, namespace)
    loss, (d_w, d_b) = namespace["compiled"](w, b)
    np.testing.assert_array_equal(loss, expected[0])
    np.testing.assert_array_equal(d_w, expected[1][0])
    np.testing.assert_array_equal(d_b, expected[1][1])


def test_fast_false_is_plain_numpy(fused):
    compiled = tg.compile(tg.value_and_grad(_chain_cost, argnums=(0, 1)), fast=False)
    x, y = np.linspace(-1, 1, 5), np.linspace(0, 2, 5)
    compiled(x, y)
    assert "ne." not in compiled.source


def test_fast_true_without_numexpr_names_the_extra(monkeypatch):
    monkeypatch.setitem(sys.modules, "numexpr", None)  # `import numexpr` now raises ImportError
    with pytest.raises(ImportError, match=r"pip install tinygrad-gd\[fast\]"):
        tg.compile(half_mse_cost, fast=True)
    w = tg.zeros((3, 1), requires_grad=True)
    with pytest.raises(ImportError, match=r"pip install tinygrad-gd\[fast\]"):
        tg.compile_step(lambda: half_mse_cost(w, 0.0), [w], fast=True)
    monkeypatch.setattr(_compile_numexpr, "_FORCE", True)
    quiet = tg.compile(tg.value_and_grad(_chain_cost))  # fast=None: plain numpy where numexpr is missing
    quiet(np.linspace(-1, 1, 5), np.linspace(0, 2, 5))
    assert "ne." not in quiet.source
    with pytest.raises(TypeError, match="fast= must be None, True or False"):
        tg.compile(half_mse_cost, fast="yes")


def test_returned_arrays_never_alias_a_reused_buffer(fused):
    x, y = np.linspace(-1, 1, 7), np.linspace(0, 2, 7)
    compiled = tg.compile(tg.value_and_grad(_chain_cost, argnums=(0, 1)))
    _, (dx1, dy1) = compiled(x, y)
    assert "out=" in compiled.source and "ne.evaluate(" in compiled.source, compiled.source  # buffers are reused
    kept = dx1.copy(), dy1.copy()
    _, (dx2, dy2) = compiled(x * 2.0, y + 1.0)
    for first, copy, second in zip((dx1, dy1), kept, (dx2, dy2)):
        assert not np.shares_memory(first, second)
        np.testing.assert_array_equal(first, copy)  # the next call did not write into it
    for e, c in zip(_flat(tg.value_and_grad(_chain_cost, argnums=(0, 1))(x * 2.0, y + 1.0)), (None, dx2, dy2)):
        if c is not None:
            np.testing.assert_allclose(c, e, rtol=1e-13)


def test_float32_stays_float32_with_float32_constants(fused):
    rng = np.random.default_rng(8)
    x, y = rng.normal(size=50).astype(np.float32), rng.normal(size=50).astype(np.float32)
    vg = tg.value_and_grad(lambda x, y: ((x * 0.3 + y) * (x - 0.7) / 1.9).tanh().sum(), argnums=(0, 1))
    # (the tanh stays numpy's in float32: libm's last bits differ by enough to show where values cancel)
    compiled = tg.compile(vg)
    fast, eager = _flat(compiled(x, y)), _flat(vg(x, y))
    assert "np.float32(0.3)" in compiled.source, compiled.source  # numexpr would compute x * 0.3 in float64
    for c, e in zip(fast, eager):
        assert c.dtype == np.float32
        np.testing.assert_allclose(c, e, rtol=2e-6, atol=1e-6)


def _forward_chain(x, y):
    """Seven elementwise ops and an exp, each value read once: one chain, reading x and y."""
    return (((x * 0.5 + y) * x - y / 3.0) * (y - 1.0)).exp()


def test_without_forcing_small_arrays_stay_numpy_and_a_long_chain_over_large_ones_is_fused():
    small = tg.compile(_forward_chain, fast=True)
    small(np.linspace(-1, 1, 100), np.linspace(0, 2, 100))
    assert "ne." not in small.source  # under MIN_ELEMENTS: one ne.evaluate call costs more than it saves
    x = np.random.default_rng(9).uniform(-1, 1, size=_compile_numexpr.MIN_ELEMENTS)
    y = np.random.default_rng(10).uniform(0, 2, size=x.size)
    large = tg.compile(_forward_chain, fast=True)
    fused = large(x, y)
    assert _code(large.source).count("ne.evaluate(") == 1 and "np.exp(" not in _code(large.source), large.source
    np.testing.assert_allclose(fused.numpy(), _forward_chain(tg.Tensor(x), tg.Tensor(y)).numpy(), rtol=1e-13)
    short = tg.compile(lambda x, y: x * 0.5 + y, fast=True)  # two cheap ops: numpy in place is faster
    short(x, y)
    assert "ne." not in short.source


def test_a_matmul_with_inner_dimension_one_is_a_product():
    rng = np.random.default_rng(11)
    X, y = rng.normal(size=(_compile_numexpr.MIN_ELEMENTS, 1)), rng.normal(size=_compile_numexpr.MIN_ELEMENTS)

    def cost(w, b):
        return ((X @ w + b - y) ** 2).mean()

    vg = tg.value_and_grad(cost, argnums=(0, 1))
    compiled = tg.compile(vg, fast=True)
    w, b = np.array([0.4]), np.array(0.1)
    fast, eager = _flat(compiled(w, b)), _flat(vg(w, b))
    code = _code(compiled.source)
    assert "X @ w" not in code and ("X[:, 0] * w" in code or '"X_col0": X[:, 0]' in code), compiled.source
    for c, e in zip(fast, eager):
        np.testing.assert_allclose(c, e, rtol=1e-12)


def _precedence(x, y, z):
    """Forms whose numexpr text needs parentheses (and ones that must not get them wrong)."""
    a = x - (y + z)
    b = x / (y * z)
    c = -(x + y) * z
    d = (x - y) ** 2 - (z - x) / (y + 3.0)
    e = x - (y - z) * 2.0
    return a * b + c - d * e


def test_fused_expressions_keep_the_order_of_operations(fused):
    rng = np.random.default_rng(12)
    x, y, z = rng.uniform(0.5, 2.0, size=(3, 6))
    compiled = tg.compile(_precedence)
    out = compiled(x, y, z)
    assert _code(compiled.source).count("ne.evaluate(") == 1, compiled.source  # one expression: x, y, z in, one array out
    np.testing.assert_allclose(out.numpy(), _precedence(tg.Tensor(x), tg.Tensor(y), tg.Tensor(z)).numpy(), rtol=1e-14)


def _read_later(x, y):
    h = x * 3.0
    a = h + y  # folds into c below: h is then read after the relu
    b = h.relu()  # numpy's maximum, which may write into h where nothing reads h afterwards
    return a * 2.0, b * 1.5


def test_buffers_are_chosen_after_fusion_moved_the_reads(fused):
    x, y = np.linspace(-1, 1, 8), np.linspace(0, 2, 8)
    compiled = tg.compile(_read_later)
    c, b = compiled(x, y)
    e_c, e_b = _read_later(tg.Tensor(x), tg.Tensor(y))
    assert "np.maximum(" in compiled.source and "ne.evaluate(" in compiled.source, compiled.source
    np.testing.assert_array_equal(c.numpy(), e_c.numpy())
    np.testing.assert_array_equal(b.numpy(), e_b.numpy())


def test_argument_names_numexpr_uses_itself_are_renamed_in_the_expression(fused):
    def f(c0, where, x_col0):  # a float32 constant's name, a numexpr function, a column alias
        return ((c0 * 0.3 + where) * 0.7 - x_col0).sum()

    rng = np.random.default_rng(13)
    args = [rng.normal(size=5).astype(np.float32) for _ in range(3)]
    vg = tg.value_and_grad(f, argnums=(0, 1, 2))
    compiled = tg.compile(vg)
    for c, e in zip(_flat(compiled(*args)), _flat(vg(*args))):
        np.testing.assert_allclose(c, e, rtol=1e-6)
    assert '"where_": where' in compiled.source and '"_c0": np.float32(0.3)' in compiled.source, compiled.source
