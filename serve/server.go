// Package serve answers image classification requests over HTTP with
// models exported by mocokit, run by onnxruntime (package inference):
// POST /classify takes multipart uploads in field "img" and answers the
// top-k classes with softmax probabilities, or the embedding for a model
// without classes. Concurrent requests are batched into one onnxruntime
// run per model (batcher.go). It speaks the Open Inference Protocol (KServe
// v2) under /v2, exports Prometheus metrics on /metrics, can evaluate the
// default model on a test set in the background (GET /eval), and has
// /healthz and /readyz for orchestrators.
package serve

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"sync/atomic"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"
	"golang.org/x/sync/semaphore"

	"github.com/mocokit/mocokit/inference"
)

// Server states, as /readyz reports them.
const (
	stateLoading int32 = iota
	stateReady
	stateStopping
)

// Server serves one or more models.
type Server struct {
	cfg       Config
	name      string             // the default model
	session   *inference.Session // the default model's, once loaded
	models    map[string]*model
	modelList []*model // sorted by name
	state     atomic.Int32
	metrics   *metrics
	echo      *echo.Echo
	eval      *evalState
	decoding  *semaphore.Weighted // pixels being decoded, at most cfg.MaxDecodePixels
}

// New opens the models and sets up the routes; it does not listen.
func New(cfg Config) (*Server, error) {
	s, err := newUnloaded(cfg)
	if err != nil {
		return nil, err
	}
	if err := s.load(); err != nil {
		return nil, err
	}
	return s, nil
}

// newUnloaded sets up the routes without opening the models: until load
// returns, requests that need a model get 503.
func newUnloaded(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	list, def, err := modelFiles(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, name: def, modelList: list, models: map[string]*model{},
		metrics: newMetrics(), decoding: semaphore.NewWeighted(cfg.MaxDecodePixels)}
	for _, m := range list {
		s.models[m.name] = m
	}
	s.eval = &evalState{status: evalOff, model: s.name}
	s.echo = s.routes()
	return s, nil
}

func (s *Server) load() error {
	if err := s.openModels(); err != nil {
		return err
	}
	s.state.Store(stateReady)
	return nil
}

// ModelName is the name the server reports for a model file: its base name
// without extension.
func ModelName(path string) string {
	base := filepath.Base(path)
	return strings.TrimSuffix(base, filepath.Ext(base))
}

func (s *Server) routes() *echo.Echo {
	e := echo.New()
	e.HideBanner, e.HidePort = true, true
	e.HTTPErrorHandler = jsonErrorHandler
	e.Use(s.metrics.middleware, middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true, LogErrorFunc: logPanic}), debugLog, s.limitBody,
		s.limitTime)
	e.POST("/classify", s.classify)
	e.GET("/eval", s.evalStatus)
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.metrics.handler())
	s.registerV2(e)
	s.registerPage(e)
	return e
}

// readyz is 200 once every model is loaded, whatever an evaluation is
// doing, and 503 while loading or stopping, so that a load balancer sends
// requests elsewhere.
func (s *Server) readyz(c echo.Context) error {
	if s.state.Load() != stateReady {
		c.Response().Header().Set("Retry-After", "1")
		return c.JSON(http.StatusServiceUnavailable, map[string]string{
			"status": s.stateName()})
	}
	return c.JSON(http.StatusOK, map[string]string{"status": "ready", "model": s.name})
}

func (s *Server) stateName() string {
	switch s.state.Load() {
	case stateLoading:
		return "loading"
	case stateReady:
		return "ready"
	}
	return "stopping"
}

// Handler is the server's HTTP handler, for http.Server or httptest.
func (s *Server) Handler() http.Handler { return s.echo }

// Session is the default model's session.
func (s *Server) Session() *inference.Session { return s.session }

// Models lists the served models' names, sorted.
func (s *Server) Models() []string { return modelNames(s.modelList) }

// Close answers the requests already queued and releases the models.
func (s *Server) Close() error {
	s.state.Store(stateStopping)
	var errs []error
	for _, m := range s.modelList {
		errs = append(errs, m.close())
	}
	return errors.Join(errs...)
}

// Run serves the models on cfg.Addr until ctx is cancelled, then stops
// accepting connections, lets the requests in flight finish and returns
// nil. It listens before the models are loaded (/readyz says 503 until
// then). With cfg.EvalPath set it evaluates the default model in the
// background.
func Run(ctx context.Context, cfg Config) error {
	s, err := newUnloaded(cfg)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	srv := &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout: s.cfg.RequestTimeout, WriteTimeout: s.cfg.RequestTimeout + 10*time.Second,
		IdleTimeout: 2 * time.Minute}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	slog.Info("listening", "address", "http://"+ln.Addr().String(),
		"models", strings.Join(s.Models(), ","), "default", s.name)
	if err := s.load(); err != nil {
		srv.Close()
		return err
	}
	slog.Info("ready", "models", len(s.modelList), "max_batch", s.cfg.MaxBatch,
		"max_wait", s.cfg.MaxWait, "max_queue", s.cfg.MaxQueue)
	if s.cfg.EvalPath != "" {
		s.StartEval(ctx, s.cfg.EvalPath)
	}
	select {
	case err := <-done:
		s.Close()
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	return s.shutdown(srv, done)
}

// shutdown stops accepting, waits for the handlers in flight (their
// batches still run), then drains the batchers and closes the models.
func (s *Server) shutdown(srv *http.Server, done <-chan error) error {
	slog.Info("stopping: finishing the requests in flight")
	s.state.Store(stateStopping)
	grace := s.cfg.RequestTimeout + 5*time.Second
	ctx, cancel := context.WithTimeout(context.Background(), grace)
	defer cancel()
	shutdownErr := srv.Shutdown(ctx)
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		shutdownErr = errors.Join(shutdownErr, err)
	}
	s.waitForEval(ctx)
	if err := errors.Join(shutdownErr, s.Close()); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	slog.Info("stopped")
	return nil
}

// waitForEval waits for a cancelled evaluation to leave its current batch,
// so that the session is not closed under it.
func (s *Server) waitForEval(ctx context.Context) {
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for s.EvalStatus().Status == evalRunning {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}
