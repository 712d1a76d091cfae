#!/usr/bin/env bash
# Runs the whole bench on the GPU machine in one command: PyTorch peers first (cuBLAS, cuSPARSE, BSR, conversions),
# then our WebGPU suite, which merges the peers' JSON and writes the report. Run from the repository root there,
# with .gpu/ carried (bash ../shared/gpu/pack.sh out/bench after `node bench/build.mjs`):
#   bash bench/run-gpu.sh "$OUT" [extra bench args, e.g. --sweep]
# Writes $OUT/peers.json, $OUT/bench.json, $OUT/bench.md and logs.
set -uo pipefail
out=${1:?usage: run-gpu.sh OUTDIR [bench args]}
shift
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > "$out/nvidia-smi.csv" 2>&1 || true
timeout 200 python3 bench/peers.py --out "$out/peers.json" 2> >(tee "$out/peers.log" >&2) || echo "peers failed (rc $?)" >&2
timeout ${BENCH_TIMEOUT:-420} bash .gpu/run.sh node .gpu/out/bench/index.mjs --peers "$out/peers.json" --json "$out/bench.json" "$@" 2> >(tee "$out/bench.log" >&2)
rc=$?
nvidia-smi --query-gpu=clocks.sm,temperature.gpu,power.draw --format=csv >> "$out/nvidia-smi.csv" 2>&1 || true
exit $rc
