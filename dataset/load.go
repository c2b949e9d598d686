package dataset

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Load reads the split of the dataset at path, recognising its layout:
//   - a cifar-10-batches-py directory (test_batch, data_batch_N,
//     batches.meta), or a directory holding one: LoadCIFARPython;
//   - a cifar-10-batches-bin directory (test_batch.bin, data_batch_N.bin),
//     or a directory holding one: LoadCIFARBinary;
//   - a .tar, .tar.gz or .tgz archive of <split>/<class>/<image>: LoadTar;
//   - a directory with train/ and test/ subfolders: the split's folder;
//   - a directory with train.tar and test.tar: the split's archive;
//   - a directory of class subfolders of images: LoadFolder.
func Load(path string, split Split) (*Dataset, error) {
	if split != Train && split != Test {
		return nil, fmt.Errorf("dataset: unknown split %q (want train or test)", split)
	}
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if !st.IsDir() {
		if isTarName(path) {
			return LoadTar(path, split)
		}
		return nil, fmt.Errorf("dataset: %s: unknown layout (want a directory, "+
			"or a .tar, .tar.gz or .tgz archive)", path)
	}
	for _, dir := range []string{path, filepath.Join(path, "cifar-10-batches-py"),
		filepath.Join(path, "cifar-10-batches-bin")} {
		switch {
		case hasAnyFile(dir, "test_batch.bin", "data_batch_1.bin"):
			return LoadCIFARBinary(dir, split)
		case hasAnyFile(dir, "test_batch", "data_batch_1", "batches.meta"):
			return LoadCIFARPython(dir, split)
		}
	}
	if hasAnyFile(path, "train.tar") && hasAnyFile(path, "test.tar") {
		return LoadTar(filepath.Join(path, string(split)+".tar"), split)
	}
	if isDir(filepath.Join(path, string(Train))) && isDir(filepath.Join(path, string(Test))) {
		return LoadFolder(filepath.Join(path, string(split)))
	}
	return LoadFolder(path)
}

func isTarName(path string) bool {
	p := strings.ToLower(path)
	return strings.HasSuffix(p, ".tar") || strings.HasSuffix(p, ".tar.gz") ||
		strings.HasSuffix(p, ".tgz")
}

func hasAnyFile(dir string, names ...string) bool {
	for _, n := range names {
		if st, err := os.Stat(filepath.Join(dir, n)); err == nil && !st.IsDir() {
			return true
		}
	}
	return false
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}
