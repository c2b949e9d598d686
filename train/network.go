package train

import (
	"fmt"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"

	"github.com/mocokit/mocokit/models"
)

// Network is a ResNet-18 being trained on a GoMLX backend: its parameters,
// running statistics and SGD momentum live as backend tensors between steps.
type Network struct {
	Config models.Config
	Opt    SGD

	backend   backends.Backend
	trainable []models.Param // weights and biases, torchvision order
	buffers   []models.Param // running means and variances
	counters  []models.Param // num_batches_tracked
	params    []*tensors.Tensor
	stats     []*tensors.Tensor
	momentum  []*tensors.Tensor
	tracked   float32
	// frozen trains only fc, with batch norm in evaluation mode, as
	// main_lincls.py trains a linear classifier on a frozen encoder.
	frozen   bool
	stepExec *graph.Exec
	evalExec *graph.Exec
}

// NewNetwork places w on the backend. w must match cfg exactly (see
// models.Config.Check); momentum starts at zero unless set with SetMomentum.
func NewNetwork(b backends.Backend, cfg models.Config, w models.Weights, opt SGD) (
	*Network, error) {
	n, err := placeWeights(b, cfg, w, opt)
	if err != nil {
		return nil, err
	}
	if n.stepExec, err = graph.NewExec(b, n.stepGraph); err != nil {
		return nil, fmt.Errorf("train: step graph: %w", err)
	}
	if n.evalExec, err = graph.NewExec(b, n.evalGraph); err != nil {
		return nil, fmt.Errorf("train: eval graph: %w", err)
	}
	return n, nil
}

// NewLinearProbe is NewNetwork for the linear classification protocol:
// only fc learns, and batch norm keeps using the running statistics.
func NewLinearProbe(b backends.Backend, cfg models.Config, w models.Weights, opt SGD) (
	*Network, error) {
	n, err := placeWeights(b, cfg, w, opt)
	if err != nil {
		return nil, err
	}
	n.frozen = true
	if n.stepExec, err = graph.NewExec(b, n.stepGraph); err != nil {
		return nil, fmt.Errorf("train: step graph: %w", err)
	}
	if n.evalExec, err = graph.NewExec(b, n.evalGraph); err != nil {
		return nil, fmt.Errorf("train: eval graph: %w", err)
	}
	return n, nil
}

// placeWeights puts w on the backend without compiling anything.
func placeWeights(b backends.Backend, cfg models.Config, w models.Weights, opt SGD) (
	*Network, error) {
	if err := cfg.Check(w); err != nil {
		return nil, fmt.Errorf("train: weights do not fit the network: %w", err)
	}
	n := &Network{Config: cfg, Opt: opt, backend: b}
	for _, p := range cfg.Params() {
		switch {
		case p.Trainable():
			n.trainable = append(n.trainable, p)
			n.params = append(n.params, toTensor(w[p.Name]))
			n.momentum = append(n.momentum, tensors.FromShape(shapes.Make(dtypes.Float32, p.Shape...)))
		case p.Kind == models.NumBatchesTracked:
			n.counters = append(n.counters, p)
			n.tracked = w[p.Name].Data[0]
		default:
			n.buffers = append(n.buffers, p)
			n.stats = append(n.stats, toTensor(w[p.Name]))
		}
	}
	return n, nil
}

// Weights copies the parameters and running statistics back to the host.
func (n *Network) Weights() (models.Weights, error) {
	w := models.Weights{}
	for i, p := range n.trainable {
		t, err := fromTensor(n.params[i], p)
		if err != nil {
			return nil, err
		}
		w[p.Name] = t
	}
	for i, p := range n.buffers {
		t, err := fromTensor(n.stats[i], p)
		if err != nil {
			return nil, err
		}
		w[p.Name] = t
	}
	for _, p := range n.counters {
		w[p.Name] = &models.Tensor{Data: []float32{n.tracked}}
	}
	return w, nil
}

// Momentum copies the SGD momentum buffers to the host, by parameter name.
func (n *Network) Momentum() (models.Weights, error) {
	w := models.Weights{}
	for i, p := range n.trainable {
		t, err := fromTensor(n.momentum[i], p)
		if err != nil {
			return nil, err
		}
		w[p.Name] = t
	}
	return w, nil
}

// SetMomentum restores momentum buffers saved by Momentum.
func (n *Network) SetMomentum(m models.Weights) error {
	for i, p := range n.trainable {
		t, ok := m[p.Name]
		if !ok || len(t.Data) != p.Size() {
			return fmt.Errorf("train: momentum for %s missing or of the wrong size", p.Name)
		}
		n.momentum[i] = toTensor(t)
	}
	return nil
}
