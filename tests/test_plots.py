"""Figures: what each one draws (bands, markers, axes, labels), CLI --kind, published frontiers."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg", force=True)

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from matplotlib.collections import PolyCollection

import bayeslaws as bl
from bayeslaws import cli, plots, published

pytestmark = pytest.mark.slow  # uses the sampled small_fit fixture


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _bands(ax):
    """The filled credible bands of an axes (fill_between draws PolyCollections)."""
    return [c for c in ax.collections if isinstance(c, PolyCollection)]


def _png_ok(path):
    with open(path, "rb") as fh:
        assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def test_human_and_flops_labels():
    assert plots.human(1e9) == "1B" and plots.human(1.4e9) == "1.4B"
    assert plots.human(7e10) == "70B" and plots.human(2e12) == "2T" and plots.human(3e7) == "30M"
    assert plots.flops_label(1e21) == "1e21" and plots.flops_label(3e19) == "3e19"


def test_plot_fit_draws_two_bands_per_curve_and_held_out(small_fit, tmp_path):
    data = small_fit.data
    held = data[data["params"] == data["params"].max()].head(2)
    fig = plots.plot_fit(small_fit, tmp_path / "f.png", holdout=held)
    _png_ok(tmp_path / "f.png")
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == small_fit.families
    ratios = np.unique(np.round(data["tokens"] / data["params"], 1))
    for ax in axes:
        assert len(_bands(ax)) == 2 * len(ratios)  # a 90% and a 50% band per curve
        assert ax.get_xscale() == "log" and ax.get_yscale() == "log"
        assert ax.get_xlabel() == "parameters N"
        labels = [t.get_text() for t in ax.get_xticklabels()]
        assert "1B" in labels and not any("e+" in t for t in labels)
    assert axes[0].get_ylabel() == "loss (nats/token)"
    legend = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "held out" in legend and "90% credible band" in legend and "20 tokens/param" in legend


def test_plot_forecast_fan_widens_past_the_data(small_fit):
    target = 1e24
    fig = plots.plot_forecast(small_fit, target)
    ax = fig.axes[0]
    bands = _bands(ax)
    assert len(bands) == 2 * len(small_fit.families)
    # the 90% band of the first family: wider (in log loss) at the target than inside the data
    verts = bands[0].get_paths()[0].vertices
    x, y = verts[:, 0], verts[:, 1]
    def width(at):
        near = np.abs(np.log(x / at)) < 0.3
        return np.log(y[near].max() / y[near].min())
    inside = small_fit.data.eval("6 * params * tokens").median()
    assert width(target) > 1.5 * width(inside)
    assert ax.get_xscale() == "log" and "compute" in ax.get_xlabel()
    assert any("1e24" in t.get_text() for t in ax.texts)  # the forecast at the target, stated


def test_isoflop_marks_the_optimum_of_each_budget(small_fit):
    budgets = [1e19, 1e20]
    fig = plots.plot_isoflop(small_fit, budgets)
    ax = fig.axes[0]
    assert len(_bands(ax)) == 2 * len(budgets)
    diamonds = [l for l in ax.lines if l.get_marker() == "D"]
    assert len(diamonds) == len(budgets)
    opt = small_fit.optimal(1e20, family=small_fit.families[0]).draws
    assert diamonds[1].get_xdata()[0] == pytest.approx(float(opt["N_opt"].median()), rel=1e-9)
    assert [t.get_text() for t in ax.get_legend().get_texts()][:2] == ["C = 1e19", "C = 1e20"]


def test_frontier_overlays_published_frontiers(small_fit):
    fig = plots.plot_frontier(small_fit, flops=(1e18, 1e24), n_grid=6)
    left, right = fig.axes[:2]
    labels = [t.get_text() for t in fig.legends[0].get_texts()]
    assert "Hoffmann et al. 2022, Eq. 10" in labels and "Kaplan et al. 2020, Table 6" in labels
    assert "population (this fit)" in labels  # two families: a new family's frontier too
    assert len(_bands(left)) == 2 * (len(small_fit.families) + 1)
    hoff = [l for l in left.lines if l.get_label() == "Hoffmann et al. 2022, Eq. 10"][0]
    n, _ = published.hoffmann_frontier(hoff.get_xdata())
    np.testing.assert_allclose(hoff.get_ydata(), n)
    assert left.get_yscale() == right.get_yscale() == "log"


def test_published_frontiers_match_the_papers():
    n, d = published.hoffmann_frontier(5.76e23)  # LAWS.md: N* = 32B for the rounded fit
    assert n == pytest.approx(32e9, rel=0.03) and 6 * n * d == pytest.approx(5.76e23)
    n, d = published.kaplan_frontier(1e21)  # LAWS.md worked example: 7.8e9, 3.9e10
    assert n == pytest.approx(7.8e9, rel=0.02) and d == pytest.approx(3.9e10, rel=0.02)


def test_forest_has_a_row_per_family_and_the_population(small_fit):
    fig = plots.plot_forest(small_fit, params=["E", "alpha"])
    axes = [a for a in fig.axes if a.get_visible()]
    assert [a.get_title() for a in axes] == ["E", "alpha"]
    ticks = [t.get_text() for t in axes[0].get_yticklabels()]
    assert ticks == [*small_fit.families, "population"][::-1] or \
        ticks == [*small_fit.families, "population"]
    with pytest.raises(bl.BayeslawsError, match="unknown parameter"):
        plots.plot_forest(small_fit, params=["gamma"])


def test_calibration_one_line_per_method_with_diagonal(tmp_path):
    table = pd.DataFrame({
        "method": ["bayeslaws"] * 3 + ["bootstrap"] * 3,
        "nominal": [0.5, 0.8, 0.9] * 2, "observed": [0.52, 0.79, 0.9, 0.3, 0.5, 0.6],
        "dataset": ["chinchilla_epoch"] * 6})
    fig = plots.plot_calibration(table, tmp_path / "c.png")
    _png_ok(tmp_path / "c.png")
    ax = fig.axes[0]
    names = [l.get_label() for l in ax.lines]
    assert names == ["perfect calibration", "bayeslaws", "bootstrap"]
    np.testing.assert_allclose(ax.lines[0].get_ydata(), ax.lines[0].get_xdata())  # diagonal
    np.testing.assert_allclose(ax.lines[2].get_ydata(), [0.3, 0.5, 0.6])
    assert ax.get_title() == "chinchilla_epoch"
    with pytest.raises(bl.BayeslawsError, match="method, nominal and observed"):
        plots.plot_calibration(table.drop(columns="observed"))
    with pytest.raises(bl.BayeslawsError, match="fractions"):
        plots.plot_calibration(table.assign(observed=90.0))


def test_compare_plot_draws_elpd_and_extra_scores():
    table = pd.DataFrame({"rank": [0, 1], "elpd": [100.0, 80.0], "se": [5.0, 6.0],
                          "elpd_diff": [0.0, -20.0], "dse": [0.0, 4.0], "weight": [0.9, 0.1],
                          "crps": [0.01, 0.02], "crps_se": [0.001, 0.002]},
                         index=["chinchilla", "kaplan"])
    fig = plots.plot_compare(table)
    assert len(fig.axes) == 2 and fig.axes[1].get_xlabel() == "crps"
    assert "weight 0.90" in fig.axes[0].get_yticklabels()[0].get_text()


def test_fit_plot_accessor_and_cli_kinds(small_fit, tmp_path):
    assert small_fit.plot("forest").axes[0].get_title() == "E"
    with pytest.raises(bl.BayeslawsError, match="unknown plot kind"):
        small_fit.plot("pie")
    small_fit.save(tmp_path / "s.nc")
    for kind in ("fit", "forecast", "isoflop"):
        out = tmp_path / f"{kind}.png"
        args = ["plot", str(tmp_path / "s.nc"), "--out", str(out), "--kind", kind]
        assert cli.main(args + (["--flops", "1e22"] if kind != "fit" else [])) == 0
        _png_ok(out)
    assert cli.main(["plot", str(tmp_path / "s.nc"), "--out", str(tmp_path / "x.png"),
                     "--kind", "forest", "--flops", "1e22"]) == 2
    assert cli.main(["plot", str(tmp_path / "s.nc"), "--out", str(tmp_path / "x.png"),
                     "--kind", "forecast", "--flops", "-1"]) == 2


def test_one_input_law_cannot_draw_allocation():
    from bayeslaws.plots.allocation import _require_allocation

    class Fake:
        class law:
            name, inputs = "power-law", ["flops"]

    with pytest.raises(bl.BayeslawsError, match="params and tokens"):
        _require_allocation(Fake)


def test_fit_plot_of_multi_input_laws_holds_the_other_inputs(tmp_path):
    """Laws whose inputs are not (params, tokens): x = the input that varies within families,
    the rest at each family's median (capacity-gap: teacher size; knowledge: exposures)."""
    import warnings

    import matplotlib
    import pandas as pd

    matplotlib.use("Agg")
    from pathlib import Path

    root = Path(__file__).resolve().parents[1] / "models" / "data"
    for name, csv, xlabel in (("capacity-gap", "capacity_gap_simulated.csv", "teacher_params"),
                              ("knowledge", "knowledge_simulated.csv", "exposures")):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            fit = bl.laws.get(name).fit(pd.read_csv(root / csv), chains=2, draws=100, tune=100,
                                        extrapolation=None)
        fig = fit.plot(path=tmp_path / f"{name}.png")
        assert (tmp_path / f"{name}.png").stat().st_size > 10_000
        axes = [ax for ax in fig.axes if ax.get_visible() and ax.has_data()]
        assert len(axes) == len(fit.families)
        assert all(ax.get_xlabel() == xlabel for ax in axes)
        assert "at each family's median" in fig._suptitle.get_text()
