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
        [--before DIR] [--plain-fit-only] [--profile] [--skip-baseline]

``--root`` runs another checkout's package (e.g. an exported older commit) for a before/after;
``--before DIR`` times DIR's package and this one's in the same run, alternating command by
command (fairer on a shared, loaded machine), with the after/before ratio. ``--profile`` adds
one cProfile run of the ``--no-extrapolation`` fit per checkout: where its time goes (imports,
start check, program build, sampling, diagnostics, summary, save) and whether it loaded ArviZ
or matplotlib.
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


#: CPU seconds (user + system) of each timed command, by command and checkout: steadier than
#: wall time on a shared, loaded machine (``--before`` prints them too).
CPU: dict = {}


def _timed(argv, env, cwd, key=None) -> float:
    import resource

    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    done = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True, check=False)
    took = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}): {done.stderr[-2000:]}")
    if key is not None:
        CPU.setdefault(key, []).append(after.ru_utime - before.ru_utime
                                       + after.ru_stime - before.ru_stime)
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


#: Where a CLI fit's time goes (``--profile``): label -> (file suffix, function); cumulative
#: times under cProfile, so nested stages overlap (``build_model`` runs inside the JAX program's
#: build too, and imports happen inside the stages that trigger them).
STAGES = {
    "all imports": ("<frozen importlib._bootstrap>", "_find_and_load"),
    "data.prepare_for_fit": ("bayeslaws/data.py", "prepare_for_fit"),
    "start check, compiled (batch.start_is_finite)": ("bayeslaws/batch.py", "start_is_finite"),
    "start check, PyTensor (model.check_start)": ("bayeslaws/model.py", "check_start"),
    "model.build_model (all calls)": ("bayeslaws/model.py", "build_model"),
    "JAX program (batch._program)": ("bayeslaws/batch.py", "_program"),
    "sampling (batch._sample_group: load/compile + run)": ("bayeslaws/batch.py", "_sample_group"),
    "diagnostics.diagnose": ("bayeslaws/diagnostics.py", "diagnose"),
    "Fit.summary": ("bayeslaws/fit.py", "summary"),
    "io.save": ("bayeslaws/io.py", "save"),
}
#: Modules a CLI fit should not need (``--profile`` says which were loaded).
HEAVY = ("arviz", "arviz_stats", "arviz_plots", "matplotlib")

_PROFILE = """
import cProfile, json, pstats, sys, time
from bayeslaws.cli import main
prof = cProfile.Profile()
start = time.perf_counter()
prof.enable()
rc = main({argv!r})
prof.disable()
total = time.perf_counter() - start
stats = pstats.Stats(prof).stats
out = {{}}
for (file, _, func), (_, _, _, cum, _) in stats.items():
    for label, (suffix, name) in {stages!r}.items():
        if func == name and file.replace(chr(92), "/").endswith(suffix):
            out[label] = max(out.get(label, 0.0), cum)
print(json.dumps({{"rc": rc, "total": total, "stages": out,
                  "loaded": [m for m in {heavy!r} if m in sys.modules]}}))
"""


