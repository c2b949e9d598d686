package models

import "strings"

// ParamKind says what a parameter tensor holds.
type ParamKind int

const (
	Weight ParamKind = iota
	Bias
	RunningMean
	RunningVar
	NumBatchesTracked // an int64 scalar
)

// Param is one entry of a torchvision state_dict.
type Param struct {
	Name  string
	Shape []int
	Kind  ParamKind
}

// Trainable reports whether an optimiser updates the parameter; running
// statistics and the batch counter are buffers.
func (p Param) Trainable() bool { return p.Kind == Weight || p.Kind == Bias }

// Size is the number of elements.
func (p Param) Size() int {
	n := 1
	for _, d := range p.Shape {
		n *= d
	}
	return n
}

// Params lists the state_dict entries in the order torchvision writes them.
func (c Config) Params() []Param {
	var ps []Param
	for _, op := range c.Ops() {
		ps = append(ps, op.Params()...)
	}
	return ps
}

// Params lists the state_dict entries that belong to one layer.
func (op Op) Params() []Param {
	p := func(suffix string, kind ParamKind, shape ...int) Param {
		return Param{Name: op.Name + "." + suffix, Shape: shape, Kind: kind}
	}
	switch op.Kind {
	case Conv:
		return []Param{p("weight", Weight, op.Out, op.In, op.Kernel, op.Kernel)}
	case BatchNorm:
		return []Param{
			p("weight", Weight, op.Out),
			p("bias", Bias, op.Out),
			p("running_mean", RunningMean, op.Out),
			p("running_var", RunningVar, op.Out),
			p("num_batches_tracked", NumBatchesTracked),
		}
	case Linear:
		return []Param{p("weight", Weight, op.Out, op.In), p("bias", Bias, op.Out)}
	}
	return nil
}

// ParamSuffix returns the part of a parameter name after the layer name,
// such as "running_var".
func ParamSuffix(name string) string {
	return name[strings.LastIndexByte(name, '.')+1:]
}
