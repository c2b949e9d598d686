package pickle

import (
	"bytes"
	"encoding/hex"
	"math"
	"os/exec"
	"reflect"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
)

// encodeSample returns a value that exercises every kind Dumps writes,
// with integers at each opcode's boundaries and enough list items to need
// several APPENDS batches.
func encodeSample() *Dict {
	ints := []any{0, 255, 256, 65535, 65536, -1, -256, int64(math.MinInt32),
		int64(math.MaxInt32), int64(math.MaxInt32) + 1, int64(math.MinInt32) - 1,
		int64(math.MaxInt64), int64(math.MinInt64), int64(1) << 40}
	long := &List{}
	for i := range 2500 {
		long.Items = append(long.Items, int64(i))
	}
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	shared := &List{Items: []any{int64(7)}}
	loop := &List{}
	loop.Items = append(loop.Items, loop)
	od := NewDict()
	od.Set("z", int64(1))
	od.Set("a", int64(2))
	d := NewDict()
	d.Set("ints", &List{Items: ints})
	d.Set("floats", Tuple{1.5, math.Copysign(0, -1), math.Inf(1), 1e-300})
	d.Set("text", "h\u00e9llo \u4e16\n")
	d.Set("bytes", all)
	d.Set("flags", Tuple{nil, true, false})
	d.Set("tuples", Tuple{Tuple{}, Tuple{1}, Tuple{1, 2}, Tuple{1, 2, 3}, Tuple{1, 2, 3, 4}})
	d.Set("long", long)
	d.Set("shared", Tuple{shared, shared})
	d.Set("loop", loop)
	d.Set(int64(5), "intkey")
	d.Set("od", OrderedDict(od))
	d.Set("pid", PersistentID{ID: Tuple{"storage", "0"}})
	return d
}

func TestDumpsRoundTripsThroughLoads(t *testing.T) {
	data, err := Dumps(encodeSample())
	if err != nil {
		t.Fatal(err)
	}
	v, err := Loads(data, &Options{
		Find:           Allow("collections.OrderedDict", "_codecs.encode"),
		PersistentLoad: func(pid any) (any, error) { return Tuple{"resolved", pid}, nil },
	})
	if err != nil {
		t.Fatal(err)
	}
	d := v.(*Dict)
	want := encodeSample()
	for _, k := range []string{"ints", "floats", "text", "bytes", "flags", "tuples"} {
		g, _ := d.Get(k)
		w, _ := want.Get(k)
		if !reflect.DeepEqual(normalise(g), normalise(w)) {
			t.Errorf("%s = %#v, want %#v", k, g, w)
		}
	}
	if g := get(t, d, "long").(*List); len(g.Items) != 2500 || g.Items[2499] != int64(2499) {
		t.Errorf("long list has %d items", len(g.Items))
	}
	if s := get(t, d, "shared").(Tuple); s[0].(*List) != s[1].(*List) {
		t.Error("a list shared twice was decoded as two lists")
	}
	if l := get(t, d, "loop").(*List); l.Items[0].(*List) != l {
		t.Error("a list that contains itself lost its loop")
	}
	if v, _ := d.GetKey(int64(5)); v != "intkey" {
		t.Errorf("int key: got %v", v)
	}
	od := get(t, d, "od").(*Dict)
	if k := od.Keys(); len(k) != 2 || k[0] != "z" || k[1] != "a" {
		t.Errorf("OrderedDict keys %v, want [z a]", k)
	}
	pid := get(t, d, "pid").(Tuple)
	if pid[0] != "resolved" || !reflect.DeepEqual(pid[1], Tuple{"storage", "0"}) {
		t.Errorf("persistent id resolved to %v", pid)
	}
}

// normalise turns Go ints into int64 as Loads returns them.
func normalise(v any) any {
	switch x := v.(type) {
	case int:
		return int64(x)
	case Tuple:
		out := make(Tuple, len(x))
		for i, e := range x {
			out[i] = normalise(e)
		}
		return out
	case *List:
		return normalise(Tuple(x.Items))
	}
	return v
}

// pythonChecksDump loads the pickle given in hex on stdin with Python's
// own unpickler and compares it with the same object built in Python.
const pythonChecksDump = `
import collections, math, pickle, sys
class U(pickle.Unpickler):
    def persistent_load(self, pid):
        return ("resolved", pid)
import io
v = U(io.BytesIO(bytes.fromhex(sys.stdin.read()))).load()
want = {
    "ints": [0, 255, 256, 65535, 65536, -1, -256, -2**31, 2**31 - 1, 2**31, -2**31 - 1,
             2**63 - 1, -2**63, 2**40],
    "floats": (1.5, -0.0, math.inf, 1e-300), "text": "h\u00e9llo \u4e16\n",
    "bytes": bytes(range(256)), "flags": (None, True, False),
    "tuples": ((), (1,), (1, 2), (1, 2, 3), (1, 2, 3, 4)), "long": list(range(2500)),
    "shared": ([7], [7]), 5: "intkey",
    "od": collections.OrderedDict([("z", 1), ("a", 2)]),
    "pid": ("resolved", ("storage", "0")),
}
loop = v.pop("loop")
bad = [k for k in want if v.get(k) != want[k] or type(v.get(k)) is not type(want[k])]
assert not bad, bad
assert list(v) == list(want), list(v)
assert math.copysign(1, v["floats"][1]) == -1
assert v["shared"][0] is v["shared"][1], "shared list copied"
assert loop[0] is loop, "loop lost"
print("ok")
`

func TestDumpsIsReadByPython(t *testing.T) {
	data, err := Dumps(encodeSample())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := exec.LookPath("/usr/bin/python3"); err != nil {
		testenv.Missing(t, "/usr/bin/python3 unavailable: %v", err)
	}
	cmd := exec.Command("/usr/bin/python3", "-c", pythonChecksDump)
	cmd.Stdin = strings.NewReader(hex.EncodeToString(data))
	out, err := cmd.CombinedOutput()
	if err != nil || string(out) != "ok\n" {
		t.Fatalf("python: %v\n%s", err, out)
	}
}

func TestDumpsRefusesWhatItCannotWrite(t *testing.T) {
	self := Tuple{nil}
	self[0] = self
	withState := NewDict()
	withState.State = "x"
	for _, c := range []struct {
		name string
		v    any
		want string
	}{
		{"map", map[string]int{}, "cannot pickle a Go map[string]int"},
		{"float32", float32(1), "cannot pickle a Go float32"},
		{"self tuple", self, "nested deeper than"},
		{"newline global", &Global{Module: "os\nsystem", Name: "x"}, "bad global"},
		{"dict state", withState, "cannot carry state"},
		{"nil call", (*Call)(nil), "nil *Call"},
	} {
		_, err := Dumps(c.v)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: error %v, want one containing %q", c.name, err, c.want)
		}
	}
}

func TestDumpsWritesProtocolTwoFrame(t *testing.T) {
	data, err := Dumps(Tuple{})
	if err != nil {
		t.Fatal(err)
	}
	if want := []byte{opProto, 2, opEmptyTuple, opStop}; !bytes.Equal(data, want) {
		t.Errorf("Dumps(()) = % x, want % x", data, want)
	}
}
