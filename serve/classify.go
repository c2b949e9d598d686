package serve

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
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
	xs := make([][]float32, len(uploads))
	for i, u := range uploads {
		if xs[i], err = s.preprocess(u, meta); err != nil {
			return inUpload(err, i, u, len(uploads))
		}
	}
	arrived()
	outs, err := m.batcher.submit(c.Request().Context(), xs)
	if err != nil {
		return err
	}
	results := make([]FileResult, len(outs))
	for i, out := range outs {
		results[i] = FileResult{File: uploads[i].file}
		if len(meta.Classes) == 0 {
			results[i].Embedding = out
			continue
		}
		probs := inference.Softmax(out)
		for _, j := range inference.TopK(probs, k) {
			results[i].Predictions = append(results[i].Predictions,
				Prediction{Index: j, Label: meta.Classes[j], Probability: probs[j]})
		}
	}
	if len(results) == 1 {
		return c.JSON(http.StatusOK, ClassifyResponse{Model: m.name,
			Predictions: results[0].Predictions, Embedding: results[0].Embedding})
	}
	return c.JSON(http.StatusOK, BatchResponse{Model: m.name, Results: results})
}

func (s *Server) preprocess(u upload, meta models.Metadata) ([]float32, error) {
	img, err := decodeUpload(u.data, s.cfg.MaxPixels)
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
		message: fmt.Sprintf("image %d of %d (%q): %s", i+1, count, u.file, ae.message)}
}

// readUploads streams the multipart body, keeping the image fields and
// topk and skipping anything else, so no temporary files are written.
func (s *Server) readUploads(r *http.Request) (uploads []upload, topk string, err error) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" {
		return nil, "", errorf(http.StatusBadRequest, "want a multipart/form-data body "+
			"with the image in field %q, got content type %q", imageField, mediaType)
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
			return nil, "", bodyError(err, s.cfg.MaxBodyBytes)
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
			var b []byte
			b, err = io.ReadAll(io.LimitReader(part, 64))
			topk = string(b)
		default:
			_, err = io.Copy(io.Discard, part)
		}
		if err != nil {
			return nil, "", bodyError(err, s.cfg.MaxBodyBytes)
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

// bodyError reports a failed read of the body: too large, too slow (the
// server's read timeout), or malformed.
func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	if errors.Is(err, os.ErrDeadlineExceeded) {
		return errorf(http.StatusRequestTimeout, "the upload did not arrive within the "+
			"request timeout; send it faster or in smaller requests")
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
		return 0, errorf(http.StatusBadRequest, "topk %q: want an integer from 1 to %d",
			s, classes)
	}
	return k, nil
}
