package export

import (
	"bytes"
	"errors"
	"slices"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mocokit/mocokit/export/onnxpb"
	"github.com/mocokit/mocokit/models"
)

func cifar32(output string) models.Metadata {
	return models.Metadata{Output: output, Preprocess: models.Presets["cifar32"]}
}

func attr(t *testing.T, n *onnxpb.NodeProto, name string) *onnxpb.AttributeProto {
	t.Helper()
	for _, a := range n.GetAttribute() {
		if a.GetName() == name {
			return a
		}
	}
	t.Fatalf("node %s (%s) has no attribute %s", n.GetName(), n.GetOpType(), name)
	return nil
}

func TestModelEmitsOneNodePerLayer(t *testing.T) {
	cases := []struct {
		cfg   models.Config
		count map[string]int
	}{
		{models.ResNet18(models.StemImageNet, 10), map[string]int{"Conv": 20,
			"BatchNormalization": 20, "Relu": 17, "MaxPool": 1, "Add": 8,
			"GlobalAveragePool": 1, "Flatten": 1, "Gemm": 1}},
		{models.Config{Stem: models.StemCIFAR, Head: models.HeadMoCoMLP, EmbedDim: 128,
			HiddenDim: 512}, map[string]int{"Conv": 20, "BatchNormalization": 20,
			"Relu": 18, "Add": 8, "GlobalAveragePool": 1, "Flatten": 1, "Gemm": 2}},
		{models.Config{Stem: models.StemCIFAR, Head: models.HeadFeatures},
			map[string]int{"Conv": 20, "BatchNormalization": 20, "Relu": 17, "Add": 8,
				"GlobalAveragePool": 1, "Flatten": 1}},
	}
	for _, c := range cases {
		t.Run(c.cfg.String(), func(t *testing.T) {
			m, err := Model(c.cfg, randomWeights(c.cfg, 1), cifar32("out"))
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]int{}
			for _, n := range m.GetGraph().GetNode() {
				got[n.GetOpType()]++
			}
			if len(got) != len(c.count) {
				t.Errorf("op types %v, want %v", got, c.count)
			}
			for op, n := range c.count {
				if got[op] != n {
					t.Errorf("%d %s nodes, want %d", got[op], op, n)
				}
			}
			checkTopologicalOrder(t, m.GetGraph())
		})
	}
}

// checkTopologicalOrder asserts that every node reads only the graph input,
// initializers and outputs of earlier nodes, that no value is produced twice,
// and that the last node produces the graph output.
func checkTopologicalOrder(t *testing.T, g *onnxpb.GraphProto) {
	t.Helper()
	known := map[string]bool{models.Input: true}
	for _, tp := range g.GetInitializer() {
		known[tp.GetName()] = true
	}
	for _, n := range g.GetNode() {
		for _, in := range n.GetInput() {
			if !known[in] {
				t.Fatalf("node %s reads %s before it is produced", n.GetName(), in)
			}
		}
		for _, out := range n.GetOutput() {
			if known[out] {
				t.Fatalf("node %s produces %s a second time", n.GetName(), out)
			}
			known[out] = true
		}
	}
	last := g.GetNode()[len(g.GetNode())-1]
	if out := g.GetOutput()[0].GetName(); last.GetOutput()[0] != out {
		t.Errorf("last node produces %s, graph output is %s", last.GetOutput()[0], out)
	}
}

func TestModelStoresParametersUnderStateDictNames(t *testing.T) {
	cfg := models.ResNet18(models.StemImageNet, 10)
	w := randomWeights(cfg, 2)
	m, err := Model(cfg, w, cifar32(""))
	if err != nil {
		t.Fatal(err)
	}
	inits := m.GetGraph().GetInitializer()
	var want []models.Param
	for _, p := range cfg.Params() {
		if p.Kind != models.NumBatchesTracked {
			want = append(want, p)
		}
	}
	if len(inits) != len(want) {
		t.Fatalf("%d initializers, want %d", len(inits), len(want))
	}
	for i, p := range want {
		if inits[i].GetName() != p.Name {
			t.Fatalf("initializer %d is %s, want %s", i, inits[i].GetName(), p.Name)
		}
		got, err := tensorFromProto(inits[i])
		if err != nil {
			t.Fatal(err)
		}
		if d := maxAbsDiff(t, got.Data, w[p.Name].Data); d != 0 {
			t.Errorf("%s differs from the weights by %g", p.Name, d)
		}
	}
}

