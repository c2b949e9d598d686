package blas

import (
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"testing"
)

// loadOrSkip returns the library, skipping the test where OpenBLAS is
// absent, except in CI, which installs it.
func loadOrSkip(tb testing.TB) *Lib {
	tb.Helper()
	lib, err := Load()
	if err != nil {
		if os.Getenv("CI") == "true" {
			tb.Fatalf("Load: %v", err)
		}
		tb.Skipf("OpenBLAS not available: %v", err)
	}
	return lib
}

// gemmCase is one product with leading dimensions padded by pad elements.
type gemmCase struct {
	transA, transB bool
	m, n, k, pad   int
	alpha, beta    float64
}

func (g gemmCase) String() string {
	return fmt.Sprintf("tA=%v,tB=%v,%dx%dx%d,pad=%d", g.transA, g.transB, g.m, g.n, g.k, g.pad)
}

// geometry returns the stored shapes of A and B and the three leading
// dimensions.
func (g gemmCase) geometry() (aRows, bRows, lda, ldb, ldc int) {
	aRows, aCols := g.m, g.k
	if g.transA {
		aRows, aCols = g.k, g.m
	}
	bRows, bCols := g.k, g.n
	if g.transB {
		bRows, bCols = g.n, g.k
	}
	return aRows, bRows, aCols + g.pad, bCols + g.pad, g.n + g.pad
}

func gemmCases() []gemmCase {
	var cases []gemmCase
	for _, size := range [][3]int{{1, 1, 1}, {7, 5, 3}, {33, 17, 65}, {130, 70, 300}} {
		for _, tA := range []bool{false, true} {
			for _, tB := range []bool{false, true} {
				for _, pad := range []int{0, 3} {
					cases = append(cases, gemmCase{tA, tB, size[0], size[1], size[2], pad,
						1.5, -0.75})
				}
			}
		}
	}
	return cases
}

// naiveGemm is the definition of row-major GEMM, computed in float64.
func naiveGemm(g gemmCase, a []float64, lda int, b []float64, ldb int, c []float64, ldc int) {
	for i := range g.m {
		for j := range g.n {
			var sum float64
			for p := range g.k {
				sum += element(a, lda, i, p, g.transA) * element(b, ldb, p, j, g.transB)
			}
			c[i*ldc+j] = g.alpha*sum + g.beta*c[i*ldc+j]
		}
	}
}

// element returns op(X)[row][col] of the row-major X with leading
// dimension ld, where op transposes when trans is set.
func element(x []float64, ld, row, col int, trans bool) float64 {
	if trans {
		return x[col*ld+row]
	}
	return x[row*ld+col]
}

func randomSlice(r *rand.Rand, n int) []float64 {
	s := make([]float64, n)
	for i := range s {
		s[i] = 2*r.Float64() - 1
	}
	return s
}

func toFloat32(s []float64) []float32 {
	out := make([]float32, len(s))
	for i, v := range s {
		out[i] = float32(v)
	}
	return out
}

// compare fails the test when got differs from want, relative to the
// largest magnitude in want, by more than tol, or when got changed the
// padding between C's rows.
func compare[F float32 | float64](t *testing.T, got []F, want []float64, n, ldc int, tol float64) {
	t.Helper()
	var scale float64
	for _, w := range want {
		scale = max(scale, math.Abs(w))
	}
	for i, w := range want {
		if i%ldc >= n {
			if float64(got[i]) != float64(F(w)) {
				t.Fatalf("padding c[%d] changed: %v, was %v", i, got[i], w)
			}
			continue
		}
		if d := math.Abs(float64(got[i]) - w); d > tol*scale {
			t.Fatalf("c[%d] = %v, want %v (difference %g, tolerance %g)", i, got[i], w, d, tol*scale)
		}
	}
}

func TestSgemmMatchesNaiveProduct(t *testing.T) {
	lib := loadOrSkip(t)
	r := rand.New(rand.NewPCG(1, 2))
	for _, g := range gemmCases() {
		aRows, bRows, lda, ldb, ldc := g.geometry()
		// Round the inputs to float32 first, so the reference sees exactly
		// what Sgemm sees and only the accumulation error remains.
		a := float64s(toFloat32(randomSlice(r, aRows*lda)))
		b := float64s(toFloat32(randomSlice(r, bRows*ldb)))
		c := float64s(toFloat32(randomSlice(r, g.m*ldc)))
		got := toFloat32(c)
		naiveGemm(g, a, lda, b, ldb, c, ldc)

		err := lib.Sgemm(g.transA, g.transB, g.m, g.n, g.k, float32(g.alpha), toFloat32(a), lda,
			toFloat32(b), ldb, float32(g.beta), got, ldc)
		if err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		t.Run(g.String(), func(t *testing.T) { compare(t, got, c, g.n, ldc, 1e-5) })
	}
}

func TestDgemmMatchesNaiveProduct(t *testing.T) {
	lib := loadOrSkip(t)
	r := rand.New(rand.NewPCG(3, 4))
	for _, g := range gemmCases() {
		aRows, bRows, lda, ldb, ldc := g.geometry()
		a, b := randomSlice(r, aRows*lda), randomSlice(r, bRows*ldb)
		c := randomSlice(r, g.m*ldc)
		got := append([]float64(nil), c...)
		naiveGemm(g, a, lda, b, ldb, c, ldc)

		err := lib.Dgemm(g.transA, g.transB, g.m, g.n, g.k, g.alpha, a, lda, b, ldb, g.beta,
			got, ldc)
		if err != nil {
			t.Fatalf("%v: %v", g, err)
		}
		t.Run(g.String(), func(t *testing.T) { compare(t, got, c, g.n, ldc, 1e-12) })
	}
}

func float64s(s []float32) []float64 {
	out := make([]float64, len(s))
	for i, v := range s {
		out[i] = float64(v)
	}
	return out
}
