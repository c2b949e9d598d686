package train

import (
	"os"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/mocokit/mocokit/train/backend"
)

var testBackendSpec = envOr("MOCOKIT_TEST_BACKEND", "go")

func envOr(k, d string) string {
	if v := os.Getenv(k); v != "" {
		return v
	}
	return d
}

func testBackend(t *testing.T) backends.Backend {
	t.Helper()
	return newTestBackend(t, testBackendSpec)
}

// pureGoSpec is the backend whose float32 results the PyTorch parity tests
// compare to 1e-4: simplego's own matrix multiply. OpenBLAS, the default,
// sums in another order; TestOpenBLASStepMatchesPureGoInFloat64 shows it
// computes the same step, and the seed-curve test bounds its float32 drift.
const pureGoSpec = "go:gemm=go"

// parityBackend is the backend of the float32 comparisons with PyTorch.
func parityBackend(t *testing.T) backends.Backend {
	t.Helper()
	if os.Getenv("MOCOKIT_TEST_BACKEND") != "" {
		return testBackend(t)
	}
	return newTestBackend(t, pureGoSpec)
}

func newTestBackend(t testing.TB, spec string) backends.Backend {
	t.Helper()
	b, err := backend.New(spec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
