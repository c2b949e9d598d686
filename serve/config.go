package serve

import (
	"fmt"

	"github.com/mocokit/mocokit/inference"
)

// Config is what the server needs; New fills the zero fields with defaults.
type Config struct {
	Model        string // ONNX file exported by mocokit
	Addr         string // listen address; default DefaultAddr
	EvalPath     string // dataset to evaluate on after startup; "" for none
	EvalBatch    int    // images per batch in the evaluation; default 64
	Device       string // cpu, cuda or auto; default cpu
	ORTLib       string // onnxruntime library; "" searches (inference.FindLibrary)
	Threads      int    // onnxruntime intra-op threads; 0 lets it choose
	MaxBodyBytes int64  // largest request body; default 16 MiB
	MaxPixels    int    // largest image, width times height; default 4096*4096
}

// Defaults for the zero fields of Config.
const (
	DefaultAddr         = "127.0.0.1:8080"
	DefaultEvalBatch    = 64
	DefaultMaxBodyBytes = 16 << 20
	DefaultMaxPixels    = 4096 * 4096
	DefaultTopK         = 5
)

func (c Config) withDefaults() (Config, error) {
	if c.Model == "" {
		return c, fmt.Errorf("serve: no model given")
	}
	if c.Addr == "" {
		c.Addr = DefaultAddr
	}
	if c.EvalBatch == 0 {
		c.EvalBatch = DefaultEvalBatch
	}
	if c.Device == "" {
		c.Device = string(inference.DeviceCPU)
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if c.MaxPixels == 0 {
		c.MaxPixels = DefaultMaxPixels
	}
	if c.EvalBatch < 1 || c.MaxBodyBytes < 1 || c.MaxPixels < 1 || c.Threads < 0 {
		return c, fmt.Errorf("serve: eval batch %d, body limit %d, pixel limit %d and "+
			"threads %d must be positive", c.EvalBatch, c.MaxBodyBytes, c.MaxPixels, c.Threads)
	}
	return c, nil
}
