"""Speed: time to a converged posterior per sampler, against the point fits people run today.

For each ``models/`` spec (default: ``chinchilla_epoch`` and ``gadre_chinchilla``) and each
sampler path (numpyro with parallel chains, numpyro with vectorized chains, nutpie, PyMC's own
NUTS; ``numpyro-parallel+cache``: the default path with the persistent JAX cache on, empty at the
start), one fresh subprocess with the persistent JAX cache off (``BAYESLAWS_JAX_CACHE=off``) makes
three fits at the spec's settings with ``extrapolation=None``: the first is the *cold* fit (it
pays every compile), the second the *warm* fit (same process, another seed), the third (numpyro
only) the same as the warm one but with numpyro's warm-up and sampling run as two calls so that
they can be timed apart. Each fit's stages are timed by wrapping the functions that do them
(exclusive wall time; JAX compile time from ``jax.monitoring`` compile events, attributed to the
stage that triggered it; tracing is not counted as compile; numpyro's run is blocked on so that its
asynchronous execution is timed where it happens). A posterior counts as converged when every sampled variable has R-hat
<= 1.01 and bulk ESS >= 400; ESS/s is the smallest bulk ESS over the sampled variables divided by
the fit's wall time.

In the same run, on the Chinchilla data: the Hoffmann/Epoch estimator (Huber loss + L-BFGS from
the 4,500-start grid: the full search and the screened one, ``benchmarks/baselines.huber_fit``),
a row bootstrap of it (``--bootstrap-refits`` refits, each L-BFGS from the full-data optimum as
``baselines.bootstrap_samples`` does; also a few refits with the screened grid per refit, scaled
to 1,000), ``scipy.optimize.curve_fit``, and (``--lolo N``) N sequential fits of the Chinchilla law
on nested "leave-largest-out" subsets, the baseline for a batched runner.

Every time is also given as a ratio to the numpyro path (the sampler ``chain_method`` picks on
this machine) measured in the same run. Writes ``benchmarks/results/speed.csv`` (one row per
measurement) and ``benchmarks/results/speed_stages.csv``, and prints Markdown tables.

    python benchmarks/speed.py [--specs chinchilla_epoch gadre_chinchilla]
        [--samplers numpyro-parallel numpyro-vectorized nutpie pymc numpyro-parallel+cache]
        [--bootstrap-refits 1000] [--screened-refits 5] [--lolo 50] [--from-raw]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
SAMPLER_PATHS = ("numpyro-parallel", "numpyro-vectorized", "nutpie", "pymc",
                 "numpyro-parallel+cache", "numpyro-vectorized+cache")
RHAT_MAX, ESS_MIN = 1.01, 400


# ---------------------------------------------------------------------------------------- worker
class StageTimer:
    """Exclusive wall time per stage (a nested stage pauses its parent) and JAX compile time.

    Compile time is the sum of JAX's jaxpr-trace, MLIR-lowering and backend-compile events,
    attributed to the innermost stage open when the event fired.
    """

    def __init__(self):
        self.wall: dict[str, float] = {}
        self.compile: dict[str, float] = {}
        self._stack: list[list] = []  # [name, start of the current slice]

    def reset(self):
        self.wall, self.compile = {}, {}

    @contextlib.contextmanager
    def __call__(self, name):
        now = time.perf_counter()
        if self._stack:
            parent = self._stack[-1]
            self.wall[parent[0]] = self.wall.get(parent[0], 0.0) + now - parent[1]
        self._stack.append([name, now])
        try:
            yield
        finally:
            now = time.perf_counter()
            top = self._stack.pop()
            self.wall[name] = self.wall.get(name, 0.0) + now - top[1]
            if self._stack:
                self._stack[-1][1] = now

    def on_event(self, event, duration, **_):
        # Backend compile and MLIR lowering only: jaxpr-trace events nest (an outer jit's trace
        # includes its inner jits'), so summing them would count tracing twice.
        if event in ("/jax/core/compile/backend_compile_duration",
                     "/jax/core/compile/jaxpr_to_mlir_module_duration"):
            name = self._stack[-1][0] if self._stack else "outside fit"
            self.compile[name] = self.compile.get(name, 0.0) + duration


def _wrap(owner, attr, timer, name):
    original = getattr(owner, attr)

    def wrapped(*args, **kwargs):
        with timer(name):
            return original(*args, **kwargs)

    setattr(owner, attr, wrapped)


def _instrument(timer, split_state):
    """Wrap the functions of one fit so that ``timer`` sees its stages."""
    import jax.monitoring
    import numpyro.infer
    import pymc.sampling.jax as pmjax

    import bayeslaws.diagnostics
    import bayeslaws.fit
    import bayeslaws.sampling

    jax.monitoring.register_event_duration_secs_listener(timer.on_event)
    _wrap(bayeslaws.fit.data_mod, "prepare", timer, "data prep")
    _wrap(bayeslaws.fit, "build_model", timer, "model build")
    _wrap(bayeslaws.fit, "check_start", timer, "start check")
    _wrap(bayeslaws.sampling, "sample", timer, "pm.sample other (setup, idata)")
    _wrap(pmjax, "get_jaxified_graph", timer, "pytensor -> JAX")
    _wrap(pmjax, "_get_batched_jittered_initial_points", timer, "initial points")
    _wrap(pmjax, "_postprocess_samples", timer, "transform draws")
    _wrap(bayeslaws.diagnostics, "diagnose", timer, "diagnostics")
    # law.fit's numpyro path: bayeslaws' compiled-once program (bayeslaws.batch)
    import bayeslaws.batch as batch

    _wrap(batch, "_program", timer, "pytensor -> JAX")
    raw_runner = batch._runner

    def runner(*args, **kwargs):  # time the returned program's runs, not its construction
        run_program = raw_runner(*args, **kwargs)

        def timed(*run_args):
            with timer("numpyro warm-up + sampling"):
                return run_program(*run_args)
        return timed

    batch._runner = runner
    _wrap(batch, "_to_datatree", timer, "transform draws")
    _wrap(bayeslaws.fit.Fit, "_complete", timer, "post-processing (paper params, log-lik)")

    raw_run = numpyro.infer.MCMC.run

    def orig_run(self, *args, **kwargs):
        out = raw_run(self, *args, **kwargs)
        jax.block_until_ready(self.last_state)  # JAX dispatches asynchronously
        return out

    def run(self, rng_key, *args, extra_fields=(), init_params=None, **kwargs):
        if (not split_state["split"] or split_state["inside"] or self.num_warmup == 0
                or self.post_warmup_state is not None):
            if split_state["inside"]:
                return orig_run(self, rng_key, *args, extra_fields=extra_fields,
                                init_params=init_params, **kwargs)
            with timer("numpyro warm-up + sampling"):
                return orig_run(self, rng_key, *args, extra_fields=extra_fields,
                                init_params=init_params, **kwargs)
        split_state["inside"] = True
        try:
            with timer("numpyro warm-up"):
                self.warmup(rng_key, *args, extra_fields=extra_fields, init_params=init_params,
                            **kwargs)
            with timer("numpyro sampling"):
                return orig_run(self, self.post_warmup_state.rng_key, *args,
                                extra_fields=extra_fields, **kwargs)
        finally:
            split_state["inside"] = False

    numpyro.infer.MCMC.run = run


def worker(spec_name: str, path: str) -> dict:
    """Three fits of one spec in this (fresh) process; returns the measurements."""
    t0 = time.perf_counter()
    import bayeslaws as bl  # noqa: F401  (imports pymc, pymc.sampling.jax, jax)
    from bayeslaws.spec import load_spec

    t_import = time.perf_counter() - t0
    sampler = path.split("-")[0].split("+")[0]
    spec = load_spec(os.path.join(ROOT, "models", f"{spec_name}.yaml"))
    law, data = spec.law(), spec.train_data()
    settings = {k: spec.sampler[k] for k in ("draws", "tune", "chains", "target_accept",
                                             "dense_mass") if k in spec.sampler}
    seed = int(spec.sampler.get("seed", 0))
    timer, split_state = StageTimer(), {"split": False, "inside": False}
    _instrument(timer, split_state)
    from bayeslaws import sampling

    out = {"spec": spec_name, "path": path, "rows": len(data), "import_s": t_import,
           "chain_method": sampling.chain_method(int(settings.get("chains", 4)))
           if sampler == "numpyro" else "", "fits": []}
    for i, label in enumerate(("cold", "warm", "warm-split")):
        if label == "warm-split" and (sampler != "numpyro" or path.endswith("+cache")):
            break
        split_state["split"] = label == "warm-split"
        timer.reset()
        start = time.perf_counter()
        with timer("fit (rest)"):
            fit = law.fit(data, seed=seed + i, sampler=sampler, extrapolation=None, **settings)
        total = time.perf_counter() - start
        rep = fit.diagnostics()
        out["fits"].append({
            "fit": label, "seconds": total, "max_rhat": max(rep["rhat"].values()),
            "min_ess_bulk": min(rep["ess_bulk"].values()), "divergences": rep["divergences"],
            "retried": bool(fit.config["retried"]), "stages": dict(timer.wall),
            "compile": dict(timer.compile)})
    return out


def run_worker(spec_name: str, path: str) -> dict:
    """Run :func:`worker` in a fresh Python process with the JAX cache off."""
    import tempfile

    env = dict(os.environ, BAYESLAWS_JAX_CACHE="off", PYTHONPATH=ROOT)
    env.pop("BAYESLAWS_CHAIN_METHOD", None)
    if path.startswith("numpyro-"):
        env["BAYESLAWS_CHAIN_METHOD"] = path.split("-", 1)[1].split("+")[0]
    with tempfile.TemporaryDirectory() as cache:
        if path.endswith("+cache"):  # the default: persistent cache on, empty at the start
            env["BAYESLAWS_JAX_CACHE"] = cache
        start = time.perf_counter()
        proc = subprocess.run([sys.executable, __file__, "--worker", spec_name, path], env=env,
                              capture_output=True, text=True)
    wall = time.perf_counter() - start
    if proc.returncode:
        return {"spec": spec_name, "path": path, "error": proc.stderr.strip().splitlines()[-1]}
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["process_s"] = wall
    return out


# ------------------------------------------------------------------------------------ baselines
def baselines(refits: int, screened_refits: int) -> list[dict]:
    """Time the point-fit baselines on the Chinchilla (Epoch) data."""
    import numpy as np

    sys.path.insert(0, HERE)
    import baselines as bls

    from bayeslaws.spec import load_spec

    frame = load_spec(os.path.join(ROOT, "models", "chinchilla_epoch.yaml")).train_data()
    rows = []
    t = time.perf_counter()
    full = bls.huber_fit(frame, screen=None)
    rows.append({"method": "Huber + L-BFGS, full 4,500-start grid", "seconds":
                 time.perf_counter() - t, "note": _theta_note(full)})
    t = time.perf_counter()
    screened = bls.huber_fit(frame, screen=100)
    rows.append({"method": "Huber + L-BFGS, grid screened to best 100 starts", "seconds":
                 time.perf_counter() - t, "note": _theta_note(screened)
                 + f"; max |diff| vs full {np.max(np.abs(screened - full)):.1e}"})
    rng = np.random.default_rng(0)
    t = time.perf_counter()
    for _ in range(refits):
        idx = rng.integers(0, len(frame), len(frame))
        bls.huber_fit(frame.iloc[idx], starts=full)
    secs = time.perf_counter() - t
    rows.append({"method": f"bootstrap, {refits} refits from the full-data optimum",
                 "seconds": secs * 1000 / refits,
                 "note": f"measured {secs:.1f} s for {refits} refits"
                 + ("" if refits == 1000 else ", scaled to 1,000")})
    t = time.perf_counter()
    for _ in range(screened_refits):
        idx = rng.integers(0, len(frame), len(frame))
        bls.huber_fit(frame.iloc[idx], screen=100)
    secs = time.perf_counter() - t
    rows.append({"method": "bootstrap, 1,000 refits each from the screened grid",
                 "seconds": secs * 1000 / screened_refits,
                 "note": f"measured {secs:.1f} s for {screened_refits} refits, scaled to 1,000"})
    start0 = bls.hoffmann_grid()[0]
    t = time.perf_counter()
    x0 = bls.huber_fit(frame, screen=1, starts=bls.hoffmann_grid())  # best grid start, 1 L-BFGS
    bls.curve_fit_samples(frame, x0, frame.iloc[:1])
    rows.append({"method": "scipy curve_fit (start: best grid point by Huber objective)",
                 "seconds": time.perf_counter() - t, "note": f"grid start 0 was {start0}"})
    return rows


def _theta_note(theta) -> str:
    import numpy as np

    a, b, e, alpha, beta = theta
    return (f"E {np.exp(e):.4f}, A {np.exp(a):.1f}, B {np.exp(b):.1f}, alpha {alpha:.4f}, "
            f"beta {beta:.4f}")


def lolo(n: int) -> dict:
    """``n`` sequential fits of the Chinchilla law on nested subsets (largest runs left out)."""
    import numpy as np

    import bayeslaws as bl
    from bayeslaws.spec import load_spec

    frame = load_spec(os.path.join(ROOT, "models", "chinchilla_epoch.yaml")).train_data()
    compute = (frame["params"] * frame["tokens"]).to_numpy()
    order = np.argsort(compute)
    law = bl.laws.get("chinchilla")
    sizes = np.linspace(0.5, 1.0, n)
    times, ok = [], 0
    for i, q in enumerate(sizes):
        keep = np.sort(order[: int(round(q * len(frame)))])
        t = time.perf_counter()
        fit = law.fit(frame.iloc[keep], seed=i, extrapolation=None)
        times.append(time.perf_counter() - t)
        rep = fit.diagnostics()
        ok += max(rep["rhat"].values()) <= RHAT_MAX and min(rep["ess_bulk"].values()) >= ESS_MIN
    return {"fits": n, "total_s": float(sum(times)), "median_s": float(np.median(times)),
            "converged": ok}


# ---------------------------------------------------------------------------------------- report
def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--worker", nargs=2, metavar=("SPEC", "PATH"), help=argparse.SUPPRESS)
    parser.add_argument("--specs", nargs="+", default=["chinchilla_epoch", "gadre_chinchilla"])
    parser.add_argument("--samplers", nargs="+", default=list(SAMPLER_PATHS[:5]),
                        choices=SAMPLER_PATHS)
    parser.add_argument("--bootstrap-refits", type=int, default=1000)
    parser.add_argument("--screened-refits", type=int, default=5,
                        help="bootstrap refits timed with the screened grid (scaled to 1,000)")
    parser.add_argument("--lolo", type=int, default=0, help="leave-largest-out fits (0: skip)")
    parser.add_argument("--out", default=os.path.join(HERE, "results", "speed.csv"))
    parser.add_argument("--from-raw", action="store_true",
                        help="re-make the tables from the raw JSON of an earlier run")
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(*args.worker)))
        return

    import pandas as pd

    raw_path = args.out.replace(".csv", "_raw.json")
    if args.from_raw:
        with open(raw_path) as fh:
            raw = json.load(fh)
        report(args, raw["started"], raw["runs"], raw["baselines"], raw["lolo"])
        return
    started = time.strftime("%Y-%m-%d %H:%M:%S")
    runs = []
    for spec in args.specs:
        for path in args.samplers:
            res = run_worker(spec, path)
            runs.append(res)
            print(f"# {spec} {path}: "
                  + (res.get("error") or ", ".join(f"{f['fit']} {f['seconds']:.1f} s"
                                                    for f in res["fits"])), flush=True)
    base = baselines(args.bootstrap_refits, args.screened_refits)
    for b in base:
        print(f"# {b['method']}: {b['seconds']:.1f} s ({b['note']})", flush=True)
    lol = lolo(args.lolo) if args.lolo else None
    if lol:
        print(f"# {lol}", flush=True)
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    with open(raw_path, "w") as fh:
        json.dump({"started": started, "runs": runs, "baselines": base, "lolo": lol}, fh)
    report(args, started, runs, base, lol)


def report(args, started, runs, base, lol) -> None:
    """Write the CSVs and print the Markdown tables."""
    import pandas as pd

    rows, stage_rows = [], []
    for r in runs:
        if "error" in r:
            rows.append({"spec": r["spec"], "method": r["path"], "fit": "error",
                         "note": r["error"]})
            continue
        for f in r["fits"]:
            conv = (f["max_rhat"] <= RHAT_MAX and f["min_ess_bulk"] >= ESS_MIN
                    and f["divergences"] == 0)
            rows.append({"spec": r["spec"], "method": r["path"], "fit": f["fit"],
                "seconds": f["seconds"], "max_rhat": f["max_rhat"],
                "min_ess_bulk": f["min_ess_bulk"], "divergences": f["divergences"],
                "retried": f["retried"], "converged": conv,
                "ess_per_s": f["min_ess_bulk"] / f["seconds"],
                "import_s": r["import_s"], "process_s": r["process_s"]})
            for stage, secs in f["stages"].items():
                stage_rows.append({"spec": r["spec"], "path": r["path"], "fit": f["fit"],
                                   "stage": stage, "seconds": secs,
                                   "compile_s": f["compile"].get(stage, 0.0)})
    for b in base:
        rows.append({"spec": "chinchilla_epoch", "method": b["method"], "fit": "point",
                     "seconds": b["seconds"], "note": b["note"]})
    if lol:
        rows.append({"spec": "chinchilla_epoch", "method": f"{lol['fits']} leave-largest-out "
                     "fits, sequential (numpyro, default path)", "fit": "warm",
                     "seconds": lol["total_s"], "note": f"median {lol['median_s']:.2f} s per "
                     f"fit; {lol['converged']}/{lol['fits']} converged"})
    table = pd.DataFrame(rows)
    # Ratio to the numpyro path (the chain method this machine picks, JAX cache off), same spec
    # and fit; point fits against its warm fit.
    default = "parallel"
    with contextlib.suppress(Exception):
        from bayeslaws import sampling

        default = sampling.chain_method(4)
    ref = table[table["method"] == f"numpyro-{default}"]
    ref = ref.set_index(["spec", "fit"])["seconds"].to_dict()
    warm = {s: v for (s, f), v in ref.items() if f == "warm"}
    table["x_numpyro"] = [
        row.seconds / ref.get((row.spec, row.fit), warm.get(row.spec, float("nan")))
        for row in table.itertuples()]
    os.makedirs(os.path.dirname(args.out), exist_ok=True)
    table.to_csv(args.out, index=False, float_format="%.4g")
    stages = pd.DataFrame(stage_rows)
    stages.to_csv(args.out.replace(".csv", "_stages.csv"), index=False, float_format="%.4g")
    pd.set_option("display.width", 200)
    print(f"\nstarted {started}; machine {platform.machine()} ({os.cpu_count()} cores), "
          f"python {platform.python_version()}")
    print(_markdown(table.drop(columns=[c for c in ("import_s",) if c in table])))
    if not stages.empty:
        wide = stages.pivot_table(index=["spec", "path", "stage"], columns="fit",
                                  values=["seconds", "compile_s"], aggfunc="sum", sort=False)
        wide.columns = [f"{a} {b}" for a, b in wide.columns]
        print(_markdown(wide.reset_index()))


def _markdown(frame) -> str:
    """A Markdown table (3 significant digits) without the optional ``tabulate`` package."""
    def cell(v, col):
        if isinstance(v, float):
            return "" if v != v else (f"{v:.3f}" if col == "max_rhat" else
                                      f"{v:.0f}" if v >= 100 else f"{v:.3g}")
        return str(v)

    lines = ["| " + " | ".join(map(str, frame.columns)) + " |",
             "|" + "---|" * len(frame.columns)]
    lines += ["| " + " | ".join(cell(v, c) for v, c in zip(row, frame.columns)) + " |"
              for row in frame.itertuples(index=False)]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
