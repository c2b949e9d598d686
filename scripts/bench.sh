#!/usr/bin/env bash
# Prints mocokit's benchmarks as a table, each next to what it replaces,
# measured side by side in one run:
#   - converting a MoCo checkpoint (main_moco.py layout, ResNet-18, queue of
#     65,536, SGD momentum) against torch.load of the same file;
#   - POST /classify (multipart, decode, preprocess, onnxruntime, softmax,
#     JSON) against onnxruntime called directly, batch 1, alternating image
#     by image.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test >&2
export MOCOKIT_ORT_LIB=${MOCOKIT_ORT_LIB:-$PWD/.deps/onnxruntime/libonnxruntime.so.1.24.1}
mkdir -p .cache/bench
ckpt=$PWD/.cache/bench/checkpoint_0199.pth.tar
if [ ! -f "$ckpt" ]; then
  /usr/bin/python3 convert/torchfile/testdata/make_moco_checkpoint.py "$ckpt.tmp"
  mv "$ckpt.tmp" "$ckpt"
fi
export MOCOKIT_MOCO_CKPT=$ckpt

# seconds per op of a Go benchmark: go_bench PKG NAME BENCHTIME
go_bench() {
  go test "$1" -run '^$' -bench "^$2\$" -benchtime "$3" -count 1 |
    awk -v n="$2" '$1 ~ "^"n { print $3 / 1e9; exit }'
}
torch_load=$(/usr/bin/python3 - "$ckpt" <<'PY'
import sys, time, torch
torch.set_num_threads(2)
best = float("inf")
for _ in range(3):
    t = time.perf_counter(); torch.load(sys.argv[1]); best = min(best, time.perf_counter() - t)
print(best)
PY
)
read_s=$(go_bench ./convert/torchfile BenchmarkReadMoCoCheckpoint 3x)
convert_s=$(go_bench ./convert BenchmarkConvertMoCo 3x)
# classify-images/s, onnxruntime-images/s, time ratio
overhead=$(go test ./serve -run '^$' -bench '^BenchmarkClassifyOverhead$' \
  -benchtime 10s -count 1 | awk '/classify-images\/s/ {
    for (i = 1; i <= NF; i++) v[$(i + 1)] = $i
    print v["classify-images/s"], v["onnxruntime-images/s"], v["time-ratio"]; exit }')
read -r classify_ips session_ips ratio <<<"$overhead"

size=$(stat -c %s "$ckpt")
awk -v size="$size" -v tl="$torch_load" -v rd="$read_s" -v cv="$convert_s" \
    -v cl="$classify_ips" -v se="$session_ips" -v r="$ratio" 'BEGIN {
  printf "MoCo checkpoint, %.0f MB\n", size / 1e6
  printf "  %-34s %8.3f s\n", "torch.load (best of 3)", tl
  printf "  %-34s %8.3f s   %.2fx torch.load\n", "mocokit read (torchfile)", rd, rd / tl
  printf "  %-34s %8.3f s   %.2fx torch.load\n", "mocokit convert pth2onnx", cv, cv / tl
  printf "Classification, one 32x32 PNG at a time, alternating\n"
  printf "  %-34s %8.0f images/s\n", "onnxruntime Session.Run", se
  printf "  %-34s %8.0f images/s   %.2fx the time of onnxruntime\n", "POST /classify", cl, r
}'
