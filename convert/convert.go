package convert

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/mocokit/mocokit/export"
)

// Report says what a conversion found and wrote.
type Report struct {
	In, Out    string
	Checkpoint *Checkpoint
	Plan       *Plan
}

// PthToONNX converts the PyTorch file in to the ONNX file out. On any error
// out is left as it was: the ONNX file is written to a temporary name and
// renamed into place.
func PthToONNX(in, out string, opt Options) (*Report, error) {
	if err := checkOutput(in, out); err != nil {
		return nil, err
	}
	ck, plan, err := loadPlan(in, opt)
	if err != nil {
		return nil, err
	}
	if err := export.WriteFile(out, plan.Config, plan.Weights, plan.Meta); err != nil {
		return nil, err
	}
	return &Report{In: in, Out: out, Checkpoint: ck, Plan: plan}, nil
}

// loadPlan reads the PyTorch file in and plans its network.
func loadPlan(in string, opt Options) (*Checkpoint, *Plan, error) {
	ck, err := Load(in)
	if err != nil {
		return nil, nil, err
	}
	if opt.Source == "" {
		opt.Source = filepath.Base(in)
	}
	plan, err := MakePlan(ck, opt)
	if err != nil {
		return nil, nil, fmt.Errorf("%s (%s): %w", in, ck.Kind, err)
	}
	return ck, plan, nil
}

// checkOutput refuses an output path that would overwrite the input or is
// a folder, before any work is done.
func checkOutput(in, out string) error {
	outInfo, err := os.Stat(out)
	if err != nil {
		return nil // a new file
	}
	if outInfo.IsDir() {
		return fmt.Errorf("output %s is a folder; name the ONNX file to write", out)
	}
	if inInfo, err := os.Stat(in); err == nil && os.SameFile(inInfo, outInfo) {
		return fmt.Errorf("output %s is the input file; name another ONNX file", out)
	}
	return nil
}

// String prints the report as the convert command shows it.
func (r *Report) String() string {
	var b strings.Builder
	ck, p := r.Checkpoint, r.Plan
	fmt.Fprintf(&b, "read      %s\n", r.In)
	fmt.Fprintf(&b, "kind      %s\n", ck.Kind)
	if ck.Arch != "" {
		fmt.Fprintf(&b, "arch      %s\n", ck.Arch)
	}
	if ck.Epoch >= 0 {
		fmt.Fprintf(&b, "epoch     %d\n", ck.Epoch)
	}
	if ck.BestAcc1 >= 0 {
		fmt.Fprintf(&b, "best_acc1 %.2f\n", ck.BestAcc1)
	}
	fmt.Fprintf(&b, "tensors   %d in the state_dict, %d exported\n",
		len(ck.Order), len(p.Weights))
	fmt.Fprintf(&b, "model     %s (stem %s, head %s, output %q [batch %d])\n",
		p.Config, p.Config.Stem, p.Config.Head, p.Meta.Output, p.Config.OutputDim())
	pre := p.Meta.Preprocess
	fmt.Fprintf(&b, "input     %dx%d RGB, mean %v, std %v\n",
		pre.InputSize, pre.InputSize, pre.Mean, pre.Std)
	for _, n := range p.Notes {
		fmt.Fprintf(&b, "note      %s\n", n)
	}
	fmt.Fprintf(&b, "wrote     %s\n", r.Out)
	return b.String()
}
