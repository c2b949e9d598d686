package export

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"

	"google.golang.org/protobuf/proto"

	"github.com/mocokit/mocokit/export/onnxpb"
	"github.com/mocokit/mocokit/models"
)

// MaxFileSize bounds the ONNX files this package reads. A ResNet-18 is about
// 45 MB; protobuf itself cannot encode messages past 2 GiB.
const MaxFileSize = 1 << 30

// FileMode is the permission of written models: the server may run as
// another user than the exporter.
const FileMode = 0o644

// WriteFile builds the model of cfg with weights w and metadata meta (see
// Model) and writes it to path atomically: either path holds the complete
// new model afterwards or it is left as it was.
func WriteFile(path string, cfg models.Config, w models.Weights, meta models.Metadata) error {
	m, err := Model(cfg, w, meta)
	if err != nil {
		return err
	}
	return WriteModel(path, m)
}

// WriteModel encodes m and writes it to path atomically. The bytes go to a
// temporary file in the same directory, which is synced and then renamed
// over path, so a crash or a full disk never leaves a partial model where a
// server could load it; the temporary file is removed on any failure.
func WriteModel(path string, m *onnxpb.ModelProto) error {
	b, err := proto.MarshalOptions{Deterministic: true}.Marshal(m)
	if err != nil {
		return fmt.Errorf("export: encoding %s: %w", path, err)
	}
	if err := writeAtomic(path, b); err != nil {
		return err
	}
	slog.Debug("ONNX model written", "path", path, "bytes", len(b),
		"graph", m.GetGraph().GetName())
	return nil
}

func writeAtomic(path string, b []byte) (err error) {
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	if st, err := os.Stat(path); err == nil && st.IsDir() {
		return fmt.Errorf("export: %s is a directory, not a file name", path)
	}
	f, err := os.CreateTemp(dir, "."+base+".tmp-*")
	if err != nil {
		// The temporary name means nothing to the user: report the folder.
		var pe *fs.PathError
		if errors.As(err, &pe) {
			err = pe.Err
		}
		return fmt.Errorf("export: writing %s: folder %s: %w", path, dir, err)
	}
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close() // a no-op error when already closed
			os.Remove(tmp)
		}
	}()
	if _, err := f.Write(b); err != nil {
		return fmt.Errorf("export: writing %s: %w", path, err)
	}
	if err := f.Chmod(FileMode); err != nil {
		return fmt.Errorf("export: writing %s: %w", path, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("export: syncing %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("export: writing %s: %w", path, err)
	}
	if err := os.Rename(tmp, path); err != nil {
		return fmt.Errorf("export: writing %s: %w", path, err)
	}
	syncDir(dir)
	return nil
}

// syncDir makes the rename durable. Some file systems cannot sync a
// directory; the model is complete either way, so that is not an error.
func syncDir(dir string) {
	d, err := os.Open(dir)
	if err != nil {
		return
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		slog.Debug("directory sync failed", "dir", dir, "err", err)
	}
}

// ReadModel reads and decodes the ONNX file at path. A file larger than
// MaxFileSize, an empty one, or one that does not decode as an ONNX model
// with a graph is an error.
func ReadModel(path string) (*onnxpb.ModelProto, error) {
	b, err := readCapped(path)
	if err != nil {
		return nil, err
	}
	m := &onnxpb.ModelProto{}
	if err := proto.Unmarshal(b, m); err != nil {
		return nil, fmt.Errorf("export: %s is not a valid ONNX model: %w", path, err)
	}
	// Protobuf accepts many byte strings as a message of unknown fields, so a
	// model is only recognised by what every ONNX model has.
	if m.GetIrVersion() <= 0 || m.GetGraph() == nil || len(m.GetOpsetImport()) == 0 {
		return nil, fmt.Errorf("export: %s is not an ONNX model "+
			"(no IR version, opset or graph)", path)
	}
	return m, nil
}

func readCapped(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("export: %w", err)
	}
	switch {
	case !st.Mode().IsRegular():
		return nil, fmt.Errorf("export: %s is not a regular file", path)
	case st.Size() == 0:
		return nil, fmt.Errorf("export: %s is empty, not an ONNX model", path)
	case st.Size() > MaxFileSize:
		return nil, fmt.Errorf("export: %s is %d bytes, more than the %d allowed",
			path, st.Size(), MaxFileSize)
	}
	// The limit also holds if the file grows after Stat.
	b, err := io.ReadAll(io.LimitReader(f, MaxFileSize+1))
	if err != nil {
		return nil, fmt.Errorf("export: reading %s: %w", path, err)
	}
	if len(b) > MaxFileSize {
		return nil, fmt.Errorf("export: %s grew past %d bytes while being read",
			path, MaxFileSize)
	}
	return b, nil
}

// ErrNoMetadata reports an ONNX model that mocokit did not write: it lacks
// the mocokit metadata properties.
var ErrNoMetadata = errors.New("no mocokit metadata")

// ReadMetadata reads the ONNX file at path and returns the metadata Model
// stored in it and the shape of its input, [-1, 3, S, S], where -1 stands
// for the symbolic batch dimension.
func ReadMetadata(path string) (models.Metadata, []int, error) {
	m, err := ReadModel(path)
	if err != nil {
		return models.Metadata{}, nil, err
	}
	meta, shape, err := ModelMetadata(m)
	if err != nil {
		return meta, nil, fmt.Errorf("export: %s: %w", path, err)
	}
	return meta, shape, nil
}
