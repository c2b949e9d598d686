package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"
	"strings"

	"github.com/labstack/echo/v4"

	"github.com/mocokit/mocokit/inference"
	"github.com/mocokit/mocokit/models"
)

// imageField is the multipart field holding an upload; a request may hold
// several.
const imageField = "img"

// Prediction is one class of a /classify answer.
type Prediction struct {
	Index       int     `json:"index"`
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// ClassifyResponse is the body of a /classify answer for one image:
// Predictions for a classifier, most probable first, or Embedding for a
// model without classes.
type ClassifyResponse struct {
	Model       string       `json:"model"`
	Predictions []Prediction `json:"predictions,omitempty"`
	Embedding   []float32    `json:"embedding,omitempty"`
}

// BatchResponse is the body of a /classify answer for several images, in
// the order of the upload.
type BatchResponse struct {
	Model   string       `json:"model"`
	Results []FileResult `json:"results"`
}

// FileResult is one image of a BatchResponse; File is its upload's name.
type FileResult struct {
	File        string       `json:"file"`
	Predictions []Prediction `json:"predictions,omitempty"`
	Embedding   []float32    `json:"embedding,omitempty"`
}

// upload is one file of a multipart request.
type upload struct {
	file string
	data []byte
}

func (s *Server) classify(c echo.Context) error {
	m, err := s.lookup(c.QueryParam("model"))
	if err != nil {
		return err
	}
	arrived := m.batcher.announce()
	defer arrived()
	uploads, topk, err := s.readUploads(c.Request())
	if err != nil {
		return err
	}
	meta := m.session.Metadata()
	k := 0
	if len(meta.Classes) > 0 {
		if k, err = parseTopK(topk, len(meta.Classes)); err != nil {
			return err
		}
	}
	xs, err := s.preprocessAll(c.Request().Context(), uploads, meta)
	if err != nil {
		return err
	}
	arrived()
	outs, err := m.infer(c.Request().Context(), xs)
	if err != nil {
		return err
	}
	results := make([]FileResult, len(outs))
	for i, out := range outs {
		results[i] = answer(uploads[i].file, out, meta.Classes, k)
	}
	if len(results) == 1 {
		return c.JSON(http.StatusOK, ClassifyResponse{Model: m.name,
			Predictions: results[0].Predictions, Embedding: results[0].Embedding})
	}
	return c.JSON(http.StatusOK, BatchResponse{Model: m.name, Results: results})
}

// answer is the top k classes of a classifier's logits, or the embedding of
// a model without classes.
func answer(file string, out []float32, classes []string, k int) FileResult {
	r := FileResult{File: file}
	if len(classes) == 0 {
		r.Embedding = out
		return r
	}
	probs := inference.Softmax(out)
	for _, j := range inference.TopK(probs, k) {
		r.Predictions = append(r.Predictions,
			Prediction{Index: j, Label: classes[j], Probability: probs[j]})
	}
	return r
}

// infer runs preprocessed images through the model's batcher and checks
// that the outputs can be answered.
func (m *model) infer(ctx context.Context, xs [][]float32) ([][]float32, error) {
	outs, err := m.batcher.submit(ctx, xs)
	if err != nil {
		return nil, err
	}
	return outs, checkFinite(m.name, outs)
}

// checkFinite refuses a model's outputs holding NaN or an infinity, which
// JSON cannot carry: an input within range can still overflow inside the
// network. The softmax of finite logits is finite.
func checkFinite(model string, outs [][]float32) error {
	for _, out := range outs {
		for _, v := range out {
			if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
				return errorf(http.StatusInternalServerError, "model %s produced "+
					"non-finite output (NaN or infinity) for this input", quote(model))
			}
		}
	}
	return nil
}

// preprocessAll decodes and preprocesses a request's images in turn,
// stopping when the request's time is up: decoding cannot be interrupted,
// but a request of many images can stop between two.
func (s *Server) preprocessAll(ctx context.Context, uploads []upload,
	meta models.Metadata) ([][]float32, error) {
	xs := make([][]float32, len(uploads))
	for i, u := range uploads {
		if ctx.Err() != nil {
			return nil, contextError(ctx, s.cfg.RequestTimeout)
		}
		var err error
		if xs[i], err = s.preprocess(ctx, u, meta); err != nil {
			return nil, inUpload(err, i, u, len(uploads))
		}
	}
	return xs, nil
}

