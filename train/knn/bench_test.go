package knn

import "testing"

// BenchmarkPredictCIFAR10 is the monitor at CIFAR-10 scale: 50,000 bank
// and 10,000 test features of dimension 128, k 200.
func BenchmarkPredictCIFAR10(b *testing.B) {
	const dim = 128
	bank, labels := randomFeatures(21, 50000, dim, 10)
	test, _ := randomFeatures(22, 10000, dim, 10)
	be := newBackend(b)
	b.ResetTimer()
	for b.Loop() {
		if _, err := Predict(be, Default(10), bank, labels, test, dim); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkTop is the top-200 selection of one row of 50,000 similarities.
func BenchmarkTop(b *testing.B) {
	bank, _ := randomFeatures(23, 50000, 1, 1)
	var h neighbours
	for b.Loop() {
		h = h.top(bank, DefaultK)
	}
}
