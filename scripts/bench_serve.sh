#!/usr/bin/env bash
# Prints images/s and p50/p99 latency of ResNet-18 (32x32, 10 classes) at
# concurrency 1, 8 and 64 for onnxruntime called in-process, the server over
# loopback (POST /classify, one PNG per request, dynamic batching), and
# PyTorch eager, all on the same weights and images, with their ratios.
# Usage: scripts/bench_serve.sh [SECONDS_PER_CELL]   (default 5)
set -euo pipefail
cd "$(dirname "$0")/.."
export MOCOKIT_ORT_LIB=${MOCOKIT_ORT_LIB:-$PWD/.deps/onnxruntime/libonnxruntime.so.1.24.1}
seconds=${1:-5}
dir=$(mktemp -d)
trap 'rm -rf "$dir"' EXIT
/usr/bin/python3 scripts/bench_serve.py "$dir" "$seconds"
go run ./cmd/mocokit-bench --dir "$dir" --seconds "$seconds"
