package train

import (
	"errors"
	"fmt"

	"github.com/mocokit/mocokit/augment"
	"github.com/mocokit/mocokit/models"
)

// MoCoOptions is the recipe of a MoCo pretraining run: main_moco.py's
// options, plus the single-device batch-norm splits and the kNN monitor.
type MoCoOptions struct {
	Preset      string      `json:"preset"`
	Stem        models.Stem `json:"stem"`
	Size        int         `json:"size"` // input side after RandomResizedCrop
	Epochs      int         `json:"epochs"`
	BatchSize   int         `json:"batch_size"`
	LR          float64     `json:"lr"`
	Momentum    float64     `json:"momentum"`
	WeightDecay float64     `json:"weight_decay"`
	Schedule    string      `json:"schedule"` // --cos is "cosine"
	Dim         int         `json:"moco_dim"`
	K           int         `json:"moco_k"`
	M           float64     `json:"moco_m"`
	T           float64     `json:"moco_t"`
	MLP         bool        `json:"mlp"`
	AugPlus     bool        `json:"aug_plus"`
	Symmetric   bool        `json:"symmetric"`
	BNSplits    int         `json:"bn_splits"`
	Mean        [3]float32  `json:"mean"`
	Std         [3]float32  `json:"std"`
	Seed        uint64      `json:"seed"`
	// KNNEvery runs the kNN monitor every so many epochs (0: never), with
	// KNNK neighbours at temperature KNNT, on at most KNNBank training and
	// TestImages test images (0: all).
	KNNEvery      int     `json:"knn_every"`
	KNNK          int     `json:"knn_k"`
	KNNT          float64 `json:"knn_t"`
	KNNBank       int     `json:"knn_bank"`
	TestImages    int     `json:"test_images"`
	StepsPerEpoch int     `json:"steps_per_epoch"`
}

// MoCoPresets are the named recipes of `mocokit train moco --preset`.
var MoCoPresets = map[string]MoCoOptions{
	// default: main_moco.py's defaults (lr 0.03, batch 256, weight decay
	// 1e-4, momentum 0.9, 200 epochs, lr / 10 at 120 and 160, dim 128,
	// K 65536, m 0.999, T 0.07) on CIFAR-10 as the MoCo CIFAR-10
	// demonstration trains it: CIFAR stem at 32x32, batch norm over 8
	// sub-batches, CIFAR-10's mean and std, kNN monitor every 10 epochs.
	"default": {Preset: "default", Stem: models.StemCIFAR, Size: 32, Epochs: 200,
		BatchSize: 256, LR: 0.03, Momentum: 0.9, WeightDecay: 1e-4,
		Schedule: "multistep:120,160:0.1", Dim: 128, K: 65536, M: 0.999, T: 0.07,
		BNSplits: 8, Mean: [3]float32{0.4914, 0.4822, 0.4465},
		Std: [3]float32{0.2470, 0.2435, 0.2616}, Seed: 1, KNNEvery: 10, KNNK: 200, KNNT: 0.1},
	// seed: the original run: torchvision resnet18, MoCo v1 augmentation
	// with RandomResizedCrop to 224, mean and std 0.5, one GPU (where
	// shuffling BN changes nothing: plain batch norm).
	"seed": {Preset: "seed", Stem: models.StemImageNet, Size: 224, Epochs: 200,
		BatchSize: 256, LR: 0.03, Momentum: 0.9, WeightDecay: 1e-4,
		Schedule: "multistep:120,160:0.1", Dim: 128, K: 65536, M: 0.999, T: 0.07,
		BNSplits: 1, Mean: [3]float32{0.5, 0.5, 0.5}, Std: [3]float32{0.5, 0.5, 0.5},
		Seed: 1, KNNEvery: 10, KNNK: 200, KNNT: 0.1},
}

// Config is the encoder the options describe.
func (o MoCoOptions) Config() models.Config {
	if o.MLP {
		return models.Config{Stem: o.Stem, Head: models.HeadMoCoMLP, EmbedDim: o.Dim,
			HiddenDim: models.FeatureDim}
	}
	return models.Config{Stem: o.Stem, Head: models.HeadMoCo, EmbedDim: o.Dim}
}