def _profile(argv, env, cwd) -> dict:
    """One CLI run in a fresh process under cProfile: stage times and heavy modules loaded."""
    import json

    code = _PROFILE.format(argv=list(argv), stages=STAGES, heavy=HEAVY)
    done = subprocess.run([sys.executable, "-c", code], env=env, cwd=cwd, capture_output=True,
                          text=True, check=False)
    if done.returncode != 0:
        raise SystemExit(f"profiled run failed: {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--starts", type=int, default=675)
    parser.add_argument("--root", default=str(HERE.parent),
                        help="checkout whose bayeslaws package runs (default: this one)")
    parser.add_argument("--before", default=None,
                        help="another checkout (e.g. an exported older commit): every command "
                        "is timed from both, alternating, and the table gives both and the ratio")
    parser.add_argument("--skip-fits", action="store_true", help="time the import and --help only")
    parser.add_argument("--plain-fit-only", action="store_true",
                        help="of the fits, time only the one with --no-extrapolation")
    parser.add_argument("--profile", action="store_true",
                        help="also one cProfile run of the --no-extrapolation fit per checkout: "
                        "where its time goes, and whether it loaded ArviZ or matplotlib")
    parser.add_argument("--skip-baseline", action="store_true",
                        help="no Huber baseline (before/after ratios only)")
    args = parser.parse_args(argv)

    roots = {"after" if args.before else "time": str(Path(args.root).resolve())}
    if args.before:
        roots = {"before": str(Path(args.before).resolve()), **roots}
    work = tempfile.mkdtemp(prefix="bayeslaws-cli-speed-")
    envs = {}
    for label, root in roots.items():
        env = dict(os.environ, PYTHONPATH=root,
                   BAYESLAWS_JAX_CACHE=os.path.join(work, f"jax-{label}"))
        env.pop("XLA_FLAGS", None)
        envs[label] = env
    py = sys.executable
    out = os.path.join(work, "f.nc")
    commands = {
        'python -c "import bayeslaws"': [py, "-c", "import bayeslaws"],
        "bayeslaws --help": [py, "-m", "bayeslaws.cli", "--help"],
    }
    fit = [py, "-m", "bayeslaws.cli", "fit", "chinchilla", "--data", "chinchilla_epoch",
           "--out", out, "--quiet"]
    plain = ("bayeslaws fit chinchilla --data chinchilla_epoch --out f.nc "
             "--no-extrapolation")
    if not args.skip_fits:
        commands[plain] = fit + ["--no-extrapolation"]
        if not args.plain_fit_only:
            commands["bayeslaws fit chinchilla --data chinchilla_epoch --out f.nc"] = fit
    times = {name: {label: [] for label in roots} for name in commands}
    for name, argv_ in commands.items():
        for label in roots:  # warm-up: disk cache, JAX compile cache
            _timed(argv_, envs[label], work)
        for _ in range(args.repeats):
            for label in roots:  # alternating, so a load change hits both alike
                times[name][label].append(_timed(argv_, envs[label], work, (name, label)))
        print(f"{name}: " + "; ".join(f"{label} {', '.join(f'{t:.2f}' for t in ts)} s"
                                      for label, ts in times[name].items()), file=sys.stderr)
    profiles = {}
    if args.profile and not args.skip_fits:
        for label in roots:
            profiles[label] = _profile(commands[plain][3:], envs[label], work)

    base, ref = {}, None
    if not args.skip_baseline:
        sys.path.insert(0, roots["after" if args.before else "time"])
        base = _baseline(args.starts)
        ref = base[f"Huber + L-BFGS, {args.starts} starts"]
    print(f"packages: {roots}; {args.repeats} timed runs after one warm-up each"
          f"{' (before and after alternating)' if args.before else ''}; "
          f"python {sys.version.split()[0]}\n")
    ratio = f" ratio to the {args.starts}-start Huber fit |" if ref else ""
    if args.before:
        print(f"| command | before: median (range) | after: median (range) | after / before |"
              f"{ratio}")
        print("| --- | --- | --- | --- |" + (" --- |" if ref else ""))
    else:
        print(f"| command | median | range |{ratio}")
        print("| --- | --- | --- |" + (" --- |" if ref else ""))
    for name, per in times.items():
        meds = {label: statistics.median(ts) for label, ts in per.items()}
        cells = [f"{meds[lab]:.2f} s ({min(ts):.2f}-{max(ts):.2f})" if args.before else
                 f"{meds[lab]:.2f} s | {min(ts):.2f}-{max(ts):.2f} s" for lab, ts in per.items()]
        if args.before:
            cells.append(f"{meds['after'] / meds['before']:.2f}")
        last = meds["after" if args.before else "time"]
        print(f"| `{name}` | " + " | ".join(cells) + (f" | {last / ref:.3g} |" if ref else " |"))
    if args.before:
        print("\nCPU seconds (user + system, the process and its children), median (range):\n")
        print("| command | before | after | after / before |\n| --- | --- | --- | --- |")
        for name in times:
            cpu = {lab: CPU[(name, lab)] for lab in roots}
            med = {lab: statistics.median(v) for lab, v in cpu.items()}
            print(f"| `{name}` | " + " | ".join(
                f"{med[lab]:.2f} s ({min(v):.2f}-{max(v):.2f})" for lab, v in cpu.items())
                + f" | {med['after'] / med['before']:.2f} |")
    for name, t in base.items():
        blank = " - | - |" if args.before else " - |"
        print(f"| {name} (in process, one run) | {t:.2f} s |{blank} {t / ref:.3g} |")
    if profiles:
        labels = list(profiles)
        print("\nWhere the `--no-extrapolation` fit's time goes (one run per checkout under "
              "cProfile; cumulative, so nested stages overlap):\n")
        print("| stage | " + " | ".join(labels) + " |")
        print("| --- |" + " --- |" * len(labels))
        print("| whole command (in process, profiled) | "
              + " | ".join(f"{profiles[lab]['total']:.2f} s" for lab in labels) + " |")
        for stage in STAGES:
            vals = [profiles[lab]["stages"].get(stage) for lab in labels]
            if any(v is not None for v in vals):
                print(f"| {stage} | " + " | ".join("-" if v is None else f"{v:.2f} s"
                                                  for v in vals) + " |")
        own = []  # start_is_finite builds the JAX program the sampler uses: its own share
        for lab in labels:
            st = profiles[lab]["stages"]
            key = "start check, compiled (batch.start_is_finite)"
            own.append(f"{st[key] - st.get('JAX program (batch._program)', 0.0):.2f} s"
                       if key in st else "-")
        if any(v != "-" for v in own):
            print("| start check, compiled, less the JAX program it builds first | "
                  + " | ".join(own) + " |")
        print("| modules loaded of " + ", ".join(HEAVY) + " | "
              + " | ".join(", ".join(profiles[lab]["loaded"]) or "none" for lab in labels)
              + " |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
