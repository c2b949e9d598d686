package torchfile

import (
	"archive/zip"
	"bytes"
	"fmt"
	"hash/crc32"
	"io"
	"strings"

	"github.com/mocokit/mocokit/pickle"
)

// maxDeflateRatio bounds how much a deflated entry can expand (deflate's
// best case is about 1032:1), so a forged size cannot make us allocate.
const maxDeflateRatio = 1032

// readZip reads torch.save's zip format: <dir>/data.pkl holds the object,
// <dir>/data/<key> the bytes of each storage.
func (r *reader) readZip(data []byte) (any, error) {
	r.size = len(data)
	r.data = data
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: zip archive: %w", r.name, err)
	}
	files := map[string]*zip.File{}
	var pkl *zip.File
	for _, f := range zr.File {
		if _, dup := files[f.Name]; dup {
			return nil, fmt.Errorf("torchfile: %s: zip entry %q appears twice", r.name, f.Name)
		}
		files[f.Name] = f
		dir, base, ok := strings.Cut(f.Name, "/")
		if ok && base == "data.pkl" && !strings.Contains(dir, "/") && pkl == nil {
			pkl = f
		}
	}
	if pkl == nil {
		return nil, fmt.Errorf("torchfile: %s: zip archive without <dir>/data.pkl "+
			"(not written by torch.save)", r.name)
	}
	prefix := strings.TrimSuffix(pkl.Name, "data.pkl")
	if b, ok := files[prefix+"byteorder"]; ok {
		order, err := r.entry(b)
		if err != nil {
			return nil, err
		}
		if string(order) != "little" {
			return nil, fmt.Errorf("torchfile: %s: byte order %q is not supported",
				r.name, order)
		}
	}
	r.load = func(s *Storage) error {
		f, ok := files[prefix+"data/"+s.Key]
		if !ok {
			return fmt.Errorf("zip entry %q is missing", prefix+"data/"+s.Key)
		}
		b, err := r.entry(f)
		if err != nil {
			return err
		}
		if need := s.Numel * s.DType.Size(); len(b) < need {
			return fmt.Errorf("zip entry %q has %d bytes, storage of %d %s needs %d",
				f.Name, len(b), s.Numel, s.DType, need)
		}
		s.Data = b[:s.Numel*s.DType.Size()]
		return nil
	}
	pk, err := r.entry(pkl)
	if err != nil {
		return nil, err
	}
	v, err := pickle.Loads(pk, r.pickleOptions())
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: zip entry %q: %w", r.name, pkl.Name, err)
	}
	return v, nil
}

// maxInflated bounds the total size of the compressed entries of one file.
const maxInflated = 1 << 30

// entry reads a whole zip entry. Reading up to EOF is what makes
// archive/zip verify the CRC-32, so the final read is required.
func (r *reader) entry(f *zip.File) ([]byte, error) {
	size := f.UncompressedSize64
	switch {
	case size > uint64(r.opts.MaxStorageBytes):
		return nil, fmt.Errorf("torchfile: %s: zip entry %q has %d bytes, more than the limit "+
			"of %d", r.name, f.Name, size, r.opts.MaxStorageBytes)
	case f.CompressedSize64 > uint64(r.size),
		f.Method == zip.Store && size != f.CompressedSize64,
		f.Method != zip.Store && size > maxDeflateRatio*(f.CompressedSize64+1):
		return nil, fmt.Errorf("torchfile: %s: zip entry %q: sizes %d and %d do not match", r.name,
			f.Name, f.CompressedSize64, size)
	}
	if f.Method == zip.Store {
		return r.storedEntry(f)
	}
	// torch.save never compresses; a compressed archive is accepted, but
	// what it inflates to in total is bounded, or a few megabytes of
	// deflate could ask for many gigabytes.
	if r.inflated += size; r.inflated > maxInflated {
		return nil, fmt.Errorf("torchfile: %s: compressed zip entries inflate to more "+
			"than %d bytes in all", r.name, uint64(maxInflated))
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: zip entry %q: %w", r.name, f.Name, err)
	}
	defer rc.Close()
	buf := make([]byte, size)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, fmt.Errorf("torchfile: %s: zip entry %q: %w", r.name, f.Name, err)
	}
	var one [1]byte
	if n, err := rc.Read(one[:]); n != 0 || err != io.EOF {
		if err == nil || err == io.EOF {
			err = fmt.Errorf("longer than its declared %d bytes", size)
		}
		return nil, fmt.Errorf("torchfile: %s: zip entry %q: %w", r.name, f.Name, err)
	}
	return buf, nil
}

// storedEntry returns an uncompressed entry (torch.save stores every entry
// so) as a slice of the input, after checking its CRC-32: this saves a copy
// of every storage.
func (r *reader) storedEntry(f *zip.File) ([]byte, error) {
	off, err := f.DataOffset()
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: zip entry %q: %w", r.name, f.Name, err)
	}
	size := int64(f.UncompressedSize64)
	if off < 0 || off > int64(len(r.data)) || size > int64(len(r.data))-off {
		return nil, fmt.Errorf("torchfile: %s: zip entry %q: %d bytes at offset %d run past "+
			"the end of the file", r.name, f.Name, size, off)
	}
	b := r.data[off : off+size : off+size]
	if crc32.ChecksumIEEE(b) != f.CRC32 {
		return nil, fmt.Errorf("torchfile: %s: zip entry %q: %w", r.name, f.Name, zip.ErrChecksum)
	}
	return b, nil
}
