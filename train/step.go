package train

import (
	"fmt"
	"strings"

	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/mocokit/mocokit/models"
)

// Batch is one batch of images [N, 3, H, W] (NCHW, normalised) and labels.
type Batch struct {
	Images []float32
	Labels []int32
	Size   int // H = W
}

// StepResult is what one training step measured on its batch.
type StepResult struct {
	Loss    float64
	Correct int
}

// Step runs one SGD step at learning rate lr: forward in training mode,
// cross-entropy, gradients, the update of every parameter and momentum
// buffer, and the running statistics.
func (n *Network) Step(b Batch, lr float64) (StepResult, error) {
	x, y, err := batchTensors(b)
	if err != nil {
		return StepResult{}, err
	}
	args := make([]any, 0, len(n.params)*2+len(n.stats)+3)
	args = appendTensors(args, n.params, n.stats, n.momentum)
	args = append(args, x, y, tensors.FromScalar(float32(lr)))
	outs, err := n.stepExec.Exec(args...)
	if err != nil {
		return StepResult{}, fmt.Errorf("train: step: %w", err)
	}
	res := StepResult{Loss: float64(scalar(outs[0])), Correct: int(scalar(outs[1]))}
	rest := outs[2:]
	n.params = replace(n.params, rest[:len(n.params)])
	rest = rest[len(n.params):]
	n.stats = replace(n.stats, rest[:len(n.stats)])
	n.momentum = replace(n.momentum, rest[len(n.stats):])
	if !n.frozen {
		n.tracked++
	}
	return res, nil
}

// Logits runs the network in evaluation mode (running statistics).
func (n *Network) Logits(b Batch) ([]float32, error) {
	x, err := imageTensor(b)
	if err != nil {
		return nil, err
	}
	args := appendTensors(make([]any, 0, len(n.params)+len(n.stats)+1), n.params, n.stats)
	outs, err := n.evalExec.Exec(append(args, x)...)
	if err != nil {
		return nil, fmt.Errorf("train: evaluate: %w", err)
	}
	return tensors.CopyFlatData[float32](outs[0])
}

// stepGraph's inputs are parameters, running statistics, momentum buffers,
// images, labels and the learning rate; its outputs the loss, the number of
// correct predictions, and the new parameters, statistics and momentum.
func (n *Network) stepGraph(in []*Node) []*Node {
	np, ns := len(n.params), len(n.stats)
	params, stats, mom := in[:np], in[np:np+ns], in[np+ns:2*np+ns]
	x, y, lr := in[2*np+ns], in[2*np+ns+1], in[2*np+ns+2]
	vals := n.named(params, stats)
	bn := trainMode
	if n.frozen {
		bn = evalMode
	}
	logits, newStats := forward(n.Config, vals, x, bn)
	loss, correct := crossEntropy(logits, y)
	var learnt []*Node
	for i, p := range n.trainable {
		if n.learns(p.Name) {
			learnt = append(learnt, params[i])
		}
	}
	grads := Gradient(loss, learnt...)
	outs := []*Node{loss, correct}
	newMom := make([]*Node, np)
	for i, p := range params {
		if !n.learns(n.trainable[i].Name) {
			outs, newMom[i] = append(outs, p), mom[i]
			continue
		}
		var np2 *Node
		np2, newMom[i] = n.Opt.update(p, grads[0], mom[i], lr)
		grads = grads[1:]
		outs = append(outs, np2)
	}
	for i, p := range n.buffers {
		if n.frozen {
			outs = append(outs, stats[i])
		} else {
			outs = append(outs, newStats[p.Name])
		}
	}
	return append(outs, newMom...)
}

// learns reports whether a step updates the named parameter: all of them,
// or with a frozen encoder (the linear classification protocol) only fc.
func (n *Network) learns(name string) bool {
	return !n.frozen || strings.HasPrefix(name, "fc.")
}

func (n *Network) evalGraph(in []*Node) []*Node {
	np, ns := len(n.params), len(n.stats)
	vals := n.named(in[:np], in[np:np+ns])
	logits, _ := forward(n.Config, vals, in[np+ns], evalMode)
	return []*Node{logits}
}

func (n *Network) named(params, stats []*Node) map[string]*Node {
	vals := make(map[string]*Node, len(params)+len(stats))
	for i, p := range n.trainable {
		vals[p.Name] = params[i]
	}
	for i, p := range n.buffers {
		vals[p.Name] = stats[i]
	}
	return vals
}

func batchTensors(b Batch) (x, y *tensors.Tensor, err error) {
	if x, err = imageTensor(b); err != nil {
		return nil, nil, err
	}
	return x, tensors.FromFlatDataAndDimensions(b.Labels, len(b.Labels)), nil
}

func imageTensor(b Batch) (*tensors.Tensor, error) {
	per := 3 * b.Size * b.Size
	if per == 0 || len(b.Images)%per != 0 || len(b.Images) == 0 {
		return nil, fmt.Errorf("train: batch of %d values is not a whole number of "+
			"3x%dx%d images", len(b.Images), b.Size, b.Size)
	}
	if b.Labels != nil && len(b.Labels) != len(b.Images)/per {
		return nil, fmt.Errorf("train: batch has %d images but %d labels",
			len(b.Images)/per, len(b.Labels))
	}
	return tensors.FromFlatDataAndDimensions(b.Images, len(b.Images)/per, 3, b.Size,
		b.Size), nil
}

func appendTensors(args []any, groups ...[]*tensors.Tensor) []any {
	for _, g := range groups {
		for _, t := range g {
			args = append(args, t)
		}
	}
	return args
}

// replace frees the old tensors' buffers, which the step no longer needs, so
// memory does not wait for the garbage collector.
func replace(old, fresh []*tensors.Tensor) []*tensors.Tensor {
	for _, t := range old {
		t.FinalizeAll()
	}
	return append(old[:0], fresh...)
}

func scalar(t *tensors.Tensor) float32 {
	v, _ := tensors.CopyFlatData[float32](t)
	if len(v) == 0 {
		return 0
	}
	return v[0]
}

func toTensor(t *models.Tensor) *tensors.Tensor {
	return tensors.FromFlatDataAndDimensions(append([]float32(nil), t.Data...), t.Shape...)
}

func fromTensor(t *tensors.Tensor, p models.Param) (*models.Tensor, error) {
	v, err := tensors.CopyFlatData[float32](t)
	if err != nil {
		return nil, fmt.Errorf("train: reading %s: %w", p.Name, err)
	}
	return &models.Tensor{Shape: append([]int(nil), p.Shape...), Data: v}, nil
}
