package serve

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"runtime/debug"

	"github.com/labstack/echo/v4"
)

// The Open Inference Protocol (KServe's "v2" protocol, also spoken by
// Triton), REST binding with JSON tensors: health, server and model
// metadata, and inference on FP32 tensors. Each model has one version,
// "1". The binary tensor extension is not supported.
const (
	v2Version  = "1"
	v2Platform = "onnxruntime_onnx"
	v2FP32     = "FP32"
)

// v2Tensor is an input tensor of an inference request. Data is kept raw
// because the protocol allows it flat or nested in the shape's order.
type v2Tensor struct {
	Name       string          `json:"name"`
	Shape      []int64         `json:"shape"`
	Datatype   string          `json:"datatype"`
	Parameters map[string]any  `json:"parameters,omitempty"`
	Data       json.RawMessage `json:"data"`
}

// v2InferRequest is the body of POST /v2/models/{name}/infer.
type v2InferRequest struct {
	ID         string              `json:"id,omitempty"`
	Parameters map[string]any      `json:"parameters,omitempty"`
	Inputs     []v2Tensor          `json:"inputs"`
	Outputs    []v2RequestedOutput `json:"outputs,omitempty"`
}

// v2RequestedOutput names an output the client wants.
type v2RequestedOutput struct {
	Name       string         `json:"name"`
	Parameters map[string]any `json:"parameters,omitempty"`
}

// v2OutputTensor is an output tensor of an inference response.
type v2OutputTensor struct {
	Name     string    `json:"name"`
	Shape    []int64   `json:"shape"`
	Datatype string    `json:"datatype"`
	Data     []float32 `json:"data"`
}

// v2InferResponse is the answer to an inference request.
type v2InferResponse struct {
	ModelName    string           `json:"model_name"`
	ModelVersion string           `json:"model_version,omitempty"`
	ID           string           `json:"id,omitempty"`
	Outputs      []v2OutputTensor `json:"outputs"`
}

// v2TensorMetadata describes a model input or output; -1 is any size.
type v2TensorMetadata struct {
	Name     string  `json:"name"`
	Datatype string  `json:"datatype"`
	Shape    []int64 `json:"shape"`
}

// v2ModelMetadata is the answer to GET /v2/models/{name}.
type v2ModelMetadata struct {
	Name     string             `json:"name"`
	Versions []string           `json:"versions"`
	Platform string             `json:"platform"`
	Inputs   []v2TensorMetadata `json:"inputs"`
	Outputs  []v2TensorMetadata `json:"outputs"`
}

func (s *Server) registerV2(e *echo.Echo) {
	e.GET("/v2", s.v2Server)
	e.GET("/v2/health/live", func(c echo.Context) error {
		return c.JSON(http.StatusOK, map[string]bool{"live": true})
	})
	e.GET("/v2/health/ready", s.v2Ready)
	for _, prefix := range []string{"/v2/models/:name", "/v2/models/:name/versions/:version"} {
		e.GET(prefix, s.v2Model)
		e.GET(prefix+"/ready", s.v2ModelReady)
		e.POST(prefix+"/infer", s.v2Infer)
	}
}

func (s *Server) v2Server(c echo.Context) error {
	version := "devel"
	if info, ok := debug.ReadBuildInfo(); ok && info.Main.Version != "" {
		version = info.Main.Version
	}
	return c.JSON(http.StatusOK, map[string]any{"name": "mocokit", "version": version,
		"extensions": []string{}})
}

// v2Ready follows the protocol: 200 when ready, a 4xx status when not.
func (s *Server) v2Ready(c echo.Context) error {
	ready := s.state.Load() == stateReady
	return c.JSON(readyStatus(ready), map[string]bool{"ready": ready})
}

func readyStatus(ready bool) int {
	if ready {
		return http.StatusOK
	}
	return http.StatusBadRequest
}

// v2Lookup finds the model of a /v2/models route; only version 1 exists.
func (s *Server) v2Lookup(c echo.Context) (*model, error) {
	if v := c.Param("version"); v != "" && v != v2Version {
		return nil, errorf(http.StatusNotFound, "model %s has no version %s, only %q",
			quote(c.Param("name")), quote(v), v2Version)
	}
	return s.lookup(c.Param("name"))
}

func (s *Server) v2ModelReady(c echo.Context) error {
	name := c.Param("name")
	if s.state.Load() != stateReady {
		return c.JSON(readyStatus(false), map[string]any{"name": name, "ready": false})
	}
	if _, err := s.v2Lookup(c); err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"name": name, "ready": true})
}

func (s *Server) v2Model(c echo.Context) error {
	m, err := s.v2Lookup(c)
	if err != nil {
		return err
	}
	in := m.session.InputShape()
	in[0] = -1 // batches of any size
	return c.JSON(http.StatusOK, v2ModelMetadata{Name: m.name, Versions: []string{v2Version},
		Platform: v2Platform,
		Inputs: []v2TensorMetadata{{Name: m.session.InputName(), Datatype: v2FP32,
			Shape: in}},
		Outputs: []v2TensorMetadata{{Name: m.session.OutputName(), Datatype: v2FP32,
			Shape: []int64{-1, int64(m.session.OutputDim())}}},
	})
}

func (s *Server) v2Infer(c echo.Context) error {
	m, err := s.v2Lookup(c)
	if err != nil {
		return err
	}
	arrived := m.batcher.announce()
	defer arrived()
	req, err := readInferRequest(c.Request(), s.cfg.MaxBodyBytes)
	if err != nil {
		return err
	}
	xs, err := s.v2Images(m, req)
	if err != nil {
		return err
	}
	arrived()
	outs, err := m.infer(c.Request().Context(), xs)
	if err != nil {
		return err
	}
	d := m.session.OutputDim()
	data := make([]float32, 0, len(outs)*d)
	for _, out := range outs {
		data = append(data, out...)
	}
	return c.JSON(http.StatusOK, v2InferResponse{ModelName: m.name, ModelVersion: v2Version,
		ID: req.ID, Outputs: []v2OutputTensor{{Name: m.session.OutputName(),
			Shape: []int64{int64(len(outs)), int64(d)}, Datatype: v2FP32, Data: data}}})
}

// readInferRequest reads the body: one JSON document and nothing after it.
func readInferRequest(r *http.Request, limit int64) (v2InferRequest, error) {
	var req v2InferRequest
	if r.Header.Get("Inference-Header-Content-Length") != "" {
		return req, errorf(http.StatusBadRequest, "the binary tensor data extension is "+
			"not supported; send the tensor as JSON in \"data\"")
	}
	dec := json.NewDecoder(r.Body)
	if err := dec.Decode(&req); err != nil {
		return req, requestError(r, err, limit)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		if failed := readFailure(r, err, limit); failed != nil {
			return req, failed
		}
		return req, errorf(http.StatusBadRequest, "inference request has more after its "+
			"JSON object; send one object")
	}
	return req, nil
}

// requestError explains why an inference request could not be decoded.
func requestError(r *http.Request, err error, limit int64) error {
	if failed := readFailure(r, err, limit); failed != nil {
		return failed
	}
	return errorf(http.StatusBadRequest, "inference request is not valid JSON "+
		"of the protocol's shape: %s", jsonProblem(err))
}

// jsonProblem is a JSON decoding error for a message, with the value it
// quotes cut short.
func jsonProblem(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		field := ""
		if te.Field != "" {
			field = " in field " + quote(te.Field)
		}
		return fmt.Sprintf("%s%s, want %v", clip(te.Value, maxQuoted), field, te.Type)
	}
	return clip(err.Error(), 4*maxQuoted)
}