// preprocess decodes an upload and turns it into the model's input. The
// pixels it declares are reserved from the server's decoding budget until
// the input is made, since the decoder's buffers and the decoded image
// live until then; a request that cannot get them within its time is
// answered 503.
func (s *Server) preprocess(ctx context.Context, u upload,
	meta models.Metadata) ([]float32, error) {
	cfg, format, err := checkHeader(u.data, s.cfg.MaxPixels)
	if err != nil {
		return nil, err
	}
	pixels := int64(cfg.Width) * int64(cfg.Height)
	if err := s.decoding.Acquire(ctx, pixels); err != nil {
		if errors.Is(err, context.DeadlineExceeded) {
			return nil, retryLater(http.StatusServiceUnavailable, "too many large images "+
				"are being decoded: this one could not start within the request "+
				"timeout of %v", s.cfg.RequestTimeout)
		}
		return nil, contextError(ctx, s.cfg.RequestTimeout)
	}
	defer s.decoding.Release(pixels)
	img, err := decodePixels(u.data, format)
	if err != nil {
		return nil, err
	}
	x, err := inference.Preprocess(img, meta.Preprocess)
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "image cannot be preprocessed: %v", err)
	}
	return x, nil
}

// inUpload names the file an error is about when a request holds several.
func inUpload(err error, i int, u upload, count int) error {
	var ae *apiError
	if count == 1 || !errors.As(err, &ae) {
		return err
	}
	return &apiError{status: ae.status, retryAfter: ae.retryAfter,
		message: fmt.Sprintf("image %d of %d (%s): %s", i+1, count, quote(u.file),
			ae.message)}
}

// readUploads streams the multipart body, keeping the image fields and
// topk and skipping anything else, so no temporary files are written.
func (s *Server) readUploads(r *http.Request) (uploads []upload, topk string, err error) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" {
		return nil, "", errorf(http.StatusBadRequest, "want a multipart/form-data body "+
			"with the image in field %q, got content type %s", imageField, quote(mediaType))
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", errorf(http.StatusBadRequest, "malformed multipart body: %v", err)
	}
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, "", bodyError(r, err, s.cfg.MaxBodyBytes)
		}
		switch part.FormName() {
		case imageField:
			if len(uploads) == s.cfg.MaxQueue {
				return nil, "", errorf(http.StatusRequestEntityTooLarge, "more than %d "+
					"images in one request; send them in smaller requests", s.cfg.MaxQueue)
			}
			u := upload{file: part.FileName()}
			u.data, err = io.ReadAll(part)
			uploads = append(uploads, u)
		case "topk":
			topk, err = readTopK(part)
		default:
			_, err = io.Copy(io.Discard, part)
		}
		if err != nil {
			return nil, "", bodyError(r, err, s.cfg.MaxBodyBytes)
		}
	}
	return uploads, topk, checkUploads(uploads)
}

func checkUploads(uploads []upload) error {
	if len(uploads) == 0 {
		return errorf(http.StatusBadRequest, "missing form field %q with the image",
			imageField)
	}
	for i, u := range uploads {
		if len(u.data) == 0 {
			return inUpload(errorf(http.StatusBadRequest, "empty upload in field %q",
				imageField), i, u, len(uploads))
		}
	}
	return nil
}

// maxTopKBytes is the longest topk field read: a number and some space.
const maxTopKBytes = 64

// readTopK reads the whole topk field, refusing one too long to be a
// number rather than cutting it.
func readTopK(part io.Reader) (string, error) {
	b, err := io.ReadAll(io.LimitReader(part, maxTopKBytes+1))
	if err != nil {
		return "", err
	}
	if len(b) > maxTopKBytes {
		return "", errorf(http.StatusBadRequest, "topk field is longer than %d bytes; "+
			"want an integer", maxTopKBytes)
	}
	return string(b), nil
}

// bodyError reports a failed read of the multipart body: too large, too
// slow (the server's read timeout), or malformed.
func bodyError(r *http.Request, err error, limit int64) error {
	var ae *apiError
	if errors.As(err, &ae) {
		return err
	}
	if failed := readFailure(r, err, limit); failed != nil {
		return failed
	}
	return errorf(http.StatusBadRequest, "malformed multipart body: %v", err)
}

func parseTopK(s string, classes int) (int, error) {
	s = strings.TrimSpace(s)
	if s == "" {
		return min(DefaultTopK, classes), nil
	}
	k, err := strconv.Atoi(s)
	if err != nil || k < 1 || k > classes {
		return 0, errorf(http.StatusBadRequest, "topk %s: want an integer from 1 to %d",
			quote(s), classes)
	}
	return k, nil
}
