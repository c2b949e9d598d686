package backend

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/shapes"

	"github.com/mocokit/mocokit/train/backend/onednn"
)

//go:generate go run ./internal/genrecord -out record_ops.go

// recorder is a backends.Builder that keeps the graph as a list of calls,
// so that Compile can cut it into parts: the calls that run natively
// (matrix multiplications and convolutions on a BLAS library, batch norm,
// pooling, fused element-wise chains), and between them subgraphs that
// simplego compiles and runs. Every call also goes at once
// to a simplego builder (the shadow), which checks it and infers its shape
// exactly as simplego alone would.
type recorder struct {
	inner  backends.Backend
	shadow backends.Builder
	name   string
	gemm   gemm
	onednn *onednn.Lib // runs the convolutions it can when set

	calls   []*call
	params  []*value
	values  int // values created so far; a value's id is its index
	devices []backends.DeviceNum
}

// replayFunc builds one call's op(s) on a builder from its operands there.
type replayFunc func(b backends.Builder, in []backends.Op) ([]backends.Op, error)

// call is one recorded op.
type call struct {
	name   string
	inputs []*value
	outs   []*value
	replay replayFunc // nil for a parameter
	param  string     // a parameter's name
	native nativeOp   // set when the call runs outside simplego
}

// value is one output of a call: the Op that the recorder hands out.
type value struct {
	id     int
	call   *call
	shape  shapes.Shape
	shadow backends.Op
}

// Compile-time check that recorder is a whole backends.Builder.
var _ backends.Builder = (*recorder)(nil)

func newRecorder(inner backends.Backend, name string, g gemm, lib *onednn.Lib) *recorder {
	return &recorder{inner: inner, shadow: inner.Builder(name), name: name, gemm: g, onednn: lib}
}

// record checks one op on the shadow builder and keeps it.
func (r *recorder) record(name string, in []backends.Op, replay replayFunc) (
	[]backends.Op, error) {
	if err := r.usable(name); err != nil {
		return nil, err
	}
	inputs, err := r.valuesOf(name, in)
	if err != nil {
		return nil, err
	}
	shadowIn := make([]backends.Op, len(inputs))
	for i, v := range inputs {
		shadowIn[i] = v.shadow
	}
	shadowOut, err := replay(r.shadow, shadowIn)
	if err != nil {
		return nil, err
	}
	c := &call{name: name, inputs: inputs, replay: replay}
	ops := make([]backends.Op, len(shadowOut))
	for i, op := range shadowOut {
		shape, err := r.shadow.OpShape(op)
		if err != nil {
			return nil, fmt.Errorf("%s: output %d: %w", name, i, err)
		}
		v := &value{id: r.values, call: c, shape: shape, shadow: op}
		r.values++
		c.outs = append(c.outs, v)
		ops[i] = v
	}
	r.calls = append(r.calls, c)
	return ops, nil
}

// usable fails once the graph is compiled, as simplego's builder does.
func (r *recorder) usable(op string) error {
	if r.shadow == nil {
		return fmt.Errorf("%s: builder %q is already compiled", op, r.name)
	}
	return nil
}

// valuesOf checks that every operand was made by this recorder.
func (r *recorder) valuesOf(name string, ops []backends.Op) ([]*value, error) {
	vals := make([]*value, len(ops))
	for i, op := range ops {
		v, ok := op.(*value)
		if !ok || v == nil {
			return nil, fmt.Errorf("%s: operand %d is a %T, not an op of builder %q",
				name, i, op, r.name)
		}
		vals[i] = v
	}
	return vals, nil
}

// Name is the computation's name.
func (r *recorder) Name() string { return r.name }

// OpShape returns the shape of an op made by this recorder.
func (r *recorder) OpShape(op backends.Op) (shapes.Shape, error) {
	vals, err := r.valuesOf("OpShape", []backends.Op{op})
	if err != nil {
		return shapes.Shape{}, err
	}
	return vals[0].shape, nil
}

// Parameter adds an input of the computation.
func (r *recorder) Parameter(name string, shape shapes.Shape, sharding *backends.ShardingSpec) (
	backends.Op, error) {
	if sharding != nil {
		return nil, fmt.Errorf("Parameter %q: sharding is not supported by backend %q",
			name, GoName)
	}
	if err := r.usable("Parameter"); err != nil {
		return nil, err
	}
	op, err := r.shadow.Parameter(name, shape, nil)
	if err != nil {
		return nil, err
	}
	c := &call{name: "Parameter", param: name}
	v := &value{id: r.values, call: c, shape: shape, shadow: op}
	r.values++
	c.outs = []*value{v}
	r.calls = append(r.calls, c)
	r.params = append(r.params, v)
	return v, nil
}

