"""The bad-input catalogue: one case per row of the tables in docs/errors.md.

Each row of the doc names an error by an ID, its exception type, an excerpt of its message
and the fix. ``CASES`` below mirrors the doc: for each ID a function that makes the mistake
and the exception class it must raise (or warning it must emit). The tests check that
every doc row has a case and every case a row, that the exception type is the one the doc
names, and that the message contains the doc's excerpt (pieces separated by "…" appear in
order) — so the doc cannot drift from what users actually see.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import data, nn, optim
from tinygrad_gd import losses as L
from tinygrad_gd.estimators import NotFittedError

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"


@dataclass(frozen=True)
class Case:
    """``trigger(tmp_path)`` makes the mistake; it must raise (or warn) ``expected``."""

    expected: type[BaseException]
    trigger: Callable[[Path], object]


def _leaf(*values: float) -> tg.Tensor:
    return tg.Tensor(np.array(values, dtype=np.float64), requires_grad=True)


def _write(tmp: Path, text: str, name: str = "data.csv") -> Path:
    path = tmp / name
    path.write_text(text, encoding="utf-8")
    return path


def _second_backward(tmp: Path) -> None:
    loss = (_leaf(1.0, 2.0).exp()).sum()
    loss.backward()
    loss.backward()


def _version_counter(tmp: Path) -> None:
    x = _leaf(1.0, 2.0)
    y = x.exp()
    z = (y * 2.0).sum()
    with tg.no_grad():
        y += 1.0  # exp saved its output
    z.backward()


def _inplace_leaf(tmp: Path) -> None:
    w = _leaf(1.0)
    w -= 0.1


def _step_without_backward(tmp: Path) -> None:
    optim.SGD([_leaf(1.0)], lr=0.1).step()


def _state_dict_keys(tmp: Path) -> None:
    model = nn.Sequential(nn.Linear(2, 3), nn.ReLU(), nn.Linear(3, 1))
    model.load_state_dict({"0.weight": np.zeros((3, 2)), "hidden.weight": np.zeros((3, 2))})


def _state_dict_shapes(tmp: Path) -> None:
    nn.Linear(2, 3).load_state_dict({"weight": np.zeros((2, 3)), "bias": np.zeros(3)})


def _state_dict_dtype(tmp: Path) -> None:
    nn.Linear(2, 1).load_state_dict({"weight": np.array([["a", "b"]]), "bias": np.zeros(1)})


def _load_other_architecture(tmp: Path) -> None:
    path = nn.Linear(4, 1).save(tmp / "wide")
    nn.Linear(2, 1).load(path)


def _diverge(tmp: Path) -> None:
    rng = np.random.default_rng(0)
    X = rng.normal(size=(20, 2)) * 10
    tg.fit(nn.Linear(2, 1, rng=0), "mse", (X, X[:, :1] * 3.0), lr=10.0, max_steps=200, progress=False)


def _nan_data(tmp: Path) -> None:
    X = np.array([[1.0], [np.nan], [3.0]])
    tg.fit(nn.Linear(1, 1, rng=0), "mse", (X, np.ones((3, 1))), lr=0.1, max_steps=5, progress=False)


def _rising(tmp: Path) -> None:
    X = np.linspace(-1, 1, 10).reshape(-1, 1)
    tg.fit(nn.Linear(1, 1, rng=0), "mse", (X, 3 * X), lr=1.5, max_steps=100, max_rising=3, progress=False)


def _loss_not_scalar(tmp: Path) -> None:
    w = _leaf(1.0, 2.0)
    tg.fit([w], lambda: w * w, max_steps=2, progress=False)


def _loss_not_tensor(tmp: Path) -> None:
    w = _leaf(1.0, 2.0)
    tg.fit([w], lambda: float((w * w).sum().item()), max_steps=2, progress=False)


def _loss_detached(tmp: Path) -> None:
    w = _leaf(1.0, 2.0)
    tg.fit([w], lambda: (w.detach() * 2.0).sum(), max_steps=2, progress=False)


def _grad_of_vector(tmp: Path) -> None:
    tg.grad(lambda x: x * 2.0)(np.array([1.0, 2.0]))


def _gradcheck_fails(tmp: Path) -> None:
    class BadSquare(tg.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x * x

        def backward(self, g):
            (x,) = self.saved
            return g * x  # should be 2x

    tg.gradcheck(lambda t: BadSquare.apply(t), [_leaf(1.0, 2.0)])


def _cross_entropy_onehot(tmp: Path) -> None:
    L.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.eye(3)[[0, 2]])


def _none_grad_after_rebinding(tmp: Path) -> None:
    w = _leaf(1.0, 2.0)
    for step in range(2):
        (w * w).sum().backward()
        if step == 0:
            w = w - w.grad
        else:  # w is now the result of that line: its .grad is None, and reading it warns
            with pytest.warns(UserWarning, match="not a leaf"):
                w = w - w.grad


def _broadcast_trap_warning(tmp: Path) -> None:
    from tinygrad_gd import _broadcast_trap

    _broadcast_trap._warned.clear()  # it warns once per line of code
    pred, y = tg.Tensor(np.ones((4, 1)), requires_grad=True), np.ones(4)
    ((pred - y) ** 2).mean()


def _fit_params_with_data(tmp: Path) -> None:
    w, b = _leaf(0.0), _leaf(0.0)
    X, y = np.ones((3, 1)), np.ones((3, 1))
    tg.fit([w, b], lambda w, b, extra: ((X @ w + b - y) ** 2).mean(), (X, y), max_steps=1)


def _explain_freed_graph(tmp: Path) -> None:
    loss = (_leaf(1.0, 2.0) ** 2).sum()
    loss.backward()
    tg.explain(loss)


CASES: dict[str, Case] = {
    # ---- tensors and dtypes
    "tensor-strings": Case(TypeError, lambda tmp: tg.Tensor(["1.5", "2"])),
    "tensor-ragged": Case(ValueError, lambda tmp: tg.Tensor([[1.0, 2.0], [3.0]])),
    "tensor-int-requires-grad": Case(tg.DtypeError, lambda tmp: tg.Tensor(np.arange(3), dtype=np.int64, requires_grad=True)),
    "tensor-operand-type": Case(TypeError, lambda tmp: tg.Tensor([1.0]) + "2"),
    "item-not-one-element": Case(ValueError, lambda tmp: tg.Tensor([1.0, 2.0]).item()),
    "index-not-integral": Case(IndexError, lambda tmp: tg.Tensor([1.0, 2.0])[tg.Tensor([0.5])]),
    "index-ragged": Case(IndexError, lambda tmp: tg.Tensor([1.0, 2.0, 3.0])[[[0, 1], [2]]]),
    "tensor-masked-array": Case(TypeError, lambda tmp: tg.Tensor(np.ma.masked_array([1.0, 2.0, 3.0], mask=[0, 1, 0]))),
    "where-float-condition": Case(TypeError, lambda tmp: tg.where(tg.Tensor([0.2, 0.9]), _leaf(1.0, 2.0), 0.0)),
    # ---- numpy functions on Tensors
    "numpy-unsupported": Case(TypeError, lambda tmp: np.median(_leaf(1.0, 2.0))),
    "numpy-ufunc-method": Case(TypeError, lambda tmp: np.add.accumulate(_leaf(1.0, 2.0))),
    "numpy-keyword": Case(TypeError, lambda tmp: np.mean(_leaf(1.0, 2.0), dtype=np.float32)),
    "numpy-out": Case(RuntimeError, lambda tmp: np.sum(_leaf(1.0, 2.0), out=np.zeros(()))),
    "numpy-out-parameter": Case(RuntimeError, lambda tmp: np.subtract(_leaf(1.0, 2.0), 0.1, out=_leaf(0.0, 0.0))),
    # ---- shapes
    "shape-broadcast": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((3, 2))) + tg.Tensor(np.zeros(3))),
    "shape-matmul": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((4, 3))) @ tg.Tensor(np.zeros((4, 1)))),
    "shape-matmul-scalar": Case(ValueError, lambda tmp: tg.Tensor(2.0) @ tg.Tensor([1.0])),
    "shape-reshape": Case(ValueError, lambda tmp: tg.Tensor(np.zeros(6)).reshape(4, 2)),
    "shape-axis-range": Case(np.exceptions.AxisError, lambda tmp: tg.Tensor(np.zeros((2, 3))).sum(axis=2)),
    "shape-axis-type": Case(TypeError, lambda tmp: tg.Tensor(np.zeros((2, 3))).sum(axis=1.0)),
    "shape-size-type": Case(TypeError, lambda tmp: tg.Tensor(np.zeros((2, 2))).reshape(2.5, 2)),
    "shape-size-negative": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((2, 2))).reshape(-1, -1)),
    "shape-transpose-pair": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((2, 3, 4))).transpose((0, 1))),
    "shape-flatten-order": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((2, 3))).flatten(1, 0)),
    "shape-axis-repeated": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((2, 3))).sum(axis=(1, -1))),
    "shape-squeeze": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((2, 3))).squeeze(0)),
    "shape-concatenate": Case(ValueError, lambda tmp: tg.cat([tg.Tensor(np.zeros((2, 3))), tg.Tensor(np.zeros((2, 2)))])),
    "shape-stack": Case(ValueError, lambda tmp: tg.stack([tg.Tensor(np.zeros(3)), tg.Tensor(np.zeros(2))])),
    "shape-broadcast-to": Case(ValueError, lambda tmp: tg.Tensor(np.zeros(3)).broadcast_to(2, 4)),
    "shape-linear-input": Case(ValueError, lambda tmp: nn.Linear(3, 1)(np.zeros((5, 2)))),
    "shape-linear-samples-as-features": Case(ValueError, lambda tmp: nn.Linear(1, 1)(np.zeros((1, 20)))),
    "shape-max-empty": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((0,))).max()),
    "shape-var-ddof": Case(ValueError, lambda tmp: tg.Tensor([1.0]).var(ddof=1)),
    "softmax-axis-none": Case(TypeError, lambda tmp: tg.Tensor(np.zeros((2, 3))).softmax(axis=None)),
    "softmax-axis-empty": Case(ValueError, lambda tmp: tg.Tensor(np.zeros((2, 3))).softmax(axis=())),
    # ---- backward misuse
    "backward-not-scalar": Case(RuntimeError, lambda tmp: (_leaf(1.0, 2.0) * 2.0).backward()),
    "backward-gradient-shape": Case(RuntimeError, lambda tmp: (_leaf(1.0, 2.0) * 2.0).backward(gradient=np.ones(3))),
    "backward-no-grad": Case(RuntimeError, lambda tmp: (tg.Tensor([1.0]) * 2.0).sum().backward()),
    "backward-twice": Case(RuntimeError, _second_backward),
    "grad-input-no-grad": Case(RuntimeError, lambda tmp: tg.autograd.grad((_leaf(1.0) * 2.0).sum(), [tg.Tensor([1.0])])),
    "grad-unused-input": Case(RuntimeError, lambda tmp: tg.autograd.grad((_leaf(1.0) * 2.0).sum(), [_leaf(3.0)], allow_unused=False)),
    "requires-grad-non-leaf": Case(RuntimeError, lambda tmp: (_leaf(1.0) * 2.0).requires_grad_(False)),
    "retain-grad-no-grad": Case(RuntimeError, lambda tmp: tg.Tensor([1.0]).retain_grad()),
    "anomaly-forward": Case(RuntimeError, lambda tmp: _anomaly(lambda: _leaf(-1.0).log())),
    "anomaly-backward": Case(RuntimeError, lambda tmp: _anomaly(lambda: _leaf(0.0).sqrt().sum().backward())),
    # ---- in-place misuse
    "inplace-leaf": Case(RuntimeError, _inplace_leaf),
    "inplace-version": Case(RuntimeError, _version_counter),
    "inplace-shape": Case(ValueError, lambda tmp: _inplace_shape()),
    "inplace-broadcast-view": Case(RuntimeError, lambda tmp: _inplace_view()),
    "inplace-shared-memory": Case(RuntimeError, lambda tmp: _inplace_shared_memory()),
    # ---- losses
    "loss-shapes": Case(ValueError, lambda tmp: L.mse(tg.Tensor(np.zeros((4, 1))), np.zeros(4))),
    "loss-reduction": Case(ValueError, lambda tmp: L.mse(tg.Tensor([1.0]), [1.0], reduction="avg")),
    "bce-probabilities": Case(ValueError, lambda tmp: L.binary_cross_entropy(tg.Tensor([0.5, 2.3]), [0.0, 1.0])),
    "bce-targets": Case(ValueError, lambda tmp: L.binary_cross_entropy_with_logits(tg.Tensor([0.5, 2.3]), [-1.0, 1.0])),
    "ce-label-range": Case(ValueError, lambda tmp: L.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.array([0, 3]))),
    "ce-label-shape": Case(ValueError, _cross_entropy_onehot),
    "ce-label-integral": Case(ValueError, lambda tmp: L.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.array([0.0, 1.5]))),
    "ce-label-dtype": Case(TypeError, lambda tmp: L.cross_entropy(tg.Tensor(np.zeros((2, 3))), np.array(["a", "b"]))),
    "huber-delta": Case(ValueError, lambda tmp: L.huber(tg.Tensor([1.0]), [0.0], delta=0.0)),
    # ---- optimizers and schedulers
    "optim-lr": Case(ValueError, lambda tmp: optim.SGD([_leaf(1.0)], lr=-0.1)),
    "optim-single-tensor": Case(TypeError, lambda tmp: optim.Adam(_leaf(1.0), lr=0.1)),
    "optim-empty": Case(ValueError, lambda tmp: optim.SGD([], lr=0.1)),
    "optim-not-tensor": Case(TypeError, lambda tmp: optim.SGD([np.zeros(2)], lr=0.1)),
    "optim-duplicate": Case(ValueError, lambda tmp: _duplicate_params()),
    "optim-no-requires-grad": Case(ValueError, lambda tmp: optim.SGD([tg.Tensor([1.0])], lr=0.1)),
    "optim-non-leaf": Case(ValueError, lambda tmp: optim.SGD([_leaf(1.0) * 2.0], lr=0.1)),
    "optim-nesterov": Case(ValueError, lambda tmp: optim.SGD([_leaf(1.0)], lr=0.1, nesterov=True)),
    "optim-betas": Case(ValueError, lambda tmp: optim.Adam([_leaf(1.0)], betas=(0.9, 1.0))),
    "optim-no-gradient": Case(UserWarning, _step_without_backward),
    "optim-load-state": Case(ValueError, lambda tmp: optim.SGD([_leaf(1.0)], lr=0.1).load_state_dict(nn.Linear(1, 1).state_dict())),
    "optim-grad-type": Case(TypeError, lambda tmp: _step_with_grad([0.5])),
    "optim-grad-shape": Case(ValueError, lambda tmp: _step_with_grad(tg.Tensor([1.0, 2.0, 3.0]))),
    "optim-load-missing-state": Case(ValueError, lambda tmp: _load_adam_state_without("exp_avg")),
    "optim-load-bad-index": Case(ValueError, lambda tmp: optim.SGD([_leaf(1.0)], lr=0.1).load_state_dict({"state": {5: {}}, "param_groups": optim.SGD([_leaf(1.0)], lr=0.1).state_dict()["param_groups"]})),
    "scheduler-step-size": Case(ValueError, lambda tmp: optim.StepLR(optim.SGD([_leaf(1.0)], lr=0.1), step_size=0)),
    # ---- training (fit)
    "fit-diverged": Case(tg.DivergenceError, _diverge),
    "fit-nan-before-training": Case(tg.DivergenceError, _nan_data),
    "fit-rising": Case(tg.DivergenceError, _rising),
    "fit-loss-not-scalar": Case(ValueError, _loss_not_scalar),
    "fit-loss-not-tensor": Case(TypeError, _loss_not_tensor),
    "fit-loss-no-grad": Case(RuntimeError, _loss_detached),
    "fit-unknown-optimizer": Case(ValueError, lambda tmp: tg.fit([_leaf(1.0)], lambda: 0, optimizer="adadelta")),
    "fit-unknown-loss": Case(ValueError, lambda tmp: tg.fit(nn.Linear(1, 1), "mean_squared", (np.ones((2, 1)), np.ones((2, 1))))),
    "fit-optimizer-and-lr": Case(ValueError, lambda tmp: _fit_optimizer_and_lr()),
    "fit-epochs-without-data": Case(ValueError, lambda tmp: tg.fit([_leaf(1.0)], lambda: (_leaf(1.0) * 1.0).sum(), epochs=2)),
    "fit-no-trainable": Case(ValueError, lambda tmp: tg.fit(nn.Linear(1, 1).requires_grad_(False), "mse", (np.ones((2, 1)), np.ones((2, 1))))),
    "fit-record-params": Case(ValueError, lambda tmp: tg.fit([_leaf(1.0)], lambda: 0, record_params=0)),
    "fit-interrupted": Case(tg.train.TrainingInterrupted, lambda tmp: _ctrl_c_at_step_5()),
    # ---- learner mistakes: .grad after rebinding, the (n, 1) - (n,) trap, fit's call, explain
    "grad-none-operand": Case(TypeError, _none_grad_after_rebinding),
    "broadcast-trap": Case(tg.BroadcastWarning, _broadcast_trap_warning),
    "fit-params-with-data": Case(TypeError, _fit_params_with_data),
    "explain-graph-freed": Case(RuntimeError, _explain_freed_graph),
    # ---- data and CSV
    "csv-missing": Case(data.DataFileNotFoundError, lambda tmp: data.load_csv(tmp / "nope.csv", target="y")),
    "csv-empty": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "\n\n"), target="y")),
    "csv-no-rows": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "x,y\n"), target="y")),
    "csv-unknown-column": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "x,price\n1,2\n"), target="y")),
    "csv-field-count": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "x,y\n1,2\n3\n"), target="y")),
    "csv-not-a-number": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "x,y\n1,2\nabc,4\n"), target="y")),
    "csv-missing-value": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "x,y\n1,2\nnan,4\n"), target="y")),
    "csv-not-finite": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "x,y\n1,inf\n"), target="y")),
    "csv-text-feature": Case(data.DataError,
                             lambda tmp: data.load_csv(_write(tmp, "x,city,y\n1,Paris,2\n"), target="y")),
    "csv-text-target": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "x,kind\n1,cat\n"), target="kind")),
    "csv-no-header-column": Case(data.DataError,
                                 lambda tmp: data.load_csv(_write(tmp, "1,2\n3,4\n"), target="price")),
    "csv-duplicate-columns": Case(data.DataError, lambda tmp: data.load_csv(_write(tmp, "x,x,y\n1,2,3\n"), target="y")),
    "csv-not-utf8": Case(data.DataError, lambda tmp: data.load_csv(_write_bytes(tmp, b"x,y\n\xff\xfe,1\n"), target="y")),
    "csv-not-regular-file": Case(data.DataError, lambda tmp: data.load_csv("/dev/null", target="y")),
    "data-row-counts": Case(data.DataError, lambda tmp: data.DataLoader(np.zeros((5, 2)), np.zeros(4))),
    "data-batch-size": Case(data.DataError, lambda tmp: data.DataLoader(np.zeros((5, 2)), batch_size=0)),
    "data-test-size": Case(data.DataError, lambda tmp: data.train_test_split(np.zeros((5, 2)), test_size=1.5)),
    "data-standardizer-unfitted": Case(data.DataError, lambda tmp: data.Standardizer().transform(np.zeros((2, 2)))),
    "data-standardizer-nan": Case(data.DataError, lambda tmp: data.Standardizer().fit(np.array([[1.0], [np.nan]]))),
    "data-unknown-dataset": Case(data.DataError, lambda tmp: data.load_builtin("iris")),
    # ---- state dicts, save and load
    "state-dict-keys": Case(nn.StateDictError, _state_dict_keys),
    "state-dict-shapes": Case(nn.StateDictError, _state_dict_shapes),
    "state-dict-dtype": Case(nn.StateDictError, _state_dict_dtype),
    "state-dict-not-mapping": Case(TypeError, lambda tmp: nn.Linear(1, 1).load_state_dict([np.zeros((1, 1))])),
    "load-missing-file": Case(FileNotFoundError, lambda tmp: nn.Linear(1, 1).load(tmp / "model.npz")),
    "load-not-npz": Case(nn.StateDictError, lambda tmp: nn.Linear(1, 1).load(_write(tmp, "weights", "model.npz"))),
    "load-architecture": Case(nn.StateDictError, _load_other_architecture),
    "load-declared-shape": Case(nn.StateDictError, lambda tmp: nn.Linear(2, 1).load(_npz_declaring(tmp, (400_000_000,)))),
    "load-truncated": Case(nn.StateDictError, lambda tmp: nn.Linear(2, 1).load(_npz_declaring(tmp, (1, 2), data=b"\0" * 8))),
    "load-damaged": Case(nn.StateDictError, lambda tmp: _load_damaged(tmp)),
    "load-empty": Case(nn.StateDictError, lambda tmp: nn.Linear(1, 1).load(_write(tmp, "", "model.npz"))),
    "save-missing-folder": Case(FileNotFoundError, lambda tmp: nn.Linear(1, 1).save(tmp / "missing" / "model.npz")),
    # ---- modules
    "module-assign": Case(TypeError, lambda tmp: _assign_array_to_parameter()),
    "module-assign-buffer": Case(TypeError, lambda tmp: _assign_array_to_buffer()),
    "sequential-not-module": Case(TypeError, lambda tmp: nn.Sequential(nn.Linear(1, 1), np.tanh)),
    "linear-sizes": Case(ValueError, lambda tmp: nn.Linear(0, 3)),
    # ---- functional API and checking
    "functional-not-scalar": Case(ValueError, _grad_of_vector),
    "functional-integer-input": Case(TypeError, lambda tmp: tg.grad(lambda x: (x * x).sum())(np.array([1, 2]))),
    "functional-not-tensor": Case(TypeError, lambda tmp: tg.grad(lambda x: 3.0)(np.array([1.0]))),
    "functional-argnums": Case(ValueError, lambda tmp: tg.grad(lambda x: x.sum(), argnums=1)(np.array([1.0]))),
    "functional-hvp-shape": Case(ValueError, lambda tmp: tg.hvp(lambda x: (x * x).sum(), np.ones(3), np.ones(2))),
    "functional-container-leaf": Case(TypeError, lambda tmp: tg.grad(lambda p: p["w"].sum())({"w": np.ones(2), "name": "layer"})),
    "functional-tangent-shape": Case(ValueError, lambda tmp: tg.jvp(lambda x: x * 2.0, (np.ones(3),), (np.ones(2),))),
    "gradcheck-mismatch": Case(tg.GradcheckError, _gradcheck_fails),
    "gradcheck-float32": Case(UserWarning, lambda tmp: tg.gradcheck(lambda t: (t * t).sum(), [tg.Tensor(np.ones(2, dtype=np.float32), requires_grad=True)])),
    # ---- estimators
    "estimator-not-fitted": Case(NotFittedError, lambda tmp: tg.LinearRegression().predict(np.zeros((2, 1)))),
    "estimator-1d-x": Case(data.DataError, lambda tmp: tg.LinearRegression().fit(np.arange(4.0), np.arange(4.0))),
    "estimator-not-converged": Case(tg.ConvergenceWarning, lambda tmp: tg.LinearRegression(max_steps=5).fit(*_line())),
    "estimator-closed-form-gap": Case(tg.ConvergenceWarning, lambda tmp: tg.LinearRegression(max_steps=5000).fit(*_collinear())),
    "estimator-diverged": Case(tg.DivergenceError, lambda tmp: tg.LinearRegression(lr=5.0).fit(*_line())),
    "manual-seed": Case(TypeError, lambda tmp: tg.manual_seed(1.5)),
}


def _anomaly(fn: Callable[[], object]) -> None:
    with tg.detect_anomaly(), np.errstate(all="ignore"):
        fn()


def _inplace_shape() -> None:
    x = tg.Tensor(np.zeros(3))
    x += np.zeros((2, 3))


def _inplace_view() -> None:
    x = tg.Tensor([1.0]).broadcast_to(3)
    x += 1.0


def _inplace_shared_memory() -> None:
    h = _leaf(1.0, 2.0, 3.0) * 1.0
    p = h[0:2]
    p *= 10.0


def _duplicate_params() -> None:
    w = _leaf(1.0)
    optim.SGD([w, w], lr=0.1)


def _ctrl_c_at_step_5() -> None:
    w = _leaf(1.0, 2.0)

    def press_ctrl_c(info: object) -> None:
        if info.step == 5:  # type: ignore[attr-defined]
            raise KeyboardInterrupt

    tg.fit([w], lambda: (w * w).sum(), lr=0.01, max_steps=100, callbacks=press_ctrl_c, progress=False)


def _fit_optimizer_and_lr() -> None:
    w = _leaf(1.0)
    tg.fit([w], lambda: (w * w).sum(), optimizer=optim.SGD([w], lr=0.1), lr=0.1)


def _assign_array_to_buffer() -> None:
    model = nn.Linear(3, 1)
    model.register_buffer("running_mean", tg.zeros(3))
    model.running_mean = np.zeros(3)


def _step_with_grad(grad: object) -> None:
    w = _leaf(1.0)
    w.grad = grad
    optim.SGD([w], lr=0.1).step()


def _load_adam_state_without(key: str) -> None:
    w = _leaf(1.0, 2.0)
    opt = optim.Adam([w])
    w.grad = tg.Tensor([1.0, 1.0])
    opt.step()
    saved = opt.state_dict()
    del saved["state"][0][key]
    optim.Adam([_leaf(1.0, 2.0)]).load_state_dict(saved)


def _npz_declaring(tmp: Path, shape: tuple[int, ...], data: bytes = b"") -> Path:
    """An .npz for Linear(2, 1) whose weight header declares ``shape`` but holds only ``data``."""
    import zipfile

    path = tmp / "declared.npz"
    with zipfile.ZipFile(path, "w") as archive:
        with archive.open("weight.npy", "w") as member:
            np.lib.format.write_array_header_1_0(member, {"descr": "<f8", "fortran_order": False, "shape": shape})
            member.write(data)
        with archive.open("bias.npy", "w") as member:
            np.lib.format.write_array(member, np.zeros(1))
    return path


def _load_damaged(tmp: Path) -> None:
    path = nn.Linear(2, 1).save(tmp / "model.npz")
    raw = bytearray(path.read_bytes())
    raw[raw.index(b"\x93NUMPY") + 128] ^= 0xFF  # a data byte of the first member
    path.write_bytes(bytes(raw))
    nn.Linear(2, 1).load(path)


def _line() -> tuple[np.ndarray, np.ndarray]:
    return data.make_noisy_line(n=40, seed=0)


def _collinear() -> tuple[np.ndarray, np.ndarray]:
    """Two features that are almost copies of each other."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(80, 1))
    X = np.c_[x, x + 1e-4 * rng.normal(size=(80, 1))]
    return X, 3.0 * X[:, 0] - 2.0 * X[:, 1] + 0.1 * rng.normal(size=80)


