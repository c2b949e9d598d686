package serve

import (
	"bytes"
	"embed"
	"io/fs"
	"mime"
	"net/http"
	"path"

	"github.com/labstack/echo/v4"
)

// web holds the page GET / serves: HTML, a stylesheet and a script, with no
// outside URLs, so that it works on a machine without internet access.
//
//go:embed web
var web embed.FS

// pagePolicy lets the page load only what the server itself serves, plus
// the object URL of the preview of the image the user picked.
const pagePolicy = "default-src 'self'; img-src 'self' blob:; object-src 'none'; " +
	"base-uri 'none'; frame-ancestors 'none'"

// registerPage adds the web page: GET / and its files under /web/, and
// GET /eval/confusion.png, the picture of the evaluation's confusion matrix.
func (s *Server) registerPage(e *echo.Echo) {
	e.GET("/", func(c echo.Context) error {
		page, err := fs.ReadFile(web, "web/index.html")
		if err != nil {
			return err
		}
		c.Response().Header().Set("Content-Security-Policy", pagePolicy)
		return c.HTMLBlob(http.StatusOK, page)
	})
	e.GET("/web/*", webFile)
	e.GET("/eval/confusion.png", s.confusionPNG)
}

// webFile serves a file of the page: /web/app.js is web/app.js in the
// tree. /web/ itself is the page, whose relative links work only at /, so
// it redirects there; anything that is no file is a JSON 404.
func webFile(c echo.Context) error {
	name := c.Param("*")
	if name == "" || name == "index.html" {
		return c.Redirect(http.StatusMovedPermanently, "/")
	}
	data, err := fs.ReadFile(web, "web/"+name)
	if !fs.ValidPath(name) || err != nil {
		return errorf(http.StatusNotFound, "no file %s in the page", quote(name))
	}
	c.Response().Header().Set("Content-Security-Policy", pagePolicy)
	return c.Blob(http.StatusOK, contentType(name), data)
}

// contentType is the media type of a file of the page, by its extension.
func contentType(name string) string {
	if t := mime.TypeByExtension(path.Ext(name)); t != "" {
		return t
	}
	return "application/octet-stream"
}

func (s *Server) confusionPNG(c echo.Context) error {
	st := s.eval.snapshot()
	if st.Status != evalDone {
		return errorf(http.StatusNotFound, "no confusion matrix: the evaluation is %s; "+
			"start the server with --eval-testset and wait until GET /eval says done",
			st.Status)
	}
	var b bytes.Buffer
	if err := encodeConfusion(&b, st.PerClass, st.PredictedClasses, st.Confusion); err != nil {
		return err
	}
	c.Response().Header().Set("Cache-Control", "no-cache")
	return c.Blob(http.StatusOK, "image/png", b.Bytes())
}
