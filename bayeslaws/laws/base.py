"""The :class:`Law` abstraction: one formula, its parameters, priors and pooling.

A law is a stateless specification. Fitting it (:meth:`Law.fit`) returns a new
:class:`bayeslaws.fit.Fit`; the law itself is never changed, so one spec can be fitted many times.
This module imports nothing above the laws layer: :meth:`Law.fit` reaches the inference layer
through the ``fit_law`` slot of :mod:`bayeslaws.hooks`.

Conventions shared by every law:

* Inputs enter the formula as natural logarithms, ``x[name] = log(value)``; positive targets are
  modelled on the log scale, so :meth:`Law.formula` returns ``log(target)``. Working in log space
  keeps the formulas usable in float32 on a GPU.
* Each parameter is sampled on an unconstrained scale: ``log(value)`` for positive quantities
  (``Param.log=True``), the value itself otherwise. The formula receives both ``p[name]`` and,
  for log parameters, ``p["log_" + name]``.
* The formula is written once against an array namespace ``xp`` (numpy or ``pytensor.tensor``),
  so the same code builds the PyMC model and evaluates forecasts on posterior draws.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, replace
from typing import Any, ClassVar

import numpy as np

from .. import hooks
from ..errors import SpecError
from .registry import from_spec

#: Pooling choices for a parameter across families.
POOLING = ("partial", "centred", "shared", "independent")


@dataclass(frozen=True)
class Param:
    """A law parameter and its default prior.

    Parameters
    ----------
    name : str
        Name as in the paper (``E``, ``alpha``) or the catalogue (``A0``).
    loc, scale : float
        Normal prior of the population mean on the sampling scale (``log(value)`` when ``log``).
    log : bool
        Sample ``log(value)`` (positive quantities) instead of the value.
    family_scale : float
        Scale of the HalfNormal prior on the between-family standard deviation (sampling scale).
    doc : str
        One line saying what the parameter means.
    """

    name: str
    loc: float
    scale: float
    log: bool = True
    family_scale: float = 0.3
    doc: str = ""

    @property
    def sampled(self) -> str:
        """Name of the sampled (unconstrained) quantity, e.g. ``log_E``."""
        return f"log_{self.name}" if self.log else self.name


class Law:
    """Base class of every scaling law.

    Subclasses set the class attributes and implement :meth:`formula` (and optionally
    :meth:`derived` for the paper's parameters that are functions of the sampled ones). A law
    whose parameters depend on an option (``bnsl``'s number of breaks) sets ``self.params``
    before calling ``super().__init__``.

    Parameters
    ----------
    priors : dict, optional
        ``{param: (loc, scale)}`` overriding the Normal prior of the population mean on the
        sampling scale, or ``{param: {"loc": .., "scale": .., "family_scale": ..}}``.
    pooling : str or dict, optional
        ``"partial"`` (default; sampled centred or non-centred per parameter as the data suit,
        :mod:`bayeslaws.parametrisation`), ``"centred"`` (the same partial pooling, always centred:
        for families with many runs each, see :mod:`bayeslaws.hierarchy`), ``"shared"`` or
        ``"independent"``, for all parameters or per parameter as ``{param: pooling}``.
    noise : dict, optional
        Likelihood settings: ``{"likelihood": "student_t" | "normal" | "laplace", "sigma_scale":
        float, "nu_min": float}``; ``nu_min`` truncates the Gamma(2, 0.1) prior of the Student-t
        degrees of freedom below (0, no truncation, by default). ``laplace`` (median regression, scale ``sigma``) is what a Huber fit with a tiny
        delta amounts to, as in several papers' fits.
    """

    name: ClassVar[str] = ""
    target: ClassVar[str] = "loss"
    inputs: ClassVar[tuple[str, ...]] = ()
    params: ClassVar[tuple[Param, ...]] = ()
    derived_names: ClassVar[tuple[str, ...]] = ()
    formula_text: ClassVar[str] = ""
    reference: ClassVar[str] = ""
    #: Positive targets are modelled on the log scale; a law whose target can be <= 0 sets False.
    positive_target: ClassVar[bool] = True
    #: Inputs enter the formula as natural logarithms; a law whose inputs are on a linear scale
    #: and may be 0 (``mixture``: proportions of data sources) sets False, receives them as given
    #: and checks them in :meth:`check_inputs`.
    log_inputs: ClassVar[bool] = True

    default_noise: ClassVar[dict] = {"likelihood": "student_t", "sigma_scale": 0.05}
    #: Options assumed when a saved fit's law does not record them: the values that reproduce
    #: what an older bayeslaws fitted, where a later one changed the default (read by
    #: :func:`bayeslaws.io.load`).
    legacy_options: ClassVar[dict] = {}
    #: The quantities a fit of this law derives, as methods of its :class:`~bayeslaws.fit.Fit`:
    #: ``{name: function(fit, *args, **kwargs)}`` (e.g. ``optimal_teacher`` of the capacity-gap
    #: law, so that ``fit.optimal_teacher(1e9)`` works). Set by each law module after its
    #: functions; the Fit result stays generic and never imports a law module.
    fit_methods: ClassVar[dict] = {}

    def __init__(self, *, priors: dict | None = None, pooling: str | dict | None = None,
                 noise: dict | None = None):
        names = [p.name for p in self.params]
        self._params = {p.name: p for p in self.params}
        for key, value in (priors or {}).items():
            if key not in self._params:
                raise SpecError(f"{self.name}: unknown parameter {key!r} in priors; "
                                f"parameters are {names}")
            if isinstance(value, dict):
                bad = set(value) - {"loc", "scale", "family_scale"}
                if bad:
                    raise SpecError(f"{self.name}: prior of {key!r} has unknown keys {sorted(bad)};"
                                    " use loc, scale, family_scale")
                self._params[key] = replace(self._params[key], **{k: float(v) for k, v in value.items()})
            else:
                loc, scale = value
                self._params[key] = replace(self._params[key], loc=float(loc), scale=float(scale))
        if pooling is None or isinstance(pooling, str):
            pooling = {n: pooling or "partial" for n in names}
        else:
            unknown = set(pooling) - set(names)
            if unknown:
                raise SpecError(f"{self.name}: unknown parameter(s) {sorted(unknown)} in pooling; "
                                f"parameters are {names}")
            pooling = {n: pooling.get(n, "partial") for n in names}
        for n, how in pooling.items():
            if how not in POOLING:
                raise SpecError(f"{self.name}: pooling of {n!r} is {how!r}; choose one of {POOLING}")
        self.pooling: dict[str, str] = pooling
        self.noise = dict(self.default_noise) | dict(noise or {})
        if self.noise["likelihood"] not in ("student_t", "normal", "laplace"):
            raise SpecError("noise likelihood must be 'student_t', 'normal' or 'laplace'")
        nu_min = self.noise.get("nu_min", 0.0)
        if not isinstance(nu_min, (int, float)) or isinstance(nu_min, bool) or not 0 <= nu_min < 30:
            raise SpecError(f"noise nu_min (lower bound of the Student-t nu) must be a number in "
                            f"[0, 30), not {nu_min!r}")

    # ----------------------------------------------------------------- the law itself
    def formula(self, x: dict[str, Any], p: dict[str, Any], xp) -> Any:
        """Return the law on the link scale (``log(target)`` when ``positive_target``)."""
        raise NotImplementedError

    def derived(self, p: dict[str, Any], xp) -> dict[str, Any]:
        """Return the paper's parameters that are functions of the sampled ones."""
        return {}

    def check_inputs(self, x: dict[str, np.ndarray]) -> None:
        """Check the input values as the formula receives them (called by
        :func:`bayeslaws.data.prepare`); raise :class:`~bayeslaws.errors.DataError` naming the
        rows and the fix. Nothing to check by default (log inputs are checked to be > 0)."""

    # ----------------------------------------------------------------- helpers
    @property
    def parameters(self) -> dict[str, Param]:
        """The parameters with the priors in effect (after overrides)."""
        return dict(self._params)

    @property
    def param_names(self) -> list[str]:
        """Parameter names in the order of the paper, sampled ones then derived ones."""
        return [p.name for p in self.params] + list(self.derived_names)

    def required_columns(self) -> tuple[str, ...]:
        """Input columns that the data must provide (``flops`` may be computed from N and D)."""
        return self.inputs

    def natural(self, values: dict[str, Any], xp) -> dict[str, Any]:
        """Map sampling-scale values ``{sampled_name: v}`` to the dict the formula takes."""
        out = {}
        for prm in self._params.values():
            v = values[prm.sampled]
            if prm.log:
                out[f"log_{prm.name}"] = v
                out[prm.name] = xp.exp(v)
            else:
                out[prm.name] = v
        return out

    def evaluate(self, data: dict[str, np.ndarray], p: dict[str, np.ndarray]) -> np.ndarray:
        """Evaluate the law in numpy on raw inputs, returning the target on its natural scale.

        Parameters
        ----------
        data : dict or DataFrame
            Raw input values (``params``, ``tokens``, ...).
        p : dict
            Parameter values keyed by paper name; log parameters may be given either way.
        """
        x = {k: np.asarray(data[k], dtype=float) for k in self.inputs}
        x = {k: np.log(v) for k, v in x.items()} if self.log_inputs else x
        full = {}
        for prm in self._params.values():
            if prm.log:
                lv = p[f"log_{prm.name}"] if f"log_{prm.name}" in p else np.log(p[prm.name])
                full[f"log_{prm.name}"] = np.asarray(lv, dtype=float)
                full[prm.name] = np.exp(full[f"log_{prm.name}"])
            else:
                full[prm.name] = np.asarray(p[prm.name], dtype=float)
        link = self.formula(x, full, np)
        return np.exp(link) if self.positive_target else link

    def spec(self) -> dict:
        """A JSON-serialisable description from which :meth:`from_spec` rebuilds the law."""
        defaults = {p.name: p for p in self.params}
        priors = {n: {"loc": p.loc, "scale": p.scale, "family_scale": p.family_scale}
                  for n, p in self._params.items() if p != defaults[n]}
        return {"law": self.name, "options": self.options(), "priors": priors,
                "pooling": dict(self.pooling), "noise": dict(self.noise)}

    def bind(self, table) -> "Law":
        """The law to fit to ``table`` (a validated :class:`bayeslaws.data.RunTable`).

        Most laws are data-free and return themselves. A law whose default priors are stated
        relative to the data (``bnsl``: its breaks lie within the fitted input range) returns a
        copy with that range fixed as an option, so the fitted law, saved with the fit, rebuilds
        the same priors.
        """
        return self

    def options(self) -> dict:
        """Law-specific options (e.g. the input of ``power-law``); none by default."""
        return {}

    def describe(self) -> str:
        """One line: name, formula, inputs and target."""
        return f"{self.name}: {self.formula_text} (inputs {', '.join(self.inputs)}; target {self.target})"

    def with_options(self, **changes) -> "Law":
        """Return a copy with other priors, pooling or noise (the law is never mutated)."""
        spec = copy.deepcopy(self.spec())
        for key in ("priors", "pooling", "noise"):
            if key in changes:
                val = changes.pop(key)
                spec[key] = val if not isinstance(val, dict) or key == "priors" else spec[key] | val
        spec["options"] |= changes
        return from_spec(spec)

    def fit(self, data, *, seed: int = 0, draws: int = 1000, tune: int = 1000, chains: int = 4,
            sampler: str = "numpyro", target_accept: float = 0.9, progress: bool = False,
            family_column: str = "family", extrapolation: str | None = "backtest",
            dense_mass: bool = False, float32: bool = False, columns: dict | None = None,
            family: str | None = None, loss_unit: str | None = None, scale: dict | None = None,
            drop_missing: bool = False, method: str = "nuts"):
        """Sample the posterior of the law given a run table.

        Parameters
        ----------
        data : pandas.DataFrame
            One row per trained model; the law's input columns, its target and optionally
            ``family`` (under these names, or others given by ``columns``).
        seed : int
            Random seed; the same seed gives the same posterior.
        draws, tune, chains : int
            NUTS draws and warm-up steps per chain, and the number of chains.
        sampler : {"numpyro", "nutpie", "pymc"}
            The NUTS implementation.
        target_accept : float
            NUTS target acceptance; raised automatically once if divergences occur.
        progress : bool
            Show a progress bar.
        extrapolation : {"backtest", None}
            How forecasts beyond the fitted range widen: ``"backtest"`` learns a drift rate per
            decade of distance from refits on the smaller runs (on first use, see
            :mod:`bayeslaws.extrapolation`); None keeps the plain posterior predictive.
        dense_mass : bool
            Adapt a dense mass matrix in NUTS (see :func:`bayeslaws.sampling.sample`); for
            posteriors whose parameters trade off linearly (e.g. a shared curve shape against
            its pooled location, ``models/densing_xiao2024.yaml``).
        float32 : bool
            Evaluate the log-density and run NUTS in single precision (numpyro only): about
            twice the arithmetic throughput on a GPU; the laws are written in log space, so the
            posterior is the same within Monte Carlo error (``tests/test_batch.py``). Draws are
            stored as float64.
        columns : dict, optional
            ``{bayeslaws column: your column}``, e.g. ``{"params": "model_size", "loss":
            "eval/loss"}``: read the law's columns from yours (see :mod:`bayeslaws.mapping`).
            Stored in the fit, so :meth:`~bayeslaws.fit.Fit.predict` reads new rows with the
            same names.
        family : str, optional
            The column that groups runs into families (default ``family``);
            ``family_column`` is its older name.
        loss_unit : {"nats", "bits", "perplexity"}, optional
            Unit of the loss column; bits and perplexity are converted to nats per token.
        scale : dict, optional
            ``{column: factor}`` for sizes not in raw counts, e.g. ``{"tokens": 1e9}`` for tokens
            in billions; a factor of 1 declares raw counts that look small. Sizes that look like
            millions or billions without it raise DataError.
        drop_missing : bool
            Drop rows with an empty value in a used column (with a warning saying how many).
        method : {"nuts", "laplace"}
            ``"laplace"``: a quick approximate fit (a Gaussian at the posterior mode, about a
            second; :mod:`bayeslaws.laplace`), labelled approximate in every output; NUTS
            settings then do not apply. For exploring; refit with NUTS for final numbers.

        Returns
        -------
        bayeslaws.fit.Fit
        """
        return hooks.require("fit_law")(self, data, seed=seed, draws=draws, tune=tune, chains=chains,
                       sampler=sampler, target_accept=target_accept, progress=progress,
                       family_column=family_column, extrapolation=extrapolation,
                       dense_mass=dense_mass, float32=float32, columns=columns, family=family,
                       loss_unit=loss_unit, scale=scale, drop_missing=drop_missing,
                       method=method)

    def __repr__(self) -> str:
        opts = ", ".join(f"{k}={v!r}" for k, v in self.options().items())
        return f"{type(self).__name__}({opts})"

    def __eq__(self, other) -> bool:
        return isinstance(other, Law) and self.spec() == other.spec()

    def __hash__(self) -> int:
        return hash(self.name)