def _assign_array_to_parameter() -> None:
    layer = nn.Linear(2, 1)
    layer.weight = np.zeros((1, 2))


def _write_bytes(tmp: Path, raw: bytes) -> Path:
    path = tmp / "bytes.csv"
    path.write_bytes(raw)
    return path


# --------------------------------------------------------------------------- the doc's tables
@dataclass(frozen=True)
class Row:
    id: str
    exception: str
    excerpt: str


_ROW = re.compile(r"^\|\s*`([a-z0-9-]+)`\s*\|(.*)\|\s*$")


def doc_rows() -> dict[str, Row]:
    """Every catalogue row of docs/errors.md: | `id` | situation | `Exception` | `excerpt` | fix |"""
    rows: dict[str, Row] = {}
    for line in DOC.read_text(encoding="utf-8").splitlines():
        match = _ROW.match(line)
        if not match:
            continue
        cells = [c.strip() for c in match.group(2).split("|")]
        assert len(cells) == 4, f"row {match.group(1)} needs 5 cells: {line}"
        exception = re.findall(r"`([^`]+)`", cells[1])
        excerpt = re.findall(r"`([^`]+)`", cells[2])
        assert exception and excerpt, f"row {match.group(1)}: exception and excerpt go in backticks"
        assert match.group(1) not in rows, f"duplicate row id {match.group(1)}"
        rows[match.group(1)] = Row(match.group(1), exception[0], excerpt[0])
    return rows


