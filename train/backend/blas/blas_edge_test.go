package blas

import (
	"math"
	"os"
	"strings"
	"sync"
	"testing"
)

func TestGemmRejectsBadArguments(t *testing.T) {
	lib := loadOrSkip(t)
	// A valid 2×3 times 3×4 product, which each case below breaks once.
	a, b, c := make([]float32, 6), make([]float32, 12), make([]float32, 8)
	for _, tc := range []struct {
		name                  string
		m, n, k, lda, ldb, ld int
		a, b, c               []float32
		transA                bool
		want                  string
	}{
		{"negative m", -1, 4, 3, 3, 4, 4, a, b, c, false, "m = -1"},
		{"k too large", 2, 4, math.MaxInt32 + 1, 3, 4, 4, a, b, c, false, "k = "},
		{"lda below row", 2, 4, 3, 2, 4, 4, a, b, c, false, "lda = 2"},
		{"lda below transposed row", 2, 4, 3, 1, 4, 4, a, b, c, true, "lda = 1"},
		{"ldc below row", 2, 4, 3, 3, 4, 3, a, b, c, false, "ldc = 3"},
		{"short a", 2, 4, 3, 3, 4, 4, a[:5], b, c, false, "len(a) = 5"},
		{"short b", 2, 4, 3, 3, 4, 4, a, b[:11], c, false, "len(b) = 11"},
		{"short c", 2, 4, 3, 3, 4, 4, a, b, c[:7], false, "len(c) = 7"},
		{"short a padded", 2, 4, 3, 5, 4, 4, a, b, c, false, "len(a) = 6, need 8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := lib.Sgemm(tc.transA, false, tc.m, tc.n, tc.k, 1, tc.a, tc.lda, tc.b, tc.ldb,
				0, tc.c, tc.ld)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Sgemm error = %v, want one containing %q", err, tc.want)
			}
		})
	}

	err := lib.Dgemm(false, true, 2, 4, 3, 1, make([]float64, 6), 3, make([]float64, 11), 3,
		0, make([]float64, 8), 4)
	if err == nil || !strings.Contains(err.Error(), "dgemm: len(b) = 11, need 12") {
		t.Fatalf("Dgemm error = %v, want short b", err)
	}
}

func TestGemmWithZeroInnerDimensionScalesC(t *testing.T) {
	lib := loadOrSkip(t)
	c := []float32{1, 2, 99, 3, 4}
	if err := lib.Sgemm(false, false, 2, 2, 0, 1, nil, 1, nil, 2, 0.5, c, 3); err != nil {
		t.Fatal(err)
	}
	for i, want := range []float32{0.5, 1, 99, 1.5, 2} {
		if c[i] != want {
			t.Fatalf("c = %v, want [0.5 1 99 1.5 2]", c)
		}
	}

	// beta == 0 clears C without reading it, so a NaN does not survive.
	d := []float64{math.NaN(), 7}
	if err := lib.Dgemm(true, true, 1, 2, 0, 1, nil, 1, nil, 1, 0, d, 2); err != nil {
		t.Fatal(err)
	}
	if d[0] != 0 || d[1] != 0 {
		t.Fatalf("d = %v, want [0 0]", d)
	}
}

func TestGemmWithEmptyOutputIsNoOp(t *testing.T) {
	lib := loadOrSkip(t)
	if err := lib.Sgemm(false, false, 0, 3, 2, 1, nil, 2, make([]float32, 6), 3, 1, nil,
		3); err != nil {
		t.Fatalf("m = 0: %v", err)
	}
	if err := lib.Dgemm(false, false, 3, 0, 2, 1, make([]float64, 6), 2, nil, 1, 1, nil,
		1); err != nil {
		t.Fatalf("n = 0: %v", err)
	}
}

