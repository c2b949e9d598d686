// Package backend chooses the GoMLX backend that training runs on.
//
// GoMLX's pure-Go backend (simplego) lacks ops that stock graph code needs
// to train a convolutional network: Pad (the gradient of Slice), Reverse
// (the gradient of a convolution), SelectAndScatterMax (the gradient of max
// pooling) and the BatchNorm ops. The "go" backend here wraps simplego and
// builds each missing op from ops simplego does implement, following the
// XLA operation semantics that backends.StandardOps documents. Where
// OpenBLAS can be loaded (package blas), the graph is recorded and cut
// where an op runs natively: matrix multiplications and convolutions as
// GEMM calls and im2col (dot.go, nativeconv.go, channelsfirst.go), batch
// norm, pooling and Reverse in Go over simplego's buffers (nativebn.go,
// nativepool.go, reverse.go), and chains of element-wise ops fused into one
// pass (fuse.go); simplego compiles and runs the parts in between
// (recorder.go, split.go). Otherwise convolutions are composed as im2col
// and one simplego matrix multiplication.
//
// The "xla" backend is GoMLX's own, driven by a PJRT plugin found on this
// machine (a CUDA plugin on a GPU host); plugins are never downloaded.
package backend

import (
	"fmt"
	"os"
	"strings"

	"github.com/gomlx/gomlx/backends"
)

// Names of the backends New knows, as written in a spec.
const (
	GoName  = "go"
	XLAName = "xla"
)

// New returns a backend by spec: "go" (simplego wrapped with the missing ops,
// parallelism configured), "xla" / "xla:<plugin path or name>" (GoMLX's XLA
// backend, only when a PJRT plugin is found), "" = $GOMLX_BACKEND if set,
// else auto: xla when a plugin is available, else "go". Error messages name
// what was asked and what is available.
//
// "go" takes options after a colon, separated by commas: "gemm=openblas"
// (fail unless OpenBLAS loads) or "gemm=go" (simplego's own matrix
// multiply; the default is OpenBLAS when it loads), "conv=onednn" (fail
// unless oneDNN loads), "conv=im2col" (im2col and GEMM only) or
// "conv=direct" (simplego's own convolution loop; the default is oneDNN,
// with OpenBLAS, when it loads, for the convolutions it takes, and im2col
// for the rest), and
// simplego's own options ("parallelism=N", "ops_parallel",
// "ops_sequential", "dotgeneral_small", "dotgeneral_large").
func New(spec string) (backends.Backend, error) {
	if spec == "" {
		if env := os.Getenv(backends.ConfigEnvVar); env != "" {
			b, err := New(env)
			if err != nil {
				return nil, fmt.Errorf("backend: $%s: %w", backends.ConfigEnvVar, err)
			}
			return b, nil
		}
		if xlaPluginAvailable() {
			return newXLA("")
		}
		return newGo("")
	}
	name, config, _ := strings.Cut(spec, ":")
	switch name {
	case GoName:
		return newGo(config)
	case XLAName:
		return newXLA(config)
	}
	return nil, fmt.Errorf("backend: unknown backend %q in %q: available are %s",
		name, spec, availableList())
}

// Describe is one line for the start-of-run log: backend name and device.
func Describe(b backends.Backend) string {
	if b == nil {
		return "no backend"
	}
	devices := make([]string, 0, b.NumDevices())
	for i := range b.NumDevices() {
		devices = append(devices, b.DeviceDescription(backends.DeviceNum(i)))
	}
	return fmt.Sprintf("backend %s (%s), devices: %s",
		b.String(), b.Description(), strings.Join(devices, ", "))
}

// availableList names the backends this binary can build, for errors.
func availableList() string {
	list := fmt.Sprintf("%q (pure Go)", GoName)
	if xlaCompiled {
		return list + fmt.Sprintf(", %q (PJRT plugins found: %s)", XLAName, xlaPluginsFound())
	}
	return list + fmt.Sprintf(", %q only in a binary built with -tags xla", XLAName)
}

// prefixed returns ":config", or nothing for an empty config.
func prefixed(config string) string {
	if config == "" {
		return ""
	}
	return ":" + config
}