// MoCo is the contrastive task the options describe.
func (o MoCoOptions) MoCo() MoCoConfig {
	return MoCoConfig{K: o.K, M: o.M, T: o.T, BNSplits: o.BNSplits, Symmetric: o.Symmetric}
}

// Augmentation is main_moco.py's: MoCo v1's, or v2's with --aug-plus.
func (o MoCoOptions) Augmentation() augment.Transform {
	crop := augment.RandomResizedCrop(o.Size, 0.2, 1, 3.0/4, 4.0/3)
	if o.AugPlus {
		return augment.Compose(crop,
			augment.RandomApply(augment.ColorJitter(0.4, 0.4, 0.4, 0.1), 0.8),
			augment.RandomGrayscale(0.2),
			augment.RandomApply(augment.GaussianBlur(0.1, 2), 0.5),
			augment.RandomHorizontalFlip(0.5))
	}
	return augment.Compose(crop, augment.RandomGrayscale(0.2),
		augment.ColorJitter(0.4, 0.4, 0.4, 0.4), augment.RandomHorizontalFlip(0.5))
}

// Validate reports every option that cannot make a run.
func (o MoCoOptions) Validate() error {
	var errs []error
	check := func(bad bool, format string, args ...any) {
		if bad {
			errs = append(errs, fmt.Errorf(format, args...))
		}
	}
	check(o.Stem != models.StemImageNet && o.Stem != models.StemCIFAR,
		"stem %q: want imagenet or cifar", o.Stem)
	check(o.Size < 8 || o.Size > 512, "size %d: want 8 to 512 pixels", o.Size)
	check(o.Epochs < 1 || o.BatchSize < 1, "epochs and batch size must be at least 1")
	check(!(o.LR > 0), "learning rate %v: want a positive number", o.LR)
	check(o.Momentum < 0 || o.Momentum >= 1, "momentum %v: want 0 <= m < 1", o.Momentum)
	check(o.WeightDecay < 0, "weight decay %v: want >= 0", o.WeightDecay)
	check(o.Dim < 1, "moco-dim %d: want at least 1", o.Dim)
	check(!(o.M >= 0 && o.M < 1), "moco-m %v: want 0 <= m < 1", o.M)
	check(!(o.T > 0), "moco-t %v: want a positive temperature", o.T)
	check(o.BNSplits < 1, "bn-splits %d: want at least 1", o.BNSplits)
	keys := o.BatchSize
	if o.Symmetric {
		keys *= 2
	}
	check(keys > 0 && (o.K < keys || o.K%keys != 0), "moco-k %d: want a multiple of the "+
		"%d keys a step enqueues (main_moco.py asserts K %% batch size == 0)", o.K, keys)
	check(o.BNSplits > 0 && o.BatchSize%o.BNSplits != 0,
		"batch size %d does not split into %d batch-norm groups", o.BatchSize, o.BNSplits)
	check(o.BNSplits > 0 && o.BatchSize > 0 && o.BatchSize/o.BNSplits < 2,
		"batch size %d in %d batch-norm groups leaves %d image per group; batch norm "+
			"needs at least 2", o.BatchSize, o.BNSplits, o.BatchSize/max(o.BNSplits, 1))
	check(o.KNNEvery < 0 || o.KNNK < 0 || o.KNNBank < 0 || o.TestImages < 0 ||
		o.StepsPerEpoch < 0, "kNN settings and caps must be >= 0")
	check(o.KNNEvery > 0 && !(o.KNNT > 0 && o.KNNK > 0), "kNN needs k > 0 and t > 0")
	if _, err := ParseSchedule(o.Schedule); err != nil {
		errs = append(errs, err)
	}
	pre := models.Preprocess{InputSize: o.Size, Mean: o.Mean, Std: o.Std}
	if err := pre.Validate(); err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("train: %w", err)
	}
	return nil
}
