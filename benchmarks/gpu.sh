#!/usr/bin/env bash
# Every GPU check of issue 24 in one call, one table at the end (benchmarks/RESULTS.md, "GPU").
#
#   benchmarks/gpu.sh            on the device machine (one H200): the 100k-row, 200-family fit,
#                                the same in float32, and 50 leave-largest-out fits by NUTS
#                                and by ChEES-HMC; about 8 min
#   benchmarks/gpu.sh --cpu      on a CPU: the post-processing of the 100k-row fit alone
#                                (benchmarks/postprocess.py), the part measurable without a GPU
#
# The device machine has JAX and numpyro but no PyMC: put the wheels of pymc, pytensor, arviz,
# arviz-base, arviz-stats, arviz-plots, better-optimize, cachetools, h5netcdf and
# xarray-einstats in .whl/ (pip download --no-deps ... -d .whl; recipe in RESULTS.md) and carry
# them. Logs and CSVs go to $OUT (default /tmp/out). Limits per check: $LIMIT seconds (150).
#
#   SMOKE=1 SKIP_PIP=1 SITE=DIR benchmarks/gpu.sh   the same checks at toy sizes (2,000 rows,
#                                20 families, 5 fits, 100 + 100 iterations) on any machine, with
#                                the packages of DIR first on the path (e.g. JAX 0.11.2 and
#                                numpyro 0.21, the device's versions): the script's plumbing.
set -u
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
export PYTHONUNBUFFERED=1 BAYESLAWS_JAX_CACHE=off
if [ "${1:-}" = "--cpu" ]; then
    python benchmarks/postprocess.py --rows 100000 --families 200 2>&1 | tee "$OUT/postprocess.log"
    exit "${PIPESTATUS[0]}"
fi
if [ -z "${SKIP_PIP:-}" ]; then
    python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target /tmp/site .whl/*.whl || exit 1
fi
export PYTHONPATH=${SITE:-/tmp/site}:.
if [ -n "${SMOKE:-}" ]; then  # toy sizes: does every check run end to end?
    BIG="2000 20"; FITS=5; IT=100
else
    BIG="100000 200"; FITS=50; IT=""
fi
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || echo "no nvidia-smi"
python3 -c "import jax; print('jax', jax.__version__, jax.devices())"
check() {  # name, then benchmarks/many_fits.py arguments
    local name=$1; shift
    local start=$SECONDS
    timeout "${LIMIT:-150}" python3 benchmarks/many_fits.py "$@" --out "$OUT/$name.csv" \
        >"$OUT/$name.log" 2>&1
    echo "$name: exit $?, $((SECONDS - start)) s wall (process, imports and compile included)"
    tr '\r' '\n' <"$OUT/$name.log" | grep -E "^(big|batched)" | tail -3
}
# shellcheck disable=SC2086  # $BIG is two numbers
check big100k --big-only --big $BIG --big-pooling centred --tune ${IT:-1000} --draws ${IT:-1000}
check big100k_f32 --big-only --big $BIG --big-pooling centred --tune ${IT:-1000} \
    --draws ${IT:-1000} --float32
check fits50 --fits $FITS --dense-mass --tune ${IT:-500} --draws ${IT:-1000} --skip-sequential
# the same 50 fits by ChEES-HMC (16 chains per fit, every chain of a fit the same leapfrog steps)
check fits50_chees --fits $FITS --dense-mass --tune ${IT:-400} --draws ${IT:-400} --chains 16 \
    --sampler chees --skip-sequential
python3 - "$OUT" <<'PY'
import glob, os, sys
import pandas as pd
out = sys.argv[1]
parts = [pd.read_csv(p).assign(check=os.path.basename(p)[:-4])
         for p in sorted(glob.glob(os.path.join(out, "*.csv")))]
if parts:
    table = pd.concat(parts, ignore_index=True)
    print(table[["check", "device", "method", "fits", "seconds", "converged"]]
          .round(1).to_string(index=False))
PY
