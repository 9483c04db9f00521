"""tg.explain: the backward pass op by op, for seed 002's 1/(2m) cost and the mean cost of
seeds 000/001; the terminal table, the HTML table, the CLI, and the errors."""

from __future__ import annotations

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import analytic, cli
from tinygrad_gd.explain import WIDTH, Explanation, explain_builtin

X = np.array([[1.0], [2.0], [3.0], [4.0]])
Y = np.array([[2.5], [4.0], [6.5], [8.0]])
M = X.shape[0]


def _seed_002(w_value=0.5, b_value=0.25, retain=True):
    w = tg.Tensor([[w_value]], requires_grad=True)
    b = tg.Tensor(b_value, requires_grad=True)
    loss = (1 / (2 * M)) * ((X @ w + b - Y) ** 2).sum()
    if retain is not None:
        loss.backward(retain_graph=retain)
    return loss, w, b


def test_rows_of_seed_002s_cost():
    loss, w, b = _seed_002()
    e = tg.explain(loss, {"w": w, "b": b})
    assert e.op_names == ["Mul", "Sum", "Pow", "Sub", "Add", "MatMul"]
    assert [s.out_shape for s in e.steps] == [(), (), (M, 1), (M, 1), (M, 1), (M, 1)]
    assert [[(g.to, g.shape) for g in s.sent] for s in e.steps] == [
        [("[2] Sum", ())],
        [("[3] Pow", (M, 1))],
        [("[4] Sub", (M, 1))],
        [("[5] Add", (M, 1))],
        [("[6] MatMul", (M, 1)), ("b", ())],
        [("w", (1, 1))],
    ]
    residual = X @ w.data + b.data - Y
    np.testing.assert_allclose(e.steps[0].upstream, 1.0)
    np.testing.assert_allclose(e.steps[1].upstream, 1 / (2 * M))  # what Mul sent
    np.testing.assert_allclose(e.steps[3].upstream, residual / M)  # Pow: 2·r·1/(2m)
    dw, db = analytic.linreg_half_mse_grad(X, Y, w.data, b.data)
    np.testing.assert_allclose(e["w"].gradient, dw, rtol=1e-12)
    np.testing.assert_allclose(e["b"].gradient, db, rtol=1e-12)
    np.testing.assert_allclose(e.steps[4].sent[1].gradient, db, rtol=1e-12)  # summed over the m rows
    assert e["w"].matches_grad and e["b"].matches_grad
    assert e["b"].path == ("Mul", "Sum", "Pow", "Sub", "Add")
    assert e["w"].path == ("Mul", "Sum", "Pow", "Sub", "Add", "MatMul")
    assert e.steps[3].formula.startswith("f(a, b) = a - b;") and "df/db = -1" in e.steps[3].formula


def test_the_mean_cost_of_seeds_000_and_001():
    x, y = np.array([1.0, 2.0, 3.0]), np.array([3.0, 5.0, 7.5])
    w, b = tg.Tensor(0.5, requires_grad=True), tg.Tensor(0.0, requires_grad=True)
    loss = ((w * x + b - y) ** 2).mean()
    loss.backward(retain_graph=True)
    e = tg.explain(loss, [w, b])  # names from the caller's variables
    assert e.op_names == ["Mean", "Pow", "Sub", "Add", "Mul"]
    assert [p.name for p in e.parameters] == ["w", "b"]
    assert e["b"].path == ("Mean", "Pow", "Sub", "Add")
    dw, db = analytic.linreg_mse_grad(x, y, 0.5, 0.0)
    np.testing.assert_allclose([e["w"].gradient, e["b"].gradient], [dw, db], rtol=1e-12)
    np.testing.assert_allclose(e["b"].gradient, np.mean(2 * (0.5 * x - y)))  # mean(2·(ŷ − y))


