// Package torchfile reads files written by PyTorch's torch.save, in both of
// torch 1.13's formats: the zip archive (data.pkl, data/<key>, version) and
// the legacy format (a run of pickles followed by raw storages), as
// described in torch/serialization.py.
//
// The pickles are decoded by package pickle, which never runs code: tensor
// rebuild functions and storage classes are implemented here, torch.nn and
// torchvision module classes become plain *pickle.Object data, and any
// other global is an error. Every tensor view is checked against its
// storage and every storage against the bytes present; zip CRCs are
// verified.
package torchfile

import (
	"bytes"
	"errors"
	"fmt"
	"os"

	"github.com/mocokit/mocokit/pickle"
)

// Default limits, large enough for a MoCo ResNet-18 checkpoint with its
// 128x65536 queue and optimizer state (about 170 MB).
const (
	DefaultMaxFileBytes    = 8 << 30
	DefaultMaxStorageBytes = 4 << 30
	DefaultMaxElements     = 1 << 32
	// DefaultMaxExpanded bounds views with more elements than their storage.
	DefaultMaxExpanded = 1 << 24
)

// Options configure a read. A nil *Options uses the defaults.
type Options struct {
	MaxFileBytes    int64 // largest file ReadFile accepts
	MaxStorageBytes int64 // largest single storage
	MaxElements     int64 // most elements of one tensor view
	// MaxExpanded bounds the elements of a view that repeats storage
	// elements (stride 0, as torch.expand makes): such a view can ask for
	// far more memory than the file holds.
	MaxExpanded int64
	// Allow names extra "module.name" globals to accept as plain objects
	// (for instance "argparse.Namespace" in some training checkpoints).
	Allow []string
}

func (o *Options) withDefaults() Options {
	var v Options
	if o != nil {
		v = *o
	}
	if v.MaxFileBytes <= 0 {
		v.MaxFileBytes = DefaultMaxFileBytes
	}
	if v.MaxStorageBytes <= 0 {
		v.MaxStorageBytes = DefaultMaxStorageBytes
	}
	if v.MaxElements <= 0 {
		v.MaxElements = DefaultMaxElements
	}
	if v.MaxExpanded <= 0 {
		v.MaxExpanded = DefaultMaxExpanded
	}
	return v
}

// ErrNotTorch reports input that is neither of torch.save's formats.
var ErrNotTorch = errors.New(
	"not a PyTorch file (neither a zip archive nor a legacy pickle)")

// ReadFile reads the torch.save file at path. See Read.
func ReadFile(path string, opts *Options) (any, error) {
	o := opts.withDefaults()
	fi, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	if fi.Size() > o.MaxFileBytes {
		return nil, fmt.Errorf("torchfile: %s has %d bytes, more than the limit of %d",
			path, fi.Size(), o.MaxFileBytes)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %w", err)
	}
	return Read(data, path, &o)
}

// Read decodes the contents of a torch.save file; name is used in error
// messages only. The result is the saved object: *pickle.Dict, *pickle.List,
// pickle.Tuple, scalars, *Tensor for tensors and *pickle.Object for module
// instances (see StateDict). Tensors share memory with data (except those
// of compressed zip entries): do not modify data while they are in use.
func Read(data []byte, name string, opts *Options) (v any, err error) {
	defer func() {
		if p := recover(); p != nil {
			v, err = nil, fmt.Errorf("torchfile: %s: internal error: %v", name, p)
		}
	}()
	r := &reader{opts: opts.withDefaults(), name: name}
	switch {
	case len(data) == 0:
		return nil, fmt.Errorf("torchfile: %s: empty file", name)
	case bytes.HasPrefix(data, []byte("PK\x03\x04")):
		v, err = r.readZip(data)
	case data[0] == 0x80:
		v, err = r.readLegacy(data)
	default:
		return nil, fmt.Errorf("torchfile: %s: %w", name, ErrNotTorch)
	}
	if err != nil {
		return nil, err
	}
	if err := r.checkTensors(); err != nil {
		return nil, fmt.Errorf("torchfile: %s: %w", name, err)
	}
	return v, nil
}

