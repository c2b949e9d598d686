package export

import (
	"fmt"

	"github.com/owulveryck/onnx-go"
	"github.com/owulveryck/onnx-go/backend/x/gorgonnx"
	"gorgonia.org/tensor"
)

// VerifyOnnxGo runs the ONNX file at path on input, batch images of
// [3, S, S] float32 in NCHW order, with onnx-go's pure-Go Gorgonia backend
// and returns the output, batch rows of D values. It is an independent reader
// of what this package writes: agreement with onnxruntime shows the file says
// what the writer meant and not only what one runtime tolerates.
//
// The model is decoded afresh on every call because onnx-go's Gemm writes
// its result into the bias initializer when the bias has batch*D elements,
// which corrupts a second run at batch 1. onnx-go is about 15 to 200 times
// slower than onnxruntime; this is a check, not a way to serve.
func VerifyOnnxGo(path string, input []float32, batch int) (out []float32, err error) {
	meta, shape, err := ReadMetadata(path)
	if err != nil {
		return nil, err
	}
	size := meta.Preprocess.InputSize
	if batch < 1 || len(input) != batch*3*size*size {
		return nil, fmt.Errorf("export: onnx-go: %d input values for batch %d of "+
			"%v images", len(input), batch, shape[1:])
	}
	b, err := readCapped(path)
	if err != nil {
		return nil, err
	}

	// onnx-go and Gorgonia panic on some graphs and shapes they do not
	// support; for a verifier that is a failed check, not a crash.
	defer func() {
		if r := recover(); r != nil {
			out, err = nil, fmt.Errorf("export: onnx-go panicked on %s: %v", path, r)
		}
	}()
	backend := gorgonnx.NewGraph()
	model := onnx.NewModel(backend)
	if err := model.UnmarshalBinary(b); err != nil {
		return nil, fmt.Errorf("export: onnx-go cannot decode %s: %w", path, err)
	}
	x := tensor.New(tensor.WithShape(batch, 3, size, size),
		tensor.WithBacking(append([]float32(nil), input...)))
	if err := model.SetInput(0, x); err != nil {
		return nil, fmt.Errorf("export: onnx-go: setting input of %s: %w", path, err)
	}
	if err := backend.Run(); err != nil {
		return nil, fmt.Errorf("export: onnx-go cannot run %s: %w", path, err)
	}
	outs, err := model.GetOutputTensors()
	if err != nil || len(outs) == 0 {
		return nil, fmt.Errorf("export: onnx-go: no output from %s: %v", path, err)
	}
	data, ok := outs[0].Data().([]float32)
	if !ok {
		return nil, fmt.Errorf("export: onnx-go: output of %s is %T, want []float32",
			path, outs[0].Data())
	}
	return append([]float32(nil), data...), nil
}
