package inference

import (
	"fmt"
	"io"
	"os"

	ort "github.com/yalue/onnxruntime_go"

	"github.com/mocokit/mocokit/models"
)

// readMetadata reads the mocokit keys of the model's metadata_props through
// onnxruntime, so that serving needs no ONNX parser of its own.
func readMetadata(path string) (models.Metadata, error) {
	md, err := ort.GetModelMetadata(path)
	if err != nil {
		return models.Metadata{}, fmt.Errorf("inference: reading %s: %w%s", path, err,
			pytorchHint(path))
	}
	defer md.Destroy()
	keys, err := md.GetCustomMetadataMapKeys()
	if err != nil {
		return models.Metadata{}, fmt.Errorf("inference: metadata of %s: %w", path, err)
	}
	props := make(map[string]string, len(keys))
	for _, k := range keys {
		v, _, err := md.LookupCustomMetadataMap(k)
		if err != nil {
			return models.Metadata{}, fmt.Errorf("inference: metadata %q of %s: %w",
				k, path, err)
		}
		props[k] = v
	}
	meta, err := models.ParseMetadata(props)
	if err != nil {
		return meta, fmt.Errorf("inference: %s is not a mocokit model "+
			"(export it with mocokit): %w", path, err)
	}
	return meta, nil
}

// modelIO picks the image input (the model's only input) and the output
// named by the metadata, or the only output when the metadata names none.
func modelIO(path string, meta models.Metadata) (in, out ort.InputOutputInfo, err error) {
	ins, outs, err := ort.GetInputOutputInfo(path)
	if err != nil {
		return in, out, fmt.Errorf("inference: inputs and outputs of %s: %w", path, err)
	}
	if len(ins) != 1 {
		return in, out, fmt.Errorf("inference: %s has %d inputs, want 1 image input",
			path, len(ins))
	}
	in = ins[0]
	switch {
	case meta.Output != "":
		for _, o := range outs {
			if o.Name == meta.Output {
				return in, o, nil
			}
		}
		return in, out, fmt.Errorf("inference: %s has no output %q (its metadata "+
			"names it)", path, meta.Output)
	case len(outs) == 1:
		return in, outs[0], nil
	}
	return in, out, fmt.Errorf("inference: %s has %d outputs and its metadata names "+
		"none", path, len(outs))
}

// checkShapes verifies that the graph takes float [N,3,S,S] and gives float
// [N,D], S being the metadata's input size and D the number of classes for a
// classifier; dynamic sizes (-1) pass.
func (s *Session) checkShapes(path string) error {
	size := int64(s.meta.Preprocess.InputSize)
	in, out := s.input, s.output
	if in.DataType != ort.TensorElementDataTypeFloat || len(in.Dimensions) != 4 ||
		!fits(in.Dimensions[1], 3) || !fits(in.Dimensions[2], size) ||
		!fits(in.Dimensions[3], size) {
		return fmt.Errorf("inference: %s: input %s, want float [N,3,%d,%d]",
			path, in.String(), size, size)
	}
	if out.DataType != ort.TensorElementDataTypeFloat || len(out.Dimensions) != 2 ||
		out.Dimensions[1] < 1 {
		return fmt.Errorf("inference: %s: output %s, want float [N,D] with D fixed",
			path, out.String())
	}
	if n := len(s.meta.Classes); n > 0 && out.Dimensions[1] != int64(n) {
		return fmt.Errorf("inference: %s: %d outputs per image for %d classes",
			path, out.Dimensions[1], n)
	}
	return nil
}

func fits(dim, want int64) bool { return dim < 0 || dim == want }

// Run runs a batch of batch preprocessed images, laid out [batch,3,S,S] as
// Preprocess writes them, and returns [batch,D] outputs in one slice.
func (s *Session) Run(input []float32, batch int) ([]float32, error) {
	if s.ort == nil {
		return nil, fmt.Errorf("inference: session is closed")
	}
	if batch < 1 || len(input) != batch*s.inputLen {
		return nil, fmt.Errorf("inference: %d values for a batch of %d, want %d",
			len(input), batch, batch*s.inputLen)
	}
	size := int64(s.meta.Preprocess.InputSize)
	x, err := ort.NewTensor(ort.NewShape(int64(batch), 3, size, size), input)
	if err != nil {
		return nil, fmt.Errorf("inference: input tensor: %w", err)
	}
	defer x.Destroy()
	outputs := []ort.Value{nil}
	if err := s.ort.Run([]ort.Value{x}, outputs); err != nil {
		return nil, fmt.Errorf("inference: run: %w", err)
	}
	defer outputs[0].Destroy()
	y, ok := outputs[0].(*ort.Tensor[float32])
	if !ok {
		return nil, fmt.Errorf("inference: output %s is not a float tensor", s.output.Name)
	}
	d := s.OutputDim()
	if shape := y.GetShape(); len(shape) != 2 || shape[0] != int64(batch) ||
		shape[1] != int64(d) {
		return nil, fmt.Errorf("inference: output shape %v, want [%d %d]", shape, batch, d)
	}
	return append([]float32(nil), y.GetData()...), nil
}

// pytorchHint suggests converting a file that looks like what torch.save
// writes (a zip archive or a pickle) rather than an ONNX protobuf.
func pytorchHint(path string) string {
	f, err := os.Open(path)
	if err != nil {
		return ""
	}
	defer f.Close()
	head := make([]byte, 4)
	if n, _ := io.ReadFull(f, head); n < 4 {
		return ""
	}
	if string(head) == "PK\x03\x04" || head[0] == 0x80 {
		return " (this looks like a PyTorch file: convert it first with " +
			"mocokit convert pth2onnx)"
	}
	return ""
}
