// Package convert turns PyTorch files into ONNX models that mocokit serves.
//
// It recognises the files the original PyTorch project leaves behind: a MoCo
// checkpoint as main_moco.py saves it, a linear-probe checkpoint as
// main_lincls.py saves it, a plain state_dict, and a whole pickled
// torchvision ResNet (torch.save(model)). Files are read by
// convert/torchfile, which never executes pickle code.
package convert

import (
	"fmt"
	"sort"
	"strings"

	"github.com/mocokit/mocokit/convert/torchfile"
	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/pickle"
)

// Kind is the layout a PyTorch file was recognised as.
type Kind string

const (
	KindMoCo      Kind = "moco-checkpoint"   // main_moco.py
	KindLinCls    Kind = "lincls-checkpoint" // main_lincls.py
	KindStateDict Kind = "state-dict"
	KindModel     Kind = "pickled-model" // torch.save(model)
)

// Checkpoint is a PyTorch file reduced to what conversion needs.
type Checkpoint struct {
	Kind     Kind
	Arch     string  // "arch" entry, when stored
	Epoch    int     // "epoch" entry; -1 when absent
	BestAcc1 float64 // "best_acc1" entry; -1 when absent
	// Tensors is the state_dict, names as stored (with "module." prefixes).
	Tensors map[string]*torchfile.Tensor
	// Order keeps the stored order of Tensors' names.
	Order []string
	// Module is the whole pickled model, for KindModel.
	Module *pickle.Object
}

// MoCo's state_dict prefixes, with and without DataParallel's "module.".
var mocoPrefixes = []string{"module.encoder_q.", "encoder_q."}

// classify sets ck.Kind from the names in the state_dict and the entries
// beside it.
func (ck *Checkpoint) classify(isModule, hasBestAcc bool) {
	switch {
	case isModule:
		ck.Kind = KindModel
	case mocoPrefix(ck.Order) != "":
		ck.Kind = KindMoCo
	case hasBestAcc:
		ck.Kind = KindLinCls
	default:
		ck.Kind = KindStateDict
	}
}

func mocoPrefix(names []string) string {
	for _, p := range mocoPrefixes {
		for _, n := range names {
			if strings.HasPrefix(n, p) {
				return p
			}
		}
	}
	return ""
}

// encoderWeights returns the network's state_dict with MoCo's or
// DataParallel's prefix removed. For MoCo it keeps the query encoder and
// drops the key encoder and the queue; anything else left over with a
// prefix is kept, so that a layout check names it.
func (ck *Checkpoint) encoderWeights() (models.Weights, error) {
	prefix := "module."
	skip := func(string) bool { return false }
	if ck.Kind == KindMoCo {
		prefix = mocoPrefix(ck.Order)
		keyEnc := strings.Replace(prefix, "encoder_q", "encoder_k", 1)
		base := strings.TrimSuffix(prefix, "encoder_q.")
		skip = func(n string) bool {
			return strings.HasPrefix(n, keyEnc) || n == base+"queue" ||
				n == base+"queue_ptr"
		}
	} else if !allHavePrefix(ck.Order, prefix) {
		prefix = ""
	}
	w := models.Weights{}
	for _, n := range ck.Order {
		if skip(n) {
			continue
		}
		t, err := floatTensor(n, ck.Tensors[n])
		if err != nil {
			return nil, err
		}
		w[strings.TrimPrefix(n, prefix)] = t
	}
	return w, nil
}

func floatTensor(name string, t *torchfile.Tensor) (*models.Tensor, error) {
	data, err := t.Float32()
	if err != nil {
		return nil, fmt.Errorf("tensor %s: %w", name, err)
	}
	return &models.Tensor{Shape: append([]int(nil), t.Shape...), Data: data}, nil
}

func allHavePrefix(names []string, prefix string) bool {
	for _, n := range names {
		if !strings.HasPrefix(n, prefix) {
			return false
		}
	}
	return len(names) > 0
}

// inferStem reads the stem from conv1's kernel size.
func inferStem(w models.Weights) (models.Stem, error) {
	t, ok := w["conv1.weight"]
	if !ok {
		return "", fmt.Errorf("no conv1.weight: not a torchvision ResNet state_dict "+
			"(first names: %s)", firstNames(w, 6))
	}
	if len(t.Shape) == 4 {
		switch t.Shape[2] {
		case 7:
			return models.StemImageNet, nil
		case 3:
			return models.StemCIFAR, nil
		}
	}
	return "", fmt.Errorf("conv1.weight has shape %v: neither the imagenet stem "+
		"[64 3 7 7] nor the cifar stem [64 3 3 3]", t.Shape)
}

// inferHead reads the head from the fc layers present.
func inferHead(w models.Weights) (models.Config, error) {
	var c models.Config
	fc, fc0, fc2 := w["fc.weight"], w["fc.0.weight"], w["fc.2.weight"]
	switch {
	case fc != nil && len(fc.Shape) == 2:
		c.Head, c.NumClasses, c.EmbedDim = models.HeadClassifier, fc.Shape[0], fc.Shape[0]
	case fc0 != nil && fc2 != nil && len(fc0.Shape) == 2 && len(fc2.Shape) == 2:
		c.Head, c.HiddenDim, c.EmbedDim = models.HeadMoCoMLP, fc0.Shape[0], fc2.Shape[0]
	case fcNames(w) == "":
		c.Head = models.HeadFeatures
	default:
		return c, fmt.Errorf("fc layers not recognised (have %s): mocokit knows "+
			"a Linear fc and MoCo v2's fc.0/fc.2 projection", fcNames(w))
	}
	return c, nil
}

func fcNames(w models.Weights) string {
	var names []string
	for n, t := range w {
		if strings.HasPrefix(n, "fc") {
			names = append(names, fmt.Sprintf("%s %v", n, t.Shape))
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

func firstNames(w models.Weights, n int) string {
	var names []string
	for k := range w {
		names = append(names, k)
	}
	sort.Strings(names)
	if len(names) > n {
		names = append(names[:n], "...")
	}
	return strings.Join(names, ", ")
}
