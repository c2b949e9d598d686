package export

import (
	"fmt"

	"github.com/mocokit/mocokit/export/onnxpb"
	"github.com/mocokit/mocokit/models"
)

// layer returns the ONNX nodes of one layer and the initializers holding its
// parameters. rename maps value names, so the graph's last value can carry
// the output name the metadata asks for.
func layer(op models.Op, w models.Weights, rename func(string) string) (
	[]*onnxpb.NodeProto, []*onnxpb.TensorProto, error) {
	in := make([]string, len(op.Inputs))
	for i, v := range op.Inputs {
		in[i] = rename(v)
	}
	out := rename(op.Output)
	params, err := initializers(op, w)
	if err != nil {
		return nil, nil, err
	}
	for _, p := range params {
		in = append(in, p.Name)
	}
	node := &onnxpb.NodeProto{Name: op.Output, Input: in, Output: []string{out}}
	switch op.Kind {
	case models.Conv:
		node.OpType = "Conv"
		node.Attribute = []*onnxpb.AttributeProto{
			intsAttr("kernel_shape", op.Kernel, op.Kernel),
			intsAttr("strides", op.Stride, op.Stride),
			intsAttr("pads", op.Padding, op.Padding, op.Padding, op.Padding),
			intsAttr("dilations", 1, 1),
			intAttr("group", 1),
		}
	case models.BatchNorm:
		node.OpType = "BatchNormalization"
		node.Attribute = []*onnxpb.AttributeProto{
			floatAttr("epsilon", models.BatchNormEpsilon),
		}
	case models.ReLU:
		node.OpType = "Relu"
	case models.MaxPool:
		node.OpType = "MaxPool"
		node.Attribute = []*onnxpb.AttributeProto{
			intsAttr("kernel_shape", op.Kernel, op.Kernel),
			intsAttr("strides", op.Stride, op.Stride),
			intsAttr("pads", op.Padding, op.Padding, op.Padding, op.Padding),
		}
	case models.Add:
		node.OpType = "Add"
	case models.GlobalAvgPool:
		return globalAvgPool(op, in, out), nil, nil
	case models.Linear:
		// PyTorch stores a linear layer's weight as [Out, In], hence transB.
		node.OpType = "Gemm"
		node.Attribute = []*onnxpb.AttributeProto{
			floatAttr("alpha", 1), floatAttr("beta", 1), intAttr("transB", 1),
		}
	default:
		return nil, nil, fmt.Errorf("export: layer %s: no ONNX mapping for %v",
			op.Name, op.Kind)
	}
	return []*onnxpb.NodeProto{node}, params, nil
}

// globalAvgPool is GlobalAveragePool, [N, C, H, W] to [N, C, 1, 1], then
// Flatten to [N, C], as torchvision's avgpool and torch.flatten do.
func globalAvgPool(op models.Op, in []string, out string) []*onnxpb.NodeProto {
	pooled := op.Output + ".pooled"
	return []*onnxpb.NodeProto{
		{Name: pooled, OpType: "GlobalAveragePool", Input: in, Output: []string{pooled}},
		{Name: op.Output, OpType: "Flatten", Input: []string{pooled}, Output: []string{out},
			Attribute: []*onnxpb.AttributeProto{intAttr("axis", 1)}},
	}
}

// initializers converts the layer's parameters, in the input order of its
// ONNX node, leaving out num_batches_tracked which inference does not use.
func initializers(op models.Op, w models.Weights) ([]*onnxpb.TensorProto, error) {
	var out []*onnxpb.TensorProto
	for _, p := range op.Params() {
		if p.Kind == models.NumBatchesTracked {
			continue
		}
		t, ok := w[p.Name]
		if !ok {
			return nil, fmt.Errorf("export: weights lack %s", p.Name)
		}
		tp, err := tensorProto(p.Name, t)
		if err != nil {
			return nil, err
		}
		out = append(out, tp)
	}
	return out, nil
}

func intAttr(name string, v int) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INT, I: int64(v)}
}

func intsAttr(name string, vs ...int) *onnxpb.AttributeProto {
	ints := make([]int64, len(vs))
	for i, v := range vs {
		ints[i] = int64(v)
	}
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_INTS, Ints: ints}
}

func floatAttr(name string, v float32) *onnxpb.AttributeProto {
	return &onnxpb.AttributeProto{Name: name, Type: onnxpb.AttributeProto_FLOAT, F: v}
}

func dimValue(v int64) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{
		Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v},
	}
}

func dimParam(name string) *onnxpb.TensorShapeProto_Dimension {
	return &onnxpb.TensorShapeProto_Dimension{
		Value: &onnxpb.TensorShapeProto_Dimension_DimParam{DimParam: name},
	}
}

// valueInfo describes a float32 tensor of the given shape.
func valueInfo(name string, dims ...*onnxpb.TensorShapeProto_Dimension) *onnxpb.ValueInfoProto {
	return &onnxpb.ValueInfoProto{
		Name: name,
		Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{
				ElemType: int32(onnxpb.TensorProto_FLOAT),
				Shape:    &onnxpb.TensorShapeProto{Dim: dims},
			},
		}},
	}
}
