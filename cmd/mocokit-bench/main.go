// Command mocokit-bench measures the server against onnxruntime called
// in-process and against PyTorch eager, on the model and images that
// scripts/bench_serve.py writes, and prints a table: images/s and p50/p99
// latency at concurrency 1, 8 and 64, with the ratios. Run it through
// scripts/bench_serve.sh.
package main

import (
	"bytes"
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/mocokit/mocokit/inference"
	"github.com/mocokit/mocokit/serve"
)

// concurrencies are the columns of the table.
var concurrencies = []int{1, 8, 64}

// cell is one measurement.
type cell struct {
	ImagesPerS float64 `json:"images_per_s"`
	P50ms      float64 `json:"p50_ms"`
	P99ms      float64 `json:"p99_ms"`
}

func main() {
	dir := flag.String("dir", "", "folder written by scripts/bench_serve.py")
	seconds := flag.Float64("seconds", 5, "seconds per measurement")
	flag.Parse()
	slog.SetDefault(slog.New(slog.NewTextHandler(os.Stderr,
		&slog.HandlerOptions{Level: slog.LevelWarn})))
	if err := run(*dir, time.Duration(*seconds*float64(time.Second))); err != nil {
		fmt.Fprintln(os.Stderr, "mocokit-bench:", err)
		os.Exit(1)
	}
}

func run(dir string, d time.Duration) error {
	files, _ := filepath.Glob(filepath.Join(dir, "images", "*.png"))
	if len(files) == 0 {
		return fmt.Errorf("no images in %s/images", dir)
	}
	var torch map[string]cell
	data, err := os.ReadFile(filepath.Join(dir, "torch.json"))
	if err != nil {
		return err
	}
	if err := json.Unmarshal(data, &torch); err != nil {
		return fmt.Errorf("torch.json: %w", err)
	}
	s, err := serve.New(serve.Config{Model: filepath.Join(dir, "model.onnx"), Device: "cpu"})
	if err != nil {
		return err
	}
	defer s.Close()
	pngs, xs, err := loadImages(s.Session(), files)
	if err != nil {
		return err
	}
	fmt.Printf("ResNet-18 32x32, %d images, %d CPU threads, max batch %d, %v per cell\n\n",
		len(files), serveThreads,
		serve.DefaultMaxBatch, d)
	fmt.Printf("%-5s | %-28s | %-28s | %-28s | %-6s %-6s\n", "conc",
		"(a) onnxruntime in-process", "(b) server over loopback", "(c) PyTorch eager",
		"b/a", "a/c")
	for _, c := range concurrencies {
		a, err := inProcess(s.Session(), xs, c, d)
		if err != nil {
			return err
		}
		b, err := overLoopback(s, pngs, c, d)
		if err != nil {
			return err
		}
		t := torch[fmt.Sprint(c)]
		fmt.Printf("%-5d | %s | %s | %s | %-6.2f %-6.2f\n", c, a, b, t,
			b.ImagesPerS/a.ImagesPerS, a.ImagesPerS/t.ImagesPerS)
	}
	fmt.Println("\ncells: images/s, p50/p99 latency in ms; b/a and a/c: ratios of images/s")
	return nil
}

func (c cell) String() string {
	return fmt.Sprintf("%7.0f img/s %6.2f/%6.2f ms", c.ImagesPerS, c.P50ms, c.P99ms)
}

func loadImages(sess *inference.Session, files []string) ([][]byte, [][]float32, error) {
	var pngs [][]byte
	var xs [][]float32
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			return nil, nil, err
		}
		img, err := png.Decode(bytes.NewReader(data))
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", f, err)
		}
		x, err := inference.Preprocess(img, sess.Metadata().Preprocess)
		if err != nil {
			return nil, nil, err
		}
		pngs, xs = append(pngs, data), append(xs, x)
	}
	return pngs, xs, nil
}

// inProcess runs rounds of c images in batches of at most the server's
// maximum batch, as the server would gather c concurrent requests; an
// image's latency is the time until its batch is done.
func inProcess(sess *inference.Session, xs [][]float32, c int, d time.Duration) (
	cell, error) {
	var lat []time.Duration
	images, next := 0, 0
	buf := make([]float32, 0, serve.DefaultMaxBatch*sess.InputLen())
	start := time.Now()
	for time.Since(start) < d {
		round := time.Now()
		for b := 0; b < c; b += serve.DefaultMaxBatch {
			n := min(serve.DefaultMaxBatch, c-b)
			x := buf[:0]
			for range n {
				x = append(x, xs[next%len(xs)]...)
				next++
			}
			if _, err := sess.Run(x, n); err != nil {
				return cell{}, err
			}
			for range n {
				lat = append(lat, time.Since(round))
			}
		}
		images += c
	}
	return summarise(lat, images, time.Since(start)), nil
}

// overLoopback serves on 127.0.0.1 and keeps c clients posting one image
// each to /classify.
func overLoopback(s *serve.Server, pngs [][]byte, c int, d time.Duration) (cell, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return cell{}, err
	}
	srv := &http.Server{Handler: s.Handler()}
	go srv.Serve(ln)
	defer srv.Shutdown(context.Background())
	url := "http://" + ln.Addr().String() + "/classify"
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: c}}
	bodies, types := make([][]byte, len(pngs)), make([]string, len(pngs))
	for i, p := range pngs {
		bodies[i], types[i] = multipartImage(p)
	}
	type result struct {
		lat []time.Duration
		err error
	}
	results := make(chan result, c)
	start := time.Now()
	for w := range c {
		go func() {
			var r result
			for i := w; time.Since(start) < d; i += c {
				t0 := time.Now()
				k := i % len(bodies)
				resp, err := hc.Post(url, types[k], bytes.NewReader(bodies[k]))
				if err == nil {
					resp.Body.Close()
					if resp.StatusCode != http.StatusOK {
						err = fmt.Errorf("status %d", resp.StatusCode)
					}
				}
				if err != nil {
					r.err = err
					break
				}
				r.lat = append(r.lat, time.Since(t0))
			}
			results <- r
		}()
	}
	var lat []time.Duration
	for range c {
		r := <-results
		if r.err != nil {
			return cell{}, r.err
		}
		lat = append(lat, r.lat...)
	}
	return summarise(lat, len(lat), time.Since(start)), nil
}
