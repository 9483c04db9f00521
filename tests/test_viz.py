"""viz.to_dot (the recorded graph as Graphviz DOT text) and viz.sparkline."""

import re
import shutil
import subprocess

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import viz

NODE = re.compile(r'^  (n\d+) \[label="((?:[^"\\]|\\.)*)", (.*)\];$')
EDGE = re.compile(r"^  (n\d+) -> (n\d+);$")


def parse_dot(text):
    """A strict reader for the subset of DOT that to_dot writes: returns (labels, styles, edges).

    Fails on anything else, so a syntax slip (an unescaped quote, a missing semicolon, an
    edge to an undeclared node) fails the tests."""
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == "digraph tinygrad_gd {"
    assert lines[-1] == "}"
    labels, styles, edges = {}, {}, []
    for line in lines[1:-1]:
        if m := NODE.match(line):
            assert m.group(1) not in labels, f"node {m.group(1)} declared twice"
            labels[m.group(1)] = m.group(2).replace("\\n", "\n").replace('\\"', '"').replace("\\\\", "\\")
            styles[m.group(1)] = m.group(3)
        elif m := EDGE.match(line):
            edges.append((m.group(1), m.group(2)))
        else:
            assert re.match(r'^  (rankdir=(BT|TB|LR|RL)|node \[.*\]|edge \[.*\]|labelloc=t; fontname="Helvetica"; label=".*");$', line), line
    for a, b in edges:
        assert a in labels and b in labels, f"edge {a} -> {b} uses an undeclared node"
    return labels, styles, edges


def seed_graph():
    """Seed 002's loss J = mean((X @ w + b - y)**2) / 2 with named leaves."""
    X = tg.Tensor([[1.0], [2.0], [3.0]])
    w = tg.Tensor([[0.5]], requires_grad=True)
    b = tg.Tensor(0.25, requires_grad=True)
    pred = X @ w + b
    loss = ((pred - np.array([[2.0], [4.0], [6.0]])) ** 2).mean() * 0.5
    return loss, w, b, pred


def by_label(labels, start):
    found = [k for k, v in labels.items() if v.startswith(start)]
    assert len(found) == 1, (start, labels)
    return found[0]


def test_to_dot_nodes_edges_and_labels():
    loss, w, b, _ = seed_graph()
    labels, styles, edges = parse_dot(tg.viz.to_dot(loss, params={"w": w, "b": b}))
    # ops: MatMul, Add, Sub, Pow, Mean, Mul; leaves w and b; X, y and the numbers are constants
    ops = sorted(v.split("\n")[0] for k, v in labels.items() if "ellipse" in styles[k])
    assert ops == ["Add", "MatMul", "Mean", "Mul", "Pow", "Sub"]
    leaves = sorted(v.split("\n")[0] for k, v in labels.items() if "box" in styles[k])
    assert leaves == ["b () float64", "w (1, 1) float64"]
    assert len(labels) == 8 and len(edges) == 7
    n = {name: by_label(labels, name) for name in ["MatMul", "Add", "Sub", "Pow", "Mean", "Mul", "w ", "b "]}
    expected = {
        (n["w "], n["MatMul"]), (n["MatMul"], n["Add"]), (n["b "], n["Add"]), (n["Add"], n["Sub"]),
        (n["Sub"], n["Pow"]), (n["Pow"], n["Mean"]), (n["Mean"], n["Mul"]),
    }
    assert set(edges) == expected
    assert labels[n["MatMul"]] == "MatMul\n(3, 1)"
    assert labels[n["Mean"]] == "Mean\n()"
    # the root is outlined (orange), leaves and ops are styled differently
    assert "penwidth=2" in styles[n["Mul"]] and "penwidth" not in styles[n["Add"]]
    assert styles[n["w "]] != styles[n["Add"]]
    assert "value" in labels[n["Mul"]]  # a one-element root shows its value


def test_to_dot_shows_gradients_after_backward():
    loss, w, b, pred = seed_graph()
    pred.retain_grad()
    before, _, _ = parse_dot(viz.to_dot(loss, params={"w": w, "b": b}))
    assert not any("grad" in v for v in before.values())
    loss.backward()
    labels, _, _ = parse_dot(viz.to_dot(loss, params={"w": w, "b": b}))
    w_label = labels[by_label(labels, "w ")]
    # dJ/dw = 1/m Σ x (w x + b - y) at w = 0.5, b = 0.25: residuals -1.25, -2.75, -4.25
    expected_w = (1 * -1.25 + 2 * -2.75 + 3 * -4.25) / 3
    assert f"grad (1, 1) = {expected_w:.4g}" in w_label
    assert f"grad () = {(-1.25 - 2.75 - 4.25) / 3:.4g}" in labels[by_label(labels, "b ")]
    add_label = labels[by_label(labels, "Add")]  # pred retained its grad: (ŷ - y) / m
    assert "grad (3, 1) = [" in add_label and f"{-1.25 / 3:.4g}" in add_label
    sub_label = labels[by_label(labels, "Sub")]
    assert "grad" not in sub_label  # not retained: no gradient kept, none shown


def test_to_dot_large_values_are_summarised_and_unnamed_leaves():
    x = tg.randn(10, 3, requires_grad=True, rng=0)
    y = (x * 2.0).sum()
    y.backward()
    labels, styles, edges = parse_dot(viz.to_dot(y))
    leaf = labels[by_label(labels, "leaf")]
    assert leaf == "leaf (10, 3) float64\ngrad (10, 3)"  # 30 values: shape only
    assert len(labels) == 3 and len(edges) == 2


