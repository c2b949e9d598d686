package main

import (
	"fmt"
	"strings"

	"github.com/spf13/pflag"
)

// runFlagNames are the flags that set where a run's files and data are, as
// opposed to its recipe; they may accompany --resume.
var runFlagNames = map[string]bool{"data": true, "test-data": true, "out": true,
	"resume": true, "backend": true, "keep": true, "workers": true, "epochs": true,
	"verbose": true, "save-pth": true}

// checkResumeFlags refuses recipe flags with --resume: a resumed run keeps
// the options it was started with (only --epochs may change), and a flag
// that silently did nothing would mislead.
func checkResumeFlags(f *pflag.FlagSet, resume bool) error {
	if !resume {
		return nil
	}
	var ignored []string
	f.Visit(func(fl *pflag.Flag) {
		if !runFlagNames[fl.Name] {
			ignored = append(ignored, "--"+fl.Name)
		}
	})
	if len(ignored) > 0 {
		return fmt.Errorf("--resume continues with the options the run started with; "+
			"only --epochs may change, not %s", strings.Join(ignored, ", "))
	}
	return nil
}

// resumeEpochs is --epochs when given with --resume, else 0 (the run's own).
func resumeEpochs(f *pflag.FlagSet, epochs int) int {
	if f.Changed("epochs") {
		return epochs
	}
	return 0
}
