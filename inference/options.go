package inference

import (
	"fmt"

	ort "github.com/yalue/onnxruntime_go"
)

// GraphOpt is how much onnxruntime rewrites the graph when it opens a
// model: constant folding and node fusions (a convolution with its batch
// norm and ReLU, for ResNet-18) save time on every run.
type GraphOpt string

// Graph optimisation levels, as onnxruntime names them.
const (
	GraphOptDisable  GraphOpt = "disable"  // run the graph as written
	GraphOptBasic    GraphOpt = "basic"    // constant folding, redundant nodes removed
	GraphOptExtended GraphOpt = "extended" // basic plus provider-specific fusions
	GraphOptAll      GraphOpt = "all"      // extended plus memory layout changes
)

// GraphOptLevels lists the accepted GraphOpt values, for flags and errors.
var GraphOptLevels = []GraphOpt{GraphOptDisable, GraphOptBasic, GraphOptExtended,
	GraphOptAll}

// ParseGraphOpt checks a level given as text; "" is GraphOptAll.
func ParseGraphOpt(s string) (GraphOpt, error) {
	if s == "" {
		return GraphOptAll, nil
	}
	for _, l := range GraphOptLevels {
		if GraphOpt(s) == l {
			return l, nil
		}
	}
	return "", fmt.Errorf("inference: graph optimisation level %q, want one of %v",
		s, GraphOptLevels)
}

func (g GraphOpt) ort() (ort.GraphOptimizationLevel, error) {
	level, err := ParseGraphOpt(string(g))
	if err != nil {
		return 0, err
	}
	switch level {
	case GraphOptDisable:
		return ort.GraphOptimizationLevelDisableAll, nil
	case GraphOptBasic:
		return ort.GraphOptimizationLevelEnableBasic, nil
	case GraphOptExtended:
		return ort.GraphOptimizationLevelEnableExtended, nil
	}
	return ort.GraphOptimizationLevelEnableAll, nil
}

// applyCPUOptions sets the thread count and graph optimisation level.
// Inter-op threads stay at onnxruntime's default: ResNet-18 is one chain
// of operators, so there is nothing to run side by side.
func applyCPUOptions(so *ort.SessionOptions, opts Options) error {
	if opts.Threads < 0 {
		return fmt.Errorf("inference: %d threads, want 0 (automatic) or more", opts.Threads)
	}
	if opts.Threads > 0 {
		if err := so.SetIntraOpNumThreads(opts.Threads); err != nil {
			return fmt.Errorf("inference: %d threads: %w", opts.Threads, err)
		}
	}
	level, err := opts.GraphOpt.ort()
	if err != nil {
		return err
	}
	if err := so.SetGraphOptimizationLevel(level); err != nil {
		return fmt.Errorf("inference: graph optimisation %s: %w", opts.GraphOpt, err)
	}
	return nil
}
