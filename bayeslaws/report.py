"""One self-contained HTML page about a fit: law, data, posterior, diagnostics, forecasts, figures.

``bayeslaws report FIT.nc --out report.html`` or :func:`write_report`. Figures are embedded as
base64 PNG, styles inline, so the page is a single file that opens anywhere without a network.
The file is written atomically.
"""

from __future__ import annotations

import base64
import html
import io
import os
import warnings

import numpy as np
import pandas as pd

from . import diagnostics as diag_mod
from . import hierarchy
from ._version import __version__
from .fit import approximate_note
from .intervals import DEFAULT_PROB, check_prob
from .progress import Steps

CSS = """
body{font-family:-apple-system,'Segoe UI',Helvetica,Arial,sans-serif;max-width:1100px;margin:2em auto;
padding:0 1.2em;color:#222;line-height:1.45}
h1{font-size:1.6em;margin-bottom:.2em}h2{font-size:1.25em;border-bottom:1px solid #ddd;padding-bottom:.2em;
margin-top:1.8em}.formula{font-family:Georgia,serif;font-size:1.2em;background:#f6f6f6;padding:.4em .8em;
display:inline-block;border-radius:4px}.muted{color:#666;font-size:.92em}
table{border-collapse:collapse;font-size:.88em;margin:.6em 0}th,td{border:1px solid #ddd;padding:.25em .6em;
text-align:right}th{background:#f3f3f3}td:first-child,th:first-child{text-align:left}
.ok{color:#17803d;font-weight:600}.bad{color:#b3261e;font-weight:600}
figure{margin:1.2em 0}figure img{max-width:100%;border:1px solid #eee}figcaption{color:#555;font-size:.9em}
nav a{margin-right:1em}
"""


def _png(fig) -> str:
    """A matplotlib figure as a base64 ``<img>`` tag (the figure is closed)."""
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110)
    plt.close(fig)
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="figure" src="data:image/png;base64,{data}">'


def _table(frame: pd.DataFrame, *, index: bool = True, digits: int = 4) -> str:
    """A DataFrame as a plain HTML table (text escaped, floats to ``digits`` digits)."""
    return frame.to_html(index=index, escape=True, border=0,
                         float_format=lambda v: f"{v:.{digits}g}").replace(' class="dataframe"', "")


def _interval(m, lo, hi) -> str:
    return f"{m:.4g} [{lo:.4g}, {hi:.4g}]"


def _data_summary(fit) -> pd.DataFrame:
    law, fam_col = fit.law, fit.config["family_column"]
    frame = fit.data.copy()
    if fam_col not in frame:
        frame[fam_col] = fit.families[0]
    rows = []
    from .plots import human

    for fam, sub in frame.groupby(fam_col, sort=False):
        row = {"family": fam, "runs": len(sub)}
        for col in law.inputs:
            row[col] = f"{human(sub[col].min())} – {human(sub[col].max())}"
        t = sub[law.target]
        row[law.target] = f"{t.min():.3g} – {t.max():.3g}"
        rows.append(row)
    return pd.DataFrame(rows)


def _posterior_table(fit, prob: float) -> pd.DataFrame:
    s = fit.summary(prob)
    pct = f"{round(100 * prob)}%"
    return pd.DataFrame({
        "median": s["median"], f"{pct} interval": [f"[{a:.4g}, {b:.4g}]" for a, b in
                                                   zip(s["lower"], s["upper"])],
        "sd": s["sd"], "R-hat": s["r_hat"].round(3), "bulk ESS": s["ess_bulk"].round(0),
    }, index=s.index)


