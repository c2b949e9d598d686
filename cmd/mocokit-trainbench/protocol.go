package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
)

// A worker (this binary re-executed with --worker, or
// scripts/bench_train.py) reads one command a line on stdin and answers
// each with one JSON line on stdout:
//
//	warm ROW         build the network for ROW and run one untimed step
//	run ROW STEPS    time STEPS steps of ROW (warming it first if needed)
//	quit             exit
//
// ROW is a row key such as "imagenet/32/train".

// reply is a worker's answer to one command.
type reply struct {
	Row     string  `json:"row"`
	Steps   int     `json:"steps"`
	Images  int     `json:"images"`
	Seconds float64 `json:"seconds"`
	// PeakRSSBytes is the worker's VmHWM so far: the most resident memory
	// the process has held since it started.
	PeakRSSBytes int64 `json:"peak_rss_bytes"`
	// Version names the framework that ran the steps (PyTorch's version).
	Version string `json:"version,omitempty"`
	Error   string `json:"error,omitempty"`
}

// imagesPerS is the throughput the reply measured.
func (r reply) imagesPerS() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return float64(r.Images) / r.Seconds
}

// parseReply reads one answer line and checks that it answers for want
// (a row key) with a usable measurement.
func parseReply(line []byte, want string) (reply, error) {
	var r reply
	if err := json.Unmarshal(line, &r); err != nil {
		return reply{}, fmt.Errorf("worker answer %q is not JSON: %w", truncate(line), err)
	}
	if r.Error != "" {
		return reply{}, fmt.Errorf("worker failed on %s: %s", want, r.Error)
	}
	if r.Row != want {
		return reply{}, fmt.Errorf("worker answered for row %q, asked for %q", r.Row, want)
	}
	if r.Steps < 1 || r.Images < 1 || !(r.Seconds > 0) {
		return reply{}, fmt.Errorf("worker answer for %s has no measurement: %d steps, "+
			"%d images, %v s", want, r.Steps, r.Images, r.Seconds)
	}
	return r, nil
}

func truncate(b []byte) string {
	const limit = 200
	if len(b) > limit {
		return string(b[:limit]) + "..."
	}
	return string(b)
}

// command is a parsed worker command.
type command struct {
	Verb  string // "warm", "run" or "quit"
	Row   row
	Steps int
}

// parseCommand reads one command line.
func parseCommand(line string) (command, error) {
	f := strings.Fields(line)
	if len(f) == 1 && f[0] == "quit" {
		return command{Verb: "quit"}, nil
	}
	switch {
	case len(f) == 2 && f[0] == "warm":
		r, err := parseRowKey(f[1])
		return command{Verb: "warm", Row: r, Steps: 1}, err
	case len(f) == 3 && f[0] == "run":
		r, err := parseRowKey(f[1])
		if err != nil {
			return command{}, err
		}
		n, err := strconv.Atoi(f[2])
		if err != nil || n < 1 {
			return command{}, fmt.Errorf("steps %q: want a positive integer", f[2])
		}
		return command{Verb: "run", Row: r, Steps: n}, nil
	}
	return command{}, fmt.Errorf("command %q: want warm ROW, run ROW STEPS or quit", line)
}

// serveCommands answers the commands read from in on out, running each
// with do, until quit or the end of in.
func serveCommands(in io.Reader, out io.Writer, do func(command) reply) error {
	sc := bufio.NewScanner(in)
	enc := json.NewEncoder(out)
	for sc.Scan() {
		if strings.TrimSpace(sc.Text()) == "" {
			continue
		}
		c, err := parseCommand(sc.Text())
		var r reply
		switch {
		case err != nil:
			r = reply{Error: err.Error()}
		case c.Verb == "quit":
			return nil
		default:
			r = do(c)
		}
		if r.PeakRSSBytes == 0 {
			r.PeakRSSBytes, _ = peakRSS()
		}
		if err := enc.Encode(r); err != nil {
			return fmt.Errorf("writing answer: %w", err)
		}
	}
	return sc.Err()
}

// peakRSS is this process's VmHWM from /proc/self/status, in bytes.
func peakRSS() (int64, error) {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0, fmt.Errorf("peak RSS: %w", err)
	}
	return parseVmHWM(string(data))
}

// parseVmHWM finds the "VmHWM:  N kB" line of a /proc/PID/status text.
func parseVmHWM(status string) (int64, error) {
	for _, line := range strings.Split(status, "\n") {
		rest, ok := strings.CutPrefix(line, "VmHWM:")
		if !ok {
			continue
		}
		f := strings.Fields(rest)
		if len(f) != 2 || f[1] != "kB" {
			return 0, fmt.Errorf("peak RSS: unexpected line %q", line)
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("peak RSS: line %q: %w", line, err)
		}
		return kb * 1024, nil
	}
	return 0, fmt.Errorf("peak RSS: no VmHWM line in /proc/self/status")
}
