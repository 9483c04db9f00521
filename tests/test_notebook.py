"""examples/tour.ipynb runs top to bottom on a real Jupyter kernel, and the objects a notebook
shows (Tensor, History, the gradient report) render as HTML."""

import importlib.util
import re
from pathlib import Path

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import _html

TOUR = Path(__file__).resolve().parent.parent / "examples" / "tour.ipynb"
MISSING = [m for m in ("nbclient", "nbformat", "ipykernel") if importlib.util.find_spec(m) is None]


@pytest.mark.skipif(bool(MISSING), reason=f"the test extra's notebook packages are not installed: {MISSING}")
def test_the_tour_notebook_executes_without_errors():
    import nbformat
    from nbclient import NotebookClient

    notebook = nbformat.read(TOUR, as_version=4)
    assert notebook.cells and not any(c.get("outputs") for c in notebook.cells if c.cell_type == "code")
    NotebookClient(notebook, timeout=60, kernel_name="python3", allow_errors=False).execute()  # raises on any cell error
    outputs = [o for c in notebook.cells if c.cell_type == "code" for o in c.outputs]
    text = "".join(o.get("text", "") for o in outputs)
    assert re.search(r"y = 1\.97\d·x \+ 1\.02\d after \d+ steps", text)
    assert "factor 2" in text
    html_outputs = [o["data"]["text/html"] for o in outputs if "text/html" in o.get("data", {})]
    assert any("gradient check" in h for h in html_outputs)  # the report's _repr_html_
    assert any("final loss" in h for h in html_outputs)  # the History's


def test_tensor_html_is_the_repr_when_small_and_a_summary_when_large():
    small = tg.Tensor([1.0, 2.0], requires_grad=True)
    assert small._repr_html_() == "<pre>Tensor([1., 2.], requires_grad=True)</pre>"
    big = tg.Tensor(np.arange(5000.0).reshape(50, 100), requires_grad=True) * 2.0
    page = big._repr_html_()
    assert "(50, 100)" in page and "float64" in page and "grad_fn=&lt;" in page and "5,000 elements" in page
    assert "0 / 4999 / 9998" in page and len(page) < 2000  # statistics, not the numbers
    labels = tg.Tensor(np.zeros(2000, dtype=np.int64), dtype=np.int64)._repr_html_()
    assert "int64" in labels and "no grad" in labels
    assert _html.table(["<a>"], [["x&y"]]).count("&lt;a&gt;") == 1  # cells are escaped


def test_gradient_report_html_has_the_table_and_the_diagnosis():
    X, y = tg.data.make_line()

    def cost(w, b):
        return tg.losses.mse(X @ w + b, y)

    def half(w, b):  # the 1/(2N) convention's gradient for the 1/N cost
        return tuple(g / 2 for g in tg.analytic.linreg_mse_grad(X, y, w, b))

    report = tg.compare_gradients(cost, [np.zeros((1, 1)), 0.0], half)
    page = report._repr_html_()
    assert page.count("<tr>") == 1 + len(report.parameters)
    assert "hand vs numeric: max abs" in page and "MISMATCH" in page and "factor 2" in page
    ok = tg.compare_gradients(cost, [np.zeros((1, 1)), 0.0])._repr_html_()
    assert "<b>OK</b>" in ok and "hand vs numeric" not in ok