def _diagnostics_html(fit) -> str:
    from .compare import _psis

    report = fit.diagnostics()
    found = diag_mod.problems(report)
    worst_rhat = max(report["rhat"].values())
    min_ess = min(report["ess_bulk"].values())
    c = fit.config
    status = ('<span class="ok">converged</span>' if not found else
              '<span class="bad">not converged: ' + html.escape("; ".join(found)) + "</span>")
    sampler = f"{c.get('sampler')} NUTS"
    if approximate_note(fit):  # a quick fit: independent Gaussian draws, no sampler to check
        sampler = "Laplace approximation at the posterior mode (not NUTS)"
    parts = [f"<p>Sampler: {html.escape(sampler)}, {c['chains']} chains × "
             f"{c['draws']} draws after {c.get('tune', '?')} tuning steps, seed {c.get('seed')}, "
             f"target acceptance {c.get('target_accept')}. Status: {status}.</p>",
             f"<p>Worst R-hat {worst_rhat:.3f} (limit {diag_mod.RHAT_MAX}); smallest bulk ESS "
             f"{min_ess:.0f}; divergent transitions {report['divergences']}.</p>"]
    try:
        res = _psis(fit, None)
        k = res.pareto_k.values
        n_high = int((k > res.k_threshold).sum())
        cls = "ok" if n_high == 0 else "bad"
        parts.append(
            f"<p>PSIS-LOO: elpd {res.elpd.elpd:.1f} ± {res.elpd.se:.1f}, effective parameters "
            f"{res.elpd.p:.1f}; Pareto k max {k.max():.2f}, <span class='{cls}'>{n_high} of "
            f"{len(k)} rows above {res.k_threshold:.2f}</span>"
            + (" (use <code>bayeslaws compare</code>, which refits those rows exactly or falls "
               "back to grouped K-fold)" if n_high else "") + ".</p>")
    except Exception as exc:  # noqa: BLE001  a report is still useful without LOO
        parts.append(f"<p class='muted'>PSIS-LOO unavailable: {html.escape(str(exc))}</p>")
    return "\n".join(parts)


def _forecast_tables(fit, target: float, holdout, prob: float) -> str:
    from .plots import flops_label, human
    from .plots.forecast import forecast_path

    law = fit.law
    out = []
    if holdout is not None and len(holdout):
        pred = fit.predict(holdout).interval(prob)
        t = law.target
        tab = pd.DataFrame({c: pred[c] for c in [fit.config["family_column"], *law.inputs]
                            if c in pred})
        tab[f"true {t}"] = pred[t].round(4) if t in pred else np.nan
        tab[f"forecast [{round(100 * prob)}%]"] = [_interval(m, lo, hi) for m, lo, hi in
                                                   pred[[f"{t}_median", f"{t}_lower",
                                                         f"{t}_upper"]].to_numpy()]
        if t in pred:
            inside = (pred[t] >= pred[f"{t}_lower"]) & (pred[t] <= pred[f"{t}_upper"])
            tab["inside"] = np.where(inside, "yes", "no")
            tab["error %"] = (100 * (pred[f"{t}_median"] / pred[t] - 1)).round(2)
        for col in law.inputs:
            if col in tab:
                tab[col] = tab[col].map(human)
        out.append(f"<h3>Held-out runs</h3>{_table(tab, index=False)}")
    two = {"params", "tokens"} <= set(law.inputs)
    xs = np.array([target / 100, target / 10, target])  # the forecast figure's target and below
    t = law.target
    families = list(fit.families)
    if len(families) > 1 and hierarchy.has_population(law):
        families.append("population")
    parts, how = [], ""
    for fam in families:
        rows, pred, how = forecast_path(fit, xs, fam)
        summary = pred.summary(prob)
        tab = pd.DataFrame({"family": fam, "compute C" if two else law.inputs[0]:
                            [flops_label(x) if two else human(x) for x in xs]})
        if two:
            tab["N"] = [human(v) for v in rows["params"]]
            tab["D"] = [human(v) for v in rows["tokens"]]
        tab[f"{t} [{round(100 * prob)}%]"] = [
            _interval(m, lo, hi) for m, lo, hi in
            summary[[f"{t}_median", f"{t}_lower", f"{t}_upper"]].to_numpy()]
        tab["beyond the data"] = [f"{v:.3g}x" if v > 1 else "inside"
                                  for v in summary["extrapolation"]]
        if "compute_multiple" in summary:
            tab["x largest run"] = [f"{v:.3g}x" for v in summary["compute_multiple"]]
        parts.append(tab)
    tab = pd.concat(parts, ignore_index=True)
    if len(families) == 1:
        tab = tab.drop(columns="family")
    where = f" {how}" if how else ""
    out.append(f"<h3>Forecasts per family{html.escape(where)}</h3><p class='muted'>Posterior "
               "predictive (a new run's value: noise and the extrapolation discrepancy "
               "included) at the forecast figure's target and 10x and 100x below it"
               + (", N and D the posterior medians of the optimum" if "frontier" in how else "")
               + ("; 'population' is a new family" if "population" in families else "")
               + ".</p>" + _table(tab, index=False))
    if two:
        opt = fit.optimal(target).table(prob)
        q = ("N_opt", "D_opt", "tokens_per_param", "loss_opt")
        names = ("N*", "D*", "D*/N*", f"{t} at the optimum")
        def cell(k, r):
            if k in ("N_opt", "D_opt"):
                return f"{human(r[0])} [{human(r[1])}, {human(r[2])}]"
            return _interval(*r)

        tab = pd.DataFrame({n: [cell(k, r) for r in opt[[f"{k}_median", f"{k}_lower",
                                                         f"{k}_upper"]].to_numpy()]
                            for k, n in zip(q, names)}, index=opt.index)
        out.append(f"<h3>Compute-optimal allocation at C = {flops_label(target)}</h3>"
                   "<p>N* and D* carry the allocation error learned on held-out IsoFLOP minima "
                   "of three studies (the law's form places the optimum off the measured one; "
                   "docs/calibration.md); the loss, the forecast's discrepancy.</p>"
                   + _table(tab))
    return "\n".join(out)


