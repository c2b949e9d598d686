package main

import (
	"archive/zip"
	"bytes"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/internal/fixtures"
)

// run executes the command line in-process and returns its error and
// standard output.
func run(args ...string) (string, error) {
	cmd := rootCommand()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetErr(&out)
	cmd.SetArgs(args)
	err := cmd.Execute()
	return out.String(), err
}

// TestConvertRefusesDamagedAndHostileFiles gives pth2onnx files that are
// not checkpoints: each fails with one line naming the problem, and no
// ONNX file appears.
func TestConvertRefusesDamagedAndHostileFiles(t *testing.T) {
	dir := t.TempDir()
	rng := rand.New(rand.NewPCG(7, 7))
	random := make([]byte, 4096)
	for i := range random {
		random[i] = byte(rng.Uint32())
	}
	files := map[string][]byte{
		"empty.pth":  {},
		"random.pth": random,
		// protocol 2: GLOBAL os.system, the string "ls", TUPLE1, REDUCE, STOP
		"calls_os_system.pth": torchZip(t,
			"\x80\x02cos\nsystem\nX\x02\x00\x00\x00ls\x85R."),
		// BINUNICODE declaring 4 GiB - 1 bytes of text, in a 20-byte pickle
		"huge_length.pth": torchZip(t, "\x80\x02X\xff\xff\xff\xffabc."),
	}
	wants := map[string]string{
		"empty.pth":           "empty file",
		"random.pth":          "not a PyTorch file",
		"calls_os_system.pth": `forbidden global "os.system"`,
		"huge_length.pth":     "4294967295",
	}
	for name, data := range files {
		t.Run(name, func(t *testing.T) {
			in := filepath.Join(dir, name)
			if err := os.WriteFile(in, data, 0o644); err != nil {
				t.Fatal(err)
			}
			checkRefused(t, in, wants[name])
		})
	}
}

// TestConvertRefusesTruncatedCheckpoints cuts a real checkpoint, in both
// torch.save formats, at several places.
func TestConvertRefusesTruncatedCheckpoints(t *testing.T) {
	for _, file := range []string{"resnet18.pth", "resnet18_legacy.pth"} {
		data, err := os.ReadFile(fixtures.Path(t, file))
		if err != nil {
			t.Fatal(err)
		}
		for _, frac := range []float64{0.001, 0.3, 0.999} {
			in := filepath.Join(t.TempDir(), "cut.pth")
			n := int(frac * float64(len(data)))
			if err := os.WriteFile(in, data[:n], 0o644); err != nil {
				t.Fatal(err)
			}
			checkRefused(t, in, "")
		}
	}
}

// torchZip lays a pickle out as torch.save's zip format does.
func torchZip(t *testing.T, pickle string) []byte {
	t.Helper()
	var b bytes.Buffer
	z := zip.NewWriter(&b)
	for name, data := range map[string]string{"m/data.pkl": pickle, "m/version": "3\n"} {
		w, err := z.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := w.Write([]byte(data)); err != nil {
			t.Fatal(err)
		}
	}
	if err := z.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func checkRefused(t *testing.T, in, want string) {
	t.Helper()
	out := filepath.Join(filepath.Dir(in), "out.onnx")
	stdout, err := run("convert", "pth2onnx", in, "-o", out)
	if err == nil {
		t.Fatalf("%s converted; want an error (output %q)", in, stdout)
	}
	msg := err.Error()
	t.Logf("%s: %s", filepath.Base(in), msg)
	if strings.Contains(msg, "\n") || !strings.Contains(msg, want) {
		t.Errorf("error %q: want one line mentioning %q", msg, want)
	}
	if _, statErr := os.Stat(out); !os.IsNotExist(statErr) {
		t.Errorf("%s exists after a failed conversion", out)
	}
	if left, _ := filepath.Glob(filepath.Join(filepath.Dir(in), ".*")); len(left) > 0 {
		t.Errorf("temporary files left behind: %v", left)
	}
}
