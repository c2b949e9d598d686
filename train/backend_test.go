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
	b, err := backend.New(testBackendSpec)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
