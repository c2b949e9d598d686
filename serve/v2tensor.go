package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
)

// v2Images checks an inference request against the model and splits its
// input tensor, [N,3,S,S], into N images.
func (s *Server) v2Images(m *model, req v2InferRequest) ([][]float32, error) {
	if len(req.Inputs) != 1 {
		return nil, errorf(http.StatusBadRequest, "%d input tensors, want 1 named %q",
			len(req.Inputs), m.session.InputName())
	}
	for _, o := range req.Outputs {
		if o.Name != m.session.OutputName() {
			return nil, errorf(http.StatusBadRequest, "model %q has no output %q, only %q",
				m.name, o.Name, m.session.OutputName())
		}
		if b, _ := o.Parameters["binary_data"].(bool); b {
			return nil, errorf(http.StatusBadRequest, "binary output data is not "+
				"supported; leave out the binary_data parameter")
		}
	}
	in := req.Inputs[0]
	if in.Name != m.session.InputName() {
		return nil, errorf(http.StatusBadRequest, "model %q has no input %q, only %q",
			m.name, in.Name, m.session.InputName())
	}
	if in.Datatype != v2FP32 {
		return nil, errorf(http.StatusBadRequest, "input %q has datatype %q, want %q",
			in.Name, in.Datatype, v2FP32)
	}
	size := int64(m.session.Metadata().Preprocess.InputSize)
	sh := in.Shape
	if len(sh) != 4 || sh[0] < 1 || sh[1] != 3 || sh[2] != size || sh[3] != size {
		return nil, errorf(http.StatusBadRequest, "input %q has shape %v, want [N,3,%d,%d] "+
			"with N at least 1", in.Name, sh, size, size)
	}
	if sh[0] > int64(s.cfg.MaxQueue) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "%d images in one request, "+
			"more than the queue holds (%d); send them in smaller requests", sh[0],
			s.cfg.MaxQueue)
	}
	n := m.session.InputLen()
	data, err := flattenFP32(in.Data, int(sh[0])*n)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "input %q: %v", in.Name, err)
	}
	xs := make([][]float32, sh[0])
	for i := range xs {
		xs[i] = data[i*n : (i+1)*n : (i+1)*n]
	}
	return xs, nil
}

// flattenFP32 reads tensor data given flat or nested, in row-major order,
// and checks that it holds exactly want numbers.
func flattenFP32(raw json.RawMessage, want int) ([]float32, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("no \"data\"")
	}
	var flat []float32
	if err := json.Unmarshal(raw, &flat); err == nil {
		if len(flat) != want {
			return nil, fmt.Errorf("%d values, the shape needs %d", len(flat), want)
		}
		return flat, nil
	}
	out := make([]float32, 0, want)
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("malformed \"data\": %v", err)
		}
		switch t := tok.(type) {
		case json.Delim:
			if t != '[' && t != ']' {
				return nil, fmt.Errorf("\"data\" holds an object, want numbers in arrays")
			}
		case float64:
			if len(out) == want {
				return nil, fmt.Errorf("more values than the shape's %d", want)
			}
			out = append(out, float32(t))
		default:
			return nil, fmt.Errorf("\"data\" holds %v, want FP32 numbers", t)
		}
	}
	if len(out) != want {
		return nil, fmt.Errorf("%d values, the shape needs %d", len(out), want)
	}
	return out, nil
}
