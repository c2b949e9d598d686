package inference

import (
	"math"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/inference/inferencetest"
)

func TestEveryGraphOptLevelMatchesPyTorch(t *testing.T) {
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	files := fx.Expected.Files[:4]
	for _, level := range GraphOptLevels {
		s, err := Open(fx.Classifier, Options{Library: lib, Threads: 1, GraphOpt: level})
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		out, err := s.Run(batchOf(t, s, fx, files), len(files))
		s.Close()
		if err != nil {
			t.Fatalf("%s: %v", level, err)
		}
		for i := range files {
			for j, want := range fx.Expected.Logits[i] {
				if d := math.Abs(float64(out[i*10+j]) - want); d > 1e-4 {
					t.Fatalf("%s: image %d logit %d is %v, PyTorch %v", level, i, j,
						out[i*10+j], want)
				}
			}
		}
	}
}

func TestOpenRejectsBadCPUOptions(t *testing.T) {
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	_, err := Open(fx.Classifier, Options{Library: lib, GraphOpt: "max"})
	if err == nil || !strings.Contains(err.Error(), `"max"`) ||
		!strings.Contains(err.Error(), "extended") {
		t.Fatalf("bad level: %v", err)
	}
	if _, err := Open(fx.Classifier, Options{Library: lib, Threads: -2}); err == nil {
		t.Fatal("negative threads accepted")
	}
	if l, err := ParseGraphOpt(""); err != nil || l != GraphOptAll {
		t.Fatalf("default level %q, %v", l, err)
	}
}
