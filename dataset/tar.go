package dataset

import (
	"archive/tar"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"strings"
)

// maxTarEntry bounds one archive member read into memory; dataset images
// are kilobytes, so a bigger member is taken as damage, not data.
const maxTarEntry = 64 << 20

// LoadTar reads a .tar, .tar.gz or .tgz archive laid out like the CIFAR-10
// JPEG copy: <split>/<class>/<image>. The class is the image's parent folder.
// When members sit under train/ or test/, only the split's are read; an
// archive without split folders is read whole, as one split.
func LoadTar(archive string, split Split) (*Dataset, error) {
	entries, err := readTar(archive)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", archive, err)
	}
	selected, err := selectSplit(entries, split)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", archive, err)
	}
	ds, err := build(selected, nil)
	if err != nil {
		return nil, fmt.Errorf("dataset: %s: %w", archive, err)
	}
	return ds, nil
}

// tarEntry is a fileEntry that remembers the folder above its class.
type tarEntry struct {
	fileEntry
	split string
}

func readTar(archive string) ([]tarEntry, error) {
	f, err := os.Open(archive)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var r io.Reader = f
	if p := strings.ToLower(archive); strings.HasSuffix(p, ".gz") ||
		strings.HasSuffix(p, ".tgz") {
		gz, err := gzip.NewReader(f)
		if err != nil {
			return nil, fmt.Errorf("not a gzip archive: %w", err)
		}
		defer gz.Close()
		r = gz
	}
	tr := tar.NewReader(r)
	var entries []tarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return entries, nil
		}
		if err != nil {
			return nil, fmt.Errorf("reading archive: %w", err)
		}
		e, ok := member(h)
		if !ok {
			continue
		}
		if h.Size > maxTarEntry {
			return nil, fmt.Errorf("member %q is %d bytes, too big for an image", h.Name,
				h.Size)
		}
		if e.data, err = io.ReadAll(tr); err != nil {
			return nil, fmt.Errorf("reading member %q: %w", h.Name, err)
		}
		entries = append(entries, e)
	}
}

// member reports whether h is an image in a class folder, and where.
func member(h *tar.Header) (tarEntry, bool) {
	if h.Typeflag != tar.TypeReg || !isImageName(h.Name) {
		return tarEntry{}, false
	}
	name := path.Clean(strings.TrimPrefix(h.Name, "./"))
	parts := strings.Split(name, "/")
	if len(parts) < 2 || strings.HasPrefix(parts[len(parts)-1], ".") {
		return tarEntry{}, false
	}
	e := tarEntry{fileEntry: fileEntry{class: parts[len(parts)-2], name: name}}
	if len(parts) >= 3 {
		e.split = parts[len(parts)-3]
	}
	return e, true
}

func selectSplit(entries []tarEntry, split Split) ([]fileEntry, error) {
	if len(entries) == 0 {
		return nil, errors.New("no images in class folders (want <split>/<class>/<image>)")
	}
	hasSplits := false
	for _, e := range entries {
		if e.split == string(Train) || e.split == string(Test) {
			hasSplits = true
		}
	}
	var out []fileEntry
	for _, e := range entries {
		if !hasSplits || e.split == string(split) {
			out = append(out, e.fileEntry)
		}
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no images under %s/", split)
	}
	return out, nil
}
