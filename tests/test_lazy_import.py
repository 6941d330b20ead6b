"""``import bayeslaws`` is light (no PyMC, ArviZ, JAX, matplotlib, SciPy), yet every public name
and every Fit method works, CPU chains still get one XLA host device each, and the command line's
quick commands import nothing heavy. Each check runs in a fresh interpreter (``sys.modules``),
not against a clock."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = str(Path(__file__).resolve().parents[1])
HEAVY = ("pymc", "pytensor", "arviz", "arviz_stats", "arviz_plots", "jax", "numpyro",
         "matplotlib", "scipy")


def _run(code: str, *, xla_flags: str | None = None) -> dict:
    env = dict(os.environ, PYTHONPATH=REPO + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env.pop("XLA_FLAGS", None)
    if xla_flags is not None:
        env["XLA_FLAGS"] = xla_flags
    out = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], env=env, cwd=REPO,
                         capture_output=True, text=True, timeout=300, check=False)
    assert out.returncode == 0, out.stderr[-3000:]
    return json.loads(out.stdout.strip().splitlines()[-1])


def test_import_bayeslaws_loads_nothing_heavy_and_still_sets_the_host_devices():
    got = _run(f"""
        import json, os, sys
        import bayeslaws as bl
        heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
        flags = os.environ.get("XLA_FLAGS", "")
        import jax  # a user's own JAX code right after the import: one CPU device per chain
        devices, backend = jax.local_device_count(), jax.default_backend()
        from bayeslaws import sampling
        sampling.ensure_jax()  # what every JAX path of the package calls first
        print(json.dumps({{"heavy": heavy, "file": bl.__file__, "flags": flags,
                          "devices": devices, "backend": backend,
                          "pymc_jax": "pymc.sampling.jax" in sys.modules,
                          "flags_after": os.environ["XLA_FLAGS"]}}))
    """)
    assert got["file"].startswith(REPO), got
    assert got["heavy"] == [], got
    assert got["flags"] == "--xla_force_host_platform_device_count=100", got
    if got["backend"] == "cpu":
        assert got["devices"] >= 2, got
    # ensure_jax imports PyMC's JAX module and leaves XLA_FLAGS as the import set them
    assert got["pymc_jax"] and got["flags_after"] == got["flags"], got


@pytest.mark.parametrize("start", ["", "--xla_cpu_enable_fast_math=false",
                                   "--xla_force_host_platform_device_count=8 --xla_dump_to=/x",
                                   "--xla_force_host_platform_device_count=8"])
def test_the_host_device_edit_is_the_one_pymc_makes(start):
    from bayeslaws.sampling import with_host_devices

    got = _run("""
        import json, os
        import pymc.sampling.jax
        print(json.dumps({"flags": os.environ["XLA_FLAGS"]}))
    """, xla_flags=start)
    assert with_host_devices(start) == got["flags"]


def test_public_names_and_hooks_load_on_first_use():
    got = _run("""
        import json, sys, types
        import bayeslaws as bl
        from bayeslaws import hooks
        import bayeslaws.chain, bayeslaws.compare  # binding the submodules keeps the functions
        names = {n: type(getattr(bl, n)).__name__ for n in ("chain", "compare", "load", "Fit")}
        modules = {n: isinstance(getattr(bl, n), types.ModuleType)
                   for n in ("laws", "datasets", "hierarchy", "plots", "batch", "data")}
        slots = {s: hooks.require(s).__module__ for s in hooks.SLOTS}
        try:
            bl.no_such_name
            missing = "no error"
        except AttributeError as exc:
            missing = str(exc)
        print(json.dumps({"names": names, "modules": modules, "slots": slots,
                          "missing": missing, "all": sorted(set(bl.__all__) - set(dir(bl)))}))
    """)
    assert got["names"] == {"chain": "function", "compare": "function", "load": "function",
                            "Fit": "type"}, got
    assert all(got["modules"].values()), got
    from bayeslaws import hooks

    for slot, module in hooks.SLOTS.items():  # each slot filled by the module SLOTS names
        assert got["slots"][slot] == module or got["slots"][slot].startswith(module + "."), got
    assert "has no attribute 'no_such_name'" in got["missing"]
    assert got["all"] == []


@pytest.mark.parametrize("argv", [["--help"], ["laws"], ["datasets"]])
def test_quick_commands_import_nothing_heavy(argv):
    got = _run(f"""
        import contextlib, io, json, sys
        from bayeslaws.cli import main
        with contextlib.redirect_stdout(io.StringIO()) as out:
            try:
                code = main({argv!r})
            except SystemExit as exc:  # --help
                code = exc.code
        print(json.dumps({{"code": code, "chars": len(out.getvalue()),
                          "heavy": sorted(m for m in {HEAVY!r} if m in sys.modules)}}))
    """)
    assert got["code"] == 0 and got["chars"] > 100, got
    assert got["heavy"] == [], got


def test_monkeypatching_the_provider_changes_what_law_fit_runs(monkeypatch):
    import bayeslaws as bl
    import bayeslaws.inference

    seen = []
    monkeypatch.setattr(bayeslaws.inference, "fit_law",
                        lambda law, data, **kw: seen.append((law.name, kw["seed"])) or "patched")
    runs = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    assert bl.laws.get("chinchilla").fit(runs, seed=7) == "patched"
    assert seen == [("chinchilla", 7)]
