package backend

import (
	"os"
	"runtime/debug"
)

// TrainingGCPercent is the garbage collector's target for training
// processes. A training step allocates and drops hundreds of MiB of
// intermediate buffers; at Go's default of 100 the heap grows to twice the
// live data before it is collected. At 25 the peak RSS of a ResNet-18 step
// on 32x32 inputs is about a third lower (half at batch 128) at the same
// speed: compare scripts/bench_train.sh with GOGC=100 and without.
const TrainingGCPercent = 25

// TuneGC sets the garbage collector's target to TrainingGCPercent unless
// the GOGC environment variable sets one; it reports whether it did.
func TuneGC() bool {
	if os.Getenv("GOGC") != "" {
		return false
	}
	debug.SetGCPercent(TrainingGCPercent)
	return true
}