def build_report(fit, *, target: float | None = None, holdout: pd.DataFrame | None = None,
                 prob: float = DEFAULT_PROB, progress: bool = False) -> str:
    """The report as an HTML string (see :func:`write_report`)."""
    from . import plots
    from .plots.forecast import default_target

    prob = check_prob(prob)
    law = fit.law
    two = {"params", "tokens"} <= set(law.inputs)
    frame = fit.data
    target = float(target) if target is not None else default_target(fit)
    figures = [("fit", "The fitted law per family: median and 50%/90% credible bands of the law "
                "curve; data on top" + ("; held-out runs hollow red" if holdout is not None
                                        else "") + ".",
                lambda: plots.plot_fit(fit, holdout=holdout)),
               ("forecast", "Forecast fan: the posterior predictive extended past the data "
                "(shaded) to the target.", lambda: plots.plot_forecast(fit, target,
                                                                       holdout=holdout))]
    if two:
        figures += [("isoflop", "IsoFLOP profiles with the posterior of the optimal size.",
                     lambda: plots.plot_isoflop(fit)),
                    ("frontier", "Compute-optimal N*(C) and D*(C) with bands, published "
                     "frontiers for reference.", lambda: plots.plot_frontier(fit))]
    figures.append(("forest", "Parameters per family, and the population a new family is drawn "
                    "from.", lambda: plots.plot_forest(fit)))
    figs_html = []
    with Steps("bayeslaws report", len(figures) + 1, show=progress) as steps:
        steps.step("forecast tables")
        forecasts = _forecast_tables(fit, target, holdout, prob)
        steps.done()
        for k, (name, caption, make) in enumerate(figures):
            steps.step(f"figure {k + 1} of {len(figures)} ({name})")
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", UserWarning)
                    img = _png(make())
                figs_html.append(f'<figure id="fig-{name}">{img}<figcaption>'
                                 f"{html.escape(caption)}</figcaption></figure>")
            except Exception as exc:  # noqa: BLE001  one failing figure must not lose the page
                figs_html.append(f"<p class='bad'>figure {name} failed: "
                                 f"{html.escape(str(exc))}</p>")
            steps.done()
    pct = f"{round(100 * prob)}%"
    pooling = ", ".join(f"{k}: {v}" for k, v in law.pooling.items())
    body = f"""
<h1>bayeslaws report: {html.escape(law.name)}{' (approximate)' if approximate_note(fit) else ''}</h1>
{f'<p class="bad">{html.escape(approximate_note(fit))}</p>' if approximate_note(fit) else ''}
<p class="muted">bayeslaws {__version__}; {len(frame)} runs, {len(fit.families)} famil{'y' if len(fit.families) == 1 else 'ies'}; intervals are equal-tailed {pct} posterior intervals.</p>
<nav><a href="#law">Law</a><a href="#data">Data</a><a href="#posterior">Posterior</a>
<a href="#diagnostics">Diagnostics</a><a href="#forecasts">Forecasts</a><a href="#figures">Figures</a></nav>
<h2 id="law">Law</h2>
<p class="formula">{html.escape(law.formula_text)}</p>
<p>Target <code>{html.escape(law.target)}</code> from inputs {', '.join(f'<code>{html.escape(i)}</code>' for i in law.inputs)}. Reference: {html.escape(law.reference or '—')}.
Likelihood: {html.escape(str(law.noise.get('likelihood')))} on {'the log of ' if law.positive_target else ''}the target. Pooling across families: {html.escape(pooling)}.</p>
<h2 id="data">Data</h2>
{_table(_data_summary(fit), index=False)}
<h2 id="posterior">Posterior</h2>
<p class="muted">Rows <code>param[family]</code>; <code>[population]</code> is a new family's distribution; <code>*_sigma</code> are between-family spreads on the sampling scale; <code>sigma</code>, <code>nu</code> the noise.</p>
{_table(_posterior_table(fit, prob))}
<h2 id="diagnostics">Diagnostics</h2>
{_diagnostics_html(fit)}
<h2 id="forecasts">Forecasts</h2>
{forecasts}
<h2 id="figures">Figures</h2>
{''.join(figs_html)}
"""
    return (f"<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
            f"<title>bayeslaws report: {html.escape(law.name)}</title><style>{CSS}</style></head>"
            f"<body>{body}</body></html>\n")


