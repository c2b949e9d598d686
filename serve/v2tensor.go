package serve

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"strings"
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
			return nil, errorf(http.StatusBadRequest, "model %q has no output %s, only %q",
				m.name, quote(o.Name), m.session.OutputName())
		}
		if b, _ := o.Parameters["binary_data"].(bool); b {
			return nil, errorf(http.StatusBadRequest, "binary output data is not "+
				"supported; leave out the binary_data parameter")
		}
	}
	in := req.Inputs[0]
	if in.Name != m.session.InputName() {
		return nil, errorf(http.StatusBadRequest, "model %q has no input %s, only %q",
			m.name, quote(in.Name), m.session.InputName())
	}
	if in.Datatype != v2FP32 {
		return nil, errorf(http.StatusBadRequest, "input %q has datatype %s, want %q",
			in.Name, quote(in.Datatype), v2FP32)
	}
	size := int64(m.session.Metadata().Preprocess.InputSize)
	sh := in.Shape
	if len(sh) != 4 || sh[0] < 1 || sh[1] != 3 || sh[2] != size || sh[3] != size {
		return nil, errorf(http.StatusBadRequest, "input %q has shape %s, want [N,3,%d,%d] "+
			"with N at least 1", in.Name, clip(fmt.Sprint(sh), maxQuoted), size, size)
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
// and checks that it holds exactly want numbers, each within FP32 range.
func flattenFP32(raw json.RawMessage, want int) ([]float32, error) {
	if len(raw) == 0 {
		return nil, fmt.Errorf("no \"data\"")
	}
	// The fast path, for a flat array. encoding/json refuses a number out of
	// FP32 range but reads null as 0, so data with a null takes the token
	// path, which refuses it: "null" is in an array of numbers only as one.
	var flat []float32
	if !bytes.Contains(raw, []byte("null")) && json.Unmarshal(raw, &flat) == nil {
		if len(flat) != want {
			return nil, fmt.Errorf("%d values, the shape needs %d", len(flat), want)
		}
		return flat, nil
	}
	return tokensFP32(raw, want)
}

// tokensFP32 reads nested tensor data token by token.
func tokensFP32(raw json.RawMessage, want int) ([]float32, error) {
	out := make([]float32, 0, want)
	dec := json.NewDecoder(bytes.NewReader(raw))
	for {
		tok, err := dec.Token()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, tokenError(err, len(out))
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
			if math.Abs(t) > math.MaxFloat32 {
				return nil, outOfRange(len(out), clip(fmt.Sprint(t), maxQuoted))
			}
			out = append(out, float32(t))
		case nil:
			return nil, fmt.Errorf("value %d is null, want an FP32 number", len(out))
		default:
			return nil, fmt.Errorf("\"data\" holds %s, want FP32 numbers",
				clip(fmt.Sprint(t), maxQuoted))
		}
	}
	if len(out) != want {
		return nil, fmt.Errorf("%d values, the shape needs %d", len(out), want)
	}
	return out, nil
}

// tokenError explains a token that could not be read; i is its index
// among the values.
func tokenError(err error, i int) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) && strings.HasPrefix(te.Value, "number ") {
		return outOfRange(i, clip(strings.TrimPrefix(te.Value, "number "), maxQuoted))
	}
	return fmt.Errorf("malformed \"data\": %s", jsonProblem(err))
}

func outOfRange(i int, value string) error {
	return fmt.Errorf("value %d (%s) is out of FP32 range (magnitude at most %g)", i,
		value, math.MaxFloat32)
}
