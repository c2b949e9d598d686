package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// server is the `mocokit serve` subprocess and what is known of its memory.
type server struct {
	cmd  *exec.Cmd
	addr string
	done chan error

	mu                         sync.Mutex
	startRSS, lastRSS, peakRSS int64
	stopSampling               chan struct{}
}

func startServer(o options) (*server, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	addr := ln.Addr().String()
	ln.Close()
	args := []string{"serve", "--addr", addr, "--max-body", strconv.FormatInt(o.maxBody, 10),
		"--device", "cpu"}
	if o.model != "" {
		args = append(args, "--model", o.model)
	}
	// Given later, these win over the defaults above.
	args = append(args, strings.Fields(o.serveFlags)...)
	if _, err := os.Stat(o.bin); err != nil {
		return nil, fmt.Errorf("%w (build it: go build -o bin/mocokit ./cmd/mocokit)", err)
	}
	s := &server{cmd: exec.Command(o.bin, args...), addr: addr, done: make(chan error, 1),
		stopSampling: make(chan struct{})}
	s.cmd.Stdout, s.cmd.Stderr = os.Stderr, os.Stderr
	if err := s.cmd.Start(); err != nil {
		return nil, err
	}
	go func() { s.done <- s.cmd.Wait() }()
	if err := s.waitReady(2 * time.Minute); err != nil {
		s.kill()
		return nil, err
	}
	s.startRSS = s.rss()
	go s.sample()
	return s, nil
}

func (s *server) waitReady(limit time.Duration) error {
	for deadline := time.Now().Add(limit); time.Now().Before(deadline); {
		resp, err := http.Get("http://" + s.addr + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
		}
		select {
		case err := <-s.done:
			return fmt.Errorf("server exited before it was ready: %v", err)
		case <-time.After(100 * time.Millisecond):
		}
	}
	return fmt.Errorf("server not ready after %v", limit)
}

// sample records the resident memory twice a second; VmHWM, read at the
// end, is the kernel's own peak, which catches spikes between samples.
func (s *server) sample() {
	t := time.NewTicker(500 * time.Millisecond)
	defer t.Stop()
	for {
		select {
		case <-s.stopSampling:
			return
		case <-t.C:
			rss := s.rss()
			s.mu.Lock()
			s.lastRSS = max(rss, 0)
			s.mu.Unlock()
		}
	}
}

// rss and hwm read VmRSS and VmHWM (bytes) from /proc.
func (s *server) rss() int64 { return s.procStatus("VmRSS:") }
func (s *server) hwm() int64 { return s.procStatus("VmHWM:") }

func (s *server) procStatus(key string) int64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), key); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"),
				10, 64)
			if err != nil {
				return -1
			}
			return kb << 10
		}
	}
	return -1
}

// cpuSeconds is the server's user plus system CPU time so far.
func (s *server) cpuSeconds() float64 {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", s.cmd.Process.Pid))
	if err != nil {
		return -1
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	fields := strings.Fields(string(data[strings.LastIndexByte(string(data), ')')+1:]))
	if len(fields) < 13 {
		return -1
	}
	utime, _ := strconv.ParseFloat(fields[11], 64)
	stime, _ := strconv.ParseFloat(fields[12], 64)
	return (utime + stime) / 100 // USER_HZ is 100 on Linux
}

// stop reads the peak memory, sends SIGTERM and waits for the exit: nil
// when the server stopped with status 0.
func (s *server) stop() error {
	close(s.stopSampling)
	s.mu.Lock()
	s.peakRSS = s.hwm()
	s.mu.Unlock()
	if err := s.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		return err
	}
	select {
	case err := <-s.done:
		s.done <- err // for kill
		return err
	case <-time.After(time.Minute):
		return fmt.Errorf("still running a minute after SIGTERM")
	}
}

// kill ends the server if it is still running.
func (s *server) kill() {
	select {
	case err := <-s.done:
		s.done <- err
	default:
		s.cmd.Process.Kill()
	}
}

// machineCPU reads the busy and total jiffies of all CPUs from /proc/stat,
// to tell whether the run kept the machine's cores busy.
func machineCPU() (busy, total float64) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, 0
	}
	line, _, _ := strings.Cut(string(data), "\n")
	fields := strings.Fields(line)
	for i, f := range fields[1:] {
		v, _ := strconv.ParseFloat(f, 64)
		total += v
		if i != 3 && i != 4 { // idle and iowait
			busy += v
		}
	}
	return busy, total
}
