"""Each extension is one place: a loss registered with ``@register_loss`` and an optimizer
registered by subclassing, written in a throwaway module outside the package, are picked up
by the test tables (tests/tables.py), the CLI's choices, the figures' labels and the name
lookup of ``fit`` and the estimators, and are gone again once the registries are restored."""

from __future__ import annotations

import importlib.util
import sys
import textwrap

import numpy as np
import pytest
from tables import loss_rows, optimizer_rows, registries_restored

import tinygrad_gd as tg
from tinygrad_gd import cli, estimators, losses, optim, plot, train

THROWAWAY = '''
import numpy as np

from tinygrad_gd import losses, optim


@losses.register_loss(label="log-cosh loss", task="regression", short="log-cosh")
def throwaway_log_cosh(pred, target, reduction="mean"):
    d = pred - target
    terms = d + (-2.0 * d).softplus() - np.log(2.0)
    return {"mean": terms.mean, "sum": terms.sum, "none": lambda: terms}[reduction]()


class ThrowawaySignSGD(optim.Optimizer, name="throwaway_signsgd", test_kwargs={"lr": 0.05},
                       variants={"throwaway_signsgd_slow": {"scale": 0.5}}):
    def __init__(self, params, lr, scale=1.0):
        super().__init__(params, dict(lr=lr, scale=scale))

    def update(self, p, grad, state, group):
        self.write_parameter(p, p.data - group["scale"] * group["lr"] * np.sign(grad))
'''


@pytest.fixture
def throwaway(tmp_path):
    """The throwaway module, imported from a file outside the package, inside restored registries."""
    path = tmp_path / "throwaway_extensions.py"
    path.write_text(textwrap.dedent(THROWAWAY), encoding="utf-8")
    spec = importlib.util.spec_from_file_location("throwaway_extensions", path)
    module = importlib.util.module_from_spec(spec)
    with registries_restored():
        sys.modules[spec.name] = module
        try:
            spec.loader.exec_module(module)
            yield module
        finally:
            del sys.modules[spec.name]
    assert "throwaway_log_cosh" not in losses.LOSSES  # restored: nothing leaks into other tests
    assert "throwaway_signsgd" not in optim.OPTIMIZERS


def _fit_options(parser, *args):
    return parser.parse_args(["fit", "data.csv", "--target", "y", *args])


def test_a_new_loss_is_in_every_table_and_lookup(throwaway):
    name = "throwaway_log_cosh"
    row = loss_rows()[name]
    assert row.fn is throwaway.throwaway_log_cosh and row.target_differentiable
    pred, target = row.sample(np.random.default_rng(0))
    for reduction in ("mean", "sum", "none"):  # the table's shared check, as tests/test_losses.py runs it
        inputs = [tg.Tensor(pred, requires_grad=True), tg.Tensor(target, requires_grad=True)]
        assert tg.gradcheck(lambda p, t, r=reduction: row.fn(p, t, reduction=r, **row.options), inputs)
    assert name in losses.loss_names("regression") and name in estimators._regression_losses()
    assert _fit_options(cli.build_parser(), "--loss", name).loss == name  # a CLI choice
    assert plot._short(name) == "log-cosh"  # the figures' label
    assert train.resolve_loss(name) is throwaway.throwaway_log_cosh  # fit's name lookup
    X, y = tg.data.make_noisy_line(n=20, seed=0)
    history = tg.fit(tg.nn.Linear(1, 1, rng=0), name, (X, y), lr=0.1, max_steps=50)
    assert history.loss[-1] < history.loss[0]


def test_a_new_optimizer_is_in_every_table_and_lookup(throwaway):
    name = "throwaway_signsgd"
    row = optimizer_rows()[name]
    assert row.cls is throwaway.ThrowawaySignSGD and row.kwargs == {"lr": 0.05}
    w = tg.Tensor(np.zeros(3), requires_grad=True)  # the table's shared minimisation check
    opt = row.cls([w], **row.kwargs)
    for _ in range(100):
        opt.zero_grad()
        ((w - np.array([1.0, -2.0, 0.5])) ** 2).sum().backward()
        opt.step()
    np.testing.assert_allclose(w.data, [1.0, -2.0, 0.5], atol=0.06)
    assert {name, "throwaway_signsgd_slow"} <= set(optim.optimizer_names())
    parser = cli.build_parser()
    assert _fit_options(parser, "--optimizer", "throwaway_signsgd_slow").optimizer == "throwaway_signsgd_slow"
    slow = train.make_optimizer("throwaway_signsgd_slow", [w], lr=0.1)  # fit's name lookup
    assert isinstance(slow, throwaway.ThrowawaySignSGD) and slow.param_groups[0]["scale"] == 0.5
    x = tg.Tensor(np.zeros(2), requires_grad=True)
    history = tg.fit([x], lambda: ((x - 1.0) ** 2).sum(), optimizer=name, lr=0.1, max_steps=5)
    np.testing.assert_allclose(x.data, [0.5, 0.5])  # five sign steps of 0.1
    assert history.steps == 5