func TestLoadReturnsSameLibrary(t *testing.T) {
	first := loadOrSkip(t)
	second, err := Load()
	if second != first || err != nil {
		t.Fatalf("second Load = %p, %v; want %p, nil", second, err, first)
	}
	if d := first.Describe(); !strings.HasPrefix(d, "OpenBLAS ") || first.threads < 1 {
		t.Fatalf("Describe = %q, want OpenBLAS's version and a thread count", d)
	}
	t.Log(first.Describe())
}

// TestCoreTypeReachesOpenBLAS checks that OPENBLAS_CORETYPE, set with
// os.Setenv, is what the library's constructor read, and that a CPU with
// AVX2 or AVX-512 does not run OpenBLAS's SSE3 kernels.
func TestCoreTypeReachesOpenBLAS(t *testing.T) {
	lib := loadOrSkip(t)
	f := hostFeatures()
	if lib.coreType != "" && !strings.EqualFold(lib.core, lib.coreType) {
		t.Errorf("core %q, want %q as set in %s", lib.core, lib.coreType, coreTypeVar)
	}
	if os.Getenv(coreTypeVar) != "" && lib.coreType == "" {
		t.Skipf("%s set outside the test: %s", coreTypeVar, os.Getenv(coreTypeVar))
	}
	if (f.avx512f || f.avx2) && strings.EqualFold(lib.core, "Prescott") {
		t.Errorf("core Prescott on a CPU with AVX2 or AVX-512 (%+v)", f)
	}
}

func TestCoreTypeFollowsFeatures(t *testing.T) {
	for _, tc := range []struct {
		f    cpuFeatures
		want string
	}{
		{cpuFeatures{avx512f: true, avx512bw: true, avx512dq: true, avx512vl: true,
			avx2: true, fma: true}, "SkylakeX"},
		{cpuFeatures{avx512f: true, avx2: true, fma: true}, "Haswell"},
		{cpuFeatures{avx2: true, fma: true}, "Haswell"},
		{cpuFeatures{avx2: true}, ""},
		{cpuFeatures{}, ""},
	} {
		if got := coreType(tc.f); got != tc.want {
			t.Errorf("coreType(%+v) = %q, want %q", tc.f, got, tc.want)
		}
	}
}

func TestConcurrentSgemmCallsAreCorrect(t *testing.T) {
	lib := loadOrSkip(t)
	const m, n, k = 64, 48, 96
	a, b := make([]float32, m*k), make([]float32, k*n)
	for i := range a {
		a[i] = 1
	}
	for i := range b {
		b[i] = 0.5
	}
	var wg sync.WaitGroup
	errs := make([]error, 8)
	outs := make([][]float32, len(errs))
	for i := range errs {
		outs[i] = make([]float32, m*n)
		wg.Go(func() { errs[i] = lib.Sgemm(false, false, m, n, k, 1, a, k, b, n, 0, outs[i], n) })
	}
	wg.Wait()
	for i, c := range outs {
		if errs[i] != nil {
			t.Fatal(errs[i])
		}
		for j, v := range c {
			if v != k*0.5 {
				t.Fatalf("call %d: c[%d] = %v, want %v", i, j, v, k*0.5)
			}
		}
	}
}

// TestThreadTimeoutKeepsTheUsersValue checks that setThreadTimeout sets
// OPENBLAS_THREAD_TIMEOUT only where the environment leaves it unset.
func TestThreadTimeoutKeepsTheUsersValue(t *testing.T) {
	t.Setenv(threadTimeoutVar, "20")
	if got := setThreadTimeout(); got != "" || os.Getenv(threadTimeoutVar) != "20" {
		t.Errorf("set %q over the user's 20; the variable is now %q", got,
			os.Getenv(threadTimeoutVar))
	}
	t.Setenv(threadTimeoutVar, "")
	if got := setThreadTimeout(); got != threadTimeout ||
		os.Getenv(threadTimeoutVar) != threadTimeout {
		t.Errorf("unset variable: set %q, now %q; want %s", got,
			os.Getenv(threadTimeoutVar), threadTimeout)
	}
}
