package serve

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v4"
)

// apiError is an error answered to the client as {"error": message}.
type apiError struct {
	status     int
	message    string
	retryAfter int // seconds, sent as Retry-After when positive
}

func (e *apiError) Error() string { return e.message }

func errorf(status int, format string, args ...any) error {
	return &apiError{status: status, message: fmt.Sprintf(format, args...)}
}

// maxQuoted is how much of a value the client sent an error message
// quotes: a message need not echo a megabyte-long number.
const maxQuoted = 40

// quote quotes a value the client sent, for an error message.
func quote(s string) string { return strconv.Quote(clip(s, maxQuoted)) }

// clip cuts s to at most max bytes, at a character boundary, marking the
// cut with "...".
func clip(s string, max int) string {
	if len(s) <= max {
		return s
	}
	cut := max
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

// retryLater is an error for a request that may succeed if sent again a
// little later: a full queue, a timeout, a server loading or stopping.
func retryLater(status int, format string, args ...any) error {
	return &apiError{status: status, message: fmt.Sprintf(format, args...) +
		"; retry later", retryAfter: 1}
}

// jsonErrorHandler answers every error, echo's own included (unknown route,
// wrong method, a recovered panic), as JSON.
func jsonErrorHandler(err error, c echo.Context) {
	if c.Response().Committed {
		return
	}
	status, msg := http.StatusInternalServerError, "internal error"
	var ae *apiError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ae):
		status, msg = ae.status, ae.message
		if ae.retryAfter > 0 {
			c.Response().Header().Set("Retry-After", fmt.Sprint(ae.retryAfter))
		}
	case errors.As(err, &he):
		status, msg = he.Code, fmt.Sprint(he.Message)
	}
	if status >= 500 && ae == nil {
		slog.Error("request failed", "method", c.Request().Method,
			"path", c.Request().URL.Path, "err", err)
	}
	if err := c.JSON(status, map[string]string{"error": msg}); err != nil {
		slog.Debug("writing error response", "err", err)
	}
}

// logPanic logs a recovered panic with its stack through slog (echo would
// print it with its own logger) and answers a plain 500.
func logPanic(c echo.Context, err error, stack []byte) error {
	slog.Error("panic while serving", "method", c.Request().Method,
		"path", c.Request().URL.Path, "err", err, "stack", string(stack))
	return errorf(http.StatusInternalServerError, "internal error")
}

// limitBody caps request bodies. http.MaxBytesReader (rather than echo's
// BodyLimit) also makes net/http close the connection, so a client cannot
// keep streaming an oversized body into it. The body also remembers how
// its reading failed, for readFailure.
func (s *Server) limitBody(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		r := c.Request()
		if r.ContentLength > s.cfg.MaxBodyBytes {
			return tooLarge(s.cfg.MaxBodyBytes)
		}
		r.Body = &bodyReader{ReadCloser: http.MaxBytesReader(c.Response(), r.Body,
			s.cfg.MaxBodyBytes)}
		return next(c)
	}
}

// bodyReader is a request body that remembers the first error a read gave:
// a parser may report another one, as mime/multipart says "missing colon"
// when the read deadline cuts a part's header short.
type bodyReader struct {
	io.ReadCloser
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && b.err == nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// readFailure is the answer to a request whose body could not be read to
// its end, err being what the parser said: 413 when it is over limit, 408
// when http.Server's read timeout cut it off; nil for any other failure.
func readFailure(r *http.Request, err error, limit int64) error {
	if b, ok := r.Body.(*bodyReader); ok && b.err != nil {
		err = b.err
	}
	var mbe *http.MaxBytesError
	var ne net.Error
	switch {
	case errors.As(err, &mbe):
		return tooLarge(limit)
	case errors.Is(err, os.ErrDeadlineExceeded), errors.As(err, &ne) && ne.Timeout():
		return errorf(http.StatusRequestTimeout, "the upload did not arrive within the "+
			"request timeout; send it faster or in smaller requests")
	}
	return nil
}

// limitTime gives every request the request timeout: a request still
// waiting for its batch then is answered 503. Reading a slow upload is
// bounded by http.Server's ReadTimeout instead, which Run sets to the same.
func (s *Server) limitTime(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		ctx, cancel := context.WithTimeout(c.Request().Context(), s.cfg.RequestTimeout)
		defer cancel()
		c.SetRequest(c.Request().WithContext(ctx))
		return next(c)
	}
}

func tooLarge(limit int64) error {
	return errorf(http.StatusRequestEntityTooLarge,
		"request body larger than the limit of %d bytes", limit)
}

// debugLog logs each request at debug level only: a line per request would
// drown the events an operator acts on.
func debugLog(next echo.HandlerFunc) echo.HandlerFunc {
	return func(c echo.Context) error {
		if !slog.Default().Enabled(c.Request().Context(), slog.LevelDebug) {
			return next(c)
		}
		start := time.Now()
		err := next(c)
		slog.Debug("request", "method", c.Request().Method, "path", c.Request().URL.Path,
			"status", c.Response().Status, "err", err, "duration", time.Since(start))
		return err
	}
}
