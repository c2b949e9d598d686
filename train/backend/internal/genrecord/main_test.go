package main

import (
	"bytes"
	"os"
	"testing"
)

// TestRecordOpsIsCurrent regenerates record_ops.go from the GoMLX module in
// use and compares it with the committed file.
func TestRecordOpsIsCurrent(t *testing.T) {
	want, err := render()
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
