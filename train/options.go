package train

import (
	"errors"
	"fmt"
	"sort"

	"github.com/mocokit/mocokit/models"
)

// Options is the recipe of a supervised training run.
type Options struct {
	Preset      string      `json:"preset"`
	Stem        models.Stem `json:"stem"`
	Epochs      int         `json:"epochs"`
	BatchSize   int         `json:"batch_size"`
	LR          float64     `json:"lr"`
	Momentum    float64     `json:"momentum"`
	WeightDecay float64     `json:"weight_decay"`
	Nesterov    bool        `json:"nesterov"`
	Schedule    string      `json:"schedule"`
	Augment     string      `json:"augment"`        // "crop-flip", "rrc-flip" or "none"
	Size        int         `json:"size,omitempty"` // input side; 0 means 32
	Mean        [3]float32  `json:"mean"`
	Std         [3]float32  `json:"std"`
	Seed        uint64      `json:"seed"`
	// StopAtTrainAcc ends the run after an epoch whose training accuracy,
	// in percent, exceeds it; 0 never stops early.
	StopAtTrainAcc float64 `json:"stop_at_train_acc"`
	// StepsPerEpoch caps the steps of an epoch (0: the whole training set),
	// and TestImages the test images evaluated (0: all), for short runs.
	StepsPerEpoch int `json:"steps_per_epoch"`
	TestImages    int `json:"test_images"`
}

// Presets are the named recipes of `mocokit train baseline --preset`.
var Presets = map[string]Options{
	// default: what a practitioner trains on CIFAR-10 today: CIFAR stem,
	// random crop with 4-pixel padding and flip, SGD with Nesterov momentum
	// 0.9, weight decay 5e-4 and a cosine schedule, CIFAR-10's per-channel
	// mean and std.
	"default": {
		Preset: "default", Stem: models.StemCIFAR, Epochs: 30, BatchSize: 128,
		LR: 0.1, Momentum: 0.9, WeightDecay: 5e-4, Nesterov: true, Schedule: "cosine",
		Augment: "crop-flip", Mean: [3]float32{0.4914, 0.4822, 0.4465},
		Std: [3]float32{0.2470, 0.2435, 0.2616}, Seed: 1,
	},
	// seed: the original PyTorch baseline: torchvision resnet18 (ImageNet
	// stem) with a 10-way fc, 32x32 inputs normalised with mean and std
	// 0.5, no augmentation, batch 32, SGD lr 0.005 momentum 0.5, StepLR
	// (step 2, gamma 0.8), up to 20 epochs, stopping once training accuracy
	// passes 99.9%.
	"seed": {
		Preset: "seed", Stem: models.StemImageNet, Epochs: 20, BatchSize: 32,
		LR: 0.005, Momentum: 0.5, Schedule: "step:2:0.8", Augment: "none",
		Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}, Seed: 1,
		StopAtTrainAcc: 99.9,
	},
}

// PresetNames lists the presets in order, for help texts.
func PresetNames() []string {
	names := make([]string, 0, len(Presets))
	for n := range Presets {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// Preset returns the named recipe.
func Preset(name string) (Options, error) {
	o, ok := Presets[name]
	if !ok {
		return Options{}, fmt.Errorf("unknown preset %q (have %v)", name, PresetNames())
	}
	return o, nil
}

// Validate reports the first option that cannot make a run.
func (o Options) Validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(o.Stem != models.StemImageNet && o.Stem != models.StemCIFAR,
		"stem %q: want imagenet or cifar", o.Stem)
	check(o.Epochs < 1, "epochs %d: want at least 1", o.Epochs)
	check(o.BatchSize < 1, "batch size %d: want at least 1", o.BatchSize)
	check(!(o.LR > 0), "learning rate %v: want a positive number", o.LR)
	check(o.Momentum < 0 || o.Momentum >= 1, "momentum %v: want 0 <= m < 1", o.Momentum)
	check(o.WeightDecay < 0, "weight decay %v: want >= 0", o.WeightDecay)
	check(o.Nesterov && o.Momentum == 0, "nesterov needs a momentum")
	check(o.Augment != "none" && o.Augment != "crop-flip" && o.Augment != "rrc-flip",
		"augment %q: want none, crop-flip or rrc-flip", o.Augment)
	check(o.Size < 0 || o.Size > 512, "size %d: want 8 to 512 pixels", o.Size)
	check(o.StepsPerEpoch < 0 || o.TestImages < 0, "step and image caps must be >= 0")
	if _, err := ParseSchedule(o.Schedule); err != nil {
		errs = append(errs, err)
	}
	pre := models.Preprocess{InputSize: o.InputSize(), Mean: o.Mean, Std: o.Std}
	if err := pre.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}

// InputSize is the side of the network's input.
func (o Options) InputSize() int {
	if o.Size == 0 {
		return 32
	}
	return o.Size
}

// LinclsPresets are the recipes of `mocokit train lincls --preset`:
// main_lincls.py's (lr 30, momentum 0.9, no weight decay, batch 256, 100
// epochs, lr / 10 at 60 and 80, RandomResizedCrop and flip). The stem comes
// from the pretrained encoder; default keeps CIFAR-10's 32x32 images and the
// encoder's normalisation, seed resizes to 224 with mean and std 0.5 as the
// original run did.
var LinclsPresets = map[string]Options{
	"default": {Preset: "default", Epochs: 100, BatchSize: 256, LR: 30, Momentum: 0.9,
		Schedule: "multistep:60,80:0.1", Augment: "rrc-flip", Size: 32, Seed: 1},
	"seed": {Preset: "seed", Epochs: 100, BatchSize: 256, LR: 30, Momentum: 0.9,
		Schedule: "multistep:60,80:0.1", Augment: "rrc-flip", Size: 224, Seed: 1,
		Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5}},
}
