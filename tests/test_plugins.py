"""A user's own law everywhere: recorded origin, ``--plugin`` on the CLI, the fix named on load."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import warnings

import pandas as pd
import pytest

import bayeslaws as bl
from bayeslaws import plugins
from bayeslaws.cli import main
from conftest import REPO

pytestmark = pytest.mark.slow

LAW_SOURCE = textwrap.dedent('''
    """A user's law: L = E + A0 (N / 1e9)^-alpha, registered as 'my-chin-plugin'."""
    import math

    from bayeslaws.laws import Law, Param, register


    @register
    class MyChin(Law):
        name = "my-chin-plugin"
        inputs = ("params",)
        params = (
            Param("E", math.log(1.5), 0.5, family_scale=0.2, doc="irreducible loss"),
            Param("A0", math.log(1.0), 1.0, family_scale=0.5, doc="N-term loss at N = 1e9"),
            Param("alpha", math.log(0.3), 0.4, family_scale=0.2, doc="exponent in N"),
        )
        formula_text = "L = E + A0 (N/1e9)^-alpha"
        reference = "a test"

        def formula(self, x, p, xp):
            return xp.logaddexp(p["log_A0"] - p["alpha"] * (x["params"] - math.log(1e9)),
                                p["log_E"])
''')

CSV = os.path.join(REPO, "tests", "fixtures", "tiny_fit_v1.csv")


def _cli(*argv, cwd):
    env = dict(os.environ, PYTHONPATH=REPO)
    return subprocess.run([sys.executable, "-m", "bayeslaws.cli", *argv], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=300, check=False)


@pytest.fixture(scope="module")
def plugin_fit(tmp_path_factory):
    """The user's law in its own file, fitted through the CLI with --plugin (in this process)."""
    folder = tmp_path_factory.mktemp("plugin")
    law_file = folder / "my_law_plugin.py"
    law_file.write_text(LAW_SOURCE)
    out = folder / "custom.nc"
    with warnings.catch_warnings():
        # 12 runs, 2 chains x 200 draws: the test is about files and processes, not convergence
        warnings.simplefilter("ignore", bl.ConvergenceWarning)
        code = main(["fit", "my-chin-plugin", "--data", CSV, "--out", str(out),
                     "--no-extrapolation", "--draws", "200", "--tune", "300", "--chains", "2",
                     "--seed", "1", "--quiet", "--plugin", str(law_file)])
    assert code == 0
    rows = folder / "rows.csv"
    pd.DataFrame({"params": [5e8, 4e9], "family": ["a", "b"]}).to_csv(rows, index=False)
    return folder, law_file, out, rows


def test_fit_records_where_its_law_was_defined(plugin_fit):
    _, law_file, out, _ = plugin_fit
    import xarray as xr

    with xr.open_datatree(out, engine="h5netcdf") as tree:
        recorded = json.loads(tree.attrs["law_origin"])
    assert recorded == {"module": "my_law_plugin", "file": str(law_file.resolve())}
    fit = bl.load(out)  # registered in this process: loads, origin read back
    assert fit.law.name == "my-chin-plugin" and fit.law_origin == recorded


def test_builtin_law_origin_is_its_module():
    assert plugins.origin(bl.laws.Chinchilla) == {
        "module": "bayeslaws.laws.chinchilla",
        "file": os.path.abspath(sys.modules["bayeslaws.laws.chinchilla"].__file__)}


def test_predict_in_a_fresh_process_with_and_without_plugin(plugin_fit):
    folder, law_file, out, rows = plugin_fit
    # --plugin before the subcommand, as well as after it (the fit above), both work
    done = _cli("--plugin", str(law_file), "predict", str(out), "--data", str(rows), "--out",
                "p.csv", cwd=folder)
    assert done.returncode == 0, done.stderr
    pred = pd.read_csv(folder / "p.csv")
    assert list(pred.columns[:2]) == ["params", "family"] and len(pred) == 2
    assert (pred["loss_median"] > 1.0).all() and (pred["loss_median"] < 6.0).all()
    assert pred["loss_median"].iloc[1] < pred["loss_median"].iloc[0]  # bigger model, lower loss

    other = folder / "elsewhere"
    other.mkdir(exist_ok=True)
    done = _cli("predict", str(out), "--data", str(rows), "--out", "p.csv", cwd=other)
    assert done.returncode == 2
    err = done.stderr.strip()
    assert len(err.splitlines()) == 1
    assert "law 'my-chin-plugin' is not registered in this process" in err
    assert str(law_file.resolve()) in err
    assert f"--plugin {law_file.resolve()}" in err and "import my_law_plugin" in err
    assert not (other / "p.csv").exists()


def test_load_in_a_fresh_process_after_importing_the_module(plugin_fit):
    folder, _, out, _ = plugin_fit
    code = ("import sys; sys.path.insert(0, sys.argv[1]); import my_law_plugin; "
            "import bayeslaws as bl; f = bl.load(sys.argv[2]); "
            "print(f.law.name, len(f.families), len(f.predict(f.data.head(2)).interval(0.9)))")
    env = dict(os.environ, PYTHONPATH=REPO)
    done = subprocess.run([sys.executable, "-c", code, str(folder), str(out)], env=env,
                          capture_output=True, text=True, timeout=300, cwd=REPO,
                          check=False)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["my-chin-plugin", "2", "2"]


def test_missing_plugin_file_and_module_exit_2(capsys, tmp_path):
    assert main(["laws", "--plugin", str(tmp_path / "nope.py")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert main(["--plugin", "no_such_module_xyz", "laws"]) == 2
    assert "no module named 'no_such_module_xyz'" in capsys.readouterr().err
    broken = tmp_path / "broken_law.py"
    broken.write_text("raise RuntimeError('boom')\n")
    assert main(["laws", "--plugin", str(broken)]) == 2
    assert "failed to import: RuntimeError: boom" in capsys.readouterr().err


def test_laws_lists_a_plugin_law(capsys, tmp_path):
    law_file = tmp_path / "listed_law_plugin.py"
    law_file.write_text(LAW_SOURCE.replace("my-chin-plugin", "listed-chin-plugin"))
    assert main(["laws", "--plugin", str(law_file)]) == 0
    assert "listed-chin-plugin" in capsys.readouterr().out


def test_unknown_law_message_without_origin():
    msg = plugins.missing_law_message("x-law", None)
    assert "not registered in this process" in msg and "--plugin" in msg
