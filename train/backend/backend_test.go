package backend

import (
	"strings"
	"testing"

	"github.com/gomlx/gomlx/backends"

	"github.com/mocokit/mocokit/train/backend/onednn"
)

func TestNewGoBackendHasTheTrainingOps(t *testing.T) {
	for _, spec := range []string{"go", "go:conv=direct", "go:parallelism=2,ops_parallel"} {
		b, err := New(spec)
		if err != nil {
			t.Fatalf("New(%q): %v", spec, err)
		}
		if b.String() != GoName {
			t.Errorf("New(%q).String() = %q, want %q", spec, b.String(), GoName)
		}
		caps := b.Capabilities()
		for _, op := range append(suppliedOps, backends.OpTypeConvGeneral,
			backends.OpTypeDotGeneral) {
			if !caps.Operations[op] {
				t.Errorf("New(%q) does not list %s", spec, op)
			}
		}
		desc := Describe(b)
		if !strings.Contains(desc, "backend go") || !strings.Contains(desc, "device#0") {
			t.Errorf("Describe(New(%q)) = %q, want the name and the device", spec, desc)
		}
		b.Finalize()
	}
}

func TestNewGoBackendRunsOpsSequentiallyByDefault(t *testing.T) {
	b, err := New("go")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	conv := "conv=im2col"
	if _, err := onednn.Load(); err == nil {
		conv = "conv=onednn"
	}
	if d := b.Description(); !strings.Contains(d, "ops_sequential") ||
		!strings.Contains(d, conv) {
		t.Errorf("Description() = %q, want ops_sequential and %s", d, conv)
	}
}

func TestOneDNNNeedsOpenBLAS(t *testing.T) {
	_, err := New("go:gemm=go,conv=onednn")
	if err == nil || !strings.Contains(err.Error(), "conv=onednn needs OpenBLAS, not gemm=go") {
		t.Fatalf("New(go:gemm=go,conv=onednn): %v", err)
	}
}

func TestNewRejectsUnknownSpecs(t *testing.T) {
	cases := map[string][]string{
		"tpu":              {`"tpu"`, `"go"`},
		"go:conv=winograd": {"conv=winograd", "conv=im2col"},
		"go:gemm=mkl":      {"gemm=mkl", "gemm=openblas"},
		"go:warp_speed":    {"warp_speed"},
	}
	for spec, mentions := range cases {
		_, err := New(spec)
		if err == nil {
			t.Errorf("New(%q): no error", spec)
			continue
		}
		for _, m := range mentions {
			if !strings.Contains(err.Error(), m) {
				t.Errorf("New(%q) error %q does not mention %s", spec, err, m)
			}
		}
	}
}

func TestNewTakesTheEnvironmentWhenSpecIsEmpty(t *testing.T) {
	t.Setenv(backends.ConfigEnvVar, "go:conv=direct")
	b, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if !strings.Contains(b.Description(), "conv=direct") {
		t.Errorf("with $%s=go:conv=direct, got %q", backends.ConfigEnvVar, b.Description())
	}

	t.Setenv(backends.ConfigEnvVar, "nonsense")
	if _, err := New(""); err == nil || !strings.Contains(err.Error(), backends.ConfigEnvVar) {
		t.Errorf("with $%s=nonsense: error %v, want one naming the variable",
			backends.ConfigEnvVar, err)
	}
}

func TestNewAutoFallsBackToGoWithoutPlugins(t *testing.T) {
	t.Setenv(backends.ConfigEnvVar, "")
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	if xlaPluginAvailable() {
		t.Skip("a PJRT plugin is installed on this machine: auto picks xla")
	}
	b, err := New("")
	if err != nil {
		t.Fatal(err)
	}
	defer b.Finalize()
	if b.String() != GoName {
		t.Errorf("auto without plugins chose %q, want %q", b.String(), GoName)
	}
}

func TestNewXLAExplainsWhatIsMissing(t *testing.T) {
	t.Setenv("PJRT_PLUGIN_LIBRARY_PATH", t.TempDir())
	if xlaPluginAvailable() {
		t.Skip("a PJRT plugin is installed on this machine")
	}
	_, err := New("xla:cuda")
	if err == nil {
		t.Fatal(`New("xla:cuda") without a plugin: no error`)
	}
	want := "PJRT plugins found: none"
	if !xlaCompiled {
		want = "-tags xla"
	}
	if !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), `"xla:cuda"`) {
		t.Errorf(`New("xla:cuda") error %q, want it to name the spec and say %q`, err, want)
	}
}