ROWS = doc_rows()


def test_every_doc_row_has_a_case_and_every_case_a_row():
    assert sorted(set(ROWS) - set(CASES)) == [], "doc rows without a test case"
    assert sorted(set(CASES) - set(ROWS)) == [], "test cases without a doc row"


def _message_of(case: Case, tmp: Path) -> tuple[type[BaseException], str]:
    if issubclass(case.expected, Warning):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            case.trigger(tmp)
        matching = [w for w in caught if issubclass(w.category, case.expected)]
        assert matching, f"expected a {case.expected.__name__}, got {[str(w.message) for w in caught]}"
        return matching[0].category, str(matching[0].message)
    with pytest.raises(case.expected) as info:
        case.trigger(tmp)
    return type(info.value), str(info.value)


@pytest.mark.parametrize("row_id", sorted(CASES))
def test_error_type_and_message_match_the_catalogue(row_id, tmp_path):
    case, row = CASES[row_id], ROWS[row_id]
    kind, message = _message_of(case, tmp_path)
    assert kind.__name__ == row.exception.split(".")[-1], f"doc says {row.exception}, raised {kind.__name__}"
    position = 0
    for piece in (p.strip() for p in row.excerpt.split("…")):
        found = message.find(piece, position)
        assert found >= 0, f"{row_id}: {piece!r} not in the message (after position {position}):\n{message}"
        position = found + len(piece)


# --------------------------------------------------------------------------- fixed misuses
def test_bare_no_grad_and_enable_grad_decorators_work():
    """`@tg.no_grad` without parentheses used to raise a TypeError about __init__."""
    x = _leaf(1.0)

    @tg.no_grad
    def evaluate(t):
        return t * 2.0

    @tg.enable_grad
    def record(t):
        return t * 2.0

    assert not evaluate(x).requires_grad and tg.is_grad_enabled()
    with tg.no_grad():
        assert record(x).requires_grad and not tg.is_grad_enabled()
    assert evaluate.__name__ == "evaluate"


def test_where_accepts_boolean_and_integer_masks():
    a, b = _leaf(1.0, 2.0), _leaf(3.0, 4.0)
    for mask in (np.array([True, False]), [1, 0], tg.Tensor([1.0, 0.0]) > 0.5):
        np.testing.assert_array_equal(tg.where(mask, a, b).numpy(), [1.0, 4.0])
