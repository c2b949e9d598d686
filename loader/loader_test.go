package loader

import (
	"context"
	"errors"
	"image"
	"image/color"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/mocokit/mocokit/augment"
	"github.com/mocokit/mocokit/dataset"
)

var testMean, testStd = [3]float32{0.5, 0.5, 0.5}, [3]float32{0.5, 0.5, 0.5}

// testDataset has n side x side images of random pixels, label i%10,
// stored as NRGBA, RGBA and YCbCr in turn so that conversion is exercised.
func testDataset(n, side int) *dataset.Dataset {
	rng := rand.New(rand.NewPCG(42, uint64(n)))
	ds := &dataset.Dataset{Classes: dataset.CIFAR10Classes}
	for i := range n {
		var img image.Image
		r := image.Rect(0, 0, side, side)
		switch i % 3 {
		case 0:
			m := image.NewNRGBA(r)
			fill(m, rng)
			img = m
		case 1:
			m := image.NewRGBA(r)
			fill(m, rng)
			img = m
		default:
			m := image.NewYCbCr(r, image.YCbCrSubsampleRatio444)
			for j := range m.Y {
				m.Y[j], m.Cb[j], m.Cr[j] = uint8(rng.IntN(256)), uint8(rng.IntN(256)),
					uint8(rng.IntN(256))
			}
			img = m
		}
		ds.Samples = append(ds.Samples, dataset.Sample{Image: img, Label: i % 10})
	}
	return ds
}

func fill(m interface {
	image.Image
	Set(x, y int, c color.Color)
}, rng *rand.Rand) {
	b := m.Bounds()
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			m.Set(x, y, color.NRGBA{uint8(rng.IntN(256)), uint8(rng.IntN(256)),
				uint8(rng.IntN(256)), 255})
		}
	}
}

// collect runs one epoch to its end.
func collect(t *testing.T, l *Loader, epoch int) []Batch {
	t.Helper()
	var out []Batch
	for b, err := range l.Epoch(context.Background(), epoch) {
		if err != nil {
			t.Fatalf("epoch %d: %v", epoch, err)
		}
		out = append(out, b)
	}
	return out
}

func trainConfig(workers int) Config {
	return Config{BatchSize: 10, Shuffle: true, Seed: 7, Workers: workers, Views: 2,
		Transform: augment.Compose(augment.RandomCrop(8, 2),
			augment.RandomHorizontalFlip(0.5), augment.ColorJitter(0.4, 0.4, 0.4, 0.1)),
		Mean: testMean, Std: testStd, Size: 8}
}

func TestSameSeedAndEpochGiveSameBatchesWhateverTheWorkers(t *testing.T) {
	ds := testDataset(53, 10)
	var first []Batch
	for _, workers := range []int{1, 2, 7} {
		l, err := New(ds, trainConfig(workers))
		if err != nil {
			t.Fatal(err)
		}
		got := collect(t, l, 3)
		if first == nil {
			first = got
			continue
		}
		if len(got) != len(first) {
			t.Fatalf("%d workers: %d batches, 1 worker %d", workers, len(got), len(first))
		}
		for i := range got {
			if !slices.Equal(got[i].Indices, first[i].Indices) ||
				!slices.Equal(got[i].Views[0], first[i].Views[0]) ||
				!slices.Equal(got[i].Views[1], first[i].Views[1]) {
				t.Fatalf("%d workers: batch %d differs from 1 worker's", workers, i)
			}
		}
	}
	if slices.Equal(first[0].Views[0], first[0].Views[1]) {
		t.Error("the two views of a batch are the same augmentation")
	}
}

