// Package knn is the weighted k-nearest-neighbour classifier that monitors
// self-supervised training (MoCo's CIFAR-10 demonstration, after Wu et al.,
// "Unsupervised Feature Learning via Non-Parametric Instance
// Discrimination", 2018).
//
// Features of a labelled bank (the training set) and of the test set are
// L2-normalised; each test feature takes the K bank features with the
// largest cosine similarity, weighs each by exp(similarity / temperature),
// and the class with the largest summed weight is its prediction.
//
// The similarities are one matrix multiplication on a GoMLX backend, over
// chunks of test features so that the [chunk, bank] similarity matrix stays
// small; the top-K selection and the vote run in Go on every core.
package knn

import (
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/backends"
)

// Defaults of MoCo's CIFAR-10 demonstration.
const (
	DefaultK           = 200
	DefaultTemperature = 0.1
	// DefaultChunk test features per matrix multiplication: a [256, 50000]
	// float32 similarity matrix is 51 MB.
	DefaultChunk = 256
)

// Config is the monitor's settings.
type Config struct {
	// K is the number of neighbours that vote. A K larger than the bank
	// uses the whole bank (torch.topk would fail instead).
	K int
	// Temperature t scales the similarities: a neighbour weighs exp(sim/t).
	Temperature float64
	// Classes is the number of labels, which lie in [0, Classes).
	Classes int
	// Chunk is the number of test features per matrix multiplication;
	// 0 means DefaultChunk.
	Chunk int
}

// Default is k 200, t 0.1.
func Default(classes int) Config {
	return Config{K: DefaultK, Temperature: DefaultTemperature, Classes: classes,
		Chunk: DefaultChunk}
}

// Predict classifies test features by weighted kNN over the bank. Features
// are row-major [n, dim] and are L2-normalised here (zero rows stay zero).
//
// When two classes tie on the vote, the smaller class index wins.
func Predict(b backends.Backend, cfg Config, bank []float32, bankLabels []int32,
	test []float32, dim int) ([]int32, error) {
	pred := make([]int32, len(test)/max(dim, 1))
	err := vote(b, cfg, bank, bankLabels, test, dim, func(row int, scores []float64) {
		pred[row] = int32(argmax(scores))
	})
	if err != nil {
		return nil, err
	}
	return pred, nil
}

// Accuracy is the percentage of test labels Predict gets right.
func Accuracy(b backends.Backend, cfg Config, bank []float32, bankLabels []int32,
	test []float32, testLabels []int32, dim int) (float64, error) {
	if err := validate(b, cfg, bank, bankLabels, test, dim); err != nil {
		return 0, err
	}
	if len(testLabels) != len(test)/dim {
		return 0, fmt.Errorf("knn: %d test labels for %d test features",
			len(testLabels), len(test)/dim)
	}
	if len(testLabels) == 0 {
		return 0, errors.New("knn: accuracy of an empty test set")
	}
	if err := checkLabels("test", testLabels, cfg.Classes); err != nil {
		return 0, err
	}
	pred, err := Predict(b, cfg, bank, bankLabels, test, dim)
	if err != nil {
		return 0, err
	}
	correct := 0
	for i, p := range pred {
		if p == testLabels[i] {
			correct++
		}
	}
	return 100 * float64(correct) / float64(len(pred)), nil
}

// argmax is the index of the largest score, the first one on a tie.
func argmax(scores []float64) int {
	best := 0
	for c, s := range scores {
		if s > scores[best] {
			best = c
		}
	}
	return best
}
