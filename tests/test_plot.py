"""plot.py: figures when matplotlib is installed, a clear error when it is not.

matplotlib is an optional extra, so every test here passes either way: where it is
importable the figures are drawn, saved and inspected; where it is not, the same calls must
raise PlotDependencyError naming the install command. The "missing" path is also tested
everywhere by hiding matplotlib (sys.modules entry set to None)."""

import importlib.util
import subprocess
import sys
from dataclasses import dataclass, field

import numpy as np
import pytest

import tinygrad_gd as tg
from tinygrad_gd import losses, plot

HAVE_MPL = importlib.util.find_spec("matplotlib") is not None
HINT = "pip install 'tinygrad_gd[plot]'"
PNG = b"\x89PNG\r\n\x1a\n"


@dataclass
class Run:
    lr: float
    verdict: str
    losses: list = field(default_factory=list)


def history(n=200, rate=0.97, floor=0.1):
    return tg.History(loss=[floor + 10.0 * rate**k for k in range(n)])


def sweep_runs():
    return [
        Run(0.001, "crawls", [10.0 * 0.999**k for k in range(100)]),
        Run(0.1, "converges", [10.0 * 0.8**k for k in range(100)]),
        Run(1.0, "diverges", [10.0 * 3.0**k for k in range(40)] + [float("inf")]),
    ]


def assert_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000


def draw_or_require(call, path):
    """Call ``call(path)``: with matplotlib, a PNG must appear; without, the hint must be raised."""
    if HAVE_MPL:
        fig = call(path)
        assert_png(path)
        return fig
    with pytest.raises(plot.PlotDependencyError, match=HINT.replace("[", r"\[").replace("]", r"\]")):
        call(path)
    assert not path.exists()
    return None


def test_loss_curves_log_axis_and_legend(tmp_path):
    fig = draw_or_require(lambda p: plot.loss_curves({"a": history(), "b": [5.0, 1.0, 0.5]}, file=p),
                          tmp_path / "loss.png")
    if fig is not None:
        ax = fig.axes[0]
        assert ax.get_yscale() == "log"
        assert "log scale" in ax.get_ylabel()
        assert [t.get_text() for t in ax.get_legend().get_texts()] == ["a", "b"]
        x, y = ax.get_lines()[0].get_data()
        np.testing.assert_allclose(y, history().loss)


def test_loss_curve_drops_nonpositive_and_marks_divergence(tmp_path):
    values = [4.0, 2.0, 0.0, 1.0, float("inf")]
    fig = draw_or_require(lambda p: plot.loss_curves(values, file=p), tmp_path / "one.png")
    if fig is not None:
        lines = fig.axes[0].get_lines()
        x, y = lines[0].get_data()
        assert list(x) == [0, 1, 3] and list(y) == [4.0, 2.0, 1.0]  # 0 and inf left out
        assert lines[1].get_marker() == "x"  # where the run blew up
        assert fig.axes[0].get_legend() is None


def test_cost_surface_matches_the_loss_and_draws_the_path(tmp_path):
    X, y = tg.data.make_noisy_line(n=40, seed=1)
    w = tg.zeros(1, 1, requires_grad=True)
    b = tg.zeros((), requires_grad=True)
    hist = tg.fit([w, b], lambda: losses.half_mse(tg.Tensor(X) @ w + b, y), lr=0.05, max_steps=60)
    path = [(float(p[0].reshape(-1)[0]), float(p[1])) for p in hist.params]
    fig = draw_or_require(
        lambda p: plot.cost_surface(X, y, path, file=p, loss="half_mse", optimum=(2.0, 1.0), resolution=40),
        tmp_path / "surface.png",
    )
    if fig is not None:
        ax = fig.axes[0]
        assert ax.get_xlabel().startswith("w") and ax.get_ylabel().startswith("b")
        line = ax.get_lines()[0]
        np.testing.assert_allclose(np.c_[line.get_data()], np.array(path))
        labels = [t.get_text() for t in ax.get_legend().get_texts()]
        assert labels[0] == "gradient descent" and "start" in labels and "closed form" in labels
        lo, hi = ax.get_xlim()
        assert lo <= 0.0 and hi >= 2.0  # the window holds the start and the optimum
        assert "log scale" in fig.axes[1].get_ylabel()  # the colour bar