def test_to_dot_repeated_input_gets_two_edges_and_shared_nodes_appear_once():
    x = tg.Tensor([1.0, 2.0], requires_grad=True)
    sq = x * x
    out = (sq + sq).sum()
    labels, _, edges = parse_dot(viz.to_dot(out, params={"x": x}))
    x_id, mul, add = by_label(labels, "x "), by_label(labels, "Mul"), by_label(labels, "Add")
    assert edges.count((x_id, mul)) == 2
    assert edges.count((mul, add)) == 2
    assert len(labels) == 4  # x, Mul, Add, Sum: the shared Mul node appears once


def test_to_dot_leaf_root_title_direction_and_escaping():
    x = tg.Tensor(3.0, requires_grad=True)
    text = viz.to_dot(x, params={'the "x"': x}, title='a "quoted" title\\n', rankdir="LR")
    labels, styles, edges = parse_dot(text)
    assert edges == [] and list(labels.values()) == ['the "x" () float64']
    assert "penwidth=2" in next(iter(styles.values()))
    assert "  rankdir=LR;" in text
    assert 'label="a \\"quoted\\" title\\\\n"' in text


def test_to_dot_deep_chain_is_iterative():
    x = tg.Tensor(1.0, requires_grad=True)
    y = x
    for _ in range(5000):
        y = y + 1.0
    labels, _, edges = parse_dot(viz.to_dot(y))
    assert len(labels) == 5001 and len(edges) == 5000


def test_to_dot_errors():
    with pytest.raises(TypeError, match="expects a Tensor"):
        viz.to_dot(np.ones(3))
    x = tg.Tensor(1.0, requires_grad=True)
    with pytest.raises(ValueError, match="rankdir"):
        viz.to_dot(x * 2.0, rankdir="up")
    with pytest.raises(TypeError, match="not a Tensor"):
        viz.to_dot(x * 2.0, params={"x": 1.0})


def test_to_dot_constant_tensor_without_graph():
    t = tg.Tensor([1.0, 2.0]) * 3.0  # nothing requires grad: no graph, a single box
    labels, _, edges = parse_dot(viz.to_dot(t))
    assert list(labels.values()) == ["leaf (2,) float64"] and edges == []


# --------------------------------------------------------------------------- sparkline
def test_sparkline_log_scale_shows_every_decade():
    assert viz.sparkline([1e2, 1e1, 1e0, 1e-1], width=4) == "█▆▃▁"
    assert viz.sparkline(10.0 ** -np.arange(8.0), width=8) == "█▇▆▅▄▃▂▁"
    # on a linear scale the same curve is one cliff
    assert viz.sparkline(10.0 ** -np.arange(8.0), width=8, log=False) == "█▂▁▁▁▁▁▁"


def test_sparkline_resamples_and_keeps_ends():
    values = np.exp(-np.arange(1000) / 100.0)
    line = viz.sparkline(values, width=25)
    assert len(line) == 25 and line[0] == "█" and line[-1] == "▁"
    levels = [viz.SPARK_CHARS.index(c) for c in line]
    assert levels == sorted(levels, reverse=True)
    assert len(viz.sparkline([3.0, 1.0], width=40)) == 2


def test_sparkline_edge_cases():
    assert viz.sparkline([]) == ""
    assert viz.sparkline([2.0, 2.0, 2.0]) == "▁▁▁"
    assert viz.sparkline([1.0, 10.0, float("inf")]) == "▁█!"
    assert viz.sparkline([1.0, float("nan")]) == "▁!"
    assert viz.sparkline([0.0, 1.0, 100.0]) == "▁▁█"  # zero drawn at the smallest positive value
    with pytest.raises(ValueError, match="width"):
        viz.sparkline([1.0], width=0)


def test_to_dot_renders_with_graphviz_when_installed(tmp_path):
    # graphviz is no dependency; where its `dot` program exists, it must accept the text
    loss, w, b, _ = seed_graph()
    loss.backward()
    text = viz.to_dot(loss, params={"w": w, "b": b}, title="J(w, b) = ½ mean (Xw + b − y)²")
    parse_dot(text)
    dot = shutil.which("dot")
    if dot is not None:
        done = subprocess.run([dot, "-Tsvg"], input=text, capture_output=True, text=True, timeout=60)
        assert done.returncode == 0, done.stderr
        assert done.stdout.count('class="node"') == 8 and done.stdout.count('class="edge"') == 7


# --------------------------------------------------------------------------- draw (graphviz)
def test_draw_returns_a_graphviz_source_of_the_dot_text():
    graphviz = pytest.importorskip("graphviz", reason="the graphviz Python package (extra 'graph') is not installed")
    w = tg.Tensor([[0.5]], requires_grad=True)
    loss = ((tg.Tensor([[1.0], [2.0]]) @ w - 2.0) ** 2).mean()
    source = viz.draw(loss, params={"w": w}, rankdir="LR")
    assert isinstance(source, graphviz.Source)
    assert source.source == viz.to_dot(loss, params={"w": w}, rankdir="LR")


def test_draw_without_graphviz_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "graphviz", None)
    w = tg.Tensor([0.5], requires_grad=True)
    with pytest.raises(ImportError, match=r"pip install 'tinygrad_gd\[graph\]'.*to_dot"):
        viz.draw((w * 2.0).sum())
    with pytest.raises(TypeError, match="expects a Tensor"):  # bad input is reported first
        viz.draw(np.ones(2))