def test_unregistering_by_name_removes_every_trace(throwaway):
    losses.unregister_loss("throwaway_log_cosh")
    optim.unregister_optimizer("throwaway_signsgd")
    assert "throwaway_log_cosh" not in loss_rows() and "throwaway_signsgd" not in optimizer_rows()
    assert "throwaway_signsgd_slow" not in optim.optimizer_names()
    with pytest.raises(SystemExit):
        _fit_options(cli.build_parser(), "--optimizer", "throwaway_signsgd")
    with pytest.raises(ValueError, match="unknown optimizer 'throwaway_signsgd'"):
        train.make_optimizer("throwaway_signsgd", [tg.Tensor([1.0], requires_grad=True)], lr=0.1)
    with pytest.raises(ValueError, match="unknown loss 'throwaway_log_cosh'"):
        train.resolve_loss("throwaway_log_cosh")


# --------------------------------------------------------------------------- ops
# The op case goes here (added by the ops-package change): a throwaway op registered with
# register_op in the same kind of module, picked up by the op table and unregistered afterwards.

OP_THROWAWAY = '''
import numpy as np

from tinygrad_gd import ops
from tinygrad_gd.autograd import Function


@ops.register_op(check=ops.OpCheck(
    cases=(ops.Case("throwaway_cube", lambda x: ThrowawayCube.apply(x), lambda x: x**3, (((3,),), ((2, 3),))),),
    fuzz=(ops.Fuzz("throwaway_cube", operands=("bounded",)),),
))
class ThrowawayCube(Function):
    """f(x) = x³;  f'(x) = 3x²"""

    def forward(self, x):
        self.save_for_backward(x)
        return x**3

    def backward(self, g):
        (x,) = self.saved
        return g * 3.0 * x * x


@ops.register_op
class ThrowawayUnchecked(Function):
    """registered without test metadata: the suite must say so"""

    def forward(self, x):
        return x

    def backward(self, g):
        return g
'''


def _import_throwaway(tmp_path, name: str, source: str):
    path = tmp_path / f"{name}.py"
    path.write_text(textwrap.dedent(source), encoding="utf-8")
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


@pytest.fixture
def throwaway_op(tmp_path):
    with registries_restored():
        try:
            yield _import_throwaway(tmp_path, "throwaway_ops", OP_THROWAWAY)
        finally:
            del sys.modules["throwaway_ops"]
    assert "ThrowawayCube" not in tg.ops.OPS  # restored: nothing leaks into other tests


def test_a_new_op_is_in_the_op_table_and_the_fuzzer(throwaway_op, monkeypatch):
    import strategies
    from op_table import autodiff_vjp, numerical_vjp, op_rows, ops_without_metadata, sample_inputs
    from strategies import registered_fuzz_ops, single_op_program
    from test_fuzz import assert_gradients_match_finite_differences

    row = {r.name: r for r in op_rows()}["throwaway_cube"]
    assert row.op == "ThrowawayCube" and row.shapes == (((3,),), ((2, 3),))
    rng = np.random.default_rng(0)
    for shapes in row.shapes:  # the table's shared gradient check, as tests/test_ops.py runs it
        xs = sample_inputs(row, shapes, rng)
        upstream = rng.standard_normal(shapes[0])
        np.testing.assert_allclose(autodiff_vjp(row.fn, xs, upstream)[0], numerical_vjp(row.fn, xs, upstream)[0], rtol=1e-6)
    fuzz = registered_fuzz_ops()["throwaway_cube"]
    assert fuzz.op == "ThrowawayCube" and fuzz.domains == ("bounded",)
    monkeypatch.setitem(strategies.FUZZ_OPS, "throwaway_cube", fuzz)  # (FUZZ_OPS is built at import)
    program = single_op_program("throwaway_cube", (2, 3))
    assert program.steps[0].op == "throwaway_cube"
    assert_gradients_match_finite_differences(program)
    assert ops_without_metadata() == ["ThrowawayUnchecked"]  # what test_ops reports as a failure
