package main

import (
	"archive/tar"
	"bytes"
	"context"
	"errors"
	"fmt"
	"hash/crc32"
	"image"
	"image/png"
	"io"
	"math/rand/v2"
	"mime/multipart"
	"net"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mocokit/mocokit/assets"
)

// kind is one sort of request in the mix, with the statuses its answer may
// have; an abandoned upload expects no answer at all.
type kind struct {
	name   string
	weight int
	expect []int
	body   func(r *rand.Rand) ([]byte, string) // multipart body and content type
}

// mix is the requests the load test sends, drawn by weight.
type mix struct {
	kinds []kind
	total int
	addr  string
}

func newMix(images [][]byte, maxBody int64, addr string) *mix {
	image := func(r *rand.Rand) []byte { return images[r.IntN(len(images))] }
	form := func(field string, data []byte) ([]byte, string) { return multipartForm(field, data) }
	huge := hugePNG()
	oversized := bytes.Repeat([]byte{0xff, 0xd8, 0x00, 0x11}, int(maxBody/4)+16<<10)
	m := &mix{addr: addr, kinds: []kind{
		{"valid image", 80, []int{200}, func(r *rand.Rand) ([]byte, string) {
			return form("img", image(r))
		}},
		{"truncated jpeg", 4, []int{400}, func(r *rand.Rand) ([]byte, string) {
			img := image(r)
			return form("img", img[:len(img)/2])
		}},
		{"not an image", 3, []int{415}, func(*rand.Rand) ([]byte, string) {
			return form("img", []byte("id,label\n1,cat\n2,dog\n"))
		}},
		{"unsupported format (heic)", 2, []int{415}, func(*rand.Rand) ([]byte, string) {
			return form("img", []byte("\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic"))
		}},
		{"declares 10^10 pixels", 3, []int{413}, func(*rand.Rand) ([]byte, string) {
			return form("img", huge)
		}},
		{"body over --max-body", 3, []int{413}, func(*rand.Rand) ([]byte, string) {
			return form("img", oversized)
		}},
		{"missing img field", 2, []int{400}, func(r *rand.Rand) ([]byte, string) {
			return form("picture", image(r))
		}},
		{"abandoned mid-upload", 3, nil, func(r *rand.Rand) ([]byte, string) {
			return form("img", image(r))
		}},
	}}
	for _, k := range m.kinds {
		m.total += k.weight
	}
	return m
}

func (m *mix) pick(r *rand.Rand) int {
	n := r.IntN(m.total)
	for i, k := range m.kinds {
		if n < k.weight {
			return i
		}
		n -= k.weight
	}
	return len(m.kinds) - 1
}

func multipartForm(field string, data []byte) ([]byte, string) {
	var b bytes.Buffer
	w := multipart.NewWriter(&b)
	fw, _ := w.CreateFormFile(field, "upload")
	fw.Write(data)
	w.Close()
	return b.Bytes(), w.FormDataContentType()
}

// hugePNG is a PNG signature and header declaring 100000x100000 pixels.
func hugePNG() []byte {
	var b bytes.Buffer
	png.Encode(&b, image.NewGray(image.Rect(0, 0, 1, 1)))
	h := b.Bytes()[:33]
	for _, off := range []int{16, 20} {
		h[off], h[off+1], h[off+2], h[off+3] = 0, 0x01, 0x86, 0xa0
	}
	crc := crc32.ChecksumIEEE(h[12:29])
	h[29], h[30], h[31], h[32] = byte(crc>>24), byte(crc>>16), byte(crc>>8), byte(crc)
	return h
}

// testImages reads up to n JPEGs of the embedded CIFAR-10 test set.
func testImages(n int) ([][]byte, error) {
	tr := tar.NewReader(bytes.NewReader(assets.TestSet))
	var out [][]byte
	for len(out) < n {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("embedded test set: %w", err)
		}
		if !strings.HasSuffix(h.Name, ".jpg") {
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return nil, fmt.Errorf("embedded test set: %w", err)
		}
		out = append(out, data)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("embedded test set holds no JPEG")
	}
	return out, nil
}

// drive sends requests from o.concurrency workers until ctx ends or
// o.maxRequests are sent, and merges what the workers saw.
func drive(ctx context.Context, m *mix, o options, srv *server) *stats {
	client := &http.Client{Timeout: 2 * time.Minute, Transport: &http.Transport{
		MaxIdleConnsPerHost: o.concurrency}}
	var sent atomic.Int64
	all := make([]*stats, o.concurrency)
	var wg sync.WaitGroup
	for w := range o.concurrency {
		all[w] = newStats(m)
		r := rand.New(rand.NewPCG(o.seed, uint64(w)))
		wg.Go(func() {
			for ctx.Err() == nil && sent.Add(1) <= int64(o.maxRequests) {
				i := m.pick(r)
				body, ct := m.kinds[i].body(r)
				all[w].record(i, m.send(client, m.kinds[i], body, ct))
			}
		})
	}
	wg.Wait()
	return merge(all)
}

// outcome is what one request came to.
type outcome struct {
	status  int    // 0 when there was no answer
	failure string // why there was no answer
	latency time.Duration
}

func (m *mix) send(client *http.Client, k kind, body []byte, ct string) outcome {
	start := time.Now()
	if k.expect == nil {
		return m.abandon(body, ct)
	}
	resp, err := client.Post("http://"+m.addr+"/classify", ct, bytes.NewReader(body))
	if err != nil {
		return outcome{failure: classifyFailure(err), latency: time.Since(start)}
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return outcome{status: resp.StatusCode, latency: time.Since(start)}
}

// abandon sends the head and half the body of an upload, then hangs up.
func (m *mix) abandon(body []byte, ct string) outcome {
	conn, err := net.Dial("tcp", m.addr)
	if err != nil {
		return outcome{failure: classifyFailure(err)}
	}
	defer conn.Close()
	fmt.Fprintf(conn, "POST /classify HTTP/1.1\r\nHost: %s\r\nContent-Type: %s\r\n"+
		"Content-Length: %d\r\n\r\n", m.addr, ct, len(body))
	conn.Write(body[:len(body)/2])
	return outcome{failure: "hung up on purpose"}
}

func classifyFailure(err error) string {
	var ne net.Error
	switch {
	case errors.Is(err, syscall.ECONNRESET):
		return "connection reset"
	case errors.Is(err, syscall.EPIPE):
		return "broken pipe"
	case errors.Is(err, syscall.ECONNREFUSED):
		return "connection refused"
	case errors.As(err, &ne) && ne.Timeout():
		return "timeout"
	}
	return "transport error: " + err.Error()
}
