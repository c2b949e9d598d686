package pickle

import (
	"math/rand"
	"strings"
	"testing"
)

func wantLoadErr(t *testing.T, data string, opts *Options, want string) {
	t.Helper()
	v, err := Loads([]byte(data), opts)
	if err == nil {
		t.Fatalf("%q: no error, got %v; want %q", truncate([]byte(data)), v, want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("%q: error %q does not mention %q", truncate([]byte(data)), err, want)
	}
}

func TestLoadsRejectsForbiddenGlobals(t *testing.T) {
	allowSome := &Options{Find: Allow("collections.OrderedDict")}
	cases := map[string]string{
		"\x80\x02cos\nsystem\nX\x02\x00\x00\x00id\x85R.":          "os.system",
		"\x80\x04\x8c\x08builtins\x8c\x04eval\x93\x8c\x011\x85R.": "builtins.eval",
		"\x80\x04\x8c\x05posix\x8c\x06system\x93\x8c\x02id\x85R.": "posix.system",
		"\x80\x02cbuiltins\ngetattr\n.":                           "builtins.getattr",
		"(cos\nsystem\nS'id'\ntR.":                                "os.system",
		"(S'id'\nios\nsystem\n.":                                  "os.system",
		"\x80\x02c__builtin__\nset\n)R.":                          "__builtin__.set",
		"\x80\x04\x8c\x0bcollections\x8c\x01x\x93.":               "collections.x",
	}
	for data, name := range cases {
		wantLoadErr(t, data, allowSome, `forbidden global "`+name+`"`)
		wantLoadErr(t, data, nil, "forbidden global")
	}
}

func TestLoadsRejectsLengthsBeyondInput(t *testing.T) {
	cases := map[string]string{
		"BINUNICODE":  "\x80\x03X\xff\xff\xff\x7fabc.",
		"BINBYTES":    "\x80\x03B\xff\xff\xff\xffabc.",
		"BINUNICODE8": "\x80\x04\x8d\xff\xff\xff\xff\xff\xff\xff\xffabc.",
		"BINBYTES8":   "\x80\x04\x8e\x00\x00\x00\x00\x00\x00\x00\x10abc.",
		"BYTEARRAY8":  "\x80\x05\x96\x00\x00\x00\x00\x00\x01\x00\x00abc.",
		"BINSTRING":   "T\x00\x00\x00\x70abc.",
		"FRAME":       "\x80\x04\x95\x00\x00\x00\x00\x00\x00\x01\x00N.",
	}
	for name, data := range cases {
		t.Run(name, func(t *testing.T) {
			wantLoadErr(t, data, nil, "exceeds")
		})
	}
	wantLoadErr(t, "\x80\x02\x8b\xff\xff\xff\x7f\x00.", nil, "LONG of 2147483647 bytes exceeds")
	wantLoadErr(t, "\x80\x02\x8b\xff\xff\xff\xff\x00.", nil, "LONG of -1 bytes")
	wantLoadErr(t, "T\xff\xff\xff\xffabc.", nil, "negative BINSTRING length")
	wantLoadErr(t, "\x80\x03B\x05\x00\x00\x00abcde.", &Options{MaxBytes: 4},
		"declared length 5 exceeds the limit of 4")
}

func TestLoadsRejectsDeepNestingAndLimits(t *testing.T) {
	wantLoadErr(t, strings.Repeat("(", 100_000)+"N.", nil, "too deeply nested")
	wantLoadErr(t, strings.Repeat("N", 1000)+".", &Options{MaxStack: 100}, "stack exceeds 100")
	memo := strings.Repeat("N\x94", 50) + "."
	wantLoadErr(t, "\x80\x04"+memo, &Options{MaxMemo: 10}, "memo exceeds 10")

	// Lists nested 100k deep through APPEND decode without recursion.
	const depth = 100_000
	v, err := Loads([]byte(strings.Repeat("]", depth)+strings.Repeat("a", depth-1)+"."), nil)
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for l, ok := v.(*List); ok; l, ok = l.Items[0].(*List) {
		n++
		if len(l.Items) == 0 {
			break
		}
	}
	if n != depth {
		t.Fatalf("nesting depth %d, want %d", n, depth)
	}
}

func TestLoadsRejectsMalformedInput(t *testing.T) {
	cases := map[string]string{
		"":                             "no STOP",
		"\x80\x02":                     "no STOP",
		"\x80\x02N":                    "no STOP",
		".":                            "STOP with 0 values",
		"NN.":                          "STOP with 2 values",
		"(N.":                          "open MARK",
		"\x80\x02a.":                   "stack underflow",
		"\x80\x02t.":                   "no MARK",
		"\x80\x02h\x05.":               "memo index 5 not defined",
		"\x80\x09N.":                   "unsupported pickle protocol 9",
		"\x80\x02\xff.":                "invalid opcode 0xff",
		"\x80\x02K\x01K\x02K\x03s.":    "cannot add items to int",
		"\x80\x02}]K\x01s.":            "unhashable dict key of type list",
		"\x80\x02K\x01)R.":             "cannot call a value of type int",
		"\x80\x02N\x97.":               "out-of-band buffers",
		"\x80\x02N\x82\x01.":           "extension registry",
		"\x80\x02K\x01Q.":              "persistent id without a PersistentLoad hook",
		"I12x\n.":                      "bad integer",
		"S'abc\n.":                     "not quoted",
		"\x80\x04K\x01K\x02\x93.":      "STACK_GLOBAL needs two str",
		"\x80\x02(K\x01K\x02K\x03d.":   "odd number of items",
		"\x80\x02I1" + "\x00\x00\x00.": "newline",
	}
	for data, want := range cases {
		wantLoadErr(t, data, nil, want)
	}
}

func TestLoadsRejectsTruncationsAndRandomBytes(t *testing.T) {
	opts := &Options{Find: pythonAllow}
	for proto, data := range pythonProtocols(t) {
		for n := range len(data) {
			_, err := Loads(data[:n], opts)
			if err == nil || strings.Contains(err.Error(), "internal error") {
				t.Fatalf("protocol %d cut at %d: %v", proto, n, err)
			}
		}
	}
	rng := rand.New(rand.NewSource(2))
	for i := range 5000 {
		b := make([]byte, rng.Intn(200))
		rng.Read(b)
		if _, err := Loads(b, opts); err != nil && strings.Contains(err.Error(), "internal") {
			t.Fatalf("random input %d: %v", i, err)
		}
	}
}

func FuzzLoads(f *testing.F) {
	f.Add([]byte("\x80\x02}q\x00(X\x01\x00\x00\x00aq\x01K\x01u."))
	f.Add([]byte("(lp0\nI1\naS'x'\np1\na(dp2\nV\\u00e9\np3\nF1.5\nsa."))
	f.Add([]byte("\x80\x04\x95\x10\x00\x00\x00\x00\x00\x00\x00\x8c\x01a\x94\x8c\x01b\x94\x86\x94."))
	f.Add([]byte("\x80\x02ccollections\nOrderedDict\n)R(K\x01K\x02ub."))
	f.Add([]byte("\x80\x02c_codecs\nencode\nX\x02\x00\x00\x00\xc3\xa9X\x06\x00\x00\x00latin1\x86R."))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, err := Loads(data, &Options{Find: pythonAllow})
		if err != nil && strings.Contains(err.Error(), "internal error") {
			t.Fatal(err)
		}
	})
}

func TestLoadsBoundsWorkOfReusedValues(t *testing.T) {
	// One 100 kB string handed to _codecs.encode 100k times through the memo
	// would copy 10 GB; the work budget stops it.
	big := strings.Repeat("x", 100_000)
	var b strings.Builder
	b.WriteString("\x80\x02c_codecs\nencode\nq\x00X\xa0\x86\x01\x00" + big + "q\x01(")
	for range 100_000 {
		b.WriteString("h\x00h\x01X\x06\x00\x00\x00latin1\x86R0")
	}
	b.WriteString("1N.")
	wantLoadErr(t, b.String(), &Options{Find: Allow("_codecs.encode")}, "work limit exceeded")
}
