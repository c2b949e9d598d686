#!/usr/bin/env bash
# Runs every test. Installs what the tests need first (scripts/setup.sh
# --test), then writes the fixtures the tests compare against, with real
# PyTorch and Python's own pickle: checkpoints of every kind and PyTorch's
# outputs (scripts/make_checkpoints.py), and CIFAR-10 in its original
# cifar-10-batches-py layout. They are cached in .cache/ by the hash of the
# scripts that make them.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh --test

export MOCOKIT_CIFAR_JPEG=${MOCOKIT_CIFAR_JPEG:-$(cd .. && pwd)/shared/data/cifar10-jpeg}
export MOCOKIT_ORT_LIB=${MOCOKIT_ORT_LIB:-$PWD/.deps/onnxruntime/libonnxruntime.so.1.24.1}
if [ ! -f "$MOCOKIT_CIFAR_JPEG/test.tar" ]; then
  echo "test: CIFAR-10 JPEG copy not found at $MOCOKIT_CIFAR_JPEG" >&2
  exit 1
fi

makers="scripts/make_checkpoints.py scripts/cifar_jpeg.py dataset/testdata/make_cifar_pickles.py"
hash=$(cat $makers | sha256sum | cut -c1-12)
export MOCOKIT_FIXTURES=$PWD/.cache/fixtures-$hash
if [ ! -f "$MOCOKIT_FIXTURES/test_acc.json" ]; then
  echo "test: writing PyTorch fixtures to $MOCOKIT_FIXTURES (a few minutes)" >&2
  rm -rf "$MOCOKIT_FIXTURES.tmp"
  /usr/bin/python3 dataset/testdata/make_cifar_pickles.py --full "$MOCOKIT_FIXTURES.tmp"
  /usr/bin/python3 scripts/make_checkpoints.py "$MOCOKIT_FIXTURES.tmp"
  mv "$MOCOKIT_FIXTURES.tmp" "$MOCOKIT_FIXTURES"
fi

export MOCOKIT_CIFAR_PY=$MOCOKIT_FIXTURES/cifar-10-batches-py

go vet ./...
go test -count=1 -timeout 90m ./... "$@"
