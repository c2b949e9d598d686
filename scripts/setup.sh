#!/usr/bin/env bash
# Installs what mocokit needs on a Debian machine, skipping what is present:
#   scripts/setup.sh          the onnxruntime library, OpenBLAS and the Go modules
#   scripts/setup.sh --test   the same, plus PyTorch and ONNX for the tests
# The onnxruntime CPU library comes from the npm package onnxruntime-node,
# which ships it prebuilt; its sha256 is checked before it is installed in
# .deps/onnxruntime (git-ignored).
set -euo pipefail
cd "$(dirname "$0")/.."

ORT_VERSION=1.24.1
ORT_SHA256=53ef1ac028dd1b05554b8da28d9159eb3876f99868193d2aaa6e67f0243c23d4
ORT_DIR=.deps/onnxruntime
ORT_LIB=$ORT_DIR/libonnxruntime.so.$ORT_VERSION

log() { printf 'setup: %s\n' "$*" >&2; }

apt_install() {
  local missing=()
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'ok installed' ||
      missing+=("$p")
  done
  [ ${#missing[@]} -eq 0 ] && return 0
  log "installing Debian packages: ${missing[*]}"
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo=sudo
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq \
    --no-install-recommends "${missing[@]}" >/dev/null
}

install_ort() {
  if [ -f "$ORT_LIB" ] && echo "$ORT_SHA256  $ORT_LIB" | sha256sum -c --quiet; then
    return 0
  fi
  command -v npm >/dev/null || apt_install npm
  log "fetching onnxruntime $ORT_VERSION (npm package onnxruntime-node)"
  local tmp
  tmp=$(mktemp -d)
  trap 'rm -rf "$tmp"' RETURN
  (cd "$tmp" && npm pack --silent "onnxruntime-node@$ORT_VERSION" >/dev/null)
  tar -xzf "$tmp"/onnxruntime-node-*.tgz -C "$tmp" \
    package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  local so=$tmp/package/bin/napi-v6/linux/x64/libonnxruntime.so.1
  if ! echo "$ORT_SHA256  $so" | sha256sum -c --quiet; then
    log "sha256 of libonnxruntime.so.1 does not match $ORT_SHA256; not installed"
    return 1
  fi
  mkdir -p "$ORT_DIR"
  install -m 0644 "$so" "$ORT_LIB.tmp" && mv "$ORT_LIB.tmp" "$ORT_LIB"
  log "installed $ORT_LIB"
}

command -v go >/dev/null || { log "Go 1.26 or newer is required"; exit 1; }
command -v gcc >/dev/null || apt_install gcc libc6-dev
# OpenBLAS runs training's matrix multiplications, oneDNN most of its
# convolutions (train/backend/blas and train/backend/onednn open them at run
# time; without them those run in pure Go, many times slower). Building
# needs oneDNN's headers, for the layout of its descriptors.
apt_install libopenblas0 libdnnl-dev
install_ort
go mod download
if [ "${1:-}" = "--test" ]; then
  apt_install python3-torch python3-torchvision python3-onnx python3-numpy \
    python3-pil chromium
fi