def test_cost_grid_is_the_training_loss():
    # the surface must be exactly the function gradient descent minimised
    rng = np.random.default_rng(0)
    x, t = rng.normal(size=7), rng.normal(size=7)
    ws, bs = np.array([-1.0, 0.5, 2.0]), np.array([0.0, 3.0])
    grid = plot._cost_grid(x, t, ws, bs, losses.mse)
    expected = [[np.mean((w * x + b - t) ** 2) for w in ws] for b in bs]
    np.testing.assert_allclose(grid, expected, rtol=1e-12)
    huber = plot._cost_grid(x, t, ws, bs, losses.huber)
    one = float(losses.huber(tg.Tensor(0.5 * x + 3.0), t).data)
    assert huber[1, 1] == pytest.approx(one, rel=1e-12)


def test_cost_surface_input_errors():
    with pytest.raises(ValueError, match="one feature"):
        plot.cost_surface(np.ones((5, 2)), np.ones(5))
    with pytest.raises(ValueError, match="unknown loss"):
        plot.cost_surface(np.ones(5), np.ones(5), loss="nope")
    with pytest.raises(ValueError, match="rows"):
        plot.cost_surface(np.ones(5), np.ones(4))


def test_fitted_line_and_sigmoid(tmp_path):
    x = np.linspace(0, 5, 20)
    fig = draw_or_require(
        lambda p: plot.fitted_line(x, 2 * x + 1, {"gd": (2.0, 1.0), "closed form": (2.0, 1.0)}, file=p),
        tmp_path / "line.png",
    )
    if fig is not None:
        lines = fig.axes[0].get_lines()
        gx, gy = lines[0].get_data()
        np.testing.assert_allclose(gy, 2 * gx + 1)
        assert lines[1].get_linestyle() == "--"
    fig = draw_or_require(
        lambda p: plot.fitted_line(x, (x > 2).astype(float), {"gd": (3.0, -6.0)}, file=p, sigmoid=True),
        tmp_path / "sigmoid.png",
    )
    if fig is not None:
        gx, gy = fig.axes[0].get_lines()[0].get_data()
        np.testing.assert_allclose(gy, 1 / (1 + np.exp(-(3.0 * gx - 6.0))))


def test_lr_sweep_panel(tmp_path):
    fig = draw_or_require(lambda p: plot.lr_sweep(sweep_runs(), file=p, optimum_loss=None), tmp_path / "sweep.png")
    if fig is not None:
        left, right = fig.axes[:2]
        assert left.get_yscale() == "log" and right.get_xscale() == "log" and right.get_yscale() == "log"
        labels = [t.get_text() for t in left.get_legend().get_texts()]
        assert labels == ["lr=0.001 (crawls)", "lr=0.1 (converges)", "lr=1 (diverges)"]
        colours = [line.get_color() for line in left.get_lines() if line.get_label().startswith("lr=")]
        assert colours == [plot.VERDICT_COLORS[v] for v in ("crawls", "converges", "diverges")]
        # the diverged curve stops at the cap (100 × the largest start) instead of stretching the axis
        cap = 100 * 10.0
        assert max(left.get_lines()[2].get_data()[1]) == cap
        assert left.get_ylim()[1] <= 2 * cap
        notes = [t.get_text() for t in right.texts]
        assert notes == ["crawls", "converges", "diverges"]


def test_lr_sweep_excess_over_optimum(tmp_path):
    runs = [Run(0.1, "converges", [2.0 + 10.0 * 0.5**k for k in range(30)])]
    fig = draw_or_require(lambda p: plot.lr_sweep(runs, file=p, optimum_loss=2.0), tmp_path / "excess.png")
    if fig is not None:
        left = fig.axes[0]
        assert "best possible" in left.get_ylabel()
        y = left.get_lines()[0].get_data()[1]
        np.testing.assert_allclose(y[:5], 10.0 * 0.5 ** np.arange(5))


def test_lr_sweep_needs_results():
    with pytest.raises((ValueError, plot.PlotDependencyError)):
        plot.lr_sweep([])


