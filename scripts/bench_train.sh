#!/usr/bin/env bash
# Prints the training and inference speed of mocokit's GoMLX ResNet-18 next
# to PyTorch's (Debian's python3-torch) on the same network, batch sizes and
# thread count, measured side by side: images/s, how many times slower
# mocokit is, and the peak RSS of each. Random 32x32 batches; the data path
# is not measured.
# Usage: scripts/bench_train.sh [mocokit-trainbench flags]
#   defaults: --stems imagenet,cifar --batches imagenet=32,128 --batches cifar=32,128
#             --modes train,infer --steps imagenet=3 --steps cifar=2 --rounds 2
#             --threads <all cores> --backend go --omp-wait-policy PASSIVE
#   e.g. scripts/bench_train.sh --stems imagenet --batches 32 --rounds 3
# A few minutes on two cores with the defaults; the table goes to stdout,
# progress to stderr. Other work on the cores skews both sides: the header
# shows the load average at the start and the end.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test >&2
mkdir -p bin
go build -o bin/mocokit-trainbench ./cmd/mocokit-trainbench
exec bin/mocokit-trainbench --python /usr/bin/python3 --script scripts/bench_train.py "$@"
