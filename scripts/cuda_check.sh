#!/usr/bin/env bash
# Runs the server's CUDA path next to its CPU path on a GPU machine and
# prints the throughput of each (see docs/CUDA.md for what it needs):
#
#   scripts/cuda_check.sh /opt/onnxruntime-linux-x64-gpu-1.24.1/lib/libonnxruntime.so.1.24.1 [N]
#
# For each device it starts `mocokit serve --device cpu|cuda` on a loopback
# port with the embedded default model, classifies N CIFAR-10 test images
# (default 5000) from 32 connections with cmd/mocokit-load, and prints the
# images/s, the latency and the device the server logged. A CUDA path that
# cannot start prints the server's reason and the script exits 1.
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_LIB=${1:-${MOCOKIT_ORT_LIB:-}}
N=${2:-5000}
CONCURRENCY=${CONCURRENCY:-32}
if [ -z "$ORT_LIB" ] || [ ! -f "$ORT_LIB" ]; then
  echo "usage: $0 PATH/TO/libonnxruntime.so.1.24.1 (the GPU build) [N]" >&2
  exit 2
fi
for so in libonnxruntime_providers_shared.so libonnxruntime_providers_cuda.so; do
  [ -f "$(dirname "$ORT_LIB")/$so" ] ||
    echo "warning: no $so beside $ORT_LIB; the CUDA path will fail" >&2
done
command -v nvidia-smi >/dev/null &&
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

mkdir -p bin
go build -o bin/mocokit ./cmd/mocokit
go build -o bin/mocokit-load ./cmd/mocokit-load
log=$(mktemp -d)
trap 'rm -rf "$log"' EXIT

status=0
printf '\n%-6s %-8s %12s %10s %10s  %s\n' device served images/s p50 p99 "server log"
for device in cpu cuda; do
  if ! bin/mocokit-load --bin bin/mocokit --valid-only --max-requests "$N" \
      --duration 10m --concurrency "$CONCURRENCY" \
      --serve-flags "--device $device --ort-lib $ORT_LIB" \
      >"$log/$device.out" 2>"$log/$device.err"; then
    printf '%-6s failed: %s\n' "$device" \
      "$(grep -h -m1 -E 'level=ERROR|mocokit: |mocokit-load: ' "$log/$device.err" || true)"
    tail -n 5 "$log/$device.err" >&2
    status=1
    continue
  fi
  served=$(sed -n 's/^served: \([0-9]*\) images classified (\([0-9]*\) images\/s).*/\1 \2/p' \
    "$log/$device.out")
  lat=$(sed -n 's/^valid images: p50 \(.*\), p99 \(.*\)$/\1 \2/p' "$log/$device.out")
  seen=$(grep -h -m1 -o 'msg="model loaded".*device=[a-z]*' "$log/$device.err" |
    grep -o 'device=[a-z]*' || true)
  # shellcheck disable=SC2086
  printf '%-6s %-8s %12s %10s %10s  %s\n' "$device" $served $lat "$seen"
done
exit $status
