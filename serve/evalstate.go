package serve

import (
	"context"
	"log/slog"
	"net/http"
	"sync"
	"time"

	"github.com/labstack/echo/v4"

	"github.com/mocokit/mocokit/dataset"
)

// Evaluation states reported by GET /eval.
const (
	evalOff     = "off"
	evalRunning = "running"
	evalDone    = "done"
	evalFailed  = "failed"
)

// EvalStatus is the body of GET /eval. Top1 and Correct count the images
// done so far while running; PerClass is filled when done.
type EvalStatus struct {
	Status   string        `json:"status"`
	Model    string        `json:"model"`
	Dataset  string        `json:"dataset,omitempty"`
	Done     int           `json:"done"`
	Total    int           `json:"total"`
	Top1     float64       `json:"top1"`
	Correct  int           `json:"correct"`
	PerClass []ClassResult `json:"per_class,omitempty"`
	// Confusion and PredictedClasses are Result's, filled when done.
	Confusion        [][]int  `json:"confusion,omitempty"`
	PredictedClasses []string `json:"predicted_classes,omitempty"`
	Error            string   `json:"error,omitempty"`
}

// evalState is the background evaluation, shared with the /eval handler.
type evalState struct {
	sync.Mutex
	status  string
	model   string
	dataset string
	done    int
	total   int
	correct int
	result  *Result
	err     error
}

func (e *evalState) snapshot() EvalStatus {
	e.Lock()
	defer e.Unlock()
	st := EvalStatus{Status: e.status, Model: e.model, Dataset: e.dataset, Done: e.done,
		Total: e.total, Correct: e.correct, Top1: ratio(e.correct, e.done)}
	if e.result != nil {
		st.PerClass = e.result.PerClass
		st.Confusion, st.PredictedClasses = e.result.Confusion, e.result.PredictedClasses
	}
	if e.err != nil {
		st.Error = e.err.Error()
	}
	return st
}

func (e *evalState) set(f func(e *evalState)) {
	e.Lock()
	defer e.Unlock()
	f(e)
}

func (s *Server) evalStatus(c echo.Context) error {
	return c.JSON(http.StatusOK, s.eval.snapshot())
}

// EvalStatus reports the background evaluation, as GET /eval does.
func (s *Server) EvalStatus() EvalStatus { return s.eval.snapshot() }

// StartEval evaluates the model on the test split of the dataset at path
// (anything dataset.Load reads) in the background, until done or ctx ends.
func (s *Server) StartEval(ctx context.Context, path string) {
	s.eval.set(func(e *evalState) {
		e.status, e.dataset, e.done, e.total, e.correct = evalRunning, path, 0, 0, 0
		e.result, e.err = nil, nil
	})
	go s.runEval(ctx, path)
}

func (s *Server) runEval(ctx context.Context, path string) {
	fail := func(err error) {
		slog.Error("evaluation failed", "model", s.name, "dataset", path, "err", err)
		s.eval.set(func(e *evalState) { e.status, e.err = evalFailed, err })
	}
	start := time.Now()
	ds, err := dataset.Load(path, dataset.Test)
	if err != nil {
		fail(err)
		return
	}
	total := len(ds.Samples)
	s.eval.set(func(e *evalState) { e.total = total })
	slog.Info("evaluating", "model", s.name, "dataset", path, "images", total,
		"classes", len(ds.Classes), "load_time", time.Since(start).Round(time.Millisecond))
	start = time.Now()
	step := max(1, total/10) // about ten progress lines
	nextLog := step
	res, err := evaluate(ctx, s.session, ds, s.cfg.EvalBatch, func(done, correct int) {
		s.eval.set(func(e *evalState) { e.done, e.correct = done, correct })
		if done >= nextLog && done < total {
			nextLog += step
			slog.Info("evaluation progress", "done", done, "total", total,
				"top1", ratio(correct, done))
		}
	})
	if err != nil {
		fail(err)
		return
	}
	elapsed := time.Since(start)
	s.eval.set(func(e *evalState) { e.status, e.result = evalDone, &res })
	slog.Info("evaluation done", "model", s.name, "dataset", path, "top1", res.Top1,
		"correct", res.Correct, "total", res.Total,
		"images_per_s", float64(res.Total)/elapsed.Seconds())
	for _, c := range res.PerClass {
		slog.Info("evaluation per class", "class", c.Class, "top1", c.Top1,
			"correct", c.Correct, "total", c.Total)
	}
}
