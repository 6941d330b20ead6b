"""Chained forecasts: the draws of one fitted law feed an input of another.

The typical chain is Gadre et al.'s (2024): a loss law forecasts the validation loss of a model
that was never trained (from its parameters and tokens), and a downstream law maps that loss to
average top-1 error. Propagating uncertainty means pairing draws: draw *s* of the forecast loss
goes into the downstream law with draw *s* of the downstream parameters, so the error interval
carries both the loss uncertainty and the error law's own.

>>> import bayeslaws as bl
>>> chained = bl.chain(loss_fit, error_fit)                     # doctest: +SKIP
>>> chained.predict(new_runs).interval()                        # doctest: +SKIP

The two fits are separate posteriors (fitted on their own data), so their joint is the product
and any one-to-one pairing of draws is a valid joint sample; the pairing is a seeded random
permutation of the loss draws (resampled with replacement only when the loss fit has fewer
draws than the error fit).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import xarray as xr

from .errors import SpecError
from .intervals import DEFAULT_PROB
from .predict import Prediction

#: Which loss draws feed the second law: with observation noise (a real run's loss) or the curve.
LOSS_SOURCES = ("predictive", "law")


class ChainPrediction:
    """Draws of the first law's target and of the second law's, at the same rows.

    Attributes
    ----------
    first, second : bayeslaws.predict.Prediction
        The forecast of the feeding law (e.g. loss) and of the fed law (e.g. error).
    frame : pandas.DataFrame
        The rows as given.
    """

    def __init__(self, first: Prediction, second: Prediction, frame: pd.DataFrame):
        self.first = first
        self.second = second
        self.frame = frame

    @property
    def draws(self) -> xr.Dataset:
        """Both forecasts in one Dataset (the second law's draws keep their own chain/draw)."""
        a = self.first.draws.rename({"chain": "chain_first", "draw": "draw_first"})
        return xr.merge([a, self.second.draws], compat="override")

    def interval(self, prob: float = DEFAULT_PROB) -> pd.DataFrame:
        """Input columns unchanged, then the first target's and the second target's
        ``_mean``, ``_median``, ``_lower``, ``_upper`` (see :meth:`Prediction.interval`)."""
        out = self.frame.copy()
        for pred in (self.first, self.second):
            table = pred.interval(prob)
            cols = [c for c in table.columns if c.startswith(f"{pred.target}_")
                    and c.rsplit("_", 1)[-1] in ("mean", "median", "lower", "upper")]
            for col in cols:
                out[col] = table[col].values
        return out

    def __repr__(self) -> str:
        return (f"<ChainPrediction {self.first.target} -> {self.second.target} at "
                f"{len(self.frame)} rows>")


class Chain:
    """Two fits in series: ``first``'s target is an input of ``second``'s law.

    Parameters
    ----------
    first : bayeslaws.Fit
        Fit of the feeding law (e.g. ``overtraining`` or ``chinchilla`` on loss).
    second : bayeslaws.Fit
        Fit of the fed law (e.g. ``downstream``), one of whose inputs is ``first``'s target.
    """

    def __init__(self, first, second):
        target = first.law.target
        if target not in second.law.inputs:
            raise SpecError(f"cannot chain {first.law.name!r} into {second.law.name!r}: the first "
                            f"law's target {target!r} is not an input of the second "
                            f"(inputs: {', '.join(second.law.inputs)})")
        self.first = first
        self.second = second
        self.link = target

    def predict(self, new_data: pd.DataFrame, *, seed: int = 0,
                loss: str = "predictive") -> ChainPrediction:
        """Forecast both targets at ``new_data`` with paired draws.

        Parameters
        ----------
        new_data : pandas.DataFrame
            The first law's inputs (e.g. ``params``, ``tokens``), optional ``family``, and any
            other input of the second law. A column named like the first law's target (e.g.
            the measured loss of held-out runs) is carried through to the output but not used:
            it is what is forecast.
        seed : int
            Seed of the pairing, of new-family draws and of observation noise.
        loss : {"predictive", "law"}
            Feed the second law the first law's posterior predictive (a run's measured value,
            observation noise included; the default, as a new run's loss is what the
            downstream law was fitted on) or its law curve only.

        Returns
        -------
        ChainPrediction
        """
        if loss not in LOSS_SOURCES:
            raise SpecError(f"loss must be one of {LOSS_SOURCES}, not {loss!r}")
        rows = new_data.reset_index(drop=True)
        first = self.first.predict(rows, seed=seed)
        feed = first.predictive if loss == "predictive" else first.law
        flat = feed.stack(sample=("chain", "draw")).transpose("sample", "row").values
        post = self.second.posterior
        shape = (post.sizes["chain"], post.sizes["draw"])
        need = shape[0] * shape[1]
        rng = np.random.default_rng([seed, 7])
        if flat.shape[0] >= need:
            pick = rng.permutation(flat.shape[0])[:need]
        else:
            pick = rng.choice(flat.shape[0], size=need, replace=True)
        paired = flat[pick].reshape(shape + (flat.shape[1],))
        fed_rows = rows.copy()
        fed_rows[self.link] = np.median(flat, axis=0)  # a placeholder for validation only
        second = self.second.predict(fed_rows, seed=seed + 1,
                                     input_draws={self.link: paired})
        return ChainPrediction(first, second, rows)

    def __repr__(self) -> str:
        return f"<Chain {self.first.law.name} -> {self.second.law.name}>"


def chain(first, second) -> Chain:
    """Chain two fits: ``first``'s forecasts feed the input of ``second`` named like its target.

    See :class:`Chain`; e.g. ``bayeslaws.chain(loss_fit, error_fit).predict(rows).interval()``.
    """
    return Chain(first, second)
