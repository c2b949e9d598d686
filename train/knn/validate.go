package knn

import (
	"errors"
	"fmt"
	"math"

	"github.com/gomlx/gomlx/backends"
)

// validate checks the settings and the shapes and labels of the inputs.
func validate(b backends.Backend, cfg Config, bank []float32, bankLabels []int32,
	test []float32, dim int) error {
	if b == nil {
		return errors.New("knn: no backend")
	}
	if err := cfg.check(); err != nil {
		return err
	}
	if dim < 1 {
		return fmt.Errorf("knn: feature dimension %d, want at least 1", dim)
	}
	if len(bank)%dim != 0 {
		return fmt.Errorf("knn: bank of %d values is not rows of dimension %d", len(bank), dim)
	}
	if len(test)%dim != 0 {
		return fmt.Errorf("knn: test set of %d values is not rows of dimension %d",
			len(test), dim)
	}
	if len(bank) == 0 {
		return errors.New("knn: empty bank: no neighbours to vote")
	}
	if n := len(bank) / dim; len(bankLabels) != n {
		return fmt.Errorf("knn: %d bank labels for %d bank features", len(bankLabels), n)
	}
	return checkLabels("bank", bankLabels, cfg.Classes)
}

// check rejects settings that define no classifier.
func (cfg Config) check() error {
	if cfg.K < 1 {
		return fmt.Errorf("knn: k = %d, want at least 1", cfg.K)
	}
	if !(cfg.Temperature > 0) || math.IsInf(cfg.Temperature, 1) {
		return fmt.Errorf("knn: temperature %g, want a positive finite number", cfg.Temperature)
	}
	if cfg.Classes < 1 {
		return fmt.Errorf("knn: %d classes, want at least 1", cfg.Classes)
	}
	if cfg.Chunk < 0 {
		return fmt.Errorf("knn: chunk of %d test rows, want at least 1 (0: default %d)",
			cfg.Chunk, DefaultChunk)
	}
	return nil
}

// checkLabels rejects a label outside [0, classes).
func checkLabels(what string, labels []int32, classes int) error {
	for i, l := range labels {
		if l < 0 || int(l) >= classes {
			return fmt.Errorf("knn: %s label %d at %d is outside [0, %d)", what, l, i, classes)
		}
	}
	return nil
}
