package torchfile

import (
	"archive/zip"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"

	"github.com/mocokit/mocokit/pickle"
)

// recordAlign is where torch.save starts the data of every record: a
// multiple of 64 bytes, so that a loader may map storages in place.
const recordAlign = 64

// paddingFieldID is the zip extra field ("FB") torch pads records with.
const paddingFieldID = 'F' | 'B'<<8

// maxRecordBytes keeps each record within the 32-bit sizes of a plain zip
// local header.
const maxRecordBytes = 1<<32 - 1

// writeFile pickles obj and writes it with w's storages as a torch.save
// zip archive at path, through a temporary file that is renamed into
// place only once it is complete and synced.
func (w *stateWriter) writeFile(path string, obj any) (err error) {
	pkl, err := pickle.Dumps(obj)
	if err != nil {
		return fmt.Errorf("torchfile: write %s: %w", path, err)
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	tmp, err := os.CreateTemp(dir, "."+base+".*.tmp")
	if err != nil {
		return fmt.Errorf("torchfile: write %s: %w", path, err)
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
			err = fmt.Errorf("torchfile: write %s: %w", path, err)
		}
	}()
	if err := w.writeArchive(tmp, pkl); err != nil {
		return err
	}
	// CreateTemp makes the file private; a saved model is an ordinary
	// file, as torch.save leaves it.
	if err := tmp.Chmod(0o644); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return err
	}
	syncDir(dir)
	return nil
}

// syncDir makes the rename durable where the file system allows it; some
// refuse to sync a directory, and the file itself is already on disk.
func syncDir(dir string) {
	if d, err := os.Open(dir); err == nil {
		d.Sync()
		d.Close()
	}
}

// writeArchive writes the records of torch.save's zip format to f.
func (w *stateWriter) writeArchive(f io.Writer, pkl []byte) error {
	cw := &countingWriter{w: f}
	zw := zip.NewWriter(cw)
	if err := writeRecord(zw, cw, "data.pkl", pkl); err != nil {
		return err
	}
	// torch 2 records the byte order; torch 1.13 ignores the record and
	// assumes little-endian, which is what is written.
	if err := writeRecord(zw, cw, "byteorder", []byte("little")); err != nil {
		return err
	}
	for i, e := range w.storages {
		if err := writeRecord(zw, cw, fmt.Sprint("data/", i), e.bytes()); err != nil {
			return fmt.Errorf("tensor %q: %w", e.Name, err)
		}
	}
	if err := writeRecord(zw, cw, "version", []byte(formatVersion)); err != nil {
		return err
	}
	return zw.Close()
}

// writeRecord stores data uncompressed under archive/name, padded so that
// it starts on a multiple of recordAlign as torch.save aligns it.
func writeRecord(zw *zip.Writer, cw *countingWriter, name string, data []byte) error {
	if len(data) > maxRecordBytes {
		return fmt.Errorf("record %s has %d bytes, more than a zip record holds", name,
			len(data))
	}
	if err := zw.Flush(); err != nil {
		return err
	}
	name = archiveName + "/" + name
	const localHeaderLen, fieldHeaderLen = 30, 4
	start := cw.n + localHeaderLen + int64(len(name)) + fieldHeaderLen
	pad := (recordAlign - start%recordAlign) % recordAlign
	extra := binary.LittleEndian.AppendUint16(nil, paddingFieldID)
	extra = binary.LittleEndian.AppendUint16(extra, uint16(pad))
	for range pad {
		extra = append(extra, 'Z')
	}
	rw, err := zw.CreateRaw(&zip.FileHeader{
		Name:               name,
		Method:             zip.Store,
		CRC32:              crc32.ChecksumIEEE(data),
		CompressedSize64:   uint64(len(data)),
		UncompressedSize64: uint64(len(data)),
		Extra:              extra,
	})
	if err != nil {
		return err
	}
	_, err = rw.Write(data)
	return err
}

// countingWriter counts the bytes written through it: the offset at which
// the zip writer, once flushed, writes its next record.
type countingWriter struct {
	w io.Writer
	n int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err == nil && n < len(p) {
		err = errors.New("short write")
	}
	return n, err
}