def test_missing_matplotlib_gives_the_install_hint(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    calls = [
        lambda: plot.require_matplotlib(),
        lambda: plot.new_figure(),
        lambda: plot.loss_curves([3.0, 2.0, 1.0], file=tmp_path / "x.png"),
        lambda: plot.cost_surface(np.arange(4.0), np.arange(4.0), file=tmp_path / "y.png"),
        lambda: plot.fitted_line(np.arange(4.0), np.arange(4.0), {"a": (1.0, 0.0)}),
        lambda: plot.lr_sweep(sweep_runs()),
    ]
    for call in calls:
        with pytest.raises(plot.PlotDependencyError) as info:
            call()
        assert str(info.value) == f"plotting needs matplotlib, which is not installed: {HINT}"
        assert isinstance(info.value, ImportError)
    assert list(tmp_path.iterdir()) == []


def test_importing_the_package_does_not_import_matplotlib():
    code = (
        "import sys, tinygrad_gd, tinygrad_gd.plot, tinygrad_gd.cli, tinygrad_gd.viz\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
        "assert hasattr(tinygrad_gd, 'viz')\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


# --------------------------------------------------------------------------- issue 14
def test_cost_surface_takes_the_history_of_a_linear_1_1_model():
    X, y = tg.data.make_noisy_line(n=40, seed=0)
    model = tg.nn.Linear(1, 1, rng=0)
    run = tg.fit(model, losses.mse, (X, y), lr=0.1, max_steps=30)
    assert run.params[0][0].shape == (1, 1) and run.params[0][1].shape == (1,)
    if not HAVE_MPL:
        with pytest.raises(plot.PlotDependencyError):
            plot.cost_surface(X, y, path=run.params, resolution=20)
        return
    fig = plot.cost_surface(X, y, path=run.params, resolution=20)
    line = fig.axes[0].get_lines()[0].get_data()
    np.testing.assert_allclose(line[0], [float(w[0, 0]) for w, _ in run.params])
    np.testing.assert_allclose(line[1], [float(b[0]) for _, b in run.params])


def test_cost_surface_path_entries_must_be_pairs():
    X = np.arange(4.0)
    with pytest.raises(ValueError, match=r"entry 0 holds 3 number\(s\).*nn.Linear\(1, 1\)"):
        plot.cost_surface(X, X, path=[(np.zeros((1, 2)), np.zeros(1))])
    assert plot._path_points([(1.0, 2.0), (np.array([[3.0]]), np.array([4.0]))]).tolist() == [[1, 2], [3, 4]]


def test_tg_plot_is_a_lazy_attribute_that_imports_no_matplotlib():
    code = (
        "import sys, tinygrad_gd as tg\n"
        "assert 'tinygrad_gd.plot' not in sys.modules\n"
        "assert tg.plot.cost_surface and 'plot' in dir(tg)\n"
        "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr


def test_cli_plot_without_matplotlib_finishes_the_run_and_names_the_extra(tmp_path):
    code = (
         "import sys\nsys.modules['matplotlib'] = None\n"
        "from tinygrad_gd.cli import main\nraise SystemExit(main(sys.argv[1:]))\n"
    )
    target = tmp_path / "fit.png"
    argv = ["lr-sweep", "--builtin", "noisy_line", "--lrs", "0.1", "--steps", "20", "--plot", str(target)]
    done = subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip()  # the fit's report was printed
    assert done.stderr.strip().splitlines()[-1] == (
        f"note: --plot {target} was not written: plotting needs matplotlib, which is not installed: {HINT}"
    )
    assert not target.exists() and list(tmp_path.iterdir()) == []


def test_history_html_shows_an_inline_loss_curve_or_a_table(monkeypatch):
    run = history(n=50)
    if HAVE_MPL:
        page = run._repr_html_()
        assert '<img alt="loss curve" src="data:image/png;base64,' in page
        import base64
        import re

        png = base64.b64decode(re.search(r"base64,([^\"]+)", page).group(1))
        assert png.startswith(PNG)
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.figure", None)
    page = run._repr_html_()
    assert "<img" not in page and "<td" in page and f"{run.final_loss:.6g}" in page
    assert tg.History()._repr_html_().count("<table") == 1  # nothing recorded: the summary only
