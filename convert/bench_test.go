package convert_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/convert"
)

// BenchmarkConvertMoCo converts the MoCo checkpoint named by
// $MOCOKIT_MOCO_CKPT (scripts/bench.sh writes one with
// convert/torchfile/testdata/make_moco_checkpoint.py) to ONNX: reading,
// recognising, and writing the query encoder.
func BenchmarkConvertMoCo(b *testing.B) {
	in := os.Getenv("MOCOKIT_MOCO_CKPT")
	if in == "" {
		b.Skip("set MOCOKIT_MOCO_CKPT to a main_moco.py checkpoint (scripts/bench.sh does)")
	}
	out := filepath.Join(b.TempDir(), "moco.onnx")
	for i := 0; i < b.N; i++ {
		if _, err := convert.PthToONNX(in, out, convert.Options{}); err != nil {
			b.Fatal(err)
		}
	}
}
