package models

import (
	"math"
	"reflect"
	"strings"
	"testing"
)

func countParams(c Config, trainable bool) int {
	n := 0
	for _, p := range c.Params() {
		if p.Trainable() == trainable && p.Kind != NumBatchesTracked {
			n += p.Size()
		}
	}
	return n
}

// TestParameterCountsAreTorchvisions compares with the numbers torchvision
// reports (sum(p.numel() for p in model.parameters())).
func TestParameterCountsAreTorchvisions(t *testing.T) {
	cases := []struct {
		cfg  Config
		want int
	}{
		{ResNet18(StemImageNet, 1000), 11689512},
		{ResNet18(StemImageNet, 10), 11181642},
		{Config{Stem: StemImageNet, Head: HeadMoCo, EmbedDim: 128}, 11242176},
		// The CIFAR stem's conv1 is 64x3x3x3 instead of 64x3x7x7.
		{ResNet18(StemCIFAR, 10), 11181642 - 64*3*(49-9)},
	}
	for _, c := range cases {
		if got := countParams(c.cfg, true); got != c.want {
			t.Errorf("%s: %d trainable parameters, want %d", c.cfg, got, c.want)
		}
	}
}

func TestOpsFollowTorchvisionsLayout(t *testing.T) {
	ops := Config{Stem: StemImageNet, Head: HeadMoCoMLP, EmbedDim: 128,
		HiddenDim: 512}.Ops()
	kinds := map[OpKind]int{}
	for _, op := range ops {
		kinds[op.Kind]++
	}
	want := map[OpKind]int{Conv: 20, BatchNorm: 20, ReLU: 18, MaxPool: 1, Add: 8,
		GlobalAvgPool: 1, Linear: 2}
	if !reflect.DeepEqual(kinds, want) {
		t.Errorf("op counts %v, want %v", kinds, want)
	}
	last := ops[len(ops)-1]
	if last.Name != "fc.2" || last.In != 512 || last.Out != 128 {
		t.Errorf("last op %+v, want fc.2 512->128", last)
	}
	ds := ops[0]
	for _, op := range ops {
		if op.Name == "layer2.0.downsample.0" {
			ds = op
		}
	}
	if ds.Kernel != 1 || ds.Stride != 2 || ds.In != 64 || ds.Out != 128 {
		t.Errorf("layer2.0.downsample.0 = %+v, want a 1x1/2 conv 64->128", ds)
	}
}

func TestCheckNamesMissingUnexpectedAndMisshapen(t *testing.T) {
	c := ResNet18(StemCIFAR, 10)
	w := Weights{}
	for _, p := range c.Params() {
		w[p.Name] = NewTensor(p.Shape...)
	}
	if err := c.Check(w); err != nil {
		t.Fatalf("complete weights: %v", err)
	}
	delete(w, "layer3.1.bn1.running_var")
	w["head.weight"] = NewTensor(2)
	w["conv1.weight"] = NewTensor(64, 3, 7, 7)
	err := c.Check(w)
	for _, want := range []string{"1 missing (layer3.1.bn1.running_var)",
		"1 unexpected (head.weight)", "conv1.weight [64 3 7 7] (want [64 3 3 3])"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Check: %v, want it to mention %q", err, want)
		}
	}
}

func TestMetadataRoundTrips(t *testing.T) {
	m := Metadata{Arch: "resnet18", Stem: StemCIFAR, Head: HeadClassifier,
		Output: "logits", Classes: []string{"a", "b,c", `"d"`},
		Preprocess: Preprocess{InputSize: 40, Mean: [3]float32{0.4914, 0.4822, 0.4465},
			Std: [3]float32{0.247, 0.243, 0.261}}, Source: "test"}
	got, err := ParseMetadata(m.Props())
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, m) {
		t.Errorf("round trip: got %+v, want %+v", got, m)
	}
	props := m.Props()
	props[KeyStd] = "[0.5, 0, 0.5]"
	if _, err := ParseMetadata(props); err == nil || !strings.Contains(err.Error(), "std[1]") {
		t.Errorf("zero std: %v, want an error naming std[1]", err)
	}
	inf := float32(math.Inf(1))
	for _, p := range []Preprocess{
		{InputSize: 32, Mean: [3]float32{inf, 0, 0}, Std: half},
		{InputSize: 32, Mean: half, Std: [3]float32{0.5, 0.5, 1e-45}},
	} {
		if err := p.Validate(); err == nil {
			t.Errorf("%+v: valid, want an error", p)
		}
	}
}
