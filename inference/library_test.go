package inference

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

func touch(t *testing.T, path string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, nil, 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestFindLibraryOrder(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	t.Setenv(LibraryEnv, "")
	if got, err := FindLibrary(""); err != nil || got != systemLibrary {
		t.Fatalf("nothing installed: %q %v, want the system name", got, err)
	}

	project := filepath.Join(dir, ".deps", "onnxruntime", "libonnxruntime.so.1.24.1")
	touch(t, project)
	touch(t, filepath.Join(dir, ".deps", "onnxruntime", "libonnxruntime_providers_shared.so"))
	if got, err := FindLibrary(""); err != nil || got != project {
		t.Fatalf("project folder: %q %v, want %s", got, err, project)
	}

	fromEnv := filepath.Join(dir, "env", "libonnxruntime.so")
	touch(t, fromEnv)
	t.Setenv(LibraryEnv, fromEnv)
	if got, err := FindLibrary(""); err != nil || got != fromEnv {
		t.Fatalf("env: %q %v, want %s", got, err, fromEnv)
	}

	explicit := filepath.Join(dir, "flag.so")
	touch(t, explicit)
	if got, err := FindLibrary(explicit); err != nil || got != explicit {
		t.Fatalf("explicit: %q %v", got, err)
	}
	if got, err := FindLibrary(filepath.Join(dir, "env")); err != nil || got != fromEnv {
		t.Fatalf("explicit folder: %q %v, want %s", got, err, fromEnv)
	}
}

func TestFindLibraryRejectsMissingExplicitPath(t *testing.T) {
	_, err := FindLibrary("/nonexistent/libonnxruntime.so")
	if err == nil || !strings.Contains(err.Error(), "/nonexistent/libonnxruntime.so") {
		t.Fatalf("error %v", err)
	}
	t.Setenv(LibraryEnv, "/nonexistent/env.so")
	_, err = FindLibrary("")
	if err == nil || !strings.Contains(err.Error(), "$"+LibraryEnv) {
		t.Fatalf("error %v, want it to name $%s", err, LibraryEnv)
	}
}

// TestMissingLibraryTellsToRunSetup loads no library in a child process (the
// environment can be created once per process) from an empty folder.
func TestMissingLibraryTellsToRunSetup(t *testing.T) {
	if os.Getenv("MOCOKIT_TEST_NO_LIB") == "1" {
		_, err := Open("model.onnx", Options{})
		if !errors.Is(err, ErrLibraryNotFound) {
			os.Exit(3)
		}
		os.Stderr.WriteString(err.Error())
		os.Exit(2)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestMissingLibraryTellsToRunSetup$")
	cmd.Dir = t.TempDir()
	cmd.Env = append(os.Environ(), "MOCOKIT_TEST_NO_LIB=1", LibraryEnv+"=",
		"LD_LIBRARY_PATH=")
	out, _ := cmd.CombinedOutput()
	if cmd.ProcessState.ExitCode() == 3 {
		t.Skip("a system onnxruntime library is installed")
	}
	msg := string(out)
	for _, want := range []string{"scripts/setup.sh", "onnxruntime library not found",
		filepath.Join(cmd.Dir, ".deps", "onnxruntime")} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
}
