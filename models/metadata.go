package models

import (
	"encoding/json"
	"fmt"
	"math"
	"strconv"
)

// Preprocess is how an image becomes the network's input: resize to
// InputSize x InputSize (bilinear), scale to [0, 1], then subtract Mean and
// divide by Std per RGB channel, as torchvision's ToTensor and Normalize do.
type Preprocess struct {
	InputSize int
	Mean      [3]float32
	Std       [3]float32
}

// Presets are the preprocessing recipes of the original PyTorch project.
var Presets = map[string]Preprocess{
	// cifar32: the images as they are, normalised with mean and std 0.5
	// (the supervised baseline).
	"cifar32": {InputSize: 32, Mean: half, Std: half},
	// upscale224: CIFAR-10 resized to 224x224 as MoCo's ImageNet code sees
	// it, normalised with mean and std 0.5 (MoCo and the linear probe).
	"upscale224": {InputSize: 224, Mean: half, Std: half},
}

var half = [3]float32{0.5, 0.5, 0.5}

// Validate reports a size or std that cannot be used.
func (p Preprocess) Validate() error {
	if p.InputSize < 1 || p.InputSize > 4096 {
		return fmt.Errorf("models: input size %d out of range 1..4096", p.InputSize)
	}
	for i := range p.Std {
		m, s := float64(p.Mean[i]), float64(p.Std[i])
		if math.IsNaN(m) || math.IsInf(m, 0) {
			return fmt.Errorf("models: mean[%d] = %v, want a finite number", i, m)
		}
		// Below 1e-6 the normalised inputs leave float32's useful range.
		if !(s >= 1e-6) || math.IsInf(s, 0) {
			return fmt.Errorf("models: std[%d] = %v, want a finite number >= 1e-6", i, s)
		}
	}
	return nil
}

// Metadata is what a server needs to use an exported model. It travels in
// the ONNX file's metadata_props under the keys below.
type Metadata struct {
	Arch       string // "resnet18"
	Stem       Stem
	Head       Head
	Output     string   // name of the output tensor
	Classes    []string // class names, one per logit; empty for embeddings
	Preprocess Preprocess
	Source     string // where the weights came from
}

// Metadata property keys.
const (
	KeyArch      = "mocokit.arch"
	KeyStem      = "mocokit.stem"
	KeyHead      = "mocokit.head"
	KeyOutput    = "mocokit.output"
	KeyClasses   = "mocokit.classes"
	KeyInputSize = "mocokit.input_size"
	KeyMean      = "mocokit.mean"
	KeyStd       = "mocokit.std"
	KeySource    = "mocokit.source"
)

// Props encodes the metadata as string properties.
func (m Metadata) Props() map[string]string {
	classes, _ := json.Marshal(nonNil(m.Classes))
	mean, _ := json.Marshal(m.Preprocess.Mean)
	std, _ := json.Marshal(m.Preprocess.Std)
	return map[string]string{
		KeyArch:      m.Arch,
		KeyStem:      string(m.Stem),
		KeyHead:      string(m.Head),
		KeyOutput:    m.Output,
		KeyClasses:   string(classes),
		KeyInputSize: strconv.Itoa(m.Preprocess.InputSize),
		KeyMean:      string(mean),
		KeyStd:       string(std),
		KeySource:    m.Source,
	}
}

func nonNil(s []string) []string {
	if s == nil {
		return []string{}
	}
	return s
}

// ParseMetadata decodes properties written by Props.
func ParseMetadata(props map[string]string) (Metadata, error) {
	m := Metadata{
		Arch:   props[KeyArch],
		Stem:   Stem(props[KeyStem]),
		Head:   Head(props[KeyHead]),
		Output: props[KeyOutput],
		Source: props[KeySource],
	}
	for _, k := range []string{KeyInputSize, KeyMean, KeyStd} {
		if props[k] == "" {
			return m, fmt.Errorf("models: metadata lacks %q", k)
		}
	}
	size, err := strconv.Atoi(props[KeyInputSize])
	if err != nil {
		return m, fmt.Errorf("models: metadata %q: %w", KeyInputSize, err)
	}
	m.Preprocess.InputSize = size
	if err := json.Unmarshal([]byte(props[KeyMean]), &m.Preprocess.Mean); err != nil {
		return m, fmt.Errorf("models: metadata %q: %w", KeyMean, err)
	}
	if err := json.Unmarshal([]byte(props[KeyStd]), &m.Preprocess.Std); err != nil {
		return m, fmt.Errorf("models: metadata %q: %w", KeyStd, err)
	}
	if c := props[KeyClasses]; c != "" {
		if err := json.Unmarshal([]byte(c), &m.Classes); err != nil {
			return m, fmt.Errorf("models: metadata %q: %w", KeyClasses, err)
		}
	}
	return m, m.Preprocess.Validate()
}
