// Command mocokit-load is the server's load and fault test. It starts
// `mocokit serve` as a subprocess on a loopback port, sends it CIFAR-10
// images from many connections at once for a bounded time and number of
// requests, mixed with malformed, oversized, misdeclared and abandoned
// uploads, and reports what it served, the errors by kind, the latency and
// the server's peak memory. It exits non-zero when any answer was not the
// one expected for its kind, or when the server did not stop cleanly on
// SIGTERM.
//
//	go build -o bin/mocokit ./cmd/mocokit
//	go run ./cmd/mocokit-load --duration 60s --concurrency 16
package main

import (
	"context"
	"flag"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"time"
)

// options are the command line's settings.
type options struct {
	bin         string
	model       string
	duration    time.Duration
	maxRequests int
	concurrency int
	maxBody     int64
	seed        uint64
	serveFlags  string // more flags for `mocokit serve`, space-separated
	validOnly   bool
}

func main() {
	var o options
	flag.StringVar(&o.bin, "bin", "bin/mocokit", "the mocokit binary to start")
	flag.StringVar(&o.model, "model", "", "ONNX model to serve (default: the embedded one)")
	flag.DurationVar(&o.duration, "duration", time.Minute, "how long to send requests")
	flag.IntVar(&o.maxRequests, "max-requests", 500000, "stop after this many requests")
	flag.IntVar(&o.concurrency, "concurrency", 8*runtime.NumCPU(),
		"requests in flight at once")
	flag.Int64Var(&o.maxBody, "max-body", 1<<20, "the server's --max-body; the "+
		"oversized uploads are just over it")
	flag.Uint64Var(&o.seed, "seed", 1, "seed of the mix of request kinds")
	flag.StringVar(&o.serveFlags, "serve-flags", "", "more flags for mocokit serve, "+
		"space-separated, e.g. \"--device cuda --ort-lib /opt/ort/lib/libonnxruntime.so\"")
	flag.BoolVar(&o.validOnly, "valid-only", false, "send only valid images (to "+
		"measure throughput)")
	flag.Parse()
	if err := run(o); err != nil {
		fmt.Fprintln(os.Stderr, "mocokit-load:", err)
		os.Exit(1)
	}
}

func run(o options) error {
	if o.duration <= 0 || o.maxRequests < 1 || o.concurrency < 1 || o.maxBody < 1024 {
		return fmt.Errorf("duration, max-requests, concurrency and max-body (>= 1024) " +
			"must be positive")
	}
	images, err := testImages(512)
	if err != nil {
		return err
	}
	srv, err := startServer(o)
	if err != nil {
		return err
	}
	defer srv.kill()
	slog.Info("server ready", "pid", srv.cmd.Process.Pid, "address", srv.addr,
		"rss_mib", mib(srv.rss()))

	ctx, cancel := context.WithTimeout(context.Background(), o.duration)
	defer cancel()
	mix := newMix(images, o.maxBody, srv.addr)
	if o.validOnly {
		mix.kinds, mix.total = mix.kinds[:1], mix.kinds[0].weight
	}
	busy0, total0 := machineCPU()
	start := time.Now()
	stats := drive(ctx, mix, o, srv)
	elapsed := time.Since(start)
	cpu := srv.cpuSeconds()
	busy1, total1 := machineCPU()

	exit := srv.stop()
	rep := report{stats: stats, elapsed: elapsed, concurrency: o.concurrency,
		peakRSS: srv.peakRSS, startRSS: srv.startRSS, lastRSS: srv.lastRSS,
		serverCPU: cpu, cores: runtime.NumCPU(), exit: exit,
		machineBusy: (busy1 - busy0) / max(total1-total0, 1)}
	rep.print(os.Stdout)
	if n := stats.unexpected(); n > 0 {
		return fmt.Errorf("%d unexpected answers", n)
	}
	if exit != nil {
		return fmt.Errorf("server did not stop cleanly on SIGTERM: %v", exit)
	}
	return nil
}

func mib(b int64) string { return fmt.Sprintf("%.1f", float64(b)/(1<<20)) }
