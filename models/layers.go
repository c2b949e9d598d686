package models

import "fmt"

// OpKind is the kind of one layer of the forward pass.
type OpKind int

const (
	// Conv is a 2-D convolution without bias, weight [Out, In, K, K].
	Conv OpKind = iota
	// BatchNorm has weight, bias, running_mean, running_var and
	// num_batches_tracked, each of Channels elements (the last a scalar).
	BatchNorm
	// ReLU is max(x, 0).
	ReLU
	// MaxPool is a KxK max pool with the given stride and padding.
	MaxPool
	// Add sums its two inputs (the residual connection).
	Add
	// GlobalAvgPool averages each channel over height and width and
	// flattens the result to [batch, channels].
	GlobalAvgPool
	// Linear is x·weightᵀ + bias, weight [Out, In].
	Linear
)

var opNames = [...]string{"Conv", "BatchNorm", "ReLU", "MaxPool", "Add",
	"GlobalAvgPool", "Linear"}

func (k OpKind) String() string {
	if int(k) < len(opNames) {
		return opNames[k]
	}
	return fmt.Sprintf("OpKind(%d)", int(k))
}

// Op is one layer. Inputs and Output name values of the forward pass; the
// network's input is called Input and its output is the last Op's Output.
// Name is the parameter prefix of the layer in a torchvision state_dict.
type Op struct {
	Kind   OpKind
	Name   string
	Inputs []string
	Output string

	In, Out        int // channels (Conv, BatchNorm uses Out) or features (Linear)
	Kernel, Stride int // Conv and MaxPool
	Padding        int // Conv and MaxPool
}

// Input is the name of the network's input value, [batch, 3, H, W].
const Input = "input"

// BatchNormEpsilon and BatchNormMomentum are PyTorch's defaults, which
// torchvision's ResNet uses.
const (
	BatchNormEpsilon  = 1e-5
	BatchNormMomentum = 0.1
)

// Ops lists the layers of the forward pass in execution order.
func (c Config) Ops() []Op {
	b := &opBuilder{last: Input}
	b.stem(c.Stem)
	in := 64
	for stage, width := range []int{64, 128, 256, 512} {
		for block := 0; block < 2; block++ {
			stride := 1
			if stage > 0 && block == 0 {
				stride = 2
			}
			b.basicBlock(fmt.Sprintf("layer%d.%d", stage+1, block), in, width, stride)
			in = width
		}
	}
	b.add(Op{Kind: GlobalAvgPool, Name: "avgpool"})
	b.head(c)
	return b.ops
}

type opBuilder struct {
	ops  []Op
	last string
}

// add appends op reading the previous output unless op names its inputs,
// and names its output after the layer when it has none.
func (b *opBuilder) add(op Op) string {
	if op.Inputs == nil {
		op.Inputs = []string{b.last}
	}
	if op.Output == "" {
		op.Output = fmt.Sprintf("%s.%s.out%d", op.Name, op.Kind, len(b.ops))
	}
	b.ops = append(b.ops, op)
	b.last = op.Output
	return op.Output
}

func (b *opBuilder) convBN(name, bn string, in, out, k, stride, pad int) string {
	b.add(Op{Kind: Conv, Name: name, In: in, Out: out, Kernel: k, Stride: stride,
		Padding: pad})
	return b.add(Op{Kind: BatchNorm, Name: bn, In: out, Out: out})
}

func (b *opBuilder) stem(s Stem) {
	if s == StemCIFAR {
		b.convBN("conv1", "bn1", 3, 64, 3, 1, 1)
		b.add(Op{Kind: ReLU, Name: "relu"})
		return
	}
	b.convBN("conv1", "bn1", 3, 64, 7, 2, 3)
	b.add(Op{Kind: ReLU, Name: "relu"})
	b.add(Op{Kind: MaxPool, Name: "maxpool", Kernel: 3, Stride: 2, Padding: 1})
}

// basicBlock is torchvision's BasicBlock: two 3x3 convolutions and a
// shortcut that is a 1x1 convolution when the shape changes.
func (b *opBuilder) basicBlock(name string, in, out, stride int) {
	identity := b.last
	b.convBN(name+".conv1", name+".bn1", in, out, 3, stride, 1)
	b.add(Op{Kind: ReLU, Name: name + ".relu"})
	main := b.convBN(name+".conv2", name+".bn2", out, out, 3, 1, 1)
	if stride != 1 || in != out {
		b.last = identity
		identity = b.convBN(name+".downsample.0", name+".downsample.1",
			in, out, 1, stride, 0)
	}
	b.add(Op{Kind: Add, Name: name + ".add", Inputs: []string{main, identity}})
	b.add(Op{Kind: ReLU, Name: name + ".relu"})
}

func (b *opBuilder) head(c Config) {
	switch c.Head {
	case HeadClassifier:
		b.add(Op{Kind: Linear, Name: "fc", In: FeatureDim, Out: c.NumClasses})
	case HeadMoCo:
		b.add(Op{Kind: Linear, Name: "fc", In: FeatureDim, Out: c.EmbedDim})
	case HeadMoCoMLP:
		b.add(Op{Kind: Linear, Name: "fc.0", In: FeatureDim, Out: c.HiddenDim})
		b.add(Op{Kind: ReLU, Name: "fc.1"})
		b.add(Op{Kind: Linear, Name: "fc.2", In: c.HiddenDim, Out: c.EmbedDim})
	}
}
