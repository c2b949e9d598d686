package export

import (
	"errors"
	"math/rand/v2"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"google.golang.org/protobuf/proto"

	"github.com/mocokit/mocokit/export/onnxpb"
	"github.com/mocokit/mocokit/models"
)

// dirEntries lists the names in dir, so a test can see leftovers.
func dirEntries(t *testing.T, dir string) []string {
	t.Helper()
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range es {
		names = append(names, e.Name())
	}
	return names
}

func TestWriteFileLeavesNoFileWhenWeightsDoNotFit(t *testing.T) {
	dir := t.TempDir()
	cfg := models.ResNet18(models.StemCIFAR, 10)
	w := randomWeights(cfg, 7)
	delete(w, "fc.bias")

	err := WriteFile(filepath.Join(dir, "model.onnx"), cfg, w, cifar32("logits"))
	var layout *models.LayoutError
	if !errors.As(err, &layout) {
		t.Fatalf("error %v, want a models.LayoutError", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v after a failed export", names)
	}
}

func TestWriteFileLeavesNoFileWhenItCannotWrite(t *testing.T) {
	cfg := models.ResNet18(models.StemCIFAR, 10)
	w := randomWeights(cfg, 8)
	dir := t.TempDir()
	notDir := filepath.Join(dir, "weights.txt")
	if err := os.WriteFile(notDir, []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	// A target that is a directory fails at the rename, after the temporary
	// file was written: the path most likely to leave debris.
	target := filepath.Join(dir, "model.onnx")
	if err := os.Mkdir(target, 0o755); err != nil {
		t.Fatal(err)
	}

	for _, path := range []string{
		filepath.Join(dir, "missing", "model.onnx"),
		filepath.Join(notDir, "model.onnx"),
		target,
	} {
		if err := WriteFile(path, cfg, w, cifar32("logits")); err == nil {
			t.Errorf("WriteFile(%s) succeeded", path)
		}
	}
	want := []string{"model.onnx", "weights.txt"}
	if names := dirEntries(t, dir); !reflect.DeepEqual(names, want) {
		t.Errorf("directory holds %v, want %v", names, want)
	}
	if names := dirEntries(t, target); len(names) != 0 {
		t.Errorf("target directory holds %v", names)
	}
}

func TestWriteFileLeavesNoFileInReadOnlyDirectory(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root writes into read-only directories; the other failure paths " +
			"are covered by TestWriteFileLeavesNoFileWhenItCannotWrite")
	}
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	defer os.Chmod(dir, 0o755)
	cfg := models.ResNet18(models.StemCIFAR, 10)
	err := WriteFile(filepath.Join(dir, "model.onnx"), cfg, randomWeights(cfg, 9),
		cifar32("logits"))
	if !errors.Is(err, os.ErrPermission) {
		t.Errorf("error %v, want permission denied", err)
	}
	if names := dirEntries(t, dir); len(names) != 0 {
		t.Errorf("directory holds %v", names)
	}
}

func TestWriteFileReplacesAnOldModel(t *testing.T) {
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := os.WriteFile(path, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg := models.ResNet18(models.StemCIFAR, 10)
	w := randomWeights(cfg, 10)
	bad := models.Weights{}
	if err := WriteFile(path, cfg, bad, cifar32("logits")); err == nil {
		t.Fatal("empty weights exported")
	}
	if b, _ := os.ReadFile(path); string(b) != "old" {
		t.Fatalf("a failed export changed the old file to %d bytes", len(b))
	}
	if err := WriteFile(path, cfg, w, cifar32("logits")); err != nil {
		t.Fatal(err)
	}
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Size() < 40<<20 || st.Mode().Perm() != FileMode {
		t.Errorf("new model is %d bytes, mode %v", st.Size(), st.Mode())
	}
}

func TestMetadataRoundTrips(t *testing.T) {
	cfg := models.ResNet18(models.StemImageNet, 3)
	meta := models.Metadata{
		Output:  "logits",
		Classes: []string{"cat", "dog", "ship, \"large\""},
		Preprocess: models.Preprocess{InputSize: 48,
			Mean: [3]float32{0.4914, 0.4822, 0.4465}, Std: [3]float32{0.247, 0.243, 0.261}},
		Source: "checkpoint_0199.pth.tar (module.encoder_q)",
	}
	path := filepath.Join(t.TempDir(), "model.onnx")
	if err := WriteFile(path, cfg, randomWeights(cfg, 11), meta); err != nil {
		t.Fatal(err)
	}

	got, shape, err := ReadMetadata(path)
	if err != nil {
		t.Fatal(err)
	}
	want := meta
	want.Arch, want.Stem, want.Head = "resnet18", models.StemImageNet, models.HeadClassifier
	if !reflect.DeepEqual(got, want) {
		t.Errorf("metadata\n got %+v\nwant %+v", got, want)
	}
	if !reflect.DeepEqual(shape, []int{-1, 3, 48, 48}) {
		t.Errorf("input shape %v, want [-1 3 48 48]", shape)
	}
}

func TestReadMetadataRejectsDamagedFiles(t *testing.T) {
	dir := t.TempDir()
	good := filepath.Join(dir, "good.onnx")
	cfg := models.ResNet18(models.StemCIFAR, 10)
	if err := WriteFile(good, cfg, randomWeights(cfg, 12), cifar32("logits")); err != nil {
		t.Fatal(err)
	}
	model, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	noisy := make([]byte, 4096)
	r := rand.New(rand.NewPCG(13, 0))
	for i := range noisy {
		noisy[i] = byte(r.Uint32())
	}
	foreign, err := proto.Marshal(&onnxpb.ModelProto{IrVersion: 8,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Version: 13}},
		Graph:       &onnxpb.GraphProto{Name: "not ours"}})
	if err != nil {
		t.Fatal(err)
	}

	cases := []struct {
		name string
		data []byte
		want string
	}{
		{"empty", nil, "is empty"},
		{"text", []byte("hello, this is not a model\n"), "ONNX model"},
		{"noise", noisy, "ONNX model"},
		{"truncated", model[:len(model)/2], "not a valid ONNX model"},
		{"first bytes", model[:10], "ONNX model"},
		{"foreign model", foreign, "no mocokit metadata"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(dir, strings.ReplaceAll(c.name, " ", "_"))
			if err := os.WriteFile(path, c.data, 0o644); err != nil {
				t.Fatal(err)
			}
			_, _, err := ReadMetadata(path)
			if err == nil || !strings.Contains(err.Error(), c.want) ||
				!strings.Contains(err.Error(), path) {
				t.Errorf("error %v, want one naming the file and saying %q", err, c.want)
			}
		})
	}
}

func TestReadMetadataRejectsOversizedAndMissingFiles(t *testing.T) {
	dir := t.TempDir()
	huge := filepath.Join(dir, "huge.onnx")
	f, err := os.Create(huge)
	if err != nil {
		t.Fatal(err)
	}
	// Sparse: the size is what is checked, and no disk space is used.
	if err := f.Truncate(MaxFileSize + 1); err != nil {
		t.Fatal(err)
	}
	f.Close()

	if _, _, err := ReadMetadata(huge); err == nil ||
		!strings.Contains(err.Error(), "more than the") {
		t.Errorf("oversized file: %v", err)
	}
	if _, _, err := ReadMetadata(filepath.Join(dir, "absent.onnx")); !errors.Is(err,
		os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	if _, _, err := ReadMetadata(dir); err == nil ||
		!strings.Contains(err.Error(), "not a regular file") {
		t.Errorf("directory: %v", err)
	}
}
