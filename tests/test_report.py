"""report: one self-contained HTML page with law, data, posterior, diagnostics, forecasts, figures."""

from __future__ import annotations

import base64
import os
import re

import pytest

from bayeslaws import cli
from bayeslaws.report import write_report

pytestmark = pytest.mark.slow  # uses the sampled small_fit fixture


def test_report_is_one_self_contained_page(small_fit, tmp_path):
    data = small_fit.data
    held = data[data["params"] == data["params"].max()].head(3)
    path = write_report(small_fit, tmp_path / "r.html", target=1e23, holdout=held)
    page = open(path, encoding="utf-8").read()
    for section in ("Law", "Data", "Posterior", "Diagnostics", "Forecasts", "Figures"):
        assert f">{section}</h2>" in page
    assert small_fit.law.formula_text in page
    assert "E[fam0]" in page and "alpha[population]" in page  # the posterior table
    assert "Held-out runs" in page and "Compute-optimal allocation at C = 1e23" in page
    assert "PSIS-LOO" in page and "Worst R-hat" in page
    images = re.findall(r'src="data:image/png;base64,([A-Za-z0-9+/=]+)"', page)
    assert len(images) == 5  # fit, forecast, isoflop, frontier, forest
    assert all(base64.b64decode(i)[:4] == b"\x89PNG" for i in images)
    # self-contained: nothing fetched from elsewhere
    assert not re.search(r'(src|href)="(http|//)', page)
    assert os.stat(path).st_mode & 0o044  # readable by others, unlike a temporary file


def test_cli_report_and_bad_input(small_fit, tmp_path, capsys):
    small_fit.save(tmp_path / "s.nc")
    out = tmp_path / "report.html"
    assert cli.main(["report", str(tmp_path / "s.nc"), "--out", str(out)]) == 0
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")
    assert cli.main(["report", str(tmp_path / "missing.nc"), "--out", str(out)]) == 2
    assert cli.main(["report", str(tmp_path / "s.nc"), "--out",
                     str(tmp_path / "no" / "r.html")]) == 2
    assert not list(tmp_path.glob(".bayeslaws-*"))  # no temporary file left behind
