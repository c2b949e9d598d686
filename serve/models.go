package serve

import (
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mocokit/mocokit/inference"
)

// model is one served model: its session and the batcher in front of it.
type model struct {
	name    string
	path    string
	session *inference.Session
	batcher *batcher
}

// modelFiles lists the models cfg names, sorted by name, and picks the
// default one. Nothing is opened yet.
func modelFiles(cfg Config) (models []*model, def string, err error) {
	if cfg.Model != "" {
		models = []*model{{name: ModelName(cfg.Model), path: cfg.Model}}
	} else {
		entries, err := os.ReadDir(cfg.ModelsDir)
		if err != nil {
			return nil, "", fmt.Errorf("serve: models folder: %w", err)
		}
		for _, e := range entries {
			if !e.IsDir() && strings.EqualFold(filepath.Ext(e.Name()), ".onnx") {
				models = append(models, &model{name: ModelName(e.Name()),
					path: filepath.Join(cfg.ModelsDir, e.Name())})
			}
		}
		if len(models) == 0 {
			return nil, "", fmt.Errorf("serve: no .onnx file in %s", cfg.ModelsDir)
		}
	}
	sort.Slice(models, func(i, j int) bool { return models[i].name < models[j].name })
	def = models[0].name
	if cfg.DefaultModel != "" {
		def = cfg.DefaultModel
		if !hasModel(models, def) {
			return nil, "", fmt.Errorf("serve: default model %q is not one of %s", def,
				strings.Join(modelNames(models), ", "))
		}
	}
	return models, def, nil
}

func hasModel(models []*model, name string) bool {
	for _, m := range models {
		if m.name == name {
			return true
		}
	}
	return false
}

func modelNames(models []*model) []string {
	names := make([]string, len(models))
	for i, m := range models {
		names[i] = m.name
	}
	return names
}

// openModels opens every model and starts its batcher; on failure it
// closes those already open.
func (s *Server) openModels() error {
	opts := inference.Options{Library: s.cfg.ORTLib, Threads: s.cfg.Threads,
		GraphOpt: inference.GraphOpt(s.cfg.GraphOpt), Device: inference.Device(s.cfg.Device)}
	for i, m := range s.modelList {
		session, err := inference.Open(m.path, opts)
		if err != nil {
			for _, open := range s.modelList[:i] {
				open.close()
			}
			return fmt.Errorf("serve: model %q: %w", m.name, err)
		}
		m.session = session
		m.batcher = newBatcher(m.name, session, s.cfg, s.metrics)
		s.metrics.addModel(m.name)
		meta := session.Metadata()
		slog.Info("model loaded", "model", m.name, "path", m.path, "device", session.Device(),
			"input_size", meta.Preprocess.InputSize, "classes", len(meta.Classes),
			"threads", s.cfg.Threads, "graph_opt", s.cfg.GraphOpt)
	}
	s.session = s.models[s.name].session
	return nil
}

// close answers the images already queued, then releases the session.
func (m *model) close() error {
	if m.batcher != nil {
		m.batcher.close()
	}
	if m.session == nil {
		return nil
	}
	return m.session.Close()
}

// lookup finds the model a request names; "" is the default model.
func (s *Server) lookup(name string) (*model, error) {
	if s.state.Load() != stateReady {
		return nil, retryLater(http.StatusServiceUnavailable, "the server is %s",
			s.stateName())
	}
	if name == "" {
		name = s.name
	}
	m, ok := s.models[name]
	if !ok {
		return nil, errorf(http.StatusNotFound, "no model %s; available models: %s", quote(name),
			strings.Join(modelNames(s.modelList), ", "))
	}
	return m, nil
}
