package serve

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/mocokit/mocokit/dataset"
	"github.com/mocokit/mocokit/inference/inferencetest"
)

// startRun runs the server as the command does (serve.Run, with its
// http.Server timeouts) on a free loopback port until the test ends.
func startRun(t *testing.T, edit func(*Config)) (string, *inferencetest.Fixture) {
	t.Helper()
	lib := inferencetest.Library(t)
	fx := inferencetest.Get(t)
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	cfg := Config{Model: fx.Classifier, ORTLib: lib, Addr: addr, Threads: 1}
	if edit != nil {
		edit(&cfg)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- Run(ctx, cfg) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	for deadline := time.Now().Add(time.Minute); ; {
		resp, err := http.Get("http://" + addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return addr, fx
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("server on %s never became ready: %v", addr, err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// classifyOver sends a whole upload of fx's image i and checks the answer.
func classifyOver(t *testing.T, client *http.Client, addr string,
	fx *inferencetest.Fixture, i int) {
	t.Helper()
	body, ct := multipartBody(t, nil, "img", readFile(t, fx, fx.Expected.Files[i]))
	resp, err := client.Post("http://"+addr+"/classify", ct, body)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got classifyAnswer
	if err := json.NewDecoder(resp.Body).Decode(&got); err != nil {
		t.Fatal(err)
	}
	want := dataset.CIFAR10Classes[fx.Expected.Pred[i]]
	if resp.StatusCode != http.StatusOK || got.Predictions[0].Label != want {
		t.Fatalf("status %d %q, top class %+v, want %s", resp.StatusCode, got.Error,
			got.Predictions, want)
	}
}

// uploadHead is the start of a raw /classify request for body.
func uploadHead(addr string, body []byte, ct string) string {
	return fmt.Sprintf("POST /classify HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"+
		"Content-Length: %d\r\n\r\n", addr, ct, len(body))
}

func TestClientKilledMidUploadLeavesNothingBehind(t *testing.T) {
	addr, fx := startRun(t, nil)
	client := &http.Client{Transport: &http.Transport{}}
	classifyOver(t, client, addr, fx, 0)
	client.CloseIdleConnections()
	time.Sleep(100 * time.Millisecond)
	before := runtime.NumGoroutine()

	body, ct := multipartBody(t, nil, "img", readFile(t, fx, fx.Expected.Files[1]))
	for range 20 {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		io.WriteString(conn, uploadHead(addr, body.Bytes(), ct))
		conn.Write(body.Bytes()[:body.Len()/2])
		conn.Close() // gone with half the image sent
	}
	classifyOver(t, client, addr, fx, 2)
	client.CloseIdleConnections()

	// Each aborted upload's connection goroutine must end; give them time,
	// since the machine is shared and slow.
	var now int
	start := time.Now()
	for deadline := start.Add(30 * time.Second); time.Now().Before(deadline); {
		if now = runtime.NumGoroutine(); now <= before {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	if now > before {
		buf := make([]byte, 1<<20)
		t.Fatalf("%d goroutines after 20 aborted uploads, %d before\n%s", now, before,
			buf[:runtime.Stack(buf, true)])
	}
	t.Logf("back to %d goroutines %v after the last aborted upload", now,
		time.Since(start).Round(time.Millisecond))
	classifyOver(t, client, addr, fx, 3)
}

func TestSlowUploadWithinTheTimeoutIsServed(t *testing.T) {
	addr, fx := startRun(t, nil)
	body, ct := multipartBody(t, nil, "img", readFile(t, fx, fx.Expected.Files[4]))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, uploadHead(addr, body.Bytes(), ct))
	data := body.Bytes()
	chunk := len(data)/15 + 1
	for off := 0; off < len(data); off += chunk { // about 1.5 s in all
		if _, err := conn.Write(data[off:min(off+chunk, len(data))]); err != nil {
			t.Fatal(err)
		}
		time.Sleep(100 * time.Millisecond)
	}
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var got classifyAnswer
	json.NewDecoder(resp.Body).Decode(&got)
	want := dataset.CIFAR10Classes[fx.Expected.Pred[4]]
	if resp.StatusCode != http.StatusOK || got.Predictions[0].Label != want {
		t.Fatalf("status %d %q, want 200 led by %s", resp.StatusCode, got.Error, want)
	}
}

func TestSlowUploadPastTheTimeoutIsCutOff(t *testing.T) {
	const timeout = 2 * time.Second
	addr, fx := startRun(t, func(c *Config) { c.RequestTimeout = timeout })
	body, ct := multipartBody(t, nil, "img", readFile(t, fx, fx.Expected.Files[5]))
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	io.WriteString(conn, uploadHead(addr, body.Bytes(), ct))
	go func() { // a byte every 200 ms: the body would take minutes
		for _, b := range body.Bytes() {
			if _, err := conn.Write([]byte{b}); err != nil {
				return
			}
			time.Sleep(200 * time.Millisecond)
		}
	}()
	start := time.Now()
	conn.SetReadDeadline(time.Now().Add(time.Minute))
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	var ne net.Error
	switch {
	case errors.As(err, &ne) && ne.Timeout():
		t.Fatalf("no answer and no close a minute into a dribbled upload (timeout %v)",
			timeout)
	case err != nil:
		t.Logf("server closed the connection after %v: %v", time.Since(start), err)
	default:
		msg, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusRequestTimeout ||
			!bytes.Contains(msg, []byte(`"error"`)) {
			t.Fatalf("status %d %s, want a JSON 408", resp.StatusCode, msg)
		}
		t.Logf("server answered %d after %v: %s", resp.StatusCode, time.Since(start), msg)
	}
	classifyOver(t, &http.Client{}, addr, fx, 6)
}

// cutOff is a body whose reading http.Server's read timeout ends after
// the given start, as net/http reports it.
func cutOff(start string) io.Reader {
	return io.MultiReader(strings.NewReader(start), iotest.ErrReader(&net.OpError{
		Op: "read", Net: "tcp", Err: os.ErrDeadlineExceeded}))
}

func TestUploadCutOffByTheReadTimeoutAnswers408(t *testing.T) {
	s, fx := newServer(t, classifier, nil)
	whole, ct := multipartBody(t, nil, "img", readFile(t, fx, fx.Expected.Files[0]))
	b := whole.String()
	boundary := strings.TrimPrefix(ct, "multipart/form-data; boundary=")
	for _, c := range []struct {
		name, path, ct, body string
	}{
		{"multipart boundary", "/classify", ct, b[:len(boundary)/2]},
		// mime/multipart then says "missing colon", not what cut it short.
		{"multipart part header", "/classify", ct, b[:strings.Index(b, "sition")]},
		{"multipart image", "/classify", ct, b[:len(b)/2]},
		{"v2 JSON", "/v2/models/classifier/infer", "application/json",
			`{"inputs":[{"name":"input","data":[1,2`},
		{"v2 after the JSON", "/v2/models/classifier/infer", "application/json",
			`{"inputs":[]} `},
	} {
		req := httptest.NewRequest(http.MethodPost, c.path, cutOff(c.body))
		req.Header.Set("Content-Type", c.ct)
		rec := httptest.NewRecorder()
		s.Handler().ServeHTTP(rec, req)
		var got struct{ Error string }
		json.Unmarshal(rec.Body.Bytes(), &got)
		if rec.Code != http.StatusRequestTimeout ||
			!strings.Contains(got.Error, "did not arrive within the request timeout") {
			t.Errorf("%s cut off: %d %q, want 408", c.name, rec.Code, got.Error)
		}
	}
}
