#!/usr/bin/env bash
# Runs the whole bench on the GPU machine in one command: PyTorch peers first (cuBLAS, cuSPARSE, BSR, conversions,
# and for the static weight patterns torch BSR fp32 and semi-structured 2:4 fp16), then our WebGPU suite, which merges
# the peers' JSON and writes the report. Run from the repository root there, with .gpu/ carried
# (bash ../shared/gpu/pack.sh out/bench after `node bench/build.mjs`):
#   bash bench/run-gpu.sh "$OUT" [extra bench args, e.g. --sweep]
# Only some sections, both sides (e.g. the static weight patterns of issue 12, section e):
#   PEERS_ARGS="--only static" bash bench/run-gpu.sh "$OUT" --only static
# Writes $OUT/peers.json, $OUT/bench.json, $OUT/bench.md and logs.
set -uo pipefail
out=${1:?usage: run-gpu.sh OUTDIR [bench args]}
shift
mkdir -p "$out"
export PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,driver_version,clocks.sm,clocks.max.sm,temperature.gpu,power.draw --format=csv > "$out/nvidia-smi.csv" 2>&1 || true
# shellcheck disable=SC2086 # PEERS_ARGS is a list of words
timeout ${PEERS_TIMEOUT:-300} python3 bench/peers.py --out "$out/peers.json" ${PEERS_ARGS:-} 2> >(tee "$out/peers.log" >&2) || echo "peers failed (rc $?)" >&2
timeout ${BENCH_TIMEOUT:-420} bash .gpu/run.sh node .gpu/out/bench/index.mjs --peers "$out/peers.json" --json "$out/bench.json" "$@" 2> >(tee "$out/bench.log" >&2)
rc=$?
nvidia-smi --query-gpu=clocks.sm,temperature.gpu,power.draw --format=csv >> "$out/nvidia-smi.csv" 2>&1 || true
exit $rc
