package pickle

import (
	"encoding/hex"
	"encoding/json"
	"math/big"
	"os/exec"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
)

// pythonPickles has Python pickle the same object at protocols 0 to 5.
const pythonPickles = `
import collections, json, pickle, sys
class Point:
    def __init__(self, x, y):
        self.x, self.y = x, y
shared = [7, 8]
loop = []
loop.append(loop)
obj = {
    "int": 1, "neg": -300, "big": 2**62, "huge": -2**100, "f": 1.5, "s": "h\u00e9llo \u4e16",
    "b": b"\x00\xff\n", "none": None, "t": True, "fa": False, "tuple": (1, 2, 3),
    "t1": (1,), "empty": (), "list": [1, [2, 3]], "nested": {"a": {"b": [1.25]}},
    "od": collections.OrderedDict([("z", 1), ("a", 2)]), "set": {1}, "fs": frozenset([2]),
    "shared": (shared, shared), 5: "intkey", "ba": bytearray(b"xy"), "point": Point(3, 4),
    "loop": loop,
}
json.dump([pickle.dumps(obj, protocol=p).hex() for p in range(6)], sys.stdout)
`

var pythonAllow = Allow("collections.OrderedDict", "builtins.set", "__builtin__.set",
	"builtins.frozenset", "__builtin__.frozenset", "_codecs.encode", "builtins.bytearray",
	"__builtin__.bytearray", "copy_reg._reconstructor", "copyreg._reconstructor",
	"__builtin__.object", "builtins.object", "__main__.Point")

func pythonProtocols(t *testing.T) [][]byte {
	t.Helper()
	out, err := exec.Command("/usr/bin/python3", "-c", pythonPickles).Output()
	if err != nil {
		testenv.Missing(t, "/usr/bin/python3 unavailable: %v", err)
	}
	var hexes []string
	if err := json.Unmarshal(out, &hexes); err != nil {
		t.Fatal(err)
	}
	var res [][]byte
	for _, h := range hexes {
		b, err := hex.DecodeString(h)
		if err != nil {
			t.Fatal(err)
		}
		res = append(res, b)
	}
	return res
}

func get(t *testing.T, d *Dict, k string) any {
	t.Helper()
	v, ok := d.Get(k)
	if !ok {
		t.Fatalf("key %q missing", k)
	}
	return v
}

func TestLoadsPythonPicklesAllProtocols(t *testing.T) {
	for proto, data := range pythonProtocols(t) {
		v, err := Loads(data, &Options{Find: pythonAllow})
		if err != nil {
			t.Fatalf("protocol %d: %v", proto, err)
		}
		d := v.(*Dict)
		scalars := map[string]any{"int": int64(1), "neg": int64(-300), "big": int64(1 << 62),
			"f": 1.5, "s": "h\u00e9llo \u4e16", "none": nil, "t": true, "fa": false}
		for k, want := range scalars {
			if got := get(t, d, k); got != want {
				t.Errorf("protocol %d: %s = %#v, want %#v", proto, k, got, want)
			}
		}
		huge := new(big.Int).Neg(new(big.Int).Lsh(big.NewInt(1), 100))
		if got, ok := get(t, d, "huge").(*big.Int); !ok || got.Cmp(huge) != 0 {
			t.Errorf("protocol %d: huge = %v", proto, get(t, d, "huge"))
		}
		if got := get(t, d, "b").([]byte); string(got) != "\x00\xff\n" {
			t.Errorf("protocol %d: b = %q", proto, got)
		}
		if got := get(t, d, "ba").([]byte); string(got) != "xy" {
			t.Errorf("protocol %d: ba = %q", proto, got)
		}
		checkContainers(t, proto, d)
	}
}

func checkContainers(t *testing.T, proto int, d *Dict) {
	t.Helper()
	if got := get(t, d, "tuple").(Tuple); len(got) != 3 || got[2] != int64(3) {
		t.Errorf("protocol %d: tuple = %v", proto, got)
	}
	if got := get(t, d, "t1").(Tuple); len(got) != 1 || len(get(t, d, "empty").(Tuple)) != 0 {
		t.Errorf("protocol %d: t1 = %v", proto, got)
	}
	inner := get(t, d, "list").(*List).Items[1].(*List)
	if inner.Items[1] != int64(3) {
		t.Errorf("protocol %d: list = %v", proto, inner.Items)
	}
	b := get(t, get(t, d, "nested").(*Dict), "a").(*Dict)
	if get(t, b, "b").(*List).Items[0] != 1.25 {
		t.Errorf("protocol %d: nested wrong", proto)
	}
	od := get(t, d, "od").(*Dict)
	if od.Len() != 2 || od.Keys()[0] != "z" || od.Values()[1] != int64(2) {
		t.Errorf("protocol %d: od keys %v values %v", proto, od.Keys(), od.Values())
	}
	if s := get(t, d, "set").(*Set); len(s.Items) != 1 || s.Items[0] != int64(1) {
		t.Errorf("protocol %d: set = %v", proto, s.Items)
	}
	if s := get(t, d, "fs").(*Set); len(s.Items) != 1 || s.Items[0] != int64(2) {
		t.Errorf("protocol %d: frozenset = %v", proto, s.Items)
	}
	sh := get(t, d, "shared").(Tuple)
	if sh[0].(*List) != sh[1].(*List) {
		t.Errorf("protocol %d: memo did not share the list", proto)
	}
	if v, ok := d.GetKey(int64(5)); !ok || v != "intkey" {
		t.Errorf("protocol %d: d[5] = %v", proto, v)
	}
	p := get(t, d, "point").(*Object)
	x, _ := p.Attr("x")
	y, _ := p.Attr("y")
	if p.Class.FullName() != "__main__.Point" || x != int64(3) || y != int64(4) {
		t.Errorf("protocol %d: point = %v x=%v y=%v", proto, p, x, y)
	}
	loop := get(t, d, "loop").(*List)
	if loop.Items[0].(*List) != loop {
		t.Errorf("protocol %d: self-referencing list not rebuilt", proto)
	}
	keys := d.Keys()
	if keys[0] != "int" || keys[len(keys)-1] != "loop" {
		t.Errorf("protocol %d: keys out of order: %v", proto, keys)
	}
}

func TestLoadsForbidsGlobalsByDefault(t *testing.T) {
	for _, data := range pythonProtocols(t) {
		_, err := Loads(data, nil)
		if err == nil || !strings.Contains(err.Error(), "forbidden global") {
			t.Fatalf("got %v, want a forbidden global error", err)
		}
	}
}

func TestUnpickleReadsConsecutivePickles(t *testing.T) {
	data := []byte("\x80\x02K\x07.\x80\x02X\x02\x00\x00\x00hi.")
	v1, off, err := Unpickle(data, 0, nil)
	if err != nil || v1 != int64(7) || off != 5 {
		t.Fatalf("first: %v %d %v", v1, off, err)
	}
	v2, off, err := Unpickle(data, off, nil)
	if err != nil || v2 != "hi" || off != len(data) {
		t.Fatalf("second: %v %d %v", v2, off, err)
	}
	if _, _, err := Unpickle(data, off, nil); err == nil {
		t.Fatal("reading past the end gave no error")
	}
}
