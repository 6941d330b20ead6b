"""Convergence of the BNSL spec under its two ``b0`` references, over several seeds.

``bnsl``'s ``b0`` is either the whole curve's reducible part at the centre of the fitted range
(``b0_at="curve"``, the default) or segment 1's power law there (``"segment1"``, the default
before 2026-11-27). Both are the same law; this fits ``models/revisiting_bnsl.yaml`` (the 5 LM
curves of the Revisiting benchmark, each on its own) at the spec's sampler settings with each
reference and each seed, and prints max R-hat, min bulk ESS (over the sampled parameters),
divergences, whether the automatic retry at a higher target acceptance ran, and the wall time.

Usage: ``python benchmarks/bnsl_reference.py [--seeds 0 1 2 3] [--b0-at curve segment1]``.
"""

from __future__ import annotations

import pymc.sampling.jax  # noqa: F401  (before JAX starts: parallel chains on CPU)

import argparse
import os
import time
import warnings

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3])
    parser.add_argument("--b0-at", nargs="+", default=["curve", "segment1"],
                        choices=["curve", "segment1"])
    parser.add_argument("--spec", default=os.path.join(ROOT, "models", "revisiting_bnsl.yaml"))
    args = parser.parse_args(argv)

    from bayeslaws.diagnostics import ESS_PER_CHAIN_MIN, RHAT_MAX
    from bayeslaws.spec import load_spec

    spec = load_spec(args.spec)
    data = spec.train_data()
    sampler = {k: v for k, v in spec.sampler.items() if k != "seed"}
    print("| b0_at | seed | max R-hat | min bulk ESS | divergences | retried | converged | wall |")
    print("| --- | --- | --- | --- | --- | --- | --- | --- |")
    for b0_at in args.b0_at:
        law = spec.law().with_options(b0_at=b0_at)
        for seed in args.seeds:
            start = time.perf_counter()
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                fit = law.fit(data, seed=seed, extrapolation=None, **sampler)
            wall = time.perf_counter() - start
            diag = fit.diagnostics()
            rhat, ess = max(diag["rhat"].values()), min(diag["ess_bulk"].values())
            ok = (rhat <= RHAT_MAX and ess >= ESS_PER_CHAIN_MIN * diag["chains"]
                  and diag["divergences"] == 0)
            print(f"| {b0_at} | {seed} | {rhat:.3f} | {ess:.0f} | {diag['divergences']} | "
                  f"{'yes' if fit.config.get('retried') else 'no'} | {'yes' if ok else 'NO'} | "
                  f"{wall:.0f} s |", flush=True)


if __name__ == "__main__":
    main()
