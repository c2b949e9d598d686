package models

import (
	"fmt"
	"slices"
	"sort"
	"strings"
)

// Tensor is a dense float32 array in row-major (C) order.
type Tensor struct {
	Shape []int
	Data  []float32
}

// NewTensor allocates a zero tensor of the given shape.
func NewTensor(shape ...int) *Tensor {
	n := 1
	for _, d := range shape {
		n *= d
	}
	return &Tensor{Shape: append([]int(nil), shape...), Data: make([]float32, n)}
}

// Weights maps state_dict names to tensors. num_batches_tracked, an integer
// counter, is stored as a float32 scalar.
type Weights map[string]*Tensor

// Check reports the parameters that w lacks, the ones it has that c does
// not, and any shape that differs, all in one error.
func (c Config) Check(w Weights) error {
	want := map[string]Param{}
	var missing, wrong []string
	for _, p := range c.Params() {
		want[p.Name] = p
		t, ok := w[p.Name]
		switch {
		case !ok:
			missing = append(missing, p.Name)
		case !slices.Equal(t.Shape, p.Shape) || len(t.Data) != p.Size():
			wrong = append(wrong, fmt.Sprintf("%s %v (want %v)", p.Name, t.Shape, p.Shape))
		}
	}
	var unexpected []string
	for name := range w {
		if _, ok := want[name]; !ok {
			unexpected = append(unexpected, name)
		}
	}
	if len(missing)+len(unexpected)+len(wrong) == 0 {
		return nil
	}
	sort.Strings(unexpected)
	return &LayoutError{Config: c, Missing: missing, Unexpected: unexpected, Shapes: wrong}
}

// LayoutError lists how a set of weights differs from a network.
type LayoutError struct {
	Config     Config
	Missing    []string
	Unexpected []string
	Shapes     []string
}

func (e *LayoutError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "weights do not fit %s%s:", e.Config, e.hint())
	list := func(what string, names []string) {
		if len(names) == 0 {
			return
		}
		const show = 4
		fmt.Fprintf(&b, " %d %s (%s", len(names), what,
			strings.Join(names[:min(show, len(names))], ", "))
		if len(names) > show {
			fmt.Fprintf(&b, ", ...")
		}
		b.WriteString(")")
	}
	list("missing", e.Missing)
	list("unexpected", e.Unexpected)
	list("of the wrong shape", e.Shapes)
	return b.String()
}

// hint names a deeper ResNet when the unexpected names show one: a third
// convolution per block is a Bottleneck (ResNet-50 and up), a third block
// in layer1 is ResNet-34.
func (e *LayoutError) hint() string {
	for _, n := range e.Unexpected {
		switch {
		case strings.Contains(n, ".conv3."):
			return " (these are Bottleneck blocks, as in ResNet-50, -101 or -152; " +
				"mocokit handles ResNet-18 only)"
		case strings.HasPrefix(n, "layer1.2."):
			return " (layer1 has a third block, as in ResNet-34; mocokit handles " +
				"ResNet-18 only)"
		}
	}
	return ""
}
