package export

import (
	"encoding/binary"
	"fmt"
	"math"

	"github.com/mocokit/mocokit/export/onnxpb"
	"github.com/mocokit/mocokit/models"
)

// tensorProto stores t as a float32 initializer in raw_data (little-endian,
// as the ONNX spec fixes it): that is what PyTorch's exporter writes, so every
// ONNX reader handles it, and it decodes as one block copy.
func tensorProto(name string, t *models.Tensor) (*onnxpb.TensorProto, error) {
	n := 1
	dims := make([]int64, len(t.Shape))
	for i, d := range t.Shape {
		if d < 0 {
			return nil, fmt.Errorf("export: %s: negative dimension in shape %v", name, t.Shape)
		}
		dims[i] = int64(d)
		n *= d
	}
	if n != len(t.Data) {
		return nil, fmt.Errorf("export: %s: shape %v holds %d values, data has %d",
			name, t.Shape, n, len(t.Data))
	}
	raw := make([]byte, 4*len(t.Data))
	for i, v := range t.Data {
		binary.LittleEndian.PutUint32(raw[4*i:], math.Float32bits(v))
	}
	return &onnxpb.TensorProto{
		Name:     name,
		Dims:     dims,
		DataType: int32(onnxpb.TensorProto_FLOAT),
		RawData:  raw,
	}, nil
}

// tensorFromProto decodes a float32 initializer held in raw_data or in
// float_data. Tensors stored outside the file are refused.
func tensorFromProto(tp *onnxpb.TensorProto) (*models.Tensor, error) {
	name := tp.GetName()
	if tp.GetDataType() != int32(onnxpb.TensorProto_FLOAT) {
		return nil, fmt.Errorf("export: initializer %s has data type %s, want FLOAT",
			name, onnxpb.TensorProto_DataType(tp.GetDataType()))
	}
	if tp.GetDataLocation() == onnxpb.TensorProto_EXTERNAL {
		return nil, fmt.Errorf("export: initializer %s is stored in an external file", name)
	}
	shape := make([]int, len(tp.GetDims()))
	n := 1
	for i, d := range tp.GetDims() {
		// The bound keeps n from overflowing; no tensor of a ResNet comes close.
		if d < 0 || d > math.MaxInt32 || n > math.MaxInt32/max(int(d), 1) {
			return nil, fmt.Errorf("export: initializer %s has invalid shape %v",
				name, tp.GetDims())
		}
		shape[i] = int(d)
		n *= int(d)
	}
	t := &models.Tensor{Shape: shape}
	switch raw := tp.GetRawData(); {
	case len(raw) > 0:
		if len(raw) != 4*n {
			return nil, fmt.Errorf("export: initializer %s: %d bytes of raw data for "+
				"shape %v (want %d)", name, len(raw), shape, 4*n)
		}
		t.Data = make([]float32, n)
		for i := range t.Data {
			t.Data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	default:
		if len(tp.GetFloatData()) != n {
			return nil, fmt.Errorf("export: initializer %s: %d values for shape %v",
				name, len(tp.GetFloatData()), shape)
		}
		t.Data = append([]float32(nil), tp.GetFloatData()...)
	}
	return t, nil
}
