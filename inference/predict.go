package inference

import (
	"math"
	"sort"
)

// Softmax returns the probabilities of logits, computed in float64 after
// subtracting the largest logit so that exp cannot overflow.
func Softmax(logits []float32) []float64 {
	if len(logits) == 0 {
		return nil
	}
	maxLogit := math.Inf(-1)
	for _, v := range logits {
		maxLogit = math.Max(maxLogit, float64(v))
	}
	probs := make([]float64, len(logits))
	var sum float64
	for i, v := range logits {
		probs[i] = math.Exp(float64(v) - maxLogit)
		sum += probs[i]
	}
	for i := range probs {
		probs[i] /= sum
	}
	return probs
}

// TopK returns the indices of the k largest scores, largest first; equal
// scores keep index order. k is clamped to 0..len(scores).
func TopK(scores []float64, k int) []int {
	idx := make([]int, len(scores))
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return scores[idx[a]] > scores[idx[b]] })
	return idx[:max(0, min(k, len(idx)))]
}

// Argmax returns the index of the largest value; the first on ties.
func Argmax(v []float32) int {
	best := 0
	for i := range v {
		if v[i] > v[best] {
			best = i
		}
	}
	return best
}
