package main

import (
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// side is what one framework measured on a row.
type side struct {
	Rates       []float64 // images/s, one per round
	PeakRSS     int64     // bytes
	WarmSeconds float64   // building, compiling and the warm-up step
}

// result is one row of the table.
type result struct {
	Row          row
	Mocokit      side
	Torch        side
	TorchVersion string
}

// median is the middle value of xs, the mean of the middle two for an even
// count, and 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Sorted(slices.Values(xs))
	m := len(s) / 2
	if len(s)%2 == 1 {
		return s[m]
	}
	return (s[m-1] + s[m]) / 2
}

// slowdown is mocokit's time per image over PyTorch's (PyTorch's images/s
// over mocokit's): how many times slower mocokit is; 0 when unmeasured.
func (r result) slowdown() float64 {
	m := median(r.Mocokit.Rates)
	if m == 0 {
		return 0
	}
	return median(r.Torch.Rates) / m
}

// machine describes where the table was measured.
type machine struct {
	CPU     string // model name from /proc/cpuinfo
	CPUs    int    // logical CPUs this process may use
	Threads int    // GOMAXPROCS of the Go worker, torch.set_num_threads
	Backend string // backend.Describe of the Go side
	Python  string
	// LoadStart and LoadEnd are the 1-minute load averages when the run
	// began and ended: other work on the cores slows either side, PyTorch's
	// OpenMP threads most.
	LoadStart, LoadEnd string
}

// writeHeader says what the table measures and how.
func writeHeader(w io.Writer, m machine, rounds int) {
	fmt.Fprintf(w, "ResNet-18 training and inference speed, random 32x32 batches, "+
		"10 classes\n")
	fmt.Fprintf(w, "machine:  %s, %d CPUs; GOMAXPROCS %d, torch.set_num_threads(%d)\n",
		m.CPU, m.CPUs, m.Threads, m.Threads)
	fmt.Fprintf(w, "load:     %s at the start, %s at the end (1-minute load average; "+
		"other work skews the numbers)\n", m.LoadStart, m.LoadEnd)
	fmt.Fprintf(w, "mocokit:  %s\n", m.Backend)
	fmt.Fprintf(w, "PyTorch:  eager on CPU, %s\n", m.Python)
	fmt.Fprintf(w, "train = forward, cross-entropy, backward and SGD update (lr %g, "+
		"momentum %g, Nesterov, weight decay %g);\n", benchLR, benchMomentum,
		benchWeightDecay)
	fmt.Fprintf(w, "infer = eval-mode forward (running statistics, no gradients).\n")
	fmt.Fprintf(w, "images/s: median of %d rounds of STEPS timed steps, after one untimed "+
		"warm-up step\n  (compilation excluded); which side runs first alternates "+
		"between rounds.\n", rounds)
	fmt.Fprintf(w, "slower: mocokit time / PyTorch time, i.e. PyTorch images/s over "+
		"mocokit's.\n")
	fmt.Fprintf(w, "peak RSS: VmHWM in /proc/self/status of a fresh process per row "+
		"(this binary re-executed,\n  a new python3), read after its last round.\n\n")
}

// writeTable prints one line per result.
func writeTable(w io.Writer, results []result) {
	const format = "%-8s %5s %-5s %5s %13s %13s %8s %11s %11s\n"
	fmt.Fprintf(w, format, "stem", "batch", "mode", "steps", "mocokit img/s",
		"PyTorch img/s", "slower", "mocokit RSS", "PyTorch RSS")
	for _, r := range results {
		fmt.Fprintf(w, format, r.Row.Stem, fmt.Sprint(r.Row.Batch), r.Row.Mode,
			fmt.Sprint(r.Row.Steps), rate(median(r.Mocokit.Rates)),
			rate(median(r.Torch.Rates)), fmt.Sprintf("%.1fx", r.slowdown()),
			mebibytes(r.Mocokit.PeakRSS), mebibytes(r.Torch.PeakRSS))
	}
}

// rate writes images/s with a precision that suits its size.
func rate(x float64) string {
	if x < 100 {
		return fmt.Sprintf("%.2f", x)
	}
	return fmt.Sprintf("%.0f", x)
}

func mebibytes(b int64) string { return fmt.Sprintf("%d MiB", (b+1<<19)>>20) }

// loadAverage is the 1-minute load average from /proc/loadavg.
func loadAverage() string {
	data, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(data)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}

// cpuModel is the processor's model name from /proc/cpuinfo.
func cpuModel() string {
	data, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	return parseCPUModel(string(data))
}

// parseCPUModel finds the first "model name" line of a /proc/cpuinfo text.
func parseCPUModel(cpuinfo string) string {
	for _, line := range strings.Split(cpuinfo, "\n") {
		key, val, ok := strings.Cut(line, ":")
		if ok && strings.TrimSpace(key) == "model name" {
			return strings.TrimSpace(val)
		}
	}
	return "unknown CPU"
}
