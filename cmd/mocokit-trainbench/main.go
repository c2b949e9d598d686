// Command mocokit-trainbench compares the speed of mocokit's GoMLX
// ResNet-18 (package train) with PyTorch's on the same network, batch size
// and number of threads, and prints a table: for each stem, batch size and
// mode (a training step, or an eval-mode forward pass), the images/s of
// each, how many times slower mocokit is, and the peak RSS of each.
//
// Each row runs in two fresh processes, this binary re-executed as a worker
// and scripts/bench_train.py under /usr/bin/python3, which answer "warm"
// and "run" commands (see protocol.go); the parent alternates between them.
// Batches are random: the data path is not measured. PyTorch's OpenMP
// threads wait passively by default (--omp-wait-policy): spinning threads
// made it some 25 times slower when another process held one of the two
// cores, which measures the sharing rather than PyTorch. Run it through
// scripts/bench_train.sh.
//
// The defaults finish in a few minutes on two cores, where the pure-Go
// backend trains the ImageNet-stem network at some 30 images/s and the
// CIFAR-stem one (a 3x3/1 stem and no pooling, so every layer works on
// 16 times the pixels) at some 3: the CIFAR stem gets batch 32 and 2 steps.
package main

import (
	"cmp"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"

	"github.com/mocokit/mocokit/train/backend"
)

func main() {
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr, nil)))
	err := run(os.Args[1:])
	if errors.Is(err, flag.ErrHelp) {
		return
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "mocokit-trainbench:", err)
		os.Exit(1)
	}
}

// options are the command's flags.
type options struct {
	stems, modes   string
	batches, steps *perStem
	settings
	worker bool
}

func parseFlags(args []string) (options, error) {
	batches, err := newPerStem("imagenet=32,128", "cifar=32,128")
	if err != nil {
		return options{}, err
	}
	steps, err := newPerStem("imagenet=3", "cifar=2")
	if err != nil {
		return options{}, err
	}
	o := options{batches: batches, steps: steps}
	fs := flag.NewFlagSet("mocokit-trainbench", flag.ContinueOnError)
	fs.StringVar(&o.stems, "stems", "imagenet,cifar", "network stems, comma-separated")
	fs.Var(o.batches, "batches", "batch sizes: `LIST` for every stem or STEM=LIST "+
		"for one; repeatable")
	fs.StringVar(&o.modes, "modes", "train,infer", "train (forward, backward, SGD) "+
		"and/or infer (eval-mode forward)")
	fs.Var(o.steps, "steps", "timed steps per measurement: `N` or STEM=N; repeatable")
	fs.IntVar(&o.Rounds, "rounds", 2, "measurements per row, alternating which side "+
		"goes first; the table shows the median")
	fs.IntVar(&o.Threads, "threads", runtime.NumCPU(), "threads of each side: GOMAXPROCS "+
		"of the Go worker, torch.set_num_threads of PyTorch")
	fs.StringVar(&o.Backend, "backend", backend.GoName, "GoMLX backend spec "+
		"(see train/backend.New)")
	fs.StringVar(&o.Python, "python", "/usr/bin/python3", "Python with PyTorch")
	fs.StringVar(&o.Script, "script", "scripts/bench_train.py", "the PyTorch worker")
	fs.StringVar(&o.OMPWaitPolicy, "omp-wait-policy", "PASSIVE", "PyTorch's "+
		"OMP_WAIT_POLICY; PASSIVE makes idle OpenMP threads sleep rather than spin, "+
		"which on cores shared with other work keeps PyTorch from slowing down many-fold; "+
		"empty leaves OpenMP's default")
	fs.BoolVar(&o.worker, "worker", false, "")
	fs.Usage = func() { usage(fs) }
	if err := fs.Parse(args); err != nil {
		return options{}, err
	}
	if fs.NArg() > 0 {
		return options{}, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if o.Rounds < 1 || o.Threads < 1 {
		return options{}, fmt.Errorf("--rounds and --threads must be at least 1")
	}
	return o, nil
}

// usage leaves out --worker, which only the command itself passes.
func usage(fs *flag.FlagSet) {
	out := fs.Output()
	fmt.Fprintf(out, "Usage: mocokit-trainbench [flags]\n\nFlags:\n")
	shown := flag.NewFlagSet(fs.Name(), flag.ContinueOnError)
	shown.SetOutput(out)
	fs.VisitAll(func(f *flag.Flag) {
		if f.Name != "worker" {
			shown.Var(f.Value, f.Name, f.Usage)
			shown.Lookup(f.Name).DefValue = f.DefValue
		}
	})
	shown.PrintDefaults()
}

func run(args []string) error {
	o, err := parseFlags(args)
	if err != nil {
		return err
	}
	if o.worker {
		return runGoWorker(o.Backend)
	}
	rows, err := plan(splitList(o.stems), splitList(o.modes), o.batches, o.steps)
	if err != nil {
		return err
	}
	m, err := describeMachine(o.settings)
	if err != nil {
		return err
	}
	slog.Info("measuring", "rows", len(rows), "rounds", o.Rounds, "threads", o.Threads,
		"backend", o.Backend, "load_average", m.LoadStart)
	var results []result
	for _, r := range rows {
		res, err := measureRow(o.settings, r)
		if err != nil {
			return fmt.Errorf("row %s: %w", r.key(), err)
		}
		results = append(results, res)
		m.Python = fmt.Sprintf("torch %s (%s), OMP_WAIT_POLICY=%s", res.TorchVersion,
			o.Python, cmp.Or(o.OMPWaitPolicy, os.Getenv("OMP_WAIT_POLICY"), "OpenMP's default"))
	}
	m.LoadEnd = loadAverage()
	writeHeader(os.Stdout, m, o.Rounds)
	writeTable(os.Stdout, results)
	return nil
}

// describeMachine builds the backend the workers will use, with their
// thread count, to check the spec and describe it.
func describeMachine(s settings) (machine, error) {
	prev := runtime.GOMAXPROCS(s.Threads)
	defer runtime.GOMAXPROCS(prev)
	_, restore := stdoutToStderr()
	defer restore()
	b, err := backend.New(s.Backend)
	if err != nil {
		return machine{}, err
	}
	defer b.Finalize()
	return machine{CPU: cpuModel(), CPUs: runtime.NumCPU(), Threads: s.Threads,
		Backend: backend.Describe(b), Python: s.Python, LoadStart: loadAverage()}, nil
}
