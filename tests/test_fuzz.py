"""Random-graph fuzzing: random programs of 3–15 ops over 1–3 inputs (``tests/strategies.py``),
every gradient checked against float64 central finite differences with a random upstream
gradient; the create_graph path against the first-order path; second derivatives against
finite differences of the gradient. Every registered primitive is reachable by the fuzzer.

Under the fixed-seed 'ci' profile (the default) the main test runs a few thousand programs;
the random 'thorough' profile (``pytest --hypothesis-profile=thorough``) runs five times as
many (3,600 and 18,000 programs).
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from op_table import numerical_vjp
from strategies import (
    FALLBACK,
    FUZZ_OPS,
    SECOND_ORDER_OPS,
    Program,
    build_step,
    node_types,
    programs,
    registered_fuzz_ops,
    single_op_program,
)

import tinygrad_gd as tg
from tinygrad_gd import autograd, ops


def _examples(per_default_example: float) -> int:
    """Scale with the active profile: 'ci' has max_examples 60, 'thorough' 300."""
    return max(1, int(settings.default.max_examples * per_default_example))


RTOL, ATOL = 1e-4, 1e-5  # FD noise on these programs stays below 1e-8 (relative to scale)


def _assert_close(actual: np.ndarray, expected: np.ndarray, what: str, program: Program, rtol: float = RTOL, atol: float = ATOL) -> None:
    scale = 1.0 + (float(np.max(np.abs(expected))) if expected.size else 0.0)
    if actual.shape != expected.shape or not np.allclose(actual, expected, rtol=rtol, atol=atol * scale):
        raise AssertionError(f"{what} disagree\nautodiff:\n{actual}\nreference:\n{expected}\nin {program!r}")


def assert_gradients_match_finite_differences(program: Program) -> None:
    """d<program(x), upstream>/dx by backward() equals central differences, for every input."""
    with np.errstate(all="ignore"):
        numeric = numerical_vjp(program, program.inputs, program.upstream)
        xs = [tg.Tensor(a, requires_grad=True) for a in program.inputs]
        out = program(*xs)
        out.backward(gradient=program.upstream)
    for i, (x, n) in enumerate(zip(xs, numeric)):
        assert x.grad is None or (x.grad.shape == x.shape and x.grad.dtype == np.float64)
        auto = np.zeros_like(n) if x.grad is None else x.grad.numpy()
        _assert_close(auto, n, f"gradients of input {i}", program)


# --------------------------------------------------------------------------- the fuzzers
@settings(max_examples=_examples(60))
@given(programs())
def test_random_programs_gradients_match_finite_differences(program):
    assert 1 <= len(program.inputs) <= 3 and 3 <= len(program.steps) <= 15
    for shape in program.shapes:
        assert np.broadcast_shapes(shape, program.base) == program.base
    assert_gradients_match_finite_differences(program)


@settings(max_examples=_examples(10))
@given(programs())
def test_random_programs_create_graph_gives_the_first_order_gradients(program):
    """The same rules run on Tensors (create_graph=True) and on arrays give the same numbers."""
    with np.errstate(all="ignore"):
        xs = [tg.Tensor(a, requires_grad=True) for a in program.inputs]
        out = program(*xs)
        first = autograd.grad(out, xs, grad_outputs=program.upstream, retain_graph=True)
        recorded = autograd.grad(out, xs, grad_outputs=program.upstream, create_graph=True)
    for i, (g1, g2) in enumerate(zip(first, recorded)):
        assert (g1 is None) == (g2 is None), f"input {i}: one path found no gradient in {program!r}"
        if g1 is not None:
            _assert_close(g2.numpy(), g1.numpy(), f"create_graph vs first-order gradients of input {i}", program, 1e-9, 1e-11)


def _directional_grad(program: Program, arrays: list[np.ndarray], v: list[np.ndarray]) -> float:
    """Σ_i <d<program, upstream>/dx_i, v_i> by a first-order backward."""
    xs = [tg.Tensor(a, requires_grad=True) for a in arrays]
    grads = autograd.grad(program(*xs), xs, grad_outputs=program.upstream)
    return float(sum(np.sum(g.numpy() * vi) for g, vi in zip(grads, v) if g is not None))


@settings(max_examples=_examples(5))
@given(programs(max_ops=8, op_names=SECOND_ORDER_OPS))
def test_random_programs_second_derivatives_match_finite_differences(program):
    assert_second_derivatives_match_finite_differences(program)


def assert_second_derivatives_match_finite_differences(program: Program) -> None:
    """d/dx <grad(x), v> (create_graph twice) along w equals central differences of the gradient."""
    rng = np.random.default_rng(len(program.steps))
    v = [rng.normal(size=a.shape) for a in program.inputs]
    w = [rng.normal(size=a.shape) for a in program.inputs]
    eps = 1e-5
    with np.errstate(all="ignore"):
        xs = [tg.Tensor(a, requires_grad=True) for a in program.inputs]
        grads = autograd.grad(program(*xs), xs, grad_outputs=program.upstream, create_graph=True)
        terms = [(g * vi).sum() for g, vi in zip(grads, v) if g is not None and g.requires_grad]
        if not terms:
            return  # the gradient is constant (e.g. a linear program): nothing second-order to check
        second = autograd.grad(sum(terms[1:], terms[0]), xs)
        auto = float(sum(np.sum(h.numpy() * wi) for h, wi in zip(second, w) if h is not None))
        plus = _directional_grad(program, [a + eps * wi for a, wi in zip(program.inputs, w)], v)
        minus = _directional_grad(program, [a - eps * wi for a, wi in zip(program.inputs, w)], v)
    numeric = (plus - minus) / (2 * eps)
    _assert_close(np.array(auto), np.array(numeric), "second directional derivatives", program, 1e-3, 1e-4)


# --------------------------------------------------------------------------- every op, alone
SINGLE_SHAPES = ((2, 3), (3,), (), (2, 1, 2))


@pytest.mark.parametrize("name", sorted(FUZZ_OPS))
def test_each_fuzz_op_alone_matches_finite_differences(name):
    placed = 0
    for k, base in enumerate(SINGLE_SHAPES):
        program = single_op_program(name, base, seed=k, param=k + 1)
        placed += program.steps[0].op == name
        assert_gradients_match_finite_differences(program)
    assert placed >= 1 or name == FALLBACK, f"{name} was never placed on the sample shapes"


def test_every_registered_op_is_reachable_by_the_fuzzer():
    reached: set[str] = set()
    for name in FUZZ_OPS:
        for k, base in enumerate(SINGLE_SHAPES):
            program = single_op_program(name, base, seed=k, param=k + 1)
            xs = [tg.Tensor(a, requires_grad=True) for a in program.inputs]
            with np.errstate(all="ignore"):
                reached |= node_types(program(*xs))
    missing = sorted(set(ops.OPS) - reached)
    assert not missing, f"registered ops no fuzz op reaches: {missing}; declare an ops.Fuzz at registration"


def test_the_fuzz_ops_are_built_from_the_registry():
    declared = registered_fuzz_ops()
    assert {op.op for op in declared.values()} == set(ops.OPS)  # every op declares its steps
    for name, op in declared.items():
        assert FUZZ_OPS[name].op in ops.OPS
        assert op.arity == len(op.domains)


# --------------------------------------------------------------------------- the fuzzer can fail
def _program_with(name: str) -> Program:
    return single_op_program(name, (2, 3), seed=3, param=2)


def test_the_fuzzer_catches_a_wrong_backward_rule(monkeypatch):
    program = _program_with("sin")
    assert_gradients_match_finite_differences(program)
    monkeypatch.setattr(ops.Sin, "backward", lambda self, g: g * ops.sin(self.saved[0]))  # sin' is cos
    with pytest.raises(AssertionError, match="gradients of input 0"):
        assert_gradients_match_finite_differences(program)


def test_the_fuzzer_catches_a_broken_unbroadcast(monkeypatch):
    # y = x0 * x1 with x1 of shape (1, 3): its gradient must be summed over the broadcast axis.
    rng = np.random.default_rng(0)
    base = (2, 3)
    inputs = (rng.uniform(-2, 2, size=base), rng.uniform(-2, 2, size=(1, 3)))
    nodes = [tg.Tensor(a) for a in inputs]
    step, out = build_step("mul", (0, 1), 1, nodes, base)
    program = Program(inputs, base, (step,), rng.normal(size=out.shape))
    assert_gradients_match_finite_differences(program)

    def first_row(grad, shape):  # wrong: keeps the first row instead of summing over the rows
        if grad.shape == tuple(shape):
            return grad
        index = (0,) * (grad.ndim - len(shape)) + tuple(slice(0, 1) if n == 1 else slice(None) for n in shape)
        return grad[index].reshape(shape)

    monkeypatch.setattr(autograd, "unbroadcast", first_row)
    with pytest.raises(AssertionError, match="gradients of input 1"):
        assert_gradients_match_finite_differences(program)


def _masked_sqrt_program(kind: str) -> Program:
    from strategies import MASKED_SQRT

    program = single_op_program("masked_sqrt", (2, 3), seed=1, param=MASKED_SQRT.index(kind))
    assert program.steps[0].op == "masked_sqrt" and (program.inputs[0] < 0).any() and (program.inputs[0] > 0).any()
    return program


@pytest.mark.parametrize("kind", ["relu", "maximum", "min"])
def test_the_fuzzer_catches_a_mask_that_multiplies(monkeypatch, kind):
    # g * mask is inf·0 = NaN where the mask is off and sqrt'(0) = inf comes in (issue 11)
    program = _masked_sqrt_program(kind)
    assert_gradients_match_finite_differences(program)
    if kind == "relu":
        monkeypatch.setattr(ops.Relu, "backward", lambda self, g: g * self.saved[0])
    elif kind == "maximum":
        monkeypatch.setattr(ops.Maximum, "backward", lambda self, g: (g * self.saved[0], g * self.saved[1]))
    else:
        monkeypatch.setattr(ops.Min, "backward", lambda self, g: ops.expand_reduced(g, self.in_shape, self.axis, self.keepdims) * self.saved[0] * self.saved[1])
    with pytest.raises(AssertionError, match="gradients of input 0"):
        assert_gradients_match_finite_differences(program)


def test_the_fuzzer_catches_a_nan_std_gradient_at_zero_spread(monkeypatch):
    program = single_op_program("std_zero_spread", (2, 3), seed=0, param=0)
    assert program.steps[0].op == "std_zero_spread"
    assert_gradients_match_finite_differences(program)
    # std as var().sqrt(): sqrt'(0) = inf times the zero spread's gradient, NaN
    monkeypatch.setattr(tg.Tensor, "std", lambda self, axis=None, ddof=0, keepdims=False: self.var(axis, ddof, keepdims).sqrt())
    with pytest.raises(AssertionError, match="gradients of input 0"):
        with np.errstate(all="ignore"):
            assert_gradients_match_finite_differences(program)


def _pow_backward_giving_a_at_exponent_0(self, g):
    # the rule before issue 11: a ** where(b == 0, 1, b - 1), so d/db(df/da) = a, not 1/a
    a, b, out = self.saved
    ga = g * b * a ** ops.where(ops.constant(b) == 0, 1.0, b - 1)
    gb = g * out * ops.log(a) if self.needs_input_grad[1] else None
    return ga, gb


def test_the_fuzzer_catches_a_wrong_second_derivative_at_exponent_0(monkeypatch):
    program = single_op_program("pow_zero_exponent", (2, 3), seed=0, param=0)
    assert program.steps[0].op == "pow_zero_exponent" and program.steps[0].shift != 0.0
    assert_gradients_match_finite_differences(program)
    assert_second_derivatives_match_finite_differences(program)
    monkeypatch.setattr(ops.Pow, "backward", _pow_backward_giving_a_at_exponent_0)
    assert_gradients_match_finite_differences(program)  # first order is still right
    with pytest.raises(AssertionError, match="second directional derivatives"):
        assert_second_derivatives_match_finite_differences(program)


# --------------------------------------------------------------------------- regressions
# Issue 11 item 17: the random ('dev', now 'thorough') profile once failed on this program.
# pow_int drew x**-2 on a "bounded" operand, x0[1] = 0.0516, next to the pole; there the
# central differences (eps=1e-6) are off by 0.02 and autodiff (exact) was reported wrong.
# pow_int now draws non-negative powers only; pow_int_negative keeps |x| >= 0.3.
_POLE_INPUT = np.array([0.8434015328059936, 0.05161507399878795, -0.28509714067069947])
_POLE_STEPS = (("pow_int", 10583), ("abs", 33138), ("cos", 20828), ("cos", 37867))


def test_regression_pow_int_program_near_a_pole_matches_finite_differences():
    nodes, steps = [tg.Tensor(_POLE_INPUT)], []
    for k, (name, param) in enumerate(_POLE_STEPS):
        step, out = build_step(name, (k,), param, nodes, (3,))
        steps.append(step)
        nodes.append(out)
    upstream = np.random.default_rng(0).normal(size=(3,))
    assert_gradients_match_finite_differences(Program((_POLE_INPUT,), (3,), tuple(steps), upstream))


def test_pow_int_is_defined_on_all_of_its_bounded_domain():
    # "bounded" includes 0, so pow_int must be finite there for every param.
    with np.errstate(all="ignore"):
        for param in range(12):
            value = FUZZ_OPS["pow_int"].fn([tg.Tensor(0.0)], param, ())
            assert np.isfinite(value.item()), f"pow_int(0; param={param}) = {value.item()}"


def test_negative_power_near_its_pole_has_the_exact_gradient():
    # The program the fuzzer had drawn, cos(cos(|x**-2|)), against its closed form: the
    # library was right all along.
    x = tg.Tensor(_POLE_INPUT, requires_grad=True)
    (abs(x**-2)).cos().cos().sum().backward()
    u = _POLE_INPUT**-2.0
    np.testing.assert_allclose(x.grad.numpy(), np.sin(np.cos(u)) * np.sin(u) * -2.0 * _POLE_INPUT**-3.0, rtol=1e-12)
