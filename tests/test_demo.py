"""The main job: `bayeslaws demo` on bundled data, at its default settings."""

from __future__ import annotations

import os
import warnings

import numpy as np
import pytest

import bayeslaws as bl
from bayeslaws.demo import run

pytestmark = pytest.mark.slow


def test_demo_runs_clean_and_forecasts_held_out_runs(tmp_path):
    lines = []
    with warnings.catch_warnings():
        warnings.simplefilter("error", bl.ConvergenceWarning)
        result = run(str(tmp_path / "demo"), progress=False, echo=lines.append)
    text = "\n".join(lines)
    pred = result["forecasts"]
    assert len(pred) == 9 and (pred["params"] > 1e9).all()
    rel = np.abs(pred["loss_median"] / pred["loss"] - 1)
    assert np.median(rel) < 0.03
    inside = ((pred["loss"] >= pred["loss_lower"]) & (pred["loss"] <= pred["loss_upper"])).mean()
    assert inside >= 6 / 9
    opt = result["optimal"]
    assert list(opt.index) == ["c4_original", "rpj", "rw_original", "population"]
    assert np.allclose(6 * opt["N_opt_median"] * opt["D_opt_median"] / 1e24, 1, rtol=0.3)
    for path in (result["figure"], result["fit_path"]):
        assert os.path.getsize(path) > 10_000
    assert "compute-optimal allocation" in text and "population" in text
    assert bl.load(result["fit_path"]).families == ["c4_original", "rpj", "rw_original"]
