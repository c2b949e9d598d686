// Package loader streams training batches from a dataset: a permutation of
// the samples drawn from a seed, each image augmented (package augment)
// and normalised into float32 NCHW arrays by parallel workers that run
// ahead of the trainer.
//
// An epoch is reproducible: its order comes from (Seed, epoch) alone, and
// each image's augmentation from (Seed, epoch, sample index, view), so the
// same seed and epoch give the same batches, pixel for pixel, whatever the
// number of workers and however they are scheduled.
package loader

import (
	"fmt"
	"image"
	"runtime"

	"github.com/disintegration/imaging"

	"github.com/mocokit/mocokit/augment"
	"github.com/mocokit/mocokit/dataset"
)

// DefaultPrefetch is how many batches the workers prepare ahead of the
// consumer when Config.Prefetch is 0.
const DefaultPrefetch = 2

// Config says how batches are made.
type Config struct {
	BatchSize int
	Shuffle   bool   // a new permutation every epoch; otherwise dataset order
	Seed      uint64 // of the permutations and of every augmentation
	DropLast  bool   // leave out a last, smaller batch
	Workers   int    // goroutines decoding and augmenting; 0 = runtime.GOMAXPROCS
	Prefetch  int    // batches prepared ahead; 0 = DefaultPrefetch

	// Transform augments each image; nil leaves images as they are.
	Transform augment.Transform
	// Views is how many independently augmented copies of each image a
	// batch holds: 1, or 2 for MoCo's query and key crops. 0 means 1.
	Views int
	// Mean and Std normalise each channel after scaling bytes to [0, 1].
	Mean, Std [3]float32
	// Size is the side of the square images the transform must produce.
	Size int
}

// Batch is one step's input.
type Batch struct {
	// Views[v] holds view v of every image, [len(Labels), 3, Size, Size]
	// in NCHW order.
	Views   [][]float32
	Labels  []int32
	Indices []int // the samples' positions in the dataset
	Size    int   // the images' side
}

// Loader makes batches from one dataset; it may serve several epochs,
// also at the same time.
type Loader struct {
	ds  *dataset.Dataset
	cfg Config
}

// New checks cfg against ds and returns a Loader.
func New(ds *dataset.Dataset, cfg Config) (*Loader, error) {
	if ds == nil || len(ds.Samples) == 0 {
		return nil, fmt.Errorf("loader: empty dataset")
	}
	if cfg.Views == 0 {
		cfg.Views = 1
	}
	if cfg.Workers == 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Prefetch == 0 {
		cfg.Prefetch = DefaultPrefetch
	}
	if err := checkConfig(cfg, len(ds.Samples)); err != nil {
		return nil, err
	}
	if cfg.Transform == nil {
		if err := checkSizes(ds, cfg.Size); err != nil {
			return nil, err
		}
	} else if err := augment.Check(cfg.Transform); err != nil {
		return nil, fmt.Errorf("loader: transform: %w", err)
	}
	return &Loader{ds: ds, cfg: cfg}, nil
}

func checkConfig(cfg Config, n int) error {
	switch {
	case cfg.BatchSize < 1:
		return fmt.Errorf("loader: batch size %d, want at least 1", cfg.BatchSize)
	case cfg.Size < 1:
		return fmt.Errorf("loader: image size %d, want at least 1", cfg.Size)
	case cfg.Views != 1 && cfg.Views != 2:
		return fmt.Errorf("loader: %d views, want 1 or 2", cfg.Views)
	case cfg.Workers < 0 || cfg.Prefetch < 0:
		return fmt.Errorf("loader: %d workers and prefetch %d, want neither negative",
			cfg.Workers, cfg.Prefetch)
	case cfg.DropLast && n < cfg.BatchSize:
		return fmt.Errorf("loader: %d samples make no full batch of %d", n, cfg.BatchSize)
	}
	for c, s := range cfg.Std {
		if s == 0 {
			return fmt.Errorf("loader: std of channel %d is zero", c)
		}
	}
	return nil
}

// checkSizes makes sure that, with no transform to resize them, all
// images already have the output size.
func checkSizes(ds *dataset.Dataset, side int) error {
	for i, s := range ds.Samples {
		if s.Image == nil {
			return fmt.Errorf("loader: sample %d (%s) has no image", i, s.Name)
		}
		if b := s.Image.Bounds(); b.Dx() != side || b.Dy() != side {
			return fmt.Errorf("loader: sample %d (%s) is %dx%d and no transform makes it "+
				"%dx%d", i, s.Name, b.Dx(), b.Dy(), side, side)
		}
	}
	return nil
}

// StepsPerEpoch is the number of batches in an epoch.
func (l *Loader) StepsPerEpoch() int {
	n := len(l.ds.Samples)
	if l.cfg.DropLast {
		return n / l.cfg.BatchSize
	}
	return (n + l.cfg.BatchSize - 1) / l.cfg.BatchSize
}

// Len is the number of samples an epoch yields.
func (l *Loader) Len() int {
	if l.cfg.DropLast {
		return l.StepsPerEpoch() * l.cfg.BatchSize
	}
	return len(l.ds.Samples)
}

// asNRGBA returns img as an *image.NRGBA, converting other types (a
// decoded JPEG is YCbCr).
func asNRGBA(img image.Image) *image.NRGBA {
	if m, ok := img.(*image.NRGBA); ok {
		return m
	}
	return imaging.Clone(img)
}
