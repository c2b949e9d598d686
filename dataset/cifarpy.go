package dataset

import (
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"

	"github.com/mocokit/mocokit/pickle"
)

// cifarPyRow is the length of one image row in the python batches: the R,
// G and B planes of a 32x32 image.
const cifarPyRow = 3 * 32 * 32

// maxCIFARPyFile bounds the size of one batch file read into memory; an
// original batch of 10,000 images is 31 MB (up to twice that when Python 3
// writes its bytes at protocol 2).
const maxCIFARPyFile = 512 << 20

// cifarPyGlobals are the only globals the CIFAR pickles may use: numpy's
// array reconstruction (kept as data, interpreted below) and _codecs.encode,
// with which Python 3 writes bytes at protocol 2.
var cifarPyGlobals = pickle.Allow("numpy.core.multiarray._reconstruct",
	"numpy.ndarray", "numpy.dtype", "_codecs.encode")

// LoadCIFARPython reads the split of CIFAR-10 from the original
// cifar-10-batches-py directory: data_batch_1 to data_batch_5 (train) or
// test_batch (test), each a pickled dict with "data" (a uint8 numpy array
// of [n, 3072] rows, R then G then B plane) and "labels", and
// batches.meta with "label_names". Keys may be bytes (the original
// Python 2 files) or str. Sample names are "<batch>[<row>]".
func LoadCIFARPython(dir string, split Split) (*Dataset, error) {
	var batches []string
	switch split {
	case Train:
		for i := 1; i <= 5; i++ {
			batches = append(batches, fmt.Sprintf("data_batch_%d", i))
		}
	case Test:
		batches = []string{"test_batch"}
	default:
		return nil, fmt.Errorf("dataset: unknown split %q (want train or test)", split)
	}
	classes, err := cifarPyClasses(filepath.Join(dir, "batches.meta"))
	if err != nil {
		return nil, err
	}
	ds := &Dataset{Classes: classes}
	for _, b := range batches {
		if err := readCIFARPyBatch(filepath.Join(dir, b), ds); err != nil {
			return nil, err
		}
	}
	return ds, nil
}

func loadCIFARPyPickle(path string) (*pickle.Dict, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	if st.Size() > maxCIFARPyFile {
		return nil, fmt.Errorf("dataset: %s: %d bytes, more than a CIFAR batch can have",
			path, st.Size())
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("dataset: %w", err)
	}
	v, err := pickle.Loads(data, &pickle.Options{Find: cifarPyGlobals})
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", path, err)
	}
	d, ok := v.(*pickle.Dict)
	if !ok {
		return nil, fmt.Errorf("dataset: %s: holds a %s, want a dict", path, pickle.TypeName(v))
	}
	return d, nil
}

// cifarPyClasses reads label_names from batches.meta.
func cifarPyClasses(path string) ([]string, error) {
	meta, err := loadCIFARPyPickle(path)
	if err != nil {
		return nil, err
	}
	v, ok := meta.Get("label_names")
	list, isList := v.(*pickle.List)
	if !ok || !isList || len(list.Items) == 0 {
		return nil, fmt.Errorf("dataset: %s: no label_names list", path)
	}
	classes := make([]string, len(list.Items))
	for i, it := range list.Items {
		switch s := it.(type) {
		case string:
			classes[i] = s
		case []byte:
			classes[i] = string(s)
		default:
			return nil, fmt.Errorf("dataset: %s: label name %d is a %s", path, i,
				pickle.TypeName(it))
		}
	}
	return classes, nil
}

// readCIFARPyBatch appends the images of one batch file to ds.
func readCIFARPyBatch(path string, ds *Dataset) error {
	batch, err := loadCIFARPyPickle(path)
	if err != nil {
		return err
	}
	dv, ok := batch.Get("data")
	if !ok {
		return fmt.Errorf("dataset: %s: no \"data\" entry", path)
	}
	data, err := decodeNumpyArray(dv)
	if err != nil {
		return fmt.Errorf("dataset: %s: data: %w", path, err)
	}
	if len(data.shape) != 2 || data.shape[1] != cifarPyRow || data.dtype != "u1" {
		return fmt.Errorf("dataset: %s: data is %s %v, want uint8 [n, %d]", path,
			data.dtype, data.shape, cifarPyRow)
	}
	lv, ok := batch.Get("labels")
	if !ok {
		return fmt.Errorf("dataset: %s: no \"labels\" entry", path)
	}
	labels, err := cifarPyLabels(lv)
	if err != nil {
		return fmt.Errorf("dataset: %s: labels: %w", path, err)
	}
	n := data.shape[0]
	if len(labels) != n {
		return fmt.Errorf("dataset: %s: %d labels for %d images", path, len(labels), n)
	}
	base := filepath.Base(path)
	for i, label := range labels {
		if label < 0 || label >= int64(len(ds.Classes)) {
			return fmt.Errorf("dataset: %s: image %d has label %d, only %d classes",
				path, i, label, len(ds.Classes))
		}
		ds.Samples = append(ds.Samples, Sample{
			Image: planesToImage(data.data[i*cifarPyRow : (i+1)*cifarPyRow]),
			Label: int(label), Name: fmt.Sprintf("%s[%d]", base, i)})
	}
	return nil
}

// cifarPyLabels accepts a list of ints (the original files) or a 1-D
// integer numpy array.
func cifarPyLabels(v any) ([]int64, error) {
	if l, ok := v.(*pickle.List); ok {
		out := make([]int64, len(l.Items))
		for i, it := range l.Items {
			x, ok := it.(int64)
			if !ok {
				return nil, fmt.Errorf("label %d is a %s", i, pickle.TypeName(it))
			}
			out[i] = x
		}
		return out, nil
	}
	a, err := decodeNumpyArray(v)
	if err != nil {
		return nil, err
	}
	if len(a.shape) != 1 {
		return nil, fmt.Errorf("array of shape %v, want 1-D", a.shape)
	}
	out := make([]int64, a.shape[0])
	for i := range out {
		switch a.dtype {
		case "u1":
			out[i] = int64(a.data[i])
		case "i4":
			out[i] = int64(int32(binary.LittleEndian.Uint32(a.data[4*i:])))
		case "i8":
			out[i] = int64(binary.LittleEndian.Uint64(a.data[8*i:]))
		default:
			return nil, fmt.Errorf("array of %s, want integers", a.dtype)
		}
	}
	return out, nil
}