def test_agrees_with_pytorch_node_by_node():
    torch = pytest.importorskip("torch", reason="PyTorch is only a reference here")
    loss, w, b = _seed_002()
    e = tg.explain(loss, {"w": w, "b": b})
    wt = torch.tensor(w.data, requires_grad=True)
    bt = torch.tensor(b.data, requires_grad=True)
    pred = torch.from_numpy(X) @ wt + bt
    residual = pred - torch.from_numpy(Y)
    square = residual**2
    for t in (pred, residual, square):
        t.retain_grad()
    ((1 / (2 * M)) * square.sum()).backward()
    upstream = {s.op: s.upstream for s in e.steps}
    np.testing.assert_allclose(upstream["Pow"], square.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(upstream["Sub"], residual.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(upstream["Add"], pred.grad.numpy(), rtol=1e-12)
    np.testing.assert_allclose(e["w"].gradient, wt.grad.numpy(), rtol=1e-12)


def test_terminal_text_fits_100_columns_and_summarises_large_arrays():
    Xn, yn = tg.data.make_noisy_line(n=50, seed=0)
    w, b = tg.zeros((1, 1), requires_grad=True), tg.zeros((), requires_grad=True)
    loss = (1 / (2 * 50)) * ((Xn @ w + b - yn) ** 2).sum()
    loss.backward(retain_graph=True)
    text = str(tg.explain(loss, {"w": w, "b": b}))
    assert max(len(line) for line in text.splitlines()) <= WIDTH
    assert "[3] Pow  out (50, 1)" in text and "mean " in text and " min " in text and " max " in text
    assert "path  J → Mul → Sum → Pow → Sub → Add → b" in text
    assert "∂J/∂b = " in text and "b.grad holds exactly this" in text


def test_html_for_notebooks():
    loss, w, b = _seed_002()
    page = tg.explain(loss, {"w": w, "b": b})._repr_html_()
    assert page.count("<table>") == 2 and page.count("<tr>") == 6 + 1 + 2 + 1
    assert "f(A, B) = A @ B" in page and "→ [2] Sum" in page
    assert "<Explanation" not in page  # text is escaped


def test_before_backward_and_after_accumulation():
    loss, w, b = _seed_002(retain=None)  # no backward yet
    e = tg.explain(loss)  # params=None: the caller's leaves, by variable name
    assert w.grad is None and {p.name for p in e.parameters} == {"w", "b"}
    assert not e["w"].matches_grad and "w.grad is None" in str(e)
    loss.backward(retain_graph=True)
    loss.backward(retain_graph=True)  # gradients accumulate: .grad is twice the gradient
    again = tg.explain(loss, [w, b])
    assert not again["b"].matches_grad and "accumulate" in str(again)
    np.testing.assert_allclose(b.grad.data, 2 * again["b"].gradient)


def test_a_module_as_params():
    model = tg.nn.Linear(1, 1, rng=0)
    loss = ((model(X) - Y) ** 2).mean()
    loss.backward(retain_graph=True)
    e = tg.explain(loss, model)
    assert sorted(p.name for p in e.parameters) == ["bias", "weight"]
    assert all(p.matches_grad for p in e.parameters)


def test_errors_say_what_to_do():
    loss, _, _ = _seed_002(retain=False)  # the graph is freed
    with pytest.raises(RuntimeError, match=r"backward\(retain_graph=True\) before tg.explain"):
        tg.explain(loss)
    v = tg.Tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(ValueError, match=r"one-element loss, got shape \(2,\)"):
        tg.explain(v * 2.0)
    with pytest.raises(ValueError, match="no graph to explain"):
        tg.explain(v)
    with pytest.raises(TypeError, match="expects the loss Tensor"):
        tg.explain(1.0)
    with pytest.raises(TypeError, match="parameter 'w' is a ndarray"):
        tg.explain((v * v).sum(), {"w": np.zeros(2)})


def test_the_cli_explains_seed_002_on_the_built_in_data(capsys):
    assert cli.main(["explain"]) == 0
    text = capsys.readouterr().out
    assert "[6] MatMul" in text and "path  J → Mul → Sum → Pow → Sub → Add → MatMul → w" in text
    dw, db = analytic.linreg_half_mse_grad(*tg.data.make_line(), np.zeros((1, 1)), 0.0)
    e = explain_builtin("line")
    assert isinstance(e, Explanation)
    np.testing.assert_allclose(e["w"].gradient, dw)
    np.testing.assert_allclose(e["b"].gradient, db)
    assert cli.main(["explain", "--builtin", "noisy_line", "--w", "1.5"]) == 0
    assert "(50, 1)" in capsys.readouterr().out
