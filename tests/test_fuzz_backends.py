"""The random programs of the fuzzer (``tests/strategies.py``) replayed on array-api-strict
arrays, on a non-CPU test device (so any numpy call on them raises): values and gradients
(random upstream) must equal the numpy run's. A program that reaches an op the standard cannot
express must raise the clear TypeError naming it (``_backend.unsupported``), never crash
otherwise and never convert to numpy silently.

The programs' numpy constants (a step's weights, a ramp that breaks ties) are made arrays of
the backend for the replay, as a user of that backend would write them; masks and index
arrays stay numpy: the engine converts those itself.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np
import pytest
import strategies
from hypothesis import assume, given, settings
from strategies import FUZZ_OPS, Choices, Program, programs

import tinygrad_gd as tg
from tinygrad_gd import _backend, ops

xp_strict = pytest.importorskip("array_api_strict", reason="array-api-strict is not installed (test extra)")
pytest.importorskip("array_api_compat", reason="array-api-compat is not installed (test extra)")

DEVICE = xp_strict.Device("device1")
PROGRAMS = 100
REFUSED = re.compile(r"^(.+?) is not available for array_api_strict arrays: ")
# A numpy constant built inside a step (not through Choices.constant) next to the backend's
# arrays: the engine's clear mixing error (tests/op_table's NUMPY_CONSTANT_ROWS, on the fuzzer).
MIXES = re.compile(r"^\w+: mixes arrays of two backends, (numpy .* and array_api_strict|array_api_strict .* and numpy) ")
# Scenario steps of tests/strategies.py that check themselves against numpy on the data (the
# test's own reference, not the engine's): left out of the strict replay.
READS_NUMPY = {"transpose_pair": "compares with np.swapaxes(np.asarray(x.data))"}
# What a refusal that names no op is about, and the ops whose graph it can come from.
REFUSAL_SOURCES = {"erf": {"Erf", "Gelu"}, "indexing": {"GetItem"}, "Cast": {"Cast"}}  # Cast: no float128


def _strict(a: np.ndarray) -> object:
    return xp_strict.asarray(a, device=DEVICE)


class StrictConstants:
    """While ``on``, the programs' numeric constants are strict arrays (a context manager that
    patches ``Choices.constant`` and the tie-breaking ramp of ``strategies._prepare``)."""

    def __init__(self) -> None:
        self.on = False
        self._patch = pytest.MonkeyPatch()

    def __enter__(self) -> StrictConstants:
        constant, prepare = Choices.constant, strategies._prepare

        def strict_constant(choices, shape):
            value = constant(choices, shape)
            return tg.Tensor(_strict(value)) if self.on else value  # (strict's own + refuses a Tensor)

        def strict_prepare(step, nodes):
            if not (self.on and step.shift and FUZZ_OPS[step.op].shift == "ramp"):
                return prepare(step, nodes)
            xs = prepare(dataclasses.replace(step, shift=0.0), nodes)
            xs[0] = xs[0] + _strict(step.shift * np.arange(xs[0].size, dtype=np.float64).reshape(xs[0].shape))
            return xs

        self._patch.setattr(Choices, "constant", strict_constant)
        self._patch.setattr(strategies, "_prepare", strict_prepare)
        return self

    def __exit__(self, *exc: object) -> None:
        self._patch.undo()


def _run(program: Program, convert) -> tuple[tg.Tensor, list[tg.Tensor]]:
    xs = [tg.Tensor(convert(a), requires_grad=True) for a in program.inputs]
    with np.errstate(all="ignore"):
        out = program(*xs)
        out.backward(gradient=convert(program.upstream))
    return out, xs


def _ops_run(program: Program) -> set[str]:
    """The op of every node of the program's numpy run (also those the output does not use)."""
    nodes: list[tg.Tensor] = [tg.Tensor(a, requires_grad=True) for a in program.inputs]
    with np.errstate(all="ignore"):
        for step in program.steps:
            nodes.append(strategies.apply_step(step, nodes, program.base)[0])
    return set().union(*(strategies.node_types(n) for n in nodes))


def _close(actual: np.ndarray, expected: np.ndarray, what: str, program: Program) -> None:
    scale = 1.0 + (float(np.max(np.abs(expected))) if expected.size else 0.0)
    np.testing.assert_allclose(actual, expected, rtol=1e-10, atol=1e-12 * scale, err_msg=f"{what} in {program!r}")


def _check_refusal(error: TypeError, reached: set[str], program: Program) -> None:
    if MIXES.match(str(error)):
        return  # a step's own numpy constant (a scenario's weights, a where's mask) met the backend
    found = REFUSED.match(str(error))
    assert found, f"not the clear refusal: {error} in {program!r}"
    name = found.group(1)
    sources = next((ops_ for key, ops_ in REFUSAL_SOURCES.items() if name.startswith(key)), None)
    if sources is None:
        assert name in reached and "array_api_strict" in ops.OPS[name].unsupported_backends, f"{name} refused in {program!r}"
    else:
        assert reached & sources, f"{name} refused, but none of {sorted(sources)} is in {program!r}"


def _replay(program: Program) -> bool:
    """The program on strict arrays equals its numpy run; False when it was refused (clearly)."""
    with StrictConstants() as constants:
        reference, xs = _run(program, np.asarray)
        constants.on = True
        try:
            out, ts = _run(program, _strict)
        except TypeError as error:
            constants.on = False
            _check_refusal(error, _ops_run(program), program)
            return False
    assert _backend.backend_name(out.data) == "array_api_strict", f"the output left the backend in {program!r}"
    _close(out.numpy(), reference.numpy(), "values", program)
    for i, (t, x) in enumerate(zip(ts, xs)):
        assert (t.grad is None) == (x.grad is None), f"input {i}: one run found no gradient in {program!r}"
        if x.grad is not None:
            assert _backend.backend_name(t.grad.data) == "array_api_strict"
            _close(t.grad.numpy(), x.grad.numpy(), f"gradients of input {i}", program)
    return True


@settings(max_examples=PROGRAMS, deadline=None)
@given(programs())
def test_random_programs_on_array_api_strict_equal_the_numpy_run(program):
    assume(not any(step.op in READS_NUMPY for step in program.steps))
    _replay(program)


@pytest.mark.parametrize(("name", "runs"), [
    ("roll", True), ("repeat", True), ("cholesky", True), ("tril", True), ("einsum_dot", False),
    ("gather", True), ("take_rows", True), ("scatter_add", True), ("scatter_add_along", True),  # one-hot scatter-adds
    ("pad", True),
])
def test_ported_ops_run_and_standard_gaps_are_refused_by_name(name, runs):
    assert _replay(strategies.single_op_program(name, (2, 3), seed=1, param=2)) is runs


def test_a_numpy_call_in_a_rule_breaks_the_strict_replay(monkeypatch):
    program = strategies.single_op_program("sin", (2, 3), seed=3, param=2)
    assert _replay(program)
    monkeypatch.setattr(ops.Sin, "backward", lambda self, g: g * np.cos(self.saved[0]))
    with pytest.raises(RuntimeError, match="Can't convert array"):
        _replay(program)
