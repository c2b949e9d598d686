// Package export writes mocokit's ResNet-18 variants as ONNX models and reads
// them back.
//
// Model turns a models.Config and its torchvision-named weights into an ONNX
// graph (opset 13, IR version 8) that onnxruntime and onnx.checker accept:
// Conv, BatchNormalization, Relu, MaxPool, Add, GlobalAveragePool, Flatten
// and Gemm nodes, one per layer of Config.Ops, with every parameter stored as
// an initializer under its state_dict name ("layer1.0.bn1.running_var").
// The input is "input", float32 [batch, 3, S, S] with a symbolic batch
// dimension; the output is [batch, D] under the name the metadata gives. The
// metadata travels in metadata_props (see models.Metadata.Props), so a server
// needs nothing but the file.
//
// WriteFile writes a model atomically; ReadMetadata, ReadModel and
// ReadWeights read one back; VerifyOnnxGo runs a file through onnx-go, an
// ONNX implementation independent of onnxruntime, as a check. The ONNX format
// is specified at https://onnx.ai/onnx/repo-docs/IR.html.
package export

import (
	"errors"
	"fmt"
	"sort"

	"github.com/mocokit/mocokit/export/onnxpb"
	"github.com/mocokit/mocokit/models"
)

// IRVersion is the ONNX IR version written: version 8 is the newest that
// onnx 1.12/1.13 know, and onnxruntime 1.24 reads it.
const IRVersion = 8

// Opset is the version of the default ONNX operator set the graph uses.
const Opset = 13

// Producer is the producer_name written into every model.
const Producer = "mocokit"

// DefaultOutput names the output tensor when the metadata names none.
const DefaultOutput = "output"

// BatchDim is the name of the symbolic batch dimension of input and output.
const BatchDim = "batch"

// Arch is the only architecture this package writes.
const Arch = "resnet18"

// Model builds the ONNX model of network cfg with weights w. It checks w
// against cfg first, and meta against cfg: an empty Arch, Stem, Head or
// Output in meta is filled in from cfg (Output becomes DefaultOutput), a
// contradicting one is an error. meta.Preprocess.InputSize fixes the input's
// height and width.
func Model(cfg models.Config, w models.Weights, meta models.Metadata) (
	*onnxpb.ModelProto, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	if err := cfg.Check(w); err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	meta, err := completeMetadata(cfg, meta)
	if err != nil {
		return nil, err
	}
	graph, err := buildGraph(cfg, w, meta)
	if err != nil {
		return nil, err
	}
	return &onnxpb.ModelProto{
		IrVersion:     IRVersion,
		OpsetImport:   []*onnxpb.OperatorSetIdProto{{Domain: "", Version: Opset}},
		ProducerName:  Producer,
		DocString:     docString(cfg, meta),
		Graph:         graph,
		MetadataProps: metadataProps(meta),
	}, nil
}

// completeMetadata fills what cfg implies and rejects what contradicts it.
func completeMetadata(cfg models.Config, meta models.Metadata) (models.Metadata, error) {
	if meta.Arch == "" {
		meta.Arch = Arch
	}
	if meta.Stem == "" {
		meta.Stem = cfg.Stem
	}
	if meta.Head == "" {
		meta.Head = cfg.Head
	}
	if meta.Output == "" {
		meta.Output = DefaultOutput
	}
	switch {
	case meta.Arch != Arch:
		return meta, fmt.Errorf("export: metadata arch %q, want %q", meta.Arch, Arch)
	case meta.Stem != cfg.Stem:
		return meta, fmt.Errorf("export: metadata stem %q contradicts network stem %q",
			meta.Stem, cfg.Stem)
	case meta.Head != cfg.Head:
		return meta, fmt.Errorf("export: metadata head %q contradicts network head %q",
			meta.Head, cfg.Head)
	case meta.Output == models.Input:
		return meta, fmt.Errorf("export: output cannot be named %q like the input",
			models.Input)
	case len(meta.Classes) > 0 && len(meta.Classes) != cfg.OutputDim():
		return meta, fmt.Errorf("export: %d class names for %d outputs",
			len(meta.Classes), cfg.OutputDim())
	}
	if err := meta.Preprocess.Validate(); err != nil {
		return meta, fmt.Errorf("export: %w", err)
	}
	return meta, nil
}

func docString(cfg models.Config, meta models.Metadata) string {
	s := fmt.Sprintf("%s exported by mocokit; input %q float32 [%s, 3, %d, %d], "+
		"output %q float32 [%s, %d]", cfg, models.Input, BatchDim,
		meta.Preprocess.InputSize, meta.Preprocess.InputSize, meta.Output, BatchDim,
		cfg.OutputDim())
	if meta.Source != "" {
		s += "; weights from " + meta.Source
	}
	return s
}

// buildGraph emits one node per layer (two for the global average pool) and
// renames the last layer's output to meta.Output.
func buildGraph(cfg models.Config, w models.Weights, meta models.Metadata) (
	*onnxpb.GraphProto, error) {
	ops := cfg.Ops()
	if len(ops) == 0 {
		return nil, errors.New("export: network has no layers")
	}
	g := &onnxpb.GraphProto{Name: cfg.String()}
	last := ops[len(ops)-1].Output
	rename := func(v string) string {
		if v == last {
			return meta.Output
		}
		return v
	}
	for _, op := range ops {
		nodes, inits, err := layer(op, w, rename)
		if err != nil {
			return nil, err
		}
		g.Node = append(g.Node, nodes...)
		g.Initializer = append(g.Initializer, inits...)
	}
	size := int64(meta.Preprocess.InputSize)
	g.Input = []*onnxpb.ValueInfoProto{
		valueInfo(models.Input, dimParam(BatchDim), dimValue(3), dimValue(size),
			dimValue(size)),
	}
	g.Output = []*onnxpb.ValueInfoProto{
		valueInfo(meta.Output, dimParam(BatchDim), dimValue(int64(cfg.OutputDim()))),
	}
	return g, nil
}

func metadataProps(meta models.Metadata) []*onnxpb.StringStringEntryProto {
	props := meta.Props()
	// Sorted so that the same model always gives the same bytes.
	keys := make([]string, 0, len(props))
	for k := range props {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]*onnxpb.StringStringEntryProto, 0, len(keys))
	for _, k := range keys {
		out = append(out, &onnxpb.StringStringEntryProto{Key: k, Value: props[k]})
	}
	return out
}
