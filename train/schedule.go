package train

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// Schedule sets the learning rate of each epoch, as PyTorch's schedulers do
// when stepped once per epoch.
type Schedule struct {
	Kind       string  // "constant", "step", "multistep" or "cosine"
	StepSize   int     // step: epochs between decays
	Milestones []int   // multistep: epochs at which lr decays
	Gamma      float64 // step, multistep: decay factor
}

// LR is the learning rate of epoch (0-based) out of epochs.
func (s Schedule) LR(base float64, epoch, epochs int) float64 {
	switch s.Kind {
	case "step":
		return base * math.Pow(s.Gamma, float64(epoch/s.StepSize))
	case "multistep":
		n := 0
		for _, m := range s.Milestones {
			if epoch >= m {
				n++
			}
		}
		return base * math.Pow(s.Gamma, float64(n))
	case "cosine":
		return base * 0.5 * (1 + math.Cos(math.Pi*float64(epoch)/float64(epochs)))
	}
	return base
}

// String is the form ParseSchedule reads.
func (s Schedule) String() string {
	switch s.Kind {
	case "step":
		return fmt.Sprintf("step:%d:%g", s.StepSize, s.Gamma)
	case "multistep":
		ms := make([]string, len(s.Milestones))
		for i, m := range s.Milestones {
			ms[i] = strconv.Itoa(m)
		}
		return fmt.Sprintf("multistep:%s:%g", strings.Join(ms, ","), s.Gamma)
	}
	return s.Kind
}

// ParseSchedule reads "constant", "cosine", "step:SIZE:GAMMA" (StepLR) or
// "multistep:E1,E2,...:GAMMA" (MultiStepLR).
func ParseSchedule(text string) (Schedule, error) {
	parts := strings.Split(text, ":")
	bad := func(why string) (Schedule, error) {
		return Schedule{}, fmt.Errorf("schedule %q: %s (want constant, cosine, "+
			"step:SIZE:GAMMA or multistep:E1,E2:GAMMA)", text, why)
	}
	switch parts[0] {
	case "constant", "cosine":
		if len(parts) != 1 {
			return bad("takes no arguments")
		}
		return Schedule{Kind: parts[0]}, nil
	case "step", "multistep":
		if len(parts) != 3 {
			return bad("needs two arguments")
		}
	default:
		return bad("unknown kind")
	}
	gamma, err := strconv.ParseFloat(parts[2], 64)
	if err != nil || gamma <= 0 {
		return bad("gamma must be a positive number")
	}
	s := Schedule{Kind: parts[0], Gamma: gamma}
	for _, f := range strings.Split(parts[1], ",") {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return bad("epochs must be positive integers")
		}
		s.Milestones = append(s.Milestones, n)
	}
	if s.Kind == "step" {
		if len(s.Milestones) != 1 {
			return bad("step takes one step size")
		}
		s.StepSize, s.Milestones = s.Milestones[0], nil
	}
	return s, nil
}
