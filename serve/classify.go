package serve

import (
	"bytes"
	"errors"
	"fmt"
	"image"
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"

	// The image formats /classify accepts.
	_ "image/gif"
	_ "image/jpeg"
	_ "image/png"

	_ "golang.org/x/image/bmp"
	_ "golang.org/x/image/tiff"
	_ "golang.org/x/image/webp"

	"github.com/labstack/echo/v4"

	"github.com/mocokit/mocokit/inference"
)

// acceptedFormats are the formats registered above, for error messages.
const acceptedFormats = "bmp, gif, jpeg, png, tiff, webp"

// imageField is the multipart field holding the upload.
const imageField = "img"

// Prediction is one class of a /classify answer.
type Prediction struct {
	Index       int     `json:"index"`
	Label       string  `json:"label"`
	Probability float64 `json:"probability"`
}

// ClassifyResponse is the body of a /classify answer: Predictions for a
// classifier, most probable first, or Embedding for a model without classes.
type ClassifyResponse struct {
	Model       string       `json:"model"`
	Predictions []Prediction `json:"predictions,omitempty"`
	Embedding   []float32    `json:"embedding,omitempty"`
}

func (s *Server) classify(c echo.Context) error {
	data, topk, err := s.readUpload(c.Request())
	if err != nil {
		return err
	}
	img, err := s.decode(data)
	if err != nil {
		return err
	}
	meta := s.session.Metadata()
	x, err := inference.Preprocess(img, meta.Preprocess)
	if err != nil {
		return errorf(http.StatusBadRequest, "image cannot be preprocessed: %v", err)
	}
	out, err := s.session.Run(x, 1)
	if err != nil {
		return fmt.Errorf("serve: %w", err)
	}
	resp := ClassifyResponse{Model: s.name}
	if len(meta.Classes) == 0 {
		resp.Embedding = out
		return c.JSON(http.StatusOK, resp)
	}
	k, err := parseTopK(topk, len(meta.Classes))
	if err != nil {
		return err
	}
	probs := inference.Softmax(out)
	for _, i := range inference.TopK(probs, k) {
		resp.Predictions = append(resp.Predictions,
			Prediction{Index: i, Label: meta.Classes[i], Probability: probs[i]})
	}
	return c.JSON(http.StatusOK, resp)
}

// readUpload streams the multipart body, keeping the image field and topk
// and skipping anything else, so no temporary files are written.
func (s *Server) readUpload(r *http.Request) (data []byte, topk string, err error) {
	mediaType, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mediaType != "multipart/form-data" {
		return nil, "", errorf(http.StatusBadRequest, "want a multipart/form-data body "+
			"with the image in field %q, got content type %q", imageField, mediaType)
	}
	mr, err := r.MultipartReader()
	if err != nil {
		return nil, "", errorf(http.StatusBadRequest, "malformed multipart body: %v", err)
	}
	found := false
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
			found = true
			data, err = io.ReadAll(part)
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
	if !found {
		return nil, "", errorf(http.StatusBadRequest, "missing form field %q with the image",
			imageField)
	}
	if len(data) == 0 {
		return nil, "", errorf(http.StatusBadRequest, "empty upload in field %q", imageField)
	}
	return data, topk, nil
}

func bodyError(err error, limit int64) error {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		return tooLarge(limit)
	}
	return errorf(http.StatusBadRequest, "malformed multipart body: %v", err)
}

// decode checks the declared size before decoding, so that a small file
// declaring a huge image is refused without allocating its pixels.
func (s *Server) decode(data []byte) (image.Image, error) {
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if errors.Is(err, image.ErrFormat) {
		kind := http.DetectContentType(data)
		if strings.HasPrefix(kind, "image/") {
			return nil, errorf(http.StatusUnsupportedMediaType,
				"unsupported image format %s; accepted formats: %s", kind, acceptedFormats)
		}
		return nil, errorf(http.StatusUnsupportedMediaType,
			"upload is not an image (looks like %s); accepted formats: %s", kind,
			acceptedFormats)
	}
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "corrupt image header: %v", err)
	}
	if cfg.Width < 1 || cfg.Height < 1 {
		return nil, errorf(http.StatusBadRequest, "%s image has no pixels (%dx%d)", format,
			cfg.Width, cfg.Height)
	}
	if pixels := int64(cfg.Width) * int64(cfg.Height); pixels > int64(s.cfg.MaxPixels) {
		return nil, errorf(http.StatusRequestEntityTooLarge, "%s image is %dx%d, %d "+
			"pixels, more than the limit of %d", format, cfg.Width, cfg.Height, pixels,
			s.cfg.MaxPixels)
	}
	img, _, err := image.Decode(bytes.NewReader(data))
	if err != nil {
		return nil, errorf(http.StatusBadRequest, "truncated or corrupt %s image: %v",
			format, err)
	}
	return img, nil
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