// Constant adds a constant; each part of the graph that uses it gets a copy.
func (r *recorder) Constant(flat any, dims ...int) (backends.Op, error) {
	outs, err := r.record("Constant", nil,
		func(b backends.Builder, _ []backends.Op) ([]backends.Op, error) {
			op, err := b.Constant(flat, dims...)
			return []backends.Op{op}, err
		})
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// DotGeneral records a matrix multiplication, marked for BLAS when its
// layout is one a GEMM call can take.
func (r *recorder) DotGeneral(lhs backends.Op, lhsContractingAxes, lhsBatchAxes []int,
	rhs backends.Op, rhsContractingAxes, rhsBatchAxes []int) (backends.Op, error) {
	outs, err := r.record("DotGeneral", []backends.Op{lhs, rhs},
		func(b backends.Builder, in []backends.Op) ([]backends.Op, error) {
			op, err := b.DotGeneral(in[0], lhsContractingAxes, lhsBatchAxes,
				in[1], rhsContractingAxes, rhsBatchAxes)
			return []backends.Op{op}, err
		})
	if err != nil {
		return nil, err
	}
	if r.gemm != nil {
		c := r.calls[len(r.calls)-1]
		if p := planDot(c.inputs[0].shape, c.inputs[1].shape, lhsContractingAxes,
			lhsBatchAxes, rhsContractingAxes, rhsBatchAxes); p != nil {
			c.native = p
		}
	}
	return outs[0], nil
}

// recordNative records a call that runs natively, as plan says; compose
// builds it of simplego's ops, for the shadow to check and shape.
func (r *recorder) recordNative(name string, in []backends.Op, plan nativeOp,
	compose replayFunc) ([]backends.Op, error) {
	outs, err := r.record(name, in, compose)
	if err != nil {
		return nil, err
	}
	r.calls[len(r.calls)-1].native = plan
	return outs, nil
}

// convolve records a convolution that runs natively (with oneDNN where it
// can, else im2col and GEMM); simplego's own ConvGeneral checks it and
// gives its shape.
func (r *recorder) convolve(input, kernel backends.Op, c *conv) (backends.Op, error) {
	var plan nativeOp
	if p := newOneDNNConv(r.onednn, c); p != nil {
		plan = p
	} else {
		plan = newConvPlan(c)
	}
	outs, err := r.recordNative("ConvGeneral", []backends.Op{input, kernel}, plan,
		func(b backends.Builder, in []backends.Op) ([]backends.Op, error) {
			op, err := b.ConvGeneral(in[0], in[1], c.axes, c.strides, c.paddings,
				c.inDil, c.kDil, 1, 1)
			return []backends.Op{op}, err
		})
	if err != nil {
		return nil, err
	}
	return outs[0], nil
}

// DistributedSPMD is answered by simplego, which has one device.
func (r *recorder) DistributedSPMD(numDevices int) error {
	if err := r.usable("DistributedSPMD"); err != nil {
		return err
	}
	return r.shadow.DistributedSPMD(numDevices)
}

// DistributedAutoSharding is answered by simplego, which has one device.
func (r *recorder) DistributedAutoSharding(meshes ...backends.Mesh) error {
	if err := r.usable("DistributedAutoSharding"); err != nil {
		return err
	}
	return r.shadow.DistributedAutoSharding(meshes...)
}

// DeviceAssignment is checked by simplego and applied to every part.
func (r *recorder) DeviceAssignment(devices ...backends.DeviceNum) error {
	if err := r.usable("DeviceAssignment"); err != nil {
		return err
	}
	if err := r.shadow.DeviceAssignment(devices...); err != nil {
		return err
	}
	r.devices = append([]backends.DeviceNum(nil), devices...)
	return nil
}

// AllReduce is not supported: the backend has one device.
func (r *recorder) AllReduce(operands []backends.Op, reduction backends.ReduceOpType,
	replicaGroups [][]int) ([]backends.Op, error) {
	return nil, fmt.Errorf("AllReduce: backend %q runs on one device", GoName)
}
