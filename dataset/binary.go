package dataset

import (
	"bufio"
	"fmt"
	"image"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// CIFAR-10 binary version, as per https://www.cs.toronto.edu/~kriz/cifar.html:
// each record is a label byte then 32x32 red, green and blue planes.
const (
	cifarSide       = 32
	cifarPlane      = cifarSide * cifarSide
	cifarRecordSize = 1 + 3*cifarPlane
	cifarTrainFiles = 5
)

// LoadCIFARBinary reads a cifar-10-batches-bin directory: test_batch.bin
// for the test split, data_batch_1.bin to data_batch_5.bin for training.
// Class names come from batches.meta.txt when present.
func LoadCIFARBinary(dir string, split Split) (*Dataset, error) {
	var files []string
	switch split {
	case Test:
		files = []string{"test_batch.bin"}
	case Train:
		for i := 1; i <= cifarTrainFiles; i++ {
			files = append(files, fmt.Sprintf("data_batch_%d.bin", i))
		}
	default:
		return nil, fmt.Errorf("dataset: unknown split %q", split)
	}
	classes, err := binaryClasses(dir)
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Classes: classes}
	for _, f := range files {
		if err := readBinaryBatch(filepath.Join(dir, f), ds); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func binaryClasses(dir string) ([]string, error) {
	data, err := os.ReadFile(filepath.Join(dir, "batches.meta.txt"))
	if os.IsNotExist(err) {
		return append([]string(nil), CIFAR10Classes...), nil
	}
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	var classes []string
	for _, line := range strings.Split(string(data), "\n") {
		if line = strings.TrimSpace(line); line != "" {
			classes = append(classes, line)
		}
	}
	if len(classes) == 0 || len(classes) > 256 {
		return nil, fmt.Errorf("dataset: %s: %d class names in batches.meta.txt",
			dir, len(classes))
	}
	return classes, nil
}

// readBinaryBatch appends the records of one batch file to ds.
func readBinaryBatch(path string, ds *Dataset) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return fmt.Errorf("dataset: %w", err)
	}
	if st.Size() == 0 || st.Size()%cifarRecordSize != 0 {
		return fmt.Errorf("dataset: %s: %d bytes is not a whole number of %d-byte "+
			"CIFAR-10 records", path, st.Size(), cifarRecordSize)
	}
	r := bufio.NewReader(f)
	record := make([]byte, cifarRecordSize)
	base := filepath.Base(path)
	for i := 0; i < int(st.Size()/cifarRecordSize); i++ {
		if _, err := io.ReadFull(r, record); err != nil {
			return fmt.Errorf("dataset: %s: record %d: %w", path, i, err)
		}
		label := int(record[0])
		if label >= len(ds.Classes) {
			return fmt.Errorf("dataset: %s: record %d has label %d, only %d classes",
				path, i, label, len(ds.Classes))
		}
		ds.Samples = append(ds.Samples, Sample{Image: planesToImage(record[1:]),
			Label: label, Name: fmt.Sprintf("%s:%d", base, i)})
	}
	return nil
}

// planesToImage interleaves the R, G and B planes into an opaque image.
func planesToImage(planes []byte) *image.NRGBA {
	img := image.NewNRGBA(image.Rect(0, 0, cifarSide, cifarSide))
	for i := 0; i < cifarPlane; i++ {
		img.Pix[4*i] = planes[i]
		img.Pix[4*i+1] = planes[cifarPlane+i]
		img.Pix[4*i+2] = planes[2*cifarPlane+i]
		img.Pix[4*i+3] = 0xff
	}
	return img
}
