package inference

import (
	"errors"
	"fmt"
	"log/slog"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mocokit/mocokit/models"
)

// Device selects where onnxruntime runs the model.
type Device string

const (
	// DeviceCPU runs on the CPU; it always works.
	DeviceCPU Device = "cpu"
	// DeviceCUDA runs on an NVIDIA GPU, or fails when the CUDA provider
	// cannot be loaded.
	DeviceCUDA Device = "cuda"
	// DeviceAuto tries CUDA and falls back to the CPU, logging why.
	DeviceAuto Device = "auto"
)

// Options configure a Session. The zero value runs on the CPU with
// onnxruntime's default thread count, every graph optimisation, and the
// library found by FindLibrary.
type Options struct {
	Library  string   // onnxruntime shared library; "" searches (FindLibrary)
	Threads  int      // intra-op threads; 0 lets onnxruntime choose
	GraphOpt GraphOpt // graph optimisation level; "" means GraphOptAll
	Device   Device   // "" means DeviceCPU
	GPU      int      // CUDA device id
}

// Session is one opened model. Run may be called from many goroutines:
// onnxruntime's Run is thread-safe on one session, and every call here makes
// its own input and output tensors.
type Session struct {
	ort      *ort.DynamicAdvancedSession
	meta     models.Metadata
	input    ort.InputOutputInfo
	output   ort.InputOutputInfo
	device   Device
	inputLen int // values per image: 3*InputSize*InputSize
}

// Open loads the model at path (an ONNX file exported by mocokit) and
// prepares it to run on the device that opts ask for.
func Open(path string, opts Options) (*Session, error) {
	if _, err := initEnvironment(opts.Library); err != nil {
		return nil, err
	}
	meta, err := readMetadata(path)
	if err != nil {
		return nil, err
	}
	in, out, err := modelIO(path, meta)
	if err != nil {
		return nil, err
	}
	s := &Session{meta: meta, input: in, output: out,
		inputLen: 3 * meta.Preprocess.InputSize * meta.Preprocess.InputSize}
	if err := s.checkShapes(path); err != nil {
		return nil, err
	}
	s.ort, s.device, err = openOnDevice(path, in.Name, out.Name, opts)
	if err != nil {
		return nil, err
	}
	return s, nil
}

// openOnDevice creates the onnxruntime session, falling back from CUDA to
// the CPU for DeviceAuto.
func openOnDevice(path, in, out string, opts Options) (
	*ort.DynamicAdvancedSession, Device, error) {
	switch opts.Device {
	case "", DeviceCPU:
		s, err := newSession(path, in, out, opts, false)
		return s, DeviceCPU, err
	case DeviceCUDA:
		s, err := newSession(path, in, out, opts, true)
		if errors.Is(err, ErrNoCUDA) {
			err = fmt.Errorf("%w; --device auto would fall back to the CPU", err)
		}
		return s, DeviceCUDA, err
	case DeviceAuto:
		s, err := newSession(path, in, out, opts, true)
		if err == nil {
			return s, DeviceCUDA, nil
		}
		slog.Info("CUDA unavailable, running on the CPU", "reason", err)
		s, err = newSession(path, in, out, opts, false)
		return s, DeviceCPU, err
	}
	return nil, "", fmt.Errorf("inference: unknown device %q (want cpu, cuda or auto)",
		opts.Device)
}

func newSession(path, in, out string, opts Options, cuda bool) (
	*ort.DynamicAdvancedSession, error) {
	so, err := ort.NewSessionOptions()
	if err != nil {
		return nil, fmt.Errorf("inference: session options: %w", err)
	}
	defer so.Destroy()
	if err := applyCPUOptions(so, opts); err != nil {
		return nil, err
	}
	if cuda {
		if err := appendCUDA(so, opts.GPU); err != nil {
			return nil, err
		}
	}
	s, err := ort.NewDynamicAdvancedSession(path, []string{in}, []string{out}, so)
	if err != nil {
		return nil, fmt.Errorf("inference: opening %s: %w", path, err)
	}
	return s, nil
}

// appendCUDA enables the CUDA provider. onnxruntime loads the provider
// libraries lazily, so a missing one shows up here, in Update.
func appendCUDA(so *ort.SessionOptions, gpu int) error {
	co, err := ort.NewCUDAProviderOptions()
	if err != nil {
		return cudaError(err)
	}
	defer co.Destroy()
	if err := co.Update(map[string]string{"device_id": fmt.Sprint(gpu)}); err != nil {
		return cudaError(err)
	}
	if err := so.AppendExecutionProviderCUDA(co); err != nil {
		return cudaError(err)
	}
	return nil
}

// ErrNoCUDA is wrapped by errors from a CUDA provider that cannot be used.
var ErrNoCUDA = errors.New("CUDA execution provider unavailable")

func cudaError(err error) error {
	return fmt.Errorf("inference: %w: it needs libonnxruntime_providers_shared.so and "+
		"libonnxruntime_providers_cuda.so of the same onnxruntime version next to "+
		"the runtime library, plus CUDA 12, cuBLAS and cuDNN 9 (docs/CUDA.md): %v",
		ErrNoCUDA, err)
}

// Close releases the onnxruntime session.
func (s *Session) Close() error {
	if s.ort == nil {
		return nil
	}
	err := s.ort.Destroy()
	s.ort = nil
	return err
}

// Metadata is the model's mocokit metadata.
func (s *Session) Metadata() models.Metadata { return s.meta }

// Device is where the model runs.
func (s *Session) Device() Device { return s.device }

// InputName is the name of the graph's image input.
func (s *Session) InputName() string { return s.input.Name }

// OutputName is the name of the graph output that Run returns.
func (s *Session) OutputName() string { return s.output.Name }

// InputShape is the model's declared input shape; -1 marks a dynamic size.
func (s *Session) InputShape() []int64 { return append([]int64(nil), s.input.Dimensions...) }

// OutputDim is the number of values per image (logits or embedding size).
func (s *Session) OutputDim() int { return int(s.output.Dimensions[1]) }

// InputLen is the number of float32 values per image in Run's input.
func (s *Session) InputLen() int { return s.inputLen }
