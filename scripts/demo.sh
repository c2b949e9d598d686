#!/usr/bin/env bash
# The main job on the embedded default: installs what mocokit needs, builds
# it, and serves the embedded CIFAR-10 model on :8080, evaluating it on the
# embedded CIFAR-10 test set (10,000 images) as it starts. Extra arguments go
# to `mocokit serve`.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
go build -o bin/mocokit ./cmd/mocokit
exec bin/mocokit serve --eval-testset "$@"
