// Package onednn runs 2-D convolutions with oneDNN, the library behind
// PyTorch's CPU convolutions (Debian's python3-torch links the same
// libdnnl.so.2), from Go.
//
// Like train/backend/blas, it opens the library at run time with dlopen: a
// mocokit binary starts on a machine without oneDNN, where Load returns an
// error and the caller keeps its own convolutions. Building needs oneDNN's
// headers (Debian's libdnnl-dev, which scripts/setup.sh installs), for the
// layout of its descriptors; build with the tag noonednn to do without.
package onednn

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"sync"
)

// LibraryName is the shared object Load opens: the runtime library of
// Debian's libdnnl2 package.
const LibraryName = "libdnnl.so.2"

// Lib is a loaded oneDNN with one CPU engine and stream. Its methods may be
// called from several goroutines at once: every call into oneDNN runs, one
// at a time, on one goroutine locked to its OS thread, so that OpenMP,
// which keeps a team of worker threads per calling thread, keeps one team,
// and no primitive is made or freed while another runs.
type Lib struct {
	version string
	threads int
	calls   chan func()
}

var (
	loadOnce sync.Once
	loaded   *Lib
	loadErr  error
)

// Load opens oneDNN once per process; later calls return the first call's
// result. oneDNN's threads are OpenMP's, which read their settings only
// when the library is loaded, so Load first sets OMP_NUM_THREADS to
// GOMAXPROCS and OMP_WAIT_POLICY to PASSIVE, unless the environment sets
// them: idle OpenMP threads then sleep instead of spinning on the cores the
// Go code that follows each convolution needs.
func Load() (*Lib, error) {
	loadOnce.Do(func() {
		threads := runtime.GOMAXPROCS(0)
		setDefault("OMP_NUM_THREADS", strconv.Itoa(threads))
		setDefault("OMP_WAIT_POLICY", "PASSIVE")
		if n, err := strconv.Atoi(os.Getenv("OMP_NUM_THREADS")); err == nil {
			threads = n
		}
		l := &Lib{threads: threads, calls: make(chan func())}
		go l.serve()
		l.do(func() { l.version, loadErr = open(LibraryName) })
		if loadErr != nil {
			close(l.calls) // ends serve
			loadErr = fmt.Errorf("onednn: %w", loadErr)
			return
		}
		loaded = l
	})
	return loaded, loadErr
}

// serve runs the calls into oneDNN, for the life of the process.
func (l *Lib) serve() {
	runtime.LockOSThread()
	for f := range l.calls {
		f()
	}
}

// do runs f on serve's thread and waits for it.
func (l *Lib) do(f func()) {
	done := make(chan struct{})
	l.calls <- func() {
		defer close(done)
		f()
	}
	<-done
}

func setDefault(name, value string) {
	if _, set := os.LookupEnv(name); !set {
		os.Setenv(name, value)
	}
}

// Describe names the library, its version and its thread count.
func (l *Lib) Describe() string {
	return fmt.Sprintf("oneDNN %s, %d threads", l.version, l.threads)
}

// Tensor is a 4-D operand as oneDNN sees it, in its logical order: batch,
// channels, height, width for data; output channels, input channels,
// height, width for weights. Strides count values and may describe any
// layout.
type Tensor struct {
	Dims, Strides [4]int
}

// span is how many values a slice must hold for t.
func (t Tensor) span() int {
	n := 1
	for i, d := range t.Dims {
		if d == 0 {
			return 0
		}
		n += (d - 1) * t.Strides[i]
	}
	return n
}

// ConvSpec is a convolution: Dst = Src convolved with Weights, without
// bias. Dilations are oneDNN's: 0 for none, d-1 for a dilation of d.
type ConvSpec struct {
	Src, Weights, Dst  Tensor
	Strides, Dilations [2]int
	PadLow, PadHigh    [2]int
}

// Conv is a convolution primitive, or that of one of its gradients, with
// the reorders between the operands' layouts and the ones oneDNN computes
// in.
type Conv struct {
	lib  *Lib
	spec ConvSpec
	kind int // 0: the convolution, 1: its weights gradient, 2: its source gradient
	impl string
	prim *primitive
}

// kinds names the operands of Run for each kind, read, read, written.
var kinds = [3]struct {
	what     string
	operands [3]string
}{
	{"convolution", [3]string{"source", "weights", "destination"}},
	{"weights gradient of the convolution", [3]string{"source", "destination gradient",
		"weights gradient"}},
	{"source gradient of the convolution", [3]string{"destination gradient", "weights",
		"source gradient"}},
}

// operandsOf is s's operands in the order Run takes them for kind.
func operandsOf(s ConvSpec, kind int) [3]Tensor {
	switch kind {
	case 1:
		return [3]Tensor{s.Src, s.Dst, s.Weights}
	case 2:
		return [3]Tensor{s.Dst, s.Weights, s.Src}
	}
	return [3]Tensor{s.Src, s.Weights, s.Dst}
}

// NewConv prepares the convolution s, or fails where oneDNN cannot run it.
// Run then reads the source and weights and writes the destination.
func (l *Lib) NewConv(s ConvSpec) (*Conv, error) { return l.newConv(s, 0) }

// NewWeightsGradient prepares the gradient of the convolution s with
// respect to its weights: Run then reads s's source and the gradient of
// its destination, and writes the gradient of its weights.
func (l *Lib) NewWeightsGradient(s ConvSpec) (*Conv, error) { return l.newConv(s, 1) }

// NewSourceGradient prepares the gradient of the convolution s with respect
// to its source: Run then reads the gradient of s's destination and its
// weights, and writes the gradient of its source.
func (l *Lib) NewSourceGradient(s ConvSpec) (*Conv, error) { return l.newConv(s, 2) }

func (l *Lib) newConv(s ConvSpec, kind int) (*Conv, error) {
	for j, t := range []Tensor{s.Src, s.Weights, s.Dst} {
		for i, d := range t.Dims {
			if d <= 0 || t.Strides[i] < 0 {
				return nil, fmt.Errorf("onednn: convolution %s of dimensions %v, strides %v: "+
					"every dimension must be at least 1 and every stride at least 0",
					[3]string{"source", "weights", "destination"}[j], t.Dims, t.Strides)
			}
		}
	}
	var p *primitive
	var impl string
	var err error
	l.do(func() { p, impl, err = newPrimitive(s, kind) })
	if err != nil {
		return nil, fmt.Errorf("onednn: %s of %v by %v into %v: %w",
			kinds[kind].what, s.Src.Dims, s.Weights.Dims, s.Dst.Dims, err)
	}
	c := &Conv{lib: l, spec: s, kind: kind, impl: impl, prim: p}
	runtime.AddCleanup(c, func(p *primitive) { l.do(p.destroy) }, p)
	return c, nil
}

// Impl is the name of the implementation oneDNN chose, such as
// "brgconv:avx512_core" or "jit:avx512_core".
func (c *Conv) Impl() string { return c.impl }

// Run computes out from in0 and in1, the operands its constructor names.
func (c *Conv) Run(in0, in1, out []float32) error {
	operands := operandsOf(c.spec, c.kind)
	for i, n := range []int{len(in0), len(in1), len(out)} {
		if n < operands[i].span() {
			return fmt.Errorf("onednn: convolution %s holds %d values, want %d",
				kinds[c.kind].operands[i], n, operands[i].span())
		}
	}
	var err error
	c.lib.do(func() { err = c.prim.run(in0, in1, out) })
	runtime.KeepAlive(c)
	return err
}
