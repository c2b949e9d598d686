// Package client calls a mocokit server (package serve) over HTTP: it
// uploads images to POST /classify and reads the evaluation status from
// GET /eval. It needs neither onnxruntime nor the model.
package client

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Prediction is one class of a classification, most probable first.
type Prediction struct {
	Index       int     `json:"index"`
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// Result is the server's answer for one image: Predictions from a
// classifier, or Embedding from a model without classes.
type Result struct {
	Model       string       `json:"model"`
	Predictions []Prediction `json:"predictions,omitempty"`
	Embedding   []float32    `json:"embedding,omitempty"`
}

// ClassResult is the top-1 accuracy on one class.
type ClassResult struct {
	Class   string  `json:"class"`
	Top1    float64 `json:"top1"`
	Correct int     `json:"correct"`
	Total   int     `json:"total"`
}

// EvalStatus is the server's background evaluation: Status is running,
// done, failed or off.
type EvalStatus struct {
	Status   string        `json:"status"`
	Model    string        `json:"model"`
	Dataset  string        `json:"dataset,omitempty"`
	Done     int           `json:"done"`
	Total    int           `json:"total"`
	Top1     float64       `json:"top1"`
	Correct  int           `json:"correct"`
	PerClass []ClassResult `json:"per_class,omitempty"`
	Error    string        `json:"error,omitempty"`
}

// APIError is an error answer from the server.
type APIError struct {
	StatusCode int    // HTTP status
	Message    string // the server's "error" field, or the start of the body
}

func (e *APIError) Error() string {
	return fmt.Sprintf("server answered %d %s: %s", e.StatusCode,
		http.StatusText(e.StatusCode), e.Message)
}

// Client talks to one server.
type Client struct {
	base *url.URL
	http *http.Client
}

// Option configures a Client.
type Option func(*Client)

// WithHTTPClient makes the client send its requests through hc.
func WithHTTPClient(hc *http.Client) Option { return func(c *Client) { c.http = hc } }

// WithTimeout bounds each request, on top of the context's deadline.
func WithTimeout(d time.Duration) Option {
	return func(c *Client) {
		hc := *c.http
		hc.Timeout = d
		c.http = &hc
	}
}

// New returns a client of the server at baseURL, such as
// "http://127.0.0.1:8080".
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(strings.TrimRight(baseURL, "/"))
	if err != nil {
		return nil, fmt.Errorf("client: server URL %q: %w", baseURL, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" || u.Host == "" {
		return nil, fmt.Errorf("client: server URL %q: want http://host:port", baseURL)
	}
	c := &Client{base: u, http: &http.Client{Timeout: time.Minute}}
	for _, o := range opts {
		o(c)
	}
	return c, nil
}

// Classify uploads the image read from r (filename is sent as the file's
// name) and returns the topk most probable classes; topk 0 lets the server
// choose (5).
func (c *Client) Classify(ctx context.Context, filename string, r io.Reader,
	topk int) (*Result, error) {
	var body bytes.Buffer
	w := multipart.NewWriter(&body)
	if topk > 0 {
		if err := w.WriteField("topk", strconv.Itoa(topk)); err != nil {
			return nil, fmt.Errorf("client: %w", err)
		}
	}
	fw, err := w.CreateFormFile("img", filename)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	if _, err := io.Copy(fw, r); err != nil {
		return nil, fmt.Errorf("client: reading %s: %w", filename, err)
	}
	if err := w.Close(); err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url("/classify"), &body)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	req.Header.Set("Content-Type", w.FormDataContentType())
	var res Result
	if err := c.do(req, &res); err != nil {
		return nil, fmt.Errorf("client: classifying %s: %w", filename, err)
	}
	return &res, nil
}

// Eval returns the server's evaluation status.
func (c *Client) Eval(ctx context.Context) (*EvalStatus, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, c.url("/eval"), nil)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	var st EvalStatus
	if err := c.do(req, &st); err != nil {
		return nil, fmt.Errorf("client: evaluation status: %w", err)
	}
	return &st, nil
}

func (c *Client) url(path string) string { return c.base.String() + path }

// maxAnswer bounds how much of an answer is read: an embedding of a few
// thousand floats is well under it.
const maxAnswer = 16 << 20

// do sends req and decodes a 2xx JSON answer into out; any other status
// becomes an *APIError with the server's message.
func (c *Client) do(req *http.Request, out any) error {
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxAnswer))
	if err != nil {
		return fmt.Errorf("reading the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return apiError(resp.StatusCode, data)
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("answer is not the expected JSON: %w", err)
	}
	return nil
}

func apiError(status int, body []byte) *APIError {
	var e struct {
		Error string `json:"error"`
	}
	if json.Unmarshal(body, &e) == nil && e.Error != "" {
		return &APIError{StatusCode: status, Message: e.Error}
	}
	msg := strings.TrimSpace(string(body))
	if len(msg) > 200 {
		msg = msg[:200] + "..."
	}
	return &APIError{StatusCode: status, Message: msg}
}
