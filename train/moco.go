package train

import (
	"fmt"
	"math"
	"math/rand/v2"

	"github.com/gomlx/gomlx/backends"
	. "github.com/gomlx/gomlx/pkg/core/graph" //nolint:revive

	"github.com/mocokit/mocokit/models"
)

// MoCoConfig is the contrastive task of MoCo (He et al., 2020) as
// main_moco.py sets it up.
type MoCoConfig struct {
	K         int     // queue length (--moco-k)
	M         float64 // key encoder momentum (--moco-m)
	T         float64 // softmax temperature (--moco-t)
	BNSplits  int     // batch-norm sub-batches (1: plain batch norm)
	Symmetric bool    // loss of (q1, k2) plus (q2, k1), both keys enqueued
}

// MoCo holds a query encoder trained by SGD, a key encoder that follows it
// by momentum, and the queue of past keys.
type MoCo struct {
	Config MoCoConfig
	q, k   *Network
	queue  []float32 // [K, dim], row i is a key; kept here and enqueued here
	ptr    int
	dim    int
	exec   *Exec
	embed  *Exec
	seed   uint64
	steps  int
	// withLogits adds the contrastive logits to the step's outputs (tests).
	withLogits bool
	lastLogits []float32
}

// MoCoStep is what one MoCo step measured.
type MoCoStep struct {
	Loss       float64
	Top1, Top5 int // queries whose positive key ranks first, in the top 5
	Queries    int
}

// NewMoCo builds MoCo from the query encoder's weights (the key encoder
// starts as their copy) and a queue (nil: random unit vectors from seed, as
// main_moco.py starts it). cfg must have a moco or moco-mlp head.
func NewMoCo(b backends.Backend, cfg models.Config, w models.Weights, mc MoCoConfig,
	opt SGD, queue *models.Tensor, seed uint64) (*MoCo, error) {
	return newMoCo(b, cfg, w, mc, opt, queue, seed, false)
}

func newMoCo(b backends.Backend, cfg models.Config, w models.Weights, mc MoCoConfig,
	opt SGD, queue *models.Tensor, seed uint64, withLogits bool) (*MoCo, error) {
	if cfg.Head != models.HeadMoCo && cfg.Head != models.HeadMoCoMLP {
		return nil, fmt.Errorf("train: MoCo needs a moco or moco-mlp head, not %s", cfg.Head)
	}
	q, err := placeWeights(b, cfg, w, opt)
	if err != nil {
		return nil, err
	}
	k, err := placeWeights(b, cfg, w, SGD{})
	if err != nil {
		return nil, err
	}
	m := &MoCo{Config: mc, q: q, k: k, dim: cfg.EmbedDim, seed: seed, withLogits: withLogits}
	if err := m.setQueue(queue); err != nil {
		return nil, err
	}
	if m.exec, err = NewExec(b, m.stepGraph); err != nil {
		return nil, fmt.Errorf("train: MoCo step graph: %w", err)
	}
	if m.embed, err = NewExec(b, m.embedGraph); err != nil {
		return nil, fmt.Errorf("train: MoCo embedding graph: %w", err)
	}
	return m, nil
}

func (m *MoCo) setQueue(queue *models.Tensor) error {
	kd := m.Config.K * m.dim
	if queue != nil {
		if len(queue.Data) != kd {
			return fmt.Errorf("train: queue of %d values, want K %d x dim %d",
				len(queue.Data), m.Config.K, m.dim)
		}
		m.queue = append([]float32(nil), queue.Data...)
		return nil
	}
	rng := rand.New(rand.NewPCG(m.seed, 0x71756575))
	m.queue = make([]float32, kd)
	for i := range m.Config.K {
		row := m.queue[i*m.dim : (i+1)*m.dim]
		var norm float64
		for j := range row {
			v := rng.NormFloat64()
			row[j] = float32(v)
			norm += v * v
		}
		for j := range row {
			row[j] /= float32(math.Sqrt(norm))
		}
	}
	return nil
}

// SetKey replaces the key encoder's weights (when resuming).
func (m *MoCo) SetKey(w models.Weights) error {
	k, err := placeWeights(m.k.backend, m.k.Config, w, SGD{})
	if err != nil {
		return fmt.Errorf("train: key encoder: %w", err)
	}
	m.k = k
	return nil
}

// SetQueuePtr restores where the next keys go.
func (m *MoCo) SetQueuePtr(p int) { m.ptr = p }

// QueuePtr is where the next keys go.
func (m *MoCo) QueuePtr() int { return m.ptr }

// Query is the query encoder (its weights and SGD momentum).
func (m *MoCo) Query() *Network { return m.q }

// Key is the key encoder.
func (m *MoCo) Key() *Network { return m.k }

// Queue copies the queue, [K, dim].
func (m *MoCo) Queue() *models.Tensor {
	return &models.Tensor{Shape: []int{m.Config.K, m.dim},
		Data: append([]float32(nil), m.queue...)}
}
