package main

import (
	"bytes"
	"go/format"
	"os"
	"testing"
)

// TestRecordOpsIsCurrent regenerates record_ops.go from the GoMLX module in
// use and compares it with the committed file.
func TestRecordOpsIsCurrent(t *testing.T) {
	src, err := standardOpsFile()
	if err != nil {
		t.Fatal(err)
	}
	methods, err := parseMethods(src)
	if err != nil {
		t.Fatal(err)
	}
	if len(methods) < 90 {
		t.Fatalf("%d ops read from %s, expected the ~100 of StandardOps", len(methods), src)
	}
	want, err := format.Source(generate(methods))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile("../../record_ops.go")
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("train/backend/record_ops.go is stale: run go generate ./train/backend")
	}
}
