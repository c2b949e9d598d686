package main

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"mime/multipart"
	"net"
	"net/http"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mocokit/mocokit/inference/inferencetest"
)

// pendingUpload is a /classify request whose headers are sent and whose
// body is held back, so that its handler is running when the server is
// told to stop.
type pendingUpload struct {
	conn net.Conn
	r    *bufio.Reader
	body []byte
}

func startUpload(t *testing.T, addr string, body []byte, ct string) *pendingUpload {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(conn, "POST /classify HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"+
		"Content-Length: %d\r\nExpect: 100-continue\r\n\r\n", addr, ct, len(body))
	r := bufio.NewReader(conn)
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	// net/http sends 100 Continue when the handler starts reading the body.
	line, err := r.ReadString('\n')
	if err != nil || !strings.Contains(line, "100 Continue") {
		t.Fatalf("want 100 Continue, got %q %v", line, err)
	}
	r.ReadString('\n') // the blank line after it
	return &pendingUpload{conn: conn, r: r, body: body}
}

func (p *pendingUpload) finish(t *testing.T) (*http.Response, string) {
	t.Helper()
	defer p.conn.Close()
	if _, err := p.conn.Write(p.body); err != nil {
		t.Fatalf("sending the rest of the upload: %v", err)
	}
	resp, err := http.ReadResponse(p.r, nil)
	if err != nil {
		t.Fatalf("reading the answer: %v", err)
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	b.ReadFrom(resp.Body)
	return resp, b.String()
}

func buildBinary(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mocokit")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func waitReady(t *testing.T, addr string, exited <-chan error) {
	t.Helper()
	for deadline := time.Now().Add(2 * time.Minute); time.Now().Before(deadline); {
		if resp, err := http.Get("http://" + addr + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
		select {
		case err := <-exited:
			t.Fatalf("server exited early: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	t.Fatal("server never became ready")
}

func TestSIGTERMFinishesRequestsInFlightAndExitsZero(t *testing.T) {
	lib := inferencetest.Library(t)
	bin := buildBinary(t)
	addr := freeAddr(t)
	var stderr bytes.Buffer
	cmd := exec.Command(bin, "serve", "--addr", addr, "--device", "cpu", "--threads", "1",
		"--ort-lib", lib)
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	defer cmd.Process.Kill()
	waitReady(t, addr, exited)

	img := image.NewRGBA(image.Rect(0, 0, 32, 32))
	for i := range 32 {
		img.Set(i, i, color.RGBA{200, 30, 30, 255})
	}
	var pngData, body bytes.Buffer
	png.Encode(&pngData, img)
	w := multipart.NewWriter(&body)
	fw, _ := w.CreateFormFile("img", "x.png")
	fw.Write(pngData.Bytes())
	w.Close()
	var inFlight []*pendingUpload
	for range 3 {
		inFlight = append(inFlight, startUpload(t, addr, body.Bytes(), w.FormDataContentType()))
	}

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	refused := false
	for deadline := time.Now().Add(time.Minute); time.Now().Before(deadline); {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err != nil {
			refused = true
			break
		}
		conn.Close()
		time.Sleep(20 * time.Millisecond)
	}
	if !refused {
		t.Fatal("still accepting connections after SIGTERM")
	}
	for i, p := range inFlight {
		resp, text := p.finish(t)
		if resp.StatusCode != http.StatusOK || !strings.Contains(text, `"predictions":[`) {
			t.Errorf("request %d in flight: %d %s", i, resp.StatusCode, text)
		}
	}
	select {
	case err := <-exited:
		if err != nil {
			t.Fatalf("exit: %v\n%s", err, stderr.String())
		}
	case <-time.After(time.Minute):
		t.Fatal("server did not exit after SIGTERM")
	}
	if !strings.Contains(stderr.String(), "stopped") {
		t.Errorf("no stop logged:\n%s", stderr.String())
	}
}
