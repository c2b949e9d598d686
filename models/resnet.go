// Package models describes ResNet-18 as torchvision defines it: its layers,
// in the order a forward pass runs them, and its parameters, under the names
// and shapes of a torchvision state_dict.
//
// The description is the one shared by the converter, the ONNX exporter and
// the trainer, so a parameter called "layer2.0.downsample.1.running_var" means
// the same tensor everywhere in mocokit.
package models

import (
	"fmt"
)

// Stem selects the first layers of the network.
type Stem string

const (
	// StemImageNet is torchvision's resnet18 stem: a 7x7 convolution with
	// stride 2, batch norm, ReLU and a 3x3 max pool with stride 2.
	StemImageNet Stem = "imagenet"
	// StemCIFAR is the stem used for 32x32 inputs: a 3x3 convolution with
	// stride 1, batch norm and ReLU, and no max pool.
	StemCIFAR Stem = "cifar"
)

// Head selects what follows the global average pool.
type Head string

const (
	// HeadClassifier is a linear layer to NumClasses logits ("fc").
	HeadClassifier Head = "classifier"
	// HeadMoCo is MoCo v1's linear projection from 512 to EmbedDim ("fc").
	HeadMoCo Head = "moco"
	// HeadMoCoMLP is MoCo v2's projection: Linear(512, HiddenDim), ReLU,
	// Linear(HiddenDim, EmbedDim) ("fc.0" and "fc.2").
	HeadMoCoMLP Head = "moco-mlp"
	// HeadFeatures has no fc: the output is the 512-d pooled feature vector.
	HeadFeatures Head = "features"
)

// FeatureDim is the width of ResNet-18's pooled features.
const FeatureDim = 512

// Config is one ResNet-18 variant.
type Config struct {
	Stem       Stem
	Head       Head
	NumClasses int // HeadClassifier only
	EmbedDim   int // HeadMoCo and HeadMoCoMLP
	HiddenDim  int // HeadMoCoMLP only
}

// ResNet18 returns the classifier variant with the given stem and classes.
func ResNet18(stem Stem, numClasses int) Config {
	return Config{Stem: stem, Head: HeadClassifier, NumClasses: numClasses}
}

// Validate reports a stem, head or width that does not make a network.
func (c Config) Validate() error {
	switch c.Stem {
	case StemImageNet, StemCIFAR:
	default:
		return fmt.Errorf("models: unknown stem %q (want %q or %q)",
			c.Stem, StemImageNet, StemCIFAR)
	}
	switch c.Head {
	case HeadClassifier:
		if c.NumClasses < 1 {
			return fmt.Errorf("models: classifier needs at least 1 class, got %d",
				c.NumClasses)
		}
	case HeadMoCo:
		if c.EmbedDim < 1 {
			return fmt.Errorf("models: moco head needs an embedding size, got %d",
				c.EmbedDim)
		}
	case HeadMoCoMLP:
		if c.EmbedDim < 1 || c.HiddenDim < 1 {
			return fmt.Errorf("models: moco-mlp head needs embedding and hidden "+
				"sizes, got %d and %d", c.EmbedDim, c.HiddenDim)
		}
	case HeadFeatures:
	default:
		return fmt.Errorf("models: unknown head %q", c.Head)
	}
	return nil
}

// OutputDim is the width of the network's output vector.
func (c Config) OutputDim() int {
	switch c.Head {
	case HeadClassifier:
		return c.NumClasses
	case HeadMoCo, HeadMoCoMLP:
		return c.EmbedDim
	}
	return FeatureDim
}

// String names the variant, as "resnet18/imagenet/classifier-10".
func (c Config) String() string {
	h := string(c.Head)
	switch c.Head {
	case HeadClassifier:
		h = fmt.Sprintf("classifier-%d", c.NumClasses)
	case HeadMoCo, HeadMoCoMLP:
		h = fmt.Sprintf("%s-%d", c.Head, c.EmbedDim)
	}
	return fmt.Sprintf("resnet18/%s/%s", c.Stem, h)
}
