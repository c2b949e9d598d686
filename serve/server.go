// Package serve answers image classification requests over HTTP with a
// model exported by mocokit, run by onnxruntime (package inference):
// POST /classify takes a multipart upload in field "img" and answers the
// top-k classes with softmax probabilities, or the embedding for a model
// without classes. It can also evaluate the model on a test set in the
// background (GET /eval), and has /healthz and /readyz for orchestrators.
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
	"time"

	"github.com/labstack/echo/v4"
	"github.com/labstack/echo/v4/middleware"

	"github.com/mocokit/mocokit/inference"
)

// shutdownGrace is how long Run waits for requests in flight when stopping.
const shutdownGrace = 10 * time.Second

// Server serves one model.
type Server struct {
	cfg     Config
	name    string
	session *inference.Session
	echo    *echo.Echo
	eval    *evalState
}

// New opens the model and sets up the routes; it does not listen.
func New(cfg Config) (*Server, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	session, err := inference.Open(cfg.Model, inference.Options{Library: cfg.ORTLib,
		Threads: cfg.Threads, Device: inference.Device(cfg.Device)})
	if err != nil {
		return nil, fmt.Errorf("serve: %w", err)
	}
	s := &Server{cfg: cfg, name: ModelName(cfg.Model), session: session}
	s.eval = &evalState{status: evalOff, model: s.name}
	s.echo = s.routes()
	return s, nil
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
	e.Use(middleware.RecoverWithConfig(middleware.RecoverConfig{
		DisableStackAll: true, LogErrorFunc: logPanic}), debugLog, s.limitBody)
	e.POST("/classify", s.classify)
	e.GET("/eval", s.evalStatus)
	e.GET("/healthz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ok"})
	})
	e.GET("/readyz", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]string{"status": "ready", "model": s.name})
	})
	return e
}

// Handler is the server's HTTP handler, for http.Server or httptest.
func (s *Server) Handler() http.Handler { return s.echo }

// Session is the model the server runs.
func (s *Server) Session() *inference.Session { return s.session }

// Close releases the model.
func (s *Server) Close() error { return s.session.Close() }

// Run serves cfg.Model on cfg.Addr until ctx is cancelled, then lets the
// requests in flight finish. With cfg.EvalPath set it evaluates the model
// on that dataset's test split in the background.
func Run(ctx context.Context, cfg Config) error {
	s, err := New(cfg)
	if err != nil {
		return err
	}
	defer s.Close()
	ln, err := net.Listen("tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	meta := s.session.Metadata()
	slog.Info("serving", "model", s.name, "device", s.session.Device(),
		"input_size", meta.Preprocess.InputSize, "classes", len(meta.Classes),
		"address", "http://"+ln.Addr().String())
	if s.cfg.EvalPath != "" {
		s.StartEval(ctx, s.cfg.EvalPath)
	}
	srv := &http.Server{Handler: s.echo, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ln) }()
	select {
	case err := <-done:
		return fmt.Errorf("serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), shutdownGrace)
	defer cancel()
	if err := srv.Shutdown(shutdownCtx); err != nil {
		return fmt.Errorf("serve: shutdown: %w", err)
	}
	if err := <-done; err != nil && !errors.Is(err, http.ErrServerClosed) {
		return fmt.Errorf("serve: %w", err)
	}
	slog.Info("stopped", "model", s.name)
	return nil
}