def write_report(fit, path, *, target: float | None = None, holdout: pd.DataFrame | None = None,
                 prob: float = DEFAULT_PROB, progress: bool = False) -> str:
    """Write the self-contained HTML report of ``fit`` to ``path`` atomically.

    Parameters
    ----------
    fit : bayeslaws.fit.Fit
    path : str
        Output HTML file.
    target : float, optional
        Forecast target (FLOPs for laws of params and tokens); default: a round number 100 to 1000
        times the largest run, the forecast figure's default too
        (:func:`bayeslaws.plots.forecast.default_target`).
    holdout : pandas.DataFrame, optional
        Held-out runs: forecast against their true values and marked on the figures.
    prob : float
        Interval probability (default 0.9).

    Returns
    -------
    str
        ``path``.
    """
    from .files import atomic_write

    if not getattr(fit.law, "log_inputs", True):
        from .errors import BayeslawsError

        raise BayeslawsError(f"the HTML report does not cover {fit.law.name!r} fits yet (no size "
                             "axis to forecast along); use `bayeslaws optimal FIT --mixture` and "
                             "`bayeslaws plot FIT --kind mixture`")

    page = build_report(fit, target=target, holdout=holdout, prob=prob, progress=progress)

    def write(tmp):
        with open(tmp, "w", encoding="utf-8") as fh:
            fh.write(page)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # a page to share, not a private temporary file

    atomic_write(path, write)
    return path
