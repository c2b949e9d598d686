package convert

import (
	"fmt"
	"strconv"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/models"
)

// Options adjust how a checkpoint becomes a model. The zero value infers
// everything and uses CIFAR-10's classes.
type Options struct {
	// Stem forces the stem instead of inferring it from conv1's shape.
	Stem models.Stem
	// Features exports a MoCo encoder's 512-d pooled features instead of
	// its 128-d embedding.
	Features bool
	// Preset names the preprocessing (models.Presets); empty picks
	// upscale224 for MoCo and linear-probe checkpoints, cifar32 otherwise.
	Preset string
	// InputSize, Mean and Std, when set, override the preset's.
	InputSize int
	Mean, Std *[3]float32
	// Classes names the classifier's outputs; nil means CIFAR-10's.
	Classes []string
	// Source says where the file came from, for the model's metadata.
	Source string
}

// Plan is what will be exported: the network, its weights and metadata,
// and notes on what conversion changed.
type Plan struct {
	Config  models.Config
	Weights models.Weights
	Meta    models.Metadata
	Notes   []string
}

// MakePlan builds the network a checkpoint holds and checks its weights.
func MakePlan(ck *Checkpoint, opt Options) (*Plan, error) {
	w, err := ck.encoderWeights()
	if err != nil {
		return nil, err
	}
	stem, err := inferStem(w)
	if err != nil {
		return nil, err
	}
	if opt.Stem != "" {
		stem = opt.Stem
	} else if err := checkModuleStem(ck.Module, stem); err != nil {
		return nil, err
	}
	cfg, err := inferHead(w)
	if err != nil {
		return nil, err
	}
	cfg.Stem = stem
	p := &Plan{Config: cfg, Weights: w}
	if err := p.shapeHead(ck.Kind, opt); err != nil {
		return nil, err
	}
	p.addMissingCounters()
	if err := p.Config.Check(p.Weights); err != nil {
		return nil, err
	}
	pre, err := preprocessFor(ck.Kind, opt)
	if err != nil {
		return nil, err
	}
	// shapeHead has set the class names; the rest follows from the plan.
	m := &p.Meta
	m.Arch, m.Stem, m.Head = "resnet18", p.Config.Stem, p.Config.Head
	m.Output, m.Preprocess = outputName(p.Config.Head), pre
	m.Source = describeSource(ck, opt.Source)
	return p, nil
}

// shapeHead turns the inferred head into the one exported: MoCo's fc is a
// projection, not a classifier, and a classifier keeps one row per class.
func (p *Plan) shapeHead(kind Kind, opt Options) error {
	c := &p.Config
	if kind == KindMoCo {
		if c.Head == models.HeadClassifier {
			c.Head, c.NumClasses = models.HeadMoCo, 0
		}
		if opt.Features {
			p.dropFC()
		}
		return nil
	}
	if opt.Features {
		return fmt.Errorf("--features applies to MoCo checkpoints, not to a %s", kind)
	}
	switch c.Head {
	case models.HeadClassifier:
		return p.keepClasses(opt.Classes)
	case models.HeadFeatures:
		return nil
	}
	return fmt.Errorf("a %s with a %s head is not a classifier", kind, c.Head)
}

// torchvisionClasses is the width of torchvision's default fc (ImageNet).
const torchvisionClasses = 1000

// keepClasses names the classifier's outputs. A 1000-way fc with fewer
// class names keeps its first rows: main_lincls.py trains torchvision's
// default fc on CIFAR-10's labels 0-9, so only rows 0-9 mean anything.
// Without class names, 10 outputs are CIFAR-10's and others are numbered.
func (p *Plan) keepClasses(classes []string) error {
	n := p.Config.NumClasses
	if classes == nil {
		switch n {
		case len(dataset.CIFAR10Classes), torchvisionClasses:
			classes = dataset.CIFAR10Classes
		default:
			classes = numberedClasses(n)
			p.Notes = append(p.Notes, fmt.Sprintf("no class names given for %d "+
				"outputs: naming them 0 to %d (use --classes)", n, n-1))
		}
	}
	k := len(classes)
	switch {
	case n == k:
	case n == torchvisionClasses && k < n:
		p.Notes = append(p.Notes, fmt.Sprintf("fc has %d outputs; keeping the "+
			"first %d, one per class (%s ... %s)", n, k, classes[0], classes[k-1]))
		p.Weights["fc.weight"] = firstRows(p.Weights["fc.weight"], k)
		p.Weights["fc.bias"] = firstRows(p.Weights["fc.bias"], k)
		p.Config.NumClasses = k
	default:
		return fmt.Errorf("fc has %d outputs but %d class names were given", n, k)
	}
	p.Config.EmbedDim = 0
	p.Meta.Classes = classes
	return nil
}

func (p *Plan) dropFC() {
	for name := range p.Weights {
		if len(name) >= 3 && name[:3] == "fc." {
			delete(p.Weights, name)
		}
	}
	p.Config = models.Config{Stem: p.Config.Stem, Head: models.HeadFeatures}
}

// addMissingCounters supplies num_batches_tracked, which files written by
// PyTorch before 0.4.1 lack and which inference never reads.
func (p *Plan) addMissingCounters() {
	for _, prm := range p.Config.Params() {
		if _, ok := p.Weights[prm.Name]; !ok && prm.Kind == models.NumBatchesTracked {
			p.Weights[prm.Name] = models.NewTensor()
		}
	}
}

func firstRows(t *models.Tensor, k int) *models.Tensor {
	if t == nil || len(t.Shape) == 0 || t.Shape[0] < k {
		return t
	}
	row := len(t.Data) / t.Shape[0]
	shape := append([]int{k}, t.Shape[1:]...)
	return &models.Tensor{Shape: shape, Data: t.Data[:k*row]}
}

func numberedClasses(n int) []string {
	c := make([]string, n)
	for i := range c {
		c[i] = strconv.Itoa(i)
	}
	return c
}

func outputName(h models.Head) string {
	switch h {
	case models.HeadClassifier:
		return "logits"
	case models.HeadFeatures:
		return "features"
	}
	return "embedding"
}

func preprocessFor(kind Kind, opt Options) (models.Preprocess, error) {
	name := opt.Preset
	if name == "" {
		name = "cifar32"
		if kind == KindMoCo || kind == KindLinCls {
			name = "upscale224"
		}
	}
	pre, ok := models.Presets[name]
	if !ok {
		return pre, fmt.Errorf("unknown preset %q (have cifar32, upscale224)", name)
	}
	if opt.InputSize != 0 {
		pre.InputSize = opt.InputSize
	}
	if opt.Mean != nil {
		pre.Mean = *opt.Mean
	}
	if opt.Std != nil {
		pre.Std = *opt.Std
	}
	return pre, pre.Validate()
}

func describeSource(ck *Checkpoint, file string) string {
	s := fmt.Sprintf("%s %s", ck.Kind, file)
	if ck.Arch != "" {
		s += ", arch " + ck.Arch
	}
	if ck.Epoch >= 0 {
		s += fmt.Sprintf(", epoch %d", ck.Epoch)
	}
	if ck.BestAcc1 >= 0 {
		s += fmt.Sprintf(", best_acc1 %.2f", ck.BestAcc1)
	}
	return s
}