func TestEpochsDifferInOrderAndAugmentation(t *testing.T) {
	ds := testDataset(53, 10)
	l, err := New(ds, trainConfig(2))
	if err != nil {
		t.Fatal(err)
	}
	a, b := collect(t, l, 0), collect(t, l, 1)
	if slices.Equal(a[0].Indices, b[0].Indices) {
		t.Error("epochs 0 and 1 start with the same samples")
	}
	cfg := trainConfig(2)
	cfg.Shuffle = false
	l, err = New(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	a, b = collect(t, l, 0), collect(t, l, 1)
	if !slices.Equal(a[0].Indices, []int{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}) ||
		!slices.Equal(a[0].Indices, b[0].Indices) {
		t.Errorf("unshuffled epochs start with %v and %v", a[0].Indices, b[0].Indices)
	}
	if slices.Equal(a[0].Views[0], b[0].Views[0]) {
		t.Error("unshuffled epochs 0 and 1 augment their first batch identically")
	}
}

func TestUnaugmentedPassHoldsEachImageWithItsLabel(t *testing.T) {
	ds := testDataset(23, 6)
	l, err := New(ds, Config{BatchSize: 5, Shuffle: true, Seed: 1, Size: 6, Mean: testMean,
		Std: testStd})
	if err != nil {
		t.Fatal(err)
	}
	seen := make([]bool, len(ds.Samples))
	want := make([]float32, 3*6*6)
	for _, b := range collect(t, l, 0) {
		if len(b.Views) != 1 || len(b.Views[0]) != len(b.Labels)*len(want) {
			t.Fatalf("batch of %d labels has %d views of %d values", len(b.Labels),
				len(b.Views), len(b.Views[0]))
		}
		for pos, i := range b.Indices {
			if seen[i] {
				t.Fatalf("sample %d served twice", i)
			}
			seen[i] = true
			if b.Labels[pos] != int32(ds.Samples[i].Label) {
				t.Errorf("sample %d has label %d, want %d", i, b.Labels[pos], ds.Samples[i].Label)
			}
			if err := augment.ToTensor(nrgbaOf(ds.Samples[i].Image), testMean, testStd,
				want); err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(b.Views[0][pos*len(want):(pos+1)*len(want)], want) {
				t.Errorf("sample %d's pixels are not its image's", i)
			}
		}
	}
	if slices.Contains(seen, false) {
		t.Error("an epoch left samples out")
	}
}

// nrgbaOf converts through the standard colour model, independently of
// the loader's conversion.
func nrgbaOf(img image.Image) *image.NRGBA {
	b := img.Bounds()
	out := image.NewNRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out
}

func TestDropLastLeavesOutTheShortBatch(t *testing.T) {
	ds := testDataset(23, 8)
	for _, drop := range []bool{false, true} {
		cfg := trainConfig(2)
		cfg.DropLast = drop
		l, err := New(ds, cfg)
		if err != nil {
			t.Fatal(err)
		}
		batches := collect(t, l, 0)
		sizes := []int{}
		for _, b := range batches {
			sizes = append(sizes, len(b.Labels))
		}
		want := []int{10, 10, 3}
		if drop {
			want = want[:2]
		}
		if !slices.Equal(sizes, want) || l.StepsPerEpoch() != len(want) {
			t.Errorf("drop last %v: batches of %v (%d steps), want %v", drop, sizes,
				l.StepsPerEpoch(), want)
		}
	}
}

// settledGoroutines waits for the goroutine count to come down to at most
// n, giving exiting goroutines time to finish, and returns the count.
func settledGoroutines(n int) int {
	for range 500 {
		if g := runtime.NumGoroutine(); g <= n {
			return g
		}
		time.Sleep(10 * time.Millisecond)
	}
	return runtime.NumGoroutine()
}

func TestStoppingEarlyLeavesNoGoroutine(t *testing.T) {
	ds := testDataset(200, 10)
	l, err := New(ds, trainConfig(4))
	if err != nil {
		t.Fatal(err)
	}
	base := runtime.NumGoroutine()
	for _, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			t.Fatal(err)
		}
		break
	}
	if g := settledGoroutines(base); g > base {
		t.Errorf("%d goroutines after breaking out, %d before", g, base)
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	var last error
	for _, err := range l.Epoch(ctx, 1) {
		if last = err; err != nil {
			break
		}
		if n++; n == 2 {
			cancel()
		}
	}
	if !errors.Is(last, context.Canceled) {
		t.Errorf("cancelled epoch ended with %v, want context.Canceled", last)
	}
	if g := settledGoroutines(base); g > base {
		t.Errorf("%d goroutines after cancelling, %d before", g, base)
	}
}

func TestBadConfigurationIsAClearError(t *testing.T) {
	ds := testDataset(5, 8)
	ok := Config{BatchSize: 2, Size: 8, Mean: testMean, Std: testStd}
	for _, tc := range []struct {
		name string
		edit func(*Config)
		want string
	}{
		{"batch", func(c *Config) { c.BatchSize = 0 }, "batch size 0"},
		{"size", func(c *Config) { c.Size = 6 }, "is 8x8 and no transform makes it 6x6"},
		{"views", func(c *Config) { c.Views = 3 }, "3 views"},
		{"drop", func(c *Config) { c.BatchSize, c.DropLast = 6, true }, "no full batch"},
		{"std", func(c *Config) { c.Std[1] = 0 }, "std of channel 1"},
		{"transform", func(c *Config) { c.Transform = augment.RandomCrop(0, 0) }, "RandomCrop"},
	} {
		cfg := ok
		tc.edit(&cfg)
		_, err := New(ds, cfg)
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: got %v, want an error with %q", tc.name, err, tc.want)
		}
	}
	cfg := ok
	cfg.Size, cfg.Transform = 6, augment.RandomCrop(5, 0)
	l, err := New(ds, cfg)
	if err != nil {
		t.Fatal(err)
	}
	var last error
	for _, err := range l.Epoch(context.Background(), 0) {
		last = err
	}
	if last == nil || !strings.Contains(last.Error(), "came out 5x5, want 6x6") {
		t.Errorf("a transform of the wrong size ended the epoch with %v", last)
	}
}
