package knn

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
	"github.com/gomlx/gomlx/pkg/core/dtypes"
	"github.com/gomlx/gomlx/pkg/core/graph"
	"github.com/gomlx/gomlx/pkg/core/shapes"
	"github.com/gomlx/gomlx/pkg/core/tensors"
)

// emitFunc receives the class scores of one test row. It is called
// concurrently for different rows, and scores is reused once it returns.
type emitFunc func(row int, scores []float64)

// vote computes the weighted kNN class scores of every test row and hands
// them to emit. Scores are exp((sim - top) / t) summed per class, where top
// is the row's largest similarity: a common factor per row, so the ranking
// is the demo's while small temperatures cannot overflow.
func vote(b backends.Backend, cfg Config, bank []float32, bankLabels []int32,
	test []float32, dim int, emit emitFunc) error {
	if err := validate(b, cfg, bank, bankLabels, test, dim); err != nil {
		return err
	}
	nBank, nTest := len(bank)/dim, len(test)/dim
	if nTest == 0 {
		return nil
	}
	bankT, err := normalisedTensor(bank, nBank, dim, 0)
	if err != nil {
		return fmt.Errorf("knn: bank %w", err)
	}
	defer bankT.FinalizeAll()
	exec, err := graph.NewExec(b, similarity)
	if err != nil {
		return fmt.Errorf("knn: similarity graph: %w", err)
	}
	defer exec.Finalize()

	chunk := cfg.Chunk
	if chunk == 0 {
		chunk = DefaultChunk
	}
	v := voter{k: min(cfg.K, nBank), t: cfg.Temperature, classes: cfg.Classes,
		labels: bankLabels, emit: emit}
	for start := 0; start < nTest; start += chunk {
		rows := min(chunk, nTest-start)
		if err := v.chunk(exec, bankT, test[start*dim:(start+rows)*dim], start, dim); err != nil {
			return fmt.Errorf("knn: test %w", err)
		}
	}
	return nil
}

// similarity is the cosine similarity of each normalised test row to each
// bank row: [rows, dim] x [bank, dim] -> [rows, bank]. Both operands keep
// dim last, the layout simplego's matrix multiplication wants.
func similarity(test, bank *graph.Node) *graph.Node {
	return graph.DotGeneral(test, []int{1}, nil, bank, []int{1}, nil)
}

// chunk runs the similarity of one chunk of test rows and votes on it.
func (v *voter) chunk(exec *graph.Exec, bankT *tensors.Tensor, test []float32,
	start, dim int) error {
	rows := len(test) / dim
	x, err := normalisedTensor(test, rows, dim, start)
	if err != nil {
		return err
	}
	defer x.FinalizeAll()
	outs, err := exec.Exec(x, bankT)
	if err != nil {
		return fmt.Errorf("rows %d-%d: similarity: %w", start, start+rows-1, err)
	}
	defer outs[0].FinalizeAll()
	nBank := len(v.labels)
	return tensors.ConstFlatData(outs[0], func(sims []float32) {
		v.rows(sims, rows, nBank, start)
	})
}

// normalisedTensor copies row-major [n, dim] features into a tensor with
// every row scaled to unit L2 norm, as torch.nn.functional.normalize does
// (norms below 1e-12 are clamped, so zero rows stay zero). Errors number
// rows from first.
func normalisedTensor(x []float32, n, dim, first int) (*tensors.Tensor, error) {
	t := tensors.FromShape(shapes.Make(dtypes.Float32, n, dim))
	var bad error
	err := tensors.MutableFlatData(t, func(out []float32) {
		for r := range n {
			if err := normaliseRow(out[r*dim:(r+1)*dim], x[r*dim:(r+1)*dim]); err != nil {
				bad = fmt.Errorf("row %d: %w", first+r, err)
				return
			}
		}
	})
	if err == nil {
		err = bad
	}
	if err != nil {
		t.FinalizeAll()
		return nil, err
	}
	return t, nil
}

// normaliseRow writes in / max(‖in‖, 1e-12) to out.
func normaliseRow(out, in []float32) error {
	var sum float64
	for _, v := range in {
		sum += float64(v) * float64(v)
	}
	if math.IsNaN(sum) || math.IsInf(sum, 0) {
		return errors.New("feature is not finite")
	}
	scale := 1 / max(math.Sqrt(sum), 1e-12)
	for i, v := range in {
		out[i] = float32(float64(v) * scale)
	}
	return nil
}
