package convert_test

import (
	"image"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/mocokit/mocokit/convert"
	"github.com/mocokit/mocokit/inference"
	"github.com/mocokit/mocokit/internal/fixtures"
	"github.com/mocokit/mocokit/models"
)

// parityCase is one file written by scripts/make_checkpoints.py and the
// PyTorch output it must reproduce.
type parityCase struct {
	file     string
	opt      convert.Options
	kind     convert.Kind
	head     models.Head
	outDim   int
	ref      string // PyTorch's outputs on the images
	images   string
	size     int
	hasClass bool
}

func parityCases() []parityCase {
	var cases []parityCase
	for _, suffix := range []string{"", "_legacy"} {
		cases = append(cases,
			parityCase{file: "resnet18" + suffix + ".pth", kind: convert.KindModel,
				head: models.HeadClassifier, outDim: 10, ref: "resnet18.out.f32",
				images: "images32.u8", size: 32, hasClass: true},
			parityCase{file: "state_dict" + suffix + ".pth", kind: convert.KindStateDict,
				head: models.HeadClassifier, outDim: 10, ref: "resnet18.out.f32",
				images: "images32.u8", size: 32, hasClass: true},
			parityCase{file: "model_best" + suffix + ".pth.tar", kind: convert.KindLinCls,
				head: models.HeadClassifier, outDim: 10, ref: "lincls.out.f32",
				images: "images224.u8", size: 224, hasClass: true},
			parityCase{file: "checkpoint_0199" + suffix + ".pth.tar",
				kind: convert.KindMoCo, head: models.HeadMoCo, outDim: 128,
				ref: "moco.out.f32", images: "images224.u8", size: 224},
		)
	}
	return append(cases,
		parityCase{file: "checkpoint_0199.pth.tar", opt: convert.Options{Features: true},
			kind: convert.KindMoCo, head: models.HeadFeatures, outDim: 512,
			ref: "moco_features.out.f32", images: "images224.u8", size: 224},
		parityCase{file: "checkpoint_mlp.pth.tar", kind: convert.KindMoCo,
			head: models.HeadMoCoMLP, outDim: 128, ref: "moco_mlp.out.f32",
			images: "images224.u8", size: 224},
	)
}

// TestConvertedModelsMatchPyTorch converts every kind of PyTorch file in
// both formats and runs the ONNX model under onnxruntime on 1,000 real
// CIFAR-10 test images: the outputs must equal PyTorch's within 1e-4 and,
// for classifiers, give the same top-1 class for every image.
func TestConvertedModelsMatchPyTorch(t *testing.T) {
	dir := fixtures.Dir(t)
	inputs := map[string][]*image.NRGBA{}
	for _, c := range parityCases() {
		t.Run(c.file+featuresSuffix(c.opt), func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "model.onnx")
			rep, err := convert.PthToONNX(filepath.Join(dir, c.file), out, c.opt)
			if err != nil {
				t.Fatal(err)
			}
			checkReport(t, rep, c)
			checkONNX(t, out)
			if inputs[c.images] == nil {
				inputs[c.images] = fixtures.Images(t, c.images, c.size)
			}
			got := runModel(t, out, inputs[c.images])
			want := fixtures.Float32s(t, c.ref)
			compareOutputs(t, got, want, c)
		})
	}
}

func featuresSuffix(o convert.Options) string {
	if o.Features {
		return "/features"
	}
	return ""
}

func checkReport(t *testing.T, rep *convert.Report, c parityCase) {
	t.Helper()
	if rep.Checkpoint.Kind != c.kind {
		t.Errorf("kind %s, want %s", rep.Checkpoint.Kind, c.kind)
	}
	p := rep.Plan
	if p.Config.Head != c.head || p.Config.OutputDim() != c.outDim {
		t.Errorf("model %s, want head %s with %d outputs", p.Config, c.head, c.outDim)
	}
	if p.Config.Stem != models.StemImageNet {
		t.Errorf("stem %s, want imagenet (conv1 is 7x7)", p.Config.Stem)
	}
	if got := p.Meta.Preprocess.InputSize; got != c.size {
		t.Errorf("input size %d, want %d", got, c.size)
	}
	if c.hasClass && len(p.Meta.Classes) != 10 {
		t.Errorf("classes %v, want CIFAR-10's", p.Meta.Classes)
	}
	if c.kind == convert.KindLinCls && (len(p.Notes) == 0 || rep.Checkpoint.BestAcc1 < 0) {
		t.Errorf("lincls: want a note on the 1000-way fc and best_acc1, got %v, %v",
			p.Notes, rep.Checkpoint.BestAcc1)
	}
}

// checkONNX runs onnx.checker from Debian's python3-onnx on the file.
func checkONNX(t *testing.T, path string) {
	t.Helper()
	cmd := exec.Command("/usr/bin/python3", "-c",
		"import onnx, sys; onnx.checker.check_model(sys.argv[1], full_check=True)", path)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("onnx.checker rejects %s: %v\n%s", path, err, out)
	}
}

func runModel(t *testing.T, path string, imgs []*image.NRGBA) []float32 {
	t.Helper()
	s, err := inference.Open(path, inference.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	const batch = 50
	var out []float32
	in := make([]float32, batch*s.InputLen())
	for i := 0; i < len(imgs); i += batch {
		n := min(batch, len(imgs)-i)
		for j := 0; j < n; j++ {
			dst := in[j*s.InputLen() : (j+1)*s.InputLen()]
			if err := inference.PreprocessInto(dst, imgs[i+j], s.Metadata().Preprocess); err != nil {
				t.Fatal(err)
			}
		}
		y, err := s.Run(in[:n*s.InputLen()], n)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, y...)
	}
	return out
}

func compareOutputs(t *testing.T, got, want []float32, c parityCase) {
	t.Helper()
	if len(got) != len(want) || len(got) != 1000*c.outDim {
		t.Fatalf("%d outputs, PyTorch has %d, want 1000x%d", len(got), len(want), c.outDim)
	}
	diff, _ := fixtures.MaxAbsDiff(got, want)
	t.Logf("%s: max |onnxruntime - PyTorch| = %.3g over 1000 images", c.file, diff)
	if diff > 1e-4 {
		t.Errorf("max abs difference %.3g > 1e-4", diff)
	}
	if !c.hasClass {
		return
	}
	g, w := fixtures.Argmax(got, c.outDim), fixtures.Argmax(want, c.outDim)
	for i := range g {
		if g[i] != w[i] {
			t.Errorf("image %d: top-1 %d, PyTorch %d", i, g[i], w[i])
		}
	}
}
