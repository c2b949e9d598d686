//go:build cgo

package blas

import (
	"strings"
	"testing"
)

func TestOpenNamesMissingLibrary(t *testing.T) {
	_, err := open("libmocokit-absent.so.0")
	if err == nil || !strings.Contains(err.Error(), "dlopen libmocokit-absent.so.0: ") {
		t.Fatalf("open error = %v, want one naming the library", err)
	}
}

func TestOpenNamesMissingSymbol(t *testing.T) {
	// The C library is present wherever cgo programs run, and has no BLAS.
	_, err := open("libc.so.6")
	if err == nil || !strings.Contains(err.Error(), "libc.so.6: missing symbol cblas_sgemm: ") {
		t.Fatalf("open error = %v, want one naming the library and cblas_sgemm", err)
	}
	t.Log(err)
}
