package blas

import (
	"testing"
)

// BenchmarkSgemm times the product of an im2col convolution: 8192 output
// pixels, 64 output channels, a 3×3 kernel over 64 input channels.
func BenchmarkSgemm(b *testing.B) {
	lib := loadOrSkip(b)
	const m, n, k = 8192, 64, 576
	x, w, y := make([]float32, m*k), make([]float32, k*n), make([]float32, m*n)
	for i := range x {
		x[i] = float32(i%7) * 0.25
	}
	for i := range w {
		w[i] = float32(i%5) * 0.5
	}
	b.Log(lib.Describe())
	b.ResetTimer()
	for b.Loop() {
		if err := lib.Sgemm(false, false, m, n, k, 1, x, k, w, n, 0, y, n); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(2*m*n*k*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
}
