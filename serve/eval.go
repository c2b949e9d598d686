package serve

import (
	"context"
	"fmt"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/inference"
)

// Result is a model's top-1 accuracy on a dataset.
type Result struct {
	Correct  int           `json:"correct"`
	Total    int           `json:"total"`
	Top1     float64       `json:"top1"` // Correct / Total
	PerClass []ClassResult `json:"per_class"`
	// Confusion counts images by true class (rows, in PerClass order) and
	// predicted class (columns, in PredictedClasses order: the model's).
	Confusion        [][]int  `json:"confusion"`
	PredictedClasses []string `json:"predicted_classes"`
}

// ClassResult is the top-1 accuracy on the images of one class.
type ClassResult struct {
	Class   string  `json:"class"`
	Top1    float64 `json:"top1"`
	Correct int     `json:"correct"`
	Total   int     `json:"total"`
}

// progressFunc is told, after each batch, how many images are done and how
// many of them were classified correctly.
type progressFunc func(done, correct int)

// Evaluate classifies every image of ds with the session, batch images at a
// time and with /classify's preprocessing, and counts the top-1 hits. The
// dataset's classes are matched to the model's by name.
func Evaluate(ctx context.Context, s *inference.Session, ds *dataset.Dataset,
	batch int) (Result, error) {
	return evaluate(ctx, s, ds, batch, nil)
}

func evaluate(ctx context.Context, s *inference.Session, ds *dataset.Dataset, batch int,
	progress progressFunc) (Result, error) {
	toModel, err := classMapping(s.Metadata().Classes, ds.Classes)
	if err != nil {
		return Result{}, err
	}
	if batch < 1 {
		return Result{}, fmt.Errorf("serve: batch size %d, want at least 1", batch)
	}
	res := newResult(ds.Classes, s.Metadata().Classes)
	n, p := s.InputLen(), s.Metadata().Preprocess
	x := make([]float32, batch*n)
	for start := 0; start < len(ds.Samples); start += batch {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		samples := ds.Samples[start:min(start+batch, len(ds.Samples))]
		for i, sample := range samples {
			if err := inference.PreprocessInto(x[i*n:(i+1)*n], sample.Image, p); err != nil {
				return res, fmt.Errorf("serve: %s: %w", sample.Name, err)
			}
		}
		logits, err := s.Run(x[:len(samples)*n], len(samples))
		if err != nil {
			return res, fmt.Errorf("serve: evaluating images %d..%d: %w", start,
				start+len(samples)-1, err)
		}
		d := s.OutputDim()
		for i, sample := range samples {
			res.count(sample.Label, inference.Argmax(logits[i*d:(i+1)*d]), toModel)
		}
		if progress != nil {
			progress(res.Total, res.Correct)
		}
	}
	res.finish()
	return res, nil
}

func newResult(dataClasses, modelClasses []string) Result {
	r := Result{PerClass: make([]ClassResult, len(dataClasses)),
		Confusion:        make([][]int, len(dataClasses)),
		PredictedClasses: modelClasses}
	for i, c := range dataClasses {
		r.PerClass[i].Class = c
		r.Confusion[i] = make([]int, len(modelClasses))
	}
	return r
}

// count records an image of dataset class label that the model classified
// as its class pred; toModel maps dataset labels to model classes.
func (r *Result) count(label, pred int, toModel []int) {
	r.Total++
	r.PerClass[label].Total++
	r.Confusion[label][pred]++
	if pred == toModel[label] {
		r.Correct++
		r.PerClass[label].Correct++
	}
}

func (r *Result) finish() {
	r.Top1 = ratio(r.Correct, r.Total)
	for i := range r.PerClass {
		r.PerClass[i].Top1 = ratio(r.PerClass[i].Correct, r.PerClass[i].Total)
	}
}

func ratio(a, b int) float64 {
	if b == 0 {
		return 0
	}
	return float64(a) / float64(b)
}

// classMapping maps dataset labels to model output indices by class name.
func classMapping(modelClasses, dataClasses []string) ([]int, error) {
	if len(modelClasses) == 0 {
		return nil, fmt.Errorf("serve: the model has no classes (an embedding model); " +
			"top-1 accuracy needs a classifier")
	}
	index := map[string]int{}
	for i, c := range modelClasses {
		index[c] = i
	}
	m := make([]int, len(dataClasses))
	for i, c := range dataClasses {
		j, ok := index[c]
		if !ok {
			return nil, fmt.Errorf("serve: dataset class %q is not one of the model's "+
				"classes %v", c, modelClasses)
		}
		m[i] = j
	}
	return m, nil
}
