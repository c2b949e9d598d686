package main

import (
	"fmt"
	"math/rand/v2"
	"os"
	"time"

	"github.com/gomlx/gomlx/backends"

	"github.com/mocokit/mocokit/models"
	"github.com/mocokit/mocokit/train"
	"github.com/mocokit/mocokit/train/backend"
)

// Training recipe of the measured steps, the same on both sides. The
// numbers matter only in that both do the same work: weight decay and
// Nesterov momentum each add element-wise ops to the update.
const (
	benchLR          = 0.01
	benchMomentum    = 0.9
	benchWeightDecay = 5e-4
	benchClasses     = 10
	imageSize        = 32
)

// goWorker runs rows on a GoMLX backend with mocokit's train package.
type goWorker struct {
	backend backends.Backend
	current string // key of the row net and batch are for
	net     *train.Network
	batch   train.Batch
}

// runGoWorker serves the worker protocol on stdin and stdout.
func runGoWorker(spec string) error {
	answers, restore := stdoutToStderr()
	defer restore()
	backend.TuneGC() // as mocokit train does
	b, err := backend.New(spec)
	if err != nil {
		return err
	}
	defer b.Finalize()
	w := &goWorker{backend: b}
	return serveCommands(os.Stdin, answers, w.do)
}

// do runs one command. A warm answer's time is that of building the
// network, compiling and the warm-up step; a run's that of its steps alone.
func (w *goWorker) do(c command) reply {
	r := reply{Row: c.Row.key(), Steps: c.Steps, Images: c.Steps * c.Row.Batch}
	start := time.Now()
	err := w.prepare(c.Row)
	if err == nil && c.Verb == "run" {
		start = time.Now()
		for i := 0; i < c.Steps && err == nil; i++ {
			err = w.step(c.Row.Mode)
		}
	}
	r.Seconds = time.Since(start).Seconds()
	if err != nil {
		r.Error = err.Error()
	}
	return r
}

// prepare builds the network and batch for r, and runs the untimed step
// that compiles the graph, unless r is the row already prepared.
func (w *goWorker) prepare(r row) error {
	if w.current == r.key() {
		return nil
	}
	cfg := models.ResNet18(r.Stem, benchClasses)
	opt := train.SGD{Momentum: benchMomentum, WeightDecay: benchWeightDecay, Nesterov: true}
	net, err := train.NewNetwork(w.backend, cfg, train.InitWeights(cfg, 1), opt)
	if err != nil {
		return err
	}
	w.net, w.batch, w.current = net, randomBatch(r.Batch, 1), r.key()
	if err := w.step(r.Mode); err != nil {
		w.current = ""
		return fmt.Errorf("warm-up step: %w", err)
	}
	return nil
}

func (w *goWorker) step(mode string) error {
	if mode == modeTrain {
		_, err := w.net.Step(w.batch, benchLR)
		return err
	}
	_, err := w.net.Logits(w.batch)
	return err
}

// stdoutToStderr points os.Stdout at stderr and returns the real stdout
// and a function that restores it. The worker's answers and the table own
// stdout; what the backend prints (simplego announces its parallelism
// there) belongs with the logs.
func stdoutToStderr() (stdout *os.File, restore func()) {
	stdout = os.Stdout
	os.Stdout = os.Stderr
	return stdout, func() { os.Stdout = stdout }
}

// randomBatch is n standard-normal 3x32x32 images with uniform labels: the
// data path is not measured, so any values of the right shape do.
func randomBatch(n int, seed uint64) train.Batch {
	rng := rand.New(rand.NewPCG(seed, 0x62656e6368))
	b := train.Batch{
		Images: make([]float32, n*3*imageSize*imageSize),
		Labels: make([]int32, n),
		Size:   imageSize,
	}
	for i := range b.Images {
		b.Images[i] = float32(rng.NormFloat64())
	}
	for i := range b.Labels {
		b.Labels[i] = int32(rng.IntN(benchClasses))
	}
	return b
}
