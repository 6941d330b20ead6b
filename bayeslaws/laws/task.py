r"""Task scaling laws: the two-step model ladder (Bhagia et al. 2024), PassUntil-style (Hu et al.).

Step 1 (:class:`TaskLoss`, ``task``): task loss (bits per byte of the correct answer) in N and D.
Step 2 (:class:`TaskAccuracy`, ``task-accuracy``): accuracy as a sigmoid of the task loss.
:func:`chain` forecasts accuracy at new (N, D) through both, pairing the posterior draws.
Direct (:class:`TaskDirect`, ``task-direct``): accuracy in (N, D) with no task loss measured,
PassUntil's form above a fixed chance floor (for suites such as Pythia).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import xarray as xr

from ..errors import BayeslawsError
from ..intervals import describe
from .base import Law, Param
from .chinchilla import D_REF, N_REF, Chinchilla


class TaskLoss(Chinchilla):
    r"""Step 1 of the model ladder: a task's loss in parameters and tokens.

    .. math::

        L_{task}(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta}

    with the task loss in bits per byte of the correct continuation and :math:`N` the
    non-embedding parameters (Bhagia et al. 2024, Eq. 1), sampled like :class:`Chinchilla`
    through :math:`A_0, B_0` at reference scales that move to the data (the round powers of
    ten nearest the centre of the runs' N and D) when the fixed ones lie outside it ( :mod:`bayeslaws.laws.reference`). The ``family`` is the
    task: exponents and coefficients are partially pooled across tasks, so the 16 ladder runs of
    one task borrow strength from the others. PassUntil-style laws (Hu et al. 2023) fit
    :math:`-\log PU(N) = c N^{-\alpha}`, the same power law on a log pass rate; a per-token loss
    with a floor is the ladder's version of it.

    References
    ----------
    Bhagia et al. 2024, "Establishing Task Scaling Laws via Compute-Efficient Model Ladders",
    arXiv:2412.04403; data allenai/OLMo-ladder.
    Hu et al. 2023, "Predicting Emergent Abilities with Infinite Resolution Evaluation",
    arXiv:2310.03262.
    """

    name = "task"
    target = "task_loss"
    params = (
        Param("E", math.log(0.5), 0.7, family_scale=0.5, doc="irreducible task loss (bpb)"),
        Param("A0", math.log(0.3), 1.0, family_scale=0.5, doc="N-term task loss at the reference N (n_ref)"),
        Param("B0", math.log(0.3), 1.0, family_scale=0.5, doc="D-term task loss at the reference D (d_ref)"),
        Param("alpha", math.log(0.3), 0.5, family_scale=0.3, doc="exponent in N"),
        Param("beta", math.log(0.3), 0.5, family_scale=0.3, doc="exponent in D"),
    )
    formula_text = "task_loss = E + A/N^alpha + B/D^beta (bits per byte)"
    reference = "Bhagia et al. 2024, arXiv:2412.04403"


class TaskAccuracy(Law):
    r"""Step 2 of the model ladder: accuracy as a sigmoid of the task loss.

    .. math::

        \mathrm{Acc}(L) = b + \frac{a}{1 + e^{k (L - L_0)}}

    (Bhagia et al. 2024, Eq. 2, written with :math:`k > 0`): accuracy falls from :math:`a + b`
    at small loss to :math:`b` (about the chance level) at large loss, steepest at :math:`L_0`.
    The target is modelled in levels (``positive_target = False``) since accuracy noise is
    additive. The ``family`` is the task; each task is fitted on its own by default
    (``independent`` pooling), since its checkpoints pin its curve.

    References
    ----------
    Bhagia et al. 2024, "Establishing Task Scaling Laws via Compute-Efficient Model Ladders",
    arXiv:2412.04403.
    """

    name = "task-accuracy"
    target = "accuracy"
    positive_target = False
    inputs = ("task_loss",)
    params = (
        Param("a", math.log(0.5), 0.7, family_scale=0.5, doc="accuracy range above b"),
        Param("b", math.log(0.3), 0.35, family_scale=0.3, doc="accuracy at large loss (chance)"),
        Param("k", math.log(5.0), 0.7, family_scale=0.3, doc="steepness (per bit per byte)"),
        Param("L0", math.log(1.0), 0.5, family_scale=0.3, doc="task loss at the midpoint"),
    )
    formula_text = "accuracy = b + a / (1 + exp(k (task_loss - L0)))"
    reference = "Bhagia et al. 2024, arXiv:2412.04403"
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.05}

    def __init__(self, *, pooling=None, **kwargs):
        # Each task's sigmoid is pinned by its own hundreds of checkpoints, which makes a
        # non-centred hierarchy a funnel; by default every task is fitted on its own (as the paper).
        super().__init__(pooling="independent" if pooling is None else pooling, **kwargs)

    def formula(self, x, p, xp):
        """Return the accuracy (see the class docstring)."""
        z = p["k"] * (xp.exp(x["task_loss"]) - p["L0"])
        return p["b"] + p["a"] * xp.exp(-xp.logaddexp(0.0, z))


class TaskDirect(Law):
    r"""Task accuracy directly in parameters and tokens: PassUntil's law above the chance floor.

    .. math::

        \mathrm{Acc}(N, D) = c + (1 - c)\, e^{-\hat L(N, D)}, \qquad
        \hat L(N, D) = E + \frac{A}{N^\alpha} + \frac{B}{D^\beta}

    where :math:`c` is the task's chance accuracy (an input column ``chance``, taken from the task
    definition: 1/4 for four options, 1/2 for two; not fitted). The fraction of the way from
    chance to perfect, :math:`p = (\mathrm{Acc} - c)/(1 - c)`, follows
    :math:`-\log p = \hat L`, which is Hu et al.'s strict task scaling law
    :math:`-\log PU(N) = c N^{-\alpha}` (LAWS.md section 6: :math:`F = \log(-\log PU)` linear in
    :math:`\log N`) with the floor :math:`E` and the tokens term of the loss law added, so that
    :math:`\hat L` is a latent loss-like proxy (the per-answer loss for which the accuracy would
    be :math:`e^{-\hat L}`) with the Chinchilla form of :class:`TaskLoss`.

    Why this form rather than a sigmoid of a latent loss: with no measured task loss, a sigmoid
    :math:`\sigma(k(\log \hat L - \log L_0))` has a scale freedom (:math:`\hat L \to s\hat L`
    is absorbed by :math:`L_0`) and two more parameters (steepness, ceiling) that a few sizes do
    not pin down; here every parameter is identified from accuracies alone, the ceiling is
    :math:`c + (1 - c)e^{-E}`, and the curve is S-shaped in :math:`\log N` (a Gompertz curve),
    flat at chance for small models (emergence) and saturating for large ones. Sampled like
    :class:`Chinchilla` through :math:`A_0, B_0` at :math:`N = 10^9`, :math:`D = 2\cdot10^{10}`.
    Accuracy is modelled in levels (``positive_target = False``; binomial noise is additive). The
    ``family`` is the task, partially pooled across tasks. A task whose fitted models all sit at
    chance does not identify the law (every large :math:`\hat L` fits); Hu et al.'s point is that
    such tasks need a finer metric (PassUntil), not a different law.

    References
    ----------
    Hu et al. 2023, "Predicting Emergent Abilities with Infinite Resolution Evaluation",
    arXiv:2310.03262 (ICLR 2024).
    Hoffmann et al. 2022, arXiv:2203.15556 (the (N, D) form); Biderman et al. 2023, "Pythia",
    arXiv:2304.01373 (the data it is tested on).
    """

    name = "task-direct"
    target = "accuracy"
    positive_target = False
    inputs = ("params", "tokens", "chance")
    params = (
        Param("E", math.log(0.3), 1.0, family_scale=0.7, doc="-log of the ceiling above chance"),
        Param("A0", math.log(0.5), 1.0, family_scale=0.7, doc="N-term of -log p at N = 1e9"),
        Param("B0", math.log(0.3), 1.0, family_scale=0.7, doc="D-term of -log p at D = 2e10"),
        Param("alpha", math.log(0.4), 0.5, family_scale=0.3, doc="exponent in N"),
        Param("beta", math.log(0.4), 0.5, family_scale=0.3, doc="exponent in D"),
    )
    derived_names = ("A", "B", "ceiling_frac")
    formula_text = "accuracy = chance + (1 - chance) exp(-(E + A/N^alpha + B/D^beta))"
    reference = "Hu et al. 2023, arXiv:2310.03262; Hoffmann et al. 2022 (N, D form)"
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.05}

    def formula(self, x, p, xp):
        """Return the accuracy (see the class docstring)."""
        n_term = p["log_A0"] - p["alpha"] * (x["params"] - math.log(N_REF))
        d_term = p["log_B0"] - p["beta"] * (x["tokens"] - math.log(D_REF))
        lhat = p["E"] + xp.exp(n_term) + xp.exp(d_term)
        chance = xp.exp(x["chance"])
        return chance + (1.0 - chance) * xp.exp(-lhat)

    def derived(self, p, xp):
        """Return A, B (raw units) and the ceiling as a fraction of the way above chance."""
        return {"A": xp.exp(p["log_A0"] + p["alpha"] * math.log(N_REF)),
                "B": xp.exp(p["log_B0"] + p["beta"] * math.log(D_REF)),
                "ceiling_frac": xp.exp(-p["E"])}


def _flat(da: xr.DataArray) -> np.ndarray:
    return da.transpose("chain", "draw", ...).values.reshape((-1,) + da.shape[2:])


class Chain:
    """Draws of the chained forecast: ``task_loss`` (step 1, predictive) and ``accuracy``
    (step 2 law at those losses) and ``accuracy_predictive``, dims ``(sample, row)``."""

    def __init__(self, draws: xr.Dataset, frame: pd.DataFrame):
        self.draws = draws
        self.frame = frame

    def interval(self, prob: float = 0.9) -> pd.DataFrame:
        """Input columns, then median and bounds of task loss and predictive accuracy."""
        out = self.frame.copy()
        for q, name in (("task_loss", "task_loss"), ("accuracy_predictive", "accuracy")):
            d = describe(self.draws[q].rename(sample="draw").expand_dims(chain=[0]), prob)
            out[f"{name}_median"] = d["median"].values
            out[f"{name}_lower"] = d["lower"].values
            out[f"{name}_upper"] = d["upper"].values
        return out


def chain(loss_fit, accuracy_fit, new_data: pd.DataFrame, *, seed: int = 0) -> Chain:
    r"""Two-step forecast (N, D) -> task loss -> accuracy, propagating every posterior draw.

    Draw :math:`s` of step 1's posterior predictive of the task loss at each row is passed
    through draw :math:`s` of step 2 (the draws are paired one to one after flattening chains;
    when the fits have different numbers of draws, the larger is thinned at random to the
    smaller), then step 2's observation noise is added. The interval of the chained accuracy so
    carries the uncertainty of both fits and of both steps' noise.

    Parameters
    ----------
    loss_fit : bayeslaws.Fit
        A fit of ``task`` (step 1).
    accuracy_fit : bayeslaws.Fit
        A fit of ``task-accuracy`` (step 2), with the same task families.
    new_data : pandas.DataFrame
        ``params``, ``tokens`` and ``family`` (the task) per row.
    """
    if loss_fit.law.name != "task" or accuracy_fit.law.name != "task-accuracy":
        raise BayeslawsError("chain needs a 'task' fit (step 1) and a 'task-accuracy' fit (step 2), "
                             f"not {loss_fit.law.name!r} and {accuracy_fit.law.name!r}")
    rng = np.random.default_rng(seed)
    frame = new_data.reset_index(drop=True)
    step1 = _flat(loss_fit.predict(frame, seed=seed).predictive)  # (S1, row)
    law2 = accuracy_fit.law
    post2 = accuracy_fit.posterior
    if "family" in frame:
        fams = frame["family"].astype(str).to_numpy()
    elif len(accuracy_fit.families) == 1:
        fams = np.array(accuracy_fit.families * len(frame))
    else:
        raise BayeslawsError("new_data needs a 'family' column naming each row's task")
    sampled = {}
    for fam in dict.fromkeys(fams):
        draws = accuracy_fit.sampled_draws(fam, seed=seed)
        if fam not in accuracy_fit.families:
            draws = {k: v for k, v in draws.items()}
        sampled[fam] = {k: _flat(v) for k, v in draws.items()}
    s2 = len(next(iter(next(iter(sampled.values())).values())))
    s = min(len(step1), s2)
    i1 = np.sort(rng.choice(len(step1), s, replace=False)) if len(step1) > s else np.arange(s)
    i2 = np.sort(rng.choice(s2, s, replace=False)) if s2 > s else np.arange(s)
    loss = step1[i1]
    rows = {k: np.stack([sampled[f][k][i2] for f in fams], axis=-1) for k in sampled[fams[0]]}
    acc = np.asarray(law2.formula({"task_loss": np.log(loss)}, law2.natural(rows, np), np))
    sigma = _flat(post2["sigma"])[i2][:, None]
    if law2.noise["likelihood"] == "student_t":
        eps = rng.standard_t(np.broadcast_to(_flat(post2["nu"])[i2][:, None], acc.shape))
    elif law2.noise["likelihood"] == "laplace":
        eps = rng.laplace(size=acc.shape)
    else:
        eps = rng.standard_normal(acc.shape)
    dims = ("sample", "row")
    ds = xr.Dataset({"task_loss": (dims, loss), "accuracy": (dims, acc),
                     "accuracy_predictive": (dims, acc + sigma * eps)},
                    coords={"sample": np.arange(s), "row": np.arange(len(frame)),
                            "family": ("row", fams)})
    return Chain(ds, frame)