func TestModelAttributesFollowTheLayers(t *testing.T) {
	cfg := models.ResNet18(models.StemImageNet, 10)
	m, err := Model(cfg, randomWeights(cfg, 3), cifar32("logits"))
	if err != nil {
		t.Fatal(err)
	}
	nodes := m.GetGraph().GetNode()
	conv1, bn1, pool := nodes[0], nodes[1], nodes[3]
	ints := func(n *onnxpb.NodeProto, name string) []int64 { return attr(t, n, name).Ints }
	if conv1.GetOpType() != "Conv" || !slices.Equal(ints(conv1, "kernel_shape"), []int64{7, 7}) ||
		!slices.Equal(ints(conv1, "strides"), []int64{2, 2}) ||
		!slices.Equal(ints(conv1, "pads"), []int64{3, 3, 3, 3}) {
		t.Errorf("conv1 = %v", conv1)
	}
	wantIn := []string{"conv1.Conv.out0", "bn1.weight", "bn1.bias", "bn1.running_mean",
		"bn1.running_var"}
	if bn1.GetOpType() != "BatchNormalization" || attr(t, bn1, "epsilon").F != 1e-5 ||
		strings.Join(bn1.GetInput(), " ") != strings.Join(wantIn, " ") {
		t.Errorf("bn1 = %v", bn1)
	}
	if pool.GetOpType() != "MaxPool" || !slices.Equal(ints(pool, "kernel_shape"), []int64{3, 3}) ||
		!slices.Equal(ints(pool, "strides"), []int64{2, 2}) ||
		!slices.Equal(ints(pool, "pads"), []int64{1, 1, 1, 1}) {
		t.Errorf("maxpool = %v", pool)
	}
	fc := nodes[len(nodes)-1]
	if fc.GetOpType() != "Gemm" || attr(t, fc, "transB").I != 1 ||
		fc.GetOutput()[0] != "logits" {
		t.Errorf("fc = %v", fc)
	}
	if m.GetIrVersion() != 8 || m.GetOpsetImport()[0].GetVersion() != 13 ||
		m.GetProducerName() != "mocokit" || m.GetDocString() == "" {
		t.Errorf("model header: ir %d, opset %v, producer %q, doc %q", m.GetIrVersion(),
			m.GetOpsetImport(), m.GetProducerName(), m.GetDocString())
	}
}

func TestModelEncodesTheSameBytesEachTime(t *testing.T) {
	cfg := models.Config{Stem: models.StemCIFAR, Head: models.HeadMoCo, EmbedDim: 128}
	w := randomWeights(cfg, 4)
	var encoded [2][]byte
	for i := range encoded {
		m, err := Model(cfg, w, cifar32("embedding"))
		if err != nil {
			t.Fatal(err)
		}
		if encoded[i], err = (proto.MarshalOptions{Deterministic: true}).Marshal(m); err != nil {
			t.Fatal(err)
		}
	}
	if !bytes.Equal(encoded[0], encoded[1]) {
		t.Error("two exports of the same weights differ")
	}
}

func TestModelRejectsContradictions(t *testing.T) {
	cfg := models.ResNet18(models.StemCIFAR, 10)
	w := randomWeights(cfg, 5)
	classes := func(n int) models.Metadata {
		m := cifar32("logits")
		m.Classes = make([]string, n)
		return m
	}
	with := func(f func(*models.Metadata)) models.Metadata {
		m := cifar32("logits")
		f(&m)
		return m
	}
	cases := []struct {
		name string
		meta models.Metadata
		want string
	}{
		{"stem", with(func(m *models.Metadata) { m.Stem = models.StemImageNet }), "stem"},
		{"head", with(func(m *models.Metadata) { m.Head = models.HeadMoCo }), "head"},
		{"arch", with(func(m *models.Metadata) { m.Arch = "resnet50" }), "arch"},
		{"classes", classes(9), "9 class names for 10 outputs"},
		{"input size", with(func(m *models.Metadata) { m.Preprocess.InputSize = 0 }),
			"input size"},
		{"std", with(func(m *models.Metadata) { m.Preprocess.Std[1] = 0 }), "std[1]"},
		{"output name", cifar32(models.Input), "like the input"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := Model(cfg, w, c.meta)
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %v, want one mentioning %q", err, c.want)
			}
		})
	}
	if _, err := Model(cfg, w, classes(10)); err != nil {
		t.Errorf("10 class names for 10 outputs: %v", err)
	}
}

func TestModelRejectsWeightsThatDoNotFit(t *testing.T) {
	cfg := models.ResNet18(models.StemImageNet, 10)
	w := randomWeights(cfg, 6)
	delete(w, "layer3.1.bn2.running_var")
	w["fc.weight"] = models.NewTensor(1000, 512)

	_, err := Model(cfg, w, cifar32("logits"))
	var layout *models.LayoutError
	if !errors.As(err, &layout) {
		t.Fatalf("error %v, want a models.LayoutError", err)
	}
	if len(layout.Missing) != 1 || layout.Missing[0] != "layer3.1.bn2.running_var" ||
		len(layout.Shapes) != 1 || !strings.HasPrefix(layout.Shapes[0], "fc.weight") {
		t.Errorf("layout error %+v", layout)
	}
}
