package train

import (
	"context"
	"errors"
	"fmt"

	"github.com/gomlx/gomlx/backends"

	"github.com/mocokit/mocokit/augment"
	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/loader"
	"github.com/mocokit/mocokit/models"
)

// Evaluate is the top-1 accuracy in percent of a classifier checkpoint on
// ds, preprocessed as the checkpoint's metadata says.
func Evaluate(b backends.Backend, c *Checkpoint, ds *dataset.Dataset) (float64, error) {
	cfg := c.State.Config
	if cfg.Head != models.HeadClassifier {
		return 0, fmt.Errorf("train: evaluating needs a classifier, the checkpoint has a %s "+
			"head", cfg.Head)
	}
	if err := sameClasses(c, ds.Classes); err != nil {
		return 0, fmt.Errorf("train: evaluating: %w", err)
	}
	net, err := NewNetwork(b, cfg, c.Weights, SGD{})
	if err != nil {
		return 0, err
	}
	pre := c.State.Metadata.Preprocess
	if pre.InputSize == 0 {
		pre = models.Presets["cifar32"]
	}
	l, err := loader.New(ds, loader.Config{BatchSize: 250, Views: 1, Mean: pre.Mean,
		Std: pre.Std, Size: pre.InputSize, Transform: resizeTo(pre.InputSize, ds)})
	if err != nil {
		return 0, fmt.Errorf("train: test set: %w", err)
	}
	return accuracy(net, l)
}

// accuracy runs net over one pass of l.
func accuracy(net *Network, l *loader.Loader) (float64, error) {
	var correct, total int
	for b, err := range l.Epoch(context.Background(), 0) {
		if err != nil {
			return 0, fmt.Errorf("train: test set: %w", err)
		}
		logits, err := net.Logits(Batch{Images: b.Views[0], Size: b.Size})
		if err != nil {
			return 0, err
		}
		correct += countCorrect(logits, b.Labels)
		total += len(b.Labels)
	}
	if total == 0 {
		return 0, errors.New("train: the test set is empty")
	}
	return 100 * float64(correct) / float64(total), nil
}

// resizeTo brings images of another size to the network's input size as
// the server does for a square input: shorter side to size, centre crop.
func resizeTo(size int, ds *dataset.Dataset) augment.Transform {
	if len(ds.Samples) > 0 {
		b := ds.Samples[0].Image.Bounds()
		if b.Dx() == size && b.Dy() == size {
			return nil
		}
	}
	return augment.Compose(augment.Resize(size), augment.CenterCropTo(size))
}
