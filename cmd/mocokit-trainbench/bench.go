package main

import (
	"errors"
	"log/slog"
	"sync"
)

// settings are what every row is measured with.
type settings struct {
	Rounds  int
	Threads int
	Backend string // backend spec of the Go worker
	Python  string // interpreter with PyTorch
	Script  string // scripts/bench_train.py
	// OMPWaitPolicy is PyTorch's OMP_WAIT_POLICY; empty leaves OpenMP's
	// default.
	OMPWaitPolicy string
}

// measureRow starts a fresh Go worker and a fresh PyTorch worker for r, so
// that each one's peak RSS is this row's alone, warms both up (at the same
// time: warm-ups are not measured), then runs the rounds one side after
// the other, the side that goes first alternating from round to round.
func measureRow(s settings, r row) (result, error) {
	goW, torchW, err := startPair(s)
	if err != nil {
		return result{}, err
	}
	defer goW.kill()
	defer torchW.kill()

	var wg sync.WaitGroup
	var goErr, torchErr error
	wg.Go(func() { goErr = goW.warm(r) })
	wg.Go(func() { torchErr = torchW.warm(r) })
	wg.Wait()
	if err := errors.Join(goErr, torchErr); err != nil {
		return result{}, err
	}
	slog.Info("warmed up", "row", r.key(), "mocokit_s", round1(goW.warmS),
		"pytorch_s", round1(torchW.warmS))

	for round := range s.Rounds {
		order := []*workerProc{goW, torchW}
		if round%2 == 1 {
			order[0], order[1] = order[1], order[0]
		}
		for _, w := range order {
			if _, err := w.run(r); err != nil {
				return result{}, err
			}
		}
		slog.Info("round done", "row", r.key(), "round", round+1,
			"mocokit_images_per_s", round1(goW.rates[round]),
			"pytorch_images_per_s", round1(torchW.rates[round]))
	}

	if err := errors.Join(goW.close(), torchW.close()); err != nil {
		return result{}, err
	}
	return result{Row: r, Mocokit: goW.side(), Torch: torchW.side(),
		TorchVersion: torchW.version}, nil
}

func startPair(s settings) (goW, torchW *workerProc, err error) {
	goCmd, err := goWorkerCmd(s.Backend, s.Threads)
	if err != nil {
		return nil, nil, err
	}
	torchCmd, err := torchWorkerCmd(s)
	if err != nil {
		return nil, nil, err
	}
	if goW, err = startWorker("mocokit", goCmd); err != nil {
		return nil, nil, err
	}
	if torchW, err = startWorker("PyTorch", torchCmd); err != nil {
		goW.kill()
		return nil, nil, err
	}
	return goW, torchW, nil
}

func (p *workerProc) side() side {
	return side{Rates: p.rates, PeakRSS: p.peak, WarmSeconds: p.warmS}
}

func round1(x float64) float64 { return float64(int64(x*10+0.5)) / 10 }
