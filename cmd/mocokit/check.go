package main

import (
	"fmt"
	"io"
	"math"
	"math/rand/v2"

	"github.com/mocokit/mocokit/export"
	"github.com/mocokit/mocokit/inference"
)

// checkTolerance is the largest difference allowed between onnxruntime
// and onnx-go, both computing in float32 with different kernels.
const checkTolerance = 1e-4

// crossCheck runs the model at path on one random normalised image with
// onnxruntime and with onnx-go and reports how far apart they are.
func crossCheck(w io.Writer, path, ortLib string) error {
	s, err := inference.Open(path, inference.Options{Library: ortLib})
	if err != nil {
		return err
	}
	defer s.Close()
	rng := rand.New(rand.NewPCG(1, 2))
	x := make([]float32, s.InputLen())
	for i := range x {
		x[i] = float32(rng.NormFloat64())
	}
	want, err := s.Run(x, 1)
	if err != nil {
		return err
	}
	got, err := export.VerifyOnnxGo(path, x, 1)
	if err != nil {
		return err
	}
	if len(got) != len(want) {
		return fmt.Errorf("%s: onnx-go gives %d outputs, onnxruntime %d", path,
			len(got), len(want))
	}
	var diff float64
	for i := range got {
		diff = math.Max(diff, math.Abs(float64(got[i])-float64(want[i])))
	}
	fmt.Fprintf(w, "  check    onnxruntime and onnx-go agree within %.2g on a random "+
		"image (%d outputs)\n", diff, len(got))
	if !(diff <= checkTolerance) {
		return fmt.Errorf("%s: onnxruntime and onnx-go differ by %.3g (> %g)",
			path, diff, checkTolerance)
	}
	return nil
}
