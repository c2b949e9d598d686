package main

import (
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/mocokit/mocokit/internal/testenv"
	"github.com/mocokit/mocokit/models"
)

// TestMain lets the test binary stand in for the command when measureRow
// re-executes it as a Go worker.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "--worker" {
		main()
		return
	}
	os.Exit(m.Run())
}

func TestMeasureRowRunsBothWorkersInTurn(t *testing.T) {
	if testing.Short() {
		t.Skip("starts PyTorch and compiles a ResNet-18")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "import torchvision").Run(); err != nil {
		testenv.Missing(t, "/usr/bin/python3 cannot import torchvision: %v", err)
	}
	s := settings{Rounds: 2, Threads: 1, Backend: "go", Python: "/usr/bin/python3",
		Script: "../../scripts/bench_train.py"}
	r := row{Stem: models.StemImageNet, Batch: 2, Mode: modeInfer, Steps: 1}
	res, err := measureRow(s, r)
	if err != nil {
		t.Fatal(err)
	}
	if res.Row != r || !strings.HasPrefix(res.TorchVersion, "1.") {
		t.Errorf("row %+v, torch version %q", res.Row, res.TorchVersion)
	}
	for name, sd := range map[string]side{"mocokit": res.Mocokit, "PyTorch": res.Torch} {
		if len(sd.Rates) != 2 || !(sd.Rates[0] > 0) || !(sd.Rates[1] > 0) {
			t.Errorf("%s images/s per round %v, want 2 positive values", name, sd.Rates)
		}
		if !(sd.WarmSeconds > 0) {
			t.Errorf("%s warm-up took %v s", name, sd.WarmSeconds)
		}
		// Both hold a ResNet-18 (45 MB of float32 weights) and a runtime.
		if sd.PeakRSS < 64<<20 {
			t.Errorf("%s peak RSS %d bytes, less than a loaded ResNet-18 needs", name,
				sd.PeakRSS)
		}
	}
}

func TestMeasureRowReportsAMissingScript(t *testing.T) {
	s := settings{Rounds: 1, Threads: 1, Backend: "go", Python: "/usr/bin/python3",
		Script: "no/such/bench_train.py"}
	r := row{Stem: models.StemImageNet, Batch: 2, Mode: modeInfer, Steps: 1}
	_, err := measureRow(s, r)
	if err == nil || !strings.Contains(err.Error(), "--script") {
		t.Errorf("error %v, want one pointing at --script", err)
	}
}

func TestWorkersGetTheThreadCountAndWaitPolicy(t *testing.T) {
	s := settings{Threads: 3, Backend: "go:conv=direct", Python: "/usr/bin/python3",
		Script: "../../scripts/bench_train.py", OMPWaitPolicy: "PASSIVE"}
	torch, err := torchWorkerCmd(s)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(torch.Args, " "); got !=
		"/usr/bin/python3 ../../scripts/bench_train.py --threads 3" {
		t.Errorf("PyTorch worker args %q", got)
	}
	env := strings.Join(torch.Env, "\n")
	for _, want := range []string{"OMP_NUM_THREADS=3", "MKL_NUM_THREADS=3",
		"OMP_WAIT_POLICY=PASSIVE"} {
		if !strings.Contains(env, "\n"+want) {
			t.Errorf("PyTorch worker environment lacks %s", want)
		}
	}
	gw, err := goWorkerCmd(s.Backend, s.Threads)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(gw.Args[1:], " "); got != "--worker --backend go:conv=direct" {
		t.Errorf("Go worker args %q", got)
	}
	if last := gw.Env[len(gw.Env)-1]; last != "GOMAXPROCS=3" {
		t.Errorf("Go worker environment ends with %q, want GOMAXPROCS=3", last)
	}
}