// checkTensors checks every view against its storage, and bounds how much
// the views ask for in total: many views of one big storage (cheap to
// write through the pickle memo) could make a caller convert far more data
// than the file holds.
func (r *reader) checkTensors() error {
	var stored, viewed int64
	for _, s := range r.storages {
		stored += int64(s.Numel)
	}
	for _, t := range r.tensors {
		if err := t.check(); err != nil {
			return err
		}
		n := int64(t.Numel())
		if n > int64(t.Storage.Numel) && n > r.opts.MaxExpanded {
			return fmt.Errorf("tensor view of shape %v repeats its storage of %d elements "+
				"beyond the limit of %d", t.Shape, t.Storage.Numel, r.opts.MaxExpanded)
		}
		viewed += n
		if viewed > 4*stored+r.opts.MaxExpanded {
			return fmt.Errorf("tensor views total more than %d elements for %d stored",
				viewed, stored)
		}
	}
	return nil
}

// reader holds the state of one Read.
type reader struct {
	opts     Options
	name     string
	size     int    // of the input, which bounds every honest entry
	data     []byte // the input, which stored zip entries are slices of
	storages map[string]*Storage
	tensors  []*Tensor
	inflated uint64 // bytes compressed zip entries have inflated to so far
	// load fetches a storage's bytes when it is first referenced (zip), or
	// is nil when they come after the pickle (legacy).
	load func(s *Storage) error
}

func (r *reader) pickleOptions() *pickle.Options {
	return &pickle.Options{Find: r.finder(), PersistentLoad: r.persistentLoad}
}

// persistentLoad resolves the ids torch.save gives storages:
// ('storage', storage_type, key, location, numel[, view_metadata]), and the
// legacy ('module', class, source_file, source).
func (r *reader) persistentLoad(pid any) (any, error) {
	t, ok := pid.(pickle.Tuple)
	if !ok || len(t) == 0 {
		return nil, fmt.Errorf("want a tuple, got %s", pickle.TypeName(pid))
	}
	switch asString(t[0]) {
	case "module":
		if len(t) < 2 {
			return nil, fmt.Errorf("short module id")
		}
		return t[1], nil
	case "storage":
	default:
		return nil, fmt.Errorf("unknown kind %q", asString(t[0]))
	}
	if len(t) != 5 && len(t) != 6 {
		return nil, fmt.Errorf("storage id has %d fields, want 5 or 6", len(t))
	}
	s, err := r.storageFromID(t)
	if err != nil {
		return nil, err
	}
	if prev, ok := r.storages[s.Key]; ok {
		if prev.DType != s.DType || prev.Numel != s.Numel {
			return nil, fmt.Errorf("storage %q declared twice differently", s.Key)
		}
		return prev, nil
	}
	if r.storages == nil {
		r.storages = map[string]*Storage{}
	}
	r.storages[s.Key] = s
	if r.load != nil {
		if err := r.load(s); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (r *reader) storageFromID(t pickle.Tuple) (*Storage, error) {
	g, ok := t[1].(*pickle.Global)
	dt, ok2 := DType(""), false
	if ok {
		dt, ok2 = g.Value.(DType)
	}
	if !ok2 {
		return nil, fmt.Errorf("storage type %s is not a storage class", pickle.TypeName(t[1]))
	}
	key, loc := asString(t[2]), asString(t[3])
	numel, ok := t[4].(int64)
	if key == "" || !ok || numel < 0 || numel > r.opts.MaxStorageBytes/int64(dt.Size()) {
		return nil, fmt.Errorf("storage %q: bad key or size %s (limit %d bytes)",
			key, brief(t[4]), r.opts.MaxStorageBytes)
	}
	s := &Storage{Key: key, DType: dt, Numel: int(numel), Location: loc}
	if len(t) == 6 && t[5] != nil {
		// Only PyTorch before 1.0 saved a storage as a view of another
		// (view_metadata); torch 1.x always writes None here. Such files
		// are refused rather than read with a guessed layout.
		return nil, fmt.Errorf("storage %q: storage views are not supported", key)
	}
	return s, nil
}

// asString accepts str and bytes, since Python 2 era files carry bytes.
func asString(v any) string {
	switch s := v.(type) {
	case string:
		return s
	case []byte:
		return string(s)
	}
	return ""
}
