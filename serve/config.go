package serve

import (
	"fmt"
	"runtime"
	"time"

	"github.com/mocokit/mocokit/inference"
)

// Config is what the server needs; New fills the zero fields with defaults.
type Config struct {
	Model          string        // one ONNX file exported by mocokit, or
	ModelsDir      string        // a folder: every *.onnx in it, named by base name
	DefaultModel   string        // model for requests that name none; default first by name
	Addr           string        // listen address; default DefaultAddr
	EvalPath       string        // dataset to evaluate the default model on; "" for none
	EvalBatch      int           // images per batch in the evaluation; default 64
	Device         string        // cpu, cuda or auto; default cpu
	ORTLib         string        // onnxruntime library; "" searches (inference.FindLibrary)
	Threads        int           // onnxruntime intra-op threads; default one per core
	GraphOpt       string        // disable, basic, extended or all (default)
	MaxBodyBytes   int64         // largest request body; default 16 MiB
	MaxPixels      int           // largest image, width times height; default 4096*4096
	MaxBatch       int           // most images in one onnxruntime run; default 32
	MaxWait        time.Duration // longest a batch waits for more images; default 5ms
	MaxQueue       int           // images waiting per model before 429; default 256
	RequestTimeout time.Duration // longest a request may take; default 30s

	// MaxDecodePixels bounds the pixels of the images being decoded at once,
	// across all requests; default DecodePixelsPerImage times MaxPixels. A
	// decoder needs up to about 20 bytes per declared pixel (a progressive
	// JPEG keeps every coefficient), so this bounds its memory.
	MaxDecodePixels int64
}

// Defaults for the zero fields of Config.
const (
	DefaultAddr           = "127.0.0.1:8080"
	DefaultEvalBatch      = 64
	DefaultMaxBodyBytes   = 16 << 20
	DefaultMaxPixels      = 4096 * 4096
	DefaultTopK           = 5
	DefaultMaxBatch       = 32
	DefaultMaxWait        = 5 * time.Millisecond
	DefaultMaxQueue       = 256
	DefaultRequestTimeout = 30 * time.Second
	DecodePixelsPerImage  = 4 // default MaxDecodePixels, in images of MaxPixels
)

func (c Config) withDefaults() (Config, error) {
	if (c.Model == "") == (c.ModelsDir == "") {
		return c, fmt.Errorf("serve: give either a model file or a models folder")
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.Device == "" {
		c.Device = string(inference.DeviceCPU)
	}
	if c.Threads == 0 {
		c.Threads = runtime.NumCPU()
	}
	graphOpt, err := inference.ParseGraphOpt(c.GraphOpt)
	if err != nil {
		return c, fmt.Errorf("serve: %w", err)
	}
	c.GraphOpt = string(graphOpt)
	setDefault(&c.EvalBatch, DefaultEvalBatch)
	setDefault(&c.MaxBodyBytes, DefaultMaxBodyBytes)
	setDefault(&c.MaxPixels, DefaultMaxPixels)
	setDefault(&c.MaxBatch, DefaultMaxBatch)
	setDefault(&c.MaxWait, DefaultMaxWait)
	setDefault(&c.MaxQueue, DefaultMaxQueue)
	setDefault(&c.RequestTimeout, DefaultRequestTimeout)
	setDefault(&c.MaxDecodePixels, DecodePixelsPerImage*int64(c.MaxPixels))
	if c.EvalBatch < 1 || c.MaxBodyBytes < 1 || c.MaxPixels < 1 || c.Threads < 0 {
		return c, fmt.Errorf("serve: eval batch %d, body limit %d, pixel limit %d and "+
			"threads %d must be positive", c.EvalBatch, c.MaxBodyBytes, c.MaxPixels, c.Threads)
	}
	if c.MaxBatch < 1 || c.MaxWait < 0 || c.MaxQueue < 1 || c.RequestTimeout <= 0 {
		return c, fmt.Errorf("serve: max batch %d, max wait %v, max queue %d and request "+
			"timeout %v must be positive", c.MaxBatch, c.MaxWait, c.MaxQueue, c.RequestTimeout)
	}
	if c.MaxDecodePixels < int64(c.MaxPixels) {
		return c, fmt.Errorf("serve: decode pixel limit %d is less than the pixel limit "+
			"%d, so the largest images could never be decoded", c.MaxDecodePixels,
			c.MaxPixels)
	}
	return c, nil
}

// setDefault replaces a zero value; negative values stay, to be rejected.
func setDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v == 0 {
		*v = def
	}
}
