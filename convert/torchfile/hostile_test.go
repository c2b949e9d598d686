package torchfile

import (
	"archive/zip"
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand"
	"os"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/pickle"
)

// Helpers that assemble pickle opcodes by hand, for inputs that no honest
// writer produces.
func pStr(s string) string {
	var n [4]byte
	binary.LittleEndian.PutUint32(n[:], uint32(len(s)))
	return "X" + string(n[:]) + s
}

func pInt(v int64) string {
	var b [8]byte
	binary.LittleEndian.PutUint64(b[:], uint64(v))
	return "\x8a\x08" + string(b[:]) // LONG1 with 8 bytes
}

// tensorPickle is the pickle of one float32 tensor of the given size and
// stride on storage "0" of numel elements, as torch.save writes it.
func tensorPickle(numel, offset, size, stride int64) []byte {
	return []byte("\x80\x02ctorch._utils\n_rebuild_tensor_v2\n(" +
		"(" + pStr("storage") + "ctorch\nFloatStorage\n" + pStr("0") + pStr("cpu") +
		pInt(numel) + "tQ" + pInt(offset) + "(" + pInt(size) + "t(" + pInt(stride) + "t" +
		"\x89ccollections\nOrderedDict\n)Rt" + "R.")
}

func makeZip(t testing.TB, entries map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, name := range []string{"x/data.pkl", "x/data/0", "x/version"} {
		b, ok := entries[name]
		if !ok {
			continue
		}
		f, err := w.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		f.Write(b)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func wantErr(t *testing.T, data []byte, want string) {
	t.Helper()
	v, err := Read(data, "test", nil)
	if err == nil {
		t.Fatalf("no error, got %v; want %q", pickle.TypeName(v), want)
	}
	if !strings.Contains(err.Error(), want) {
		t.Fatalf("error %q does not mention %q", err, want)
	}
}

func TestReadHandBuiltTensor(t *testing.T) {
	data := make([]byte, 40)
	for i := range 10 {
		binary.LittleEndian.PutUint32(data[4*i:], 0x3f800000*uint32(min(i, 1)))
	}
	z := makeZip(t, map[string][]byte{"x/data.pkl": tensorPickle(10, 1, 3, 3),
		"x/data/0": data})
	v, err := Read(z, "test", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := v.(*Tensor).Float32()
	if err != nil || len(got) != 3 || got[0] != 1 || got[2] != 1 {
		t.Fatalf("got %v, %v; want three ones", got, err)
	}
}

func TestReadRejectsViewPastStorage(t *testing.T) {
	z := makeZip(t, map[string][]byte{"x/data.pkl": tensorPickle(10, 0, 100, 1),
		"x/data/0": make([]byte, 40)})
	wantErr(t, z, `storage "0" has 40 bytes, tensor view needs 400`)
	z = makeZip(t, map[string][]byte{"x/data.pkl": tensorPickle(10, 8, 2, 5),
		"x/data/0": make([]byte, 40)})
	wantErr(t, z, "tensor view needs 56")
}

func TestReadRejectsShortStorageEntry(t *testing.T) {
	z := makeZip(t, map[string][]byte{"x/data.pkl": tensorPickle(10, 0, 10, 1),
		"x/data/0": make([]byte, 12)})
	wantErr(t, z, `zip entry "x/data/0" has 12 bytes, storage of 10 float32 needs 40`)
}

func TestReadRejectsHugeStorage(t *testing.T) {
	z := makeZip(t, map[string][]byte{"x/data.pkl": tensorPickle(1<<60, 0, 1, 1),
		"x/data/0": make([]byte, 4)})
	wantErr(t, z, "bad key or size 1152921504606846976")
	z = makeZip(t, map[string][]byte{"x/data.pkl": tensorPickle(10, 0, 1<<40, 1<<40),
		"x/data/0": make([]byte, 40)})
	wantErr(t, z, "exceeds 4294967296 elements")
	z = makeZip(t, map[string][]byte{"x/data.pkl": tensorPickle(10, 0, 1<<30, 0),
		"x/data/0": make([]byte, 40)})
	wantErr(t, z, "repeats its storage of 10 elements beyond the limit of 16777216")
}

func TestReadRejectsForbiddenGlobals(t *testing.T) {
	cases := map[string]string{
		"os.system":     "\x80\x02cos\nsystem\n" + pStr("echo pwned") + "\x85R.",
		"builtins.eval": "\x80\x04" + pStr("builtins") + pStr("eval") + "\x93" + pStr("1") + "\x85R.",
		"posix.system":  "\x80\x04" + pStr("posix") + pStr("system") + "\x93" + pStr("id") + "\x85R.",
		// A module class name is allowed, but not its dunder attributes.
		"torch.nn.modules.conv.__class__": "\x80\x02ctorch.nn.modules.conv\n__class__\n)R.",
	}
	for name, pkl := range cases {
		z := makeZip(t, map[string][]byte{"x/data.pkl": []byte(pkl)})
		wantErr(t, z, `forbidden global "`+name+`"`)
	}
}

func TestReadRejectsEmptyAndRandomInput(t *testing.T) {
	if _, err := Read(nil, "x.pth", nil); err == nil ||
		err.Error() != "torchfile: x.pth: empty file" {
		t.Fatalf("empty input: %v, want an empty file error", err)
	}
	rng := rand.New(rand.NewSource(1))
	for i := range 2000 {
		b := make([]byte, rng.Intn(300))
		rng.Read(b)
		switch i % 3 {
		case 1:
			b = append([]byte("PK\x03\x04"), b...)
		case 2:
			b = append([]byte{0x80, 0x02}, b...)
		}
		if _, err := Read(b, "random", nil); err == nil {
			t.Fatalf("random input %d decoded without error", i)
		} else if strings.Contains(err.Error(), "internal error") {
			t.Fatalf("random input %d: %v", i, err)
		}
	}
}

func TestReadRejectsEveryTruncation(t *testing.T) {
	for _, file := range []string{"checkpoint.pt", "checkpoint_legacy.pt",
		"whole_model.pt", "tensors_p4.pt"} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			t.Fatal(err)
		}
		for n := range len(data) {
			_, err := Read(data[:n], file, nil)
			if err == nil {
				t.Fatalf("%s cut at %d of %d bytes decoded without error", file, n, len(data))
			}
			if strings.Contains(err.Error(), "internal error") {
				t.Fatalf("%s cut at %d: %v", file, n, err)
			}
		}
	}
}

func TestReadRejectsCorruptedCRC(t *testing.T) {
	data, err := os.ReadFile("testdata/checkpoint.pt")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range zr.File {
		if !strings.HasSuffix(f.Name, "/data/0") && !strings.HasSuffix(f.Name, "/data.pkl") {
			continue
		}
		off, err := f.DataOffset()
		if err != nil {
			t.Fatal(err)
		}
		bad := bytes.Clone(data)
		bad[off+int64(f.UncompressedSize64)-1] ^= 0x01
		wantErr(t, bad, `zip entry "`+f.Name+`": zip: checksum error`)
	}
}

func TestReadRejectsLegacyStorageSize(t *testing.T) {
	data, err := os.ReadFile("testdata/tensors_legacy.pt")
	if err != nil {
		t.Fatal(err)
	}
	// Skip the five pickles to the first storage's element count.
	off := 0
	opts := &pickle.Options{Find: func(m, n string) (*pickle.Global, error) {
		return &pickle.Global{Module: m, Name: n}, nil
	}, PersistentLoad: func(any) (any, error) { return nil, nil },
		Build: func(o, s any) (any, error) { return o, nil }}
	for range 5 {
		if _, off, err = pickle.Unpickle(data, off, opts); err != nil {
			t.Fatal(err)
		}
	}
	bad := bytes.Clone(data)
	binary.LittleEndian.PutUint64(bad[off:], 1<<60)
	wantErr(t, bad, "file says 1152921504606846976 elements")
	wantErr(t, data[:off+8+3], "need")
}

func TestReadBoundsRepeatedViews(t *testing.T) {
	// 5,000 views of one 4,000-element storage, 7 bytes of pickle each: the
	// rebuild function and its arguments come from the memo.
	one := string(tensorPickle(4000, 0, 4000, 1))
	head, rest, _ := strings.Cut(one, "_rebuild_tensor_v2\n")
	args := strings.TrimSuffix(rest, "R.")
	pkl := "\x80\x02(" + strings.TrimPrefix(head, "\x80\x02") + "_rebuild_tensor_v2\nq\x01" +
		args + "q\x02" + strings.Repeat("h\x01h\x02R", 5000) + "l."
	z := makeZip(t, map[string][]byte{"x/data.pkl": []byte(pkl),
		"x/data/0": make([]byte, 16000)})
	wantErr(t, z, "tensor views total more than")
}

func TestReadRejectsDeepNesting(t *testing.T) {
	pkl := "\x80\x02" + strings.Repeat("(", 100_000) + "N."
	wantErr(t, makeZip(t, map[string][]byte{"x/data.pkl": []byte(pkl)}), "too deeply nested")
}

func FuzzRead(f *testing.F) {
	for _, file := range []string{"tensors.pt", "tensors_legacy.pt", "checkpoint_legacy.pt",
		"whole_model.pt"} {
		data, err := os.ReadFile("testdata/" + file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte{})
	f.Add(makeZip(f, map[string][]byte{"x/data.pkl": tensorPickle(10, 0, 100, 1),
		"x/data/0": make([]byte, 40)}))
	f.Fuzz(func(t *testing.T, data []byte) {
		v, err := Read(data, "fuzz", nil)
		if err != nil {
			if strings.Contains(err.Error(), "internal error") {
				t.Fatal(err)
			}
			return
		}
		// Whatever decodes must also be safe to read out.
		if sd, err := StateDict(v); err == nil {
			for _, n := range sd {
				n.Tensor.Float32()
			}
		}
		if tn, ok := v.(*Tensor); ok {
			tn.Float32()
			tn.Int64()
		}
	})
}

// TestReadDeflatedZip rewrites a torch.save archive with compressed
// entries, which torch never writes but zip tools may, and expects the
// same tensors back.
func TestReadDeflatedZip(t *testing.T) {
	data, err := os.ReadFile("testdata/state_dict.pt")
	if err != nil {
		t.Fatal(err)
	}
	zr, err := zip.NewReader(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	w := zip.NewWriter(&buf)
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		out, err := w.Create(f.Name) // Create deflates
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, rc); err != nil {
			t.Fatal(err)
		}
		rc.Close()
	}
	w.Close()
	want, err := Read(data, "stored", nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Read(buf.Bytes(), "deflated", nil)
	if err != nil {
		t.Fatal(err)
	}
	ws, _ := StateDict(want)
	gs, err := StateDict(got)
	if err != nil || len(gs) != len(ws) || len(ws) != 8 {
		t.Fatalf("%d tensors (%v), want %d", len(gs), err, len(ws))
	}
	for i := range ws {
		a, _ := ws[i].Tensor.Float32()
		b, err := gs[i].Tensor.Float32()
		if err != nil || gs[i].Name != ws[i].Name || fmt.Sprint(a) != fmt.Sprint(b) {
			t.Fatalf("%s: got %v (%v), want %v", ws[i].Name, b, err, a)
		}
	}
	// A flipped bit in a deflated entry is caught by archive/zip's CRC check.
	bad := buf.Bytes()
	zr2, _ := zip.NewReader(bytes.NewReader(bad), int64(len(bad)))
	for _, f := range zr2.File {
		if strings.HasSuffix(f.Name, "/data/0") {
			off, _ := f.DataOffset()
			bad[off+int64(f.CompressedSize64)/2] ^= 0x10
		}
	}
	if _, err := Read(bad, "deflated", nil); err == nil {
		t.Fatal("corrupted deflated entry read without error")
	}
}

// binUnicode is a pickle BINUNICODE opcode for s.
func binUnicode(s string) string {
	n := len(s)
	return "X" + string([]byte{byte(n), byte(n >> 8), byte(n >> 16), byte(n >> 24)}) + s
}

// TestSelfSharingValuesGiveShortErrors gives a storage a size that is a
// tuple sharing itself 60 levels deep (2^60 leaves in 200 bytes): the error
// must describe it briefly instead of printing it.
func TestSelfSharingValuesGiveShortErrors(t *testing.T) {
	dag := "K\x01" + strings.Repeat("2\x86", 60) // BININT1 1, then (DUP, TUPLE2)*60
	pkl := "\x80\x02(" + binUnicode("storage") + "ctorch\nFloatStorage\n" +
		binUnicode("0") + binUnicode("cpu") + dag + "tQ."
	z := makeZip(t, map[string][]byte{"x/data.pkl": []byte(pkl)})
	_, err := Read(z, "dag.pt", nil)
	if err == nil || len(err.Error()) > 300 || !strings.Contains(err.Error(), "a tuple") {
		t.Fatalf("got %.300v, want a short error naming a tuple", err)
	}
}

// TestCompressedEntriesAreBoundedInTotal writes three deflated entries of
// 400 MiB of zeros each (about 1.2 MB compressed): each is within the
// per-entry limits, but together they pass the 1 GiB bound.
func TestCompressedEntriesAreBoundedInTotal(t *testing.T) {
	if testing.Short() {
		t.Skip("inflates 800 MiB")
	}
	var b bytes.Buffer
	zw := zip.NewWriter(&b)
	zeros := make([]byte, 1<<20)
	for i := 0; i < 3; i++ {
		w, err := zw.CreateHeader(&zip.FileHeader{Name: fmt.Sprintf("x/data/%d", i),
			Method: zip.Deflate})
		if err != nil {
			t.Fatal(err)
		}
		for j := 0; j < 400; j++ {
			w.Write(zeros)
		}
	}
	pkl := "\x80\x02(" // a list of three storages of 100 Mi floats each
	for i := 0; i < 3; i++ {
		pkl += "(" + binUnicode("storage") + "ctorch\nFloatStorage\n" +
			binUnicode(fmt.Sprint(i)) + binUnicode("cpu") + "J\x00\x00\x40\x06tQ"
	}
	pkl += "l."
	w, _ := zw.Create("x/data.pkl")
	w.Write([]byte(pkl))
	zw.Close()
	_, err := Read(b.Bytes(), "bomb.pt", nil)
	if err == nil || !strings.Contains(err.Error(), "inflate to more than") {
		t.Fatalf("got %v, want the total inflation bound", err)
	}
}
