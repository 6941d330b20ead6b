#!/usr/bin/env bash
# The GPU checks of issue 5 in one device call (see benchmarks/RESULTS.md, "GPU").
# Needs the wheels of pymc, pytensor, arviz* and their pure-Python needs in .whl/ (recipe in
# RESULTS.md); writes logs and CSVs under $OUT.
set -u
[ -n "${SKIP_PIP:-}" ] || python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
    --target /tmp/site .whl/*.whl || exit 1
export PYTHONPATH=/tmp/site:.
export PYTHONUNBUFFERED=1 BAYESLAWS_JAX_CACHE=off
OUT=${OUT:-/tmp/out}; mkdir -p "$OUT"
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader
run() {  # name, then many_fits.py arguments
    local name=$1; shift
    echo "== $name: $*"
    timeout "${LIMIT:-280}" python3 benchmarks/many_fits.py "$@" --out "$OUT/$name.csv" \
        >"$OUT/$name.log" 2>&1
    echo "exit $?"
    # progress bars end in carriage returns: keep their last state and the script's lines
    tr '\r' '\n' <"$OUT/$name.log" | grep -v -E "^\s*$" | awk '/it\/s/ {bar=$0; next} {print} END {print bar}' | tail -12
}
for spec in "$@"; do eval "run $spec"; done
