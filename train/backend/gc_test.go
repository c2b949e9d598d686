package backend

import (
	"runtime/debug"
	"testing"
)

func TestTuneGCLeavesAGivenGOGC(t *testing.T) {
	old := debug.SetGCPercent(100)
	defer debug.SetGCPercent(old)

	t.Setenv("GOGC", "50")
	if TuneGC() {
		t.Error("TuneGC changed the target although GOGC is set")
	}
	if got := debug.SetGCPercent(100); got != 100 {
		t.Errorf("GC target %d after TuneGC with GOGC set, want 100", got)
	}
	t.Setenv("GOGC", "")
	if !TuneGC() {
		t.Error("TuneGC left the target although GOGC is unset")
	}
	if got := debug.SetGCPercent(100); got != TrainingGCPercent {
		t.Errorf("GC target %d after TuneGC, want %d", got, TrainingGCPercent)
	}
}
