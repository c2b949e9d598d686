package export

import (
	"fmt"

	"github.com/mocokit/mocokit/export/onnxpb"
	"github.com/mocokit/mocokit/models"
)

// ModelMetadata returns the metadata stored in m by Model and the shape of
// its input, [-1, 3, S, S] with -1 for the symbolic batch dimension. It
// checks that the graph has the input and output the metadata describes.
func ModelMetadata(m *onnxpb.ModelProto) (models.Metadata, []int, error) {
	props := map[string]string{}
	for _, p := range m.GetMetadataProps() {
		props[p.GetKey()] = p.GetValue()
	}
	if props[models.KeyArch] == "" && props[models.KeyInputSize] == "" {
		return models.Metadata{}, nil, ErrNoMetadata
	}
	meta, err := models.ParseMetadata(props)
	if err != nil {
		return meta, nil, err
	}
	in := findValue(m.GetGraph().GetInput(), models.Input)
	if in == nil {
		return meta, nil, fmt.Errorf("graph has no input %q", models.Input)
	}
	shape, err := floatShape(in)
	if err != nil {
		return meta, nil, err
	}
	s := meta.Preprocess.InputSize
	if len(shape) != 4 || shape[1] != 3 || shape[2] != s || shape[3] != s {
		return meta, nil, fmt.Errorf("input shape %v, but metadata says [batch, 3, %d, %d]",
			shape, s, s)
	}
	if findValue(m.GetGraph().GetOutput(), meta.Output) == nil {
		return meta, nil, fmt.Errorf("graph has no output %q, which metadata names",
			meta.Output)
	}
	return meta, shape, nil
}

func findValue(vs []*onnxpb.ValueInfoProto, name string) *onnxpb.ValueInfoProto {
	for _, v := range vs {
		if v.GetName() == name {
			return v
		}
	}
	return nil
}

// floatShape returns the dimensions of a float32 tensor value, -1 for each
// symbolic or unknown one.
func floatShape(v *onnxpb.ValueInfoProto) ([]int, error) {
	tt := v.GetType().GetTensorType()
	if tt == nil || tt.GetElemType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, fmt.Errorf("value %q is not a float32 tensor", v.GetName())
	}
	var shape []int
	for _, d := range tt.GetShape().GetDim() {
		if dv, ok := d.GetValue().(*onnxpb.TensorShapeProto_Dimension_DimValue); ok {
			shape = append(shape, int(dv.DimValue))
			continue
		}
		shape = append(shape, -1)
	}
	return shape, nil
}

// ReadWeights reads an ONNX file written by Model and returns the network,
// its weights under their state_dict names, and its metadata. The network's
// widths (classes, embedding and hidden sizes) are those of the fc
// initializers. num_batches_tracked, which the file does not hold, comes back
// as 0.
func ReadWeights(path string) (models.Config, models.Weights, models.Metadata, error) {
	m, err := ReadModel(path)
	if err != nil {
		return models.Config{}, nil, models.Metadata{}, err
	}
	cfg, w, meta, err := ModelWeights(m)
	if err != nil {
		return cfg, nil, meta, fmt.Errorf("export: %s: %w", path, err)
	}
	return cfg, w, meta, nil
}

// ModelWeights is ReadWeights for a decoded model.
func ModelWeights(m *onnxpb.ModelProto) (models.Config, models.Weights, models.Metadata, error) {
	meta, _, err := ModelMetadata(m)
	if err != nil {
		return models.Config{}, nil, meta, err
	}
	if meta.Arch != Arch {
		return models.Config{}, nil, meta, fmt.Errorf("architecture %q, want %q",
			meta.Arch, Arch)
	}
	w := models.Weights{}
	for _, tp := range m.GetGraph().GetInitializer() {
		if _, dup := w[tp.GetName()]; dup {
			return models.Config{}, nil, meta, fmt.Errorf("initializer %s appears twice",
				tp.GetName())
		}
		t, err := tensorFromProto(tp)
		if err != nil {
			return models.Config{}, nil, meta, err
		}
		w[tp.GetName()] = t
	}
	cfg, err := inferConfig(meta, w)
	if err != nil {
		return cfg, nil, meta, err
	}
	for _, p := range cfg.Params() {
		if p.Kind == models.NumBatchesTracked {
			w[p.Name] = models.NewTensor(p.Shape...)
		}
	}
	if err := cfg.Check(w); err != nil {
		return cfg, nil, meta, err
	}
	return cfg, w, meta, nil
}

// inferConfig takes stem and head from the metadata and the head's widths
// from the shapes of its weights.
func inferConfig(meta models.Metadata, w models.Weights) (models.Config, error) {
	cfg := models.Config{Stem: meta.Stem, Head: meta.Head}
	rows := func(name string) (int, error) {
		t, ok := w[name]
		if !ok || len(t.Shape) != 2 {
			return 0, fmt.Errorf("%s head needs a 2-D initializer %s", meta.Head, name)
		}
		return t.Shape[0], nil
	}
	var err error
	switch meta.Head {
	case models.HeadClassifier:
		cfg.NumClasses, err = rows("fc.weight")
	case models.HeadMoCo:
		cfg.EmbedDim, err = rows("fc.weight")
	case models.HeadMoCoMLP:
		if cfg.HiddenDim, err = rows("fc.0.weight"); err == nil {
			cfg.EmbedDim, err = rows("fc.2.weight")
		}
	}
	if err != nil {
		return cfg, err
	}
	return cfg, cfg.Validate()
}
