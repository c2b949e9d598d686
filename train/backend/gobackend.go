package backend

import (
	"errors"
	"fmt"
	"log/slog"
	"runtime"
	"strings"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/backends/simplego"

	"github.com/mocokit/mocokit/train/backend/blas"
	"github.com/mocokit/mocokit/train/backend/onednn"
)

// goBackend is simplego with the ops it lacks for training. Everything not
// overridden here or in builder is simplego's own: its buffers, executables
// and every op it implements.
type goBackend struct {
	backends.Backend

	// im2col selects the im2col convolution over simplego's loop.
	im2col bool

	// gemm runs the matrix products and convolutions when set (through
	// recorder); nil leaves them to simplego.
	gemm gemm

	// onednn runs the convolutions it can when set, with gemm.
	onednn *onednn.Lib

	// options is the simplego configuration used, for Description.
	options string
}

// suppliedOps are the ops that builder adds to simplego's.
var suppliedOps = []backends.OpType{
	backends.OpTypePad,
	backends.OpTypeReverse,
	backends.OpTypeSelectAndScatterMax,
	backends.OpTypeSelectAndScatterMin,
	backends.OpTypeBatchNormForInference,
	backends.OpTypeBatchNormForTraining,
	backends.OpTypeBatchNormGradient,
}

// newGo builds the wrapped simplego backend from the options after "go:".
func newGo(config string) (backends.Backend, error) {
	im2col := true
	gemmName, convName := "auto", "auto"
	var simpleOpts []string
	opsModeSet := false
	for _, opt := range strings.Split(config, ",") {
		switch {
		case opt == "":
		case opt == "conv=onednn" || opt == "conv=im2col" || opt == "conv=direct":
			convName = strings.TrimPrefix(opt, "conv=")
			im2col = convName != "direct"
		case strings.HasPrefix(opt, "conv="):
			return nil, fmt.Errorf("backend: go: unknown %q: conv=onednn, conv=im2col "+
				"or conv=direct", opt)
		case opt == "gemm=openblas" || opt == "gemm=go":
			gemmName = strings.TrimPrefix(opt, "gemm=")
		case strings.HasPrefix(opt, "gemm="):
			return nil, fmt.Errorf("backend: go: unknown %q: gemm=openblas or gemm=go", opt)
		default:
			opsModeSet = opsModeSet || opt == "ops_parallel" || opt == "ops_sequential"
			simpleOpts = append(simpleOpts, opt)
		}
	}
	if !opsModeSet {
		// Running ops concurrently lets several DotGeneral ops hold every
		// worker of simplego's pool while each waits for one more: the
		// training step deadlocks. Sequential ops still parallelise inside
		// each matrix multiplication, where the time goes.
		simpleOpts = append(simpleOpts, "ops_sequential")
	}
	if n := runtime.GOMAXPROCS(0); n < runtime.NumCPU() && !hasParallelism(simpleOpts) {
		// simplego sizes its pool by NumCPU; a process limited to fewer
		// threads would oversubscribe them.
		simpleOpts = append(simpleOpts, fmt.Sprintf("parallelism=%d", n))
	}
	options := strings.Join(simpleOpts, ",")
	inner, err := simplego.New(options)
	if err != nil {
		return nil, fmt.Errorf("backend: go: %w", err)
	}
	// oneDNN first: it sets OpenMP's environment, which an OpenMP build of
	// OpenBLAS would otherwise read before.
	var lib *onednn.Lib
	if gemmName != "go" {
		lib, err = loadOneDNN(convName)
	}
	var g gemm
	if err == nil {
		g, err = loadGemm(gemmName)
	}
	if err == nil && convName == "onednn" && g == nil {
		err = errors.New("backend: go: conv=onednn needs OpenBLAS, not gemm=go")
		if gemmName != "go" {
			err = errors.New("backend: go: conv=onednn needs OpenBLAS, which did not load " +
				"(scripts/setup.sh installs libopenblas0)")
		}
	}
	if g == nil {
		lib = nil // oneDNN's convolutions run in the recorder, which OpenBLAS's needs
	}
	if err != nil {
		inner.Finalize()
		return nil, err
	}
	return &goBackend{Backend: inner, im2col: im2col, gemm: g, onednn: lib,
		options: options}, nil
}

// loadOneDNN opens oneDNN for "onednn" (an error if it cannot) and for
// "auto" (the im2col convolutions, with a log line, if it cannot).
func loadOneDNN(conv string) (*onednn.Lib, error) {
	if conv != "onednn" && conv != "auto" {
		return nil, nil
	}
	lib, err := onednn.Load()
	if err == nil {
		return lib, nil
	}
	if conv == "onednn" {
		return nil, fmt.Errorf("backend: go: conv=onednn: %w", err)
	}
	slog.Warn("oneDNN not loaded: convolutions run as im2col and OpenBLAS, "+
		"up to twice as slow (scripts/setup.sh installs libdnnl2)", "error", err)
	return nil, nil
}

// loadGemm opens OpenBLAS for "openblas" (an error if it cannot) and for
// "auto" (simplego's own matrix multiply, with a log line, if it cannot).
func loadGemm(name string) (gemm, error) {
	if name == "go" {
		return nil, nil
	}
	lib, err := blas.Load()
	if err == nil {
		return lib, nil
	}
	if name == "openblas" {
		return nil, fmt.Errorf("backend: go: gemm=openblas: %w", err)
	}
	slog.Warn("OpenBLAS not loaded: matrix products and convolutions run in pure Go, "+
		"many times slower (scripts/setup.sh installs libopenblas0)", "error", err)
	return nil, nil
}

func hasParallelism(opts []string) bool {
	for _, opt := range opts {
		if strings.HasPrefix(opt, "parallelism=") {
			return true
		}
	}
	return false
}

// String is the name used in specs.
func (b *goBackend) String() string { return GoName }

// Name is the backend's short name.
func (b *goBackend) Name() string { return "go" }

// Description says what the backend is and how it is configured.
func (b *goBackend) Description() string {
	conv := "im2col"
	switch {
	case !b.im2col:
		conv = "direct"
	case b.onednn != nil:
		conv = "onednn (" + b.onednn.Describe() + "), else im2col"
	}
	gemm := "simplego"
	if b.gemm != nil {
		gemm = b.gemm.Describe()
	}
	return fmt.Sprintf("SimpleGo with training ops, conv=%s, %s, %d CPUs, gemm: %s",
		conv, b.options, runtime.GOMAXPROCS(0), gemm)
}

// Capabilities adds the supplied ops to simplego's.
func (b *goBackend) Capabilities() backends.Capabilities {
	c := b.Backend.Capabilities().Clone()
	for _, op := range suppliedOps {
		c.Operations[op] = true
	}
	return c
}

// Builder returns a builder whose missing ops are composed from simplego's.
func (b *goBackend) Builder(name string) backends.Builder {
	if b.gemm != nil {
		return &builder{Builder: newRecorder(b.Backend, name, b.gemm, b.onednn), im2col: b.im2col}
	}
	return &builder{Builder: b.Backend.Builder(name), im2col: b.im2col}
}
