"""Downstream top-1 error as a function of loss (Gadre et al. 2024), and a sigmoid variant."""

from __future__ import annotations

import math

from .base import Law, Param

#: Reference loss (nats/token) where the reducible error ``k0`` is measured.
L_REF = 3.0


class Downstream(Law):
    r"""Average top-1 error of a task mix from the model's validation loss.

    .. math::

        \mathrm{Err}(L) = \varepsilon - k\, e^{-\gamma L}

    sampled through :math:`k_0 = k\,e^{-\gamma \bar L}`, the error reduction below chance at the
    reference loss :math:`\bar L = 3` nats/token (:math:`k` and :math:`\gamma` alone form a
    tight ridge):
    :math:`\mathrm{Err} = \varepsilon - k_0 \exp(-\gamma (L - \bar L))`.

    **Scale of the target.** Errors are modelled on their natural scale (``positive_target =
    False``): Student-t noise on the error itself, as in Gadre et al.'s least-squares fit. Average
    top-1 errors over many tasks sit well inside (0, 1) (0.45-0.82 on the bundled data), where
    benchmark noise is roughly additive; and the law itself crosses zero at
    :math:`L_0 = \log(k/\varepsilon)/\gamma`, so a log or logit link would be undefined for
    losses below :math:`L_0` during sampling. The bounded alternative is the ``downstream-sigmoid``
    law.

    The input column is ``loss`` (the validation loss of each model); the target is ``error``.
    To forecast error from compute rather than from a measured loss, chain a fitted loss law into
    this one with :func:`bayeslaws.chain`, which pairs posterior draws so that the uncertainty
    of the loss forecast propagates.

    The law's parameters:

    ``eps``
        error ceiling as the loss grows (chance-level error of the task mix);
    ``k0``
        error reduction at the reference loss;
    ``gamma``
        decay rate of the reduction in loss;
    ``k``
        the paper's coefficient :math:`k = k_0 e^{\gamma\bar L}`, derived.

    References
    ----------
    Gadre et al. 2024, "Language models scale reliably with over-training and on downstream
    tasks", arXiv:2403.08540 (Eq. 5; `decay_ours` in `mlfoundations/scaling`).
    """

    name = "downstream"
    target = "error"
    inputs = ("loss",)
    positive_target = False
    params = (
        Param("eps", math.log(0.8), 0.25, family_scale=0.1, doc="error ceiling (chance level)"),
        Param("k0", math.log(0.3), 1.0, family_scale=0.3, doc="error reduction at L = 3"),
        Param("gamma", math.log(1.0), 0.5, family_scale=0.2, doc="decay rate in loss"),
    )
    derived_names = ("k",)
    formula_text = "Err = eps - k exp(-gamma L)"
    reference = "Gadre et al. 2024, arXiv:2403.08540"
    default_noise = {"likelihood": "student_t", "sigma_scale": 0.05}

    def formula(self, x, p, xp):
        """Return the error (natural scale; see the class docstring)."""
        loss = xp.exp(x["loss"])
        return p["eps"] - xp.exp(p["log_k0"] - p["gamma"] * (loss - L_REF))

    def derived(self, p, xp):
        """Return the paper's k."""
        return {"k": xp.exp(p["log_k0"] + p["gamma"] * L_REF)}


class DownstreamSigmoid(Law):
    r"""Bounded variant: top-1 error as a sigmoid of loss, as in observational scaling laws.

    .. math::

        \mathrm{Err}(L) = \varepsilon\,\sigma\big(\gamma (L - L_0)\big),
        \qquad \sigma(z) = 1 / (1 + e^{-z})

    The error tends to the chance level :math:`\varepsilon` as the loss grows and to 0 as it
    falls, crossing :math:`\varepsilon/2` at :math:`L_0`; unlike ``downstream`` it never leaves
    :math:`(0, \varepsilon)`. Far above :math:`L_0` it behaves like
    :math:`\varepsilon - \varepsilon e^{-\gamma(L-L_0)}`, i.e. the exponential law with
    :math:`k = \varepsilon e^{\gamma L_0}`. The target is modelled on its natural scale
    (see :class:`Downstream`).

    Parameters
    ----------
    eps : error ceiling (chance level).
    L0 : loss at which the error is half the ceiling (nats/token).
    gamma : steepness in loss.

    References
    ----------
    Ruan, Maddison & Hashimoto 2024, "Observational Scaling Laws and the Predictability of
    Language Model Performance", arXiv:2405.10938 (the sigmoid link);
    Gadre et al. 2024, arXiv:2403.08540 (error as a function of loss).
    """

    name = "downstream-sigmoid"
    target = "error"
    inputs = ("loss",)
    positive_target = False
    params = (
        Param("eps", math.log(0.8), 0.25, family_scale=0.1, doc="error ceiling (chance level)"),
        Param("L0", math.log(2.0), 0.5, family_scale=0.1, doc="loss at half the ceiling"),
        Param("gamma", math.log(1.0), 0.7, family_scale=0.2, doc="steepness in loss"),
    )
    formula_text = "Err = eps sigmoid(gamma (L - L0))"
    reference = "Ruan et al. 2024, arXiv:2405.10938; Gadre et al. 2024, arXiv:2403.08540"

    def formula(self, x, p, xp):
        """Return the error (natural scale)."""
        z = p["gamma"] * (xp.exp(x["loss"]) - p["L0"])
        return p["eps"] * xp.exp(-xp.logaddexp(0.0, -z))
