package torchfile

import (
	"encoding/binary"
	"fmt"
	"math/big"

	"github.com/mocokit/mocokit/pickle"
)

// legacyMagic and legacyProtocol open every legacy torch.save file.
var legacyMagic, _ = new(big.Int).SetString("1950a86a20f9469cfc6c", 16)

const legacyProtocol = 1001

// readLegacy reads the format of _use_new_zipfile_serialization=False:
// pickles of the magic number, the protocol version, sys_info, the object
// and the list of storage keys, then for each key an 8-byte element count
// and the storage's raw bytes.
func (r *reader) readLegacy(data []byte) (any, error) {
	plain := &pickle.Options{}
	magic, off, err := pickle.Unpickle(data, 0, plain)
	m, ok := magic.(*big.Int)
	if err != nil || !ok || m.Cmp(legacyMagic) != 0 {
		return nil, fmt.Errorf("torchfile: %s: %w", r.name, ErrNotTorch)
	}
	proto, off, err := pickle.Unpickle(data, off, plain)
	if err != nil || proto != int64(legacyProtocol) {
		return nil, fmt.Errorf("torchfile: %s: legacy format: bad protocol version %s (%v)",
			r.name, brief(proto), err)
	}
	info, off, err := pickle.Unpickle(data, off, plain)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: legacy format: sys_info: %w", r.name, err)
	}
	if d, ok := info.(*pickle.Dict); ok {
		if le, ok := d.Get("little_endian"); ok && le != true {
			return nil, fmt.Errorf("torchfile: %s: big-endian files are not supported", r.name)
		}
	}
	obj, off, err := pickle.Unpickle(data, off, r.pickleOptions())
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: legacy format: object: %w", r.name, err)
	}
	keys, off, err := pickle.Unpickle(data, off, plain)
	if err != nil {
		return nil, fmt.Errorf("torchfile: %s: legacy format: storage keys: %w", r.name, err)
	}
	if err := r.legacyStorages(data, off, keys); err != nil {
		return nil, fmt.Errorf("torchfile: %s: legacy format: %w", r.name, err)
	}
	return obj, nil
}

// legacyStorages attaches the raw data after the pickles to the storages,
// in the order of the storage keys list.
func (r *reader) legacyStorages(data []byte, off int, keys any) error {
	list, ok := keys.(*pickle.List)
	if !ok {
		return fmt.Errorf("storage keys are a %s, not a list", pickle.TypeName(keys))
	}
	if len(list.Items) != len(r.storages) {
		return fmt.Errorf("%d storage keys for %d storages", len(list.Items), len(r.storages))
	}
	for _, k := range list.Items {
		s, ok := r.storages[asString(k)]
		if !ok || s.Data != nil {
			return fmt.Errorf("storage key %s unknown or repeated", brief(k))
		}
		if len(data)-off < 8 {
			return fmt.Errorf("storage %q: truncated before its size", s.Key)
		}
		n := binary.LittleEndian.Uint64(data[off:])
		off += 8
		if n != uint64(s.Numel) {
			return fmt.Errorf("storage %q: file says %d elements, pickle %d", s.Key, n, s.Numel)
		}
		size := s.Numel * s.DType.Size()
		if size > len(data)-off {
			return fmt.Errorf("storage %q: %d %s need %d bytes, %d left", s.Key, s.Numel,
				s.DType, size, len(data)-off)
		}
		s.Data = data[off : off+size : off+size]
		off += size
	}
	return nil
}
