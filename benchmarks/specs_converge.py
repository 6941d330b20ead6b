"""Fit every ``models/*.yaml`` spec at its default settings with the CLI and tabulate convergence.

DESIGN.md: every spec converges at its default settings (4 chains x 1000 draws): R-hat <= 1.01,
bulk ESS >= 400, no divergences. For each spec this runs, in a fresh process,
``bayeslaws fit models/X.yaml --out OUT/X.nc --no-extrapolation --quiet`` and reads the saved fit
back for its worst R-hat and bulk ESS (over the sampled parameters) and divergences (after the
fit's one automatic retry at a higher target acceptance, if any).

Usage: ``python benchmarks/specs_converge.py [--out DIR] [SPEC ...]``; prints a Markdown table.
"""

from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def run_spec(path: str, out_dir: str) -> dict:
    """Fit one spec through the CLI; return its wall time and convergence figures."""
    import bayeslaws
    from bayeslaws.diagnostics import RHAT_MAX

    name = os.path.splitext(os.path.basename(path))[0]
    out = os.path.join(out_dir, f"{name}.nc")
    start = time.perf_counter()
    proc = subprocess.run([sys.executable, "-m", "bayeslaws.cli", "fit", path, "--out", out,
                           "--no-extrapolation", "--quiet"], capture_output=True, text=True,
                          cwd=ROOT)
    wall = time.perf_counter() - start
    row = {"spec": name, "wall_s": wall, "exit": proc.returncode,
           "warnings": " ".join(line for line in proc.stderr.splitlines()
                                if line.startswith(("warning", "error", "internal")))}
    if proc.returncode == 0:
        fit = bayeslaws.load(out)
        report = fit.diagnostics()
        row.update(rhat=max(report["rhat"].values()), ess=min(report["ess_bulk"].values()),
                   divergences=report["divergences"], chains=report["chains"],
                   draws=int(fit.idata["posterior"].sizes["draw"]))
        row["ok"] = (row["rhat"] <= RHAT_MAX and row["ess"] >= 400 and not row["divergences"])
    return row


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("specs", nargs="*", help="spec files (default: models/*.yaml)")
    p.add_argument("--out", help="folder for the fit files (default: a temporary folder)")
    args = p.parse_args(argv)
    specs = args.specs or sorted(glob.glob(os.path.join(ROOT, "models", "*.yaml")))
    out_dir = args.out or tempfile.mkdtemp(prefix="specs_converge_")
    os.makedirs(out_dir, exist_ok=True)
    print("| spec | wall time | max R-hat | min bulk ESS | divergences | converged |")
    print("| --- | --- | --- | --- | --- | --- |")
    failed = 0
    for path in specs:
        row = run_spec(path, out_dir)
        if row["exit"] != 0:
            failed += 1
            print(f"| {row['spec']} | {row['wall_s']:.0f} s | - | - | - | exit {row['exit']}: "
                  f"{row['warnings']} |", flush=True)
            continue
        failed += not row["ok"]
        note = "yes" if row["ok"] else "**no**"
        print(f"| {row['spec']} | {row['wall_s']:.0f} s | {row['rhat']:.3f} | {row['ess']:.0f} | "
              f"{row['divergences']} | {note} |", flush=True)
        if row["warnings"]:
            print(f"<!-- {row['spec']}: {row['warnings']} -->", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
