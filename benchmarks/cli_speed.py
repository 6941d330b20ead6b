"""How long users wait on the command line: ``import bayeslaws``, ``bayeslaws --help`` and
``bayeslaws fit chinchilla --data chinchilla_epoch --out f.nc`` (with and without
``--no-extrapolation``), each a fresh process timed end to end, against the Hoffmann/Epoch
estimator (Huber loss + L-BFGS from a grid of starts, ``benchmarks/baselines.py``) in the same run.

Every command runs once untimed first (disk cache warm, and the persistent JAX compile cache, in
a folder of this run's own, filled as a user's second session finds it), then ``--repeats`` timed
runs; the table gives the median and the range. The baseline is timed in this process: L-BFGS
(analytic gradient) from ``--starts`` starts strided evenly over the 4,500-start grid of
``baselines.hoffmann_grid`` (default 675), and ``baselines.huber_fit`` (all 4,500 starts
screened to the 100 best, then L-BFGS). Ratios are command time / baseline time.

    python benchmarks/cli_speed.py [--repeats 3] [--starts 675] [--root DIR] [--skip-fits]

``--root`` runs another checkout's package (e.g. an exported older commit) for a before/after.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))


def _timed(argv, env, cwd) -> float:
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    took = time.perf_counter() - start
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    return took


def _baseline(starts: int) -> dict[str, float]:
    import numpy as np
    from baselines import hoffmann_grid, huber_fit

    import bayeslaws as bl

    frame = bl.datasets.load("chinchilla_epoch", fit_rows=True)
    grid = hoffmann_grid()
    sub = grid[np.linspace(0, len(grid) - 1, starts).round().astype(int)]
    out = {}
    start = time.perf_counter()
    huber_fit(frame, sub, screen=None)
    out[f"Huber + L-BFGS, {starts} starts"] = time.perf_counter() - start
    start = time.perf_counter()
    huber_fit(frame)
    out["Huber + L-BFGS, 4,500 starts screened to 100"] = time.perf_counter() - start
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--starts", type=int, default=675)
    parser.add_argument("--root", default=str(HERE.parent),
                        help="checkout whose bayeslaws package runs (default: this one)")
    parser.add_argument("--skip-fits", action="store_true", help="time the import and --help only")
    args = parser.parse_args(argv)

    root = str(Path(args.root).resolve())
    work = tempfile.mkdtemp(prefix="bayeslaws-cli-speed-")
    env = dict(os.environ, PYTHONPATH=root, BAYESLAWS_JAX_CACHE=os.path.join(work, "jax"))
    env.pop("XLA_FLAGS", None)
    py = sys.executable
    out = os.path.join(work, "f.nc")
    commands = {
        'python -c "import bayeslaws"': [py, "-c", "import bayeslaws"],
        "bayeslaws --help": [py, "-m", "bayeslaws.cli", "--help"],
    }
    if not args.skip_fits:
        fit = [py, "-m", "bayeslaws.cli", "fit", "chinchilla", "--data", "chinchilla_epoch",
               "--out", out, "--quiet"]
        commands["bayeslaws fit chinchilla --data chinchilla_epoch --out f.nc "
                 "--no-extrapolation"] = fit + ["--no-extrapolation"]
        commands["bayeslaws fit chinchilla --data chinchilla_epoch --out f.nc"] = fit
    times = {}
    for name, argv_ in commands.items():
        _timed(argv_, env, work)  # warm-up: disk cache, JAX compile cache
        times[name] = [_timed(argv_, env, work) for _ in range(args.repeats)]
        print(f"{name}: {', '.join(f'{t:.2f}' for t in times[name])} s", file=sys.stderr)

    sys.path.insert(0, root)
    base = _baseline(args.starts)
    ref_name = f"Huber + L-BFGS, {args.starts} starts"
    ref = base[ref_name]
    print(f"package: {root}; {args.repeats} timed runs after one warm-up each; "
          f"python {sys.version.split()[0]}\n")
    print(f"| command | median | range | ratio to the {args.starts}-start Huber fit |")
    print("| --- | --- | --- | --- |")
    for name, ts in times.items():
        med = statistics.median(ts)
        print(f"| `{name}` | {med:.2f} s | {min(ts):.2f}-{max(ts):.2f} s | {med / ref:.3g} |")
    for name, t in base.items():
        print(f"| {name} (in process, one run) | {t:.2f} s | - | {t / ref:.3g} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
