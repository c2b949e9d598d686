// Package assets embeds mocokit's default: a ResNet-18 trained on CIFAR-10
// (see MODEL_CARD.md beside this file) and the CIFAR-10 test set, so that
// `mocokit serve` classifies and evaluates out of the box.
package assets

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"

	_ "embed"
)

// Names of the embedded files.
const (
	ModelName   = "resnet18-cifar10.onnx"
	TestSetName = "cifar10-test.tar"
)

// Model is the default model, an ONNX file exported by mocokit.
//
//go:embed resnet18-cifar10.onnx
var Model []byte

// TestSet is the CIFAR-10 test set (JPEG q75 copy): test/<class>/NNNN.jpg.
//
//go:embed cifar10-test.tar
var TestSet []byte

// Extract writes the embedded files into a folder of dir named after their
// contents, unless an earlier call did, and returns their paths. Files are
// written under temporary names and renamed, so a reader never sees half of
// one.
func Extract(dir string) (model, testSet string, err error) {
	sum := sha256.New()
	sum.Write(Model)
	sum.Write(TestSet)
	dir = filepath.Join(dir, "default-"+hex.EncodeToString(sum.Sum(nil))[:12])
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", fmt.Errorf("assets: %w", err)
	}
	model = filepath.Join(dir, ModelName)
	testSet = filepath.Join(dir, TestSetName)
	for path, data := range map[string][]byte{model: Model, testSet: TestSet} {
		if err := writeOnce(path, data); err != nil {
			return "", "", err
		}
	}
	return model, testSet, nil
}

func writeOnce(path string, data []byte) error {
	if old, err := os.ReadFile(path); err == nil && bytes.Equal(old, data) {
		return nil
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), ".tmp-*")
	if err != nil {
		return fmt.Errorf("assets: %w", err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("assets: writing %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("assets: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("assets: %w", err)
	}
	return nil
}
